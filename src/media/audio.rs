//! Audio to send: 8 kHz mono 16-bit PCM, loaded once and shared by every call.

use super::rtp::SAMPLES_PER_PACKET;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Sample rate of all audio in the media layer (G.711, RFC 3551 §4.5.14).
pub const SAMPLE_RATE: u32 = 8000;

/// Why a WAV file cannot be used as an audio source.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or is not a WAV file.
    #[error("{}: cannot read WAV file: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What hound reported.
        source: hound::Error,
    },
    /// The sample rate is not 8000 Hz.
    #[error("{}: sample rate is {found} Hz; expected 8000 Hz mono 16-bit PCM", path.display())]
    SampleRate {
        /// The file.
        path: PathBuf,
        /// Its sample rate.
        found: u32,
    },
    /// The file has more than one channel.
    #[error("{}: {found} channels; expected 8000 Hz mono 16-bit PCM", path.display())]
    Channels {
        /// The file.
        path: PathBuf,
        /// Its channel count.
        found: u16,
    },
    /// The samples are not 16-bit integer PCM.
    #[error("{}: {bits}-bit {format} samples; expected 8000 Hz mono 16-bit PCM", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Bits per sample.
        bits: u16,
        /// "integer" or "float".
        format: &'static str,
    },
    /// The sample data is truncated or unreadable.
    #[error("{}: cannot read samples: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What hound reported.
        source: hound::Error,
    },
}

/// Immutable 8 kHz mono audio; cloning shares the samples, so thousands of calls use one copy.
#[derive(Debug, Clone, Default)]
pub struct AudioSource {
    samples: Arc<[i16]>,
}

impl AudioSource {
    /// Loads an 8 kHz mono 16-bit PCM WAV file; any other format is an error naming what is wrong.
    pub fn from_wav(path: impl AsRef<Path>) -> Result<Self, AudioError> {
        let path = path.as_ref();
        let reader = hound::WavReader::open(path).map_err(|source| AudioError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(reader, path)
    }

    /// Loads WAV bytes held in memory (e.g. a prompt compiled into the binary); `name` stands
    /// for the file in errors.
    pub fn from_wav_bytes(bytes: &[u8], name: impl AsRef<Path>) -> Result<Self, AudioError> {
        let path = name.as_ref();
        let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|source| {
            AudioError::Open {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Self::from_reader(reader, path)
    }

    fn from_reader<R: std::io::Read>(
        reader: hound::WavReader<R>,
        path: &Path,
    ) -> Result<Self, AudioError> {
        let spec = reader.spec();
        if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
            return Err(AudioError::Format {
                path: path.to_path_buf(),
                bits: spec.bits_per_sample,
                format: match spec.sample_format {
                    hound::SampleFormat::Int => "integer",
                    hound::SampleFormat::Float => "float",
                },
            });
        }
        if spec.sample_rate != SAMPLE_RATE {
            return Err(AudioError::SampleRate {
                path: path.to_path_buf(),
                found: spec.sample_rate,
            });
        }
        if spec.channels != 1 {
            return Err(AudioError::Channels {
                path: path.to_path_buf(),
                found: spec.channels,
            });
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .map_err(|source| AudioError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self::from_samples(samples))
    }

    /// Audio from samples at 8 kHz.
    pub fn from_samples(samples: impl Into<Arc<[i16]>>) -> Self {
        Self {
            samples: samples.into(),
        }
    }

    /// No audio: a session sending it sends silence frames.
    pub fn silence() -> Self {
        Self::default()
    }

    /// The samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there are no samples (silence).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Playing time at 8 kHz.
    pub fn duration(&self) -> Duration {
        samples_to_duration(self.samples.len() as u64)
    }

    /// Offset of the first speech sample at `threshold_dbov` (ground truth for first-voice checks).
    pub fn voice_onset(&self, threshold_dbov: f64) -> Option<Duration> {
        let config = super::voice::VoiceOnsetConfig::with_threshold(threshold_dbov);
        super::voice::VoiceOnsetDetector::find_onset(&self.samples, config).map(samples_to_duration)
    }

    /// A playback position at the start, looping at the end if `looping`.
    pub fn cursor(&self, looping: bool) -> AudioCursor {
        AudioCursor {
            source: self.clone(),
            position: 0,
            looping,
        }
    }
}

/// The duration of `samples` samples at 8 kHz, exact to the nanosecond (125 µs per sample).
pub fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_nanos(samples * (1_000_000_000 / SAMPLE_RATE as u64))
}

/// A playback position in an [`AudioSource`]; hands out 20 ms frames.
#[derive(Debug, Clone)]
pub struct AudioCursor {
    source: AudioSource,
    position: usize,
    looping: bool,
}

impl AudioCursor {
    /// Fills `frame` with the next samples; past the end it loops or pads with silence.
    ///
    /// Returns false once a non-looping source is exhausted and the frame is all silence.
    pub fn next_frame(&mut self, frame: &mut [i16; SAMPLES_PER_PACKET]) -> bool {
        let samples = self.source.samples();
        if samples.is_empty() || (!self.looping && self.position >= samples.len()) {
            frame.fill(0);
            return false;
        }
        let mut filled = 0;
        while filled < frame.len() {
            if self.position >= samples.len() {
                if !self.looping {
                    frame[filled..].fill(0);
                    break;
                }
                self.position = 0;
            }
            let n = (frame.len() - filled).min(samples.len() - self.position);
            frame[filled..filled + n].copy_from_slice(&samples[self.position..self.position + n]);
            filled += n;
            self.position += n;
        }
        true
    }

    /// Skips `samples` samples, as if they had been played (looping if the cursor loops).
    pub fn skip(&mut self, samples: usize) {
        let len = self.source.len();
        if len == 0 {
            return;
        }
        self.position = if self.looping {
            (self.position % len + samples % len) % len
        } else {
            self.position.saturating_add(samples).min(len)
        };
    }

    /// Samples played so far in the current pass.
    pub fn position(&self) -> usize {
        self.position
    }

    /// True when a non-looping source has been played to the end.
    pub fn is_exhausted(&self) -> bool {
        !self.looping && self.position >= self.source.len()
    }
}

/// Writes 8 kHz mono 16-bit PCM (a learned prompt, a call's heard audio).
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, spec: hound::WavSpec, n: usize) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..n {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(i as f32 / n as f32).unwrap(),
                (_, 8) => w.write_sample(i as i8).unwrap(),
                _ => w.write_sample((i as i16).wrapping_mul(100)).unwrap(),
            }
        }
        w.finalize().unwrap();
    }

    fn spec(rate: u32, channels: u16, bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    #[test]
    fn loads_8khz_mono_16bit_and_shares_one_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prompt.wav");
        write_wav(&path, spec(8000, 1, 16, hound::SampleFormat::Int), 4000);
        let source = AudioSource::from_wav(&path).unwrap();
        assert_eq!(source.len(), 4000);
        assert_eq!(source.samples()[3], 300);
        assert_eq!(source.duration(), Duration::from_millis(500));
        let copy = source.clone();
        assert!(std::ptr::eq(source.samples(), copy.samples()));
    }

    #[test]
    fn wrong_formats_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "rate.wav",
                spec(16000, 1, 16, hound::SampleFormat::Int),
                "16000 Hz",
            ),
            (
                "stereo.wav",
                spec(8000, 2, 16, hound::SampleFormat::Int),
                "2 channels",
            ),
            (
                "u8.wav",
                spec(8000, 1, 8, hound::SampleFormat::Int),
                "8-bit integer",
            ),
            (
                "float.wav",
                spec(8000, 1, 32, hound::SampleFormat::Float),
                "32-bit float",
            ),
        ];
        for (name, spec, what) in cases {
            let path = dir.path().join(name);
            write_wav(&path, spec, 100);
            let msg = AudioSource::from_wav(&path).unwrap_err().to_string();
            assert!(msg.contains(name) && msg.contains(what), "{msg}");
        }
        let missing = dir.path().join("missing.wav");
        let msg = AudioSource::from_wav(&missing).unwrap_err().to_string();
        assert!(msg.contains("missing.wav"), "{msg}");
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF....not a wave file").unwrap();
        assert!(matches!(
            AudioSource::from_wav(&junk),
            Err(AudioError::Open { .. })
        ));
    }

    #[test]
    fn cursor_pads_with_silence_or_loops() {
        let source = AudioSource::from_samples((1..=200).collect::<Vec<i16>>());
        let mut frame = [0i16; SAMPLES_PER_PACKET];

        let mut once = source.cursor(false);
        assert!(once.next_frame(&mut frame));
        assert_eq!((frame[0], frame[159]), (1, 160));
        assert!(once.next_frame(&mut frame));
        assert_eq!((frame[39], frame[40], frame[159]), (200, 0, 0));
        assert!(once.is_exhausted());
        assert!(!once.next_frame(&mut frame));
        assert!(frame.iter().all(|&s| s == 0));

        let mut looping = source.cursor(true);
        looping.next_frame(&mut frame);
        looping.next_frame(&mut frame);
        assert_eq!((frame[39], frame[40], frame[159]), (200, 1, 120));
        looping.skip(400);
        assert_eq!(looping.position(), 120);

        let mut silent = AudioSource::silence().cursor(true);
        assert!(!silent.next_frame(&mut frame));
        assert_eq!(AudioSource::silence().voice_onset(-35.0), None);
    }

    #[test]
    fn voice_onset_of_a_prompt() {
        let mut samples = vec![0i16; 8000];
        for (i, s) in samples[2000..].iter_mut().enumerate() {
            *s = ((i as f64 * 0.9 + 0.5).sin() * 8000.0) as i16;
        }
        let prompt = AudioSource::from_samples(samples);
        assert_eq!(prompt.voice_onset(-35.0), Some(Duration::from_millis(250)));
    }
}
