//! Prompt detection: the segmenter over 1 s of received audio in 20 ms packets, and identifying
//! a 2 s prefix against a library of 10 reference prompts.

use callcert::media::prompt::{PromptLibrary, PromptReference, PromptSegmenter};
use callcert::media::AudioSource;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const PROMPT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/prompts/");

fn load(name: &str) -> Vec<i16> {
    AudioSource::from_wav(format!("{PROMPT_DIR}{name}.wav"))
        .expect("prompt WAV")
        .samples()
        .to_vec()
}

fn segmenter(c: &mut Criterion) {
    // 1 s holding an onset: 100 ms of silence, then speech.
    let second = &load("welcome")[..8000];
    let mut group = c.benchmark_group("prompt_segmenter");
    group.throughput(Throughput::Elements(second.len() as u64));
    group.bench_function("push_1s_in_20ms_packets", |b| {
        let mut segmenter = PromptSegmenter::default();
        b.iter(|| {
            segmenter.reset();
            for packet in second.chunks(160) {
                segmenter.push(black_box(packet));
            }
            while let Some(event) = segmenter.poll() {
                black_box(event);
            }
        })
    });
    group.finish();
}

fn identify(c: &mut Criterion) {
    let prompts = ["welcome", "caller", "menu"].map(|name| (name, load(name)));
    // Ten references: the three prompts, each backwards, each from its second second on, and
    // the caller prompt followed by the menu.
    let mut library = PromptLibrary::new();
    for (name, samples) in &prompts {
        library.add(PromptReference::new(*name, samples).expect("reference"));
        let mut reversed = samples.clone();
        reversed.reverse();
        library.add(PromptReference::new(format!("{name}_reversed"), &reversed).expect("reversed"));
        library.add(PromptReference::new(format!("{name}_tail"), &samples[8800..]).expect("tail"));
    }
    let mut joined = prompts[1].1.clone();
    joined.extend_from_slice(&prompts[2].1);
    library.add(PromptReference::new("caller_menu", &joined).expect("joined"));
    assert_eq!(library.len(), 10);

    let prefix = &prompts[2].1[800..800 + 16_000];
    c.bench_function("prompt_identify_2s_prefix_10_references", |b| {
        b.iter(|| library.identify(black_box(prefix)))
    });
}

criterion_group!(benches, segmenter, identify);
criterion_main!(benches);
