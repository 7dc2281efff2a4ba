//! A threshold: a known metric, an expression that fits it, the clause it comes from, and the
//! run conditions (load phase, network) it applies to.

use super::expr::{parse_threshold, Aggregation, ExprError, ThresholdExpr, Unit};
use super::metric::{closest_metric, lookup_metric, MetricInfo, MetricKind};
use super::VerdictError;
use crate::scenario::{Position, ScenarioError};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The load phase a threshold is judged in (SPEC.md §A: idle = 0.7 Erl per trunk, busy =
/// 125 % of idle ≈ 0.9 Erl per trunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Any load (the default): averaged over busy and idle, or not load-dependent.
    #[default]
    Any,
    /// Idle load only (ACC-CCR-IDLE, ACC-IVR-SUCCESS-IDLE).
    Idle,
    /// Busy load only (ACC-CCR-BUSY, ACC-IVR-SUCCESS-BUSY).
    Busy,
}

/// The network condition a threshold is judged under (SPEC.md ACC-PESQ-GOOD/POOR/BAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkCondition {
    /// Any network (the default).
    #[default]
    Any,
    /// A good network: no injected impairment (ACC-PESQ-GOOD).
    Good,
    /// 1 % loss, 20 ms jitter, 100 ms delay (ACC-PESQ-POOR).
    Poor,
    /// 5 % loss, 60 ms jitter, 400 ms delay (ACC-PESQ-BAD).
    Bad,
}

/// The scale a score threshold's limit is written on; must match the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreScale {
    /// ITU-T P.862 raw PESQ, −0.5 to 4.5 (metric `pesq_raw`). YD/T 2823 §10.3.1.4 cites P.862
    /// itself, so its 3.8 / 3.4 / 2.8 are raw scores.
    P862Raw,
    /// ITU-T P.862.1 MOS-LQO, 1.02 to 4.55 (metric `mos_lqo`).
    MosLqo,
}

impl ScoreScale {
    /// The scale of a score metric's samples, by name.
    pub fn of_metric(metric: &str) -> Option<ScoreScale> {
        match metric {
            "pesq_raw" => Some(Self::P862Raw),
            "mos_lqo" => Some(Self::MosLqo),
            _ => None,
        }
    }
}

impl fmt::Display for ScoreScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::P862Raw => "p862_raw",
            Self::MosLqo => "mos_lqo",
        })
    }
}

/// One threshold: `metric: expression`, with where it comes from and when it applies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The metric (a name in [`METRICS`](super::METRICS)).
    pub metric: String,
    /// The parsed expression (serialized as written, normalised: `p(95)<1s`).
    pub expr: ThresholdExpr,
    /// The SPEC.md id, for profile thresholds (`ACC-CCR-IDLE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_id: Option<String>,
    /// The source clause (`YD/T 2823-2015 §10.3.1.1 a)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// What the clause requires, in a line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The load phase it is judged in.
    pub phase: Phase,
    /// The network condition it is judged under.
    pub network: NetworkCondition,
    /// When true, a metric with no samples does not hold the run's overall verdict back.
    pub optional: bool,
    /// For score metrics, the scale of the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScoreScale>,
}

impl Threshold {
    /// A threshold on `metric` from a k6 expression; checks the metric is known and the
    /// expression fits its kind (aggregation, unit, range). Applies in any phase and network.
    pub fn new(metric: &str, expression: &str) -> Result<Threshold, VerdictError> {
        let info = lookup_metric(metric).ok_or_else(|| VerdictError::UnknownMetric {
            name: metric.to_string(),
            hint: closest_metric(metric),
        })?;
        let expr = parse_threshold(expression)
            .and_then(|e| check_fit(info, expression, &e).map(|()| e))
            .map_err(|source| VerdictError::Expression {
                metric: metric.to_string(),
                expression: expression.to_string(),
                source,
            })?;
        Ok(Threshold {
            metric: metric.to_string(),
            expr,
            spec_id: None,
            clause: None,
            description: None,
            phase: Phase::Any,
            network: NetworkCondition::Any,
            optional: false,
            scale: None,
        })
    }

    /// The registry entry of the metric (always present for a constructed threshold).
    pub fn info(&self) -> Option<&'static MetricInfo> {
        lookup_metric(&self.metric)
    }

    /// `spec_id metric: expr`, or `metric: expr` without an id: how reports name it.
    pub fn label(&self) -> String {
        match &self.spec_id {
            Some(id) => format!("{id} {}: {}", self.metric, self.expr),
            None => format!("{}: {}", self.metric, self.expr),
        }
    }
}

/// Checks an expression against its metric's kind; errors point at the offending column.
fn check_fit(info: &MetricInfo, text: &str, expr: &ThresholdExpr) -> Result<(), ExprError> {
    let aggregation_column = text.chars().take_while(|c| c.is_whitespace()).count() + 1;
    if !info.kind.allows(expr.aggregation) {
        return Err(ExprError::new(
            aggregation_column,
            format!(
                "an aggregation of the {} metric {}: {}",
                info.kind,
                info.name,
                info.kind.allowed_list()
            ),
            format!("`{}`", expr.aggregation),
        ));
    }
    let limit = &expr.limit;
    let duration = info.kind == MetricKind::Delay && expr.aggregation != Aggregation::Count;
    if !duration && limit.unit != Unit::None {
        return Err(ExprError::new(
            limit.unit_column,
            "a plain number (units belong to delays)",
            format!("`{}`", limit.unit.as_str()),
        ));
    }
    let n = limit.number;
    let in_range = match (expr.aggregation, info.kind) {
        (Aggregation::Count, _) => n >= 0.0 && n.fract() == 0.0,
        (Aggregation::Rate, _) => (0.0..=1.0).contains(&n),
        (_, MetricKind::Delay) => n >= 0.0,
        _ => true,
    };
    if !in_range {
        let expected = match (expr.aggregation, info.kind) {
            (Aggregation::Count, _) => "a whole number of samples, 0 or more",
            (Aggregation::Rate, _) => "a rate between 0 and 1 (0.9999, not 99.99)",
            _ => "a duration of 0 or more",
        };
        return Err(ExprError::new(limit.column, expected, n.to_string()));
    }
    Ok(())
}

/// Builds a threshold from a YAML expression (`post_dial_delay: ['p(95)<1s']` in a scenario);
/// `source` is the file's text, used to point errors at the column inside quotes.
///
/// Errors are [`ScenarioError::Invalid`] at `file:line:col` with `field` (e.g.
/// `thresholds.post_dial_delay[0]`) and the expectation: the CLI's exit 104.
pub fn threshold_from_yaml(
    file: &Path,
    source: &str,
    field: &str,
    metric: &str,
    expression: &Spanned<String>,
) -> Result<Threshold, ScenarioError> {
    Threshold::new(metric, &expression.value).map_err(|e| {
        let column = match &e {
            VerdictError::Expression { source: s, .. } => s.column,
            VerdictError::UnknownMetric { .. } => 1,
        };
        ScenarioError::Invalid {
            at: expression_position(file, source, expression, column),
            field: field.to_string(),
            message: e.to_string(),
        }
    })
}

/// The k6 `thresholds:` map of a scenario: metric → list of expressions, in metric order.
///
/// ```yaml
/// thresholds:
///   post_dial_delay: ['p(95)<1s', 'avg<=800ms']
///   connect_rate: ['rate>=0.9999']
/// ```
///
/// Deserialize the map as `BTreeMap<String, Vec<Spanned<String>>>` and pass it here; the field
/// paths in errors are `thresholds.<metric>[i]` (prefix `field`).
pub fn parse_threshold_map(
    file: &Path,
    source: &str,
    field: &str,
    map: &BTreeMap<String, Vec<Spanned<String>>>,
) -> Result<Vec<Threshold>, ScenarioError> {
    let mut out = Vec::new();
    for (metric, expressions) in map {
        for (i, expression) in expressions.iter().enumerate() {
            let path = format!("{field}.{metric}[{i}]");
            out.push(threshold_from_yaml(
                file, source, &path, metric, expression,
            )?);
        }
    }
    Ok(out)
}

/// The position of character `column` (1-based) of a YAML string value, skipping the opening
/// quote when the value is quoted.
pub(crate) fn expression_position(
    file: &Path,
    source: &str,
    value: &Spanned<String>,
    column: usize,
) -> Position {
    let location = value.referenced;
    let line = location.line();
    let start = location.column();
    if line == 0 {
        return Position {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
        };
    }
    let quoted = usize::try_from(line - 1)
        .ok()
        .and_then(|l| source.lines().nth(l))
        .and_then(|text| {
            text.chars()
                .nth(usize::try_from(start).ok()?.checked_sub(1)?)
        })
        .is_some_and(|c| c == '\'' || c == '"');
    let offset = column.saturating_sub(1) as u64 + u64::from(quoted);
    Position {
        file: file.to_path_buf(),
        line,
        column: start + offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_error(metric: &str, text: &str) -> ExprError {
        match Threshold::new(metric, text) {
            Err(VerdictError::Expression { source, .. }) => source,
            other => panic!("{metric}: {text}: {other:?}"),
        }
    }

    #[test]
    fn builds_thresholds_for_each_kind() {
        let t = Threshold::new("post_dial_delay", "p(95)<1s").expect("valid");
        assert_eq!(t.label(), "post_dial_delay: p(95)<1s");
        assert!(Threshold::new("connect_rate", "rate>=0.9999").is_ok());
        assert!(Threshold::new("connect_rate", "count>=100").is_ok());
        assert!(Threshold::new("pesq_raw", "value>3.8").is_ok());
        assert!(Threshold::new("pesq_raw", "p(5)>2.5").is_ok());
        assert!(Threshold::new("setup_time", "count>=100").is_ok());
    }

    #[test]
    fn unknown_metric_names_a_hint() {
        let e = Threshold::new("conect_rate", "rate>=0.9").expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "unknown metric `conect_rate` (did you mean connect_rate?)"
        );
        let e = Threshold::new("bogus", "rate>=0.9").expect_err("unknown");
        assert!(matches!(e, VerdictError::UnknownMetric { hint: None, .. }));
    }

    #[test]
    fn expressions_must_fit_the_metric_kind() {
        let e = fit_error("connect_rate", "avg<=1s");
        assert_eq!(e.column, 1);
        assert!(e.expected.contains("rate or count"), "{e}");
        let e = fit_error("post_dial_delay", "  rate>=0.9");
        assert_eq!(e.column, 3);
        assert_eq!(fit_error("post_dial_delay", "value<1").column, 1);
        let e = fit_error("connect_rate", "rate>=99.99");
        assert_eq!(e.column, 7);
        assert!(e.expected.contains("between 0 and 1"));
        assert_eq!(fit_error("connect_rate", "rate>=0.9s").column, 10);
        assert_eq!(fit_error("pesq_raw", "avg>3.8ms").column, 8);
        assert_eq!(fit_error("setup_time", "count>=1.5").column, 8);
        assert_eq!(fit_error("setup_time", "count>=10s").column, 10);
        assert_eq!(fit_error("setup_time", "max<-1s").column, 5);
        let e = Threshold::new("connect_rate", "rate>=2").expect_err("range");
        assert_eq!(
            e.to_string(),
            "connect_rate: `rate>=2`: column 7: expected a rate between 0 and 1 (0.9999, not 99.99), found 2"
        );
    }

    #[derive(serde::Deserialize)]
    struct Doc {
        thresholds: BTreeMap<String, Vec<Spanned<String>>>,
    }

    #[test]
    fn threshold_maps_from_yaml_with_positions() {
        let text = "thresholds:\n  post_dial_delay: ['p(95)<1s', 'avg<=800ms']\n  connect_rate:\n    - rate>=0.9999\n";
        let doc: Doc = serde_saphyr::from_str(text).expect("yaml");
        let file = Path::new("s.yaml");
        let list = parse_threshold_map(file, text, "thresholds", &doc.thresholds).expect("valid");
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].metric, "connect_rate");

        let bad = "thresholds:\n  post_dial_delay: ['p(95)<1s', 'avg<=800h']\n";
        let doc: Doc = serde_saphyr::from_str(bad).expect("yaml");
        let e = parse_threshold_map(file, bad, "thresholds", &doc.thresholds).expect_err("bad");
        // `'avg<=800h'` starts at column 33; the `h` is its 9th character, inside the quote.
        assert_eq!(
            e.to_string(),
            "s.yaml:2:42: thresholds.post_dial_delay[1]: post_dial_delay: `avg<=800h`: column 9: \
             expected a unit (ms, s or m) or the end of the expression, found `h`"
        );

        let plain = "thresholds:\n  connect_rate:\n    - rate>=9\n";
        let doc: Doc = serde_saphyr::from_str(plain).expect("yaml");
        let e = parse_threshold_map(file, plain, "thresholds", &doc.thresholds).expect_err("bad");
        assert_eq!(e.position().map(|p| (p.line, p.column)), Some((3, 13)));

        let unknown = "thresholds:\n  pdd: ['p(95)<1s']\n";
        let doc: Doc = serde_saphyr::from_str(unknown).expect("yaml");
        let e = parse_threshold_map(file, unknown, "thresholds", &doc.thresholds).expect_err("bad");
        assert_eq!(e.field(), "thresholds.pdd[0]");
        assert!(e.to_string().contains("unknown metric `pdd`"));
    }
}
