//! `callcert report merge` and `report check`: two halves of a run merged give the same
//! verdicts and percentiles as the whole run (histograms merged, not averaged), through the
//! files a run writes and the real binary.
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::engine::record::{CallTimeline, FailureKind};
use callcert::metrics::RunMetrics;
use callcert::report::{Report, RunInfo};
use callcert::verdict::{self, Threshold};
use std::path::Path;
use std::time::Instant;

fn run_info(calls: u64) -> RunInfo {
    RunInfo {
        scenario: "merge-test".into(),
        target: "sip:ivr@127.0.0.1:5080".into(),
        target_addr: "127.0.0.1:5080".into(),
        local_addr: "127.0.0.1:5060".into(),
        transport: "udp".into(),
        calls,
        rate: 10.0,
        max_concurrent: 100,
        seed: 1,
        codecs: vec!["Pcmu".into()],
        hold_s: 1.0,
        answer_timeout_s: 32.0,
        authenticated: false,
        started_unix_s: 1_800_000_000.0,
        duration_s: 100.0,
    }
}

fn thresholds() -> Vec<Threshold> {
    vec![
        Threshold::new("post_dial_delay", "p(95)<300ms").unwrap(),
        Threshold::new("post_dial_delay", "avg<=250ms").unwrap(),
        Threshold::new("call_completion_rate", "rate>=0.95").unwrap(),
        Threshold::new("connect_delay", "p(99)<900ms").unwrap(),
    ]
}

/// 1000 synthetic calls with spread-out delays and a few failures.
fn metrics(select: impl Fn(u64) -> bool) -> RunMetrics {
    let origin = Instant::now();
    let mut m = RunMetrics::default();
    for i in 0..1000u64 {
        if !select(i) {
            continue;
        }
        let mut t = CallTimeline::new(i, format!("c{i}"), origin, origin);
        let pdd = 150.0 + ((i * 7919) % 200) as f64 * 0.61;
        t.record.invite_sent_ms = Some(1.0);
        t.record.first_18x_ms = Some(1.0 + pdd);
        t.record.answered_ms = Some(1.0 + pdd + 300.0);
        t.record.first_voice_ms = Some(1.0 + pdd + 400.0 + (i % 13) as f64);
        if i % 97 == 0 {
            t.fail(FailureKind::NoVoice, "synthetic");
        }
        t.record.ended_ms = 2000.0;
        m.record(&t.record);
    }
    m
}

fn write_run(dir: &Path, m: &RunMetrics, calls: u64) {
    let eval = verdict::evaluate(
        &thresholds(),
        &m.measurements(),
        &verdict::RunConditions::default(),
    );
    Report::from_metrics(run_info(calls), None, m, eval)
        .write_json(dir)
        .unwrap();
}

#[test]
fn two_halves_merged_equal_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let whole = metrics(|_| true);
    write_run(&dir.path().join("whole"), &whole, 1000);
    write_run(&dir.path().join("even"), &metrics(|i| i % 2 == 0), 500);
    write_run(&dir.path().join("odd"), &metrics(|i| i % 2 == 1), 500);
    let out = dir.path().join("merged");
    let o = common::callcert()
        .args(["report", "merge"])
        .arg(dir.path().join("even"))
        .arg(dir.path().join("odd"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(99),
        "{o:?}"
    );
    let merged = common::read_report(&out);
    let whole = common::read_report(&dir.path().join("whole"));
    assert_eq!(merged["calls"], whole["calls"]);
    for metric in ["post_dial_delay", "setup_time", "connect_delay"] {
        assert_eq!(
            merged["metrics"][metric], whole["metrics"][metric],
            "{metric}"
        );
    }
    let statuses = |r: &serde_json::Value| -> Vec<String> {
        r["verdict"]["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{} {}", v["threshold"]["expr"], v["status"]))
            .collect()
    };
    assert_eq!(statuses(&merged), statuses(&whole));
    assert_eq!(merged["verdict"]["status"], whole["verdict"]["status"]);
    assert!(out.join("junit.xml").exists() && out.join("report.html").exists());
}

#[test]
fn check_judges_a_finished_run_against_another_profile() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &metrics(|_| true), 1000);
    let o = common::callcert()
        .args(["report", "check"])
        .arg(dir.path().join("report.json"))
        .args(["--profile", "system"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("SYS-SETUP-RESPONSE"), "{stdout}");
    // Setup times here are about 450–570 ms: max<=3s passes; availability is not measured.
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let o = common::callcert()
        .args(["report", "check"])
        .arg(dir.path())
        .args(["--profile", "no-such"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(104));
}
