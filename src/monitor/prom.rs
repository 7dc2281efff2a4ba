//! The monitor's Prometheus metrics: the text exposition format 0.0.4 ([`render`]) and a small
//! HTTP/1.1 endpoint that serves it ([`MetricsServer`], `GET /metrics`).
//!
//! Names follow Prometheus's conventions: the `callcert_monitor_` prefix, base units in the
//! name (`_seconds`, `_ratio`), `_total` on counters. Delays are exposed in seconds. The
//! response-time histogram describes the rolling window (it is rebuilt from the window's calls
//! on every update, so its counts go down as calls leave the window): read it without `rate()`,
//! e.g. `histogram_quantile(0.9, callcert_monitor_window_response_seconds_bucket)`. Threshold
//! and verdict states use the enum pattern: one series per status, 1 for the current one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The `Content-Type` of the 0.0.4 text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the response-time histogram's buckets: telephony delays from a
/// tenth of a second (DTMF echo) to five minutes (a long queue for an agent).
pub const RESPONSE_BUCKETS_S: [f64; 19] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0,
    180.0, 300.0,
];

/// The statuses a threshold (or the overall verdict) can have, as the verdict report writes
/// them.
pub const STATUSES: [&str; 5] = [
    "PASS",
    "FAIL",
    "INCONCLUSIVE",
    "NOT_MEASURED",
    "NOT_APPLICABLE",
];

/// What the monitor exposes, filled by its driver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorSnapshot {
    /// Calls by outcome (`success`, or a failure kind such as `no_prompt`, `interrupted`),
    /// since the store began.
    pub calls: BTreeMap<String, u64>,
    /// Calls in the rolling window.
    pub window_calls: u64,
    /// The rolling window's measured delays by metric (`dtmf_response`, `query_response`,
    /// `agent_wait`, `post_dial_delay`, `setup_time`), ms.
    pub response_ms: BTreeMap<String, Vec<f64>>,
    /// The rolling verdict, one per threshold.
    pub verdicts: Vec<ThresholdState>,
    /// The overall verdict (`PASS`, `FAIL`, `INCONCLUSIVE`); empty before the first one.
    pub overall: String,
    /// Whether the last OPTIONS pings say the target is up (`None` before the first ping).
    pub target_up: Option<bool>,
    /// Availability over the window, a ratio 0…1 (SYS-AVAILABILITY).
    pub availability: Option<f64>,
    /// The last answered ping's round-trip time, ms.
    pub last_ping_rtt_ms: Option<f64>,
    /// Outages (up → down) since the store began.
    pub outages_total: u64,
    /// When the last call ended, Unix seconds.
    pub last_call_unix: Option<f64>,
    /// Failed writes to the store since the monitor started.
    pub store_errors: u64,
    /// Alert deliveries given up since the monitor started.
    pub alerts_undelivered: u64,
    /// When the monitor started, Unix seconds.
    pub started_unix: f64,
}

/// One threshold of the rolling verdict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThresholdState {
    /// Its SPEC.md id (`OPS-QUERY-RESPONSE`).
    pub spec_id: String,
    /// The metric it judges (`query_response`).
    pub metric: String,
    /// `PASS`, `FAIL`, `INCONCLUSIVE`, `NOT_MEASURED` or `NOT_APPLICABLE`.
    pub status: String,
    /// The value judged, in `unit`.
    pub measured: Option<f64>,
    /// The limit, in `unit`.
    pub limit: Option<f64>,
    /// The unit of `measured` and `limit` as the verdict gives it (`ms`, `ratio`, `count`, or
    /// a score scale); `ms` is exposed in seconds.
    pub unit: String,
}

/// A label value escaped for the text format: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text escaped for the text format: `\` → `\\`, newline → `\n`.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as the text format writes floats (`NaN`, `+Inf`, `-Inf`).
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    }
}

/// One metric family being written: its samples, written after `# HELP` and `# TYPE` only if
/// there are any.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    lines: String,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind,
            help,
            lines: String::new(),
        }
    }

    /// A sample of this family (`suffix` is `_bucket`, `_sum`, `_count` or empty).
    fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: &str) {
        self.lines.push_str(self.name);
        self.lines.push_str(suffix);
        if !labels.is_empty() {
            self.lines.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.lines.push(',');
                }
                let _ = write!(self.lines, "{k}=\"{}\"", escape_label_value(v));
            }
            self.lines.push('}');
        }
        self.lines.push(' ');
        self.lines.push_str(value);
        self.lines.push('\n');
    }

    fn float(&mut self, labels: &[(&str, &str)], v: f64) {
        self.sample("", labels, &format_value(v));
    }

    fn int(&mut self, labels: &[(&str, &str)], v: u64) {
        self.sample("", labels, &v.to_string());
    }

    fn write_to(self, out: &mut String) {
        if self.lines.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        out.push_str(&self.lines);
    }
}

/// A value in `unit` as exposed: ms become seconds; the unit label says which.
fn exposed(v: f64, unit: &str) -> (f64, &str) {
    if unit == "ms" {
        (v / 1000.0, "seconds")
    } else {
        (v, unit)
    }
}

/// The statuses of the overall verdict.
const OVERALL_STATUSES: [&str; 3] = ["PASS", "FAIL", "INCONCLUSIVE"];

/// The enum pattern: one series per status of `all`, 1 for `current`. A status outside `all`
/// gets a series too, so it is not lost.
fn status_series(f: &mut Family, labels: &[(&str, &str)], all: &[&str], current: &str) {
    let extra = (!all.contains(&current)).then_some(current);
    for s in all.iter().copied().chain(extra) {
        let mut l = labels.to_vec();
        l.push(("status", s));
        f.int(&l, u64::from(s == current));
    }
}

/// The snapshot in the Prometheus text exposition format 0.0.4.
pub fn render(s: &MonitorSnapshot) -> String {
    let mut out = String::new();

    let mut f = Family::new(
        "callcert_monitor_start_time_seconds",
        "gauge",
        "When the monitor started, Unix seconds.",
    );
    f.float(&[], s.started_unix);
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_calls_total",
        "counter",
        "Mystery calls by outcome since the store began.",
    );
    for (outcome, n) in &s.calls {
        f.int(&[("outcome", outcome)], *n);
    }
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_window_calls",
        "gauge",
        "Calls in the rolling window.",
    );
    f.int(&[], s.window_calls);
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_last_call_timestamp_seconds",
        "gauge",
        "When the last call ended, Unix seconds.",
    );
    if let Some(t) = s.last_call_unix {
        f.float(&[], t);
    }
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_window_response_seconds",
        "histogram",
        "Measured delays of the calls in the rolling window, by metric (not cumulative: read without rate()).",
    );
    for (metric, samples) in &s.response_ms {
        let mut secs: Vec<f64> = samples
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| v / 1000.0)
            .collect();
        secs.sort_by(f64::total_cmp);
        for le in RESPONSE_BUCKETS_S {
            let n = secs.partition_point(|&v| v <= le) as u64;
            f.sample(
                "_bucket",
                &[("metric", metric), ("le", &format_value(le))],
                &n.to_string(),
            );
        }
        let count = secs.len().to_string();
        f.sample("_bucket", &[("metric", metric), ("le", "+Inf")], &count);
        // (A float sum of nothing is -0.0 in Rust; 0 reads better.)
        let sum = secs.iter().fold(0.0, |a, v| a + v);
        f.sample("_sum", &[("metric", metric)], &format_value(sum));
        f.sample("_count", &[("metric", metric)], &count);
    }
    f.write_to(&mut out);

    // A threshold listed twice would give duplicate series: the first one stands.
    let mut seen = BTreeSet::new();
    let thresholds: Vec<&ThresholdState> = s
        .verdicts
        .iter()
        .filter(|t| seen.insert((t.spec_id.as_str(), t.metric.as_str())))
        .collect();

    let mut f = Family::new(
        "callcert_monitor_threshold_status",
        "gauge",
        "Rolling verdict per threshold: 1 for its current status, 0 for the others.",
    );
    for t in &thresholds {
        status_series(
            &mut f,
            &[("spec_id", &t.spec_id), ("metric", &t.metric)],
            &STATUSES,
            &t.status,
        );
    }
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_threshold_pass",
        "gauge",
        "1 when the threshold's rolling verdict is PASS, else 0.",
    );
    for t in &thresholds {
        let labels = [
            ("spec_id", t.spec_id.as_str()),
            ("metric", t.metric.as_str()),
        ];
        f.int(&labels, u64::from(t.status == "PASS"));
    }
    f.write_to(&mut out);

    let mut measured = Family::new(
        "callcert_monitor_threshold_measured",
        "gauge",
        "The value each threshold is judged on, in the unit label's unit.",
    );
    let mut limit = Family::new(
        "callcert_monitor_threshold_limit",
        "gauge",
        "Each threshold's limit, in the unit label's unit.",
    );
    for t in &thresholds {
        for (f, v) in [(&mut measured, t.measured), (&mut limit, t.limit)] {
            if let Some(v) = v {
                let (v, unit) = exposed(v, &t.unit);
                f.float(
                    &[
                        ("spec_id", &t.spec_id),
                        ("metric", &t.metric),
                        ("unit", unit),
                    ],
                    v,
                );
            }
        }
    }
    measured.write_to(&mut out);
    limit.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_verdict_status",
        "gauge",
        "Overall rolling verdict: 1 for its current status, 0 for the others.",
    );
    if !s.overall.is_empty() {
        status_series(&mut f, &[], &OVERALL_STATUSES, &s.overall);
    }
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_verdict_pass",
        "gauge",
        "1 when the overall rolling verdict is PASS, else 0.",
    );
    if !s.overall.is_empty() {
        f.int(&[], u64::from(s.overall == "PASS"));
    }
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_target_up",
        "gauge",
        "1 when the target answers OPTIONS pings, 0 when it does not.",
    );
    if let Some(up) = s.target_up {
        f.int(&[], u64::from(up));
    }
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_availability_ratio",
        "gauge",
        "Availability of the target over the window (SYS-AVAILABILITY), 0 to 1.",
    );
    if let Some(a) = s.availability {
        f.float(&[], a);
    }
    f.write_to(&mut out);

    let mut f = Family::new(
        "callcert_monitor_ping_rtt_seconds",
        "gauge",
        "Round-trip time of the last answered OPTIONS ping.",
    );
    if let Some(ms) = s.last_ping_rtt_ms {
        f.float(&[], ms / 1000.0);
    }
    f.write_to(&mut out);

    for (name, help, v) in [
        (
            "callcert_monitor_outages_total",
            "Outages (target up, then down) since the store began.",
            s.outages_total,
        ),
        (
            "callcert_monitor_store_errors_total",
            "Failed writes to the monitor's store since it started.",
            s.store_errors,
        ),
        (
            "callcert_monitor_alerts_undelivered_total",
            "Alert deliveries given up since the monitor started.",
            s.alerts_undelivered,
        ),
    ] {
        let mut f = Family::new(name, "counter", help);
        f.int(&[], v);
        f.write_to(&mut out);
    }

    out
}

/// Limits of the metrics endpoint against slow or hostile clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// The longest request head read.
    pub max_request: usize,
    /// How long a client may take to send its request head.
    pub read_timeout: Duration,
    /// How long a client may take to take the response.
    pub write_timeout: Duration,
    /// Connections served at once (more wait in the listen backlog).
    pub max_connections: usize,
}

impl Default for ServerLimits {
    /// 8 KiB, 5 s to send the request, 5 s to take the response, 64 connections.
    fn default() -> Self {
        ServerLimits {
            max_request: 8 * 1024,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connections: 64,
        }
    }
}

/// The request line of an HTTP/1.x request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method (`GET`).
    pub method: String,
    /// The path, without the query.
    pub path: String,
}

/// A request head that is not HTTP/1.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The request line is not `METHOD TARGET HTTP/1.x`.
    #[error("malformed request line")]
    BadRequestLine,
    /// A header line is not `name: value` text.
    #[error("malformed header line")]
    BadHeader,
}

/// Reads a request head from the start of `buf`: `Ok(None)` when more bytes are needed (the
/// blank line that ends the head has not come), the request line once it has. Never panics.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<RequestHead>, RequestError> {
    // The request line can be judged as soon as it is complete.
    let Some(eol) = buf.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = strip_cr(&buf[..eol]);
    let line = std::str::from_utf8(line).map_err(|_| RequestError::BadRequestLine)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::BadRequestLine);
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(method)
        || !(version == "HTTP/1.1" || version == "HTTP/1.0")
        || target.is_empty()
        || !target.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(RequestError::BadRequestLine);
    }
    // Then the headers, up to the blank line.
    let mut rest = &buf[eol + 1..];
    loop {
        let Some(eol) = rest.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = strip_cr(&rest[..eol]);
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':');
        let name_ok = colon.is_some_and(|c| {
            c > 0
                && line[..c]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
        });
        if !name_ok || line.iter().any(|&b| b < 0x20 && b != b'\t') {
            return Err(RequestError::BadHeader);
        }
        rest = &rest[eol + 1..];
    }
    // Absolute form (`http://host/metrics`) names the path after the authority.
    let path = match target.split_once("://") {
        Some((_, after)) => after.find('/').map_or("/", |i| &after[i..]),
        None => target,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Ok(Some(RequestHead {
        method: method.to_string(),
        path: path.to_string(),
    }))
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The latest exposition text, shared with the connections.
type Text = Arc<Mutex<Arc<String>>>;

/// The metrics endpoint: `GET /metrics` serves the text given to [`MetricsServer::update`].
pub struct MetricsServer {
    addr: SocketAddr,
    text: Text,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` (the monitor's default is 127.0.0.1) and starts serving with the default
    /// limits. Must be called within a tokio runtime.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<MetricsServer> {
        MetricsServer::bind_with(addr, ServerLimits::default()).await
    }

    /// Binds `addr` and starts serving with `limits`.
    pub async fn bind_with(
        addr: SocketAddr,
        limits: ServerLimits,
    ) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let text: Text = Arc::new(Mutex::new(Arc::new(String::new())));
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&text), limits));
        Ok(MetricsServer { addr, text, task })
    }

    /// The address it listens on (the port, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the text `/metrics` serves.
    pub fn update(&self, text: String) {
        *self.text.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(text);
    }

    /// Stops accepting connections (those being served finish within their timeouts).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, text: Text, limits: ServerLimits) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return; // the semaphore is never closed
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                let text = Arc::clone(&text);
                tokio::spawn(async move {
                    serve(stream, &text, limits).await;
                    drop(slot);
                });
            }
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Why a request head was not read.
enum ReadFailure {
    /// The client closed, or the socket failed, before the head ended.
    Gone,
    /// The head is longer than the limit.
    TooLarge,
    /// The head is not HTTP/1.x.
    Malformed,
}

async fn read_head(stream: &mut TcpStream, max: usize) -> Result<RequestHead, ReadFailure> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let room = max.saturating_sub(buf.len());
        if room == 0 {
            return Err(ReadFailure::TooLarge);
        }
        let n = match stream.read(&mut chunk[..room.min(2048)]).await {
            Ok(0) | Err(_) => return Err(ReadFailure::Gone),
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse_request_head(&buf) {
            Ok(Some(head)) => return Ok(head),
            Ok(None) => {}
            Err(_) => return Err(ReadFailure::Malformed),
        }
    }
}

async fn serve(mut stream: TcpStream, text: &Text, limits: ServerLimits) {
    let read = tokio::time::timeout(
        limits.read_timeout,
        read_head(&mut stream, limits.max_request),
    );
    let response = match read.await {
        Err(_) => simple(
            408,
            "Request Timeout",
            "request not received in time\n",
            true,
        ),
        Ok(Err(ReadFailure::Gone)) => return,
        Ok(Err(ReadFailure::TooLarge)) => simple(
            431,
            "Request Header Fields Too Large",
            "request too large\n",
            true,
        ),
        Ok(Err(ReadFailure::Malformed)) => simple(400, "Bad Request", "bad request\n", true),
        Ok(Ok(head)) => route(&head, text),
    };
    let write = async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(limits.write_timeout, write)
        .await
        .is_err()
    {
        return;
    }
    // Read what the client still sends (briefly, boundedly) before closing, so unread input
    // does not turn the close into a reset that loses the response.
    let drain = async {
        let mut sink = [0u8; 2048];
        for _ in 0..32 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

fn route(head: &RequestHead, text: &Text) -> Vec<u8> {
    let body_too = head.method == "GET";
    if head.method != "GET" && head.method != "HEAD" {
        return simple(405, "Method Not Allowed", "only GET and HEAD\n", true);
    }
    match head.path.as_str() {
        "/metrics" => {
            let body = Arc::clone(&text.lock().unwrap_or_else(|p| p.into_inner()));
            response(200, "OK", CONTENT_TYPE, &[], body.as_bytes(), body_too)
        }
        "/" => simple(
            200,
            "OK",
            "callcert monitor: Prometheus metrics at /metrics\n",
            body_too,
        ),
        _ => simple(
            404,
            "Not Found",
            "not found; metrics at /metrics\n",
            body_too,
        ),
    }
}

/// A plain-text response (`with_body` false for HEAD); 405 says which methods are allowed.
fn simple(code: u16, reason: &str, body: &str, with_body: bool) -> Vec<u8> {
    let allow: &[(&str, &str)] = if code == 405 {
        &[("Allow", "GET, HEAD")]
    } else {
        &[]
    };
    response(
        code,
        reason,
        "text/plain; charset=utf-8",
        allow,
        body.as_bytes(),
        with_body,
    )
}

fn response(
    code: u16,
    reason: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
        body.len()
    );
    for (k, v) in extra {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if with_body {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        let h = parse_request_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.method.as_str(), h.path.as_str()), ("GET", "/metrics"));
        let h = parse_request_head(b"HEAD http://h:9/metrics HTTP/1.0\n\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.method.as_str(), h.path.as_str()), ("HEAD", "/metrics"));
        assert_eq!(
            parse_request_head(b"GET /metrics HTTP/1.1\r\nHost"),
            Ok(None)
        );
        assert_eq!(parse_request_head(b"GET /met"), Ok(None));
        assert_eq!(parse_request_head(b""), Ok(None));
        for bad in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET /metrics HTTP/2\r\n\r\n",
            b"G\xffT / HTTP/1.1\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"\r\n",
        ] {
            assert_eq!(parse_request_head(bad), Err(RequestError::BadRequestLine));
        }
        assert_eq!(
            parse_request_head(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
            Err(RequestError::BadHeader)
        );
    }

    #[test]
    fn values_and_labels_are_written_as_the_format_says() {
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(60.0), "60");
        assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
    }

    #[test]
    fn head_gets_the_headers_without_the_body() {
        let text: Text = Arc::new(Mutex::new(Arc::new("m 1\n".to_string())));
        let head = RequestHead {
            method: "HEAD".into(),
            path: "/metrics".into(),
        };
        let r = String::from_utf8(route(&head, &text)).unwrap();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Length: 4\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\n"), "{r}");
    }
}
