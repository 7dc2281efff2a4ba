//! Alerts on a change of state (PASS → FAIL, FAIL → PASS, target unreachable and back): an HTTP
//! webhook POST with a JSON body and/or a command hook, delivered off the call path with retries.
//!
//! [`Alerter::start`] gives every target (each webhook, and the command) its own thread and
//! queue: [`Alerter::send`] only puts the alert on those queues and never waits, alerts reach
//! each target in the order they were sent, and a webhook that hangs delays only itself. A
//! failed attempt (a non-2xx answer, an IO error or timeout, a command that exits non-zero or
//! outlives the timeout) is retried after 1 s, 2 s, 4 s, … (capped), and given up after
//! `retries` retries; every finished alert × target is passed to the driver's `report` as a
//! [`Delivery`]. The alert's `id` is the same on every attempt, so receivers can drop repeats.

use serde::Serialize;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The `User-Agent` of webhook requests.
pub const USER_AGENT: &str = concat!("callcert/", env!("CARGO_PKG_VERSION"));

/// At most this much of a failing command's stderr is kept in its [`Delivery::error`].
const STDERR_KEPT: usize = 1024;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A threshold (or the overall verdict) went to FAIL.
    VerdictFail,
    /// A threshold (or the overall verdict) came back to PASS.
    VerdictPass,
    /// The target stopped answering OPTIONS pings (SYS-AVAILABILITY).
    Unreachable,
    /// The target answers again.
    Reachable,
    /// A test alert asked for by the operator, to check the hooks.
    Test,
}

impl AlertKind {
    /// The word in the JSON body and in `CALLCERT_ALERT_KIND`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::VerdictFail => "verdict_fail",
            AlertKind::VerdictPass => "verdict_pass",
            AlertKind::Unreachable => "unreachable",
            AlertKind::Reachable => "reachable",
            AlertKind::Test => "test",
        }
    }
}

/// One alert: the webhook's JSON body and the command hook's stdin (read back from the store
/// to deliver again after a restart).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Alert {
    /// The store's id of this alert: the same on every retry, so receivers can de-duplicate.
    pub id: i64,
    /// What changed.
    pub kind: AlertKind,
    /// When, RFC 3339 UTC (`2026-11-23T12:34:56.789Z`).
    pub at: String,
    /// When, Unix seconds.
    pub at_unix: f64,
    /// The monitor's name.
    pub monitor: String,
    /// The call center monitored (its SIP URI or host).
    pub target: String,
    /// The SPEC.md id of the threshold that changed (`OPS-QUERY-RESPONSE`), if it is one.
    pub spec_id: Option<String>,
    /// The metric of that threshold (`query_response`).
    pub metric: Option<String>,
    /// The status before (`PASS`, `FAIL`, `INCONCLUSIVE`, …, or `up` / `down`).
    pub from: Option<String>,
    /// The status now.
    pub to: Option<String>,
    /// One line for humans.
    pub summary: String,
    /// Whatever else the driver attaches (measured value, limit, window, last error).
    pub details: serde_json::Value,
}

impl Alert {
    /// An alert with `at` written from `at_unix`, no threshold, no states and empty details.
    pub fn new(
        id: i64,
        kind: AlertKind,
        at_unix: f64,
        monitor: impl Into<String>,
        target: impl Into<String>,
        summary: impl Into<String>,
    ) -> Alert {
        Alert {
            id,
            kind,
            at: rfc3339_utc(at_unix),
            at_unix,
            monitor: monitor.into(),
            target: target.into(),
            spec_id: None,
            metric: None,
            from: None,
            to: None,
            summary: summary.into(),
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

/// Unix seconds as RFC 3339 UTC, to the millisecond: `2026-11-23T12:34:56.789Z`. Times before
/// 1970 or after 9999 (or not finite) are clamped to those ends.
pub fn rfc3339_utc(unix_s: f64) -> String {
    const LAST: f64 = 253_402_300_799.999; // 9999-12-31T23:59:59.999Z
    let t = if unix_s.is_finite() {
        unix_s.clamp(0.0, LAST)
    } else if unix_s == f64::INFINITY {
        LAST
    } else {
        0.0
    };
    // To the nearest millisecond (exact in f64 up to year 9999).
    let total_ms = (t * 1000.0).round() as u64;
    let millis = total_ms % 1000;
    // utc_stamp writes `YYYYMMDD-HHMMSS` (four-digit years within the clamp).
    let s = crate::report::utc_stamp(total_ms / 1000);
    let part = |r: std::ops::Range<usize>| s.get(r).unwrap_or("00");
    format!(
        "{}-{}-{}T{}:{}:{}.{millis:03}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    )
}

/// Why an alert target cannot be configured (the CLI's exit 104: invalid configuration).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AlertError {
    /// The webhook URL does not parse as a URL.
    #[error("webhook `{url}`: not a URL ({reason})")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The webhook URL's scheme is not http or https.
    #[error("webhook `{url}`: the scheme must be http or https, not `{scheme}`")]
    UnsupportedScheme {
        /// The URL as given.
        url: String,
        /// Its scheme (empty when it has none).
        scheme: String,
    },
    /// The webhook URL names no host.
    #[error("webhook `{url}`: no host")]
    MissingHost {
        /// The URL as given.
        url: String,
    },
    /// A webhook header is not `Name: value`, or its name or value is not allowed in HTTP.
    #[error("webhook header `{header}`: {reason}")]
    InvalidHeader {
        /// The header as given.
        header: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The command hook is empty.
    #[error("the alert command is empty")]
    EmptyCommand,
}

/// One webhook: the URL alerts are POSTed to, and extra headers (an auth token, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    url: String,
    headers: Vec<(String, String)>,
}

impl Webhook {
    /// Checks an http or https URL with a host (at start, before any call is placed).
    pub fn parse(url: &str) -> Result<Webhook, AlertError> {
        let uri: ureq::http::Uri =
            url.parse()
                .map_err(|e: ureq::http::uri::InvalidUri| AlertError::InvalidUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
        let scheme = uri.scheme_str().unwrap_or("");
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(AlertError::UnsupportedScheme {
                url: url.to_string(),
                scheme: scheme.to_string(),
            });
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(AlertError::MissingHost {
                url: url.to_string(),
            });
        }
        Ok(Webhook {
            url: url.to_string(),
            headers: Vec::new(),
        })
    }

    /// Adds a header given as `Name: value` (as `--webhook-header` takes it).
    pub fn with_header(mut self, line: &str) -> Result<Webhook, AlertError> {
        let bad = |reason| AlertError::InvalidHeader {
            header: line.to_string(),
            reason,
        };
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("expected `Name: value`"))?;
        let (name, value) = (name.trim(), value.trim());
        ureq::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad("not a valid header name"))?;
        ureq::http::HeaderValue::from_str(value).map_err(|_| bad("not a valid header value"))?;
        let lower = name.to_ascii_lowercase();
        if lower == "content-length" || lower == "transfer-encoding" || lower == "host" {
            return Err(bad("this header is set by the HTTP client"));
        }
        self.headers.push((name.to_string(), value.to_string()));
        Ok(self)
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The extra headers, as (name, value).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Whether the host is this machine (no proxy is used for it).
    fn is_loopback(&self) -> bool {
        let Ok(uri) = self.url.parse::<ureq::http::Uri>() else {
            return false;
        };
        let host = uri.host().unwrap_or("");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Where alerts go and how hard to try.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    /// Webhooks, each POSTed every alert.
    pub webhooks: Vec<Webhook>,
    /// A command run with `sh -c` for every alert (the alert's JSON on stdin).
    pub command: Option<String>,
    /// Retries after the first attempt before giving up.
    pub retries: u32,
    /// The wait before the first retry; it doubles for each next one.
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub backoff_max: Duration,
    /// How long one attempt may take (a webhook request, a command run) before it counts as
    /// failed (the command is killed).
    pub timeout: Duration,
}

impl Default for AlertConfig {
    /// No targets; 5 retries after 1 s, 2 s, 4 s, 8 s, 16 s (capped at 60 s); 10 s per attempt.
    fn default() -> Self {
        AlertConfig {
            webhooks: Vec::new(),
            command: None,
            retries: 5,
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

impl AlertConfig {
    /// Checks the command (the webhooks were checked by [`Webhook::parse`]).
    pub fn validate(&self) -> Result<(), AlertError> {
        match &self.command {
            Some(c) if c.trim().is_empty() => Err(AlertError::EmptyCommand),
            _ => Ok(()),
        }
    }
}

/// The wait before retry number `retry` (1 for the first): `backoff × 2^(retry−1)`, at most
/// `max`.
pub fn retry_delay(backoff: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 1u32 << retry.saturating_sub(1).min(20);
    backoff.saturating_mul(factor).min(max)
}

/// How one alert went to one target, once finished (delivered, or given up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The webhook's URL, or `command`.
    pub target: String,
    /// Attempts made (the first one and the retries).
    pub attempts: u32,
    /// Whether the last attempt succeeded.
    pub ok: bool,
    /// The last attempt's error, when it failed.
    pub error: Option<String>,
}

/// The report callback, shared by the target threads.
type Report = Box<dyn FnMut(&Alert, &Delivery) + Send>;

/// What the target threads and [`Alerter::shutdown`] share.
struct Shared {
    state: Mutex<ShutdownState>,
    changed: Condvar,
    /// Alert × target deliveries sent and not yet finished or abandoned.
    pending: AtomicUsize,
    report: Mutex<Report>,
}

#[derive(Default)]
struct ShutdownState {
    /// Set by shutdown: nothing is attempted after it.
    deadline: Option<Instant>,
    /// Set when shutdown has returned: nothing is reported after it.
    closed: bool,
    /// Deliveries dropped because of the deadline.
    abandoned: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ShutdownState> {
        // A panic in the report callback poisons the lock; the state inside is still whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an attempt may start now.
    #[allow(clippy::disallowed_methods)] // driver: retries are timed by the wall clock
    fn may_attempt(&self) -> bool {
        let s = self.lock();
        !s.closed && s.deadline.is_none_or(|d| Instant::now() < d)
    }

    /// Waits `wait` before a retry; false when shutdown's deadline comes first.
    #[allow(clippy::disallowed_methods)] // driver: retries are timed by the wall clock
    fn wait_retry(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        let mut s = self.lock();
        loop {
            if s.closed || s.deadline.is_some_and(|d| until > d) {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            s = self
                .changed
                .wait_timeout(s, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Records a finished delivery (reports it unless shutdown has already returned).
    fn finish(&self, alert: &Alert, delivery: Option<Delivery>) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        match delivery {
            Some(d) => {
                let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
                (report)(alert, &d);
            }
            None => s.abandoned += 1,
        }
        self.pending.fetch_sub(1, Ordering::SeqCst);
        drop(s);
        self.changed.notify_all();
    }
}

/// Where one thread delivers.
enum Target {
    Webhook { hook: Webhook, agent: ureq::Agent },
    Command(String),
}

impl Target {
    fn name(&self) -> String {
        match self {
            Target::Webhook { hook, .. } => hook.url.clone(),
            Target::Command(_) => "command".to_string(),
        }
    }

    fn attempt(&self, alert: &Alert, body: &[u8], timeout: Duration) -> Result<(), String> {
        match self {
            Target::Webhook { hook, agent } => post(agent, hook, body),
            Target::Command(cmd) => run_command(cmd, alert, body, timeout),
        }
    }
}

/// The alert threads: one per target, each with its queue. Call [`Alerter::shutdown`] to stop
/// them; dropped without it, the threads finish their queues (retries and all) on their own.
pub struct Alerter {
    queues: Vec<mpsc::Sender<Arc<Alert>>>,
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Alerter {
    /// Starts one thread per target. `report` is called once per alert × target when that
    /// delivery is finished (from the target's thread; one call at a time).
    pub fn start(
        cfg: AlertConfig,
        report: impl FnMut(&Alert, &Delivery) + Send + 'static,
    ) -> Alerter {
        let shared = Arc::new(Shared {
            state: Mutex::new(ShutdownState::default()),
            changed: Condvar::new(),
            pending: AtomicUsize::new(0),
            report: Mutex::new(Box::new(report)),
        });
        let mut targets: Vec<Target> = cfg
            .webhooks
            .iter()
            .map(|hook| Target::Webhook {
                agent: webhook_agent(hook, cfg.timeout),
                hook: hook.clone(),
            })
            .collect();
        if let Some(cmd) = &cfg.command {
            targets.push(Target::Command(cmd.clone()));
        }
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for (i, target) in targets.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel::<Arc<Alert>>();
            let shared = Arc::clone(&shared);
            let cfg = cfg.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("alert-{i}"))
                .spawn(move || run_target(&target, &rx, &shared, &cfg));
            match spawned {
                Ok(handle) => {
                    queues.push(tx);
                    threads.push(handle);
                }
                Err(e) => tracing::error!("cannot start an alert thread: {e}"),
            }
        }
        Alerter {
            queues,
            threads,
            shared,
        }
    }

    /// Queues an alert for every target; returns at once.
    pub fn send(&self, alert: Alert) {
        let alert = Arc::new(alert);
        for q in &self.queues {
            self.shared.pending.fetch_add(1, Ordering::SeqCst);
            if q.send(Arc::clone(&alert)).is_err() {
                // The target's thread is gone (it cannot be, short of a panic in `report`).
                self.shared.pending.fetch_sub(1, Ordering::SeqCst);
                tracing::error!("alert {} not queued: its thread has stopped", alert.id);
            }
        }
    }

    /// How many targets alerts go to.
    pub fn targets(&self) -> usize {
        self.queues.len()
    }

    /// Alert × target deliveries queued or under way.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::SeqCst)
    }

    /// Stops taking alerts and tries to finish the queued ones for at most `grace`; returns
    /// how many alert × target deliveries were left undelivered (still queued, or dropped
    /// between retries, when the grace ran out). Those are not reported. A request or command
    /// under way at the deadline runs on to its timeout in the background, unreported.
    #[allow(clippy::disallowed_methods)] // driver: the grace is wall-clock time
    pub fn shutdown(self, grace: Duration) -> usize {
        let Alerter {
            queues,
            threads,
            shared,
        } = self;
        drop(queues); // each thread ends when its queue is empty
        let deadline = Instant::now() + grace;
        let mut s = shared.lock();
        s.deadline = Some(deadline);
        shared.changed.notify_all();
        loop {
            let now = Instant::now();
            if shared.pending.load(Ordering::SeqCst) == 0 || now >= deadline {
                break;
            }
            s = shared
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        s.closed = true;
        let left = s.abandoned + shared.pending.load(Ordering::SeqCst);
        drop(s);
        shared.changed.notify_all();
        if left == 0 {
            // Every queue is empty and closed: the threads are ending.
            for t in threads {
                let _ = t.join();
            }
        }
        left
    }
}

/// One target's thread: deliver each alert in order until the queue is closed and empty.
fn run_target(
    target: &Target,
    rx: &mpsc::Receiver<Arc<Alert>>,
    shared: &Shared,
    cfg: &AlertConfig,
) {
    while let Ok(alert) = rx.recv() {
        let delivery = deliver(target, &alert, shared, cfg);
        shared.finish(&alert, delivery);
    }
}

/// Attempts until success or `retries` retries; `None` when shutdown's deadline stops it.
fn deliver(target: &Target, alert: &Alert, shared: &Shared, cfg: &AlertConfig) -> Option<Delivery> {
    let name = target.name();
    let body = match serde_json::to_vec(alert) {
        Ok(b) => b,
        Err(e) => {
            return Some(Delivery {
                target: name,
                attempts: 0,
                ok: false,
                error: Some(format!("cannot write the alert as JSON: {e}")),
            })
        }
    };
    let mut attempts = 0u32;
    loop {
        if !shared.may_attempt() {
            return None;
        }
        attempts += 1;
        match target.attempt(alert, &body, cfg.timeout) {
            Ok(()) => {
                return Some(Delivery {
                    target: name,
                    attempts,
                    ok: true,
                    error: None,
                })
            }
            Err(e) => {
                if attempts > cfg.retries {
                    tracing::warn!(
                        "alert {} to {name}: giving up after {attempts} attempts: {e}",
                        alert.id
                    );
                    return Some(Delivery {
                        target: name,
                        attempts,
                        ok: false,
                        error: Some(e),
                    });
                }
                let wait = retry_delay(cfg.backoff, cfg.backoff_max, attempts);
                tracing::debug!(
                    "alert {} to {name}: attempt {attempts} failed ({e}); retry in {wait:?}",
                    alert.id
                );
                if !shared.wait_retry(wait) {
                    return None;
                }
            }
        }
    }
}

/// The HTTP client of one webhook: the attempt's timeout over everything, no redirects (a 3xx
/// is a failure), statuses as answers, the environment's proxy except for loopback hosts.
fn webhook_agent(hook: &Webhook, timeout: Duration) -> ureq::Agent {
    let mut b = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(USER_AGENT);
    if hook.is_loopback() {
        b = b.proxy(None);
    }
    b.build().into()
}

/// One webhook attempt: POST the JSON; a 2xx answer is success.
fn post(agent: &ureq::Agent, hook: &Webhook, body: &[u8]) -> Result<(), String> {
    let mut req = agent
        .post(&hook.url)
        .header("Content-Type", "application/json");
    for (k, v) in &hook.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send(body).map_err(|e| e.to_string())?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// One command attempt: `sh -c COMMAND` with the JSON on stdin and the alert in the
/// environment; exit 0 is success; killed (with its process group) after `timeout`.
#[allow(clippy::disallowed_methods)] // driver: the command's timeout is wall-clock time
fn run_command(cmd: &str, alert: &Alert, body: &[u8], timeout: Duration) -> Result<(), String> {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("CALLCERT_ALERT_ID", alert.id.to_string())
        .env("CALLCERT_ALERT_KIND", alert.kind.as_str())
        .env("CALLCERT_ALERT_SUMMARY", &alert.summary)
        .env(
            "CALLCERT_ALERT_SPEC_ID",
            alert.spec_id.as_deref().unwrap_or(""),
        );
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout kills what it started too.
        c.process_group(0);
    }
    let mut child = c.spawn().map_err(|e| format!("cannot run sh: {e}"))?;
    let started = Instant::now();

    // Stdin and stderr on their own threads: a command that neither reads its input nor
    // stops writing must not hold this one past the timeout.
    if let Some(mut stdin) = child.stdin.take() {
        let body = body.to_vec();
        let _ = std::thread::Builder::new()
            .name("alert-stdin".into())
            .spawn(move || {
                // A command that exits without reading is not an error of the hook.
                let _ = stdin.write_all(&body);
            });
    }
    let (err_tx, err_rx) = mpsc::channel::<Vec<u8>>();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = std::thread::Builder::new()
            .name("alert-stderr".into())
            .spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let room = STDERR_KEPT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
                let _ = err_tx.send(kept);
            });
    }

    let deadline = started + timeout;
    let mut poll = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {
                let now = Instant::now();
                if now >= deadline {
                    kill(&mut child);
                    break None;
                }
                std::thread::sleep(poll.min(deadline - now));
                poll = (poll * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                kill(&mut child);
                return Err(format!("cannot wait for the command: {e}"));
            }
        }
    };
    let stderr = err_rx
        .recv_timeout(Duration::from_millis(200))
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let with_stderr = |what: String| {
        if stderr.is_empty() {
            what
        } else {
            format!("{what}: {stderr}")
        }
    };
    match status {
        None => Err(with_stderr(format!(
            "command killed after {:.1} s",
            timeout.as_secs_f64()
        ))),
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(with_stderr(match s.code() {
            Some(code) => format!("command exited with {code}"),
            None => format!("command ended by {s}"),
        })),
    }
}

/// Kills the command's process group (or the command, off unix) and reaps it.
fn kill(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill(2) takes plain integers; -pid names the group the child leads
            // (process_group(0) above), which exists until the child is reaped below.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_from_unix_seconds() {
        assert_eq!(rfc3339_utc(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(1_795_437_296.789_4), "2026-11-23T12:34:56.789Z");
        assert_eq!(rfc3339_utc(1_795_437_296.999_6), "2026-11-23T12:34:57.000Z");
        assert_eq!(rfc3339_utc(951_782_400.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_utc(-5.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(f64::NAN), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(f64::INFINITY), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let b = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let d: Vec<u64> = (1..=8).map(|n| retry_delay(b, max, n).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(retry_delay(b, max, 0), b);
        assert_eq!(retry_delay(b, max, u32::MAX), max);
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for url in [
            "http://127.0.0.1:9/x",
            "http://localhost/",
            "http://[::1]:80/",
        ] {
            assert!(Webhook::parse(url).unwrap().is_loopback(), "{url}");
        }
        assert!(!Webhook::parse("https://example.com/hook")
            .unwrap()
            .is_loopback());
    }
}
