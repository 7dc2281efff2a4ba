//! A run's counts and load at a fixed interval: attempts, completions, failures by reason,
//! concurrent calls (time-weighted mean and maximum), offered and carried Erlangs.
//!
//! Fed one [`CallRecord`] at a time as calls end; records come in the order calls end, not the
//! order they started, so every interval stays open until the run is over and each record adds
//! to every interval its call overlapped. Memory is bounded by the number of intervals: the
//! interval is chosen from the expected run length for at most [`TARGET_POINTS`] points, and
//! doubles (pairs of intervals merge) whenever a run outgrows [`MAX_INTERVALS`].

use crate::engine::record::{CallRecord, FailureKind};
use crate::traffic::load::Profile;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Most points an automatically chosen interval gives over the expected length of a run.
pub const TARGET_POINTS: u64 = 1000;

/// Most intervals kept; beyond, the interval doubles.
pub const MAX_INTERVALS: usize = 2048;

/// Instants per interval at which the calls in progress are counted, for the maximum.
pub const SAMPLES_PER_INTERVAL: usize = 16;

/// The intervals an automatic choice picks from, seconds.
const NICE_INTERVALS_S: [u64; 14] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
];

/// The interval for a run expected to last `expected`: the shortest of 1 s, 2 s, 5 s, 10 s,
/// 15 s, 30 s, 1 min … 2 h that gives at most [`TARGET_POINTS`] points.
pub fn interval_for(expected: Duration) -> Duration {
    let s = expected.as_secs_f64();
    let secs = NICE_INTERVALS_S
        .iter()
        .copied()
        .find(|i| s / *i as f64 <= TARGET_POINTS as f64)
        .unwrap_or_else(|| (s / TARGET_POINTS as f64).ceil() as u64);
    Duration::from_secs(secs)
}

/// One interval's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bin {
    /// Calls started (INVITE sent, or due when none was sent).
    attempts: u32,
    /// Calls that ended successfully.
    completed: u32,
    /// Call-seconds in progress (start → end) within the interval.
    busy_s: f64,
    /// Answered call-seconds (answer → BYE) within the interval.
    carried_s: f64,
}

/// The streaming time series of a run.
#[derive(Debug, Clone)]
pub struct TimeSeries {
    interval: Duration,
    bins: Vec<Bin>,
    /// Failed calls by reason, by the interval they ended in.
    failures: BTreeMap<FailureKind, Vec<u32>>,
    /// Calls in progress at the instants `j × interval / SAMPLES_PER_INTERVAL`.
    samples: Vec<u32>,
    /// The offered load: the profile and its mean holding time.
    offered: Option<(Profile, Duration)>,
}

impl Default for TimeSeries {
    fn default() -> Self {
        Self::new(Duration::from_secs(1), None)
    }
}

impl TimeSeries {
    /// An empty series at `interval` (at least 1 ms), with the offered load from `offered`
    /// (profile, mean holding time) when the run has one.
    pub fn new(interval: Duration, offered: Option<(Profile, Duration)>) -> Self {
        TimeSeries {
            interval: interval.max(Duration::from_millis(1)),
            bins: Vec::new(),
            failures: BTreeMap::new(),
            samples: Vec::new(),
            offered,
        }
    }

    /// The series of a run: the `load.series_interval` when set, else [`interval_for`] the
    /// expected length (the profile's, or calls ÷ rate + hold).
    pub fn for_plan(plan: &crate::engine::RunPlan) -> Self {
        match &plan.load {
            Some(l) => {
                let interval = l
                    .series_interval
                    .unwrap_or_else(|| interval_for(l.profile.duration()));
                Self::new(interval, Some((l.profile.clone(), l.holding.mean())))
            }
            None => {
                let launches = Duration::try_from_secs_f64(plan.calls as f64 / plan.rate)
                    .unwrap_or(Duration::MAX);
                Self::new(interval_for(launches.saturating_add(plan.hold)), None)
            }
        }
    }

    /// The current interval (it doubles when a run outgrows [`MAX_INTERVALS`]).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn secs(&self) -> f64 {
        self.interval.as_secs_f64()
    }

    fn bin_of(&self, t: f64) -> usize {
        (t.max(0.0) / self.secs()) as usize
    }

    /// Makes room for time `t` (seconds), doubling the interval as often as needed.
    fn reach(&mut self, t: f64) {
        while self.bin_of(t) >= MAX_INTERVALS {
            self.double();
        }
        let need = self.bin_of(t) + 1;
        if self.bins.len() < need {
            self.bins.resize(need, Bin::default());
            self.samples.resize(need * SAMPLES_PER_INTERVAL, 0);
            for v in self.failures.values_mut() {
                v.resize(need, 0);
            }
        }
    }

    /// Twice the interval: pairs of intervals merge, every other sampling instant stays.
    fn double(&mut self) {
        self.interval *= 2;
        self.bins = self
            .bins
            .chunks(2)
            .map(|p| {
                p.iter().fold(Bin::default(), |a, b| Bin {
                    attempts: a.attempts + b.attempts,
                    completed: a.completed + b.completed,
                    busy_s: a.busy_s + b.busy_s,
                    carried_s: a.carried_s + b.carried_s,
                })
            })
            .collect();
        for v in self.failures.values_mut() {
            *v = v.chunks(2).map(|p| p.iter().sum()).collect();
        }
        let mut samples: Vec<u32> = self.samples.iter().copied().step_by(2).collect();
        samples.resize(self.bins.len() * SAMPLES_PER_INTERVAL, 0);
        self.samples = samples;
    }

    /// Adds the overlap of `[from, to)` (seconds) with each interval it spans.
    fn spread(&mut self, from: f64, to: f64, add: fn(&mut Bin, f64)) {
        if to <= from {
            return;
        }
        let w = self.secs();
        let (first, last) = (self.bin_of(from), self.bin_of(to).min(self.bins.len() - 1));
        for b in first..=last {
            let (lo, hi) = (b as f64 * w, (b + 1) as f64 * w);
            let overlap = to.min(hi) - from.max(lo);
            if overlap > 0.0 {
                add(&mut self.bins[b], overlap);
            }
        }
    }

    /// Adds one finished call.
    pub fn record(&mut self, r: &CallRecord) {
        let start = r.invite_sent_ms.unwrap_or(r.scheduled_ms).max(0.0) / 1000.0;
        let end = (r.ended_ms / 1000.0).max(start);
        let answered = r.answered_ms.map(|a| {
            let a = a.max(0.0) / 1000.0;
            (a, (r.bye_ms.unwrap_or(r.ended_ms) / 1000.0).max(a))
        });
        self.reach(answered.map_or(end, |(_, released)| released.max(end)));
        let (b_start, b_end) = (self.bin_of(start), self.bin_of(end));
        self.bins[b_start].attempts += 1;
        match &r.failure {
            None => self.bins[b_end].completed += 1,
            Some(f) => {
                let n = self.bins.len();
                self.failures.entry(f.kind).or_insert_with(|| vec![0; n])[b_end] += 1;
            }
        }
        self.spread(start, end, |b, s| b.busy_s += s);
        if let Some((a, released)) = answered {
            self.spread(a, released, |b, s| b.carried_s += s);
        }
        // In progress at the sampling instants t with start ≤ t < end.
        let step = self.secs() / SAMPLES_PER_INTERVAL as f64;
        let first = (start / step).ceil() as usize;
        let last = ((end / step).ceil() as usize).min(self.samples.len());
        for s in &mut self.samples[first.min(last)..last] {
            *s += 1;
        }
    }

    /// Offered Erlangs in interval `b`: the profile's λ·h averaged over the interval.
    fn offered_in(&self, b: usize) -> Option<f64> {
        let (profile, h) = self.offered.as_ref()?;
        let w = self.secs();
        let n = SAMPLES_PER_INTERVAL;
        let sum: f64 = (0..n)
            .map(|i| {
                let t = Duration::from_secs_f64((b as f64 + (i as f64 + 0.5) / n as f64) * w);
                profile.rate_at(t, *h) * h.as_secs_f64()
            })
            .sum();
        Some(sum / n as f64)
    }

    /// The series as report.json carries it: one value per interval, interval `i` covering
    /// `[i × interval_s, (i + 1) × interval_s)` from the start of the run.
    pub fn report(&self) -> SeriesReport {
        let w = self.secs();
        let n = self.bins.len();
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        let concurrent_mean: Vec<f64> = self.bins.iter().map(|b| round(b.busy_s / w)).collect();
        let concurrent_max = (0..n)
            .map(|b| {
                let sampled = self.samples
                    [b * SAMPLES_PER_INTERVAL..(b + 1) * SAMPLES_PER_INTERVAL]
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(0);
                // A mean above k means more than k calls at some instant.
                let from_mean = (self.bins[b].busy_s / w - 1e-6).ceil().max(0.0) as u32;
                sampled.max(from_mean)
            })
            .collect();
        let offered_erlangs = self.offered.as_ref().map(|_| {
            (0..n)
                .filter_map(|b| self.offered_in(b))
                .map(round)
                .collect()
        });
        SeriesReport {
            interval_s: w,
            attempts: self.bins.iter().map(|b| b.attempts).collect(),
            completed: self.bins.iter().map(|b| b.completed).collect(),
            failures: self.failures.clone(),
            concurrent_mean,
            concurrent_max,
            carried_erlangs: self.bins.iter().map(|b| round(b.carried_s / w)).collect(),
            offered_erlangs,
        }
    }
}

/// The time series in report.json: parallel arrays, one value per interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesReport {
    /// Length of every interval, seconds; interval `i` starts `i × interval_s` after the start.
    pub interval_s: f64,
    /// Calls started in each interval (INVITE sent).
    pub attempts: Vec<u32>,
    /// Calls that ended successfully in each interval.
    pub completed: Vec<u32>,
    /// Calls that ended failed in each interval, by reason (reasons that occurred).
    pub failures: BTreeMap<FailureKind, Vec<u32>>,
    /// Calls in progress, time-weighted mean over each interval.
    pub concurrent_mean: Vec<f64>,
    /// Most calls in progress in each interval: the highest count at 16 instants per interval,
    /// and never below the mean rounded up.
    pub concurrent_max: Vec<u32>,
    /// Carried traffic: answered call time within each interval ÷ its length, Erlangs.
    pub carried_erlangs: Vec<f64>,
    /// Offered traffic from the load profile (λ·h), Erlangs; `None` without a `load:` section.
    pub offered_erlangs: Option<Vec<f64>>,
}

impl SeriesReport {
    /// Start of each interval, seconds since the start of the run.
    pub fn times(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.attempts.len()).map(|i| i as f64 * self.interval_s)
    }

    /// Failed calls in each interval, all reasons together.
    pub fn failed(&self) -> Vec<u32> {
        let mut out = vec![0; self.attempts.len()];
        for v in self.failures.values() {
            for (o, x) in out.iter_mut().zip(v) {
                *o += x;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::CallTimeline;
    use crate::traffic::load::{OfferedLoad, Phase};

    /// A call from `start` to `end` seconds, answered at `answer`, failed with `kind`.
    fn call(start: f64, answer: Option<f64>, end: f64, kind: Option<FailureKind>) -> CallRecord {
        #[allow(clippy::disallowed_methods)]
        let origin = std::time::Instant::now();
        let mut c = CallTimeline::new(0, "x".into(), origin, origin);
        c.record.scheduled_ms = start * 1000.0;
        c.record.invite_sent_ms = Some(start * 1000.0);
        c.record.answered_ms = answer.map(|a| a * 1000.0);
        c.record.bye_ms = answer.map(|_| end * 1000.0);
        c.record.ended_ms = end * 1000.0;
        if let Some(k) = kind {
            c.fail(k, "x");
        }
        c.record
    }

    #[test]
    fn intervals_follow_the_run_length() {
        assert_eq!(
            interval_for(Duration::from_secs(40)),
            Duration::from_secs(1)
        );
        assert_eq!(
            interval_for(Duration::from_secs(1000)),
            Duration::from_secs(1)
        );
        assert_eq!(
            interval_for(Duration::from_secs(1001)),
            Duration::from_secs(2)
        );
        // 2 h: 10 s; the yd2823 profile's 4 h: 15 s; a day: 2 min.
        assert_eq!(
            interval_for(Duration::from_secs(7200)),
            Duration::from_secs(10)
        );
        assert_eq!(
            interval_for(Duration::from_secs(14_400)),
            Duration::from_secs(15)
        );
        assert_eq!(
            interval_for(Duration::from_secs(86_400)),
            Duration::from_secs(120)
        );
        assert_eq!(
            interval_for(Duration::from_secs(100 * 86_400)),
            Duration::from_secs(8640)
        );
    }

    /// Records in end order, not start order: 0.5–2.5 s answered at 1.0 s; 1.2–1.8 s failed
    /// (no answer); 3.0–3.1 s answered at 3.05 s. Every number worked by hand.
    #[test]
    fn calls_in_end_order_fill_every_interval_they_overlap() {
        let profile = Profile::Constant(Phase::new(
            "c",
            OfferedLoad::Erlangs(2.0),
            Duration::from_secs(4),
        ));
        let mut s = TimeSeries::new(
            Duration::from_secs(1),
            Some((profile, Duration::from_secs(1))),
        );
        s.record(&call(1.2, None, 1.8, Some(FailureKind::Timeout)));
        s.record(&call(0.5, Some(1.0), 2.5, None));
        s.record(&call(3.0, Some(3.05), 3.1, None));
        let r = s.report();
        assert_eq!(r.interval_s, 1.0);
        assert_eq!(r.attempts, vec![1, 1, 0, 1]);
        assert_eq!(r.completed, vec![0, 0, 1, 1]);
        assert_eq!(r.failures[&FailureKind::Timeout], vec![0, 1, 0, 0]);
        assert_eq!(r.failed(), vec![0, 1, 0, 0]);
        // In progress: [0.5, 2.5) and [1.2, 1.8): 0.5 s in the first second, 1 + 0.6 in the
        // second, 0.5 in the third, 0.1 in the fourth.
        assert_eq!(r.concurrent_mean, vec![0.5, 1.6, 0.5, 0.1]);
        assert_eq!(r.concurrent_max, vec![1, 2, 1, 1]);
        // Answered: [1.0, 2.5) and [3.05, 3.1).
        assert_eq!(r.carried_erlangs, vec![0.0, 1.0, 0.5, 0.05]);
        assert_eq!(r.offered_erlangs, Some(vec![2.0; 4]));
        assert_eq!(r.times().collect::<Vec<_>>(), vec![0.0, 1.0, 2.0, 3.0]);
    }

    /// A call between two sampling instants still counts in the maximum: a mean above zero
    /// means at least one call.
    #[test]
    fn a_short_call_between_instants_counts_in_the_maximum() {
        let mut s = TimeSeries::new(Duration::from_secs(1), None);
        s.record(&call(0.01, Some(0.01), 0.02, None));
        let r = s.report();
        assert_eq!(r.concurrent_max, vec![1]);
        assert_eq!(r.offered_erlangs, None);
    }

    /// A run longer than MAX_INTERVALS intervals doubles the interval: counts and call time are
    /// kept, and memory stays bounded.
    #[test]
    fn a_run_that_outgrows_the_intervals_doubles_them() {
        let mut s = TimeSeries::new(Duration::from_secs(1), None);
        // One 10 s call every 10 s for 3000 s, each answered at its start.
        for i in 0..300 {
            let t = i as f64 * 10.0;
            s.record(&call(t, Some(t), t + 10.0, None));
        }
        assert_eq!(s.interval(), Duration::from_secs(2));
        let r = s.report();
        assert!(r.attempts.len() <= MAX_INTERVALS);
        assert_eq!(r.attempts.iter().sum::<u32>(), 300);
        assert_eq!(r.completed.iter().sum::<u32>(), 300);
        // Exactly one call in progress all the time.
        assert!(r.concurrent_mean[..1500]
            .iter()
            .all(|m| (m - 1.0).abs() < 1e-9));
        assert!(r.carried_erlangs[..1500]
            .iter()
            .all(|m| (m - 1.0).abs() < 1e-9));
        assert!(r.concurrent_max[..1500].iter().all(|m| *m == 1));
    }
}
