//! Network impairment: delay, jitter, loss (Bernoulli, Gilbert–Elliott), reordering and
//! duplication, seeded and IO-free; used in the harness's media path and by `callcert impair`.
//!
//! [`Impairment<T>`] is a sans-IO state machine for one direction of one path: `push(packet,
//! now)`, `poll(now)`, `poll_timeout()`. [`relay`] is the driver behind `callcert impair`, a
//! UDP relay that puts an impairment in front of any device.
//!
//! # Mapping to Linux netem
//!
//! The semantics follow netem (`tc qdisc add dev D root netem …`) so that a run through
//! [`Impairment`] and a run through the kernel are comparable. For one direction:
//!
//! | [`ImpairConfig`] | compact form | netem | notes |
//! |---|---|---|---|
//! | `delay` | `delay=100ms` | `delay 100ms` | |
//! | `jitter.amount` + `distribution: normal` | `jitter=20ms` | `delay 100ms 20ms distribution normal` | `J` is the standard deviation; cut at ±4 J (netem's table range) |
//! | `distribution: uniform` | `dist=uniform` | `delay 100ms 20ms` with no table | uniform in `[D − J, D + J)` |
//! | `distribution: pareto` | `dist=pareto` | `distribution pareto` | netem's table shape: shape 3, centred, ×4/3; `[D − 2J/3, D + 4J]` |
//! | `distribution: paretonormal` | `dist=paretonormal` | `distribution paretonormal` | ¼ normal + ¾ Pareto at one quantile |
//! | `jitter.correlation` | `corr=25%` | `delay D J 25%` | ours keeps the distribution (Gaussian AR(1) on normal scores); netem's mix narrows it |
//! | `loss: bernoulli` | `loss=1%` | `loss random 1%` | |
//! | `loss: gilbert_elliott` | `gemodel=p/r/1-h/1-k` | `loss gemodel p r 1-h 1-k` | same per-packet order: loss of the current state, then the transition |
//! | (from rate and burst) | `loss=5%,burst=3` | `loss gemodel p r` with `r = 1/burst`, `p = rate·r/(1−rate)` | |
//! | `reorder` | `reorder=5%` | `reorder 5%` (gap 1) | the packet leaves at once, ahead of the queue |
//! | `duplicate` | `dup=1%` | `duplicate 1%` | a loss takes one copy; a surviving copy meets the loss again |
//! | `order: time` | `order=time` | netem's time-sorted queue | jitter larger than the packet gap reorders |
//! | `order: keep` | `order=keep` | netem with `rate`, or a `pfifo` child | due time `max(own, previous)` |
//! | `limit` | `limit=1000` | `limit 1000` (netem's default) | ours: no limit unless given |
//! | `seed` | `seed=7` | `seed 7` (Linux ≥ 6.4) | the random streams differ from the kernel's |
//!
//! Not modelled: corruption, rate/slot (bandwidth), the 4-state loss model, ECN marking,
//! loss and duplication correlation (use Gilbert–Elliott for bursts).
//!
//! The ACC-PESQ presets ([`ImpairConfig::preset`]) read the SPEC's "J ms jitter" as netem's
//! `delay D J distribution normal`: the table QA labs load, with `J` a standard deviation.

pub mod config;
mod delay;
pub mod error;
mod impairment;
mod loss;
pub mod relay;
pub mod spec;

pub use config::{
    DeliveryOrder, GilbertElliott, ImpairConfig, Jitter, JitterDistribution, LossModel, PRESETS,
};
pub use error::ImpairError;
pub use impairment::{derive_seed, DelayStats, ImpairStats, Impairment, Spread};
