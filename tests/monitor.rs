//! `callcert monitor` as a process against the reference call center: killed with SIGKILL in
//! the middle of calls and restarted (nothing lost, nothing twice, the interrupted call marked,
//! the timetable going on), stopped with SIGTERM (calls hung up, exit 0), alerts POSTed to a
//! webhook the test listens on, `/metrics` scraped, and a store that cannot work refused at
//! start.
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::monitor::store::Store;
use callcert::monitor::CallState;
use common::{callcert, free_port, root, Proc};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A short walk of the bank IVR (about 8 s): welcome, main menu, 1, the account prompt, a
/// balance query.
fn walk(dir: &Path, port: u16) -> PathBuf {
    walk_named(dir, port, "mystery-balance")
}

/// [`walk`] under another scenario name (a second menu path to rotate with).
fn walk_named(dir: &Path, port: u16, name: &str) -> PathBuf {
    let prompts = root().join("scenarios/ivr/prompts");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "name: {name}\n\
             target: sip:bank@127.0.0.1:{port}\n\
             calls: 1\nrate: 1\n\
             call:\n  prompts: {}\n  steps:\n\
             \x20   - expect_answer: 10s\n\
             \x20   - wait_prompt: welcome\n\
             \x20   - wait_prompt: main_menu\n\
             \x20   - dtmf: \"1\"\n\
             \x20   - wait_prompt: enter_account\n\
             \x20   - query: {{ digits: \"12345678#\", prompt: balance, method: info }}\n\
             \x20   - hangup\n",
            prompts.display()
        ),
    )
    .unwrap();
    path
}

/// The bank call center on `port`, delays fixed at their means.
fn bank_sut(dir: &Path, port: u16) -> Proc {
    let cfg = dir.join("sut.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:{port}\ntrunks: 30\nmax_call: 10m\nivr: {}\n",
            root().join("scenarios/ivr/bank.yaml").display()
        ),
    )
    .unwrap();
    common::start_sut(&cfg, port)
}

/// A running monitor whose stderr lines arrive on a channel.
struct Monitor {
    proc: Proc,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Monitor {
    fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Monitor {
        let mut proc = Proc::spawn(
            "callcert monitor",
            callcert()
                .arg("monitor")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        );
        let err = proc.child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Monitor {
            proc,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Reads lines until `done` says so (or panics after `limit`, showing what was seen).
    fn until(&mut self, limit: Duration, mut done: impl FnMut(&[String]) -> bool) {
        let end = Instant::now() + limit;
        while !done(&self.seen) {
            let left = end.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(l) => self.seen.push(l),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < end => {}
                Err(_) => panic!(
                    "monitor: condition not met within {limit:?}; stderr:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every line until the process closes its stderr.
    fn drain(&mut self) {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(30)) {
            self.seen.push(l);
        }
    }
}

fn slots(lines: &[String], prefix: &str) -> BTreeSet<u64> {
    lines
        .iter()
        .filter_map(|l| l.split(prefix).nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

fn placed(lines: &[String]) -> BTreeSet<u64> {
    slots(lines, "placed slot=")
}

fn ended(lines: &[String]) -> BTreeSet<u64> {
    slots(lines, "ended slot=")
}

fn done(lines: &[String]) -> BTreeSet<u64> {
    lines
        .iter()
        .filter(|l| l.contains("state=done"))
        .filter_map(|l| l.split("ended slot=").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect()
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn sigkill_mid_call_then_restart_loses_nothing_and_continues_the_timetable() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _sut = bank_sut(dir.path(), port);
    let scn = walk(dir.path(), port);
    let scn2 = walk_named(dir.path(), port, "mystery-balance-2");
    let store = dir.path().join("store");
    let args = [
        scn.to_str().unwrap(),
        scn2.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--every",
        "3s",
        "--jitter",
        "1s",
        "--ping-every",
        "1s",
        "--metrics-listen",
        "127.0.0.1:0",
        "--drain",
        "1s",
    ];

    // First life: two calls ended, and at least one in progress when SIGKILL comes.
    let mut m = Monitor::start(&args);
    m.until(Duration::from_secs(90), |l| {
        let (p, e) = (placed(l), ended(l));
        done(l).len() >= 2 && p.difference(&e).count() >= 1
    });
    m.proc.child.kill().unwrap(); // SIGKILL
    m.proc.child.wait().unwrap();
    m.drain();
    let first_done = done(&m.seen);
    let first_placed = placed(&m.seen);
    let cut: BTreeSet<u64> = first_placed.difference(&ended(&m.seen)).copied().collect();
    assert!(!cut.is_empty() && first_done.len() >= 2);
    let anchor = {
        let s = Store::open(&store).unwrap();
        s.meta("anchor_unix").unwrap().expect("anchor stored")
    };

    // Second life: it says which calls were cut, goes on, and stops on SIGTERM with a call
    // in progress (hung up after --drain, exit 0).
    let mut m2 = Monitor::start(&args);
    m2.until(Duration::from_secs(30), |l| {
        l.iter().any(|x| x.contains("interrupted at the last stop"))
    });
    let startup = m2
        .seen
        .iter()
        .find(|x| x.contains("interrupted at the last stop"))
        .unwrap();
    for s in &cut {
        assert!(startup.contains(&format!("slot {s}")), "{startup}");
    }
    assert!(startup.contains("(resumed)"), "{startup}");
    m2.until(Duration::from_secs(10), |l| {
        l.iter().any(|x| x.contains("metrics on http://"))
    });
    let metrics_addr = m2
        .seen
        .iter()
        .find_map(|x| x.split("metrics on http://").nth(1))
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    m2.until(Duration::from_secs(90), |l| {
        let (p, e) = (placed(l), ended(l));
        done(l).len() >= 2 && p.difference(&e).count() >= 1
    });
    let scrape = http_get(&metrics_addr, "/metrics");
    assert!(scrape.starts_with("HTTP/1.1 200"), "{scrape}");
    assert!(
        scrape.contains("callcert_monitor_calls_total{outcome=\"success\"}"),
        "{scrape}"
    );
    assert!(scrape.contains("OPS-QUERY-RESPONSE"), "{scrape}");
    let status = m2.proc.terminate(Duration::from_secs(30));
    m2.drain();
    assert!(status.success(), "exit {status}: {}", m2.seen.join("\n"));
    let second_placed = placed(&m2.seen);
    assert_eq!(
        second_placed,
        ended(&m2.seen),
        "every call placed has ended"
    );

    // The store: each call once, in the state its life left it in.
    let s = Store::open(&store).unwrap();
    assert_eq!(
        s.meta("anchor_unix").unwrap().unwrap(),
        anchor,
        "same timetable"
    );
    let calls = s.calls_since(0.0).unwrap();
    let stored: Vec<u64> = calls.iter().map(|c| c.slot).collect();
    let unique: BTreeSet<u64> = stored.iter().copied().collect();
    assert_eq!(stored.len(), unique.len(), "no slot twice: {stored:?}");
    let expected: BTreeSet<u64> = first_placed.union(&second_placed).copied().collect();
    assert!(
        unique.is_superset(&expected),
        "every placed call is stored: {unique:?}"
    );
    // A slot stored but not yet announced when the kill came (the store is written first) can
    // only be an interrupted one.
    for c in calls.iter().filter(|c| !expected.contains(&c.slot)) {
        assert_eq!(c.state, CallState::Interrupted, "slot {}", c.slot);
    }
    for c in &calls {
        // Two scenarios, rotated: slot k walks scenario k mod 2.
        let names = ["mystery-balance", "mystery-balance-2"];
        assert_eq!(c.scenario, names[(c.slot % 2) as usize], "slot {}", c.slot);
        if first_done.contains(&c.slot) || done(&m2.seen).contains(&c.slot) {
            assert_eq!(c.state, CallState::Done, "slot {}", c.slot);
            let r = c.record.as_ref().expect("record");
            assert!(r.failure.is_none(), "slot {}: {:?}", c.slot, r.failure);
            let q = &r.ivr.as_ref().expect("ivr").query_response_ms;
            assert_eq!(q.len(), 1, "slot {}", c.slot);
        }
        if cut.contains(&c.slot) {
            assert_eq!(c.state, CallState::Interrupted, "slot {}", c.slot);
        }
    }
    // The second life went on after the first one's slots, on the same timetable: slot k is
    // due 3 s after slot k-1, give or take the jitter, counted from the stored anchor.
    let last_first = *first_placed.iter().max().unwrap();
    assert!(second_placed.iter().all(|&k| k > last_first));
    let anchor: f64 = anchor.parse().unwrap();
    for c in calls.iter().filter(|c| second_placed.contains(&c.slot)) {
        let nominal = anchor + c.slot as f64 * 3.0;
        assert!(
            (c.scheduled_unix - nominal).abs() <= 1.0 + 1e-6,
            "slot {} due {} vs nominal {nominal}",
            c.slot,
            c.scheduled_unix
        );
    }
    // The call in progress at SIGTERM was hung up after the drain: interrupted, not failed.
    let cut2: Vec<&callcert::monitor::StoredCall> = calls
        .iter()
        .filter(|c| second_placed.contains(&c.slot) && !done(&m2.seen).contains(&c.slot))
        .collect();
    assert!(!cut2.is_empty());
    for c in cut2 {
        assert_eq!(c.state, CallState::Interrupted, "slot {}", c.slot);
    }
    // Pings went on in both lives.
    assert!(
        s.pings_since(0.0)
            .unwrap()
            .iter()
            .filter(|p| p.answered)
            .count()
            >= 10
    );
    let judged = calls.iter().filter(|c| c.state == CallState::Done).count() as u64;
    let interrupted = calls.len() as u64 - judged;
    drop(s);

    // The report set of the stored hour: the done calls judged, the interrupted ones counted.
    let out = dir.path().join("report");
    let o = callcert()
        .args(["monitor", "report", "--store"])
        .arg(&store)
        .args(["--since", "1h", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        matches!(o.status.code(), Some(0 | 99)),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = common::read_report(&out);
    assert_eq!(
        r["calls"]["attempted"].as_u64(),
        Some(judged),
        "{}",
        r["calls"]
    );
    assert_eq!(r["monitor"]["interrupted"].as_u64(), Some(interrupted));
    assert!(!r["monitor"]["hourly"].as_array().unwrap().is_empty());
    assert!(out.join("junit.xml").is_file() && out.join("report.html").is_file());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Time of day") && html.contains("<svg"),
        "time-of-day charts"
    );
}

/// Monitor arguments for the alert tests: pings every second (unreachable after two
/// unanswered), alerts to `hook` retried for minutes, calls kept out of the way (one an hour).
fn pinging(scn: &Path, store: &Path, hook: &str) -> Vec<String> {
    let mut a: Vec<String> = vec![
        scn.display().to_string(),
        "--store".into(),
        store.display().to_string(),
    ];
    a.extend(
        [
            "--every",
            "1h",
            "--ping-every",
            "1s",
            "--down-after",
            "2",
            "--alert-retries",
            "100",
            "--metrics-listen",
            "off",
            "--webhook",
            hook,
        ]
        .map(String::from),
    );
    a
}

/// A one-shot HTTP listener that records the bodies POSTed to it.
fn webhook_listener() -> (String, mpsc::Receiver<serde_json::Value>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 {
                    break;
                }
                if h.to_ascii_lowercase().starts_with("content-length:") {
                    len = h[15..].trim().parse().unwrap_or(0);
                }
                if h == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            if r.read_exact(&mut body).is_ok() {
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                if let Ok(v) = serde_json::from_slice(&body) {
                    let _ = tx.send(v);
                }
            }
        }
    });
    (format!("http://{addr}/hook"), rx)
}

#[test]
fn unreachable_target_alerts_the_webhook_and_recovery_too() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let scn = walk(dir.path(), port);
    let store = dir.path().join("store");
    let (url, bodies) = webhook_listener();
    // No call center yet: pings go unanswered. Calls are kept out of the way (one an hour).
    let mut m = Monitor::start(&pinging(&scn, &store, &url));
    let down = bodies
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no alert; stderr so far: {:?}", m.seen));
    assert_eq!(down["kind"], "unreachable", "{down}");
    assert_eq!(down["to"], "down", "{down}");
    assert!(
        down["target"].as_str().unwrap().contains(&port.to_string()),
        "{down}"
    );
    assert!(down["id"].as_i64().unwrap() > 0, "{down}");
    // The call center comes up: the next answered ping is the recovery alert.
    let _sut = bank_sut(dir.path(), port);
    let up = loop {
        let v = bodies
            .recv_timeout(Duration::from_secs(30))
            .expect("recovery alert");
        if v["kind"] != "verdict_fail" && v["kind"] != "verdict_pass" {
            break v;
        }
    };
    assert_eq!(up["kind"], "reachable", "{up}");
    assert_eq!(up["from"], "down", "{up}");
    let status = m.proc.terminate(Duration::from_secs(30));
    m.drain();
    assert!(status.success(), "{}", m.seen.join("\n"));
    // Both alerts are in the store as delivered, and the outage is in the pings.
    let s = Store::open(&store).unwrap();
    let alerts = s.alerts_since(0.0).unwrap();
    let kinds: Vec<&str> = alerts.iter().map(|a| a.kind.as_str()).collect();
    assert!(
        kinds.contains(&"unreachable") && kinds.contains(&"reachable"),
        "{kinds:?}"
    );
    assert!(alerts.iter().all(|a| a.delivered), "{alerts:?}");
    let pings = s.pings_since(0.0).unwrap();
    assert!(pings.iter().any(|p| !p.answered) && pings.iter().any(|p| p.answered));
}

/// Runs `callcert monitor` against a store folder and returns (exit code, stderr).
fn monitor_once(store: &Path) -> (i32, String) {
    let dir = store.parent().unwrap();
    let scn = walk(dir, 9);
    let o = callcert()
        .args(["monitor", scn.to_str().unwrap(), "--store"])
        .arg(store)
        .args([
            "--max-calls",
            "1",
            "--metrics-listen",
            "off",
            "--ping-every",
            "off",
        ])
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_corrupted_store_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("monitor.db"), vec![0x5a; 8192]).unwrap();
    let (code, err) = monitor_once(&store);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("monitor.db") && err.contains("corrupt"),
        "{err}"
    );
    assert!(
        !err.contains("placed slot"),
        "no call before the error: {err}"
    );
}

/// Runs `script` as root in a private mount namespace (a tmpfs made there is gone with it).
fn in_mount_namespace(script: &str) -> std::process::Output {
    let unshare = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("unshare (util-linux) is needed for the read-only and full-disk tests");
    // As root a new mount namespace is enough; otherwise map ourselves to root in a user
    // namespace as well.
    let euid = unsafe { libc_geteuid() };
    let mut cmd = Command::new(unshare);
    if euid == 0 {
        cmd.arg("-m");
    } else {
        cmd.arg("-rm");
    }
    cmd.args(["sh", "-c", script]).output().unwrap()
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn a_read_only_store_folder_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("ro");
    std::fs::create_dir_all(&mnt).unwrap();
    let scn = walk(dir.path(), 9);
    let bin = env!("CARGO_BIN_EXE_callcert");
    let script = format!(
        "mount -t tmpfs -o ro,size=1m tmpfs {m} && exec {bin} monitor {s} --store {m}/store \
         --max-calls 1 --metrics-listen off --ping-every off",
        m = shell_quote(&mnt),
        s = shell_quote(&scn),
    );
    let o = in_mount_namespace(&script);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("read-only") && err.contains("store"), "{err}");
}

#[test]
fn a_full_disk_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("full");
    std::fs::create_dir_all(&mnt).unwrap();
    let scn = walk(dir.path(), 9);
    let bin = env!("CARGO_BIN_EXE_callcert");
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs {m} && mkdir {m}/store && \
         (dd if=/dev/zero of={m}/fill bs=4k 2>/dev/null; true) && \
         exec {bin} monitor {s} --store {m}/store --max-calls 1 --metrics-listen off \
         --ping-every off",
        m = shell_quote(&mnt),
        s = shell_quote(&scn),
    );
    let o = in_mount_namespace(&script);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("disk is full") && err.contains("store"),
        "{err}"
    );
}

#[test]
fn an_alert_undelivered_at_sigkill_is_sent_after_the_restart_and_not_raised_twice() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let scn = walk(dir.path(), port);
    let store = dir.path().join("store");
    // First life: the webhook's host refuses connections, so the unreachable alert stays
    // undelivered (retried for minutes) when the monitor is killed.
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    let mut m = Monitor::start(&pinging(&scn, &store, &dead));
    m.until(Duration::from_secs(30), |l| {
        l.iter()
            .any(|x| x.contains("alert 1:") && x.contains("unreachable"))
    });
    m.proc.child.kill().unwrap(); // SIGKILL
    m.proc.child.wait().unwrap();
    m.drain();
    {
        let s = Store::open(&store).unwrap();
        let a = s.alerts_since(0.0).unwrap();
        assert_eq!(a.len(), 1, "{a:?}");
        assert!(!a[0].delivered, "{a:?}");
    }
    // Second life, with a webhook that works: alert 1 arrives (same id), and the target still
    // being down raises no second unreachable alert.
    let (url, bodies) = webhook_listener();
    let mut m2 = Monitor::start(&pinging(&scn, &store, &url));
    let again = bodies
        .recv_timeout(Duration::from_secs(30))
        .expect("alert sent again");
    assert_eq!(again["id"], 1, "{again}");
    assert_eq!(again["kind"], "unreachable", "{again}");
    m2.until(Duration::from_secs(10), |l| {
        l.iter()
            .any(|x| x.contains("1 undelivered alert(s) from before"))
    });
    std::thread::sleep(Duration::from_secs(4)); // several more unanswered pings
    let _sut = bank_sut(dir.path(), port);
    let next = loop {
        let v = bodies
            .recv_timeout(Duration::from_secs(30))
            .expect("recovery alert");
        if v["kind"] != "verdict_fail" && v["kind"] != "verdict_pass" {
            break v;
        }
    };
    assert_eq!(
        next["kind"], "reachable",
        "no second unreachable alert: {next}"
    );
    assert!(next["id"].as_i64().unwrap() > 1);
    let status = m2.proc.terminate(Duration::from_secs(30));
    m2.drain();
    assert!(status.success(), "{}", m2.seen.join("\n"));
    let s = Store::open(&store).unwrap();
    let a = s.alerts_since(0.0).unwrap();
    assert!(a.iter().all(|a| a.delivered), "{a:?}");
    assert_eq!(a.iter().filter(|a| a.kind == "unreachable").count(), 1);
}

#[test]
fn bad_monitor_arguments_are_refused_before_anything_with_the_option_named() {
    let dir = tempfile::tempdir().unwrap();
    let scn = walk(dir.path(), 9);
    let store = dir.path().join("store");
    let bad_scn = dir.path().join("bad.yaml");
    std::fs::write(
        &bad_scn,
        "name: x\ntarget: sip:a@127.0.0.1:9\ncalls: lots\n",
    )
    .unwrap();
    for (extra, expect) in [
        (vec!["--window", "25:00-26:00"], "--window"),
        (vec!["--every", "100ms"], "--every"),
        (vec!["--every", "60s", "--jitter", "40s"], "--jitter"),
        (vec!["--webhook", "ftp://example.com/x"], "--webhook"),
        (vec!["--busy-hours", "25"], "--busy-hours"),
        (vec!["--utc-offset", "eight"], "UTC offset"),
        (vec!["--ping-every", "soon"], "--ping-every"),
        (vec!["--metrics-listen", "nowhere"], "--metrics-listen"),
    ] {
        let o = callcert()
            .args(["monitor", scn.to_str().unwrap(), "--store"])
            .arg(&store)
            .args(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(104), "{extra:?}: {err}");
        assert!(err.contains(expect), "{extra:?}: {err}");
    }
    let o = callcert()
        .args(["monitor", bad_scn.to_str().unwrap(), "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(104), "{err}");
    assert!(
        err.contains("bad.yaml:3:") && err.contains("calls"),
        "{err}"
    );
    assert!(
        !store.exists(),
        "nothing created for a configuration that is refused"
    );
}
