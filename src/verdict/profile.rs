//! Threshold profiles: YAML files of thresholds, each with its SPEC.md id, clause and a
//! description. The shipped ones (`scenarios/profiles/*.yaml`) are embedded in the binary; any
//! other is loaded from a path.
//!
//! ```yaml
//! name: yd2823-acceptance
//! title: Acceptance of a new call center
//! source: YD/T 2823-2015 §10.3.1
//! thresholds:
//!   - spec_id: ACC-CCR-IDLE
//!     clause: YD/T 2823-2015 §10.3.1.1 a)
//!     description: access call completion rate over 2 h at idle load ≥ 99.99 %
//!     metric: call_completion_rate
//!     expr: rate>=0.9999
//!     phase: idle          # idle | busy | any (default)
//!     network: any         # good | poor | bad | any (default)
//!     optional: false      # true: no samples does not hold the run back
//!     scale: p862_raw      # score metrics only, must match the metric
//! ```

use super::metric::{closest_metric, lookup_metric, MetricKind};
use super::stats::{valid_confidence, DEFAULT_CONFIDENCE};
use super::threshold::{threshold_from_yaml, NetworkCondition, Phase, ScoreScale, Threshold};
use crate::scenario::yaml::{from_yaml, invalid};
use crate::scenario::{Position, ScenarioError};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The profiles shipped in the binary: (name, YAML text).
pub const BUILTIN_PROFILES: &[(&str, &str)] = &[
    (
        "yd2823-acceptance",
        include_str!("../../scenarios/profiles/yd2823-acceptance.yaml"),
    ),
    (
        "yd2823-operational",
        include_str!("../../scenarios/profiles/yd2823-operational.yaml"),
    ),
    (
        "cert-efficiency",
        include_str!("../../scenarios/profiles/cert-efficiency.yaml"),
    ),
    (
        "system",
        include_str!("../../scenarios/profiles/system.yaml"),
    ),
];

/// A validated threshold profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Its name (`yd2823-acceptance`).
    pub name: String,
    /// One line: what it certifies.
    pub title: String,
    /// The document and section it implements.
    pub source: String,
    /// Where it was loaded from (`scenarios/profiles/<name>.yaml` for the built-in ones).
    pub file: PathBuf,
    /// One-sided confidence of each decision (default 0.95).
    pub confidence: f64,
    /// The thresholds, in file order.
    pub thresholds: Vec<Threshold>,
}

/// Loads a built-in profile by name, or a profile file by path, and validates it.
pub fn load_profile(name_or_path: &str) -> Result<Profile, ScenarioError> {
    if let Some((name, text)) = BUILTIN_PROFILES.iter().find(|(n, _)| *n == name_or_path) {
        let file = PathBuf::from(format!("scenarios/profiles/{name}.yaml"));
        return parse_profile(text, &file);
    }
    let path = Path::new(name_or_path);
    let looks_like_path = name_or_path.contains(['/', '\\'])
        || path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if !looks_like_path && !path.exists() {
        let known: Vec<&str> = BUILTIN_PROFILES.iter().map(|(n, _)| *n).collect();
        return Err(ScenarioError::Invalid {
            at: Position {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
            },
            field: "profile".into(),
            message: format!(
                "no built-in profile or file named `{name_or_path}` (built-in: {})",
                known.join(", ")
            ),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_profile(&text, path)
}

/// Parses and validates profile text; `file` names it in errors.
pub fn parse_profile(text: &str, file: &Path) -> Result<Profile, ScenarioError> {
    let raw: RawProfile = from_yaml(text, file)?;
    raw.validate(file, text)
}

/// A profile as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    name: Spanned<String>,
    title: String,
    source: String,
    #[serde(default)]
    confidence: Option<Spanned<f64>>,
    thresholds: Spanned<Vec<RawThreshold>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreshold {
    spec_id: Spanned<String>,
    clause: String,
    description: String,
    metric: Spanned<String>,
    expr: Spanned<String>,
    #[serde(default)]
    phase: Phase,
    #[serde(default)]
    network: NetworkCondition,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    scale: Option<Spanned<ScoreScale>>,
}

impl RawProfile {
    /// Checks names, metric names, expressions, SPEC ids and scales; errors carry
    /// `file:line:col` and the field path (`thresholds[3].expr`).
    pub(crate) fn validate(self, file: &Path, text: &str) -> Result<Profile, ScenarioError> {
        let name = self.name.value.trim().to_string();
        if name.is_empty() {
            return Err(invalid(file, &self.name, "name", "must not be empty"));
        }
        let confidence = match &self.confidence {
            Some(c) if !valid_confidence(c.value) => {
                return Err(invalid(
                    file,
                    c,
                    "confidence",
                    format!("must be between 0 and 1 (e.g. 0.95), got {}", c.value),
                ));
            }
            Some(c) => c.value,
            None => DEFAULT_CONFIDENCE,
        };
        if self.thresholds.value.is_empty() {
            return Err(invalid(
                file,
                &self.thresholds,
                "thresholds",
                "must list at least one threshold",
            ));
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut thresholds = Vec::new();
        for (i, raw) in self.thresholds.value.into_iter().enumerate() {
            let at = |field: &str| format!("thresholds[{i}].{field}");
            let id = raw.spec_id.value.trim().to_string();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(invalid(
                    file,
                    &raw.spec_id,
                    &at("spec_id"),
                    format!("expected a SPEC.md id such as ACC-CCR-IDLE, got {id:?}"),
                ));
            }
            if let Some(first) = seen.insert(id.clone(), i) {
                return Err(invalid(
                    file,
                    &raw.spec_id,
                    &at("spec_id"),
                    format!("{id} is already used by thresholds[{first}]"),
                ));
            }
            let metric = raw.metric.value.trim();
            let Some(info) = lookup_metric(metric) else {
                let hint = closest_metric(metric)
                    .map(|h| format!(" (did you mean {h}?)"))
                    .unwrap_or_default();
                return Err(invalid(
                    file,
                    &raw.metric,
                    &at("metric"),
                    format!("unknown metric `{metric}`{hint}"),
                ));
            };
            let mut threshold = threshold_from_yaml(file, text, &at("expr"), metric, &raw.expr)?;
            let expected_scale = ScoreScale::of_metric(metric);
            match (&raw.scale, info.kind, expected_scale) {
                (None, MetricKind::Score, Some(s)) => {
                    return Err(invalid(
                        file,
                        &raw.metric,
                        &at("scale"),
                        format!("a score threshold must state its scale: add `scale: {s}`"),
                    ));
                }
                (Some(s), MetricKind::Score, Some(e)) if s.value != e => {
                    return Err(invalid(
                        file,
                        s,
                        &at("scale"),
                        format!("{metric} is on the {e} scale, not {}", s.value),
                    ));
                }
                (Some(s), kind, _) if kind != MetricKind::Score => {
                    return Err(invalid(
                        file,
                        s,
                        &at("scale"),
                        format!("only score metrics have a scale; {metric} is a {kind} metric"),
                    ));
                }
                _ => {}
            }
            threshold.spec_id = Some(id);
            threshold.clause = Some(raw.clause.trim().to_string());
            threshold.description = Some(raw.description.trim().to_string());
            threshold.phase = raw.phase;
            threshold.network = raw.network;
            threshold.optional = raw.optional;
            threshold.scale = raw.scale.map(|s| s.value);
            thresholds.push(threshold);
        }
        Ok(Profile {
            name,
            title: self.title.trim().to_string(),
            source: self.source.trim().to_string(),
            file: file.to_path_buf(),
            confidence,
            thresholds,
        })
    }
}
