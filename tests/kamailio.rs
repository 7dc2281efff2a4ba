//! Calls through Kamailio (Debian `kamailio`), a real SIP proxy that record-routes: the route
//! set, ACK and BYE in both directions must cross the proxy as RFC 3261 §12 and §16 say.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn kamailio() -> (PathBuf, PathBuf) {
    let bin = PathBuf::from("/usr/sbin/kamailio");
    assert!(
        bin.exists(),
        "kamailio not found: install Debian's kamailio (.ci/run does)"
    );
    let modules = [
        "/usr/lib/x86_64-linux-gnu/kamailio/modules",
        "/usr/lib/aarch64-linux-gnu/kamailio/modules",
        "/usr/lib/kamailio/modules",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.join("tm.so").exists())
    .expect("kamailio modules (tm.so) not found");
    (bin, modules)
}

/// A stateful, record-routing proxy that sends every new call to `next_hop`.
fn proxy_config(modules: &std::path::Path, port: u16, next_hop: u16) -> String {
    format!(
        r#"#!KAMAILIO
debug=1
log_stderror=yes
children=2
listen=udp:127.0.0.1:{port}
mpath="{}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
modparam("rr", "append_fromtag", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{ t_relay(); }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{ t_relay(); }}
        exit;
    }}
    if (is_method("OPTIONS") && uri==myself) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    t_check_trans();
    record_route();
    $du = "sip:127.0.0.1:{next_hop}";
    t_relay();
}}
"#,
        modules.display()
    )
}

fn start_proxy(dir: &std::path::Path, port: u16, next_hop: u16) -> Proc {
    let (bin, modules) = kamailio();
    let cfg = dir.join("kamailio.cfg");
    std::fs::write(&cfg, proxy_config(&modules, port, next_hop)).unwrap();
    let check = std::process::Command::new(&bin)
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "kamailio rejects the config: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let p = Proc::spawn(
        "kamailio",
        std::process::Command::new(&bin)
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-m", "64", "-M", "8"])
            .arg("-Y")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_udp_bound(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(10),
    );
    p
}

fn start_call_center(dir: &std::path::Path, port: u16, after_prompt: &str) -> Proc {
    let cfg = dir.join("sut.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:{port}\ntrunks: 100\nring_delay: 100ms\nanswer_delay: 200ms\n\
             after_prompt: {after_prompt}\nmax_call: 20s\n"
        ),
    )
    .unwrap();
    start_sut(&cfg, port)
}

fn run_through(dir: &std::path::Path, proxy: u16, calls: u32, hold: &str) -> serde_json::Value {
    let scenario = dir.join("via-proxy.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: via-kamailio\ntarget: sip:ivr@127.0.0.1:{proxy}\nlocal: 127.0.0.1:0\n\
             preflight: true\ncalls: {calls}\nrate: 20\ncall:\n  hold: {hold}\n"
        ),
    )
    .unwrap();
    run_scenario(&scenario, &dir.join("out"))
}

/// The caller hangs up: its ACK and BYE follow the Record-Route set through the proxy.
#[test]
fn caller_hangs_up_through_a_record_routing_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy_port, sut_port) = (free_port(), free_port());
    let mut sut = start_call_center(dir.path(), sut_port, "keep");
    let _proxy = start_proxy(dir.path(), proxy_port, sut_port);
    let report = run_through(dir.path(), proxy_port, 20, "1s");
    assert_eq!(report["preflight"]["result"], "answered", "{report:#}");
    assert_eq!(
        report["calls"]["succeeded"], 20,
        "{:#}",
        report["failed_calls"]
    );
    let pdd = report["metrics"]["post_dial_delay"]["mean_ms"]
        .as_f64()
        .unwrap();
    assert!((pdd - 100.0).abs() < 5.0, "PDD through the proxy {pdd}");
    let s = stop_sut(&mut sut);
    assert_eq!(s["answered"], 20);
    assert_eq!(
        s["caller_hangups"], 20,
        "every BYE reached the call center: {s}"
    );
    assert_eq!(
        s["ack_timeouts"], 0,
        "every ACK reached the call center: {s}"
    );
}

/// The call center hangs up after its prompt: its BYE carries the route set back through the
/// proxy to the caller.
#[test]
fn call_center_hangs_up_through_a_record_routing_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy_port, sut_port) = (free_port(), free_port());
    let mut sut = start_call_center(dir.path(), sut_port, "hangup");
    let _proxy = start_proxy(dir.path(), proxy_port, sut_port);
    let report = run_through(dir.path(), proxy_port, 10, "20s");
    assert_eq!(
        report["calls"]["succeeded"], 10,
        "{:#}",
        report["failed_calls"]
    );
    let calls = std::fs::read_to_string(dir.path().join("out/calls.jsonl")).unwrap();
    let by_callee = calls
        .lines()
        .filter(|l| l.contains("\"bye_by\":\"callee\""))
        .count();
    assert_eq!(
        by_callee, 10,
        "every BYE from the call center reached the caller"
    );
    let s = stop_sut(&mut sut);
    assert_eq!(s["sut_hangups"], 10, "{s}");
}
