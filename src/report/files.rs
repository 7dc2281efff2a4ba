//! The report set of a run beyond report.json: `junit.xml` (one testcase per threshold) and the
//! single-file `report.html`, both built from the [`Report`] and the run's histograms.

use super::charts::{Marker, Series};
use super::html::{write_html, DelayLine, HtmlReport, MachineInfo};
use super::junit::{write_junit, JunitSuite, VerdictRow};
use super::{Report, ReportError};
use crate::metrics::{DelayHistogram, RunMetrics};
use crate::verdict::{Status, Verdict};
use std::path::{Path, PathBuf};

/// The status word the report files use.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Inconclusive => "INCONCLUSIVE",
        Status::NotMeasured => "NOT_MEASURED",
        Status::NotApplicable => "NOT_APPLICABLE",
    }
}

fn with_unit(x: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{x:.1} ms"),
        "ratio" => format!("{:.4} %", x * 100.0),
        "count" => format!("{x:.0}"),
        u => format!("{x:.3} {u}"),
    }
}

/// One verdict as a row of the JUnit and HTML tables.
pub fn verdict_row(v: &Verdict) -> VerdictRow {
    VerdictRow {
        spec_id: v.threshold.spec_id.clone(),
        clause: v.threshold.clause.clone(),
        metric: v.threshold.metric.clone(),
        expression: v.threshold.expr.to_string(),
        status: status_word(v.status).to_string(),
        measured: v.measured.map(|x| with_unit(x, v.unit)),
        interval: v
            .interval
            .map(|(a, b)| format!("{} – {}", with_unit(a, v.unit), with_unit(b, v.unit))),
        samples: v.samples,
        needed_samples: v.needed_samples,
        detail: v.detail.clone(),
    }
}

/// The CDF of a delay histogram, for plotting: (ms, fraction at or below).
pub fn cdf_points(h: &DelayHistogram) -> Vec<(f64, f64)> {
    h.histogram()
        .iter_quantiles(4)
        .map(|v| {
            (
                v.value_iterated_to() as f64 / 1000.0,
                v.quantile_iterated_to(),
            )
        })
        .collect()
}

fn markers(report: &Report, metric: &str) -> Vec<Marker> {
    report
        .verdict
        .verdicts
        .iter()
        .filter(|v| v.threshold.metric == metric && v.unit == "ms")
        .map(|v| Marker {
            label: format!(
                "{} {}",
                v.threshold.spec_id.as_deref().unwrap_or("custom"),
                v.threshold.expr
            ),
            x: v.threshold.expr.limit.millis(),
        })
        .collect()
}

/// What machine ran the test, for the report's header.
pub fn machine_info() -> MachineInfo {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let hostname = read("/proc/sys/kernel/hostname");
    MachineInfo {
        hostname: if hostname.is_empty() {
            "unknown".into()
        } else {
            hostname
        },
        cores: std::thread::available_parallelism()
            .map(|n| n.get().to_string())
            .unwrap_or_else(|_| "?".into()),
        os: format!(
            "{} {} {}",
            std::env::consts::OS,
            read("/proc/sys/kernel/osrelease"),
            std::env::consts::ARCH
        ),
    }
}

/// Writes `junit.xml` and `report.html` into `dir`; returns their paths.
pub fn write_report_files(
    dir: &Path,
    report: &Report,
    metrics: &RunMetrics,
) -> Result<Vec<PathBuf>, ReportError> {
    let rows: Vec<VerdictRow> = report.verdict.verdicts.iter().map(verdict_row).collect();
    let machine = machine_info();
    let r = &report.run;
    let properties: Vec<(String, String)> = vec![
        ("scenario".into(), r.scenario.clone()),
        ("target".into(), r.target.clone()),
        ("seed".into(), r.seed.to_string()),
        ("calls".into(), r.calls.to_string()),
        ("rate".into(), r.rate.to_string()),
        ("profile".into(), report.profile.clone().unwrap_or_default()),
        ("tool".into(), format!("callcert {}", report.tool.version)),
    ];
    let suite_name = report.profile.clone().unwrap_or_else(|| r.scenario.clone());
    let junit = dir.join("junit.xml");
    write_junit(
        &junit,
        &JunitSuite {
            name: &suite_name,
            duration_s: r.duration_s,
            started_unix_s: r.started_unix_s,
            hostname: &machine.hostname,
            properties: &properties,
        },
        &rows,
    )?;
    let run_config = vec![
        ("scenario".to_string(), r.scenario.clone()),
        ("target".into(), format!("{} ({})", r.target, r.target_addr)),
        ("transport".into(), r.transport.clone()),
        ("local address".into(), r.local_addr.clone()),
        ("calls".into(), r.calls.to_string()),
        ("rate (calls/s)".into(), r.rate.to_string()),
        ("max concurrent".into(), r.max_concurrent.to_string()),
        ("codecs".into(), r.codecs.join(", ")),
        ("hold after answer".into(), format!("{} s", r.hold_s)),
        ("answer timeout".into(), format!("{} s", r.answer_timeout_s)),
        ("digest credentials".into(), r.authenticated.to_string()),
        (
            "confidence".into(),
            report.verdict.conditions.confidence.to_string(),
        ),
    ];
    let m = &report.metrics;
    let html = HtmlReport {
        title: format!("callcert run — {}", r.scenario),
        profile: report.profile.clone(),
        verdict: (!rows.is_empty()).then(|| status_word(report.verdict.status).to_string()),
        rows,
        run_config,
        seed: r.seed,
        tool_version: report.tool.version.to_string(),
        machine,
        started_unix_s: r.started_unix_s,
        duration_s: r.duration_s,
        calls: report.calls.clone(),
        delays: vec![
            DelayLine {
                name: "post-dial delay".into(),
                summary: m.post_dial_delay.clone(),
            },
            DelayLine {
                name: "setup time".into(),
                summary: m.setup_time.clone(),
            },
            DelayLine {
                name: "connect delay (first voice)".into(),
                summary: m.connect_delay.clone(),
            },
            DelayLine {
                name: "100 Trying".into(),
                summary: m.trying_delay.clone(),
            },
            DelayLine {
                name: "launch lateness".into(),
                summary: m.launch_lateness.clone(),
            },
            DelayLine {
                name: "DTMF response".into(),
                summary: m.dtmf_response.clone(),
            },
            DelayLine {
                name: "query response".into(),
                summary: m.query_response.clone(),
            },
            DelayLine {
                name: "agent wait".into(),
                summary: m.agent_wait.clone(),
            },
        ],
        post_dial_cdf: cdf_points(&metrics.post_dial_delay),
        post_dial_markers: markers(report, "post_dial_delay"),
        connect_cdf: cdf_points(&metrics.connect_delay),
        connect_markers: markers(report, "connect_delay"),
        failures: report
            .failures
            .iter()
            .map(|(k, n)| (format!("{k:?}"), *n))
            .collect(),
        sip_codes: report
            .sip_codes
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect(),
        load_series: metrics
            .timeline
            .series()
            .into_iter()
            .map(|(name, points)| Series {
                name: name.to_string(),
                points,
            })
            .collect(),
        response_cdfs: Vec::new(),
        response_markers: Vec::new(),
        mos: Vec::new(),
    };
    let html_path = dir.join("report.html");
    write_html(&html_path, &html)?;
    Ok(vec![junit, html_path])
}
