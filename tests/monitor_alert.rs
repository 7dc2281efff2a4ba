//! Monitor alerts (issue 7): webhooks POSTed to a local HTTP listener the test starts (which
//! answers 500 on demand, or hangs), and command hooks run through `sh -c`; retries, giving
//! up, order per target, `send` never waiting, and shutdown's grace.
#![allow(clippy::disallowed_methods)]

use callcert::monitor::alert::{
    Alert, AlertConfig, AlertError, AlertKind, Alerter, Delivery, Webhook, USER_AGENT,
};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

/// Long enough for anything here to have happened; reaching it fails the test.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// A tiny HTTP listener that records each request and answers as scripted.

#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Read the request, then answer nothing until the listener is dropped.
    Hang,
}

#[derive(Debug)]
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

struct Listener {
    addr: SocketAddr,
    requests: mpsc::Receiver<Request>,
    stop: Arc<AtomicBool>,
    release: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Answers `script` in turn, then `then` for every later request.
    fn start(script: &[Answer], then: Answer) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (req_tx, requests) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let mut script: VecDeque<Answer> = script.iter().copied().collect();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let answer = script.pop_front().unwrap_or(then);
                let Some(req) = read_request(&mut conn) else {
                    continue;
                };
                let _ = req_tx.send(req);
                match answer {
                    Answer::Status(code) => {
                        let _ = write!(
                            conn,
                            "HTTP/1.1 {code} Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        );
                    }
                    Answer::Hang => {
                        // Until the test drops the listener (bounded all the same).
                        let _ = release_rx.recv_timeout(Duration::from_secs(120));
                    }
                }
            }
        });
        Listener {
            addr,
            requests,
            stop,
            release: Some(release),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn next(&self) -> Request {
        self.requests.recv_timeout(WAIT).expect("a request")
    }

    /// The requests received so far.
    fn received(&self) -> Vec<Request> {
        self.requests.try_iter().collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.release.take()); // ends a hang
        let _ = TcpStream::connect(self.addr); // wakes accept
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request { head, body })
}

// ---------------------------------------------------------------------------------------------

fn alert(id: i64) -> Alert {
    let mut a = Alert::new(
        id,
        AlertKind::VerdictFail,
        1_795_437_296.5,
        "lab-monitor",
        "sip:ivr@127.0.0.1:5060",
        "OPS-QUERY-RESPONSE: PASS → FAIL (mean 11.5 s > 10 s)",
    );
    a.spec_id = Some("OPS-QUERY-RESPONSE".into());
    a.metric = Some("query_response".into());
    a.from = Some("PASS".into());
    a.to = Some("FAIL".into());
    a.details = serde_json::json!({ "measured_ms": 11_500.0, "limit_ms": 10_000.0 });
    a
}

fn config(webhooks: Vec<Webhook>, command: Option<String>) -> AlertConfig {
    AlertConfig {
        webhooks,
        command,
        retries: 5,
        backoff: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        timeout: Duration::from_secs(10),
    }
}

type Reports = mpsc::Receiver<(i64, Delivery)>;

fn start(cfg: AlertConfig) -> (Alerter, Reports) {
    let (tx, rx) = mpsc::channel();
    let alerter = Alerter::start(cfg, move |a: &Alert, d: &Delivery| {
        let _ = tx.send((a.id, d.clone()));
    });
    (alerter, rx)
}

fn next_report(rx: &Reports) -> (i64, Delivery) {
    rx.recv_timeout(WAIT).expect("a delivery report")
}

fn hook(url: &str) -> Webhook {
    Webhook::parse(url).unwrap()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn webhook_gets_the_alert_as_json() {
    let server = Listener::start(&[], Answer::Status(204));
    let wh = hook(&server.url())
        .with_header("Authorization: Bearer s3cret")
        .unwrap();
    let (alerter, reports) = start(config(vec![wh], None));
    alerter.send(alert(42));
    let (id, d) = next_report(&reports);
    assert_eq!(id, 42);
    assert_eq!(
        d,
        Delivery {
            target: server.url(),
            attempts: 1,
            ok: true,
            error: None
        }
    );
    let req = server.next();
    assert!(
        req.head.starts_with("POST /hook HTTP/1.1\r\n"),
        "{}",
        req.head
    );
    assert_eq!(req.header("Content-Type"), Some("application/json"));
    assert_eq!(req.header("User-Agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("callcert/"));
    assert_eq!(req.header("Authorization"), Some("Bearer s3cret"));
    let j = req.json();
    assert_eq!(j["id"], 42);
    assert_eq!(j["kind"], "verdict_fail");
    assert_eq!(j["at"], "2026-11-23T12:34:56.500Z");
    assert_eq!(j["at_unix"], 1_795_437_296.5);
    assert_eq!(j["monitor"], "lab-monitor");
    assert_eq!(j["target"], "sip:ivr@127.0.0.1:5060");
    assert_eq!(j["spec_id"], "OPS-QUERY-RESPONSE");
    assert_eq!(j["metric"], "query_response");
    assert_eq!(j["from"], "PASS");
    assert_eq!(j["to"], "FAIL");
    assert_eq!(
        j["summary"],
        "OPS-QUERY-RESPONSE: PASS → FAIL (mean 11.5 s > 10 s)"
    );
    assert_eq!(j["details"]["measured_ms"], 11_500.0);
    assert_eq!(j, serde_json::to_value(alert(42)).unwrap());
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn alert_kinds_and_empty_fields_in_json() {
    let kinds = [
        (AlertKind::VerdictFail, "verdict_fail"),
        (AlertKind::VerdictPass, "verdict_pass"),
        (AlertKind::Unreachable, "unreachable"),
        (AlertKind::Reachable, "reachable"),
        (AlertKind::Test, "test"),
    ];
    for (kind, word) in kinds {
        assert_eq!(serde_json::to_value(kind).unwrap(), word);
        assert_eq!(kind.as_str(), word);
    }
    let a = Alert::new(1, AlertKind::Unreachable, 0.0, "m", "t", "down");
    let j = serde_json::to_value(&a).unwrap();
    assert_eq!(j["at"], "1970-01-01T00:00:00.000Z");
    // Absent fields are present as null, details an empty object: a stable shape.
    for k in ["spec_id", "metric", "from", "to"] {
        assert!(j[k].is_null(), "{k}");
    }
    assert_eq!(j["details"], serde_json::json!({}));
}

#[test]
fn webhook_is_retried_after_500s_until_it_succeeds() {
    let server = Listener::start(
        &[Answer::Status(500), Answer::Status(502)],
        Answer::Status(200),
    );
    let (alerter, reports) = start(config(vec![hook(&server.url())], None));
    alerter.send(alert(7));
    let (id, d) = next_report(&reports);
    assert_eq!(id, 7);
    assert!(d.ok, "{d:?}");
    assert_eq!(d.attempts, 3);
    assert_eq!(d.error, None);
    // Three requests, each the same alert with the same id (receivers can de-duplicate).
    let got = server.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert_eq!(got[0].json()["id"], 7);
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn webhook_is_given_up_after_the_retries() {
    let server = Listener::start(&[], Answer::Status(503));
    let mut cfg = config(vec![hook(&server.url())], None);
    cfg.retries = 2;
    let (alerter, reports) = start(cfg);
    alerter.send(alert(1));
    let (_, d) = next_report(&reports);
    assert!(!d.ok);
    assert_eq!(d.attempts, 3, "the first attempt and 2 retries");
    let err = d.error.expect("an error");
    assert!(err.contains("503"), "{err}");
    // Not one request more: every attempt was answered before the report.
    assert_eq!(server.received().len(), 3);
    // A 3xx is not followed: it is a failure too.
    let moved = Listener::start(&[], Answer::Status(301));
    let mut cfg = config(vec![hook(&moved.url())], None);
    cfg.retries = 0;
    let (alerter2, reports2) = start(cfg);
    alerter2.send(alert(2));
    let (_, d) = next_report(&reports2);
    assert!(!d.ok && d.attempts == 1, "{d:?}");
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
    assert_eq!(alerter2.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn unreachable_webhook_is_retried_then_given_up() {
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(vec![hook(&format!("http://127.0.0.1:{port}/x"))], None);
    cfg.retries = 1;
    let (alerter, reports) = start(cfg);
    alerter.send(alert(3));
    let (_, d) = next_report(&reports);
    assert!(!d.ok);
    assert_eq!(d.attempts, 2);
    assert!(d.error.is_some_and(|e| !e.is_empty()));
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn send_does_not_wait_for_a_hanging_webhook() {
    let server = Listener::start(&[], Answer::Hang);
    let mut cfg = config(vec![hook(&server.url())], None);
    cfg.timeout = Duration::from_secs(60);
    let (alerter, reports) = start(cfg);
    alerter.send(alert(1));
    // The server holds the first request unanswered…
    assert_eq!(server.next().json()["id"], 1);
    // …and more alerts are still taken at once (a watchdog fails the test if send waits).
    let alerter = Arc::new(alerter);
    let (done_tx, done) = mpsc::channel();
    let a = Arc::clone(&alerter);
    let sender = std::thread::spawn(move || {
        for id in 2..=4 {
            a.send(alert(id));
        }
        let _ = done_tx.send(());
    });
    done.recv_timeout(WAIT)
        .expect("send returned while the webhook hangs");
    sender.join().unwrap();
    assert_eq!(alerter.pending(), 4);
    // Shutdown gives up after its grace: the hanging one and the three queued are left.
    let alerter = Arc::try_unwrap(alerter).ok().expect("one owner");
    assert_eq!(alerter.shutdown(Duration::from_millis(100)), 4);
    assert!(
        reports.try_recv().is_err(),
        "nothing is reported as delivered"
    );
}

#[test]
fn a_hanging_webhook_does_not_delay_another_target() {
    let stuck = Listener::start(&[], Answer::Hang);
    let fine = Listener::start(&[], Answer::Status(200));
    let mut cfg = config(vec![hook(&stuck.url()), hook(&fine.url())], None);
    cfg.timeout = Duration::from_secs(60);
    let (alerter, reports) = start(cfg);
    assert_eq!(alerter.targets(), 2);
    for id in 1..=3 {
        alerter.send(alert(id));
    }
    for want in 1..=3 {
        let (id, d) = next_report(&reports);
        assert_eq!(
            (id, d.target.as_str(), d.ok),
            (want, fine.url().as_str(), true)
        );
    }
    assert_eq!(stuck.next().json()["id"], 1);
    assert_eq!(alerter.shutdown(Duration::from_millis(50)), 3);
}

#[test]
fn alerts_reach_a_target_in_the_order_sent() {
    // The first alert needs a retry; the later ones wait behind it.
    let server = Listener::start(&[Answer::Status(500)], Answer::Status(200));
    let (alerter, reports) = start(config(vec![hook(&server.url())], None));
    for id in 1..=5 {
        alerter.send(alert(id));
    }
    let mut order = Vec::new();
    for _ in 1..=5 {
        let (id, d) = next_report(&reports);
        assert!(d.ok);
        order.push((id, d.attempts));
    }
    assert_eq!(order, [(1, 2), (2, 1), (3, 1), (4, 1), (5, 1)]);
    let ids: Vec<i64> = server
        .received()
        .iter()
        .map(|r| r.json()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 1, 2, 3, 4, 5]);
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn shutdown_finishes_queued_retries_within_the_grace() {
    let server = Listener::start(&[Answer::Status(500)], Answer::Status(200));
    let (alerter, reports) = start(config(vec![hook(&server.url())], None));
    alerter.send(alert(1));
    alerter.send(alert(2));
    assert_eq!(alerter.shutdown(Duration::from_secs(10)), 0);
    // Both were delivered, and reported, before shutdown returned.
    let got: Vec<(i64, u32, bool)> = reports
        .try_iter()
        .map(|(id, d)| (id, d.attempts, d.ok))
        .collect();
    assert_eq!(got, [(1, 2, true), (2, 1, true)]);
}

#[test]
fn no_targets_means_nothing_to_do() {
    let (alerter, reports) = start(AlertConfig::default());
    assert_eq!(alerter.targets(), 0);
    alerter.send(alert(1));
    assert_eq!(alerter.pending(), 0);
    assert_eq!(alerter.shutdown(Duration::from_millis(10)), 0);
    assert!(reports.try_recv().is_err());
}

#[test]
fn command_hook_gets_the_json_on_stdin_and_the_alert_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("alert.json");
    let env = dir.path().join("env.txt");
    let cmd = format!(
        "cat > '{}' && printf '%s\\n%s\\n%s\\n%s\\n' \"$CALLCERT_ALERT_KIND\" \"$CALLCERT_ALERT_SUMMARY\" \"$CALLCERT_ALERT_SPEC_ID\" \"$CALLCERT_ALERT_ID\" > '{}'",
        json.display(),
        env.display()
    );
    let (alerter, reports) = start(config(vec![], Some(cmd)));
    alerter.send(alert(9));
    let mut plain = Alert::new(10, AlertKind::Reachable, 5.0, "m", "t", "up again");
    plain.details = serde_json::Value::Null;
    let (id, d) = next_report(&reports);
    assert_eq!(id, 9);
    assert_eq!(
        d,
        Delivery {
            target: "command".into(),
            attempts: 1,
            ok: true,
            error: None
        }
    );
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(got, serde_json::to_value(alert(9)).unwrap());
    let env_lines = std::fs::read_to_string(&env).unwrap();
    assert_eq!(
        env_lines.lines().collect::<Vec<_>>(),
        [
            "verdict_fail",
            "OPS-QUERY-RESPONSE: PASS → FAIL (mean 11.5 s > 10 s)",
            "OPS-QUERY-RESPONSE",
            "9"
        ]
    );
    // An alert with no threshold: the spec id variable is empty, not missing.
    alerter.send(plain);
    let (id, d) = next_report(&reports);
    assert!(id == 10 && d.ok, "{d:?}");
    let env_lines = std::fs::read_to_string(&env).unwrap();
    assert_eq!(
        env_lines.lines().collect::<Vec<_>>(),
        ["reachable", "up again", "", "10"]
    );
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn failing_command_is_retried_then_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let cmd = format!("echo run >> '{}'; echo boom >&2; exit 1", runs.display());
    let mut cfg = config(vec![], Some(cmd));
    cfg.retries = 2;
    let (alerter, reports) = start(cfg);
    alerter.send(alert(1));
    let (_, d) = next_report(&reports);
    assert!(!d.ok);
    assert_eq!(d.attempts, 3);
    let err = d.error.unwrap();
    assert!(
        err.contains("exited with 1") && err.contains("boom"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 3);
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn command_that_fails_once_succeeds_on_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    // Fails on its first run, succeeds on its second.
    let cmd = format!(
        "n=$(cat '{f}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{f}'; [ $n -ge 2 ]",
        f = count.display()
    );
    let (alerter, reports) = start(config(vec![], Some(cmd)));
    alerter.send(alert(1));
    let (_, d) = next_report(&reports);
    assert!(d.ok, "{d:?}");
    assert_eq!(d.attempts, 2);
    assert_eq!(std::fs::read_to_string(&count).unwrap().trim(), "2");
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[cfg(target_os = "linux")]
fn alive(pid: u32) -> bool {
    // A zombie waiting for its parent to reap it is not running.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

#[cfg(target_os = "linux")]
#[test]
fn command_past_its_timeout_is_killed_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    // The shell starts a child and waits for it: both must die at the timeout.
    let cmd = format!("sleep 60 & echo $! > '{}'; wait", pid_file.display());
    let mut cfg = config(vec![], Some(cmd));
    cfg.retries = 0;
    cfg.timeout = Duration::from_secs(1);
    let (alerter, reports) = start(cfg);
    alerter.send(alert(1));
    let (_, d) = next_report(&reports);
    assert!(!d.ok);
    assert_eq!(d.attempts, 1);
    assert!(d.error.as_deref().unwrap().contains("killed"), "{d:?}");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SIGKILL went to the group before the report; give the kernel a bounded moment.
    let mut dead = false;
    for _ in 0..200 {
        if !alive(pid) {
            dead = true;
            break;
        }
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(dead, "the command's child {pid} outlived the timeout");
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn webhook_and_command_both_get_every_alert() {
    let server = Listener::start(&[], Answer::Status(200));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let cmd = format!("cat >> '{}'; echo >> '{}'", log.display(), log.display());
    let (alerter, reports) = start(config(vec![hook(&server.url())], Some(cmd)));
    alerter.send(alert(1));
    alerter.send(alert(2));
    let mut got: Vec<(i64, String)> = (0..4)
        .map(|_| {
            let (id, d) = next_report(&reports);
            assert!(d.ok, "{d:?}");
            (id, d.target)
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (1, "command".to_string()),
            (1, server.url()),
            (2, "command".to_string()),
            (2, server.url())
        ]
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    let ids: Vec<i64> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(alerter.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn webhook_urls_and_headers_are_checked() {
    for ok in [
        "http://127.0.0.1:8080/hook",
        "https://hooks.example.com/services/T0/B0/x?y=1",
        "HTTPS://example.com",
        "http://[::1]:9/a",
    ] {
        assert_eq!(Webhook::parse(ok).unwrap().url(), ok);
    }
    assert!(matches!(
        Webhook::parse("ftp://example.com/x"),
        Err(AlertError::UnsupportedScheme { scheme, .. }) if scheme == "ftp"
    ));
    assert!(matches!(
        Webhook::parse("/just/a/path"),
        Err(AlertError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        Webhook::parse("example.com:80"),
        Err(AlertError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        Webhook::parse("not a url"),
        Err(AlertError::InvalidUrl { .. })
    ));
    assert!(Webhook::parse("http://").is_err());
    assert!(Webhook::parse("").is_err());
    let e = Webhook::parse("ftp://example.com/x")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ftp://example.com/x") && e.contains("http or https"),
        "{e}"
    );

    let wh = hook("http://127.0.0.1/x")
        .with_header("X-Token: abc: def")
        .unwrap()
        .with_header("X-Other:plain")
        .unwrap();
    assert_eq!(
        wh.headers(),
        [
            ("X-Token".to_string(), "abc: def".to_string()),
            ("X-Other".to_string(), "plain".to_string())
        ]
    );
    for bad in [
        "NoColon",
        "Bad Name: x",
        ": x",
        "X: a\nb",
        "Content-Length: 5",
        "Host: x",
    ] {
        assert!(
            matches!(
                hook("http://127.0.0.1/x").with_header(bad),
                Err(AlertError::InvalidHeader { .. })
            ),
            "{bad:?}"
        );
    }
    let cfg = AlertConfig {
        command: Some("  ".into()),
        ..AlertConfig::default()
    };
    assert_eq!(cfg.validate(), Err(AlertError::EmptyCommand));
    let d = AlertConfig::default();
    assert_eq!(
        (d.retries, d.backoff, d.backoff_max, d.timeout),
        (
            5,
            Duration::from_secs(1),
            Duration::from_secs(60),
            Duration::from_secs(10)
        )
    );
}
