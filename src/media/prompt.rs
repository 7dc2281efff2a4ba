//! Prompt detection: sample-precise segmentation of received audio and identification of
//! which reference prompt played.
//!
//! [`PromptSegmenter`] cuts the received stream into prompts. A 5 ms sliding window measures the
//! level against a threshold (−35 dBov by default, as [`super::voice`]); the first crossing
//! opens a candidate whose onset is refined backwards to the sample: the first sample at or
//! above a quarter of the threshold amplitude after the last 2 ms quiet gap, looked for in the
//! 100 ms before the crossing. The candidate becomes a prompt once it has been loud for
//! `min_voice` (clicks and short bursts do not count). The end is the last sample at or above
//! the quarter amplitude before the first 2 ms quiet run that follows the last loud window; it
//! is reported once `min_silence` has passed after it with no loud window, so the pauses
//! between the words of a sentence do not end a prompt.
//!
//! [`PromptLibrary`] tells which reference prompt a stretch of audio is. Both are turned into a
//! fingerprint: per 10 ms frame (25 ms Hann window, 256-point FFT), the log energies of 18
//! mel-spaced triangular bands between 200 and 3400 Hz. The audio is compared with each
//! reference by normalised cross-correlation of the two matrices over their overlap, each band
//! centred on its mean over the overlap (so level, a fixed spectral tilt and the
//! G.711 coding drop out), at every lag within ±100 ms (so onset errors are absorbed). The best
//! correlation, clamped to [0, 1], is the confidence.

use super::audio::{AudioError, AudioSource, SAMPLE_RATE};
use super::voice::{dbov_to_rms, DEFAULT_THRESHOLD_DBOV};
use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Samples in the level window (5 ms at 8 kHz).
const WINDOW: usize = 40;

/// Samples before a crossing searched for the start of the activity (100 ms at 8 kHz).
const HISTORY: usize = 800;

/// Quiet samples that separate speech from what comes before or after (2 ms at 8 kHz).
const QUIET_GAP: u64 = 16;

/// Longest dip below the threshold a candidate survives before it is confirmed (20 ms).
const MAX_DIP: u64 = 160;

/// Hop between fingerprint frames (10 ms at 8 kHz).
const HOP: usize = 80;

/// Samples analysed per fingerprint frame (25 ms at 8 kHz).
const FRAME_LEN: usize = 200;

/// FFT size (the frame zero-padded).
const FFT_LEN: usize = 256;

/// Bands per fingerprint frame.
const BANDS: usize = 18;

/// Lowest and highest band edge, Hz (the telephone band).
const BAND_EDGES_HZ: (f64, f64) = (200.0, 3400.0);

/// Largest alignment error searched, in frames (±100 ms).
const MAX_LAG: isize = 10;

/// Fewest overlapping frames a comparison is made on (250 ms).
const MIN_OVERLAP: usize = 25;

/// Shortest voiced reference accepted (300 ms).
pub const MIN_REFERENCE: Duration = Duration::from_millis(300);

/// Energy floor of the fingerprint relative to the mean band energy (−40 dB), so that pauses
/// and lost packets compress to a common level instead of to the noise of the channel.
const RELATIVE_FLOOR: f64 = 1e-4;

/// Absolute energy floor (about −100 dBov per band) for audio that is all silence.
const ABSOLUTE_FLOOR: f64 = 1e-10;

/// Settings of the [`PromptSegmenter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmenterConfig {
    /// Speech threshold, dBov (default −35, as [`super::voice::VoiceOnsetConfig`]).
    pub threshold_dbov: f64,
    /// Silence that ends a prompt (default 700 ms; pauses between words are shorter).
    pub min_silence: Duration,
    /// Loud time a prompt needs; a shorter blip is not a prompt (default 60 ms).
    pub min_voice: Duration,
    /// Audio kept per segment for identification (default 30 s).
    pub max_segment: Duration,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        Self {
            threshold_dbov: DEFAULT_THRESHOLD_DBOV,
            min_silence: Duration::from_millis(700),
            min_voice: Duration::from_millis(60),
            max_segment: Duration::from_secs(30),
        }
    }
}

/// What the [`PromptSegmenter`] found, in stream sample positions (counted from the first
/// sample pushed; 8 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentEvent {
    /// A prompt started at this sample (its first voiced sample).
    Onset {
        /// First voiced sample.
        sample: u64,
    },
    /// A prompt ended: `min_silence` of silence followed it.
    End {
        /// First voiced sample.
        onset: u64,
        /// Last voiced sample + 1 (exclusive).
        end: u64,
    },
}

/// Where the segmenter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the level to cross the threshold.
    Idle,
    /// The level crossed; waiting for `min_voice` of loud audio.
    Candidate {
        /// First voiced sample.
        onset: u64,
        /// Loud samples since the crossing.
        loud: u64,
        /// Consecutive samples below the threshold.
        dip: u64,
    },
    /// In a prompt.
    Voice {
        /// First voiced sample.
        onset: u64,
    },
}

/// Cuts a stream of received 8 kHz audio into prompts, to the sample.
///
/// Sans-IO: [`push`](Self::push) samples in stream order (with silence inserted for lost
/// packets), then [`poll`](Self::poll) the events.
#[derive(Debug, Clone)]
pub struct PromptSegmenter {
    config: SegmenterConfig,
    /// Threshold on the sum of squares over the window.
    threshold_energy: u64,
    /// Amplitude a sample needs to count as voiced at an onset or end.
    edge_amplitude: i32,
    min_silence: u64,
    min_voice: u64,
    max_segment: usize,
    squares: [u32; WINDOW],
    square_pos: usize,
    energy: u64,
    history: Box<[i16; HISTORY]>,
    /// Where the next sample goes in `history` (its index modulo `HISTORY`).
    history_pos: usize,
    /// Index of the next sample.
    next_index: u64,
    /// No onset is looked for before this sample (the last end or reset).
    floor: u64,
    /// Consecutive samples below the edge amplitude.
    quiet_run: u64,
    /// Last sample at or above the edge amplitude, + 1.
    last_active: u64,
    /// End of the voice so far (last voiced sample + 1).
    tail_end: u64,
    /// Whether voiced samples still extend the end (no 2 ms quiet run since the last loud window).
    tail_open: bool,
    state: State,
    events: VecDeque<SegmentEvent>,
    /// Audio of the current or last confirmed segment.
    audio: Vec<i16>,
    /// Audio of the candidate.
    pending: Vec<i16>,
}

impl Default for PromptSegmenter {
    fn default() -> Self {
        Self::new(SegmenterConfig::default())
    }
}

impl PromptSegmenter {
    /// A segmenter with these settings (durations of at least one sample).
    pub fn new(config: SegmenterConfig) -> Self {
        let amplitude = if config.threshold_dbov.is_finite() {
            dbov_to_rms(config.threshold_dbov).min(32767.0)
        } else {
            dbov_to_rms(DEFAULT_THRESHOLD_DBOV)
        };
        Self {
            config,
            threshold_energy: (amplitude * amplitude * WINDOW as f64).ceil().max(1.0) as u64,
            edge_amplitude: (amplitude / 4.0).ceil().max(1.0) as i32,
            min_silence: duration_to_samples(config.min_silence).max(1),
            min_voice: duration_to_samples(config.min_voice).max(1),
            max_segment: usize::try_from(duration_to_samples(config.max_segment))
                .unwrap_or(usize::MAX),
            squares: [0; WINDOW],
            square_pos: 0,
            energy: 0,
            history: Box::new([0; HISTORY]),
            history_pos: 0,
            next_index: 0,
            floor: 0,
            quiet_run: QUIET_GAP,
            last_active: 0,
            tail_end: 0,
            tail_open: false,
            state: State::Idle,
            events: VecDeque::with_capacity(4),
            audio: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &SegmenterConfig {
        &self.config
    }

    /// Feeds the next samples of the stream.
    pub fn push(&mut self, samples: &[i16]) {
        for &sample in samples {
            self.push_sample(sample);
        }
    }

    /// The next event, oldest first.
    pub fn poll(&mut self) -> Option<SegmentEvent> {
        self.events.pop_front()
    }

    /// Audio of the prompt in progress, or of the one that just ended (exactly its voiced
    /// samples), from its onset and at most `max_segment` long; empty before the first onset.
    pub fn current_audio(&self) -> &[i16] {
        &self.audio
    }

    /// True between an onset and its end.
    pub fn in_voice(&self) -> bool {
        matches!(self.state, State::Voice { .. })
    }

    /// Samples pushed so far (the stream position of the next sample).
    pub fn samples_seen(&self) -> u64 {
        self.next_index
    }

    /// Forgets the prompt in progress and any unpolled event, and looks for the next prompt
    /// from the next sample on (e.g. after sending a DTMF digit). Stream positions keep
    /// counting; audio already playing is found as a prompt starting at the next sample.
    pub fn reset(&mut self) {
        self.squares = [0; WINDOW];
        self.square_pos = 0;
        self.energy = 0;
        self.floor = self.next_index;
        self.quiet_run = QUIET_GAP;
        self.last_active = self.next_index;
        self.tail_end = self.next_index;
        self.tail_open = false;
        self.state = State::Idle;
        self.events.clear();
        self.audio.clear();
        self.pending.clear();
    }

    /// The open segment at the end of a recording, if confirmed: (onset, end).
    fn flush(&self) -> Option<(u64, u64)> {
        match self.state {
            State::Voice { onset } => Some((onset, self.tail_end.max(onset + 1))),
            _ => None,
        }
    }

    fn push_sample(&mut self, sample: i16) {
        let index = self.next_index;
        self.next_index += 1;
        let square = (sample as i32 * sample as i32) as u32;
        self.energy = self.energy + square as u64 - self.squares[self.square_pos] as u64;
        self.squares[self.square_pos] = square;
        self.square_pos += 1;
        if self.square_pos == WINDOW {
            self.square_pos = 0;
        }
        self.history[self.history_pos] = sample;
        self.history_pos += 1;
        if self.history_pos == HISTORY {
            self.history_pos = 0;
        }
        let loud = self.energy >= self.threshold_energy;

        // Sample-precise end: voiced samples extend the voice until a 2 ms quiet run.
        if (sample as i32).abs() >= self.edge_amplitude {
            self.quiet_run = 0;
            self.last_active = index + 1;
        } else {
            self.quiet_run = self.quiet_run.saturating_add(1);
        }
        if loud {
            self.tail_end = self.last_active;
            self.tail_open = true;
        } else if self.tail_open {
            if self.quiet_run == 0 {
                self.tail_end = index + 1;
            } else if self.quiet_run >= QUIET_GAP {
                self.tail_open = false;
            }
        }

        match self.state {
            State::Idle => {
                if loud {
                    let onset = self.start_of_activity(index);
                    self.pending.clear();
                    for i in onset..=index {
                        if self.pending.len() < self.max_segment {
                            self.pending
                                .push(self.history[(i % HISTORY as u64) as usize]);
                        }
                    }
                    self.state = State::Candidate {
                        onset,
                        loud: 1,
                        dip: 0,
                    };
                    self.confirm_if_long_enough();
                }
            }
            State::Candidate {
                onset,
                loud: mut loud_count,
                mut dip,
            } => {
                if self.pending.len() < self.max_segment {
                    self.pending.push(sample);
                }
                if loud {
                    loud_count += 1;
                    dip = 0;
                } else {
                    dip += 1;
                }
                if dip > MAX_DIP {
                    self.state = State::Idle;
                    self.pending.clear();
                } else {
                    self.state = State::Candidate {
                        onset,
                        loud: loud_count,
                        dip,
                    };
                    self.confirm_if_long_enough();
                }
            }
            State::Voice { onset } => {
                if self.audio.len() < self.max_segment {
                    self.audio.push(sample);
                }
                if !loud && !self.tail_open && index + 1 - self.tail_end >= self.min_silence {
                    let end = self.tail_end.max(onset + 1);
                    let kept = usize::try_from(end - onset).unwrap_or(usize::MAX);
                    self.audio.truncate(kept);
                    self.events.push_back(SegmentEvent::End { onset, end });
                    self.floor = end;
                    self.state = State::Idle;
                }
            }
        }
    }

    /// Turns a candidate loud for `min_voice` into a prompt.
    fn confirm_if_long_enough(&mut self) {
        if let State::Candidate { onset, loud, .. } = self.state {
            if loud >= self.min_voice {
                std::mem::swap(&mut self.audio, &mut self.pending);
                self.pending.clear();
                self.state = State::Voice { onset };
                self.events.push_back(SegmentEvent::Onset { sample: onset });
            }
        }
    }

    /// The first sample at or above the edge amplitude after the last quiet gap, up to `index`.
    fn start_of_activity(&self, index: u64) -> u64 {
        let first = (index + 1).saturating_sub(HISTORY as u64).max(self.floor);
        super::voice::start_of_activity(
            &self.history[..],
            first,
            index,
            self.edge_amplitude,
            QUIET_GAP as usize,
        )
    }
}

/// Samples in `duration` at 8 kHz, rounded down.
fn duration_to_samples(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos() * SAMPLE_RATE as u128 / 1_000_000_000).unwrap_or(u64::MAX)
}

/// Offline segmentation of a whole recording: (onset, end) of every prompt, end exclusive.
///
/// A prompt still going at the end of the recording counts, ending at its last voiced sample.
pub fn segments_of(samples: &[i16], config: SegmenterConfig) -> Vec<(u64, u64)> {
    let mut segmenter = PromptSegmenter::new(config);
    // Never keep audio: only positions are wanted.
    segmenter.max_segment = 0;
    segmenter.push(samples);
    let mut segments = Vec::new();
    while let Some(event) = segmenter.poll() {
        if let SegmentEvent::End { onset, end } = event {
            segments.push((onset, end));
        }
    }
    segments.extend(segmenter.flush());
    segments
}

/// Why a reference prompt cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The reference has no speech above the threshold (or no samples at all).
    #[error("reference prompt '{name}' has no speech")]
    Empty {
        /// The reference.
        name: String,
    },
    /// The reference's speech is too short to be told apart from others.
    #[error("reference prompt '{name}' has {voiced:?} of speech; at least {min:?} is needed")]
    TooShort {
        /// The reference.
        name: String,
        /// Its speech, from first to last voiced sample.
        voiced: Duration,
        /// The least accepted ([`MIN_REFERENCE`]).
        min: Duration,
    },
    /// A reference file could not be read (it names the file and the reason).
    #[error("cannot load reference prompt: {0}")]
    Audio(#[from] AudioError),
    /// The directory of references could not be listed.
    #[error("{}: cannot list reference prompts: {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What the OS reported.
        source: std::io::Error,
    },
}

/// A reference prompt: its speech (leading and trailing silence trimmed) and fingerprint.
#[derive(Debug, Clone)]
pub struct PromptReference {
    /// Name reported when it is identified (the file stem for [`PromptLibrary::load_dir`]).
    pub name: String,
    samples: Vec<i16>,
    fingerprint: Fingerprint,
}

impl PromptReference {
    /// A reference from 8 kHz audio holding the prompt; silence around it is trimmed.
    pub fn new(name: impl Into<String>, samples: &[i16]) -> Result<Self, PromptError> {
        let name = name.into();
        let segments = segments_of(samples, SegmenterConfig::default());
        let (Some(&(onset, _)), Some(&(_, end))) = (segments.first(), segments.last()) else {
            return Err(PromptError::Empty { name });
        };
        let (onset, end) = (onset as usize, (end as usize).min(samples.len()));
        let voiced = samples.get(onset..end).unwrap_or_default();
        let voiced_time = super::audio::samples_to_duration(voiced.len() as u64);
        if voiced_time < MIN_REFERENCE {
            return Err(PromptError::TooShort {
                name,
                voiced: voiced_time,
                min: MIN_REFERENCE,
            });
        }
        Ok(Self {
            name,
            samples: voiced.to_vec(),
            fingerprint: Fingerprint::of(voiced),
        })
    }

    /// The speech of the reference, from its first to its last voiced sample.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Length of the speech.
    pub fn duration(&self) -> Duration {
        super::audio::samples_to_duration(self.samples.len() as u64)
    }
}

/// The best match of audio against a [`PromptLibrary`].
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMatch {
    /// The reference that matched best.
    pub name: String,
    /// How well it matched, 0..=1 (the normalised correlation of the fingerprints).
    pub confidence: f64,
    /// The second best reference and its confidence.
    pub runner_up: Option<(String, f64)>,
    /// Where the reference starts in the audio at the best alignment, ms (negative when the
    /// audio starts after the reference's first voiced sample).
    pub offset_ms: f64,
}

impl fmt::Display for PromptMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' (confidence {:.2})", self.name, self.confidence)
    }
}

/// The reference prompts a call may hear.
#[derive(Debug, Clone, Default)]
pub struct PromptLibrary {
    references: Vec<PromptReference>,
}

impl PromptLibrary {
    /// An empty library.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every `*.wav` file in `dir` as a reference named by its file stem.
    pub fn load_dir(dir: &Path) -> Result<Self, PromptError> {
        let listing_error = |source| PromptError::Directory {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(listing_error)? {
            let path = entry.map_err(listing_error)?.path();
            let is_wav = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("wav"));
            if is_wav && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut library = Self::new();
        for path in paths {
            let audio = AudioSource::from_wav(&path)?;
            let name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            library.add(PromptReference::new(name, audio.samples())?);
        }
        Ok(library)
    }

    /// Adds a reference, replacing one of the same name.
    pub fn add(&mut self, reference: PromptReference) {
        match self
            .references
            .iter_mut()
            .find(|r| r.name == reference.name)
        {
            Some(existing) => *existing = reference,
            None => self.references.push(reference),
        }
    }

    /// The reference of this name.
    pub fn get(&self, name: &str) -> Option<&PromptReference> {
        self.references.iter().find(|r| r.name == name)
    }

    /// Names of the references, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.references.iter().map(|r| r.name.as_str())
    }

    /// Number of references.
    pub fn len(&self) -> usize {
        self.references.len()
    }

    /// True when there are no references.
    pub fn is_empty(&self) -> bool {
        self.references.is_empty()
    }

    /// Which reference `audio` is, starting at (about) its onset; `audio` may be a prefix of
    /// the prompt (0.5 s or more) or run on past it. `None` for an empty library or audio
    /// shorter than 250 ms.
    pub fn identify(&self, audio: &[i16]) -> Option<PromptMatch> {
        let fingerprint = self.fingerprint_of(audio)?;
        let mut scores: Vec<(&str, f64, isize)> = self
            .references
            .iter()
            .filter_map(|r| {
                let (score, lag) = fingerprint.best_alignment(&r.fingerprint)?;
                Some((r.name.as_str(), score, lag))
            })
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let &(name, confidence, lag) = scores.first()?;
        Some(PromptMatch {
            name: name.to_owned(),
            confidence,
            runner_up: scores.get(1).map(|&(n, c, _)| (n.to_owned(), c)),
            offset_ms: lag as f64 * HOP as f64 * 1000.0 / SAMPLE_RATE as f64,
        })
    }

    /// The fingerprint of the start of `audio` that can overlap the longest reference at any
    /// lag (the same for [`identify`](Self::identify) and [`score`](Self::score)).
    fn fingerprint_of(&self, audio: &[i16]) -> Option<Fingerprint> {
        let longest = self.references.iter().map(|r| r.samples.len()).max()?;
        let len = longest + MAX_LAG as usize * HOP + FRAME_LEN;
        Some(Fingerprint::of(&audio[..audio.len().min(len)]))
    }

    /// How well `audio` matches the reference `name`, 0..=1; `None` for an unknown name or
    /// audio shorter than 250 ms.
    pub fn score(&self, name: &str, audio: &[i16]) -> Option<f64> {
        let reference = self.get(name)?;
        self.fingerprint_of(audio)?
            .best_alignment(&reference.fingerprint)
            .map(|(score, _)| score)
    }
}

/// Log mel-band energies per 10 ms frame, each band centred on its mean over the whole audio
/// (which the correlation does not see, and which keeps its sums small).
#[derive(Debug, Clone, Default)]
struct Fingerprint {
    frames: Vec<[f32; BANDS]>,
    /// Running sums per band of the values and their squares: entry `i` sums frames `..i`.
    sums: Vec<[f64; BANDS]>,
    squares: Vec<[f64; BANDS]>,
}

impl Fingerprint {
    /// The fingerprint of 8 kHz audio.
    fn of(samples: &[i16]) -> Self {
        let analyzer = Analyzer::get();
        let frames = if samples.len() >= FRAME_LEN {
            (samples.len() - FRAME_LEN) / HOP + 1
        } else {
            0
        };
        let mut energies = vec![[0f64; BANDS]; frames];
        let mut re = [0f32; FFT_LEN];
        let mut im = [0f32; FFT_LEN];
        let mut power = [[0f32; FFT_LEN / 2 + 1]; 2];
        // Two real frames per complex FFT: one as the real part, one as the imaginary part.
        for pair in (0..frames).step_by(2) {
            re.fill(0.0);
            im.fill(0.0);
            let count = (frames - pair).min(2);
            for (lane, part) in [&mut re, &mut im].into_iter().enumerate().take(count) {
                let start = (pair + lane) * HOP;
                let frame = &samples[start..start + FRAME_LEN];
                for ((out, &s), &w) in part.iter_mut().zip(frame).zip(&analyzer.window) {
                    *out = s as f32 / 32768.0 * w;
                }
            }
            analyzer.fft(&mut re, &mut im);
            for k in 0..=FFT_LEN / 2 {
                let m = (FFT_LEN - k) % FFT_LEN;
                let (p, q, r, s) = (re[k], im[k], re[m], im[m]);
                power[0][k] = ((p + r) * (p + r) + (q - s) * (q - s)) * 0.25;
                power[1][k] = ((p - r) * (p - r) + (q + s) * (q + s)) * 0.25;
            }
            for (lane, spectrum) in power.iter().enumerate().take(count) {
                let row = &mut energies[pair + lane];
                for (energy, filter) in row.iter_mut().zip(&analyzer.filters) {
                    *energy = filter
                        .weights
                        .iter()
                        .zip(&spectrum[filter.first_bin..])
                        .map(|(&w, &p)| (w * p) as f64)
                        .sum();
                }
            }
        }
        let total: f64 = energies.iter().flatten().sum();
        let mean = total / (frames * BANDS).max(1) as f64;
        let floor = (mean * RELATIVE_FLOOR).max(ABSOLUTE_FLOOR);
        let mut logs: Vec<[f64; BANDS]> = energies
            .iter()
            .map(|row| row.map(|e| (e + floor).ln()))
            .collect();
        let mut band_means = [0f64; BANDS];
        for row in &logs {
            for (m, &x) in band_means.iter_mut().zip(row) {
                *m += x / frames as f64;
            }
        }
        for row in &mut logs {
            for (x, &m) in row.iter_mut().zip(&band_means) {
                *x -= m;
            }
        }
        let frames: Vec<[f32; BANDS]> = logs.iter().map(|row| row.map(|x| x as f32)).collect();
        let mut sums = Vec::with_capacity(frames.len() + 1);
        let mut squares = Vec::with_capacity(frames.len() + 1);
        let (mut sum, mut square) = ([0f64; BANDS], [0f64; BANDS]);
        sums.push(sum);
        squares.push(square);
        for row in &frames {
            for b in 0..BANDS {
                let x = row[b] as f64;
                sum[b] += x;
                square[b] += x * x;
            }
            sums.push(sum);
            squares.push(square);
        }
        Self {
            frames,
            sums,
            squares,
        }
    }

    /// Sum per band of the values (or of their squares) over frames `from..to`.
    fn band_sums(running: &[[f64; BANDS]], from: usize, to: usize) -> [f64; BANDS] {
        let mut out = running[to];
        for (o, &f) in out.iter_mut().zip(&running[from]) {
            *o -= f;
        }
        out
    }

    /// The best correlation (clamped to 0..=1) of `self` (audio) with `reference` over lags
    /// within ±[`MAX_LAG`] frames, and its lag (reference frame `j` is audio frame `j + lag`).
    fn best_alignment(&self, reference: &Fingerprint) -> Option<(f64, isize)> {
        let mut best: Option<(f64, isize)> = None;
        for lag in -MAX_LAG..=MAX_LAG {
            let Some(score) = self.correlation(reference, lag) else {
                continue;
            };
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, lag));
            }
        }
        best.map(|(score, lag)| (score.clamp(0.0, 1.0), lag))
    }

    /// Normalised cross-correlation over the overlap at `lag`, each band centred on its mean
    /// over the overlap; `None` when the overlap is shorter than [`MIN_OVERLAP`].
    fn correlation(&self, reference: &Fingerprint, lag: isize) -> Option<f64> {
        let first = (-lag).max(0) as usize;
        let last = reference
            .frames
            .len()
            .min((self.frames.len() as isize - lag).max(0) as usize);
        if last < first + MIN_OVERLAP {
            return None;
        }
        let n = (last - first) as f64;
        let audio_first = (first as isize + lag) as usize;
        let audio_last = audio_first + (last - first);
        let mut sum_ar = [0f64; BANDS];
        for (fa, fr) in self.frames[audio_first..audio_last]
            .iter()
            .zip(&reference.frames[first..last])
        {
            for b in 0..BANDS {
                sum_ar[b] += (fa[b] * fr[b]) as f64;
            }
        }
        let sum_a = Self::band_sums(&self.sums, audio_first, audio_last);
        let sum_aa = Self::band_sums(&self.squares, audio_first, audio_last);
        let sum_r = Self::band_sums(&reference.sums, first, last);
        let sum_rr = Self::band_sums(&reference.squares, first, last);
        let (mut cov, mut var_a, mut var_r) = (0.0, 0.0, 0.0);
        for b in 0..BANDS {
            cov += sum_ar[b] - sum_a[b] * sum_r[b] / n;
            var_a += sum_aa[b] - sum_a[b] * sum_a[b] / n;
            var_r += sum_rr[b] - sum_r[b] * sum_r[b] / n;
        }
        let denominator = (var_a * var_r).sqrt();
        if !denominator.is_finite() || denominator <= f64::EPSILON {
            return Some(0.0);
        }
        Some(cov / denominator)
    }
}

/// One triangular band of the filter bank.
#[derive(Debug)]
struct BandFilter {
    first_bin: usize,
    weights: Vec<f32>,
}

/// Precomputed tables of the fingerprint: window, FFT twiddles, filter bank.
#[derive(Debug)]
struct Analyzer {
    window: [f32; FRAME_LEN],
    /// `exp(-2πik/N)` for `k < N/2`.
    twiddles: Vec<(f32, f32)>,
    bit_reverse: Vec<usize>,
    filters: Vec<BandFilter>,
}

impl Analyzer {
    fn get() -> &'static Analyzer {
        static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
        ANALYZER.get_or_init(Analyzer::new)
    }

    fn new() -> Self {
        use std::f64::consts::PI;
        let mut window = [0f32; FRAME_LEN];
        for (i, w) in window.iter_mut().enumerate() {
            *w = (0.5 - 0.5 * (2.0 * PI * i as f64 / (FRAME_LEN - 1) as f64).cos()) as f32;
        }
        let twiddles = (0..FFT_LEN / 2)
            .map(|k| {
                let angle = -2.0 * PI * k as f64 / FFT_LEN as f64;
                (angle.cos() as f32, angle.sin() as f32)
            })
            .collect();
        let bits = FFT_LEN.trailing_zeros();
        let bit_reverse = (0..FFT_LEN)
            .map(|i| i.reverse_bits() >> (usize::BITS - bits))
            .collect();
        let mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
        let hz = |mel: f64| 700.0 * (10f64.powf(mel / 2595.0) - 1.0);
        let (low, high) = (mel(BAND_EDGES_HZ.0), mel(BAND_EDGES_HZ.1));
        let edges: Vec<f64> = (0..BANDS + 2)
            .map(|i| hz(low + (high - low) * i as f64 / (BANDS + 1) as f64))
            .collect();
        let bin_hz = SAMPLE_RATE as f64 / FFT_LEN as f64;
        let filters = edges
            .windows(3)
            .map(|e| {
                let (left, centre, right) = (e[0], e[1], e[2]);
                let first_bin = (left / bin_hz).ceil() as usize;
                let last_bin = ((right / bin_hz).floor() as usize).min(FFT_LEN / 2);
                let weights = (first_bin..=last_bin)
                    .map(|k| {
                        let f = k as f64 * bin_hz;
                        let w = if f <= centre {
                            (f - left) / (centre - left)
                        } else {
                            (right - f) / (right - centre)
                        };
                        w.max(0.0) as f32
                    })
                    .collect();
                BandFilter { first_bin, weights }
            })
            .collect();
        Self {
            window,
            twiddles,
            bit_reverse,
            filters,
        }
    }

    /// In-place radix-2 decimation-in-time FFT of `FFT_LEN` complex points.
    fn fft(&self, re: &mut [f32; FFT_LEN], im: &mut [f32; FFT_LEN]) {
        for (i, &j) in self.bit_reverse.iter().enumerate() {
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut size = 2;
        while size <= FFT_LEN {
            let half = size / 2;
            let stride = FFT_LEN / size;
            for start in (0..FFT_LEN).step_by(size) {
                for k in 0..half {
                    let (wr, wi) = self.twiddles[k * stride];
                    let (i, j) = (start + k, start + k + half);
                    let tr = re[j] * wr - im[j] * wi;
                    let ti = re[j] * wi + im[j] * wr;
                    re[j] = re[i] - tr;
                    im[j] = im[i] - ti;
                    re[i] += tr;
                    im[i] += ti;
                }
            }
            size *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcert_codecs::g711;

    const PROMPTS: [(&str, &str); 3] = [
        (
            "welcome",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/prompts/welcome.wav"),
        ),
        (
            "caller",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/prompts/caller.wav"),
        ),
        (
            "menu",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/prompts/menu.wav"),
        ),
    ];

    /// Digital silence before the first voiced sample of every prompt file.
    const LEAD_IN: u64 = 800;

    fn load(path: &str) -> Vec<i16> {
        AudioSource::from_wav(path)
            .expect("prompt")
            .samples()
            .to_vec()
    }

    /// Index of the last non-zero sample + 1 (the files end in digital silence).
    fn voiced_end(samples: &[i16]) -> u64 {
        samples
            .iter()
            .rposition(|&s| s != 0)
            .map_or(0, |i| i as u64 + 1)
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Channel {
        Linear,
        Ulaw,
        Alaw,
    }

    fn through(channel: Channel, samples: &[i16]) -> Vec<i16> {
        let mut codes = vec![0u8; samples.len()];
        let mut out = vec![0i16; samples.len()];
        match channel {
            Channel::Linear => return samples.to_vec(),
            Channel::Ulaw => {
                g711::encode_ulaw(samples, &mut codes);
                g711::decode_ulaw(&codes, &mut out);
            }
            Channel::Alaw => {
                g711::encode_alaw(samples, &mut codes);
                g711::decode_alaw(&codes, &mut out);
            }
        }
        out
    }

    /// Small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn add_noise(samples: &mut [i16], peak: f64, rng: &mut Rng) {
        for s in samples {
            let noise = (rng.unit() * 2.0 - 1.0) * peak;
            *s = (*s as f64 + noise).round().clamp(-32768.0, 32767.0) as i16;
        }
    }

    fn gain(samples: &[i16], db: f64) -> Vec<i16> {
        let factor = 10f64.powf(db / 20.0);
        samples
            .iter()
            .map(|&s| (s as f64 * factor).round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    /// Zeroes each 20 ms frame with probability `rate` (a lost packet played as silence).
    fn lose_frames(samples: &mut [i16], rate: f64, rng: &mut Rng) -> usize {
        let mut lost = 0;
        for frame in samples.chunks_mut(160) {
            if rng.unit() < rate {
                frame.fill(0);
                lost += 1;
            }
        }
        lost
    }

    fn events_of(
        segmenter: &mut PromptSegmenter,
        stream: &[i16],
        chunk: usize,
    ) -> Vec<SegmentEvent> {
        let mut events = Vec::new();
        for block in stream.chunks(chunk.max(1)) {
            segmenter.push(block);
            while let Some(event) = segmenter.poll() {
                events.push(event);
            }
        }
        events
    }

    fn library() -> PromptLibrary {
        let mut library = PromptLibrary::new();
        for (name, path) in PROMPTS {
            library.add(PromptReference::new(name, &load(path)).expect("reference"));
        }
        library
    }

    #[test]
    fn onset_and_end_are_sample_precise() {
        let mut rng = Rng(0x5EED);
        let (mut worst_onset, mut worst_end) = (0i64, 0i64);
        for (name, path) in PROMPTS {
            let prompt = load(path);
            let last = voiced_end(&prompt);
            for offset in [0usize, 160, 1234, 4001, 16_003] {
                for channel in [Channel::Linear, Channel::Ulaw, Channel::Alaw] {
                    for noisy in [false, true] {
                        let mut stream = vec![0i16; offset];
                        stream.extend_from_slice(&prompt);
                        stream.extend(std::iter::repeat_n(0, 8000));
                        if noisy {
                            add_noise(&mut stream, 24.0, &mut rng);
                        }
                        let stream = through(channel, &stream);
                        let mut segmenter = PromptSegmenter::default();
                        let events = events_of(&mut segmenter, &stream, 160);
                        let what = format!("{name} at {offset} via {channel:?} noisy {noisy}");
                        let [SegmentEvent::Onset { sample }, SegmentEvent::End { onset, end }] =
                            events[..]
                        else {
                            panic!("{what}: events {events:?}");
                        };
                        assert_eq!(sample, onset, "{what}");
                        let onset_error = onset as i64 - (offset as u64 + LEAD_IN) as i64;
                        let end_error = end as i64 - (offset as u64 + last) as i64;
                        assert!(onset_error.abs() <= 2, "{what}: onset off by {onset_error}");
                        assert!(end_error.abs() <= 24, "{what}: end off by {end_error}");
                        worst_onset = worst_onset.max(onset_error.abs());
                        worst_end = worst_end.max(end_error.abs());
                        assert!(!segmenter.in_voice());
                        assert_eq!(
                            segmenter.current_audio().len() as u64,
                            end - onset,
                            "{what}"
                        );
                        assert_eq!(segmenter.samples_seen(), stream.len() as u64);
                    }
                }
            }
        }
        println!("worst onset error {worst_onset} samples, worst end error {worst_end} samples");
    }

    #[test]
    fn block_size_does_not_change_the_events() {
        let prompt = load(PROMPTS[1].1);
        let mut stream = vec![0i16; 2345];
        stream.extend_from_slice(&prompt);
        stream.extend(std::iter::repeat_n(0, 7000));
        let whole = events_of(&mut PromptSegmenter::default(), &stream, stream.len());
        assert_eq!(whole.len(), 2);
        for chunk in [1usize, 7, 80, 160, 999] {
            let events = events_of(&mut PromptSegmenter::default(), &stream, chunk);
            assert_eq!(events, whole, "chunk {chunk}");
        }
    }

    #[test]
    fn current_audio_is_the_prompt() {
        let prompt = load(PROMPTS[0].1);
        let last = voiced_end(&prompt) as usize;
        let mut segmenter = PromptSegmenter::default();
        assert!(segmenter.current_audio().is_empty());
        segmenter.push(&prompt[..8000]);
        assert_eq!(
            segmenter.poll(),
            Some(SegmentEvent::Onset { sample: LEAD_IN })
        );
        assert!(segmenter.in_voice());
        assert_eq!(segmenter.current_audio(), &prompt[LEAD_IN as usize..8000]);
        segmenter.push(&prompt[8000..]);
        segmenter.push(&[0; 8000]);
        assert_eq!(
            segmenter.poll(),
            Some(SegmentEvent::End {
                onset: LEAD_IN,
                end: last as u64
            })
        );
        assert_eq!(segmenter.current_audio(), &prompt[LEAD_IN as usize..last]);

        // Bounded by max_segment.
        let mut short = PromptSegmenter::new(SegmenterConfig {
            max_segment: Duration::from_secs(1),
            ..SegmenterConfig::default()
        });
        short.push(&prompt);
        assert_eq!(short.current_audio().len(), 8000);
        assert_eq!(short.current_audio(), &prompt[800..8800]);
    }

    #[test]
    fn welcome_pause_menu_is_two_segments() {
        let welcome = load(PROMPTS[0].1);
        let menu = load(PROMPTS[2].1);
        let mut stream = welcome.clone();
        stream.extend(std::iter::repeat_n(0, 9600));
        let menu_start = stream.len() as u64;
        stream.extend_from_slice(&menu);
        stream.extend(std::iter::repeat_n(0, 8000));
        for channel in [Channel::Linear, Channel::Ulaw, Channel::Alaw] {
            let stream = through(channel, &stream);
            let segments = segments_of(&stream, SegmenterConfig::default());
            println!("{channel:?}: {segments:?}");
            assert_eq!(segments.len(), 2, "{channel:?}: {segments:?}");
            assert!(segments[0].0.abs_diff(LEAD_IN) <= 2);
            assert!(segments[0].1.abs_diff(voiced_end(&welcome)) <= 24);
            assert!(segments[1].0.abs_diff(menu_start + LEAD_IN) <= 2);
            assert!(segments[1].1.abs_diff(menu_start + voiced_end(&menu)) <= 24);
        }
        // Each prompt alone is one segment: the pauses between its words do not split it.
        for (name, path) in PROMPTS {
            let prompt = load(path);
            assert_eq!(
                segments_of(&prompt, SegmenterConfig::default()),
                vec![(LEAD_IN, voiced_end(&prompt))],
                "{name}"
            );
        }
        // A recording cut mid-prompt still yields the open segment.
        let cut = segments_of(&welcome[..12_000], SegmenterConfig::default());
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].0, LEAD_IN);
    }

    #[test]
    fn clicks_and_blips_are_not_prompts() {
        let mut stream = vec![0i16; 24_000];
        // A 2 ms full-scale click and a 30 ms loud burst.
        stream[1000..1016].fill(30_000);
        for (i, s) in stream[8000..8240].iter_mut().enumerate() {
            *s = if i % 2 == 0 { 8000 } else { -8000 };
        }
        assert!(segments_of(&stream, SegmenterConfig::default()).is_empty());
        let mut segmenter = PromptSegmenter::default();
        segmenter.push(&stream);
        assert_eq!(segmenter.poll(), None);
        assert!(segmenter.current_audio().is_empty());
        // Empty input everywhere.
        segmenter.push(&[]);
        assert_eq!(segmenter.poll(), None);
        assert!(segments_of(&[], SegmenterConfig::default()).is_empty());
    }

    #[test]
    fn reset_looks_for_the_next_prompt() {
        let caller = load(PROMPTS[1].1);
        let mut segmenter = PromptSegmenter::default();
        segmenter.push(&caller[..4000]);
        assert_eq!(
            segmenter.poll(),
            Some(SegmentEvent::Onset { sample: LEAD_IN })
        );
        // Our digit: the IVR stops talking; forget the interrupted prompt.
        segmenter.reset();
        assert!(!segmenter.in_voice());
        assert!(segmenter.current_audio().is_empty());
        segmenter.push(&[0; 3000]);
        segmenter.push(&caller);
        segmenter.push(&[0; 8000]);
        let start = 4000 + 3000;
        assert_eq!(
            segmenter.poll(),
            Some(SegmentEvent::Onset {
                sample: start + LEAD_IN
            })
        );
        assert_eq!(
            segmenter.poll(),
            Some(SegmentEvent::End {
                onset: start + LEAD_IN,
                end: start + voiced_end(&caller)
            })
        );
        assert_eq!(
            segmenter.samples_seen(),
            4000 + 3000 + caller.len() as u64 + 8000
        );
    }

    fn assert_identified(
        library: &PromptLibrary,
        expected: &str,
        audio: &[i16],
        what: &str,
    ) -> f64 {
        let found = library.identify(audio).expect("a match");
        let (runner, runner_score) = found.runner_up.clone().expect("runner-up");
        println!(
            "{what}: {expected} -> {found}, runner-up {runner} {runner_score:.3}, offset {} ms",
            found.offset_ms
        );
        assert_eq!(found.name, expected, "{what}: heard {found}");
        assert!(found.confidence > 0.8, "{what}: {found}");
        assert!(
            found.confidence - runner_score > 0.25,
            "{what}: margin {:.3}",
            found.confidence - runner_score
        );
        let score = library.score(expected, audio).expect("score");
        assert!((score - found.confidence).abs() < 1e-12);
        found.confidence - runner_score
    }

    #[test]
    fn prompts_are_identified_through_g711() {
        let library = library();
        let mut worst = (f64::INFINITY, f64::INFINITY);
        for (name, path) in PROMPTS {
            let prompt = load(path);
            let start = LEAD_IN as usize;
            for channel in [Channel::Ulaw, Channel::Alaw] {
                let coded = through(channel, &prompt);
                // (a) The whole prompt from its onset.
                let margin = assert_identified(&library, name, &coded[start..], "full");
                worst.1 = worst.1.min(margin);
                // (b) A 1.0 s prefix, starting up to 25 ms early or late (off the 10 ms grid).
                for begin in [start - 123, start - 40, start, start + 37, start + 200] {
                    let prefix = &coded[begin..begin + 8000];
                    assert_identified(&library, name, prefix, "1 s prefix");
                    let found = library.identify(prefix).expect("match");
                    worst.0 = worst.0.min(found.confidence);
                    // The alignment found is the true one to the 10 ms frame.
                    let true_offset_ms = (start as f64 - begin as f64) / 8.0;
                    assert!(
                        (found.offset_ms - true_offset_ms).abs() <= 10.0,
                        "{found:?}"
                    );
                }
                // The prompt followed by more speech.
                let mut longer = coded[start..].to_vec();
                longer.extend_from_slice(&through(
                    channel,
                    &load(PROMPTS[(name == "welcome") as usize + 1].1),
                ));
                assert_identified(&library, name, &longer, "prompt then more speech");
            }
        }
        println!(
            "lowest 1 s prefix confidence {:.3}, lowest full-prompt margin {:.3}",
            worst.0, worst.1
        );
    }

    #[test]
    fn prompts_are_identified_through_loss_gain_and_noise() {
        let library = library();
        let mut rng = Rng(42);
        for (name, path) in PROMPTS {
            let prompt = load(path);
            for channel in [Channel::Ulaw, Channel::Alaw] {
                for (loss, db) in [(0.02, -8.0), (0.03, 10.0), (0.01, -10.0)] {
                    let mut audio = gain(&prompt, db);
                    add_noise(&mut audio, 30.0, &mut rng);
                    let mut coded = through(channel, &audio);
                    let lost = lose_frames(&mut coded[800..], loss, &mut rng);
                    let what = format!("{channel:?} {db} dB {lost} frames lost");
                    assert_identified(&library, name, &coded[800..], &what);
                    assert_identified(&library, name, &coded[800..800 + 16_000], &what);
                }
            }
        }
    }

    #[test]
    fn audio_that_is_no_reference_has_low_confidence() {
        let library = library();
        let mut rng = Rng(7);
        // A tone sweep from 300 to 3000 Hz over 3 s.
        let mut phase = 0f64;
        let sweep: Vec<i16> = (0..24_000)
            .map(|i| {
                let f = 300.0 + 2700.0 * i as f64 / 24_000.0;
                phase += 2.0 * std::f64::consts::PI * f / 8000.0;
                (phase.sin() * 8000.0) as i16
            })
            .collect();
        // White noise at about −20 dBov, and noise bursts that come and go like syllables.
        let mut noise = vec![0i16; 24_000];
        add_noise(&mut noise, 5700.0, &mut rng);
        let mut bursts = noise.clone();
        for (i, frame) in bursts.chunks_mut(1600).enumerate() {
            if i % 2 == 1 {
                frame.fill(0);
            }
        }
        // Speech that is none of them: the caller prompt backwards.
        let mut reversed = load(PROMPTS[1].1);
        reversed.reverse();
        for (what, audio) in [
            ("sweep", sweep),
            ("noise", noise),
            ("bursts", bursts),
            ("reversed speech", reversed[200..].to_vec()),
        ] {
            let found = library
                .identify(&through(Channel::Ulaw, &audio))
                .expect("match");
            println!("{what}: {found}");
            assert!(found.confidence < 0.5, "{what}: {found}");
        }
    }

    #[test]
    fn different_prompts_of_the_same_length_are_told_apart() {
        // Three TTS prompts cut to the length of the shortest (caller.wav, about 2.7 s of speech):
        // the fingerprint, not the duration, tells them apart.
        let caller = PromptReference::new("caller", &load(PROMPTS[1].1)).expect("caller");
        let len = caller.samples().len();
        let mut library = PromptLibrary::new();
        library.add(caller);
        for (name, path) in [PROMPTS[0], PROMPTS[2]] {
            let prompt = load(path);
            let cut = &prompt[LEAD_IN as usize..LEAD_IN as usize + len];
            library.add(PromptReference::new(name, cut).expect("cut reference"));
        }
        for name in ["caller", "welcome", "menu"] {
            let reference = library.get(name).expect("reference").samples().to_vec();
            let coded = through(Channel::Alaw, &gain(&reference, -6.0));
            assert_identified(&library, name, &coded, "same length");
            assert_identified(&library, name, &coded[..6000], "same length, 0.75 s prefix");
        }
    }

    #[test]
    fn references_and_libraries() {
        assert!(matches!(
            PromptReference::new("nothing", &[]),
            Err(PromptError::Empty { name }) if name == "nothing"
        ));
        assert!(matches!(
            PromptReference::new("silence", &[0; 8000]),
            Err(PromptError::Empty { .. })
        ));
        let caller = load(PROMPTS[1].1);
        let err = PromptReference::new("blip", &caller[..800 + 1600]).unwrap_err();
        assert!(
            matches!(err, PromptError::TooShort { ref name, .. } if name == "blip"),
            "{err}"
        );
        println!("{err}");

        let reference = PromptReference::new("caller", &caller).expect("reference");
        assert_eq!(
            reference.samples(),
            &caller[800..voiced_end(&caller) as usize]
        );

        let empty = PromptLibrary::new();
        assert!(empty.is_empty());
        assert_eq!(empty.identify(&caller), None);
        let library = library();
        assert_eq!(library.identify(&[]), None);
        assert_eq!(library.identify(&caller[800..1600]), None);
        assert_eq!(library.score("nobody", &caller), None);
        assert_eq!(library.score("caller", &[]), None);

        let dir = PromptLibrary::load_dir(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/prompts"
        )))
        .expect("load_dir");
        assert_eq!(
            dir.names().collect::<Vec<_>>(),
            ["caller", "menu", "welcome"]
        );
        assert_eq!(
            dir.get("menu").map(|r| r.samples().len()),
            library.get("menu").map(|r| r.samples().len())
        );

        let missing = PromptLibrary::load_dir(Path::new("/nonexistent/prompts")).unwrap_err();
        assert!(
            matches!(missing, PromptError::Directory { .. }),
            "{missing}"
        );
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("broken.wav"), b"not a wav").expect("write");
        let broken = PromptLibrary::load_dir(tmp.path()).unwrap_err();
        assert!(matches!(broken, PromptError::Audio(_)), "{broken}");
        assert!(broken.to_string().contains("broken.wav"), "{broken}");
        println!("{missing}\n{broken}");
    }

    #[test]
    fn learned_segments_become_references() {
        // Learn mode: a clean call's prompts, segmented and saved, identify a later call.
        let mut call = Vec::new();
        let mut starts = Vec::new();
        for (_, path) in PROMPTS {
            starts.push(call.len() as u64);
            call.extend_from_slice(&load(path));
            call.extend(std::iter::repeat_n(0, 8000));
        }
        let segments = segments_of(&through(Channel::Ulaw, &call), SegmenterConfig::default());
        assert_eq!(segments.len(), 3);
        let mut learned = PromptLibrary::new();
        for ((name, _), &(onset, end)) in PROMPTS.iter().zip(&segments) {
            learned.add(
                PromptReference::new(*name, &call[onset as usize..end as usize]).expect("learned"),
            );
        }
        for (name, path) in PROMPTS {
            let coded = through(Channel::Alaw, &load(path));
            assert_identified(&learned, name, &coded[800..], "learned");
        }
    }
}
