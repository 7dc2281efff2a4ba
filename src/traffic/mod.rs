//! Traffic engineering: Erlang B and C, their inverses, and the offered-load model of a run
//! (profiles, Poisson arrivals, loss simulation on a virtual clock).
//!
//! Pure functions (no IO, no clock) used to size trunk groups and agent pools for a load run
//! and to check measured blocking or agent waits against what the offered load predicts
//! ([`check`]).

pub mod arrivals;
pub mod check;
pub mod erlang;
pub mod load;

pub use arrivals::{simulate_loss, Arrival, Arrivals, LossSimulation, PhaseLoss};
pub use check::{
    erlang_b_check, erlang_c_check, AgentQueue, AgentQueueSamples, BatchMeans, BlockingSamples,
    ErlangBCheck, ErlangCCheck,
};
pub use erlang::{
    agents_for_service_level, erlang_b, erlang_c, mean_wait, service_level, traffic_for_blocking,
    trunks_for_blocking, TrafficError,
};
pub use load::{Holding, OfferedLoad, Phase, Profile, TrafficModelError};
