//! Evaluation of thresholds against a run's measurements: each threshold is `pass`, `fail`,
//! `inconclusive` (the confidence interval straddles the limit; the verdict says how many
//! samples would decide it), `not_measured` or `not_applicable` (another load phase or network
//! condition).
//!
//! Decisions are one-sided at the run's confidence `c` (default 95 %): `rate>=p0` passes when
//! the lower bound of the rate is at least p0 and fails when the upper bound is below it; each
//! bound holds with probability c, so the reported interval is a two-sided (2c − 1) interval
//! (90 % at the default). Rates use Wilson bounds (exact at zero failures), means the t
//! interval, percentiles distribution-free order-statistic bounds; min, max and count are
//! compared as they are.

use super::expr::{Aggregation, Op};
use super::metric::MetricKind;
use super::stats::{
    mean_bounds, mean_samples_needed, proportion_bounds, quantile_ranks, quantile_samples_needed,
    rate_trials_needed, valid_confidence, DEFAULT_CONFIDENCE,
};
use super::threshold::{NetworkCondition, Phase, Threshold};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Summary statistics of a delay (or score) metric, the input of delay and score verdicts.
///
/// Values are milliseconds for delays and the score itself for scores (the `_ms` names then
/// just mean "the value").
pub trait DelayStats {
    /// Number of samples.
    fn count(&self) -> u64;
    /// Mean.
    fn mean_ms(&self) -> f64;
    /// Sample standard deviation (n − 1 in the denominator).
    fn stddev_ms(&self) -> f64;
    /// Smallest sample.
    fn min_ms(&self) -> f64;
    /// Largest sample.
    fn max_ms(&self) -> f64;
    /// The value at percentile `p` (0 < p ≤ 100): the smallest sample with at least p % of the
    /// samples at or below it (the nearest-rank definition, as HdrHistogram).
    fn percentile_ms(&self, p: f64) -> f64;
}

/// A histogram of **microseconds** (as `crate::metrics` records delays), reported in ms.
///
/// Percentiles and max are HdrHistogram's highest-equivalent values (within its precision,
/// never below the true value); the standard deviation is rescaled from HdrHistogram's
/// population value to the sample one.
impl DelayStats for Histogram<u64> {
    fn count(&self) -> u64 {
        self.len()
    }
    fn mean_ms(&self) -> f64 {
        self.mean() / 1_000.0
    }
    fn stddev_ms(&self) -> f64 {
        let n = self.len();
        if n < 2 {
            return 0.0;
        }
        let n = n as f64;
        self.stdev() * (n / (n - 1.0)).sqrt() / 1_000.0
    }
    fn min_ms(&self) -> f64 {
        self.min() as f64 / 1_000.0
    }
    fn max_ms(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.max() as f64 / 1_000.0
        }
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        self.value_at_quantile(p / 100.0) as f64 / 1_000.0
    }
}

/// Every sample kept, sorted: for small sets such as PESQ scores of a few dozen calls (delays
/// of long runs belong in histograms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleSet {
    sorted: Vec<f64>,
    mean: f64,
    stddev: f64,
}

impl SampleSet {
    /// The samples, in any order; NaN values are dropped.
    pub fn new(mut samples: Vec<f64>) -> Self {
        samples.retain(|v| !v.is_nan());
        samples.sort_by(f64::total_cmp);
        let n = samples.len() as f64;
        let mean = if samples.is_empty() {
            0.0
        } else {
            samples.iter().sum::<f64>() / n
        };
        let stddev = if samples.len() < 2 {
            0.0
        } else {
            (samples.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        SampleSet {
            sorted: samples,
            mean,
            stddev,
        }
    }
}

impl DelayStats for SampleSet {
    fn count(&self) -> u64 {
        self.sorted.len() as u64
    }
    fn mean_ms(&self) -> f64 {
        self.mean
    }
    fn stddev_ms(&self) -> f64 {
        self.stddev
    }
    fn min_ms(&self) -> f64 {
        self.sorted.first().copied().unwrap_or(0.0)
    }
    fn max_ms(&self) -> f64 {
        self.sorted.last().copied().unwrap_or(0.0)
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * n as f64).ceil().clamp(1.0, n as f64) as usize;
        self.sorted[rank - 1]
    }
}

/// What a run measured, by metric name: the input of [`evaluate`].
#[derive(Default)]
pub struct Measurements<'a> {
    /// Rate metrics: (successes, trials).
    pub rates: BTreeMap<String, (u64, u64)>,
    /// Delay metrics, values in ms.
    pub delays: BTreeMap<String, &'a dyn DelayStats>,
    /// Score metrics (PESQ raw, MOS-LQO).
    pub scores: BTreeMap<String, &'a dyn DelayStats>,
}

/// The conditions of the run being judged; `Any` means not declared, and then every
/// threshold applies (the strictest limit governs: an undeclared run meets the idle limits).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunConditions {
    /// The load phase of the run (SPEC.md §A idle / busy).
    pub phase: Phase,
    /// The network condition of the run (ACC-PESQ-GOOD/POOR/BAD).
    pub network: NetworkCondition,
    /// One-sided confidence of each decision, 0 < c < 1.
    pub confidence: f64,
}

impl Default for RunConditions {
    fn default() -> Self {
        RunConditions {
            phase: Phase::Any,
            network: NetworkCondition::Any,
            confidence: DEFAULT_CONFIDENCE,
        }
    }
}

/// The outcome of one threshold, or of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Shown to hold at the confidence level.
    Pass,
    /// Shown not to hold.
    Fail,
    /// The sample cannot show it either way; see `needed_samples`.
    Inconclusive,
    /// The metric has no samples in this run.
    NotMeasured,
    /// The threshold is for another load phase or network condition.
    NotApplicable,
}

impl Status {
    /// A short mark for summaries: ✓ ✗ ? – .
    pub fn mark(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Fail => "✗",
            Self::Inconclusive => "?",
            Self::NotMeasured | Self::NotApplicable => "–",
        }
    }
}

/// The verdict on one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The threshold judged.
    pub threshold: Threshold,
    /// Its outcome.
    pub status: Status,
    /// The point estimate compared (ms for delays, a ratio for rates, the score, or a count).
    pub measured: Option<f64>,
    /// The one-sided bounds (lower, upper) of the estimate, when it has them.
    pub interval: Option<(f64, f64)>,
    /// Samples (trials for rates) it was judged on.
    pub samples: u64,
    /// For inconclusive verdicts: about how many samples would decide it if the observed value
    /// holds.
    pub needed_samples: Option<u64>,
    /// The unit of `measured` and `interval`: `ms`, `ratio`, `count` or the score scale.
    pub unit: &'static str,
    /// One line for humans.
    pub detail: String,
}

/// The verdicts of a run and the overall status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Fail if any fails; else inconclusive if any is inconclusive or a non-optional threshold
    /// is not measured; else pass.
    pub status: Status,
    /// The conditions judged under.
    pub conditions: RunConditions,
    /// One per threshold, in the order given.
    pub verdicts: Vec<Verdict>,
}

/// Judges every threshold against the measurements.
pub fn evaluate(
    thresholds: &[Threshold],
    measurements: &Measurements<'_>,
    conditions: &RunConditions,
) -> Evaluation {
    let verdicts: Vec<Verdict> = thresholds
        .iter()
        .map(|t| evaluate_one(t, measurements, conditions))
        .collect();
    Evaluation {
        status: overall(&verdicts),
        conditions: *conditions,
        verdicts,
    }
}

/// Judges each threshold on the calls it is about. A run whose load profile has idle and busy
/// phases (the standard's sequence) is judged per phase for the limits that name one
/// (ACC-CCR-IDLE on the idle phase's calls, ACC-CCR-BUSY on the busy phase's, likewise the IVR
/// success rates); every other threshold, and a phase limit when the run had no phase of that
/// name, is judged on the whole run as [`evaluate`] does.
pub fn evaluate_phased(
    thresholds: &[Threshold],
    whole: &Measurements<'_>,
    idle: Option<&Measurements<'_>>,
    busy: Option<&Measurements<'_>>,
) -> Evaluation {
    evaluate_phased_on(thresholds, whole, idle, busy, NetworkCondition::Any)
}

/// [`evaluate_phased`] for a run made under a declared network condition: thresholds of
/// another condition (ACC-PESQ-GOOD/POOR/BAD) are not applicable.
pub fn evaluate_phased_on(
    thresholds: &[Threshold],
    whole: &Measurements<'_>,
    idle: Option<&Measurements<'_>>,
    busy: Option<&Measurements<'_>>,
    network: NetworkCondition,
) -> Evaluation {
    let whole_run = RunConditions {
        network,
        ..RunConditions::default()
    };
    let verdicts: Vec<Verdict> = thresholds
        .iter()
        .map(|t| {
            let phase = match t.phase {
                Phase::Idle => idle.map(|m| (m, "idle")),
                Phase::Busy => busy.map(|m| (m, "busy")),
                Phase::Any => None,
            };
            match phase {
                Some((m, name)) => {
                    let conditions = RunConditions {
                        phase: t.phase,
                        ..whole_run
                    };
                    let mut v = evaluate_one(t, m, &conditions);
                    v.detail
                        .push_str(&format!(" (the calls scheduled in the {name} phase)"));
                    v
                }
                None => evaluate_one(t, whole, &whole_run),
            }
        })
        .collect();
    Evaluation {
        status: overall(&verdicts),
        conditions: whole_run,
        verdicts,
    }
}

/// The overall status of a set of verdicts (pass when there are none).
pub fn overall(verdicts: &[Verdict]) -> Status {
    if verdicts.iter().any(|v| v.status == Status::Fail) {
        Status::Fail
    } else if verdicts.iter().any(|v| {
        v.status == Status::Inconclusive
            || (v.status == Status::NotMeasured && !v.threshold.optional)
    }) {
        Status::Inconclusive
    } else {
        Status::Pass
    }
}

/// Judges one threshold.
pub fn evaluate_one(
    threshold: &Threshold,
    measurements: &Measurements<'_>,
    conditions: &RunConditions,
) -> Verdict {
    let mut verdict = Verdict {
        threshold: threshold.clone(),
        status: Status::NotMeasured,
        measured: None,
        interval: None,
        samples: 0,
        needed_samples: None,
        unit: threshold.info().map_or("", |i| i.unit),
        detail: String::new(),
    };
    if let Some(reason) = not_applicable(threshold, conditions) {
        verdict.status = Status::NotApplicable;
        verdict.detail = reason;
        return verdict;
    }
    let confidence = if valid_confidence(conditions.confidence) {
        conditions.confidence
    } else {
        DEFAULT_CONFIDENCE
    };
    let Some(info) = threshold.info() else {
        verdict.detail = format!("unknown metric {}", threshold.metric);
        return verdict;
    };
    let name = threshold.metric.as_str();
    match info.kind {
        MetricKind::Rate => match measurements.rates.get(name) {
            Some(&(successes, trials)) => {
                judge_rate(&mut verdict, successes, trials, confidence);
            }
            None => verdict.detail = absent(name, info.measured),
        },
        MetricKind::Delay | MetricKind::Score => {
            let map = if info.kind == MetricKind::Delay {
                &measurements.delays
            } else {
                &measurements.scores
            };
            match map.get(name) {
                Some(stats) => judge_samples(&mut verdict, *stats, confidence),
                None => verdict.detail = absent(name, info.measured),
            }
        }
    }
    if let Some(note) = undeclared_note(threshold, conditions) {
        verdict.detail.push_str(&note);
    }
    verdict
}

/// Why a threshold does not apply to a run, if it does not.
fn not_applicable(t: &Threshold, run: &RunConditions) -> Option<String> {
    if t.phase != Phase::Any && run.phase != Phase::Any && t.phase != run.phase {
        return Some(format!(
            "judged in the {} phase; this run is {}",
            phase_name(t.phase),
            phase_name(run.phase)
        ));
    }
    if t.network != NetworkCondition::Any
        && run.network != NetworkCondition::Any
        && t.network != run.network
    {
        return Some(format!(
            "judged on a {} network; this run had a {} one",
            network_name(t.network),
            network_name(run.network)
        ));
    }
    None
}

/// A note when a phase- or network-specific limit was applied to a run that declared neither.
fn undeclared_note(t: &Threshold, run: &RunConditions) -> Option<String> {
    let mut notes = Vec::new();
    if t.phase != Phase::Any && run.phase == Phase::Any {
        notes.push(format!(
            "the run declared no load phase; the {} limit was applied",
            phase_name(t.phase)
        ));
    }
    if t.network != NetworkCondition::Any && run.network == NetworkCondition::Any {
        notes.push(format!(
            "the run declared no network condition; the {}-network limit was applied",
            network_name(t.network)
        ));
    }
    (!notes.is_empty()).then(|| format!(" ({})", notes.join("; ")))
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Any => "undeclared",
        Phase::Idle => "idle",
        Phase::Busy => "busy",
    }
}

fn network_name(n: NetworkCondition) -> &'static str {
    match n {
        NetworkCondition::Any => "undeclared",
        NetworkCondition::Good => "good",
        NetworkCondition::Poor => "poor",
        NetworkCondition::Bad => "bad",
    }
}

fn absent(name: &str, measured: bool) -> String {
    if measured {
        format!("no samples of {name} in this run")
    } else {
        format!("callcert does not measure {name} yet")
    }
}

/// Pass (`Some(true)`), fail (`Some(false)`) or undecided (`None`) for a value known to lie in
/// `[lower, upper]` (each bound may be infinite when unknown).
fn decide(op: Op, lower: f64, upper: f64, limit: f64) -> Option<bool> {
    let (pass, fail) = match op {
        Op::Le => (upper <= limit, lower > limit),
        Op::Lt => (upper < limit, lower >= limit),
        Op::Ge => (lower >= limit, upper < limit),
        Op::Gt => (lower > limit, upper <= limit),
        // Equality is compared on the point estimate (lower == upper is passed in).
        Op::Eq => (lower == limit, lower != limit),
        Op::Ne => (lower != limit, lower == limit),
    };
    if pass {
        Some(true)
    } else if fail {
        Some(false)
    } else {
        None
    }
}

fn status_of(decision: Option<bool>) -> Status {
    match decision {
        Some(true) => Status::Pass,
        Some(false) => Status::Fail,
        None => Status::Inconclusive,
    }
}

/// `c` as a percentage for details: `95 %`.
fn percent(c: f64) -> String {
    format!("{} %", trim(c * 100.0, 4))
}

/// A number with at most `decimals` decimals, trailing zeros removed.
fn trim(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn judge_rate(v: &mut Verdict, successes: u64, trials: u64, confidence: f64) {
    let expr = &v.threshold.expr;
    let (op, limit) = (expr.op, expr.limit.number);
    v.samples = trials;
    if expr.aggregation == Aggregation::Count {
        v.unit = "count";
        v.measured = Some(trials as f64);
        v.status = status_of(decide(op, trials as f64, trials as f64, limit));
        v.detail = format!("{trials} trials; limit count{op}{}", trim(limit, 0));
        return;
    }
    if successes > trials {
        v.detail = format!("inconsistent counts: {successes} successes of {trials} trials");
        return;
    }
    let Some((lower, upper)) = proportion_bounds(successes, trials, confidence) else {
        v.detail = format!("no trials of {} in this run", v.threshold.metric);
        return;
    };
    let rate = successes as f64 / trials as f64;
    v.measured = Some(rate);
    let decision = if op.is_upper_limit().is_some() {
        v.interval = Some((lower, upper));
        decide(op, lower, upper, limit)
    } else {
        decide(op, rate, rate, limit)
    };
    v.status = status_of(decision);
    let mut detail = format!("{successes}/{trials} = {} %", trim(rate * 100.0, 4),);
    if let Some((lo, hi)) = v.interval {
        detail.push_str(&format!(
            ", one-sided {} bounds {}–{} %",
            percent(confidence),
            trim(lo * 100.0, 4),
            trim(hi * 100.0, 4)
        ));
    }
    detail.push_str(&format!("; limit rate{op}{}", trim(limit, 6)));
    if v.status == Status::Inconclusive {
        v.needed_samples =
            rate_trials_needed(rate, limit, confidence).map(|n| n.max(trials.saturating_add(1)));
        detail.push_str(&straddle_note(v.needed_samples, "trials"));
    }
    v.detail = detail;
}

fn straddle_note(needed: Option<u64>, what: &str) -> String {
    match needed {
        Some(n) => format!(
            "; the interval straddles the limit: about {n} {what} would decide it if the observed value holds"
        ),
        None => "; the interval straddles the limit and the estimate sits on it".to_string(),
    }
}

fn judge_samples(v: &mut Verdict, stats: &dyn DelayStats, confidence: f64) {
    let expr = v.threshold.expr.clone();
    let op = expr.op;
    let is_delay = v.threshold.info().map(|i| i.kind) == Some(MetricKind::Delay);
    let limit = if is_delay {
        expr.limit.millis()
    } else {
        expr.limit.number
    };
    let n = stats.count();
    v.samples = n;
    if expr.aggregation == Aggregation::Count {
        v.unit = "count";
        v.measured = Some(n as f64);
        v.status = status_of(decide(op, n as f64, n as f64, limit));
        v.detail = format!("{n} samples; limit count{op}{}", trim(limit, 0));
        return;
    }
    if n == 0 {
        v.detail = format!("no samples of {} in this run", v.threshold.metric);
        return;
    }
    let unit = if is_delay { " ms" } else { "" };
    let show = |x: f64| format!("{}{unit}", trim(x, 3));
    let limit_text = format!("limit {}{op}{}", expr.aggregation, show(limit));
    match expr.aggregation {
        Aggregation::Avg => {
            let mean = stats.mean_ms();
            let sd = stats.stddev_ms();
            v.measured = Some(mean);
            let bounds = if op.is_upper_limit().is_some() {
                mean_bounds(n, mean, sd, confidence)
            } else {
                Some((mean, mean))
            };
            let mut detail = format!("mean {} over {n} samples", show(mean));
            match bounds {
                Some((lo, hi)) => {
                    if op.is_upper_limit().is_some() {
                        v.interval = Some((lo, hi));
                        detail.push_str(&format!(
                            ", one-sided {} bounds {}–{}",
                            percent(confidence),
                            show(lo),
                            show(hi)
                        ));
                    }
                    v.status = status_of(decide(op, lo, hi, limit));
                }
                None => v.status = Status::Inconclusive,
            }
            detail.push_str(&format!("; {limit_text}"));
            if v.status == Status::Inconclusive {
                v.needed_samples = mean_samples_needed(sd, (mean - limit).abs(), confidence)
                    .map(|k| k.max(n.saturating_add(1)));
                if n < 2 {
                    v.needed_samples = Some(v.needed_samples.unwrap_or(2).max(2));
                    detail.push_str("; one sample has no spread: at least 2 are needed");
                } else {
                    detail.push_str(&straddle_note(v.needed_samples, "samples"));
                }
            }
            v.detail = detail;
        }
        Aggregation::Value => point(
            v,
            stats.mean_ms(),
            limit,
            "mean (point estimate)",
            &show,
            &limit_text,
        ),
        Aggregation::Min => point(v, stats.min_ms(), limit, "min", &show, &limit_text),
        Aggregation::Max => point(v, stats.max_ms(), limit, "max", &show, &limit_text),
        Aggregation::Percentile(p) if p >= 100.0 => {
            point(v, stats.max_ms(), limit, "p(100) = max", &show, &limit_text)
        }
        Aggregation::Med => judge_percentile(v, stats, 50.0, limit, confidence, &show, &limit_text),
        Aggregation::Percentile(p) => {
            judge_percentile(v, stats, p, limit, confidence, &show, &limit_text)
        }
        // Handled above, or refused when the threshold was built.
        Aggregation::Count | Aggregation::Rate => {
            v.detail = format!(
                "{} does not apply to {}",
                expr.aggregation, v.threshold.metric
            );
        }
    }
}

/// A point comparison (min, max, a score's value).
fn point(
    v: &mut Verdict,
    measured: f64,
    limit: f64,
    what: &str,
    show: &dyn Fn(f64) -> String,
    limit_text: &str,
) {
    let op = v.threshold.expr.op;
    v.measured = Some(measured);
    v.status = status_of(decide(op, measured, measured, limit));
    v.detail = format!(
        "{what} {} over {} samples; {limit_text}",
        show(measured),
        v.samples
    );
}

/// A percentile with distribution-free order-statistic bounds.
fn judge_percentile(
    v: &mut Verdict,
    stats: &dyn DelayStats,
    p: f64,
    limit: f64,
    confidence: f64,
    show: &dyn Fn(f64) -> String,
    limit_text: &str,
) {
    let op = v.threshold.expr.op;
    let n = v.samples;
    let q = p / 100.0;
    let measured = stats.percentile_ms(p);
    v.measured = Some(measured);
    let mut detail = format!("p({}) {} over {n} samples", trim(p, 4), show(measured));
    let Some(upper_limit) = op.is_upper_limit() else {
        v.status = status_of(decide(op, measured, measured, limit));
        v.detail = format!("{detail}; {limit_text}");
        return;
    };
    // X₍ₖ₎ through the percentile interface: rank k of n is percentile 100·(k − ½)/n.
    let at_rank = |k: u64| stats.percentile_ms(100.0 * (k as f64 - 0.5) / n as f64);
    let (low_rank, high_rank) = quantile_ranks(n, q, confidence);
    let lower = low_rank.map_or(f64::NEG_INFINITY, at_rank);
    let upper = high_rank.map_or(f64::INFINITY, at_rank);
    if lower.is_finite() && upper.is_finite() {
        v.interval = Some((lower, upper));
        detail.push_str(&format!(
            ", one-sided {} bounds {}–{}",
            percent(confidence),
            show(lower),
            show(upper)
        ));
    }
    v.status = status_of(decide(op, lower, upper, limit));
    detail.push_str(&format!("; {limit_text}"));
    if v.status == Status::Inconclusive {
        // The side that would show a pass needs a bound at all…
        let bound_needed = quantile_samples_needed(q, confidence, upper_limit);
        let bound_missing = if upper_limit {
            high_rank.is_none()
        } else {
            low_rank.is_none()
        };
        // …and then enough samples to separate the share of samples under the limit from q.
        let share = share_below(stats, limit);
        let separate = rate_trials_needed(share, q, confidence);
        v.needed_samples = match (bound_missing.then_some(bound_needed).flatten(), separate) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
        .map(|k| k.max(n.saturating_add(1)));
        if bound_missing {
            detail.push_str(&format!(
                "; {n} samples are too few to bound p({}) from the {} side",
                trim(p, 4),
                if upper_limit { "upper" } else { "lower" }
            ));
        }
        detail.push_str(&straddle_note(v.needed_samples, "samples"));
    }
    v.detail = detail;
}

/// The share of samples below `limit`, found by bisection on the percentile function.
fn share_below(stats: &dyn DelayStats, limit: f64) -> f64 {
    let (mut low, mut high) = (0.0_f64, 100.0_f64);
    if stats.percentile_ms(high) < limit {
        return 1.0;
    }
    for _ in 0..50 {
        let mid = (low + high) / 2.0;
        if stats.percentile_ms(mid) < limit {
            low = mid;
        } else {
            high = mid;
        }
    }
    low / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(metric: &str, expr: &str) -> Threshold {
        Threshold::new(metric, expr).expect("valid threshold")
    }

    fn rates(name: &str, successes: u64, trials: u64) -> Measurements<'static> {
        let mut m = Measurements::default();
        m.rates.insert(name.into(), (successes, trials));
        m
    }

    fn judge_delay(metric: &str, expr: &str, samples: Vec<f64>) -> Verdict {
        let set = SampleSet::new(samples);
        let mut m = Measurements::default();
        m.delays.insert(metric.into(), &set);
        evaluate_one(&threshold(metric, expr), &m, &RunConditions::default())
    }

    #[test]
    fn rate_pass_fail_inconclusive() {
        let t = threshold("call_completion_rate", "rate>=0.9999");
        let run = RunConditions::default();
        // Zero failures: 29 956 calls decide 99.99 % at 95 % (stats::zero_failure_trials).
        let v = evaluate_one(&t, &rates("call_completion_rate", 29_956, 29_956), &run);
        assert_eq!(v.status, Status::Pass, "{}", v.detail);
        let v = evaluate_one(&t, &rates("call_completion_rate", 29_955, 29_955), &run);
        assert_eq!(
            (v.status, v.needed_samples),
            (Status::Inconclusive, Some(29_956))
        );
        assert!(v.detail.contains("about 29956 trials"), "{}", v.detail);
        // 3 failures in 10 000 is 99.97 %: the upper bound is below 99.99 %.
        let v = evaluate_one(&t, &rates("call_completion_rate", 9_997, 10_000), &run);
        assert_eq!(v.status, Status::Fail, "{}", v.detail);
        assert_eq!(v.measured, Some(0.9997));
        let v = evaluate_one(&t, &rates("other", 1, 1), &run);
        assert_eq!(v.status, Status::NotMeasured);
        assert_eq!(v.detail, "no samples of call_completion_rate in this run");
        let v = evaluate_one(&t, &rates("call_completion_rate", 0, 0), &run);
        assert_eq!(v.status, Status::NotMeasured);
    }

    #[test]
    fn rate_upper_limits_and_counts() {
        let run = RunConditions::default();
        let t = threshold("connect_rate", "rate<0.05");
        assert_eq!(
            evaluate_one(&t, &rates("connect_rate", 0, 100), &run).status,
            Status::Pass
        );
        assert_eq!(
            evaluate_one(&t, &rates("connect_rate", 10, 100), &run).status,
            Status::Fail
        );
        assert_eq!(
            evaluate_one(&t, &rates("connect_rate", 4, 100), &run).status,
            Status::Inconclusive
        );
        let t = threshold("connect_rate", "count>=100");
        assert_eq!(
            evaluate_one(&t, &rates("connect_rate", 0, 100), &run).status,
            Status::Pass
        );
        assert_eq!(
            evaluate_one(&t, &rates("connect_rate", 0, 99), &run).status,
            Status::Fail
        );
        let t = threshold("connect_rate", "rate==1");
        assert_eq!(
            evaluate_one(&t, &rates("connect_rate", 5, 5), &run).status,
            Status::Pass
        );
    }

    #[test]
    fn mean_with_t_interval() {
        // 10 samples, mean 900 ms, s = √(80 000/9) = 94.28 ms: one-sided 95 % bounds
        // 900 ∓ t(0.95, 9) × 94.28/√10 = 900 ∓ 1.833 × 29.81 = 845.35 … 954.65 ms.
        let samples = vec![
            800.0, 1000.0, 800.0, 1000.0, 800.0, 1000.0, 800.0, 1000.0, 900.0, 900.0,
        ];
        let v = judge_delay("connect_delay", "avg<=1s", samples.clone());
        assert_eq!(v.status, Status::Pass, "{}", v.detail);
        let (lo, hi) = v.interval.expect("interval");
        assert!(
            (hi - 954.65).abs() < 0.05 && (lo - 845.35).abs() < 0.05,
            "{lo} {hi}"
        );
        let v = judge_delay("connect_delay", "avg<=950ms", samples.clone());
        assert_eq!(v.status, Status::Inconclusive);
        assert!(v.needed_samples.is_some_and(|n| n > 10), "{v:?}");
        assert_eq!(
            judge_delay("connect_delay", "avg<=800", samples).status,
            Status::Fail
        );
        // Exactly at the limit with no spread passes `<=` and fails `<`.
        assert_eq!(
            judge_delay("connect_delay", "avg<=1s", vec![1000.0; 5]).status,
            Status::Pass
        );
        assert_eq!(
            judge_delay("connect_delay", "avg<1s", vec![1000.0; 5]).status,
            Status::Fail
        );
        let v = judge_delay("connect_delay", "avg<=1s", vec![500.0]);
        assert_eq!(
            (v.status, v.needed_samples),
            (Status::Inconclusive, Some(2))
        );
    }

    #[test]
    fn percentiles_need_enough_samples() {
        // 20 samples cannot bound p(95) from above.
        let v = judge_delay("post_dial_delay", "p(95)<1s", vec![100.0; 20]);
        assert_eq!(v.status, Status::Inconclusive, "{}", v.detail);
        assert!(v.needed_samples.is_some_and(|n| n > 20));
        let v = judge_delay("post_dial_delay", "p(95)<1s", vec![100.0; 200]);
        assert_eq!(v.status, Status::Pass, "{}", v.detail);
        // 30 % of samples above the limit fails even a small sample.
        let mut s = vec![100.0; 14];
        s.extend([2000.0; 6]);
        assert_eq!(
            judge_delay("post_dial_delay", "p(95)<1s", s).status,
            Status::Fail
        );
        // 5.5 % above the limit in 1000: p(95) is over the limit but not provably.
        let mut s = vec![100.0; 945];
        s.extend([2000.0; 55]);
        let v = judge_delay("post_dial_delay", "p(95)<1s", s);
        assert_eq!(v.status, Status::Inconclusive, "{}", v.detail);
        // Share below 0.945 vs 0.95: 2.7055 × 0.0475 / 0.005² ≈ 5141 trials.
        assert!(
            v.needed_samples
                .is_some_and(|n| (5_000..5_300).contains(&n)),
            "{v:?}"
        );
        assert_eq!(
            judge_delay("post_dial_delay", "med<300", vec![200.0; 100]).status,
            Status::Pass
        );
        assert_eq!(
            judge_delay("post_dial_delay", "p(100)<300", vec![200.0; 3]).status,
            Status::Pass
        );
    }

    #[test]
    fn min_max_are_point_comparisons() {
        assert_eq!(
            judge_delay("setup_time", "max<=3s", vec![3000.0; 3]).status,
            Status::Pass
        );
        assert_eq!(
            judge_delay("setup_time", "max<=3s", vec![100.0, 3000.5]).status,
            Status::Fail
        );
        assert_eq!(
            judge_delay("setup_time", "min>0", vec![0.0, 5.0]).status,
            Status::Fail
        );
        assert_eq!(
            judge_delay("setup_time", "count>=2", vec![]).status,
            Status::Fail
        );
        assert_eq!(
            judge_delay("setup_time", "max<=3s", vec![]).status,
            Status::NotMeasured
        );
    }

    #[test]
    fn phases_networks_and_the_overall_status() {
        let mut idle = threshold("call_completion_rate", "rate>=0.9999");
        idle.phase = Phase::Idle;
        let mut busy = threshold("call_completion_rate", "rate>=0.9996");
        busy.phase = Phase::Busy;
        let m = rates("call_completion_rate", 10_000, 10_000);
        let run = RunConditions {
            phase: Phase::Busy,
            ..RunConditions::default()
        };
        let e = evaluate(&[idle.clone(), busy.clone()], &m, &run);
        assert_eq!(e.verdicts[0].status, Status::NotApplicable);
        assert_eq!(e.verdicts[1].status, Status::Pass);
        assert_eq!(e.status, Status::Pass);
        // An undeclared run is held to both.
        let e = evaluate(&[idle, busy], &m, &RunConditions::default());
        assert_eq!(e.verdicts[0].status, Status::Inconclusive);
        assert!(e.verdicts[0].detail.contains("no load phase"));
        assert_eq!(e.status, Status::Inconclusive);

        let mut dtmf = threshold("pesq_raw", "avg>3.8");
        let e = evaluate(std::slice::from_ref(&dtmf), &m, &run);
        assert_eq!(e.verdicts[0].status, Status::NotMeasured);
        assert_eq!(
            e.verdicts[0].detail,
            "callcert does not measure pesq_raw yet"
        );
        assert_eq!(e.status, Status::Inconclusive);
        dtmf.optional = true;
        assert_eq!(evaluate(&[dtmf], &m, &run).status, Status::Pass);

        let fail = threshold("call_completion_rate", "rate>=1");
        let m = rates("call_completion_rate", 1, 2);
        assert_eq!(evaluate(&[fail], &m, &run).status, Status::Fail);
        assert_eq!(evaluate(&[], &m, &run).status, Status::Pass);
    }

    #[test]
    fn histograms_in_microseconds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
        for ms in [100u64, 200, 300, 400] {
            h.record(ms * 1_000).expect("in range");
        }
        assert_eq!(DelayStats::count(&h), 4);
        assert!((h.mean_ms() - 250.0).abs() < 0.5);
        // Sample sd of 100, 200, 300, 400 is 129.1.
        assert!((h.stddev_ms() - 129.1).abs() < 0.5);
        assert!((h.min_ms() - 100.0).abs() < 0.2 && (h.max_ms() - 400.0).abs() < 0.5);
        assert!((h.percentile_ms(50.0) - 200.0).abs() < 0.5);
        let mut m = Measurements::default();
        m.delays.insert("post_dial_delay".into(), &h);
        let v = evaluate_one(
            &threshold("post_dial_delay", "max<1s"),
            &m,
            &RunConditions::default(),
        );
        assert_eq!(v.status, Status::Pass);
        let json = serde_json::to_value(&v).expect("serializable");
        assert_eq!(json["status"], "pass");
        assert_eq!(json["threshold"]["expr"], "max<1s");
        assert_eq!(json["unit"], "ms");
    }
}
