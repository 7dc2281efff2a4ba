//! The real binary: the demo end to end with its report validated against the committed JSON
//! Schema, and exit code 104 with file, line, column and field for a malformed scenario.

mod common;

use common::*;
use std::process::Stdio;

#[test]
fn demo_runs_and_its_report_matches_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = callcert()
        .arg("demo")
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("post-dial delay"), "{stdout}");
    let report = read_report(&out);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report.json violates the schema: {errors:#?}"
    );
    assert_eq!(report["calls"]["attempted"], 60);
    assert_eq!(report["preflight"]["result"], "answered");
    assert_eq!(report["target_responded"], true);
    assert_eq!(
        report["calls"]["succeeded"], 60,
        "{:#}",
        report["failed_calls"]
    );
    // The demo ends with the verdict table: the acceptance profile and the scenario's own.
    assert!(stdout.contains("ACC-CONNECT-DELAY"), "{stdout}");
    assert!(
        stdout.contains("verdict ..............: INCONCLUSIVE"),
        "{stdout}"
    );
    assert_eq!(report["profile"], "yd2823-acceptance");
    let lines = std::fs::read_to_string(out.join("calls.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 60, "every placed call has a record");
    // A report with failures must validate too: make one by hand from a failed record shape.
    let mut failing = report.clone();
    failing["failed_calls"] = serde_json::json!([{
        "index": 0, "call_id": "x", "scheduled_ms": 0.0, "invite_sent_ms": 0.1,
        "first_100_ms": null, "first_18x_ms": null, "first_18x_code": null, "answered_ms": null,
        "first_rtp_ms": null, "first_voice_ms": null, "bye_ms": null, "bye_by": null,
        "ended_ms": 32000.0, "final_code": 503,
        "failure": {"kind": "sip_error", "detail": "503 Service Unavailable"},
        "retransmissions_sent": 0, "retransmissions_received": 0, "media": null
    }]);
    assert!(validator.is_valid(&failing));
    failing["failed_calls"][0]["failure"]["kind"] = "bogus".into();
    assert!(
        !validator.is_valid(&failing),
        "the schema must reject unknown failure kinds"
    );
}

#[test]
fn malformed_scenario_exits_104_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(
        &path,
        "name: broken\ntarget: sip:ivr@127.0.0.1:5080\ncalls: 5\nrate: 10\ncall:\n  hold: 3 seconds\n",
    )
    .unwrap();
    let o = callcert().arg("run").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(104));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.yaml:6:"), "{err}");
    assert!(err.contains("hold"), "{err}");

    std::fs::write(
        &path,
        "name: broken\ntarget: sip:ivr@127.0.0.1\ncals: 5\nrate: 10\n",
    )
    .unwrap();
    let o = callcert().arg("run").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(104));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.yaml:3:"), "{err}");
    assert!(err.contains("cals"), "{err}");
}

#[test]
fn unknown_metric_or_bad_threshold_exits_104_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-threshold.yaml");
    // The target is unreachable: had any call been placed, the run would take seconds.
    std::fs::write(
        &path,
        "name: t\ntarget: sip:x@127.0.0.1:9\ncalls: 5\nrate: 10\nthresholds:\n  post_dial_delay: ['p(95)<1s', 'avg<=fast']\n",
    )
    .unwrap();
    let o = callcert().arg("run").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(104));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad-threshold.yaml:6:"), "{err}");
    assert!(err.contains("thresholds.post_dial_delay[1]"), "{err}");
    std::fs::write(
        &path,
        "name: t\ntarget: sip:x@127.0.0.1:9\ncalls: 5\nrate: 10\nthresholds:\n  pdd: ['p(95)<1s']\n",
    )
    .unwrap();
    let o = callcert().arg("run").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(104));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown metric"));
    std::fs::write(
        &path,
        "name: t\ntarget: sip:x@127.0.0.1:9\ncalls: 5\nrate: 10\nprofile: no-such-profile\n",
    )
    .unwrap();
    let o = callcert().arg("run").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(104));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-profile"));
}

/// Regression CI: a call center that breaks a threshold fails the job with exit 99, and one that
/// meets it exits 0 — through the real binaries, as a CI job would run them.
#[test]
fn a_broken_threshold_exits_99() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("slow.yaml");
    std::fs::write(
        &cfg,
        format!("listen: 127.0.0.1:{port}\nring_delay: 400ms\nanswer_delay: 100ms\nafter_prompt: keep\n"),
    )
    .unwrap();
    let mut sut = start_sut(&cfg, port);
    let scenario = dir.path().join("ci.yaml");
    let write = |limit: &str| {
        std::fs::write(
            &scenario,
            format!(
                "name: ci\ntarget: sip:ivr@127.0.0.1:{port}\nlocal: 127.0.0.1:0\ncalls: 30\nrate: 30\n\
                 thresholds:\n  post_dial_delay: ['avg<={limit}']\n  call_completion_rate: ['rate>=0.8']\n\
                 call:\n  hold: 300ms\n"
            ),
        )
        .unwrap()
    };
    write("300ms");
    let o = callcert()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(dir.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("✗"));
    write("500ms");
    let o = callcert()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    stop_sut(&mut sut);
}

#[test]
fn missing_scenario_file_is_an_invalid_configuration() {
    let o = callcert()
        .arg("run")
        .arg("/nonexistent/x.yaml")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(104));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.yaml"));
}

/// Failed calls land in a pcap that tshark (Wireshark) reads: the INVITE and its
/// retransmissions are there, with the SIP decoded.
#[test]
fn failed_calls_are_captured_in_a_pcap_tshark_reads() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let scenario = dir.path().join("unreachable.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: unreachable\ntarget: sip:nobody@127.0.0.1:{port}\nlocal: 127.0.0.1:0\n\
             calls: 2\nrate: 10\ntimers: {{ t1: 20ms }}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let report = run_scenario(&scenario, &out);
    assert_eq!(report["calls"]["failed"], 2);
    let pcap = out.join("failed_calls.pcap");
    assert!(pcap.exists(), "no pcap written");
    let o = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-Y",
            "sip.Method == \"INVITE\"",
            "-T",
            "fields",
            "-e",
            "sip.Call-ID",
        ])
        .output()
        .expect("tshark runs (Debian tshark; .ci/run installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ids = String::from_utf8_lossy(&o.stdout);
    // Two calls, each INVITE sent 7 times before Timer B (0, 1, 3, 7, 15, 31, 63 × T1).
    assert_eq!(ids.lines().count(), 14, "{ids}");
    let distinct: std::collections::BTreeSet<_> = ids.lines().collect();
    assert_eq!(distinct.len(), 2);
}

/// A reference call center that rings and answers within 10 ms each and keeps the call up
/// until the caller hangs up; its config is written into `dir`.
fn quick_sut(dir: &std::path::Path) -> (Proc, u16) {
    let port = free_port();
    let cfg = dir.join("sut.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:{port}\nring_delay: 10ms\nanswer_delay: 10ms\nafter_prompt: keep\n"
        ),
    )
    .unwrap();
    (start_sut(&cfg, port), port)
}

/// A plain call's media, sent and received by the media pacer, lands in the capture with its
/// SIP: tshark decodes the RTP of both directions, and the RTP count matches the call record.
#[test]
fn captured_calls_carry_their_rtp_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sut, port) = quick_sut(dir.path());
    let scenario = dir.path().join("cap.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: cap\ntarget: sip:ivr@127.0.0.1:{port}\nlocal: 127.0.0.1:0\ncalls: 1\nrate: 1\n\
             capture: all\ncall:\n  hold: 1s\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let report = run_scenario(&scenario, &out);
    stop_sut(&mut sut);
    assert_eq!(report["calls"]["failed"], 0, "{report}");
    let record: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out.join("calls.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let o = std::process::Command::new("tshark")
        .arg("-r")
        .arg(out.join("calls.pcap"))
        .args([
            "-o",
            "rtp.heuristic_rtp:TRUE",
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-e",
            "udp.dstport",
        ])
        .output()
        .expect("tshark runs (Debian tshark; .ci/run installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ports = String::from_utf8_lossy(&o.stdout);
    let mut by_port = std::collections::BTreeMap::<&str, u64>::new();
    for p in ports.lines() {
        *by_port.entry(p).or_default() += 1;
    }
    assert_eq!(by_port.len(), 2, "RTP both ways: {by_port:?}");
    let media = &record["media"];
    let mut counts: Vec<u64> = by_port.values().copied().collect();
    counts.sort();
    let mut expected = vec![
        media["tx_packets"].as_u64().unwrap(),
        media["rx_packets"].as_u64().unwrap(),
    ];
    expected.sort();
    assert_eq!(counts, expected, "captured RTP = the record's counts");
    assert!(
        expected[0] >= 45,
        "about 50 packets each way in 1 s: {expected:?}"
    );
}

/// The harness itself failing (here: an output directory that cannot be created) exits 1,
/// distinct from a failed threshold (99) and an invalid configuration (104).
#[test]
fn a_harness_failure_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "a file where the output directory should go").unwrap();
    let scenario = dir.path().join("s.yaml");
    std::fs::write(
        &scenario,
        "name: s\ntarget: sip:x@127.0.0.1:9\nlocal: 127.0.0.1:0\ncalls: 1\nrate: 1\n",
    )
    .unwrap();
    let o = callcert()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(blocker.join("out"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not-a-dir"));
}

/// A run killed with SIGKILL in the middle keeps a complete record of every call that had
/// ended: calls.jsonl and calls.csv are written as calls end, never half a line.
#[test]
fn a_killed_run_keeps_every_ended_call() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sut, port) = quick_sut(dir.path());
    let scenario = dir.path().join("long.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: long\ntarget: sip:ivr@127.0.0.1:{port}\nlocal: 127.0.0.1:0\ncalls: 400\nrate: 20\n\
             call:\n  hold: 200ms\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut run = Proc::spawn(
        "callcert run",
        callcert()
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let pid = run.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    let _ = run.wait_for(std::time::Duration::from_secs(5));
    let jsonl = std::fs::read_to_string(out.join("calls.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is a whole record"))
        .collect();
    assert!(records.len() >= 20, "only {} records", records.len());
    assert!(records.len() < 400, "the run was not interrupted");
    let csv = std::fs::read_to_string(out.join("calls.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        records.len() + 1,
        "csv rows match (plus header)"
    );
    stop_sut(&mut sut);
}

/// `callcert erlang` answers sizing questions from the command line (30 trunks at 25 Erl block
/// 5.260 %: exact Erlang B, see src/traffic/erlang.rs); a question without its inputs is 104.
#[test]
fn erlang_prints_blocking_and_sizes() {
    let o = common::callcert()
        .args([
            "erlang",
            "--traffic",
            "25",
            "--trunks",
            "30",
            "--blocking",
            "0.01",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("blocking 0.052603"), "{out}");
    assert!(out.contains("needs 36 trunks"), "{out}");
    let o = common::callcert()
        .args([
            "erlang",
            "--traffic",
            "10",
            "--agents",
            "13",
            "--handle",
            "100s",
            "--answer",
            "20s",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("P(wait) 0.285270") && out.contains("84.3440 %"),
        "{out}"
    );
    let o = common::callcert()
        .args(["erlang", "--traffic", "10"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(104));
}
