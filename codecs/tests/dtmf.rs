//! DTMF generation and detection: Q.23/Q.24 tones through G.711, timing to the sample, talk-off
//! on the prompt recordings, and streaming behaviour.

use callcert_codecs::dtmf::{
    dbm0_to_amplitude, frequencies, tone_samples, DetectedDigit, DetectorConfig, DtmfDetector,
    DtmfEvent, DtmfTone, COLUMN_HZ, DEFAULT_LEVEL_DBM0, DIGITS, FULL_SCALE_PEAK,
    FULL_SCALE_SINE_DBM0, ROW_HZ, SAMPLE_RATE_HZ,
};
use callcert_codecs::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use std::path::{Path, PathBuf};

/// Samples per millisecond.
const MS: usize = SAMPLE_RATE_HZ as usize / 1000;

/// Largest allowed boundary error: 1 ms.
const TOLERANCE: u64 = 8;

#[derive(Clone, Copy, Debug)]
enum Law {
    Ulaw,
    Alaw,
}

/// Encodes and decodes every sample with G.711, as a call leg does.
fn g711(samples: &[i16], law: Law) -> Vec<i16> {
    samples
        .iter()
        .map(|&x| match law {
            Law::Ulaw => ulaw_decode(ulaw_encode(x)),
            Law::Alaw => alaw_decode(alaw_encode(x)),
        })
        .collect()
}

/// Seeded xorshift64* noise generator (no `rand` needed).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Approximately Gaussian (sum of 12 uniforms), unit variance.
    fn gaussian(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

/// A test signal with the true position of every tone in it.
#[derive(Default)]
struct Signal {
    samples: Vec<i16>,
    truth: Vec<DetectedDigit>,
}

impl Signal {
    fn silence(&mut self, samples: usize) -> &mut Self {
        self.samples.resize(self.samples.len() + samples, 0);
        self
    }

    fn tone(&mut self, digit: char, level: f64, twist: f64, samples: usize) -> &mut Self {
        let start = self.samples.len() as u64;
        self.samples
            .extend(tone_samples(digit, level, twist, samples));
        self.truth.push(DetectedDigit {
            digit: digit.to_ascii_uppercase(),
            start_sample: start,
            end_sample: start + samples as u64,
        });
        self
    }

    fn audio(&mut self, samples: &[i16]) -> &mut Self {
        self.samples.extend_from_slice(samples);
        self
    }
}

/// Runs a default detector over `samples`, `chunk` samples per push, then flushes.
fn detect_events(samples: &[i16], chunk: usize) -> Vec<DtmfEvent> {
    let mut detector = DtmfDetector::new(DetectorConfig::default());
    let mut events = Vec::new();
    for part in samples.chunks(chunk) {
        detector.push(part);
        events.extend(std::iter::from_fn(|| detector.poll()));
    }
    detector.flush();
    events.extend(std::iter::from_fn(|| detector.poll()));
    assert_eq!(detector.samples_seen(), samples.len() as u64);
    events
}

/// The digits of `events`, checking that each `Started` precedes its own `Ended`.
fn digits_of(events: &[DtmfEvent]) -> Vec<DetectedDigit> {
    let mut open: Option<(char, u64)> = None;
    let mut digits = Vec::new();
    for event in events {
        match *event {
            DtmfEvent::Started { digit, sample } => {
                assert!(open.is_none(), "Started while a digit is open: {events:?}");
                open = Some((digit, sample));
            }
            DtmfEvent::Ended(d) => {
                assert_eq!(open.take(), Some((d.digit, d.start_sample)), "{events:?}");
                assert!(d.end_sample > d.start_sample);
                digits.push(d);
            }
        }
    }
    assert!(open.is_none(), "a digit never ended: {events:?}");
    digits
}

fn detect(samples: &[i16]) -> Vec<DetectedDigit> {
    digits_of(&detect_events(samples, 160))
}

/// Asserts `found` is `truth` digit for digit with boundaries within `TOLERANCE`; returns the
/// largest start and end errors.
fn assert_matches(found: &[DetectedDigit], truth: &[DetectedDigit], what: &str) -> (i64, i64) {
    let seq = |d: &[DetectedDigit]| d.iter().map(|d| d.digit).collect::<String>();
    assert_eq!(seq(found), seq(truth), "{what}: {found:?}");
    let (mut start_err, mut end_err) = (0i64, 0i64);
    for (f, t) in found.iter().zip(truth) {
        let ds = f.start_sample as i64 - t.start_sample as i64;
        let de = f.end_sample as i64 - t.end_sample as i64;
        assert!(
            ds.unsigned_abs() <= TOLERANCE && de.unsigned_abs() <= TOLERANCE,
            "{what}: found {f:?}, true {t:?}"
        );
        start_err = start_err.max(ds.abs());
        end_err = end_err.max(de.abs());
    }
    (start_err, end_err)
}

#[test]
fn all_digits_at_minus_20_dbm0_through_g711_to_the_sample() {
    let mut worst = (0, 0);
    let mut histogram = [0usize; 2 * TOLERANCE as usize + 1];
    for law in [Law::Ulaw, Law::Alaw] {
        // Lead-ins covering every alignment of the tones with the 51-sample block hop.
        for lead in (0..51).step_by(5) {
            let mut signal = Signal::default();
            signal.silence(100 * MS + lead);
            for digit in DIGITS {
                signal.tone(digit, -20.0, 0.0, 40 * MS).silence(40 * MS);
            }
            signal.silence(60 * MS);
            let found = detect(&g711(&signal.samples, law));
            let what = format!("{law:?}, lead-in {lead}");
            let (s, e) = assert_matches(&found, &signal.truth, &what);
            worst = (worst.0.max(s), worst.1.max(e));
            for (f, t) in found.iter().zip(&signal.truth) {
                for error in [
                    f.start_sample as i64 - t.start_sample as i64,
                    f.end_sample as i64 - t.end_sample as i64,
                ] {
                    histogram[(error + TOLERANCE as i64) as usize] += 1;
                }
            }
        }
    }
    println!(
        "16 digits × 11 alignments × 2 laws: worst |start error| {} samples, worst |end error| {} \
         samples; error histogram −8..=8: {histogram:?}",
        worst.0, worst.1
    );
}

#[test]
fn digits_with_twist_and_noise() {
    for twist in [4.0, -4.0] {
        let mut signal = Signal::default();
        signal.silence(50 * MS);
        for digit in DIGITS {
            signal
                .tone(digit, DEFAULT_LEVEL_DBM0, twist, 40 * MS)
                .silence(40 * MS);
        }
        let (s, e) = assert_matches(
            &detect(&g711(&signal.samples, Law::Ulaw)),
            &signal.truth,
            &format!("twist {twist} dB"),
        );
        println!("twist {twist:+} dB: worst |start error| {s}, |end error| {e} samples");
    }

    // White noise 20 dB below the tone power (two components at the default level).
    let tone_power = 2.0 * dbm0_to_amplitude(DEFAULT_LEVEL_DBM0).powi(2) / 2.0;
    let sigma = (tone_power / 100.0).sqrt();
    for (seed, level) in [(1u64, DEFAULT_LEVEL_DBM0), (2, -20.0)] {
        let sigma = sigma * dbm0_to_amplitude(level) / dbm0_to_amplitude(DEFAULT_LEVEL_DBM0);
        let mut signal = Signal::default();
        signal.silence(50 * MS);
        for digit in DIGITS {
            signal.tone(digit, level, 0.0, 40 * MS).silence(40 * MS);
        }
        let mut noise = Noise(seed);
        let noisy: Vec<i16> = signal
            .samples
            .iter()
            .map(|&x| (x as f64 + sigma * noise.gaussian()).round() as i16)
            .collect();
        let (s, e) = assert_matches(
            &detect(&g711(&noisy, Law::Alaw)),
            &signal.truth,
            &format!("{level} dBm0, 20 dB SNR"),
        );
        println!("{level} dBm0 with 20 dB SNR: worst |start error| {s}, |end error| {e} samples");
    }
}

#[test]
fn frequencies_off_by_one_and_a_half_percent_are_detected() {
    // Q.24: receivers accept ±1.5 % frequency deviation.
    for deviation in [-0.015, 0.015] {
        let mut samples = vec![0i16; 400];
        let a = dbm0_to_amplitude(-10.0);
        for (i, &digit) in DIGITS.iter().enumerate() {
            let (low, high) = frequencies(digit).unwrap();
            let w = |f: f64| 2.0 * std::f64::consts::PI * f * (1.0 + deviation) / 8000.0;
            samples.extend((0..40 * MS).map(|n| {
                let n = n as f64;
                (a * (w(low) * n).sin() + a * (w(high) * n + i as f64).sin()).round() as i16
            }));
            samples.extend(std::iter::repeat_n(0, 50 * MS));
        }
        let found: String = detect(&samples).iter().map(|d| d.digit).collect();
        assert_eq!(found, DIGITS.iter().collect::<String>(), "{deviation}");
    }
}

/// Reads an 8 kHz mono 16-bit PCM WAV file (just enough RIFF for the prompt files).
fn read_wav(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF", "{path:?}");
    assert_eq!(&bytes[8..12], b"WAVE", "{path:?}");
    let mut at = 12;
    let mut format_ok = false;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
            assert_eq!((u16_at(0), u16_at(2), rate, u16_at(14)), (1, 1, 8000, 16));
            format_ok = true;
        } else if id == b"data" {
            assert!(format_ok, "{path:?}: data before fmt");
            return body
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("{path:?}: no data chunk");
}

/// Every prompt recording: `scenarios/prompts/*.wav` and, when present,
/// `scenarios/ivr/prompts/*.wav`.
fn prompts() -> Vec<(PathBuf, Vec<i16>)> {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    for dir in [scenarios.join("prompts"), scenarios.join("ivr/prompts")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "wav") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 3, "prompt recordings missing: {files:?}");
    files
        .into_iter()
        .map(|path| {
            let samples = read_wav(&path);
            (path, samples)
        })
        .collect()
}

/// `samples` scaled by `gain_db`, saturated to 16 bits.
fn gain(samples: &[i16], gain_db: f64) -> Vec<i16> {
    let g = 10f64.powf(gain_db / 20.0);
    samples
        .iter()
        .map(|&x| (x as f64 * g).round() as i16)
        .collect()
}

#[test]
fn no_talk_off_on_a_minute_of_speech() {
    let prompts = prompts();
    let mut seconds = 0.0;
    let mut pass = 0usize;
    while seconds < 60.0 || pass < 8 {
        let law = if pass.is_multiple_of(2) {
            Law::Ulaw
        } else {
            Law::Alaw
        };
        let gain_db = [0.0, -6.0, -12.0, 3.0][pass / 2 % 4];
        // A different order each pass: rotate, and reverse every other rotation.
        let mut order: Vec<usize> = (0..prompts.len()).collect();
        order.rotate_left(pass % prompts.len());
        if pass / prompts.len() % 2 == 1 {
            order.reverse();
        }
        let mut speech = Vec::new();
        for &i in &order {
            speech.extend(gain(&prompts[i].1, gain_db));
        }
        let events = detect_events(&g711(&speech, law), 160);
        assert!(
            events.is_empty(),
            "talk-off at {gain_db} dB, {law:?}, order {order:?}: {events:?}"
        );
        seconds += speech.len() as f64 / SAMPLE_RATE_HZ as f64;
        pass += 1;
    }
    println!(
        "no detection on {seconds:.1} s of speech ({} prompt files, {pass} passes, gains 0/−6/−12/+3 dB, µ-law and A-law)",
        prompts.len()
    );
}

#[test]
fn digits_between_prompts_are_found() {
    let prompts = prompts();
    let mut signal = Signal::default();
    for (i, (_, speech)) in prompts.iter().enumerate() {
        signal.audio(speech);
        // Prompts end with 200 ms and start with 100 ms of silence: the tone sits in that gap.
        signal
            .silence(20 * MS)
            .tone(DIGITS[i * 5 % 16], -20.0, 0.0, 40 * MS)
            .silence(20 * MS);
    }
    signal.audio(&prompts[0].1);
    for law in [Law::Ulaw, Law::Alaw] {
        let (s, e) = assert_matches(
            &detect(&g711(&signal.samples, law)),
            &signal.truth,
            &format!("between prompts, {law:?}"),
        );
        println!("between prompts ({law:?}): worst |start error| {s}, |end error| {e} samples");
    }
}

#[test]
fn a_20_ms_tone_is_not_a_digit() {
    for lead in (0..51).step_by(3) {
        let mut signal = Signal::default();
        signal
            .silence(lead)
            .tone('5', -10.0, 0.0, 20 * MS)
            .silence(100 * MS);
        assert!(detect_events(&signal.samples, 160).is_empty(), "{lead}");
    }
}

#[test]
fn gaps_shorter_than_min_gap_are_bridged() {
    // Policy: a gap under `min_gap` (25 ms) inside one digit is bridged, and the digit spans
    // both tones; from 25 ms on, the tones are two digits. The gap is measured on the refined
    // boundaries, so the limit holds to the sample whatever the alignment.
    for lead in (0..51).step_by(3) {
        for gap_ms in [10, 24, 25] {
            let mut signal = Signal::default();
            signal
                .silence(40 * MS + lead)
                .tone('9', -20.0, 0.0, 40 * MS)
                .silence(gap_ms * MS)
                .tone('9', -20.0, 0.0, 40 * MS)
                .silence(60 * MS);
            let what = format!("gap {gap_ms} ms, lead {lead}");
            if gap_ms < 25 {
                let whole = DetectedDigit {
                    digit: '9',
                    start_sample: signal.truth[0].start_sample,
                    end_sample: signal.truth[1].end_sample,
                };
                assert_matches(&detect(&signal.samples), &[whole], &what);
            } else {
                assert_matches(&detect(&signal.samples), &signal.truth, &what);
            }
        }
    }
}

#[test]
fn same_digit_twice_and_direct_digit_changes() {
    let mut signal = Signal::default();
    signal
        .silence(30 * MS)
        .tone('1', -15.0, 0.0, 40 * MS)
        .silence(40 * MS)
        .tone('1', -15.0, 0.0, 40 * MS)
        .silence(30 * MS)
        .tone('#', -15.0, 0.0, 60 * MS)
        .silence(100 * MS);
    assert_matches(&detect(&signal.samples), &signal.truth, "1 1 #");

    // No gap at all between two different digits: both found, the boundary still exact.
    let mut signal = Signal::default();
    signal
        .silence(30 * MS)
        .tone('4', -15.0, 0.0, 60 * MS)
        .tone('D', -15.0, 0.0, 60 * MS)
        .silence(100 * MS);
    let found = detect(&signal.samples);
    let digits: String = found.iter().map(|d| d.digit).collect();
    assert_eq!(digits, "4D");
    assert_matches(&found, &signal.truth, "4 then D without a gap");
}

#[test]
fn detections_do_not_depend_on_the_chunk_size() {
    let prompts = prompts();
    let mut signal = Signal::default();
    signal.audio(&prompts[0].1);
    for (i, digit) in DIGITS.into_iter().enumerate() {
        signal
            .tone(digit, -12.0, (i as f64 - 8.0) / 2.0, (40 + 7 * i) * MS)
            .silence((30 + 5 * i) * MS);
    }
    signal.audio(&prompts[1].1).tone('7', -20.0, 0.0, 300 * MS);
    let samples = g711(&signal.samples, Law::Ulaw);
    let reference = detect_events(&samples, samples.len());
    assert_eq!(digits_of(&reference).len(), 17);
    // The last tone runs to the end of the stream: flush ends it there.
    let last = digits_of(&reference).last().unwrap().end_sample;
    assert!(last.abs_diff(samples.len() as u64) <= TOLERANCE, "{last}");
    for chunk in [1, 7, 160, 1000] {
        assert_eq!(detect_events(&samples, chunk), reference, "chunk {chunk}");
    }
}

#[test]
fn events_come_soon_after_the_tone_starts_and_ends() {
    // Pushed one sample at a time: when is each event first available?
    let (mut started, mut ended) = ((u64::MAX, 0), (u64::MAX, 0));
    let mut noise = Noise(5);
    for (lead, sigma) in (0..51).flat_map(|lead| [(lead, 0.0), (lead, 300.0)]) {
        let mut signal = Signal::default();
        signal
            .silence(100 + lead)
            .tone('3', -10.0, 0.0, 60 * MS)
            .silence(100 * MS);
        let truth = signal.truth[0];
        let mut detector = DtmfDetector::new(DetectorConfig::default());
        for (i, &x) in signal.samples.iter().enumerate() {
            detector.push(&[(x as f64 + sigma * noise.gaussian()) as i16]);
            let now = i as u64 + 1;
            while let Some(event) = detector.poll() {
                let (range, since) = match event {
                    DtmfEvent::Started { sample, .. } => {
                        assert!(sample.abs_diff(truth.start_sample) <= 1);
                        (&mut started, now - truth.start_sample)
                    }
                    DtmfEvent::Ended(d) => {
                        assert!(d.end_sample.abs_diff(truth.end_sample) <= 1);
                        (&mut ended, now - truth.end_sample)
                    }
                };
                *range = (range.0.min(since), range.1.max(since));
            }
        }
    }
    println!(
        "Started {:.1}..{:.1} ms after the tone's start, Ended {:.1}..{:.1} ms after its end",
        started.0 as f64 / 8.0,
        started.1 as f64 / 8.0,
        ended.0 as f64 / 8.0,
        ended.1 as f64 / 8.0
    );
    // min_tone (30 ms) plus at most one block hop; min_gap (25 ms) plus at most 11 ms.
    assert!(started.1 <= (30 + 7) * MS as u64, "{started:?}");
    assert!(ended.1 <= (25 + 11) * MS as u64, "{ended:?}");
}

#[test]
fn never_panics_and_never_detects_garbage() {
    let mut detector = DtmfDetector::new(DetectorConfig::default());
    detector.push(&[]);
    detector.flush();
    assert_eq!(detector.poll(), None);
    let mut noise = Noise(7);
    let mut buf = vec![0i16; 8000];
    for round in 0..20 {
        for x in buf.iter_mut() {
            *x = match round % 4 {
                0 => (noise.uniform() * 65536.0 - 32768.0) as i16,
                1 => {
                    if noise.uniform() < 0.5 {
                        i16::MIN
                    } else {
                        i16::MAX
                    }
                }
                2 => i16::MIN,
                _ => (noise.gaussian() * 3000.0) as i16,
            };
        }
        detector.push(&buf[..round * 397 % 8000]);
        detector.push(&[]);
    }
    detector.flush();
    assert_eq!(detector.poll(), None);

    // Saturated (square-ish) tones and absurd configurations must not panic either.
    let loud = tone_samples('8', 20.0, 0.0, 4000);
    let configs = [
        DetectorConfig::default(),
        DetectorConfig {
            min_tone: std::time::Duration::ZERO,
            min_gap: std::time::Duration::ZERO,
            min_level_dbm0: f64::NEG_INFINITY,
            ..DetectorConfig::default()
        },
        DetectorConfig {
            min_tone: std::time::Duration::MAX,
            min_gap: std::time::Duration::MAX,
            min_level_dbm0: f64::NAN,
            max_second_harmonic_db: f64::NAN,
            ..DetectorConfig::default()
        },
    ];
    for config in configs {
        let mut detector = DtmfDetector::new(config);
        detector.push(&loud);
        detector.push(&buf);
        detector.flush();
        while detector.poll().is_some() {}
    }
}

#[test]
fn generated_tones_have_the_requested_level() {
    // 0 dBm0: a sine 3.17 dB below the µ-law full-scale peak.
    assert!((dbm0_to_amplitude(FULL_SCALE_SINE_DBM0) - FULL_SCALE_PEAK).abs() < 1e-9);
    assert!((dbm0_to_amplitude(0.0) - 22_657.0).abs() < 1.0);

    let level_db = |power: f64| 10.0 * (power / (dbm0_to_amplitude(0.0).powi(2) / 2.0)).log10();
    for digit in DIGITS {
        for (level, twist) in [
            (DEFAULT_LEVEL_DBM0, 0.0),
            (-20.0, 0.0),
            (-6.0, 3.0),
            (-30.0, -4.0),
        ] {
            // One second: every Q.23 frequency is a whole number of cycles, so each DFT
            // coefficient below sees its own component only.
            let samples = tone_samples(digit, level, twist, SAMPLE_RATE_HZ as usize);
            let n = samples.len() as f64;
            let rms_power = samples.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n;
            let (low, high) = frequencies(digit).unwrap();
            let component = |f: f64| {
                let w = 2.0 * std::f64::consts::PI * f / SAMPLE_RATE_HZ as f64;
                let (mut re, mut im) = (0.0, 0.0);
                for (i, &x) in samples.iter().enumerate() {
                    re += x as f64 * (w * i as f64).cos();
                    im -= x as f64 * (w * i as f64).sin();
                }
                2.0 * (re * re + im * im) / (n * n)
            };
            let expected_total =
                10.0 * (10f64.powf(level / 10.0) + 10f64.powf((level + twist) / 10.0)).log10();
            let checks = [
                ("low", level_db(component(low)), level),
                ("high", level_db(component(high)), level + twist),
                ("total RMS", level_db(rms_power), expected_total),
            ];
            for (what, got, want) in checks {
                assert!(
                    (got - want).abs() < 0.1,
                    "{digit} {level} dBm0 {twist} dB: {what} {got:.3} dBm0, want {want:.3}"
                );
            }
        }
    }
}

#[test]
fn generator_is_phase_continuous_and_validates_digits() {
    let whole = tone_samples('b', -8.0, 2.0, 1000);
    let mut tone = DtmfTone::new('B', -8.0, 2.0).unwrap();
    let mut pieces = vec![0i16; 1000];
    for part in pieces.chunks_mut(37) {
        tone.fill(part);
    }
    assert!(whole.iter().zip(&pieces).all(|(a, b)| a.abs_diff(*b) <= 1));
    assert!(DtmfTone::new('E', -8.0, 0.0).is_none());
    assert!(tone_samples('x', -8.0, 0.0, 100).is_empty());
    assert_eq!(frequencies('a'), Some((ROW_HZ[0], COLUMN_HZ[3])));
    assert_eq!(frequencies('*'), Some((941.0, 1209.0)));
    assert_eq!(frequencies('0'), Some((941.0, 1336.0)));
    assert_eq!(frequencies('#'), Some((941.0, 1477.0)));
    assert_eq!(frequencies('5'), Some((770.0, 1336.0)));
    // Clipped, not wrapped, beyond full scale.
    let hot = tone_samples('1', 6.0, 6.0, 200);
    assert!(hot.contains(&i16::MAX) && hot.contains(&i16::MIN));
}

/// `samples` of `digit` with each sine at a random phase (real senders do not start at zero
/// phase) and a random frequency error within ±`deviation`.
fn tone_at_phase(
    digit: char,
    level: f64,
    twist: f64,
    samples: usize,
    rng: &mut Noise,
    deviation: f64,
) -> Vec<i16> {
    let (low, high) = frequencies(digit).unwrap();
    let (pl, ph) = (rng.uniform() * 6.3, rng.uniform() * 6.3);
    let (dl, dh) = (
        1.0 + deviation * (2.0 * rng.uniform() - 1.0),
        1.0 + deviation * (2.0 * rng.uniform() - 1.0),
    );
    let (al, ah) = (dbm0_to_amplitude(level), dbm0_to_amplitude(level + twist));
    let w = |f: f64| 2.0 * std::f64::consts::PI * f / SAMPLE_RATE_HZ as f64;
    (0..samples)
        .map(|n| {
            let n = n as f64;
            (al * (w(low * dl) * n + pl).sin() + ah * (w(high * dh) * n + ph).sin()).round() as i16
        })
        .collect()
}

#[test]
fn boundaries_of_tones_at_random_phase_and_frequency_error() {
    let mut rng = Noise(99);
    for deviation in [0.0, 0.015] {
        let mut signal = Signal::default();
        signal.silence(400);
        for round in 0..40 {
            for digit in DIGITS {
                let level = -20.0 + 15.0 * rng.uniform();
                let twist = 8.0 * rng.uniform() - 4.0;
                let len = 40 * MS + (rng.uniform() * 80.0) as usize;
                let start = signal.samples.len() as u64;
                let tone = tone_at_phase(digit, level, twist, len, &mut rng, deviation);
                signal.audio(&tone);
                signal.truth.push(DetectedDigit {
                    digit,
                    start_sample: start,
                    end_sample: start + len as u64,
                });
                signal.silence(40 * MS + round);
            }
        }
        let found = detect(&g711(&signal.samples, Law::Alaw));
        let what = format!("frequency error up to {deviation}");
        let (s, e) = assert_matches(&found, &signal.truth, &what);
        println!(
            "{} tones at random phase, −20..−5 dBm0, twist ±4 dB, {what}, A-law: \
             worst |start error| {s}, |end error| {e} samples",
            found.len()
        );
    }
}
