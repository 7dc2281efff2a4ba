//! G.722 hot paths: encoding and decoding one second of 16 kHz speech in 20 ms frames, as a
//! media task does per call, and the 8/16 kHz resamplers on the same second.

use callcert_codecs::g722::{G722Decoder, G722Encoder, FRAME_20MS_BYTES, FRAME_20MS_SAMPLES};
use callcert_codecs::resample::{downsample_2x, upsample_2x};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

// The tests' helpers (the bench uses their WAV reader).
#[path = "../tests/common/mod.rs"]
mod common;
use common::wav_samples;

fn g722(c: &mut Criterion) {
    let prompt =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/prompts/welcome.wav");
    // One second of voiced speech past the 100 ms lead-in, at 16 kHz.
    let narrow = wav_samples(&prompt)[800..8800].to_vec();
    let speech = upsample_2x(&narrow);
    assert_eq!(speech.len(), 16_000);
    let mut octets = Vec::with_capacity(8000);
    G722Encoder::new().encode(&speech, &mut octets);

    let mut group = c.benchmark_group("g722_1s");
    group.throughput(Throughput::Elements(16_000));
    let mut out_octets = Vec::with_capacity(FRAME_20MS_BYTES);
    let mut out_pcm = Vec::with_capacity(FRAME_20MS_SAMPLES);
    group.bench_function("encode", |b| {
        b.iter(|| {
            let mut encoder = G722Encoder::new();
            for frame in black_box(&speech).chunks(FRAME_20MS_SAMPLES) {
                out_octets.clear();
                encoder.encode(frame, &mut out_octets);
            }
            black_box(&out_octets);
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut decoder = G722Decoder::new();
            for packet in black_box(&octets).chunks(FRAME_20MS_BYTES) {
                out_pcm.clear();
                decoder.decode(packet, &mut out_pcm);
            }
            black_box(&out_pcm);
        })
    });
    group.bench_function("encode_decode", |b| {
        b.iter(|| {
            let mut encoder = G722Encoder::new();
            let mut decoder = G722Decoder::new();
            for frame in black_box(&speech).chunks(FRAME_20MS_SAMPLES) {
                out_octets.clear();
                out_pcm.clear();
                encoder.encode(frame, &mut out_octets);
                decoder.decode(&out_octets, &mut out_pcm);
            }
            black_box(&out_pcm);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("resample_1s");
    group.throughput(Throughput::Elements(16_000));
    group.bench_function("upsample_2x", |b| {
        b.iter(|| upsample_2x(black_box(&narrow)))
    });
    group.bench_function("downsample_2x", |b| {
        b.iter(|| downsample_2x(black_box(&speech)))
    });
    group.finish();
}

criterion_group!(benches, g722);
criterion_main!(benches);
