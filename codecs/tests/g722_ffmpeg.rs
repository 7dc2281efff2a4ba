//! G.722 against FFmpeg's implementation (libavcodec `g722`, written independently from the
//! same Recommendation and documented to pass the ITU-T test sequences): octet for octet from
//! the encoder, sample for sample from the decoder in all three modes, in both directions.
//!
//! Needs the `ffmpeg` program (Debian package `ffmpeg`). Without it these tests print that
//! they were skipped and pass, unless `CALLCERT_REQUIRE_FFMPEG` is set (as CI should), which
//! makes a missing `ffmpeg` a failure.

mod common;

use callcert_codecs::g722::{G722Decoder, G722Encoder, G722Mode};
use common::{prompt_16k, sine, speech_like};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Whether `ffmpeg` can be run; panics if it cannot and `CALLCERT_REQUIRE_FFMPEG` is set.
fn have_ffmpeg(test: &str) -> bool {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CALLCERT_REQUIRE_FFMPEG").is_none(),
            "{test}: ffmpeg not found but CALLCERT_REQUIRE_FFMPEG is set \
             (apt-get install ffmpeg)"
        );
        // Straight to stderr: the test harness would swallow `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "{test}: SKIPPED, ffmpeg not found (Debian package `ffmpeg`)"
        );
    }
    found
}

/// Runs `ffmpeg` with `args` (paths relative to `dir`), failing the test on error.
fn run_ffmpeg(dir: &Path, args: &[&str]) {
    let output = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// FFmpeg's G.722 encoding of 16 kHz `pcm`.
fn ffmpeg_encode(pcm: &[i16]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(dir.path().join("in.raw"), bytes).unwrap();
    run_ffmpeg(
        dir.path(),
        &[
            "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "in.raw", "-c:a", "g722", "-f",
            "g722", "out.g722",
        ],
    );
    std::fs::read(dir.path().join("out.g722")).unwrap()
}

/// FFmpeg's G.722 decoding of `octets` in `mode`.
fn ffmpeg_decode(octets: &[u8], mode: G722Mode) -> Vec<i16> {
    let bits = match mode {
        G722Mode::Kbps64 => "8",
        G722Mode::Kbps56 => "7",
        G722Mode::Kbps48 => "6",
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.g722"), octets).unwrap();
    run_ffmpeg(
        dir.path(),
        &[
            "-bits_per_codeword",
            bits,
            "-f",
            "g722",
            "-i",
            "in.g722",
            "-f",
            "s16le",
            "out.raw",
        ],
    );
    std::fs::read(dir.path().join("out.raw"))
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn our_encode(pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::new();
    G722Encoder::new().encode(pcm, &mut out);
    out
}

fn our_decode(octets: &[u8], mode: G722Mode) -> Vec<i16> {
    let mut out = Vec::new();
    G722Decoder::with_mode(mode).decode(octets, &mut out);
    out
}

/// Asserts equal sequences, naming the first difference.
fn assert_same<T: PartialEq + std::fmt::Debug>(what: &str, ours: &[T], theirs: &[T]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    if let Some(i) = ours.iter().zip(theirs).position(|(a, b)| a != b) {
        let differing = ours.iter().zip(theirs).filter(|(a, b)| a != b).count();
        panic!(
            "{what}: {differing} of {} differ, first at {i}: ours {:?}, ffmpeg {:?}",
            ours.len(),
            ours[i],
            theirs[i]
        );
    }
}

/// Test signals at 16 kHz: speech at several levels, tones, and input that drives the coder
/// into every limit (full-scale squares, the Nyquist alternation, overdriven chirp, full-scale
/// noise, impulses, silence after loud sound).
fn signals() -> Vec<(&'static str, Vec<i16>)> {
    let mut rng = StdRng::seed_from_u64(21);
    let mut extreme = Vec::new();
    for period in [2usize, 4, 16, 54, 320] {
        extreme.extend((0..8000).map(|n| {
            if (n / (period / 2)) % 2 == 0 {
                i16::MAX
            } else {
                i16::MIN
            }
        }));
    }
    extreme.extend((0..32_000).map(|n| {
        let t = n as f64 / 16_000.0;
        let phase = 2.0 * std::f64::consts::PI * (50.0 * t + 3500.0 * t * t / 2.0);
        (60_000.0 * phase.sin()).clamp(-32768.0, 32767.0) as i16
    }));
    extreme.extend((0..16_000).map(|_| rng.random::<i16>()));
    extreme.extend((0..16_000).map(|n| match (n % 97, n % 89) {
        (0, _) => i16::MAX,
        (_, 0) => i16::MIN,
        _ => 0,
    }));
    extreme.extend(std::iter::repeat_n(0, 8000));
    extreme.extend((0..8000).map(|_| rng.random_range(-40..=40)));

    let mut tones = sine(1000.0, -10.0, 16_000);
    tones.extend(sine(7000.0, -6.0, 16_000));
    tones.extend(sine(3999.0, -1.0, 16_000));
    tones.extend(sine(100.0, -45.0, 16_000));
    vec![
        ("speech -30 dBFS", speech_like(31, 48_000, -30.0)),
        ("speech -20 dBFS", speech_like(32, 48_000, -20.0)),
        ("speech -6 dBFS", speech_like(33, 48_000, -6.0)),
        ("welcome.wav", prompt_16k("welcome.wav")),
        ("tones", tones),
        ("extreme", extreme),
    ]
}

#[test]
fn encoder_matches_ffmpeg_octet_for_octet() {
    if !have_ffmpeg("encoder_matches_ffmpeg_octet_for_octet") {
        return;
    }
    let mut total = 0;
    for (name, pcm) in signals() {
        let ours = our_encode(&pcm);
        assert_same(name, &ours, &ffmpeg_encode(&pcm));
        total += ours.len();
    }
    println!("{total} octets identical");
}

#[test]
fn decoder_matches_ffmpeg_in_every_mode() {
    if !have_ffmpeg("decoder_matches_ffmpeg_in_every_mode") {
        return;
    }
    let mut rng = StdRng::seed_from_u64(22);
    let mut streams: Vec<(String, Vec<u8>)> = signals()
        .into_iter()
        .map(|(name, pcm)| (format!("ffmpeg-encoded {name}"), ffmpeg_encode(&pcm)))
        .collect();
    streams.push((
        "random octets".into(),
        (0..100_000).map(|_| rng.random()).collect(),
    ));
    streams.push((
        "runs of every octet".into(),
        (0..=255u8).flat_map(|b| [b; 300]).collect(),
    ));
    let mut total = 0;
    for (name, octets) in &streams {
        for mode in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48] {
            let ours = our_decode(octets, mode);
            assert_same(
                &format!("{name}, {mode:?}"),
                &ours,
                &ffmpeg_decode(octets, mode),
            );
            total += ours.len();
        }
    }
    println!("{total} samples identical");
}

#[test]
fn ffmpeg_decodes_our_stream_as_we_do() {
    if !have_ffmpeg("ffmpeg_decodes_our_stream_as_we_do") {
        return;
    }
    let pcm = speech_like(34, 48_000, -18.0);
    let octets = our_encode(&pcm);
    for mode in [G722Mode::Kbps64, G722Mode::Kbps48] {
        assert_same(
            &format!("{mode:?}"),
            &our_decode(&octets, mode),
            &ffmpeg_decode(&octets, mode),
        );
    }
}
