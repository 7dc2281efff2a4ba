//! How a run ends (issue 4): the drain cut-off hangs up calls still in progress, a stop request
//! ends launching and keeps every placed call, the calls/s ceiling holds launches to its rate,
//! and `media: false` runs signalling only, against SIPp too.
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::cli::build_plan;
use callcert::engine::record::FailureKind;
use callcert::engine::{RunPlan, RunResult, StopHandle, StopRequest};
use callcert::media::AudioSource;
use callcert::scenario::parse_scenario;
use callcert::sut::config::{AfterPrompt, SutConfig};
use callcert::sut::{self, SutHandle};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

async fn reference(answer_delay: Duration) -> SutHandle {
    let cfg = SutConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        trunks: 500,
        ring_delay: Duration::ZERO,
        answer_delay,
        after_prompt: AfterPrompt::Keep,
        max_call: Duration::from_secs(120),
        ..SutConfig::default()
    };
    let welcome = common::root().join("scenarios/prompts/welcome.wav");
    sut::serve(cfg, AudioSource::from_wav(welcome).unwrap())
        .await
        .unwrap()
}

async fn plan(yaml: &str, sut: &SutHandle) -> RunPlan {
    let scn = parse_scenario(yaml, &common::root().join("scenarios/inline-test.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let target = format!("sip:ivr@{}", sut.local_addr);
    build_plan(&scn, Some(&target), None, None).await.unwrap()
}

/// The per-call log of a run, parsed.
fn calls_jsonl(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn run(plan: RunPlan, dir: &Path, stop: StopHandle) -> RunResult {
    tokio::time::timeout(
        Duration::from_secs(60),
        callcert::engine::run_until(plan, Some(dir.to_path_buf()), stop),
    )
    .await
    .expect("the run ends")
    .unwrap()
}

/// Answered calls holding for 30 s are hung up by the caller 1 s (the drain) after the last
/// launch; they count as successes, each marked `cut_by_end`, and the far end saw the BYEs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_hangs_up_answered_calls_still_up() {
    let sut = reference(Duration::ZERO).await;
    let p = plan(
        "name: drain\ntarget: sip:ivr@127.0.0.1:5060\ncalls: 5\nrate: 20\ndrain: 1s\n\
         call: { hold: 30s, expect_media: false, expect_voice: false }\n",
        &sut,
    )
    .await;
    assert_eq!(p.drain, Some(Duration::from_secs(1)));
    let tmp = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let r = run(p, tmp.path(), StopHandle::default()).await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "the run took {took:?}");
    assert_eq!(r.metrics.attempted, 5);
    assert_eq!(r.metrics.succeeded, 5, "{:?}", r.failed_calls);
    let calls = calls_jsonl(tmp.path());
    assert_eq!(calls.len(), 5);
    for c in &calls {
        assert_eq!(c["cut_by_end"], true, "{c}");
        assert_eq!(c["bye_by"], "caller", "{c}");
        // Hung up 1 s after the last launch (200 ms in): not before, and not much later.
        let bye = c["bye_ms"].as_f64().unwrap();
        assert!((1190.0..1600.0).contains(&bye), "BYE at {bye} ms");
    }
    assert!(!r.stopped);
    // Counted once the call center's 200 to the BYE is out: possibly just after the run.
    let until = Instant::now() + Duration::from_secs(2);
    while sut.stats().caller_hangups < 5 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sut.stats().caller_hangups, 5);
}

/// Calls the target has not answered when the drain ends are cancelled and recorded as
/// `interrupted` (the run's doing, not the target's), and the target saw the CANCELs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_cancels_unanswered_calls_as_interrupted() {
    let sut = reference(Duration::from_secs(20)).await;
    let p = plan(
        "name: drain-cancel\ntarget: sip:ivr@127.0.0.1:5060\ncalls: 3\nrate: 10\ndrain: 500ms\n\
         call: { hold: 1s, expect_media: false, expect_voice: false }\n",
        &sut,
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let r = run(p, tmp.path(), StopHandle::default()).await;
    assert_eq!(r.metrics.attempted, 3);
    assert_eq!(
        r.metrics.failures.get(&FailureKind::Interrupted),
        Some(&3),
        "{:?}",
        r.failed_calls
    );
    for c in calls_jsonl(tmp.path()) {
        assert_eq!(c["failure"]["kind"], "interrupted", "{c}");
        assert_eq!(c["cut_by_end"], true);
        assert!(c["answered_ms"].is_null());
    }
    // The CANCELs reach the far end (it may still be processing the last one).
    let deadline = Instant::now() + Duration::from_secs(5);
    while sut.stats().cancelled < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sut.stats().cancelled, 3);
}

/// A graceful stop 1.5 s into a 30 s Poisson load ends launching at once; the calls in progress
/// end normally, every placed call is in the results once, and nothing is placed afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_request_ends_launching_and_keeps_every_placed_call() {
    let sut = reference(Duration::ZERO).await;
    let p = plan(
        "name: stop\ntarget: sip:ivr@127.0.0.1:5060\nseed: 9\n\
         load: { calls_per_second: 20, holding: 300ms, duration: 30s }\n\
         call: { expect_media: false, expect_voice: false }\n",
        &sut,
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let stop = StopHandle::default();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            stop.request(StopRequest::Graceful);
        })
    };
    let start = Instant::now();
    let r = run(p, tmp.path(), stop).await;
    stopper.await.unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "the run took {took:?}");
    assert!(r.stopped);
    // About 30 calls in 1.5 s at 20/s (Poisson: well within 10..=60).
    let n = r.metrics.attempted;
    assert!((10..=60).contains(&n), "{n} calls placed");
    assert_eq!(r.metrics.succeeded, n, "{:?}", r.failed_calls);
    let calls = calls_jsonl(tmp.path());
    assert_eq!(calls.len() as u64, n);
    let mut idx: Vec<u64> = calls.iter().map(|c| c["index"].as_u64().unwrap()).collect();
    idx.sort_unstable();
    assert_eq!(idx, (0..n).collect::<Vec<_>>(), "each placed call once");
    assert!(calls
        .iter()
        .all(|c| c["scheduled_ms"].as_f64().unwrap() < 1600.0));
    // Calls of 300 ms end by themselves: none needed cutting.
    assert!(calls.iter().all(|c| c.get("cut_by_end").is_none()));
    assert_eq!(sut.stats().invites, n);
}

/// Without a drain, a graceful stop leaves long calls up; the second, immediate request hangs
/// them all up at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_stop_hangs_up_every_call() {
    let sut = reference(Duration::ZERO).await;
    let p = plan(
        "name: stop-now\ntarget: sip:ivr@127.0.0.1:5060\ncalls: 50\nrate: 10\n\
         call: { hold: 40s, expect_media: false, expect_voice: false }\n",
        &sut,
    )
    .await;
    assert_eq!(p.drain, None);
    let tmp = tempfile::tempdir().unwrap();
    let stop = StopHandle::default();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(550)).await;
            stop.request(StopRequest::Graceful);
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.request(StopRequest::Now);
        })
    };
    let start = Instant::now();
    let r = run(p, tmp.path(), stop).await;
    stopper.await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(4));
    assert_eq!(r.metrics.attempted, 6, "calls at 0, 100, …, 500 ms");
    assert_eq!(r.metrics.succeeded, 6, "{:?}", r.failed_calls);
    for c in calls_jsonl(tmp.path()) {
        assert_eq!(c["cut_by_end"], true, "{c}");
        let bye = c["bye_ms"].as_f64().unwrap();
        assert!((1040.0..1400.0).contains(&bye), "BYE at {bye} ms");
    }
}

/// A plan asking for 200 calls/s under a 40 calls/s ceiling: the first second's burst (40)
/// passes, the rest leave one per 25 ms, and the held-back calls show it as launch lateness
/// (the schedule stays the latency origin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ceiling_holds_launches_to_max_rate() {
    let sut = reference(Duration::ZERO).await;
    let mut p = plan(
        "name: ceiling\ntarget: sip:ivr@127.0.0.1:5060\ncalls: 70\nrate: 200\n\
         call: { hold: 100ms, expect_media: false, expect_voice: false }\n",
        &sut,
    )
    .await;
    // Set in code: a scenario asking for more than its ceiling is refused at load.
    p.max_rate = 40.0;
    let tmp = tempfile::tempdir().unwrap();
    let r = run(p, tmp.path(), StopHandle::default()).await;
    assert_eq!(r.metrics.succeeded, 70, "{:?}", r.failed_calls);
    let mut sent: Vec<f64> = calls_jsonl(tmp.path())
        .iter()
        .map(|c| c["invite_sent_ms"].as_f64().unwrap())
        .collect();
    sent.sort_by(f64::total_cmp);
    // GCRA: any stretch of k launches spans at least (k − burst) emission intervals.
    for i in 0..sent.len() {
        for j in i + 40..sent.len() {
            let k = (j - i + 1) as f64;
            let span = sent[j] - sent[i];
            assert!(
                span >= (k - 40.0) * 25.0 - 2.0,
                "{k} launches within {span} ms"
            );
        }
    }
    // 30 calls beyond the burst at 25 ms each: the last leaves ≈ 750 ms after the first.
    let last = sent[69] - sent[0];
    assert!((730.0..900.0).contains(&last), "last launch at {last} ms");
    let late = r.metrics.launch_lateness.summary().unwrap();
    assert!(late.max_ms > 350.0, "{late:?}");
}

/// A load above the default ceiling is refused at load, naming the field; so is expecting
/// media from a signalling-only call.
#[test]
fn a_load_above_the_ceiling_is_refused_at_load() {
    let file = common::root().join("scenarios/inline-test.yaml");
    let e = parse_scenario(
        "name: typo\ntarget: sip:ivr@127.0.0.1\ncalls: 100000\nrate: 50000\n",
        &file,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("inline-test.yaml:4"), "{e}");
    assert!(e.contains("rate") && e.contains("max_rate"), "{e}");
    let e = parse_scenario(
        "name: typo\ntarget: sip:ivr@127.0.0.1\nmax_rate: 100\n\
         load: { erlangs: 5000, holding: 1s, duration: 1m }\n",
        &file,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("max_rate") && e.contains("5000.0 calls/s"),
        "{e}"
    );
    assert!(parse_scenario(
        "name: ok\ntarget: sip:ivr@127.0.0.1\nmax_rate: 60000\ncalls: 100000\nrate: 50000\n",
        &file,
    )
    .is_ok());
    let e = parse_scenario(
        "name: m\ntarget: sip:ivr@127.0.0.1\ncalls: 1\nrate: 1\n\
         call: { media: false, expect_media: true }\n",
        &file,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("call.expect_media"), "{e}");
}

/// `media: false` against SIPp's UAS: 200 calls at 100 calls/s all succeed with no RTP port
/// bound, and SIPp counts the same calls.
#[test]
fn signalling_only_calls_against_sipp() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let stats = dir.path().join("uas.csv");
    let mut uas = common::Proc::spawn(
        "sipp uas",
        std::process::Command::new(common::sipp())
            .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", "200", "-nostdin", "-trace_stat", "-fd", "1"])
            .arg("-stf")
            .arg(&stats)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    common::wait_udp_bound(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(5),
    );
    let scenario = dir.path().join("signalling.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: signalling\ntarget: sip:service@127.0.0.1:{port}\nlocal: 127.0.0.1:0\n\
             calls: 200\nrate: 100\ncapture: all\ncall: {{ hold: 0s, media: false }}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let report = common::run_scenario(&scenario, &out);
    assert_eq!(
        report["calls"]["succeeded"], 200,
        "{:#}",
        report["failed_calls"]
    );
    assert_eq!(report["media"]["rtp_received"], 0);
    let s = uas.wait_for(Duration::from_secs(30));
    assert!(s.success(), "sipp uas exit {s}");
    let st = common::sipp_stats(&stats);
    assert_eq!(common::stat(&st, "SuccessfulCall(C)"), 200);
    // The offer declares an inactive stream on the discard port, and no RTP was sent.
    let pcap = std::fs::read(out.join("calls.pcap")).unwrap();
    let text = String::from_utf8_lossy(&pcap);
    assert!(text.contains("m=audio 9 RTP/AVP"), "offer without port 9");
    assert!(text.contains("a=inactive"));
}
