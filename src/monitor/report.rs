//! The report set of a monitoring window (`callcert monitor report --store DIR --since 24h`):
//! the same `report.json`, `junit.xml` and `report.html` a run writes, from the window's
//! [`WindowResult`], plus the monitor's own parts — a `monitor` section in report.json (hourly
//! breakdown, busy/idle comparison, availability and outages, calls not judged) and, in the
//! HTML, time-of-day charts, the comparison with its busy hours marked, and the outage table.

use super::window::{Availability, BusyHoursSource, HourStats, Parity, WindowResult};
use crate::report::charts::{hour_of_day_svg, ChartError, HourlyStyle, Level, Marker, Series};
use crate::report::files::{cdf_points, html_report, machine_info, status_word, verdict_row};
use crate::report::html::{write_html, ExtraSection};
use crate::report::junit::{escape_text, iso_timestamp, write_junit, JunitSuite};
use crate::report::{Report, ReportError, RunInfo};
use crate::verdict::{Aggregation, Evaluation, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the report says about the monitor beyond the window's numbers.
#[derive(Debug, Clone)]
pub struct ReportMeta {
    /// The monitor's name (the report's title).
    pub monitor: String,
    /// The profile judged (`yd2823-operational`), if the thresholds came from one.
    pub profile: Option<String>,
    /// The store the window was read from.
    pub store: PathBuf,
    /// The window as asked for (`24h`).
    pub since: String,
    /// The configuration of the monitor's calls (target, transport, codecs, seed, and the
    /// schedule as `calls` planned in the window and `rate` in calls/s). Its `started_unix_s` and
    /// `duration_s` are replaced by the window's bounds.
    pub run: RunInfo,
}

/// The `monitor` section of report.json (schema: `#/properties/monitor`).
#[derive(Debug, Clone, Serialize)]
pub struct MonitorSection<'a> {
    /// The monitor's name.
    pub name: &'a str,
    /// The store read.
    pub store: String,
    /// The window as asked for.
    pub since: &'a str,
    /// The window's start (exclusive), Unix seconds.
    pub from_unix: f64,
    /// Its end (inclusive), Unix seconds.
    pub to_unix: f64,
    /// Offset of the hours of day from UTC, seconds.
    pub utc_offset_s: i32,
    /// Calls the monitor cut short: not judged.
    pub interrupted: u64,
    /// Calls in progress at the window's end: not judged.
    pub in_progress: u64,
    /// Calls done without a stored record: not judged.
    pub unrecorded: u64,
    /// Judged calls by scenario.
    pub scenarios: &'a BTreeMap<String, u64>,
    /// The hours of the day with calls or pings.
    pub hourly: &'a [HourStats],
    /// OPS-BUSY-IDLE-PARITY.
    pub parity: &'a Parity,
    /// SYS-AVAILABILITY and the outages.
    pub availability: &'a Availability,
}

impl<'a> MonitorSection<'a> {
    /// The section for `result`.
    pub fn new(result: &'a WindowResult, meta: &'a ReportMeta) -> Self {
        MonitorSection {
            name: &meta.monitor,
            store: meta.store.display().to_string(),
            since: &meta.since,
            from_unix: result.from_unix,
            to_unix: result.to_unix,
            utc_offset_s: result.utc_offset_s,
            interrupted: result.interrupted,
            in_progress: result.in_progress,
            unrecorded: result.unrecorded,
            scenarios: &result.scenarios,
            hourly: &result.hourly,
            parity: &result.parity,
            availability: &result.availability,
        }
    }
}

/// report.json of a window: a run's report with the `monitor` section after it.
#[derive(Serialize)]
struct WindowJson<'a> {
    #[serde(flatten)]
    report: &'a Report,
    monitor: MonitorSection<'a>,
}

/// The run-shaped report of a window: its aggregates, verdicts and failed calls.
pub fn window_report(result: &WindowResult, meta: &ReportMeta) -> Report {
    let run = RunInfo {
        started_unix_s: result.from_unix,
        duration_s: (result.to_unix - result.from_unix).max(0.0),
        ..meta.run.clone()
    };
    let mut report = Report::from_metrics(
        run,
        meta.profile.clone(),
        &result.metrics,
        result.evaluation.clone(),
    );
    report.failed_calls = result.failed_calls.clone();
    report
}

/// Writes `report.json`, `junit.xml` and `report.html` of a window into `out_dir` (created if
/// missing); returns their paths.
pub fn write_window_report(
    result: &WindowResult,
    info: ReportMeta,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let report = window_report(result, &info);
    let json = out_dir.join("report.json");
    let text = serde_json::to_string_pretty(&WindowJson {
        report: &report,
        monitor: MonitorSection::new(result, &info),
    })?;
    std::fs::write(&json, text).map_err(|source| ReportError::Write {
        path: json.clone(),
        source,
    })?;

    let machine = machine_info();
    let rows: Vec<_> = report.verdict.verdicts.iter().map(verdict_row).collect();
    let suite_name = info
        .profile
        .clone()
        .unwrap_or_else(|| format!("monitor {}", info.monitor));
    let properties: Vec<(String, String)> = vec![
        ("monitor".into(), info.monitor.clone()),
        ("target".into(), report.run.target.clone()),
        ("store".into(), info.store.display().to_string()),
        ("since".into(), info.since.clone()),
        ("window_from".into(), iso_timestamp(result.from_unix)),
        ("window_to".into(), iso_timestamp(result.to_unix)),
        ("utc_offset_s".into(), result.utc_offset_s.to_string()),
        ("seed".into(), report.run.seed.to_string()),
        ("profile".into(), info.profile.clone().unwrap_or_default()),
        ("tool".into(), format!("callcert {}", report.tool.version)),
    ];
    let junit = out_dir.join("junit.xml");
    write_junit(
        &junit,
        &JunitSuite {
            name: &suite_name,
            duration_s: report.run.duration_s,
            started_unix_s: report.run.started_unix_s,
            hostname: &machine.hostname,
            properties: &properties,
        },
        &rows,
    )?;

    let mut html = html_report(&report, &result.metrics, machine);
    html.title = format!("callcert monitor — {}, {} window", info.monitor, info.since);
    let offset = offset_text(result.utc_offset_s);
    let mut config = vec![
        ("monitor".to_string(), info.monitor.clone()),
        ("store".into(), info.store.display().to_string()),
        (
            "window".into(),
            format!(
                "{} to {} ({})",
                local_time(result.from_unix, result.utc_offset_s),
                local_time(result.to_unix, result.utc_offset_s),
                info.since
            ),
        ),
        ("hours of day".into(), offset),
        (
            "busy hours".into(),
            match result.parity.source {
                BusyHoursSource::Declared => {
                    format!(
                        "declared; those with agent waits: {}",
                        hours(&result.parity.busy_hours)
                    )
                }
                BusyHoursSource::Found => "found from the agent waits".into(),
            },
        ),
    ];
    config.append(&mut html.run_config);
    html.run_config = config;
    let (cdfs, markers) = response_cdfs(result, &report.verdict);
    html.response_cdfs = cdfs;
    html.response_markers = markers;
    html.extra_sections = vec![time_of_day_section(result), availability_section(result)];
    let html_path = out_dir.join("report.html");
    write_html(&html_path, &html)?;
    Ok(vec![json, junit, html_path])
}

/// Ids of the monitor's charts.
pub mod chart_ids {
    /// Calls and failed calls by hour of day.
    pub const CALLS_BY_HOUR: &str = "chart-hourly-calls";
    /// Mean DTMF and query response by hour of day.
    pub const RESPONSE_BY_HOUR: &str = "chart-hourly-response";
    /// Mean agent wait by hour of day, busy hours marked.
    pub const AGENT_WAIT_BY_HOUR: &str = "chart-hourly-agent-wait";
    /// Availability by hour of day.
    pub const AVAILABILITY_BY_HOUR: &str = "chart-hourly-availability";
}

/// `UTC+08:00`, `UTC−05:30`, `UTC`.
fn offset_text(offset_s: i32) -> String {
    if offset_s == 0 {
        return "UTC".into();
    }
    let sign = if offset_s < 0 { '−' } else { '+' };
    let m = offset_s.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// `2026-01-01 10:00:00 UTC+08:00`.
fn local_time(unix_s: f64, offset_s: i32) -> String {
    format!(
        "{} {}",
        iso_timestamp(unix_s + f64::from(offset_s)).replacen('T', " ", 1),
        offset_text(offset_s)
    )
}

fn hours(list: &[u8]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|h| format!("{h:02}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Threshold limits on a delay metric, in seconds, as chart levels.
fn delay_levels(e: &Evaluation, metric: &str) -> Vec<Level> {
    e.verdicts
        .iter()
        .filter(|v| {
            v.threshold.metric == metric && v.threshold.expr.aggregation == Aggregation::Avg
        })
        .map(|v| Level {
            label: format!(
                "{} {}",
                v.threshold.spec_id.as_deref().unwrap_or("custom"),
                v.threshold.expr
            ),
            y: v.threshold.expr.limit.millis() / 1000.0,
        })
        .collect()
}

/// The DTMF and query response CDFs of the window with their threshold markers.
fn response_cdfs(result: &WindowResult, e: &Evaluation) -> (Vec<Series>, Vec<Marker>) {
    let m = &result.metrics;
    let cdfs = [
        ("DTMF response", &m.dtmf_response),
        ("query response", &m.query_response),
    ]
    .into_iter()
    .filter(|(_, h)| h.count() > 0)
    .map(|(name, h)| Series {
        name: name.into(),
        points: cdf_points(h),
    })
    .collect();
    let markers = e
        .verdicts
        .iter()
        .filter(|v| {
            matches!(
                v.threshold.metric.as_str(),
                "dtmf_response" | "query_response"
            )
        })
        .map(crate::report::files::limit_marker)
        .collect();
    (cdfs, markers)
}

/// A series of one value per hour, skipping hours without it.
fn per_hour(name: &str, hourly: &[HourStats], f: impl Fn(&HourStats) -> Option<f64>) -> Series {
    Series {
        name: name.into(),
        points: hourly
            .iter()
            .filter_map(|h| f(h).map(|v| (f64::from(h.hour), v)))
            .collect(),
    }
}

/// A chart in a figure, or a note saying why there is none.
fn figure(h: &mut String, caption: &str, chart: Result<String, ChartError>) {
    match chart {
        Ok(svg) => {
            let _ = write!(
                h,
                "<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>\n",
                escape_text(caption)
            );
        }
        Err(ChartError::NoData { .. }) => {
            let _ = writeln!(
                h,
                "<p class=\"not-measured-note\">{}: nothing measured in this window.</p>",
                escape_text(caption)
            );
        }
        Err(e) => {
            let _ = writeln!(
                h,
                "<p class=\"chart-error\">Chart not drawn: {}</p>",
                escape_text(&e.to_string())
            );
        }
    }
}

fn secs(ms: Option<f64>) -> String {
    ms.map_or("—".into(), |v| format!("{:.1}", v / 1000.0))
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Inconclusive => "inconclusive",
        Status::NotMeasured | Status::NotApplicable => "not-measured",
    }
}

/// The time-of-day section: what was not judged, the hourly charts, the busy/idle comparison
/// and the hourly table.
fn time_of_day_section(r: &WindowResult) -> ExtraSection {
    let mut h = String::new();
    let offset = offset_text(r.utc_offset_s);
    let x_desc = format!("hour of day ({offset})");
    let judged = r.metrics.attempted;
    let _ = writeln!(
        h,
        "<p class=\"intro\">{judged} calls judged; not judged (not held against the call center): \
         {} cut short by the monitor, {} still in progress at the window's end, {} without a \
         stored record.</p>",
        r.interrupted, r.in_progress, r.unrecorded
    );
    if !r.scenarios.is_empty() {
        h.push_str("<table class=\"numbers compact\" id=\"monitor-scenarios\">\n<thead><tr><th>Scenario</th><th class=\"num\">calls judged</th></tr></thead>\n<tbody>\n");
        for (name, n) in &r.scenarios {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
                escape_text(name)
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    let e = &r.evaluation;
    figure(
        &mut h,
        "Calls placed and calls failed in each hour of the day.",
        hour_of_day_svg(
            chart_ids::CALLS_BY_HOUR,
            "Calls and failures by hour of day",
            &x_desc,
            "calls",
            HourlyStyle::Bars,
            &[
                per_hour("calls", &r.hourly, |s| Some(s.calls as f64)),
                per_hour("failed", &r.hourly, |s| Some(s.failed as f64)),
            ],
            &[],
            ("", &[]),
            None,
        ),
    );
    let mut levels = delay_levels(e, "dtmf_response");
    levels.extend(delay_levels(e, "query_response"));
    figure(
        &mut h,
        "Mean DTMF response and mean query response in each hour of the day; the dashed lines are the 24-hour limits on the means.",
        hour_of_day_svg(
            chart_ids::RESPONSE_BY_HOUR,
            "DTMF and query response by hour of day",
            &x_desc,
            "mean response (s)",
            HourlyStyle::Lines,
            &[
                per_hour("DTMF response", &r.hourly, |s| {
                    s.dtmf_response_mean_ms.map(|v| v / 1000.0)
                }),
                per_hour("query response", &r.hourly, |s| {
                    s.query_response_mean_ms.map(|v| v / 1000.0)
                }),
            ],
            &levels,
            ("", &[]),
            None,
        ),
    );
    let p = &r.parity;
    let shade_label = match p.source {
        BusyHoursSource::Declared => "busy hours (declared)",
        BusyHoursSource::Found => "busy hours (found from the waits)",
    };
    figure(
        &mut h,
        "Mean wait for an agent in each hour of the day, the busy hours of the comparison shaded; the dashed line is the 24-hour limit on the mean.",
        hour_of_day_svg(
            chart_ids::AGENT_WAIT_BY_HOUR,
            "Agent wait by hour of day",
            &x_desc,
            "mean agent wait (s)",
            HourlyStyle::Lines,
            &[per_hour("agent wait", &r.hourly, |s| {
                s.agent_wait_mean_ms.map(|v| v / 1000.0)
            })],
            &delay_levels(e, "agent_wait"),
            (shade_label, &p.busy_hours),
            None,
        ),
    );
    parity_table(&mut h, p);
    hourly_table(&mut h, &r.hourly);
    ExtraSection {
        id: "time-of-day".into(),
        title: "Time of day".into(),
        intro: format!(
            "Each hour of the day ({offset}) over every day of the window: the calls placed in it and what they measured. A call counts in the hour it was placed. Hours without calls or pings are left out. The busy-versus-idle comparison of agent wait is OPS-BUSY-IDLE-PARITY."
        ),
        html: h,
    }
}

fn parity_table(h: &mut String, p: &Parity) {
    let cls = status_class(p.status);
    let word = match p.status {
        Status::NotApplicable => "NOT APPLICABLE",
        s => status_word(s),
    };
    let source = match p.source {
        BusyHoursSource::Declared => "declared",
        BusyHoursSource::Found => {
            "found: the upper group of the best split of the hourly mean waits"
        }
    };
    let rows = [
        (
            "result",
            format!("<span class=\"pill {cls}\">{}</span>", escape_text(word)),
        ),
        (
            "busy hours",
            escape_text(&format!("{} ({source})", hours(&p.busy_hours))),
        ),
        ("idle hours", escape_text(&hours(&p.idle_hours))),
        (
            "mean agent wait, busy",
            format!("{} s over {} waits", secs(p.busy_mean_ms), p.busy_waits),
        ),
        (
            "mean agent wait, idle",
            format!("{} s over {} waits", secs(p.idle_mean_ms), p.idle_waits),
        ),
        (
            "longer ÷ shorter",
            p.ratio.map_or("—".into(), |x| {
                format!("{x:.2}× (marked above {}×)", p.ratio_limit)
            }),
        ),
        (
            "apart",
            format!(
                "{} s (marked above {} s)",
                secs(p.gap_ms),
                p.min_gap_ms / 1000.0
            ),
        ),
        (
            "permutation p",
            p.p_value.map_or("—".into(), |x| {
                format!(
                    "{x:.4} over {} shuffles (significant at ≤ {:.2})",
                    p.permutations,
                    1.0 - p.confidence
                )
            }),
        ),
        ("detail", escape_text(&p.detail)),
    ];
    h.push_str("<h3>Busy and idle hours (OPS-BUSY-IDLE-PARITY)</h3>\n<table class=\"kv\" id=\"monitor-parity\">\n<tbody>\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn hourly_table(h: &mut String, hourly: &[HourStats]) {
    if hourly.is_empty() {
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table class=\"numbers compact\" id=\"monitor-hourly\">\n<thead><tr><th>hour</th><th class=\"num\">calls</th>\
         <th class=\"num\">failed</th><th class=\"num\">DTMF s</th><th class=\"num\">query s</th><th class=\"num\">agent wait s</th>\
         <th class=\"num\">waits</th><th class=\"num\">post-dial ms</th><th class=\"num\">pings answered</th></tr></thead>\n<tbody>\n",
    );
    for s in hourly {
        let _ = writeln!(
            h,
            "<tr><td>{:02}:00</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} / {}</td></tr>",
            s.hour,
            s.calls,
            s.failed,
            secs(s.dtmf_response_mean_ms),
            secs(s.query_response_mean_ms),
            secs(s.agent_wait_mean_ms),
            s.agent_waits,
            s.post_dial_delay_mean_ms
                .map_or("—".into(), |v| format!("{v:.1}")),
            s.pings_answered,
            s.pings
        );
    }
    h.push_str("</tbody>\n</table></div>\n");
}

/// The availability section: the pings' totals, availability by hour, the outages.
fn availability_section(r: &WindowResult) -> ExtraSection {
    let mut h = String::new();
    let a = &r.availability;
    let offset = r.utc_offset_s;
    let _ = writeln!(
        h,
        "<p>{} pings{}, {} answered: availability {}; down {} in {} outage{}.</p>",
        a.pings,
        a.interval_s
            .map(|s| format!(" about every {s:.0} s"))
            .unwrap_or_default(),
        a.answered,
        a.rate
            .map_or("not measured".into(), |x| format!("{:.3} %", x * 100.0)),
        duration(a.down_s),
        a.outages.len(),
        if a.outages.len() == 1 { "" } else { "s" }
    );
    let levels: Vec<Level> = r
        .evaluation
        .verdicts
        .iter()
        .filter(|v| {
            v.threshold.metric == "availability"
                && v.threshold.expr.aggregation == Aggregation::Rate
        })
        .map(|v| Level {
            label: format!(
                "{} {}",
                v.threshold.spec_id.as_deref().unwrap_or("custom"),
                v.threshold.expr
            ),
            y: v.threshold.expr.limit.number * 100.0,
        })
        .collect();
    let series = per_hour("pings answered (%)", &r.hourly, |s| {
        (s.pings > 0).then(|| s.pings_answered as f64 * 100.0 / s.pings as f64)
    });
    let lowest = series
        .points
        .iter()
        .map(|(_, y)| *y)
        .chain(levels.iter().map(|l| l.y))
        .fold(100.0f64, f64::min);
    // Room below the lowest hour, in whole percent, so 99.9 % and 100 % stay apart.
    let bottom = ((lowest - (100.0 - lowest).max(0.5) * 0.5).floor()).max(0.0);
    figure(
        &mut h,
        "Share of OPTIONS pings answered in each hour of the day; the dashed line is the SYS-AVAILABILITY limit.",
        hour_of_day_svg(
            chart_ids::AVAILABILITY_BY_HOUR,
            "Availability by hour of day",
            &format!("hour of day ({})", offset_text(offset)),
            "pings answered (%)",
            HourlyStyle::Lines,
            &[series],
            &levels,
            ("", &[]),
            Some((bottom, 100.0 + (100.0 - bottom) * 0.04)),
        ),
    );
    if a.outages.is_empty() {
        h.push_str("<p class=\"ok-note\">No outage: every ping in the window was answered.</p>\n");
    } else {
        h.push_str(
            "<table class=\"numbers compact\" id=\"monitor-outages\">\n<thead><tr><th>start</th><th>end</th>\
             <th class=\"num\">duration</th><th class=\"num\">unanswered pings</th><th>first reason</th></tr></thead>\n<tbody>\n",
        );
        for o in &a.outages {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape_text(&local_time(o.start_unix, offset)),
                escape_text(
                    &o.end_unix
                        .map_or("still down at the window's end".into(), |t| local_time(t, offset))
                ),
                escape_text(&duration(o.duration_s)),
                o.failed_pings,
                escape_text(o.detail.as_deref().unwrap_or("—"))
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    ExtraSection {
        id: "availability".into(),
        title: "Availability".into(),
        intro: "SYS-AVAILABILITY from SIP OPTIONS pings sent at their own interval: pings answered ÷ pings sent. An outage runs from the first unanswered ping to the next answered one.".into(),
        html: h,
    }
}

/// `1 h 02 min 03 s`, `10 min 00 s`, `12 s`.
fn duration(s: f64) -> String {
    if !(s.is_finite() && s >= 0.0) {
        return "—".into();
    }
    let t = s.round() as u64;
    let (hh, mm, ss) = (t / 3600, (t / 60) % 60, t % 60);
    match (hh, mm) {
        (0, 0) => format!("{ss} s"),
        (0, _) => format!("{mm} min {ss:02} s"),
        _ => format!("{hh} h {mm:02} min {ss:02} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::window::tests::{day_of_calls, ping, record, DAY, MIDNIGHT};
    use crate::monitor::window::{evaluate_window, monitor_thresholds, WindowConfig};

    fn meta(dir: &Path) -> ReportMeta {
        ReportMeta {
            monitor: "hotline <95xxx>".into(),
            profile: Some("yd2823-operational".into()),
            store: dir.join("store"),
            since: "24h".into(),
            run: RunInfo {
                scenario: "balance".into(),
                target: "sip:ivr@127.0.0.1:5070".into(),
                target_addr: "127.0.0.1:5070".into(),
                local_addr: "127.0.0.1:5060".into(),
                transport: "udp".into(),
                calls: 1_440,
                rate: 1.0 / 60.0,
                max_concurrent: 1,
                seed: 42,
                codecs: vec!["PCMU".into()],
                hold_s: 0.0,
                answer_timeout_s: 30.0,
                authenticated: false,
                started_unix_s: 0.0,
                duration_s: 0.0,
            },
        }
    }

    /// A day of calls a minute: queries 9.5 s, 25 s between 10:00 and 11:00 (the 24 h mean
    /// 10.15 s fails OPS-QUERY-RESPONSE); agent waits 90 s at 10, 11 and 15, 20 s otherwise;
    /// pings a minute, none answered 10:00–10:09.
    fn slow_day(offset_s: i32) -> WindowResult {
        let calls = day_of_calls(60.0, |h, i| {
            let wobble = if i.is_multiple_of(2) { -250.0 } else { 250.0 };
            let q = if h == 10 { 25_000.0 } else { 9_500.0 } + wobble;
            let w = if matches!(h, 10 | 11 | 15) {
                90_000.0
            } else {
                20_000.0
            } + 20.0 * wobble;
            record(&[q, q], &[w])
        });
        let pings: Vec<_> = (0..1_440)
            .map(|i| {
                let at = MIDNIGHT + 60.0 + i as f64 * 60.0;
                ping(
                    at,
                    !(MIDNIGHT + 36_000.0..MIDNIGHT + 36_600.0).contains(&at),
                )
            })
            .collect();
        let cfg = WindowConfig {
            utc_offset_s: offset_s,
            ..WindowConfig::default()
        };
        evaluate_window(&calls, &pings, MIDNIGHT + DAY, &cfg, &monitor_thresholds())
    }

    fn schema_errors(report: &serde_json::Value) -> Vec<String> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/report.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("json");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        validator
            .iter_errors(report)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect()
    }

    /// The `<testcase>` element whose name starts with `name`.
    fn testcase<'a>(xml: &'a str, name: &str) -> &'a str {
        let start = xml
            .find(&format!("<testcase name=\"{name}"))
            .or_else(|| {
                xml.match_indices("<testcase ").map(|(i, _)| i).find(|i| {
                    xml[*i..]
                        .split('>')
                        .next()
                        .is_some_and(|t| t.contains(name))
                })
            })
            .unwrap_or_else(|| panic!("no testcase {name} in {xml}"));
        let rest = &xml[start..];
        let end = rest
            .find("</testcase>")
            .map_or_else(|| rest.find("/>").unwrap_or(rest.len()) + 2, |e| e + 11);
        &rest[..end]
    }

    #[test]
    fn a_window_writes_the_run_report_set_with_the_monitor_parts() {
        let result = slow_day(0);
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("reports/monitor-24h");
        let paths = write_window_report(&result, meta(dir.path()), &out).expect("written");
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["report.json", "junit.xml", "report.html"]);
        assert!(paths.iter().all(|p| p.is_file()));

        // junit.xml: OPS-QUERY-RESPONSE and the busy/idle comparison fail, availability too.
        let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
        let query = testcase(&xml, "OPS-QUERY-RESPONSE query_response");
        assert!(query.contains("<failure"), "{query}");
        let parity = testcase(&xml, "OPS-BUSY-IDLE-PARITY busy_idle_wait_ratio");
        assert!(parity.contains("<failure"), "{parity}");
        assert!(testcase(&xml, "SYS-AVAILABILITY").contains("<failure"));
        assert!(!testcase(&xml, "OPS-DTMF-RESPONSE").contains("<failure"));
        assert!(xml.contains("name=\"since\" value=\"24h\""), "{xml}");

        // report.json: the run's layout plus `monitor`, valid against the committed schema.
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        let errors = schema_errors(&json);
        assert!(
            errors.is_empty(),
            "report.json violates the schema: {errors:#?}"
        );
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["calls"]["attempted"], 1_440);
        assert_eq!(json["verdict"]["status"], "fail");
        assert_eq!(json["run"]["started_unix_s"], MIDNIGHT);
        assert_eq!(json["run"]["duration_s"], DAY);
        let m = &json["monitor"];
        assert_eq!(m["name"], "hotline <95xxx>");
        assert_eq!(m["since"], "24h");
        let hourly = m["hourly"].as_array().unwrap();
        assert_eq!(hourly.len(), 24);
        assert_eq!(hourly[10]["hour"], 10);
        assert_eq!(hourly[10]["query_response_mean_ms"], 25_000.0);
        assert_eq!(hourly[10]["pings_answered"], 50);
        assert_eq!(m["parity"]["status"], "fail");
        assert_eq!(m["parity"]["busy_hours"], serde_json::json!([10, 11, 15]));
        let outages = m["availability"]["outages"].as_array().unwrap();
        assert_eq!(outages.len(), 1);
        assert_eq!(outages[0]["duration_s"], 600.0);
        assert_eq!(outages[0]["start_unix"], MIDNIGHT + 36_000.0);
        assert_eq!(m["interrupted"], 0);
        // The window's aggregates read back as a run's do (report merge and check).
        let stored = crate::report::merge::read_run(&out).expect("reads back");
        assert_eq!(stored.metrics.attempted, 1_440);

        // report.html: the run's sections, the time-of-day charts, parity and outages.
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        for id in crate::report::html::SECTION_IDS
            .iter()
            .chain(&["time-of-day", "availability"])
        {
            assert!(
                html.contains(&format!("<section id=\"{id}\">")),
                "section {id}"
            );
        }
        for id in [
            chart_ids::CALLS_BY_HOUR,
            chart_ids::RESPONSE_BY_HOUR,
            chart_ids::AGENT_WAIT_BY_HOUR,
            chart_ids::AVAILABILITY_BY_HOUR,
            crate::report::html::chart_ids::RESPONSE,
        ] {
            assert!(html.contains(&format!("<svg id=\"{id}\"")), "chart {id}");
        }
        assert!(html.contains("busy hours (found from the waits)"));
        assert!(
            html.contains("OPS-QUERY-RESPONSE avg&lt;=10s")
                || html.contains("OPS-QUERY-RESPONSE avg<=10s")
        );
        assert!(html.contains("id=\"monitor-outages\""));
        assert!(html.contains("2026-01-01 10:00:00 UTC</td><td>2026-01-01 10:10:00 UTC"));
        assert!(html.contains("10 min 00 s"));
        assert!(html.contains("hotline &lt;95xxx&gt;"));
        assert!(!html.contains("hotline <95xxx>"));
        // Numbered after the standard sections: time of day 8, availability 9, then the rest.
        assert!(html.contains("<span class=\"num\">8</span>Time of day"));
        assert!(html.contains("<span class=\"num\">11</span>Sign-off"));
        assert!(html.find("href=\"#time-of-day\"") < html.find("href=\"#configuration\""));
    }

    #[test]
    fn hours_and_times_are_local_in_the_report() {
        let result = slow_day(8 * 3600);
        let dir = tempfile::tempdir().expect("tempdir");
        write_window_report(&result, meta(dir.path()), dir.path()).expect("written");
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("hour of day (UTC+08:00)"));
        assert!(
            html.contains("2026-01-01 18:00:00 UTC+08:00"),
            "outage start in local time"
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
                .unwrap();
        // The slow UTC 10 o'clock hour is 18 o'clock at UTC+8.
        let h18 = json["monitor"]["hourly"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["hour"] == 18)
            .cloned()
            .unwrap();
        assert_eq!(h18["query_response_mean_ms"], 25_000.0);
        assert_eq!(json["monitor"]["utc_offset_s"], 28_800);
        assert_eq!(offset_text(-5 * 3600 - 1800), "UTC−05:30");
    }

    #[test]
    fn an_empty_window_still_writes_a_valid_report() {
        let result = evaluate_window(
            &[],
            &[],
            MIDNIGHT + DAY,
            &WindowConfig::default(),
            &monitor_thresholds(),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        write_window_report(&result, meta(dir.path()), dir.path()).expect("written");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
                .unwrap();
        let errors = schema_errors(&json);
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(json["monitor"]["hourly"], serde_json::json!([]));
        assert_eq!(json["verdict"]["status"], "inconclusive");
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("nothing measured in this window"));
        assert!(!html.contains("<svg id=\"chart-hourly"));
    }
}
