//! `load:` as written: offered traffic in Erlangs (or per trunk, BHCA, calls/s) with Poisson
//! arrivals and a holding-time distribution, instead of `calls` and `rate`.
//!
//! ```yaml
//! load:
//!   erlangs: 25                 # or erlangs_per_trunk: 0.7 with trunks, bhca: 9000, calls_per_second: 5
//!   trunks: 30                  # the target's trunk count
//!   holding: { dist: exponential, mean: 180s }   # or a duration (fixed), or lognormal with sd
//!   duration: 10m               # a constant load for this long; or
//!   profile: yd2823             # the standard's idle 2 h (0.7 Erl/trunk) then busy 2 h (125 %)
//! ```

use super::error::ScenarioError;
use super::model::ScenarioLoad;
use super::yaml::{invalid, Dur};
use crate::traffic::{Holding, OfferedLoad, Phase, Profile};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    #[serde(default)]
    erlangs: Option<f64>,
    #[serde(default)]
    erlangs_per_trunk: Option<f64>,
    #[serde(default)]
    bhca: Option<f64>,
    #[serde(default)]
    calls_per_second: Option<f64>,
    #[serde(default)]
    trunks: Option<u32>,
    holding: RawHolding,
    #[serde(default)]
    duration: Option<Dur>,
    #[serde(default)]
    profile: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawHolding {
    Fixed(Dur),
    Dist(RawDist),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDist {
    dist: String,
    mean: Dur,
    #[serde(default)]
    sd: Option<Dur>,
}

pub(crate) fn load(file: &Path, raw: &Spanned<RawLoad>) -> Result<ScenarioLoad, ScenarioError> {
    let r = &raw.value;
    let err = |field: &str, msg: String| invalid(file, raw, &format!("load.{field}"), msg);
    let holding = match &r.holding {
        RawHolding::Fixed(d) => Holding::Fixed(d.0),
        RawHolding::Dist(d) => match (d.dist.trim(), d.sd) {
            ("fixed", None) => Holding::Fixed(d.mean.0),
            ("exponential", None) => Holding::Exponential { mean: d.mean.0 },
            ("lognormal", Some(sd)) => Holding::LogNormal {
                mean: d.mean.0,
                sd: sd.0,
            },
            ("lognormal", None) => return Err(err("holding.sd", "lognormal needs sd".into())),
            ("fixed" | "exponential", Some(_)) => {
                return Err(err("holding.sd", format!("{} takes no sd", d.dist)))
            }
            (other, _) => {
                return Err(err(
                    "holding.dist",
                    format!(
                        "unknown distribution {other:?}: expected fixed, exponential or lognormal"
                    ),
                ))
            }
        },
    };
    if holding.mean().is_zero() {
        return Err(err(
            "holding",
            "the mean holding time must be greater than 0".into(),
        ));
    }
    let offered = match (r.erlangs, r.erlangs_per_trunk, r.bhca, r.calls_per_second) {
        (Some(a), None, None, None) => OfferedLoad::Erlangs(a),
        (None, Some(a), None, None) => match r.trunks {
            Some(trunks) => OfferedLoad::PerTrunk {
                erlangs_per_trunk: a,
                trunks,
            },
            None => return Err(err("trunks", "erlangs_per_trunk needs trunks".into())),
        },
        (None, None, Some(b), None) => OfferedLoad::Bhca(b),
        (None, None, None, Some(c)) => OfferedLoad::CallsPerSecond(c),
        (None, None, None, None) if r.profile.is_some() => OfferedLoad::Erlangs(0.0),
        _ => {
            return Err(err(
                "erlangs",
                "give exactly one of erlangs, erlangs_per_trunk, bhca, calls_per_second".into(),
            ))
        }
    };
    let profile = match (r.profile.as_deref().map(str::trim), r.duration) {
        (Some("yd2823"), None) => match r.trunks {
            Some(t) => Profile::yd2823(t),
            None => return Err(err("trunks", "profile yd2823 needs trunks".into())),
        },
        (Some("yd2823"), Some(_)) => {
            return Err(err(
                "duration",
                "profile yd2823 has its own durations (2 h idle, 2 h busy)".into(),
            ))
        }
        (Some(other), _) => {
            return Err(err(
                "profile",
                format!(
                "unknown profile {other:?}: expected yd2823 (or a duration for a constant load)"
            ),
            ))
        }
        (None, Some(d)) => Profile::Constant(Phase::new("constant", offered, d.0)),
        (None, None) => {
            return Err(err(
                "duration",
                "give a duration (or profile: yd2823)".into(),
            ))
        }
    };
    profile
        .validate()
        .map_err(|e| err("erlangs", e.to_string()))?;
    Ok(ScenarioLoad {
        profile,
        holding,
        trunks: r.trunks,
    })
}
