//! Expected versus measured: a load run's blocking beside Erlang B for the declared trunks, and
//! its agent waits beside Erlang C for the declared agent queue, each with a 95 % confidence
//! interval from batch means.
//!
//! The calls of one run are not independent trials: blocked calls come in bursts (a full trunk
//! group stays full for a while, so the next caller is refused too), and long agent waits come
//! in runs. A binomial (Wilson) interval on the pooled counts is then several times too narrow.
//! The method of batch means (Law & Kelton, *Simulation Modeling and Analysis*, 5th ed.,
//! §9.5.3) splits the calls, in start order, into k = 10..20 consecutive batches; when a batch
//! spans many times the correlation length, the batch means are nearly independent and nearly
//! normal, and the Student t interval on them (k − 1 degrees of freedom) holds its coverage.
//!
//! The first calls of a run meet an empty system (every trunk free, no queue), so the calls
//! scheduled in a warm-up of three mean holding (or handle) times, at most a tenth of the run,
//! are left out of the measurement (Law & Kelton §9.5.1, deletion of the initial transient).
//!
//! Batches must be long against the bursts. For blocking that is a few bursts per batch; for
//! agent waits, whose batch means are skewed (most callers wait not at all, a few long), it takes
//! thousands of calls: in simulation of M/M/3 at 50 % occupancy the 95 % interval of the mean
//! wait covers the truth about 85 % of the time at 600 calls (400 handle times), 95 % at 6000.
//!
//! Pure: fed call indices and numbers, no records, no clock.

use super::erlang::{erlang_b, erlang_c, mean_wait, service_level};
use super::load::Profile;
use crate::verdict::stats::t_quantile;
use serde::Serialize;
use std::time::Duration;

/// Confidence of every interval of the checks.
pub const CONFIDENCE: f64 = 0.95;

/// Batches of a small measurement.
pub const MIN_BATCHES: usize = 10;

/// Batches once every batch can hold [`CALLS_PER_BATCH`] calls.
pub const MAX_BATCHES: usize = 20;

/// Calls per batch before [`MAX_BATCHES`] are used instead of [`MIN_BATCHES`].
pub const CALLS_PER_BATCH: u64 = 20;

/// A wait up to this long (beyond the declared overhead) counts as no wait at all, at most.
pub const WAIT_EPSILON: Duration = Duration::from_millis(500);

/// Number of batches for `calls` calls: [`MAX_BATCHES`] from 20 calls per batch on, else
/// [`MIN_BATCHES`].
pub fn batch_count(calls: u64) -> usize {
    if calls >= MAX_BATCHES as u64 * CALLS_PER_BATCH {
        MAX_BATCHES
    } else {
        MIN_BATCHES
    }
}

/// The warm-up left out of a check: three mean holding (or handle) times, at most a tenth of the
/// run.
pub fn warmup(mean_time: Duration, run: Duration) -> Duration {
    mean_time.saturating_mul(3).min(run / 10)
}

/// The Student t interval of the mean of `means` (independent, roughly normal batch means) at
/// `confidence`: `(mean, half width)`. `None` with fewer than two values or a confidence
/// outside (0, 1).
pub fn t_interval(means: &[f64], confidence: f64) -> Option<(f64, f64)> {
    let k = means.len();
    if k < 2 || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let n = k as f64;
    let mean = means.iter().sum::<f64>() / n;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = t_quantile(0.5 + confidence / 2.0, n - 1.0);
    Some((mean, t * (var / n).sqrt()))
}

/// Batch means over the calls `first..end` of a run (call indices, which are in start order):
/// each call adds a value and a weight to its batch; a batch's mean is its value over its weight.
///
/// Calls are assigned to batches by index, so they may arrive in any order (records arrive in
/// the order calls end). Memory: two numbers per batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchMeans {
    first: u64,
    end: u64,
    sums: Vec<f64>,
    weights: Vec<f64>,
}

impl BatchMeans {
    /// The calls `first..end` in `batches` consecutive batches of (nearly) equal size.
    pub fn new(first: u64, end: u64, batches: usize) -> Self {
        let k = batches.max(1);
        BatchMeans {
            first,
            end: end.max(first),
            sums: vec![0.0; k],
            weights: vec![0.0; k],
        }
    }

    /// The calls `first..end` in [`batch_count`] batches.
    pub fn for_calls(first: u64, end: u64) -> Self {
        Self::new(first, end, batch_count(end.saturating_sub(first)))
    }

    /// Adds call `index`'s `value` with `weight` to its batch; false (and nothing added) for a
    /// call outside `first..end`.
    pub fn add(&mut self, index: u64, value: f64, weight: f64) -> bool {
        if index < self.first || index >= self.end {
            return false;
        }
        let n = u128::from(self.end - self.first);
        let k = self.sums.len() as u128;
        let b = (u128::from(index - self.first) * k / n) as usize;
        self.sums[b] += value;
        self.weights[b] += weight;
        true
    }

    /// Sum of the values added.
    pub fn total(&self) -> f64 {
        self.sums.iter().sum()
    }

    /// Sum of the weights added.
    pub fn total_weight(&self) -> f64 {
        self.weights.iter().sum()
    }

    /// The overall estimate: total value over total weight; `None` before any weight.
    pub fn estimate(&self) -> Option<f64> {
        let w = self.total_weight();
        (w > 0.0).then(|| self.total() / w)
    }

    /// The mean of every batch that holds any weight, in order.
    pub fn means(&self) -> Vec<f64> {
        self.sums
            .iter()
            .zip(&self.weights)
            .filter(|(_, w)| **w > 0.0)
            .map(|(s, w)| s / w)
            .collect()
    }

    /// Batches that hold any weight.
    pub fn batches(&self) -> usize {
        self.weights.iter().filter(|w| **w > 0.0).count()
    }

    /// The interval of the overall estimate at `confidence`: the estimate ± the Student t half
    /// width of the batch means. `None` with fewer than two batches holding weight.
    pub fn interval(&self, confidence: f64) -> Option<(f64, f64)> {
        let est = self.estimate()?;
        let (_, half) = t_interval(&self.means(), confidence)?;
        Some((est - half, est + half))
    }
}

/// The 95 % interval of a share (values 0 or 1, weight 1 per call): the batch-means interval,
/// widened to the Wilson interval on the pooled counts where that is wider, and kept in [0, 1].
///
/// With few events per batch the batch means can all be equal (no call blocked in any batch)
/// and their spread says nothing; the binomial interval, too narrow for bursty events, is then
/// the honest floor.
fn share_interval(b: &BatchMeans) -> Option<(f64, f64)> {
    let (lo, hi) = b.interval(CONFIDENCE)?;
    let n = b.total_weight().round() as u64;
    let k = (b.total().round() as u64).min(n);
    let (wlo, whi) = crate::verdict::stats::wilson_interval(k, n, CONFIDENCE).unwrap_or((lo, hi));
    Some((lo.min(wlo).max(0.0), hi.max(whi).min(1.0)))
}

/// The profile as stretches of constant arrival rate, `(calls/s, seconds)`: one per phase, a
/// ramp in 100 slices.
fn rate_segments(profile: &Profile, mean_holding: Duration) -> Vec<(f64, f64)> {
    match profile {
        Profile::Ramp { duration, .. } => {
            const SLICES: u32 = 100;
            let d = duration.as_secs_f64() / f64::from(SLICES);
            (0..SLICES)
                .map(|i| {
                    let t = Duration::from_secs_f64(d * (f64::from(i) + 0.5));
                    (profile.rate_at(t, mean_holding), d)
                })
                .collect()
        }
        _ => (0..profile.phase_count())
            .filter_map(|i| {
                let (start, end) = profile.phase_span(i)?;
                Some((
                    profile.rate_at(start, mean_holding),
                    end.saturating_sub(start).as_secs_f64(),
                ))
            })
            .collect(),
    }
}

/// Mean offered load over the profile, Erlangs (λ·h averaged over time).
pub fn mean_offered_erlangs(profile: &Profile, mean_holding: Duration) -> f64 {
    let segs = rate_segments(profile, mean_holding);
    let time: f64 = segs.iter().map(|(_, d)| d).sum();
    let h = mean_holding.as_secs_f64();
    if time > 0.0 {
        segs.iter().map(|(r, d)| r * h * d).sum::<f64>() / time
    } else {
        0.0
    }
}

/// Calls refused with 503 by batch: the measured side of [`ErlangBCheck`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingSamples {
    /// Calls scheduled before this are left out.
    pub warmup: Duration,
    /// Value 1 for a refused call, 0 otherwise; weight 1 per call.
    pub refused: BatchMeans,
}

impl BlockingSamples {
    /// For the calls `first..end` (those after the warm-up).
    pub fn new(warmup: Duration, first: u64, end: u64) -> Self {
        BlockingSamples {
            warmup,
            refused: BatchMeans::for_calls(first, end),
        }
    }

    /// Call `index` was refused (503) or not.
    pub fn add(&mut self, index: u64, refused: bool) {
        self.refused
            .add(index, if refused { 1.0 } else { 0.0 }, 1.0);
    }
}

/// Blocking measured against Erlang B for the declared trunks and the offered load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErlangBCheck {
    /// Mean offered load over the profile, Erlangs.
    pub offered_erlangs: f64,
    /// Trunks the scenario declares.
    pub trunks: u32,
    /// Erlang B's blocking: per phase, weighted by the calls each phase offers.
    pub predicted: f64,
    /// Calls refused with 503 ÷ calls attempted, after the warm-up.
    pub measured: f64,
    /// Calls attempted after the warm-up.
    pub attempts: u64,
    /// Of those, refused with 503.
    pub blocked: u64,
    /// Calls scheduled in the first `warmup_s` seconds are left out (trunks start free).
    pub warmup_s: f64,
    /// Batches of the interval.
    pub batches: usize,
    /// 95 % interval of `measured` by batch means (never narrower than the Wilson interval on
    /// the same counts); `None` with fewer than two batches.
    pub interval: Option<(f64, f64)>,
    /// Whether `predicted` lies in `interval`.
    pub agrees: Option<bool>,
}

/// Erlang B against the blocking measured: `None` before any call after the warm-up.
pub fn erlang_b_check(
    profile: &Profile,
    mean_holding: Duration,
    trunks: u32,
    samples: &BlockingSamples,
) -> Option<ErlangBCheck> {
    let measured = samples.refused.estimate()?;
    let h = mean_holding.as_secs_f64();
    let segs = rate_segments(profile, mean_holding);
    let calls: f64 = segs.iter().map(|(r, d)| r * d).sum();
    let predicted = if calls > 0.0 {
        segs.iter()
            .map(|(r, d)| r * d * erlang_b(r * h, trunks))
            .sum::<f64>()
            / calls
    } else {
        0.0
    };
    let interval = share_interval(&samples.refused);
    Some(ErlangBCheck {
        offered_erlangs: mean_offered_erlangs(profile, mean_holding),
        trunks,
        predicted,
        measured,
        attempts: samples.refused.total_weight().round() as u64,
        blocked: samples.refused.total().round() as u64,
        warmup_s: samples.warmup.as_secs_f64(),
        batches: samples.refused.batches(),
        interval,
        agrees: interval.map(|(lo, hi)| (lo..=hi).contains(&predicted)),
    })
}

/// The target's agent queue as the scenario declares it (`load.agents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentQueue {
    /// Agents serving the queue.
    pub agents: u32,
    /// Mean handle time: agent answers → agent free again.
    pub handle_time: Duration,
    /// What the measured wait holds besides the time in the queue, subtracted from every
    /// measured wait: the IVR's transfer delay and the agent's answer delay (agent answers →
    /// greeting heard).
    pub overhead: Duration,
}

impl AgentQueue {
    /// A wait up to this long beyond the overhead counts as no wait: [`WAIT_EPSILON`], at most a
    /// twentieth of the handle time.
    pub fn wait_epsilon(&self) -> Duration {
        WAIT_EPSILON.min(self.handle_time / 20)
    }
}

/// The agent waits of a run by batch: the measured side of [`ErlangCCheck`].
#[derive(Debug, Clone, PartialEq)]
pub struct AgentQueueSamples {
    /// The declared queue.
    pub queue: AgentQueue,
    /// Calls scheduled before this are left out of the waits (the queue starts empty).
    pub warmup: Duration,
    /// Calls whose IVR flow reached the agent step (arrivals to the queue), by profile phase.
    pub requests: Vec<u64>,
    /// Of those, calls an agent answered.
    pub served: u64,
    /// Calls that reached the agent step but no agent answered (step timeout or hang-up).
    pub unserved: u64,
    /// Shortest measured wait, seconds, overhead included: a floor the overhead cannot exceed.
    pub min_wait_s: Option<f64>,
    /// Wait in the queue (measured wait − overhead), seconds, per served call after the
    /// warm-up.
    pub wait: BatchMeans,
    /// 1 when the wait in the queue exceeded the epsilon, per served call after the warm-up.
    pub waited: BatchMeans,
}

impl AgentQueueSamples {
    /// For a profile of `phases` phases; waits of the calls `first..end` are measured.
    pub fn new(queue: AgentQueue, warmup: Duration, phases: usize, first: u64, end: u64) -> Self {
        AgentQueueSamples {
            queue,
            warmup,
            requests: vec![0; phases.max(1)],
            served: 0,
            unserved: 0,
            min_wait_s: None,
            wait: BatchMeans::for_calls(first, end),
            waited: BatchMeans::for_calls(first, end),
        }
    }

    /// Call `index` of `phase` reached the agent step and waited `wait_s` seconds for an agent
    /// (overhead included), or got none (`None`).
    pub fn add(&mut self, index: u64, phase: usize, wait_s: Option<f64>) {
        let last = self.requests.len() - 1;
        self.requests[phase.min(last)] += 1;
        let Some(w) = wait_s else {
            self.unserved += 1;
            return;
        };
        self.served += 1;
        self.min_wait_s = Some(self.min_wait_s.map_or(w, |m| m.min(w)));
        let queued = w - self.queue.overhead.as_secs_f64();
        let waited = queued > self.queue.wait_epsilon().as_secs_f64();
        self.wait.add(index, queued, 1.0);
        self.waited.add(index, if waited { 1.0 } else { 0.0 }, 1.0);
    }
}

/// Agent waits measured against Erlang C (M/M/N, first come first served) for the declared
/// agents and handle time, at the arrival rate measured at the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErlangCCheck {
    /// Agents the scenario declares.
    pub agents: u32,
    /// Their mean handle time, seconds.
    pub handle_time_s: f64,
    /// Subtracted from every measured wait (transfer and agent answer delays), seconds.
    pub overhead_s: f64,
    /// A wait in the queue up to this long counts as no wait, seconds.
    pub epsilon_s: f64,
    /// Calls whose IVR flow reached the agent step.
    pub requests: u64,
    /// Of those, answered by an agent.
    pub served: u64,
    /// Reached the agent step but no agent answered.
    pub unserved: u64,
    /// Arrivals at the queue: requests ÷ the profile's duration, calls/s.
    pub arrival_rate: f64,
    /// Traffic offered to the agents, A = λ·h, Erlangs.
    pub offered_erlangs: f64,
    /// Erlang C: probability that a call waits at all.
    pub predicted_wait_probability: f64,
    /// Erlang C: probability that a call waits longer than the epsilon,
    /// C·e^(−(N − A)·ε/h) — what `measured_waited_share` measures.
    pub predicted_waited_share: f64,
    /// Erlang C's mean wait over all calls (ASA), seconds; `None` when A ≥ N.
    pub predicted_mean_wait_s: Option<f64>,
    /// Served calls after the warm-up: the sample of the two measurements.
    pub samples: u64,
    /// Mean wait in the queue (measured wait − overhead), seconds.
    pub measured_mean_wait_s: f64,
    /// Its 95 % interval by batch means.
    pub mean_wait_interval: Option<(f64, f64)>,
    /// Share of served calls that waited longer than the epsilon in the queue.
    pub measured_waited_share: f64,
    /// Its 95 % interval by batch means (never narrower than the Wilson interval).
    pub waited_share_interval: Option<(f64, f64)>,
    /// Shortest measured wait (overhead included), seconds: the overhead should not exceed it.
    pub min_wait_s: Option<f64>,
    /// Calls scheduled in the first `warmup_s` seconds are left out of the waits.
    pub warmup_s: f64,
    /// Batches of the intervals.
    pub batches: usize,
    /// Whether both predictions lie in their intervals.
    pub agrees: Option<bool>,
}

/// Erlang C against the agent waits measured: `None` before any served call after the warm-up.
///
/// The arrival rate at the queue is measured per phase (calls that reached the agent step ÷ the
/// phase's length) and each phase is predicted at its own rate; the predictions are weighted by
/// the requests of each phase.
pub fn erlang_c_check(profile: &Profile, samples: &AgentQueueSamples) -> Option<ErlangCCheck> {
    let measured_mean = samples.wait.estimate()?;
    let measured_share = samples.waited.estimate()?;
    let q = samples.queue;
    let h = q.handle_time.as_secs_f64();
    let eps = q.wait_epsilon();
    let requests: u64 = samples.requests.iter().sum();
    let mut weight = 0.0;
    let (mut c, mut share, mut wait) = (0.0, 0.0, Some(0.0));
    for (i, n) in samples.requests.iter().enumerate() {
        let Some((start, end)) = profile.phase_span(i) else {
            continue;
        };
        let secs = end.saturating_sub(start).as_secs_f64();
        if *n == 0 || secs <= 0.0 {
            continue;
        }
        let w = *n as f64;
        let a = w / secs * h;
        weight += w;
        c += w * erlang_c(a, q.agents);
        share += w * (1.0 - service_level(a, q.agents, q.handle_time, eps));
        wait = wait
            .zip(mean_wait(a, q.agents, q.handle_time))
            .map(|(sum, mw)| sum + w * mw.as_secs_f64());
    }
    let (c, share, wait) = if weight > 0.0 {
        (c / weight, share / weight, wait.map(|s| s / weight))
    } else {
        (0.0, 0.0, Some(0.0))
    };
    let run = profile.duration().as_secs_f64();
    let arrival_rate = if run > 0.0 {
        requests as f64 / run
    } else {
        0.0
    };
    let mean_wait_interval = samples.wait.interval(CONFIDENCE);
    let waited_share_interval = share_interval(&samples.waited);
    let within = |x: Option<f64>, i: Option<(f64, f64)>| {
        x.zip(i).map(|(x, (lo, hi))| (lo..=hi).contains(&x))
    };
    let agrees = within(wait, mean_wait_interval)
        .zip(within(Some(share), waited_share_interval))
        .map(|(a, b)| a && b);
    Some(ErlangCCheck {
        agents: q.agents,
        handle_time_s: h,
        overhead_s: q.overhead.as_secs_f64(),
        epsilon_s: eps.as_secs_f64(),
        requests,
        served: samples.served,
        unserved: samples.unserved,
        arrival_rate,
        offered_erlangs: arrival_rate * h,
        predicted_wait_probability: c,
        predicted_waited_share: share,
        predicted_mean_wait_s: wait,
        samples: samples.wait.total_weight().round() as u64,
        measured_mean_wait_s: measured_mean,
        mean_wait_interval,
        measured_waited_share: measured_share,
        waited_share_interval,
        min_wait_s: samples.min_wait_s,
        warmup_s: samples.warmup.as_secs_f64(),
        batches: samples.wait.batches(),
        agrees,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::load::{OfferedLoad, Phase};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::Exp1;

    fn constant(erlangs: f64, secs: u64) -> Profile {
        Profile::Constant(Phase::new(
            "constant",
            OfferedLoad::Erlangs(erlangs),
            Duration::from_secs(secs),
        ))
    }

    #[test]
    fn t_interval_of_a_worked_example() {
        // 1..5: mean 3, s = 1.5811, t(0.975, 4) = 2.7764 → half width 2.7764 × 1.5811 / √5.
        let (m, half) = t_interval(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95).unwrap();
        assert!((m - 3.0).abs() < 1e-12);
        assert!((half - 1.9632).abs() < 1e-3, "{half}");
        assert_eq!(t_interval(&[1.0], 0.95), None);
        assert_eq!(t_interval(&[1.0, 2.0], 1.0), None);
    }

    #[test]
    fn calls_go_to_their_batch_by_index_in_any_order() {
        // Calls 10..110 in 10 batches of 10; call i has value i, so batch b's mean is
        // 10 + 10 b + 4.5 whatever the order of arrival.
        let mut b = BatchMeans::new(10, 110, 10);
        for i in (0..120).rev() {
            let inside = b.add(i, i as f64, 1.0);
            assert_eq!(inside, (10..110).contains(&i), "{i}");
        }
        let means = b.means();
        assert_eq!(means.len(), 10);
        for (k, m) in means.iter().enumerate() {
            assert!((m - (14.5 + 10.0 * k as f64)).abs() < 1e-9, "{means:?}");
        }
        assert_eq!(b.total_weight(), 100.0);
        assert!((b.estimate().unwrap() - 59.5).abs() < 1e-9);
        let (lo, hi) = b.interval(0.95).unwrap();
        let (_, half) = t_interval(&means, 0.95).unwrap();
        assert!((hi - lo - 2.0 * half).abs() < 1e-9 && (lo + hi) / 2.0 - 59.5 < 1e-9);
        // Fewer calls than batches: empty batches do not count.
        let mut few = BatchMeans::new(0, 3, 10);
        for i in 0..3 {
            few.add(i, 1.0, 1.0);
        }
        assert_eq!(few.batches(), 3);
        assert_eq!(batch_count(399), MIN_BATCHES);
        assert_eq!(batch_count(400), MAX_BATCHES);
    }

    /// A blocked/not-blocked sequence with bursts: a two-state Markov chain that stays blocked
    /// with probability 0.9 (mean burst 10 calls) and blocks 5 % of calls in the long run. Over
    /// 400 replications of 20 000 calls (20 batches of 1000, each some 5 bursts), the
    /// batch-means interval covers the true 5 % close to 95 % of the time; the Wilson interval
    /// on the same counts, which assumes independent calls, covers it far less often (it is
    /// about 4× too narrow: the variance inflation of this chain is (1 + ρ)/(1 − ρ) ≈ 18).
    #[test]
    fn batch_means_cover_bursty_blocking_where_wilson_does_not() {
        let stay = 0.9;
        let enter = (1.0 - stay) * 0.05 / 0.95;
        let mut rng = StdRng::seed_from_u64(44);
        let (reps, n) = (400, 20_000u64);
        let (mut batch_cover, mut wilson_cover) = (0, 0);
        for _ in 0..reps {
            let mut blocked = rng.random::<f64>() < 0.05;
            let mut s = BlockingSamples::new(Duration::ZERO, 0, n);
            let mut count = 0;
            for i in 0..n {
                s.add(i, blocked);
                count += u64::from(blocked);
                let p = if blocked { stay } else { enter };
                blocked = rng.random::<f64>() < p;
            }
            let (lo, hi) = s.refused.interval(CONFIDENCE).unwrap();
            batch_cover += usize::from((lo..=hi).contains(&0.05));
            let (wlo, whi) = crate::verdict::stats::wilson_interval(count, n, 0.95).unwrap();
            wilson_cover += usize::from((wlo..=whi).contains(&0.05));
        }
        let (batch, wilson) = (
            batch_cover as f64 / reps as f64,
            wilson_cover as f64 / reps as f64,
        );
        eprintln!("coverage of 95 % intervals: batch means {batch:.3}, Wilson {wilson:.3}");
        // Nominal 95 %; a little less where batches hold only a few bursts (measured 0.925).
        assert!((0.90..=0.98).contains(&batch), "batch means cover {batch}");
        assert!(wilson < 0.6, "Wilson covers {wilson}");
    }

    #[test]
    fn erlang_b_prediction_weights_phases_by_their_calls() {
        let h = Duration::from_secs(180);
        let mut s = BlockingSamples::new(Duration::ZERO, 0, 1000);
        for i in 0..1000 {
            s.add(i, i % 19 == 0);
        }
        let c = erlang_b_check(&constant(25.0, 3600), Duration::from_secs(180), 30, &s).unwrap();
        assert!((c.predicted - 0.052_603).abs() < 1e-6, "{c:?}");
        assert!((c.offered_erlangs - 25.0).abs() < 1e-9);
        assert_eq!((c.attempts, c.blocked, c.batches), (1000, 53, 20));
        assert_eq!(c.agrees, Some(true), "{c:?}");
        // yd2823 on 30 trunks: 21 Erl then 26.25 Erl, the busy phase offering 25 % more calls;
        // a measured 10 % is far above what that predicts.
        let p = Profile::yd2823(30);
        let mut s = BlockingSamples::new(Duration::ZERO, 0, 1000);
        for i in 0..1000 {
            s.add(i, i % 10 == 0);
        }
        let c = erlang_b_check(&p, h, 30, &s).unwrap();
        let (bi, bb) = (erlang_b(21.0, 30), erlang_b(26.25, 30));
        assert!(
            (c.predicted - (bi + 1.25 * bb) / 2.25).abs() < 1e-12,
            "{c:?}"
        );
        assert!((c.offered_erlangs - 23.625).abs() < 1e-9);
        assert_eq!(c.agrees, Some(false), "{c:?}");
        let empty = BlockingSamples::new(Duration::ZERO, 0, 10);
        assert_eq!(erlang_b_check(&p, h, 30, &empty), None);
        // No call blocked in 400: every batch mean is 0, yet a blocking of 0.1 % is no surprise
        // (the interval falls back to Wilson's, about 0–0.95 %).
        let mut none = BlockingSamples::new(Duration::ZERO, 0, 400);
        for i in 0..400 {
            none.add(i, false);
        }
        let c = erlang_b_check(&constant(20.0, 3600), h, 34, &none).unwrap();
        assert!(c.predicted > 0.001 && c.predicted < 0.002, "{c:?}");
        let (lo, hi) = c.interval.unwrap();
        assert!(lo == 0.0 && (hi - 0.0095).abs() < 0.0005, "{c:?}");
        assert_eq!(c.agrees, Some(true));
    }

    /// An M/M/N queue simulated call by call (first come, first served): N agents' next free
    /// times; each arrival takes the earliest free agent.
    fn mmn_waits(
        agents: usize,
        rate: f64,
        handle: f64,
        calls: usize,
        seed: u64,
    ) -> Vec<(f64, f64)> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut free = vec![0.0f64; agents];
        let mut t = 0.0;
        (0..calls)
            .map(|_| {
                t += rng.sample::<f64, _>(Exp1) / rate;
                let (i, at) = free
                    .iter()
                    .copied()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap();
                let start = at.max(t);
                free[i] = start + rng.sample::<f64, _>(Exp1) * handle;
                (t, start - t)
            })
            .collect()
    }

    #[test]
    fn simulated_mmn_waits_agree_with_erlang_c_and_a_wrong_agent_count_does_not() {
        // 5 agents, handle 1 s, 4 calls/s: A = 4 Erl, C(4, 5) = 0.5541, mean wait 0.5541 s.
        let (agents, rate, handle, calls) = (5u32, 4.0, 1.0, 20_000);
        let waits = mmn_waits(agents as usize, rate, handle, calls, 7);
        let secs = waits.last().unwrap().0;
        let profile = constant(4.0, secs.ceil() as u64);
        let overhead = Duration::from_millis(200);
        let check_with = |declared: u32| {
            let queue = AgentQueue {
                agents: declared,
                handle_time: Duration::from_secs(1),
                overhead,
            };
            let first = 100;
            let mut s = AgentQueueSamples::new(queue, Duration::ZERO, 1, first, calls as u64);
            for (i, (_, w)) in waits.iter().enumerate() {
                // The measured wait includes the overhead (e.g. the agent's answer delay).
                s.add(i as u64, 0, Some(w + 0.2));
            }
            s.add(calls as u64, 0, None);
            erlang_c_check(&profile, &s).unwrap()
        };
        let c = check_with(agents);
        eprintln!("{c:#?}");
        assert!((c.predicted_wait_probability - erlang_c(c.offered_erlangs, 5)).abs() < 1e-12);
        assert!((c.offered_erlangs - 4.0).abs() < 0.15, "{c:?}");
        assert!((c.predicted_wait_probability - 0.554).abs() < 0.05, "{c:?}");
        assert_eq!((c.served, c.unserved, c.samples), (20_000, 1, 19_900));
        assert!((c.min_wait_s.unwrap() - 0.2).abs() < 1e-9);
        assert!((c.epsilon_s - 0.05).abs() < 1e-12);
        assert_eq!(c.agrees, Some(true), "{c:?}");
        // The same waits against 6 declared agents: Erlang C expects far shorter waits.
        let wrong = check_with(6);
        assert_eq!(wrong.agrees, Some(false), "{wrong:?}");
        assert!(wrong.predicted_mean_wait_s.unwrap() < wrong.mean_wait_interval.unwrap().0);
    }

    #[test]
    fn an_overloaded_queue_has_no_predicted_mean_wait() {
        let queue = AgentQueue {
            agents: 2,
            handle_time: Duration::from_secs(30),
            overhead: Duration::ZERO,
        };
        assert_eq!(queue.wait_epsilon(), WAIT_EPSILON);
        let mut s = AgentQueueSamples::new(queue, Duration::ZERO, 1, 0, 100);
        for i in 0..100 {
            s.add(i, 0, Some(60.0 + i as f64));
        }
        // 100 requests in 1000 s at 30 s: 3 Erl on 2 agents.
        let c = erlang_c_check(&constant(3.0, 1000), &s).unwrap();
        assert!((c.offered_erlangs - 3.0).abs() < 1e-9);
        assert_eq!(c.predicted_mean_wait_s, None);
        assert_eq!(c.predicted_wait_probability, 1.0);
        assert_eq!(c.agrees, None);
    }
}
