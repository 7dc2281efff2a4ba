//! Offered-load model of a load run: holding-time distributions, offered load in its usual
//! units, and load profiles (constant, ramp, steps) over the run.
//!
//! Pure data and arithmetic: no IO, no clock. Times are offsets from the run start.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Exp1, StandardNormal};
use thiserror::Error;

/// Seconds in an hour, the "busy hour" of BHCA.
const SECS_PER_HOUR: f64 = 3600.0;

/// An invalid traffic model: a load, holding time or profile that cannot describe real calls.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum TrafficModelError {
    /// An offered load (erlangs, BHCA or calls/s) that is negative, NaN or infinite.
    #[error("offered load must be a finite number >= 0, got {0}")]
    InvalidLoad(f64),
    /// A mean holding time of zero: offered erlangs cannot come from calls that take no time.
    #[error("mean holding time must be greater than zero")]
    ZeroHolding,
    /// A step profile with no phases.
    #[error("a step profile needs at least one phase")]
    EmptySteps,
    /// A phase (or ramp) that lasts no time at all.
    #[error("phase {phase} has zero duration")]
    ZeroDuration {
        /// Index of the phase in the profile.
        phase: usize,
    },
    /// A fixed arrival rate that is not a finite number of calls per second above zero.
    #[error("arrival rate must be a finite number of calls/s > 0, got {0}")]
    InvalidRate(f64),
}

/// Distribution of call holding times (seizure to release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// Every call lasts exactly this long.
    Fixed(Duration),
    /// Exponential (memoryless): the classic telephony assumption.
    Exponential {
        /// Mean holding time.
        mean: Duration,
    },
    /// Log-normal, given by the mean and standard deviation of the holding time itself (not of
    /// its logarithm): σ² = ln(1 + sd²/mean²), μ = ln(mean) − σ²/2.
    LogNormal {
        /// Mean holding time.
        mean: Duration,
        /// Standard deviation of the holding time.
        sd: Duration,
    },
}

impl Holding {
    /// The mean holding time `h`, which converts erlangs to calls/s (`λ = A/h`).
    pub fn mean(&self) -> Duration {
        match *self {
            Holding::Fixed(mean)
            | Holding::Exponential { mean }
            | Holding::LogNormal { mean, .. } => mean,
        }
    }

    /// One draw; never negative.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            Holding::Fixed(d) => d,
            Holding::Exponential { mean } if mean.is_zero() => mean,
            Holding::Exponential { mean } => {
                let e: f64 = rng.sample(Exp1);
                from_nanos_f64(nanos(mean) * e)
            }
            Holding::LogNormal { mean, sd } if mean.is_zero() || sd.is_zero() => mean,
            Holding::LogNormal { mean, sd } => {
                let m = nanos(mean);
                let ratio = nanos(sd) / m;
                let sigma2 = (1.0 + ratio * ratio).ln();
                let mu = m.ln() - sigma2 / 2.0;
                let z: f64 = rng.sample(StandardNormal);
                from_nanos_f64((mu + sigma2.sqrt() * z).exp())
            }
        }
    }

    /// Checks that the mean holding time is above zero.
    ///
    /// # Errors
    /// [`TrafficModelError::ZeroHolding`] for a zero mean.
    pub fn validate(&self) -> Result<(), TrafficModelError> {
        if self.mean().is_zero() {
            Err(TrafficModelError::ZeroHolding)
        } else {
            Ok(())
        }
    }
}

/// Offered load, in any of the units traffic engineers quote it in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OfferedLoad {
    /// Total offered traffic `A` in erlangs.
    Erlangs(f64),
    /// Traffic per trunk over a trunk group, e.g. SPEC "idle/busy load": 0.7 Erl per trunk.
    PerTrunk {
        /// Erlangs offered to each trunk.
        erlangs_per_trunk: f64,
        /// Number of trunks in the group.
        trunks: u32,
    },
    /// Busy-hour call attempts: calls offered per hour.
    Bhca(f64),
    /// Calls offered per second.
    CallsPerSecond(f64),
}

impl OfferedLoad {
    /// The number this load was given as (erlangs, Erl/trunk, BHCA or calls/s).
    fn value(&self) -> f64 {
        match *self {
            OfferedLoad::Erlangs(v)
            | OfferedLoad::PerTrunk {
                erlangs_per_trunk: v,
                ..
            }
            | OfferedLoad::Bhca(v)
            | OfferedLoad::CallsPerSecond(v) => v,
        }
    }

    /// Arrival rate `λ` in calls/s: `A/h` for erlangs, `BHCA/3600`, or the rate itself.
    ///
    /// Negative or NaN loads count as 0; an erlang load with a zero `mean_holding` gives 0
    /// (see [`OfferedLoad::validate`] and [`Holding::validate`] to reject both up front).
    pub fn arrival_rate(&self, mean_holding: Duration) -> f64 {
        let h = mean_holding.as_secs_f64();
        let rate = match *self {
            OfferedLoad::Erlangs(a) if h > 0.0 => a / h,
            OfferedLoad::PerTrunk {
                erlangs_per_trunk,
                trunks,
            } if h > 0.0 => erlangs_per_trunk * f64::from(trunks) / h,
            OfferedLoad::Erlangs(_) | OfferedLoad::PerTrunk { .. } => 0.0,
            OfferedLoad::Bhca(bhca) => bhca / SECS_PER_HOUR,
            OfferedLoad::CallsPerSecond(rate) => rate,
        };
        if rate > 0.0 {
            rate
        } else {
            0.0
        }
    }

    /// Offered traffic `A = λ·h` in erlangs.
    pub fn erlangs(&self, mean_holding: Duration) -> f64 {
        match *self {
            OfferedLoad::Erlangs(a) => a.max(0.0),
            OfferedLoad::PerTrunk {
                erlangs_per_trunk,
                trunks,
            } => (erlangs_per_trunk * f64::from(trunks)).max(0.0),
            OfferedLoad::Bhca(_) | OfferedLoad::CallsPerSecond(_) => {
                self.arrival_rate(mean_holding) * mean_holding.as_secs_f64()
            }
        }
    }

    /// Checks that the load is a finite number ≥ 0.
    ///
    /// # Errors
    /// [`TrafficModelError::InvalidLoad`] for a negative, NaN or infinite value.
    pub fn validate(&self) -> Result<(), TrafficModelError> {
        let v = self.value();
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(TrafficModelError::InvalidLoad(v))
        }
    }
}

/// One named stretch of a run at a constant offered load.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Name for reports, e.g. `idle` or `busy`.
    pub name: String,
    /// Offered load throughout the phase.
    pub load: OfferedLoad,
    /// How long the phase lasts.
    pub duration: Duration,
}

impl Phase {
    /// A phase named `name` at `load` for `duration`.
    pub fn new(name: impl Into<String>, load: OfferedLoad, duration: Duration) -> Self {
        Phase {
            name: name.into(),
            load,
            duration,
        }
    }
}

/// Offered load over the course of a run; time 0 is the run start.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// One load for the whole run.
    Constant(Phase),
    /// Arrival rate rising (or falling) linearly from `from` to `to` over `duration`.
    Ramp {
        /// Load at the start.
        from: OfferedLoad,
        /// Load at the end.
        to: OfferedLoad,
        /// Length of the ramp, and of the run.
        duration: Duration,
    },
    /// Consecutive phases, each at its own constant load.
    Steps(Vec<Phase>),
}

impl Profile {
    /// SPEC "idle/busy load" (ACC-CCR-IDLE, ACC-CCR-BUSY): 2 h at idle load, 0.7 Erl per trunk,
    /// then 2 h at busy load, 125 % of idle = 0.875 Erl per trunk, on `trunks` trunks.
    pub fn yd2823(trunks: u32) -> Profile {
        const IDLE_ERL_PER_TRUNK: f64 = 0.7;
        const BUSY_OVER_IDLE: f64 = 1.25;
        let two_hours = Duration::from_secs(2 * 3600);
        let per_trunk = |erlangs_per_trunk| OfferedLoad::PerTrunk {
            erlangs_per_trunk,
            trunks,
        };
        Profile::Steps(vec![
            Phase::new("idle", per_trunk(IDLE_ERL_PER_TRUNK), two_hours),
            Phase::new(
                "busy",
                per_trunk(IDLE_ERL_PER_TRUNK * BUSY_OVER_IDLE),
                two_hours,
            ),
        ])
    }

    /// Total length of the run (saturating at [`Duration::MAX`]).
    pub fn duration(&self) -> Duration {
        match self {
            Profile::Constant(phase) => phase.duration,
            Profile::Ramp { duration, .. } => *duration,
            Profile::Steps(phases) => phases
                .iter()
                .fold(Duration::ZERO, |sum, p| sum.saturating_add(p.duration)),
        }
    }

    /// Number of phases: 1 for a constant load or a ramp.
    pub fn phase_count(&self) -> usize {
        match self {
            Profile::Constant(_) | Profile::Ramp { .. } => 1,
            Profile::Steps(phases) => phases.len(),
        }
    }

    /// Name of phase `index` (`ramp` for a ramp), `None` past the last phase.
    pub fn phase_name(&self, index: usize) -> Option<&str> {
        match self {
            Profile::Constant(phase) => (index == 0).then_some(phase.name.as_str()),
            Profile::Ramp { .. } => (index == 0).then_some("ramp"),
            Profile::Steps(phases) => phases.get(index).map(|p| p.name.as_str()),
        }
    }

    /// Start and end of phase `index` (a ramp is one phase), `None` past the last phase.
    pub fn phase_span(&self, index: usize) -> Option<(Duration, Duration)> {
        match self {
            Profile::Constant(_) | Profile::Ramp { .. } => {
                (index == 0).then(|| (Duration::ZERO, self.duration()))
            }
            Profile::Steps(phases) => {
                let start = phases[..index.min(phases.len())]
                    .iter()
                    .fold(Duration::ZERO, |sum, p| sum.saturating_add(p.duration));
                phases
                    .get(index)
                    .map(|p| (start, start.saturating_add(p.duration)))
            }
        }
    }

    /// Mean offered load of phase `index` in Erlangs (a ramp's average), 0 past the last phase.
    pub fn phase_erlangs(&self, index: usize, mean_holding: Duration) -> f64 {
        match self {
            Profile::Constant(p) if index == 0 => p.load.erlangs(mean_holding),
            Profile::Ramp { from, to, .. } if index == 0 => {
                (from.erlangs(mean_holding) + to.erlangs(mean_holding)) / 2.0
            }
            Profile::Steps(phases) => phases
                .get(index)
                .map_or(0.0, |p| p.load.erlangs(mean_holding)),
            _ => 0.0,
        }
    }

    /// Index of the phase in force at `t`; `None` at or after the end of the run.
    pub fn phase_at(&self, t: Duration) -> Option<usize> {
        if t >= self.duration() {
            return None;
        }
        match self {
            Profile::Constant(_) | Profile::Ramp { .. } => Some(0),
            Profile::Steps(phases) => {
                let mut end = Duration::ZERO;
                phases.iter().position(|p| {
                    end = end.saturating_add(p.duration);
                    t < end
                })
            }
        }
    }

    /// Arrival rate in calls/s at `t`; 0 at or after the end of the run.
    pub fn rate_at(&self, t: Duration, mean_holding: Duration) -> f64 {
        let Some(index) = self.phase_at(t) else {
            return 0.0;
        };
        match self {
            Profile::Constant(phase) => phase.load.arrival_rate(mean_holding),
            Profile::Ramp { from, to, duration } => {
                let (r0, r1) = (
                    from.arrival_rate(mean_holding),
                    to.arrival_rate(mean_holding),
                );
                r0 + (r1 - r0) * t.as_secs_f64() / duration.as_secs_f64()
            }
            Profile::Steps(phases) => phases[index].load.arrival_rate(mean_holding),
        }
    }

    /// Highest arrival rate anywhere in the run, in calls/s.
    pub fn max_rate(&self, mean_holding: Duration) -> f64 {
        match self {
            Profile::Constant(phase) => phase.load.arrival_rate(mean_holding),
            Profile::Ramp { from, to, .. } => from
                .arrival_rate(mean_holding)
                .max(to.arrival_rate(mean_holding)),
            Profile::Steps(phases) => phases
                .iter()
                .map(|p| p.load.arrival_rate(mean_holding))
                .fold(0.0, f64::max),
        }
    }

    /// Checks every load and duration.
    ///
    /// # Errors
    /// [`TrafficModelError::EmptySteps`] for steps without phases;
    /// [`TrafficModelError::ZeroDuration`] for a phase or ramp that lasts no time;
    /// [`TrafficModelError::InvalidLoad`] for a negative, NaN or infinite load.
    pub fn validate(&self) -> Result<(), TrafficModelError> {
        let check = |phase: usize, duration: Duration, loads: &[OfferedLoad]| {
            if duration.is_zero() {
                return Err(TrafficModelError::ZeroDuration { phase });
            }
            loads.iter().try_for_each(OfferedLoad::validate)
        };
        match self {
            Profile::Constant(p) => check(0, p.duration, &[p.load]),
            Profile::Ramp { from, to, duration } => check(0, *duration, &[*from, *to]),
            Profile::Steps(phases) if phases.is_empty() => Err(TrafficModelError::EmptySteps),
            Profile::Steps(phases) => phases
                .iter()
                .enumerate()
                .try_for_each(|(i, p)| check(i, p.duration, &[p.load])),
        }
    }
}

/// A duration in nanoseconds, as `f64`.
fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Nanoseconds to a duration, rounded; negative and NaN become zero.
fn from_nanos_f64(ns: f64) -> Duration {
    if ns.is_nan() || ns <= 0.0 {
        Duration::ZERO
    } else {
        // `as` saturates at u64::MAX for huge values.
        Duration::from_nanos(ns.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const H: Duration = Duration::from_secs(180);

    #[test]
    fn offered_load_units_convert_to_the_same_rate() {
        // 21 Erl at h = 180 s is 0.11667 calls/s = 420 BHCA.
        let rate = 21.0 / 180.0;
        for load in [
            OfferedLoad::Erlangs(21.0),
            OfferedLoad::PerTrunk {
                erlangs_per_trunk: 0.7,
                trunks: 30,
            },
            OfferedLoad::Bhca(420.0),
            OfferedLoad::CallsPerSecond(rate),
        ] {
            assert!((load.arrival_rate(H) - rate).abs() < 1e-12, "{load:?}");
            assert!((load.erlangs(H) - 21.0).abs() < 1e-9, "{load:?}");
        }
        assert_eq!(OfferedLoad::Erlangs(21.0).arrival_rate(Duration::ZERO), 0.0);
        assert_eq!(OfferedLoad::Erlangs(-1.0).arrival_rate(H), 0.0);
        assert_eq!(OfferedLoad::Bhca(f64::NAN).arrival_rate(H), 0.0);
    }

    #[test]
    fn invalid_values_are_rejected() {
        assert_eq!(
            OfferedLoad::Erlangs(-1.0).validate(),
            Err(TrafficModelError::InvalidLoad(-1.0))
        );
        assert!(matches!(
            OfferedLoad::Bhca(f64::NAN).validate(),
            Err(TrafficModelError::InvalidLoad(v)) if v.is_nan()
        ));
        assert_eq!(
            OfferedLoad::CallsPerSecond(f64::INFINITY).validate(),
            Err(TrafficModelError::InvalidLoad(f64::INFINITY))
        );
        assert_eq!(
            Holding::Exponential {
                mean: Duration::ZERO
            }
            .validate(),
            Err(TrafficModelError::ZeroHolding)
        );
        assert_eq!(
            Profile::Steps(vec![]).validate(),
            Err(TrafficModelError::EmptySteps)
        );
        let mut steps = match Profile::yd2823(30) {
            Profile::Steps(s) => s,
            other => panic!("yd2823 is a step profile, got {other:?}"),
        };
        steps[1].duration = Duration::ZERO;
        assert_eq!(
            Profile::Steps(steps).validate(),
            Err(TrafficModelError::ZeroDuration { phase: 1 })
        );
        let ramp = Profile::Ramp {
            from: OfferedLoad::Erlangs(0.0),
            to: OfferedLoad::Erlangs(-3.0),
            duration: H,
        };
        assert_eq!(ramp.validate(), Err(TrafficModelError::InvalidLoad(-3.0)));
        assert_eq!(Profile::yd2823(30).validate(), Ok(()));
    }

    #[test]
    fn yd2823_is_idle_then_busy_for_two_hours_each() {
        let p = Profile::yd2823(30);
        let two_h = Duration::from_secs(7200);
        assert_eq!(p.duration(), 2 * two_h);
        assert_eq!(p.phase_count(), 2);
        assert_eq!(p.phase_name(0), Some("idle"));
        assert_eq!(p.phase_name(1), Some("busy"));
        assert_eq!(p.phase_at(Duration::ZERO), Some(0));
        assert_eq!(p.phase_at(two_h - Duration::from_nanos(1)), Some(0));
        assert_eq!(p.phase_at(two_h), Some(1));
        assert_eq!(p.phase_at(2 * two_h), None);
        assert_eq!(p.phase_span(0), Some((Duration::ZERO, two_h)));
        assert_eq!(p.phase_span(1), Some((two_h, 2 * two_h)));
        assert_eq!(p.phase_span(2), None);
        assert!((p.phase_erlangs(1, H) - 26.25).abs() < 1e-9);
        let idle = p.rate_at(Duration::from_secs(10), H);
        let busy = p.rate_at(two_h, H);
        assert!((idle - 0.7 * 30.0 / 180.0).abs() < 1e-12);
        assert!((busy - 0.875 * 30.0 / 180.0).abs() < 1e-12);
        assert!((busy / idle - 1.25).abs() < 1e-12);
        assert_eq!(p.rate_at(2 * two_h, H), 0.0);
        assert_eq!(p.max_rate(H), busy);
    }

    #[test]
    fn ramp_rate_is_linear() {
        let p = Profile::Ramp {
            from: OfferedLoad::Erlangs(10.0),
            to: OfferedLoad::Erlangs(30.0),
            duration: Duration::from_secs(1000),
        };
        assert!((p.rate_at(Duration::ZERO, H) - 10.0 / 180.0).abs() < 1e-12);
        assert!((p.rate_at(Duration::from_secs(500), H) - 20.0 / 180.0).abs() < 1e-12);
        assert!((p.max_rate(H) - 30.0 / 180.0).abs() < 1e-12);
        assert_eq!(p.phase_at(Duration::from_secs(999)), Some(0));
    }

    #[test]
    fn holding_samples_have_the_configured_mean() {
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        for holding in [
            Holding::Fixed(H),
            Holding::Exponential { mean: H },
            Holding::LogNormal {
                mean: H,
                sd: Duration::from_secs(120),
            },
        ] {
            let mean = (0..n)
                .map(|_| holding.sample(&mut rng).as_secs_f64())
                .sum::<f64>()
                / f64::from(n);
            // Standard error ≤ 180 s / √200 000 = 0.4 s; allow 2 s (5 σ).
            assert!((mean - 180.0).abs() < 2.0, "{holding:?}: mean {mean}");
            assert_eq!(holding.mean(), H);
        }
    }
}
