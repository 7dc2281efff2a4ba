//! Call arrivals over a load profile (a seeded, non-homogeneous Poisson process) and a
//! discrete-event loss simulation (M/G/N/N) that runs them on a virtual clock.
//!
//! The schedule is absolute: every arrival carries its offset from the run start, the origin
//! that latency is measured from, so a driver that falls behind never shifts later calls.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::iter::FusedIterator;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Exp1;

use super::load::{Holding, Profile, TrafficModelError};

/// One call attempt of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Sequence number, from 0.
    pub index: u64,
    /// Offset from the run start: when the call is due, and the origin of its latency.
    pub at: Duration,
    /// Index of the profile phase the call belongs to.
    pub phase: usize,
    /// How long the call holds a trunk once connected.
    pub holding: Duration,
}

/// A stretch of the run with a rate that is constant or linear in time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Start, seconds from the run start.
    start: f64,
    /// End (excluded), seconds from the run start.
    end: f64,
    /// Rate at `start`, calls/s.
    rate_start: f64,
    /// Rate just before `end`, calls/s.
    rate_end: f64,
    /// Profile phase index.
    phase: usize,
}

impl Segment {
    /// Rate at `t` seconds, linear between the two ends.
    fn rate_at(&self, t: f64) -> f64 {
        self.rate_start
            + (self.rate_end - self.rate_start) * (t - self.start) / (self.end - self.start)
    }
}

/// How arrival epochs are generated.
#[derive(Debug, Clone)]
enum Schedule {
    /// Poisson process over rate segments; `now` is the time of the last event, in seconds.
    Poisson {
        /// The profile, cut into segments.
        segments: Vec<Segment>,
        /// Segment `now` lies in.
        current: usize,
        /// Current time in seconds from the run start.
        now: f64,
    },
    /// Evenly spaced calls: call `i` at `i / rate` seconds.
    FixedRate {
        /// Calls per second.
        rate: f64,
        /// Number of calls.
        count: u64,
    },
}

/// The arrival schedule of a load run: a seeded, reproducible iterator of [`Arrival`]s.
///
/// Over a [`Profile`] it is a non-homogeneous Poisson process. Within a constant-load phase the
/// gaps are exact exponential draws; a gap that would cross into the next phase is cut at the
/// boundary and drawn afresh at the new rate, which is exact because the exponential is
/// memoryless. A ramp is sampled by thinning (Lewis–Shedler): candidates at the ramp's highest
/// rate, each kept with probability `rate(t)/max rate`. The iterator ends at the profile's end.
#[derive(Debug, Clone)]
pub struct Arrivals {
    /// Source of every random draw.
    rng: StdRng,
    /// Distribution of holding times.
    holding: Holding,
    /// How the epochs are generated.
    schedule: Schedule,
    /// Index of the next arrival.
    next_index: u64,
}

impl Arrivals {
    /// Poisson arrivals over `profile`, with holding times from `holding`, reproducible from
    /// `seed`. Erlang loads convert to calls/s with `holding.mean()`.
    ///
    /// # Errors
    /// Whatever [`Profile::validate`] or [`Holding::validate`] rejects.
    pub fn new(profile: &Profile, holding: Holding, seed: u64) -> Result<Self, TrafficModelError> {
        profile.validate()?;
        holding.validate()?;
        let h = holding.mean();
        let mut segments = Vec::with_capacity(profile.phase_count());
        match profile {
            Profile::Constant(phase) => {
                let r = phase.load.arrival_rate(h);
                segments.push(Segment {
                    start: 0.0,
                    end: phase.duration.as_secs_f64(),
                    rate_start: r,
                    rate_end: r,
                    phase: 0,
                });
            }
            Profile::Ramp { from, to, duration } => segments.push(Segment {
                start: 0.0,
                end: duration.as_secs_f64(),
                rate_start: from.arrival_rate(h),
                rate_end: to.arrival_rate(h),
                phase: 0,
            }),
            Profile::Steps(phases) => {
                let mut start = Duration::ZERO;
                for (index, phase) in phases.iter().enumerate() {
                    let end = start.saturating_add(phase.duration);
                    let r = phase.load.arrival_rate(h);
                    segments.push(Segment {
                        start: start.as_secs_f64(),
                        end: end.as_secs_f64(),
                        rate_start: r,
                        rate_end: r,
                        phase: index,
                    });
                    start = end;
                }
            }
        }
        Ok(Arrivals {
            rng: StdRng::seed_from_u64(seed),
            holding,
            schedule: Schedule::Poisson {
                segments,
                current: 0,
                now: 0.0,
            },
            next_index: 0,
        })
    }

    /// `count` evenly spaced calls at `rate` calls/s, the first at time 0 (the fixed-interval
    /// mode); holding times still come from `holding`, reproducible from `seed`.
    ///
    /// # Errors
    /// [`TrafficModelError::InvalidRate`] unless `rate` is finite and above zero;
    /// [`TrafficModelError::ZeroHolding`] for a zero mean holding time.
    pub fn fixed_rate(
        rate: f64,
        count: u64,
        holding: Holding,
        seed: u64,
    ) -> Result<Self, TrafficModelError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(TrafficModelError::InvalidRate(rate));
        }
        holding.validate()?;
        Ok(Arrivals {
            rng: StdRng::seed_from_u64(seed),
            holding,
            schedule: Schedule::FixedRate { rate, count },
            next_index: 0,
        })
    }

    /// Next arrival epoch and its phase, in seconds; `None` once the schedule is over.
    fn next_epoch(&mut self) -> Option<(f64, usize)> {
        match &mut self.schedule {
            Schedule::FixedRate { rate, count } => {
                (self.next_index < *count).then(|| (self.next_index as f64 / *rate, 0))
            }
            Schedule::Poisson {
                segments,
                current,
                now,
            } => loop {
                let seg = *segments.get(*current)?;
                let max_rate = seg.rate_start.max(seg.rate_end);
                if max_rate > 0.0 {
                    let gap: f64 = self.rng.sample(Exp1);
                    let t = *now + gap / max_rate;
                    if t < seg.end {
                        *now = t;
                        // Constant segments accept every candidate; ramps thin.
                        let keep = seg.rate_start == seg.rate_end
                            || self.rng.random::<f64>() * max_rate < seg.rate_at(t);
                        if keep {
                            return Some((t, seg.phase));
                        }
                        continue;
                    }
                }
                // Memoryless: restart the clock of the next gap at the boundary.
                *now = seg.end;
                *current += 1;
            },
        }
    }
}

impl Iterator for Arrivals {
    type Item = Arrival;

    /// The next call of the schedule; `None` after the profile's end (or the `count`th call).
    fn next(&mut self) -> Option<Arrival> {
        let (t, phase) = self.next_epoch()?;
        let arrival = Arrival {
            index: self.next_index,
            at: Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX),
            phase,
            holding: self.holding.sample(&mut self.rng),
        };
        self.next_index += 1;
        Some(arrival)
    }
}

impl FusedIterator for Arrivals {}

/// Counts of one phase of a loss simulation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseLoss {
    /// Calls that arrived.
    pub offered: u64,
    /// Calls that found a free server.
    pub carried: u64,
    /// Calls that found every server busy and were lost.
    pub blocked: u64,
}

impl PhaseLoss {
    /// Fraction of offered calls that were blocked (0 when none were offered).
    pub fn blocking(&self) -> f64 {
        if self.offered == 0 {
            0.0
        } else {
            self.blocked as f64 / self.offered as f64
        }
    }
}

/// Result of [`simulate_loss`].
#[derive(Debug, Clone, PartialEq)]
pub struct LossSimulation {
    /// Number of servers (trunks) in the group.
    pub servers: u32,
    /// Counts over the whole run.
    pub total: PhaseLoss,
    /// Counts per profile phase, indexed by [`Arrival::phase`].
    pub phases: Vec<PhaseLoss>,
    /// Observation window: from time 0 to the last arrival.
    pub horizon: Duration,
    /// Offered traffic achieved: sum of the holding times of all arrivals / horizon, in Erl.
    pub offered_erlangs: f64,
    /// Carried traffic: time-average number of busy servers over the horizon, in Erl.
    pub carried_erlangs: f64,
    /// Most servers busy at once.
    pub peak_busy: u32,
}

impl LossSimulation {
    /// Fraction of all offered calls that were blocked.
    pub fn blocking(&self) -> f64 {
        self.total.blocking()
    }
}

/// Runs `arrivals` through a group of `servers` with no queue (M/G/N/N, blocked calls lost) on
/// a virtual clock: each call takes a free server for its holding time or is blocked.
///
/// Arrivals must come in time order, as [`Arrivals`] yields them. Servers start idle at time 0,
/// so the carried traffic includes the warm-up from an empty group (about `h/horizon` of `A`
/// low for exponential holding); compare long runs with Erlang B.
pub fn simulate_loss(arrivals: impl Iterator<Item = Arrival>, servers: u32) -> LossSimulation {
    // Departure times of the calls in progress, earliest first.
    let mut departures: BinaryHeap<Reverse<Duration>> = BinaryHeap::new();
    let mut phases: Vec<PhaseLoss> = Vec::new();
    let mut total = PhaseLoss::default();
    let mut busy_area_ns: u128 = 0;
    let mut holding_sum_ns: u128 = 0;
    let mut last_event = Duration::ZERO;
    let mut peak_busy = 0u32;

    for arrival in arrivals {
        let now = arrival.at.max(last_event);
        while let Some(&Reverse(end)) = departures.peek() {
            if end > now {
                break;
            }
            busy_area_ns += departures.len() as u128 * (end - last_event).as_nanos();
            last_event = end;
            departures.pop();
        }
        busy_area_ns += departures.len() as u128 * (now - last_event).as_nanos();
        last_event = now;

        holding_sum_ns += arrival.holding.as_nanos();
        if phases.len() <= arrival.phase {
            phases.resize(arrival.phase + 1, PhaseLoss::default());
        }
        let phase = &mut phases[arrival.phase];
        phase.offered += 1;
        total.offered += 1;
        // The heap never holds more than `servers` entries, so the cast is lossless.
        let busy = departures.len() as u32;
        if busy < servers {
            departures.push(Reverse(now.saturating_add(arrival.holding)));
            phase.carried += 1;
            total.carried += 1;
            peak_busy = peak_busy.max(busy + 1);
        } else {
            phase.blocked += 1;
            total.blocked += 1;
        }
    }

    let horizon = last_event;
    let per_horizon = |ns: u128| {
        if horizon.is_zero() {
            0.0
        } else {
            ns as f64 / horizon.as_nanos() as f64
        }
    };
    LossSimulation {
        servers,
        total,
        phases,
        horizon,
        offered_erlangs: per_horizon(holding_sum_ns),
        carried_erlangs: per_horizon(busy_area_ns),
        peak_busy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Instant;

    use crate::traffic::erlang::erlang_b;
    use crate::traffic::load::{OfferedLoad, Phase};

    const H: Duration = Duration::from_secs(180);
    const EXP_H: Holding = Holding::Exponential { mean: H };

    fn constant(erlangs: f64, duration: Duration) -> Profile {
        Profile::Constant(Phase::new(
            "constant",
            OfferedLoad::Erlangs(erlangs),
            duration,
        ))
    }

    /// Real time, only to check that a simulated run takes little of it (the acceptance
    /// criterion); the simulation itself never reads a clock.
    #[allow(clippy::disallowed_methods)] // tests: measures the test's own wall time
    fn wall_clock() -> Instant {
        Instant::now()
    }

    /// Kolmogorov–Smirnov statistic D of `samples` against Exp(`rate`).
    fn ks_exponential(mut samples: Vec<f64>, rate: f64) -> f64 {
        samples.sort_by(f64::total_cmp);
        let n = samples.len() as f64;
        samples
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = 1.0 - (-rate * x).exp();
                (f - i as f64 / n).max((i + 1) as f64 / n - f)
            })
            .fold(0.0, f64::max)
    }

    /// Gaps between consecutive arrivals, the first measured from time 0, in seconds.
    fn gaps(arrivals: &[Arrival]) -> Vec<f64> {
        let mut prev = Duration::ZERO;
        arrivals
            .iter()
            .map(|a| {
                let gap = (a.at - prev).as_secs_f64();
                prev = a.at;
                gap
            })
            .collect()
    }

    /// Variance/mean of the arrival counts in consecutive `window`s over `duration`.
    fn index_of_dispersion(arrivals: &[Arrival], window: Duration, duration: Duration) -> f64 {
        let k = (duration.as_nanos() / window.as_nanos()) as usize;
        let mut counts = vec![0u64; k];
        for a in arrivals {
            let w = (a.at.as_nanos() / window.as_nanos()) as usize;
            if w < k {
                counts[w] += 1;
            }
        }
        let mean = counts.iter().sum::<u64>() as f64 / k as f64;
        let var = counts
            .iter()
            .map(|&c| (c as f64 - mean).powi(2))
            .sum::<f64>()
            / (k - 1) as f64;
        var / mean
    }

    /// Asserts a Poisson count lies within 4 standard deviations of its mean.
    fn assert_poisson_count(count: usize, mean: f64, what: &str) {
        let tol = 4.0 * mean.sqrt();
        assert!(
            (count as f64 - mean).abs() <= tol,
            "{what}: {count} calls, expected {mean:.1} ± {tol:.1}"
        );
    }

    #[test]
    fn two_hour_run_at_21_erlangs_is_poisson() {
        let duration = Duration::from_secs(7200);
        let rate = 21.0 / 180.0;
        let started = wall_clock();
        let arrivals: Vec<Arrival> = Arrivals::new(&constant(21.0, duration), EXP_H, 2823)
            .unwrap()
            .collect();
        let sim = simulate_loss(arrivals.iter().copied(), 30);
        let wall = started.elapsed();
        assert!(wall < Duration::from_secs(1), "took {wall:?}");

        let n = arrivals.len();
        assert_poisson_count(n, rate * 7200.0, "2 h at 21 Erl");
        assert!(arrivals.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(arrivals.iter().all(|a| a.at < duration && a.phase == 0));
        assert!(arrivals
            .iter()
            .enumerate()
            .all(|(i, a)| a.index == i as u64));

        let d = ks_exponential(gaps(&arrivals), rate);
        let critical = 1.36 / (n as f64).sqrt();
        let dispersion = index_of_dispersion(&arrivals, Duration::from_secs(60), duration);
        eprintln!(
            "2 h @ 21 Erl: {n} calls in {wall:?}; KS D = {d:.4} vs {critical:.4}; \
             dispersion {dispersion:.3}; offered {:.2} Erl, carried {:.2} Erl, blocking {:.4}",
            sim.offered_erlangs,
            sim.carried_erlangs,
            sim.blocking()
        );
        assert!(d < critical, "KS D = {d} ≥ {critical}");
        // Only 120 windows of 60 s: the index of dispersion has a standard error of
        // √(2/119) ≈ 0.13 here, so the ±10 % criterion is checked on the long run below.
        assert!((dispersion - 1.0).abs() < 4.0 * (2.0 / 119.0f64).sqrt());
        // ~840 calls: the achieved load has a standard error of √(2/840) ≈ 4.9 %.
        assert!((sim.offered_erlangs / 21.0 - 1.0).abs() < 4.0 * (2.0 / 840.0f64).sqrt());
    }

    #[test]
    fn long_run_at_21_erlangs_meets_the_acceptance_bounds() {
        // 200 h: ~84 000 calls and 12 000 windows, so the ±2 % load and [0.9, 1.1] dispersion
        // criteria sit at about 4 and 10 standard errors.
        let duration = Duration::from_secs(200 * 3600);
        let rate = 21.0 / 180.0;
        let started = wall_clock();
        let arrivals: Vec<Arrival> = Arrivals::new(&constant(21.0, duration), EXP_H, 4)
            .unwrap()
            .collect();
        let sim = simulate_loss(arrivals.iter().copied(), u32::MAX);
        let wall = started.elapsed();
        let n = arrivals.len();
        let d = ks_exponential(gaps(&arrivals), rate);
        let critical = 1.36 / (n as f64).sqrt();
        let dispersion = index_of_dispersion(&arrivals, Duration::from_secs(60), duration);
        eprintln!(
            "200 h @ 21 Erl: {n} calls in {wall:?}; KS D = {d:.5} vs {critical:.5}; \
             dispersion {dispersion:.3}; offered {:.3} Erl, carried {:.3} Erl",
            sim.offered_erlangs, sim.carried_erlangs
        );
        assert!(wall < Duration::from_secs(3), "took {wall:?}");
        assert!(d < critical, "KS D = {d} ≥ {critical}");
        assert!((0.9..=1.1).contains(&dispersion), "dispersion {dispersion}");
        assert!((sim.offered_erlangs / 21.0 - 1.0).abs() < 0.02);
        // No blocking with unlimited servers: carried = offered, less the warm-up (h/T ≈ 0.03 %).
        assert_eq!(sim.total.blocked, 0);
        assert!((sim.carried_erlangs / 21.0 - 1.0).abs() < 0.02);
    }

    #[test]
    fn phase_boundaries_keep_the_gaps_exponential() {
        // Same load in oddly cut steps: the gaps must still be one Exp(λ) stream.
        let load = OfferedLoad::Erlangs(21.0);
        let profile = Profile::Steps(
            [37, 1, 5000, 13, 90_000]
                .iter()
                .enumerate()
                .map(|(i, &s)| Phase::new(format!("p{i}"), load, Duration::from_secs(s)))
                .collect(),
        );
        let arrivals: Vec<Arrival> = Arrivals::new(&profile, EXP_H, 11).unwrap().collect();
        let rate = 21.0 / 180.0;
        let n = arrivals.len();
        assert_poisson_count(n, rate * profile.duration().as_secs_f64(), "steps");
        let d = ks_exponential(gaps(&arrivals), rate);
        assert!(d < 1.36 / (n as f64).sqrt(), "KS D = {d}");
        for a in &arrivals {
            assert_eq!(profile.phase_at(a.at), Some(a.phase), "{a:?}");
        }
    }

    #[test]
    fn blocking_matches_erlang_b_for_any_holding_distribution() {
        // 25 Erl on 30 trunks: B = 0.05260 (erlang.rs). Erlang B is insensitive to the
        // holding-time distribution beyond its mean.
        //
        // Successive blocking events are correlated (a blocked call finds a full group, and so
        // does the next one), so a binomial (Wilson) interval on the pooled counts is too
        // narrow. The acceptance interval is therefore the 95 % Student-t interval over 20
        // independent replications (different seeds); the pooled Wilson interval and its
        // width deficit are printed for comparison.
        const REPLICATIONS: u64 = 20;
        const T_975_19DF: f64 = 2.093;
        let expected = erlang_b(25.0, 30);
        let duration = Duration::from_secs(500 * 3600); // ~250 000 calls per replication
        for (seed, holding) in [
            (2500, EXP_H),
            (2600, Holding::Fixed(H)),
            (
                2700,
                Holding::LogNormal {
                    mean: H,
                    sd: Duration::from_secs(300),
                },
            ),
        ] {
            let started = wall_clock();
            let mut total = PhaseLoss::default();
            let mut blocking = Vec::new();
            let mut carried_erlangs = 0.0;
            for r in 0..REPLICATIONS {
                let arrivals = Arrivals::new(&constant(25.0, duration), holding, seed + r).unwrap();
                let sim = simulate_loss(arrivals, 30);
                assert_eq!(sim.peak_busy, 30);
                assert_eq!(sim.total.offered, sim.total.carried + sim.total.blocked);
                total.offered += sim.total.offered;
                total.carried += sim.total.carried;
                total.blocked += sim.total.blocked;
                blocking.push(sim.blocking());
                carried_erlangs += sim.carried_erlangs / REPLICATIONS as f64;
            }
            let wall = started.elapsed();
            let k = REPLICATIONS as f64;
            let mean = blocking.iter().sum::<f64>() / k;
            let sd = (blocking.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
            let half = T_975_19DF * sd / k.sqrt();
            let (lo, hi) = (mean - half, mean + half);
            let (w_lo, w_hi) =
                crate::verdict::stats::wilson_interval(total.blocked, total.offered, 0.95)
                    .expect("calls offered");
            eprintln!(
                "{holding:?}: {} offered, {} blocked; B = {mean:.5}, 95 % CI [{lo:.5}, {hi:.5}] \
                 over {REPLICATIONS} replications (Wilson on pooled counts [{w_lo:.5}, {w_hi:.5}], \
                 {:.1}x narrower); Erlang B {expected:.5}; carried {carried_erlangs:.3} Erl; {wall:?}",
                total.offered,
                total.blocked,
                (hi - lo) / (w_hi - w_lo),
            );
            assert!(
                (lo..=hi).contains(&expected),
                "{holding:?}: B = {mean} in [{lo}, {hi}], Erlang B {expected}"
            );
            // Carried traffic = A·(1 − B), less the warm-up from an empty group (h/T ≈ 0.01 %).
            assert!((carried_erlangs / (25.0 * (1.0 - expected)) - 1.0).abs() < 0.005);
        }
    }

    #[test]
    fn yd2823_profile_phases_and_counts() {
        let profile = Profile::yd2823(30);
        let arrivals: Vec<Arrival> = Arrivals::new(&profile, EXP_H, 2015).unwrap().collect();
        let idle: Vec<&Arrival> = arrivals.iter().filter(|a| a.phase == 0).collect();
        let busy: Vec<&Arrival> = arrivals.iter().filter(|a| a.phase == 1).collect();
        assert_eq!(idle.len() + busy.len(), arrivals.len());
        let two_h = Duration::from_secs(7200);
        assert!(idle.iter().all(|a| a.at < two_h));
        assert!(busy.iter().all(|a| a.at >= two_h && a.at < 2 * two_h));
        // λ = 0.7 × 30 / 180 s and 0.875 × 30 / 180 s: 840 and 1050 calls per 2 h.
        assert_poisson_count(idle.len(), 0.7 * 30.0 / 180.0 * 7200.0, "idle");
        assert_poisson_count(busy.len(), 0.875 * 30.0 / 180.0 * 7200.0, "busy");
        let sim = simulate_loss(arrivals.iter().copied(), 30);
        assert_eq!(sim.phases.len(), 2);
        assert_eq!(sim.phases[0].offered, idle.len() as u64);
        assert_eq!(sim.phases[1].offered, busy.len() as u64);
        eprintln!(
            "yd2823(30): idle {} calls (B {:.4}), busy {} calls (B {:.4})",
            idle.len(),
            sim.phases[0].blocking(),
            busy.len(),
            sim.phases[1].blocking()
        );
    }

    #[test]
    fn same_seed_same_arrivals() {
        let profile = Profile::yd2823(10);
        let a: Vec<Arrival> = Arrivals::new(&profile, EXP_H, 9).unwrap().collect();
        let b: Vec<Arrival> = Arrivals::new(&profile, EXP_H, 9).unwrap().collect();
        let c: Vec<Arrival> = Arrivals::new(&profile, EXP_H, 10).unwrap().collect();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ramp_density_increases_as_the_rate_does() {
        // 10 → 60 Erl over 10 h at h = 180 s: λ(t) rises linearly from 1/18 to 1/3 calls/s.
        let duration = Duration::from_secs(36_000);
        let profile = Profile::Ramp {
            from: OfferedLoad::Erlangs(10.0),
            to: OfferedLoad::Erlangs(60.0),
            duration,
        };
        let arrivals: Vec<Arrival> = Arrivals::new(&profile, EXP_H, 3).unwrap().collect();
        let quarter = 9000.0;
        let (r0, r1) = (10.0 / 180.0, 60.0 / 180.0);
        let mut previous = 0;
        for q in 0..4 {
            let (t0, t1) = (q as f64 * quarter, (q + 1) as f64 * quarter);
            let count = arrivals
                .iter()
                .filter(|a| (t0..t1).contains(&a.at.as_secs_f64()))
                .count();
            // ∫ λ over the quarter, with λ linear: the rate at its midpoint × its length.
            let mid = 0.5 * (t0 + t1);
            let expected = (r0 + (r1 - r0) * mid / 36_000.0) * quarter;
            assert_poisson_count(count, expected, &format!("quarter {q}"));
            assert!(count > previous, "quarter {q}: {count} ≤ {previous}");
            previous = count;
        }
        assert!(arrivals.iter().all(|a| a.at < duration));
    }

    #[test]
    fn fixed_rate_is_evenly_spaced_and_finite() {
        let mut arrivals = Arrivals::fixed_rate(4.0, 3, Holding::Fixed(H), 1).unwrap();
        let got: Vec<Arrival> = arrivals.by_ref().collect();
        let at: Vec<Duration> = got.iter().map(|a| a.at).collect();
        assert_eq!(
            at,
            [0, 250, 500].map(Duration::from_millis).to_vec(),
            "{got:?}"
        );
        assert!(got.iter().all(|a| a.holding == H && a.phase == 0));
        assert_eq!(arrivals.next(), None);
        assert_eq!(
            Arrivals::fixed_rate(0.0, 3, EXP_H, 1).err(),
            Some(TrafficModelError::InvalidRate(0.0))
        );
    }

    #[test]
    fn invalid_models_are_rejected_before_any_arrival() {
        assert_eq!(
            Arrivals::new(&Profile::Steps(vec![]), EXP_H, 1).err(),
            Some(TrafficModelError::EmptySteps)
        );
        assert_eq!(
            Arrivals::new(&Profile::yd2823(30), Holding::Fixed(Duration::ZERO), 1).err(),
            Some(TrafficModelError::ZeroHolding)
        );
        assert_eq!(
            Arrivals::new(&constant(-1.0, H), EXP_H, 1).err(),
            Some(TrafficModelError::InvalidLoad(-1.0))
        );
    }
}
