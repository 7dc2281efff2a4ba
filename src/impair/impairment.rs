//! [`Impairment`]: the sans-IO impairment of one direction of one path.

use super::config::{DeliveryOrder, ImpairConfig};
use super::delay::DelaySampler;
use super::error::ImpairError;
use super::loss::LossProcess;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

/// A seed for one of several independent random streams drawn from `seed` (SplitMix64 of
/// the pair). Use it to give each call and direction its own impairment from a run's seed:
/// `derive_seed(derive_seed(run_seed, call_index), direction)`.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random streams of an impairment: one per decision, so that changing one parameter
/// (say the loss) leaves the others' draws (the delays) as they were for the same seed.
const STREAM_LOSS: u64 = 1;
const STREAM_DELAY: u64 = 2;
const STREAM_DUPLICATE: u64 = 3;
const STREAM_REORDER: u64 = 4;

/// One direction's impairment: packets go in with [`push`](Self::push) and come out of
/// [`poll`](Self::poll) when due, minus the lost ones, plus the copies.
///
/// Sans-IO and deterministic: the same seed, configuration and sequence of `push`/`poll`
/// calls give the same output. Cheap to create (no allocation until packets are queued) and
/// `Send` when `T` is, so a call can hold one per direction.
///
/// ```
/// use callcert::impair::{ImpairConfig, Impairment};
/// use std::time::{Duration, Instant};
///
/// let mut link = Impairment::new(ImpairConfig::poor(), 42).unwrap();
/// let t0 = Instant::now();
/// link.push(vec![0u8; 172], t0);
/// // Nothing is due before the delay has passed.
/// assert!(link.poll(t0).is_none());
/// let due = link.poll_timeout(); // when to poll next (None if the packet was lost)
/// if let Some(at) = due {
///     assert!(at > t0);
///     assert_eq!(link.poll(at).map(|p| p.len()), Some(172));
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Impairment<T> {
    config: ImpairConfig,
    seed: u64,
    loss: LossProcess,
    delay: DelaySampler,
    duplicate_rng: SmallRng,
    reorder_rng: SmallRng,
    /// Delayed packets, earliest due first.
    queue: BinaryHeap<Queued<T>>,
    /// Packets reordered to the front (netem's reorder: sent at once, ahead of the queue).
    front: VecDeque<Queued<T>>,
    /// Keep-order mode: the due time of the last delayed packet.
    last_due: Option<Instant>,
    next_seq: u64,
    /// Offer index of the latest-offered packet delivered so far.
    newest_delivered: Option<u64>,
    stats: Counters,
}

#[derive(Debug, Clone, Default)]
struct Counters {
    offered: u64,
    dropped: u64,
    overflowed: u64,
    duplicated: u64,
    reordered: u64,
    delivered: u64,
    delay: Spread,
}

/// A packet waiting, ordered by due time, then by the order it was queued in.
#[derive(Debug, Clone)]
struct Queued<T> {
    due: Instant,
    seq: u64,
    offer: u64,
    packet: T,
}

impl<T> PartialEq for Queued<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Queued<T> {}
impl<T> PartialOrd for Queued<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Queued<T> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

impl<T> Impairment<T> {
    /// An impairment with this configuration (validated here) and seed (replaced by
    /// `config.seed` when that is set).
    pub fn new(config: ImpairConfig, seed: u64) -> Result<Self, ImpairError> {
        config.validate()?;
        let seed = config.seed.unwrap_or(seed);
        Ok(Self {
            config,
            seed,
            loss: LossProcess::new(config.loss, derive_seed(seed, STREAM_LOSS)),
            delay: DelaySampler::new(
                config.delay,
                &config.jitter,
                derive_seed(seed, STREAM_DELAY),
            ),
            duplicate_rng: SmallRng::seed_from_u64(derive_seed(seed, STREAM_DUPLICATE)),
            reorder_rng: SmallRng::seed_from_u64(derive_seed(seed, STREAM_REORDER)),
            queue: BinaryHeap::new(),
            front: VecDeque::new(),
            last_due: None,
            next_seq: 0,
            newest_delivered: None,
            stats: Counters::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ImpairConfig {
        &self.config
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next packet due at or before `now`, in delivery order.
    pub fn poll(&mut self, now: Instant) -> Option<T> {
        self.poll_timed(now).map(|(p, _)| p)
    }

    /// The next packet due at or before `now`, with the time it was due: the instant it
    /// reached the far end of the emulated path (its arrival time for a receiver that polls
    /// late).
    pub fn poll_timed(&mut self, now: Instant) -> Option<(T, Instant)> {
        let q = match self.front.pop_front() {
            Some(q) => q,
            None => {
                if self.queue.peek()?.due > now {
                    return None;
                }
                self.queue.pop()?
            }
        };
        self.stats.delivered += 1;
        match self.newest_delivered {
            Some(newest) if q.offer < newest => self.stats.reordered += 1,
            _ => self.newest_delivered = Some(q.offer),
        }
        Some((q.packet, q.due))
    }

    /// When the next packet is due (`None` when nothing is waiting); it may be in the past.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let front = self.front.front().map(|q| q.due);
        let queued = self.queue.peek().map(|q| q.due);
        match (front, queued) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.queue.len() + self.front.len()
    }

    /// Whether no packet is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What happened so far.
    pub fn stats(&self) -> ImpairStats {
        let c = &self.stats;
        ImpairStats {
            offered: c.offered,
            dropped: c.dropped,
            overflowed: c.overflowed,
            duplicated: c.duplicated,
            reordered: c.reordered,
            delivered: c.delivered,
            queued: self.len() as u64,
            delay: c.delay.summary(),
        }
    }

    /// Queues one copy: draws its delay (or sends it to the front) unless the queue is full.
    fn enqueue(&mut self, packet: T, now: Instant, offer: u64) {
        let delay = self.delay.sample();
        let to_front =
            self.config.reorder > 0.0 && self.reorder_rng.random::<f64>() < self.config.reorder;
        if self
            .config
            .limit
            .is_some_and(|limit| self.len() >= limit as usize)
        {
            self.stats.dropped += 1;
            self.stats.overflowed += 1;
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if to_front {
            self.stats.delay.add(Duration::ZERO);
            self.front.push_back(Queued {
                due: now,
                seq,
                offer,
                packet,
            });
            return;
        }
        let mut due = now + delay;
        if self.config.order == DeliveryOrder::Keep {
            if let Some(last) = self.last_due {
                due = due.max(last);
            }
            self.last_due = Some(due);
        }
        self.stats.delay.add(due - now);
        self.queue.push(Queued {
            due,
            seq,
            offer,
            packet,
        });
    }
}

impl<T: Clone> Impairment<T> {
    /// Offers a packet at `now`. As netem: a duplicate is decided first; a loss then takes
    /// one copy (the packet itself when there is no duplicate); a surviving duplicate meets
    /// the loss again on its own. Each copy that survives gets its own delay.
    pub fn push(&mut self, packet: T, now: Instant) {
        let offer = self.stats.offered;
        self.stats.offered += 1;
        let duplicate = self.config.duplicate > 0.0
            && self.duplicate_rng.random::<f64>() < self.config.duplicate;
        if duplicate {
            self.stats.duplicated += 1;
        }
        let lost = self.loss.lose();
        if lost {
            // One copy fewer: nothing left without a duplicate, else the packet goes on alone.
            self.stats.dropped += 1;
            if !duplicate {
                // Draw the delay anyway, so the delays of the other packets do not depend
                // on which ones were lost.
                let _ = self.delay.sample();
                return;
            }
            self.enqueue(packet, now, offer);
            return;
        }
        if duplicate {
            let copy = packet.clone();
            self.enqueue(packet, now, offer);
            if self.loss.lose() {
                self.stats.dropped += 1;
            } else {
                self.enqueue(copy, now, offer);
            }
            return;
        }
        self.enqueue(packet, now, offer);
    }
}

/// Counters of an [`Impairment`]: `offered + duplicated = dropped + delivered + queued`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ImpairStats {
    /// Packets pushed.
    pub offered: u64,
    /// Copies lost (the loss model, or a full queue).
    pub dropped: u64,
    /// Of `dropped`: copies refused because the queue held `limit` packets.
    pub overflowed: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Delivered packets that came out after a packet offered later than them.
    pub reordered: u64,
    /// Copies delivered by `poll`.
    pub delivered: u64,
    /// Copies waiting.
    pub queued: u64,
    /// Delay given to each queued copy (0 for a reordered one).
    pub delay: DelayStats,
}

impl ImpairStats {
    /// Fraction of the copies that were dropped (0 when nothing was offered).
    pub fn loss_rate(&self) -> f64 {
        let total = self.offered + self.duplicated;
        if total == 0 {
            0.0
        } else {
            self.dropped as f64 / total as f64
        }
    }
}

/// Mean, standard deviation and range of a set of delays, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DelayStats {
    /// Delays counted.
    pub samples: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Sample standard deviation.
    pub std_ms: f64,
    /// Shortest.
    pub min_ms: f64,
    /// Longest.
    pub max_ms: f64,
}

/// Running mean and variance (Welford), in nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spread {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Spread {
    /// Adds one delay.
    pub fn add(&mut self, d: Duration) {
        let x = d.as_nanos() as f64;
        self.n += 1;
        if self.n == 1 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The summary in milliseconds.
    pub fn summary(&self) -> DelayStats {
        let std = if self.n > 1 {
            (self.m2 / (self.n - 1) as f64).sqrt()
        } else {
            0.0
        };
        DelayStats {
            samples: self.n,
            mean_ms: self.mean / 1e6,
            std_ms: std / 1e6,
            min_ms: self.min / 1e6,
            max_ms: self.max / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)] // tests read the clock once for their fake clock's origin
    use super::*;
    use crate::impair::config::{GilbertElliott, JitterDistribution, LossModel};

    thread_local! {
        /// The fake clock's origin: one real instant, then only arithmetic on it.
        static T0: Instant = Instant::now();
    }

    /// Offers `n` packets (their index) every `gap` on a fake clock, polling at each step
    /// and once at the end; returns (index, arrival) in delivery order.
    fn run(
        config: ImpairConfig,
        seed: u64,
        n: u64,
        gap: Duration,
    ) -> (Vec<(u64, Instant)>, ImpairStats) {
        let mut link = Impairment::new(config, seed).unwrap();
        let t0 = T0.with(|t| *t);
        let mut out = Vec::new();
        for i in 0..n {
            let now = t0 + gap * i as u32;
            link.push(i, now);
            while let Some(p) = link.poll_timed(now) {
                out.push(p);
            }
        }
        while let Some(at) = link.poll_timeout() {
            while let Some(p) = link.poll_timed(at) {
                out.push(p);
            }
        }
        (out, link.stats())
    }

    fn config(spec: &str) -> ImpairConfig {
        spec.parse().unwrap()
    }

    const MS: Duration = Duration::from_millis(1);
    const N: u64 = 200_000;

    #[test]
    fn no_impairment_delivers_everything_at_once_in_order() {
        let (out, stats) = run(ImpairConfig::none(), 1, 1000, MS);
        assert_eq!(out.len(), 1000);
        assert!(out.iter().enumerate().all(|(i, (p, _))| *p == i as u64));
        assert_eq!(stats.delay.max_ms, 0.0);
        assert_eq!((stats.dropped, stats.reordered, stats.queued), (0, 0, 0));
    }

    #[test]
    fn bernoulli_loss_rate_within_tolerance() {
        let (out, stats) = run(config("loss=5%"), 2, N, MS);
        let rate = 1.0 - out.len() as f64 / N as f64;
        assert!(
            (rate - 0.05).abs() < 4.0 * (0.05 * 0.95 / N as f64).sqrt(),
            "{rate}"
        );
        assert_eq!(stats.dropped + stats.delivered, N);
        assert!((stats.loss_rate() - rate).abs() < 1e-12);
    }

    #[test]
    fn gilbert_elliott_loss_rate_and_burst_length() {
        let (out, _) = run(config("loss=2%,burst=4"), 3, N, MS);
        let mut got = vec![false; N as usize];
        for (i, _) in &out {
            got[*i as usize] = true;
        }
        let lost = got.iter().filter(|g| !**g).count() as f64;
        assert!(
            (lost / N as f64 - 0.02).abs() < 0.004,
            "rate {}",
            lost / N as f64
        );
        let mut bursts = Vec::new();
        let mut run_len = 0;
        for g in got {
            if !g {
                run_len += 1;
            } else if run_len > 0 {
                bursts.push(run_len);
                run_len = 0;
            }
        }
        let mean = bursts.iter().sum::<u32>() as f64 / bursts.len() as f64;
        assert!((mean - 4.0).abs() < 0.3, "mean burst {mean}");
    }

    #[test]
    fn normal_jitter_mean_and_sigma() {
        // The poor preset: 100 ms ± 20 ms (σ), 1 % loss.
        let gap = Duration::from_millis(20);
        let (out, stats) = run(ImpairConfig::poor(), 4, N, gap);
        assert!(
            (stats.delay.mean_ms - 100.0).abs() < 0.2,
            "{:?}",
            stats.delay
        );
        assert!((stats.delay.std_ms - 20.0).abs() < 0.2, "{:?}", stats.delay);
        assert_eq!(stats.delay.samples, stats.delivered);
        assert!((stats.loss_rate() - 0.01).abs() < 0.001);
        // The delays seen from outside (arrival − offer) are the ones counted.
        let t0 = T0.with(|t| *t);
        let seen: Vec<f64> = out
            .iter()
            .map(|(i, at)| (*at - (t0 + gap * *i as u32)).as_secs_f64() * 1e3)
            .collect();
        let mean = seen.iter().sum::<f64>() / seen.len() as f64;
        assert!((mean - stats.delay.mean_ms).abs() < 1e-6);
    }

    #[test]
    fn uniform_jitter_bounds() {
        let mut link = Impairment::new(config("delay=50ms,jitter=10ms,dist=uniform"), 5).unwrap();
        let t0 = T0.with(|t| *t);
        for i in 0..10_000u32 {
            let now = t0 + MS * i;
            link.push(i, now);
        }
        let mut arrivals = Vec::new();
        while let Some(at) = link.poll_timeout() {
            while let Some((i, due)) = link.poll_timed(at) {
                arrivals.push((due - (t0 + MS * i)).as_secs_f64() * 1e3);
            }
        }
        assert_eq!(arrivals.len(), 10_000);
        assert!(arrivals.iter().all(|d| (40.0..=60.0).contains(d)));
        let below = arrivals.iter().filter(|d| **d < 45.0).count();
        assert!((2200..2800).contains(&below), "{below}");
    }

    #[test]
    fn time_order_reorders_when_jitter_is_large() {
        // σ 20 ms on packets 20 ms apart: consecutive delays differ by more than the gap
        // about a quarter of the time (P(N(0, √2·20) > 20) ≈ 0.24).
        let (out, stats) = run(
            config("delay=100ms,jitter=20ms"),
            6,
            20_000,
            Duration::from_millis(20),
        );
        assert!(stats.reordered > 2000, "{stats:?}");
        let inversions = out.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert!(inversions > 2000);
        // Arrival times never go backwards: delivery follows due time.
        assert!(out.windows(2).all(|w| w[0].1 <= w[1].1));
        // With jitter small against the gap, nothing overtakes.
        let (_, stats) = run(
            config("delay=100ms,jitter=1ms,dist=uniform"),
            6,
            20_000,
            Duration::from_millis(20),
        );
        assert_eq!(stats.reordered, 0);
    }

    #[test]
    fn keep_order_never_reorders() {
        let (out, stats) = run(
            config("delay=100ms,jitter=60ms,order=keep"),
            7,
            20_000,
            Duration::from_millis(20),
        );
        assert_eq!(stats.reordered, 0);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(out.windows(2).all(|w| w[0].1 <= w[1].1));
        // Waiting behind a later packet only lengthens delays.
        assert!(stats.delay.min_ms >= 0.0);
        assert!(stats.delay.mean_ms > 100.0, "{:?}", stats.delay);
    }

    #[test]
    fn reorder_sends_some_packets_at_once() {
        let gap = Duration::from_millis(20);
        let (out, stats) = run(config("delay=50ms,reorder=10%"), 8, N, gap);
        // Every packet delivered; a tenth of them with no delay, the rest after 50 ms.
        assert_eq!(out.len() as u64, N);
        let t0 = T0.with(|t| *t);
        let zero_delay = out
            .iter()
            .filter(|(i, at)| *at == t0 + gap * *i as u32)
            .count() as f64;
        assert!((zero_delay / N as f64 - 0.1).abs() < 0.003, "{zero_delay}");
        assert_eq!(stats.delay.samples, N);
        assert!(
            (stats.delay.mean_ms - 0.9 * 50.0).abs() < 0.2,
            "{:?}",
            stats.delay
        );
        // A packet sent at once overtakes the ones still waiting (50 ms delay, 20 ms apart).
        assert!(stats.reordered as f64 > 0.1 * N as f64, "{stats:?}");
    }

    #[test]
    fn duplicates_are_counted_and_delivered() {
        let (out, stats) = run(config("delay=10ms,dup=10%"), 9, N, MS);
        assert!((stats.duplicated as f64 / N as f64 - 0.1).abs() < 0.003);
        assert_eq!(out.len() as u64, N + stats.duplicated);
        // A duplicated packet arrives twice.
        let mut seen = vec![0u8; N as usize];
        for (i, _) in &out {
            seen[*i as usize] += 1;
        }
        assert_eq!(
            seen.iter().filter(|c| **c == 2).count() as u64,
            stats.duplicated
        );
        // As netem: a loss takes the duplicate first, so with both certain every packet
        // still arrives, once.
        let (out, stats) = run(config("dup=100%,loss=100%"), 9, 1000, MS);
        assert_eq!(out.len(), 1000);
        assert!(out.iter().enumerate().all(|(i, (p, _))| *p == i as u64));
        assert_eq!((stats.duplicated, stats.dropped), (1000, 1000));
        // With loss, a duplicate meets the loss again on its own.
        let (_, stats) = run(config("delay=10ms,dup=50%,loss=50%"), 9, N, MS);
        assert_eq!(
            stats.offered + stats.duplicated,
            stats.dropped + stats.delivered
        );
    }

    #[test]
    fn limit_drops_what_does_not_fit() {
        // 1 packet a millisecond held 100 ms: 100 in flight, room for 50.
        let (_, stats) = run(config("delay=100ms,limit=50"), 10, 10_000, MS);
        assert!(stats.overflowed > 4000, "{stats:?}");
        assert_eq!(stats.dropped, stats.overflowed);
        assert_eq!(stats.offered, stats.dropped + stats.delivered);
    }

    #[test]
    fn same_seed_same_output_different_seed_different() {
        let cfg = config("delay=50ms,jitter=10ms,loss=3%,burst=2,reorder=1%,dup=1%");
        let a = run(cfg, 77, 20_000, MS).0;
        let b = run(cfg, 77, 20_000, MS).0;
        let c = run(cfg, 78, 20_000, MS).0;
        assert_eq!(a, b);
        assert_ne!(a, c);
        // A seed in the configuration wins over the one given.
        let mut pinned = cfg;
        pinned.seed = Some(77);
        assert_eq!(run(pinned, 5, 20_000, MS).0, a);
    }

    #[test]
    fn loss_does_not_change_the_other_packets_delays() {
        let delays = |spec: &str| -> Vec<(u64, Instant)> {
            let (out, _) = run(config(spec), 31, 5_000, Duration::from_millis(20));
            let mut v = out;
            v.sort();
            v
        };
        let clean = delays("delay=80ms,jitter=15ms,dist=pareto");
        let lossy = delays("delay=80ms,jitter=15ms,dist=pareto,loss=10%");
        assert!(lossy.len() < clean.len());
        for p in &lossy {
            assert!(clean.binary_search(p).is_ok(), "{p:?}");
        }
    }

    #[test]
    fn poll_timeout_is_the_next_due_time() {
        let mut link: Impairment<u8> = Impairment::new(config("delay=30ms"), 1).unwrap();
        let t0 = T0.with(|t| *t);
        assert_eq!(link.poll_timeout(), None);
        link.push(1, t0);
        link.push(2, t0 + MS);
        assert_eq!(link.poll_timeout(), Some(t0 + 30 * MS));
        assert_eq!(link.poll(t0 + 29 * MS), None);
        assert_eq!(link.poll(t0 + 30 * MS), Some(1));
        assert_eq!(link.poll(t0 + 30 * MS), None);
        assert_eq!(link.poll_timeout(), Some(t0 + 31 * MS));
        assert_eq!(link.poll(t0 + 100 * MS), Some(2));
        assert!(link.is_empty());
        let s = link.stats();
        assert_eq!((s.offered, s.delivered, s.queued), (2, 2, 0));
        assert_eq!(s.delay.mean_ms, 30.0);
    }

    #[test]
    fn an_impairment_per_call_direction_is_send_and_small() {
        fn is_send<T: Send>() {}
        is_send::<Impairment<Vec<u8>>>();
        // No heap until packets queue; the state itself is a few hundred bytes.
        assert!(std::mem::size_of::<Impairment<Vec<u8>>>() < 1024);
        let ge = GilbertElliott::from_loss_and_burst(0.05, 2.0).unwrap();
        let mut c = ImpairConfig::bad();
        c.loss = LossModel::GilbertElliott(ge);
        c.jitter.distribution = JitterDistribution::ParetoNormal;
        assert!(Impairment::<u8>::new(c, 1).is_ok());
        c.duplicate = 2.0;
        assert!(Impairment::<u8>::new(c, 1).is_err());
    }

    #[test]
    fn derive_seed_spreads_streams() {
        let a: Vec<u64> = (0..4).map(|s| derive_seed(1, s)).collect();
        let mut b = a.clone();
        b.sort();
        b.dedup();
        assert_eq!(b.len(), 4);
        assert_ne!(derive_seed(1, 1), derive_seed(2, 1));
    }
}
