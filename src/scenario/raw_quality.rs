//! `call.quality:`: voice-quality scoring of what the caller hears, with the network
//! condition the media goes through and the receiver it is played by.
//!
//! ```yaml
//! call:
//!   hold: 10s
//!   quality:
//!     reference: prompts/welcome.wav   # what the far end plays (8 kHz WAV)
//!     network: poor                    # good | poor | bad | loss=1%,jitter=20ms,delay=100ms
//!     network_tx: good                 # what the caller sends goes through this (default good)
//!     condition: poor                  # report label (default: the preset's name, or custom)
//!     threshold: 3.4                   # P.862 raw score below which a call counts as poor
//!     jitter_buffer: { mode: adaptive, delay: 60ms, min: 20ms, max: 300ms, quantile: 0.95 }
//! ```

use super::error::ScenarioError;
use super::model::QualityPlan;
use super::yaml::{invalid, position, Dur};
use crate::impair::ImpairConfig;
use crate::media::jitter::{JitterBufferConfig, JitterMode};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;
use std::str::FromStr;

/// `call.quality` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuality {
    reference: Spanned<String>,
    #[serde(default)]
    network: Option<Spanned<String>>,
    #[serde(default)]
    network_tx: Option<Spanned<String>>,
    #[serde(default)]
    condition: Option<Spanned<String>>,
    #[serde(default)]
    threshold: Option<Spanned<f64>>,
    #[serde(default)]
    jitter_buffer: Option<Spanned<RawJitterBuffer>>,
}

/// `call.quality.jitter_buffer`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJitterBuffer {
    mode: JitterMode,
    #[serde(default)]
    delay: Option<Dur>,
    #[serde(default)]
    min: Option<Dur>,
    #[serde(default)]
    max: Option<Dur>,
    #[serde(default)]
    quantile: Option<f64>,
}

/// The SPEC threshold of a preset condition (ACC-PESQ-GOOD/-POOR/-BAD): a P.862 raw score
/// (YD/T 2823 §10.3.1.4 cites P.862 itself; see `scenarios/profiles/yd2823-acceptance.yaml`).
pub fn spec_threshold(condition: &str) -> Option<f64> {
    match condition {
        "good" => Some(3.8),
        "poor" => Some(3.4),
        "bad" => Some(2.8),
        _ => None,
    }
}

fn network(
    file: &Path,
    v: &Spanned<String>,
    field: &str,
) -> Result<Option<ImpairConfig>, ScenarioError> {
    let text = v.value.trim();
    let config = ImpairConfig::preset(text)
        .or_else(|_| ImpairConfig::from_str(text))
        .map_err(|e| {
            invalid(
                file,
                v,
                field,
                format!("{e} (or a preset: good, poor, bad)"),
            )
        })?;
    Ok((!config.is_none()).then_some(config))
}

pub(crate) fn quality_plan(file: &Path, q: RawQuality) -> Result<QualityPlan, ScenarioError> {
    let reference = super::yaml::relative_to(file, q.reference.value.trim());
    if !reference.is_file() {
        return Err(ScenarioError::FileNotFound {
            at: position(file, Some(q.reference.referenced)),
            field: "call.quality.reference".into(),
            path: reference,
        });
    }
    crate::quality::read_wav(&reference)
        .map_err(|e| invalid(file, &q.reference, "call.quality.reference", e.to_string()))?;
    let rx = match &q.network {
        Some(v) => network(file, v, "call.quality.network")?,
        None => None,
    };
    let tx = match &q.network_tx {
        Some(v) => network(file, v, "call.quality.network_tx")?,
        None => None,
    };
    let preset = q
        .network
        .as_ref()
        .map(|v| v.value.trim().to_string())
        .filter(|n| ImpairConfig::preset(n).is_ok());
    let condition = match &q.condition {
        Some(c) if c.value.trim().is_empty() => {
            return Err(invalid(
                file,
                c,
                "call.quality.condition",
                "must not be empty",
            ))
        }
        Some(c) => c.value.trim().to_string(),
        None => preset.unwrap_or_else(|| if rx.is_none() { "good" } else { "custom" }.to_string()),
    };
    let threshold = match &q.threshold {
        Some(t) if !(t.value.is_finite() && (-0.5..=4.5).contains(&t.value)) => {
            return Err(invalid(
                file,
                t,
                "call.quality.threshold",
                format!("a P.862 raw score between -0.5 and 4.5, got {}", t.value),
            ))
        }
        Some(t) => t.value,
        None => spec_threshold(&condition).unwrap_or(3.4),
    };
    let jitter_buffer = match &q.jitter_buffer {
        None => JitterBufferConfig::default(),
        Some(j) => jitter_buffer(file, j)?,
    };
    Ok(QualityPlan {
        reference,
        condition,
        threshold,
        network_rx: rx,
        network_tx: tx,
        jitter_buffer,
    })
}

fn jitter_buffer(
    file: &Path,
    j: &Spanned<RawJitterBuffer>,
) -> Result<JitterBufferConfig, ScenarioError> {
    let field = "call.quality.jitter_buffer";
    let r = &j.value;
    let mut c = match r.mode {
        JitterMode::Fixed => {
            if r.min.is_some() || r.max.is_some() || r.quantile.is_some() {
                return Err(invalid(
                    file,
                    j,
                    field,
                    "a fixed buffer takes only `delay` (min, max and quantile are adaptive)",
                ));
            }
            JitterBufferConfig::fixed(JitterBufferConfig::default().delay)
        }
        JitterMode::Adaptive => JitterBufferConfig::default(),
    };
    if let Some(d) = &r.delay {
        c.delay = d.0;
        if r.mode == JitterMode::Fixed {
            c.min = d.0;
            c.max = d.0;
        }
    }
    if let Some(d) = &r.min {
        c.min = d.0;
    }
    if let Some(d) = &r.max {
        c.max = d.0;
    }
    if let Some(q) = r.quantile {
        if !(q > 0.0 && q <= 1.0) {
            return Err(invalid(
                file,
                j,
                field,
                format!("quantile must be in (0, 1], got {q}"),
            ));
        }
        c.quantile = q;
    }
    if c.min > c.max {
        return Err(invalid(file, j, field, "min must not exceed max"));
    }
    if c.delay > std::time::Duration::from_secs(2) || c.max > std::time::Duration::from_secs(2) {
        return Err(invalid(
            file,
            j,
            field,
            "delays above 2 s are not a phone's",
        ));
    }
    Ok(c)
}
