//! Throughput of one `callcert run` on this machine, over loopback, beside SIPp on the same work
//! (issue #4's benchmark). Not a criterion bench: each measurement is a whole process run of
//! seconds, so this prints tables.
//!
//! ```text
//! cargo bench --bench throughput                       # both parts (4–5 minutes)
//! cargo bench --bench throughput -- signalling         # part A only
//! cargo bench --bench throughput -- media              # part B only
//! cargo bench --bench throughput -- --quick            # a shorter ladder and shorter holds
//!   --rates 500,1000,2000     calls/s ladder of part A
//!   --calls-per-step-s 4      seconds of calls per ladder step (calls = rate × this, ≤ 60 000)
//!   --media-calls 500,1000    concurrent-call counts of part B
//!   --hold 20 --ramp 10       part B: seconds each call holds, seconds to ramp the calls in
//!   --out DIR                 keep every output (scenarios, reports, SIPp stats) in DIR
//! ```
//!
//! `cargo bench --bench throughput` builds the `callcert` binary first (cargo builds a
//! package's binaries for its benches and passes their path as `CARGO_BIN_EXE_callcert`);
//! `CALLCERT_BIN=/path/to/callcert` runs another one. SIPp 3.6 (`sipp`, Debian `sip-tester`)
//! must be installed for part A.
//!
//! **A. Signalling throughput, SIPp vs callcert on the same work.** SIPp's built-in UAS
//! (`sipp -sn uas`) answers; the UAC is first SIPp's built-in UAC (`-sn uac -d 0`: INVITE,
//! 180/200, ACK, BYE at once), then `callcert run` with a generated scenario (`hold: 0s`,
//! `media: false` when the binary knows that field) on one worker thread (`CALLCERT_THREADS=1`
//! unless the environment sets another count; SIPp's UAC is one thread too). Both SIPp processes get 4 MiB socket
//! buffers (`-buff_size`; SIPp's 64 KiB default drops bursts at a few thousand calls/s). Each
//! rate of the ladder runs a bounded number of calls under a hard time limit; a UAC's ladder
//! stops after two unsustained rates in a row. A fresh UAS serves each run. Per run: calls
//! completed, failed, retransmissions (UAC sent / UAS sent), achieved rate, p99 launch lateness
//! (callcert), and the CPU time of the UAC and of the UAS.
//!
//! *CPU time* is the child's own `ru_utime + ru_stime` as returned by `wait4(pid)` when the bench
//! reaps it: exact for that process (all its threads, startup and report writing included), with
//! no sampling and no other process mixed in. A fixed-cost run (a few calls) is measured once
//! per UAC and subtracted to give the net µs per call. "Core" is CPU time over the process's wall
//! time (spawn to reap).
//!
//! *Sustained*: callcert: every call completed, none failed, p99 launch lateness ≤ 5 ms;
//! SIPp: every call successful, none failed, achieved rate within 5 % of the target.
//!
//! **B. Concurrent calls with bidirectional G.711 media.** `callcert run` against the reference
//! call center (`callcert sut`, answering after 50 ms and keeping the call up while it streams
//! its prompt, then silence, as PCMU); N calls ramped in over `--ramp` seconds, each held
//! `--hold` seconds, both sides sending a packet every 20 ms, each process on one worker thread
//! (`CALLCERT_THREADS=1` unless the environment sets another count; the two share 2 cores).
//! Per N: calls succeeded, RTP
//! received / expected / lost, max jitter, p99 launch lateness, and the CPU of callcert and of
//! the call center over the whole run and over the plateau (all N calls up; sampled from
//! `/proc/PID/stat` every 250 ms), and peak RSS of both. Sustained: all calls succeed, no RTP
//! lost, each direction carries at least 98 % of N × hold × 50 packets (a sender that falls
//! behind its 20 ms clock sends fewer packets, which no sequence gap shows), p99 lateness
//! ≤ 5 ms; the series stops at the first N where calls fail or RTP is lost.
//! The scenario keeps callcert's defaults otherwise (`capture: failed` included).
//!
//! Each table has an `others` column: the cores every other process on the machine used during
//! that run (from `/proc/stat`, minus the measured processes); well above 0 means the numbers
//! were disturbed (a compile running beside them, say).
//!
//! Bounds: part A starts no step after 180 s, part B no run after 200 s; a callcert run past its
//! time limit (schedule + 20 s; part B: ramp + hold + 30 s) gets SIGTERM twice (stop launching,
//! then hang up: it still writes its report) and SIGKILL 20 s later; SIPp gets `-timeout`. Every
//! child is ended by its PID (never by name), on every path: a guard kills and reaps it when
//! dropped, panics included. The soft limit on open files is raised to the hard limit first;
//! children inherit it.

#![allow(clippy::disallowed_methods)] // a driver: it reads the clock

#[cfg(not(unix))]
fn main() {
    eprintln!("throughput: this benchmark needs Unix (wait4, /proc)");
}

#[cfg(unix)]
fn main() {
    bench::main();
}

#[cfg(unix)]
mod bench {
    use std::fmt::Write as _;
    use std::net::{SocketAddr, UdpSocket};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    const DEFAULT_RATES: &[u32] = &[500, 1000, 2000, 4000, 8000, 12000, 16000];
    const QUICK_RATES: &[u32] = &[1000, 4000, 16000];
    const DEFAULT_MEDIA: &[u32] = &[500, 1000, 2000, 3000];
    const QUICK_MEDIA: &[u32] = &[500, 2000];
    const MAX_CALLS_PER_STEP: u64 = 60_000;
    /// SIPp's UDP socket buffers (its default, 64 KiB, is below Linux's own and drops bursts).
    const SIPP_BUFFER: &str = "4194304";
    const LATENESS_LIMIT_MS: f64 = 5.0;
    /// Part B: the share of N × hold × 50 packets each direction must carry.
    const RTP_DELIVERED: f64 = 0.98;
    /// A ladder stops after this many consecutive unsustained steps.
    const STOP_AFTER_FAILURES: u32 = 2;
    /// Part A stops starting new steps after this long.
    const SIGNALLING_BUDGET: Duration = Duration::from_secs(180);
    /// Part B stops starting new runs after this long.
    const MEDIA_BUDGET: Duration = Duration::from_secs(200);

    // ---------------------------------------------------------------- options

    struct Opts {
        signalling: bool,
        media: bool,
        rates: Vec<u32>,
        step_secs: f64,
        media_calls: Vec<u32>,
        hold: u64,
        ramp: u64,
        out: Option<PathBuf>,
    }

    const USAGE: &str = "usage: cargo bench --bench throughput -- [signalling] [media] [--quick] \
        [--rates R1,R2,..] [--calls-per-step-s S] [--media-calls N1,N2,..] [--hold S] [--ramp S] \
        [--out DIR]";

    fn parse_list(v: &str) -> Vec<u32> {
        v.split(',')
            .map(|x| {
                x.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("not a number: {x:?}\n{USAGE}"))
            })
            .collect()
    }

    fn parse_opts() -> Opts {
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        // `--name=value` as `--name value`.
        args = args
            .into_iter()
            .flat_map(|a| match a.split_once('=') {
                Some((k, v)) if k.starts_with("--") => vec![k.to_string(), v.to_string()],
                _ => vec![a],
            })
            .collect();
        let quick = args.iter().any(|a| a == "--quick");
        let mut o = Opts {
            signalling: false,
            media: false,
            rates: if quick { QUICK_RATES } else { DEFAULT_RATES }.to_vec(),
            step_secs: if quick { 2.0 } else { 4.0 },
            media_calls: if quick { QUICK_MEDIA } else { DEFAULT_MEDIA }.to_vec(),
            hold: if quick { 10 } else { 20 },
            ramp: if quick { 5 } else { 10 },
            out: None,
        };
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let mut value = || {
                it.next()
                    .unwrap_or_else(|| panic!("{a} needs a value\n{USAGE}"))
            };
            match a.as_str() {
                "signalling" | "signaling" | "sip" => o.signalling = true,
                "media" => o.media = true,
                "--quick" | "--bench" => {}
                "--rates" => o.rates = parse_list(&value()),
                "--media-calls" => o.media_calls = parse_list(&value()),
                "--calls-per-step-s" => {
                    o.step_secs = value().parse().unwrap_or_else(|_| panic!("{USAGE}"))
                }
                "--hold" => o.hold = value().parse().unwrap_or_else(|_| panic!("{USAGE}")),
                "--ramp" => o.ramp = value().parse().unwrap_or_else(|_| panic!("{USAGE}")),
                "--out" => o.out = Some(PathBuf::from(value())),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => panic!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        if !o.signalling && !o.media {
            o.signalling = true;
            o.media = true;
        }
        o.ramp = o.ramp.max(1);
        o.hold = o.hold.max(1);
        o
    }

    // ---------------------------------------------------------------- processes

    /// How a child ended, with its own CPU time from `wait4`.
    #[derive(Debug, Clone, Copy)]
    struct Exit {
        code: Option<i32>,
        signal: Option<i32>,
        cpu: Duration,
        wall: Duration,
        /// Peak resident set, MiB (`ru_maxrss`).
        maxrss_mib: f64,
        /// Killed by the bench at its time limit.
        timed_out: bool,
        /// Asked to stop (SIGTERM) by the bench at its soft time limit.
        stopped: bool,
    }

    impl Exit {
        fn describe(&self) -> String {
            match (self.timed_out, self.code, self.signal) {
                (true, ..) => "TIMEOUT".into(),
                _ if self.stopped => "STOPPED".into(),
                (_, Some(c), _) => format!("exit {c}"),
                (_, _, Some(s)) => format!("signal {s}"),
                _ => "?".into(),
            }
        }
    }

    fn timeval(t: libc::timeval) -> Duration {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    }

    /// A child process that the bench reaps itself with `wait4` (for its rusage); killed by PID
    /// and reaped when dropped if it is still running. The PID is never signalled once reaped.
    struct Proc {
        name: String,
        _child: Child,
        pid: libc::pid_t,
        started: Instant,
        exit: Option<Exit>,
    }

    impl Proc {
        fn spawn(name: &str, cmd: &mut Command) -> Proc {
            let child = cmd
                .stdin(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
            let pid = child.id() as libc::pid_t;
            Proc {
                name: name.to_string(),
                _child: child,
                pid,
                started: Instant::now(),
                exit: None,
            }
        }

        /// Reaps the child if it has ended (`block`: waits for it).
        fn reap(&mut self, block: bool, timed_out: bool) -> Option<Exit> {
            if let Some(e) = self.exit {
                return Some(e);
            }
            let mut status: libc::c_int = 0;
            // SAFETY: an all-zero rusage is a valid value of this plain C struct.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            let flags = if block { 0 } else { libc::WNOHANG };
            // SAFETY: wait4 on our own child, writing into the two locals above.
            let r = unsafe { libc::wait4(self.pid, &mut status, flags, &mut ru) };
            if r == self.pid {
                let e = Exit {
                    code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
                    signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
                    cpu: timeval(ru.ru_utime) + timeval(ru.ru_stime),
                    wall: self.started.elapsed(),
                    maxrss_mib: ru.ru_maxrss as f64 / 1024.0,
                    timed_out,
                    stopped: false,
                };
                self.exit = Some(e);
                return Some(e);
            }
            if r < 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    return None;
                }
                panic!("wait4({}) for {}: {err}", self.pid, self.name);
            }
            None
        }

        /// Sends `sig` to this child's PID, if it has not been reaped.
        fn signal(&self, sig: libc::c_int) {
            if self.exit.is_none() {
                // SAFETY: kill(2) on the PID of our own unreaped child (so not reused).
                unsafe {
                    libc::kill(self.pid, sig);
                }
            }
        }

        /// Waits up to `limit` for the exit, calling `tick` about every 250 ms; past the limit the
        /// child is killed (SIGKILL) and the exit says `timed_out`.
        fn wait_with(&mut self, limit: Duration, mut tick: impl FnMut()) -> Exit {
            let start = Instant::now();
            let mut next_tick = start;
            loop {
                if let Some(e) = self.reap(false, false) {
                    return e;
                }
                if start.elapsed() > limit {
                    self.signal(libc::SIGKILL);
                    return self.reap(true, true).expect("reaped after SIGKILL");
                }
                if Instant::now() >= next_tick {
                    tick();
                    next_tick += Duration::from_millis(250);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }

        fn wait(&mut self, limit: Duration) -> Exit {
            self.wait_with(limit, || {})
        }

        /// Waits up to `soft` (calling `tick` about every 250 ms); past it asks the child to stop
        /// (SIGTERM, and again a second later: callcert then hangs up every call and still writes
        /// its report), and kills it if it has not exited `grace` later.
        fn wait_or_stop(
            &mut self,
            soft: Duration,
            grace: Duration,
            mut tick: impl FnMut(),
        ) -> Exit {
            let start = Instant::now();
            let mut next_tick = start;
            let mut first_stop: Option<Instant> = None;
            let mut second_stop = false;
            loop {
                if let Some(e) = self.reap(false, false) {
                    let e = Exit {
                        stopped: first_stop.is_some(),
                        ..e
                    };
                    self.exit = Some(e);
                    return e;
                }
                let now = Instant::now();
                match first_stop {
                    None if now.duration_since(start) > soft => {
                        self.signal(libc::SIGTERM);
                        first_stop = Some(now);
                    }
                    Some(t) if now.duration_since(t) > grace => {
                        self.signal(libc::SIGKILL);
                        let e = self.reap(true, true).expect("reaped after SIGKILL");
                        let e = Exit { stopped: true, ..e };
                        self.exit = Some(e);
                        return e;
                    }
                    Some(t) if !second_stop && now.duration_since(t) > Duration::from_secs(1) => {
                        self.signal(libc::SIGTERM);
                        second_stop = true;
                    }
                    _ => {}
                }
                if now >= next_tick {
                    tick();
                    next_tick += Duration::from_millis(250);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }

        /// SIGTERM, then SIGKILL after `grace`.
        fn stop(&mut self, grace: Duration) -> Exit {
            self.signal(libc::SIGTERM);
            let e = self.wait(grace);
            Exit {
                timed_out: false,
                ..e
            }
        }
    }

    impl Drop for Proc {
        fn drop(&mut self) {
            if self.exit.is_none() {
                self.signal(libc::SIGKILL);
                let _ = self.reap(true, true);
            }
        }
    }

    /// CPU time (user + system) of a live process so far, from `/proc/PID/stat`, in seconds.
    fn proc_cpu(pid: libc::pid_t) -> Option<f64> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces): state is [0], utime [11], stime [12].
        let rest = &text[text.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        Some(ticks as f64 / hz)
    }

    /// Busy CPU time of the whole machine so far (all cores), from `/proc/stat`, in seconds.
    fn machine_busy() -> f64 {
        let Ok(text) = std::fs::read_to_string("/proc/stat") else {
            return 0.0;
        };
        let Some(line) = text.lines().next() else {
            return 0.0;
        };
        let f: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
        let total: u64 = f.iter().take(8).sum();
        let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        total.saturating_sub(idle) as f64 / hz
    }

    /// CPU (in cores) that processes other than the measured ones used during a run.
    struct Others {
        busy: f64,
        at: Instant,
    }

    impl Others {
        fn start() -> Others {
            Others {
                busy: machine_busy(),
                at: Instant::now(),
            }
        }
        fn cores(&self, ours: &[Duration]) -> f64 {
            let wall = self.at.elapsed().as_secs_f64().max(1e-9);
            let ours: f64 = ours.iter().map(Duration::as_secs_f64).sum();
            ((machine_busy() - self.busy - ours) / wall).max(0.0)
        }
    }

    /// Lifts the soft limit on open files to the hard limit (children inherit it).
    fn raise_nofile() -> u64 {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write only the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every Unix
        let cur = lim.rlim_cur as u64;
        cur
    }

    /// A UDP port free right now on 127.0.0.1 (and its TCP twin).
    fn free_port() -> u16 {
        for _ in 0..100 {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let p = s.local_addr().expect("addr").port();
            if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
                return p;
            }
        }
        panic!("no free port");
    }

    /// Waits until something has bound a UDP port.
    fn wait_udp_bound(port: u16, limit: Duration) {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let start = Instant::now();
        while start.elapsed() < limit {
            if UdpSocket::bind(addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nothing bound {addr} within {limit:?}");
    }

    fn loadavg() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "?".into())
    }

    fn log_file(path: &Path) -> Stdio {
        std::fs::File::create(path)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    }

    // ---------------------------------------------------------------- binaries

    fn callcert_bin() -> PathBuf {
        if let Some(p) = std::env::var_os("CALLCERT_BIN") {
            return PathBuf::from(p);
        }
        let built = PathBuf::from(env!("CARGO_BIN_EXE_callcert"));
        if built.exists() {
            return built;
        }
        // The bench binary sits in <target>/<profile>/deps/.
        let exe = std::env::current_exe().expect("current_exe");
        let beside = exe
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("callcert"))
            .filter(|p| p.exists());
        beside.unwrap_or_else(|| {
            panic!(
                "callcert binary not found at {} (set CALLCERT_BIN)",
                built.display()
            )
        })
    }

    fn sipp_bin() -> Option<PathBuf> {
        ["/usr/bin/sipp", "/usr/local/bin/sipp"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    }

    /// Which optional scenario fields this callcert binary accepts (checked with `callcert plan`,
    /// which validates a scenario without placing calls).
    struct Features {
        /// `call.media: false` (signalling only).
        media_off: bool,
        /// `max_rate:` (the calls/s ceiling; needed above its default).
        max_rate: bool,
    }

    fn probe_features(bin: &Path, dir: &Path) -> Features {
        let accepts = |name: &str, extra_top: &str, extra_call: &str| {
            let path = dir.join(format!("probe-{name}.yaml"));
            std::fs::write(
                &path,
                format!(
                    "name: probe\ntarget: sip:probe@127.0.0.1:5999\ncalls: 1\nrate: 1\n{extra_top}\
                     call:\n  hold: 0s\n  expect_media: false\n  expect_voice: false\n{extra_call}"
                ),
            )
            .expect("write probe");
            Command::new(bin)
                .arg("plan")
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        Features {
            media_off: accepts("media", "", "  media: false\n"),
            max_rate: accepts("max-rate", "max_rate: 100000\n", ""),
        }
    }

    // ---------------------------------------------------------------- SIPp

    /// The last row of a SIPp `-trace_stat` CSV as (column, value) pairs.
    fn sipp_stats(path: &Path) -> Vec<(String, String)> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let Some(header) = lines.next() else {
            return Vec::new();
        };
        let Some(last) = lines.next_back() else {
            return Vec::new();
        };
        header
            .split(';')
            .zip(last.split(';'))
            .map(|(h, v)| (h.to_string(), v.trim().to_string()))
            .collect()
    }

    fn stat_f(stats: &[(String, String)], name: &str) -> Option<f64> {
        stats.iter().find(|(h, _)| h == name)?.1.parse().ok()
    }

    fn stat_u(stats: &[(String, String)], name: &str) -> u64 {
        stat_f(stats, name).unwrap_or(0.0) as u64
    }

    /// `sipp -sn uas` on a fresh port, writing its statistics to `dir/uas.csv`.
    fn start_sipp_uas(sipp: &Path, dir: &Path) -> (Proc, u16) {
        let port = free_port();
        let uas = Proc::spawn(
            "sipp uas",
            Command::new(sipp)
                .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &port.to_string()])
                .args(["-mp", &free_port().to_string()])
                .args(["-buff_size", SIPP_BUFFER, "-nostdin"])
                .args(["-trace_stat", "-fd", "1", "-stf"])
                .arg(dir.join("uas.csv"))
                .current_dir(dir)
                .stdout(log_file(&dir.join("uas.out")))
                .stderr(log_file(&dir.join("uas.err"))),
        );
        wait_udp_bound(port, Duration::from_secs(5));
        (uas, port)
    }

    // ---------------------------------------------------------------- part A

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Uac {
        Sipp,
        Callcert,
    }

    impl Uac {
        fn name(self) -> &'static str {
            match self {
                Uac::Sipp => "sipp",
                Uac::Callcert => "callcert",
            }
        }
    }

    struct SigRow {
        uac: Uac,
        rate: u32,
        calls: u64,
        ok: u64,
        failed: u64,
        retx_uac: u64,
        retx_uas: u64,
        achieved: f64,
        lateness_p99: Option<f64>,
        exit: Exit,
        uas_cpu: Duration,
        /// Cores used by other processes meanwhile.
        others: f64,
        sustained: bool,
        note: String,
    }

    impl SigRow {
        fn us_per_call(&self, fixed: Duration) -> f64 {
            let c = self.ok.max(1) as f64;
            (self.exit.cpu.saturating_sub(fixed)).as_secs_f64() * 1e6 / c
        }
        fn core(&self) -> f64 {
            self.exit.cpu.as_secs_f64() / self.exit.wall.as_secs_f64().max(1e-9)
        }
    }

    struct SigEnv<'a> {
        sipp: &'a Path,
        callcert: &'a Path,
        features: &'a Features,
        root: &'a Path,
    }

    fn run_sipp_uac(env: &SigEnv<'_>, rate: u32, calls: u64) -> SigRow {
        let dir = env.root.join(format!("sig-sipp-{rate}-{calls}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let others = Others::start();
        let (mut uas, port) = start_sipp_uas(env.sipp, &dir);
        let expected = calls as f64 / rate as f64;
        let limit = Duration::from_secs_f64(expected + 20.0);
        let mut uac = Proc::spawn(
            "sipp uac",
            Command::new(env.sipp)
                .args([
                    "-sn",
                    "uac",
                    &format!("127.0.0.1:{port}"),
                    "-i",
                    "127.0.0.1",
                ])
                .args(["-p", &free_port().to_string()])
                .args(["-mp", &free_port().to_string()])
                .args(["-r", &rate.to_string(), "-m", &calls.to_string()])
                .args([
                    "-d",
                    "0",
                    "-l",
                    "30000",
                    "-buff_size",
                    SIPP_BUFFER,
                    "-nostdin",
                ])
                .args(["-timeout", &format!("{}", expected.ceil() as u64 + 15)])
                .args(["-trace_stat", "-fd", "1", "-stf"])
                .arg(dir.join("uac.csv"))
                .current_dir(&dir)
                .stdout(log_file(&dir.join("uac.out")))
                .stderr(log_file(&dir.join("uac.err"))),
        );
        let exit = uac.wait(limit);
        let uas_exit = uas.stop(Duration::from_secs(3));
        let st = sipp_stats(&dir.join("uac.csv"));
        let uas_st = sipp_stats(&dir.join("uas.csv"));
        let ok = stat_u(&st, "SuccessfulCall(C)");
        let failed = stat_u(&st, "FailedCall(C)");
        let achieved = stat_f(&st, "CallRate(C)").unwrap_or(0.0);
        let mut note = String::new();
        if st.is_empty() {
            note.push_str("no SIPp statistics; ");
        }
        let sustained = exit.code == Some(0)
            && ok == calls
            && failed == 0
            && (achieved - rate as f64).abs() <= 0.05 * rate as f64;
        if ok + failed < calls {
            let _ = write!(note, "{} calls unfinished; ", calls - ok - failed);
        }
        if !sustained && achieved < 0.95 * rate as f64 {
            let _ = write!(
                note,
                "rate {:.0}% of target; ",
                100.0 * achieved / rate as f64
            );
        }
        SigRow {
            uac: Uac::Sipp,
            rate,
            calls,
            ok,
            failed,
            retx_uac: stat_u(&st, "Retransmissions(C)"),
            retx_uas: stat_u(&uas_st, "Retransmissions(C)"),
            achieved,
            lateness_p99: None,
            exit,
            uas_cpu: uas_exit.cpu,
            others: others.cores(&[exit.cpu, uas_exit.cpu]),
            sustained,
            note,
        }
    }

    fn read_report(dir: &Path) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join("report.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn ju(v: &serde_json::Value, path: &[&str]) -> u64 {
        path.iter()
            .fold(v, |v, k| &v[*k])
            .as_u64()
            .unwrap_or_default()
    }

    fn jf(v: &serde_json::Value, path: &[&str]) -> Option<f64> {
        path.iter().fold(v, |v, k| &v[*k]).as_f64()
    }

    /// callcert's worker threads (both parts; part B's call center too): `CALLCERT_THREADS`
    /// when set, else one.
    fn worker_threads() -> String {
        std::env::var("CALLCERT_THREADS").unwrap_or_else(|_| "1".into())
    }

    fn run_callcert_uac(env: &SigEnv<'_>, rate: u32, calls: u64) -> SigRow {
        let dir = env.root.join(format!("sig-callcert-{rate}-{calls}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let others = Others::start();
        let (mut uas, port) = start_sipp_uas(env.sipp, &dir);
        let scenario = dir.join("scenario.yaml");
        let mut yaml = format!(
            "name: bench-signalling\n\
             target: sip:service@127.0.0.1:{port}\n\
             local: 127.0.0.1:0\n\
             calls: {calls}\n\
             rate: {rate}\n\
             max_concurrent: 30000\n\
             seed: 1\n"
        );
        if env.features.max_rate {
            let _ = writeln!(yaml, "max_rate: {}", rate * 2);
        }
        yaml.push_str("call:\n  hold: 0s\n  expect_media: false\n  expect_voice: false\n");
        if env.features.media_off {
            yaml.push_str("  media: false\n");
        }
        std::fs::write(&scenario, yaml).expect("write scenario");
        let out = dir.join("out");
        let expected = calls as f64 / rate as f64;
        let mut uac = Proc::spawn(
            "callcert run",
            Command::new(env.callcert)
                .arg("run")
                .arg(&scenario)
                .arg("--out")
                .arg(&out)
                .env("CALLCERT_THREADS", worker_threads())
                .current_dir(&dir)
                .stdout(log_file(&dir.join("run.out")))
                .stderr(log_file(&dir.join("run.err"))),
        );
        // Overload can leave calls waiting out SIP's 32 s timers: stop the run (it still writes
        // its report) rather than wait for them.
        let exit = uac.wait_or_stop(
            Duration::from_secs_f64(expected + 20.0),
            Duration::from_secs(20),
            || {},
        );
        let uas_exit = uas.stop(Duration::from_secs(3));
        let uas_st = sipp_stats(&dir.join("uas.csv"));
        let mut note = String::new();
        let report = read_report(&out);
        let (ok, failed, retx, lateness, achieved) = match &report {
            Some(r) => (
                ju(r, &["calls", "succeeded"]),
                ju(r, &["calls", "failed"]),
                ju(r, &["retransmissions", "sent"]),
                jf(r, &["metrics", "launch_lateness", "p99_ms"]),
                ju(r, &["calls", "attempted"]) as f64
                    / jf(r, &["run", "duration_s"]).unwrap_or(f64::INFINITY),
            ),
            None => {
                note.push_str("no report.json; ");
                (0, 0, 0, None, 0.0)
            }
        };
        if let Some(r) = &report {
            let got = ju(r, &["retransmissions", "received"]);
            if got > 0 {
                let _ = write!(note, "{got} retransmissions received; ");
            }
            if let Some(f) = r["failures"].as_object() {
                for (k, v) in f {
                    if v.as_u64().unwrap_or(0) > 0 {
                        let _ = write!(note, "{k}: {v}; ");
                    }
                }
            }
        }
        if !env.features.media_off {
            note.push_str("media on (no `media: false` yet); ");
        }
        if ok + failed < calls {
            let _ = write!(note, "{} calls unfinished; ", calls - ok - failed);
        }
        let sustained = !exit.timed_out
            && !exit.stopped
            && ok == calls
            && failed == 0
            && lateness.is_some_and(|l| l <= LATENESS_LIMIT_MS);
        SigRow {
            uac: Uac::Callcert,
            rate,
            calls,
            ok,
            failed,
            retx_uac: retx,
            retx_uas: stat_u(&uas_st, "Retransmissions(C)"),
            achieved,
            lateness_p99: lateness,
            exit,
            uas_cpu: uas_exit.cpu,
            others: others.cores(&[exit.cpu, uas_exit.cpu]),
            sustained,
            note,
        }
    }

    fn run_step(env: &SigEnv<'_>, uac: Uac, rate: u32, calls: u64) -> SigRow {
        match uac {
            Uac::Sipp => run_sipp_uac(env, rate, calls),
            Uac::Callcert => run_callcert_uac(env, rate, calls),
        }
    }

    fn print_sig_header() {
        println!(
            "{:<9} {:>6} {:>6} {:>6} {:>5} {:>11} {:>8} {:>10} {:>7} {:>6} {:>5} {:>7} {:>7} {:>5} {:>6} {:>6} {:<10} note",
            "uac", "rate", "calls", "ok", "fail", "retx u/s", "achieved", "late99", "cpu s",
            "wall s", "core", "µs/call", "net µs", "uas", "rssMiB", "others", "result"
        );
    }

    /// µs of CPU per call for display; "-" unless every call completed.
    fn per_call(r: &SigRow, fixed: Duration) -> String {
        if r.ok + r.failed < r.calls || r.ok == 0 {
            "-".into()
        } else {
            format!("{:.1}", r.us_per_call(fixed))
        }
    }

    fn print_sig_row(r: &SigRow, fixed: Duration) {
        println!(
            "{:<9} {:>6} {:>6} {:>6} {:>5} {:>11} {:>8.0} {:>10} {:>7.3} {:>6.2} {:>5.2} {:>7} {:>7} {:>5.2} {:>6.0} {:>6.2} {:<10} {}",
            r.uac.name(),
            r.rate,
            r.calls,
            r.ok,
            r.failed,
            format!("{}/{}", r.retx_uac, r.retx_uas),
            r.achieved,
            r.lateness_p99
                .map_or("-".to_string(), |l| format!("{l:.2}ms")),
            r.exit.cpu.as_secs_f64(),
            r.exit.wall.as_secs_f64(),
            r.core(),
            per_call(r, Duration::ZERO),
            per_call(r, fixed),
            r.uas_cpu.as_secs_f64() / r.exit.wall.as_secs_f64().max(1e-9),
            r.exit.maxrss_mib,
            r.others,
            if r.sustained {
                "sustained".to_string()
            } else {
                format!("NO ({})", r.exit.describe())
            },
            r.note.trim_end_matches("; "),
        );
    }

    fn signalling(opts: &Opts, root: &Path, callcert: &Path, features: &Features) {
        println!("\n== A. Signalling throughput: SIPp 3.6 UAC vs callcert UAC, against `sipp -sn uas` (loopback) ==");
        let Some(sipp) = sipp_bin() else {
            println!("sipp not found (install sip-tester): part A skipped");
            return;
        };
        println!(
            "callcert: {} | call.media: false {} | max_rate {}",
            callcert.display(),
            if features.media_off {
                "supported (signalling only)"
            } else {
                "NOT supported yet: callcert binds RTP ports per call (SIPp's UAS sends no RTP)"
            },
            if features.max_rate {
                "supported (set to 2× the rate)"
            } else {
                "not supported (no ceiling)"
            }
        );
        println!(
            "callcert worker threads: {} (CALLCERT_THREADS; one is the most efficient for \
             signalling-only load, as SIPp's single thread)",
            worker_threads()
        );
        let env = SigEnv {
            sipp: &sipp,
            callcert,
            features,
            root,
        };
        println!(
            "load average before: {} | calls per step: min(rate × {}, {MAX_CALLS_PER_STEP})",
            loadavg(),
            opts.step_secs
        );
        // Fixed cost (startup, report writing) of each UAC: a run of 20 calls.
        let fixed: Vec<(Uac, Duration)> = [Uac::Sipp, Uac::Callcert]
            .into_iter()
            .map(|u| (u, run_step(&env, u, 200, 20).exit.cpu))
            .collect();
        let fixed_of = |u: Uac| {
            fixed
                .iter()
                .find(|(x, _)| *x == u)
                .map_or(Duration::ZERO, |f| f.1)
        };
        println!(
            "fixed CPU per run (20 calls at 200/s, subtracted for `net µs`): sipp {:.1} ms, callcert {:.1} ms",
            fixed_of(Uac::Sipp).as_secs_f64() * 1e3,
            fixed_of(Uac::Callcert).as_secs_f64() * 1e3
        );
        println!("(retx u/s: retransmissions sent by the UAC / by the UAS; late99: p99 launch lateness; core: UAC CPU / its wall time; uas: the UAS's CPU in cores over the UAC's wall time; others: cores used by every other process on the machine meanwhile, from /proc/stat — a run with others well above 0 was disturbed)\n");
        print_sig_header();
        let start = Instant::now();
        let mut rows: Vec<SigRow> = Vec::new();
        let mut misses = [0u32; 2];
        for &rate in &opts.rates {
            for (i, uac) in [Uac::Sipp, Uac::Callcert].into_iter().enumerate() {
                if misses[i] >= STOP_AFTER_FAILURES || start.elapsed() > SIGNALLING_BUDGET {
                    continue;
                }
                let calls = ((rate as f64 * opts.step_secs) as u64).clamp(1, MAX_CALLS_PER_STEP);
                let row = run_step(&env, uac, rate, calls);
                print_sig_row(&row, fixed_of(uac));
                misses[i] = if row.sustained { 0 } else { misses[i] + 1 };
                rows.push(row);
            }
        }
        if start.elapsed() > SIGNALLING_BUDGET {
            println!("(time budget of {SIGNALLING_BUDGET:?} reached: ladder cut short)");
        }
        println!("load average after: {}", loadavg());
        summary(&rows, &fixed_of);
    }

    fn summary(rows: &[SigRow], fixed_of: &dyn Fn(Uac) -> Duration) {
        let best = |u: Uac| {
            rows.iter()
                .filter(|r| r.uac == u && r.sustained)
                .max_by_key(|r| r.rate)
        };
        let gross = |r: &SigRow| r.us_per_call(Duration::ZERO);
        let net = |r: &SigRow| r.us_per_call(fixed_of(r.uac));
        println!(
            "\nsummary (sustained: every call completed, none failed; callcert: p99 launch lateness \
             ≤ 5 ms; SIPp: achieved rate within 5 % of the target):"
        );
        for u in [Uac::Sipp, Uac::Callcert] {
            match best(u) {
                Some(r) => println!(
                    "  {:<9} highest sustained {:>6} calls/s: {:.1} µs CPU/call ({:.1} net of the fixed cost), {:.2} core",
                    u.name(),
                    r.rate,
                    gross(r),
                    net(r),
                    r.core()
                ),
                None => println!("  {:<9} no rate of the ladder sustained", u.name()),
            }
        }
        println!("  CPU per call by rate where both completed every call, callcert / SIPp (* = sustained):");
        for s in rows.iter().filter(|r| r.uac == Uac::Sipp) {
            let Some(c) = rows
                .iter()
                .find(|r| r.uac == Uac::Callcert && r.rate == s.rate)
            else {
                continue;
            };
            if per_call(s, Duration::ZERO) == "-" || per_call(c, Duration::ZERO) == "-" {
                continue;
            }
            let mark = |r: &SigRow| if r.sustained { "*" } else { " " };
            println!(
                "    {:>6}/s: sipp {:>6.1}{} callcert {:>6.1}{} → {:>5.2}× (net {:>5.1} vs {:>5.1} → {:>5.2}×)",
                s.rate,
                gross(s),
                mark(s),
                gross(c),
                mark(c),
                gross(c) / gross(s),
                net(s),
                net(c),
                net(c) / net(s)
            );
        }
        let (Some(s), Some(c)) = (best(Uac::Sipp), best(Uac::Callcert)) else {
            println!(
                "  issue #4 goal (≥ 0.5× SIPp's sustained rate at ≤ 1.5× its CPU/call): NOT met"
            );
            return;
        };
        let common = s.rate.min(c.rate);
        let at = |u: Uac| rows.iter().find(|r| r.uac == u && r.rate == common);
        let cpu_ratio = match (at(Uac::Sipp), at(Uac::Callcert)) {
            (Some(a), Some(b)) => Some(gross(b) / gross(a)),
            _ => None,
        };
        println!(
            "  ratio callcert/SIPp: sustained rate {:.2}×; CPU/call at the common rate {common}/s {}",
            c.rate as f64 / s.rate as f64,
            cpu_ratio.map_or("-".into(), |r| format!("{r:.2}×"))
        );
        println!(
            "  issue #4 goal (≥ 0.5× SIPp's sustained rate at ≤ 1.5× its CPU/call): rate {}, CPU {}",
            if c.rate as f64 >= 0.5 * s.rate as f64 {
                "met"
            } else {
                "NOT met"
            },
            match cpu_ratio {
                Some(r) if r <= 1.5 => "met",
                Some(_) => "NOT met",
                None => "not compared",
            }
        );
    }

    // ---------------------------------------------------------------- part B

    struct MediaRow {
        n: u32,
        ok: u64,
        failed: u64,
        rtp_received: u64,
        rtp_expected: u64,
        /// Packets callcert sent (sum of `media.tx_packets` in calls.jsonl).
        rtp_sent: u64,
        rtp_lost: i64,
        jitter: Option<f64>,
        lateness_p99: Option<f64>,
        uac: Exit,
        uac_plateau: Option<f64>,
        sut_cpu: Duration,
        sut_wall: Duration,
        sut_rss: f64,
        sut_plateau: Option<f64>,
        sut_answered: u64,
        others: f64,
        sustained: bool,
        note: String,
    }

    /// CPU over `[from, to]` (seconds since the UAC started) from (t, uac cpu, sut cpu) samples.
    fn plateau(samples: &[(f64, f64, f64)], from: f64, to: f64, pick: usize) -> Option<f64> {
        let inside: Vec<_> = samples
            .iter()
            .filter(|s| s.0 >= from && s.0 <= to)
            .collect();
        let (a, b) = (inside.first()?, inside.last()?);
        let v = |s: &(f64, f64, f64)| if pick == 0 { s.1 } else { s.2 };
        (b.0 - a.0 > 0.5).then(|| (v(b) - v(a)) / (b.0 - a.0))
    }

    fn run_media(
        callcert: &Path,
        features: &Features,
        root: &Path,
        n: u32,
        hold: u64,
        ramp: u64,
    ) -> MediaRow {
        let dir = root.join(format!("media-{n}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let others = Others::start();
        let port = free_port();
        let cfg = dir.join("sut.yaml");
        std::fs::write(
            &cfg,
            format!(
                "listen: 127.0.0.1:{port}\n\
                 trunks: {}\n\
                 ring_delay: 20ms\n\
                 answer_delay: 30ms\n\
                 after_prompt: keep\n\
                 max_call: {}s\n\
                 codecs: [pcmu]\n",
                n + 100,
                hold + 60
            ),
        )
        .expect("write sut config");
        let mut sut = Proc::spawn(
            "callcert sut",
            Command::new(callcert)
                .arg("sut")
                .arg("--config")
                .arg(&cfg)
                .env("CALLCERT_THREADS", worker_threads())
                .current_dir(&dir)
                .stdout(log_file(&dir.join("sut.out")))
                .stderr(log_file(&dir.join("sut.err"))),
        );
        wait_udp_bound(port, Duration::from_secs(5));
        let rate = n as f64 / ramp as f64;
        let mut yaml = format!(
            "name: bench-media\n\
             target: sip:ivr@127.0.0.1:{port}\n\
             local: 127.0.0.1:0\n\
             codec: pcmu\n\
             calls: {n}\n\
             rate: {rate}\n\
             max_concurrent: {}\n\
             seed: 1\n",
            n + 100
        );
        if features.max_rate {
            let _ = writeln!(yaml, "max_rate: {}", (rate * 2.0).ceil());
        }
        let _ = write!(
            yaml,
            "call:\n  hold: {hold}s\n  expect_media: true\n  expect_voice: false\n  media_timeout: 2s\n"
        );
        let scenario = dir.join("scenario.yaml");
        std::fs::write(&scenario, yaml).expect("write scenario");
        let out = dir.join("out");
        let mut uac = Proc::spawn(
            "callcert run",
            Command::new(callcert)
                .env("CALLCERT_THREADS", worker_threads())
                .arg("run")
                .arg(&scenario)
                .arg("--out")
                .arg(&out)
                .current_dir(&dir)
                .stdout(log_file(&dir.join("run.out")))
                .stderr(log_file(&dir.join("run.err"))),
        );
        let (uac_pid, sut_pid, t0) = (uac.pid, sut.pid, uac.started);
        let mut samples = Vec::new();
        let exit = uac.wait_or_stop(
            Duration::from_secs(ramp + hold + 30),
            Duration::from_secs(20),
            || {
                if let (Some(a), Some(b)) = (proc_cpu(uac_pid), proc_cpu(sut_pid)) {
                    samples.push((t0.elapsed().as_secs_f64(), a, b));
                }
            },
        );
        let sut_exit = sut.stop(Duration::from_secs(10));
        let sut_stats: serde_json::Value = std::fs::read_to_string(dir.join("sut.out"))
            .ok()
            .and_then(|t| serde_json::from_str(t.trim()).ok())
            .unwrap_or_default();
        // Plateau: every call up (from the end of the ramp) until the first hang-up.
        let (from, to) = (ramp as f64 + 0.5, (ramp + hold) as f64 - 0.5);
        let mut note = String::new();
        let report = read_report(&out);
        let r = report.unwrap_or_else(|| {
            note.push_str("no report.json; ");
            serde_json::Value::Null
        });
        if let Some(f) = r["failures"].as_object() {
            for (k, v) in f {
                if v.as_u64().unwrap_or(0) > 0 {
                    let _ = write!(note, "{k}: {v}; ");
                }
            }
        }
        let retx = ju(&r, &["retransmissions", "sent"]);
        if retx > 0 {
            let _ = write!(note, "{retx} SIP retransmissions; ");
        }
        let ok = ju(&r, &["calls", "succeeded"]);
        let failed = ju(&r, &["calls", "failed"]);
        let rtp_lost = r["media"]["rtp_lost"].as_i64().unwrap_or(0);
        let lateness = jf(&r, &["metrics", "launch_lateness", "p99_ms"]);
        // Both directions should carry a packet per 20 ms for the whole hold: a sender that
        // falls behind its clock sends fewer packets, which no sequence gap reveals.
        let rtp_expected = u64::from(n) * hold * 50;
        let rtp_received = ju(&r, &["media", "rtp_received"]);
        let rtp_sent: u64 = std::fs::read_to_string(out.join("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|c| ju(&c, &["media", "tx_packets"]))
            .sum();
        let full = |got: u64| got as f64 >= RTP_DELIVERED * rtp_expected as f64;
        if !full(rtp_sent) || !full(rtp_received) {
            let _ = write!(
                note,
                "media behind its clock: sent {:.0} %, received {:.0} % of 50 packets/s; ",
                100.0 * rtp_sent as f64 / rtp_expected as f64,
                100.0 * rtp_received as f64 / rtp_expected as f64
            );
        }
        let sustained = !exit.timed_out
            && !exit.stopped
            && ok == u64::from(n)
            && failed == 0
            && rtp_lost <= 0
            && full(rtp_sent)
            && full(rtp_received)
            && lateness.is_some_and(|l| l <= LATENESS_LIMIT_MS);
        MediaRow {
            n,
            ok,
            failed,
            rtp_received,
            rtp_expected,
            rtp_sent,
            rtp_lost,
            jitter: jf(&r, &["media", "max_jitter_ms"]),
            lateness_p99: lateness,
            uac: exit,
            uac_plateau: plateau(&samples, from, to, 0),
            sut_cpu: sut_exit.cpu,
            sut_wall: sut_exit.wall,
            sut_rss: sut_exit.maxrss_mib,
            sut_plateau: plateau(&samples, from, to, 1),
            sut_answered: ju(&sut_stats, &["answered"]),
            others: others.cores(&[exit.cpu, sut_exit.cpu]),
            sustained,
            note,
        }
    }

    fn media(opts: &Opts, root: &Path, callcert: &Path, features: &Features) {
        println!(
            "\n== B. Concurrent calls with bidirectional G.711 (PCMU, 20 ms) media: callcert run → callcert sut (loopback) =="
        );
        println!(
            "N calls ramped in over {} s, each held {} s; worker threads of each process: {} \
             (CALLCERT_THREADS); load average before: {}",
            opts.ramp,
            opts.hold,
            worker_threads(),
            loadavg()
        );
        println!("(rtp tx/rx/expected: packets callcert sent / received from the call center / N × hold × 50 per direction; cores: CPU over the whole run | over the plateau with all N calls up; others: cores used by other processes meanwhile)\n");
        println!(
            "{:>5} {:>5} {:>5} {:>25} {:>8} {:>9} {:>10} {:>6} {:>13} {:>13} {:>6} {:>13} {:>6} {:<10} note",
            "N", "ok", "fail", "rtp tx/rx/expected", "rtp lost", "jitter", "late99", "wall", "uac cores", "sut cores", "sut ok", "rss MiB u/s", "others", "result"
        );
        let start = Instant::now();
        let mut best = None;
        for &n in &opts.media_calls {
            if start.elapsed() > MEDIA_BUDGET {
                println!("(time budget of {MEDIA_BUDGET:?} reached)");
                break;
            }
            let r = run_media(callcert, features, root, n, opts.hold, opts.ramp);
            let cores = |cpu: Duration, wall: Duration, p: Option<f64>| {
                format!(
                    "{:.2} | {}",
                    cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9),
                    p.map_or("-".into(), |p| format!("{p:.2}"))
                )
            };
            println!(
                "{:>5} {:>5} {:>5} {:>25} {:>8} {:>9} {:>10} {:>6.1} {:>13} {:>13} {:>6} {:>13} {:>6.2} {:<10} {}",
                r.n,
                r.ok,
                r.failed,
                format!("{}/{}/{}", r.rtp_sent, r.rtp_received, r.rtp_expected),
                r.rtp_lost,
                r.jitter.map_or("-".into(), |j| format!("{j:.2}ms")),
                r.lateness_p99
                    .map_or("-".into(), |l| format!("{l:.2}ms")),
                r.uac.wall.as_secs_f64(),
                cores(r.uac.cpu, r.uac.wall, r.uac_plateau),
                cores(r.sut_cpu, r.sut_wall, r.sut_plateau),
                r.sut_answered,
                format!("{:.0}/{:.0}", r.uac.maxrss_mib, r.sut_rss),
                r.others,
                if r.sustained {
                    "sustained".to_string()
                } else {
                    format!("NO ({})", r.uac.describe())
                },
                r.note.trim_end_matches("; ")
            );
            if r.sustained {
                best = Some(n);
            } else if r.failed > 0 || r.ok < u64::from(n) || r.rtp_lost > 0 {
                // Lateness alone goes on to the next N (it still shows the media capacity).
                break;
            }
        }
        println!("load average after: {}", loadavg());
        println!(
            "\nsummary: most concurrent calls with bidirectional G.711 sustained (all succeed, no RTP lost, ≥ 98 % of the packets each way, p99 lateness ≤ 5 ms): {}",
            best.map_or("none of those tried".into(), |n| n.to_string())
        );
    }

    // ---------------------------------------------------------------- main

    pub fn main() {
        let opts = parse_opts();
        let nofile = raise_nofile();
        let callcert = callcert_bin();
        let tmp;
        let root = match &opts.out {
            Some(d) => {
                std::fs::create_dir_all(d).expect("create --out");
                d.clone()
            }
            None => {
                tmp = tempfile::tempdir().expect("tempdir");
                tmp.path().to_path_buf()
            }
        };
        println!(
            "throughput bench: {} cores, open files {nofile}, load average {}, outputs in {}{}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            loadavg(),
            root.display(),
            if opts.out.is_none() {
                " (deleted at the end; --out DIR keeps them)"
            } else {
                ""
            }
        );
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, m)| m.trim().to_string())
            })
            .unwrap_or_default();
        println!("cpu: {model}; SIPp's UAC per issue #4 on this machine: 16 000 calls/s, ~43 µs CPU/call");
        let features = probe_features(&callcert, &root);
        let started = Instant::now();
        if opts.signalling {
            signalling(&opts, &root, &callcert, &features);
        }
        if opts.media {
            media(&opts, &root, &callcert, &features);
        }
        println!("\ntotal time {:.0} s", started.elapsed().as_secs_f64());
    }
}
