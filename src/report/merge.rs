//! `callcert report merge` and `report check`: finished runs read back from their report.json,
//! shards combined (counters added, HDR histograms merged bucket by bucket — never averaged),
//! and verdicts judged again, against the run's own thresholds or another profile.
//! `callcert plan`: the sample each threshold needs before a run starts.

use super::{Report, RunInfo};
use crate::metrics::{MetricsSnapshot, RunMetrics};
use crate::verdict::{self, Aggregation, MetricKind, Threshold};
use serde_json::Value;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Errors reading finished runs back.
#[derive(Debug, Error)]
pub enum MergeError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not a callcert report.json of this layout.
    #[error("{path}: not a callcert report.json (schema_version 1): {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A threshold stored in the report no longer parses.
    #[error("{path}: threshold {metric}: {expr}: {reason}")]
    Threshold {
        /// The file.
        path: PathBuf,
        /// Metric.
        metric: String,
        /// Expression.
        expr: String,
        /// Why.
        reason: String,
    },
}

/// A finished run as read back from its report.json.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its configuration.
    pub run: RunInfo,
    /// Its profile, if any.
    pub profile: Option<String>,
    /// The thresholds it was judged against.
    pub thresholds: Vec<Threshold>,
    /// Its lossless aggregates.
    pub metrics: RunMetrics,
    /// Its failed calls, as stored.
    pub failed_calls: Vec<Value>,
}

/// Reads `report.json` (or a directory holding one).
pub fn read_run(path: &Path) -> Result<StoredRun, MergeError> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| MergeError::Read {
        path: file.clone(),
        reason: e.to_string(),
    })?;
    let format = |reason: String| MergeError::Format {
        path: file.clone(),
        reason,
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    if v["schema_version"] != 1 {
        return Err(format("schema_version is not 1".into()));
    }
    let run: RunInfo =
        serde_json::from_value(v["run"].clone()).map_err(|e| format(format!("run: {e}")))?;
    let snap: MetricsSnapshot = serde_json::from_value(v["aggregates"].clone())
        .map_err(|e| format(format!("aggregates: {e}")))?;
    let metrics = RunMetrics::from_snapshot(&snap).map_err(|e| format(e.to_string()))?;
    let mut thresholds = Vec::new();
    for item in v["verdict"]["verdicts"].as_array().into_iter().flatten() {
        thresholds.push(threshold_from_json(&file, &item["threshold"])?);
    }
    Ok(StoredRun {
        path: file.clone(),
        run,
        profile: v["profile"].as_str().map(str::to_string),
        thresholds,
        metrics,
        failed_calls: v["failed_calls"].as_array().cloned().unwrap_or_default(),
    })
}

fn threshold_from_json(file: &Path, t: &Value) -> Result<Threshold, MergeError> {
    let metric = t["metric"].as_str().unwrap_or_default().to_string();
    let expr = t["expr"].as_str().unwrap_or_default().to_string();
    let mut th = Threshold::new(&metric, &expr).map_err(|e| MergeError::Threshold {
        path: file.to_path_buf(),
        metric: metric.clone(),
        expr: expr.clone(),
        reason: e.to_string(),
    })?;
    let text = |k: &str| t[k].as_str().map(str::to_string);
    th.spec_id = text("spec_id");
    th.clause = text("clause");
    th.description = text("description");
    th.optional = t["optional"].as_bool().unwrap_or(false);
    if let Ok(p) = serde_json::from_value(t["phase"].clone()) {
        th.phase = p;
    }
    if let Ok(n) = serde_json::from_value(t["network"].clone()) {
        th.network = n;
    }
    if let Ok(s) = serde_json::from_value(t["scale"].clone()) {
        th.scale = s;
    }
    Ok(th)
}

/// Combines shards into one run: counts add, histograms merge, the span covers all shards.
pub fn merge_runs(runs: &[StoredRun]) -> Option<StoredRun> {
    let first = runs.first()?;
    let mut merged = first.clone();
    merged.run.scenario = if runs.iter().all(|r| r.run.scenario == first.run.scenario) {
        first.run.scenario.clone()
    } else {
        runs.iter()
            .map(|r| r.run.scenario.as_str())
            .collect::<Vec<_>>()
            .join("+")
    };
    let end = runs
        .iter()
        .map(|r| r.run.started_unix_s + r.run.duration_s)
        .fold(f64::MIN, f64::max);
    for r in &runs[1..] {
        merged.metrics.merge(&r.metrics);
        merged.run.calls += r.run.calls;
        merged.run.rate += r.run.rate;
        merged.run.started_unix_s = merged.run.started_unix_s.min(r.run.started_unix_s);
        merged.failed_calls.extend(r.failed_calls.iter().cloned());
    }
    merged.run.duration_s = end - merged.run.started_unix_s;
    merged.failed_calls.truncate(crate::engine::MAX_FAILED_KEPT);
    merged.path = PathBuf::new();
    Some(merged)
}

/// Judges a stored run against thresholds (its own, or a profile's).
pub fn judge(run: &StoredRun, thresholds: &[Threshold]) -> verdict::Evaluation {
    verdict::evaluate(
        thresholds,
        &run.metrics.measurements(),
        &verdict::RunConditions::default(),
    )
}

/// A report for a stored (possibly merged) run, judged against `thresholds`.
pub fn report_for(run: &StoredRun, profile: Option<String>, thresholds: &[Threshold]) -> Report {
    Report::from_metrics(
        run.run.clone(),
        profile,
        &run.metrics,
        judge(run, thresholds),
    )
}

/// One line of `callcert plan`: what a threshold needs to be decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanLine {
    /// The threshold.
    pub label: String,
    /// Samples needed to decide it at best (no failures, or a percentile's rank), if fixed.
    pub needed: Option<u64>,
    /// What the planned run gives it.
    pub planned: u64,
    /// Human explanation.
    pub note: String,
}

/// The sample each threshold needs, against the calls a scenario plans.
pub fn plan(thresholds: &[Threshold], calls: u64, confidence: f64) -> Vec<PlanLine> {
    thresholds
        .iter()
        .map(|t| {
            let label = t.label();
            let kind = t.info().map(|i| i.kind);
            let measured = t.info().is_some_and(|i| i.measured);
            let (needed, note) = match (&t.expr.aggregation, kind) {
                (_, _) if !measured => (None, "not measured by callcert yet".to_string()),
                (Aggregation::Rate, Some(MetricKind::Rate)) => {
                    let p0 = t.expr.limit.number;
                    match verdict::stats::zero_failure_trials(p0, confidence) {
                        Some(n) => (
                            Some(n),
                            format!("passes only with ≥ {n} calls and no failure at {confidence} confidence"),
                        ),
                        None => (None, "limit outside (0, 1)".into()),
                    }
                }
                (Aggregation::Percentile(q), _) => {
                    let upper = t.expr.op.is_upper_limit().unwrap_or(true);
                    match verdict::stats::quantile_samples_needed(q / 100.0, confidence, upper) {
                        Some(n) => (Some(n), format!("p({q}) can be bounded from {n} samples")),
                        None => (None, "percentile cannot be bounded".into()),
                    }
                }
                (Aggregation::Avg, _) => (
                    Some(2),
                    "a mean is decided by its t-interval: the sample needed depends on the spread"
                        .into(),
                ),
                _ => (Some(1), "compared as measured".into()),
            };
            let note = match needed {
                Some(n) if n > calls => format!("{note}; the run plans {calls}: cannot PASS"),
                _ => note,
            };
            PlanLine {
                label,
                needed,
                planned: calls,
                note,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_says_when_a_rate_cannot_be_shown() {
        let t = vec![
            Threshold::new("call_completion_rate", "rate>=0.9999").unwrap(),
            Threshold::new("post_dial_delay", "p(95)<1s").unwrap(),
            Threshold::new("pesq_raw", "avg>3.8").unwrap(),
        ];
        let p = plan(&t, 500, 0.95);
        assert_eq!(p[0].needed, Some(29_956));
        assert!(p[0].note.contains("cannot PASS"), "{}", p[0].note);
        assert!(p[1].needed.unwrap() <= 500);
        assert!(p[2].note.contains("not measured"));
    }
}
