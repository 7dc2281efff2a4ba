//! The monitor's logic without its clock or sockets: which call is due next, what to store when
//! a call starts and ends, the rolling verdict, and which changes of state are alerts.
//!
//! The driver (`driver.rs`) feeds it the wall clock and the calls' records; a test feeds it a
//! simulated day in a fraction of a second. Everything durable goes through the [`Store`]: the
//! timetable's anchor, the last alerted state of each threshold and of the target, every call
//! and every ping. A restart after `kill -9` therefore continues the same timetable and does not
//! repeat alerts it already sent.

use super::alert::{Alert, AlertKind};
use super::prom::{MonitorSnapshot, ThresholdState};
use super::schedule::{Cadence, Schedule};
use super::store::{Store, StoreError};
use super::window::{evaluate_window, WindowConfig, WindowResult};
use super::{CallState, PingRecord, StoredCall};
use crate::engine::record::{CallRecord, FailureKind};
use crate::scenario::daytime::DailyWindow;
use crate::verdict::{Status, Threshold};
use std::collections::{BTreeMap, VecDeque};

/// What the monitor is set to do (the command line, resolved).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// A name for alerts and reports.
    pub name: String,
    /// The target's SIP URI, as text.
    pub target: String,
    /// The scenarios' names, in rotation order (slot `k` walks scenario `k mod n`).
    pub scenarios: Vec<String>,
    /// How often calls are placed.
    pub cadence: Cadence,
    /// Daily windows (local time); empty: all day.
    pub windows: Vec<DailyWindow>,
    /// Seed of the timetable's random offsets (and of each call's draws).
    pub seed: u64,
    /// The rolling window.
    pub window: WindowConfig,
    /// Thresholds judged over the window.
    pub thresholds: Vec<Threshold>,
    /// Consecutive unanswered probes after which the target is unreachable.
    pub down_after: u32,
    /// No OPTIONS pings: each call is the probe (any SIP response from the target answers it;
    /// none at all, a timeout or a transport error, does not).
    pub calls_probe: bool,
    /// Shortest time between two evaluations of the window (they follow each call's end).
    pub evaluate_every: f64,
}

/// What the store said at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Startup {
    /// Calls that were in progress when the previous process stopped: now `interrupted`.
    pub interrupted: Vec<u64>,
    /// Slots that fell due while no monitor was running (not placed).
    pub missed: u64,
    /// The stored timetable goes on (false: a new store, or the schedule changed).
    pub resumed: bool,
    /// Calls in the store before this start.
    pub stored_calls: u64,
    /// The timetable, as text.
    pub schedule: String,
}

/// Why the monitor cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A socket the monitor needs (`/metrics`, the pings) could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        reason: String,
    },
    /// A stored value is not what this version wrote.
    #[error("store {path}: meta `{key}` = {value:?} is not valid; move the store away to start a new one")]
    Meta {
        /// The store's file.
        path: String,
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
}

/// The monitor's state between events.
pub struct MonitorCore {
    cfg: CoreConfig,
    store: Store,
    schedule: Schedule,
    next: Option<(u64, f64)>,
    /// Calls placed and not ended: slot → (scenario, scheduled, started).
    in_flight: BTreeMap<u64, (String, f64, f64)>,
    /// The window's calls and pings (loaded at start, then kept up to date).
    calls: VecDeque<StoredCall>,
    pings: VecDeque<PingRecord>,
    /// Ended calls the store refused (the disk filled): kept and written again.
    pending: Vec<StoredCall>,
    /// Last alerted state of each threshold (`PASS` or `FAIL`), by SPEC id and metric.
    alerted: BTreeMap<String, String>,
    /// Whether the target answers (None until known), and unanswered pings in a row.
    target_up: Option<bool>,
    unanswered: u32,
    last_eval: Option<(f64, WindowResult)>,
    outcomes: BTreeMap<String, u64>,
    store_errors: u64,
    started_unix: f64,
    last_call_unix: Option<f64>,
}

/// Meta keys.
const META_SCHEDULE: &str = "schedule";
const META_ANCHOR: &str = "anchor_unix";
const META_FIRST_SLOT: &str = "first_slot";
const META_ALERTED: &str = "alerted";
const META_TARGET_UP: &str = "target_up";
const META_MISSED: &str = "missed_slots";

/// The first call of a new timetable is due this long after the start.
const FIRST_CALL_AFTER_S: f64 = 1.0;

fn threshold_key(t: &Threshold) -> String {
    format!("{}/{}", t.spec_id.as_deref().unwrap_or("-"), t.metric)
}

/// `success`, or the failure's kind (`no_prompt`, `sip_error`, …), for counts by outcome.
pub fn outcome_of(r: &CallRecord) -> String {
    match &r.failure {
        None => "success".into(),
        Some(f) => serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "failed".into()),
    }
}

/// Whether a record says the call was cut by the monitor's own stop rather than ended.
pub fn cut_short(r: &CallRecord) -> bool {
    r.cut_by_end || r.failure.as_ref().map(|f| f.kind) == Some(FailureKind::Interrupted)
}

impl MonitorCore {
    /// Opens the monitor on `store` at `now_unix`: marks calls left in progress as interrupted
    /// and finds the timetable (the stored one when the schedule is the same).
    pub fn open(
        cfg: CoreConfig,
        mut store: Store,
        now_unix: f64,
    ) -> Result<(MonitorCore, Startup), MonitorError> {
        let interrupted = store.recover(now_unix)?;
        let last = store.last_slot()?;
        let stored_calls = store.count_calls()?.total;
        let mut schedule = Schedule {
            cadence: cfg.cadence,
            windows: cfg.windows.clone(),
            utc_offset_s: cfg.window.utc_offset_s,
            anchor_unix: 0.0,
            first_slot: 0,
            seed: cfg.seed,
        };
        let fingerprint = schedule.fingerprint();
        let path = store.path().display().to_string();
        let meta_f64 = |store: &Store, key: &str| -> Result<Option<f64>, MonitorError> {
            match store.meta(key)? {
                None => Ok(None),
                Some(v) => v.parse::<f64>().map(Some).map_err(|_| MonitorError::Meta {
                    path: path.clone(),
                    key: key.into(),
                    value: v,
                }),
            }
        };
        let resumed = store.meta(META_SCHEDULE)?.as_deref() == Some(fingerprint.as_str());
        let (anchor, first_slot) = match (
            resumed,
            meta_f64(&store, META_ANCHOR)?,
            meta_f64(&store, META_FIRST_SLOT)?,
        ) {
            (true, Some(a), Some(f)) => (a, f as u64),
            _ => {
                let first = last.map_or(0, |l| l + 1);
                let anchor = now_unix + FIRST_CALL_AFTER_S;
                store.set_meta(META_SCHEDULE, &fingerprint)?;
                store.set_meta(META_ANCHOR, &format!("{anchor:.6}"))?;
                store.set_meta(META_FIRST_SLOT, &first.to_string())?;
                (anchor, first)
            }
        };
        let resumed = resumed && last.is_some();
        schedule.anchor_unix = anchor;
        schedule.first_slot = first_slot;
        let from = last.map_or(first_slot, |l| l + 1).max(first_slot);
        let next = schedule.next_slot(from, now_unix);
        let missed = match (resumed, next) {
            (true, Some((k, _))) => schedule.due_between(from, k),
            _ => 0,
        };
        if missed > 0 {
            let before = meta_f64(&store, META_MISSED)?.unwrap_or(0.0) as u64;
            store.set_meta(META_MISSED, &(before + missed).to_string())?;
        }
        let alerted: BTreeMap<String, String> = store
            .meta(META_ALERTED)?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        let target_up = store.meta(META_TARGET_UP)?.map(|v| v == "up");
        let from_unix = now_unix - cfg.window.length.as_secs_f64();
        let calls: VecDeque<StoredCall> = store.calls_since(from_unix)?.into();
        let pings: VecDeque<PingRecord> = store.pings_since(from_unix)?.into();
        let startup = Startup {
            interrupted,
            missed,
            resumed,
            stored_calls,
            schedule: format!(
                "{}{}",
                cfg.cadence,
                if cfg.windows.is_empty() {
                    String::new()
                } else {
                    let w: Vec<String> = cfg.windows.iter().map(|w| w.to_string()).collect();
                    format!(" in {}", w.join(", "))
                }
            ),
        };
        Ok((
            MonitorCore {
                cfg,
                store,
                schedule,
                next,
                in_flight: BTreeMap::new(),
                calls,
                pings,
                pending: Vec::new(),
                alerted,
                target_up,
                unanswered: 0,
                last_eval: None,
                outcomes: BTreeMap::new(),
                store_errors: 0,
                started_unix: now_unix,
                last_call_unix: None,
            },
            startup,
        ))
    }

    /// The next call: its slot, when it is due (Unix s), and the scenario (index) it walks.
    pub fn next_call(&self) -> Option<(u64, f64, usize)> {
        let n = self.cfg.scenarios.len().max(1) as u64;
        self.next.map(|(k, t)| (k, t, (k % n) as usize))
    }

    /// The timetable.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Calls placed and not ended.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records that the due call (slot `slot`) was placed at `now_unix`, durably, before it
    /// starts; then moves on to the next slot. An error leaves the slot unplaced.
    pub fn call_started(&mut self, slot: u64, now_unix: f64) -> Result<(), MonitorError> {
        let (scheduled, scenario) = match self.next_call() {
            Some((k, t, i)) if k == slot => (t, self.cfg.scenarios.get(i).cloned()),
            _ => (now_unix, None),
        };
        let scenario = scenario.unwrap_or_default();
        self.store
            .call_started(slot, &scenario, scheduled, now_unix)?;
        self.in_flight.insert(slot, (scenario, scheduled, now_unix));
        self.next = self.schedule.next_slot(slot + 1, now_unix);
        Ok(())
    }

    /// Skips the due slot without placing it (e.g. a store error at its start): the next one
    /// is due instead.
    pub fn skip_due(&mut self, now_unix: f64) {
        if let Some((k, _)) = self.next {
            self.next = self.schedule.next_slot(k + 1, now_unix);
        }
    }

    /// A call ended with `record`: store it (or keep it to store again if the disk refuses),
    /// then judge the window; returns the alerts to send.
    pub fn call_ended(&mut self, slot: u64, record: CallRecord, now_unix: f64) -> Vec<Alert> {
        let state = if cut_short(&record) {
            CallState::Interrupted
        } else {
            CallState::Done
        };
        self.last_call_unix = Some(now_unix);
        let mut alerts = Vec::new();
        if self.cfg.calls_probe && state == CallState::Done {
            let answered = record.first_100_ms.is_some()
                || record.first_18x_ms.is_some()
                || record.final_code.is_some();
            let detail = record.failure.as_ref().map(|f| f.detail.clone());
            alerts = self.reachability(answered, now_unix, detail.as_deref(), "calls");
        }
        self.store_ended(slot, state, record, now_unix);
        alerts.extend(self.evaluate(now_unix, false));
        alerts
    }

    /// A call ended without a record (its run failed before placing it, or the stop came
    /// first): stored as interrupted.
    pub fn call_lost(&mut self, slot: u64, why: &str, now_unix: f64) {
        self.store_ended(
            slot,
            CallState::Interrupted,
            interrupted_record(slot, why),
            now_unix,
        );
    }

    /// Counts a call that ended, stores it (or keeps it to store again) and adds it to the
    /// window.
    fn store_ended(&mut self, slot: u64, state: CallState, record: CallRecord, now_unix: f64) {
        let outcome = match state {
            CallState::Done => outcome_of(&record),
            _ => "interrupted".to_string(),
        };
        *self.outcomes.entry(outcome).or_default() += 1;
        let (scenario, scheduled_unix, started_unix) = self
            .in_flight
            .remove(&slot)
            .unwrap_or_else(|| (String::new(), now_unix, now_unix));
        let call = StoredCall {
            slot,
            scenario,
            scheduled_unix,
            started_unix,
            ended_unix: Some(now_unix),
            state,
            record: Some(record),
        };
        self.write_pending_then(call.clone());
        self.calls.push_back(call);
    }

    fn write_pending_then(&mut self, p: StoredCall) {
        self.pending.push(p);
        self.flush_pending();
    }

    /// Writes the records the store refused before; true when none is left.
    pub fn flush_pending(&mut self) -> bool {
        while let Some(p) = self.pending.first() {
            match self.store.call_ended(p) {
                Ok(()) => {
                    self.pending.remove(0);
                }
                Err(e) => {
                    self.store_errors += 1;
                    tracing::error!("store: call {} not written yet: {e}", p.slot);
                    return false;
                }
            }
        }
        true
    }

    /// The records still waiting for the store, as JSON lines (written to stderr at exit when
    /// the store never took them, so nothing is lost silently).
    pub fn pending_json(&self) -> Vec<String> {
        self.pending
            .iter()
            .filter_map(|p| serde_json::to_string(p).ok())
            .collect()
    }

    /// An OPTIONS ping's answer: stored, and the target's reachability updated; returns the
    /// alert when it changed.
    pub fn ping(&mut self, p: PingRecord) -> Vec<Alert> {
        if let Err(e) = self.store.record_ping(&p) {
            self.store_errors += 1;
            tracing::error!("store: ping not written: {e}");
        }
        let (at, answered, detail) = (p.at_unix, p.answered, p.detail.clone());
        self.pings.push_back(p);
        self.reachability(answered, at, detail.as_deref(), "OPTIONS pings")
    }

    /// One probe of the target (a ping, or a call when pings are off): after `down_after`
    /// unanswered in a row it is unreachable, at the next answer reachable again; returns the
    /// alert when that changed.
    fn reachability(
        &mut self,
        answered: bool,
        at: f64,
        detail: Option<&str>,
        probes: &str,
    ) -> Vec<Alert> {
        self.unanswered = if answered { 0 } else { self.unanswered + 1 };
        let now_up = if answered {
            Some(true)
        } else if self.unanswered >= self.cfg.down_after.max(1) {
            Some(false)
        } else {
            self.target_up
        };
        let mut alerts = Vec::new();
        if now_up != self.target_up {
            let was = self.target_up;
            self.target_up = now_up;
            let _ = self.store.set_meta(
                META_TARGET_UP,
                if now_up == Some(true) { "up" } else { "down" },
            );
            // The first answer of a fresh store is no news; a target down from the start is.
            if !(was.is_none() && now_up == Some(true)) {
                let (kind, summary) = if now_up == Some(true) {
                    (
                        AlertKind::Reachable,
                        format!("{} answers again ({probes})", self.cfg.target),
                    )
                } else {
                    (
                        AlertKind::Unreachable,
                        format!(
                            "{} unreachable: {} {probes} unanswered ({})",
                            self.cfg.target,
                            self.unanswered,
                            detail.unwrap_or("no answer")
                        ),
                    )
                };
                let from = was.map(|u| if u { "up" } else { "down" }.to_string());
                let to = Some(if now_up == Some(true) { "up" } else { "down" }.to_string());
                alerts.push(self.alert(
                    kind,
                    at,
                    None,
                    from,
                    to,
                    summary,
                    serde_json::json!({
                        "unanswered": self.unanswered,
                        "probes": probes,
                    }),
                ));
            }
        }
        alerts
    }

    /// Judges the window ending at `now_unix` (at most once per `evaluate_every` unless
    /// `force`), and returns the alerts for thresholds whose state changed.
    pub fn evaluate(&mut self, now_unix: f64, force: bool) -> Vec<Alert> {
        if let Some((at, _)) = &self.last_eval {
            if !force && now_unix - at < self.cfg.evaluate_every {
                return Vec::new();
            }
        }
        let from = now_unix - self.cfg.window.length.as_secs_f64();
        while self.calls.front().is_some_and(|c| c.started_unix <= from) {
            self.calls.pop_front();
        }
        while self.pings.front().is_some_and(|p| p.at_unix <= from) {
            self.pings.pop_front();
        }
        let result = evaluate_window(
            self.calls.make_contiguous(),
            self.pings.make_contiguous(),
            now_unix,
            &self.cfg.window,
            &self.cfg.thresholds,
        );
        let mut alerts = Vec::new();
        let mut changed = false;
        for v in &result.evaluation.verdicts {
            let key = threshold_key(&v.threshold);
            let last = self.alerted.get(&key).cloned();
            let kind = match (v.status, last.as_deref()) {
                (Status::Fail, Some("FAIL")) => None,
                (Status::Fail, _) => Some(AlertKind::VerdictFail),
                (Status::Pass, Some("FAIL")) => Some(AlertKind::VerdictPass),
                (Status::Pass, None) => {
                    // First decided state: remembered, not news.
                    self.alerted.insert(key.clone(), "PASS".into());
                    changed = true;
                    None
                }
                _ => None,
            };
            let Some(kind) = kind else { continue };
            let word = crate::report::files::status_word(v.status);
            let from = last;
            let summary = format!(
                "{} {} over the last {}: {}{}",
                v.threshold
                    .spec_id
                    .as_deref()
                    .unwrap_or(&v.threshold.metric),
                word,
                crate::scenario::duration::format_duration(self.cfg.window.length),
                v.threshold.expr,
                v.measured
                    .map(|m| format!(" (measured {m:.1} {}, {} samples)", v.unit, v.samples))
                    .unwrap_or_default(),
            );
            alerts.push(self.alert(
                kind,
                now_unix,
                Some(&v.threshold),
                from,
                Some(word.to_string()),
                summary,
                serde_json::json!({
                    "measured": v.measured, "unit": v.unit, "interval": v.interval,
                    "samples": v.samples, "detail": v.detail,
                    "window_from_unix": result.from_unix, "window_to_unix": result.to_unix,
                }),
            ));
            self.alerted.insert(key, word.to_string());
            changed = true;
        }
        if changed {
            if let Ok(v) = serde_json::to_string(&self.alerted) {
                if let Err(e) = self.store.set_meta(META_ALERTED, &v) {
                    self.store_errors += 1;
                    tracing::error!("store: alert state not written: {e}");
                }
            }
        }
        self.last_eval = Some((now_unix, result));
        alerts
    }

    /// The last evaluation of the window.
    pub fn last_evaluation(&self) -> Option<&WindowResult> {
        self.last_eval.as_ref().map(|(_, r)| r)
    }

    #[allow(clippy::too_many_arguments)]
    fn alert(
        &mut self,
        kind: AlertKind,
        at_unix: f64,
        threshold: Option<&Threshold>,
        from: Option<String>,
        to: Option<String>,
        summary: String,
        details: serde_json::Value,
    ) -> Alert {
        let mut alert = Alert {
            id: 0,
            kind,
            at: super::alert::rfc3339_utc(at_unix),
            at_unix,
            monitor: self.cfg.name.clone(),
            target: self.cfg.target.clone(),
            spec_id: threshold.and_then(|t| t.spec_id.clone()),
            metric: threshold.map(|t| t.metric.clone()),
            from,
            to,
            summary,
            details,
        };
        match serde_json::to_value(&alert)
            .map_err(|e| e.to_string())
            .and_then(|body| {
                self.store
                    .record_alert(at_unix, kind_word(kind), &body)
                    .map_err(|e| e.to_string())
            }) {
            Ok(id) => alert.id = id,
            Err(e) => {
                self.store_errors += 1;
                tracing::error!("store: alert not written: {e}");
            }
        }
        alert
    }

    /// Alerts of the window not delivered yet (the previous process died or gave up before
    /// delivering them): sent again after a restart, under their stored ids.
    pub fn undelivered_alerts(&self, now_unix: f64) -> Vec<Alert> {
        let from = now_unix - self.cfg.window.length.as_secs_f64();
        match self.store.alerts_pending() {
            Ok(stored) => stored
                .into_iter()
                .filter(|a| a.at_unix > from)
                .filter_map(|a| {
                    let mut alert: Alert = serde_json::from_value(a.body).ok()?;
                    alert.id = a.id;
                    Some(alert)
                })
                .collect(),
            Err(e) => {
                tracing::error!("store: undelivered alerts not read: {e}");
                Vec::new()
            }
        }
    }

    /// Stores how an alert's delivery went.
    pub fn alert_delivered(&mut self, id: i64, attempts: u32, error: Option<&str>) {
        if id > 0 {
            if let Err(e) = self.store.alert_delivered(id, attempts, error) {
                self.store_errors += 1;
                tracing::error!("store: alert delivery not written: {e}");
            }
        }
    }

    /// Whether the target answers (None: not known yet).
    pub fn target_up(&self) -> Option<bool> {
        self.target_up
    }

    /// What `/metrics` shows.
    pub fn snapshot(&self) -> MonitorSnapshot {
        let mut s = MonitorSnapshot {
            calls: self.outcomes.clone(),
            target_up: self.target_up,
            store_errors: self.store_errors,
            started_unix: self.started_unix,
            last_call_unix: self.last_call_unix,
            last_ping_rtt_ms: self.pings.back().and_then(|p| p.rtt_ms),
            ..MonitorSnapshot::default()
        };
        let Some((_, w)) = &self.last_eval else {
            return s;
        };
        s.window_calls = w.metrics.attempted;
        s.availability = w.availability.rate;
        s.outages_total = w.availability.outages.len() as u64;
        s.overall = crate::report::files::status_word(w.evaluation.status).to_string();
        for c in &self.calls {
            let Some(r) = c.record.as_ref().filter(|_| c.state == CallState::Done) else {
                continue;
            };
            let mut add = |name: &str, v: Option<f64>| {
                if let Some(v) = v {
                    s.response_ms.entry(name.to_string()).or_default().push(v);
                }
            };
            add("post_dial_delay", r.post_dial_delay_ms());
            add("setup_time", r.setup_time_ms());
            if let Some(ivr) = &r.ivr {
                for (name, xs) in [
                    ("dtmf_response", &ivr.dtmf_response_ms),
                    ("query_response", &ivr.query_response_ms),
                    ("agent_wait", &ivr.agent_wait_ms),
                ] {
                    for x in xs {
                        add(name, Some(*x));
                    }
                }
            }
        }
        s.verdicts = w
            .evaluation
            .verdicts
            .iter()
            .map(|v| ThresholdState {
                spec_id: v.threshold.spec_id.clone().unwrap_or_default(),
                metric: v.threshold.metric.clone(),
                status: crate::report::files::status_word(v.status).to_string(),
                measured: v.measured,
                limit: Some(v.threshold.expr.limit.millis()),
                unit: v.unit.to_string(),
            })
            .collect();
        s
    }
}

fn kind_word(k: AlertKind) -> &'static str {
    match k {
        AlertKind::VerdictFail => "verdict_fail",
        AlertKind::VerdictPass => "verdict_pass",
        AlertKind::Unreachable => "unreachable",
        AlertKind::Reachable => "reachable",
        AlertKind::Test => "test",
    }
}

/// The record of a call that never got one (the monitor stopped before the engine placed it).
fn interrupted_record(slot: u64, why: &str) -> CallRecord {
    CallRecord {
        failure: Some(crate::engine::record::Failure {
            kind: FailureKind::Interrupted,
            detail: why.to_string(),
        }),
        cut_by_end: true,
        ..CallRecord::blank(slot, String::new())
    }
}
