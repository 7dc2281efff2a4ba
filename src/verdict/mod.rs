//! Verdicts: thresholds in k6 syntax, carried by SPEC.md ids in threshold profiles, judged
//! against a run's measurements with confidence intervals.
//!
//! - [`expr`]: `p(95)<1s`, `avg<=800ms`, `rate>=0.9999`, parsed with column-precise errors.
//! - [`metric`]: the metrics a threshold may name, their kind and SPEC ids.
//! - [`threshold`]: a metric and an expression that fits it, with its clause, phase, network.
//! - [`stats`]: Wilson and t intervals, order-statistic ranks, sample sizes.
//! - [`eval`]: pass / fail / inconclusive / not measured, and the overall status.
//! - [`profile`]: the shipped profiles (`scenarios/profiles/*.yaml`, embedded) and loading.
//! - [`score`]: certification score factors (SPEC.md §D) and the P.862.1 mapping.
//!
//! Everything is pure: no clock, no IO except reading a profile file.

pub mod eval;
pub mod expr;
pub mod metric;
pub mod profile;
pub mod score;
pub mod stats;
pub mod threshold;

pub use eval::{
    evaluate, evaluate_one, evaluate_phased, evaluate_phased_on, overall, DelayStats, Evaluation,
    Measurements, RunConditions, SampleSet, Status, Verdict,
};
pub use expr::{parse_threshold, Aggregation, ExprError, Limit, Op, ThresholdExpr, Unit};
pub use metric::{lookup_metric, MetricInfo, MetricKind, METRICS};
pub use profile::{load_profile, parse_profile, Profile, BUILTIN_PROFILES};
pub use threshold::{
    parse_threshold_map, threshold_from_yaml, NetworkCondition, Phase, ScoreScale, Threshold,
};

use thiserror::Error;

/// A threshold that cannot be built (the CLI's exit 104: invalid configuration).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerdictError {
    /// The metric name is not in [`METRICS`].
    #[error("unknown metric `{name}`{}", hint.map(|h| format!(" (did you mean {h}?)")).unwrap_or_default())]
    UnknownMetric {
        /// The name as written.
        name: String,
        /// The closest known name, if one is close.
        hint: Option<&'static str>,
    },
    /// The expression does not parse, or does not fit the metric's kind.
    #[error("{metric}: `{expression}`: {source}")]
    Expression {
        /// The metric.
        metric: String,
        /// The expression as written.
        expression: String,
        /// Where and what was expected.
        source: ExprError,
    },
}

#[cfg(test)]
mod tests;
