//! Calls with baresip (Debian `baresip`), a real softphone: callcert calls it, and it calls the
//! reference call center. Its `sndfile` module records what it heard, which we check for the
//! voice we sent.

mod common;

use callcert::media::{AudioSource, VoiceOnsetConfig, VoiceOnsetDetector};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A baresip configuration folder; `source` is its audio_source (`aufile,<wav>` or `ausine,<Hz>`).
fn baresip_dir(dir: &Path, sip_port: u16, rtp_base: u16, source: &str) -> PathBuf {
    assert!(
        Path::new("/usr/bin/baresip").exists(),
        "baresip not found: install Debian's baresip (.ci/run does)"
    );
    let conf = dir.join("baresip");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("config"),
        format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             audio_player aufile,{}\n\
             audio_source {source}\n\
             audio_alert aufile,/dev/null\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule aufile.so\nmodule ausine.so\nmodule sndfile.so\n\
             module_app account.so\nmodule_app menu.so\n\
             snd_path {}\n\
             rtp_ports {rtp_base}-{}\n",
            dir.join("played.wav").display(),
            dir.display(),
            rtp_base + 40
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("accounts"),
        "<sip:bob@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU/8000/1\n",
    )
    .unwrap();
    conf
}

/// The audio baresip decoded from us (its sndfile `-dec.wav` dump).
fn heard_by_baresip(dir: &Path) -> AudioSource {
    let dump = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip recorded the received audio");
    AudioSource::from_wav(dump).unwrap()
}

fn voice_onset_ms(a: &AudioSource) -> Option<f64> {
    VoiceOnsetDetector::find_onset(a.samples(), VoiceOnsetConfig::with_threshold(-35.0))
        .map(|s| s as f64 / 8.0)
}

/// callcert calls baresip (auto answer): the call succeeds, callcert hears baresip's prompt
/// (100 ms leading silence, so first voice ≈ setup + 100 ms), and baresip hears ours.
#[test]
fn callcert_calls_baresip() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // baresip's menu hangs up when an aufile source ends: keep the call shorter than caller.wav.
    let source = format!(
        "aufile,{}",
        root().join("scenarios/prompts/caller.wav").display()
    );
    let conf = baresip_dir(dir.path(), port, 21000, &source);
    let mut phone = Proc::spawn(
        "baresip",
        std::process::Command::new("/usr/bin/baresip")
            .arg("-f")
            .arg(&conf)
            .args(["-t", "20"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_udp_bound(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(10),
    );
    let scenario = dir.path().join("call-baresip.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: baresip\ntarget: sip:bob@127.0.0.1:{port}\nlocal: 127.0.0.1:0\n\
             calls: 1\nrate: 1\ncall:\n  hold: 2s\n  audio: {}\n",
            root().join("scenarios/prompts/welcome.wav").display()
        ),
    )
    .unwrap();
    let report = run_scenario(&scenario, &dir.path().join("out"));
    assert_eq!(
        report["calls"]["succeeded"], 1,
        "{:#}",
        report["failed_calls"]
    );
    let setup = report["metrics"]["setup_time"]["mean_ms"].as_f64().unwrap();
    let voice = report["metrics"]["connect_delay"]["mean_ms"]
        .as_f64()
        .unwrap();
    assert!(
        (voice - setup - 100.0).abs() < 25.0,
        "baresip's caller.wav starts speaking 100 ms in: setup {setup} ms, voice {voice} ms"
    );
    assert!(
        report["media"]["rtp_received"].as_u64().unwrap() >= 90,
        "{report:#}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let _ = phone.terminate(Duration::from_secs(5));
    let heard = heard_by_baresip(dir.path());
    let onset = voice_onset_ms(&heard).expect("baresip heard our voice");
    assert!(
        onset < 200.0,
        "welcome.wav speaks 100 ms in; baresip heard it at {onset} ms"
    );
    assert!(
        heard.duration() >= Duration::from_millis(1800),
        "{:?}",
        heard.duration()
    );
}

/// baresip calls the reference call center: answered, it hears the welcome prompt, and the
/// call center hangs up after the prompt.
#[test]
fn baresip_calls_the_reference_call_center() {
    let dir = tempfile::tempdir().unwrap();
    let (sut_port, phone_port) = (free_port(), free_port());
    let cfg = dir.path().join("sut.yaml");
    std::fs::write(
        &cfg,
        format!("listen: 127.0.0.1:{sut_port}\nring_delay: 50ms\nanswer_delay: 100ms\n"),
    )
    .unwrap();
    let mut sut = start_sut(&cfg, sut_port);
    // A 12 s tone outlasts the call (baresip hangs up when its aufile source ends; its ausine
    // source supports only 48 kHz).
    let tone = dir.path().join("tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&tone, spec).unwrap();
    for n in 0..12 * 8000 {
        let x = (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin();
        w.write_sample((x * 3000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let conf = baresip_dir(
        dir.path(),
        phone_port,
        21100,
        &format!("aufile,{}", tone.display()),
    );
    let mut phone = Proc::spawn(
        "baresip",
        std::process::Command::new("/usr/bin/baresip")
            .arg("-f")
            .arg(&conf)
            .arg("-e")
            .arg(format!("/dial sip:ivr@127.0.0.1:{sut_port}"))
            .args(["-t", "9"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let status = phone.wait_for(Duration::from_secs(30));
    assert!(status.success() || status.code().is_some(), "{status}");
    use std::io::Read;
    assert!(sut.terminate(Duration::from_secs(10)).success());
    let mut text = String::new();
    sut.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let s: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(s["invites"], 1, "{s}");
    assert_eq!(s["answered"], 1, "{s}");
    assert_eq!(
        s["sut_hangups"], 1,
        "the call center hung up after its prompt: {s}"
    );
    let heard = heard_by_baresip(dir.path());
    let onset = voice_onset_ms(&heard).expect("baresip heard the welcome prompt");
    assert!(onset < 200.0, "{onset}");
    // welcome.wav is about 4.9 s; the call center hangs up 200 ms after it ends.
    let d = heard.duration().as_secs_f64();
    assert!((4.5..6.0).contains(&d), "baresip heard {d} s");
}
