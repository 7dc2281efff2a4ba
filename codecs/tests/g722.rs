//! G.722 behaviour: round-trip quality, silence, framing, streaming state, robustness.
//!
//! Bit-exactness against an independent implementation is checked in `tests/g722_ffmpeg.rs`.
//! Here the codec is checked against the signal: the decoded output, delayed by the codec's
//! [`CODEC_DELAY`] of 22 samples, is compared with the input.

mod common;

use callcert_codecs::g722::{
    G722Decoder, G722Encoder, G722Mode, CODEC_DELAY, FRAME_20MS_BYTES, FRAME_20MS_SAMPLES,
    RTP_CLOCK_HZ, SAMPLE_RATE_HZ,
};
use common::{prompt_16k, segmental_snr_db, sine, snr_db, speech_like};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Encodes and decodes `pcm` in one go with fresh state.
fn round_trip(pcm: &[i16], mode: G722Mode) -> Vec<i16> {
    let mut bytes = Vec::new();
    G722Encoder::new().encode(pcm, &mut bytes);
    let mut out = Vec::new();
    G722Decoder::with_mode(mode).decode(&bytes, &mut out);
    out
}

#[test]
fn codec_delay_is_22_samples() {
    // The decoded sine lines up best with the input delayed by CODEC_DELAY.
    // A wideband signal, so that no other delay fits nearly as well (as a period of a sine would).
    let input = speech_like(13, 16_000, -20.0);
    let output = round_trip(&input, G722Mode::Kbps64);
    let best = (0..64)
        .max_by(|&a, &b| {
            snr_db(&input, &output, a, 400)
                .partial_cmp(&snr_db(&input, &output, b, 400))
                .unwrap()
        })
        .unwrap();
    assert_eq!(best, CODEC_DELAY);
}

#[test]
fn one_khz_sine_round_trip_keeps_a_high_snr() {
    // (level dBFS, minimum SNR dB in mode 1, 2, 3)
    for (level, minimum) in [
        (-3.0, [45.0, 39.0, 33.0]),
        (-10.0, [45.0, 39.0, 33.0]),
        (-20.0, [45.0, 39.0, 33.0]),
        (-40.0, [34.0, 32.0, 28.0]),
    ] {
        let input = sine(1000.0, level, 16_000);
        for (mode, min) in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48]
            .into_iter()
            .zip(minimum)
        {
            let snr = snr_db(&input, &round_trip(&input, mode), CODEC_DELAY, 1600);
            println!("1 kHz sine at {level} dBFS, {mode:?}: SNR {snr:.1} dB");
            assert!(snr > min, "{level} dBFS {mode:?}: SNR {snr:.1} dB");
        }
    }
}

#[test]
fn speech_like_signals_round_trip_keep_a_high_snr() {
    let synthetic = speech_like(1, 16_000 * 4, -20.0);
    let loud = speech_like(2, 16_000 * 4, -10.0);
    let prompt = prompt_16k("welcome.wav");
    for (name, input, min_snr, min_segmental) in [
        (
            "synthetic wideband speech, -20 dBFS",
            &synthetic,
            35.0,
            35.0,
        ),
        ("synthetic wideband speech, -10 dBFS", &loud, 29.0, 30.0),
        ("welcome.wav (espeak-ng), upsampled", &prompt, 32.0, 32.0),
    ] {
        for mode in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48] {
            let output = round_trip(input, mode);
            let snr = snr_db(input, &output, CODEC_DELAY, 0);
            let segmental = segmental_snr_db(input, &output, CODEC_DELAY);
            println!("{name}, {mode:?}: SNR {snr:.1} dB, segmental SNR {segmental:.1} dB");
            // Modes 2 and 3 give up bits of the lower band: still well above 20 dB.
            assert!(
                segmental > 20.0,
                "{name} {mode:?}: segSNR {segmental:.1} dB"
            );
            if mode == G722Mode::Kbps64 {
                assert!(snr > min_snr, "{name}: SNR {snr:.1} dB");
                assert!(
                    segmental > min_segmental,
                    "{name}: segSNR {segmental:.1} dB"
                );
            }
        }
    }
}

#[test]
fn lower_modes_lose_quality_in_order() {
    let input = speech_like(3, 16_000 * 2, -20.0);
    let snr: Vec<f64> = [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48]
        .into_iter()
        .map(|mode| segmental_snr_db(&input, &round_trip(&input, mode), CODEC_DELAY))
        .collect();
    assert!(snr[0] > snr[1] && snr[1] > snr[2], "{snr:?}");
}

#[test]
fn silence_stays_silent() {
    let silence = vec![0i16; 16_000];
    let output = round_trip(&silence, G722Mode::Kbps64);
    let peak = output.iter().map(|v| v.unsigned_abs()).max().unwrap();
    println!("digital silence: peak {peak}");
    assert!(peak <= 8, "peak {peak}");

    // Low-level noise (±3 LSB) stays at the noise floor, and so does silence after speech.
    let mut rng = StdRng::seed_from_u64(5);
    let mut input = speech_like(4, 16_000, -15.0);
    input.extend((0..16_000).map(|_| rng.random_range(-3i16..=3)));
    input.extend(std::iter::repeat_n(0, 16_000));
    let output = round_trip(&input, G722Mode::Kbps64);
    let tail_peak = |from: usize| {
        output[from..from + 12_000]
            .iter()
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap()
    };
    let (noise_peak, silence_peak) = (tail_peak(16_000 + 4000), tail_peak(32_000 + 4000));
    println!("after speech: noise peak {noise_peak}, silence peak {silence_peak}");
    assert!(noise_peak <= 16, "noise peak {noise_peak}");
    assert!(silence_peak <= 8, "silence peak {silence_peak}");
}

#[test]
fn a_20_ms_frame_is_160_octets_and_160_rtp_ticks() {
    assert_eq!(SAMPLE_RATE_HZ as usize / 50, FRAME_20MS_SAMPLES);
    assert_eq!(RTP_CLOCK_HZ as usize / 50, FRAME_20MS_BYTES);
    let mut bytes = Vec::new();
    let mut encoder = G722Encoder::new();
    encoder.encode(&sine(1000.0, -10.0, FRAME_20MS_SAMPLES), &mut bytes);
    assert_eq!(bytes.len(), FRAME_20MS_BYTES);
    let mut pcm = Vec::new();
    G722Decoder::new().decode(&bytes, &mut pcm);
    assert_eq!(pcm.len(), FRAME_20MS_SAMPLES);
}

#[test]
fn frame_by_frame_equals_one_shot() {
    let input = speech_like(6, 16_000 * 2, -18.0);
    let mut one_shot = Vec::new();
    G722Encoder::new().encode(&input, &mut one_shot);

    // 20 ms frames, and pieces of random (also odd) lengths.
    let mut framed = Vec::new();
    let mut encoder = G722Encoder::new();
    for frame in input.chunks(FRAME_20MS_SAMPLES) {
        encoder.encode(frame, &mut framed);
    }
    assert_eq!(framed, one_shot);
    let mut rng = StdRng::seed_from_u64(7);
    let mut pieces = Vec::new();
    let mut encoder = G722Encoder::new();
    let mut rest = &input[..];
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(rng.random_range(0..=77).min(rest.len()));
        encoder.encode(piece, &mut pieces);
        rest = tail;
    }
    assert_eq!(pieces, one_shot);

    let mut decoded_once = Vec::new();
    G722Decoder::new().decode(&one_shot, &mut decoded_once);
    let mut decoded_framed = Vec::new();
    let mut decoder = G722Decoder::new();
    for frame in one_shot.chunks(FRAME_20MS_BYTES) {
        decoder.decode(frame, &mut decoded_framed);
    }
    assert_eq!(decoded_framed, decoded_once);
}

#[test]
fn reset_starts_a_new_stream() {
    let first = speech_like(8, 8000, -20.0);
    let second = sine(700.0, -12.0, 8000);
    let mut encoder = G722Encoder::new();
    let mut decoder = G722Decoder::with_mode(G722Mode::Kbps56);
    let mut bytes = Vec::new();
    let mut pcm = Vec::new();
    encoder.encode(&first[..1001], &mut bytes);
    decoder.decode(&bytes, &mut pcm);
    encoder.reset();
    decoder.reset();
    assert_eq!(decoder.mode(), G722Mode::Kbps56);
    let (mut fresh_bytes, mut reset_bytes) = (Vec::new(), Vec::new());
    G722Encoder::new().encode(&second, &mut fresh_bytes);
    encoder.encode(&second, &mut reset_bytes);
    assert_eq!(reset_bytes, fresh_bytes);
    let (mut fresh_pcm, mut reset_pcm) = (Vec::new(), Vec::new());
    G722Decoder::with_mode(G722Mode::Kbps56).decode(&fresh_bytes, &mut fresh_pcm);
    decoder.decode(&reset_bytes, &mut reset_pcm);
    assert_eq!(reset_pcm, fresh_pcm);
}

#[test]
fn decoding_arbitrary_octets_never_panics() {
    let mut rng = StdRng::seed_from_u64(9);
    let random: Vec<u8> = (0..100_000).map(|_| rng.random()).collect();
    // Runs of every octet value drive the scale factors and predictors to their limits.
    let runs: Vec<u8> = (0..=255u8).flat_map(|b| [b; 200]).collect();
    for mode in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48] {
        for input in [&random, &runs] {
            let mut out = Vec::new();
            G722Decoder::with_mode(mode).decode(input, &mut out);
            assert_eq!(out.len(), 2 * input.len());
        }
    }
}

#[test]
fn extreme_input_never_panics_and_decodes_to_something_loud() {
    // Full-scale square waves, the Nyquist alternation and full-scale noise.
    let mut rng = StdRng::seed_from_u64(10);
    let mut input: Vec<i16> = Vec::new();
    for period in [2usize, 8, 32, 320] {
        input.extend((0..8000).map(|n| {
            if (n / (period / 2)) % 2 == 0 {
                i16::MAX
            } else {
                i16::MIN
            }
        }));
    }
    input.extend((0..16_000).map(|_| rng.random::<i16>()));
    let output = round_trip(&input, G722Mode::Kbps64);
    assert_eq!(output.len(), input.len());
    // The 1 kHz (32-sample) square wave comes through at near full scale.
    let peak = output[16_000 + 4000..24_000]
        .iter()
        .map(|v| v.unsigned_abs())
        .max()
        .unwrap();
    assert!(peak > 25_000, "peak {peak}");
}

#[test]
fn a_decoder_joining_mid_stream_converges_on_the_encoder() {
    // A decoder that starts after garbage (or joins late) has the wrong state; G.722's leaky
    // adaptation pulls it back onto the encoder's track.
    let input = speech_like(11, 16_000 * 3, -20.0);
    let mut bytes = Vec::new();
    G722Encoder::new().encode(&input, &mut bytes);
    let mut reference = Vec::new();
    G722Decoder::new().decode(&bytes, &mut reference);

    let mut rng = StdRng::seed_from_u64(12);
    let garbage: Vec<u8> = (0..800).map(|_| rng.random()).collect();
    let mut decoder = G722Decoder::new();
    decoder.decode(&garbage, &mut Vec::new());
    let mut late = Vec::new();
    decoder.decode(&bytes, &mut late);
    // The states meet exactly: from some point on the outputs are identical (here after
    // 331 ms of speech, before the first pause).
    let last_difference = reference
        .iter()
        .zip(&late)
        .rposition(|(a, b)| a != b)
        .unwrap_or(0);
    println!("late decoder: last differing sample {last_difference}");
    assert!(
        last_difference < 16_000,
        "still differs at {last_difference}"
    );
}
