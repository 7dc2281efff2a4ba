//! Mystery-call monitoring (`callcert monitor`): calls placed on a schedule for days, every
//! record kept in a durable store, a rolling verdict against `yd2823-operational`, availability
//! from OPTIONS pings, alerts on a change of state, and Prometheus metrics.
//!
//! - [`store`]: the SQLite store (WAL), one row per scheduled call, written when it starts and
//!   when it ends, so a restart after `kill -9` finds every call and marks the one cut short.
//! - [`schedule`]: when each call is due (every N minutes with jitter, N per hour, daily
//!   windows), deterministic from the store's anchor and seed so a restart continues it.
//! - [`window`]: the rolling window's verdict, its hourly breakdown, the busy/idle comparison
//!   (OPS-BUSY-IDLE-PARITY) and availability (SYS-AVAILABILITY).
//! - [`alert`]: webhook and command alerts, delivered off the call path with retries.
//! - [`prom`]: the Prometheus text exposition and its HTTP endpoint.

pub mod alert;
pub mod command;
pub mod core;
pub mod driver;
pub mod prom;
pub mod report;
pub mod schedule;
pub mod store;
pub mod window;

use crate::engine::record::CallRecord;
use serde::{Deserialize, Serialize};

/// Where a scheduled call stands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Placed, not ended yet (or the monitor died before it ended: see `Interrupted`).
    InProgress,
    /// Ended; its record is stored.
    Done,
    /// The monitor stopped (killed, or shut down) while the call was in progress: no record, or
    /// a record the shutdown cut short. Not a verdict on the call center.
    Interrupted,
}

impl CallState {
    /// The word stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::InProgress => "in_progress",
            CallState::Done => "done",
            CallState::Interrupted => "interrupted",
        }
    }

    /// The state a stored word names.
    pub fn parse(s: &str) -> Option<CallState> {
        match s {
            "in_progress" => Some(CallState::InProgress),
            "done" => Some(CallState::Done),
            "interrupted" => Some(CallState::Interrupted),
            _ => None,
        }
    }
}

/// One scheduled call as the store holds it. Times are Unix seconds (wall clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCall {
    /// The schedule's slot number: unique, so a call is never stored twice.
    pub slot: u64,
    /// The scenario (menu path) the call walked: its `name`.
    pub scenario: String,
    /// When the schedule had it due.
    pub scheduled_unix: f64,
    /// When it was placed.
    pub started_unix: f64,
    /// When it ended (`None` while in progress, or when the monitor died during it).
    pub ended_unix: Option<f64>,
    /// Where it stands.
    pub state: CallState,
    /// Its record, once ended (times inside are ms since `started_unix`).
    pub record: Option<CallRecord>,
}

/// One OPTIONS ping (SYS-AVAILABILITY).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingRecord {
    /// When it was sent, Unix seconds.
    pub at_unix: f64,
    /// A final response came back (any code: the target is there).
    pub answered: bool,
    /// That response's code.
    pub code: Option<u16>,
    /// Its round-trip time, ms.
    pub rtt_ms: Option<f64>,
    /// Why not, when not answered (timeout, transport error).
    pub detail: Option<String>,
}
