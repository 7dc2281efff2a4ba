//! Transaction timer values (RFC 3261 §17.1.1.1, Table 4) and the array-backed table each
//! state machine keeps its armed deadlines in.

use std::time::{Duration, Instant};

/// The SIP timer base values T1, T2 and T4 (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerConfig {
    /// T1: round-trip time estimate; Timers A, E, G start at T1 and B, F, H, J, L, M are 64·T1.
    pub t1: Duration,
    /// T2: the cap on non-INVITE request and INVITE response retransmission intervals.
    pub t2: Duration,
    /// T4: the longest a message stays in the network; Timers I and K on unreliable transports.
    pub t4: Duration,
}

impl Default for TimerConfig {
    /// RFC 3261 §17.1.1.1: T1 = 500 ms, T2 = 4 s, T4 = 5 s.
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// RFC 3261 §17.1.1.2: 64·T1, the transaction timeout (Timers B, F, H, J, L, M).
    pub fn timeout_64_t1(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// RFC 3261 §17.1.2.2: the next non-INVITE / response retransmission interval,
    /// `min(2·previous, T2)`.
    pub fn next_capped_interval(&self, previous: Duration) -> Duration {
        previous.saturating_mul(2).min(self.t2)
    }

    /// RFC 3261 §17.1.1.2: Timer D, at least 32 s on unreliable transports, 0 on reliable ones.
    pub fn timer_d(&self, rel: super::Reliability) -> Duration {
        match rel {
            super::Reliability::Unreliable => Duration::from_secs(32).max(self.timeout_64_t1()),
            super::Reliability::Reliable => Duration::ZERO,
        }
    }

    /// RFC 3261 §17.1.2.2 / §17.2.1: Timers K and I, T4 on unreliable transports, 0 on reliable.
    pub fn t4_or_zero(&self, rel: super::Reliability) -> Duration {
        match rel {
            super::Reliability::Unreliable => self.t4,
            super::Reliability::Reliable => Duration::ZERO,
        }
    }

    /// RFC 3261 §17.2.2: Timer J, 64·T1 on unreliable transports, 0 on reliable ones.
    pub fn timer_j(&self, rel: super::Reliability) -> Duration {
        match rel {
            super::Reliability::Unreliable => self.timeout_64_t1(),
            super::Reliability::Reliable => Duration::ZERO,
        }
    }
}

/// A timer of one state machine, identified by its slot in a [`TimerTable`].
pub(crate) trait TimerSlot: Copy {
    /// Index into the table's array.
    fn slot(self) -> usize;
}

/// Armed deadlines of one state machine, one slot per timer (quinn-proto `TimerTable` style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerTable<const N: usize> {
    deadlines: [Option<Instant>; N],
}

impl<const N: usize> Default for TimerTable<N> {
    fn default() -> Self {
        TimerTable {
            deadlines: [None; N],
        }
    }
}

impl<const N: usize> TimerTable<N> {
    /// Arms `timer` to fire at `at`, replacing any earlier deadline.
    pub(crate) fn set(&mut self, timer: impl TimerSlot, at: Instant) {
        if let Some(d) = self.deadlines.get_mut(timer.slot()) {
            *d = Some(at);
        }
    }

    /// Arms `timer` to fire `after` from `now`; a deadline past the clock's range never fires.
    pub(crate) fn set_after(&mut self, timer: impl TimerSlot, now: Instant, after: Duration) {
        match now.checked_add(after) {
            Some(at) => self.set(timer, at),
            None => self.stop(timer),
        }
    }

    /// Disarms `timer`.
    pub(crate) fn stop(&mut self, timer: impl TimerSlot) {
        if let Some(d) = self.deadlines.get_mut(timer.slot()) {
            *d = None;
        }
    }

    /// Disarms every timer.
    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; N];
    }

    /// Whether `timer` is armed and due at `now`; a due timer is disarmed by this call.
    pub(crate) fn take_expired(&mut self, timer: impl TimerSlot, now: Instant) -> bool {
        match self.deadlines.get_mut(timer.slot()) {
            Some(d) if d.is_some_and(|at| at <= now) => {
                *d = None;
                true
            }
            _ => false,
        }
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    enum T {
        X,
        Y,
    }
    impl TimerSlot for T {
        fn slot(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn table_reports_earliest_and_expires_once() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut table = TimerTable::<2>::default();
        assert_eq!(table.next(), None);
        table.set(T::X, t0 + Duration::from_secs(2));
        table.set(T::Y, t0 + Duration::from_secs(1));
        assert_eq!(table.next(), Some(t0 + Duration::from_secs(1)));
        assert!(!table.take_expired(T::X, t0 + Duration::from_secs(1)));
        assert!(table.take_expired(T::Y, t0 + Duration::from_secs(1)));
        assert!(!table.take_expired(T::Y, t0 + Duration::from_secs(1)));
        assert_eq!(table.next(), Some(t0 + Duration::from_secs(2)));
        table.stop(T::X);
        assert_eq!(table.next(), None);
    }

    #[test]
    fn derived_timer_values_follow_table_4() {
        use super::super::Reliability::{Reliable, Unreliable};
        let c = TimerConfig::default();
        assert_eq!(c.timeout_64_t1(), Duration::from_secs(32));
        assert_eq!(c.timer_d(Unreliable), Duration::from_secs(32));
        assert_eq!(c.timer_d(Reliable), Duration::ZERO);
        assert_eq!(c.t4_or_zero(Unreliable), Duration::from_secs(5));
        assert_eq!(c.timer_j(Reliable), Duration::ZERO);
        assert_eq!(
            c.next_capped_interval(Duration::from_secs(2)),
            Duration::from_secs(4)
        );
        assert_eq!(
            c.next_capped_interval(Duration::from_secs(4)),
            Duration::from_secs(4)
        );
    }
}
