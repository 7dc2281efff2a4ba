//! Opus wrapper: framing, round trip, loss concealment, FEC recovery, errors without panics.
//! Built only with `--features opus` (needs libopus: Debian `libopus-dev`).

mod common;

use callcert_codecs::opus::{
    OpusConfig, OpusDecoder, OpusEncoder, OpusError, OpusRate, RTP_CLOCK_HZ,
    RTP_TIMESTAMP_INCREMENT_20MS,
};
use callcert_codecs::resample::downsample_2x;
use common::speech_like;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::f64::consts::PI;

/// A sine at `hz` with peak `amplitude`, `len` samples at `rate` Hz.
fn sine(hz: f64, rate: f64, amplitude: f64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| (amplitude * (2.0 * PI * hz * n as f64 / rate).sin()).round() as i16)
        .collect()
}

/// Amplitude of the component at `hz` (least-squares fit) and RMS of what is left.
fn tone_and_residual(x: &[i16], hz: f64, rate: f64) -> (f64, f64) {
    let (a, b) = common::tone_fit(x, hz, rate, 0..x.len());
    let residual: f64 = x
        .iter()
        .enumerate()
        .map(|(n, &v)| {
            let (s, c) = (2.0 * PI * hz * n as f64 / rate).sin_cos();
            (f64::from(v) - a * c - b * s).powi(2)
        })
        .sum();
    (a.hypot(b), (residual / x.len() as f64).sqrt())
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Encodes `pcm` in 20 ms packets.
fn packets(config: &OpusConfig, pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut encoder = OpusEncoder::new(config).unwrap();
    pcm.chunks_exact(config.rate.frame_samples())
        .map(|frame| {
            let mut packet = Vec::new();
            let len = encoder.encode(frame, &mut packet).unwrap();
            assert_eq!(len, packet.len());
            packet
        })
        .collect()
}

#[test]
fn rtp_framing_follows_rfc_7587() {
    assert_eq!(RTP_CLOCK_HZ, 48_000);
    assert_eq!(RTP_TIMESTAMP_INCREMENT_20MS, RTP_CLOCK_HZ / 50);
    for (rate, samples) in [
        (OpusRate::Hz8000, 160),
        (OpusRate::Hz16000, 320),
        (OpusRate::Hz48000, 960),
    ] {
        assert_eq!(rate.frame_samples(), samples);
    }
}

#[test]
fn a_1_khz_sine_comes_back_at_its_level() {
    let config = OpusConfig {
        bitrate_bps: 32_000,
        ..OpusConfig::default()
    };
    let input = sine(1000.0, 48_000.0, 10_000.0, 48_000);
    let mut decoder = OpusDecoder::new(OpusRate::Hz48000).unwrap();
    let mut output = Vec::new();
    for packet in packets(&config, &input) {
        assert_eq!(decoder.decode(&packet, &mut output).unwrap(), 960);
    }
    assert_eq!(output.len(), input.len());
    // Past the codec's start-up, the tone is there at its level and little else is.
    let (amplitude, residual) = tone_and_residual(&output[9600..], 1000.0, 48_000.0);
    let level_db = 20.0 * (amplitude / 10_000.0).log10();
    let residual_db = 20.0 * (residual / (amplitude / 2f64.sqrt())).log10();
    println!("1 kHz sine: level {level_db:+.2} dB, residual {residual_db:.1} dB");
    assert!(level_db.abs() < 1.0, "level {level_db} dB");
    assert!(residual_db < -20.0, "residual {residual_db} dB");
}

#[test]
fn speech_at_16_khz_round_trips_at_its_level_and_rate() {
    let config = OpusConfig {
        rate: OpusRate::Hz16000,
        vbr: false,
        ..OpusConfig::default()
    };
    let input = speech_like(41, 16_000 * 3, -20.0);
    let packets = packets(&config, &input);
    assert_eq!(packets.len(), 150);
    // Constant bit rate: 24 kbit/s is 60 octets per 20 ms.
    for packet in &packets {
        assert_eq!(packet.len(), 60);
    }
    let mut decoder = OpusDecoder::new(OpusRate::Hz16000).unwrap();
    let mut output = Vec::new();
    for packet in &packets {
        decoder.decode(packet, &mut output).unwrap();
    }
    assert_eq!(output.len(), input.len());
    let level = 20.0 * (rms(&output) / rms(&input)).log10();
    println!("speech at 16 kHz: level {level:+.2} dB");
    assert!(level.abs() < 1.5, "level {level} dB");
    // Decoding the same packets at 8 kHz gives about the band-limited signal's level.
    let mut narrow = OpusDecoder::new(OpusRate::Hz8000).unwrap();
    let mut output8 = Vec::new();
    for packet in &packets {
        assert_eq!(narrow.decode(packet, &mut output8).unwrap(), 160);
    }
    let level8 = 20.0 * (rms(&output8) / rms(&downsample_2x(&input))).log10();
    assert!(level8.abs() < 1.5, "level at 8 kHz {level8} dB");
}

#[test]
fn a_lost_frame_is_concealed_and_fec_recovers_it_better() {
    let config = OpusConfig {
        rate: OpusRate::Hz16000,
        expected_loss_percent: 20,
        ..OpusConfig::default()
    };
    let input = speech_like(42, 16_000 * 4, -18.0);
    let packets = packets(&config, &input);
    let frame = config.rate.frame_samples();

    // Reference: every packet decoded.
    let mut decoder = OpusDecoder::new(config.rate).unwrap();
    let mut clean = Vec::new();
    for packet in &packets {
        decoder.decode(packet, &mut clean).unwrap();
    }

    // Lose every 10th packet: conceal it, or rebuild it from the next packet's FEC.
    let mut concealed = Vec::new();
    let mut recovered = Vec::new();
    let mut plc = OpusDecoder::new(config.rate).unwrap();
    let mut fec = OpusDecoder::new(config.rate).unwrap();
    for (i, packet) in packets.iter().enumerate() {
        if i % 10 == 5 {
            assert_eq!(plc.decode_lost(None, &mut concealed).unwrap(), frame);
            let next = &packets[i + 1];
            assert_eq!(fec.decode_lost(Some(next), &mut recovered).unwrap(), frame);
        } else {
            plc.decode(packet, &mut concealed).unwrap();
            fec.decode(packet, &mut recovered).unwrap();
        }
    }
    assert_eq!(concealed.len(), clean.len());
    assert_eq!(recovered.len(), clean.len());

    // Error against the clean decoding over the lost frames.
    let (mut energy, mut plc_error, mut fec_error) = (0.0, 0.0, 0.0);
    let mut concealed_energy = 0.0;
    for i in (5..packets.len()).step_by(10) {
        for n in i * frame..(i + 1) * frame {
            let c = f64::from(clean[n]);
            energy += c * c;
            concealed_energy += f64::from(concealed[n]).powi(2);
            plc_error += (f64::from(concealed[n]) - c).powi(2);
            fec_error += (f64::from(recovered[n]) - c).powi(2);
        }
    }
    let plc_snr = 10.0 * (energy / plc_error).log10();
    let fec_snr = 10.0 * (energy / fec_error).log10();
    println!("lost frames against clean decoding: PLC {plc_snr:.1} dB, FEC {fec_snr:.1} dB");
    // Concealment fills the gap with sound (not silence); FEC rebuilds it more faithfully.
    assert!(concealed_energy > 0.05 * energy);
    assert!(
        fec_snr > plc_snr + 3.0,
        "FEC {fec_snr} dB, PLC {plc_snr} dB"
    );
}

#[test]
fn wrong_frame_lengths_and_bad_settings_are_errors() {
    let mut encoder = OpusEncoder::new(&OpusConfig::default()).unwrap();
    let mut out = Vec::new();
    for len in [0, 1, 480, 959, 961, 1920] {
        assert_eq!(
            encoder.encode(&vec![0; len], &mut out),
            Err(OpusError::FrameLength {
                expected: 960,
                got: len
            })
        );
    }
    assert!(out.is_empty());
    for config in [
        OpusConfig {
            bitrate_bps: 100,
            ..OpusConfig::default()
        },
        OpusConfig {
            complexity: 11,
            ..OpusConfig::default()
        },
        OpusConfig {
            expected_loss_percent: 101,
            ..OpusConfig::default()
        },
    ] {
        assert!(matches!(
            OpusEncoder::new(&config),
            Err(OpusError::Config(_))
        ));
    }
}

#[test]
fn garbage_packets_are_errors_or_audio_never_panics() {
    let mut rng = StdRng::seed_from_u64(43);
    let mut decoder = OpusDecoder::new(OpusRate::Hz48000).unwrap();
    let mut out = Vec::new();
    assert_eq!(decoder.decode(&[], &mut out), Err(OpusError::EmptyPacket));
    assert_eq!(
        decoder.decode_lost(Some(&[]), &mut out),
        Err(OpusError::EmptyPacket)
    );
    assert!(out.is_empty());
    let (mut ok, mut invalid) = (0, 0);
    for _ in 0..5000 {
        let len = rng.random_range(1..=1500);
        let packet: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let before = out.len();
        match decoder.decode(&packet, &mut out) {
            Ok(samples) => {
                assert_eq!(out.len(), before + samples);
                assert!(samples <= 5760);
                ok += 1;
            }
            Err(OpusError::InvalidPacket) => {
                assert_eq!(out.len(), before);
                invalid += 1;
            }
            Err(other) => panic!("unexpected error {other}"),
        }
        out.clear();
    }
    println!("random packets: {ok} decoded, {invalid} rejected as invalid");
    assert!(ok > 0 && invalid > 0);
    // The decoder still works afterwards.
    decoder.reset().unwrap();
    let packets = packets(&OpusConfig::default(), &vec![0; 960 * 3]);
    for packet in &packets {
        assert_eq!(decoder.decode(packet, &mut out).unwrap(), 960);
    }
}

#[test]
fn reset_encoder_repeats_its_output() {
    let config = OpusConfig::default();
    let input = sine(440.0, 48_000.0, 8000.0, 960 * 5);
    let mut encoder = OpusEncoder::new(&config).unwrap();
    let mut first = Vec::new();
    for frame in input.chunks_exact(960) {
        encoder.encode(frame, &mut first).unwrap();
    }
    encoder.reset().unwrap();
    let mut second = Vec::new();
    for frame in input.chunks_exact(960) {
        encoder.encode(frame, &mut second).unwrap();
    }
    assert_eq!(first, second);
}
