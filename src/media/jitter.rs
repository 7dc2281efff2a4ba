//! The receiver of a phone: a jitter buffer (fixed or adaptive) in front of G.711 Appendix I
//! style concealment, producing the audio a caller hears and the statistics that explain it.
//!
//! Sans-IO and event-driven: packets go in with their arrival time, and the playout clock
//! advances only to the arrival time of the packet being inserted (and to the end of the call
//! in [`Earpiece::finish`]). The decision "was this packet there when its audio was due" depends
//! only on arrival times, so the result is the same whether the driver reads each packet as it
//! arrives or a batch of kernel-stamped packets later.
//!
//! Playout: the audio of RTP timestamp `T` is due at `offset + T / rate` (times since the first
//! arrival). A packet that arrives after its first sample was due is a late discard; one that
//! never arrives is a network loss; both are concealed ([`Concealer`]).
//!
//! - **Fixed** buffers anchor `offset` on the first packet: its transit plus the configured
//!   delay, never changed (a packet delayed more than that relative to the first is late).
//! - **Adaptive** buffers size the delay the way deployed phones do: from a sliding window of
//!   the packets' transit times (the last [`WINDOW`] packets, 2 s at 20 ms), the target is the
//!   transit that the configured quantile of packets (95 % by default) beats, bounded by the
//!   minimum transit plus `min`..`max`. The delay moves toward the target 10 ms at a time, in
//!   pauses (80 ms of quiet blocks: a silent block is inserted, or skipped at most every
//!   250 ms), or at once by concealment when a
//!   jitter spike calls for 40 ms or more at once.

use super::plc::{Concealer, BLOCK, PLC_DELAY_SAMPLES};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Transit times kept by the adaptive buffer (2 s of 20 ms packets).
pub const WINDOW: usize = 100;
/// A block at or below this mean power is quiet enough to insert or skip (−50 dBov).
const QUIET_POWER: f64 = 32768.0 * 32768.0 * 1e-5;
/// The delay grows by concealment (not waiting for a quiet block) when it is this far short.
const URGENT_GROWTH: Duration = Duration::from_millis(40);
/// Quiet blocks in a row that make a pause (80 ms): the delay changes only in pauses between
/// words, never inside one, unless a jitter spike forces it.
const PAUSE_BLOCKS: u32 = 8;
/// Blocks played between two steps down (250 ms): the delay follows a falling target slowly.
const SHRINK_EVERY: u64 = 25;
/// Sequence numbers tracked per call (a day of 20 ms packets).
const MAX_TRACKED: i64 = 1 << 23;
const MISSING: u8 = 0;
const ON_TIME: u8 = 1;
const LATE: u8 = 2;
/// A timestamp this far from the playout point is a new stream: the buffer re-anchors.
const RESYNC: Duration = Duration::from_secs(10);

/// How the buffer chooses its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterMode {
    /// A constant delay after the first packet.
    Fixed,
    /// Sized from the observed transit times.
    Adaptive,
}

/// Jitter-buffer settings: part of every voice-quality result, since a score means nothing
/// without them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterBufferConfig {
    /// Fixed or adaptive.
    pub mode: JitterMode,
    /// Fixed: the delay. Adaptive: the delay before the first window is known.
    pub delay: Duration,
    /// Adaptive: the least delay above the fastest packet's transit.
    pub min: Duration,
    /// Adaptive: the most delay above the fastest packet's transit.
    pub max: Duration,
    /// Adaptive: the fraction of packets the delay is sized to be in time for.
    pub quantile: f64,
}

impl Default for JitterBufferConfig {
    /// Adaptive, 20–300 ms, in time for 95 % of packets, starting at 60 ms.
    fn default() -> Self {
        Self {
            mode: JitterMode::Adaptive,
            delay: Duration::from_millis(60),
            min: Duration::from_millis(20),
            max: Duration::from_millis(300),
            quantile: 0.95,
        }
    }
}

impl JitterBufferConfig {
    /// A fixed buffer of `delay`.
    pub fn fixed(delay: Duration) -> Self {
        Self {
            mode: JitterMode::Fixed,
            delay,
            min: delay,
            max: delay,
            quantile: 1.0,
        }
    }

    /// The settings as they appear in a report.
    pub fn settings(&self) -> JitterBufferSettings {
        JitterBufferSettings {
            mode: self.mode,
            delay_ms: ms(self.delay),
            min_ms: ms(self.min),
            max_ms: ms(self.max),
            quantile: self.quantile,
            plc: "G.711 Appendix I style pitch repetition",
            plc_delay_ms: PLC_DELAY_SAMPLES as f64 * 1000.0 / 8000.0,
        }
    }
}

/// [`JitterBufferConfig`] in milliseconds, with the concealment used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JitterBufferSettings {
    /// Fixed or adaptive.
    pub mode: JitterMode,
    /// Fixed delay, or the adaptive buffer's starting delay.
    pub delay_ms: f64,
    /// Adaptive lower bound.
    pub min_ms: f64,
    /// Adaptive upper bound.
    pub max_ms: f64,
    /// Adaptive: the fraction of packets sized for.
    pub quantile: f64,
    /// Packet-loss concealment.
    pub plc: &'static str,
    /// The concealer's own output delay.
    pub plc_delay_ms: f64,
}

/// What the receiver did with the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EarpieceStats {
    /// The buffer's settings.
    pub jitter_buffer: JitterBufferSettings,
    /// Packets expected from the first to the last sequence number received.
    pub expected: u64,
    /// Packets played.
    pub played: u64,
    /// Packets that never arrived (network loss).
    pub network_lost: u64,
    /// Packets that arrived after their audio was due (late discards).
    pub late_discarded: u64,
    /// Packets received more than once.
    pub duplicates: u64,
    /// Network loss plus late discards, as a fraction of `expected` (the E-model's Ppl / 100).
    pub effective_loss: f64,
    /// Runs of consecutive packets not played (lost or late).
    pub loss_bursts: u64,
    /// Mean length of those runs, packets.
    pub mean_burst_packets: f64,
    /// Longest run, packets.
    pub max_burst_packets: u64,
    /// G.107 burst ratio: the mean run length over the mean for random loss at the same rate
    /// (1 for random loss, above 1 for bursty loss).
    pub burst_ratio: f64,
    /// 10 ms blocks concealed.
    pub concealed_blocks: u64,
    /// Mean jitter-buffer delay above the fastest packet's transit, over the played blocks, ms.
    pub mean_buffer_delay_ms: f64,
    /// Largest such delay, ms.
    pub max_buffer_delay_ms: f64,
    /// Times the adaptive buffer changed its delay.
    pub delay_changes: u64,
    /// Seconds of audio produced.
    pub heard_seconds: f64,
}

/// The receiver of one stream: jitter buffer, decoder output in, heard audio out.
#[derive(Debug)]
pub struct Earpiece {
    config: JitterBufferConfig,
    rate: u32,
    /// Arrival of the first packet: the time origin.
    t0: Option<Instant>,
    /// Playout time of extended timestamp 0 (ns since `t0`).
    offset: i64,
    /// Extended timestamp and sequence of the last packet, raw and extended.
    last_ts: (u32, i64),
    last_seq: (u16, i64),
    /// The next sample to play (extended timestamp).
    next_ts: i64,
    /// The end of the latest audio received (extended timestamp).
    received_end: i64,
    /// Packets waiting to be played, by extended timestamp.
    pending: BTreeMap<i64, Vec<i16>>,
    /// Recent transit times, ns (arrival − timestamp time).
    transits: VecDeque<i64>,
    /// Scratch for the quantile.
    sorted: Vec<i64>,
    plc: Concealer,
    heard: Vec<i16>,
    /// Per extended sequence number (from the first): [`MISSING`], [`ON_TIME`] or [`LATE`].
    seq_state: Vec<u8>,
    /// Extended timestamps of the packets received (to tell duplicates from late packets).
    seen: VecDeque<i64>,
    late: u64,
    duplicates: u64,
    delay_changes: u64,
    /// `delay_blocks` at the last step down.
    last_shrink: u64,
    delay_sum_ns: f64,
    delay_max_ns: i64,
    delay_blocks: u64,
    min_transit: i64,
    /// Quiet blocks played in a row (a pause long enough is where the delay may change).
    quiet_run: u32,
}

impl Earpiece {
    /// A receiver for audio at `rate` Hz (8000 for G.711).
    pub fn new(config: JitterBufferConfig, rate: u32) -> Self {
        Self {
            config,
            rate: rate.max(1),
            t0: None,
            offset: 0,
            last_ts: (0, 0),
            last_seq: (0, 0),
            next_ts: 0,
            received_end: 0,
            pending: BTreeMap::new(),
            transits: VecDeque::with_capacity(WINDOW),
            sorted: Vec::with_capacity(WINDOW),
            plc: Concealer::new(),
            heard: Vec::new(),
            seq_state: Vec::new(),
            seen: VecDeque::with_capacity(64),
            late: 0,
            duplicates: 0,
            delay_changes: 0,
            last_shrink: 0,
            delay_sum_ns: 0.0,
            delay_max_ns: 0,
            delay_blocks: 0,
            min_transit: i64::MAX,
            quiet_run: PAUSE_BLOCKS,
        }
    }

    /// The settings.
    pub fn config(&self) -> &JitterBufferConfig {
        &self.config
    }

    fn ns_of_samples(&self, samples: i64) -> i64 {
        samples * 1_000_000_000 / i64::from(self.rate)
    }

    fn since_t0(&self, t: Instant) -> i64 {
        self.t0
            .map_or(0, |t0| t.saturating_duration_since(t0).as_nanos() as i64)
    }

    /// A packet's decoded audio, with its RTP sequence number and timestamp, arrived at `at`.
    pub fn insert(&mut self, seq: u16, ts: u32, pcm: &[i16], at: Instant) {
        if pcm.is_empty() {
            return;
        }
        if self.t0.is_none() {
            self.t0 = Some(at);
            self.last_ts = (ts, 0);
            self.last_seq = (seq, 0);
            self.offset = self.config.delay.as_nanos() as i64;
            self.min_transit = 0;
            self.transits.push_back(0);
            self.remember(0);
            self.store(0, 0, pcm);
            return;
        }
        let ext_ts = self.last_ts.1 + i64::from(ts.wrapping_sub(self.last_ts.0) as i32);
        let ext_seq = self.last_seq.1 + i64::from(seq.wrapping_sub(self.last_seq.0) as i16);
        if ext_seq > self.last_seq.1 {
            self.last_seq = (seq, ext_seq);
        }
        if ext_ts > self.last_ts.1 {
            self.last_ts = (ts, ext_ts);
        }
        self.advance_to(at);
        let now = self.since_t0(at);
        if self.ns_of_samples((ext_ts - self.next_ts).abs()) > RESYNC.as_nanos() as i64 {
            self.resync(ext_ts, now);
        }
        self.observe(now - self.ns_of_samples(ext_ts));
        if self.seen.contains(&ext_ts) {
            self.duplicates += 1;
            return;
        }
        self.remember(ext_ts);
        if ext_ts < self.next_ts {
            // Its first sample was due already (a packet partly due is late as a whole).
            self.late += 1;
            self.mark(ext_seq, LATE);
            return;
        }
        self.store(ext_seq, ext_ts, pcm);
    }

    /// A timestamp far from the playout point (a new stream, or a sender that paused for
    /// long): what was buffered is dropped and playout restarts from `ext_ts` after the
    /// configured delay, with the wait heard as silence.
    fn resync(&mut self, ext_ts: i64, now: i64) {
        self.pending.clear();
        let due = self.offset + self.ns_of_samples(self.next_ts);
        let new_offset = now + self.config.delay.as_nanos() as i64 - self.ns_of_samples(ext_ts);
        let gap = (now + self.config.delay.as_nanos() as i64 - due).max(0);
        let silence = (gap as i128 * i128::from(self.rate) / 1_000_000_000) as usize;
        self.heard.extend(std::iter::repeat_n(0i16, silence));
        self.next_ts = ext_ts;
        self.offset = new_offset;
        self.transits.clear();
        self.min_transit = now - self.ns_of_samples(ext_ts);
    }

    /// Keeps the packet for playout and marks its sequence number played in time.
    fn store(&mut self, ext_seq: i64, ext_ts: i64, pcm: &[i16]) {
        self.received_end = self.received_end.max(ext_ts + pcm.len() as i64);
        self.mark(ext_seq, ON_TIME);
        self.pending.insert(ext_ts, pcm.to_vec());
    }

    /// Records what became of sequence number `ext_seq` (counted from the first packet's).
    fn mark(&mut self, ext_seq: i64, state: u8) {
        if !(0..MAX_TRACKED).contains(&ext_seq) {
            return;
        }
        let i = ext_seq as usize;
        if self.seq_state.len() <= i {
            self.seq_state.resize(i + 1, MISSING);
        }
        self.seq_state[i] = state;
    }

    fn remember(&mut self, ext_ts: i64) {
        if self.seen.len() == 64 {
            self.seen.pop_front();
        }
        self.seen.push_back(ext_ts);
    }

    fn observe(&mut self, transit: i64) {
        if self.transits.len() == WINDOW {
            self.transits.pop_front();
        }
        self.transits.push_back(transit);
        self.min_transit = self.transits.iter().copied().min().unwrap_or(transit);
    }

    /// The playout offset the adaptive buffer aims for (ns).
    fn target_offset(&mut self) -> i64 {
        self.sorted.clear();
        self.sorted.extend(self.transits.iter().copied());
        self.sorted.sort_unstable();
        let n = self.sorted.len();
        let q = self.config.quantile.clamp(0.0, 1.0);
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        let low = self.min_transit + self.config.min.as_nanos() as i64;
        let high = self.min_transit + self.config.max.as_nanos() as i64;
        self.sorted[i].clamp(low, high.max(low))
    }

    /// Plays every block due at or before `t`.
    pub fn advance_to(&mut self, t: Instant) {
        if self.t0.is_none() {
            return;
        }
        let now = self.since_t0(t);
        let block = BLOCK as i64 * i64::from(self.rate) / 8000;
        while self.offset + self.ns_of_samples(self.next_ts) <= now {
            if self.config.mode == JitterMode::Adaptive && self.adapt(block) {
                continue;
            }
            self.play_block(block);
        }
    }

    /// Moves the delay a step toward the target; true when this took the block's place.
    fn adapt(&mut self, block: i64) -> bool {
        let target = self.target_offset();
        let step = self.ns_of_samples(block);
        let short = target - self.offset;
        let in_pause = self.quiet_run >= PAUSE_BLOCKS;
        if short >= step && (in_pause || short >= URGENT_GROWTH.as_nanos() as i64) {
            // Wait a block longer: fill it with silence after a quiet block, else conceal.
            if in_pause {
                self.heard.extend(std::iter::repeat_n(0i16, block as usize));
            } else {
                self.plc.lost(&mut self.heard);
            }
            self.offset += step;
            self.delay_changes += 1;
            return true;
        }
        if -short >= step
            && in_pause
            && self.delay_blocks >= self.last_shrink + SHRINK_EVERY
            && self.next_block_quiet(block)
        {
            self.last_shrink = self.delay_blocks;
            // Skip a quiet block.
            self.drop_through(self.next_ts + block);
            self.next_ts += block;
            self.offset -= step;
            self.delay_changes += 1;
            return true;
        }
        false
    }

    fn note_quiet(&mut self, quiet: bool) {
        self.quiet_run = if quiet {
            self.quiet_run.saturating_add(1)
        } else {
            0
        };
    }

    fn next_block_quiet(&self, block: i64) -> bool {
        let mut samples = Vec::with_capacity(block as usize);
        if !self.gather(self.next_ts, block, &mut samples) {
            return self.quiet_run >= PAUSE_BLOCKS;
        }
        power(&samples) <= QUIET_POWER
    }

    /// Copies `n` samples from `start` out of the pending packets; false if any is missing.
    fn gather(&self, start: i64, n: i64, out: &mut Vec<i16>) -> bool {
        let mut s = start;
        while s < start + n {
            let Some((&ts, pcm)) = self.pending.range(..=s).next_back() else {
                return false;
            };
            let end = ts + pcm.len() as i64;
            if end <= s {
                return false;
            }
            let take = (end.min(start + n) - s) as usize;
            let from = (s - ts) as usize;
            out.extend_from_slice(&pcm[from..from + take]);
            s += take as i64;
        }
        true
    }

    fn drop_through(&mut self, end: i64) {
        while let Some((&ts, pcm)) = self.pending.first_key_value() {
            if ts + pcm.len() as i64 <= end {
                self.pending.pop_first();
            } else {
                break;
            }
        }
    }

    fn play_block(&mut self, block: i64) {
        let mut samples = Vec::with_capacity(block as usize);
        let depth = self.offset - self.min_transit;
        self.delay_sum_ns += depth as f64;
        self.delay_max_ns = self.delay_max_ns.max(depth);
        self.delay_blocks += 1;
        if self.gather(self.next_ts, block, &mut samples) && samples.len() == BLOCK {
            self.note_quiet(power(&samples) <= QUIET_POWER);
            let arr: &[i16; BLOCK] = samples.as_slice().try_into().expect("one block");
            self.plc.good(arr, &mut self.heard);
        } else if self.gather(self.next_ts, block, &mut samples) {
            // A rate other than 8 kHz: no concealment, the samples as they are.
            self.note_quiet(power(&samples) <= QUIET_POWER);
            self.heard.extend_from_slice(&samples);
        } else if block as usize == BLOCK {
            self.plc.lost(&mut self.heard);
        } else {
            self.heard.extend(std::iter::repeat_n(0i16, block as usize));
        }
        self.next_ts += block;
        self.drop_through(self.next_ts);
    }

    /// Plays what is due by `end` (the call's end) up to the end of the last packet received;
    /// what is still buffered at `end` is never heard.
    pub fn finish(&mut self, end: Instant) {
        if self.t0.is_none() {
            return;
        }
        let end = self.since_t0(end);
        let block = BLOCK as i64 * i64::from(self.rate) / 8000;
        while self.next_ts < self.received_end
            && self.offset + self.ns_of_samples(self.next_ts) <= end
        {
            if self.config.mode == JitterMode::Adaptive && self.adapt(block) {
                continue;
            }
            self.play_block(block);
        }
        self.pending.clear();
        if self.heard.len() >= PLC_DELAY_SAMPLES {
            self.plc.flush(&mut self.heard);
        }
    }

    /// The audio heard so far (8 kHz for G.711), starting when the first packet's audio was due.
    pub fn heard(&self) -> &[i16] {
        &self.heard
    }

    /// Takes the heard audio out.
    pub fn take_heard(&mut self) -> Vec<i16> {
        std::mem::take(&mut self.heard)
    }

    /// When the first packet arrived.
    pub fn first_arrival(&self) -> Option<Instant> {
        self.t0
    }

    /// The statistics so far.
    pub fn stats(&self) -> EarpieceStats {
        let expected = self.seq_state.len() as u64;
        let played = self.seq_state.iter().filter(|&&p| p == ON_TIME).count() as u64;
        let late = self.seq_state.iter().filter(|&&p| p == LATE).count() as u64;
        let network_lost = expected - played - late;
        let effective_loss = if expected == 0 {
            0.0
        } else {
            (expected - played) as f64 / expected as f64
        };
        let (mut bursts, mut total, mut longest, mut run) = (0u64, 0u64, 0u64, 0u64);
        for &state in self.seq_state.iter().chain([ON_TIME].iter()) {
            if state == ON_TIME {
                if run > 0 {
                    bursts += 1;
                    total += run;
                    longest = longest.max(run);
                }
                run = 0;
            } else {
                run += 1;
            }
        }
        let mean_burst = if bursts == 0 {
            0.0
        } else {
            total as f64 / bursts as f64
        };
        // G.107 §3.11: random loss at rate p has mean run length 1 / (1 − p).
        let burst_ratio = if bursts == 0 {
            1.0
        } else {
            mean_burst * (1.0 - effective_loss)
        };
        EarpieceStats {
            jitter_buffer: self.config.settings(),
            expected,
            played,
            network_lost,
            late_discarded: self.late,
            duplicates: self.duplicates,
            effective_loss,
            loss_bursts: bursts,
            mean_burst_packets: mean_burst,
            max_burst_packets: longest,
            burst_ratio,
            concealed_blocks: self.plc.concealed_blocks(),
            mean_buffer_delay_ms: if self.delay_blocks == 0 {
                0.0
            } else {
                self.delay_sum_ns / self.delay_blocks as f64 / 1e6
            },
            max_buffer_delay_ms: self.delay_max_ns as f64 / 1e6,
            delay_changes: self.delay_changes,
            heard_seconds: self.heard.len() as f64 / f64::from(self.rate),
        }
    }
}

fn power(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const FRAME: usize = 160;

    #[allow(clippy::disallowed_methods)] // tests: one real base instant, then durations
    fn base() -> Instant {
        Instant::now()
    }

    /// A test signal: a 200 Hz tone, 1 s on, 0.5 s off.
    fn signal(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                if i % 12000 < 8000 {
                    (6000.0 * (2.0 * std::f64::consts::PI * 200.0 * i as f64 / 8000.0).sin()) as i16
                } else {
                    0
                }
            })
            .collect()
    }

    /// Packet `i` with its transit (None: lost), inserted in arrival order.
    fn play(
        config: JitterBufferConfig,
        audio: &[i16],
        transit_ms: &[Option<f64>],
    ) -> (Earpiece, Instant) {
        let t0 = base();
        let mut arrivals: Vec<(Instant, usize)> = transit_ms
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                d.map(|d| {
                    let sent = t0 + Duration::from_millis(20 * i as u64);
                    (sent + Duration::from_secs_f64(d / 1000.0), i)
                })
            })
            .collect();
        arrivals.sort();
        let mut e = Earpiece::new(config, 8000);
        for (at, i) in arrivals {
            let pcm = &audio[i * FRAME..(i + 1) * FRAME];
            e.insert(
                1000u16.wrapping_add(i as u16),
                7 + (i * FRAME) as u32,
                pcm,
                at,
            );
        }
        let end = t0 + Duration::from_millis(20 * transit_ms.len() as u64 + 1000);
        e.finish(end);
        (e, t0)
    }

    #[test]
    fn a_clean_stream_is_heard_whole_after_the_buffer_delay() {
        let audio = signal(FRAME * 100);
        let transits = vec![Some(5.0); 100];
        let (e, _) = play(
            JitterBufferConfig::fixed(Duration::from_millis(40)),
            &audio,
            &transits,
        );
        let s = e.stats();
        assert_eq!(
            (s.expected, s.played, s.network_lost, s.late_discarded),
            (100, 100, 0, 0)
        );
        assert_eq!(s.effective_loss, 0.0);
        assert_eq!(s.concealed_blocks, 0);
        // Heard from the first packet's due time: the audio, 3.75 ms (the concealer) late.
        let d = PLC_DELAY_SAMPLES;
        assert_eq!(&e.heard()[d..d + audio.len()], &audio[..]);
        assert!((s.mean_buffer_delay_ms - 40.0).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn a_fixed_buffer_discards_exactly_the_packets_later_than_its_delay() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let audio = signal(FRAME * 500);
        let transits: Vec<Option<f64>> = (0..500)
            .map(|i| {
                if i == 0 {
                    Some(10.0)
                } else if rng.random::<f64>() < 0.03 {
                    None
                } else {
                    Some(10.0 + rng.random::<f64>() * 60.0)
                }
            })
            .collect();
        let (e, _) = play(
            JitterBufferConfig::fixed(Duration::from_millis(40)),
            &audio,
            &transits,
        );
        // Due at first arrival + 40 ms + 20 ms × i: late when the transit exceeds 10 + 40 ms.
        let lost = transits.iter().filter(|t| t.is_none()).count() as u64;
        let late = transits.iter().flatten().filter(|&&d| d > 50.0).count() as u64;
        let s = e.stats();
        assert!(
            late > 50 && lost > 5,
            "a test that exercises both: {late} {lost}"
        );
        assert_eq!(s.network_lost, lost);
        assert_eq!(s.late_discarded, late);
        assert_eq!(s.played, 500 - lost - late);
        let eff = (lost + late) as f64 / 500.0;
        assert!((s.effective_loss - eff).abs() < 1e-12);
        assert_eq!(s.concealed_blocks, 2 * (lost + late));
    }

    #[test]
    fn bursts_and_the_burst_ratio_tell_bursty_from_random_loss() {
        let audio = signal(FRAME * 1000);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // Random: 5 % independent.
        let random: Vec<Option<f64>> = (0..1000)
            .map(|i| (i == 0 || rng.random::<f64>() >= 0.05).then_some(5.0))
            .collect();
        // Bursty: runs of exactly 4 every 80 packets (5 %).
        let bursty: Vec<Option<f64>> = (0..1000).map(|i| (i % 80 < 76).then_some(5.0)).collect();
        let cfg = JitterBufferConfig::fixed(Duration::from_millis(40));
        let r = play(cfg, &audio, &random).0.stats();
        let b = play(cfg, &audio, &bursty).0.stats();
        assert!(r.burst_ratio > 0.8 && r.burst_ratio < 1.25, "{r:?}");
        assert_eq!(b.max_burst_packets, 4);
        assert_eq!(b.mean_burst_packets, 4.0);
        assert!((b.burst_ratio - 4.0 * 0.95).abs() < 0.01, "{b:?}");
    }

    #[test]
    fn duplicates_and_reordering_inside_the_buffer_are_harmless() {
        let audio = signal(FRAME * 50);
        let t0 = base();
        let mut e = Earpiece::new(JitterBufferConfig::fixed(Duration::from_millis(60)), 8000);
        // Pairs swapped after the first packet (which anchors playout), every packet twice.
        let mut order: Vec<usize> = (0..50).collect();
        for pair in order[1..].chunks_mut(2) {
            pair.reverse();
        }
        for (k, &i) in order.iter().enumerate() {
            let at = t0 + Duration::from_millis(20 * k as u64 + 30);
            let pcm = &audio[i * FRAME..(i + 1) * FRAME];
            e.insert(i as u16, (i * FRAME) as u32, pcm, at);
            e.insert(i as u16, (i * FRAME) as u32, pcm, at);
        }
        e.finish(t0 + Duration::from_secs(3));
        let s = e.stats();
        assert_eq!(
            (s.played, s.duplicates, s.late_discarded),
            (50, 50, 0),
            "{s:?}"
        );
        let d = PLC_DELAY_SAMPLES;
        assert_eq!(&e.heard()[d..d + audio.len()], &audio[..]);
    }

    #[test]
    fn an_adaptive_buffer_grows_to_the_jitter_and_shrinks_without_it() {
        let audio = signal(FRAME * 1500);
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let normal = rand_distr::Normal::new(0.0, 20.0).expect("normal");
        // 10 s of σ = 20 ms jitter, then 20 s of none.
        let transits: Vec<Option<f64>> = (0..1500)
            .map(|i| {
                let j: f64 = if i < 500 { rng.sample(normal) } else { 0.0 };
                Some(100.0 + j.abs())
            })
            .collect();
        let (e, _) = play(JitterBufferConfig::default(), &audio, &transits);
        let s = e.stats();
        // Sized for 95 % of the packets: about 5 % of the 500 jittered packets late.
        assert!(s.late_discarded <= 35, "{s:?}");
        assert!(s.late_discarded > 0, "{s:?}");
        assert!(s.max_buffer_delay_ms > 30.0, "{s:?}");
        assert!(s.delay_changes > 2, "{s:?}");
        let fixed = play(
            JitterBufferConfig::fixed(Duration::from_millis(20)),
            &audio,
            &transits,
        )
        .0
        .stats();
        assert!(fixed.late_discarded > s.late_discarded, "{fixed:?} {s:?}");
        // After the jitter ends the delay comes back down toward the 20 ms floor.
        let tail = transits.len() as f64 * 0.02;
        assert!(s.heard_seconds > tail - 1.0, "{s:?}");
        let mut late_part = Earpiece::new(JitterBufferConfig::default(), 8000);
        let t0 = base();
        for i in 0..1000usize {
            let at = t0 + Duration::from_millis(20 * i as u64 + 100);
            late_part.insert(
                i as u16,
                (i * FRAME) as u32,
                &audio[i * FRAME..(i + 1) * FRAME],
                at,
            );
        }
        late_part.finish(t0 + Duration::from_secs(21));
        let q = late_part.stats();
        assert_eq!(q.late_discarded, 0);
        // Started at 60 ms, ends near the 20 ms floor (quiet blocks are where it shrinks).
        assert!(q.mean_buffer_delay_ms < 40.0, "{q:?}");
    }

    #[test]
    fn a_far_jump_restarts_playout_instead_of_waiting() {
        let audio = signal(FRAME * 20);
        let t0 = base();
        let mut e = Earpiece::new(JitterBufferConfig::fixed(Duration::from_millis(40)), 8000);
        for i in 0..10usize {
            let at = t0 + Duration::from_millis(20 * i as u64);
            e.insert(
                i as u16,
                (i * FRAME) as u32,
                &audio[i * FRAME..(i + 1) * FRAME],
                at,
            );
        }
        // A new timestamp base (a new SSRC, say): 3 billion samples away.
        for i in 10..20usize {
            let at = t0 + Duration::from_millis(20 * i as u64);
            let ts = 3_000_000_000u32.wrapping_add((i * FRAME) as u32);
            e.insert(i as u16, ts, &audio[i * FRAME..(i + 1) * FRAME], at);
        }
        e.finish(t0 + Duration::from_secs(1));
        let s = e.stats();
        assert_eq!(s.late_discarded, 0, "{s:?}");
        assert_eq!(s.played, 20);
        assert!(s.heard_seconds < 1.1, "{s:?}");
    }
}
