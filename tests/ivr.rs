//! The IVR flow against the reference call center's IVR (scenarios/ivr/bank.yaml with every
//! delay fixed at its mean): measured DTMF and query responses against the configured delays,
//! for each way of sending digits, and a wrong prompt failing its step with both names.
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::cli::build_plan;
use callcert::media::AudioSource;
use callcert::scenario::parse_scenario;
use callcert::sut::config::{LoadedIvr, SutConfig};
use callcert::sut::{self, SutHandle};
use std::path::Path;
use std::sync::Arc;

/// The bank IVR's configured delays (ms): a menu choice → the next prompt's voice, and the
/// balance query (`{ dist: normal, mean: 1500ms }` fixed at its mean).
const MENU_DELAY_MS: f64 = 500.0;
const QUERY_DELAY_MS: f64 = 1500.0;

/// The bank IVR with every delay fixed at its mean.
fn bank() -> callcert::sut::ivr::IvrDefinition {
    callcert::sut::ivr::load_ivr(&common::root().join("scenarios/ivr/bank.yaml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .with_fixed_delays()
}

/// The reference call center on a free loopback port, running `def`.
async fn serve_ivr(def: callcert::sut::ivr::IvrDefinition) -> SutHandle {
    let cfg = SutConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        trunks: 500,
        max_call: std::time::Duration::from_secs(600),
        ivr: Some(LoadedIvr(Arc::new(def))),
        ..SutConfig::default()
    };
    sut::serve(cfg, AudioSource::silence()).await.unwrap()
}

async fn bank_sut() -> SutHandle {
    serve_ivr(bank()).await
}

fn scenario(text: &str) -> callcert::scenario::Scenario {
    // Inline scenarios resolve `prompts` against scenarios/ivr/.
    let at = common::root().join("scenarios/ivr/inline-test.yaml");
    parse_scenario(text, &at).unwrap_or_else(|e| panic!("{e}"))
}

/// Every call's IVR result from calls.jsonl.
fn flows(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .collect()
}

fn samples(calls: &[serde_json::Value], key: &str) -> Vec<f64> {
    calls
        .iter()
        .flat_map(|c| c["ivr"][key].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// Mean absolute error and 99th percentile of the absolute error against `want`.
fn errors(got: &[f64], want: f64) -> (f64, f64) {
    let mut e: Vec<f64> = got.iter().map(|g| (g - want).abs()).collect();
    e.sort_by(f64::total_cmp);
    let mae = e.iter().sum::<f64>() / e.len() as f64;
    let p99 = e[((e.len() as f64 * 0.99).ceil() as usize).min(e.len()) - 1];
    (mae, p99)
}

const CYCLES: usize = 4;
const CALLS: usize = 40;

fn walk(method: &str) -> String {
    let mut steps = String::from(
        "    - expect_answer: 10s\n    - wait_prompt: welcome\n    - wait_prompt: main_menu\n",
    );
    for _ in 0..CYCLES {
        steps.push_str(&format!(
            "    - dtmf: {{ digits: \"1\", method: {method}, barge_in: true }}\n\
             \x20   - wait_prompt: enter_account\n\
             \x20   - query: {{ digits: \"4321#\", prompt: balance, method: {method}, barge_in: true }}\n\
             \x20   - wait_prompt: main_menu\n"
        ));
    }
    steps.push_str("    - hangup\n");
    format!(
        "name: accuracy-{method}\ntarget: sip:bank@127.0.0.1:5060\ncalls: {CALLS}\nrate: 4\n\
         call:\n  prompts: prompts\n  steps:\n{steps}"
    )
}

/// Over 40 calls × 4 menu choices and 4 balance queries per method (320 interactions each),
/// the measured responses are within 5 ms mean absolute error of the configured delays, with
/// the 99th percentile of the error under 25 ms — for RFC 4733, SIP INFO and in-band digits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_and_query_responses_match_the_ivr_ground_truth_for_every_method() {
    let sut = bank_sut().await;
    let target = format!("sip:bank@{}", sut.local_addr);
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for method in ["rfc4733", "info", "inband"] {
        let scn = scenario(&walk(method));
        let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
        let out = tmp.path().join(method);
        runs.push((
            method,
            out.clone(),
            tokio::spawn(callcert::engine::run(plan, Some(out))),
        ));
    }
    for (method, out, run) in runs {
        let result = run.await.unwrap().unwrap();
        let m = &result.metrics;
        assert_eq!(m.attempted, CALLS as u64, "{method}");
        assert_eq!(
            m.succeeded,
            CALLS as u64,
            "{method}: {:#?}",
            result.failed_calls.first()
        );
        assert_eq!(
            (m.ivr_flows, m.ivr_completed),
            (CALLS as u64, CALLS as u64),
            "{method}"
        );
        let calls = flows(&out);
        let dtmf = samples(&calls, "dtmf_response_ms");
        let query = samples(&calls, "query_response_ms");
        assert_eq!(dtmf.len(), CALLS * CYCLES, "{method}");
        assert_eq!(query.len(), CALLS * CYCLES, "{method}");
        let (d_mae, d_p99) = errors(&dtmf, MENU_DELAY_MS);
        let (q_mae, q_p99) = errors(&query, QUERY_DELAY_MS);
        eprintln!(
            "{method}: DTMF response n={} MAE {d_mae:.3} ms p99 {d_p99:.3} ms; \
             query response n={} MAE {q_mae:.3} ms p99 {q_p99:.3} ms",
            dtmf.len(),
            query.len()
        );
        assert!(
            d_mae < 5.0 && d_p99 < 25.0,
            "{method} DTMF: {d_mae} / {d_p99}"
        );
        assert!(
            q_mae < 5.0 && q_p99 < 25.0,
            "{method} query: {q_mae} / {q_p99}"
        );
    }
}

/// Pressing 2 plays the card menu; a step that expects the balance fails, naming both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_prompt_fails_the_step_with_the_expected_and_the_heard_names() {
    let sut = bank_sut().await;
    let target = format!("sip:bank@{}", sut.local_addr);
    let scn = scenario(
        "name: wrong\ntarget: sip:bank@127.0.0.1:5060\ncalls: 2\nrate: 2\n\
         call:\n  prompts: prompts\n  steps:\n    - wait_prompt: welcome\n\
         \x20   - wait_prompt: main_menu\n    - dtmf: { digits: \"2\", barge_in: true }\n\
         \x20   - wait_prompt: balance\n    - hangup\n",
    );
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    let result = callcert::engine::run(plan, None).await.unwrap();
    let m = &result.metrics;
    assert_eq!((m.attempted, m.succeeded), (2, 0));
    assert_eq!((m.ivr_flows, m.ivr_completed), (2, 0));
    for c in &result.failed_calls {
        let f = c.failure.as_ref().unwrap();
        assert_eq!(
            f.kind,
            callcert::engine::record::FailureKind::WrongPrompt,
            "{f:?}"
        );
        assert!(
            f.detail.starts_with(
                "step 4 (wait_prompt balance): expected prompt 'balance', heard 'card_menu'"
            ),
            "{}",
            f.detail
        );
    }
}

/// `callcert learn` walks the bank IVR once and saves each named prompt; the saved recordings
/// identify the original prompts, and a run with them as references passes.
#[test]
fn learn_records_references_that_identify_the_prompts() {
    let port = common::free_port();
    let tmp = tempfile::tempdir().unwrap();
    let bank = common::root().join("scenarios/ivr/bank.yaml");
    let cfg = tmp.path().join("sut.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:{port}\nmax_call: 5m\nivr: {}\n",
            bank.display()
        ),
    )
    .unwrap();
    let mut sut = common::start_sut(&cfg, port);
    let learned = tmp.path().join("learned");
    let target = format!("sip:bank@127.0.0.1:{port}");
    let o = common::callcert()
        .arg("learn")
        .arg(common::root().join("scenarios/ivr/walk.yaml"))
        .arg("--target")
        .arg(&target)
        .arg("--out")
        .arg(&learned)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let lib = callcert::media::prompt::PromptLibrary::load_dir(&learned).unwrap();
    let mut names: Vec<&str> = lib.names().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "agent_greeting",
            "balance",
            "enter_account",
            "main_menu",
            "welcome"
        ],
        "{stderr}"
    );
    for name in names {
        let original =
            AudioSource::from_wav(common::root().join(format!("scenarios/ivr/prompts/{name}.wav")))
                .unwrap();
        let m = lib.identify(original.samples()).unwrap();
        assert_eq!(m.name, name, "{m:?}");
        assert!(m.confidence > 0.9, "{name}: {m:?}");
    }
    // The learned folder serves as the references of a run.
    let walk = std::fs::read_to_string(common::root().join("scenarios/ivr/walk.yaml"))
        .unwrap()
        .replace(
            "prompts: prompts",
            &format!("prompts: {}", learned.display()),
        )
        .replace(
            "../prompts/caller.wav",
            &common::root()
                .join("scenarios/prompts/caller.wav")
                .display()
                .to_string(),
        )
        .replace("calls: 10", "calls: 1");
    let scn = tmp.path().join("walk.yaml");
    std::fs::write(&scn, walk).unwrap();
    let o = common::callcert()
        .arg("run")
        .arg(&scn)
        .arg("--target")
        .arg(&target)
        .arg("--out")
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    let report = common::read_report(&tmp.path().join("run"));
    assert_eq!(
        report["calls"]["succeeded"],
        1,
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(report["aggregates"]["ivr_completed"], 1);
    let stats = common::stop_sut(&mut sut);
    assert_eq!(stats["agent_answers"], 2, "{stats}");
}

/// One agent, two callers choosing the transfer 300 ms apart: the second waits in the queue
/// until the first hangs up, and its agent's greeting starts the queue's answer delay (200 ms)
/// after the first caller's BYE (OPS-AGENT-WAIT against the queue's ground truth).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_wait_follows_the_queue() {
    let mut def = bank();
    def.queues.get_mut("agents").unwrap().agents = 1;
    let sut = serve_ivr(def).await;
    let target = format!("sip:bank@{}", sut.local_addr);
    // The first caller stays with the agent 2 s, then hangs up.
    let scn = scenario(
        "name: queue\ntarget: sip:bank@127.0.0.1:5060\ncalls: 2\nrate: 3.3333\n\
         call:\n  prompts: prompts\n  steps:\n    - wait_prompt: welcome\n\
         \x20   - wait_prompt: main_menu\n    - dtmf: \"0\"\n\
         \x20   - agent: { detect: prompt, prompt: agent_greeting, timeout: 60s }\n\
         \x20   - pause: 2s\n    - hangup\n",
    );
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let result = callcert::engine::run(plan, Some(tmp.path().to_path_buf()))
        .await
        .unwrap();
    assert_eq!(
        result.metrics.succeeded,
        2,
        "{:#?}",
        result.failed_calls.first()
    );
    let mut calls = flows(tmp.path());
    calls.sort_by_key(|c| c["index"].as_u64());
    let greeting_at = |c: &serde_json::Value| {
        let p = c["ivr"]["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "agent_greeting")
            .expect("greeting heard");
        c["answered_ms"].as_f64().unwrap() + p["onset_after_answer_ms"].as_f64().unwrap()
    };
    let first_bye = calls[0]["bye_ms"].as_f64().unwrap();
    let second_greeting = greeting_at(&calls[1]);
    let waits: Vec<f64> = calls
        .iter()
        .map(|c| c["ivr"]["agent_wait_ms"][0].as_f64().unwrap())
        .collect();
    eprintln!(
        "agent waits {waits:?} ms; second greeting {:.3} ms after the first BYE",
        second_greeting - first_bye
    );
    // A free agent: the greeting 200 ms after the digit (the hold prompt never starts).
    assert!((waits[0] - 200.0).abs() < 5.0, "{waits:?}");
    assert!(
        (second_greeting - first_bye - 200.0).abs() < 5.0,
        "second greeting {second_greeting} first BYE {first_bye}"
    );
    assert!(waits[1] > 2000.0, "{waits:?}");
}

/// With `announce: reinvite` the agent's answer shows as a re-INVITE from the call center; an
/// `agent` step that detects re-INVITEs measures the wait to it (the queue's answer, at once
/// for a free agent) and the call goes on with its media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_announced_by_reinvite_is_detected() {
    let mut def = bank();
    match def.nodes.get_mut("agent") {
        Some(callcert::sut::ivr::IvrNode::Transfer(t)) => {
            t.announce = callcert::sut::ivr::Announce::Reinvite;
            t.agent_prompt = None;
        }
        other => panic!("agent node: {other:?}"),
    }
    let sut = serve_ivr(def).await;
    let target = format!("sip:bank@{}", sut.local_addr);
    let scn = scenario(
        "name: reinvite\ntarget: sip:bank@127.0.0.1:5060\ncalls: 2\nrate: 2\n\
         call:\n  prompts: prompts\n  steps:\n    - wait_prompt: welcome\n\
         \x20   - wait_prompt: main_menu\n\
         \x20   - agent: { digits: \"0\", detect: reinvite, timeout: 30s }\n\
         \x20   - pause: 1s\n    - hangup\n",
    );
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let result = callcert::engine::run(plan, Some(tmp.path().to_path_buf()))
        .await
        .unwrap();
    let m = &result.metrics;
    assert_eq!(m.succeeded, 2, "{:#?}", result.failed_calls.first());
    assert_eq!(m.ivr_completed, 2);
    let waits = samples(&flows(tmp.path()), "agent_wait_ms");
    eprintln!("agent waits by re-INVITE: {waits:?} ms");
    assert_eq!(waits.len(), 2);
    // Two free agents: the re-INVITE follows the digit's end at once.
    assert!(waits.iter().all(|w| (0.0..20.0).contains(w)), "{waits:?}");
    assert_eq!(sut.stats().agent_answers, 2);
}
