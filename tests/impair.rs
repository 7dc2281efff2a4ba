//! `callcert impair`, the real binary on loopback: loss and delay applied to what it relays,
//! the replies' path impaired on its own, the summary at SIGTERM or `--duration`, and exit
//! code 104 with the field named for bad input.
#![allow(clippy::disallowed_methods)] // the test's client and server are drivers: real time

mod common;

use common::*;
use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A UDP echo server on loopback, stopped (by flag, within its 50 ms read timeout) on drop.
struct Echo {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<u64>>,
}

impl Echo {
    fn start() -> Echo {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let addr = s.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut echoed = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    let _ = s.send_to(&buf[..n], from);
                    echoed += 1;
                }
            }
            echoed
        });
        Echo {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the server; returns how many datagrams it echoed.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts `callcert impair` on a free loopback port in front of `forward`; waits until it
/// listens.
fn start_relay(forward: SocketAddr, extra: &[&str]) -> (Proc, SocketAddr) {
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let p = Proc::spawn(
        "callcert impair",
        callcert()
            .arg("impair")
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--forward")
            .arg(forward.to_string())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    wait_udp_bound(listen, Duration::from_secs(5));
    (p, listen)
}

/// Ends the relay with `signal` (TERM or INT); returns (exit status, stdout, stderr).
fn stop_relay(mut p: Proc, signal: &str) -> (std::process::ExitStatus, String, String) {
    let pid = p.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status();
    let status = p.wait_for(Duration::from_secs(10));
    let out = text(p.child.stdout.take());
    let err = text(p.child.stderr.take());
    (status, out, err)
}

/// Sends `n` datagrams (their index) paced every `gap` from one socket to `to` and collects
/// the echoes; returns each echoed index with its round-trip time.
fn send_paced(to: SocketAddr, n: u32, gap: Duration, linger: Duration) -> HashMap<u32, Duration> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let rx = sock.try_clone().unwrap();
    let start = Instant::now();
    let receiver = thread::spawn(move || {
        let mut got = HashMap::new();
        let mut buf = [0u8; 64];
        let end = start + gap * n + linger;
        while Instant::now() < end {
            if let Ok((len, _)) = rx.recv_from(&mut buf) {
                let at = Instant::now();
                if len == 12 {
                    let i = u32::from_be_bytes(buf[0..4].try_into().unwrap());
                    let sent_ns = u64::from_be_bytes(buf[4..12].try_into().unwrap());
                    let rtt = at - (start + Duration::from_nanos(sent_ns));
                    got.insert(i, rtt);
                }
            }
        }
        got
    });
    for i in 0..n {
        let due = start + gap * i;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let sent = Instant::now() - start;
        let mut msg = [0u8; 12];
        msg[0..4].copy_from_slice(&i.to_be_bytes());
        msg[4..12].copy_from_slice(&(sent.as_nanos() as u64).to_be_bytes());
        sock.send_to(&msg, to).unwrap();
    }
    receiver.join().unwrap()
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("summary {stdout:?}: {e}"))
}

fn num(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut x = v;
    for p in path {
        x = &x[p];
    }
    x.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {v}"))
}

#[test]
fn relays_with_loss_and_delay_each_way_and_reports_at_sigterm() {
    let echo = Echo::start();
    let (relay, listen) = start_relay(
        echo.addr,
        &[
            "--spec",
            "loss=5%,delay=20ms,jitter=3ms,dist=uniform",
            "--reverse-spec",
            "delay=15ms",
            "--seed",
            "7",
            "--json",
        ],
    );
    const N: u32 = 3000;
    let got = send_paced(
        listen,
        N,
        Duration::from_millis(1),
        Duration::from_millis(500),
    );
    let echoed = echo.finish();
    let (status, out, err) = stop_relay(relay, "TERM");
    assert!(status.success(), "exit {status}: {err}");
    assert!(err.contains("seed 7"), "{err}");
    let s = json(&out);

    // 5 % lost upstream: within 4 standard errors of a binomial proportion (±1.6 %).
    let received = got.len() as f64 / f64::from(N);
    let tol = 4.0 * (0.05f64 * 0.95 / f64::from(N)).sqrt();
    assert!((1.0 - received - 0.05).abs() < tol, "received {received}");
    // The relay's own count agrees with what crossed: everything echoed came back.
    assert_eq!(num(&s, &["upstream", "offered"]), f64::from(N));
    assert_eq!(num(&s, &["upstream", "delivered"]) as u64, echoed);
    assert_eq!(
        num(&s, &["upstream", "dropped"]) as u64 + echoed,
        u64::from(N)
    );
    assert_eq!(num(&s, &["downstream", "offered"]) as u64, echoed);
    assert_eq!(num(&s, &["downstream", "delivered"]) as usize, got.len());
    assert_eq!(num(&s, &["downstream", "dropped"]), 0.0);
    assert_eq!(num(&s, &["seed"]), 7.0);

    // Delays applied: upstream uniform 20 ± 3 ms (σ = 3/√3 ms), downstream 15 ms flat.
    let up_mean = num(&s, &["upstream", "delay", "mean_ms"]);
    let up_std = num(&s, &["upstream", "delay", "std_ms"]);
    assert!((up_mean - 20.0).abs() < 0.2, "upstream mean {up_mean}");
    assert!(
        (up_std - 3.0 / 3f64.sqrt()).abs() < 0.1,
        "upstream std {up_std}"
    );
    assert!(num(&s, &["upstream", "delay", "min_ms"]) >= 17.0);
    assert!(num(&s, &["upstream", "delay", "max_ms"]) <= 23.0);
    assert_eq!(num(&s, &["downstream", "delay", "mean_ms"]), 15.0);
    // Seen from the client: no echo faster than both delays, and on average about their sum
    // (the rest is the relay, the echo server and the scheduler of a shared machine).
    let rtts: Vec<f64> = got.values().map(|d| d.as_secs_f64() * 1e3).collect();
    let min = rtts.iter().cloned().fold(f64::INFINITY, f64::min);
    let mean = rtts.iter().sum::<f64>() / rtts.len() as f64;
    assert!(min >= 17.0 + 15.0, "fastest round trip {min} ms");
    assert!(
        (35.0 - 0.5..35.0 + 10.0).contains(&mean),
        "mean round trip {mean} ms"
    );
}

#[test]
fn each_client_gets_its_own_replies_and_sigint_ends_the_run() {
    let echo = Echo::start();
    let (relay, listen) = start_relay(echo.addr, &["--reverse-profile", "poor", "--json"]);
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    // 200 each way, 1 % lost on the way back: most come back, each to its sender.
    for i in 0..200u8 {
        a.send_to(&[b'a', i], listen).unwrap();
        b.send_to(&[b'b', i], listen).unwrap();
        thread::sleep(Duration::from_millis(1));
    }
    let mut counts = [0u32; 2];
    for (k, (s, tag)) in [(&a, b'a'), (&b, b'b')].into_iter().enumerate() {
        let mut buf = [0u8; 16];
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end && counts[k] < 200 {
            if let Ok((n, from)) = s.recv_from(&mut buf) {
                assert_eq!(n, 2);
                assert_eq!(buf[0], tag, "a reply reached the wrong client");
                assert_eq!(from, listen);
                counts[k] += 1;
            }
        }
    }
    let (status, out, err) = stop_relay(relay, "INT");
    assert!(status.success(), "exit {status}: {err}");
    let s = json(&out);
    assert_eq!(num(&s, &["mappings", "created"]), 2.0);
    assert_eq!(num(&s, &["upstream", "offered"]), 400.0);
    assert_eq!(num(&s, &["upstream", "dropped"]), 0.0);
    let back = f64::from(counts[0] + counts[1]);
    assert_eq!(num(&s, &["downstream", "delivered"]), back);
    assert!((380.0..=400.0).contains(&back), "{counts:?}");
    // The reverse path had the poor preset's 100 ms ± 20 ms.
    let mean = num(&s, &["downstream", "delay", "mean_ms"]);
    assert!((mean - 100.0).abs() < 5.0, "{mean}");
    assert_eq!(
        s["downstream"]["impairment"].as_str(),
        Some("delay=100ms,jitter=20ms,loss=1%")
    );
}

#[test]
fn duration_ends_with_exit_0_and_the_summary() {
    let echo = Echo::start();
    let mut p = Proc::spawn(
        "callcert impair",
        callcert()
            .args(["impair", "--listen", "127.0.0.1:0", "--forward"])
            .arg(echo.addr.to_string())
            .args(["--profile", "bad", "--seed", "42", "--duration", "300ms"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let status = p.wait_for(Duration::from_secs(10));
    let out = text(p.child.stdout.take());
    let err = text(p.child.stderr.take());
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("seed 42"), "{err}");
    assert!(
        err.contains("upstream (clients -> ") && err.contains("delay=400ms,jitter=60ms,loss=5%"),
        "{err}"
    );
    assert!(out.starts_with("callcert impair: seed 42;"), "{out}");
    assert!(
        out.contains("upstream   [delay=400ms,jitter=60ms,loss=5%]: offered 0"),
        "{out}"
    );
    assert!(out.contains("downstream [none]: offered 0"), "{out}");
    assert!(out.contains("relay lateness"), "{out}");
}

/// Runs `callcert impair` with bad input (bounded by `--duration` should it start after
/// all); returns (exit code, stderr).
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = callcert();
    cmd.arg("impair").args(args);
    if !args.contains(&"--duration") {
        cmd.args(["--duration", "2s"]);
    }
    let mut p = Proc::spawn(
        "callcert impair",
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()),
    );
    let status = p.wait_for(Duration::from_secs(10));
    let err = text(p.child.stderr.take());
    (status.code(), err)
}

#[test]
fn bad_input_exits_104_naming_the_field() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let fwd = ["--listen", "127.0.0.1:0", "--forward", "127.0.0.1:9"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            [&fwd[..], &["--spec", "loss=150%"]].concat(),
            "--spec: loss: 1.5 is not a probability",
        ),
        (
            [&fwd[..], &["--spec", "delay=100ms,jiter=20ms"]].concat(),
            "--spec: unknown impairment field \"jiter\"",
        ),
        (
            [&fwd[..], &["--spec", "jitter=20"]].concat(),
            "--spec: jitter: invalid duration \"20\": missing unit",
        ),
        (
            [&fwd[..], &["--reverse-spec", "dist=gauss"]].concat(),
            "--reverse-spec: dist: \"gauss\" is not a distribution",
        ),
        (
            [&fwd[..], &["--profile", "awful"]].concat(),
            "--profile: unknown impairment preset \"awful\"",
        ),
        (
            vec!["--listen", &taken, "--forward", "127.0.0.1:9"],
            "--listen 127.0.0.1:",
        ),
        (
            vec!["--listen", "nonsense", "--forward", "127.0.0.1:9"],
            "--listen: \"nonsense\"",
        ),
        (
            [&fwd[..], &["--idle", "soon"]].concat(),
            "--idle: invalid duration \"soon\"",
        ),
    ];
    for (args, want) in cases {
        let (code, err) = refused(&args);
        assert_eq!(code, Some(104), "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("callcert: {want}")),
            "{args:?}: {err}"
        );
    }
    let (code, err) = refused(&[&fwd[..], &["--duration", "0s"]].concat());
    assert_eq!(code, Some(104), "{err}");
    assert!(err.contains("--duration"), "{err}");
}

/// All that a child's pipe held (empty when it was not piped).
fn text(pipe: Option<impl Read>) -> String {
    let mut s = String::new();
    if let Some(mut p) = pipe {
        p.read_to_string(&mut s).expect("read the pipe");
    }
    s
}
