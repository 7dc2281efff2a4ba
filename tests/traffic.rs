//! Offered load in Erlangs against the reference call center's trunk limit: measured blocking
//! against Erlang B (issue 4).
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::cli::build_plan;
use callcert::media::AudioSource;
use callcert::scenario::parse_scenario;
use callcert::sut::config::{AfterPrompt, SutConfig};
use callcert::sut::{self};
use callcert::traffic::erlang_b;
use std::time::Duration;

/// 25 Erl of Poisson calls (exponential holding, mean 0.4 s) offered to 30 trunks for 40 s:
/// the share refused with 503 agrees with Erlang B (5.260 %) within its 95 % interval, computed
/// from batch means (blocked calls come in bursts, so calls are not independent trials).
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
    let json = serde_json::to_value(&report).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(
        validator.is_valid(&json),
        "{:?}",
        validator.iter_errors(&json).next().map(|e| e.to_string())
    );
    assert!(
        report
            .summary()
            .contains("vs Erlang B 5.260 % for 25.00 Erl on 30 trunks"),
        "{}",
        report.summary()
    );
    let calls: Vec<serde_json::Value> = std::fs::read_to_string(tmp.path().join("calls.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len() as u64, result.metrics.attempted);
    // Calls in arrival order, skipping the first 2 s (the trunks start empty), in 10 batches.
    let mut arrivals: Vec<(f64, bool)> = calls
        .iter()
        .map(|c| {
            (
                c["scheduled_ms"].as_f64().unwrap(),
                c["final_code"].as_u64() == Some(503),
            )
        })
        .filter(|(t, _)| *t >= 2000.0)
        .collect();
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = arrivals.len();
    let other_failures = calls
        .iter()
        .filter(|c| !c["failure"].is_null() && c["final_code"].as_u64() != Some(503))
        .count();
    assert_eq!(other_failures, 0, "only 503s may fail");
    let batches = 10;
    let per = n / batches;
    let rates: Vec<f64> = (0..batches)
        .map(|b| {
            let slice = &arrivals[b * per..(b + 1) * per];
            slice.iter().filter(|(_, blocked)| *blocked).count() as f64 / per as f64
        })
        .collect();
    let mean = rates.iter().sum::<f64>() / batches as f64;
    let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (batches - 1) as f64;
    // Student t, 9 degrees of freedom, two-sided 95 %.
    let half = 2.262 * (var / batches as f64).sqrt();
    let want = erlang_b(25.0, 30);
    eprintln!(
        "{n} calls after warm-up: blocking {mean:.4} ± {half:.4} (95 %), Erlang B {want:.4}; \
         sut refused {}",
        sut.stats().busy_503
    );
    assert!(n > 800, "{n}");
    assert!(
        (mean - want).abs() <= half,
        "measured {mean:.4} ± {half:.4} vs Erlang B {want:.4}"
    );
}
