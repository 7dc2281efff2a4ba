//! Thirty-six hours of mystery calls on a fake clock, in a few seconds: the monitor's logic
//! ([`MonitorCore`] on a real store) against the reference call center's own configuration with
//! faults scheduled by the time of day (`schedule:` in its YAML, read through
//! `SutConfig::behaviour_at`). Each simulated call measures what that configuration makes the
//! call center do at that moment; the test checks that the faults show up in their hours, that
//! the 24-hour verdicts come out as the numbers say, and that alerts fire on the changes only.
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::engine::record::{CallRecord, Failure, FailureKind};
use callcert::monitor::alert::{Alert, AlertKind};
use callcert::monitor::core::{CoreConfig, MonitorCore};
use callcert::monitor::schedule::Cadence;
use callcert::monitor::store::Store;
use callcert::monitor::window::{monitor_thresholds, WindowConfig, WindowResult};
use callcert::monitor::PingRecord;
use callcert::scenario::runner::StepsResult;
use callcert::sut::ivr::IvrNode;
use callcert::verdict::Status;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Duration;

const OFFSET: i32 = 8 * 3600; // the call center's local time: UTC+08:00
const DAY: f64 = 86_400.0;

/// The bank call center: queries take 9 s (a slow back end all day), 60 s between 10:00 and
/// 11:00; agents greet in under a second, but take 90 s between 18:00 and 19:00.
fn call_center(dir: &std::path::Path) -> callcert::sut::config::SutConfig {
    let path = dir.join("sut.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: 127.0.0.1:0\nivr: {}\nutc_offset: \"+08:00\"\nschedule:\n\
             \x20 - between: \"10:00-11:00\"\n    query_delay: {{ dist: normal, mean: 60s, sd: 3s }}\n\
             \x20 - between: \"18:00-19:00\"\n    agent_answer_delay: {{ dist: normal, mean: 90s, sd: 5s }}\n\
             \x20 - between: \"11:00-10:00\"\n    query_delay: {{ dist: normal, mean: 9s, sd: 500ms }}\n",
            common::root().join("scenarios/ivr/bank.yaml").display()
        ),
    )
    .unwrap();
    callcert::sut::config::load_sut_config(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn steps(query_ms: f64, menu_ms: f64, agent_ms: f64) -> StepsResult {
    StepsResult {
        steps: 8,
        passed: 8,
        completed: true,
        dtmf_response_ms: vec![menu_ms],
        query_response_ms: vec![query_ms],
        agent_wait_ms: vec![agent_ms],
        ..StepsResult::default()
    }
}

fn record(slot: u64, ivr: Option<StepsResult>, failure: Option<Failure>) -> CallRecord {
    let answered = failure.is_none();
    CallRecord {
        index: slot,
        call_id: format!("sim-{slot}"),
        scheduled_ms: 0.0,
        invite_sent_ms: Some(0.2),
        first_100_ms: answered.then_some(1.0),
        first_18x_ms: answered.then_some(101.0),
        first_18x_code: answered.then_some(180),
        answered_ms: answered.then_some(501.0),
        first_rtp_ms: answered.then_some(521.0),
        first_voice_ms: answered.then_some(801.0),
        bye_ms: None,
        bye_by: None,
        ended_ms: 20_000.0,
        final_code: answered.then_some(200),
        failure,
        retransmissions_sent: 0,
        retransmissions_received: 0,
        media: None,
        ivr,
        cut_by_end: false,
        phase: None,
        quality: None,
    }
}

/// What one call to the call center measures at `unix_s`, from its configuration then. The
/// access link is down from 03:00 to 03:20: calls then get no answer at all.
fn simulate_call(
    sut: &callcert::sut::config::SutConfig,
    slot: u64,
    unix_s: f64,
    rng: &mut StdRng,
) -> CallRecord {
    if link_down(unix_s) {
        return record(
            slot,
            None,
            Some(Failure {
                kind: FailureKind::Timeout,
                detail: "no response to the INVITE (Timer B)".into(),
            }),
        );
    }
    let b = sut.behaviour_at(unix_s);
    let ivr = b.ivr.expect("the bank IVR");
    let Some(IvrNode::Query(q)) = ivr.nodes.get("balance_result") else {
        panic!("bank IVR has balance_result");
    };
    let Some(IvrNode::Input(menu)) = ivr.nodes.get("balance_account") else {
        panic!("bank IVR has balance_account");
    };
    let queue = ivr.queues.get("agents").expect("agents queue");
    // The transfer node's own delay before the queue, then the agent's answer.
    let agent = 400.0 + queue.answer_delay.sample(rng).as_secs_f64() * 1000.0;
    record(
        slot,
        Some(steps(
            q.delay.sample(rng).as_secs_f64() * 1000.0,
            menu.delay.sample(rng).as_secs_f64() * 1000.0,
            agent,
        )),
        None,
    )
}

fn local_second(unix_s: f64) -> f64 {
    (unix_s + f64::from(OFFSET)).rem_euclid(DAY)
}

fn link_down(unix_s: f64) -> bool {
    (3.0 * 3600.0..3.0 * 3600.0 + 1200.0).contains(&local_second(unix_s))
}

fn status(w: &WindowResult, spec_id: &str) -> Status {
    w.evaluation
        .verdicts
        .iter()
        .find(|v| v.threshold.spec_id.as_deref() == Some(spec_id))
        .unwrap_or_else(|| panic!("{spec_id} judged"))
        .status
}

fn store_dir() -> tempfile::TempDir {
    // tmpfs where there is one: the day's 4 000 transactions then cost no disk flushes.
    match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    }
}

/// Local midnight (UTC+08:00) of some day.
fn midnight() -> f64 {
    (1_796_515_200.0f64 + f64::from(OFFSET)).div_euclid(DAY) * DAY - f64::from(OFFSET) + DAY
}

/// What a simulated stretch of monitoring gave.
struct Simulated {
    core: MonitorCore,
    alerts: Vec<Alert>,
    /// The window's evaluation at each checkpoint asked for.
    at: Vec<WindowResult>,
    calls: u64,
    _dir: tempfile::TempDir,
}

/// Calls every minute (and pings every 5 minutes) from midnight for `hours`, judged over a
/// rolling window of `window`; the window is also evaluated at each of `checkpoints` (seconds
/// after midnight).
fn simulate(window: Duration, hours: f64, checkpoints: &[f64]) -> Simulated {
    let dir = store_dir();
    let sut = call_center(dir.path());
    let midnight = midnight();
    let cfg = CoreConfig {
        name: "bank-mystery".into(),
        target: "sip:bank@callcenter.example".into(),
        scenarios: vec!["balance-then-agent".into()],
        cadence: Cadence::every(Duration::from_secs(60), None).unwrap(),
        windows: vec![],
        seed: 7,
        window: WindowConfig {
            length: window,
            utc_offset_s: OFFSET,
            busy_hours: None,
            confidence: 0.95,
            seed: 7,
        },
        thresholds: monitor_thresholds(),
        down_after: 2,
        calls_probe: false,
        evaluate_every: 900.0,
    };
    let store = Store::open(&dir.path().join("store")).unwrap();
    // Opened a second before midnight: the first call is due at midnight (± jitter).
    let (mut core, startup) = MonitorCore::open(cfg, store, midnight - 1.0).unwrap();
    assert!(!startup.resumed && startup.interrupted.is_empty());
    let mut rng = StdRng::seed_from_u64(3);
    let end = midnight + hours * 3600.0;
    let mut next_ping = midnight;
    let mut alerts = Vec::new();
    let mut at = Vec::new();
    let mut calls = 0u64;
    while let Some((slot, t, _)) = core.next_call() {
        if t > end {
            break;
        }
        while next_ping <= t {
            let up = !link_down(next_ping);
            alerts.extend(core.ping(PingRecord {
                at_unix: next_ping,
                answered: up,
                code: up.then_some(200),
                rtt_ms: up.then_some(12.0),
                detail: (!up).then(|| "no answer within 2000 ms".into()),
            }));
            next_ping += 300.0;
        }
        if let Some(c) = checkpoints.get(at.len()) {
            if t >= midnight + c {
                alerts.extend(core.evaluate(midnight + c, true));
                at.push(core.last_evaluation().cloned().expect("evaluated"));
            }
        }
        core.call_started(slot, t).unwrap();
        let r = simulate_call(&sut, slot, t, &mut rng);
        alerts.extend(core.call_ended(slot, r, t + 20.0));
        calls += 1;
    }
    assert_eq!(at.len(), checkpoints.len(), "every checkpoint reached");
    Simulated {
        core,
        alerts,
        at,
        calls,
        _dir: dir,
    }
}

fn alerts_of(alerts: &[Alert], kind: AlertKind, spec: Option<&str>) -> Vec<f64> {
    alerts
        .iter()
        .filter(|a| a.kind == kind && a.spec_id.as_deref() == spec)
        .map(|a| a.at_unix)
        .collect()
}

#[test]
fn a_simulated_day_shows_the_scheduled_faults_in_their_hours_and_verdicts() {
    let midnight = midnight();
    let Simulated {
        core,
        alerts,
        at,
        calls,
        ..
    } = simulate(Duration::from_secs(86_400), 36.0, &[10.0 * 3600.0, DAY]);
    let mut at = at.into_iter();
    let before_ten = at.next();
    let day_one = at.next();
    assert!((2100..=2200).contains(&calls), "{calls} calls in 36 h");

    // Before 10:00 nothing is wrong with queries: 9 s against ≤ 10 s, proven.
    let w = before_ten.expect("evaluated at 10:00");
    assert_eq!(status(&w, "OPS-QUERY-RESPONSE"), Status::Pass);

    // The first day: each fault in its own hour, and the verdicts the numbers give.
    let w = day_one.expect("evaluated at the end of day one");
    let hour = |h: u8| w.hourly.iter().find(|s| s.hour == h).expect("hour present");
    let q10 = hour(10).query_response_mean_ms.unwrap();
    assert!((q10 - 60_000.0).abs() < 2_000.0, "10:00 queries {q10}");
    for h in [0u8, 9, 11, 17, 23] {
        let q = hour(h).query_response_mean_ms.unwrap();
        assert!((q - 9_000.0).abs() < 400.0, "{h}:00 queries {q}");
    }
    let a18 = hour(18).agent_wait_mean_ms.unwrap();
    assert!((a18 - 90_400.0).abs() < 3_000.0, "18:00 agent wait {a18}");
    assert!(hour(12).agent_wait_mean_ms.unwrap() < 1_000.0);
    // The calls of 03:00-03:20 failed in the access network: in their hour, not IVR trials.
    assert!(hour(3).failed >= 15, "{:?}", hour(3));
    // (23 × 9 s + 60 s) / 24 ≈ 11.1 s: the slow hour pushes the 24 h mean over 10 s.
    let mean = w.metrics.query_response.summary().unwrap().mean_ms;
    assert!(mean > 10_500.0 && mean < 11_800.0, "{mean}");
    assert_eq!(status(&w, "OPS-QUERY-RESPONSE"), Status::Fail);
    // A slow hour of agents does not push the mean over 60 s, but it is a marked difference
    // between busy and idle hours, and the busy hour is found from the data.
    assert_eq!(status(&w, "OPS-AGENT-WAIT"), Status::Pass);
    assert_eq!(status(&w, "OPS-BUSY-IDLE-PARITY"), Status::Fail);
    assert_eq!(w.parity.busy_hours, vec![18]);
    assert_eq!(status(&w, "OPS-DTMF-RESPONSE"), Status::Pass);
    assert_eq!(status(&w, "OPS-IVR-SUCCESS"), Status::Pass);
    // 4 of 288 pings unanswered: 98.6 % < 99.9 %.
    assert_eq!(status(&w, "SYS-AVAILABILITY"), Status::Fail);
    assert_eq!(w.availability.outages.len(), 1);
    let o = &w.availability.outages[0];
    assert_eq!(local_second(o.start_unix), 3.0 * 3600.0);
    assert_eq!(local_second(o.end_unix.unwrap()), 3.0 * 3600.0 + 1200.0);

    // Alerts: one per change, at the right time of day.
    let at = |kind: AlertKind, spec: Option<&str>| alerts_of(&alerts, kind, spec);
    let down = at(AlertKind::Unreachable, None);
    let up = at(AlertKind::Reachable, None);
    // The link goes down at 03:00 on both days: unreachable at the second unanswered ping,
    // reachable at the first answered one.
    assert_eq!(down.len(), 2, "{alerts:#?}");
    assert_eq!(up.len(), 2, "{alerts:#?}");
    for d in &down {
        assert_eq!(local_second(*d), 3.0 * 3600.0 + 300.0);
    }
    for u in &up {
        assert_eq!(local_second(*u), 3.0 * 3600.0 + 1200.0);
    }
    let q_fail = at(AlertKind::VerdictFail, Some("OPS-QUERY-RESPONSE"));
    // Failed once the slow hour had pushed the mean over beyond doubt (in the slow hour or
    // soon after); the next day's slow hour keeps it there, so no other alert follows.
    let f = q_fail[0] - midnight;
    assert!(
        (10.0 * 3600.0..13.0 * 3600.0).contains(&f),
        "failed at {}",
        f / 3600.0
    );
    assert!(at(AlertKind::VerdictPass, Some("OPS-QUERY-RESPONSE")).is_empty());
    assert_eq!(
        at(AlertKind::VerdictFail, Some("OPS-BUSY-IDLE-PARITY")).len(),
        1
    );
    assert!(at(AlertKind::VerdictFail, Some("OPS-AGENT-WAIT")).is_empty());
    assert_eq!(
        at(AlertKind::VerdictFail, Some("SYS-AVAILABILITY")).len(),
        1
    );
    // Every alert is in the store, numbered.
    let stored = core.store().alerts_since(0.0).unwrap();
    assert_eq!(stored.len(), alerts.len());
    assert!(alerts.iter().all(|a| a.id > 0));
    // And every call, once.
    let counts = core.store().count_calls().unwrap();
    assert_eq!(counts.total, calls);
}

#[test]
fn a_short_window_fails_in_the_slow_hour_and_passes_again_when_it_has_rolled_out() {
    // Judged over the last 2 hours: 09:00-10:00 passes, the slow hour fails within it, and
    // once 10:00-11:00 has left the window (after 13:00) it passes again: FAIL → PASS.
    let midnight = midnight();
    let s = simulate(
        Duration::from_secs(2 * 3600),
        14.0,
        &[10.0 * 3600.0, 13.5 * 3600.0],
    );
    assert_eq!(status(&s.at[0], "OPS-QUERY-RESPONSE"), Status::Pass);
    assert_eq!(status(&s.at[1], "OPS-QUERY-RESPONSE"), Status::Pass);
    let fail = alerts_of(
        &s.alerts,
        AlertKind::VerdictFail,
        Some("OPS-QUERY-RESPONSE"),
    );
    let pass = alerts_of(
        &s.alerts,
        AlertKind::VerdictPass,
        Some("OPS-QUERY-RESPONSE"),
    );
    assert_eq!(fail.len(), 1, "{fail:?}");
    assert_eq!(pass.len(), 1, "{pass:?}");
    let (f, p) = ((fail[0] - midnight) / 3600.0, (pass[0] - midnight) / 3600.0);
    assert!((10.0..11.0).contains(&f), "failed at {f}");
    assert!((12.0..13.5).contains(&p), "passed again at {p}");
    let a = s
        .alerts
        .iter()
        .find(|a| a.kind == AlertKind::VerdictPass)
        .unwrap();
    assert_eq!(a.from.as_deref(), Some("FAIL"));
    assert_eq!(a.to.as_deref(), Some("PASS"));
    assert!(s.calls > 800);
    assert_eq!(s.core.store().count_calls().unwrap().total, s.calls);
}

#[test]
fn without_pings_the_calls_tell_when_the_target_is_unreachable() {
    let dir = store_dir();
    let sut = call_center(dir.path());
    let start = midnight() + 2.5 * 3600.0;
    let cfg = CoreConfig {
        name: "bank-mystery".into(),
        target: "sip:bank@callcenter.example".into(),
        scenarios: vec!["balance".into()],
        cadence: Cadence::every(Duration::from_secs(60), None).unwrap(),
        windows: vec![],
        seed: 7,
        window: WindowConfig {
            utc_offset_s: OFFSET,
            ..WindowConfig::default()
        },
        thresholds: monitor_thresholds(),
        down_after: 2,
        calls_probe: true,
        evaluate_every: 900.0,
    };
    let store = Store::open(&dir.path().join("store")).unwrap();
    let (mut core, _) = MonitorCore::open(cfg, store, start).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let mut alerts = Vec::new();
    while let Some((slot, t, _)) = core.next_call() {
        if t > start + 3600.0 {
            break;
        }
        core.call_started(slot, t).unwrap();
        let r = simulate_call(&sut, slot, t, &mut rng);
        alerts.extend(core.call_ended(slot, r, t + 20.0));
    }
    let down = alerts_of(&alerts, AlertKind::Unreachable, None);
    let up = alerts_of(&alerts, AlertKind::Reachable, None);
    assert_eq!((down.len(), up.len()), (1, 1), "{alerts:#?}");
    // The second call without an answer after 03:00, and the first answered after 03:20
    // (calls every minute, ± 15 s, ending 20 s after they start).
    let d = local_second(down[0]) - 3.0 * 3600.0;
    let u = local_second(up[0]) - 3.0 * 3600.0;
    assert!((60.0..=170.0).contains(&d), "down at 03:00 + {d} s");
    assert!((1200.0..=1300.0).contains(&u), "up at 03:00 + {u} s");
    let a = alerts
        .iter()
        .find(|a| a.kind == AlertKind::Unreachable)
        .unwrap();
    assert!(a.summary.contains("2 calls unanswered"), "{}", a.summary);
    assert!(core.store().pings_since(0.0).unwrap().is_empty());
}
