//! Voice quality: one narrowband P.862 score of an 8 s G.711 call with loss (also against a
//! prepared reference), one wideband score, locating the 8 s prompt in a 20 s received recording, and the E-model.

use callcert::quality::{self, Band, CodecImpairment, EModelInput, Pcm};
use callcert_codecs::g711;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const PROMPT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/prompts/");

/// 8 s of speech at 8 kHz: the welcome prompt followed by the menu prompt.
fn reference() -> Vec<i16> {
    let mut speech = Vec::new();
    for name in ["welcome", "menu"] {
        let path = format!("{PROMPT_DIR}{name}.wav");
        speech.extend(
            quality::read_wav(path.as_ref())
                .expect("prompt WAV")
                .samples,
        );
    }
    speech.resize(8 * 8_000, 0);
    speech
}

/// The reference through G.711 µ-law with every 25th 20 ms frame lost (4 %, silence inserted).
fn degraded(reference: &[i16]) -> Vec<i16> {
    let mut codes = vec![0_u8; reference.len()];
    g711::encode_ulaw(reference, &mut codes);
    let mut out = vec![0_i16; reference.len()];
    g711::decode_ulaw(&codes, &mut out);
    for (frame, chunk) in out.chunks_mut(160).enumerate() {
        if frame % 25 == 7 {
            chunk.fill(0);
        }
    }
    out
}

fn scores(c: &mut Criterion) {
    let reference = reference();
    let degraded = degraded(&reference);
    let mut group = c.benchmark_group("p862");
    group.sample_size(20);
    group.bench_function("narrowband_8s", |b| {
        b.iter(|| quality::score_nb(black_box(&reference), black_box(&degraded), 8_000).unwrap())
    });
    let prepared = quality::PreparedReference::narrowband(&reference, 8_000).unwrap();
    group.bench_function("narrowband_8s_prepared_reference", |b| {
        b.iter(|| prepared.score(black_box(&degraded)).unwrap())
    });
    let up = |x: &[i16]| -> Vec<i16> { x.iter().flat_map(|&s| [s, s]).collect() };
    let (reference_16k, degraded_16k) = (up(&reference), up(&degraded));
    group.bench_function("wideband_8s", |b| {
        b.iter(|| {
            quality::score(
                black_box(&reference_16k),
                black_box(&degraded_16k),
                16_000,
                Band::Wide,
            )
            .unwrap()
        })
    });
    group.finish();
}

fn alignment(c: &mut Criterion) {
    let reference = reference();
    let mut received = vec![0_i16; 7 * 8_000];
    received.extend(degraded(&reference));
    received.resize(20 * 8_000, 0);
    c.bench_function("align_8s_in_20s", |b| {
        b.iter(|| quality::align(black_box(&reference), black_box(&received), 8_000).unwrap())
    });
    let pcm = Pcm {
        samples: received.iter().flat_map(|&s| [s; 6]).collect(),
        rate: 48_000,
    };
    c.bench_function("decimate_20s_48k_to_8k", |b| {
        b.iter(|| black_box(&pcm).to_rate(8_000).unwrap())
    });
}

fn emodel(c: &mut Criterion) {
    let input = EModelInput {
        one_way_delay_ms: 100.0,
        packet_loss_pct: 1.0,
        burst_ratio: 1.3,
        codec: CodecImpairment::G711Plc,
    };
    c.bench_function("emodel_r_factor", |b| {
        b.iter(|| quality::r_factor(black_box(&input)).unwrap())
    });
}

criterion_group!(benches, scores, alignment, emodel);
criterion_main!(benches);
