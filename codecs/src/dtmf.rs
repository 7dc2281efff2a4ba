//! DTMF tones (ITU-T Q.23/Q.24): generation and in-band detection for 8 kHz linear PCM.
//!
//! - [`DtmfTone`] / [`tone_samples`]: phase-continuous two-tone generator at a level in dBm0.
//! - [`DtmfDetector`]: streaming Goertzel detector that reports each digit's start as early as
//!   its minimum duration allows (for barge-in) and its start and end to the sample.
//!
//! Levels are in dBm0 on the 16-bit linear scale of [`crate::g711`]: see
//! [`FULL_SCALE_SINE_DBM0`].
//!
//! # Detection
//!
//! Every [`HOP`] samples, a block of the last [`BLOCK_LEN`] samples (12.75 ms, half-overlapped)
//! is analysed with eight Goertzel filters at the Q.23 frequencies. A block is a digit when the
//! strongest row and column frequencies pass every check of [`DetectorConfig`]: level, twist,
//! relative peak, tone-to-total energy and second harmonic. A digit starts after enough
//! consecutive blocks to cover [`DetectorConfig::min_tone`] and ends after a gap of
//! [`DetectorConfig::min_gap`]; a shorter gap inside one digit is bridged.
//!
//! Block decisions only locate a tone to within a block. The reported boundaries are refined
//! in two steps:
//!
//! 1. Envelope: a 63-sample triangular energy envelope (two cascaded 32-sample moving sums:
//!    nulls at multiples of 250 Hz, so the row/column beat stays under 5 %) crosses halfway
//!    between the tone's power and the power just outside it. Within about ±5 samples: the
//!    power of two summed sines beats at their difference frequency, so where the energy
//!    "ends" depends on the phase of the beat at the switch-off.
//! 2. Tone model: the row and column sines are fitted by least squares on the block just
//!    inside the boundary and extended across it; the boundary is the split of ±12 samples
//!    that best explains the samples as tone on one side and silence (or anything
//!    uncorrelated with the tone) on the other.
//!
//! Clean tones come out within ±1 sample of the truth after G.711, at any phase, twist or
//! alignment (`tests/dtmf.rs`). A gap is measured between refined boundaries, so
//! [`DetectorConfig::min_gap`] holds to the sample.
//!
//! Latency: `Started` is available once the tone has lasted `min_tone` plus up to one block
//! hop (28–35 ms with the defaults); `Ended` `min_gap` plus 4–11 ms after the tone's end when
//! it is followed by silence or noise well below the tone (up to `min_gap` plus 25 ms when
//! something as loud follows), since a shorter gap may still be bridged.

use std::collections::VecDeque;
use std::f64::consts::PI;
use std::sync::OnceLock;
use std::time::Duration;

/// Sample rate of every signal in this module, Hz.
pub const SAMPLE_RATE_HZ: u32 = 8000;

/// The 16 DTMF keys, row by row as on the keypad (Q.23 Figure 1).
pub const DIGITS: [char; 16] = [
    '1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D',
];

/// Low-group (row) frequencies, Hz (Q.23).
pub const ROW_HZ: [f64; 4] = [697.0, 770.0, 852.0, 941.0];

/// High-group (column) frequencies, Hz (Q.23).
pub const COLUMN_HZ: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// Peak of the largest µ-law decoder output in 16-bit linear: 8159 (G.711 Table 2) × 4.
pub const FULL_SCALE_PEAK: f64 = 32636.0;

/// Level of a sine whose peak is [`FULL_SCALE_PEAK`]: +3.17 dBm0 (G.711 µ-law).
///
/// This fixes 0 dBm0 on the 16-bit scale: a 0 dBm0 sine has a peak of
/// 32636 / 10^(3.17/20) ≈ 22 657 and an RMS of ≈ 16 021, i.e. 3.2 dB below a 16-bit
/// full-scale sine. (A-law's own definition, +3.14 dBm0 at a 32 768 peak, is 0.07 dB higher.)
pub const FULL_SCALE_SINE_DBM0: f64 = 3.17;

/// Default sending level of each frequency component, dBm0.
///
/// Common telephone practice; the two tones together peak at 18 040 (23 300 with +4 dB of
/// twist), well clear of clipping.
pub const DEFAULT_LEVEL_DBM0: f64 = -8.0;

/// Length of one analysis block, samples (12.75 ms). Gives 78 Hz bins, enough to separate the
/// closest DTMF frequencies (697/770 Hz) while four half-overlapped blocks fit in a 40 ms tone.
pub const BLOCK_LEN: usize = 102;

/// Step between analysis blocks, samples (half a block).
pub const HOP: usize = BLOCK_LEN / 2;

/// Index of `digit` in [`DIGITS`] (A-D in either case).
fn digit_index(digit: char) -> Option<usize> {
    let upper = digit.to_ascii_uppercase();
    DIGITS.iter().position(|&d| d == upper)
}

/// Low- and high-group frequencies of a DTMF key, Hz; `None` if `digit` is not a key
/// (0-9, *, #, A-D; a-d are accepted too).
pub fn frequencies(digit: char) -> Option<(f64, f64)> {
    digit_index(digit).map(|i| (ROW_HZ[i / 4], COLUMN_HZ[i % 4]))
}

/// Peak amplitude, in 16-bit linear PCM, of a sine at `dbm0` (see [`FULL_SCALE_SINE_DBM0`]).
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    FULL_SCALE_PEAK * 10f64.powf((dbm0 - FULL_SCALE_SINE_DBM0) / 20.0)
}

/// Mean power (mean square, 16-bit linear) of a sine at `dbm0`.
fn dbm0_to_power(dbm0: f64) -> f64 {
    let a = dbm0_to_amplitude(dbm0);
    a * a / 2.0
}

/// One sinusoid as a rotating phasor: one complex multiply per sample.
#[derive(Debug, Clone)]
struct Oscillator {
    cos: f64,
    sin: f64,
    step_cos: f64,
    step_sin: f64,
    amplitude: f64,
}

impl Oscillator {
    fn new(hz: f64, amplitude: f64) -> Self {
        let w = 2.0 * PI * hz / SAMPLE_RATE_HZ as f64;
        Oscillator {
            cos: 1.0,
            sin: 0.0,
            step_cos: w.cos(),
            step_sin: w.sin(),
            amplitude,
        }
    }

    /// Current value, then advance one sample.
    #[inline]
    fn next(&mut self) -> f64 {
        let value = self.amplitude * self.sin;
        let cos = self.cos * self.step_cos - self.sin * self.step_sin;
        self.sin = self.sin * self.step_cos + self.cos * self.step_sin;
        self.cos = cos;
        value
    }

    /// Pulls the phasor back to unit length (rounding drift).
    fn renormalize(&mut self) {
        let norm = (self.cos * self.cos + self.sin * self.sin).sqrt();
        if norm > 0.0 {
            self.cos /= norm;
            self.sin /= norm;
        }
    }
}

/// Phase-continuous DTMF tone generator: successive [`fill`](Self::fill) calls continue the
/// same two sines, so a tone can be produced frame by frame.
#[derive(Debug, Clone)]
pub struct DtmfTone {
    low: Oscillator,
    high: Oscillator,
}

impl DtmfTone {
    /// A generator for `digit` (see [`frequencies`]); `None` if it is not a DTMF key.
    ///
    /// The low-group sine is at `level_dbm0` and the high-group sine at
    /// `level_dbm0 + twist_db` (twist = high minus low, positive when the high group is
    /// louder). Both sines start at phase 0.
    pub fn new(digit: char, level_dbm0: f64, twist_db: f64) -> Option<Self> {
        let (low, high) = frequencies(digit)?;
        Some(DtmfTone {
            low: Oscillator::new(low, dbm0_to_amplitude(level_dbm0)),
            high: Oscillator::new(high, dbm0_to_amplitude(level_dbm0 + twist_db)),
        })
    }

    /// Writes the next `out.len()` samples, rounded and saturated to 16 bits.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out.iter_mut() {
            let value = self.low.next() + self.high.next();
            // `as` saturates out-of-range floats (and maps NaN to 0).
            *sample = value.round() as i16;
        }
        self.low.renormalize();
        self.high.renormalize();
    }
}

/// `duration_samples` of `digit` at `level_dbm0` per component with `twist_db` (see
/// [`DtmfTone::new`]); empty if `digit` is not a DTMF key.
pub fn tone_samples(
    digit: char,
    level_dbm0: f64,
    twist_db: f64,
    duration_samples: usize,
) -> Vec<i16> {
    match DtmfTone::new(digit, level_dbm0, twist_db) {
        Some(mut tone) => {
            let mut out = vec![0; duration_samples];
            tone.fill(&mut out);
            out
        }
        None => Vec::new(),
    }
}

/// Thresholds of a [`DtmfDetector`]. The defaults accept Q.24 tones (including ±4 dB of twist,
/// −20 dBm0 per tone, G.711 coding and 20 dB SNR) and reject speech.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Shortest tone reported; default 30 ms.
    ///
    /// Receivers must recognise 40 ms tones (Q.24); 30 ms keeps a block of margin for them.
    /// The check counts consecutive matching blocks (4 for 30 ms), so tones near the
    /// limit count or not depending on their alignment with the blocks: with the default,
    /// tones of 32 ms and more always count, tones of 23 ms and less never do.
    pub min_tone: Duration,
    /// Shortest silence that separates two tones of the same digit; default 25 ms.
    ///
    /// A shorter interruption (a dropout, or a 10 ms gap) is bridged: the two tones are reported
    /// as one digit, from the start of the first to the end of the second. A different digit
    /// ends the current one at once, whatever the gap. 25 ms separates digits sent with the
    /// usual 40 ms pause with a block of margin.
    pub min_gap: Duration,
    /// Lowest level of each of the two frequencies, dBm0; default −30 dBm0.
    ///
    /// 10 dB below the −20 dBm0 tones of the acceptance tests; quieter sound is never a digit.
    pub min_level_dbm0: f64,
    /// Largest excess of the high-group over the low-group level ("normal" twist), dB;
    /// default 8 dB, the usual receiver limit under Q.24.
    pub max_normal_twist_db: f64,
    /// Largest excess of the low-group over the high-group level ("reverse" twist), dB;
    /// default 6 dB: the usual 4 dB limit under Q.24 plus 2 dB for measurement error on
    /// G.711-coded, off-frequency tones.
    pub max_reverse_twist_db: f64,
    /// How much the detected row (column) frequency must exceed each other row (column)
    /// frequency, dB; default 8 dB. A talk-off defence: speech spreads over several bins.
    pub min_relative_peak_db: f64,
    /// Share of the block's power the two frequencies must carry, dB (≤ 0); default −1.5 dB
    /// (71 %). A talk-off defence: speech has energy between and outside the DTMF bins.
    pub min_tone_to_total_db: f64,
    /// Largest level of the second harmonic of each detected frequency relative to that
    /// frequency, dB; default −15 dB. A talk-off defence: voiced speech is a harmonic series,
    /// while Q.23 keeps a sender's distortion 20 dB down. Not checked for a row harmonic
    /// within 100 Hz of the detected column (keys 2, 3, 6, B, C), which one block cannot
    /// resolve.
    pub max_second_harmonic_db: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            min_tone: Duration::from_millis(30),
            min_gap: Duration::from_millis(25),
            min_level_dbm0: -30.0,
            max_normal_twist_db: 8.0,
            max_reverse_twist_db: 6.0,
            min_relative_peak_db: 8.0,
            min_tone_to_total_db: -1.5,
            max_second_harmonic_db: -15.0,
        }
    }
}

/// A digit detected from its start to its end, as sample indices of the pushed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedDigit {
    /// The key (A-D in uppercase).
    pub digit: char,
    /// Index of the first sample of the tone.
    pub start_sample: u64,
    /// Index one past the last sample of the tone.
    pub end_sample: u64,
}

impl DetectedDigit {
    /// Length of the tone, samples.
    pub fn duration_samples(&self) -> u64 {
        self.end_sample.saturating_sub(self.start_sample)
    }
}

/// What a [`DtmfDetector`] reports, in order: each digit's start once it has lasted
/// [`DetectorConfig::min_tone`] (for barge-in), then, once its end has been seen, the whole
/// digit. Every `Started` is followed by exactly one `Ended` of the same digit before the next
/// `Started` ([`DtmfDetector::flush`] ends a digit still sounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// A digit has been sounding for the minimum duration.
    Started {
        /// The key (A-D in uppercase).
        digit: char,
        /// Index of the first sample of the tone (same as the later `start_sample`).
        sample: u64,
    },
    /// A digit ended: a gap of the minimum length, another digit, or the end of the stream.
    Ended(DetectedDigit),
}

/// History kept for boundary refinement, samples (power of two).
const RING: usize = 2048;

/// Half-length of the triangular envelope window: weights 32 − |k| for |k| < 32, sum 1024.
const ENV_HALF: i64 = 32;

/// How far from its anchor a boundary is searched on the envelope, samples.
const SEARCH: u64 = 3 * BLOCK_LEN as u64;

/// Samples averaged for the power just outside a tone.
const OUTSIDE_LEN: u64 = 64;

/// Distance between a boundary estimate and the block the tone model is fitted on, samples.
const MODEL_GUARD: u64 = 10;

/// How far the tone model may move a boundary estimate, samples.
const MODEL_REACH: u64 = 12;

/// Fit coefficients for classification: row, column, their second harmonics, and the shape
/// terms of the row and column (see [`SineBasis`]).
const BLOCK_TERMS: usize = 16;

/// Fit coefficients of the boundary model: row and column with their shape terms.
const MODEL_TERMS: usize = 12;

/// Thresholds of a [`DetectorConfig`] as power ratios and sample counts.
#[derive(Debug, Clone)]
struct Thresholds {
    /// Consecutive blocks covering `min_tone`.
    blocks_needed: u64,
    min_gap: u64,
    min_power: f64,
    normal_twist: f64,
    reverse_twist: f64,
    relative_peak: f64,
    tone_to_total: f64,
    second_harmonic: f64,
}

impl Thresholds {
    fn new(config: &DetectorConfig) -> Self {
        // Capped at 2^32 samples (6 days) so that sample arithmetic cannot overflow.
        let samples = |d: Duration| {
            ((d.as_secs_f64() * SAMPLE_RATE_HZ as f64).round() as u64).min(u32::MAX as u64)
        };
        let ratio = |db: f64| 10f64.powf(db / 10.0);
        let min_tone = samples(config.min_tone);
        // k consecutive blocks span (k − 1)·HOP + BLOCK_LEN samples.
        let blocks_needed = 1 + min_tone
            .saturating_sub(BLOCK_LEN as u64)
            .div_ceil(HOP as u64);
        Thresholds {
            blocks_needed,
            min_gap: samples(config.min_gap),
            min_power: dbm0_to_power(config.min_level_dbm0),
            normal_twist: ratio(config.max_normal_twist_db),
            reverse_twist: ratio(config.max_reverse_twist_db),
            relative_peak: ratio(config.min_relative_peak_db),
            tone_to_total: ratio(config.min_tone_to_total_db),
            second_harmonic: ratio(config.max_second_harmonic_db),
        }
    }
}

/// Which end of a tone a boundary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    Start,
    End,
}

/// The triangular energy envelope at one sample, as exact integer sums so that moving it by
/// one sample costs O(1) and never drifts.
#[derive(Debug, Clone, Copy)]
struct Envelope {
    /// Centre sample.
    n: i64,
    /// Σ (32 − |k|)·x²(n + k) for |k| < 32: 1024 × the weighted mean power.
    weighted: i64,
    /// Σ x² over n + 1 ..= n + 31.
    ahead: i64,
    /// Σ x² over n − 31 ..= n.
    behind: i64,
}

impl Envelope {
    /// The envelope at `n`, from `square(i)` = x(i)², `None` where a sample is missing.
    fn at(n: i64, square: &impl Fn(i64) -> Option<i64>) -> Option<Self> {
        let (mut weighted, mut ahead, mut behind) = (0, 0, 0);
        for k in 1 - ENV_HALF..ENV_HALF {
            let sq = square(n + k)?;
            weighted += (ENV_HALF - k.abs()) * sq;
            if k > 0 {
                ahead += sq;
            } else {
                behind += sq;
            }
        }
        Some(Envelope {
            n,
            weighted,
            ahead,
            behind,
        })
    }

    /// Weighted mean power (16-bit linear units squared).
    fn power(&self) -> f64 {
        self.weighted as f64 / (ENV_HALF * ENV_HALF) as f64
    }

    /// Moves to `n + 1`; unchanged and `None` if a sample is missing.
    fn forward(&mut self, square: &impl Fn(i64) -> Option<i64>) -> Option<()> {
        let n = self.n;
        let (entering, shifting, leaving) = (
            square(n + ENV_HALF)?,
            square(n + 1)?,
            square(n + 1 - ENV_HALF)?,
        );
        self.weighted += self.ahead + entering - self.behind;
        self.ahead += entering - shifting;
        self.behind += shifting - leaving;
        self.n = n + 1;
        Some(())
    }

    /// Moves to `n − 1`; unchanged and `None` if a sample is missing.
    fn backward(&mut self, square: &impl Fn(i64) -> Option<i64>) -> Option<()> {
        let n = self.n;
        let (leaving, shifting, entering) =
            (square(n + ENV_HALF - 1)?, square(n)?, square(n - ENV_HALF)?);
        self.weighted -= self.ahead + shifting - (self.behind - shifting + entering);
        self.ahead += shifting - leaving;
        self.behind += entering - shifting;
        self.n = n - 1;
        Some(())
    }
}

/// Where a tone's end was found and how quiet it must stay to confirm the gap.
#[derive(Debug, Clone, Copy)]
struct EndEstimate {
    end: u64,
    /// Envelope level halfway between the tone and what follows it.
    threshold: f64,
    /// Envelope checked below `threshold` on `end..quiet_until`.
    quiet_until: u64,
    /// The envelope at `quiet_until`, when its samples have been pushed.
    cursor: Option<Envelope>,
    /// The envelope rose above `threshold` within `min_gap`: wait for the blocks instead.
    loud: bool,
}

impl EndEstimate {
    fn new(end: u64, threshold: f64, loud: bool) -> Self {
        EndEstimate {
            end,
            threshold,
            quiet_until: end,
            cursor: None,
            loud,
        }
    }
}

#[derive(Debug, Clone)]
enum State {
    Idle,
    /// Consecutive blocks of `digit`, not yet `min_tone` long.
    Candidate {
        digit: usize,
        first_block: u64,
        last_block: u64,
        start: Option<u64>,
    },
    /// A started digit; `end` is set once blocks stop matching and the end has been located.
    On {
        digit: usize,
        start: u64,
        last_block: u64,
        end: Option<EndEstimate>,
    },
}

/// Streaming DTMF detector for 8 kHz 16-bit linear audio (see the [module docs](self)).
///
/// Push samples in chunks of any size and [`poll`](Self::poll) for events; the result does not
/// depend on the chunking. Never panics on any input. Allocates only in [`new`](Self::new)
/// (and if more than 16 events are left unpolled).
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    config: DetectorConfig,
    thresholds: Thresholds,
    /// Goertzel coefficients 2·cos(ω), rows then columns.
    coefficients: [f32; 8],
    tables: &'static FitTables,
    ring: Box<[i16]>,
    seen: u64,
    next_block_end: u64,
    state: State,
    /// End of the last reported digit: no later start goes before it.
    last_end: u64,
    events: VecDeque<DtmfEvent>,
}

impl DtmfDetector {
    /// A detector with `config`.
    pub fn new(config: DetectorConfig) -> Self {
        let mut coefficients = [0f32; 8];
        for (c, hz) in coefficients.iter_mut().zip(ROW_HZ.iter().chain(&COLUMN_HZ)) {
            *c = (2.0 * (2.0 * PI * hz / SAMPLE_RATE_HZ as f64).cos()) as f32;
        }
        DtmfDetector {
            thresholds: Thresholds::new(&config),
            config,
            coefficients,
            tables: FitTables::get(),
            ring: vec![0; RING].into_boxed_slice(),
            seen: 0,
            next_block_end: BLOCK_LEN as u64,
            state: State::Idle,
            last_end: 0,
            events: VecDeque::with_capacity(16),
        }
    }

    /// The configuration this detector was built with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Number of samples pushed so far: the index the next pushed sample will have.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// Consumes the next samples of the stream.
    pub fn push(&mut self, samples: &[i16]) {
        for &sample in samples {
            self.ring[self.seen as usize & (RING - 1)] = sample;
            self.seen += 1;
            if self.seen == self.next_block_end {
                self.next_block_end += HOP as u64;
                self.on_block();
            }
        }
    }

    /// The next event, oldest first.
    pub fn poll(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    /// Ends the stream: a digit still sounding is ended (at the last sample where it is still
    /// present, at most [`samples_seen`](Self::samples_seen)); a tone not yet
    /// [`DetectorConfig::min_tone`] long is dropped. Pushing more samples afterwards continues
    /// the stream, with sample indices counting on.
    pub fn flush(&mut self) {
        if let State::On {
            digit,
            start,
            last_block,
            end,
        } = self.state
        {
            let end = match end {
                Some(e) => e.end,
                None => self
                    .locate_end(digit, last_block, true)
                    .map_or(self.seen, |e| e.end),
            };
            self.finish(digit, start, end);
        }
        self.state = State::Idle;
    }

    /// Analyses the block that ends at `self.seen` and advances the state machine.
    fn on_block(&mut self) {
        let block = (self.seen - BLOCK_LEN as u64) / HOP as u64;
        let decision = self.classify();
        match self.state.clone() {
            State::Idle => {
                if let Some(digit) = decision {
                    self.begin_candidate(digit, block, None);
                }
            }
            State::Candidate {
                digit,
                first_block,
                last_block,
                start,
            } => {
                if decision == Some(digit) && block == last_block + 1 {
                    let start = start.unwrap_or_else(|| self.locate_start(first_block));
                    self.state = State::Candidate {
                        digit,
                        first_block,
                        last_block: block,
                        start: Some(start),
                    };
                    self.confirm_if_long_enough();
                } else if let Some(other) = decision {
                    self.begin_candidate(other, block, None);
                } else {
                    self.state = State::Idle;
                }
            }
            State::On {
                digit,
                start,
                last_block,
                end,
            } => self.on_block_in_tone(block, decision, digit, start, last_block, end),
        }
    }

    /// [`on_block`](Self::on_block) while a digit is on.
    fn on_block_in_tone(
        &mut self,
        block: u64,
        decision: Option<usize>,
        digit: usize,
        start: u64,
        last_block: u64,
        end: Option<EndEstimate>,
    ) {
        if decision == Some(digit) {
            if let (Some(e), true) = (end, block > last_block + 1) {
                let resumed = self.locate_start(block);
                if resumed >= e.end + self.thresholds.min_gap {
                    // A separate tone of the same digit.
                    self.finish(digit, start, e.end);
                    self.begin_candidate(digit, block, Some(resumed));
                    return;
                }
            }
            // Still on, or back after a gap shorter than `min_gap`: bridged.
            self.state = State::On {
                digit,
                start,
                last_block: block,
                end: None,
            };
            return;
        }
        let mut end = end.or_else(|| self.locate_end(digit, last_block, false));
        if let Some(other) = decision {
            let end = end.map_or(last_block * HOP as u64 + BLOCK_LEN as u64, |e| e.end);
            self.finish(digit, start, end);
            self.begin_candidate(other, block, None);
            return;
        }
        if let Some(e) = end.as_mut() {
            let gap_end = e.end + self.thresholds.min_gap;
            self.check_quiet(e, gap_end);
            let quiet = !e.loud && e.quiet_until >= gap_end;
            // A tone resuming before `gap_end` would have filled a whole block by now.
            let blocks_clear = self.seen >= gap_end + (HOP + BLOCK_LEN) as u64;
            if quiet || blocks_clear {
                self.finish(digit, start, e.end);
                self.state = State::Idle;
                return;
            }
        }
        self.state = State::On {
            digit,
            start,
            last_block,
            end,
        };
    }

    fn begin_candidate(&mut self, digit: usize, block: u64, start: Option<u64>) {
        self.state = State::Candidate {
            digit,
            first_block: block,
            last_block: block,
            start,
        };
        self.confirm_if_long_enough();
    }

    /// Turns a candidate that covers `min_tone` into a started digit.
    fn confirm_if_long_enough(&mut self) {
        if let State::Candidate {
            digit,
            first_block,
            last_block,
            start,
        } = self.state
        {
            if last_block - first_block + 1 >= self.thresholds.blocks_needed {
                let start = start.unwrap_or_else(|| self.locate_start(first_block));
                let start = self.refine_on_model(digit, start, Boundary::Start, false);
                self.events.push_back(DtmfEvent::Started {
                    digit: DIGITS[digit],
                    sample: start,
                });
                self.state = State::On {
                    digit,
                    start,
                    last_block,
                    end: None,
                };
            }
        }
    }

    /// Reports a digit that ended at `end`.
    fn finish(&mut self, digit: usize, start: u64, end: u64) {
        let end = end.max(start + 1);
        self.last_end = end;
        self.events.push_back(DtmfEvent::Ended(DetectedDigit {
            digit: DIGITS[digit],
            start_sample: start,
            end_sample: end,
        }));
    }

    /// The stored sample `n`: zero before the stream began, and after its end with `pad`;
    /// `None` if no longer kept or not pushed yet.
    fn sample(&self, n: i64, pad: bool) -> Option<i16> {
        if n < 0 {
            return Some(0);
        }
        let n = n as u64;
        if n >= self.seen {
            return pad.then_some(0);
        }
        if self.seen - n > RING as u64 {
            return None;
        }
        Some(self.ring[n as usize & (RING - 1)])
    }

    /// `x(n)²` for [`Envelope`].
    fn squares(&self, pad: bool) -> impl Fn(i64) -> Option<i64> + '_ {
        move |n| self.sample(n, pad).map(|x| x as i64 * x as i64)
    }

    /// Mean power of the samples `from..from + OUTSIDE_LEN` that have been pushed (0 if none).
    fn outside_power(&self, from: i64) -> f64 {
        let mut sum = 0f64;
        let mut count = 0u32;
        for n in from..from + OUTSIDE_LEN as i64 {
            if let Some(x) = self.sample(n, false) {
                sum += x as f64 * x as f64;
                count += 1;
            }
        }
        if count == 0 {
            0.0
        } else {
            sum / count as f64
        }
    }

    /// First sample of the tone whose first matching block is `block`, from the envelope: the
    /// envelope's crossing halfway between the tone and what precedes it. The block start if
    /// the envelope shows no rise.
    fn locate_start(&self, block: u64) -> u64 {
        let block_start = block * HOP as u64;
        let fallback = block_start.max(self.last_end);
        let square = self.squares(false);
        // The latest point whose envelope window is pushed: inside the tone, since a matching
        // block is mostly tone and the tone is still on.
        let anchor = (block_start + BLOCK_LEN as u64 + 16).min(self.seen.saturating_sub(32));
        let Some(at_anchor) = Envelope::at(anchor as i64, &square) else {
            return fallback;
        };
        let inside = at_anchor.power();
        let floor = anchor.saturating_sub(SEARCH).max(self.last_end) as i64;
        // The first sample whose envelope reaches `threshold`, walking back from the anchor.
        let walk = |threshold: f64| -> Option<u64> {
            let mut e = at_anchor;
            while e.n > floor {
                e.backward(&square)?;
                if e.power() < threshold {
                    return Some(e.n as u64 + 1);
                }
            }
            // At the stream start (or the previous digit's end) the rise may be cut off.
            (floor == 0 || floor as u64 == self.last_end).then_some(floor as u64)
        };
        let Some(first) = walk(inside / 2.0) else {
            return fallback;
        };
        let outside = self.outside_power(first as i64 - ENV_HALF - OUTSIDE_LEN as i64);
        if outside > inside / 4.0 {
            // No clear step (another digit or speech right before): keep the first estimate.
            return first;
        }
        walk((inside + outside) / 2.0).unwrap_or(fallback)
    }

    /// End of the tone whose last matching block is `last_block`: the envelope's crossing
    /// halfway between the tone and what follows, refined on the tone model. `None` while the
    /// samples after the end are not all pushed (unless `pad`: end of stream).
    fn locate_end(&self, digit: usize, last_block: u64, pad: bool) -> Option<EndEstimate> {
        let anchor = last_block * HOP as u64 + 16;
        let block_end = last_block * HOP as u64 + BLOCK_LEN as u64;
        if self.seen.saturating_sub(anchor) > RING as u64 / 2 {
            // Cannot happen while blocks keep coming; never wait for history that is gone.
            return Some(EndEstimate::new(block_end, 0.0, true));
        }
        let square = self.squares(pad);
        let at_anchor = Envelope::at(anchor as i64, &square)?;
        let inside = at_anchor.power();
        // The first sample whose envelope is below `threshold`, walking on from the anchor;
        // `Some(None)` if the envelope stays up over the whole search range.
        let walk = |threshold: f64| -> Option<Option<u64>> {
            let mut e = at_anchor;
            for _ in 0..SEARCH {
                if e.power() < threshold {
                    return Some(Some(e.n as u64));
                }
                e.forward(&square)?;
            }
            Some(None)
        };
        let Some(first) = walk(inside / 2.0)? else {
            // Something as loud goes on after the tone: the end is the last matching block's.
            return Some(EndEstimate::new(block_end, inside / 2.0, true));
        };
        let from = first + ENV_HALF as u64;
        if !pad && from + OUTSIDE_LEN > self.seen {
            return None;
        }
        let outside = self.outside_power(from as i64);
        if outside > inside / 4.0 {
            // No clear step (another digit or speech right after): keep the first estimate.
            let end = self.refine_on_model(digit, first, Boundary::End, pad);
            return Some(EndEstimate::new(end, inside / 2.0, false));
        }
        let threshold = (inside + outside) / 2.0;
        Some(match walk(threshold)? {
            Some(end) => {
                let end = self.refine_on_model(digit, end, Boundary::End, pad);
                EndEstimate::new(end, threshold, false)
            }
            None => EndEstimate::new(block_end, threshold, true),
        })
    }

    /// Moves a boundary found on the envelope to where the signal starts (stops) matching a
    /// model of the tone fitted on the block just after (before) it: the split of
    /// `estimate ± MODEL_REACH` that best explains the samples as silence then tone (tone then
    /// silence). Energy alone is ambiguous by up to ±5 samples, since the power of two summed
    /// sines beats at their difference frequency (268 Hz for `*`); the model is not.
    /// Returns `estimate` if the model does not fit the tone or no split inside the range is
    /// best.
    fn refine_on_model(&self, digit: usize, estimate: u64, boundary: Boundary, pad: bool) -> u64 {
        let Some(inverse) = &self.tables.model[digit] else {
            return estimate;
        };
        let origin = match boundary {
            Boundary::Start => estimate + MODEL_GUARD,
            Boundary::End => match estimate.checked_sub(MODEL_GUARD + BLOCK_LEN as u64) {
                Some(origin) => origin,
                None => return estimate,
            },
        } as i64;
        let mut window = [0f64; BLOCK_LEN];
        for (n, w) in (origin..).zip(window.iter_mut()) {
            match self.sample(n, pad) {
                Some(x) => *w = x as f64,
                None => return estimate,
            }
        }
        let hz = model_hz(digit);
        let coefficients = fit(&window, hz, inverse);
        let model = |from: i64| {
            let mut basis = SineBasis::new(hz, BLOCK_LEN, from - origin);
            move || {
                let b: [f64; MODEL_TERMS] = basis.next();
                b.iter().zip(&coefficients).map(|(b, c)| b * c).sum::<f64>()
            }
        };
        // The model must explain the tone (10 dB SNR) for its extension to mean anything.
        let (mut energy, mut residual) = (0f64, 0f64);
        let mut inside = model(origin);
        for &x in &window {
            energy += x * x;
            residual += (x - inside()).powi(2);
        }
        if residual > energy / 10.0 {
            return estimate;
        }
        let low = match boundary {
            Boundary::Start => estimate.saturating_sub(MODEL_REACH).max(self.last_end),
            Boundary::End => estimate.saturating_sub(MODEL_REACH),
        };
        let high = estimate + MODEL_REACH;
        // gain(t) = Σ_{low ≤ n < t} x² − (x − m)²: what explaining the samples before t as
        // tone saves. The start minimises it (silence before), the end maximises it.
        let (mut gain, mut best_gain, mut best) = (0f64, 0f64, low);
        let mut around = model(low as i64);
        for n in low..high {
            let Some(x) = self.sample(n as i64, pad) else {
                return estimate;
            };
            let (x, m) = (x as f64, around());
            gain += 2.0 * x * m - m * m;
            let better = match boundary {
                Boundary::Start => gain < best_gain,
                Boundary::End => gain > best_gain,
            };
            if better {
                best_gain = gain;
                best = n + 1;
            }
        }
        if best == low || best == high {
            estimate
        } else {
            best
        }
    }

    /// Advances the check that the envelope stays below the end threshold up to `gap_end`.
    fn check_quiet(&self, e: &mut EndEstimate, gap_end: u64) {
        let square = self.squares(false);
        while !e.loud && e.quiet_until < gap_end {
            let Some(mut at) = e
                .cursor
                .or_else(|| Envelope::at(e.quiet_until as i64, &square))
            else {
                return;
            };
            if at.power() >= e.threshold {
                e.loud = true;
                return;
            }
            e.quiet_until += 1;
            // `None` until the next sample is pushed: then rebuilt from scratch.
            e.cursor = at.forward(&square).map(|()| at);
        }
    }

    /// The digit (index in [`DIGITS`]) the block ending at `self.seen` holds, if any.
    fn classify(&self) -> Option<usize> {
        let mut block = [0f32; BLOCK_LEN];
        let first = self.seen - BLOCK_LEN as u64;
        for (i, x) in block.iter_mut().enumerate() {
            *x = self.ring[(first as usize + i) & (RING - 1)] as f32;
        }
        let mut s1 = [0f32; 8];
        let mut s2 = [0f32; 8];
        let mut energy = 0f32;
        for &x in &block {
            energy += x * x;
            for j in 0..8 {
                let s0 = x + self.coefficients[j] * s1[j] - s2[j];
                s2[j] = s1[j];
                s1[j] = s0;
            }
        }
        // Power of a sine of amplitude A: A²/2 = 2·|X|²/N².
        let scale = 2.0 / (BLOCK_LEN * BLOCK_LEN) as f64;
        let mut power = [0f64; 8];
        for j in 0..8 {
            let (a, b) = (s1[j] as f64, s2[j] as f64);
            power[j] = (a * a + b * b - self.coefficients[j] as f64 * a * b).max(0.0) * scale;
        }
        let t = &self.thresholds;
        let (rows, columns) = power.split_at(4);
        let row = strongest(rows);
        let column = strongest(columns);
        let (pr, pc) = (rows[row], columns[column]);
        if pr < t.min_power || pc < t.min_power {
            return None;
        }
        if pc > pr * t.normal_twist || pr > pc * t.reverse_twist {
            return None;
        }
        let dominates = |group: &[f64], best: usize| {
            group
                .iter()
                .enumerate()
                .all(|(i, &p)| i == best || p * t.relative_peak <= group[best])
        };
        if !dominates(rows, row) || !dominates(columns, column) {
            return None;
        }
        let total = energy as f64 / BLOCK_LEN as f64;
        if pr + pc < t.tone_to_total * total {
            return None;
        }
        // A joint fit, unlike separate Goertzel filters, keeps the row and column tones out of
        // the harmonic estimates (1882 Hz is 3 bins from 1633 Hz). A row harmonic within
        // 100 Hz of the column tone (697 × 2 = 1394 Hz vs 1336 Hz) cannot be told apart from
        // it in one block once Q.24's 1.5 % frequency tolerance is allowed for: not checked.
        let digit = row * 4 + column;
        let inverse = self.tables.block[digit].as_ref()?;
        let coefficients = fit(&block.map(f64::from), block_hz(digit), inverse);
        let [row_power, column_power, mut row_harmonic, column_harmonic] =
            [0, 1, 2, 3].map(|i| fitted_power(&coefficients, i));
        let [fr, fc, ..] = block_hz(digit);
        if (2.0 * fr - fc).abs() < 100.0 {
            row_harmonic = 0.0;
        }
        if row_harmonic > row_power * t.second_harmonic
            || column_harmonic > column_power * t.second_harmonic
        {
            return None;
        }
        Some(digit)
    }
}

/// Index of the largest value (the first if tied).
fn strongest(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Frequencies of the classification fit of `digit`: row, column, and their second harmonics.
fn block_hz(digit: usize) -> [f64; 4] {
    let (row, column) = (ROW_HZ[digit / 4], COLUMN_HZ[digit % 4]);
    [row, column, 2.0 * row, 2.0 * column]
}

/// Frequencies of the boundary model of `digit`: row and column.
fn model_hz(digit: usize) -> [f64; 2] {
    [ROW_HZ[digit / 4], COLUMN_HZ[digit % 4]]
}

/// Basis functions of a least-squares fit of sines over a window of `len` samples, sample by
/// sample: cos and sin of each frequency, then, for the first two frequencies (the row and
/// column tones), the same times `t` and `t²` (`t` = time from the window centre, in windows).
/// The shape terms absorb slow amplitude and phase changes: a tone off frequency by up to
/// Q.24's 1.5 %, or switched on or off within the window.
#[derive(Debug, Clone)]
struct SineBasis<const F: usize> {
    /// cos and sin of ω·n for each frequency, rotated sample by sample.
    phasor: [(f64, f64); F],
    step: [(f64, f64); F],
    n: f64,
    len: f64,
}

impl<const F: usize> SineBasis<F> {
    /// The basis for frequencies `hz` over a `len`-sample window, starting at sample `first`
    /// of the window (which may be outside it).
    fn new(hz: [f64; F], len: usize, first: i64) -> Self {
        let w = hz.map(|f| 2.0 * PI * f / SAMPLE_RATE_HZ as f64);
        SineBasis {
            phasor: w.map(|w| {
                let (sin, cos) = (w * first as f64).sin_cos();
                (cos, sin)
            }),
            step: w.map(|w| (w.cos(), w.sin())),
            n: first as f64,
            len: len as f64,
        }
    }

    /// The basis at the current sample, then advance one sample. `M` = 2·F + 8.
    fn next<const M: usize>(&mut self) -> [f64; M] {
        let mut b = [0f64; M];
        let t = (self.n - (self.len - 1.0) / 2.0) / self.len;
        for (i, (phasor, step)) in self.phasor.iter_mut().zip(&self.step).enumerate() {
            let (cos, sin) = *phasor;
            b[2 * i] = cos;
            b[2 * i + 1] = sin;
            if i < 2 {
                let at = 2 * F + 4 * i;
                b[at] = t * cos;
                b[at + 1] = t * sin;
                b[at + 2] = t * t * cos;
                b[at + 3] = t * t * sin;
            }
            *phasor = (cos * step.0 - sin * step.1, sin * step.0 + cos * step.1);
        }
        self.n += 1.0;
        b
    }
}

/// Inverse Gram matrices of the least-squares fits, per digit. They depend only on the
/// frequencies and the window length, so one set serves every detector.
#[derive(Debug)]
struct FitTables {
    /// Classification fit ([`block_hz`]).
    block: [Option<[[f64; BLOCK_TERMS]; BLOCK_TERMS]>; 16],
    /// Boundary model ([`model_hz`]).
    model: [Option<[[f64; MODEL_TERMS]; MODEL_TERMS]>; 16],
}

impl FitTables {
    fn get() -> &'static FitTables {
        static TABLES: OnceLock<FitTables> = OnceLock::new();
        TABLES.get_or_init(|| FitTables {
            block: std::array::from_fn(|digit| gram_inverse(block_hz(digit))),
            model: std::array::from_fn(|digit| gram_inverse(model_hz(digit))),
        })
    }
}

/// Inverse of the Gram matrix of the [`SineBasis`] of `hz` over one block; `None` if singular.
fn gram_inverse<const F: usize, const M: usize>(hz: [f64; F]) -> Option<[[f64; M]; M]> {
    let mut gram = [[0f64; M]; M];
    let mut basis = SineBasis::new(hz, BLOCK_LEN, 0);
    for _ in 0..BLOCK_LEN {
        let b: [f64; M] = basis.next();
        for (row, &br) in gram.iter_mut().zip(&b) {
            for (g, &bc) in row.iter_mut().zip(&b) {
                *g += br * bc;
            }
        }
    }
    let mut inverse = [[0f64; M]; M];
    for column in 0..M {
        let mut unit = [0f64; M];
        unit[column] = 1.0;
        let x = solve(gram, unit)?;
        for (row, v) in inverse.iter_mut().zip(x) {
            row[column] = v;
        }
    }
    Some(inverse)
}

/// Least-squares coefficients of the [`SineBasis`] of `hz` for one block `x`.
fn fit<const F: usize, const M: usize>(
    x: &[f64; BLOCK_LEN],
    hz: [f64; F],
    inverse: &[[f64; M]; M],
) -> [f64; M] {
    let mut projection = [0f64; M];
    let mut basis = SineBasis::new(hz, BLOCK_LEN, 0);
    for &x in x {
        let b: [f64; M] = basis.next();
        for (p, b) in projection.iter_mut().zip(b) {
            *p += b * x;
        }
    }
    inverse.map(|row| row.iter().zip(&projection).map(|(a, p)| a * p).sum())
}

/// Power at the window centre of frequency `i` of a [`fit`].
fn fitted_power<const M: usize>(coefficients: &[f64; M], i: usize) -> f64 {
    let (c, s) = (coefficients[2 * i], coefficients[2 * i + 1]);
    (c * c + s * s) / 2.0
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting; `None` if singular.
fn solve<const M: usize>(mut a: [[f64; M]; M], mut b: [f64; M]) -> Option<[f64; M]> {
    for col in 0..M {
        let pivot = (col..M).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..M {
            let factor = a[row][col] / pivot_row[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= factor * p;
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = [0f64; M];
    for row in (0..M).rev() {
        let mut sum = b[row];
        for k in row + 1..M {
            sum -= a[row][k] * x[k];
        }
        x[row] = sum / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_steps_match_the_direct_sum() {
        let x: Vec<i64> = (0..400).map(|i| (i * 7919 % 65536) - 32768).collect();
        let square = |n: i64| x.get(usize::try_from(n).ok()?).map(|v| v * v);
        let mut forward = Envelope::at(40, &square).unwrap();
        let mut backward = Envelope::at(360, &square).unwrap();
        for _ in 0..320 {
            forward.forward(&square).unwrap();
            backward.backward(&square).unwrap();
            for e in [forward, backward] {
                let direct = Envelope::at(e.n, &square).unwrap();
                assert_eq!(
                    (e.weighted, e.ahead, e.behind),
                    (direct.weighted, direct.ahead, direct.behind)
                );
            }
        }
        // A missing sample stops a step without moving.
        let mut at_end = Envelope::at(399 - 31, &square).unwrap();
        assert!(at_end.forward(&square).is_none());
        assert_eq!(at_end.n, 399 - 31);
    }

    #[test]
    fn fits_recover_the_tones_and_their_harmonics() {
        let tables = FitTables::get();
        for digit in 0..16 {
            let [fr, fc, hr, hc] = block_hz(digit);
            let mut x = [0f64; BLOCK_LEN];
            for (n, x) in x.iter_mut().enumerate() {
                let sine = |f: f64, a: f64, phase: f64| {
                    a * (2.0 * PI * f / SAMPLE_RATE_HZ as f64 * n as f64 + phase).sin()
                };
                *x = sine(fr, 1000.0, 0.3)
                    + sine(fc, 2000.0, 1.1)
                    + sine(hr, 100.0, 2.0)
                    + sine(hc, 50.0, 0.7);
            }
            let c = fit(&x, block_hz(digit), tables.block[digit].as_ref().unwrap());
            let amplitude = |i| (2.0 * fitted_power(&c, i)).sqrt();
            for (i, want) in [1000.0, 2000.0, 100.0, 50.0].into_iter().enumerate() {
                assert!((amplitude(i) - want).abs() < 1e-6 * want, "{digit} {i}");
            }
        }
    }
}
