//! Voice quality against the ITU-T P.862 reference implementation.
//!
//! Builds a corpus of real speech (espeak-ng, eight voices in six languages, 8 s each, 8 kHz
//! 16-bit via sox), passes it through G.711 µ-law with packet loss in 20 ms frames (random and
//! Gilbert–Elliott bursts, concealed by silence or by pitch repetition) and the three network
//! conditions of ACC-PESQ-GOOD/POOR/BAD (loss, delay, and jitter as late discards), then scores
//! every pair with callcert and with the ITU-T reference (PyPI `pesq`, through
//! `tests/quality/pesq_reference.py`). Needs espeak-ng, sox and Python with `pesq`: a missing
//! tool fails the test with the command that installs it.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use callcert::quality::{self, Band, PesqScore};
use callcert_codecs::g711;
use common::write_wav;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// The accuracy criterion: mean absolute MOS-LQO difference from the reference implementation.
const MAX_MEAN_ABS_DIFF: f64 = 0.05;
/// No single pair may be further off than this (the P.862 conformance hard limit).
const MAX_ABS_DIFF: f64 = 0.5;

/// espeak-ng voice (language and variant) and what it says; each says at least 8 s.
const VOICES: [(&str, &str); 8] = [
    (
        "en-us",
        "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
         It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    ),
    (
        "en-us+f3",
        "Thank you for calling. Your call is important to us. Please hold while we connect you \
         to the next available agent, or press star to leave a message.",
    ),
    (
        "en-gb",
        "A large size in stockings is hard to sell. The boy was there when the sun rose. \
         Rice is often served in round bowls. The juice of lemons makes fine punch.",
    ),
    (
        "en-gb+f4",
        "To check your balance, press one. To report a lost card, press two. For all other \
         enquiries, please stay on the line and an adviser will be with you shortly.",
    ),
    (
        "de",
        "Guten Tag, Sie sind mit dem Kundenservice verbunden. Bitte wählen Sie die Eins für \
         Rechnungen und die Zwei für technische Fragen. Vielen Dank für Ihre Geduld.",
    ),
    (
        "fr+f2",
        "Bonjour et bienvenue. Pour le service client, tapez un. Pour les questions techniques, \
         tapez deux. Merci de patienter, un conseiller va vous répondre.",
    ),
    (
        "cmn",
        "您好，欢迎致电客户服务中心。查询账单请按一，技术支持请按二，人工服务请按零。",
    ),
    (
        "es+m3",
        "Buenos días, gracias por llamar. Para facturación, pulse uno. Para soporte técnico, \
         pulse dos. Un agente le atenderá en breve.",
    ),
];

/// Narrowband rate and the 20 ms packet at it.
const RATE: u32 = 8_000;
const FRAME: usize = 160;

/// How lost packets are filled.
#[derive(Debug, Clone, Copy)]
enum Concealment {
    /// Zeros in place of the lost frame.
    Silence,
    /// The last pitch period repeated, fading out over four frames.
    PitchRepetition,
}

/// Which packets the network loses.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// Each packet independently, with this probability.
    Random(f64),
    /// Two-state Gilbert model: bursts of mean length `mean_burst` packets, `rate` lost overall.
    Bursty { rate: f64, mean_burst: f64 },
}

/// One network condition of the corpus.
#[derive(Debug, Clone, Copy)]
struct Condition {
    name: &'static str,
    loss: Loss,
    /// Constant one-way delay (leading silence in the degraded signal).
    delay_ms: u32,
    /// Standard deviation of the delay variation; the jitter buffer holds two of them, and a
    /// packet later than that is discarded (concealed like a lost one).
    jitter_ms: f64,
    concealment: Concealment,
}

const GOOD: Condition = Condition {
    name: "good",
    loss: Loss::Random(0.0),
    delay_ms: 20,
    jitter_ms: 0.0,
    concealment: Concealment::PitchRepetition,
};
const POOR: Condition = Condition {
    name: "poor",
    loss: Loss::Random(0.01),
    delay_ms: 100,
    jitter_ms: 20.0,
    concealment: Concealment::PitchRepetition,
};
const BAD: Condition = Condition {
    name: "bad",
    loss: Loss::Random(0.05),
    delay_ms: 400,
    jitter_ms: 60.0,
    concealment: Concealment::PitchRepetition,
};

/// Loss conditions from 0.5 to 10 %, random and bursty, with either concealment.
const LOSSES: [Condition; 8] = {
    const fn lossy(name: &'static str, loss: Loss, concealment: Concealment) -> Condition {
        Condition {
            name,
            loss,
            delay_ms: 0,
            jitter_ms: 0.0,
            concealment,
        }
    }
    [
        lossy(
            "random 1 % silence",
            Loss::Random(0.01),
            Concealment::Silence,
        ),
        lossy(
            "random 3 % pitch",
            Loss::Random(0.03),
            Concealment::PitchRepetition,
        ),
        lossy(
            "random 5 % silence",
            Loss::Random(0.05),
            Concealment::Silence,
        ),
        lossy(
            "random 10 % pitch",
            Loss::Random(0.10),
            Concealment::PitchRepetition,
        ),
        lossy(
            "bursty 2 % pitch",
            Loss::Bursty {
                rate: 0.02,
                mean_burst: 3.0,
            },
            Concealment::PitchRepetition,
        ),
        lossy(
            "bursty 5 % silence",
            Loss::Bursty {
                rate: 0.05,
                mean_burst: 4.0,
            },
            Concealment::Silence,
        ),
        lossy(
            "bursty 10 % pitch",
            Loss::Bursty {
                rate: 0.10,
                mean_burst: 3.0,
            },
            Concealment::PitchRepetition,
        ),
        lossy(
            "random 7 % silence",
            Loss::Random(0.07),
            Concealment::Silence,
        ),
    ]
};

/// Fails with what to install when a command is missing.
fn require(program: &str, args: &[&str], install: &str) {
    let ok = Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{program}` is needed for this test and is missing: {install}"
    );
}

/// 8 s of `voice` saying `text`, 8 kHz mono 16-bit, peak at −6 dBFS, written to `path`.
fn synthesize(voice: &str, text: &str, rate: u32, path: &Path) -> Vec<i16> {
    let raw = path.with_extension("raw.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "155", "-w"])
        .arg(&raw)
        .arg(text)
        .status()
        .expect("run espeak-ng");
    assert!(status.success(), "espeak-ng failed for voice {voice}");
    // 0.2 s of lead-in, then the speech, cut (or padded) to exactly 8 s. -D -R: no dither,
    // repeatable output; -G: no clipping in the resampler; -V1: errors only.
    let status = Command::new("sox")
        .args(["-V1", "-D", "-R", "-G"])
        .arg(&raw)
        .args(["-b", "16", "-e", "signed-integer"])
        .arg(path)
        .args(["channels", "1", "rate", &rate.to_string(), "norm", "-6"])
        .args(["pad", "0.2", "8", "trim", "0", "8"])
        .status()
        .expect("run sox");
    assert!(status.success(), "sox failed for voice {voice}");
    let pcm = quality::read_wav(path).expect("read the synthesized WAV");
    assert_eq!((pcm.rate, pcm.samples.len()), (rate, 8 * rate as usize));
    pcm.samples
}

/// Which of `packets` packets arrive in time to be played (false: lost or late).
fn arrivals(condition: &Condition, packets: usize, rng: &mut StdRng) -> Vec<bool> {
    let mut bad_state = false;
    let jitter = Normal::new(0.0, condition.jitter_ms.max(1e-9)).expect("jitter distribution");
    (0..packets)
        .map(|_| {
            let lost = match condition.loss {
                Loss::Random(p) => rng.random_bool(p),
                Loss::Bursty { rate, mean_burst } => {
                    // Gilbert: leave a burst with r = 1/mean_burst; enter one with
                    // p = rate·r/(1 − rate), so that p/(p + r) = rate.
                    let r = 1.0 / mean_burst;
                    let p = rate * r / (1.0 - rate);
                    bad_state = if bad_state {
                        !rng.random_bool(r)
                    } else {
                        rng.random_bool(p)
                    };
                    bad_state
                }
            };
            let late = condition.jitter_ms > 0.0 && jitter.sample(rng) > 2.0 * condition.jitter_ms;
            !lost && !late
        })
        .collect()
}

/// Fills a lost frame from what was played before it (`played`); `run` counts the lost frames
/// before this one in the current burst.
fn conceal(played: &[i16], run: usize, concealment: Concealment, frame: usize) -> Vec<i16> {
    const FADE: [f64; 5] = [1.0, 0.7, 0.4, 0.1, 0.0];
    let gain = FADE[run.min(FADE.len() - 1)];
    if matches!(concealment, Concealment::Silence) || played.len() < 240 || gain == 0.0 {
        return vec![0; frame];
    }
    // The pitch period: the lag of 2.5–15 ms that best matches the last 15 ms with itself.
    let tail = &played[played.len() - 120..];
    let period = (20..=120)
        .max_by(|&a, &b| {
            let score = |lag: usize| {
                let earlier = &played[played.len() - 120 - lag..played.len() - lag];
                let (mut xy, mut yy) = (0.0, 1.0);
                for (&x, &y) in tail.iter().zip(earlier) {
                    xy += f64::from(x) * f64::from(y);
                    yy += f64::from(y) * f64::from(y);
                }
                xy / yy.sqrt()
            };
            score(a).total_cmp(&score(b))
        })
        .unwrap_or(80);
    let cycle = &played[played.len() - period..];
    (0..frame)
        .map(|i| (f64::from(cycle[i % period]) * gain) as i16)
        .collect()
}

/// `reference` sent over `condition` as G.711 µ-law in 20 ms packets and played out.
fn transmit(reference: &[i16], condition: &Condition, seed: u64) -> Vec<i16> {
    let mut rng = StdRng::seed_from_u64(seed);
    let packets = reference.len().div_ceil(FRAME);
    let arrived = arrivals(condition, packets, &mut rng);
    // Constant delay plus the jitter buffer's depth, as leading silence.
    let playout_ms = f64::from(condition.delay_ms) + 2.0 * condition.jitter_ms;
    let mut played = vec![0_i16; (playout_ms * f64::from(RATE) / 1000.0) as usize];
    let mut run = 0;
    let mut codes = [0_u8; FRAME];
    let mut pcm = [0_i16; FRAME];
    for (frame, &ok) in reference.chunks(FRAME).zip(&arrived) {
        if ok {
            let n = g711::encode_ulaw(frame, &mut codes);
            g711::decode_ulaw(&codes[..n], &mut pcm);
            played.extend_from_slice(&pcm[..n]);
            run = 0;
        } else {
            let fill = conceal(&played, run, condition.concealment, frame.len());
            played.extend(fill);
            run += 1;
        }
    }
    played
}

/// One scored pair.
struct Pair {
    voice: &'static str,
    condition: &'static str,
    ours: f64,
    reference_impl: f64,
}

/// Runs the reference scorer over `list` (see pesq_reference.py), one MOS-LQO per pair.
fn reference_scores(list: &Path, expected: usize) -> Vec<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quality/pesq_reference.py");
    // CALLCERT_PYTHON picks the interpreter that has `pesq` when `python3` is another one.
    let python = std::env::var("CALLCERT_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .arg(&script)
        .arg(list)
        .output()
        .unwrap_or_else(|e| panic!("`{python}` is needed for this test: {e}"));
    assert!(
        output.status.success(),
        "the ITU-T P.862 reference (PyPI `pesq`) did not run with `{python}`: {}\n\
         Install it with: {python} -m pip install numpy cython && {python} -m pip install pesq",
        String::from_utf8_lossy(&output.stderr)
    );
    let scores: Vec<f64> = String::from_utf8(output.stdout)
        .expect("UTF-8 scores")
        .lines()
        .map(|l| l.trim().parse().expect("a score per line"))
        .collect();
    assert_eq!(scores.len(), expected, "one reference score per pair");
    scores
}

/// Prints the per-pair table and returns (mean abs diff, max abs diff).
fn compare(title: &str, pairs: &[Pair]) -> (f64, f64) {
    let mut table = String::new();
    for p in pairs {
        writeln!(
            table,
            "{:<10} {:<22} ours {:.3}  ITU-T {:.3}  diff {:+.4}",
            p.voice,
            p.condition,
            p.ours,
            p.reference_impl,
            p.ours - p.reference_impl
        )
        .unwrap();
    }
    let diffs: Vec<f64> = pairs
        .iter()
        .map(|p| (p.ours - p.reference_impl).abs())
        .collect();
    let mad = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let max = diffs.iter().copied().fold(0.0, f64::max);
    println!(
        "{title}\n{table}{title}: {} pairs, MAD {mad:.6}, max abs diff {max:.6}",
        pairs.len()
    );
    (mad, max)
}

fn mos(score: &PesqScore) -> f64 {
    score.mos_lqo
}

#[test]
fn narrowband_scores_match_the_itu_reference_on_a_g711_corpus() {
    require("espeak-ng", &["--version"], "apt-get install -y espeak-ng");
    require("sox", &["--version"], "apt-get install -y sox");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut list = String::new();
    let mut pairs = Vec::new();
    for (v, &(voice, text)) in VOICES.iter().enumerate() {
        let reference_path = dir.path().join(format!("ref{v}.wav"));
        let reference = synthesize(voice, text, RATE, &reference_path);
        let prepared = quality::PreparedReference::narrowband(&reference, RATE).expect("prepare");
        let conditions = [GOOD, POOR, BAD, LOSSES[v % 8], LOSSES[(v + 3) % 8]];
        for (c, condition) in conditions.iter().enumerate() {
            let seed = (v * 100 + c) as u64;
            let degraded = transmit(&reference, condition, seed);
            let degraded_path = dir.path().join(format!("deg{v}_{c}.wav"));
            write_wav(&degraded_path, &degraded, RATE);
            let ours = quality::score_nb(&reference, &degraded, RATE)
                .unwrap_or_else(|e| panic!("{voice} {}: {e}", condition.name));
            let again = prepared
                .score(&degraded)
                .expect("score with the prepared reference");
            assert_eq!(ours, again, "{voice} {}", condition.name);
            writeln!(
                list,
                "nb\t{RATE}\t{}\t{}",
                reference_path.display(),
                degraded_path.display()
            )
            .unwrap();
            pairs.push(Pair {
                voice,
                condition: condition.name,
                ours: mos(&ours),
                reference_impl: f64::NAN,
            });
        }
    }
    check_against_reference(
        dir.path(),
        &list,
        &mut pairs,
        "narrowband P.862 MOS-LQO, callcert vs ITU-T",
    );

    // The corpus spans the scale, and the three network conditions rank in order.
    let mean = |name: &str| {
        let scores: Vec<f64> = pairs
            .iter()
            .filter(|p| p.condition == name)
            .map(|p| p.ours)
            .collect();
        scores.iter().sum::<f64>() / scores.len() as f64
    };
    let (good, poor, bad) = (mean("good"), mean("poor"), mean("bad"));
    println!("mean MOS-LQO: good {good:.3}, poor {poor:.3}, bad {bad:.3}");
    assert!(good > 3.8, "clean G.711 must pass ACC-PESQ-GOOD: {good}");
    assert!(good > poor && poor > bad, "{good} {poor} {bad}");
    let lowest = pairs.iter().map(|p| p.ours).fold(f64::INFINITY, f64::min);
    assert!(
        lowest < 3.0,
        "the corpus must reach well into the degraded range: {lowest}"
    );
}

#[test]
fn wideband_scores_match_the_itu_reference() {
    require("espeak-ng", &["--version"], "apt-get install -y espeak-ng");
    require("sox", &["--version"], "apt-get install -y sox");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut list = String::new();
    let mut pairs = Vec::new();
    for (v, &(voice, text)) in VOICES.iter().enumerate().step_by(2) {
        let reference_path = dir.path().join(format!("ref{v}.wav"));
        let reference = synthesize(voice, text, 16_000, &reference_path);
        for (c, loss) in [Loss::Random(0.0), Loss::Random(0.04), Loss::Random(0.10)]
            .into_iter()
            .enumerate()
        {
            // 16-bit linear PCM in 20 ms packets; lost packets are replaced by silence.
            let mut rng = StdRng::seed_from_u64((v * 10 + c) as u64);
            let degraded: Vec<i16> = reference
                .chunks(320)
                .flat_map(|frame| {
                    let lost = matches!(loss, Loss::Random(p) if rng.random_bool(p));
                    frame.iter().map(move |&s| if lost { 0 } else { s })
                })
                .collect();
            let degraded_path = dir.path().join(format!("deg{v}_{c}.wav"));
            write_wav(&degraded_path, &degraded, 16_000);
            let ours = quality::score(&reference, &degraded, 16_000, Band::Wide)
                .unwrap_or_else(|e| panic!("{voice} {loss:?}: {e}"));
            writeln!(
                list,
                "wb\t16000\t{}\t{}",
                reference_path.display(),
                degraded_path.display()
            )
            .unwrap();
            pairs.push(Pair {
                voice,
                condition: ["wb clean", "wb random 4 %", "wb random 10 %"][c],
                ours: ours.mos_lqo,
                reference_impl: f64::NAN,
            });
        }
    }
    check_against_reference(
        dir.path(),
        &list,
        &mut pairs,
        "wideband P.862.2 MOS-LQO, callcert vs ITU-T",
    );
}

#[test]
fn a_prompt_is_found_and_scored_inside_a_received_call() {
    require("espeak-ng", &["--version"], "apt-get install -y espeak-ng");
    require("sox", &["--version"], "apt-get install -y sox");
    let dir = tempfile::tempdir().expect("temp dir");
    let prompt = synthesize(
        VOICES[4].0,
        VOICES[4].1,
        RATE,
        &dir.path().join("prompt.wav"),
    );
    let other = synthesize(
        VOICES[1].0,
        VOICES[1].1,
        RATE,
        &dir.path().join("other.wav"),
    );
    let lossy = Condition {
        delay_ms: 0,
        ..LOSSES[1]
    };
    for (lead, condition) in [(4_321, GOOD), (12_000, lossy), (800, POOR)] {
        // Another prompt's last seconds, then the prompt through the network, then 1 s more.
        let sent = transmit(&prompt, &condition, lead as u64);
        let mut received: Vec<i16> = other[other.len() - lead..].to_vec();
        received.extend_from_slice(&sent);
        received.extend_from_slice(&other[..RATE as usize]);
        let network_delay = sent.len() - prompt.len();
        let expected = (lead + network_delay) as i64;

        let found = quality::align(&prompt, &received, RATE).expect("the prompt is found");
        assert!(
            (found.offset - expected).abs() <= 1,
            "{}: found {found:?}, expected offset {expected}",
            condition.name
        );
        let scored = quality::score_received(&prompt, &received, RATE, Band::Narrow)
            .expect("score the received prompt");
        let exact = quality::score_nb(
            &prompt,
            &received[expected as usize..][..prompt.len()],
            RATE,
        )
        .expect("score the exact segment");
        assert!(
            (scored.score.mos_lqo - exact.mos_lqo).abs() < 0.05,
            "{}: {scored:?} vs {exact:?}",
            condition.name
        );
    }
    // A recording without the prompt is an error, not a score.
    assert!(matches!(
        quality::score_received(&prompt, &other, RATE, Band::Narrow),
        Err(quality::QualityError::ReferenceNotFound)
    ));
}

/// Scores the pairs of `list` with the ITU-T reference and checks ours against them.
fn check_against_reference(dir: &std::path::Path, list: &str, pairs: &mut [Pair], title: &str) {
    let list_path = dir.join("pairs.tsv");
    std::fs::write(&list_path, list).expect("write the pair list");
    let scores = reference_scores(&list_path, pairs.len());
    for (pair, score) in pairs.iter_mut().zip(scores) {
        pair.reference_impl = score;
    }
    let (mad, max) = compare(title, pairs);
    assert!(
        mad <= MAX_MEAN_ABS_DIFF,
        "MAD {mad:.4} > {MAX_MEAN_ABS_DIFF}"
    );
    assert!(
        max <= MAX_ABS_DIFF,
        "max abs diff {max:.4} > {MAX_ABS_DIFF}"
    );
}
