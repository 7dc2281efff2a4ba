//! Interoperability with SIPp 3.6 (Debian `sip-tester`), a real SIP implementation:
//! callcert as the caller against SIPp's built-in UAS, and SIPp's built-in UAC against the
//! reference call center, with both sides' counters compared.

mod common;

use common::*;
use std::process::Stdio;
use std::time::Duration;

/// callcert places 500 calls at 50 calls/s against `sipp -sn uas`; zero failures, and SIPp's
/// own statistics count the same 500 successful calls.
#[test]
fn callcert_against_sipp_uas() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let stats = dir.path().join("uas.csv");
    let mut uas = Proc::spawn(
        "sipp uas",
        std::process::Command::new(sipp())
            .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", "500", "-nostdin", "-trace_stat", "-fd", "1"])
            .arg("-stf")
            .arg(&stats)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_udp_bound(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(5),
    );
    let scenario = dir.path().join("sipp-uas.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: sipp-uas\n\
             target: sip:service@127.0.0.1:{port}\n\
             local: 127.0.0.1:0\n\
             calls: 500\n\
             rate: 50\n\
             call:\n  hold: 200ms\n  expect_media: false\n  expect_voice: false\n"
        ),
    )
    .unwrap();
    let report = run_scenario(&scenario, &dir.path().join("out"));
    assert_eq!(report["calls"]["attempted"], 500);
    assert_eq!(
        report["calls"]["succeeded"], 500,
        "{:#}",
        report["failed_calls"]
    );
    assert_eq!(report["calls"]["failed"], 0);
    let s = uas.wait_for(Duration::from_secs(30));
    assert!(s.success(), "sipp uas exit {s}");
    let st = sipp_stats(&stats);
    assert_eq!(stat(&st, "SuccessfulCall(C)"), 500);
    assert_eq!(stat(&st, "FailedCall(C)"), 0);
    assert_eq!(stat(&st, "IncomingCall(C)"), 500);
}

fn sut_config(dir: &std::path::Path, port: u16, trunks: u32) -> std::path::PathBuf {
    let path = dir.join("sut.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: 127.0.0.1:{port}\n\
             trunks: {trunks}\n\
             ring_delay: 20ms\n\
             answer_delay: 30ms\n\
             after_prompt: keep\n\
             max_call: 30s\n\
             prompt: {}\n",
            root().join("scenarios/prompts/welcome.wav").display()
        ),
    )
    .unwrap();
    path
}

/// `sipp -sn uac -r 100 -m 2000` against the reference call center: every call completes and
/// SIPp counts no retransmission.
#[test]
fn sipp_uac_against_reference_call_center() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = sut_config(dir.path(), port, 500);
    let mut sut = start_sut(&cfg, port);
    let stats = dir.path().join("uac.csv");
    let mut uac = Proc::spawn(
        "sipp uac",
        std::process::Command::new(sipp())
            .args([
                "-sn",
                "uac",
                &format!("127.0.0.1:{port}"),
                "-i",
                "127.0.0.1",
            ])
            .args(["-p", &free_port().to_string()])
            .args(["-r", "100", "-m", "2000", "-l", "400", "-nostdin"])
            .args(["-trace_stat", "-fd", "1", "-timeout", "90"])
            .arg("-stf")
            .arg(&stats)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let s = uac.wait_for(Duration::from_secs(120));
    let st = sipp_stats(&stats);
    assert_eq!(stat(&st, "SuccessfulCall(C)"), 2000, "sipp exit {s}");
    assert_eq!(stat(&st, "FailedCall(C)"), 0);
    assert_eq!(stat(&st, "Retransmissions(C)"), 0);
    assert!(s.success(), "sipp uac exit {s}");
    let out = stop_sut(&mut sut);
    assert_eq!(out["invites"], 2000);
    assert_eq!(out["answered"], 2000);
    assert_eq!(out["caller_hangups"], 2000);
    assert_eq!(out["busy_503"], 0);
    assert_eq!(out["retransmissions_received"], 0);
}

/// 2000 calls at 100 calls/s, each held 1 s, into 50 trunks: the excess is refused with 503 and
/// Retry-After, and both sides count the same refusals.
#[test]
fn trunk_limit_answers_excess_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = sut_config(dir.path(), port, 50);
    let mut sut = start_sut(&cfg, port);
    let stats = dir.path().join("uac.csv");
    let mut uac = Proc::spawn(
        "sipp uac",
        std::process::Command::new(sipp())
            .args([
                "-sn",
                "uac",
                &format!("127.0.0.1:{port}"),
                "-i",
                "127.0.0.1",
            ])
            .args(["-p", &free_port().to_string()])
            .args([
                "-r", "100", "-m", "2000", "-d", "1000", "-l", "400", "-nostdin",
            ])
            .args(["-trace_stat", "-fd", "1", "-timeout", "90"])
            .arg("-stf")
            .arg(&stats)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    uac.wait_for(Duration::from_secs(120));
    let st = sipp_stats(&stats);
    let ok = stat(&st, "SuccessfulCall(C)");
    let failed = stat(&st, "FailedCall(C)");
    assert_eq!(ok + failed, 2000);
    let out = stop_sut(&mut sut);
    assert_eq!(out["invites"], 2000);
    assert!(out["busy_503"].as_u64().unwrap() > 500, "{out}");
    assert_eq!(out["busy_503"], failed, "{out}");
    assert_eq!(out["answered"], ok, "{out}");
    assert!(out["max_active"].as_u64().unwrap() <= 50, "{out}");
}
