//! The shipped profiles: each loads and validates, and each threshold passes just inside its
//! limit, fails just outside it and is inconclusive on a small sample.

use super::*;
use crate::scenario::ScenarioError;
use std::path::Path;

fn conditions_for(t: &Threshold) -> RunConditions {
    RunConditions {
        phase: t.phase,
        network: t.network,
        confidence: 0.95,
    }
}

/// Judges `t` on a rate of `rate` over `trials`.
fn on_rate(t: &Threshold, rate: f64, trials: u64) -> Verdict {
    let successes = (rate * trials as f64).round() as u64;
    let mut m = Measurements::default();
    m.rates.insert(t.metric.clone(), (successes, trials));
    evaluate_one(t, &m, &conditions_for(t))
}

/// Judges `t` on the given samples (ms for delays, the score for scores).
fn on_samples(t: &Threshold, samples: Vec<f64>) -> Verdict {
    let set = SampleSet::new(samples);
    let mut m = Measurements::default();
    match t.info().map(|i| i.kind) {
        Some(MetricKind::Score) => m.scores.insert(t.metric.clone(), &set),
        _ => m.delays.insert(t.metric.clone(), &set),
    };
    evaluate_one(t, &m, &conditions_for(t))
}

/// `n` samples around `centre`, spread ± `spread`.
fn around(centre: f64, spread: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                centre - spread
            } else {
                centre + spread
            }
        })
        .collect()
}

struct Cases {
    inside: Verdict,
    outside: Verdict,
    small: Option<Verdict>,
}

fn boundary_cases(t: &Threshold) -> Cases {
    let kind = t.info().map(|i| i.kind).expect("known metric");
    let upper = t
        .expr
        .op
        .is_upper_limit()
        .expect("profiles use ordering operators");
    let limit = if kind == MetricKind::Delay {
        t.expr.limit.millis()
    } else {
        t.expr.limit.number
    };
    // `toward` moves a value to the passing side of the limit by `d` (negative: failing side).
    let toward = |d: f64| if upper { limit - d } else { limit + d };
    match (kind, t.expr.aggregation) {
        (MetricKind::Rate, Aggregation::Rate) => {
            let d = limit.min(1.0 - limit) / 10.0;
            Cases {
                inside: on_rate(t, toward(d), 100_000_000),
                outside: on_rate(t, toward(-d), 100_000_000),
                small: Some(on_rate(t, if upper { 0.0 } else { 1.0 }, 10)),
            }
        }
        (_, Aggregation::Avg) => {
            let d = limit.abs().max(1.0) / 100.0;
            Cases {
                inside: on_samples(t, around(toward(d), d / 10.0, 1_000)),
                outside: on_samples(t, around(toward(-d), d / 10.0, 1_000)),
                small: Some(on_samples(t, around(toward(d), limit.abs().max(1.0), 2))),
            }
        }
        (_, Aggregation::Percentile(_)) => {
            let d = limit.abs().max(1.0) / 100.0;
            Cases {
                inside: on_samples(t, vec![toward(d); 2_000]),
                outside: on_samples(t, vec![toward(-d); 2_000]),
                small: Some(on_samples(t, vec![toward(d); 10])),
            }
        }
        (_, Aggregation::Max | Aggregation::Min) => {
            let d = limit.abs().max(1.0) / 1_000.0;
            let mut outside = vec![limit; 99];
            outside.push(toward(-d));
            Cases {
                // Exactly at an inclusive limit is inside.
                inside: on_samples(
                    t,
                    vec![
                        if t.expr.op == Op::Le || t.expr.op == Op::Ge {
                            limit
                        } else {
                            toward(d)
                        };
                        100
                    ],
                ),
                outside: on_samples(t, outside),
                small: None,
            }
        }
        other => panic!("{}: no boundary case for {other:?}", t.label()),
    }
}

#[test]
fn every_shipped_profile_loads_and_validates() {
    let mut ids = Vec::new();
    for (name, _) in BUILTIN_PROFILES {
        let p = load_profile(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.name, *name);
        assert_eq!(p.confidence, 0.95);
        assert!(!p.thresholds.is_empty());
        // Also from the file on disk, as a path.
        let path = format!(
            "{}/scenarios/profiles/{name}.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let from_disk = load_profile(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(from_disk.thresholds, p.thresholds);
        for t in &p.thresholds {
            let id = t.spec_id.clone().expect("profiles carry SPEC ids");
            let info = t.info().expect("known metric");
            assert!(
                info.spec_ids.contains(&id.as_str()),
                "{id} not listed for {}",
                t.metric
            );
            assert!(t.clause.as_deref().is_some_and(|c| !c.is_empty()));
            assert!(t.description.as_deref().is_some_and(|c| !c.is_empty()));
            ids.push(id);
        }
    }
    for id in [
        "ACC-CCR-IDLE",
        "ACC-CCR-BUSY",
        "ACC-CONNECT-DELAY",
        "ACC-VOIP-DELAY",
        "ACC-VOIP-LOSS",
        "ACC-PESQ-GOOD",
        "ACC-PESQ-POOR",
        "ACC-PESQ-BAD",
        "ACC-IVR-SUCCESS-IDLE",
        "ACC-IVR-SUCCESS-BUSY",
        "ACC-DTMF-RESPONSE",
        "ACC-QUERY-RESPONSE",
        "OPS-IVR-SUCCESS",
        "OPS-DTMF-RESPONSE",
        "OPS-QUERY-RESPONSE",
        "OPS-AGENT-WAIT",
        "SYS-SETUP-RESPONSE",
        "SYS-AVAILABILITY",
        "CERT-SERVICE-LEVEL",
        "CERT-ASA",
        "CERT-CONNECT-RATE",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} is in no profile");
    }
}

/// The threshold of a profile that carries SPEC id `id`.
fn by_id<'a>(p: &'a Profile, id: &str) -> &'a Threshold {
    p.thresholds
        .iter()
        .find(|t| t.spec_id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("{id}"))
}

#[test]
fn the_acceptance_profile_reads_the_clauses() {
    let p = load_profile("yd2823-acceptance").expect("valid");
    let find = |id: &str| by_id(&p, id);
    let label = |id: &str| find(id).label();
    assert_eq!(
        label("ACC-CCR-IDLE"),
        "ACC-CCR-IDLE call_completion_rate: rate>=0.9999"
    );
    assert_eq!(find("ACC-CCR-IDLE").phase, Phase::Idle);
    assert_eq!(
        label("ACC-CCR-BUSY"),
        "ACC-CCR-BUSY call_completion_rate: rate>=0.9996"
    );
    assert_eq!(find("ACC-CCR-BUSY").phase, Phase::Busy);
    assert_eq!(
        label("ACC-CONNECT-DELAY"),
        "ACC-CONNECT-DELAY connect_delay: avg<=1s"
    );
    assert_eq!(
        label("ACC-VOIP-DELAY"),
        "ACC-VOIP-DELAY voip_one_way_delay: p(95)<400ms"
    );
    assert_eq!(label("ACC-PESQ-BAD"), "ACC-PESQ-BAD pesq_raw: avg>2.8");
    assert_eq!(find("ACC-PESQ-BAD").scale, Some(ScoreScale::P862Raw));
    assert_eq!(find("ACC-PESQ-POOR").network, NetworkCondition::Poor);
    assert_eq!(
        label("ACC-DTMF-RESPONSE"),
        "ACC-DTMF-RESPONSE dtmf_response: avg<=3s"
    );
    assert_eq!(
        label("ACC-QUERY-RESPONSE"),
        "ACC-QUERY-RESPONSE query_response: avg<=8s"
    );
}

#[test]
fn every_shipped_threshold_at_its_boundary() {
    for (name, _) in BUILTIN_PROFILES {
        let p = load_profile(name).expect("valid");
        for t in &p.thresholds {
            let cases = boundary_cases(t);
            let label = t.label();
            assert_eq!(
                cases.inside.status,
                Status::Pass,
                "{label} inside: {}",
                cases.inside.detail
            );
            assert_eq!(
                cases.outside.status,
                Status::Fail,
                "{label} outside: {}",
                cases.outside.detail
            );
            if let Some(small) = cases.small {
                assert_eq!(
                    small.status,
                    Status::Inconclusive,
                    "{label} small: {}",
                    small.detail
                );
                assert!(
                    small.needed_samples.is_some_and(|n| n > small.samples),
                    "{label} small: {small:?}"
                );
            }
        }
    }
}

#[test]
fn the_idle_completion_rate_needs_29956_clean_calls() {
    let p = load_profile("yd2823-acceptance").expect("valid");
    let idle = &p.thresholds[0];
    assert_eq!(on_rate(idle, 1.0, 29_956).status, Status::Pass);
    let v = on_rate(idle, 1.0, 7_200);
    assert_eq!(
        (v.status, v.needed_samples),
        (Status::Inconclusive, Some(29_956))
    );
    // One failure in 2 h of 7 200 calls is already 99.986 %: not yet a fail, but not a pass.
    assert_eq!(
        on_rate(idle, 7_199.0 / 7_200.0, 7_200).status,
        Status::Inconclusive
    );
    let busy = &p.thresholds[1];
    assert_eq!(on_rate(busy, 1.0, 7_488).status, Status::Pass);
    assert_eq!(on_rate(busy, 1.0, 7_487).status, Status::Inconclusive);
}

fn profile_error(text: &str) -> ScenarioError {
    match parse_profile(text, Path::new("p.yaml")) {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(e) => e,
    }
}

const HEAD: &str = "name: t\ntitle: T\nsource: S\nthresholds:\n";

#[test]
fn profile_errors_carry_file_line_and_column() {
    let e = profile_error(&format!(
        "{HEAD}  - spec_id: ACC-X\n    clause: c\n    description: d\n    metric: conect_rate\n    expr: rate>=0.9\n"
    ));
    assert_eq!(
        e.to_string(),
        "p.yaml:8:13: thresholds[0].metric: unknown metric `conect_rate` (did you mean connect_rate?)"
    );
    let e = profile_error(&format!(
        "{HEAD}  - spec_id: ACC-X\n    clause: c\n    description: d\n    metric: connect_rate\n    expr: 'rate>=99.99'\n"
    ));
    // `'rate>=99.99'` starts at column 11; the number is its 7th character.
    assert_eq!(
        e.to_string(),
        "p.yaml:9:18: thresholds[0].expr: connect_rate: `rate>=99.99`: column 7: expected a rate \
         between 0 and 1 (0.9999, not 99.99), found 99.99"
    );
    let e = profile_error(&format!(
        "{HEAD}  - spec_id: ACC-X\n    clause: c\n    description: d\n    metric: pesq_raw\n    expr: avg>3.8\n"
    ));
    assert_eq!(e.field(), "thresholds[0].scale");
    assert!(e.to_string().contains("add `scale: p862_raw`"), "{e}");
    let e = profile_error(&format!(
        "{HEAD}  - spec_id: ACC-X\n    clause: c\n    description: d\n    metric: pesq_raw\n    expr: avg>3.8\n    scale: mos_lqo\n"
    ));
    assert_eq!(e.position().map(|p| (p.line, p.column)), Some((10, 12)));
    let e = profile_error(&format!(
        "{HEAD}  - spec_id: ACC-X\n    clause: c\n    description: d\n    metric: setup_time\n    expr: max<3s\n    scale: p862_raw\n"
    ));
    assert!(
        e.to_string().contains("only score metrics have a scale"),
        "{e}"
    );
    let one = "  - spec_id: ACC-X\n    clause: c\n    description: d\n    metric: setup_time\n    expr: max<3s\n";
    let e = profile_error(&format!("{HEAD}{one}{one}"));
    assert_eq!(
        e.to_string(),
        "p.yaml:10:14: thresholds[1].spec_id: ACC-X is already used by thresholds[0]"
    );
    let e = profile_error(&format!("{HEAD}{one}    phase: night\n"));
    assert_eq!(e.position().map(|p| p.line), Some(10));
    let e = profile_error(&format!("{HEAD}{one}    limit: 3\n"));
    assert!(e.to_string().contains("limit"), "{e}");
    let e = profile_error(&format!("{HEAD}  - spec_id: acc x\n    clause: c\n    description: d\n    metric: setup_time\n    expr: max<3s\n"));
    assert_eq!(e.field(), "thresholds[0].spec_id");
    let e = profile_error("name: t\ntitle: T\nsource: S\nconfidence: 95\nthresholds: []\n");
    assert_eq!(
        e.to_string(),
        "p.yaml:4:13: confidence: must be between 0 and 1 (e.g. 0.95), got 95"
    );
    let e = profile_error("name: t\ntitle: T\nsource: S\nthresholds: []\n");
    assert_eq!(e.field(), "thresholds");
}

#[test]
fn profiles_by_name_or_path() {
    let e = load_profile("yd2823").expect_err("unknown name");
    assert!(e.to_string().contains("built-in: yd2823-acceptance"), "{e}");
    let e = load_profile("/nonexistent/p.yaml").expect_err("missing file");
    assert!(matches!(e, ScenarioError::Read { .. }));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mine.yaml");
    std::fs::write(
        &path,
        format!("{HEAD}  - spec_id: SYS-SETUP-RESPONSE\n    clause: c\n    description: d\n    metric: setup_time\n    expr: p(99)<=3s\n"),
    )
    .expect("write");
    let p = load_profile(&path.to_string_lossy()).expect("valid");
    assert_eq!(
        p.thresholds[0].label(),
        "SYS-SETUP-RESPONSE setup_time: p(99)<=3s"
    );
    assert_eq!(p.file, path);
}

#[test]
fn idle_and_busy_limits_are_judged_on_their_phases_calls() {
    let p = load_profile("yd2823-acceptance").expect("valid");
    let thresholds = [
        by_id(&p, "ACC-CCR-IDLE").clone(),
        by_id(&p, "ACC-CCR-BUSY").clone(),
    ];
    let metric = thresholds[0].metric.clone();
    let rates = |ok: u64, n: u64| {
        let mut m = Measurements::default();
        m.rates.insert(metric.clone(), (ok, n));
        m
    };
    // Idle: 40 000 clean calls. Busy: 40 000 with 100 lost (99.75 % < 99.96 %).
    let (idle, busy) = (rates(40_000, 40_000), rates(39_900, 40_000));
    let whole = rates(79_900, 80_000);
    let e = evaluate_phased(&thresholds, &whole, Some(&idle), Some(&busy));
    let status: Vec<Status> = e.verdicts.iter().map(|v| v.status).collect();
    assert_eq!(status, [Status::Pass, Status::Fail], "{:#?}", e.verdicts);
    assert_eq!(e.verdicts[0].samples, 40_000);
    assert!(
        e.verdicts[0].detail.contains("idle phase"),
        "{}",
        e.verdicts[0].detail
    );
    assert_eq!(e.status, Status::Fail);
    // Judged whole (no phases), the idle limit would take the busy phase's failures too.
    let whole_only = evaluate_phased(&thresholds, &whole, None, None);
    assert_eq!(whole_only.verdicts[0].status, Status::Fail);
    assert_eq!(whole_only.verdicts[0].samples, 80_000);
    assert_eq!(
        whole_only,
        evaluate(&thresholds, &whole, &RunConditions::default())
    );
}

/// A run under the `poor` network is judged by ACC-PESQ-POOR only; the other conditions'
/// limits do not apply to it, and the raw scores are what is compared.
#[test]
fn pesq_limits_apply_to_their_own_network_only() {
    let p = load_profile("yd2823-acceptance").expect("valid");
    let thresholds: Vec<Threshold> = ["ACC-PESQ-GOOD", "ACC-PESQ-POOR", "ACC-PESQ-BAD"]
        .iter()
        .map(|id| by_id(&p, id).clone())
        .collect();
    let raw = SampleSet::new((0..30).map(|i| 3.6 + f64::from(i % 5) * 0.02).collect());
    let mut m = Measurements::default();
    m.scores.insert("pesq_raw".into(), &raw);
    let e = evaluate_phased_on(&thresholds, &m, None, None, NetworkCondition::Poor);
    let status: Vec<Status> = e.verdicts.iter().map(|v| v.status).collect();
    assert_eq!(
        status,
        [Status::NotApplicable, Status::Pass, Status::NotApplicable],
        "{:#?}",
        e.verdicts
    );
    // Without a declared network every limit applies: 3.64 is not above 3.8.
    let any = evaluate_phased(&thresholds, &m, None, None);
    assert_eq!(any.verdicts[0].status, Status::Fail);
}
