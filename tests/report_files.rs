//! The report files as contracts: `junit.xml` validates against the committed JUnit schema
//! (with xmllint, Debian `libxml2-utils`), verdicts map to failure/skipped, `calls.csv` reads back
//! field for field with an RFC 4180 reader, and `report.html` is one self-contained page.

use callcert::engine::record::{CallMedia, CallRecord, Failure, FailureKind};
use callcert::metrics::DelayHistogram;
use callcert::report::charts::{Marker, MosByCondition, Series};
use callcert::report::csv::{CallsCsvWriter, CALLS_CSV_COLUMNS};
use callcert::report::html::{
    chart_ids, render_html, write_html, DelayLine, ExpectedLine, HtmlReport, MachineInfo,
    PhaseLine, SECTION_IDS,
};
use callcert::report::junit::{junit_xml, write_junit, JunitSuite, VerdictRow};
use callcert::report::CallCounts;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn row(spec: Option<&str>, metric: &str, expr: &str, status: &str) -> VerdictRow {
    VerdictRow {
        spec_id: spec.map(str::to_owned),
        clause: spec.map(|_| "000 §10.3.1".to_owned()),
        metric: metric.to_owned(),
        expression: expr.to_owned(),
        status: status.to_owned(),
        measured: Some("1320.5 ms".to_owned()),
        interval: Some("[1250.0, 1391.0] ms".to_owned()),
        samples: 400,
        needed_samples: None,
        detail: String::new(),
    }
}

/// Rows covering every status, with characters that need escaping.
fn tricky_rows() -> Vec<VerdictRow> {
    let mut fail = row(
        Some("ACC-CONNECT-DELAY"),
        "connect_delay",
        "mean<=1000ms",
        "FAIL",
    );
    fail.detail = "mean 1320.5 ms > 1000 ms & p95 \"2.1 s\" — 'slow' <IVR>".to_owned();
    let pass = row(Some("CERT-CONNECT-RATE"), "接通率", "rate>=0.9", "PASS");
    let mut inconclusive = row(
        Some("ACC-CCR-IDLE"),
        "call_completion",
        "rate>=0.9999",
        "INCONCLUSIVE",
    );
    inconclusive.samples = 40;
    inconclusive.needed_samples = Some(120);
    inconclusive.detail = "呼叫接通率 needs more calls\u{1}".to_owned();
    let mut not_measured = row(Some("ACC-PESQ-BAD"), "pesq", "mean>2.8", "NOT_MEASURED");
    not_measured.measured = None;
    not_measured.interval = None;
    not_measured.samples = 0;
    not_measured.detail = "scenario has no impairment condition".to_owned();
    let custom = row(None, "post_dial_delay", "p(95)<500", "pass");
    vec![fail, pass, inconclusive, not_measured, custom]
}

fn props() -> Vec<(String, String)> {
    vec![
        ("seed".to_owned(), "42".to_owned()),
        (
            "target".to_owned(),
            "sip:ivr@example.com;transport=\"tcp\"&x=<1>".to_owned(),
        ),
        ("standard".to_owned(), "YD/T 2823-2015 呼叫中心".to_owned()),
    ]
}

fn suite<'a>(props: &'a [(String, String)]) -> JunitSuite<'a> {
    JunitSuite {
        name: "yd-t-2823-acceptance",
        duration_s: 7203.25,
        started_unix_s: 1_795_437_296.0,
        hostname: "lab-01",
        properties: props,
    }
}

fn xmllint(args: &[&str]) -> std::process::Output {
    Command::new("xmllint")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install Debian's libxml2-utils (.ci/run does)")
        })
}

fn xpath(file: &Path, expr: &str) -> String {
    let out = xmllint(&["--xpath", expr, file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "xmllint --xpath {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // xmllint ends its answer with a newline (some versions do, some don't).
    let text = String::from_utf8(out.stdout).unwrap();
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

#[test]
fn junit_validates_against_the_committed_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    let props = props();
    write_junit(&path, &suite(&props), &tricky_rows()).unwrap();
    let schema = root().join("schemas/junit.xsd");
    let out = xmllint(&[
        "--noout",
        "--schema",
        schema.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "junit.xml does not validate:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&path).unwrap()
    );

    // An empty run is a valid suite too.
    let empty = dir.path().join("empty.xml");
    write_junit(&empty, &suite(&[]), &[]).unwrap();
    let out = xmllint(&[
        "--noout",
        "--schema",
        schema.to_str().unwrap(),
        empty.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_schema_rejects_what_ci_servers_would() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<testsuite name=\"x\" tests=\"-1\"><testcase classname=\"c\"/></testsuite>",
    )
    .unwrap();
    let schema = root().join("schemas/junit.xsd");
    let out = xmllint(&[
        "--noout",
        "--schema",
        schema.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "a negative count and a nameless test case must not validate"
    );
}

#[test]
fn junit_maps_verdicts_to_failures_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    let props = props();
    let rows = tricky_rows();
    std::fs::write(&path, junit_xml(&suite(&props), &rows)).unwrap();

    let attr = |a: &str| xpath(&path, &format!("string(/testsuites/testsuite/@{a})"));
    assert_eq!(attr("tests"), "5");
    assert_eq!(attr("failures"), "1");
    assert_eq!(attr("skipped"), "2");
    assert_eq!(attr("errors"), "0");
    assert_eq!(attr("time"), "7203.250");
    assert_eq!(attr("timestamp"), "2026-11-23T12:34:56");
    assert_eq!(xpath(&path, "count(//testcase)"), "5");
    assert_eq!(
        xpath(&path, "count(//testcase/failure[@type='threshold'])"),
        "1"
    );
    assert_eq!(xpath(&path, "count(//testcase/skipped)"), "2");

    // Names and texts survive escaping exactly (xmllint unescapes them).
    assert_eq!(
        xpath(&path, "string(//testcase[1]/@name)"),
        "ACC-CONNECT-DELAY connect_delay mean<=1000ms"
    );
    assert_eq!(
        xpath(&path, "string(//testcase[2]/@name)"),
        "CERT-CONNECT-RATE 接通率 rate>=0.9"
    );
    assert_eq!(
        xpath(&path, "string(//testcase[1]/@classname)"),
        "yd-t-2823-acceptance"
    );
    assert_eq!(xpath(&path, "string(//testcase[5]/@classname)"), "custom");
    let failure = xpath(&path, "string(//testcase[1]/failure)");
    assert!(
        failure.contains("mean 1320.5 ms > 1000 ms & p95 \"2.1 s\" — 'slow' <IVR>"),
        "{failure}"
    );
    let message = xpath(&path, "string(//testcase[1]/failure/@message)");
    assert!(message.contains("measured 1320.5 ms"), "{message}");

    // Why a threshold was skipped: sample too small with n needed, or not measured.
    let inconclusive = xpath(&path, "string(//testcase[3]/skipped/@message)");
    assert!(
        inconclusive.contains("sample too small (n=40, 120 needed)"),
        "{inconclusive}"
    );
    assert!(inconclusive.contains("呼叫接通率"), "{inconclusive}");
    let not_measured = xpath(&path, "string(//testcase[4]/skipped/@message)");
    assert!(not_measured.contains("not measured"), "{not_measured}");

    // The measured value is in system-out; properties carry the run's identity.
    let out = xpath(&path, "string(//testcase[2]/system-out)");
    assert!(out.starts_with("PASS: measured 1320.5 ms"), "{out}");
    assert_eq!(
        xpath(&path, "string(//property[@name='target']/@value)"),
        "sip:ivr@example.com;transport=\"tcp\"&x=<1>"
    );

    // An unknown status is an error, never a silent pass.
    let mut odd = tricky_rows();
    odd[1].status = "MAYBE".to_owned();
    let xml = junit_xml(&suite(&[]), &odd);
    assert!(xml.contains("errors=\"1\""), "{xml}");
    assert!(
        xml.contains("<error message=\"unknown verdict status"),
        "{xml}"
    );
}

/// RFC 4180 reader: quoted fields, doubled quotes, CRLF record ends (CR/LF inside quotes kept).
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty(), "quote inside an unquoted field");
                quoted = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "bare CR");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("bare LF: records must end in CRLF"),
            c => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quoted field");
    assert!(
        field.is_empty() && record.is_empty(),
        "last record lacks CRLF"
    );
    records
}

fn record(index: u64) -> CallRecord {
    CallRecord {
        index,
        call_id: format!("{index}-abc@callcert"),
        scheduled_ms: 1000.0 * index as f64,
        invite_sent_ms: Some(1000.0 * index as f64 + 0.4567),
        first_100_ms: Some(1000.0 * index as f64 + 2.0),
        first_18x_ms: Some(1000.0 * index as f64 + 120.25),
        first_18x_code: Some(180),
        answered_ms: Some(1000.0 * index as f64 + 2120.0),
        first_rtp_ms: Some(1000.0 * index as f64 + 2140.0),
        first_voice_ms: Some(1000.0 * index as f64 + 2_400.123_456),
        bye_ms: Some(1000.0 * index as f64 + 32_120.0),
        bye_by: Some(callcert::engine::record::HungUpBy::Caller),
        ended_ms: 1000.0 * index as f64 + 32_130.0,
        final_code: Some(200),
        failure: None,
        retransmissions_sent: 0,
        retransmissions_received: 1,
        media: Some(CallMedia {
            codec: "PCMU".to_owned(),
            tx_packets: 1500,
            rx_packets: 1498,
            rx_lost: 2,
            rx_jitter_ms: 1.25,
            tx_late_skipped: 0,
            malformed: 0,
            rtt_ms: None,
        }),
        ivr: None,
        quality: None,
        cut_by_end: false,
        phase: Some(1),
    }
}

#[test]
fn calls_csv_reads_back_field_for_field() {
    let ok = record(0);
    let mut failed = record(1);
    failed.call_id = "a,\"b\"\r\nc 呼叫".to_owned();
    failed.answered_ms = None;
    failed.first_rtp_ms = None;
    failed.first_voice_ms = None;
    failed.bye_ms = None;
    failed.bye_by = None;
    failed.final_code = Some(503);
    failed.media = None;
    failed.failure = Some(Failure {
        kind: FailureKind::SipError,
        detail: "503 Service Unavailable, \"trunk busy\"".to_owned(),
    });
    let mut formula = record(2);
    formula.failure = Some(Failure {
        kind: FailureKind::NoVoice,
        detail: "=HYPERLINK(\"http://x\")".to_owned(),
    });

    let mut w = CallsCsvWriter::new(Vec::new()).unwrap();
    for r in [&ok, &failed, &formula] {
        w.write_record(r).unwrap();
    }
    assert_eq!(w.rows(), 3);
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    let rows = read_csv(&text);
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(rows[0], CALLS_CSV_COLUMNS);
    assert!(rows.iter().all(|r| r.len() == CALLS_CSV_COLUMNS.len()));
    let col = |row: &Vec<String>, name: &str| -> String {
        let i = CALLS_CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
        row[i].clone()
    };

    let r0 = &rows[1];
    assert_eq!(col(r0, "index"), "0");
    assert_eq!(col(r0, "outcome"), "success");
    assert_eq!(col(r0, "failure_kind"), "");
    assert_eq!(col(r0, "invite_sent_ms"), "0.457");
    assert_eq!(col(r0, "first_voice_ms"), "2400.123");
    assert_eq!(col(r0, "post_dial_delay_ms"), "119.793");
    assert_eq!(col(r0, "connect_delay_ms"), "2399.667");
    assert_eq!(col(r0, "codec"), "PCMU");
    assert_eq!(col(r0, "rtp_rx_lost"), "2");
    assert_eq!(col(r0, "rtp_rx_jitter_ms"), "1.250");
    assert_eq!(col(r0, "rtt_ms"), "");

    let r1 = &rows[2];
    assert_eq!(col(r1, "call_id"), "a,\"b\"\r\nc 呼叫");
    assert_eq!(col(r1, "outcome"), "failed");
    assert_eq!(col(r1, "failure_kind"), "sip_error");
    assert_eq!(
        col(r1, "failure_detail"),
        "503 Service Unavailable, \"trunk busy\""
    );
    assert_eq!(col(r1, "final_code"), "503");
    assert_eq!(col(r1, "answered_ms"), "");
    assert_eq!(col(r1, "bye_by"), "");
    assert_eq!(col(r1, "codec"), "");
    assert_eq!(col(r1, "rtp_tx_packets"), "");

    // A spreadsheet must not evaluate text from the far end as a formula.
    assert_eq!(col(&rows[3], "failure_detail"), "'=HYPERLINK(\"http://x\")");

    // The file form writes the same bytes, complete after each flush (the run flushes
    // whenever no other record is waiting).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.csv");
    let mut f = CallsCsvWriter::create(&path).unwrap();
    f.write_record(&ok).unwrap();
    f.flush().unwrap();
    let partial = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        read_csv(&partial).len(),
        2,
        "the row is on disk before the writer closes"
    );
    f.write_record(&failed).unwrap();
    f.write_record(&formula).unwrap();
    drop(f.into_inner().unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    let missing = CallsCsvWriter::create(&dir.path().join("no/such/dir/calls.csv"));
    assert!(missing.is_err());
}

/// A CDF from an HDR histogram, as the lead builds it from `RunMetrics`.
fn cdf(samples: impl Iterator<Item = f64>) -> Vec<(f64, f64)> {
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

fn html_sample() -> HtmlReport {
    let mut pdd = DelayHistogram::new(None);
    let mut connect = DelayHistogram::new(Some("ACC-CONNECT-DELAY"));
    for i in 0..200 {
        pdd.record_ms(100.0 + i as f64);
        connect.record_ms(800.0 + 2.0 * i as f64);
    }
    HtmlReport {
        title: "Acceptance <test> & \"check\" — 呼叫中心".to_owned(),
        profile: Some("yd-t-2823-acceptance".to_owned()),
        verdict: None,
        rows: tricky_rows(),
        run_config: vec![
            ("scenario".to_owned(), "idle-2h".to_owned()),
            ("target".to_owned(), "sip:ivr@192.0.2.10".to_owned()),
        ],
        seed: 42,
        tool_version: "0.1.0".to_owned(),
        machine: MachineInfo {
            hostname: "lab-01".to_owned(),
            cores: "2".to_owned(),
            os: "Linux 6.1 (Debian 12)".to_owned(),
        },
        started_unix_s: 1_795_437_296.0,
        duration_s: 7203.0,
        calls: CallCounts {
            attempted: 200,
            answered: 198,
            succeeded: 196,
            failed: 4,
        },
        delays: vec![
            DelayLine {
                name: "post-dial delay".to_owned(),
                summary: pdd.summary(),
            },
            DelayLine {
                name: "connect delay".to_owned(),
                summary: connect.summary(),
            },
            DelayLine {
                name: "trying delay".to_owned(),
                summary: None,
            },
        ],
        post_dial_cdf: cdf((0..200).map(|i| 100.0 + i as f64)),
        post_dial_markers: vec![],
        connect_cdf: cdf((0..200).map(|i| 800.0 + 2.0 * i as f64)),
        connect_markers: vec![Marker {
            label: "ACC-CONNECT-DELAY mean ≤ 1000 ms".to_owned(),
            x: 1000.0,
        }],
        failures: vec![("sip_error".to_owned(), 2), ("no_voice".to_owned(), 2)],
        sip_codes: vec![("503".to_owned(), 2)],
        load_series: vec![],
        call_series: vec![],
        series_interval_s: 1.0,
        phases: vec![],
        expected: vec![],
        response_cdfs: vec![],
        response_markers: vec![],
        mos: vec![],
        extra_sections: vec![],
    }
}

#[test]
fn html_is_one_self_contained_file_with_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    write_html(&path, &html_sample()).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();

    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in SECTION_IDS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
    }
    // The verdict table comes first, with clause ids and colour classes.
    let verdict_at = html.find("<section id=\"verdict\">").unwrap();
    let calls_at = html.find("<section id=\"calls\">").unwrap();
    assert!(verdict_at < calls_at);
    assert!(html.contains("<tr class=\"fail\">"));
    assert!(html.contains("<tr class=\"inconclusive\">"));
    assert!(html.contains("000 §10.3.1"));
    assert!(
        html.contains("class=\"badge fail\""),
        "any FAIL fails the run"
    );

    // Charts with data are inline SVG; the others say they were not measured.
    for id in [
        chart_ids::POST_DIAL,
        chart_ids::CONNECT,
        chart_ids::FAILURES,
    ] {
        assert!(
            html.contains(&format!("<svg id=\"{id}\"")),
            "chart {id} missing"
        );
    }
    for id in [
        chart_ids::LOAD,
        chart_ids::CALLS,
        chart_ids::RESPONSE,
        chart_ids::MOS,
    ] {
        assert!(
            !html.contains(&format!("<svg id=\"{id}\"")),
            "chart {id} has no data"
        );
    }
    assert_eq!(html.matches("not measured in this run.").count(), 4);
    // Without a load profile there is no phase table and no expected-versus-measured table.
    assert!(!html.contains("id=\"phases\"") && !html.contains("id=\"expected\""));

    // Self-contained: no external resource, no script.
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<link", "<script", "src=", "url(", "@import", "<iframe", "<img",
    ] {
        assert!(!lower.contains(banned), "report.html contains {banned}");
    }
    let http: Vec<&str> = lower
        .match_indices("http")
        .map(|(i, _)| &lower[i..(i + 30).min(lower.len())])
        .filter(|s| !s.starts_with("http://www.w3.org/2000/svg"))
        .collect();
    assert!(http.is_empty(), "external references: {http:?}");

    // Text is escaped, Chinese passes through.
    assert!(html.contains("Acceptance &lt;test&gt; &amp; \"check\" — 呼叫中心"));
    assert!(!html.contains("<test>"));
    assert!(html.contains("sample too small (n=40, 120 needed)"));
}

#[test]
fn html_with_every_chart_and_no_thresholds() {
    let mut r = html_sample();
    r.rows.clear();
    r.failures.clear();
    r.calls.failed = 0;
    r.load_series = vec![Series {
        name: "carried load (Erl)".to_owned(),
        points: (0..100)
            .map(|i| (i as f64 * 60.0, 10.0 + (i % 7) as f64))
            .collect(),
    }];
    r.call_series = vec![Series {
        name: "attempts".to_owned(),
        points: (0..100)
            .map(|i| (i as f64 * 60.0, (i % 5) as f64))
            .collect(),
    }];
    r.series_interval_s = 60.0;
    r.phases = vec![PhaseLine {
        name: "idle <2h>".to_owned(),
        start_s: 0.0,
        end_s: 7200.0,
        offered_erlangs: 21.0,
        carried_erlangs: 20.75,
        calls: CallCounts {
            attempted: 840,
            answered: 838,
            succeeded: 836,
            failed: 4,
        },
        mean_setup_ms: Some(512.25),
        mean_agent_wait_ms: None,
    }];
    r.expected = vec![
        ExpectedLine {
            quantity: "blocking (503), 830 calls".to_owned(),
            model: "Erlang B, 21.00 Erl on 30 trunks".to_owned(),
            predicted: "0.888 %".to_owned(),
            measured: "0.843 %".to_owned(),
            interval: "0.301 % – 1.385 %".to_owned(),
            agrees: Some(true),
        },
        ExpectedLine {
            quantity: "mean wait for an agent".to_owned(),
            model: "Erlang C, 4.00 Erl on 5 agents".to_owned(),
            predicted: "0.554 s".to_owned(),
            measured: "1.210 s".to_owned(),
            interval: "0.980 s – 1.440 s".to_owned(),
            agrees: Some(false),
        },
    ];
    r.response_cdfs = vec![Series {
        name: "DTMF response".to_owned(),
        points: cdf((0..50).map(|i| 400.0 + 10.0 * i as f64)),
    }];
    r.mos = vec![MosByCondition {
        condition: "good network".to_owned(),
        spec_id: Some("ACC-PESQ-GOOD".to_owned()),
        calls: 20,
        mean: 4.1,
        min: 3.9,
        max: 4.3,
        threshold: Some(3.8),
    }];
    let html = render_html(&r);
    for id in [
        chart_ids::LOAD,
        chart_ids::CALLS,
        chart_ids::RESPONSE,
        chart_ids::MOS,
    ] {
        assert!(
            html.contains(&format!("<svg id=\"{id}\"")),
            "chart {id} missing"
        );
    }
    // The phase table, escaped, with its numbers; the checks with their agreement.
    assert!(html.contains("<table class=\"numbers compact\" id=\"phases\">"));
    assert!(html.contains("<td>idle &lt;2h&gt;</td>"), "{html}");
    assert!(html.contains("<td class=\"num\">2 h 00 min 00 s</td>"));
    assert!(html.contains("<td class=\"num\">20.75</td>") && html.contains(">512.2<"));
    assert!(html.contains("<td>Erlang B, 21.00 Erl on 30 trunks</td>"));
    assert_eq!(
        html.matches("<span class=\"pill pass\">yes</span>").count(),
        1
    );
    assert_eq!(
        html.matches("<span class=\"pill fail\">no</span>").count(),
        1
    );
    assert!(html.contains("in each 1 min 00 s interval"));
    assert!(html.contains("No call failed."));
    assert!(html.contains("NO THRESHOLDS"));
    assert!(html.contains("No thresholds were evaluated in this run."));
}
