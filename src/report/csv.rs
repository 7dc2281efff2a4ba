//! `calls.csv`: one row per call, written as calls finish, for spreadsheets and ad-hoc analysis.
//!
//! RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma, a quote, CR or
//! LF, quotes doubled. Times are milliseconds since the start of the run with 3 decimals; an
//! event that did not happen is an empty field.

use super::ReportError;
use crate::engine::record::{CallRecord, FailureKind};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The column names, in order.
pub const CALLS_CSV_COLUMNS: &[&str] = &[
    "index",
    "call_id",
    "outcome",
    "failure_kind",
    "failure_detail",
    "final_code",
    "scheduled_ms",
    "invite_sent_ms",
    "first_100_ms",
    "first_18x_ms",
    "first_18x_code",
    "answered_ms",
    "first_rtp_ms",
    "first_voice_ms",
    "bye_ms",
    "bye_by",
    "ended_ms",
    "post_dial_delay_ms",
    "setup_time_ms",
    "connect_delay_ms",
    "retransmissions_sent",
    "retransmissions_received",
    "codec",
    "rtp_tx_packets",
    "rtp_rx_packets",
    "rtp_rx_lost",
    "rtp_rx_jitter_ms",
    "rtp_malformed",
    "rtt_ms",
];

/// Streams [`CallRecord`]s as CSV rows to a writer. The caller [`flush`](Self::flush)es when
/// no record is waiting, so the file is readable (and complete up to the last finished call)
/// while the run goes on, without a write per row under load.
#[derive(Debug)]
pub struct CallsCsvWriter<W: Write> {
    out: W,
    line: String,
    rows: u64,
}

impl CallsCsvWriter<BufWriter<File>> {
    /// Creates (truncates) the file at `path` and writes the header row.
    pub fn create(path: &Path) -> Result<Self, ReportError> {
        let err = |source| ReportError::Write {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(err)?;
        CallsCsvWriter::new(BufWriter::new(file)).map_err(err)
    }
}

impl<W: Write> CallsCsvWriter<W> {
    /// Wraps a writer and writes the header row.
    pub fn new(out: W) -> std::io::Result<Self> {
        let mut w = CallsCsvWriter {
            out,
            line: String::with_capacity(512),
            rows: 0,
        };
        for (i, c) in CALLS_CSV_COLUMNS.iter().enumerate() {
            if i > 0 {
                w.line.push(',');
            }
            w.line.push_str(c);
        }
        w.end_line()?;
        Ok(w)
    }

    /// Writes the rows buffered so far to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Writes one call's row (buffered).
    pub fn write_record(&mut self, r: &CallRecord) -> std::io::Result<()> {
        let (kind, detail) = match &r.failure {
            Some(f) => (failure_kind_name(f.kind), f.detail.as_str()),
            None => (String::new(), ""),
        };
        let media = r.media.as_ref();
        let fields: [String; 29] = [
            r.index.to_string(),
            text(&r.call_id),
            if r.succeeded() { "success" } else { "failed" }.to_owned(),
            kind,
            text(detail),
            opt(r.final_code),
            ms(r.scheduled_ms),
            opt_ms(r.invite_sent_ms),
            opt_ms(r.first_100_ms),
            opt_ms(r.first_18x_ms),
            opt(r.first_18x_code),
            opt_ms(r.answered_ms),
            opt_ms(r.first_rtp_ms),
            opt_ms(r.first_voice_ms),
            opt_ms(r.bye_ms),
            r.bye_by.map(|b| b.as_str()).unwrap_or_default().to_owned(),
            ms(r.ended_ms),
            opt_ms(r.post_dial_delay_ms()),
            opt_ms(r.setup_time_ms()),
            opt_ms(r.connect_delay_ms()),
            r.retransmissions_sent.to_string(),
            r.retransmissions_received.to_string(),
            media.map(|m| text(&m.codec)).unwrap_or_default(),
            opt(media.map(|m| m.tx_packets)),
            opt(media.map(|m| m.rx_packets)),
            opt(media.map(|m| m.rx_lost)),
            opt_ms(media.map(|m| m.rx_jitter_ms)),
            opt(media.map(|m| m.malformed)),
            opt_ms(media.and_then(|m| m.rtt_ms)),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_field(&mut self.line, f);
        }
        self.end_line()?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far, the header not counted.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn end_line(&mut self) -> std::io::Result<()> {
        self.line.push_str("\r\n");
        let res = self.out.write_all(self.line.as_bytes());
        self.line.clear();
        res
    }
}

/// The snake_case name of a failure kind, as report.json spells it.
fn failure_kind_name(kind: FailureKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{kind:?}"),
    }
}

/// A text field from the far end or the user, defused for spreadsheets: a leading `=`, `+`,
/// `-`, `@`, tab or CR would make Excel or LibreOffice evaluate the cell as a formula
/// (OWASP "CSV injection"), so such a value gets a leading `'`.
fn text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

/// Milliseconds with 3 decimals; empty when not finite.
/// Milliseconds with 3 decimals. Integer arithmetic: fixed-precision float formatting takes
/// the slow exact path, and every row has a dozen of these.
fn ms(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let thousandths = (v * 1000.0).round();
    if thousandths.abs() >= 1e15 {
        return format!("{v:.3}");
    }
    let t = thousandths as i64;
    let mut s = String::with_capacity(16);
    if t < 0 {
        s.push('-');
    }
    let t = t.unsigned_abs();
    s.push_str(itoa::Buffer::new().format(t / 1000));
    s.push('.');
    let frac = t % 1000;
    s.push(char::from(b'0' + (frac / 100) as u8));
    s.push(char::from(b'0' + (frac / 10 % 10) as u8));
    s.push(char::from(b'0' + (frac % 10) as u8));
    s
}

fn opt_ms(v: Option<f64>) -> String {
    v.map(ms).unwrap_or_default()
}

#[cfg(test)]
#[test]
fn milliseconds_with_three_decimals() {
    for v in [
        0.0,
        1.0,
        12.3456,
        999.9995,
        1234567.891,
        -3.25,
        0.0004,
        7200000.001,
    ] {
        assert_eq!(
            ms(v),
            format!("{:.3}", (v * 1000.0f64).round() / 1000.0),
            "{v}"
        );
    }
    assert_eq!(ms(f64::NAN), "");
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Appends one field, quoted when RFC 4180 requires it.
fn push_field(line: &mut String, f: &str) {
    if f.contains([',', '"', '\r', '\n']) {
        line.push('"');
        for c in f.chars() {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    } else {
        line.push_str(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let mut s = String::new();
        push_field(&mut s, "plain");
        s.push(',');
        push_field(&mut s, "a,\"b\"\r\nc");
        assert_eq!(s, "plain,\"a,\"\"b\"\"\r\nc\"");
    }

    #[test]
    fn formula_defused() {
        assert_eq!(text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text("503 Service Unavailable"), "503 Service Unavailable");
    }

    #[test]
    fn kind_names() {
        assert_eq!(failure_kind_name(FailureKind::SipError), "sip_error");
    }
}
