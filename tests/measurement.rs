//! Measurements against ground truth: the reference call center's configured delays, an
//! unreachable target, and a far end that sends malformed SIP.
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::cli::build_plan;
use callcert::media::{AudioSource, VoiceOnsetConfig, VoiceOnsetDetector};
use callcert::scenario::parse_scenario;
use callcert::sut::{self, config::SutConfig};
use std::path::Path;
use std::time::Duration;

fn plan_yaml(text: &str) -> callcert::scenario::Scenario {
    let dir = common::root().join("scenarios");
    parse_scenario(text, &dir.join("inline-test.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Where voice begins in a WAV prompt, in ms (the detector the harness uses, on the file).
fn prompt_onset_ms(path: &Path) -> f64 {
    let src = AudioSource::from_wav(path).unwrap();
    let onset =
        VoiceOnsetDetector::find_onset(src.samples(), VoiceOnsetConfig::with_threshold(-35.0))
            .expect("the prompt contains voice");
    onset as f64 / 8.0
}

/// Post-dial delay and setup time over 200 calls are within 2 ms of the configured ring and
/// answer delays, and the delay to the first voice within one packet (20 ms) of answer + the
/// prompt's own voice onset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_match_the_reference_call_center_ground_truth() {
    let ring = Duration::from_millis(150);
    let answer = Duration::from_millis(350);
    let welcome = common::root().join("scenarios/prompts/welcome.wav");
    let cfg = SutConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ring_delay: ring,
        answer_delay: answer,
        trunks: 1000,
        ..SutConfig::default()
    };
    let sut = sut::serve(cfg, AudioSource::from_wav(&welcome).unwrap())
        .await
        .unwrap();
    let scn = plan_yaml(
        "name: ground-truth\ntarget: sip:ivr@127.0.0.1:5060\ncalls: 200\nrate: 25\n\
         call:\n  hold: 1s\n",
    );
    let target = format!("sip:ivr@{}", sut.local_addr);
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    let result = callcert::engine::run(plan, None).await.unwrap();
    let m = &result.metrics;
    assert_eq!(m.attempted, 200);
    assert_eq!(m.succeeded, 200, "{:#?}", result.failed_calls.first());
    let pdd = m.post_dial_delay.summary().unwrap();
    let setup = m.setup_time.summary().unwrap();
    let voice = m.connect_delay.summary().unwrap();
    let want_pdd = ring.as_secs_f64() * 1000.0;
    let want_setup = (ring + answer).as_secs_f64() * 1000.0;
    let want_voice = want_setup + prompt_onset_ms(&welcome);
    assert!(
        (pdd.mean_ms - want_pdd).abs() <= 2.0,
        "PDD {pdd:?} want {want_pdd}"
    );
    assert!(
        (setup.mean_ms - want_setup).abs() <= 2.0,
        "setup {setup:?} want {want_setup}"
    );
    assert!(
        (voice.mean_ms - want_voice).abs() <= 20.0,
        "first voice {voice:?} want {want_voice}"
    );
    assert_eq!(m.retransmissions_sent, 0);
    assert!(result.target_responded);
    eprintln!(
        "ground truth: PDD {:.3} ms (want {want_pdd}), setup {:.3} ms (want {want_setup}), \
         first voice {:.3} ms (want {want_voice:.3})",
        pdd.mean_ms, setup.mean_ms, voice.mean_ms
    );
}

/// Nobody listens on the target: every call becomes a failed record with a reason, quickly
/// (short T1), and the run does not hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_gives_failed_records_not_a_hang() {
    let port = common::free_port();
    let scn = plan_yaml(&format!(
        "name: unreachable\ntarget: sip:nobody@127.0.0.1:{port}\ncalls: 3\nrate: 10\n\
         preflight: true\ntimers: {{ t1: 20ms }}\ncall:\n  answer_timeout: 5s\n"
    ));
    let plan = build_plan(&scn, None, None, None).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), callcert::engine::run(plan, None))
        .await
        .expect("the run ends")
        .unwrap();
    assert_eq!(result.metrics.attempted, 3);
    assert_eq!(result.metrics.failed(), 3);
    assert!(!result.target_responded);
    assert!(
        matches!(
            result.preflight,
            Some(callcert::engine::Preflight::NoAnswer { .. })
        ),
        "{:?}",
        result.preflight
    );
    for r in &result.failed_calls {
        let f = r.failure.as_ref().unwrap();
        assert!(f.detail.contains("no response"), "{f:?}");
    }
}

/// The same over TCP: connection refused is a transport failure, reported at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_tcp_target_is_a_transport_failure() {
    let port = common::free_port();
    let scn = plan_yaml(&format!(
        "name: unreachable-tcp\ntarget: sip:nobody@127.0.0.1:{port};transport=tcp\n\
         transport: tcp\ncalls: 2\nrate: 10\n"
    ));
    let plan = build_plan(&scn, None, None, None).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), callcert::engine::run(plan, None))
        .await
        .expect("the run ends")
        .unwrap();
    assert_eq!(result.metrics.failed(), 2);
    let f = result.failed_calls[0].failure.as_ref().unwrap();
    assert_eq!(
        f.kind,
        callcert::engine::record::FailureKind::Transport,
        "{f:?}"
    );
}

/// A far end that answers every INVITE with garbage, a response without Call-ID and a response
/// with a broken CSeq: each is counted with its reason, and the calls fail by timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sip_from_the_far_end_is_counted() {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let far_end = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        for _ in 0..200 {
            let Ok(Ok((_, from))) =
                tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf)).await
            else {
                return;
            };
            for junk in [
                &b"\x00\x01garbage\xff\r\n\r\n"[..],
                b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKx\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                b"SIP/2.0 180 Ringing\r\nCall-ID: abc\r\nCSeq: one INVITE\r\nContent-Length: 0\r\n\r\n",
                b"SIP/2.0 99999 Huh\r\n\r\n",
            ] {
                let _ = sock.send_to(junk, from).await;
            }
        }
    });
    let scn = plan_yaml(&format!(
        "name: malformed\ntarget: sip:x@{addr}\ncalls: 2\nrate: 10\n\
         timers: {{ t1: 20ms }}\n"
    ));
    let plan = build_plan(&scn, None, None, None).await.unwrap();
    let result = callcert::engine::run(plan, None).await.unwrap();
    far_end.abort();
    assert_eq!(result.metrics.failed(), 2);
    let malformed: u64 = result.dispatch.malformed.values().sum();
    assert!(malformed >= 6, "{:?}", result.dispatch);
    assert!(result
        .dispatch
        .malformed
        .keys()
        .any(|k| k.contains("Call-ID")));
    assert!(result.dispatch.malformed.keys().any(|k| k.contains("CSeq")));
}
