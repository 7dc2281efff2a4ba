//! Locating a prompt inside a received recording.
//!
//! In a call the received audio is a longer recording that holds the prompt somewhere: delayed
//! by the network and the call center, after leading silence or other audio. [`align`] finds
//! the offset of the reference in the received stream in two passes: a normalized
//! cross-correlation of 4 ms RMS envelopes over every lag (FFT), which is robust to the phase
//! and level changes of codecs and to lost packets, then a normalized cross-correlation of the
//! samples within two envelope blocks of that lag, which gives the offset to the sample.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::Serialize;

/// Envelope block length.
const ENVELOPE_BLOCK_MS: u32 = 4;
/// The envelope correlation below which the reference is taken as absent.
pub const MIN_ENVELOPE_CORRELATION: f64 = 0.5;
/// The smallest fraction of the reference that must lie inside the recording at a lag.
const MIN_OVERLAP: f64 = 0.5;
/// Sample-level search range around the envelope's lag, in envelope blocks each side.
const REFINE_BLOCKS: i64 = 2;

/// Where the reference lies in the received recording.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Alignment {
    /// Index in the received recording of the reference's first sample; negative when the
    /// reference began before the recording did.
    pub offset: i64,
    /// The sample rate the offset counts in.
    pub rate: u32,
    /// Normalized correlation of the envelopes at the offset's block (0–1; 1 is a perfect match).
    pub envelope_correlation: f64,
    /// Normalized correlation of the samples at the offset (−1–1).
    pub sample_correlation: f64,
}

impl Alignment {
    /// The offset in milliseconds.
    pub fn offset_ms(&self) -> f64 {
        self.offset as f64 * 1000.0 / f64::from(self.rate)
    }

    /// The `len` samples of `received` that start at the offset, zeros where they run past
    /// either end of the recording.
    pub fn segment(&self, received: &[i16], len: usize) -> Vec<i16> {
        (0..len as i64)
            .map(|i| {
                usize::try_from(self.offset + i)
                    .ok()
                    .and_then(|index| received.get(index))
                    .copied()
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// Finds the offset of `reference` in `received` (both at `rate`), or `None` when the
/// reference is not there (best envelope correlation below [`MIN_ENVELOPE_CORRELATION`]), or
/// either signal is silent or shorter than a few envelope blocks.
pub fn align(reference: &[i16], received: &[i16], rate: u32) -> Option<Alignment> {
    let block = (rate * ENVELOPE_BLOCK_MS / 1000).max(1) as usize;
    let reference_envelope = envelope(reference, block);
    let received_envelope = envelope(received, block);
    if reference_envelope.len() < 8 || received_envelope.len() < 8 {
        return None;
    }
    let (lag, envelope_correlation) = best_normalized_lag(&reference_envelope, &received_envelope)?;
    if envelope_correlation < MIN_ENVELOPE_CORRELATION {
        return None;
    }
    let block = block as i64;
    let centre = lag * block;
    let minimum_overlap = (reference.len() as f64 * MIN_OVERLAP).ceil() as i64;
    let (offset, sample_correlation) = (centre - REFINE_BLOCKS * block
        ..=centre + REFINE_BLOCKS * block)
        .filter_map(|offset| {
            sample_correlation(reference, received, offset, minimum_overlap).map(|c| (offset, c))
        })
        .fold(None, |best: Option<(i64, f64)>, (offset, c)| match best {
            Some((_, best_c)) if best_c >= c => best,
            _ => Some((offset, c)),
        })
        .unwrap_or((centre, 0.0));
    Some(Alignment {
        offset,
        rate,
        envelope_correlation,
        sample_correlation,
    })
}

/// RMS of each `block` samples (the last block may be shorter).
fn envelope(signal: &[i16], block: usize) -> Vec<f64> {
    signal
        .chunks(block)
        .map(|chunk| {
            let energy: f64 = chunk.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            (energy / chunk.len() as f64).sqrt()
        })
        .collect()
}

/// The lag (index into `y` of `x[0]`) of the highest mean-removed normalized correlation of `x`
/// within `y`, over every lag where at least [`MIN_OVERLAP`] of `x` overlaps `y`.
fn best_normalized_lag(x: &[f64], y: &[f64]) -> Option<(i64, f64)> {
    let correlation = cross_correlation(x, y);
    let prefix = |v: &[f64], square: bool| -> Vec<f64> {
        let mut sums = Vec::with_capacity(v.len() + 1);
        let mut acc = 0.0;
        sums.push(acc);
        for &value in v {
            acc += if square { value * value } else { value };
            sums.push(acc);
        }
        sums
    };
    let (x_sum, x_square) = (prefix(x, false), prefix(x, true));
    let (y_sum, y_square) = (prefix(y, false), prefix(y, true));
    let (lx, ly) = (x.len() as i64, y.len() as i64);
    let minimum_overlap = ((lx as f64 * MIN_OVERLAP).ceil() as i64).max(2);
    let mut best: Option<(i64, f64)> = None;
    for lag in (minimum_overlap - lx)..=(ly - minimum_overlap) {
        // x[i] meets y[i + lag] for i in [i0, i1).
        let i0 = (-lag).max(0);
        let i1 = lx.min(ly - lag);
        let n = (i1 - i0) as f64;
        let (a0, a1) = (i0 as usize, i1 as usize);
        let (b0, b1) = ((i0 + lag) as usize, (i1 + lag) as usize);
        let sx = x_sum[a1] - x_sum[a0];
        let sy = y_sum[b1] - y_sum[b0];
        let vx = x_square[a1] - x_square[a0] - sx * sx / n;
        let vy = y_square[b1] - y_square[b0] - sy * sy / n;
        // A flat stretch (digital silence) has no shape to match.
        if vx <= 1e-9 * x_square[x.len()].max(1.0) || vy <= 1e-9 * y_square[y.len()].max(1.0) {
            continue;
        }
        let index = if lag >= 0 {
            lag as usize
        } else {
            correlation.len() - (-lag) as usize
        };
        let c = (correlation[index] - sx * sy / n) / (vx * vy).sqrt();
        if best.is_none_or(|(_, best_c)| c > best_c) {
            best = Some((lag, c));
        }
    }
    best
}

/// Circular cross-correlation `c[k] = Σ x[i]·y[i + k]` with enough zero padding that it equals
/// the linear one: lag `k ≥ 0` at index `k`, lag `−k` at index `len − k`.
fn cross_correlation(x: &[f64], y: &[f64]) -> Vec<f64> {
    let len = (x.len() + y.len()).next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let forward: Arc<dyn Fft<f64>> = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let spectrum = |v: &[f64]| {
        let mut buffer: Vec<Complex<f64>> = v.iter().map(|&re| Complex::new(re, 0.0)).collect();
        buffer.resize(len, Complex::new(0.0, 0.0));
        forward.process(&mut buffer);
        buffer
    };
    let sx = spectrum(x);
    let mut product = spectrum(y);
    for (p, a) in product.iter_mut().zip(&sx) {
        *p *= a.conj();
    }
    inverse.process(&mut product);
    product.iter().map(|c| c.re / len as f64).collect()
}

/// Normalized correlation of `reference` with `received` shifted by `offset`, over their
/// overlap; `None` when the overlap is shorter than `minimum_overlap` or flat.
fn sample_correlation(
    reference: &[i16],
    received: &[i16],
    offset: i64,
    minimum_overlap: i64,
) -> Option<f64> {
    let i0 = (-offset).max(0);
    let i1 = (reference.len() as i64).min(received.len() as i64 - offset);
    if i1 - i0 < minimum_overlap.max(1) {
        return None;
    }
    let a = &reference[i0 as usize..i1 as usize];
    let b = &received[(i0 + offset) as usize..(i1 + offset) as usize];
    let (mut ab, mut aa, mut bb) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (&p, &q) in a.iter().zip(b) {
        let (p, q) = (f64::from(p), f64::from(q));
        ab += p * q;
        aa += p * p;
        bb += q * q;
    }
    (aa > 0.0 && bb > 0.0).then(|| ab / (aa * bb).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A speech-like test signal: noise in syllable-length bursts of varying level.
    fn speechlike(len: usize, seed: u32) -> Vec<i16> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state
        };
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let burst = 400 + (next() % 2_000) as usize;
            let level = 500 + (next() % 6_000) as i32;
            let voiced = next() % 4 != 0;
            for _ in 0..burst {
                let sample = if voiced {
                    ((next() >> 16) as i32 - 32_768) * level / 32_768
                } else {
                    0
                };
                out.push(sample as i16);
            }
        }
        out.truncate(len);
        out
    }

    fn embed(reference: &[i16], lead: usize, tail: usize, seed: u32) -> Vec<i16> {
        let mut received: Vec<i16> = speechlike(lead, seed).iter().map(|s| s / 4).collect();
        received.extend_from_slice(reference);
        received.extend(speechlike(tail, seed + 1).iter().map(|s| s / 4));
        received
    }

    #[test]
    fn finds_known_offsets_to_the_sample() {
        let reference = speechlike(8_000 * 4, 7);
        for lead in [0, 1, 333, 8_000, 20_001] {
            let received = embed(&reference, lead, 5_000, 11);
            let found = align(&reference, &received, 8_000).unwrap();
            assert_eq!(found.offset, lead as i64, "{found:?}");
            // Blocks straddle the offset unless it is a multiple of 4 ms.
            assert!(found.envelope_correlation > 0.95, "{found:?}");
            assert!(found.sample_correlation > 0.99, "{found:?}");
            assert_eq!(found.segment(&received, reference.len()), reference);
        }
    }

    #[test]
    fn finds_the_offset_through_loss_and_level_change() {
        let reference = speechlike(8_000 * 4, 3);
        let lead = 12_345;
        let mut received = embed(&reference, lead, 8_000, 5);
        // Half the level and every seventh 20 ms frame zeroed (about 14 % loss).
        for (frame, chunk) in received[lead..lead + reference.len()]
            .chunks_mut(160)
            .enumerate()
        {
            for s in chunk.iter_mut() {
                *s = if frame % 7 == 3 { 0 } else { *s / 2 };
            }
        }
        let found = align(&reference, &received, 8_000).unwrap();
        assert_eq!(found.offset, lead as i64, "{found:?}");
    }

    #[test]
    fn a_recording_that_started_late_gives_a_negative_offset() {
        let reference = speechlike(8_000 * 4, 9);
        let received = reference[3_000..].to_vec();
        let found = align(&reference, &received, 8_000).unwrap();
        assert_eq!(found.offset, -3_000, "{found:?}");
        let segment = found.segment(&received, reference.len());
        assert!(segment[..3_000].iter().all(|&s| s == 0));
        assert_eq!(&segment[3_000..], &reference[3_000..]);
        assert_eq!(found.offset_ms(), -375.0);
    }

    #[test]
    fn absent_or_silent_references_are_not_found() {
        let reference = speechlike(8_000 * 4, 21);
        let other = speechlike(8_000 * 10, 99);
        assert_eq!(align(&reference, &other, 8_000), None);
        assert_eq!(align(&vec![0; 32_000], &other, 8_000), None);
        assert_eq!(align(&reference, &vec![0; 80_000], 8_000), None);
        assert_eq!(align(&[], &other, 8_000), None);
        assert_eq!(align(&reference, &[1, 2, 3], 8_000), None);
    }
}
