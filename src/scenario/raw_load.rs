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
//!   agents: { count: 12, handle_time: 3m, overhead: 200ms }   # the target's agent queue
//!   series_interval: 10s        # the report's time series (default: from the run's length)
//! ```

use super::error::ScenarioError;
use super::model::ScenarioLoad;
use super::yaml::{invalid, Dur};
use crate::traffic::check::AgentQueue;
use crate::traffic::{Holding, OfferedLoad, Phase, Profile};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;
use std::time::Duration;

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
    #[serde(default)]
    agents: Option<Spanned<RawAgents>>,
    #[serde(default)]
    series_interval: Option<Spanned<Dur>>,
}

impl RawLoad {
    /// `load.agents` as written, with its position.
    pub(super) fn agents_field(&self) -> Option<&Spanned<RawAgents>> {
        self.agents.as_ref()
    }
}

/// `load.agents`: the target's agent queue, for the Erlang C comparison.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgents {
    /// Agents serving the queue.
    count: Spanned<u32>,
    /// Their mean handle time (agent answers → agent free).
    handle_time: Spanned<Dur>,
    /// Transfer and answer delays inside every measured wait (default 0).
    #[serde(default)]
    overhead: Option<Dur>,
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
    let agents = match &r.agents {
        Some(a) => Some(agents(file, a)?),
        None => None,
    };
    let series_interval = match &r.series_interval {
        Some(d) if d.value.0 < Duration::from_millis(100) => {
            return Err(invalid(
                file,
                d,
                "load.series_interval",
                "must be at least 100ms",
            ))
        }
        Some(d) => Some(d.value.0),
        None => None,
    };
    Ok(ScenarioLoad {
        profile,
        holding,
        trunks: r.trunks,
        agents,
        series_interval,
    })
}

fn agents(file: &Path, raw: &Spanned<RawAgents>) -> Result<AgentQueue, ScenarioError> {
    let a = &raw.value;
    if a.count.value == 0 {
        return Err(invalid(
            file,
            &a.count,
            "load.agents.count",
            "must be at least 1",
        ));
    }
    if a.handle_time.value.0.is_zero() {
        return Err(invalid(
            file,
            &a.handle_time,
            "load.agents.handle_time",
            "must be greater than 0",
        ));
    }
    Ok(AgentQueue {
        agents: a.count.value,
        handle_time: a.handle_time.value.0,
        overhead: a.overhead.map_or(Duration::ZERO, |d| d.0),
    })
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse_scenario;
    use std::path::Path;
    use std::time::Duration;

    const HEAD: &str = "name: t\ntarget: sip:a@127.0.0.1\nload:\n  erlangs: 5\n  holding: 1s\n  \
                        duration: 1m\n";

    /// A flow with the agent step that `load.agents` needs.
    const AGENT_CALL: &str = "call:\n  steps:\n    - agent: { detect: reinvite, timeout: 30s }\n";

    fn parse(extra: &str) -> Result<crate::scenario::Scenario, String> {
        let text = format!("{HEAD}{extra}{AGENT_CALL}");
        parse_scenario(&text, Path::new("/s/t.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn agents_without_an_agent_step_are_refused() {
        let text = format!("{HEAD}  agents: {{ count: 3, handle_time: 30s }}\ncall:\n  hold: 1s\n");
        let e = parse_scenario(&text, Path::new("/s/t.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/s/t.yaml:7:11: load.agents: declares the target's agent queue"),
            "{e}"
        );
        assert!(e.contains("no `agent` step"), "{e}");
    }

    #[test]
    fn agents_and_the_series_interval_are_read() {
        let s = parse(
            "  agents: { count: 12, handle_time: 3m, overhead: 200ms }\n  series_interval: 10s\n",
        )
        .unwrap();
        let l = s.load.unwrap();
        let a = l.agents.unwrap();
        assert_eq!(
            (a.agents, a.handle_time, a.overhead),
            (12, Duration::from_secs(180), Duration::from_millis(200))
        );
        assert_eq!(l.series_interval, Some(Duration::from_secs(10)));
        let s = parse("  agents: { count: 1, handle_time: 30s }\n").unwrap();
        let l = s.load.unwrap();
        assert_eq!(l.agents.unwrap().overhead, Duration::ZERO);
        assert_eq!(l.series_interval, None);
    }

    #[test]
    fn bad_agents_name_file_line_and_field() {
        let e = parse("  agents: { count: 0, handle_time: 30s }\n").unwrap_err();
        assert_eq!(e, "/s/t.yaml:7:20: load.agents.count: must be at least 1");
        let e = parse("  agents:\n    count: 3\n    handle_time: 0s\n").unwrap_err();
        assert_eq!(
            e,
            "/s/t.yaml:9:18: load.agents.handle_time: must be greater than 0"
        );
        let e = parse("  agents: { count: 3, handle: 30s }\n").unwrap_err();
        assert!(e.contains("unknown field `handle`"), "{e}");
        let e = parse("  series_interval: 10ms\n").unwrap_err();
        assert_eq!(
            e,
            "/s/t.yaml:7:20: load.series_interval: must be at least 100ms"
        );
    }
}
