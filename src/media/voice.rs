//! Voice onset: the first sample where received audio rises to speech, to the sample.
//!
//! A 5 ms sliding window measures the level; when it reaches the threshold (−35 dBov by
//! default) the crossing becomes a candidate, and the candidate is confirmed once the level has
//! held for 20 ms, so a click or a short burst of noise does not count. The onset reported is
//! not the crossing (which lags by up to a window) but the start of the activity that led to
//! it: the first sample at or above a quarter of the threshold amplitude (−12 dB) that follows
//! the last quiet gap of 2 ms or more, looked for in the 32 ms before the crossing. A tone
//! burst starting at sample `k` is found at `k`, or at `k + 1` when sample `k` is itself near
//! zero (a sine starting at phase 0); at 8 kHz that is within 125 µs.
//!
//! Levels are in dBov: 0 dBov is the RMS of a full-scale square wave (32768), so a full-scale
//! sine is −3 dBov.

use super::audio::{samples_to_duration, SAMPLE_RATE};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples before a crossing searched for the start of the activity (32 ms at 8 kHz).
const HISTORY: usize = 256;

/// Quiet samples that separate the onset from earlier sounds (2 ms at 8 kHz).
const QUIET_GAP: usize = 16;

/// Default speech threshold, dBov.
pub const DEFAULT_THRESHOLD_DBOV: f64 = -35.0;

/// Settings of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceOnsetConfig {
    /// Speech threshold, dBov (default −35).
    pub threshold_dbov: f64,
    /// Length of the level window (default 5 ms).
    pub window: Duration,
    /// How long the level must stay at or above the threshold (default 20 ms).
    pub hold: Duration,
}

impl Default for VoiceOnsetConfig {
    fn default() -> Self {
        Self {
            threshold_dbov: DEFAULT_THRESHOLD_DBOV,
            window: Duration::from_millis(5),
            hold: Duration::from_millis(20),
        }
    }
}

impl VoiceOnsetConfig {
    /// Default settings with another threshold.
    pub fn with_threshold(threshold_dbov: f64) -> Self {
        Self {
            threshold_dbov,
            ..Self::default()
        }
    }
}

/// RMS amplitude of a level in dBov (0 dBov = 32768 RMS).
pub fn dbov_to_rms(dbov: f64) -> f64 {
    32768.0 * 10f64.powf(dbov / 20.0)
}

/// Level in dBov of samples' RMS; `-inf` for silence.
pub fn rms_dbov(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let energy: f64 = samples.iter().map(|&s| (s as f64) * (s as f64)).sum();
    20.0 * ((energy / samples.len() as f64).sqrt() / 32768.0).log10()
}

/// A crossing waiting for the level to hold.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    crossing: u64,
    onset: u64,
}

/// Finds the first sample of speech in a stream of decoded audio, to the sample.
#[derive(Debug, Clone)]
pub struct VoiceOnsetDetector {
    window_len: usize,
    hold_len: u64,
    /// Threshold on the sum of squares over the window.
    threshold_energy: u64,
    onset_amplitude: i32,
    squares: Vec<u32>,
    square_pos: usize,
    energy: u64,
    history: Vec<i16>,
    /// Index of the next sample.
    next_index: u64,
    candidate: Option<Candidate>,
    onset_index: Option<u64>,
    onset_at: Option<Instant>,
    /// Index of the first sample of each recent block and when that sample was played.
    blocks: VecDeque<(u64, Instant)>,
}

impl Default for VoiceOnsetDetector {
    fn default() -> Self {
        Self::new(VoiceOnsetConfig::default())
    }
}

impl VoiceOnsetDetector {
    /// A detector with these settings (window and hold at least one sample).
    pub fn new(config: VoiceOnsetConfig) -> Self {
        let per_sample = Duration::from_nanos(1_000_000_000 / SAMPLE_RATE as u64);
        let window_len = (config.window.as_nanos() / per_sample.as_nanos()).max(1) as usize;
        let hold_len = (config.hold.as_nanos() / per_sample.as_nanos()).max(1) as u64;
        let amplitude = dbov_to_rms(config.threshold_dbov);
        Self {
            window_len,
            hold_len,
            threshold_energy: (amplitude * amplitude * window_len as f64).ceil().max(1.0) as u64,
            onset_amplitude: (amplitude / 4.0).ceil().max(1.0) as i32,
            squares: vec![0; window_len],
            square_pos: 0,
            energy: 0,
            history: vec![0; HISTORY],
            next_index: 0,
            candidate: None,
            onset_index: None,
            onset_at: None,
            blocks: VecDeque::with_capacity(8),
        }
    }

    /// Index (from 0) of the first speech sample in `samples`, for ground truth such as a WAV prompt.
    pub fn find_onset(samples: &[i16], config: VoiceOnsetConfig) -> Option<u64> {
        let mut detector = Self::new(config);
        detector.push_samples(samples);
        // Audio that ends while the level is still holding counts as speech.
        detector
            .onset_index
            .or_else(|| detector.candidate.map(|c| c.onset))
    }

    /// Feeds a block whose first sample was played (or arrived) at `first_sample_at`.
    ///
    /// Returns the time of the onset sample (its block's time plus its index / 8000 s) when the
    /// onset is confirmed in this block; once found, later blocks are ignored.
    pub fn push(&mut self, samples: &[i16], first_sample_at: Instant) -> Option<Instant> {
        if self.onset_index.is_some() || samples.is_empty() {
            return None;
        }
        self.blocks.push_back((self.next_index, first_sample_at));
        let onset = self.push_samples(samples)?;
        let at = self.time_of(onset);
        self.onset_at = at;
        self.blocks.clear();
        at
    }

    /// Feeds samples without times; returns the onset index when it is confirmed.
    pub fn push_samples(&mut self, samples: &[i16]) -> Option<u64> {
        if self.onset_index.is_some() {
            return None;
        }
        for &sample in samples {
            let index = self.next_index;
            self.next_index += 1;
            let square = (sample as i32 * sample as i32) as u32;
            self.energy = self.energy + square as u64 - self.squares[self.square_pos] as u64;
            self.squares[self.square_pos] = square;
            self.square_pos += 1;
            if self.square_pos == self.window_len {
                self.square_pos = 0;
            }
            self.history[(index % HISTORY as u64) as usize] = sample;
            let loud = self.energy >= self.threshold_energy;
            match self.candidate {
                None if loud => {
                    self.candidate = Some(Candidate {
                        crossing: index,
                        onset: self.start_of_activity(index),
                    });
                }
                Some(_) if !loud => self.candidate = None,
                _ => {}
            }
            if let Some(c) = self.candidate {
                if index + 1 - c.crossing >= self.hold_len {
                    self.onset_index = Some(c.onset);
                    return Some(c.onset);
                }
            }
        }
        self.prune_blocks();
        None
    }

    /// The onset time, once found.
    pub fn onset(&self) -> Option<Instant> {
        self.onset_at
    }

    /// Index of the onset sample counted from the first sample pushed, once found.
    pub fn onset_index(&self) -> Option<u64> {
        self.onset_index
    }

    /// Samples pushed so far.
    pub fn samples_seen(&self) -> u64 {
        self.next_index
    }

    /// The first sample at or above the onset amplitude after the last quiet gap, up to `index`.
    fn start_of_activity(&self, index: u64) -> u64 {
        let first = (index + 1).saturating_sub(HISTORY as u64);
        start_of_activity(&self.history, first, index, self.onset_amplitude, QUIET_GAP)
    }

    /// Play time of sample `index`: the time of its block plus its offset in the block.
    fn time_of(&self, index: u64) -> Option<Instant> {
        let &(start, at) = self
            .blocks
            .iter()
            .rev()
            .find(|(start, _)| *start <= index)?;
        Some(at + samples_to_duration(index - start))
    }

    /// Forgets the times of blocks that no candidate or backtrack can reach any more.
    fn prune_blocks(&mut self) {
        let keep_from = match self.candidate {
            Some(c) => c.onset,
            None => self.next_index.saturating_sub(HISTORY as u64),
        };
        while self.blocks.len() > 1 && self.blocks[1].0 <= keep_from {
            self.blocks.pop_front();
        }
    }
}

/// In a ring buffer of recent samples (sample `i` at `i % ring.len()`), the first sample in
/// `first..=index` at or above `edge` after the last run of at least `quiet_gap` samples below
/// it: where a burst of activity that is on at `index` began. `index` when none is.
pub(crate) fn start_of_activity(
    ring: &[i16],
    first: u64,
    index: u64,
    edge: i32,
    quiet_gap: usize,
) -> u64 {
    let len = ring.len().max(1) as u64;
    let mut onset = index;
    let mut found = false;
    let mut quiet = 0usize;
    for i in first..=index {
        let sample = ring.get((i % len) as usize).copied().unwrap_or(0) as i32;
        if sample.abs() >= edge {
            if !found || quiet >= quiet_gap {
                onset = i;
                found = true;
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    onset
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::Codec;
    use crate::media::rtp::SAMPLES_PER_PACKET;

    #[allow(clippy::disallowed_methods)] // tests: one real base instant, then durations
    fn base() -> Instant {
        Instant::now()
    }

    /// Silence, then a sine of `freq` Hz at `dbov` starting at sample `start` with `phase`.
    fn tone_burst(len: usize, start: usize, freq: f64, dbov: f64, phase: f64) -> Vec<i16> {
        let amplitude = dbov_to_rms(dbov) * std::f64::consts::SQRT_2;
        (0..len)
            .map(|i| {
                if i < start {
                    0
                } else {
                    let t = (i - start) as f64 / 8000.0;
                    (amplitude * (2.0 * std::f64::consts::PI * freq * t + phase).sin()).round()
                        as i16
                }
            })
            .collect()
    }

    fn feed_packets(detector: &mut VoiceOnsetDetector, audio: &[i16], t0: Instant) {
        for (n, frame) in audio.chunks(SAMPLES_PER_PACKET).enumerate() {
            detector.push(frame, t0 + Duration::from_millis(20 * n as u64));
        }
    }

    #[test]
    fn tone_bursts_are_found_within_one_sample() {
        let t0 = base();
        for &(start, freq, dbov, phase) in &[
            (2437usize, 1000.0, -20.0, 0.0),
            (2437, 1000.0, -20.0, 1.3),
            (800, 400.0, -30.0, 0.0),
            (1601, 300.0, -33.0, 0.0),
            (4000, 2500.0, -10.0, 2.0),
            (160, 440.0, -25.0, 0.5),
        ] {
            let audio = tone_burst(8000, start, freq, dbov, phase);
            let found =
                VoiceOnsetDetector::find_onset(&audio, VoiceOnsetConfig::default()).expect("onset");
            assert!(
                found == start as u64 || (phase == 0.0 && found == start as u64 + 1),
                "tone {freq} Hz {dbov} dBov at {start}: found {found}"
            );
            let mut detector = VoiceOnsetDetector::default();
            feed_packets(&mut detector, &audio, t0);
            let at = detector.onset().expect("onset time");
            let expected = t0 + samples_to_duration(start as u64);
            let error = at.duration_since(t0).as_nanos() as i128
                - expected.duration_since(t0).as_nanos() as i128;
            assert!(
                (0..=125_000).contains(&error),
                "{freq} Hz at {start}: off by {error} ns"
            );
        }
    }

    #[test]
    fn onset_time_uses_the_arrival_of_the_packet_holding_the_onset() {
        // Jittered arrivals: each packet's first sample is at its own arrival time.
        let t0 = base();
        let audio = tone_burst(4800, 1000, 1000.0, -20.0, 0.7);
        let arrivals_ms = [0u64, 23, 38, 61, 80, 107, 121, 140, 166, 183, 200];
        let mut detector = VoiceOnsetDetector::default();
        for (n, frame) in audio.chunks(SAMPLES_PER_PACKET).enumerate() {
            let at = t0 + Duration::from_millis(*arrivals_ms.get(n).unwrap_or(&(20 * n as u64)));
            detector.push(frame, at);
        }
        // Sample 1000 is sample 40 of packet 6, which arrived at 121 ms.
        assert_eq!(detector.onset_index(), Some(1000));
        assert_eq!(
            detector.onset(),
            Some(t0 + Duration::from_millis(121) + samples_to_duration(40))
        );
    }

    #[test]
    fn clicks_and_quiet_tones_do_not_count() {
        // A 2 ms full-scale click at 100 ms, then a tone at 400 ms.
        let mut audio = tone_burst(8000, 3200, 800.0, -18.0, 0.9);
        for s in &mut audio[800..816] {
            *s = 30000;
        }
        assert_eq!(
            VoiceOnsetDetector::find_onset(&audio, VoiceOnsetConfig::default()),
            Some(3200)
        );
        // 10 ms of loud noise also does not hold for 20 ms.
        let mut burst = vec![0i16; 8000];
        for (i, s) in burst[1000..1080].iter_mut().enumerate() {
            *s = if i % 2 == 0 { 8000 } else { -8000 };
        }
        let mut detector = VoiceOnsetDetector::default();
        assert_eq!(detector.push_samples(&burst), None);
        // Below the threshold: nothing.
        let quiet = tone_burst(8000, 100, 1000.0, -40.0, 0.0);
        assert_eq!(
            VoiceOnsetDetector::find_onset(&quiet, VoiceOnsetConfig::default()),
            None
        );
        // ... unless the threshold is lowered.
        assert_eq!(
            VoiceOnsetDetector::find_onset(&quiet, VoiceOnsetConfig::with_threshold(-45.0)),
            Some(101)
        );
    }

    #[test]
    fn block_size_does_not_change_the_result() {
        let audio = tone_burst(6000, 3333, 600.0, -22.0, 0.4);
        let whole = VoiceOnsetDetector::find_onset(&audio, VoiceOnsetConfig::default());
        for size in [1usize, 7, 80, 160, 999] {
            let t0 = base();
            let mut detector = VoiceOnsetDetector::default();
            for (n, chunk) in audio.chunks(size).enumerate() {
                detector.push(chunk, t0 + samples_to_duration((n * size) as u64));
            }
            assert_eq!(detector.onset_index(), whole, "block size {size}");
            assert_eq!(
                detector.onset(),
                Some(t0 + samples_to_duration(3333)),
                "block size {size}"
            );
        }
    }

    #[test]
    fn onset_survives_g711_round_trip() {
        let audio = tone_burst(8000, 2437, 1000.0, -26.0, 0.2);
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut wire = vec![0u8; audio.len()];
            codec.encode_frame(&audio, &mut wire);
            let mut decoded = vec![0i16; audio.len()];
            codec.decode_frame(&wire, &mut decoded);
            assert_eq!(
                VoiceOnsetDetector::find_onset(&decoded, VoiceOnsetConfig::default()),
                Some(2437),
                "{codec}"
            );
        }
    }

    #[test]
    fn levels_in_dbov() {
        let sine = tone_burst(8000, 0, 1000.0, -20.0, 0.3);
        assert!((rms_dbov(&sine) + 20.0).abs() < 0.05);
        assert!((dbov_to_rms(0.0) - 32768.0).abs() < 1e-9);
        assert_eq!(rms_dbov(&[0; 10]), f64::NEG_INFINITY);
    }
}
