//! Voice quality: the P.862 full-reference score and the E-model (ITU-T G.107).
//!
//! - [`p862`]: P.862 raw score and P.862.1 MOS-LQO (narrowband), P.862.2 MOS-LQO (wideband),
//!   for ACC-PESQ-GOOD, ACC-PESQ-POOR and ACC-PESQ-BAD; WAV loading and rate conversion.
//! - [`align`]: finds a prompt (the reference) inside a longer received recording and cuts the
//!   matching segment, so the score is of that segment.
//! - [`emodel`]: the G.107 R-factor and MOS-CQE from delay and loss (ACC-VOIP-DELAY,
//!   ACC-VOIP-LOSS), for calls where no reference audio is at hand.
//! - [`summary`]: per-condition statistics of the scores of many calls.

pub mod align;
pub mod emodel;
pub mod p862;
pub mod summary;

pub use align::{align, Alignment};
pub use emodel::{
    burst_ratio, burst_ratio_of_pattern, mos_from_r, r_factor, CodecImpairment, EModelInput,
    G107Parameters, Rating,
};
pub use p862::{
    read_wav, read_wav_at, score, score_nb, score_received, score_wb, Band, Pcm, PesqScore,
    PreparedReference, ReceivedScore,
};
pub use summary::{summarize, summarize_groups, ConditionSummary};

use std::path::PathBuf;

/// Why a voice-quality score could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// A signal is shorter than the scorer's minimum (P.862: 250 ms).
    #[error("{which} signal has {samples} samples; at least {minimum} are needed (250 ms)")]
    TooShort {
        /// "reference" or "degraded".
        which: &'static str,
        /// Samples given.
        samples: usize,
        /// Samples needed at the given rate.
        minimum: usize,
    },
    /// The reference holds no speech (no 20 ms frame above the activity floor).
    #[error("reference signal is silent: nothing to score against")]
    SilentReference,
    /// The degraded signal holds no speech: the call carried no audio.
    #[error("degraded signal is silent: the call carried no audio")]
    SilentDegraded,
    /// The two signals differ in length by more than a factor of two: not a pair of the same
    /// prompt. A received recording must be cut to the prompt first ([`align`]).
    #[error(
        "reference has {reference} samples and degraded {degraded}: more than a factor of two \
         apart; align a received recording to the prompt first"
    )]
    LengthMismatch {
        /// Reference samples.
        reference: usize,
        /// Degraded samples.
        degraded: usize,
    },
    /// The sample rate is not one the scorer (or the conversion) supports.
    #[error("sample rate {rate} Hz is not supported here; expected {expected}")]
    UnsupportedRate {
        /// The rate given.
        rate: u32,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The P.862 voice activity detection found no utterance to score.
    #[error("no utterance found in the signals (P.862 voice activity detection)")]
    NoUtterances,
    /// The reference prompt was not found in the received recording.
    #[error("the reference prompt was not found in the received recording")]
    ReferenceNotFound,
    /// The scorer stopped on this input with an internal error (a bug in the scorer).
    #[error("the P.862 scorer failed on this input (internal error); please report it")]
    ScorerFailed,
    /// A WAV file has more than one channel; which one carries the call is not guessed.
    #[error("{path}: {channels} channels; a mono file is needed")]
    NotMono {
        /// The file.
        path: PathBuf,
        /// Its channel count.
        channels: u16,
    },
    /// A WAV file's sample format is not integer PCM of 8 to 32 bits or 32-bit float.
    #[error("{path}: unsupported sample format ({bits}-bit {format})")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// Bits per sample.
        bits: u16,
        /// "integer" or "float".
        format: &'static str,
    },
    /// A WAV file could not be read.
    #[error("{path}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// What hound reported.
        source: hound::Error,
    },
    /// An E-model or summary input is out of its domain (negative delay, loss above 100 %, NaN).
    #[error("{name} = {value} is out of range ({range})")]
    OutOfRange {
        /// The input's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The accepted range.
        range: &'static str,
    },
}
