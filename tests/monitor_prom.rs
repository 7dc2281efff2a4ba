//! The monitor's Prometheus metrics (issue 7): the text exposition is checked by `promtool check
//! metrics` (Debian `prometheus`) and by a strict parser of the 0.0.4 format here, and the
//! endpoint is scraped over real sockets on 127.0.0.1, garbage and slow clients included.

use callcert::monitor::prom::{
    escape_label_value, render, MetricsServer, MonitorSnapshot, ServerLimits, ThresholdState,
    CONTENT_TYPE, RESPONSE_BUCKETS_S,
};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------------
// A strict reader of the text format 0.0.4.

#[derive(Debug)]
struct Family {
    name: String,
    kind: String,
    samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
}

fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.starts_with("__")
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if s
            .bytes()
            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c)) =>
        {
            s.parse().map_err(|_| format!("bad value `{s}`"))
        }
        _ => Err(format!("bad value `{s}`")),
    }
}

/// Label (name, value) pairs, values unescaped.
type Labels = Vec<(String, String)>;

/// `{a="x",b="y"} rest` → labels and rest.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label `{name}` twice"));
        }
        labels.push((name.to_string(), value));
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

/// Parses the whole text, checking every rule of the format and of Prometheus's conventions
/// that the monitor promises.
fn parse_exposition(text: &str) -> Result<Vec<Family>, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text must end with a newline".into());
    }
    let mut families: Vec<Family> = Vec::new();
    let mut helped = BTreeSet::new();
    let mut series = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: `{line}`", n + 1);
        if line.is_empty() {
            return Err(at("empty line".into()));
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text".into()))?;
            if !is_metric_name(name) || !helped.insert(name.to_string()) {
                return Err(at("bad or repeated HELP".into()));
            }
            // Only \\ and \n escapes in HELP.
            let mut it = help.chars();
            while let Some(c) = it.next() {
                if c == '\\' && !matches!(it.next(), Some('\\' | 'n')) {
                    return Err(at("bad escape in HELP".into()));
                }
            }
            if families.iter().any(|f| f.name == name) {
                return Err(at("HELP after the family began".into()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without type".into()))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if !helped.contains(name) {
                return Err(at("TYPE without HELP before it".into()));
            }
            if families.iter().any(|f| f.name == name) {
                return Err(at("TYPE repeated".into()));
            }
            families.push(Family {
                name: name.to_string(),
                kind: kind.to_string(),
                samples: Vec::new(),
            });
            continue;
        }
        if line.starts_with('#') {
            return Err(at("unexpected comment".into()));
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| at("sample without value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(at(format!("bad metric name `{name}`")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("no space before value".into()))?;
        if value.contains(' ') {
            return Err(at("a timestamp or extra field".into()));
        }
        let value = parse_value(value).map_err(at)?;
        // The sample belongs to the family last declared, and only to it.
        let fam = families
            .last_mut()
            .ok_or_else(|| at("sample before any TYPE".into()))?;
        let ok = if fam.kind == "histogram" {
            ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| name == format!("{}{s}", fam.name))
        } else {
            name == fam.name
        };
        if !ok {
            return Err(at(format!("sample not of family {}", fam.name)));
        }
        let has_le = labels.iter().any(|(k, _)| k == "le");
        if has_le != name.ends_with("_bucket") {
            return Err(at("le on a non-bucket or missing on a bucket".into()));
        }
        let mut key: Vec<_> = labels.clone();
        key.sort();
        if !series.insert((name.to_string(), key)) {
            return Err(at("duplicate series".into()));
        }
        fam.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    for f in &families {
        if f.samples.is_empty() {
            return Err(format!("family {} has no samples", f.name));
        }
        if !f.name.starts_with("callcert_monitor_") {
            return Err(format!("{} lacks the prefix", f.name));
        }
        if (f.kind == "counter") != f.name.ends_with("_total") {
            return Err(format!(
                "{}: counters and only counters end in _total",
                f.name
            ));
        }
        if f.kind == "histogram" {
            check_histogram(f)?;
        }
    }
    Ok(families)
}

/// Buckets cumulative, bounds rising, the last `+Inf` and equal to `_count`, a `_sum`.
fn check_histogram(f: &Family) -> Result<(), String> {
    let mut groups: BTreeMap<Labels, Vec<&Sample>> = BTreeMap::new();
    for s in &f.samples {
        let mut key: Vec<_> = s
            .labels
            .iter()
            .filter(|(k, _)| k != "le")
            .cloned()
            .collect();
        key.sort();
        groups.entry(key).or_default().push(s);
    }
    for (key, samples) in groups {
        let buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.name.ends_with("_bucket"))
            .map(|s| {
                let le = &s.labels.iter().find(|(k, _)| k == "le").unwrap().1;
                (parse_value(le).unwrap(), s.value)
            })
            .collect();
        let count = samples.iter().find(|s| s.name.ends_with("_count"));
        let sum = samples.iter().find(|s| s.name.ends_with("_sum"));
        let (Some(count), Some(_)) = (count, sum) else {
            return Err(format!("{} {key:?}: _count or _sum missing", f.name));
        };
        if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
            return Err(format!("{} {key:?}: last bucket is not +Inf", f.name));
        }
        for w in buckets.windows(2) {
            if w[1].0 <= w[0].0 || w[1].1 < w[0].1 {
                return Err(format!("{} {key:?}: buckets not cumulative: {w:?}", f.name));
            }
        }
        if buckets.last().unwrap().1 != count.value {
            return Err(format!("{} {key:?}: +Inf bucket != _count", f.name));
        }
    }
    Ok(())
}

/// The value of the one sample named `name` with exactly these labels.
fn value(families: &[Family], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    families
        .iter()
        .flat_map(|f| &f.samples)
        .find(|s| {
            let mut l = s.labels.clone();
            l.sort();
            s.name == name && l == want
        })
        .map(|s| s.value)
}

// ---------------------------------------------------------------------------------------------

fn threshold(spec: &str, metric: &str, status: &str, measured: f64, limit: f64) -> ThresholdState {
    ThresholdState {
        spec_id: spec.into(),
        metric: metric.into(),
        status: status.into(),
        measured: Some(measured),
        limit: Some(limit),
        unit: "ms".into(),
    }
}

fn snapshot() -> MonitorSnapshot {
    let mut s = MonitorSnapshot {
        window_calls: 7,
        overall: "FAIL".into(),
        target_up: Some(true),
        availability: Some(0.9995),
        last_ping_rtt_ms: Some(12.5),
        outages_total: 2,
        last_call_unix: Some(1_795_437_296.5),
        store_errors: 1,
        alerts_undelivered: 3,
        started_unix: 1_795_400_000.0,
        ..MonitorSnapshot::default()
    };
    s.calls.insert("success".into(), 40);
    s.calls.insert("no_prompt".into(), 2);
    s.calls.insert("interrupted".into(), 1);
    // 0.05 s, 0.25 s (on a bound), 3.9 s, 12 s, 400 s (past the last bound); NaN is dropped.
    s.response_ms.insert(
        "query_response".into(),
        vec![12_000.0, 50.0, 250.0, 3_900.0, 400_000.0, f64::NAN],
    );
    s.response_ms.insert("dtmf_response".into(), vec![]);
    s.verdicts = vec![
        threshold(
            "OPS-QUERY-RESPONSE",
            "query_response",
            "FAIL",
            11_500.0,
            10_000.0,
        ),
        ThresholdState {
            measured: None,
            ..threshold(
                "OPS-DTMF-RESPONSE",
                "dtmf_response",
                "NOT_MEASURED",
                0.0,
                4_000.0,
            )
        },
        ThresholdState {
            spec_id: "OPS-IVR-SUCCESS".into(),
            metric: "ivr_success".into(),
            status: "PASS".into(),
            measured: Some(0.99),
            limit: Some(0.98),
            unit: "ratio".into(),
        },
    ];
    s
}

#[test]
fn exposition_follows_the_text_format_strictly() {
    let text = render(&snapshot());
    let families = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
    for want in [
        "callcert_monitor_calls_total",
        "callcert_monitor_window_calls",
        "callcert_monitor_window_response_seconds",
        "callcert_monitor_threshold_status",
        "callcert_monitor_threshold_pass",
        "callcert_monitor_threshold_measured",
        "callcert_monitor_threshold_limit",
        "callcert_monitor_verdict_status",
        "callcert_monitor_verdict_pass",
        "callcert_monitor_target_up",
        "callcert_monitor_availability_ratio",
        "callcert_monitor_ping_rtt_seconds",
        "callcert_monitor_outages_total",
        "callcert_monitor_last_call_timestamp_seconds",
        "callcert_monitor_store_errors_total",
        "callcert_monitor_alerts_undelivered_total",
        "callcert_monitor_start_time_seconds",
    ] {
        assert!(names.contains(&want), "{want} missing from\n{text}");
    }
    let calls = |o| value(&families, "callcert_monitor_calls_total", &[("outcome", o)]);
    assert_eq!(calls("success"), Some(40.0));
    assert_eq!(calls("no_prompt"), Some(2.0));
    assert_eq!(calls("interrupted"), Some(1.0));
    let one = |name| value(&families, name, &[]);
    assert_eq!(one("callcert_monitor_window_calls"), Some(7.0));
    assert_eq!(one("callcert_monitor_target_up"), Some(1.0));
    assert_eq!(one("callcert_monitor_availability_ratio"), Some(0.9995));
    assert_eq!(one("callcert_monitor_ping_rtt_seconds"), Some(0.0125));
    assert_eq!(one("callcert_monitor_outages_total"), Some(2.0));
    assert_eq!(one("callcert_monitor_store_errors_total"), Some(1.0));
    assert_eq!(one("callcert_monitor_alerts_undelivered_total"), Some(3.0));
    assert_eq!(
        one("callcert_monitor_last_call_timestamp_seconds"),
        Some(1_795_437_296.5)
    );
    assert_eq!(
        one("callcert_monitor_start_time_seconds"),
        Some(1_795_400_000.0)
    );
}

#[test]
fn histogram_buckets_count_the_window_in_seconds() {
    let text = render(&snapshot());
    let families = parse_exposition(&text).unwrap();
    let bucket = |metric, le| {
        value(
            &families,
            "callcert_monitor_window_response_seconds_bucket",
            &[("metric", metric), ("le", le)],
        )
    };
    // 0.05, 0.25, 3.9, 12, 400 s (the NaN sample is not counted).
    let want = [
        ("0.1", 1.0),
        ("0.25", 2.0), // le is inclusive
        ("0.5", 2.0),
        ("3", 2.0),
        ("4", 3.0),
        ("10", 3.0),
        ("15", 4.0),
        ("300", 4.0),
        ("+Inf", 5.0),
    ];
    for (le, n) in want {
        assert_eq!(bucket("query_response", le), Some(n), "le={le}\n{text}");
    }
    let q = [("metric", "query_response")];
    assert_eq!(
        value(
            &families,
            "callcert_monitor_window_response_seconds_count",
            &q
        ),
        Some(5.0)
    );
    let sum = value(
        &families,
        "callcert_monitor_window_response_seconds_sum",
        &q,
    )
    .unwrap();
    assert!((sum - 416.2).abs() < 1e-9, "{sum}");
    // Every bound of the set is written, then +Inf.
    let les: Vec<String> = families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| {
            s.name.ends_with("_bucket")
                && s.labels
                    .contains(&("metric".into(), "query_response".into()))
        })
        .map(|s| s.labels.iter().find(|(k, _)| k == "le").unwrap().1.clone())
        .collect();
    assert_eq!(les.len(), RESPONSE_BUCKETS_S.len() + 1);
    assert_eq!(les.last().unwrap(), "+Inf");
    // An empty window is all zeros, not missing (and not `-0`).
    assert!(!text.contains(" -0\n"), "{text}");
    assert_eq!(bucket("dtmf_response", "+Inf"), Some(0.0));
    assert_eq!(
        value(
            &families,
            "callcert_monitor_window_response_seconds_sum",
            &[("metric", "dtmf_response")]
        ),
        Some(0.0)
    );
}

#[test]
fn threshold_states_use_the_enum_pattern() {
    let text = render(&snapshot());
    let families = parse_exposition(&text).unwrap();
    let status = |spec, metric, st| {
        value(
            &families,
            "callcert_monitor_threshold_status",
            &[("spec_id", spec), ("metric", metric), ("status", st)],
        )
    };
    for st in [
        "PASS",
        "FAIL",
        "INCONCLUSIVE",
        "NOT_MEASURED",
        "NOT_APPLICABLE",
    ] {
        let want = if st == "FAIL" { 1.0 } else { 0.0 };
        assert_eq!(
            status("OPS-QUERY-RESPONSE", "query_response", st),
            Some(want),
            "{st}"
        );
        let want = if st == "NOT_MEASURED" { 1.0 } else { 0.0 };
        assert_eq!(
            status("OPS-DTMF-RESPONSE", "dtmf_response", st),
            Some(want),
            "{st}"
        );
    }
    let pass = |spec, metric| {
        value(
            &families,
            "callcert_monitor_threshold_pass",
            &[("spec_id", spec), ("metric", metric)],
        )
    };
    assert_eq!(pass("OPS-QUERY-RESPONSE", "query_response"), Some(0.0));
    assert_eq!(pass("OPS-DTMF-RESPONSE", "dtmf_response"), Some(0.0));
    assert_eq!(pass("OPS-IVR-SUCCESS", "ivr_success"), Some(1.0));
    // ms thresholds in seconds, ratios as they are.
    let q = [
        ("spec_id", "OPS-QUERY-RESPONSE"),
        ("metric", "query_response"),
        ("unit", "seconds"),
    ];
    assert_eq!(
        value(&families, "callcert_monitor_threshold_measured", &q),
        Some(11.5)
    );
    assert_eq!(
        value(&families, "callcert_monitor_threshold_limit", &q),
        Some(10.0)
    );
    let r = [
        ("spec_id", "OPS-IVR-SUCCESS"),
        ("metric", "ivr_success"),
        ("unit", "ratio"),
    ];
    assert_eq!(
        value(&families, "callcert_monitor_threshold_limit", &r),
        Some(0.98)
    );
    // The overall verdict too.
    let overall = |st| {
        value(
            &families,
            "callcert_monitor_verdict_status",
            &[("status", st)],
        )
    };
    assert_eq!(overall("FAIL"), Some(1.0));
    assert_eq!(overall("PASS"), Some(0.0));
    assert_eq!(overall("INCONCLUSIVE"), Some(0.0));
    assert_eq!(
        overall("NOT_MEASURED"),
        None,
        "not a status of the overall verdict"
    );
    // Not measured: no value series, but the limit is there.
    let d = [
        ("spec_id", "OPS-DTMF-RESPONSE"),
        ("metric", "dtmf_response"),
        ("unit", "seconds"),
    ];
    assert_eq!(
        value(&families, "callcert_monitor_threshold_measured", &d),
        None
    );
    assert_eq!(
        value(&families, "callcert_monitor_threshold_limit", &d),
        Some(4.0)
    );
    assert_eq!(
        value(&families, "callcert_monitor_verdict_pass", &[]),
        Some(0.0)
    );
}

#[test]
fn label_values_are_escaped_and_duplicates_dropped() {
    let mut s = snapshot();
    let odd = "OPS-\"X\"\\y\nz";
    s.verdicts
        .push(threshold(odd, "query_response", "PASS", 1.0, 2.0));
    // The same threshold twice would be a duplicate series: the first one stands.
    s.verdicts.push(threshold(
        "OPS-QUERY-RESPONSE",
        "query_response",
        "PASS",
        1.0,
        2.0,
    ));
    s.calls.insert("weird \"kind\"\n".into(), 5);
    // A status word the list does not know still gets its series.
    s.verdicts
        .push(threshold("OPS-AGENT-WAIT", "agent_wait", "STALE", 1.0, 2.0));
    let text = render(&s);
    assert!(text.contains(&format!("spec_id=\"{}\"", escape_label_value(odd))));
    assert!(
        text.contains("spec_id=\"OPS-\\\"X\\\"\\\\y\\nz\""),
        "{text}"
    );
    let families = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        value(
            &families,
            "callcert_monitor_threshold_pass",
            &[("spec_id", odd), ("metric", "query_response")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &families,
            "callcert_monitor_threshold_pass",
            &[
                ("spec_id", "OPS-QUERY-RESPONSE"),
                ("metric", "query_response")
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &families,
            "callcert_monitor_calls_total",
            &[("outcome", "weird \"kind\"\n")]
        ),
        Some(5.0)
    );
    let agent = |st| {
        value(
            &families,
            "callcert_monitor_threshold_status",
            &[
                ("spec_id", "OPS-AGENT-WAIT"),
                ("metric", "agent_wait"),
                ("status", st),
            ],
        )
    };
    assert_eq!(agent("STALE"), Some(1.0));
    assert_eq!(agent("PASS"), Some(0.0));
}

#[test]
fn an_empty_snapshot_is_valid_and_leaves_out_what_is_unknown() {
    let text = render(&MonitorSnapshot::default());
    let families = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
    for absent in [
        "callcert_monitor_target_up",
        "callcert_monitor_availability_ratio",
        "callcert_monitor_verdict_status",
        "callcert_monitor_threshold_status",
        "callcert_monitor_calls_total",
    ] {
        assert!(!names.contains(&absent), "{absent} in\n{text}");
    }
    assert!(names.contains(&"callcert_monitor_outages_total"));
}

#[test]
fn the_strict_reader_rejects_broken_text() {
    // The checks above are only as good as this reader: it must refuse each mistake.
    let ok = "# HELP callcert_monitor_x_total X.\n# TYPE callcert_monitor_x_total counter\ncallcert_monitor_x_total 1\n";
    parse_exposition(ok).unwrap();
    let h = "# HELP callcert_monitor_h_seconds H.\n# TYPE callcert_monitor_h_seconds histogram\n";
    for bad in [
        "callcert_monitor_x_total 1\n".to_string(),
        ok.replace("counter", "gauge"),
        ok.replace(" 1\n", " one\n"),
        ok.replace("_total 1", "_total{a=\"b\nc\"} 1"),
        ok.replace("_total 1", "_total{a=\"\\t\"} 1"),
        format!("{ok}callcert_monitor_x_total 2\n"),
        ok.trim_end().to_string(),
        format!("{h}callcert_monitor_h_seconds_bucket{{le=\"1\"}} 2\ncallcert_monitor_h_seconds_bucket{{le=\"+Inf\"}} 1\ncallcert_monitor_h_seconds_sum 1\ncallcert_monitor_h_seconds_count 1\n"),
        format!("{h}callcert_monitor_h_seconds_bucket{{le=\"1\"}} 1\ncallcert_monitor_h_seconds_sum 1\ncallcert_monitor_h_seconds_count 1\n"),
        format!("{h}callcert_monitor_h_seconds_bucket{{le=\"+Inf\"}} 2\ncallcert_monitor_h_seconds_sum 1\ncallcert_monitor_h_seconds_count 1\n"),
    ] {
        assert!(parse_exposition(&bad).is_err(), "accepted:\n{bad}");
    }
}

/// `promtool check metrics` (Debian `prometheus`): the reference parser and linter. Skipped
/// when promtool is missing, unless CALLCERT_REQUIRE_PROMTOOL=1 (CI installs it).
#[test]
fn exposition_passes_promtool_check_metrics() {
    let present = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var("CALLCERT_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "promtool is required (Debian package `prometheus`)"
        );
        eprintln!("promtool not found: skipped (Debian package `prometheus`)");
        return;
    }
    let mut odd = snapshot();
    odd.verdicts.push(threshold(
        "OPS-\"X\"\\y\nz",
        "query_response",
        "PASS",
        1.0,
        2.0,
    ));
    for snap in [snapshot(), odd, MonitorSnapshot::default()] {
        let text = render(&snap);
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Exit 0 and nothing said: parsed, and no lint finding.
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{said}\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The endpoint, over real sockets on 127.0.0.1.

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Sends `request` and reads until the server closes; `None` when it closed or reset without
/// answering. Bounded by a timeout.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Option<String> {
    let go = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(request).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), go)
        .await
        .expect("the server answered or closed within 10 s")
}

fn split_response(r: &str) -> (u16, String, String) {
    let (head, body) = r.split_once("\r\n\r\n").expect("a head");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (code, head.to_string(), body.to_string())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn scrape(addr: SocketAddr) -> (u16, String, String) {
    let r = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("an answer");
    split_response(&r)
}

#[tokio::test]
async fn scrape_returns_the_rendered_text() {
    let server = MetricsServer::bind(loopback()).await.unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    let text = render(&snapshot());
    server.update(text.clone());
    let (code, head, body) = scrape(addr).await;
    assert_eq!(code, 200, "{head}");
    assert_eq!(header(&head, "Content-Type"), Some(CONTENT_TYPE));
    assert_eq!(
        header(&head, "Content-Length"),
        Some(text.len().to_string().as_str())
    );
    assert_eq!(body, text);
    // The next scrape sees the next update.
    let mut s = snapshot();
    s.window_calls = 8;
    server.update(render(&s));
    let (_, _, body) = scrape(addr).await;
    assert!(
        body.contains("\ncallcert_monitor_window_calls 8\n"),
        "{body}"
    );
    // HEAD: the same head, no body.
    let r = exchange(addr, b"HEAD /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let (code, head, body) = split_response(&r);
    assert_eq!(code, 200);
    assert_eq!(
        header(&head, "Content-Length"),
        Some(render(&s).len().to_string().as_str())
    );
    assert!(body.is_empty());
    // A query string is ignored; / points to /metrics.
    let r = exchange(addr, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(split_response(&r).0, 200);
    let r = exchange(addr, b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let (code, _, body) = split_response(&r);
    assert_eq!(code, 200);
    assert!(body.contains("/metrics"));
}

#[tokio::test]
async fn other_paths_get_404_and_other_methods_405() {
    let server = MetricsServer::bind(loopback()).await.unwrap();
    let addr = server.local_addr();
    let r = exchange(addr, b"GET /metricz HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(split_response(&r).0, 404);
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let req = format!("{method} /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        let r = exchange(addr, req.as_bytes()).await.unwrap();
        let (code, head, _) = split_response(&r);
        assert_eq!(code, 405, "{method}");
        assert_eq!(header(&head, "Allow"), Some("GET, HEAD"));
    }
    let r = exchange(addr, b"GET /metrics HTTP/9.9\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(split_response(&r).0, 400);
}

#[tokio::test]
async fn garbage_and_oversized_requests_do_not_stop_the_server() {
    // A short read timeout: junk without a line end waits for more until then.
    let limits = ServerLimits {
        read_timeout: Duration::from_millis(500),
        ..ServerLimits::default()
    };
    let server = MetricsServer::bind_with(loopback(), limits).await.unwrap();
    let addr = server.local_addr();
    server.update("callcert_monitor_window_calls 1\n".into());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..20 {
        let len = rng.random_range(1..3000);
        let mut junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if round % 2 == 0 {
            junk.extend_from_slice(b"\r\n\r\n");
        }
        // An answer (400) or a close, never a hang and never a dead server.
        if let Some(r) = exchange(addr, &junk).await {
            assert!(r.starts_with("HTTP/1.1 4"), "{r:?}");
        }
    }
    // A head longer than 8 KiB: 431.
    let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
    while big.len() < 9 * 1024 {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    big.extend_from_slice(b"\r\n");
    let r = exchange(addr, &big).await.expect("an answer");
    assert_eq!(split_response(&r).0, 431);
    // Still serving.
    let (code, _, body) = scrape(addr).await;
    assert_eq!(code, 200);
    assert_eq!(body, "callcert_monitor_window_calls 1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_timed_out_and_does_not_block_others() {
    let limits = ServerLimits {
        read_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let server = MetricsServer::bind_with(loopback(), limits).await.unwrap();
    let addr = server.local_addr();
    server.update("callcert_monitor_window_calls 2\n".into());
    // Two clients that send half a request and wait.
    let mut silent = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metr").await.unwrap();
        silent.push(s);
    }
    // Others are served meanwhile.
    for _ in 0..5 {
        let (code, _, body) = scrape(addr).await;
        assert_eq!(code, 200);
        assert_eq!(body, "callcert_monitor_window_calls 2\n");
    }
    // The silent ones get 408 and a close once their time is up.
    for mut s in silent {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("closed by the server")
            .unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
    }
}

#[tokio::test]
async fn many_clients_at_once_are_all_served() {
    let server = MetricsServer::bind(loopback()).await.unwrap();
    let addr = server.local_addr();
    let text = render(&snapshot());
    server.update(text.clone());
    let clients: Vec<_> = (0..50).map(|_| tokio::spawn(scrape(addr))).collect();
    for c in clients {
        let (code, _, body) = c.await.unwrap();
        assert_eq!(code, 200);
        assert_eq!(body, text);
    }
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = MetricsServer::bind(loopback()).await.unwrap();
    let addr = server.local_addr();
    assert_eq!(scrape(addr).await.0, 200);
    server.shutdown();
    // Once the accept loop is gone the port refuses (or closes without an answer); the loop
    // ends at its next poll, so give it a bounded number of tries.
    let mut stopped = false;
    for _ in 0..100 {
        tokio::task::yield_now().await;
        if exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n")
            .await
            .is_none()
        {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "still serving after shutdown");
}
