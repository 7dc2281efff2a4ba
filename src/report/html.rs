//! `report.html`: the signed-off report a QA lab files, one self-contained page.
//!
//! Inline CSS, inline SVG charts (see [`super::charts`]), no scripts, no external resources: the
//! file can be mailed, archived and opened offline years later. The verdict table comes first,
//! with the clause of the standard behind each threshold.

use super::charts::{self, ChartError, Marker, MosByCondition, Series};
use super::junit::{
    escape_attr, escape_text, iso_timestamp, overall_verdict, VerdictRow, VerdictStatus,
};
use super::{CallCounts, ReportError};
use crate::metrics::DelaySummary;
use std::fmt::Write as _;
use std::path::Path;

/// The machine that ran the test, as the report prints it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineInfo {
    /// Host name.
    pub hostname: String,
    /// CPU cores available.
    pub cores: String,
    /// Operating system and kernel.
    pub os: String,
}

/// One line of the delay table.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayLine {
    /// What is measured (`post-dial delay`, `connect delay`).
    pub name: String,
    /// Its statistics; `None` when nothing was measured.
    pub summary: Option<DelaySummary>,
}

/// One phase of the load profile in the phase table.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseLine {
    /// The phase (`idle`, `busy`).
    pub name: String,
    /// Start, seconds since the start of the run.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Offered load, Erlangs.
    pub offered_erlangs: f64,
    /// Carried load, Erlangs.
    pub carried_erlangs: f64,
    /// Counts of the calls scheduled in the phase.
    pub calls: CallCounts,
    /// Mean setup time (INVITE → 200 OK), ms.
    pub mean_setup_ms: Option<f64>,
    /// Mean agent wait, ms.
    pub mean_agent_wait_ms: Option<f64>,
}

/// A model's prediction beside the measurement, in the expected-versus-measured table.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedLine {
    /// What is compared (`blocking (503)`, `mean agent wait`).
    pub quantity: String,
    /// The model and its inputs (`Erlang B, 25.00 Erl on 30 trunks`).
    pub model: String,
    /// The prediction, formatted.
    pub predicted: String,
    /// The measurement, formatted.
    pub measured: String,
    /// Its confidence interval, formatted.
    pub interval: String,
    /// Whether the prediction lies in the interval; `None` when there is no interval.
    pub agrees: Option<bool>,
}

/// Everything the HTML report shows: plain data, filled by the caller.
#[derive(Debug, Clone)]
pub struct HtmlReport {
    /// Title (`Acceptance test — Example call center`).
    pub title: String,
    /// Threshold profile the verdict applies (`yd-t-2823-acceptance`), if any.
    pub profile: Option<String>,
    /// Overall verdict; `None` derives it from the rows (see [`overall_verdict`]).
    pub verdict: Option<String>,
    /// The verdict table.
    pub rows: Vec<VerdictRow>,
    /// Run configuration as key/value pairs, in display order (no credentials).
    pub run_config: Vec<(String, String)>,
    /// The seed that repeats the run.
    pub seed: u64,
    /// callcert version.
    pub tool_version: String,
    /// Machine that ran the test.
    pub machine: MachineInfo,
    /// Start of the run, Unix seconds.
    pub started_unix_s: f64,
    /// Duration of the run, seconds.
    pub duration_s: f64,
    /// Call counts.
    pub calls: CallCounts,
    /// Delay statistics, in display order.
    pub delays: Vec<DelayLine>,
    /// Post-dial delay CDF: (ms, fraction of calls at or below).
    pub post_dial_cdf: Vec<(f64, f64)>,
    /// Thresholds to mark on the post-dial delay chart.
    pub post_dial_markers: Vec<Marker>,
    /// Connect delay CDF (ACC-CONNECT-DELAY): (ms, fraction of calls at or below).
    pub connect_cdf: Vec<(f64, f64)>,
    /// Thresholds to mark on the connect delay chart.
    pub connect_markers: Vec<Marker>,
    /// Failed calls by reason, in display order.
    pub failures: Vec<(String, u64)>,
    /// Final SIP error codes and their counts.
    pub sip_codes: Vec<(String, u64)>,
    /// Offered load, carried load, concurrency over time: (s since start, value).
    pub load_series: Vec<Series>,
    /// Calls started, completed and failed per interval: (s since start, calls).
    pub call_series: Vec<Series>,
    /// Length of an interval of `call_series`, seconds.
    pub series_interval_s: f64,
    /// The load profile's phases ("idle", "busy"), when the run had one.
    pub phases: Vec<PhaseLine>,
    /// Predictions beside measurements: Erlang B blocking, Erlang C waits.
    pub expected: Vec<ExpectedLine>,
    /// DTMF and query response times as CDFs (ms, fraction), one series per kind.
    pub response_cdfs: Vec<Series>,
    /// Thresholds to mark on the response-time chart.
    pub response_markers: Vec<Marker>,
    /// Voice quality by network condition.
    pub mos: Vec<MosByCondition>,
    /// Sections a caller adds after voice quality (the monitor's time of day and availability).
    pub extra_sections: Vec<ExtraSection>,
}

/// A section beyond the standard ones, listed in the contents and numbered in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraSection {
    /// Its element id (`time-of-day`).
    pub id: String,
    /// Its heading.
    pub title: String,
    /// One paragraph under the heading (plain text, escaped here).
    pub intro: String,
    /// Its body: HTML built by callcert, with any outside text already escaped.
    pub html: String,
}

/// Ids of the charts' `<svg>` elements.
pub mod chart_ids {
    /// Post-dial delay CDF.
    pub const POST_DIAL: &str = "chart-post-dial-delay";
    /// Connect delay CDF.
    pub const CONNECT: &str = "chart-connect-delay";
    /// Failures by reason.
    pub const FAILURES: &str = "chart-failures";
    /// Load and concurrency over time.
    pub const LOAD: &str = "chart-load";
    /// Calls started, completed and failed per interval.
    pub const CALLS: &str = "chart-calls";
    /// DTMF and query response times.
    pub const RESPONSE: &str = "chart-response";
    /// MOS by network condition.
    pub const MOS: &str = "chart-mos";
    /// All of them.
    pub const ALL: [&str; 7] = [POST_DIAL, CONNECT, FAILURES, LOAD, CALLS, RESPONSE, MOS];
}

/// Ids of the page's sections, in order.
pub const SECTION_IDS: [&str; 9] = [
    "verdict",
    "calls",
    "delays",
    "failures",
    "load",
    "ivr",
    "voice-quality",
    "configuration",
    "sign-off",
];

/// Writes the report to `path`.
pub fn write_html(path: &Path, report: &HtmlReport) -> Result<(), ReportError> {
    std::fs::write(path, render_html(report)).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Renders the report as one self-contained HTML document.
pub fn render_html(r: &HtmlReport) -> String {
    let mut h = String::with_capacity(256 * 1024);
    let verdict = match &r.verdict {
        Some(v) => VerdictStatus::parse(v),
        None => overall_verdict(&r.rows).unwrap_or(VerdictStatus::NotMeasured),
    };
    let verdict_label = match (&r.verdict, r.rows.is_empty()) {
        (None, true) => "NO THRESHOLDS",
        _ => verdict.label(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"callcert {}\">\n<title>{} — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape_attr(&r.tool_version),
        escape_text(&r.title),
        verdict_label
    );
    header(&mut h, r, verdict, verdict_label);
    verdict_section(&mut h, r);
    calls_section(&mut h, r);
    delays_section(&mut h, r);
    failures_section(&mut h, r);
    load_section(&mut h, r);
    ivr_section(&mut h, r);
    voice_section(&mut h, r);
    for (i, x) in r.extra_sections.iter().enumerate() {
        section_open(&mut h, &escape_attr(&x.id), 8 + i, &x.title, &x.intro);
        h.push_str(&x.html);
        h.push_str("</section>\n");
    }
    let extra = r.extra_sections.len();
    config_section(&mut h, r, 8 + extra);
    sign_off(&mut h, r, 9 + extra);
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// CSS class of a status.
fn status_class(s: VerdictStatus) -> &'static str {
    match s {
        VerdictStatus::Pass => "pass",
        VerdictStatus::Fail => "fail",
        VerdictStatus::Inconclusive => "inconclusive",
        VerdictStatus::NotMeasured => "not-measured",
        VerdictStatus::Unknown => "fail",
    }
}

fn header(h: &mut String, r: &HtmlReport, verdict: VerdictStatus, label: &str) {
    let mut counts = [0usize; 4];
    for row in &r.rows {
        match row.verdict_status() {
            VerdictStatus::Pass => counts[0] += 1,
            VerdictStatus::Fail | VerdictStatus::Unknown => counts[1] += 1,
            VerdictStatus::Inconclusive => counts[2] += 1,
            VerdictStatus::NotMeasured => counts[3] += 1,
        }
    }
    let _ = write!(
        h,
        "<header class=\"report-header\">\n<div class=\"heading\">\n\
         <p class=\"kicker\">Call-center performance test report · YD/T 2823-2015</p>\n\
         <h1>{}</h1>\n",
        escape_text(&r.title)
    );
    if let Some(p) = &r.profile {
        let _ = writeln!(
            h,
            "<p class=\"profile\">Threshold profile <strong>{}</strong></p>",
            escape_text(p)
        );
    }
    let _ = write!(
        h,
        "</div>\n<div class=\"badge {}\" id=\"overall-verdict\"><span class=\"badge-caption\">Verdict</span><span class=\"badge-value\">{}</span>\
         <span class=\"badge-counts\">{} pass · {} fail · {} inconclusive · {} not measured</span></div>\n",
        status_class(verdict),
        escape_text(label),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    h.push_str("<dl class=\"meta\">\n");
    let started = iso_timestamp(r.started_unix_s).replacen('T', " ", 1) + " UTC";
    let meta = [
        ("Started", started),
        ("Duration", duration(r.duration_s)),
        ("Seed", r.seed.to_string()),
        ("Tool", format!("callcert {}", r.tool_version)),
        ("Host", r.machine.hostname.clone()),
        (
            "Machine",
            format!("{} cores · {}", r.machine.cores, r.machine.os),
        ),
    ];
    for (k, v) in meta {
        let _ = writeln!(
            h,
            "<div><dt>{}</dt><dd>{}</dd></div>",
            escape_text(k),
            escape_text(&v)
        );
    }
    h.push_str("</dl>\n<nav class=\"toc\">");
    let titles = [
        "Verdict",
        "Calls",
        "Delays",
        "Failures",
        "Load",
        "IVR response",
        "Voice quality",
        "Configuration",
        "Sign-off",
    ];
    let extra = r
        .extra_sections
        .iter()
        .map(|x| (escape_attr(&x.id), escape_text(&x.title)));
    let standard: Vec<(String, String)> = SECTION_IDS
        .iter()
        .zip(titles)
        .map(|(id, t)| (id.to_string(), t.to_string()))
        .collect();
    // The extra sections come after voice quality (the 7th), before the configuration.
    let (before, after) = standard.split_at(7);
    for (id, t) in before
        .iter()
        .cloned()
        .chain(extra)
        .chain(after.iter().cloned())
    {
        let _ = write!(h, "<a href=\"#{id}\">{t}</a>");
    }
    h.push_str("</nav>\n</header>\n");
}

fn section_open(h: &mut String, id: &str, n: usize, title: &str, intro: &str) {
    let _ = write!(
        h,
        "<section id=\"{id}\">\n<h2><span class=\"num\">{n}</span>{}</h2>\n",
        escape_text(title)
    );
    if !intro.is_empty() {
        let _ = writeln!(h, "<p class=\"intro\">{}</p>", escape_text(intro));
    }
}

fn not_measured(h: &mut String, what: &str) {
    let _ = writeln!(
        h,
        "<p class=\"not-measured-note\">{} not measured in this run.</p>",
        escape_text(what)
    );
}

/// A chart in a `<figure>`, or a note when there is nothing to draw or drawing failed.
fn figure(h: &mut String, caption: &str, what: &str, chart: Result<String, ChartError>) {
    match chart {
        Ok(svg) => {
            let _ = write!(
                h,
                "<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>\n",
                escape_text(caption)
            );
        }
        Err(ChartError::NoData { .. }) => not_measured(h, what),
        Err(e) => {
            let _ = writeln!(
                h,
                "<p class=\"chart-error\">Chart not drawn: {}</p>",
                escape_text(&e.to_string())
            );
        }
    }
}

fn verdict_section(h: &mut String, r: &HtmlReport) {
    section_open(
        h,
        "verdict",
        1,
        "Verdict by requirement",
        "Each threshold with the clause it comes from, what the run measured, the confidence interval of the measurement and the samples it rests on.",
    );
    if r.rows.is_empty() {
        h.push_str("<p class=\"not-measured-note\">No thresholds were evaluated in this run.</p>\n</section>\n");
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table class=\"verdict\">\n<thead><tr><th>Result</th><th>Requirement</th><th>Threshold</th>\
         <th class=\"num\">Measured</th><th>Interval</th><th class=\"num\">Samples</th><th>Detail</th></tr></thead>\n<tbody>\n",
    );
    for row in &r.rows {
        let st = row.verdict_status();
        let cls = status_class(st);
        let req = match (&row.spec_id, &row.clause) {
            (Some(id), Some(c)) => format!(
                "<span class=\"spec-id\">{}</span><span class=\"clause\">{}</span>",
                escape_text(id),
                escape_text(c)
            ),
            (Some(id), None) => format!("<span class=\"spec-id\">{}</span>", escape_text(id)),
            (None, Some(c)) => format!(
                "<span class=\"custom\">custom</span><span class=\"clause\">{}</span>",
                escape_text(c)
            ),
            (None, None) => "<span class=\"custom\">custom</span>".to_owned(),
        };
        let samples = match row.needed_samples {
            Some(need) => format!("{} <span class=\"of\">/ {need}</span>", row.samples),
            None => row.samples.to_string(),
        };
        let detail = match st {
            VerdictStatus::Inconclusive | VerdictStatus::NotMeasured => row.skip_reason(),
            _ => row.detail.clone(),
        };
        let _ = writeln!(
            h,
            "<tr class=\"{cls}\"><td><span class=\"pill {cls}\">{}</span></td><td>{req}</td><td><span class=\"metric\">{}</span><code>{}</code></td>\
             <td class=\"num\">{}</td><td class=\"interval\">{}</td><td class=\"num\">{samples}</td><td class=\"detail\">{}</td></tr>",
            st.label(),
            escape_text(&row.metric),
            escape_text(&row.expression),
            escape_text(row.measured.as_deref().unwrap_or("—")),
            escape_text(row.interval.as_deref().unwrap_or("—")),
            escape_text(&detail)
        );
    }
    h.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn percent(num: u64, den: u64) -> String {
    if den == 0 {
        "—".to_owned()
    } else {
        format!("{:.2} %", num as f64 * 100.0 / den as f64)
    }
}

fn calls_section(h: &mut String, r: &HtmlReport) {
    section_open(h, "calls", 2, "Calls", "");
    let c = &r.calls;
    let cards = [
        ("Attempted", c.attempted.to_string(), ""),
        ("Answered", c.answered.to_string(), ""),
        ("Succeeded", c.succeeded.to_string(), ""),
        (
            "Failed",
            c.failed.to_string(),
            if c.failed > 0 { "bad" } else { "" },
        ),
        ("Connect rate", percent(c.answered, c.attempted), ""),
        ("Success rate", percent(c.succeeded, c.attempted), ""),
    ];
    h.push_str("<div class=\"cards\">\n");
    for (k, v, cls) in cards {
        let _ = writeln!(
            h,
            "<div class=\"card {cls}\"><div class=\"card-value\">{}</div><div class=\"card-label\">{k}</div></div>",
            escape_text(&v)
        );
    }
    h.push_str("</div>\n</section>\n");
}

fn ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "—".to_owned()
    }
}

fn delays_section(h: &mut String, r: &HtmlReport) {
    section_open(
        h,
        "delays",
        3,
        "Delays",
        "Post-dial delay runs from the INVITE leaving the socket to the first 180/183; connect delay (ACC-CONNECT-DELAY) runs on to the first voice heard from the call center. Milliseconds.",
    );
    if r.delays.is_empty() {
        not_measured(h, "Delays were");
    } else {
        h.push_str(
            "<table class=\"numbers\">\n<thead><tr><th>Metric</th><th class=\"num\">n</th><th class=\"num\">mean</th><th class=\"num\">min</th>\
             <th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p95</th><th class=\"num\">p99</th><th class=\"num\">max</th></tr></thead>\n<tbody>\n",
        );
        for d in &r.delays {
            let id = d
                .summary
                .as_ref()
                .and_then(|s| s.spec_id)
                .map(|i| format!(" <span class=\"spec-id small\">{}</span>", escape_text(i)))
                .unwrap_or_default();
            let _ = write!(h, "<tr><td>{}{id}</td>", escape_text(&d.name));
            match &d.summary {
                Some(s) => {
                    let _ = writeln!(
                        h,
                        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                        s.count,
                        ms(s.mean_ms),
                        ms(s.min_ms),
                        ms(s.p50_ms),
                        ms(s.p90_ms),
                        ms(s.p95_ms),
                        ms(s.p99_ms),
                        ms(s.max_ms)
                    );
                }
                None => h.push_str(
                    "<td class=\"num\">0</td><td colspan=\"7\" class=\"muted\">not measured in this run</td></tr>\n",
                ),
            }
        }
        h.push_str("</tbody>\n</table>\n");
    }
    let pdd = [Series {
        name: "post-dial delay".to_owned(),
        points: r.post_dial_cdf.clone(),
    }];
    figure(
        h,
        "Post-dial delay: share of calls whose first 180/183 arrived within x ms of the INVITE.",
        "Post-dial delay was",
        charts::cdf_svg(
            chart_ids::POST_DIAL,
            "Post-dial delay, cumulative distribution",
            "post-dial delay (ms)",
            &pdd,
            &r.post_dial_markers,
        ),
    );
    let connect = [Series {
        name: "connect delay".to_owned(),
        points: r.connect_cdf.clone(),
    }];
    figure(
        h,
        "Connect delay (ACC-CONNECT-DELAY): share of calls that heard the call center's voice within x ms of dialling.",
        "Connect delay was",
        charts::cdf_svg(
            chart_ids::CONNECT,
            "Connect delay, cumulative distribution",
            "connect delay (ms)",
            &connect,
            &r.connect_markers,
        ),
    );
    h.push_str("</section>\n");
}

fn count_table(h: &mut String, head: &str, rows: &[(String, u64)], total: u64) {
    let _ = write!(
        h,
        "<table class=\"numbers compact\">\n<thead><tr><th>{}</th><th class=\"num\">calls</th><th class=\"num\">share</th></tr></thead>\n<tbody>\n",
        escape_text(head)
    );
    for (k, v) in rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{v}</td><td class=\"num\">{}</td></tr>",
            escape_text(k),
            percent(*v, total)
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn failures_section(h: &mut String, r: &HtmlReport) {
    section_open(h, "failures", 4, "Failures", "");
    let failed: u64 = r.failures.iter().map(|(_, v)| v).sum();
    if failed == 0 && r.calls.failed == 0 {
        h.push_str("<p class=\"ok-note\">No call failed.</p>\n");
    } else {
        figure(
            h,
            "Failed calls by reason.",
            "Failure reasons were",
            charts::bars_svg(
                chart_ids::FAILURES,
                "Failed calls by reason",
                "failed calls",
                &r.failures,
            ),
        );
        h.push_str("<div class=\"two-col\">\n<div>\n");
        count_table(h, "Reason", &r.failures, r.calls.attempted);
        h.push_str("</div>\n<div>\n");
        if r.sip_codes.is_empty() {
            h.push_str("<p class=\"muted\">No SIP error responses.</p>\n");
        } else {
            count_table(h, "Final SIP response", &r.sip_codes, r.calls.attempted);
        }
        h.push_str("</div>\n</div>\n");
    }
    h.push_str("</section>\n");
}

fn load_section(h: &mut String, r: &HtmlReport) {
    section_open(
        h,
        "load",
        5,
        "Load over time",
        "Offered traffic (from the load profile) and carried traffic (answered call time) in Erlangs, and concurrent calls, per interval of the run; each phase of the profile with the calls scheduled in it; and what Erlang B and C predict for the declared trunks and agents beside what was measured.",
    );
    phases_table(h, &r.phases);
    expected_table(h, &r.expected);
    figure(
        h,
        "Offered load, carried load and concurrent calls (mean and maximum per interval) over the run.",
        "Load over time was",
        charts::time_series_svg(
            chart_ids::LOAD,
            "Load and concurrency over time",
            "Erlangs / concurrent calls",
            &r.load_series,
        ),
    );
    let caption = format!(
        "Calls started, completed and failed in each {} interval.",
        duration(r.series_interval_s)
    );
    figure(
        h,
        &caption,
        "Calls per interval were",
        charts::time_series_svg(
            chart_ids::CALLS,
            "Calls per interval",
            "calls per interval",
            &r.call_series,
        ),
    );
    h.push_str("</section>\n");
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("—".to_owned(), ms)
}

fn phases_table(h: &mut String, phases: &[PhaseLine]) {
    if phases.is_empty() {
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table class=\"numbers compact\" id=\"phases\">\n<thead><tr><th>Phase</th><th class=\"num\">from</th><th class=\"num\">to</th>\
         <th class=\"num\">offered Erl</th><th class=\"num\">carried Erl</th><th class=\"num\">attempted</th><th class=\"num\">answered</th>\
         <th class=\"num\">succeeded</th><th class=\"num\">failed</th><th class=\"num\">connect</th><th class=\"num\">setup ms</th>\
         <th class=\"num\">agent wait ms</th></tr></thead>\n<tbody>\n",
    );
    for p in phases {
        let c = &p.calls;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape_text(&p.name),
            escape_text(&duration(p.start_s)),
            escape_text(&duration(p.end_s)),
            p.offered_erlangs,
            p.carried_erlangs,
            c.attempted,
            c.answered,
            c.succeeded,
            c.failed,
            percent(c.answered, c.attempted),
            opt_ms(p.mean_setup_ms),
            opt_ms(p.mean_agent_wait_ms),
        );
    }
    h.push_str("</tbody>\n</table></div>\n");
}

fn expected_table(h: &mut String, lines: &[ExpectedLine]) {
    if lines.is_empty() {
        return;
    }
    h.push_str(
        "<table class=\"numbers compact\" id=\"expected\">\n<thead><tr><th>Quantity</th><th>Model</th><th class=\"num\">predicted</th>\
         <th class=\"num\">measured</th><th>95 % interval (batch means)</th><th>Agrees</th></tr></thead>\n<tbody>\n",
    );
    for l in lines {
        let (cls, word) = match l.agrees {
            Some(true) => ("pass", "yes"),
            Some(false) => ("fail", "no"),
            None => ("not-measured", "—"),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"interval\">{}</td>\
             <td><span class=\"pill {cls}\">{word}</span></td></tr>",
            escape_text(&l.quantity),
            escape_text(&l.model),
            escape_text(&l.predicted),
            escape_text(&l.measured),
            escape_text(&l.interval),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn ivr_section(h: &mut String, r: &HtmlReport) {
    section_open(
        h,
        "ivr",
        6,
        "IVR response times",
        "DTMF response (ACC-DTMF-RESPONSE, OPS-DTMF-RESPONSE): from each digit sent to the voice response. Query response (ACC-QUERY-RESPONSE, OPS-QUERY-RESPONSE): from the last action selecting a query to hearing the result.",
    );
    figure(
        h,
        "DTMF and query response times: share of responses within x ms.",
        "DTMF and query response were",
        charts::cdf_svg(
            chart_ids::RESPONSE,
            "DTMF and query response times, cumulative distribution",
            "response time (ms)",
            &r.response_cdfs,
            &r.response_markers,
        ),
    );
    h.push_str("</section>\n");
}

fn voice_section(h: &mut String, r: &HtmlReport) {
    section_open(
        h,
        "voice-quality",
        7,
        "Voice quality",
        "PESQ-style MOS of G.711 calls under the three network conditions of 000 §10.3.1 (ACC-PESQ-GOOD, ACC-PESQ-POOR, ACC-PESQ-BAD). Bars are the mean, whiskers the range, red ticks the threshold.",
    );
    figure(
        h,
        "Mean opinion score by network condition.",
        "Voice quality was",
        charts::mos_svg(chart_ids::MOS, "MOS by network condition", &r.mos),
    );
    if !r.mos.is_empty() {
        h.push_str(
            "<table class=\"numbers compact\">\n<thead><tr><th>Condition</th><th>Requirement</th><th class=\"num\">calls</th><th class=\"num\">mean</th>\
             <th class=\"num\">min</th><th class=\"num\">max</th><th class=\"num\">threshold</th></tr></thead>\n<tbody>\n",
        );
        for m in &r.mos {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td><td class=\"num\">{}</td></tr>",
                escape_text(&m.condition),
                escape_text(m.spec_id.as_deref().unwrap_or("—")),
                m.calls,
                m.mean,
                m.min,
                m.max,
                m.threshold.map(|t| format!("&gt; {t:.1}")).unwrap_or_else(|| "—".to_owned())
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");
}

fn config_section(h: &mut String, r: &HtmlReport, n: usize) {
    section_open(
        h,
        "configuration",
        n,
        "Run configuration",
        "What was run, as configured. The seed repeats the arrivals, holding times and impairments exactly.",
    );
    h.push_str("<table class=\"kv\">\n<tbody>\n");
    let seed = ("seed".to_owned(), r.seed.to_string());
    for (k, v) in r.run_config.iter().chain(std::iter::once(&seed)) {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape_text(k),
            escape_text(v)
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn sign_off(h: &mut String, r: &HtmlReport, n: usize) {
    section_open(h, "sign-off", n, "Sign-off", "");
    let _ = write!(
        h,
        "<div class=\"signatures\">\n\
         <div class=\"sig\"><div class=\"line\"></div><div class=\"who\">Tested by (name, signature, date)</div></div>\n\
         <div class=\"sig\"><div class=\"line\"></div><div class=\"who\">Reviewed by (name, signature, date)</div></div>\n\
         </div>\n<p class=\"footer\">Generated by callcert {} on {} · seed {} · measurements from wire timestamps; thresholds and clause ids per SPEC.md.</p>\n</section>\n",
        escape_text(&r.tool_version),
        escape_text(&r.machine.hostname),
        r.seed
    );
}

/// `2 h 03 min 07 s`, `4 min 12 s`, `12.4 s`.
fn duration(s: f64) -> String {
    if !(s.is_finite() && s >= 0.0) {
        return "—".to_owned();
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let t = s.round() as u64;
    let (hh, mm, ss) = (t / 3600, (t / 60) % 60, t % 60);
    if hh > 0 {
        format!("{hh} h {mm:02} min {ss:02} s")
    } else {
        format!("{mm} min {ss:02} s")
    }
}

/// The page's style sheet: system fonts (with CJK fallbacks for the standard's Chinese text),
/// print rules for A4.
const CSS: &str = r#"
:root{--ink:#222830;--muted:#5f6873;--line:#dde1e6;--bg:#f3f4f6;--accent:#1f4e79;
--pass:#1e7b3a;--pass-bg:#e4f3e8;--fail:#b02a2a;--fail-bg:#fbe7e7;--inc:#8a5a00;--inc-bg:#fff2d6;--nm:#555d66;--nm-bg:#eceef1}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif}
main{max-width:1120px;margin:24px auto;background:#fff;padding:36px 44px 28px;border:1px solid var(--line);border-radius:6px}
h1{font-size:28px;line-height:1.2;margin:2px 0 6px;font-weight:650}
h2{font-size:19px;margin:0 0 10px;font-weight:650;display:flex;align-items:center;gap:10px}
h2 .num{display:inline-flex;width:26px;height:26px;border-radius:50%;background:var(--accent);color:#fff;font-size:13px;align-items:center;justify-content:center}
section{padding:24px 0 10px;border-top:1px solid var(--line);margin-top:18px}
.report-header{display:grid;grid-template-columns:1fr auto;gap:8px 24px;align-items:start}
.kicker{margin:0;text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:var(--muted)}
.profile{margin:0;color:var(--muted)}
.badge{min-width:210px;text-align:center;border-radius:8px;padding:12px 18px;border:2px solid}
.badge-caption{display:block;font-size:12px;text-transform:uppercase;letter-spacing:.1em}
.badge-value{display:block;font-size:30px;font-weight:800;letter-spacing:.04em;line-height:1.2}
.badge-counts{display:block;font-size:12px;margin-top:2px}
.badge.pass{color:var(--pass);background:var(--pass-bg);border-color:var(--pass)}
.badge.fail{color:var(--fail);background:var(--fail-bg);border-color:var(--fail)}
.badge.inconclusive{color:var(--inc);background:var(--inc-bg);border-color:var(--inc)}
.badge.not-measured{color:var(--nm);background:var(--nm-bg);border-color:var(--nm)}
.meta{grid-column:1/-1;display:grid;grid-template-columns:repeat(3,1fr);gap:8px 24px;margin:14px 0 0;padding:12px 16px;background:#f8f9fa;border:1px solid var(--line);border-radius:6px}
.meta dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.meta dd{margin:0;font-weight:550;overflow-wrap:anywhere}
.toc{grid-column:1/-1;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;margin-top:6px}
.toc a{color:var(--accent);text-decoration:none}
.intro{color:var(--muted);margin:0 0 12px;max-width:80ch}
table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0 14px}
th,td{padding:7px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);border-bottom:2px solid var(--line);white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.verdict tbody tr{border-left:5px solid transparent}
table.verdict tr.pass{border-left-color:var(--pass)}
table.verdict tr.fail{border-left-color:var(--fail);background:var(--fail-bg)}
table.verdict tr.inconclusive{border-left-color:var(--inc);background:#fffaf0}
table.verdict tr.not-measured{border-left-color:var(--nm);color:var(--muted)}
.pill{display:inline-block;font-size:11px;font-weight:700;letter-spacing:.04em;padding:2px 8px;border-radius:10px;white-space:nowrap}
.pill.pass{background:var(--pass);color:#fff}.pill.fail{background:var(--fail);color:#fff}
.pill.inconclusive{background:#e0a526;color:#2b1d00}.pill.not-measured{background:var(--nm-bg);color:var(--nm);border:1px solid #c9ced4}
.spec-id{display:block;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px;font-weight:650;white-space:nowrap}
.spec-id.small{display:inline;font-size:11px;color:var(--muted);font-weight:500}
.clause{display:block;font-size:12px;color:var(--muted)}
.custom{display:block;font-style:italic;color:var(--muted)}
code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px;background:#f1f3f5;padding:1px 5px;border-radius:3px;white-space:nowrap}
td.detail{font-size:13px;color:#39414a;min-width:20ch}
.metric{display:block;font-size:13px;margin-bottom:2px}
.scroll{overflow-x:auto}
td.interval{white-space:nowrap;font-variant-numeric:tabular-nums}
.of{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px}
.card{border:1px solid var(--line);border-radius:6px;padding:12px 14px;background:#fbfcfd}
.card-value{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums}
.card-label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.card.bad .card-value{color:var(--fail)}
figure{margin:10px 0 18px}
svg.chart{display:block;width:100%;max-width:860px;height:auto;margin:0 auto;border:1px solid var(--line);border-radius:4px}
figcaption{font-size:13px;color:var(--muted);text-align:center;margin-top:6px}
.not-measured-note{padding:14px 16px;background:var(--nm-bg);border:1px dashed #c4c9cf;border-radius:6px;color:var(--nm);font-style:italic}
.ok-note{padding:10px 14px;background:var(--pass-bg);border-radius:6px;color:var(--pass)}
.chart-error{padding:10px 14px;background:var(--fail-bg);border-radius:6px;color:var(--fail)}
.two-col{display:grid;grid-template-columns:1fr 1fr;gap:24px}
table.compact{font-size:13.5px}
table.kv th{width:30%;font-weight:550;color:var(--muted);background:#fafbfc}
table.kv td{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.signatures{display:grid;grid-template-columns:1fr 1fr;gap:48px;margin:36px 0 12px}
.sig .line{border-bottom:1px solid var(--ink);height:40px}
.sig .who{font-size:12px;color:var(--muted);margin-top:4px}
.footer{font-size:12px;color:var(--muted);margin-top:24px}
@media (max-width:900px){main{padding:20px}.cards{grid-template-columns:repeat(3,1fr)}.meta{grid-template-columns:1fr 1fr}.two-col{grid-template-columns:1fr}}
@media print{html{background:#fff}main{margin:0;border:0;padding:0;max-width:none}section{break-inside:avoid-page}figure,table{break-inside:avoid}.toc{display:none}@page{size:A4;margin:16mm}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(12.44), "12.4 s");
        assert_eq!(duration(252.0), "4 min 12 s");
        assert_eq!(duration(7387.0), "2 h 03 min 07 s");
        assert_eq!(duration(f64::NAN), "—");
    }
}
