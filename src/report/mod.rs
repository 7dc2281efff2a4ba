//! Reports of a run: `report.json` (schema in `schemas/report.schema.json`) and the end-of-run
//! terminal summary.

pub mod charts;
pub mod csv;
pub mod files;
pub mod html;
pub mod junit;
pub mod merge;
pub mod pcap;

use crate::engine::record::{CallRecord, FailureKind};
use crate::engine::{dispatch::DispatchStats, LoadPlan, RunPlan, RunResult};
use crate::metrics::load::{LoadMetrics, PhaseMetrics};
use crate::metrics::series::SeriesReport;
use crate::metrics::{DelaySummary, RunMetrics};
pub use crate::traffic::check::{ErlangBCheck, ErlangCCheck};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Version of the report.json layout; bumped on incompatible changes.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Errors writing a report.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serialization failed.
    #[error("cannot serialize the report: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// What produced the report.
#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    /// `callcert`.
    pub name: &'static str,
    /// Package version.
    pub version: &'static str,
}

/// The run's configuration as the report records it (no credentials).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// Scenario name.
    pub scenario: String,
    /// Target URI.
    pub target: String,
    /// Resolved target address.
    pub target_addr: String,
    /// Local SIP address.
    pub local_addr: String,
    /// `udp` or `tcp`.
    pub transport: String,
    /// Calls planned.
    pub calls: u64,
    /// Calls per second.
    pub rate: f64,
    /// Concurrency cap.
    pub max_concurrent: usize,
    /// Seed.
    pub seed: u64,
    /// Codecs offered.
    pub codecs: Vec<String>,
    /// Hold time after answer, seconds.
    pub hold_s: f64,
    /// Answer timeout, seconds.
    pub answer_timeout_s: f64,
    /// Whether digest credentials were configured (never their values).
    pub authenticated: bool,
    /// Start of the run, Unix seconds.
    pub started_unix_s: f64,
    /// Duration of the run, seconds.
    pub duration_s: f64,
}

/// Call counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallCounts {
    /// Calls placed.
    pub attempted: u64,
    /// Calls answered (2xx).
    pub answered: u64,
    /// Calls that succeeded.
    pub succeeded: u64,
    /// Calls that failed.
    pub failed: u64,
}

/// The delay metrics, each with its SPEC id when it has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelayMetrics {
    /// INVITE → first 180/183.
    pub post_dial_delay: Option<DelaySummary>,
    /// INVITE → 200 OK (SYS-SETUP-RESPONSE).
    pub setup_time: Option<DelaySummary>,
    /// INVITE → first voice (ACC-CONNECT-DELAY).
    pub connect_delay: Option<DelaySummary>,
    /// INVITE → 100 Trying.
    pub trying_delay: Option<DelaySummary>,
    /// Scheduled start → INVITE on the wire.
    pub launch_lateness: Option<DelaySummary>,
    /// End of a step's last digit → the next voice (ACC-DTMF-RESPONSE); IVR runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtmf_response: Option<DelaySummary>,
    /// End of a query's last digit → its result (ACC-QUERY-RESPONSE); IVR runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_response: Option<DelaySummary>,
    /// Transfer chosen → agent answers (OPS-AGENT-WAIT); IVR runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_wait: Option<DelaySummary>,
}

/// Media totals.
#[derive(Debug, Clone, Serialize)]
pub struct MediaTotals {
    /// RTP packets received.
    pub rtp_received: u64,
    /// RTP packets lost.
    pub rtp_lost: i64,
    /// RTP packets sent.
    pub rtp_sent: u64,
    /// Packets our sender skipped because it woke too late (the harness was overloaded).
    pub rtp_late_skipped: u64,
    /// Largest per-call RFC 3550 jitter, ms.
    pub max_jitter_ms: f64,
}

/// Retransmission totals.
#[derive(Debug, Clone, Serialize)]
pub struct Retransmissions {
    /// Sent by us.
    pub sent: u64,
    /// Received from the far end.
    pub received: u64,
}

/// The whole `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Layout version.
    pub schema_version: u32,
    /// Producer.
    pub tool: ToolInfo,
    /// Configuration.
    pub run: RunInfo,
    /// The OPTIONS ping before the first call, when the scenario asked for one.
    pub preflight: Option<crate::engine::Preflight>,
    /// Whether the target answered anything at all: false when no call got any response.
    pub target_responded: bool,
    /// Counts.
    pub calls: CallCounts,
    /// Answered ÷ attempted.
    pub connect_rate: Option<f64>,
    /// Succeeded ÷ attempted.
    pub success_rate: Option<f64>,
    /// Delays.
    pub metrics: DelayMetrics,
    /// Failed calls by reason.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Final SIP error codes.
    pub sip_codes: BTreeMap<String, u64>,
    /// Retransmissions.
    pub retransmissions: Retransmissions,
    /// Media.
    pub media: MediaTotals,
    /// Inbound messages not delivered to a call.
    pub inbound: DispatchStats,
    /// The first failed calls, in full.
    pub failed_calls: Vec<CallRecord>,
    /// Lossless aggregates (counters and HDR histograms) for `report merge` and `report check`.
    pub aggregates: crate::metrics::MetricsSnapshot,
    /// The profile judged, if any.
    pub profile: Option<String>,
    /// The verdict on every threshold (profile and scenario), with intervals and sample needs.
    pub verdict: crate::verdict::Evaluation,
    /// Set when `abort_on_fail` stopped the run: the number of calls placed.
    pub aborted_after: Option<u64>,
    /// Measured blocking beside Erlang B's prediction, when the load declares the trunks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erlang_b: Option<ErlangBCheck>,
    /// Measured agent waits beside Erlang C's prediction, when the load declares the agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erlang_c: Option<ErlangCCheck>,
    /// With a load profile: each phase with the metrics of the calls scheduled in it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseReport>,
    /// Counts and load at a fixed interval (not kept across `report merge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesReport>,
    /// With `call.quality`: the P.862 raw score per network condition (ACC-PESQ-GOOD/-POOR/-BAD
    /// limits are on that scale), with the jitter buffer in each call's record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<crate::quality::ConditionSummary>,
}

impl CallCounts {
    /// The counts of `m`.
    pub fn of(m: &RunMetrics) -> Self {
        CallCounts {
            attempted: m.attempted,
            answered: m.answered,
            succeeded: m.succeeded,
            failed: m.failed(),
        }
    }
}

impl DelayMetrics {
    /// The summaries of `m`'s histograms.
    pub fn of(m: &RunMetrics) -> Self {
        DelayMetrics {
            post_dial_delay: m.post_dial_delay.summary(),
            setup_time: m.setup_time.summary(),
            connect_delay: m.connect_delay.summary(),
            trying_delay: m.trying_delay.summary(),
            launch_lateness: m.launch_lateness.summary(),
            dtmf_response: m.dtmf_response.summary(),
            query_response: m.query_response.summary(),
            agent_wait: m.agent_wait.summary(),
        }
    }
}

/// One phase of the load profile ("idle", "busy") and what the calls scheduled in it measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseReport {
    /// The phase's name.
    pub name: String,
    /// Its start, seconds from the start of the run.
    pub start_s: f64,
    /// Its end, seconds.
    pub end_s: f64,
    /// Offered load, Erlangs.
    pub offered_erlangs: f64,
    /// Carried load: answered call time within the phase ÷ its length, Erlangs.
    pub carried_erlangs: f64,
    /// Counts of the calls scheduled in the phase.
    pub calls: CallCounts,
    /// Answered ÷ attempted.
    pub connect_rate: Option<f64>,
    /// Succeeded ÷ attempted.
    pub success_rate: Option<f64>,
    /// Delays.
    pub metrics: DelayMetrics,
    /// Failed calls by reason.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Final SIP error codes.
    pub sip_codes: BTreeMap<String, u64>,
    /// With declared trunks: the share refused with 503 beside Erlang B for the phase's load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<PhaseBlocking>,
}

/// A phase's blocking beside Erlang B.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseBlocking {
    /// Calls refused with 503 ÷ calls attempted (warm-up included).
    pub measured: f64,
    /// Erlang B for the phase's offered load on the declared trunks.
    pub predicted: f64,
}

impl PhaseReport {
    /// The report of phase `p`; `trunks` when the load declares them.
    pub fn new(p: &PhaseMetrics, trunks: Option<u32>) -> Self {
        let m = &p.metrics;
        PhaseReport {
            name: p.name.clone(),
            start_s: p.start.as_secs_f64(),
            end_s: p.end.as_secs_f64(),
            offered_erlangs: p.offered_erlangs,
            carried_erlangs: p.carried_erlangs(),
            calls: CallCounts::of(m),
            connect_rate: m.connect_rate(),
            success_rate: m.success_rate(),
            metrics: DelayMetrics::of(m),
            failures: m.failures.clone(),
            sip_codes: sip_codes(m),
            blocking: trunks.filter(|_| m.attempted > 0).map(|t| PhaseBlocking {
                measured: m.sip_codes.get(&503).copied().unwrap_or(0) as f64 / m.attempted as f64,
                predicted: crate::traffic::erlang_b(p.offered_erlangs, t),
            }),
        }
    }
}

fn sip_codes(m: &RunMetrics) -> BTreeMap<String, u64> {
    m.sip_codes
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect()
}

/// `✓` when a prediction lies in the measurement's interval, `✗` when not.
fn agreement(agrees: Option<bool>) -> &'static str {
    match agrees {
        Some(true) => " ✓",
        Some(false) => " ✗ outside the interval",
        None => "",
    }
}

/// `95 % lo–hi unit, batch means` of an interval scaled by `scale`.
fn interval_text(i: Option<(f64, f64)>, scale: f64, digits: usize, unit: &str) -> String {
    match i {
        Some((lo, hi)) => format!(
            "95 % {:.digits$}–{:.digits$} {unit}, batch means",
            lo * scale,
            hi * scale,
            digits = digits
        ),
        None => "too few calls for an interval".to_string(),
    }
}

/// Judges a run's thresholds: the standard's idle and busy limits on the calls scheduled in
/// the load phases of those names, everything else on the whole run
/// ([`evaluate_phased`](crate::verdict::evaluate_phased)).
pub fn evaluate_run(
    thresholds: &[crate::verdict::Threshold],
    metrics: &crate::metrics::RunMetrics,
    load: Option<&crate::metrics::load::LoadMetrics>,
) -> crate::verdict::Evaluation {
    evaluate_run_scored(thresholds, metrics, load, None)
}

/// [`evaluate_run`] with the voice-quality scores of a run made under one network condition
/// (`call.quality`): `pesq_raw` and `mos_lqo` are measured, and the PESQ thresholds of the
/// other conditions are not applicable.
pub fn evaluate_run_scored(
    thresholds: &[crate::verdict::Threshold],
    metrics: &crate::metrics::RunMetrics,
    load: Option<&crate::metrics::load::LoadMetrics>,
    scores: Option<&crate::engine::quality::RunScores>,
) -> crate::verdict::Evaluation {
    let phase = |name: &str| {
        load?.phases.iter().filter(|p| p.name == name).fold(
            None,
            |acc: Option<crate::metrics::RunMetrics>, p| {
                let mut merged = acc.unwrap_or_default();
                merged.merge(&p.metrics);
                Some(merged)
            },
        )
    };
    let (idle, busy) = (phase("idle"), phase("busy"));
    let (idle, busy) = (
        idle.as_ref().map(|m| m.measurements()),
        busy.as_ref().map(|m| m.measurements()),
    );
    let mut whole = metrics.measurements();
    let network = match scores {
        Some(s) => {
            whole.scores.insert("pesq_raw".into(), &s.pesq_raw);
            whole.scores.insert("mos_lqo".into(), &s.mos_lqo);
            s.network
        }
        None => crate::verdict::NetworkCondition::Any,
    };
    crate::verdict::evaluate_phased_on(thresholds, &whole, idle.as_ref(), busy.as_ref(), network)
}

impl Report {
    /// Builds the report of a finished run.
    pub fn new(plan: &RunPlan, result: &RunResult, started_unix_s: f64) -> Report {
        let m = &result.metrics;
        let verdict = evaluate_run_scored(
            &plan.thresholds,
            m,
            result.load.as_ref(),
            result.scores.as_ref(),
        );
        let run = RunInfo {
            scenario: plan.name.clone(),
            target: plan.target.to_string(),
            target_addr: plan.target_addr.to_string(),
            local_addr: result.local_addr.to_string(),
            transport: plan.transport.via_token().to_ascii_lowercase(),
            calls: plan.calls,
            rate: plan.rate,
            max_concurrent: plan.max_concurrent,
            seed: plan.seed,
            codecs: plan.codecs.iter().map(|c| format!("{c:?}")).collect(),
            hold_s: plan.hold.as_secs_f64(),
            answer_timeout_s: plan.answer_timeout.as_secs_f64(),
            authenticated: plan.credentials.is_some(),
            started_unix_s,
            duration_s: result.duration.as_secs_f64(),
        };
        let mut r = Report::from_metrics(run, plan.profile.clone(), m, verdict);
        r.preflight = result.preflight.clone();
        r.target_responded = result.target_responded;
        r.inbound = result.dispatch.clone();
        r.failed_calls = result.failed_calls.clone();
        r.aborted_after = result.aborted_after;
        r.series = Some(result.series.report());
        r.quality = result.quality.clone();
        if let (Some(l), Some(lm)) = (&plan.load, &result.load) {
            r.add_load(l, lm);
        }
        r
    }

    /// Adds what a load run measured beyond its totals: each phase, and blocking and agent
    /// waits beside Erlang B and C when the load declares trunks and agents.
    pub fn add_load(&mut self, load: &LoadPlan, lm: &LoadMetrics) {
        self.phases = lm
            .phases
            .iter()
            .map(|p| PhaseReport::new(p, load.trunks))
            .collect();
        self.erlang_b = load.trunks.zip(lm.blocking.as_ref()).and_then(|(t, s)| {
            crate::traffic::erlang_b_check(&load.profile, load.holding.mean(), t, s)
        });
        self.erlang_c = lm
            .agents
            .as_ref()
            .and_then(|s| crate::traffic::erlang_c_check(&load.profile, s));
    }

    /// A report from aggregates alone (a merged or re-checked run: no per-call details).
    pub fn from_metrics(
        run: RunInfo,
        profile: Option<String>,
        m: &crate::metrics::RunMetrics,
        verdict: crate::verdict::Evaluation,
    ) -> Report {
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            tool: ToolInfo {
                name: "callcert",
                version: env!("CARGO_PKG_VERSION"),
            },
            run,
            preflight: None,
            target_responded: m.answered > 0 || !m.sip_codes.is_empty(),
            calls: CallCounts::of(m),
            connect_rate: m.connect_rate(),
            success_rate: m.success_rate(),
            metrics: DelayMetrics::of(m),
            failures: m.failures.clone(),
            sip_codes: sip_codes(m),
            retransmissions: Retransmissions {
                sent: m.retransmissions_sent,
                received: m.retransmissions_received,
            },
            media: MediaTotals {
                rtp_received: m.rtp_received,
                rtp_lost: m.rtp_lost,
                rtp_sent: m.rtp_sent,
                rtp_late_skipped: m.rtp_late_skipped,
                max_jitter_ms: m.max_jitter_ms,
            },
            inbound: DispatchStats::default(),
            failed_calls: Vec::new(),
            aggregates: m.snapshot(),
            profile,
            verdict,
            aborted_after: None,
            erlang_b: None,
            erlang_c: None,
            phases: Vec::new(),
            series: None,
            quality: Vec::new(),
        }
    }

    /// Writes `report.json` into `dir`.
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let path = dir.join("report.json");
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Whether a threshold failed (the CLI's exit 99).
    pub fn failed(&self) -> bool {
        self.verdict.status == crate::verdict::Status::Fail
    }

    /// The verdict lines, k6 style: a ✓/✗ line per threshold with the measured value.
    pub fn verdict_lines(&self) -> String {
        use crate::verdict::Status;
        let mut s = String::new();
        if self.verdict.verdicts.is_empty() {
            return s;
        }
        let title = match &self.profile {
            Some(p) => format!("thresholds (profile {p} + scenario)"),
            None => "thresholds".to_string(),
        };
        let _ = writeln!(s, "\n  {title}:");
        for v in &self.verdict.verdicts {
            let id = v
                .threshold
                .spec_id
                .clone()
                .unwrap_or_else(|| "custom".into());
            let measured = match (v.measured, v.unit) {
                (Some(x), "ms") => format!("{x:.1} ms"),
                (Some(x), "ratio") => format!("{:.4} %", x * 100.0),
                (Some(x), u) => format!("{x:.3} {u}"),
                (None, _) => "—".into(),
            };
            let _ = writeln!(
                s,
                "    {} {:<22} {:<34} {:<14} n={:<6} {}",
                v.status.mark(),
                id,
                format!("{}: {}", v.threshold.metric, v.threshold.expr),
                measured,
                v.samples,
                v.detail
            );
        }
        let overall = match self.verdict.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Inconclusive => "INCONCLUSIVE",
            Status::NotMeasured => "NOT MEASURED",
            Status::NotApplicable => "NOT APPLICABLE",
        };
        let _ = writeln!(s, "  verdict ..............: {overall}");
        if let Some(n) = self.aborted_after {
            let _ = writeln!(
                s,
                "  aborted ..............: abort_on_fail stopped the run after {n} calls"
            );
        }
        s
    }

    /// One line per phase of the load profile: "idle …, busy …".
    fn phase_lines(&self, s: &mut String) {
        if self.phases.is_empty() {
            return;
        }
        let _ = writeln!(s, "  phases:");
        for p in &self.phases {
            let c = &p.calls;
            let _ = write!(
                s,
                "    {:<8} {:<14} offered {:.2} Erl, carried {:.2} Erl; {} attempted, {} answered ({}), {} succeeded, {} failed",
                p.name,
                format!("{:.0}–{:.0} s:", p.start_s, p.end_s),
                p.offered_erlangs,
                p.carried_erlangs,
                c.attempted,
                c.answered,
                p.connect_rate
                    .map_or("—".to_string(), |r| format!("{:.2} %", r * 100.0)),
                c.succeeded,
                c.failed
            );
            if let Some(b) = &p.blocking {
                let _ = write!(
                    s,
                    "; blocking {:.3} % vs Erlang B {:.3} %",
                    b.measured * 100.0,
                    b.predicted * 100.0
                );
            }
            if let Some(d) = &p.metrics.setup_time {
                let _ = write!(s, "; setup avg {:.1} ms p95 {:.1}", d.mean_ms, d.p95_ms);
            }
            if let Some(d) = &p.metrics.agent_wait {
                let _ = write!(s, "; agent wait avg {:.2} s", d.mean_ms / 1000.0);
            }
            s.push('\n');
        }
    }

    /// The agent queue against Erlang C: the load, then the mean wait and the share that waited.
    fn erlang_c_lines(&self, s: &mut String, c: &ErlangCCheck) {
        let _ = writeln!(
            s,
            "  agent queue (Erlang C): {:.2} Erl ({:.3} calls/s × {:.1} s handle) on {} agents; {} waits after {:.1} s warm-up, {:.3} s overhead subtracted{}",
            c.offered_erlangs,
            c.arrival_rate,
            c.handle_time_s,
            c.agents,
            c.samples,
            c.warmup_s,
            c.overhead_s,
            if c.unserved > 0 {
                format!(", {} calls got no agent", c.unserved)
            } else {
                String::new()
            }
        );
        let within = |x: Option<f64>, i: Option<(f64, f64)>| {
            x.zip(i).map(|(x, (lo, hi))| (lo..=hi).contains(&x))
        };
        let _ = writeln!(
            s,
            "    mean wait ..........: {:.3} s ({}) vs Erlang C {}{}",
            c.measured_mean_wait_s,
            interval_text(c.mean_wait_interval, 1.0, 3, "s"),
            c.predicted_mean_wait_s
                .map_or("unbounded (load ≥ agents)".to_string(), |w| format!(
                    "{w:.3} s"
                )),
            agreement(within(c.predicted_mean_wait_s, c.mean_wait_interval))
        );
        let _ = writeln!(
            s,
            "    waited > {:.3} s ...: {:.2} % ({}) vs Erlang C {:.2} % (P(wait) {:.2} %){}",
            c.epsilon_s,
            c.measured_waited_share * 100.0,
            interval_text(c.waited_share_interval, 100.0, 2, "%"),
            c.predicted_waited_share * 100.0,
            c.predicted_wait_probability * 100.0,
            agreement(within(
                Some(c.predicted_waited_share),
                c.waited_share_interval
            ))
        );
    }

    /// The end-of-run terminal summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let r = &self.run;
        let _ = writeln!(
            s,
            "\ncallcert {} — scenario {} → {} ({}), {} calls at {}/s, seed {}",
            self.tool.version, r.scenario, r.target, r.transport, r.calls, r.rate, r.seed
        );
        if !self.target_responded {
            let _ = writeln!(
                s,
                "  target ...............: NO RESPONSE to any INVITE: unreachable, filtered, or not a SIP endpoint"
            );
        }
        match &self.preflight {
            None => {}
            Some(crate::engine::Preflight::Answered { code, rtt_ms }) => {
                let _ = writeln!(
                    s,
                    "  target ...............: answered OPTIONS with {code} in {rtt_ms:.2} ms"
                );
            }
            Some(crate::engine::Preflight::NoAnswer { waited_ms }) => {
                let _ = writeln!(s, "  target ...............: NO ANSWER to OPTIONS within {waited_ms:.0} ms (unreachable or not a SIP endpoint?)");
            }
            Some(crate::engine::Preflight::TransportError { detail }) => {
                let _ = writeln!(s, "  target ...............: UNREACHABLE: {detail}");
            }
        }
        let c = &self.calls;
        let _ = writeln!(
            s,
            "  calls ................: {} attempted, {} answered, {} succeeded, {} failed",
            c.attempted, c.answered, c.succeeded, c.failed
        );
        if let Some(cr) = self.connect_rate {
            let _ = writeln!(s, "  connect rate .........: {:.2} %", cr * 100.0);
        }
        let line = |s: &mut String, name: &str, d: &Option<DelaySummary>| {
            if let Some(d) = d {
                let id = d.spec_id.map(|i| format!(" [{i}]")).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {name:<21}: avg {:.1} ms  min {:.1}  p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}  (n={}){id}",
                    d.mean_ms, d.min_ms, d.p50_ms, d.p95_ms, d.p99_ms, d.max_ms, d.count
                );
            }
        };
        line(&mut s, "post-dial delay", &self.metrics.post_dial_delay);
        line(&mut s, "setup time", &self.metrics.setup_time);
        line(&mut s, "connect delay (voice)", &self.metrics.connect_delay);
        line(&mut s, "launch lateness", &self.metrics.launch_lateness);
        line(&mut s, "DTMF response", &self.metrics.dtmf_response);
        line(&mut s, "query response", &self.metrics.query_response);
        line(&mut s, "agent wait", &self.metrics.agent_wait);
        self.phase_lines(&mut s);
        if let Some(e) = &self.erlang_b {
            let _ = writeln!(
                s,
                "  blocking (503) .......: {:.3} % of {} after {:.1} s warm-up ({}) vs Erlang B {:.3} % for {:.2} Erl on {} trunks{}",
                e.measured * 100.0,
                e.attempts,
                e.warmup_s,
                interval_text(e.interval, 100.0, 3, "%"),
                e.predicted * 100.0,
                e.offered_erlangs,
                e.trunks,
                agreement(e.agrees)
            );
        }
        if let Some(c) = &self.erlang_c {
            self.erlang_c_lines(&mut s, c);
        }
        if self.aggregates.ivr_flows > 0 {
            let (done, flows) = (self.aggregates.ivr_completed, self.aggregates.ivr_flows);
            let _ = writeln!(
                s,
                "  IVR flows ............: {done} of {flows} completed every step"
            );
        }
        let _ = writeln!(
            s,
            "  SIP retransmissions ..: {} sent, {} received",
            self.retransmissions.sent, self.retransmissions.received
        );
        let _ = writeln!(
            s,
            "  RTP ..................: {} sent, {} received, {} lost, max jitter {:.2} ms",
            self.media.rtp_sent,
            self.media.rtp_received,
            self.media.rtp_lost,
            self.media.max_jitter_ms
        );
        if self.media.rtp_late_skipped > 0 {
            let _ = writeln!(
                s,
                "  WARNING: the harness fell behind and skipped {} RTP packets it should have \
                 sent: it was overloaded",
                self.media.rtp_late_skipped
            );
        }
        if !self.failures.is_empty() {
            let _ = writeln!(s, "  failures:");
            for (k, n) in &self.failures {
                let example = self
                    .failed_calls
                    .iter()
                    .find_map(|r| r.failure.as_ref().filter(|f| f.kind == *k))
                    .map(|f| f.detail.clone())
                    .unwrap_or_default();
                let _ = writeln!(s, "    {:<12} {n:>6}  e.g. {example}", format!("{k:?}"));
            }
        }
        for q in &self.quality {
            let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            let _ = writeln!(
                s,
                "  PESQ {:<15}: mean {} p5 {} min {} over {} calls; {} below {:.1} (P.862 raw)",
                q.condition,
                f(q.mean),
                f(q.p5),
                f(q.min),
                q.count,
                q.below_threshold,
                q.threshold
            );
        }
        s.push_str(&self.verdict_lines());
        let malformed: u64 = self.inbound.malformed.values().sum();
        if malformed > 0 {
            let _ = writeln!(s, "  malformed SIP from the far end: {malformed}");
            for (k, n) in &self.inbound.malformed {
                let _ = writeln!(s, "    {n:>6}  {k}");
            }
        }
        s
    }
}

/// `YYYYMMDD-HHMMSS` (UTC) for a Unix time, used in output directory names.
pub fn utc_stamp(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
        assert_eq!(utc_stamp(1_795_437_296), "20261123-123456");
    }
}
