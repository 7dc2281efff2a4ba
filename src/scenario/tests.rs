//! Scenario loading: the shipped files, every kind of error with its position and field.

use super::*;
use crate::sip::dialog::TransportKind;
use crate::sip::sdp::AudioCodec;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn no_env(_: &str) -> Option<OsString> {
    None
}

/// Parses `text` as if it were `smoke.yaml` next to the shipped prompts.
fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_scenario_with_env(text, &scenarios_dir().join("smoke.yaml"), &no_env)
}

/// The error's display with the directory stripped: `smoke.yaml:L:C: field: message`.
fn err(text: &str) -> String {
    let e = parse(text).expect_err("must fail");
    let dir = format!("{}/", scenarios_dir().display());
    e.to_string().replace(&dir, "")
}

const MINIMAL: &str = "name: t\ntarget: sip:ivr@127.0.0.1:5080\ncalls: 1\nrate: 1\n";

#[test]
fn shipped_ci_scenario_loads_with_its_thresholds() {
    let s = load_scenario(&scenarios_dir().join("ci.yaml")).expect("ci.yaml loads");
    assert_eq!(s.thresholds.len(), 5);
    assert!(s.abort_on_fail);
    assert!(s.profile.is_none());
}

#[test]
fn shipped_smoke_scenario_loads() {
    let s = load_scenario(&scenarios_dir().join("smoke.yaml")).expect("smoke.yaml loads");
    assert_eq!(s.name, "smoke");
    assert_eq!(s.target.to_string(), "sip:ivr@127.0.0.1:5080");
    assert_eq!(s.transport, TransportKind::Udp);
    assert_eq!(s.calls, 60);
    assert_eq!(s.rate, 10.0);
    assert_eq!(s.profile.as_deref(), Some("yd2823-acceptance"));
    // The profile's thresholds, then the scenario's own four.
    assert!(s.thresholds.len() > 4);
    assert_eq!(
        s.thresholds.last().map(|t| t.metric.as_str()),
        Some("setup_time")
    );
    assert_eq!(s.call.hold, Duration::from_secs(2));
    assert_eq!(
        s.call.audio,
        CallerAudio::File(scenarios_dir().join("prompts/caller.wav"))
    );
    assert_eq!(s.codecs, vec![AudioCodec::Pcmu]);
    assert_eq!(s.local, "0.0.0.0:0".parse().expect("literal"));
    assert!(s.credentials.is_none());
}

#[test]
fn defaults() {
    let s = parse(MINIMAL).expect("minimal parses");
    assert_eq!(s.seed, 1);
    assert_eq!(s.codec(), AudioCodec::Pcmu);
    assert!(s.telephone_event);
    assert_eq!(s.timers, Timers::default());
    assert_eq!(s.call, CallPlan::default());
    assert_eq!(s.call.answer_timeout, Duration::from_secs(32));
    assert_eq!(s.call.voice_threshold_dbov, -35.0);
    assert_eq!(s.max_concurrent, None);
    let v6 = parse("name: t\ntarget: sip:ivr@[::1]:5080\ncalls: 1\nrate: 0.5\n").expect("v6");
    assert_eq!(v6.local, "[::]:0".parse().expect("literal"));
    let tel = parse("name: t\ntarget: tel:+15551234567\ncalls: 1\nrate: 1\n").expect("tel");
    assert_eq!(tel.target.to_string(), "tel:+15551234567");
}

#[test]
fn full_file() {
    let text = "\
name: full
target: sips:ivr@example.org
transport: tcp
local: 192.0.2.1:5070
from: sip:callcert@192.0.2.1
codec: pcma
codecs: [pcmu, pcma]
telephone_event: false
credentials:
  username: alice
  password_env: CALLCERT_PASSWORD
calls: 2000
rate: 2.5
max_concurrent: 500
seed: 42
timers: { t1: 250ms, t2: 2s, t4: 3s }
call:
  answer_timeout: 10s
  hold: 1m30s
  audio: silence
  expect_voice: false
  media_timeout: 1.5s
  voice_threshold_dbov: -40
";
    let env = |name: &str| (name == "CALLCERT_PASSWORD").then(|| OsString::from("s3cret"));
    let s = parse_scenario_with_env(text, Path::new("full.yaml"), &env).expect("parses");
    assert_eq!(s.transport, TransportKind::Tcp);
    assert_eq!(s.codecs, vec![AudioCodec::Pcma, AudioCodec::Pcmu]);
    assert!(!s.telephone_event);
    let c = s.credentials.as_ref().expect("credentials");
    assert_eq!((c.username.as_str(), c.password()), ("alice", "s3cret"));
    assert!(!format!("{s:?}").contains("s3cret"), "Debug must redact");
    assert_eq!(s.timers.t1, Duration::from_millis(250));
    assert_eq!(s.call.hold, Duration::from_secs(90));
    assert_eq!(s.call.media_timeout, Duration::from_millis(1500));
    assert_eq!(s.call.audio, CallerAudio::Silence);
    assert_eq!(s.max_concurrent, Some(500));
    assert_eq!(
        s.from.map(|u| u.to_string()),
        Some("sip:callcert@192.0.2.1".into())
    );
}

#[test]
fn unknown_field_is_named_with_position() {
    assert_eq!(
        err("name: t\ntarget: sip:a@b\ncalls: 1\nrate: 1\ncall:\n  hold: 2s\n  hangup_after: 3s\n"),
        "smoke.yaml:7:3: call.hangup_after: unknown field `hangup_after`, expected one of \
answer_timeout, hold, audio, expect_voice, expect_media, media, media_timeout, voice_threshold_dbov, prompts, steps, quality"
    );
    assert!(err(&format!("{MINIMAL}bogus: 1\n"))
        .starts_with("smoke.yaml:5:1: bogus: unknown field `bogus`"));
}

#[test]
fn wrong_type() {
    let e = err("name: t\ntarget: sip:a@b\ncalls: many\nrate: 1\n");
    assert!(e.starts_with("smoke.yaml:3:8: calls: "), "{e}");
    let e = err(&format!("{MINIMAL}transport: sctp\n"));
    assert!(e.starts_with("smoke.yaml:5:12: transport: "), "{e}");
    assert!(e.contains("sctp"), "{e}");
    let e = err(&format!("{MINIMAL}codecs: [pcmu, opus]\n"));
    assert!(e.starts_with("smoke.yaml:5:16: codecs[1]: "), "{e}");
    let e = err(&format!("{MINIMAL}call: [1, 2]\n"));
    assert!(e.starts_with("smoke.yaml:5:7: call: "), "{e}");
}

#[test]
fn bad_duration() {
    assert_eq!(
        err("name: t\ntarget: sip:a@b\ncalls: 1\nrate: 1\nseed: 3\ncall:\n  hold: 3 seconds\n"),
        "smoke.yaml:7:9: call.hold: invalid duration \"3 seconds\": expected <number><unit>, \
units us, ms, s, m, h"
    );
    let e = err(&format!("{MINIMAL}timers: {{ t1: 500ms, t2: 4 }}\n"));
    assert!(
        e.starts_with("smoke.yaml:5:26: timers.t2: invalid duration \"4\": missing unit"),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}call:\n  answer_timeout: 0s\n"));
    assert_eq!(
        e,
        "smoke.yaml:6:19: call.answer_timeout: must be greater than 0"
    );
    let e = err(&format!("{MINIMAL}timers: {{ t1: 5s, t2: 4s }}\n"));
    assert!(
        e.starts_with("smoke.yaml:5:23: timers.t2: T2 must not be shorter than T1"),
        "{e}"
    );
}

#[test]
fn bad_uri() {
    for (target, why) in [
        ("http://example.org", "expected a sip:, sips:, tel: URI"),
        ("ivr@127.0.0.1", "expected a sip:, sips:, tel: URI"),
        ("\"sip:\"", "empty host"),
        ("sip:ivr @127.0.0.1", "no spaces"),
        ("sip:ivr@[::1", "bad host"),
        ("sip:ivr@exa_mple.org", "bad host"),
        ("tel:555x", "bad telephone number"),
        ("sip:ivr@127.0.0.1:99999", ""),
    ] {
        let e = err(&format!("name: t\ntarget: {target}\ncalls: 1\nrate: 1\n"));
        assert!(
            e.starts_with("smoke.yaml:2:9: target: invalid URI \""),
            "{target}: {e}"
        );
        assert!(e.contains(why), "{target}: {e}");
    }
    let e = err(&format!("{MINIMAL}from: tel:+1555\n"));
    assert!(e.starts_with("smoke.yaml:5:7: from: invalid URI"), "{e}");
    let e = err(&format!("{MINIMAL}local: localhost:5060\n"));
    assert!(
        e.starts_with("smoke.yaml:5:8: local: invalid socket address"),
        "{e}"
    );
}

#[test]
fn missing_required() {
    let e = err("name: t\ncalls: 1\nrate: 1\n");
    assert!(e.starts_with("smoke.yaml:"), "{e}");
    assert!(e.contains(": target: missing field `target`"), "{e}");
    let e = err("name: t\ntarget: sip:a@b\nrate: 1\ncredentials:\n  password: x\n");
    assert!(
        e.contains("credentials.username: missing field `username`"),
        "{e}"
    );
    let e = err("");
    assert!(e.starts_with("smoke.yaml:"), "{e}");
}

#[test]
fn credentials_exclusive_and_env() {
    let both =
        format!("{MINIMAL}credentials:\n  username: alice\n  password: x\n  password_env: PW\n");
    assert_eq!(
        err(&both),
        "smoke.yaml:8:17: credentials.password_env: set either password or password_env, not both"
    );
    let neither = format!("{MINIMAL}credentials:\n  username: alice\n");
    assert_eq!(
        err(&neither),
        "smoke.yaml:6:3: credentials: set one of password or password_env"
    );
    let env = format!("{MINIMAL}credentials: {{ username: alice, password_env: CALLCERT_NOPE }}\n");
    let e = err(&env);
    assert_eq!(
        e,
        "smoke.yaml:5:47: credentials.password_env: environment variable CALLCERT_NOPE is not set or is empty"
    );
    let literal = format!("{MINIMAL}credentials:\n  username: alice\n  password: hunter2\n");
    let s = parse(&literal).expect("parses");
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn audio_must_exist() {
    let e = err(&format!("{MINIMAL}call:\n  audio: prompts/nope.wav\n"));
    assert_eq!(
        e,
        "smoke.yaml:6:10: call.audio: file not found: prompts/nope.wav"
    );
    let s = parse(&format!("{MINIMAL}call:\n  audio: prompts/welcome.wav\n")).expect("exists");
    assert_eq!(
        s.call.audio,
        CallerAudio::File(scenarios_dir().join("prompts/welcome.wav"))
    );
}

#[test]
fn value_checks() {
    let cases = [
        (
            "name: t\ntarget: sip:a@b\ncalls: 0\nrate: 1\n",
            "smoke.yaml:3:8: calls: must be at least 1",
        ),
        (
            "name: t\ntarget: sip:a@b\ncalls: 1\nrate: 0\n",
            "smoke.yaml:4:7: rate: must be a positive number of calls per second, got 0",
        ),
        (
            "name: t\ntarget: sip:a@b\ncalls: 1\nrate: -2\n",
            "smoke.yaml:4:7: rate: must be a positive number of calls per second, got -2",
        ),
        (
            "name: '  '\ntarget: sip:a@b\ncalls: 1\nrate: 1\n",
            "smoke.yaml:1:7: name: must not be empty",
        ),
        (
            "name: t\ntarget: sip:a@b\ncalls: 1\nrate: 1\nmax_concurrent: 0\n",
            "smoke.yaml:5:17: max_concurrent: must be at least 1",
        ),
        (
            "name: t\ntarget: sip:a@b\ncalls: 1\nrate: 1\ncodec: pcma\ncodecs: [pcmu]\n",
            "smoke.yaml:5:8: codec: pcma is not in codecs",
        ),
        (
            "name: t\ntarget: sip:a@b\ncalls: 1\nrate: 1\ncodecs: []\n",
            "smoke.yaml:5:9: codecs: must list at least one codec",
        ),
        (
            "name: t\ntarget: sip:a@b\ncalls: 1\nrate: 1\ncall: { voice_threshold_dbov: 3 }\n",
            "smoke.yaml:5:31: call.voice_threshold_dbov: must be between -120 and 0 dBov, got 3",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want, "{text}");
    }
    let e = err("name: t\ntarget: sip:a@b\ncalls: -1\nrate: 1\n");
    assert!(e.starts_with("smoke.yaml:3:8: calls: "), "{e}");
    let e = err("name: t\nname: u\ntarget: sip:a@b\ncalls: 1\nrate: 1\n");
    assert!(e.contains("duplicate"), "{e}");
}

#[test]
fn unreadable_file() {
    let e = load_scenario(Path::new("/nonexistent/callcert.yaml")).expect_err("missing");
    assert!(matches!(e, ScenarioError::Read { .. }));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/callcert.yaml: cannot read: "),
        "{e}"
    );
    assert_eq!(e.field(), "");
}

#[test]
fn garbage_never_panics() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(9);
    let pieces = [
        "name: ",
        "target: ",
        "sip:",
        "@",
        "[",
        "]",
        "{",
        "}",
        ":",
        "\n",
        "  ",
        "- ",
        "calls: ",
        "rate: ",
        "call:",
        "hold: ",
        "3s",
        "1.5",
        "credentials:",
        "password_env: ",
        "&a ",
        "*a",
        "'",
        "\"",
        "#",
        "!!str ",
        "<<: ",
        "?",
        ",",
        "\t",
        "\u{7f}",
        "é",
        "tel:",
        "sips:",
    ];
    for _ in 0..3000 {
        let text: String = (0..rng.random_range(0..30))
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        let _ = parse(&text);
    }
}

#[test]
fn a_load_section_replaces_calls_and_rate() {
    let s = parse(
        "name: t\ntarget: sip:a@127.0.0.1\nload:\n  erlangs_per_trunk: 0.7\n  trunks: 30\n  \
         holding: 180s\n  profile: yd2823\n",
    );
    let s = s.unwrap_or_else(|e| panic!("{e}"));
    let load = s.load.clone().expect("load");
    assert_eq!(load.trunks, Some(30));
    assert_eq!(
        load.profile.duration(),
        std::time::Duration::from_secs(4 * 3600)
    );
    // 0.875 Erl/trunk × 30 / 180 s in the busy hours.
    assert!((s.rate - 0.875 * 30.0 / 180.0).abs() < 1e-9, "{}", s.rate);
    let e = err("name: t\ntarget: sip:a@127.0.0.1\nload:\n  erlangs: 5\n  holding: 1s\n");
    assert!(e.contains("load.duration: give a duration"), "{e}");
    let e = err(
        "name: t\ntarget: sip:a@127.0.0.1\ncalls: 3\nload:\n  erlangs: 5\n  holding: 1s\n  \
         duration: 1m\n",
    );
    assert!(
        e.contains("calls: set either calls and rate, or load"),
        "{e}"
    );
    let e = err("name: t\ntarget: sip:a@127.0.0.1\nload:\n  erlangs: 5\n  \
         holding: { dist: gamma, mean: 1s }\n  duration: 1m\n");
    assert!(e.contains("load.holding.dist: unknown distribution"), "{e}");
    let e = err("name: t\ntarget: sip:a@127.0.0.1\n");
    assert!(e.contains("calls: missing"), "{e}");
}

#[test]
fn malformed_steps_name_file_line_and_field() {
    // Parsed as if the file sat in scenarios/ivr/, where `prompts` resolves.
    let at = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ivr/t.yaml"));
    let e = |steps: &str| {
        let text = format!(
            "name: t\ntarget: sip:a@127.0.0.1\ncalls: 1\nrate: 1\ncall:\n  prompts: prompts\n  \
             steps:\n{steps}"
        );
        crate::scenario::parse_scenario(&text, at)
            .unwrap_err()
            .to_string()
    };
    let msg = e("    - wait_prompt: balanse\n");
    assert!(msg.contains("t.yaml:8:"), "{msg}");
    assert!(
        msg.contains("call.steps[0].wait_prompt: unknown prompt 'balanse'"),
        "{msg}"
    );
    let msg = e("    - dtmf: { digits: \"1\", method: sms }\n");
    assert!(
        msg.contains("call.steps[0].dtmf.method: unknown DTMF method"),
        "{msg}"
    );
    let msg = e("    - wait_prompt: welcome\n    - dtmf: \"1x\"\n");
    assert!(
        msg.contains("t.yaml:9:") && msg.contains("'x' is not a DTMF digit"),
        "{msg}"
    );
    let msg = e("    - agent: { detect: telepathy }\n");
    assert!(
        msg.contains("call.steps[0].agent.detect: unknown detection"),
        "{msg}"
    );
    let msg = e("    - wait_prompt: welcome\n    - expect_answer: 5s\n");
    assert!(msg.contains("must be the first step"), "{msg}");
}
