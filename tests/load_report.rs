//! The observation side of a load run on a virtual clock: the standard's yd2823 profile (2 h
//! idle at 21 Erl, 2 h busy at 26.25 Erl on 30 trunks) simulated call by call as a loss system,
//! its records fed in the order the calls end into the run's metrics, per-phase metrics, check
//! samples and time series, and the report built from them (issue 4: "idle: …, busy: …").
#![allow(clippy::disallowed_methods)]

mod common;

use callcert::engine::record::{CallRecord, CallTimeline, FailureKind};
use callcert::engine::LoadPlan;
use callcert::metrics::load::LoadMetrics;
use callcert::metrics::series::TimeSeries;
use callcert::metrics::RunMetrics;
use callcert::report::{Report, RunInfo};
use callcert::traffic::{erlang_b, Arrival, Arrivals, Holding, Profile};
use std::time::{Duration, Instant};

const TRUNKS: usize = 30;

/// Every arrival as the record a 30-trunk loss system (M/M/30/30) would give it: refused with
/// 503 when all trunks are busy, else answered 100 ms after the INVITE and released its holding
/// time later.
fn simulate(schedule: &[Arrival], origin: Instant) -> Vec<CallRecord> {
    let mut busy_until: Vec<f64> = Vec::with_capacity(TRUNKS);
    schedule
        .iter()
        .map(|a| {
            let t = a.at.as_secs_f64();
            busy_until.retain(|end| *end > t);
            let mut c = CallTimeline::new(a.index, format!("{}", a.index), origin, origin);
            let ms = |s: f64| s * 1000.0;
            c.record.scheduled_ms = ms(t);
            c.record.invite_sent_ms = Some(ms(t) + 0.5);
            c.record.phase = Some(a.phase as u32);
            if busy_until.len() >= TRUNKS {
                c.record.final_code = Some(503);
                c.record.ended_ms = ms(t) + 2.0;
                c.fail(FailureKind::SipError, "503 Service Unavailable");
            } else {
                let answered = t + 0.1;
                let released = answered + a.holding.as_secs_f64();
                busy_until.push(released);
                c.record.final_code = Some(200);
                c.record.answered_ms = Some(ms(answered));
                c.record.bye_ms = Some(ms(released));
                c.record.bye_by = Some(callcert::engine::record::HungUpBy::Caller);
                c.record.ended_ms = ms(released) + 1.0;
            }
            c.record
        })
        .collect()
}

fn run_info() -> RunInfo {
    RunInfo {
        scenario: "yd2823-simulated".into(),
        target: "sip:ivr@127.0.0.1:5080".into(),
        target_addr: "127.0.0.1:5080".into(),
        local_addr: "127.0.0.1:5060".into(),
        transport: "udp".into(),
        calls: 2000,
        rate: 0.15,
        max_concurrent: 10_000,
        seed: 2823,
        codecs: vec!["Pcmu".into()],
        hold_s: 180.0,
        answer_timeout_s: 32.0,
        authenticated: false,
        started_unix_s: 1_800_000_000.0,
        duration_s: 14_400.0,
    }
}

#[test]
fn a_simulated_yd2823_run_reports_idle_and_busy_phases_series_and_erlang_b() {
    let started = Instant::now();
    let load = LoadPlan {
        profile: Profile::yd2823(30),
        holding: Holding::Exponential {
            mean: Duration::from_secs(180),
        },
        trunks: Some(30),
        agents: None,
        series_interval: None,
    };
    let schedule: Vec<Arrival> = Arrivals::new(&load.profile, load.holding, 2823)
        .unwrap()
        .collect();
    let mut records = simulate(&schedule, started);
    // Records reach the collector as calls end.
    records.sort_by(|a, b| a.ended_ms.total_cmp(&b.ended_ms));
    let mut metrics = RunMetrics::default();
    let mut lm = LoadMetrics::new(&load, None, &schedule);
    let mut series = TimeSeries::new(
        callcert::metrics::series::interval_for(load.profile.duration()),
        Some((load.profile.clone(), load.holding.mean())),
    );
    for r in &records {
        metrics.record(r);
        lm.record(r);
        series.record(r);
    }
    // The standard's completion-rate limits, each judged on its own phase's calls.
    let profile = callcert::verdict::load_profile("yd2823-acceptance").unwrap();
    let thresholds: Vec<_> = profile
        .thresholds
        .iter()
        .filter(|t| {
            t.spec_id
                .as_deref()
                .is_some_and(|id| id.starts_with("ACC-CCR-"))
        })
        .cloned()
        .collect();
    let verdict = callcert::report::evaluate_run(&thresholds, &metrics, Some(&lm));
    let mut report = Report::from_metrics(run_info(), None, &metrics, verdict);
    report.series = Some(series.report());
    report.add_load(&load, &lm);

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
    let summary = report.summary();
    eprintln!("{summary}\nsimulated 4 h in {:?}", started.elapsed());

    // Idle then busy, each with its own load and its own calls, adding up to the run's.
    let [idle, busy] = &report.phases[..] else {
        panic!("{:?}", report.phases);
    };
    // ACC-CCR-IDLE judged on the idle phase's calls only, ACC-CCR-BUSY on the busy phase's;
    // both fail here (every blocked call is a failed one).
    let judged: Vec<(Option<&str>, u64)> = report
        .verdict
        .verdicts
        .iter()
        .map(|v| (v.threshold.spec_id.as_deref(), v.samples))
        .collect();
    assert_eq!(
        judged,
        [
            (Some("ACC-CCR-IDLE"), idle.calls.attempted),
            (Some("ACC-CCR-BUSY"), busy.calls.attempted)
        ]
    );
    assert!(report
        .verdict
        .verdicts
        .iter()
        .all(|v| v.status == callcert::verdict::Status::Fail));
    assert_eq!((idle.name.as_str(), busy.name.as_str()), ("idle", "busy"));
    assert_eq!(
        (idle.start_s, idle.end_s, busy.end_s),
        (0.0, 7200.0, 14_400.0)
    );
    assert!((idle.offered_erlangs - 21.0).abs() < 1e-9);
    assert!((busy.offered_erlangs - 26.25).abs() < 1e-9);
    assert_eq!(
        idle.calls.attempted + busy.calls.attempted,
        schedule.len() as u64
    );
    assert_eq!(
        idle.calls.attempted,
        schedule.iter().filter(|a| a.phase == 0).count() as u64
    );
    for p in [idle, busy] {
        let b = p.blocking.expect("trunks declared");
        // Carried: A·(1 − B) within 5 % (2 h is some 40 holding times).
        let carried = p.offered_erlangs * (1.0 - erlang_b(p.offered_erlangs, 30));
        assert!(
            (p.carried_erlangs / carried - 1.0).abs() < 0.05,
            "{}: carried {} vs {carried}",
            p.name,
            p.carried_erlangs
        );
        assert!((b.predicted - erlang_b(p.offered_erlangs, 30)).abs() < 1e-12);
        assert_eq!(
            p.calls.failed,
            p.sip_codes.get("503").copied().unwrap_or(0),
            "only refusals fail"
        );
        assert!(p.metrics.setup_time.as_ref().unwrap().count == p.calls.answered);
    }
    // The busy phase blocks far more than the idle one (Erlang B 1.36 % against 7.03 %).
    let (bi, bb) = (idle.blocking.unwrap(), busy.blocking.unwrap());
    assert!(bi.measured < 0.03 && bb.measured > 0.04, "{bi:?} {bb:?}");
    assert!(summary.contains("    idle     0–7200 s:"), "{summary}");
    assert!(summary.contains("    busy     7200–14400 s:"), "{summary}");

    // Erlang B over the run: each phase predicted at its own load, weighted by its calls.
    let check = report.erlang_b.clone().expect("trunks declared");
    let want = (erlang_b(21.0, 30) + 1.25 * erlang_b(26.25, 30)) / 2.25;
    assert!((check.predicted - want).abs() < 1e-12, "{check:?}");
    assert_eq!(check.warmup_s, 540.0, "3 holding times");
    assert_eq!(check.batches, 20);
    assert_eq!(check.agrees, Some(true), "{check:?}");

    // The series: 15 s intervals over 4 h, every call counted once, the offered load stepping
    // from 21 to 26.25 Erl at 2 h, carried close to it.
    let s = report.series.as_ref().unwrap();
    assert_eq!(s.interval_s, 15.0);
    assert!(s.attempts.len() <= 1000 + 100, "{}", s.attempts.len());
    assert_eq!(
        s.attempts.iter().map(|a| u64::from(*a)).sum::<u64>(),
        schedule.len() as u64
    );
    let ended: u64 = s
        .completed
        .iter()
        .chain(s.failures.values().flatten())
        .map(|a| u64::from(*a))
        .sum();
    assert_eq!(ended, schedule.len() as u64);
    let offered = s.offered_erlangs.as_ref().unwrap();
    assert!((offered[100] - 21.0).abs() < 1e-9 && (offered[700] - 26.25).abs() < 1e-9);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let carried_busy = mean(&s.carried_erlangs[500..960]);
    assert!(
        (carried_busy / busy.carried_erlangs - 1.0).abs() < 0.02,
        "{carried_busy}"
    );
    assert!(
        s.concurrent_max.iter().all(|m| *m <= 30 + 2),
        "trunks cap the calls"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
