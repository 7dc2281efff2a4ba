//! Traffic engineering: Erlang B and C, their inverses.
//!
//! Pure functions (no IO, no clock) used to size trunk groups and agent pools for a load run
//! and to check measured blocking or service level against what the offered load predicts.

pub mod erlang;

pub use erlang::{
    agents_for_service_level, erlang_b, erlang_c, mean_wait, service_level, traffic_for_blocking,
    trunks_for_blocking, TrafficError,
};
