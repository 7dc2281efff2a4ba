//! When each mystery call is due.
//!
//! Calls are numbered slots. Slot `k`'s time is a pure function of the schedule, its anchor (the
//! Unix time the store began it) and its seed, so a monitor restarted after a crash finds the
//! same timetable and goes on from the first slot after the last one it stored: nothing is
//! placed twice, and the calls keep their random offsets.
//!
//! - `every 5m` (jitter ±¼ of the interval unless given): slot `k` is due at
//!   `anchor + k·interval + U(−jitter, +jitter)`, so calls do not fall in step with the IVR's own
//!   cycles (a prompt loop, a queue announcement every minute).
//! - `12 per hour`: exactly that many calls in every clock hour, one in each equal part of the
//!   hour at a uniformly random point of it (stratified sampling: no two calls bunch together,
//!   none fall on a fixed minute).
//! - Daily windows (`09:00-18:00`, local time) restrict either cadence: a slot outside every
//!   window is skipped, not moved.

use crate::scenario::daytime::{second_of_day, DailyWindow};
use rand::{Rng, SeedableRng};
use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// How often calls are placed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cadence {
    /// One call every `interval`, each moved by up to ±`jitter`.
    Every {
        /// The mean spacing.
        interval: Duration,
        /// Largest random offset of a call from its nominal time (less than half the interval,
        /// so calls keep their order).
        jitter: Duration,
    },
    /// `calls` calls in every clock hour, at stratified random times.
    PerHour {
        /// Calls per hour.
        calls: u32,
    },
}

/// A schedule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// The interval is shorter than a second.
    #[error("--every: the interval must be at least 1s")]
    TooOften,
    /// The jitter would let calls overtake each other.
    #[error("--jitter {jitter}: must be less than half the interval ({interval})")]
    JitterTooLarge {
        /// The jitter given.
        jitter: String,
        /// The interval.
        interval: String,
    },
    /// Zero or too many calls per hour.
    #[error("--per-hour {0}: between 1 and 3600 calls per hour")]
    PerHour(u32),
}

impl Cadence {
    /// `every` with the default jitter (a quarter of the interval).
    pub fn every(interval: Duration, jitter: Option<Duration>) -> Result<Cadence, ScheduleError> {
        if interval < Duration::from_secs(1) {
            return Err(ScheduleError::TooOften);
        }
        let jitter = jitter.unwrap_or(interval / 4);
        if jitter * 2 >= interval {
            return Err(ScheduleError::JitterTooLarge {
                jitter: crate::scenario::duration::format_duration(jitter),
                interval: crate::scenario::duration::format_duration(interval),
            });
        }
        Ok(Cadence::Every { interval, jitter })
    }

    /// `calls` per clock hour.
    pub fn per_hour(calls: u32) -> Result<Cadence, ScheduleError> {
        if !(1..=3600).contains(&calls) {
            return Err(ScheduleError::PerHour(calls));
        }
        Ok(Cadence::PerHour { calls })
    }

    /// Mean spacing of calls, seconds.
    pub fn mean_interval_s(&self) -> f64 {
        match *self {
            Cadence::Every { interval, .. } => interval.as_secs_f64(),
            Cadence::PerHour { calls } => 3600.0 / f64::from(calls),
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::scenario::duration::format_duration as d;
        match *self {
            Cadence::Every { interval, jitter } => {
                write!(f, "every {} ±{}", d(interval), d(jitter))
            }
            Cadence::PerHour { calls } => write!(f, "{calls} per hour"),
        }
    }
}

/// The timetable of a store: a cadence, its windows, and the anchor and seed that fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// How often.
    pub cadence: Cadence,
    /// Daily windows (local time); empty: all day.
    pub windows: Vec<DailyWindow>,
    /// Local time's offset from UTC, seconds (for the windows and the clock hours).
    pub utc_offset_s: i32,
    /// Unix time of slot `first_slot`'s nominal time.
    pub anchor_unix: f64,
    /// The number of the first slot of this timetable (a store whose schedule changed goes on
    /// numbering after its last slot).
    pub first_slot: u64,
    /// Seed of the random offsets.
    pub seed: u64,
}

/// Slots looked at, at most, to find the next one inside a window (a year of one-second slots
/// is far more than any window leaves out).
const SEARCH_LIMIT: u64 = 40_000_000;

impl Schedule {
    /// The text that identifies the timetable in the store: a restart with the same text goes
    /// on with the stored anchor; another text starts a new timetable.
    pub fn fingerprint(&self) -> String {
        let windows: Vec<String> = self.windows.iter().map(|w| w.to_string()).collect();
        format!(
            "{}; windows [{}]; utc_offset {}s; seed {}",
            self.cadence,
            windows.join(", "),
            self.utc_offset_s,
            self.seed
        )
    }

    /// The random draw of slot `k` in [0, 1): the same for a slot whatever else happens.
    fn unit(&self, k: u64) -> f64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x006d_6f6e_6974_6f72,
        );
        rng.random::<f64>()
    }

    /// When slot `k` (≥ `first_slot`) is due, Unix seconds, before the windows are applied.
    pub fn slot_time(&self, k: u64) -> f64 {
        let i = k.saturating_sub(self.first_slot);
        match self.cadence {
            Cadence::Every { interval, jitter } => {
                let nominal = self.anchor_unix + i as f64 * interval.as_secs_f64();
                nominal + (2.0 * self.unit(k) - 1.0) * jitter.as_secs_f64()
            }
            Cadence::PerHour { calls } => {
                // Hours are clock hours of local time; the anchor's hour is hour 0.
                let local = self.anchor_unix + f64::from(self.utc_offset_s);
                let hour0 = (local / 3600.0).floor() * 3600.0 - f64::from(self.utc_offset_s);
                let n = u64::from(calls);
                let part = 3600.0 / f64::from(calls);
                hour0 + (i / n) as f64 * 3600.0 + ((i % n) as f64 + self.unit(k)) * part
            }
        }
    }

    /// Whether a time falls inside the windows (always, without windows).
    pub fn in_windows(&self, unix_s: f64) -> bool {
        self.windows.is_empty() || {
            let s = second_of_day(unix_s, self.utc_offset_s);
            self.windows.iter().any(|w| w.contains(s))
        }
    }

    /// The first slot numbered `from` or later that is due at or after `not_before` and inside
    /// the windows: its number and time. Slots before `not_before` (missed while the monitor
    /// was down) are passed over.
    pub fn next_slot(&self, from: u64, not_before: f64) -> Option<(u64, f64)> {
        let from = from.max(self.first_slot);
        // Jump close to `not_before` instead of walking there slot by slot.
        let behind = not_before - self.slot_time(from);
        let mut k = from;
        if behind > 0.0 {
            let skip = (behind / self.cadence.mean_interval_s()).floor() as u64;
            k = from + skip.saturating_sub(2);
        }
        for _ in 0..SEARCH_LIMIT {
            let t = self.slot_time(k);
            if t >= not_before && self.in_windows(t) {
                return Some((k, t));
            }
            k += 1;
        }
        None
    }

    /// How many slots from `from` to before `until` the windows let through (for "calls
    /// missed while down").
    pub fn due_between(&self, from: u64, until: u64) -> u64 {
        (from.max(self.first_slot)..until)
            .filter(|&k| self.in_windows(self.slot_time(k)))
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(interval_s: u64, jitter_s: u64) -> Schedule {
        Schedule {
            cadence: Cadence::every(
                Duration::from_secs(interval_s),
                Some(Duration::from_secs(jitter_s)),
            )
            .unwrap(),
            windows: vec![],
            utc_offset_s: 0,
            anchor_unix: 1_000_000.0,
            first_slot: 0,
            seed: 5,
        }
    }

    #[test]
    fn every_interval_has_jitter_within_bounds_and_keeps_order() {
        let s = every(300, 60);
        let times: Vec<f64> = (0..2000).map(|k| s.slot_time(k)).collect();
        let mut moved = 0;
        for (k, t) in times.iter().enumerate() {
            let off = t - (1_000_000.0 + k as f64 * 300.0);
            assert!(off.abs() <= 60.0, "slot {k} moved {off}");
            if off.abs() > 1.0 {
                moved += 1;
            }
        }
        assert!(moved > 1900, "jitter moves nearly every call: {moved}");
        assert!(times.windows(2).all(|w| w[1] > w[0]));
        // The offsets are spread evenly over ±60 s: mean ≈ 0, variance ≈ 60²/3.
        let offs: Vec<f64> = times
            .iter()
            .enumerate()
            .map(|(k, t)| t - (1_000_000.0 + k as f64 * 300.0))
            .collect();
        let mean = offs.iter().sum::<f64>() / offs.len() as f64;
        let var = offs.iter().map(|o| (o - mean).powi(2)).sum::<f64>() / offs.len() as f64;
        assert!(mean.abs() < 3.0, "{mean}");
        assert!((var / 1200.0 - 1.0).abs() < 0.1, "{var}");
    }

    #[test]
    fn slot_times_repeat_from_anchor_and_seed() {
        let a = every(300, 60);
        let b = every(300, 60);
        assert_eq!(a.slot_time(17), b.slot_time(17));
        let c = Schedule {
            seed: 6,
            ..every(300, 60)
        };
        assert_ne!(a.slot_time(17), c.slot_time(17));
    }

    #[test]
    fn per_hour_places_exactly_n_in_each_clock_hour() {
        let s = Schedule {
            cadence: Cadence::per_hour(12).unwrap(),
            anchor_unix: 7200.0 + 1234.0,
            ..every(300, 60)
        };
        let times: Vec<f64> = (0..12 * 48).map(|k| s.slot_time(k)).collect();
        for h in 0..48 {
            let start = 7200.0 + h as f64 * 3600.0;
            let n = times
                .iter()
                .filter(|&&t| t >= start && t < start + 3600.0)
                .count();
            assert_eq!(n, 12, "hour {h}");
        }
        assert!(times.windows(2).all(|w| w[1] > w[0]));
        // Not on fixed minutes: offsets within each 5-minute part are spread.
        let parts: Vec<f64> = times.iter().map(|t| (t - 7200.0) % 300.0).collect();
        let mean = parts.iter().sum::<f64>() / parts.len() as f64;
        assert!((mean - 150.0).abs() < 15.0, "{mean}");
    }

    #[test]
    fn per_hour_follows_local_clock_hours() {
        // UTC+05:30: local hours start at hh:30 UTC.
        let s = Schedule {
            cadence: Cadence::per_hour(1).unwrap(),
            utc_offset_s: 5 * 3600 + 1800,
            anchor_unix: 36_000.0,
            ..every(300, 60)
        };
        for k in 0..24 {
            let local = s.slot_time(k) + 19_800.0;
            let hour_start = (local / 3600.0).floor() * 3600.0;
            assert_eq!(
                hour_start,
                ((36_000.0 + 19_800.0) / 3600.0f64).floor() * 3600.0 + k as f64 * 3600.0
            );
        }
    }

    #[test]
    fn windows_skip_slots_outside_them() {
        let mut s = every(600, 60);
        s.anchor_unix = 0.0; // midnight UTC
        s.windows = vec![
            "09:00-10:00".parse().unwrap(),
            "22:00-01:00".parse().unwrap(),
        ];
        let mut k = 0;
        let mut placed = Vec::new();
        while let Some((slot, t)) = s.next_slot(k, 0.0) {
            if t > 2.0 * 86_400.0 {
                break;
            }
            placed.push(t);
            k = slot + 1;
        }
        for t in &placed {
            let h = (t / 3600.0) as u64 % 24;
            assert!([9, 22, 23, 0].contains(&h), "call at hour {h}");
        }
        // 4 window hours a day, 6 slots an hour, give or take the edges' jitter.
        assert!((44..=52).contains(&placed.len()), "{}", placed.len());
    }

    #[test]
    fn next_slot_resumes_after_downtime_without_reusing_numbers() {
        let s = every(300, 60);
        // Last stored slot 9; the monitor comes back an hour after slot 9 was due.
        let back = s.slot_time(9) + 3600.0;
        let (k, t) = s.next_slot(10, back).unwrap();
        assert!(k > 10 && t >= back && s.slot_time(k - 1) < back, "{k}");
        assert_eq!(s.due_between(10, k), k - 10);
        // Immediately after a restart with nothing missed, the next slot is the next number.
        let (k2, _) = s.next_slot(10, s.slot_time(10) - 1.0).unwrap();
        assert_eq!(k2, 10);
    }

    #[test]
    fn bad_cadences_are_refused() {
        assert_eq!(
            Cadence::every(Duration::from_millis(500), None),
            Err(ScheduleError::TooOften)
        );
        assert!(Cadence::every(Duration::from_secs(60), Some(Duration::from_secs(30))).is_err());
        assert!(Cadence::per_hour(0).is_err() && Cadence::per_hour(3601).is_err());
        assert_eq!(
            Cadence::every(Duration::from_secs(60), None),
            Ok(Cadence::Every {
                interval: Duration::from_secs(60),
                jitter: Duration::from_secs(15)
            })
        );
    }
}
