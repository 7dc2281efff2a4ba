//! The monitor's driver: the wall clock, the calls (one engine run per scheduled call), the
//! OPTIONS pings, the alert thread and the `/metrics` endpoint around a [`MonitorCore`].

use super::alert::{AlertConfig, Alerter};
use super::core::{outcome_of, CoreConfig, MonitorCore, MonitorError, Startup};
use super::prom::{render, MetricsServer};
use super::store::Store;
use super::PingRecord;
use crate::engine::record::CallRecord;
use crate::engine::{self, Preflight, RunPlan, StopHandle, StopRequest};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Everything `callcert monitor` runs with.
pub struct MonitorPlan {
    /// The monitor's logic settings.
    pub core: CoreConfig,
    /// One run plan per scenario (rotated), each placing one call.
    pub plans: Vec<RunPlan>,
    /// The store's folder.
    pub store_dir: PathBuf,
    /// OPTIONS pings at this interval (`None`: no pings; reachability from the calls).
    pub ping_every: Option<Duration>,
    /// Alerts.
    pub alerts: AlertConfig,
    /// `/metrics` listen address (`None`: no endpoint).
    pub metrics_listen: Option<SocketAddr>,
    /// Stop after placing this many calls (and letting them end).
    pub max_calls: Option<u64>,
    /// Stop launching after this long (and let the calls in progress end).
    pub duration: Option<Duration>,
    /// After SIGINT/SIGTERM, how long calls in progress may go on before they are hung up.
    pub drain: Duration,
}

/// What a monitor session did.
#[derive(Debug)]
pub struct MonitorSummary {
    /// What the store said at start.
    pub startup: Startup,
    /// Calls placed in this session.
    pub placed: u64,
    /// Calls that ended with a record.
    pub ended: u64,
    /// Calls cut by the stop (stored as interrupted).
    pub interrupted: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Alerts still undelivered at exit.
    pub alerts_undelivered: usize,
    /// Records the store refused until the end, as JSON lines (the CLI prints them).
    pub unstored: Vec<String>,
    /// The rolling verdict at exit (`PASS`, `FAIL`, …).
    pub overall: String,
    /// Where `/metrics` was served.
    pub metrics_addr: Option<SocketAddr>,
}

enum Event {
    Ended(u64, Result<Option<Box<CallRecord>>, String>),
    Ping(PingRecord),
    Delivered(i64, u32, Option<String>, bool),
}

#[allow(clippy::disallowed_methods)] // the driver owns the clock
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[allow(clippy::disallowed_methods)] // the driver owns the clock
fn instant_at(unix_s: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64((unix_s - unix_now()).max(0.0))
}

/// Opens the store (every check that can fail fails here, before any call).
pub fn open_store(dir: &std::path::Path) -> Result<Store, MonitorError> {
    Ok(Store::open(dir)?)
}

/// Runs the monitor until `stop` (SIGINT/SIGTERM), `max_calls` or `duration`. `say` gets one
/// line per event worth a log line.
pub async fn run_monitor(
    plan: MonitorPlan,
    store: Store,
    stop: StopHandle,
    mut say: impl FnMut(String),
) -> Result<MonitorSummary, MonitorError> {
    let (mut core, startup) = MonitorCore::open(plan.core.clone(), store, unix_now())?;
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let alerter = {
        let tx = ev_tx.clone();
        Alerter::start(plan.alerts.clone(), move |alert, d| {
            let _ = tx.send(Event::Delivered(
                alert.id,
                d.attempts,
                d.error.clone(),
                d.ok,
            ));
        })
    };
    let metrics = match plan.metrics_listen {
        Some(addr) => Some(
            MetricsServer::bind(addr)
                .await
                .map_err(|e| MonitorError::Listen {
                    addr,
                    reason: e.to_string(),
                })?,
        ),
        None => None,
    };
    let metrics_addr = metrics.as_ref().map(|m| m.local_addr());
    let pinger = match plan.ping_every {
        Some(every) => {
            let mut pinger =
                engine::Pinger::bind(&plan.plans[0])
                    .await
                    .map_err(|e| MonitorError::Listen {
                        addr: plan.plans[0].local,
                        reason: e.to_string(),
                    })?;
            let tx = ev_tx.clone();
            Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let at_unix = unix_now();
                    let rec = match pinger.ping().await {
                        Preflight::Answered { code, rtt_ms } => PingRecord {
                            at_unix,
                            answered: true,
                            code: Some(code),
                            rtt_ms: Some(rtt_ms),
                            detail: None,
                        },
                        Preflight::NoAnswer { waited_ms } => PingRecord {
                            at_unix,
                            answered: false,
                            code: None,
                            rtt_ms: None,
                            detail: Some(format!("no answer within {waited_ms:.0} ms")),
                        },
                        Preflight::TransportError { detail } => PingRecord {
                            at_unix,
                            answered: false,
                            code: None,
                            rtt_ms: None,
                            detail: Some(detail),
                        },
                    };
                    if tx.send(Event::Ping(rec)).is_err() {
                        return;
                    }
                }
            }))
        }
        None => None,
    };
    let update_metrics = |core: &MonitorCore, undelivered: u64| {
        if let Some(m) = &metrics {
            let mut s = core.snapshot();
            s.alerts_undelivered = undelivered;
            m.update(render(&s));
        }
    };
    say(format!(
        "store: {} call(s) before this start; timetable {} ({}); interrupted at the last stop: {}; missed while down: {}",
        startup.stored_calls,
        startup.schedule,
        if startup.resumed { "resumed" } else { "new" },
        if startup.interrupted.is_empty() {
            "none".to_string()
        } else {
            startup
                .interrupted
                .iter()
                .map(|s| format!("slot {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        startup.missed
    ));
    if let Some(a) = metrics_addr {
        say(format!("metrics on http://{a}/metrics"));
    }
    let started = unix_now();
    let deadline = plan.duration.map(|d| instant_at(started + d.as_secs_f64()));
    let mut placed = 0u64;
    let mut ended = 0u64;
    let mut interrupted = 0u64;
    let mut alerts = 0u64;
    let mut undelivered = 0u64;
    let mut stopping = false;
    // The calls' own stop: asked for (hang up now) once the drain after a signal runs out, or
    // at a second signal. --max-calls and --duration let calls end by themselves.
    let calls_stop = StopHandle::default();
    let mut hang_up_at: Option<Instant> = None;
    let mut housekeeping = tokio::time::interval(Duration::from_secs(5));
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Alerts the previous process did not get delivered go out again first, in their order.
    if !plan.alerts.webhooks.is_empty() || plan.alerts.command.is_some() {
        let again = core.undelivered_alerts(unix_now());
        if !again.is_empty() {
            say(format!(
                "{} undelivered alert(s) from before: sending again",
                again.len()
            ));
        }
        for a in again {
            alerter.send(a);
        }
    }
    // The first evaluation shows the stored window at once (and its state on /metrics).
    for a in core.evaluate(unix_now(), true) {
        alerts += 1;
        say(format!("alert {}: {}", a.id, a.summary));
        alerter.send(a);
    }
    update_metrics(&core, undelivered);
    loop {
        if stopping && core.in_flight() == 0 {
            break;
        }
        if !stopping && plan.max_calls.is_some_and(|m| placed >= m) {
            stopping = true;
            say(format!(
                "placed {placed} calls: waiting for those in progress"
            ));
            continue;
        }
        let due = if stopping { None } else { core.next_call() };
        let wake = due.map(|(_, t, _)| instant_at(t));
        tokio::select! {
            _ = engine::timer::sleep_until(wake.unwrap_or_else(|| instant_at(unix_now() + 3600.0))), if due.is_some() => {
                let Some((slot, _, which)) = due else { continue };
                let now = unix_now();
                if let Err(e) = core.call_started(slot, now) {
                    say(format!("slot {slot} not placed: {e}"));
                    core.skip_due(now);
                    continue;
                }
                placed += 1;
                let mut p = plan.plans[which].clone();
                p.calls = 1;
                p.seed = plan.core.seed ^ slot.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                say(format!("placed slot={slot} scenario={}", p.name));
                let tx = ev_tx.clone();
                let stop = calls_stop.clone();
                tokio::spawn(async move {
                    let (obs_tx, mut obs_rx) = mpsc::unbounded_channel();
                    let res = engine::run_observed(p, None, stop, Some(obs_tx)).await;
                    let out = match res {
                        Ok(_) => Ok(obs_rx.try_recv().ok().map(Box::new)),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = tx.send(Event::Ended(slot, out));
                });
            }
            ev = ev_rx.recv() => {
                let Some(ev) = ev else { break };
                let now = unix_now();
                let raised = match ev {
                    Event::Ended(slot, Ok(Some(record))) => {
                        let cut = super::core::cut_short(&record);
                        let outcome = outcome_of(&record);
                        let detail = record.failure.as_ref().map(|f| f.detail.clone());
                        let a = core.call_ended(slot, *record, now);
                        if cut {
                            interrupted += 1;
                            say(format!("ended slot={slot} state=interrupted"));
                        } else {
                            ended += 1;
                            say(format!(
                                "ended slot={slot} state=done outcome={outcome}{}",
                                detail.map(|d| format!(" ({d})")).unwrap_or_default()
                            ));
                        }
                        a
                    }
                    Event::Ended(slot, Ok(None)) => {
                        interrupted += 1;
                        core.call_lost(slot, "the monitor stopped before the call was placed", now);
                        say(format!("ended slot={slot} state=interrupted (not placed)"));
                        Vec::new()
                    }
                    Event::Ended(slot, Err(e)) => {
                        interrupted += 1;
                        core.call_lost(slot, &format!("the call could not be run: {e}"), now);
                        say(format!("ended slot={slot} state=interrupted ({e})"));
                        Vec::new()
                    }
                    Event::Ping(p) => core.ping(p),
                    Event::Delivered(id, attempts, error, ok) => {
                        if !ok {
                            undelivered += 1;
                            say(format!(
                                "alert {id} not delivered after {attempts} attempt(s): {}",
                                error.as_deref().unwrap_or("failed")
                            ));
                        }
                        core.alert_delivered(id, attempts, error.as_deref());
                        Vec::new()
                    }
                };
                for a in raised {
                    alerts += 1;
                    say(format!("alert {}: {}", a.id, a.summary));
                    alerter.send(a);
                }
                update_metrics(&core, undelivered);
            }
            _ = housekeeping.tick() => {
                core.flush_pending();
                for a in core.evaluate(unix_now(), false) {
                    alerts += 1;
                    say(format!("alert {}: {}", a.id, a.summary));
                    alerter.send(a);
                }
                update_metrics(&core, undelivered);
            }
            r = stop.stopped(), if hang_up_at.is_none() => {
                stopping = true;
                let drain = if r == StopRequest::Now { Duration::ZERO } else { plan.drain };
                hang_up_at = Some(instant_at(unix_now() + drain.as_secs_f64()));
                say(format!(
                    "stopping: no new calls; {} in progress may end within {}, then are hung up",
                    core.in_flight(),
                    crate::scenario::duration::format_duration(drain)
                ));
            }
            _ = stop.reached(StopRequest::Now), if hang_up_at.is_some() && calls_stop.requested() != StopRequest::Now => {
                say("hanging up every call in progress".into());
                calls_stop.request(StopRequest::Now);
            }
            _ = engine::timer::sleep_until(hang_up_at.unwrap_or_else(|| instant_at(unix_now() + 3600.0))), if hang_up_at.is_some() && calls_stop.requested() != StopRequest::Now => {
                if core.in_flight() > 0 {
                    say(format!("drain over: hanging up {} call(s)", core.in_flight()));
                }
                calls_stop.request(StopRequest::Now);
            }
            _ = engine::timer::sleep_until(deadline.unwrap_or_else(|| instant_at(unix_now() + 3600.0))), if deadline.is_some() && !stopping => {
                stopping = true;
                say(format!("--duration reached: {} call(s) in progress end", core.in_flight()));
            }
        }
    }
    if let Some(p) = pinger {
        p.abort();
    }
    core.flush_pending();
    for a in core.evaluate(unix_now(), true) {
        alerts += 1;
        say(format!("alert {}: {}", a.id, a.summary));
        alerter.send(a);
    }
    let alerts_undelivered = alerter.shutdown(Duration::from_secs(5));
    // Deliveries reported while shutting down.
    while let Ok(Event::Delivered(id, attempts, error, _)) = ev_rx.try_recv() {
        core.alert_delivered(id, attempts, error.as_deref());
    }
    core.flush_pending();
    let overall = core
        .last_evaluation()
        .map(|w| crate::report::files::status_word(w.evaluation.status).to_string())
        .unwrap_or_default();
    Ok(MonitorSummary {
        startup,
        placed,
        ended,
        interrupted,
        alerts,
        alerts_undelivered,
        unstored: core.pending_json(),
        overall,
        metrics_addr,
    })
}
