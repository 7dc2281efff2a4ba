//! ITU-T P.862 full-reference speech quality: raw score, P.862.1 MOS-LQO and P.862.2 MOS-LQO.
//!
//! The model itself is the `pesq` crate (a pure-Rust implementation of P.862 and P.862.2 that
//! passes the P.862 Annex A conformance set); this module is the part callcert owns around it:
//! input checks that give errors instead of meaningless scores (a silent reference scores 4.5 in
//! the crate), rate conversion of WAV files, and scoring a prompt found inside a longer received
//! recording ([`score_received`]). `tests/quality.rs` checks the scores against the ITU-T
//! reference implementation on a G.711 corpus with loss and jitter.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::align::{align, Alignment};
use super::QualityError;

/// The narrowband model rate (P.862 scores 8 kHz telephone speech).
pub const NARROWBAND_RATE: u32 = 8_000;
/// The wideband model rate (P.862.2).
pub const WIDEBAND_RATE: u32 = 16_000;

/// A 20 ms frame whose RMS reaches this (about −60 dBov) counts as active: below it in every
/// frame, a signal is silent.
const ACTIVITY_FLOOR_RMS: f64 = 32.0;

/// The bandwidth of the listening model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// P.862 with the P.862.1 mapping: telephone band at 8 kHz.
    Narrow,
    /// P.862.2: 50–7000 Hz speech at 16 kHz.
    Wide,
}

/// One P.862 score of a degraded signal against its reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PesqScore {
    /// The model the score comes from.
    pub band: Band,
    /// P.862 raw score, about −0.5 to 4.5 (narrowband only: P.862.2 reports only MOS-LQO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<f64>,
    /// MOS-LQO: P.862.1 mapping of the raw score (narrowband) or P.862.2 (wideband); 1.0–4.6.
    /// This is the value the ACC-PESQ-* thresholds compare against.
    pub mos_lqo: f64,
}

/// Mono 16-bit PCM at a known rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm {
    /// The samples.
    pub samples: Vec<i16>,
    /// Samples per second.
    pub rate: u32,
}

/// A score of the prompt found inside a received recording.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReceivedScore {
    /// Where the prompt was found.
    pub alignment: Alignment,
    /// The score of the matching segment.
    pub score: PesqScore,
}

/// Narrowband P.862 score (raw and P.862.1 MOS-LQO) of `degraded` against `reference`.
///
/// `rate` must be 8000. The ITU-T reference also scores narrowband at 16 kHz with filters of
/// its own; the crate's 16 kHz narrowband path decimates instead and differs from it by up to
/// 0.3 MOS on lossy speech, so it is not offered: convert with [`Pcm::to_rate`] and score the
/// 8 kHz signals (`tests/quality.rs` checks those against the reference).
pub fn score_nb(reference: &[i16], degraded: &[i16], rate: u32) -> Result<PesqScore, QualityError> {
    score(reference, degraded, rate, Band::Narrow)
}

/// Wideband P.862.2 MOS-LQO of `degraded` against `reference`; `rate` must be 16000.
pub fn score_wb(reference: &[i16], degraded: &[i16], rate: u32) -> Result<PesqScore, QualityError> {
    score(reference, degraded, rate, Band::Wide)
}

/// P.862 score of `degraded` against `reference` (same rate, roughly time-aligned: the model
/// itself finds delays and delay changes of up to about a second).
pub fn score(
    reference: &[i16],
    degraded: &[i16],
    rate: u32,
    band: Band,
) -> Result<PesqScore, QualityError> {
    check_rate(rate, band)?;
    check_reference(reference, rate)?;
    check_degraded(reference.len(), degraded, rate)?;
    guarded(band, rate, || match band {
        Band::Narrow => ::pesq::pesq_8k(reference, degraded),
        Band::Wide => ::pesq::pesq_wb(reference, degraded),
    })
}

/// Finds `reference` inside the longer `received` recording and scores the matching segment.
///
/// The segment has the reference's length, starting at the found offset (zeros where it runs
/// past either end of the recording).
pub fn score_received(
    reference: &[i16],
    received: &[i16],
    rate: u32,
    band: Band,
) -> Result<ReceivedScore, QualityError> {
    let alignment = align(reference, received, rate).ok_or(QualityError::ReferenceNotFound)?;
    let segment = alignment.segment(received, reference.len());
    let score = score(reference, &segment, rate, band)?;
    Ok(ReceivedScore { alignment, score })
}

/// A narrowband reference prepared once and scored against many calls: the reference's own
/// half of the P.862 preprocessing is done at construction, which saves about a quarter of
/// each score. Scores are identical to [`score_nb`].
pub struct PreparedReference {
    samples: Vec<i16>,
    context: ::pesq::PesqContext,
}

impl std::fmt::Debug for PreparedReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedReference")
            .field("samples", &self.samples.len())
            .finish_non_exhaustive()
    }
}

impl PreparedReference {
    /// Prepares an 8 kHz narrowband reference.
    pub fn narrowband(reference: &[i16], rate: u32) -> Result<Self, QualityError> {
        check_rate(rate, Band::Narrow)?;
        check_reference(reference, rate)?;
        let context = std::panic::catch_unwind(|| ::pesq::PesqContext::new_8k(reference))
            .map_err(|_| QualityError::ScorerFailed)?
            .map_err(|error| scorer_error(error, rate))?;
        Ok(Self {
            samples: reference.to_vec(),
            context,
        })
    }

    /// The reference samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The P.862 score of `degraded` against this reference.
    pub fn score(&self, degraded: &[i16]) -> Result<PesqScore, QualityError> {
        check_degraded(self.samples.len(), degraded, NARROWBAND_RATE)?;
        let context = std::panic::AssertUnwindSafe(&self.context);
        guarded(Band::Narrow, NARROWBAND_RATE, move || {
            context.score(degraded)
        })
    }

    /// Finds this reference inside `received` and scores the matching segment (see
    /// [`score_received`]).
    pub fn score_received(&self, received: &[i16]) -> Result<ReceivedScore, QualityError> {
        let alignment = align(&self.samples, received, NARROWBAND_RATE)
            .ok_or(QualityError::ReferenceNotFound)?;
        let segment = alignment.segment(received, self.samples.len());
        let score = self.score(&segment)?;
        Ok(ReceivedScore { alignment, score })
    }
}

/// The rates each model runs at.
fn check_rate(rate: u32, band: Band) -> Result<(), QualityError> {
    match (band, rate) {
        (Band::Narrow, NARROWBAND_RATE) | (Band::Wide, WIDEBAND_RATE) => Ok(()),
        (Band::Narrow, _) => Err(QualityError::UnsupportedRate {
            rate,
            expected: "8000 Hz for narrowband P.862 (convert with Pcm::to_rate)",
        }),
        (Band::Wide, _) => Err(QualityError::UnsupportedRate {
            rate,
            expected: "16000 Hz for wideband P.862.2",
        }),
    }
}

/// P.862 §8.1: at least a quarter of a second of each signal.
fn minimum_len(rate: u32) -> usize {
    rate as usize / 4
}

fn check_reference(reference: &[i16], rate: u32) -> Result<(), QualityError> {
    if reference.len() < minimum_len(rate) {
        return Err(QualityError::TooShort {
            which: "reference",
            samples: reference.len(),
            minimum: minimum_len(rate),
        });
    }
    if is_silent(reference, rate) {
        return Err(QualityError::SilentReference);
    }
    Ok(())
}

fn check_degraded(reference_len: usize, degraded: &[i16], rate: u32) -> Result<(), QualityError> {
    if degraded.len() < minimum_len(rate) {
        return Err(QualityError::TooShort {
            which: "degraded",
            samples: degraded.len(),
            minimum: minimum_len(rate),
        });
    }
    if reference_len > 2 * degraded.len() || degraded.len() > 2 * reference_len {
        return Err(QualityError::LengthMismatch {
            reference: reference_len,
            degraded: degraded.len(),
        });
    }
    if is_silent(degraded, rate) {
        return Err(QualityError::SilentDegraded);
    }
    Ok(())
}

fn scorer_error(error: ::pesq::PesqError, rate: u32) -> QualityError {
    match error {
        ::pesq::PesqError::SignalTooShort { samples } => QualityError::TooShort {
            which: "reference or degraded",
            samples,
            minimum: minimum_len(rate),
        },
        ::pesq::PesqError::NoUtterancesFound => QualityError::NoUtterances,
    }
}

/// Runs the crate's model and maps its result: the raw score (narrowband) or the P.862.2
/// MOS-LQO (wideband). The crate indexes its buffers directly; no input found so far makes it
/// panic, but a panic in a third-party model must become an error for this one pair, not end a
/// whole run.
fn guarded(
    band: Band,
    rate: u32,
    model: impl FnOnce() -> Result<f32, ::pesq::PesqError> + std::panic::UnwindSafe,
) -> Result<PesqScore, QualityError> {
    let value = std::panic::catch_unwind(model)
        .map_err(|_| QualityError::ScorerFailed)?
        .map(f64::from)
        .map_err(|error| scorer_error(error, rate))?;
    if !value.is_finite() {
        return Err(QualityError::ScorerFailed);
    }
    Ok(match band {
        Band::Narrow => PesqScore {
            band,
            raw: Some(value),
            mos_lqo: f64::from(::pesq::score::mos_lqo(value)),
        },
        Band::Wide => PesqScore {
            band,
            raw: None,
            mos_lqo: value,
        },
    })
}

/// True when no 20 ms frame of `signal` reaches the activity floor.
fn is_silent(signal: &[i16], rate: u32) -> bool {
    let frame = (rate as usize / 50).max(1);
    !signal.chunks(frame).any(|chunk| {
        let energy: f64 = chunk.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        energy / chunk.len() as f64 >= ACTIVITY_FLOOR_RMS * ACTIVITY_FLOOR_RMS
    })
}

/// Reads a mono WAV file (integer PCM of 8 to 32 bits, or 32-bit float) as 16-bit PCM.
pub fn read_wav(path: &Path) -> Result<Pcm, QualityError> {
    let wav_error = |source| QualityError::Wav {
        path: path.to_path_buf(),
        source,
    };
    let reader = hound::WavReader::open(path).map_err(wav_error)?;
    let spec = reader.spec();
    if spec.channels != 1 {
        return Err(QualityError::NotMono {
            path: path.to_path_buf(),
            channels: spec.channels,
        });
    }
    let samples = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => reader
            .into_samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(wav_error)?,
        (hound::SampleFormat::Int, bits @ 8..=32) => {
            // Keep the top 16 bits (8-bit files are widened).
            let shift = i32::from(bits) - 16;
            reader
                .into_samples::<i32>()
                .map(|s| {
                    s.map(|s| {
                        let v = if shift >= 0 { s >> shift } else { s << -shift };
                        v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(wav_error)?
        }
        (hound::SampleFormat::Float, 32) => reader
            .into_samples::<f32>()
            .map(|s| s.map(|s| (f64::from(s) * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16))
            .collect::<Result<Vec<_>, _>>()
            .map_err(wav_error)?,
        (format, bits) => {
            return Err(QualityError::UnsupportedFormat {
                path: path.to_path_buf(),
                bits,
                format: match format {
                    hound::SampleFormat::Int => "integer",
                    hound::SampleFormat::Float => "float",
                },
            })
        }
    };
    Ok(Pcm {
        samples,
        rate: spec.sample_rate,
    })
}

/// Reads a mono WAV file and converts it to `rate` (see [`Pcm::to_rate`]).
pub fn read_wav_at(path: &Path, rate: u32) -> Result<Pcm, QualityError> {
    read_wav(path)?.to_rate(rate)
}

impl Pcm {
    /// This signal at `rate`: unchanged when the rate is already that, decimated with a
    /// low-pass filter when the file's rate is a whole multiple of it (16, 24, 32, 48 kHz to
    /// 8 kHz; 32, 48 kHz to 16 kHz). Other conversions are an error: upsampling cannot restore
    /// a band that was never recorded, and fractional rates (44.1 kHz) are better converted with
    /// a dedicated tool (`sox in.wav -r 8000 out.wav`).
    pub fn to_rate(&self, rate: u32) -> Result<Pcm, QualityError> {
        if rate == self.rate {
            return Ok(self.clone());
        }
        if rate == 0 || self.rate < rate || !self.rate.is_multiple_of(rate) {
            return Err(QualityError::UnsupportedRate {
                rate: self.rate,
                expected: "the target rate or a whole multiple of it",
            });
        }
        Ok(Pcm {
            samples: decimate(&self.samples, (self.rate / rate) as usize),
            rate,
        })
    }
}

/// Taps per unit of decimation factor on each side of the low-pass filter's centre.
const DECIMATION_TAPS_PER_FACTOR: usize = 16;

/// Keeps every `factor`-th sample after a Blackman-windowed sinc low-pass at 0.45 of the output
/// rate (90 % of the output band; about −74 dB stop band).
fn decimate(samples: &[i16], factor: usize) -> Vec<i16> {
    let half = DECIMATION_TAPS_PER_FACTOR * factor;
    let len = 2 * half + 1;
    let cutoff = 0.45 / factor as f64; // cycles per input sample
    let mut taps: Vec<f64> = (0..len)
        .map(|n| {
            let t = n as f64 - half as f64;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
            };
            let phase = 2.0 * std::f64::consts::PI * n as f64 / (len - 1) as f64;
            sinc * (0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos())
        })
        .collect();
    let gain: f64 = taps.iter().sum();
    taps.iter_mut().for_each(|t| *t /= gain);
    // The taps are symmetric, so output k is their dot product with the input around k·factor;
    // zeros stand in past either end.
    let mut padded = vec![0.0_f64; half];
    padded.extend(samples.iter().map(|&s| f64::from(s)));
    padded.resize(padded.len() + half, 0.0);
    (0..samples.len().div_ceil(factor))
        .map(|k| {
            let window = &padded[k * factor..k * factor + len];
            let acc: f64 = window.iter().zip(&taps).map(|(x, t)| x * t).sum();
            acc.round().clamp(-32_768.0, 32_767.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noise bursts (a stand-in for speech that the P.862 VAD accepts), `seconds` long at 8 kHz.
    fn bursts(rate: u32, seconds: usize, seed: u32) -> Vec<i16> {
        let mut state = seed;
        let len = rate as usize * seconds;
        let period = rate as usize * 3 / 4;
        (0..len)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                if i % period < period * 2 / 3 {
                    ((state >> 16) as i16) / 8
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn identical_signals_score_at_the_top_of_the_scale() {
        let reference = bursts(8_000, 4, 1);
        let score = score_nb(&reference, &reference, 8_000).unwrap();
        assert!(score.raw.unwrap() > 4.4, "{score:?}");
        assert!(score.mos_lqo > 4.5, "{score:?}");
        let wide = bursts(16_000, 4, 1);
        let score = score_wb(&wide, &wide, 16_000).unwrap();
        assert!(score.raw.is_none());
        assert!(score.mos_lqo > 4.5, "{score:?}");
    }

    #[test]
    fn a_prepared_reference_scores_like_score_nb() {
        let reference = bursts(8_000, 4, 1);
        let prepared = PreparedReference::narrowband(&reference, 8_000).unwrap();
        assert_eq!(prepared.samples(), &reference[..]);
        let mut degraded = reference.clone();
        degraded.iter_mut().step_by(3).for_each(|s| *s /= 2);
        assert_eq!(
            prepared.score(&degraded).unwrap(),
            score_nb(&reference, &degraded, 8_000).unwrap()
        );
        // Longer than the reference: the crate recomputes, still the same score.
        degraded.extend_from_slice(&reference[..4_000]);
        assert_eq!(
            prepared.score(&degraded).unwrap(),
            score_nb(&reference, &degraded, 8_000).unwrap()
        );
        assert!(matches!(
            prepared.score(&vec![0; reference.len()]),
            Err(QualityError::SilentDegraded)
        ));
        assert!(matches!(
            PreparedReference::narrowband(&vec![0; 8_000], 8_000),
            Err(QualityError::SilentReference)
        ));
        assert!(matches!(
            PreparedReference::narrowband(&reference, 16_000),
            Err(QualityError::UnsupportedRate { .. })
        ));
    }

    #[test]
    fn a_prepared_reference_can_be_shared_between_calls() {
        fn shareable<T: Send + Sync>() {}
        shareable::<PreparedReference>();
    }

    #[test]
    fn unrelated_noise_scores_low() {
        let score = score_nb(&bursts(8_000, 4, 1), &bursts(8_000, 4, 2), 8_000).unwrap();
        assert!(score.mos_lqo < 2.5, "{score:?}");
    }

    #[test]
    fn short_silent_mismatched_and_wrong_rate_inputs_are_errors() {
        let reference = bursts(8_000, 4, 1);
        assert!(matches!(
            score_nb(&reference[..1_999], &reference, 8_000),
            Err(QualityError::TooShort {
                which: "reference",
                samples: 1_999,
                minimum: 2_000
            })
        ));
        assert!(matches!(
            score_nb(&reference, &[], 8_000),
            Err(QualityError::TooShort {
                which: "degraded",
                ..
            })
        ));
        let silence = vec![0_i16; reference.len()];
        assert!(matches!(
            score_nb(&silence, &reference, 8_000),
            Err(QualityError::SilentReference)
        ));
        assert!(matches!(
            score_nb(&reference, &silence, 8_000),
            Err(QualityError::SilentDegraded)
        ));
        // Low-level hiss below the activity floor is silence too.
        let hiss: Vec<i16> = bursts(8_000, 4, 3).iter().map(|s| s / 256).collect();
        assert!(matches!(
            score_nb(&reference, &hiss, 8_000),
            Err(QualityError::SilentDegraded)
        ));
        assert!(matches!(
            score_nb(&reference, &reference[..reference.len() / 3], 8_000),
            Err(QualityError::LengthMismatch { .. })
        ));
        assert!(matches!(
            score_nb(&reference, &reference, 11_025),
            Err(QualityError::UnsupportedRate { rate: 11_025, .. })
        ));
        assert!(matches!(
            score_wb(&reference, &reference, 8_000),
            Err(QualityError::UnsupportedRate { rate: 8_000, .. })
        ));
        let wide = bursts(16_000, 4, 1);
        assert!(matches!(
            score_nb(&wide, &wide, 16_000),
            Err(QualityError::UnsupportedRate { rate: 16_000, .. })
        ));
    }

    #[test]
    fn decimation_keeps_the_band_and_removes_the_alias() {
        let tone = |freq: f64, rate: u32| -> Vec<i16> {
            (0..rate as usize)
                .map(|n| {
                    (10_000.0
                        * (2.0 * std::f64::consts::PI * freq * n as f64 / f64::from(rate)).sin())
                        as i16
                })
                .collect()
        };
        let rms = |x: &[i16]| {
            let middle = &x[x.len() / 4..3 * x.len() / 4];
            (middle.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / middle.len() as f64).sqrt()
        };
        let pass = Pcm {
            samples: tone(1_000.0, 48_000),
            rate: 48_000,
        }
        .to_rate(8_000)
        .unwrap();
        assert_eq!(pass.samples.len(), 8_000);
        assert!((rms(&pass.samples) / (10_000.0 / 2_f64.sqrt()) - 1.0).abs() < 0.01);
        // 5 kHz would alias to 3 kHz at 8 kHz: the filter must take it out.
        let stop = Pcm {
            samples: tone(5_000.0, 16_000),
            rate: 16_000,
        }
        .to_rate(8_000)
        .unwrap();
        assert!(
            rms(&stop.samples) < 10.0,
            "alias rms {}",
            rms(&stop.samples)
        );
        assert!(matches!(
            Pcm {
                samples: tone(1_000.0, 44_100),
                rate: 44_100
            }
            .to_rate(8_000),
            Err(QualityError::UnsupportedRate { rate: 44_100, .. })
        ));
        assert!(Pcm {
            samples: vec![0; 10],
            rate: 8_000
        }
        .to_rate(16_000)
        .is_err());
    }

    #[test]
    fn wav_files_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, spec: hound::WavSpec, samples: &[i32]| {
            let path = dir.path().join(name);
            let mut writer = hound::WavWriter::create(&path, spec).unwrap();
            for &s in samples {
                writer.write_sample(s).unwrap();
            }
            writer.finalize().unwrap();
            path
        };
        let spec = |channels, bits, rate| hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let path = write("a.wav", spec(1, 16, 8_000), &[0, 1000, -1000]);
        assert_eq!(
            read_wav(&path).unwrap(),
            Pcm {
                samples: vec![0, 1000, -1000],
                rate: 8_000
            }
        );
        let path = write("b.wav", spec(1, 24, 16_000), &[256 * 1000, -256 * 1000]);
        assert_eq!(read_wav(&path).unwrap().samples, vec![1000, -1000]);
        let path = write("c.wav", spec(2, 16, 8_000), &[1, 2, 3, 4]);
        assert!(matches!(
            read_wav(&path),
            Err(QualityError::NotMono { channels: 2, .. })
        ));
        assert!(matches!(
            read_wav(&dir.path().join("missing.wav")),
            Err(QualityError::Wav { .. })
        ));
        let path = write("d.wav", spec(1, 16, 16_000), &[0; 32]);
        let pcm = read_wav_at(&path, 8_000).unwrap();
        assert_eq!((pcm.rate, pcm.samples.len()), (8_000, 16));
    }
}
