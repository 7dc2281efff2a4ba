//! Command line: `callcert run`, `callcert sut`, `callcert demo`, `callcert impair`, ….
//!
//! `main.rs` parses [`Cli`] and maps [`CliError`] onto exit codes (k6 conventions: 104 for an
//! invalid configuration detected before any call, 1 when the harness itself failed).

use crate::engine::{self, RunPlan};
use crate::media::AudioSource;
use crate::report::{utc_stamp, Report};
use crate::scenario::{self, CallerAudio, Scenario};
use crate::sip::dialog::TransportKind;
use crate::sip::message;
use crate::sip::transaction::TimerConfig;
use crate::sut::{self, config::SutConfig};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Exit code for an invalid configuration (k6's convention).
pub const EXIT_INVALID_CONFIG: i32 = 104;
/// Exit code when a threshold failed (k6's convention).
pub const EXIT_THRESHOLD_FAILED: i32 = 99;
/// Exit code when the harness itself failed.
pub const EXIT_HARNESS_FAILED: i32 = 1;

/// callcert: SIP call-center load testing and certification against YD/T 2823-2015.
#[derive(Debug, Parser)]
#[command(name = "callcert", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Place the calls of a scenario and write the report.
    Run {
        /// Scenario file (YAML).
        scenario: PathBuf,
        /// Override the scenario's target SIP URI.
        #[arg(long)]
        target: Option<String>,
        /// Override the number of calls.
        #[arg(long)]
        calls: Option<u64>,
        /// Override the call rate (calls per second).
        #[arg(long)]
        rate: Option<f64>,
        /// Output directory (default `reports/<scenario>-<UTC time>`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Learn an IVR's prompts: place one call through the scenario's steps, accepting any voice
    /// where a prompt is named, and save each as `OUT/NAME.wav` (references for later runs: set
    /// `call.prompts` to OUT).
    Learn {
        /// Scenario file (YAML) with `call.steps`.
        scenario: PathBuf,
        /// Folder to write the prompts into (created).
        #[arg(long)]
        out: PathBuf,
        /// Override the scenario's target SIP URI.
        #[arg(long)]
        target: Option<String>,
    },
    /// Erlang B and C: blocking of a trunk group, waiting in an agent queue, and the sizes that
    /// meet a target. Give the offered load and one of the combinations below.
    Erlang {
        /// Offered load, Erlangs.
        #[arg(long)]
        traffic: f64,
        /// Trunks: print Erlang B blocking.
        #[arg(long)]
        trunks: Option<u32>,
        /// Target blocking (e.g. 0.01): print the trunks needed.
        #[arg(long)]
        blocking: Option<f64>,
        /// Agents: print Erlang C probability of waiting, mean wait and service level.
        #[arg(long)]
        agents: Option<u32>,
        /// Mean handle time (e.g. 180s), for agents.
        #[arg(long, value_parser = crate::scenario::parse_duration)]
        handle: Option<std::time::Duration>,
        /// Service-level answer time (e.g. 20s), for agents.
        #[arg(long, value_parser = crate::scenario::parse_duration)]
        answer: Option<std::time::Duration>,
        /// Target service level (e.g. 0.8): print the agents needed.
        #[arg(long)]
        level: Option<f64>,
    },
    /// Run the reference call center until SIGINT/SIGTERM; prints its counters as JSON at exit.
    Sut {
        /// Listen address (overrides the config).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Configuration file (YAML); defaults to the built-in configuration.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override the number of trunks.
        #[arg(long)]
        trunks: Option<u32>,
        /// Override the transport (udp or tcp).
        #[arg(long)]
        transport: Option<TransportKind>,
        /// Run this IVR definition (e.g. scenarios/ivr/bank.yaml) after the answer.
        #[arg(long)]
        ivr: Option<PathBuf>,
        /// Replace every delay distribution of the IVR by its mean (exact ground truth).
        #[arg(long)]
        fixed_delays: bool,
    },
    /// Print the sample each threshold of a scenario needs, against the calls it plans.
    Plan {
        /// Scenario file (YAML).
        scenario: PathBuf,
        /// Override the number of calls.
        #[arg(long)]
        calls: Option<u64>,
    },
    /// Work with finished runs: merge shards, re-check against another profile.
    Report {
        /// What to do.
        #[command(subcommand)]
        action: ReportCommand,
    },
    /// Relay UDP through a network impairment (delay, jitter, loss, reordering, duplication)
    /// in front of any device, until SIGINT/SIGTERM or --duration; prints its seed, and at the
    /// end a summary per direction.
    Impair(ImpairArgs),
    /// Score a degraded recording against its reference with ITU-T P.862 (narrowband, 8 kHz:
    /// raw score and P.862.1 MOS-LQO) or P.862.2 (wideband, 16 kHz). A degraded recording
    /// longer than the reference (a call's heard audio) is searched for the reference first.
    Score {
        /// The reference recording (WAV, mono).
        reference: PathBuf,
        /// The degraded recording (WAV, mono).
        degraded: PathBuf,
        /// Wideband (P.862.2): both files at 16 kHz or more; default narrowband at 8 kHz.
        #[arg(long)]
        wideband: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Mystery-call monitoring: place a scenario's calls on a schedule for days, keep every
    /// call in a durable store, judge a rolling window (yd2823-operational), ping the target
    /// for availability, alert on changes and serve Prometheus metrics. `monitor report`
    /// writes the report set of a stored period.
    Monitor(Box<crate::monitor::command::MonitorArgs>),
    /// Start the reference call center in-process and run `scenarios/smoke.yaml` against it.
    Demo {
        /// Output directory (default `reports/demo-<UTC time>`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `callcert impair …`.
#[derive(Debug, clap::Args)]
pub struct ImpairArgs {
    /// Address clients send to (e.g. 127.0.0.1:5070).
    #[arg(long)]
    pub listen: String,
    /// Where their datagrams go: the device under test (e.g. 127.0.0.1:5060).
    #[arg(long)]
    pub forward: String,
    /// Impairment towards --forward, as a preset: good, poor or bad (SPEC ACC-PESQ-*).
    #[arg(long)]
    pub profile: Option<String>,
    /// Impairment towards --forward in the compact form, on top of --profile (e.g.
    /// "loss=1%,jitter=20ms,delay=100ms,dist=normal,burst=3,reorder=1%,dup=0.1%,order=keep").
    #[arg(long)]
    pub spec: Option<String>,
    /// Impairment of the replies back to the clients, as a preset (default: none).
    #[arg(long)]
    pub reverse_profile: Option<String>,
    /// Impairment of the replies in the compact form, on top of --reverse-profile.
    #[arg(long)]
    pub reverse_spec: Option<String>,
    /// Seed of the random draws (default: a random one, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this long (e.g. 60s); default: until SIGINT/SIGTERM.
    #[arg(long)]
    pub duration: Option<String>,
    /// Most client mappings held at once (the least recently active makes room).
    #[arg(long, default_value_t = 1024)]
    pub max_mappings: usize,
    /// Close a client's mapping after this long without a datagram either way.
    #[arg(long, default_value = "60s")]
    pub idle: String,
    /// Print the final summary as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `callcert report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Combine the results of several runs or shards (HDR histograms merged, not averaged) and
    /// judge them again.
    Merge {
        /// Output directories (or report.json files) of the runs.
        #[arg(required = true, num_args = 1..)]
        runs: Vec<PathBuf>,
        /// Where to write the merged report set.
        #[arg(long)]
        out: PathBuf,
        /// Judge against this profile instead of the runs' own thresholds.
        #[arg(long)]
        profile: Option<String>,
    },
    /// Judge a finished run against another profile.
    Check {
        /// The run's report.json (or its directory).
        report: PathBuf,
        /// Profile name (shipped) or file.
        #[arg(long)]
        profile: String,
    },
}

impl clap::ValueEnum for TransportKind {
    fn value_variants<'a>() -> &'a [Self] {
        &[TransportKind::Udp, TransportKind::Tcp]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
        }))
    }
}

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// The scenario or configuration is invalid (exit 104).
    #[error("{0}")]
    InvalidConfig(String),
    /// The harness failed while running (exit 1).
    #[error("{0}")]
    Harness(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::InvalidConfig(_) => EXIT_INVALID_CONFIG,
            CliError::Harness(_) => EXIT_HARNESS_FAILED,
        }
    }
}

/// Runs a parsed command line; returns the exit code.
pub async fn execute(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Run {
            scenario,
            target,
            calls,
            rate,
            out,
        } => {
            let scn = scenario::load_scenario(&scenario)
                .map_err(|e| CliError::InvalidConfig(e.to_string()))?;
            let plan = build_plan(&scn, target.as_deref(), calls, rate).await?;
            run_and_report(plan, out).await
        }
        Command::Erlang {
            traffic,
            trunks,
            blocking,
            agents,
            handle,
            answer,
            level,
        } => erlang_command(traffic, trunks, blocking, agents, handle, answer, level),
        Command::Learn {
            scenario,
            out,
            target,
        } => {
            let scn = scenario::load_scenario(&scenario)
                .map_err(|e| CliError::InvalidConfig(e.to_string()))?;
            if scn.call.steps.is_empty() {
                return Err(CliError::InvalidConfig(format!(
                    "{}: learn needs call.steps that name the prompts to record",
                    scenario.display()
                )));
            }
            std::fs::create_dir_all(&out)
                .map_err(|e| CliError::Harness(format!("{}: {e}", out.display())))?;
            let mut plan = build_plan(&scn, target.as_deref(), Some(1), None).await?;
            plan.ivr = plan.ivr.take().map(|p| {
                std::sync::Arc::new(
                    std::sync::Arc::try_unwrap(p)
                        .unwrap_or_else(|p| (*p).clone())
                        .learning(out.clone()),
                )
            });
            let result = engine::run(plan, None)
                .await
                .map_err(|e| CliError::Harness(e.to_string()))?;
            let mut saved: Vec<String> = std::fs::read_dir(&out)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.ends_with(".wav"))
                        .collect()
                })
                .unwrap_or_default();
            saved.sort();
            eprintln!(
                "callcert learn: {} prompt(s) in {}: {}",
                saved.len(),
                out.display(),
                saved.join(", ")
            );
            if let Some(f) = result.failed_calls.first().and_then(|c| c.failure.as_ref()) {
                eprintln!("callcert learn: the call failed: {}", f.detail);
                return Ok(1);
            }
            Ok(0)
        }
        Command::Sut {
            listen,
            config,
            trunks,
            transport,
            ivr,
            fixed_delays,
        } => {
            let mut cfg = match &config {
                Some(p) => sut::config::load_sut_config(p)
                    .map_err(|e| CliError::InvalidConfig(e.to_string()))?,
                None => SutConfig::default(),
            };
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(t) = trunks {
                cfg.trunks = t;
            }
            if let Some(t) = transport {
                cfg.transport = t;
            }
            if let Some(p) = ivr {
                cfg.set_ivr(Some(
                    sut::config::LoadedIvr::load(&p)
                        .map_err(|e| CliError::InvalidConfig(e.to_string()))?,
                ));
            }
            if fixed_delays {
                cfg = cfg.with_fixed_delays();
            }
            let prompt = load_prompt(&cfg)?;
            let handle = sut::serve(cfg.clone(), prompt)
                .await
                .map_err(|e| CliError::Harness(e.to_string()))?;
            eprintln!(
                "callcert sut: reference call center listening on {} ({}), {} trunks",
                handle.local_addr,
                cfg.transport.via_token().to_ascii_lowercase(),
                cfg.trunks
            );
            for e in &cfg.schedule.entries {
                eprintln!("  schedule: {e}");
            }
            wait_for_shutdown().await;
            let stats = handle.stats();
            println!(
                "{}",
                serde_json::to_string(&stats).map_err(|e| CliError::Harness(e.to_string()))?
            );
            Ok(0)
        }
        Command::Plan { scenario, calls } => {
            let scn = scenario::load_scenario(&scenario)
                .map_err(|e| CliError::InvalidConfig(e.to_string()))?;
            let calls = calls.unwrap_or(scn.calls);
            println!(
                "callcert plan — {} ({} calls at {}/s): sample each threshold needs",
                scn.name, calls, scn.rate
            );
            for l in crate::report::merge::plan(&scn.thresholds, calls, 0.95) {
                let mark = match l.needed {
                    Some(n) if n > calls => "✗",
                    _ => "✓",
                };
                println!("  {mark} {:<52} {}", l.label, l.note);
            }
            Ok(0)
        }
        Command::Report { action } => report_command(action),
        Command::Impair(args) => impair_command(args).await,
        Command::Monitor(args) => crate::monitor::command::monitor_command(*args).await,
        Command::Score {
            reference,
            degraded,
            wideband,
            json,
        } => score_command(&reference, &degraded, wideband, json),
        Command::Demo { out } => {
            let cfg = SutConfig {
                listen: "127.0.0.1:0"
                    .parse()
                    .map_err(|_| CliError::Harness("bad built-in listen address".into()))?,
                ..SutConfig::default()
            };
            let prompt = load_prompt(&cfg)?;
            let handle = sut::serve(cfg, prompt)
                .await
                .map_err(|e| CliError::Harness(e.to_string()))?;
            let smoke = scenarios_dir().join("smoke.yaml");
            let scn = scenario::load_scenario(&smoke)
                .map_err(|e| CliError::InvalidConfig(e.to_string()))?;
            let target = format!("sip:ivr@{}", handle.local_addr);
            eprintln!(
                "callcert demo: reference call center on {}; running {}",
                handle.local_addr,
                smoke.display()
            );
            let plan = build_plan(&scn, Some(&target), None, None).await?;
            let out = out.or_else(|| Some(default_out("demo")));
            let code = run_and_report(plan, out).await?;
            let s = handle.stats();
            eprintln!(
                "  reference call center: {} INVITEs, {} answered, {} busy (503), {} hung up by caller, {} by the call center",
                s.invites, s.answered, s.busy_503, s.caller_hangups, s.sut_hangups
            );
            Ok(code)
        }
    }
}

/// Where the shipped scenarios live (next to the binary's source tree, or `./scenarios`).
pub fn scenarios_dir() -> PathBuf {
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn load_prompt(cfg: &SutConfig) -> Result<AudioSource, CliError> {
    match &cfg.prompt {
        Some(path) => AudioSource::from_wav(path),
        None => AudioSource::from_wav_bytes(
            sut::config::EMBEDDED_WELCOME_WAV,
            "built-in welcome prompt",
        ),
    }
    .map_err(|e| CliError::InvalidConfig(e.to_string()))
}

fn default_out(name: &str) -> PathBuf {
    let unix = unix_now().as_secs();
    PathBuf::from("reports").join(format!("{name}-{}", utc_stamp(unix)))
}

#[allow(clippy::disallowed_methods)] // the CLI is a driver: wall-clock time for the report
fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Waits for SIGINT or SIGTERM.
pub async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run_and_report(plan: RunPlan, out: Option<PathBuf>) -> Result<i32, CliError> {
    let out = out.unwrap_or_else(|| default_out(&plan.name));
    let started = unix_now().as_secs_f64();
    // SIGINT/SIGTERM: the first stops launching and lets calls in progress end (within the
    // drain time); a second hangs them up at once. Either way every placed call is reported.
    let stop = engine::StopHandle::default();
    let signals = {
        let stop = stop.clone();
        let drain = plan.drain;
        tokio::spawn(async move {
            wait_for_shutdown().await;
            let within = drain.map_or(String::new(), |d| format!(" (within {d:?})"));
            eprintln!(
                "stopping: no new calls; calls in progress end{within}; \
                 interrupt again to hang them up now"
            );
            stop.request(engine::StopRequest::Graceful);
            wait_for_shutdown().await;
            eprintln!("stopping: hanging up every call in progress");
            stop.request(engine::StopRequest::Now);
        })
    };
    let result = engine::run_until(plan.clone(), Some(out.clone()), stop).await;
    signals.abort();
    let result = result.map_err(|e| CliError::Harness(e.to_string()))?;
    let report = Report::new(&plan, &result, started);
    print!("{}", report.summary());
    let path = report
        .write_json(&out)
        .map_err(|e| CliError::Harness(e.to_string()))?;
    let files = crate::report::files::write_report_files(&out, &report, &result.metrics)
        .map_err(|e| CliError::Harness(e.to_string()))?;
    println!("  report ...............: {}", path.display());
    for f in files {
        println!("                          {}", f.display());
    }
    match &result.capture {
        Some(Ok(p)) => println!("  capture ..............: {}", p.display()),
        Some(Err(e)) => eprintln!("callcert: capture not written: {e}"),
        None => {}
    }
    Ok(if report.failed() {
        EXIT_THRESHOLD_FAILED
    } else {
        0
    })
}

fn report_command(action: ReportCommand) -> Result<i32, CliError> {
    use crate::report::merge;
    let invalid = |e: &dyn std::fmt::Display| CliError::InvalidConfig(e.to_string());
    let (run, profile, thresholds, out) = match action {
        ReportCommand::Merge { runs, out, profile } => {
            let stored = runs
                .iter()
                .map(|p| merge::read_run(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(&e))?;
            let merged = merge::merge_runs(&stored)
                .ok_or_else(|| CliError::InvalidConfig("no runs to merge".into()))?;
            let (profile, thresholds) = match profile {
                Some(p) => {
                    let prof = crate::verdict::load_profile(&p).map_err(|e| invalid(&e))?;
                    (Some(prof.name), prof.thresholds)
                }
                None => (merged.profile.clone(), merged.thresholds.clone()),
            };
            (merged, profile, thresholds, Some(out))
        }
        ReportCommand::Check { report, profile } => {
            let run = merge::read_run(&report).map_err(|e| invalid(&e))?;
            let prof = crate::verdict::load_profile(&profile).map_err(|e| invalid(&e))?;
            (run, Some(prof.name), prof.thresholds, None)
        }
    };
    let report = merge::report_for(&run, profile, &thresholds);
    print!("{}", report.summary());
    if let Some(out) = out {
        let path = report
            .write_json(&out)
            .map_err(|e| CliError::Harness(e.to_string()))?;
        let files = crate::report::files::write_report_files(&out, &report, &run.metrics)
            .map_err(|e| CliError::Harness(e.to_string()))?;
        println!("  report ...............: {}", path.display());
        for f in files {
            println!("                          {}", f.display());
        }
    }
    Ok(if report.failed() {
        EXIT_THRESHOLD_FAILED
    } else {
        0
    })
}

/// Resolves a scenario (with command-line overrides) into a run plan.
pub async fn build_plan(
    scn: &Scenario,
    target: Option<&str>,
    calls: Option<u64>,
    rate: Option<f64>,
) -> Result<RunPlan, CliError> {
    let target = match target {
        Some(t) => {
            message::parse_uri(t).map_err(|e| CliError::InvalidConfig(format!("--target: {e}")))?
        }
        None => scn.target.clone(),
    };
    let calls = calls.unwrap_or(scn.calls);
    if calls == 0 {
        return Err(CliError::InvalidConfig(
            "--calls: must be at least 1".into(),
        ));
    }
    let rate = rate.unwrap_or(scn.rate);
    if !(rate.is_finite() && rate > 0.0) {
        return Err(CliError::InvalidConfig(
            "--rate: must be a positive number".into(),
        ));
    }
    let target_addr = engine::resolve_target(&target)
        .await
        .map_err(|e| CliError::Harness(e.to_string()))?;
    let mut local = scn.local;
    if local.ip().is_unspecified() && local.is_ipv4() != target_addr.is_ipv4() {
        let any: std::net::IpAddr = if target_addr.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        local = SocketAddr::new(any, local.port());
    }
    let audio = match &scn.call.audio {
        CallerAudio::Silence => AudioSource::silence(),
        CallerAudio::File(p) => {
            AudioSource::from_wav(p).map_err(|e| CliError::InvalidConfig(e.to_string()))?
        }
    };
    let from = match &scn.from {
        Some(u) => format!("<{u}>"),
        None => format!(
            "<sip:callcert@{}>",
            crate::sip::dialog::host_port(target_addr)
                .split(':')
                .next()
                .unwrap_or("localhost")
        ),
    };
    Ok(RunPlan {
        name: scn.name.clone(),
        target,
        target_addr,
        transport: scn.transport,
        local,
        from,
        codecs: scn.codecs.clone(),
        telephone_event: scn.telephone_event,
        preflight: scn.preflight,
        credentials: scn.credentials.clone(),
        calls,
        rate,
        max_concurrent: scn.max_concurrent.map_or(10_000, |m| m as usize),
        max_rate: scn.max_rate,
        drain: scn
            .drain
            .or_else(|| scn.load.as_ref().map(|_| DEFAULT_LOAD_DRAIN)),
        media: scn.call.media,
        seed: scn.seed,
        timers: TimerConfig {
            t1: scn.timers.t1,
            t2: scn.timers.t2,
            t4: scn.timers.t4,
        },
        answer_timeout: scn.call.answer_timeout,
        hold: scn.call.hold,
        audio,
        expect_voice: scn.call.expect_voice,
        expect_media: scn.call.expect_media,
        media_timeout: scn.call.media_timeout,
        voice_threshold_dbov: scn.call.voice_threshold_dbov,
        capture: scn.capture,
        thresholds: scn.thresholds.clone(),
        profile: scn.profile.clone(),
        abort_on_fail: scn.abort_on_fail,
        load: scn.load.as_ref().map(|l| engine::LoadPlan {
            profile: l.profile.clone(),
            holding: l.holding,
            trunks: l.trunks,
            agents: l.agents,
            series_interval: l.series_interval,
        }),
        quality: match &scn.call.quality {
            None => None,
            Some(q) => Some(std::sync::Arc::new(
                engine::quality::QualitySetup::load(q).map_err(CliError::InvalidConfig)?,
            )),
        },
        ivr: if scn.call.steps.is_empty() {
            None
        } else {
            Some(std::sync::Arc::new(
                engine::IvrPlan::load(scn.call.steps.clone(), scn.call.prompts.as_deref())
                    .map_err(CliError::InvalidConfig)?,
            ))
        },
    })
}

/// `callcert impair`: runs the relay until a signal or `--duration`; 104 for bad input.
async fn impair_command(args: ImpairArgs) -> Result<i32, CliError> {
    use crate::impair::relay::{Relay, RelayConfig, RelayError};
    use crate::impair::ImpairConfig;
    let invalid =
        |flag: &str, e: &dyn std::fmt::Display| CliError::InvalidConfig(format!("{flag}: {e}"));
    let impairment = |profile_flag: &str,
                      profile: &Option<String>,
                      spec_flag: &str,
                      spec: &Option<String>|
     -> Result<ImpairConfig, CliError> {
        let base = match profile {
            Some(p) => ImpairConfig::preset(p).map_err(|e| invalid(profile_flag, &e))?,
            None => ImpairConfig::none(),
        };
        match spec {
            Some(s) => base.with_spec(s).map_err(|e| invalid(spec_flag, &e)),
            None => Ok(base),
        }
    };
    let upstream = impairment("--profile", &args.profile, "--spec", &args.spec)?;
    let downstream = impairment(
        "--reverse-profile",
        &args.reverse_profile,
        "--reverse-spec",
        &args.reverse_spec,
    )?;
    let duration = match &args.duration {
        Some(d) => Some(
            scenario::parse_duration(d)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    invalid(
                        "--duration",
                        &format!("{d:?} is not a duration above 0 (e.g. 60s)"),
                    )
                })?,
        ),
        None => None,
    };
    let idle = scenario::parse_duration(&args.idle).map_err(|e| invalid("--idle", &e))?;
    let listen = resolve_addr("--listen", &args.listen).await?;
    let forward = resolve_addr("--forward", &args.forward).await?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let cfg = RelayConfig {
        listen,
        forward,
        upstream,
        downstream,
        seed,
        max_mappings: args.max_mappings,
        idle_timeout: idle,
    };
    // Listen for the signals before any datagram moves, so that none ends the process
    // without its summary.
    let mut signals = Signals::register()
        .map_err(|e| CliError::Harness(format!("cannot listen for signals: {e}")))?;
    let relay = Relay::start(cfg).await.map_err(|e| match e {
        RelayError::Setup { .. } => CliError::Harness(e.to_string()),
        _ => CliError::InvalidConfig(e.to_string()),
    })?;
    eprintln!(
        "callcert impair: relaying UDP {} -> {forward}; seed {seed}\n  \
         upstream (clients -> {forward}): {upstream}\n  downstream (replies -> clients): {downstream}",
        relay.local_addr()
    );
    match duration {
        Some(d) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = signals.recv() => {}
            }
        }
        None => signals.recv().await,
    }
    let stats = relay.stop().await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&stats).map_err(|e| CliError::Harness(e.to_string()))?
        );
    } else {
        print!("{}", stats.summary());
    }
    Ok(0)
}

/// A socket address, or a `host:port` resolved now; 104 when neither.
async fn resolve_addr(flag: &str, text: &str) -> Result<SocketAddr, CliError> {
    if let Ok(a) = text.parse() {
        return Ok(a);
    }
    let bad = |why: String| CliError::InvalidConfig(format!("{flag}: {text:?}: {why}"));
    tokio::net::lookup_host(text)
        .await
        .map_err(|e| bad(format!("not an address (HOST:PORT): {e}")))?
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))
}

/// SIGINT and SIGTERM, listened for from the moment of [`Signals::register`].
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How long calls may go on after the end of a `load:` profile before they are hung up.
const DEFAULT_LOAD_DRAIN: Duration = Duration::from_secs(30);

/// `callcert erlang`: prints what the given combination asks for; 104 for a bad combination.
fn erlang_command(
    traffic: f64,
    trunks: Option<u32>,
    blocking: Option<f64>,
    agents: Option<u32>,
    handle: Option<std::time::Duration>,
    answer: Option<std::time::Duration>,
    level: Option<f64>,
) -> Result<i32, CliError> {
    use crate::traffic;
    let bad = |e: traffic::TrafficError| CliError::InvalidConfig(e.to_string());
    if !(traffic.is_finite() && traffic >= 0.0) {
        return Err(CliError::InvalidConfig(format!(
            "--traffic: must be a non-negative number of Erlangs, got {traffic}"
        )));
    }
    let mut printed = false;
    if let Some(n) = trunks {
        let b = traffic::erlang_b(traffic, n);
        println!(
            "Erlang B: {traffic} Erl offered to {n} trunks: blocking {b:.6} ({:.4} %), carried {:.4} Erl",
            b * 100.0,
            traffic * (1.0 - b)
        );
        printed = true;
    }
    if let Some(target) = blocking {
        let n = traffic::trunks_for_blocking(traffic, target).map_err(bad)?;
        println!(
            "Erlang B: {traffic} Erl needs {n} trunks for blocking <= {target} (blocking {:.6})",
            traffic::erlang_b(traffic, n)
        );
        printed = true;
    }
    if let (Some(n), Some(h)) = (agents, handle) {
        let c = traffic::erlang_c(traffic, n);
        let wait = traffic::mean_wait(traffic, n, h)
            .map_or("unbounded (load >= agents)".to_string(), |w| {
                format!("{:.3} s", w.as_secs_f64())
            });
        let sl = answer.map(|t| traffic::service_level(traffic, n, h, t));
        println!(
            "Erlang C: {traffic} Erl on {n} agents (handle {:?}): P(wait) {c:.6}, mean wait {wait}{}",
            h,
            match (sl, answer) {
                (Some(sl), Some(t)) => format!(", answered within {t:?}: {:.4} %", sl * 100.0),
                _ => String::new(),
            }
        );
        printed = true;
    }
    if let (Some(target), Some(h), Some(t)) = (level, handle, answer) {
        let n = traffic::agents_for_service_level(traffic, h, t, target).map_err(bad)?;
        println!(
            "Erlang C: {traffic} Erl needs {n} agents to answer {:.1} % within {t:?} (handle {h:?})",
            target * 100.0
        );
        printed = true;
    }
    if !printed {
        return Err(CliError::InvalidConfig(
            "erlang: give --trunks, --blocking, --agents with --handle, or --level with --handle \
             and --answer"
                .into(),
        ));
    }
    Ok(0)
}

/// `callcert score REF DEG`: one P.862 score on the command line.
fn score_command(
    reference: &std::path::Path,
    degraded: &std::path::Path,
    wideband: bool,
    json: bool,
) -> Result<i32, CliError> {
    use crate::quality::{self, Band};
    let (band, rate) = if wideband {
        (Band::Wide, 16000)
    } else {
        (Band::Narrow, 8000)
    };
    let load = |p: &std::path::Path| {
        quality::read_wav_at(p, rate).map_err(|e| CliError::InvalidConfig(e.to_string()))
    };
    let (r, d) = (load(reference)?, load(degraded)?);
    // A recording much longer than the reference (a call) is searched for the reference.
    let long = d.samples.len() > r.samples.len() + r.samples.len() / 5;
    let (score, offset_ms) = if long {
        let s = quality::score_received(&r.samples, &d.samples, rate, band)
            .map_err(|e| CliError::InvalidConfig(e.to_string()))?;
        (s.score, Some(s.alignment.offset_ms()))
    } else {
        let s = quality::score(&r.samples, &d.samples, rate, band)
            .map_err(|e| CliError::InvalidConfig(e.to_string()))?;
        (s, None)
    };
    if json {
        let v = serde_json::json!({
            "reference": reference.display().to_string(),
            "degraded": degraded.display().to_string(),
            "band": score.band,
            "raw": score.raw,
            "mos_lqo": score.mos_lqo,
            "reference_offset_ms": offset_ms,
        });
        println!("{v}");
    } else {
        let raw = score
            .raw
            .map_or(String::new(), |r| format!("P.862 raw {r:.3}  "));
        let at = offset_ms.map_or(String::new(), |o| {
            format!("  (reference found at {o:.2} ms)")
        });
        println!("{raw}MOS-LQO {:.3}{at}", score.mos_lqo);
    }
    Ok(0)
}
