//! Shared helpers of the integration tests: child processes ended by PID, free ports, SIPp.
#![allow(dead_code, clippy::disallowed_methods)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (by its PID, through `Child::kill`) when dropped.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
}

impl Proc {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child, name }
    }

    /// Waits for exit up to `limit`; kills and panics past it.
    pub fn wait_for(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("{} did not finish within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM to this PID and waits for the exit.
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.wait_for(limit)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM first: a forking server (Kamailio) then ends its own children, which a
            // SIGKILL of the main process would leave running after the test.
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(3) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A UDP port free right now on 127.0.0.1 (and its TCP twin, usually).
pub fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let p = s.local_addr().expect("addr").port();
    let t = std::net::TcpListener::bind(("127.0.0.1", p));
    if t.is_err() {
        return free_port();
    }
    p
}

/// The sipp binary, or None (the test then fails with a clear message in CI).
pub fn sipp() -> PathBuf {
    for p in ["/usr/bin/sipp", "/usr/local/bin/sipp"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("sipp not found: install Debian's sip-tester (.ci/run does)");
}

/// The last row of a SIPp `-trace_stat` CSV as (column, value) pairs.
pub fn sipp_stats(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read SIPp stats {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header").split(';').collect();
    let last: Vec<&str> = lines.next_back().expect("a stats row").split(';').collect();
    header
        .into_iter()
        .zip(last)
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect()
}

/// One numeric column of SIPp stats.
pub fn stat(stats: &[(String, String)], name: &str) -> u64 {
    stats
        .iter()
        .find(|(h, _)| h == name)
        .unwrap_or_else(|| panic!("no column {name} in SIPp stats"))
        .1
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("column {name} is not a number"))
}

/// The callcert binary built for the tests.
pub fn callcert() -> Command {
    Command::new(env!("CARGO_BIN_EXE_callcert"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Waits until something answers on a UDP port (an OPTIONS ping would be nicer; a bound
/// port is enough to start).
pub fn wait_udp_bound(addr: SocketAddr, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if UdpSocket::bind(addr).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing bound {addr} within {limit:?}");
}

/// Reads report.json from an output directory.
pub fn read_report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Starts `callcert sut --config CONFIG` listening on 127.0.0.1:`port` and waits for it.
pub fn start_sut(config: &Path, port: u16) -> Proc {
    let p = Proc::spawn(
        "callcert sut",
        callcert()
            .arg("sut")
            .arg("--config")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    wait_udp_bound(
        format!("127.0.0.1:{port}").parse().expect("addr"),
        Duration::from_secs(5),
    );
    p
}

/// Stops a `callcert sut` with SIGTERM and returns the counters it prints at exit.
pub fn stop_sut(sut: &mut Proc) -> serde_json::Value {
    use std::io::Read;
    let status = sut.terminate(Duration::from_secs(10));
    assert!(status.success(), "callcert sut exit {status}");
    let mut text = String::new();
    sut.child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut text)
        .expect("stdout");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("sut stats {text:?}: {e}"))
}

/// Runs `callcert run SCENARIO --out OUT` and returns report.json; the run must complete.
pub fn run_scenario(scenario: &Path, out: &Path) -> serde_json::Value {
    let o = callcert()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .output()
        .expect("callcert runs");
    assert!(
        o.status.success(),
        "callcert run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    read_report(out)
}

/// Writes mono 16-bit PCM at `rate`.
pub fn write_wav(path: &Path, samples: &[i16], rate: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w =
        hound::WavWriter::create(path, spec).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for &s in samples {
        w.write_sample(s).expect("write WAV");
    }
    w.finalize().expect("finish WAV");
}
