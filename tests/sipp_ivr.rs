//! IVR interoperability with SIPp 3.6.1 (Debian `sip-tester`) and its `play_pcap_audio`, whose
//! RTP comes from pcaps built here at test time (`tests/common/sipp_media.rs`):
//!
//! * SIPp as the caller keys RFC 4733 (RFC 2833) digits into the reference call center's IVR
//!   (`callcert sut --ivr scenarios/ivr/bank.yaml --fixed-delays`), which must follow them to
//!   the balance query;
//! * SIPp as a tiny IVR answering SIP INFO digits with prompts after a set pause
//!   (`tests/sipp/uas_ivr_info.xml`), which callcert calls and measures: the DTMF responses it
//!   reports must be SIPp's pauses plus the prompts' 100 ms lead-in plus SIPp's few
//!   milliseconds of INFO → RTP latency.
//!
//! `play_pcap_audio` sends from a raw socket: the tests run as root (as CI does).
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "common/sipp_media.rs"]
mod sipp_media;

use common::*;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Any addresses do for the pcaps: SIPp rewrites them (and the ports).
fn pcap_ends() -> (SocketAddrV4, SocketAddrV4) {
    (
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:40002".parse().unwrap(),
    )
}

/// Length of an 8 kHz WAV.
fn wav_len(path: &Path) -> Duration {
    let samples = sipp_media::read_wav_8k_mono(path).unwrap_or_else(|e| panic!("{e}"));
    Duration::from_secs_f64(samples.len() as f64 / 8000.0)
}

/// A SIPp command running in `dir` (where `-trace_err` writes its error log), with the options
/// every run here shares: loopback SIP and media on the given ports, one call, no keyboard, a
/// global 30 s timeout that fails the run; `remote` is the peer of a caller.
fn sipp_command(
    dir: &Path,
    remote: Option<&str>,
    scenario: &str,
    sip_port: u16,
    media_port: u16,
) -> Command {
    let mut cmd = Command::new(sipp());
    cmd.current_dir(dir)
        .args(remote)
        .arg("-sf")
        .arg(root().join("tests/sipp").join(scenario))
        .args(["-i", "127.0.0.1", "-p", &sip_port.to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
        .args(["-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error"])
        .arg("-trace_err")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// What SIPp wrote to its error logs in `dir`, for failure messages.
fn sipp_errors(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with("_errors.log") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            out.push_str(&format!("--- {name}\n{text}\n"));
        }
    }
    out
}

/// Waits for SIPp's exit (at most `limit`) and requires success (every call as scripted).
fn expect_sipp_success(sipp: &mut Proc, dir: &Path, limit: Duration) {
    let status = sipp.wait_for(limit);
    assert!(
        status.success(),
        "sipp exit {status}; error log:\n{}",
        sipp_errors(dir)
    );
}

/// Starts `callcert sut --ivr scenarios/ivr/bank.yaml --fixed-delays` on 127.0.0.1:`port`.
fn start_bank_sut(port: u16) -> Proc {
    let p = Proc::spawn(
        "callcert sut --ivr",
        callcert()
            .arg("sut")
            .arg("--ivr")
            .arg(root().join("scenarios/ivr/bank.yaml"))
            .arg("--fixed-delays")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    wait_udp_bound(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(5),
    );
    p
}

/// Time after each prompt's end before the caller keys: well inside the bank IVR's 6 s
/// no-input timeout, and late enough that the digits do not depend on barge-in.
const AFTER_PROMPT: Duration = Duration::from_millis(300);

/// SIPp keys "1" and then "4321#" as RFC 4733 events into the bank IVR: the IVR counts six
/// RFC 4733 digits and walks welcome → main menu → enter account → balance.
///
/// Timeline from the answer, with the bank's fixed delays (`bank.yaml`) and the lengths of the
/// prompts read from their WAVs (each has 100 ms of silence before its voice, which the IVR
/// starts early so that the voice is on time): the welcome's voice at 300 ms; the main menu's
/// 500 ms after the welcome ends; "1" keyed 300 ms after the menu ends; the enter-account
/// prompt's voice 500 ms after the end of "1"; "4321#" 300 ms after that prompt ends; the
/// balance's voice 1500 ms (the query) after the end of "#". The pcap starts 1-3 ms after
/// SIPp's ACK, i.e. at the answer give or take a few ms.
#[test]
fn sipp_sends_rfc2833_digits_that_the_reference_ivr_follows() {
    const DIGIT_MS: u32 = 100;
    const GAP_MS: u32 = 100;
    let prompts = root().join("scenarios/ivr/prompts");
    let lead_in = Duration::from_millis(100);
    let welcome_end = Duration::from_millis(300) - lead_in + wav_len(&prompts.join("welcome.wav"));
    let menu_end = welcome_end + Duration::from_millis(500) - lead_in
        + wav_len(&prompts.join("main_menu.wav"));
    let one_at = menu_end + AFTER_PROMPT;
    // The end of "1": its onset plus the digit, plus the 20 ms slot rounding at most.
    let one_end = one_at + Duration::from_millis(u64::from(DIGIT_MS) + 20);
    let account_end = one_end + Duration::from_millis(500) - lead_in
        + wav_len(&prompts.join("enter_account.wav"));
    let account_at = account_end + AFTER_PROMPT;
    let groups = [(one_at, "1"), (account_at, "4321#")];
    let schedule = sipp_media::rfc2833_digit_groups_schedule(&groups, DIGIT_MS, GAP_MS);
    let hash_end = schedule.last().unwrap().last_end;
    let balance_voice = hash_end + Duration::from_millis(1500);
    // Hang up 2 s into the balance: the IVR schedules a prompt when it enters a node, so the
    // 4th prompt (the balance) is counted at the end of "#" and the 5th (the main menu again)
    // at the balance's end, 3 s after its voice. Had "4321#" been refused, the 5th (enter
    // account again) would have come right after the 2.2 s "invalid" prompt, ~2.5 s after "#",
    // before this BYE: exactly 4 prompts means welcome, main menu, enter account, balance.
    let call_len = balance_voice + Duration::from_millis(2000);
    eprintln!(
        "digit schedule (from the answer): {:?}; balance voice ≈ {balance_voice:?}; BYE at {call_len:?}",
        schedule
            .iter()
            .map(|d| (d.digit, d.onset))
            .collect::<Vec<_>>()
    );

    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("dtmf.pcap");
    let packets = sipp_media::rfc2833_digit_groups_rtp(
        &groups,
        DIGIT_MS,
        GAP_MS,
        sipp_media::PT_TELEPHONE_EVENT,
        0x2833_0001,
    );
    let (src, dst) = pcap_ends();
    sipp_media::write_rtp_pcap(&pcap, &packets, src, dst).unwrap();

    let port = free_port();
    let mut sut = start_bank_sut(port);
    let started = Instant::now();
    let mut uac = Proc::spawn(
        "sipp uac_rfc2833",
        sipp_command(
            dir.path(),
            Some(&format!("127.0.0.1:{port}")),
            "uac_rfc2833.xml",
            free_port(),
            free_port(),
        )
        .arg("-key")
        .arg("dtmf_pcap")
        .arg(&pcap)
        .args(["-d", &call_len.as_millis().to_string()]),
    );
    expect_sipp_success(&mut uac, dir.path(), call_len + Duration::from_secs(15));
    eprintln!("SIPp call done in {:?}", started.elapsed());
    let stats = stop_sut(&mut sut);
    eprintln!("callcert sut counters: {stats}");
    assert_eq!(stats["answered"], 1, "{stats}");
    assert_eq!(stats["digits_rfc4733"], 6, "{stats}");
    assert_eq!(stats["digits_info"], 0, "{stats}");
    assert_eq!(stats["digits_inband"], 0, "{stats}");
    // welcome, main_menu, enter_account, balance; nothing else (no invalid, no goodbye).
    assert_eq!(stats["ivr_prompts"], 4, "{stats}");
    assert_eq!(stats["caller_hangups"], 1, "{stats}");
    assert_eq!(stats["sut_hangups"], 0, "{stats}");
}

/// SIPp's pause before the prompt that answers the first and the second INFO digit.
const PAUSE1_MS: f64 = 700.0;
const PAUSE2_MS: f64 = 400.0;

/// Silence appended to each prompt pcap: none. SIPp sends nothing once a pcap is over; callcert
/// must hear the missing stream as silence and end the prompt (a `dtmf` step without barge-in
/// waits for that end), as with a far end that suppresses silence.
const PROMPT_TAIL: Duration = Duration::from_millis(0);

/// Writes the pcap of one prompt: the WAV (100 ms of silence, then the voice) and
/// [`PROMPT_TAIL`] of silence, as PCMU RTP on its own SSRC.
fn prompt_pcap(wav: &Path, out: &Path, ssrc: u32) {
    let mut samples = sipp_media::read_wav_8k_mono(wav).unwrap_or_else(|e| panic!("{e}"));
    let tail = (PROMPT_TAIL.as_secs_f64() * 8000.0) as usize;
    samples.resize(samples.len() + tail, 0);
    let packets = sipp_media::g711_prompt_rtp(&samples, sipp_media::PT_PCMU, ssrc);
    let (src, dst) = pcap_ends();
    sipp_media::write_rtp_pcap(out, &packets, src, dst).unwrap();
}

fn calls_jsonl(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .expect("calls.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// callcert calls SIPp playing an IVR (`uas_ivr_info.xml`: greeting; per INFO a 200, a pause,
/// the next prompt) and walks it with SIP INFO digits. The flow completes with the three
/// prompts identified by name, and each measured DTMF response (INFO on the wire → voice onset
/// of the next prompt) is SIPp's pause + the prompt's 100 ms lead-in + SIPp's INFO → RTP latency
/// (2-11 ms measured with tshark): 0 ≤ measured − (pause + 100) ≤ 25 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callcert_measures_a_sipp_ivr_answering_info_digits() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = root().join("scenarios/prompts");
    let mut keys: Vec<(String, PathBuf)> = Vec::new();
    for (i, name) in ["welcome", "menu", "caller"].iter().enumerate() {
        let out = dir.path().join(format!("{name}.pcap"));
        prompt_pcap(
            &prompts.join(format!("{name}.wav")),
            &out,
            0x1000_0001 + i as u32,
        );
        keys.push((format!("prompt{}", i + 1), out));
    }
    let port = free_port();
    let mut cmd = sipp_command(dir.path(), None, "uas_ivr_info.xml", port, free_port());
    for (k, path) in &keys {
        cmd.arg("-key").arg(k).arg(path);
    }
    cmd.args(["-set", "pause1", &PAUSE1_MS.to_string()]).args([
        "-set",
        "pause2",
        &PAUSE2_MS.to_string(),
    ]);
    let mut uas = Proc::spawn("sipp uas_ivr_info", &mut cmd);
    wait_udp_bound(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(5),
    );

    // The dtmf steps wait for the prompt to end (SIPp plays each prompt to its end): the
    // digits then leave in silence, and the next voice is the answer. (With barge_in, callcert
    // would take the rest of the prompt, playing on through SIPp's pause, for the next one.)
    let text = "name: sipp-ivr-info\n\
                target: sip:ivr@127.0.0.1:5060\n\
                calls: 1\n\
                rate: 1\n\
                call:\n  prompts: prompts\n  steps:\n\
                \x20   - wait_prompt: welcome\n\
                \x20   - dtmf: { digits: \"5\", method: info }\n\
                \x20   - wait_prompt: menu\n\
                \x20   - dtmf: { digits: \"7\", method: info }\n\
                \x20   - wait_prompt: caller\n\
                \x20   - hangup\n";
    // At scenarios/: `prompts: prompts` is scenarios/prompts.
    let at = root().join("scenarios/inline-test.yaml");
    let scn = callcert::scenario::parse_scenario(text, &at).unwrap_or_else(|e| panic!("{e}"));
    let target = format!("sip:ivr@127.0.0.1:{port}");
    let plan = callcert::cli::build_plan(&scn, Some(&target), None, None)
        .await
        .unwrap();
    let out = dir.path().join("out");
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(40),
        callcert::engine::run(plan, Some(out.clone())),
    )
    .await
    .expect("the run ends within 40 s")
    .expect("the run");
    eprintln!("callcert run done in {:?}", started.elapsed());
    let m = &result.metrics;
    assert_eq!(
        (m.attempted, m.succeeded),
        (1, 1),
        "{:#?}\nSIPp errors:\n{}",
        result.failed_calls.first(),
        sipp_errors(dir.path())
    );
    assert_eq!((m.ivr_flows, m.ivr_completed), (1, 1));
    expect_sipp_success(&mut uas, dir.path(), Duration::from_secs(10));

    let calls = calls_jsonl(&out);
    assert_eq!(calls.len(), 1);
    let ivr = &calls[0]["ivr"];
    eprintln!("ivr: {ivr:#}");
    assert_eq!(ivr["completed"], true, "{ivr:#}");
    let heard: Vec<&str> = ivr["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or("(unknown)"))
        .collect();
    assert_eq!(heard, ["welcome", "menu", "caller"], "{ivr:#}");
    let dtmf: Vec<f64> = ivr["dtmf_response_ms"]
        .as_array()
        .expect("dtmf_response_ms")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(dtmf.len(), 2, "{ivr:#}");
    for (i, (got, pause)) in dtmf.iter().zip([PAUSE1_MS, PAUSE2_MS]).enumerate() {
        let want = pause + 100.0;
        let excess = got - want;
        eprintln!(
            "INFO {}: DTMF response {got:.3} ms = pause {pause} + 100 ms lead-in + {excess:.3} ms",
            i + 1
        );
        assert!(
            (0.0..=25.0).contains(&excess),
            "INFO {}: measured {got:.3} ms, expected {want} ms + 0..25 ms",
            i + 1
        );
    }
}
