//! Test signals and measurements shared by the G.722 tests.
#![allow(dead_code)]

use callcert_codecs::resample::upsample_2x;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::f64::consts::PI;
use std::path::Path;

/// Sample rate of every signal here, Hz.
pub const RATE: f64 = 16_000.0;

/// The PCM samples of a 16-bit mono WAV file (its `data` chunk).
pub fn wav_samples(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == b"data" {
            let end = (at + 8 + len).min(bytes.len());
            return bytes[at + 8..end]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("{path:?}: no data chunk");
}

/// A prompt of `scenarios/prompts` (8 kHz espeak-ng speech) at 16 kHz.
pub fn prompt_16k(name: &str) -> Vec<i16> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/prompts")
        .join(name);
    upsample_2x(&wav_samples(&path))
}

/// A sine at `hz` and `dbfs` (0 dBFS: peak 32767), `len` samples at 16 kHz.
pub fn sine(hz: f64, dbfs: f64, len: usize) -> Vec<i16> {
    let amplitude = 32767.0 * 10f64.powf(dbfs / 20.0);
    (0..len)
        .map(|n| (amplitude * (2.0 * PI * hz * n as f64 / RATE).sin()).round() as i16)
        .collect()
}

/// Two-pole resonator at `hz` with bandwidth `bw` Hz, unity gain at its peak (roughly).
struct Resonator {
    a1: f64,
    a2: f64,
    gain: f64,
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn new(hz: f64, bw: f64) -> Self {
        let r = (-PI * bw / RATE).exp();
        let theta = 2.0 * PI * hz / RATE;
        Resonator {
            a1: 2.0 * r * theta.cos(),
            a2: -r * r,
            gain: 1.0 - r,
            y1: 0.0,
            y2: 0.0,
        }
    }

    fn next(&mut self, x: f64) -> f64 {
        let y = self.gain * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Vowel formants F1..F4, Hz (rough adult averages for /a/, /i/, /u/, /e/, /o/).
const VOWELS: [[f64; 4]; 5] = [
    [730.0, 1090.0, 2440.0, 3400.0],
    [270.0, 2290.0, 3010.0, 3700.0],
    [300.0, 870.0, 2240.0, 3300.0],
    [530.0, 1840.0, 2480.0, 3500.0],
    [570.0, 840.0, 2410.0, 3300.0],
];

/// Wideband speech-like audio, `len` samples at 16 kHz, active-speech RMS at `rms_dbfs`:
/// syllables of a glottal pulse train (gliding pitch 90–220 Hz) through four vowel formants
/// and a fifth at 4.5 kHz, fricatives of noise through a 3–7 kHz resonance, and pauses, each
/// under a raised-cosine envelope.
pub fn speech_like(seed: u64, len: usize, rms_dbfs: f64) -> Vec<i16> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut signal: Vec<f64> = Vec::with_capacity(len + 4000);
    while signal.len() < len {
        let duration = rng.random_range(1600..4000);
        let kind = rng.random_range(0..10);
        let start = signal.len();
        if kind < 7 {
            let vowel = VOWELS[rng.random_range(0..VOWELS.len())];
            let scale = rng.random_range(0.9..1.15);
            let mut formants: Vec<Resonator> = vowel
                .iter()
                .map(|&f| Resonator::new(f * scale, rng.random_range(60.0..160.0)))
                .collect();
            formants.push(Resonator::new(4500.0, 400.0));
            let (f0_start, f0_end) = (rng.random_range(90.0..220.0), rng.random_range(90.0..220.0));
            let mut phase = 0.0;
            let mut glottis = [0.0f64; 2];
            for n in 0..duration {
                let f0 = f0_start + (f0_end - f0_start) * n as f64 / duration as f64;
                phase += f0 / RATE;
                let pulse = if phase >= 1.0 {
                    phase -= 1.0;
                    1.0
                } else {
                    0.0
                };
                // Glottal spectrum tilt: two one-pole low-passes, plus a little aspiration.
                glottis[0] = pulse + 0.9 * glottis[0];
                glottis[1] = glottis[0] + 0.7 * glottis[1];
                let excitation = glottis[1] + 0.02 * rng.random_range(-1.0..1.0);
                // Formants in parallel, alternating signs (as in a cascade's partial fractions).
                let y: f64 = formants
                    .iter_mut()
                    .enumerate()
                    .map(|(i, r)| if i % 2 == 0 { 1.0 } else { -1.0 } * r.next(excitation))
                    .sum();
                signal.push(y);
            }
        } else if kind < 9 {
            let mut hiss = Resonator::new(rng.random_range(3000.0..7000.0), 2000.0);
            for _ in 0..duration {
                signal.push(0.3 * hiss.next(rng.random_range(-1.0..1.0)));
            }
        } else {
            signal.extend(std::iter::repeat_n(0.0, duration));
            continue;
        }
        let segment = &mut signal[start..];
        let n = segment.len() as f64;
        for (i, v) in segment.iter_mut().enumerate() {
            *v *= 0.5 - 0.5 * (2.0 * PI * (i as f64 + 0.5) / n).cos();
        }
    }
    signal.truncate(len);
    let active: Vec<f64> = signal.iter().copied().filter(|v| *v != 0.0).collect();
    let rms = (active.iter().map(|v| v * v).sum::<f64>() / active.len() as f64).sqrt();
    let gain = 32767.0 * 10f64.powf(rms_dbfs / 20.0) / rms;
    signal
        .iter()
        .map(|v| (v * gain).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Signal-to-noise ratio of `decoded` against `reference` delayed by `delay` samples, dB,
/// over reference samples `skip..` (the first ones while the coder adapts are left out).
pub fn snr_db(reference: &[i16], decoded: &[i16], delay: usize, skip: usize) -> f64 {
    let (mut signal, mut noise) = (0.0, 0.0);
    for (n, &r) in reference.iter().enumerate().skip(skip) {
        let Some(&d) = decoded.get(n + delay) else {
            break;
        };
        let r = f64::from(r);
        signal += r * r;
        noise += (f64::from(d) - r).powi(2);
    }
    10.0 * (signal / noise).log10()
}

/// Segmental SNR over 20 ms (320-sample) segments whose reference is above −50 dBFS, dB: the
/// mean of the per-segment SNRs, each limited to −10..=60 dB (the usual convention).
pub fn segmental_snr_db(reference: &[i16], decoded: &[i16], delay: usize) -> f64 {
    let threshold = (32767.0 * 10f64.powf(-50.0 / 20.0)).powi(2) * 320.0;
    let mut sum = 0.0;
    let mut count = 0;
    for start in (0..reference.len()).step_by(320) {
        let end = (start + 320).min(reference.len());
        if end + delay > decoded.len() {
            break;
        }
        let (mut signal, mut noise) = (0.0, 0.0);
        for n in start..end {
            let r = f64::from(reference[n]);
            signal += r * r;
            noise += (f64::from(decoded[n + delay]) - r).powi(2);
        }
        if signal < threshold {
            continue;
        }
        sum += (10.0 * (signal / noise.max(1e-9)).log10()).clamp(-10.0, 60.0);
        count += 1;
    }
    sum / count as f64
}

/// Least-squares fit of a tone at `hz` to `x[range]`: the cosine and sine amplitudes (a, b).
pub fn tone_fit(x: &[i16], hz: f64, rate: f64, range: std::ops::Range<usize>) -> (f64, f64) {
    let (mut cc, mut ss, mut cs, mut xc, mut xs) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (n, &v) in x.iter().enumerate().take(range.end).skip(range.start) {
        let (s, c) = (2.0 * std::f64::consts::PI * hz * n as f64 / rate).sin_cos();
        cc += c * c;
        ss += s * s;
        cs += c * s;
        xc += f64::from(v) * c;
        xs += f64::from(v) * s;
    }
    let det = cc * ss - cs * cs;
    ((xc * ss - xs * cs) / det, (xs * cc - xc * cs) / det)
}
