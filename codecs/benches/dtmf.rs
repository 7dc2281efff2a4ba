//! DTMF hot paths: detector throughput on one second of speech (the talk-off path every
//! channel runs) and of digits (the boundary-refinement path), and tone generation per 20 ms
//! frame.

use callcert_codecs::dtmf::{DetectorConfig, DtmfDetector, DtmfTone, DIGITS};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// Samples in one 20 ms frame.
const FRAME: usize = 160;

// The tests' helpers (the bench uses their WAV reader).
#[path = "../tests/common/mod.rs"]
mod common;
use common::wav_samples;

/// Pushes `audio` frame by frame through a fresh detector and drains its events.
fn run(audio: &[i16]) -> usize {
    let mut detector = DtmfDetector::new(DetectorConfig::default());
    let mut events = 0;
    for frame in audio.chunks(FRAME) {
        detector.push(frame);
        while detector.poll().is_some() {
            events += 1;
        }
    }
    detector.flush();
    events + std::iter::from_fn(|| detector.poll()).count()
}

fn detector(c: &mut Criterion) {
    let prompt =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/prompts/welcome.wav");
    // One second of voiced speech, past the 100 ms lead-in.
    let speech = wav_samples(&prompt)[800..8800].to_vec();
    // One second of digits: 40 ms tones, 40 ms gaps, at −20 dBm0.
    let mut digits = Vec::with_capacity(8000);
    for digit in DIGITS.iter().cycle().take(12) {
        let mut tone = [0i16; 320];
        DtmfTone::new(*digit, -20.0, 0.0).unwrap().fill(&mut tone);
        digits.extend_from_slice(&tone);
        digits.extend_from_slice(&[0; 320]);
    }
    digits.resize(8000, 0);
    assert_eq!(run(&speech), 0);
    assert_eq!(run(&digits), 24);

    let mut group = c.benchmark_group("dtmf_detector_1s");
    group.throughput(Throughput::Elements(8000));
    group.bench_function("speech", |b| b.iter(|| run(black_box(&speech))));
    group.bench_function("digits", |b| b.iter(|| run(black_box(&digits))));
    group.finish();
}

fn generator(c: &mut Criterion) {
    let mut group = c.benchmark_group("dtmf_tone_frame_160");
    group.throughput(Throughput::Elements(FRAME as u64));
    let mut tone = DtmfTone::new('5', -8.0, 0.0).unwrap();
    let mut frame = [0i16; FRAME];
    group.bench_function("fill", |b| b.iter(|| tone.fill(black_box(&mut frame))));
    group.finish();
}

criterion_group!(benches, detector, generator);
criterion_main!(benches);
