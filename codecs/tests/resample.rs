//! The 8 kHz ↔ 16 kHz half-band resampler: flat passband, alias and image rejection, timing.
//!
//! Levels are measured by a least-squares fit of a sine and a cosine at the known frequency,
//! away from the edges of the signal, so rounding noise (±½ LSB spread over all frequencies)
//! barely touches a measurement even 90 dB below the tone.

mod common;

use callcert_codecs::resample::{downsample_2x, upsample_2x};
use std::f64::consts::PI;

/// A sine of `amplitude` at `hz`, sampled at `rate` Hz, rounded to 16 bits.
fn sine(hz: f64, rate: f64, amplitude: f64, len: usize, phase: f64) -> Vec<i16> {
    (0..len)
        .map(|n| (amplitude * (2.0 * PI * hz * n as f64 / rate + phase).sin()).round() as i16)
        .collect()
}

/// Amplitude of the component at `hz` in `x` (sampled at `rate`), fitted over `x[skip..len-skip]`.
fn amplitude_at(x: &[i16], hz: f64, rate: f64, skip: usize) -> f64 {
    let (a, b) = common::tone_fit(x, hz, rate, skip..x.len() - skip);
    a.hypot(b)
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

const AMPLITUDE: f64 = 20_000.0;

#[test]
fn downsampling_passband_is_flat_to_3400_hz() {
    let mut worst: f64 = 0.0;
    for hz in [50.0, 300.0, 1000.0, 2000.0, 3000.0, 3400.0] {
        let x = sine(hz, 16_000.0, AMPLITUDE, 16_000, 0.3);
        let y = downsample_2x(&x);
        let gain = db(amplitude_at(&y, hz, 8000.0, 100) / AMPLITUDE);
        println!("downsample {hz} Hz: {gain:+.5} dB");
        worst = worst.max(gain.abs());
    }
    assert!(worst < 0.005, "passband deviation {worst} dB");
}

#[test]
fn upsampling_passband_is_flat_to_3400_hz() {
    let mut worst: f64 = 0.0;
    for hz in [50.0, 300.0, 1000.0, 2000.0, 3000.0, 3400.0] {
        let x = sine(hz, 8000.0, AMPLITUDE, 8000, 1.1);
        let y = upsample_2x(&x);
        let gain = db(amplitude_at(&y, hz, 16_000.0, 200) / AMPLITUDE);
        println!("upsample {hz} Hz: {gain:+.5} dB");
        worst = worst.max(gain.abs());
    }
    assert!(worst < 0.005, "passband deviation {worst} dB");
}

#[test]
fn downsampling_rejects_aliases_above_4600_hz() {
    let mut weakest = f64::NEG_INFINITY;
    for hz in [4600.0, 5000.0, 6000.0, 7000.0, 7900.0] {
        let x = sine(hz, 16_000.0, AMPLITUDE, 16_000, 0.7);
        let y = downsample_2x(&x);
        let alias = 8000.0 - hz;
        let level = db(amplitude_at(&y, alias, 8000.0, 100) / AMPLITUDE);
        println!("downsample {hz} Hz: alias at {alias} Hz {level:.1} dB");
        weakest = weakest.max(level);
    }
    assert!(weakest < -85.0, "alias only {weakest} dB down");
}

#[test]
fn upsampling_rejects_images_above_4600_hz() {
    let mut weakest = f64::NEG_INFINITY;
    for hz in [100.0, 1000.0, 2500.0, 3400.0] {
        let x = sine(hz, 8000.0, AMPLITUDE, 8000, 0.2);
        let y = upsample_2x(&x);
        let image = 8000.0 - hz;
        let level = db(amplitude_at(&y, image, 16_000.0, 200) / AMPLITUDE);
        println!("upsample {hz} Hz: image at {image} Hz {level:.1} dB");
        weakest = weakest.max(level);
    }
    assert!(weakest < -85.0, "image only {weakest} dB down");
}

#[test]
fn half_band_edge_is_minus_6_db() {
    // The half-band filter passes half the amplitude at a quarter of its sample rate.
    let x = sine(4000.0, 16_000.0, AMPLITUDE, 16_000, 0.25);
    let y = downsample_2x(&x);
    // At 8 kHz, 4 kHz is the Nyquist frequency: y[k] = a·sin(πk + 0.25) = ±a·sin(0.25).
    let expected = 0.5 * AMPLITUDE * 0.25f64.sin();
    let mid = &y[100..y.len() - 100];
    for &v in mid {
        assert!(
            (f64::from(v).abs() - expected).abs() <= 1.0,
            "{v} vs ±{expected}"
        );
    }
}

#[test]
fn upsampling_keeps_the_input_samples_and_is_aligned() {
    let x = sine(1000.0, 8000.0, AMPLITUDE, 800, 0.0);
    let y = upsample_2x(&x);
    for (k, &v) in x.iter().enumerate() {
        assert_eq!(y[2 * k], v);
    }
    // Odd samples are the sine halfway between: no delay.
    let reference = sine(1000.0, 16_000.0, AMPLITUDE, 1600, 0.0);
    for n in (201..1400).step_by(2) {
        assert!((y[n] - reference[n]).abs() <= 2, "sample {n}");
    }
}

#[test]
fn down_after_up_gives_back_a_narrowband_signal() {
    // Voice-band content: three sines and their sum stay within a few LSB through 8→16→8 kHz.
    let mut x = vec![0i16; 8000];
    for (hz, amp) in [(300.0, 6000.0), (1270.0, 5000.0), (3100.0, 4000.0)] {
        for (v, s) in x.iter_mut().zip(sine(hz, 8000.0, amp, 8000, 0.5)) {
            *v += s;
        }
    }
    let back = downsample_2x(&upsample_2x(&x));
    assert_eq!(back.len(), x.len());
    let worst = x[100..7900]
        .iter()
        .zip(&back[100..7900])
        .map(|(a, b)| (a - b).abs())
        .max()
        .unwrap();
    assert!(worst <= 2, "worst difference {worst}");
}

#[test]
fn full_scale_input_saturates_instead_of_wrapping() {
    // A full-scale square wave overshoots (Gibbs) when band-limited: the output must clip.
    let x: Vec<i16> = (0..4000)
        .map(|n| {
            if (n / 20) % 2 == 0 {
                i16::MAX
            } else {
                i16::MIN
            }
        })
        .collect();
    let up = upsample_2x(&x);
    let down = downsample_2x(&x);
    assert!(up.contains(&i16::MAX) && up.contains(&i16::MIN));
    assert!(down.contains(&i16::MAX) && down.contains(&i16::MIN));
    // Around each edge the sign changes once (no wrap-around from +32767 to −32768 mid-level).
    for w in up.windows(2).skip(200).take(7000) {
        let jump = (i32::from(w[0]) - i32::from(w[1])).abs();
        assert!(jump < 40_000, "jump {w:?}");
    }
}
