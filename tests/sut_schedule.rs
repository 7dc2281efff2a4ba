//! The reference call center's schedule on loopback: a schedule entry active now changes what
//! an arriving call gets (a slow back end: the measured query response follows the entry's
//! delay; an outage: 503), and an entry not active now changes nothing.
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::cli::build_plan;
use callcert::media::AudioSource;
use callcert::scenario::daytime::{local_utc_offset_s, second_of_day, DAY_S};
use callcert::scenario::parse_scenario;
use callcert::sut::config::{parse_sut_config, LoadedIvr, SutConfig};
use callcert::sut::ivr::{Delay, IvrNode};
use callcert::sut::{self, SutHandle};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The query delay outside the window and inside it (ms).
const NORMAL_QUERY_MS: f64 = 1000.0;
const SLOW_QUERY_MS: f64 = 3000.0;

/// How far one measured query response may be from the configured delay (ms). Single calls
/// measure within a millisecond; tests/ivr.rs sees the 99th percentile of the error of 160
/// queries at 3.2-4.1 ms (release build) and bounds it at 25 ms.
const TOLERANCE_MS: f64 = 10.0;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn hms(s: u32) -> String {
    let s = s % DAY_S;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A daily window of local time from `from_s` to `to_s` seconds from now (over midnight when
/// now is near it).
fn window_from_now(from_s: i64, to_s: i64) -> String {
    let now = unix_now();
    let today = i64::from(second_of_day(now, local_utc_offset_s(now as i64)));
    let at = |d: i64| (today + d).rem_euclid(i64::from(DAY_S)) as u32;
    format!("{}-{}", hms(at(from_s)), hms(at(to_s)))
}

/// A window open from a minute ago to ten minutes from now, and one that opens in two hours.
fn active_now() -> String {
    window_from_now(-60, 600)
}

fn inactive_now() -> String {
    window_from_now(2 * 3600, 3 * 3600)
}

/// A call center configuration parsed from `text` as if it sat in scenarios/sut/.
fn config(text: &str) -> SutConfig {
    let at = common::root().join("scenarios/sut/inline-test.yaml");
    parse_sut_config(
        &format!("listen: 127.0.0.1:0\ntrunks: 10\nmax_call: 2m\n{text}"),
        &at,
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The bank IVR with fixed delays whose balance query takes 1 s, and a schedule entry in
/// `window` making every query take 3 s.
fn bank_with_slow_queries(window: &str) -> SutConfig {
    let mut c = config(&format!(
        "ivr: ../ivr/bank.yaml\nschedule:\n  - between: \"{window}\"\n    query_delay: 3s\n"
    ))
    .with_fixed_delays();
    let mut def = (*c.ivr.as_ref().unwrap().0).clone();
    match def.nodes.get_mut("balance_result") {
        Some(IvrNode::Query(q)) => q.delay = Delay::Fixed(Duration::from_secs(1)),
        other => panic!("balance_result: {other:?}"),
    }
    c.set_ivr(Some(LoadedIvr(Arc::new(def))));
    c
}

fn scenario(text: &str) -> callcert::scenario::Scenario {
    // Inline scenarios resolve `prompts` against scenarios/ivr/.
    let at = common::root().join("scenarios/ivr/inline-test.yaml");
    parse_scenario(text, &at).unwrap_or_else(|e| panic!("{e}"))
}

const BALANCE_WALK: &str = "name: balance\ntarget: sip:bank@127.0.0.1:5060\ncalls: 1\nrate: 1\n\
call:\n  prompts: prompts\n  steps:\n    - expect_answer: 10s\n    - wait_prompt: welcome\n\
\x20   - wait_prompt: main_menu\n    - dtmf: \"1\"\n    - wait_prompt: enter_account\n\
\x20   - query: { digits: \"12345678#\", prompt: balance }\n    - hangup\n";

/// Every call's record from calls.jsonl.
fn calls(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .collect()
}

/// Places one balance call on `sut` and returns its measured query response (ms).
async fn one_balance_query(sut: SutHandle, out: std::path::PathBuf) -> f64 {
    let target = format!("sip:bank@{}", sut.local_addr);
    let plan = build_plan(&scenario(BALANCE_WALK), Some(&target), None, None)
        .await
        .unwrap();
    let result = callcert::engine::run(plan, Some(out.clone()))
        .await
        .unwrap();
    assert_eq!(
        result.metrics.succeeded,
        1,
        "{:#?}",
        result.failed_calls.first()
    );
    let c = calls(&out);
    let q = c[0]["ivr"]["query_response_ms"].as_array().unwrap();
    assert_eq!(q.len(), 1, "{}", c[0]);
    q[0].as_f64().unwrap()
}

/// Two call centers with the same IVR (balance query 1 s) and a schedule entry making queries
/// take 3 s: in the first its window holds now, in the second it opens in two hours. The
/// measured query responses are 3 s and 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_back_end_scheduled_now_shows_in_the_measured_query_response() {
    let slow_cfg = bank_with_slow_queries(&active_now());
    let quiet_cfg = bank_with_slow_queries(&inactive_now());
    assert_eq!(slow_cfg.behaviour_at(unix_now()).entry, Some(0));
    assert_eq!(quiet_cfg.behaviour_at(unix_now()).entry, None);
    let slow = sut::serve(slow_cfg, AudioSource::silence()).await.unwrap();
    let quiet = sut::serve(quiet_cfg, AudioSource::silence()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = tokio::spawn(one_balance_query(slow.clone(), tmp.path().join("slow")));
    let b = tokio::spawn(one_balance_query(quiet.clone(), tmp.path().join("quiet")));
    let (slow_ms, quiet_ms) = (a.await.unwrap(), b.await.unwrap());
    eprintln!(
        "query response: {slow_ms:.3} ms in the slow window (configured {SLOW_QUERY_MS}), \
         {quiet_ms:.3} ms outside it (configured {NORMAL_QUERY_MS})"
    );
    assert!(
        (slow_ms - SLOW_QUERY_MS).abs() < TOLERANCE_MS,
        "in the window: {slow_ms} ms"
    );
    assert!(
        (quiet_ms - NORMAL_QUERY_MS).abs() < TOLERANCE_MS,
        "outside the window: {quiet_ms} ms"
    );
    for s in [&slow, &quiet] {
        let st = s.stats();
        assert_eq!((st.invites, st.answered, st.fault_rejected), (1, 1, 0));
    }
}

/// An outage scheduled now (reject every call with 503) on a call center without IVR: the
/// INVITE gets 503 and the call fails with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_scheduled_now_rejects_the_invite_with_503() {
    let cfg = config(&format!(
        "schedule:\n  - between: \"{}\"\n    faults: {{ reject: {{ rate: 1, code: 503 }} }}\n",
        active_now()
    ));
    assert!(cfg.faults.reject.is_none(), "no global fault");
    let sut = sut::serve(cfg, AudioSource::silence()).await.unwrap();
    let target = format!("sip:callcenter@{}", sut.local_addr);
    let scn = scenario(
        "name: outage\ntarget: sip:x@127.0.0.1:5060\ncalls: 1\nrate: 1\n\
         call:\n  steps:\n    - expect_answer: 5s\n    - hangup\n",
    );
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    let result = callcert::engine::run(plan, None).await.unwrap();
    assert_eq!((result.metrics.attempted, result.metrics.succeeded), (1, 0));
    let call = &result.failed_calls[0];
    assert_eq!(call.final_code, Some(503), "{call:#?}");
    let failure = call.failure.as_ref().unwrap();
    assert_eq!(
        failure.kind,
        callcert::engine::record::FailureKind::SipError,
        "{failure:?}"
    );
    let st = sut.stats();
    assert_eq!((st.invites, st.fault_rejected, st.answered), (1, 1, 0));
}
