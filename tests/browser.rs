//! `report.html` in a real browser: headless Chromium (Debian `chromium`, installed by .ci/run)
//! loads a sample report with every chart, and the test fails when the rendered DOM lacks a
//! chart or the browser logs a script error or a failed load. It also takes a screenshot,
//! kept with the page in the target's test temp dir
//! (`CARGO_TARGET_TMPDIR`) for a human to look at.

use callcert::metrics::DelayHistogram;
use callcert::report::charts::{Marker, MosByCondition, Series};
use callcert::report::html::{
    chart_ids, write_html, DelayLine, ExpectedLine, HtmlReport, MachineInfo, PhaseLine, SECTION_IDS,
};
use callcert::report::junit::VerdictRow;
use callcert::report::CallCounts;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CHROMIUM: &str = "/usr/bin/chromium";

/// A deterministic stream of uniform numbers in (0, 1) (xorshift64*), so the sample is the same
/// on every run.
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (v as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Log-normal with the given median and shape (Box–Muller).
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let (u1, u2) = (self.next(), self.next());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median * (sigma * z).exp()
    }
}

/// A CDF of `samples` ms through an HDR histogram, as the report builder gets it from
/// `RunMetrics` with `iter_quantiles`.
fn cdf(samples: &[f64]) -> Vec<(f64, f64)> {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for ms in samples {
        h.saturating_record((ms * 1000.0) as u64);
    }
    h.iter_quantiles(4)
        .map(|v| {
            (
                v.value_iterated_to() as f64 / 1000.0,
                v.quantile_iterated_to(),
            )
        })
        .collect()
}

fn summary(name: &str, spec: Option<&'static str>, samples: &[f64]) -> DelayLine {
    let mut h = DelayHistogram::new(spec);
    for s in samples {
        h.record_ms(*s);
    }
    DelayLine {
        name: name.to_owned(),
        summary: h.summary(),
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    spec: Option<&str>,
    clause: &str,
    metric: &str,
    expr: &str,
    status: &str,
    measured: Option<&str>,
    interval: Option<&str>,
    samples: u64,
    needed: Option<u64>,
    detail: &str,
) -> VerdictRow {
    VerdictRow {
        spec_id: spec.map(str::to_owned),
        clause: (!clause.is_empty()).then(|| clause.to_owned()),
        metric: metric.to_owned(),
        expression: expr.to_owned(),
        status: status.to_owned(),
        measured: measured.map(str::to_owned),
        interval: interval.map(str::to_owned),
        samples,
        needed_samples: needed,
        detail: detail.to_owned(),
    }
}

/// A busy-hour acceptance run with every chart filled.
fn sample_report() -> HtmlReport {
    let mut u = Uniform(0x9e37_79b9_7f4a_7c15);
    let pdd: Vec<f64> = (0..3000).map(|_| u.lognormal(180.0, 0.35)).collect();
    let connect: Vec<f64> = (0..2990).map(|_| 450.0 + u.lognormal(520.0, 0.3)).collect();
    let dtmf: Vec<f64> = (0..1200).map(|_| u.lognormal(1400.0, 0.4)).collect();
    let query: Vec<f64> = (0..400).map(|_| u.lognormal(4200.0, 0.35)).collect();
    let setup: Vec<f64> = connect.iter().map(|c| c - 300.0).collect();
    let duration_s = 7200.0;
    let offered: Vec<(f64, f64)> = (0..=120)
        .map(|m| {
            let t = m as f64 * 60.0;
            let ramp = (t / 600.0).min(1.0);
            (t, 27.0 * ramp)
        })
        .collect();
    let carried: Vec<(f64, f64)> = offered
        .iter()
        .map(|(t, a)| (*t, (a * (0.97 + 0.05 * u.next())).min(30.0)))
        .collect();
    let concurrency: Vec<(f64, f64)> = carried
        .iter()
        .map(|(t, a)| (*t, (a + 3.0 * (u.next() - 0.5)).max(0.0).round()))
        .collect();
    HtmlReport {
        title: "Busy-hour acceptance — Example Bank call center (95588)".to_owned(),
        profile: Some("yd-t-2823-acceptance".to_owned()),
        verdict: None,
        rows: vec![
            row(
                Some("ACC-CCR-BUSY"),
                "000 §10.3.1 a",
                "access_call_completion",
                "rate>=0.9996",
                "PASS",
                Some("99.97 %"),
                Some("[99.93, 99.99] %"),
                2998,
                None,
                "",
            ),
            row(
                Some("ACC-CONNECT-DELAY"),
                "000 §10.3.1 b",
                "connect_delay",
                "mean<=1000ms",
                "FAIL",
                Some("1 012.4 ms"),
                Some("[1 004.1, 1 020.7] ms"),
                2990,
                None,
                "mean above 1 s; p95 1 420 ms. Prompt starts 450 ms after answer.",
            ),
            row(
                Some("ACC-DTMF-RESPONSE"),
                "000 §10.3.1 j",
                "dtmf_response",
                "mean<=3s",
                "PASS",
                Some("1.52 s"),
                Some("[1.49, 1.55] s"),
                1200,
                None,
                "load 92 % of design",
            ),
            row(
                Some("ACC-QUERY-RESPONSE"),
                "000 §10.3.1 k",
                "query_response",
                "mean<=8s",
                "PASS",
                Some("4.46 s"),
                Some("[4.31, 4.61] s"),
                400,
                None,
                "",
            ),
            row(
                Some("ACC-IVR-SUCCESS-BUSY"),
                "000 §10.3.1 i",
                "ivr_success",
                "rate>=0.95",
                "INCONCLUSIVE",
                Some("95.4 %"),
                Some("[94.1, 96.5] %"),
                410,
                Some(1800),
                "interval straddles the threshold",
            ),
            row(
                Some("ACC-PESQ-GOOD"),
                "000 §10.3.1 e",
                "pesq",
                "mean>3.8",
                "PASS",
                Some("4.12"),
                Some("[4.08, 4.16]"),
                40,
                None,
                "G.711 µ-law",
            ),
            row(
                Some("ACC-PESQ-POOR"),
                "000 §10.3.1 e",
                "pesq",
                "mean>3.4",
                "PASS",
                Some("3.61"),
                Some("[3.55, 3.67]"),
                40,
                None,
                "1 % loss, 20 ms jitter, 100 ms delay",
            ),
            row(
                Some("ACC-PESQ-BAD"),
                "000 §10.3.1 e",
                "pesq",
                "mean>2.8",
                "FAIL",
                Some("2.64"),
                Some("[2.55, 2.73]"),
                40,
                None,
                "5 % loss, 60 ms jitter, 400 ms delay",
            ),
            row(
                Some("ACC-VOIP-DELAY"),
                "000 §10.3.1 c",
                "mouth_to_ear",
                "p(95)<400ms",
                "NOT_MEASURED",
                None,
                None,
                0,
                None,
                "needs a loop-back call center",
            ),
            row(
                None,
                "",
                "post_dial_delay",
                "p(95)<500ms",
                "PASS",
                Some("318.0 ms"),
                None,
                3000,
                None,
                "vendor threshold",
            ),
        ],
        run_config: vec![
            ("scenario".into(), "scenarios/busy-2h.yaml".into()),
            ("target".into(), "sip:95588@192.0.2.10:5060".into()),
            ("transport".into(), "udp".into()),
            (
                "load".into(),
                "0.9 Erl × 30 trunks = 27 Erl, 10 min ramp".into(),
            ),
            ("holding time".into(), "exponential, mean 180 s".into()),
            ("codecs".into(), "PCMU, PCMA".into()),
            ("answer timeout".into(), "30 s".into()),
            (
                "impairments".into(),
                "good; 1 % loss / 20 ms jitter / 100 ms; 5 % / 60 ms / 400 ms".into(),
            ),
        ],
        seed: 20_261_123,
        tool_version: "0.1.0".to_owned(),
        machine: MachineInfo {
            hostname: "qa-lab-07".to_owned(),
            cores: "8".to_owned(),
            os: "Linux 6.1.0-27-amd64 (Debian 12)".to_owned(),
        },
        started_unix_s: 1_795_437_296.0,
        duration_s,
        calls: CallCounts {
            attempted: 3000,
            answered: 2998,
            succeeded: 2987,
            failed: 13,
        },
        delays: vec![
            summary("post-dial delay", None, &pdd),
            summary("setup time", Some("SYS-SETUP-RESPONSE"), &setup),
            summary("connect delay", Some("ACC-CONNECT-DELAY"), &connect),
            summary("launch lateness", None, &[]),
        ],
        post_dial_cdf: cdf(&pdd),
        post_dial_markers: vec![Marker {
            label: "p(95) < 500 ms (vendor)".into(),
            x: 500.0,
        }],
        connect_cdf: cdf(&connect),
        connect_markers: vec![Marker {
            label: "ACC-CONNECT-DELAY mean ≤ 1 s".into(),
            x: 1000.0,
        }],
        failures: vec![
            ("no_voice".into(), 7),
            ("sip_error (503)".into(), 3),
            ("timeout".into(), 2),
            ("bye_timeout".into(), 1),
        ],
        sip_codes: vec![("503 Service Unavailable".into(), 3)],
        load_series: vec![
            Series {
                name: "offered load (Erl)".into(),
                points: offered,
            },
            Series {
                name: "carried load (Erl)".into(),
                points: carried,
            },
            Series {
                name: "concurrent calls".into(),
                points: concurrency,
            },
        ],
        call_series: vec![
            Series {
                name: "attempts".into(),
                points: (0..=120)
                    .map(|m| (m as f64 * 60.0, 9.0 + 3.0 * u.next()))
                    .collect(),
            },
            Series {
                name: "failed".into(),
                points: (0..=120)
                    .map(|m| (m as f64 * 60.0, f64::from(m % 17 == 0)))
                    .collect(),
            },
        ],
        series_interval_s: 60.0,
        phases: vec![
            PhaseLine {
                name: "idle".into(),
                start_s: 0.0,
                end_s: 3600.0,
                offered_erlangs: 21.0,
                carried_erlangs: 20.8,
                calls: CallCounts {
                    attempted: 1330,
                    answered: 1329,
                    succeeded: 1325,
                    failed: 5,
                },
                mean_setup_ms: Some(612.4),
                mean_agent_wait_ms: None,
            },
            PhaseLine {
                name: "busy".into(),
                start_s: 3600.0,
                end_s: 7200.0,
                offered_erlangs: 26.25,
                carried_erlangs: 25.1,
                calls: CallCounts {
                    attempted: 1670,
                    answered: 1669,
                    succeeded: 1662,
                    failed: 8,
                },
                mean_setup_ms: Some(655.0),
                mean_agent_wait_ms: Some(12_400.0),
            },
        ],
        expected: vec![ExpectedLine {
            quantity: "blocking (503), 2950 calls".into(),
            model: "Erlang B, 23.63 Erl on 30 trunks".into(),
            predicted: "3.180 %".into(),
            measured: "3.051 %".into(),
            interval: "2.210 % – 3.892 %".into(),
            agrees: Some(true),
        }],
        response_cdfs: vec![
            Series {
                name: "DTMF response".into(),
                points: cdf(&dtmf),
            },
            Series {
                name: "query response".into(),
                points: cdf(&query),
            },
        ],
        response_markers: vec![
            Marker {
                label: "ACC-DTMF-RESPONSE mean ≤ 3 s".into(),
                x: 3000.0,
            },
            Marker {
                label: "ACC-QUERY-RESPONSE mean ≤ 8 s".into(),
                x: 8000.0,
            },
        ],
        mos: vec![
            MosByCondition {
                condition: "good network".into(),
                spec_id: Some("ACC-PESQ-GOOD".into()),
                calls: 40,
                mean: 4.12,
                min: 3.95,
                max: 4.31,
                threshold: Some(3.8),
            },
            MosByCondition {
                condition: "1 % / 20 ms / 100 ms".into(),
                spec_id: Some("ACC-PESQ-POOR".into()),
                calls: 40,
                mean: 3.61,
                min: 3.22,
                max: 3.94,
                threshold: Some(3.4),
            },
            MosByCondition {
                condition: "5 % / 60 ms / 400 ms".into(),
                spec_id: Some("ACC-PESQ-BAD".into()),
                calls: 40,
                mean: 2.64,
                min: 2.11,
                max: 3.05,
                threshold: Some(2.8),
            },
        ],
        extra_sections: Vec::new(),
    }
}

/// Runs headless Chromium on `page` with `extra` arguments; a fresh profile each time, no
/// network services, logging to stderr. `timeout` bounds a hung browser.
fn chromium(profile: &Path, page: &Path, extra: &[String]) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: install Debian's chromium (.ci/run does) to check report.html"
    );
    let url = format!("file://{}", page.display());
    let mut args: Vec<String> = [
        "90",
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(url);
    let out = Command::new("timeout")
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {CHROMIUM}: {e}"));
    assert!(
        out.status.success(),
        "chromium failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Lines of Chromium's log that mean the page is broken: script errors, console output (the
/// report has no script, so any is suspicious), resources that failed or were blocked.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("Uncaught")
                || l.contains(":CONSOLE")
                || l.contains("console")
                || l.contains("Failed to load resource")
                || l.contains("Not allowed to load local resource")
                || l.contains("net::ERR_")
        })
        .collect()
}

#[test]
fn chromium_renders_every_chart_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    write_html(&page, &sample_report()).unwrap();

    let out = chromium(
        &dir.path().join("profile-dom"),
        &page,
        &["--dump-dom".to_owned()],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(dom.contains("<main>"), "no DOM dumped:\n{dom}\n{stderr}");
    for id in chart_ids::ALL {
        assert!(
            dom.contains(&format!("<svg id=\"{id}\"")),
            "the rendered page lacks chart {id}"
        );
    }
    for id in SECTION_IDS {
        assert!(
            dom.contains(&format!("<section id=\"{id}\"")),
            "section {id} missing"
        );
    }
    assert!(dom.contains("id=\"overall-verdict\""));
    let errors = page_errors(&stderr);
    assert!(
        errors.is_empty(),
        "chromium reported:\n{}",
        errors.join("\n")
    );

    let shot: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &dir.path().join("profile-shot"),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
    );
    let errors = page_errors(&String::from_utf8_lossy(&out.stderr)).join("\n");
    assert!(errors.is_empty(), "chromium reported:\n{errors}");
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
    assert!(
        png.len() > 20_000,
        "screenshot suspiciously small ({} bytes)",
        png.len()
    );
    // Keep the page beside its screenshot for a human to open.
    let kept = shot.with_file_name("report-sample.html");
    std::fs::copy(&page, &kept).unwrap();
    eprintln!("screenshot: {} (page: {})", shot.display(), kept.display());
}

/// The report a real run writes (`callcert demo`) renders in Chromium with its charts and no
/// page errors; its junit.xml validates against the committed schema.
#[test]
fn the_demo_report_opens_cleanly_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_callcert"))
        .arg("demo")
        .arg("--out")
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = out.join("report.html");
    let r = chromium(
        &dir.path().join("profile"),
        &page,
        &["--dump-dom".to_owned()],
    );
    let dom = String::from_utf8_lossy(&r.stdout);
    for id in [chart_ids::POST_DIAL, chart_ids::CONNECT] {
        assert!(
            dom.contains(&format!("<svg id=\"{id}\"")),
            "demo report lacks {id}"
        );
    }
    assert!(dom.contains("ACC-CONNECT-DELAY"));
    let errors = page_errors(&String::from_utf8_lossy(&r.stderr)).join("\n");
    assert!(errors.is_empty(), "chromium reported:\n{errors}");
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/junit.xsd");
    let x = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(out.join("junit.xml"))
        .output()
        .expect("xmllint (Debian libxml2-utils)");
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
    for f in ["report.json", "calls.csv", "calls.jsonl"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
}
