//! `callcert monitor …` on the command line: the arguments and what they run.

use super::alert::{AlertConfig, Webhook};
use super::core::CoreConfig;
use super::driver::{open_store, run_monitor, MonitorPlan};
use super::schedule::Cadence;
use super::window::WindowConfig;
use crate::cli::{build_plan, CliError, EXIT_THRESHOLD_FAILED};
use crate::engine::{StopHandle, StopRequest};
use crate::scenario::daytime::{local_utc_offset_s, parse_utc_offset, DailyWindow};
use crate::scenario::parse_duration;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `callcert monitor`: mystery calls on a schedule, for days.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct MonitorArgs {
    /// Work with a store instead of monitoring.
    #[command(subcommand)]
    pub action: Option<MonitorCommand>,
    /// Scenario files (menu paths), placed in rotation: call k walks scenario k mod n.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// The store's folder (created): every call, ping and alert, durable across restarts.
    #[arg(long, required = true)]
    pub store: Option<PathBuf>,
    /// One call every this long (e.g. 5m), moved at random by up to --jitter.
    #[arg(long, value_parser = parse_duration, conflicts_with = "per_hour")]
    pub every: Option<Duration>,
    /// Largest random offset of a call from its slot (default a quarter of --every).
    #[arg(long, value_parser = parse_duration, requires = "every")]
    pub jitter: Option<Duration>,
    /// This many calls in every clock hour, at random points of its equal parts.
    #[arg(long)]
    pub per_hour: Option<u32>,
    /// Place calls only in these daily windows of local time (repeatable), e.g. 09:00-18:00.
    #[arg(long = "window")]
    pub windows: Vec<String>,
    /// Local time's offset from UTC for windows and hours of the day (default: this machine's
    /// zone), e.g. +08:00.
    #[arg(long)]
    pub utc_offset: Option<String>,
    /// Seed of the timetable and the calls' random draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// OPTIONS pings for availability (SYS-AVAILABILITY) every this long; `off` for none. At
    /// 15 s a day holds 5 760 pings: enough to show 99.9 % at 95 % confidence (2 995 needed).
    #[arg(long, default_value = "15s")]
    pub ping_every: String,
    /// Unanswered pings in a row after which the target counts as unreachable (alerted); with
    /// `--ping-every off`, calls without any SIP response in a row.
    #[arg(long, default_value_t = 2)]
    pub down_after: u32,
    /// Length of the rolling window judged.
    #[arg(long, value_parser = parse_duration, default_value = "24h")]
    pub rolling: Duration,
    /// Threshold profile judged over the window (shipped name or file); SYS-AVAILABILITY from
    /// the `system` profile is added when the profile does not have it.
    #[arg(long, default_value = "yd2823-operational")]
    pub profile: String,
    /// The call center's busy hours of the day (e.g. 9-11,14-16) for OPS-BUSY-IDLE-PARITY;
    /// default: found from the data.
    #[arg(long)]
    pub busy_hours: Option<String>,
    /// POST a JSON alert to this URL (http or https) on each change of state (repeatable).
    #[arg(long = "webhook")]
    pub webhooks: Vec<String>,
    /// Run this shell command on each alert (the alert's JSON on its stdin).
    #[arg(long)]
    pub alert_command: Option<String>,
    /// Retries of an alert delivery that failed (backoff 1 s, doubling, up to 60 s).
    #[arg(long, default_value_t = 5)]
    pub alert_retries: u32,
    /// Serve Prometheus metrics on this address (`off` for none).
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics_listen: String,
    /// Override the scenarios' target SIP URI.
    #[arg(long)]
    pub target: Option<String>,
    /// Stop after this many calls (and let them end).
    #[arg(long)]
    pub max_calls: Option<u64>,
    /// Stop after this long (calls in progress end).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// On SIGINT/SIGTERM, how long calls in progress may go on before they are hung up.
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    pub drain: Duration,
}

/// `callcert monitor report`.
#[derive(Debug, clap::Subcommand)]
pub enum MonitorCommand {
    /// Write the report set (report.json, junit.xml, report.html with time-of-day charts) of
    /// the stored calls of a period, judged like the rolling window.
    Report {
        /// The store's folder.
        #[arg(long)]
        store: PathBuf,
        /// The period: the last this long (e.g. 24h, 7d is 168h).
        #[arg(long, value_parser = parse_duration, default_value = "24h")]
        since: Duration,
        /// Output folder (default `reports/monitor-<UTC time>`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Threshold profile (as for monitoring).
        #[arg(long, default_value = "yd2823-operational")]
        profile: String,
        /// Busy hours of the day (as for monitoring).
        #[arg(long)]
        busy_hours: Option<String>,
        /// Local time's offset from UTC (default: this machine's zone).
        #[arg(long)]
        utc_offset: Option<String>,
    },
}

fn invalid(e: impl std::fmt::Display) -> CliError {
    CliError::InvalidConfig(e.to_string())
}

/// Parses `9-11,14,16-17` into hours of the day.
pub fn parse_busy_hours(text: &str) -> Result<Vec<u8>, String> {
    let bad = |why: &str| format!("--busy-hours {text:?}: {why} (e.g. 9-11,14-16)");
    let mut hours = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u8 = a.trim().parse().map_err(|_| bad("not an hour"))?;
        let b: u8 = b.trim().parse().map_err(|_| bad("not an hour"))?;
        if a > 23 || b > 23 || a > b {
            return Err(bad("hours are 0 to 23, ranges ascending"));
        }
        hours.extend(a..=b);
    }
    hours.sort_unstable();
    hours.dedup();
    if hours.is_empty() || hours.len() == 24 {
        return Err(bad("name some hours, not all"));
    }
    Ok(hours)
}

#[allow(clippy::disallowed_methods)] // the CLI is a driver
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn utc_offset(arg: Option<&str>) -> Result<i32, CliError> {
    match arg {
        Some(t) => parse_utc_offset(t).map_err(invalid),
        None => Ok(local_utc_offset_s(unix_now() as i64)),
    }
}

fn window_config(
    rolling: Duration,
    offset: i32,
    busy: Option<&str>,
    confidence: f64,
    seed: u64,
) -> Result<WindowConfig, CliError> {
    let w = WindowConfig {
        length: rolling,
        utc_offset_s: offset,
        busy_hours: busy.map(parse_busy_hours).transpose().map_err(invalid)?,
        confidence,
        seed,
    };
    w.validate().map_err(invalid)?;
    Ok(w)
}

/// The store's meta key holding the monitor's run configuration (for `monitor report`).
const META_RUN_INFO: &str = "run_info";

/// The profile's thresholds, with SYS-AVAILABILITY added when it has none.
fn thresholds(profile: &str) -> Result<(String, Vec<crate::verdict::Threshold>, f64), CliError> {
    let p = crate::verdict::load_profile(profile).map_err(invalid)?;
    let mut t = p.thresholds;
    if !t.iter().any(|t| t.metric == "availability") {
        let sys = crate::verdict::load_profile("system").map_err(invalid)?;
        t.extend(
            sys.thresholds
                .into_iter()
                .filter(|t| t.metric == "availability"),
        );
    }
    Ok((p.name, t, p.confidence))
}

fn flag_or_off<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, CliError>
where
    T::Err: std::fmt::Display,
{
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse::<T>()
        .map(Some)
        .map_err(|e| invalid(format!("{what} {text:?}: {e}")))
}

/// Runs `callcert monitor …`; returns the exit code.
pub async fn monitor_command(args: MonitorArgs) -> Result<i32, CliError> {
    if let Some(MonitorCommand::Report {
        store,
        since,
        out,
        profile,
        busy_hours,
        utc_offset: off,
    }) = args.action
    {
        return report_command(
            store,
            since,
            out,
            &profile,
            busy_hours.as_deref(),
            off.as_deref(),
        );
    }
    let store_dir = args
        .store
        .clone()
        .ok_or_else(|| invalid("--store: required"))?;
    let cadence = match (args.every, args.per_hour) {
        (Some(e), None) => Cadence::every(e, args.jitter).map_err(invalid)?,
        (None, Some(n)) => Cadence::per_hour(n).map_err(invalid)?,
        (None, None) => Cadence::every(Duration::from_secs(300), args.jitter).map_err(invalid)?,
        (Some(_), Some(_)) => return Err(invalid("--every and --per-hour: choose one")),
    };
    let windows = args
        .windows
        .iter()
        .map(|w| {
            w.parse::<DailyWindow>()
                .map_err(|e| invalid(format!("--window: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let offset = utc_offset(args.utc_offset.as_deref())?;
    let ping_every = match flag_or_off::<String>(&args.ping_every, "--ping-every")? {
        None => None,
        Some(t) => {
            let d = parse_duration(&t).map_err(|e| invalid(format!("--ping-every: {e}")))?;
            if d < Duration::from_secs(1) {
                return Err(invalid("--ping-every: at least 1s"));
            }
            Some(d)
        }
    };
    let metrics_listen: Option<SocketAddr> = flag_or_off(&args.metrics_listen, "--metrics-listen")?;
    let webhooks = args
        .webhooks
        .iter()
        .map(|u| Webhook::parse(u).map_err(|e| invalid(format!("--webhook: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let (profile, thresholds, confidence) = thresholds(&args.profile)?;
    let window = window_config(
        args.rolling,
        offset,
        args.busy_hours.as_deref(),
        confidence,
        args.seed,
    )?;
    let mut plans = Vec::new();
    for path in &args.scenarios {
        let scn = crate::scenario::load_scenario(path).map_err(invalid)?;
        if scn.call.quality.is_some() {
            return Err(invalid(format!(
                "{}: call.quality is not scored by the monitor (use `callcert run`)",
                path.display()
            )));
        }
        let mut plan = build_plan(&scn, args.target.as_deref(), Some(1), None).await?;
        plan.calls = 1;
        plan.load = None;
        plan.preflight = false;
        plan.abort_on_fail = false;
        // The call runs to its end; the monitor's own stop decides when to cut it (--drain).
        plan.drain = None;
        plans.push(plan);
    }
    let mut names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    names.dedup();
    let core = CoreConfig {
        name: names.join("+"),
        target: plans[0].target.to_string(),
        scenarios: plans.iter().map(|p| p.name.clone()).collect(),
        cadence,
        windows,
        seed: args.seed,
        window,
        thresholds,
        down_after: args.down_after,
        calls_probe: ping_every.is_none(),
        evaluate_every: 10.0,
    };
    let alerts = AlertConfig {
        webhooks,
        command: args.alert_command.clone(),
        retries: args.alert_retries,
        ..AlertConfig::default()
    };
    // Every check of the store happens here, before any call: a full disk, a read-only folder
    // or a damaged database is an error now, not a crash later.
    let mut store = open_store(&store_dir).map_err(|e| CliError::Harness(e.to_string()))?;
    let p0 = &plans[0];
    let run_info = crate::report::RunInfo {
        scenario: core.name.clone(),
        target: p0.target.to_string(),
        target_addr: p0.target_addr.to_string(),
        local_addr: p0.local.to_string(),
        transport: p0.transport.via_token().to_ascii_lowercase(),
        calls: 1,
        rate: 1.0 / cadence.mean_interval_s(),
        max_concurrent: p0.max_concurrent,
        seed: args.seed,
        codecs: p0.codecs.iter().map(|c| format!("{c:?}")).collect(),
        hold_s: p0.hold.as_secs_f64(),
        answer_timeout_s: p0.answer_timeout.as_secs_f64(),
        authenticated: p0.credentials.is_some(),
        started_unix_s: unix_now(),
        duration_s: 0.0,
    };
    if let Ok(json) = serde_json::to_string(&run_info) {
        store
            .set_meta(META_RUN_INFO, &json)
            .map_err(|e| CliError::Harness(e.to_string()))?;
    }
    let stop = StopHandle::default();
    let signals = {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::cli::wait_for_shutdown().await;
            stop.request(StopRequest::Graceful);
            crate::cli::wait_for_shutdown().await;
            stop.request(StopRequest::Now);
        })
    };
    let plan = MonitorPlan {
        core,
        plans,
        store_dir: store_dir.clone(),
        ping_every,
        alerts,
        metrics_listen,
        max_calls: args.max_calls,
        duration: args.duration,
        drain: args.drain,
    };
    eprintln!(
        "callcert monitor: {} → {}; store {}; profile {profile}",
        plan.core.name,
        plan.core.target,
        store_dir.display()
    );
    let summary = run_monitor(plan, store, stop, |line| {
        eprintln!("callcert monitor: {line}")
    })
    .await;
    signals.abort();
    let summary = summary.map_err(|e| CliError::Harness(e.to_string()))?;
    for line in &summary.unstored {
        // The store never took these: they go to stderr rather than nowhere.
        eprintln!("callcert monitor: UNSTORED {line}");
    }
    eprintln!(
        "callcert monitor: stopped: {} placed, {} ended, {} interrupted; {} alert(s), {} undelivered; rolling verdict {}",
        summary.placed,
        summary.ended,
        summary.interrupted,
        summary.alerts,
        summary.alerts_undelivered,
        if summary.overall.is_empty() { "none" } else { &summary.overall }
    );
    Ok(if summary.unstored.is_empty() { 0 } else { 1 })
}

fn report_command(
    store_dir: PathBuf,
    since: Duration,
    out: Option<PathBuf>,
    profile: &str,
    busy: Option<&str>,
    offset: Option<&str>,
) -> Result<i32, CliError> {
    let (profile_name, thresholds, confidence) = thresholds(profile)?;
    let offset = utc_offset(offset)?;
    let store = super::store::Store::open_reader(&store_dir)
        .map_err(|e| CliError::Harness(e.to_string()))?;
    let harness = |e: super::store::StoreError| CliError::Harness(e.to_string());
    let run: Option<crate::report::RunInfo> = store
        .meta(META_RUN_INFO)
        .map_err(harness)?
        .and_then(|j| serde_json::from_str(&j).ok());
    let seed = run.as_ref().map_or(1, |r| r.seed);
    let window = window_config(since, offset, busy, confidence, seed)?;
    let now = unix_now();
    let from = now - since.as_secs_f64();
    let calls = store.calls_since(from).map_err(harness)?;
    let pings = store.pings_since(from).map_err(harness)?;
    let result = super::window::evaluate_window(&calls, &pings, now, &window, &thresholds);
    let out = out.unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("monitor-{}", crate::report::utc_stamp(now as u64)))
    });
    let mut run = run.ok_or_else(|| {
        CliError::Harness(format!(
            "store {}: no monitor configuration stored (no monitor has run on it)",
            store_dir.display()
        ))
    })?;
    run.calls = (calls.len() as u64).max(1);
    let meta = super::report::ReportMeta {
        monitor: run.scenario.clone(),
        profile: Some(profile_name),
        store: store_dir.clone(),
        since: crate::scenario::duration::format_duration(since),
        run,
    };
    let files = super::report::write_window_report(&result, meta, &out)
        .map_err(|e| CliError::Harness(e.to_string()))?;
    println!(
        "callcert monitor report: {} calls over the last {}: {}",
        calls.len(),
        crate::scenario::duration::format_duration(since),
        crate::report::files::status_word(result.evaluation.status)
    );
    for f in files {
        println!("  {}", f.display());
    }
    Ok(
        if result.evaluation.status == crate::verdict::Status::Fail {
            EXIT_THRESHOLD_FAILED
        } else {
            0
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_hours_parse() {
        assert_eq!(parse_busy_hours("9-11,14"), Ok(vec![9, 10, 11, 14]));
        assert_eq!(parse_busy_hours(" 16-17 , 9 "), Ok(vec![9, 16, 17]));
        for bad in ["", "25", "11-9", "a", "0-23"] {
            assert!(parse_busy_hours(bad).is_err(), "{bad}");
        }
    }
}
