//! The report set of a run beyond report.json: `junit.xml` (one testcase per threshold) and the
//! single-file `report.html`, both built from the [`Report`] and the run's histograms.

use super::charts::{Marker, Series};
use super::html::{write_html, DelayLine, ExpectedLine, HtmlReport, MachineInfo, PhaseLine};
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
        .map(limit_marker)
        .collect()
}

/// A threshold's limit as a line on a delay chart, labelled with its SPEC id and expression.
pub fn limit_marker(v: &Verdict) -> Marker {
    Marker {
        label: format!(
            "{} {}",
            v.threshold.spec_id.as_deref().unwrap_or("custom"),
            v.threshold.expr
        ),
        x: v.threshold.expr.limit.millis(),
    }
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

/// The load chart's lines: offered and carried Erlangs, concurrent calls (mean and maximum).
pub fn load_series(report: &Report) -> Vec<Series> {
    let Some(s) = &report.series else {
        return Vec::new();
    };
    let line = |name: &str, ys: &mut dyn Iterator<Item = f64>| Series {
        name: name.to_string(),
        points: s.times().zip(ys).collect(),
    };
    let mut out = Vec::new();
    if let Some(o) = &s.offered_erlangs {
        out.push(line("offered load (Erl)", &mut o.iter().copied()));
    }
    out.push(line(
        "carried load (Erl)",
        &mut s.carried_erlangs.iter().copied(),
    ));
    out.push(line(
        "concurrent calls (mean)",
        &mut s.concurrent_mean.iter().copied(),
    ));
    out.push(line(
        "concurrent calls (max)",
        &mut s.concurrent_max.iter().map(|v| f64::from(*v)),
    ));
    out
}

/// The calls chart's lines: started, completed and failed per interval.
pub fn call_series(report: &Report) -> Vec<Series> {
    let Some(s) = &report.series else {
        return Vec::new();
    };
    let line = |name: &str, ys: &[u32]| Series {
        name: name.to_string(),
        points: s.times().zip(ys.iter().map(|v| f64::from(*v))).collect(),
    };
    vec![
        line("attempts", &s.attempts),
        line("completed", &s.completed),
        line("failed", &s.failed()),
    ]
}

fn pct(x: f64) -> String {
    format!("{:.3} %", x * 100.0)
}

fn interval(i: Option<(f64, f64)>, f: impl Fn(f64) -> String) -> String {
    i.map_or("too few calls".to_string(), |(lo, hi)| {
        format!("{} – {}", f(lo), f(hi))
    })
}

/// The expected-versus-measured rows: Erlang B blocking; Erlang C mean wait and share waiting.
pub fn expected_lines(report: &Report) -> Vec<ExpectedLine> {
    let mut out = Vec::new();
    if let Some(b) = &report.erlang_b {
        out.push(ExpectedLine {
            quantity: format!("blocking (503), {} calls", b.attempts),
            model: format!(
                "Erlang B, {:.2} Erl on {} trunks",
                b.offered_erlangs, b.trunks
            ),
            predicted: pct(b.predicted),
            measured: pct(b.measured),
            interval: interval(b.interval, pct),
            agrees: b.agrees,
        });
    }
    if let Some(c) = &report.erlang_c {
        let secs = |x: f64| format!("{x:.3} s");
        let within = |x: f64, i: Option<(f64, f64)>| i.map(|(lo, hi)| (lo..=hi).contains(&x));
        let model = format!(
            "Erlang C, {:.2} Erl ({:.3} calls/s × {:.1} s) on {} agents",
            c.offered_erlangs, c.arrival_rate, c.handle_time_s, c.agents
        );
        out.push(ExpectedLine {
            quantity: format!(
                "mean wait for an agent, {} calls (minus {:.3} s overhead)",
                c.samples, c.overhead_s
            ),
            model: model.clone(),
            predicted: c
                .predicted_mean_wait_s
                .map_or("unbounded".to_string(), secs),
            measured: secs(c.measured_mean_wait_s),
            interval: interval(c.mean_wait_interval, secs),
            agrees: c
                .predicted_mean_wait_s
                .and_then(|w| within(w, c.mean_wait_interval)),
        });
        out.push(ExpectedLine {
            quantity: format!("share waiting longer than {:.3} s", c.epsilon_s),
            model: format!("{model}; P(wait) {}", pct(c.predicted_wait_probability)),
            predicted: pct(c.predicted_waited_share),
            measured: pct(c.measured_waited_share),
            interval: interval(c.waited_share_interval, pct),
            agrees: within(c.predicted_waited_share, c.waited_share_interval),
        });
    }
    out
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
    let html_path = dir.join("report.html");
    write_html(&html_path, &html_report(report, metrics, machine))?;
    Ok(vec![junit, html_path])
}

/// The HTML report's content for a run: the verdict rows, configuration, delays, CDFs of
/// `metrics`' histograms, failures, load and phases. A caller may add sections to it.
pub fn html_report(report: &Report, metrics: &RunMetrics, machine: MachineInfo) -> HtmlReport {
    let rows: Vec<VerdictRow> = report.verdict.verdicts.iter().map(verdict_row).collect();
    let r = &report.run;
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
    HtmlReport {
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
        load_series: load_series(report),
        call_series: call_series(report),
        series_interval_s: report.series.as_ref().map_or(1.0, |s| s.interval_s),
        phases: report
            .phases
            .iter()
            .map(|p| PhaseLine {
                name: p.name.clone(),
                start_s: p.start_s,
                end_s: p.end_s,
                offered_erlangs: p.offered_erlangs,
                carried_erlangs: p.carried_erlangs,
                calls: p.calls.clone(),
                mean_setup_ms: p.metrics.setup_time.as_ref().map(|d| d.mean_ms),
                mean_agent_wait_ms: p.metrics.agent_wait.as_ref().map(|d| d.mean_ms),
            })
            .collect(),
        expected: expected_lines(report),
        response_cdfs: Vec::new(),
        response_markers: Vec::new(),
        mos: Vec::new(),
        extra_sections: Vec::new(),
    }
}
