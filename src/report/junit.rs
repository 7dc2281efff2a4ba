//! `junit.xml`: one test case per threshold, for CI servers (Jenkins, GitLab, GitHub Actions).
//!
//! The layout follows the Jenkins/Ant JUnit schema committed as `schemas/junit.xsd`: a
//! `<testsuites>` root holding one `<testsuite>`; PASS is a bare `<testcase>`, FAIL carries a
//! `<failure type="threshold">`, INCONCLUSIVE and NOT_MEASURED carry a `<skipped>` that says why.

use super::ReportError;
use std::fmt::Write as _;
use std::path::Path;

/// One row of the verdict table: a threshold and what the run measured against it.
///
/// Plain data filled by the verdict engine; the JUnit and HTML writers read it.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRow {
    /// SPEC.md id of the requirement (`ACC-CONNECT-DELAY`); `None` for a custom threshold.
    pub spec_id: Option<String>,
    /// Clause of the source standard (`000 §10.3.1`).
    pub clause: Option<String>,
    /// Metric name (`connect_delay`).
    pub metric: String,
    /// The threshold as written (`mean<=1000ms`, `p(95)<400`).
    pub expression: String,
    /// `PASS`, `FAIL`, `INCONCLUSIVE` or `NOT_MEASURED`.
    pub status: String,
    /// The measured value, formatted with its unit.
    pub measured: Option<String>,
    /// Confidence interval of the measured value, formatted.
    pub interval: Option<String>,
    /// Samples the measurement rests on.
    pub samples: u64,
    /// Samples needed for a conclusive verdict, when the verdict engine knows.
    pub needed_samples: Option<u64>,
    /// Explanation for a human reader.
    pub detail: String,
}

/// A verdict status as the report writers treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictStatus {
    /// The threshold is met.
    Pass,
    /// The threshold is breached.
    Fail,
    /// Measured, but the sample is too small to decide.
    Inconclusive,
    /// Not measured in this run.
    NotMeasured,
    /// A status string this writer does not know.
    Unknown,
}

impl VerdictStatus {
    /// Parses a [`VerdictRow::status`] (case-insensitive; `NOT MEASURED` and `not_measured` alike).
    pub fn parse(s: &str) -> VerdictStatus {
        let norm: String = s
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        match norm.as_str() {
            "PASS" | "PASSED" => VerdictStatus::Pass,
            "FAIL" | "FAILED" => VerdictStatus::Fail,
            "INCONCLUSIVE" => VerdictStatus::Inconclusive,
            "NOT_MEASURED" => VerdictStatus::NotMeasured,
            _ => VerdictStatus::Unknown,
        }
    }

    /// The canonical upper-case label.
    pub fn label(self) -> &'static str {
        match self {
            VerdictStatus::Pass => "PASS",
            VerdictStatus::Fail => "FAIL",
            VerdictStatus::Inconclusive => "INCONCLUSIVE",
            VerdictStatus::NotMeasured => "NOT MEASURED",
            VerdictStatus::Unknown => "UNKNOWN",
        }
    }
}

impl VerdictRow {
    /// The parsed status.
    pub fn verdict_status(&self) -> VerdictStatus {
        VerdictStatus::parse(&self.status)
    }

    /// `SPEC-ID metric expression`, the test-case name.
    pub fn test_name(&self) -> String {
        match &self.spec_id {
            Some(id) => format!("{id} {} {}", self.metric, self.expression),
            None => format!("{} {}", self.metric, self.expression),
        }
    }

    /// Why the row is not PASS or FAIL, for `<skipped message=…>` and the HTML table.
    pub fn skip_reason(&self) -> String {
        let mut s = match self.verdict_status() {
            VerdictStatus::NotMeasured => "not measured in this run".to_owned(),
            _ => match self.needed_samples {
                Some(need) => format!(
                    "inconclusive: sample too small (n={}, {need} needed)",
                    self.samples
                ),
                None => format!("inconclusive (n={})", self.samples),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The measured value with its interval and sample count, for a human reader.
    pub fn measured_text(&self) -> String {
        let mut s = match &self.measured {
            Some(m) => format!("measured {m}"),
            None => "no measurement".to_owned(),
        };
        if let Some(ci) = &self.interval {
            let _ = write!(s, " (interval {ci})");
        }
        let _ = write!(s, ", n={}", self.samples);
        if let Some(need) = self.needed_samples {
            let _ = write!(s, " of {need} needed");
        }
        s
    }
}

/// The overall verdict of a set of rows: FAIL if any row fails (or has an unknown status),
/// else INCONCLUSIVE if any row is inconclusive or not measured, else PASS; `None` when there
/// are no rows.
pub fn overall_verdict(rows: &[VerdictRow]) -> Option<VerdictStatus> {
    if rows.is_empty() {
        return None;
    }
    let statuses: Vec<VerdictStatus> = rows.iter().map(VerdictRow::verdict_status).collect();
    if statuses
        .iter()
        .any(|s| matches!(s, VerdictStatus::Fail | VerdictStatus::Unknown))
    {
        Some(VerdictStatus::Fail)
    } else if statuses
        .iter()
        .any(|s| matches!(s, VerdictStatus::Inconclusive | VerdictStatus::NotMeasured))
    {
        Some(VerdictStatus::Inconclusive)
    } else {
        Some(VerdictStatus::Pass)
    }
}

/// Replaces characters XML 1.0 forbids (C0 controls other than tab, LF, CR; U+FFFE, U+FFFF)
/// with U+FFFD, so any input yields a well-formed document.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if (c as u32) < 0x20 => '\u{FFFD}',
        '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Escapes character data for an XML element body.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an XML (or HTML) attribute value written between double quotes; line breaks and tabs
/// become character references so attribute-value normalisation keeps them.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC, no zone, as the JUnit schema's timestamp wants) of a Unix time.
pub fn iso_timestamp(unix_s: f64) -> String {
    let secs = if unix_s.is_finite() && unix_s > 0.0 {
        unix_s as u64
    } else {
        0
    };
    // utc_stamp gives YYYYMMDD-HHMMSS.
    let s = super::utc_stamp(secs);
    match (
        s.get(0..4),
        s.get(4..6),
        s.get(6..8),
        s.get(9..11),
        s.get(11..13),
        s.get(13..15),
    ) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) => {
            format!("{y}-{mo}-{d}T{h}:{mi}:{se}")
        }
        _ => "1970-01-01T00:00:00".to_owned(),
    }
}

/// Seconds with millisecond precision, never negative or non-finite.
fn seconds(s: f64) -> String {
    let s = if s.is_finite() && s > 0.0 { s } else { 0.0 };
    format!("{s:.3}")
}

/// The test-suite description the JUnit writer needs besides the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitSuite<'a> {
    /// Suite name: the threshold profile (`yd-t-2823-acceptance`) or the scenario.
    pub name: &'a str,
    /// Wall-clock duration of the run, seconds.
    pub duration_s: f64,
    /// Start of the run, Unix seconds (the `timestamp` attribute, UTC).
    pub started_unix_s: f64,
    /// Host that ran the test (`hostname` attribute).
    pub hostname: &'a str,
    /// `<properties>`: seed, scenario, target, tool version…
    pub properties: &'a [(String, String)],
}

/// Renders the JUnit XML document.
///
/// Test cases whose row has a SPEC id get `classname` = the suite name (the profile); rows
/// without one are custom thresholds and get `classname="custom"`.
pub fn junit_xml(suite: &JunitSuite<'_>, rows: &[VerdictRow]) -> String {
    let mut failures = 0usize;
    let mut errors = 0usize;
    let mut skipped = 0usize;
    for r in rows {
        match r.verdict_status() {
            VerdictStatus::Fail => failures += 1,
            VerdictStatus::Inconclusive | VerdictStatus::NotMeasured => skipped += 1,
            VerdictStatus::Unknown => errors += 1,
            VerdictStatus::Pass => {}
        }
    }
    let name = escape_attr(suite.name);
    let time = seconds(suite.duration_s);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time}\">",
        rows.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\" timestamp=\"{}\" hostname=\"{}\">",
        rows.len(),
        iso_timestamp(suite.started_unix_s),
        escape_attr(suite.hostname),
    );
    if !suite.properties.is_empty() {
        x.push_str("    <properties>\n");
        for (k, v) in suite.properties {
            let _ = writeln!(
                x,
                "      <property name=\"{}\" value=\"{}\"/>",
                escape_attr(k),
                escape_attr(v)
            );
        }
        x.push_str("    </properties>\n");
    }
    for r in rows {
        let classname = if r.spec_id.is_some() {
            suite.name
        } else {
            "custom"
        };
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
            escape_attr(classname),
            escape_attr(&r.test_name())
        );
        let measured = r.measured_text();
        match r.verdict_status() {
            VerdictStatus::Pass => {}
            VerdictStatus::Fail => {
                let message = format!("{} breached: {measured}", r.expression);
                let _ = writeln!(
                    x,
                    "      <failure message=\"{}\" type=\"threshold\">{}</failure>",
                    escape_attr(&message),
                    escape_text(&failure_body(r))
                );
            }
            VerdictStatus::Inconclusive | VerdictStatus::NotMeasured => {
                let _ = writeln!(
                    x,
                    "      <skipped message=\"{}\"/>",
                    escape_attr(&r.skip_reason())
                );
            }
            VerdictStatus::Unknown => {
                let message = format!("unknown verdict status {:?}", r.status);
                let _ = writeln!(
                    x,
                    "      <error message=\"{}\" type=\"verdict\">{}</error>",
                    escape_attr(&message),
                    escape_text(&r.detail)
                );
            }
        }
        let _ = writeln!(
            x,
            "      <system-out>{}</system-out>",
            escape_text(&system_out(r))
        );
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// The body of a `<failure>`: everything a reader needs to act on the breach.
fn failure_body(r: &VerdictRow) -> String {
    let mut s = String::new();
    if let Some(id) = &r.spec_id {
        let _ = write!(s, "{id}");
        if let Some(c) = &r.clause {
            let _ = write!(s, " ({c})");
        }
        s.push_str(": ");
    }
    let _ = write!(s, "{} {} — {}", r.metric, r.expression, r.measured_text());
    if !r.detail.is_empty() {
        let _ = write!(s, "\n{}", r.detail);
    }
    s
}

/// The `<system-out>` of a test case: status, measured value, interval, samples, clause.
fn system_out(r: &VerdictRow) -> String {
    let mut s = format!("{}: {}", r.verdict_status().label(), r.measured_text());
    if let Some(c) = &r.clause {
        let _ = write!(s, "\nclause: {c}");
    }
    if !r.detail.is_empty() {
        let _ = write!(s, "\n{}", r.detail);
    }
    s
}

/// Writes `junit.xml` to `path`.
pub fn write_junit(
    path: &Path,
    suite: &JunitSuite<'_>,
    rows: &[VerdictRow],
) -> Result<(), ReportError> {
    std::fs::write(path, junit_xml(suite, rows)).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_text("a<b & c>d"), "a&lt;b &amp; c&gt;d");
        assert_eq!(
            escape_attr("\"x\" 'y'\n\u{1}"),
            "&quot;x&quot; &#39;y&#39;&#10;\u{FFFD}"
        );
        assert_eq!(escape_text("接通率 ≥ 90 %"), "接通率 ≥ 90 %");
    }

    #[test]
    fn statuses() {
        assert_eq!(VerdictStatus::parse("pass"), VerdictStatus::Pass);
        assert_eq!(
            VerdictStatus::parse("NOT MEASURED"),
            VerdictStatus::NotMeasured
        );
        assert_eq!(
            VerdictStatus::parse("not_measured"),
            VerdictStatus::NotMeasured
        );
        assert_eq!(VerdictStatus::parse("maybe"), VerdictStatus::Unknown);
    }

    #[test]
    fn timestamp() {
        assert_eq!(iso_timestamp(1_795_437_296.7), "2026-11-23T12:34:56");
        assert_eq!(iso_timestamp(f64::NAN), "1970-01-01T00:00:00");
    }
}
