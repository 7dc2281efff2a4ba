//! Traffic engineering: Erlang B and C, their inverses, and the offered-load model of a run
//! (profiles, Poisson arrivals, loss simulation on a virtual clock).
//!
//! Pure functions (no IO, no clock) used to size trunk groups and agent pools for a load run
//! and to check measured blocking or service level against what the offered load predicts.

pub mod arrivals;
pub mod erlang;
pub mod load;

pub use arrivals::{simulate_loss, wilson_interval, Arrival, Arrivals, LossSimulation, PhaseLoss};
pub use erlang::{
    agents_for_service_level, erlang_b, erlang_c, mean_wait, service_level, traffic_for_blocking,
    trunks_for_blocking, TrafficError,
};
pub use load::{Holding, OfferedLoad, Phase, Profile, TrafficModelError};
