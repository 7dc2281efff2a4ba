//! Offered load in Erlangs against the reference call center: measured blocking against Erlang B
//! for its trunk limit, measured agent waits against Erlang C for its agent pool (issue 4).
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::cli::build_plan;
use callcert::media::AudioSource;
use callcert::scenario::parse_scenario;
use callcert::sut::config::{AfterPrompt, LoadedIvr, SutConfig};
use callcert::sut::{self};
use callcert::traffic::erlang_b;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// 25 Erl of Poisson calls (exponential holding, mean 0.4 s) offered to 30 trunks for 40 s:
/// the share refused with 503 agrees with Erlang B (5.260 %) within the report's 95 % interval,
/// computed from batch means (blocked calls come in bursts, so calls are not independent trials).
/// The report's phase and time series agree with the run: every call counted once, the offered
/// 25 Erl throughout, the carried load near A·(1 − B).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_at_30_trunks_and_25_erlangs_agrees_with_erlang_b() {
    let cfg = SutConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        trunks: 30,
        ring_delay: Duration::ZERO,
        answer_delay: Duration::ZERO,
        after_prompt: AfterPrompt::Keep,
        max_call: Duration::from_secs(60),
        ..SutConfig::default()
    };
    let welcome = common::root().join("scenarios/prompts/welcome.wav");
    let sut = sut::serve(cfg, AudioSource::from_wav(welcome).unwrap())
        .await
        .unwrap();
    let dir = common::root().join("scenarios");
    let scn = parse_scenario(
        "name: erlang-b\ntarget: sip:ivr@127.0.0.1:5060\nseed: 4\n\
         load:\n  erlangs: 25\n  trunks: 30\n\
         \x20 holding: { dist: exponential, mean: 400ms }\n  duration: 40s\n\
         call: { expect_media: false, expect_voice: false }\n",
        &dir.join("inline-test.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let target = format!("sip:ivr@{}", sut.local_addr);
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    assert!(plan.load.is_some());
    let tmp = tempfile::tempdir().unwrap();
    let result = callcert::engine::run(plan.clone(), Some(tmp.path().to_path_buf()))
        .await
        .unwrap();
    // The report puts the measured blocking beside Erlang B's, and stays within its schema.
    let report = callcert::report::Report::new(&plan, &result, 0.0);
    let check = report.erlang_b.clone().expect("trunks declared");
    assert_eq!(check.trunks, 30);
    assert!((check.offered_erlangs - 25.0).abs() < 1e-9, "{check:?}");
    assert!((check.predicted - 0.05260).abs() < 5e-5, "{check:?}");
    validate_against_schema(&serde_json::to_value(&report).unwrap());
    assert!(
        report
            .summary()
            .contains("vs Erlang B 5.260 % for 25.00 Erl on 30 trunks"),
        "{}",
        report.summary()
    );
    let calls = read_calls(tmp.path());
    assert_eq!(calls.len() as u64, result.metrics.attempted);
    assert!(calls.iter().all(|c| c["phase"] == 0), "one phase");
    let other_failures = calls
        .iter()
        .filter(|c| !c["failure"].is_null() && c["final_code"].as_u64() != Some(503))
        .count();
    assert_eq!(other_failures, 0, "only 503s may fail");
    // Blocked calls come in bursts, so the batch-means interval is honest where the binomial
    // (Wilson) interval on the same counts is too narrow.
    let (lo, hi) = check.interval.expect("enough calls for an interval");
    let (wlo, whi) =
        callcert::verdict::stats::wilson_interval(check.blocked, check.attempts, 0.95).unwrap();
    let want = erlang_b(25.0, 30);
    eprintln!(
        "{} calls after {:.1} s warm-up in {} batches: blocking {:.4} in [{lo:.4}, {hi:.4}] \
         (Wilson [{wlo:.4}, {whi:.4}]), Erlang B {want:.4}; sut refused {}",
        check.attempts,
        check.warmup_s,
        check.batches,
        check.measured,
        sut.stats().busy_503
    );
    assert!(check.attempts > 800, "{check:?}");
    assert_eq!(check.batches, 20, "{check:?}");
    assert!((check.warmup_s - 1.2).abs() < 1e-9, "{check:?}");
    assert!(hi - lo > whi - wlo, "batch means wider than Wilson");
    assert_eq!(check.agrees, Some(true), "{check:?}");
    assert!((lo..=hi).contains(&want));
    // The one phase: its counts are the run's, its carried load A·(1 − B) less the first
    // holding time (the trunks start free) and Poisson noise.
    assert_eq!(report.phases.len(), 1);
    let phase = &report.phases[0];
    assert_eq!(phase.name, "constant");
    assert_eq!(phase.calls, report.calls);
    let carried = 25.0 * (1.0 - want);
    assert!(
        (phase.carried_erlangs - carried).abs() < 2.0,
        "carried {} vs {carried}",
        phase.carried_erlangs
    );
    let blocking = phase.blocking.expect("trunks declared");
    assert!((blocking.predicted - want).abs() < 1e-12);
    // The time series: 1 s intervals over a 40 s run, every call counted once, the offered
    // load 25 Erl throughout, the carried load and the concurrency near A·(1 − B) once the
    // trunks have filled.
    let series = report.series.as_ref().expect("series");
    assert_eq!(series.interval_s, 1.0);
    assert_eq!(
        series.attempts.iter().map(|a| u64::from(*a)).sum::<u64>(),
        result.metrics.attempted
    );
    let offered = series
        .offered_erlangs
        .as_ref()
        .expect("offered from the profile");
    assert!(
        offered[..40].iter().all(|o| (o - 25.0).abs() < 1e-9),
        "{offered:?}"
    );
    let steady = |v: &[f64]| v[2..38].iter().sum::<f64>() / 36.0;
    let (c, busy) = (
        steady(&series.carried_erlangs),
        steady(&series.concurrent_mean),
    );
    eprintln!("steady state: carried {c:.2} Erl, {busy:.2} calls in progress");
    assert!((c - carried).abs() < 2.0, "carried {c} vs {carried}");
    assert!(
        busy >= c && busy < c + 1.0,
        "in progress {busy}, carried {c}"
    );
    assert!(
        series.concurrent_max[2..38].iter().all(|m| *m >= 15),
        "{series:?}"
    );
    assert_eq!(
        series
            .failures
            .get(&callcert::engine::record::FailureKind::SipError)
            .map(|v| v.iter().sum::<u32>()),
        Some(blocking_calls(&calls))
    );
}

fn read_calls(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn blocking_calls(calls: &[serde_json::Value]) -> u32 {
    calls
        .iter()
        .filter(|c| c["final_code"].as_u64() == Some(503))
        .count() as u32
}

fn validate_against_schema(json: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(
        validator.is_valid(json),
        "{:?}",
        validator.iter_errors(json).next().map(|e| e.to_string())
    );
}

/// The reference call center's agent queue as an M/M/3 system: a transfer straight to the
/// queue on answer, 3 agents with exponential handle times (mean 100 ms), no transfer or answer
/// delay, the agent's answer announced by a re-INVITE.
const MMN_IVR: &str = "\
name: M/M/3
seed: 3
prompts:
  hold: prompts/hold.wav
start: desk
nodes:
  desk: { type: transfer, queue: agents, announce: reinvite }
agents:
  agents: { count: 3, answer_delay: 0ms, handle_time: { dist: exponential, mean: 100ms } }
";

/// Poisson callers at 15 calls/s for 40 s go straight to the agent queue of the reference call
/// center (3 agents, exponential handle time of mean 100 ms: A = 1.5 Erl, Erlang C's P(wait) =
/// 0.237, mean wait 15.8 ms): the measured mean wait and the share of callers who waited agree
/// with Erlang C within their 95 % batch-means intervals, and the intervals exclude what
/// Erlang C predicts for 2 or 4 agents, so the comparison can tell the pool's size.
///
/// Each caller waits for the re-INVITE of the agent's answer, then stays until the call center
/// hangs up at the end of the handle time (a caller hanging up earlier would shorten the
/// service time): its flow therefore ends with the far end's hang-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_waits_at_3_agents_and_1_5_erlangs_agree_with_erlang_c() {
    let def =
        callcert::sut::ivr::parse_ivr(MMN_IVR, &common::root().join("scenarios/ivr/mmn-test.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
    let cfg = SutConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        trunks: 200,
        ring_delay: Duration::ZERO,
        answer_delay: Duration::ZERO,
        max_call: Duration::from_secs(60),
        ivr: Some(LoadedIvr(Arc::new(def))),
        ..SutConfig::default()
    };
    let sut = sut::serve(cfg, AudioSource::silence()).await.unwrap();
    let scn = parse_scenario(
        "name: erlang-c\ntarget: sip:queue@127.0.0.1:5060\nseed: 5\n\
         load:\n  calls_per_second: 15\n  holding: 100ms\n  duration: 40s\n\
         \x20 agents: { count: 3, handle_time: 100ms }\n\
         call:\n  expect_voice: false\n  steps:\n\
         \x20   - agent: { detect: reinvite, timeout: 30s }\n    - pause: 10m\n",
        &common::root().join("scenarios/inline-test.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let target = format!("sip:queue@{}", sut.local_addr);
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let result = callcert::engine::run(plan.clone(), Some(tmp.path().to_path_buf()))
        .await
        .unwrap();
    let report = callcert::report::Report::new(&plan, &result, 0.0);
    validate_against_schema(&serde_json::to_value(&report).unwrap());
    let calls = read_calls(tmp.path());
    let m = &result.metrics;
    // Every flow ended with the call center's hang-up.
    assert_eq!(calls.len() as u64, m.attempted);
    assert!(
        m.failures
            .keys()
            .all(|k| *k == callcert::engine::record::FailureKind::FlowHangup),
        "{:?}",
        m.failures
    );
    let c = report.erlang_c.clone().expect("agents declared");
    eprintln!("{}", report.summary());
    eprintln!("{c:#?}\nin {:?}", started.elapsed());
    // Every call reached the agent step, and all but a few heard an agent: a handle time
    // shorter than the way back of the caller's ACK ends the call before the re-INVITE may
    // announce the agent (RFC 3261 §14.1), and the caller never learns of it.
    assert_eq!((c.agents, c.requests), (3, m.attempted));
    assert_eq!(c.served, m.agent_wait.count());
    assert_eq!(c.served + c.unserved, c.requests);
    assert!(c.unserved * 100 <= c.requests, "{c:?}");
    assert!((c.handle_time_s - 0.1).abs() < 1e-12 && (c.epsilon_s - 0.005).abs() < 1e-12);
    // 15 calls/s × 0.1 s, within Poisson noise of 600 arrivals.
    assert!((c.offered_erlangs - 1.5).abs() < 0.15, "{c:?}");
    assert!(c.samples > 500 && c.batches == 20, "{c:?}");
    // Callers who found a free agent heard of it at once.
    assert!(c.min_wait_s.unwrap() < 0.003, "{c:?}");
    let (wlo, whi) = c.mean_wait_interval.expect("interval");
    let (slo, shi) = c.waited_share_interval.expect("interval");
    let w = c.predicted_mean_wait_s.expect("A < N");
    assert!(
        (wlo..=whi).contains(&w),
        "mean wait {w} not in [{wlo}, {whi}]"
    );
    assert!(
        (slo..=shi).contains(&c.predicted_waited_share),
        "waited share {} not in [{slo}, {shi}]",
        c.predicted_waited_share
    );
    assert_eq!(c.agrees, Some(true));
    // One agent more or less: Erlang C predicts waits the measurement excludes.
    let a = c.offered_erlangs;
    let eps = Duration::from_secs_f64(c.epsilon_s);
    let handle = Duration::from_millis(100);
    for n in [2, 4] {
        let w = callcert::traffic::mean_wait(a, n, handle)
            .unwrap()
            .as_secs_f64();
        let share = 1.0 - callcert::traffic::service_level(a, n, handle, eps);
        eprintln!("{n} agents: mean wait {w:.4} s, waited share {share:.4}");
        assert!(
            !(wlo..=whi).contains(&w) || !(slo..=shi).contains(&share),
            "{n} agents would pass too: {w} {share}"
        );
    }
    // The pool did what the reference call center says it did.
    assert_eq!(sut.stats().agent_answers, m.attempted);
}
