//! Why an impairment configuration was refused.

use crate::scenario::DurationError;
use std::time::Duration;
use thiserror::Error;

/// An invalid impairment configuration; the message starts with the field at fault.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ImpairError {
    /// A probability outside `[0, 1]` (or not a number).
    #[error("{field}: {value} is not a probability (0 to 1, or 0% to 100%)")]
    Probability {
        /// The field, as the configuration or the compact form names it.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A jitter correlation outside `[0, 1)`.
    #[error("jitter.correlation: {value} is outside [0, 1) (0 = independent delays)")]
    Correlation {
        /// The value given.
        value: f64,
    },
    /// A mean burst length below one packet.
    #[error("burst: {value} is not a mean burst length (at least 1 packet)")]
    Burst {
        /// The value given.
        value: f64,
    },
    /// A loss rate that no simple Gilbert chain reaches with this burst length.
    #[error(
        "burst: a loss rate of {rate} with mean bursts of {burst} packets needs p > 1 \
         (lower the loss or lengthen the bursts)"
    )]
    Unreachable {
        /// The loss rate asked for.
        rate: f64,
        /// The mean burst length asked for.
        burst: f64,
    },
    /// Reordering asked for with neither delay nor jitter, so nothing to overtake (netem
    /// refuses it too).
    #[error("reorder: needs a delay or jitter (a packet sent at once overtakes delayed ones)")]
    ReorderWithoutDelay,
    /// A queue limit of zero packets.
    #[error("limit: must be at least 1 packet")]
    ZeroLimit,
    /// A delay (with jitter at its cut-off) longer than a day.
    #[error("delay: {delay:?} with jitter is longer than the 24 h accepted")]
    TooLong {
        /// Delay plus four times the jitter.
        delay: Duration,
    },
    /// A preset name that does not exist.
    #[error("unknown impairment preset {name:?} (known: good, poor, bad)")]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// A key of the compact form that does not exist.
    #[error(
        "unknown impairment field {key:?} (known: delay, jitter, dist, corr, loss, burst, \
         gemodel, reorder, dup, order, limit, seed)"
    )]
    UnknownField {
        /// The key given.
        key: String,
    },
    /// A key of the compact form given twice.
    #[error("{key}: given twice")]
    Repeated {
        /// The key.
        key: String,
    },
    /// An item of the compact form that is not `key=value` (nor a preset name in front).
    #[error("{item:?}: expected key=value (e.g. loss=1%) or a preset name first")]
    NotKeyValue {
        /// The item.
        item: String,
    },
    /// A value of the compact form that does not parse.
    #[error("{key}: {value:?} is not {expected}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What the key takes.
        expected: &'static str,
    },
    /// A duration of the compact form that does not parse.
    #[error("{key}: {source}")]
    Duration {
        /// The key.
        key: &'static str,
        /// Why.
        source: DurationError,
    },
    /// Two keys of the compact form that cannot go together.
    #[error("{key}: cannot be combined with {other}")]
    Conflict {
        /// The key found second.
        key: &'static str,
        /// The key it conflicts with.
        other: &'static str,
    },
}
