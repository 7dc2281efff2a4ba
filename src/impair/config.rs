//! What an impairment does: delay, jitter, loss, reordering, duplication, delivery order.
//!
//! Each field maps onto one option of Linux netem (`tc qdisc … netem`); the table is in the
//! module documentation of [`crate::impair`].

use super::error::ImpairError;
use crate::scenario::duration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One direction's network impairment (SPEC ACC-PESQ-GOOD/-POOR/-BAD conditions and more).
///
/// All probabilities are fractions in `[0, 1]`. The default is no impairment at all.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImpairConfig {
    /// Constant one-way delay added to every packet (netem `delay D`).
    #[serde(with = "duration")]
    pub delay: Duration,
    /// Random variation around `delay` (netem `delay D J [CORR] distribution X`).
    pub jitter: Jitter,
    /// Which packets are lost (netem `loss random P` or `loss gemodel p r 1-h 1-k`).
    pub loss: LossModel,
    /// Probability that a packet skips the delay and goes out at once, ahead of the packets
    /// already waiting (netem `reorder P`, whose `gap` defaults to 1).
    pub reorder: f64,
    /// Probability that a packet is sent twice (netem `duplicate P`); the copy meets its own
    /// loss and delay.
    pub duplicate: f64,
    /// Whether a packet may overtake an earlier one when their delays differ.
    pub order: DeliveryOrder,
    /// Most packets held at once; a packet offered to a full queue is dropped (netem
    /// `limit N`, 1000 there by default; `None` here: no limit).
    pub limit: Option<u32>,
    /// A seed pinned to this configuration: used instead of the seed given to
    /// [`super::Impairment::new`], so one direction can be replayed on its own.
    pub seed: Option<u64>,
}

/// The delay variation: amount, shape, and correlation between consecutive packets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Jitter {
    /// `J`: the standard deviation (normal), the half-width (uniform, `D ± J`) or the scale
    /// of the table (pareto, paretonormal), as netem reads its `JITTER` argument.
    #[serde(with = "duration")]
    pub amount: Duration,
    /// The shape of the variation.
    pub distribution: JitterDistribution,
    /// Correlation of consecutive packets' delays in `[0, 1)` (netem's `CORRELATION`, but
    /// distribution-preserving; see [`crate::impair`]).
    pub correlation: f64,
}

impl Default for Jitter {
    fn default() -> Self {
        Self {
            amount: Duration::ZERO,
            distribution: JitterDistribution::Normal,
            correlation: 0.0,
        }
    }
}

/// Shape of the jitter, after netem's distribution tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JitterDistribution {
    /// Normal with standard deviation `J`, cut at ±4 `J` (netem `distribution normal`,
    /// whose table holds ±4 standard deviations).
    Normal,
    /// Uniform in `[D − J, D + J)` (netem with no distribution table).
    Uniform,
    /// Pareto with shape 3, centred on its mean and scaled by 4/3 (netem
    /// `distribution pareto`): most packets a little early, a long tail of late ones, cut at
    /// `D + 4 J`.
    Pareto,
    /// A quarter normal plus three quarters Pareto at the same quantile (netem
    /// `distribution paretonormal`).
    #[serde(rename = "paretonormal")]
    ParetoNormal,
}

impl JitterDistribution {
    /// The name netem and the compact form use.
    pub fn name(self) -> &'static str {
        match self {
            JitterDistribution::Normal => "normal",
            JitterDistribution::Uniform => "uniform",
            JitterDistribution::Pareto => "pareto",
            JitterDistribution::ParetoNormal => "paretonormal",
        }
    }

    /// Every distribution, for messages.
    pub const ALL: [JitterDistribution; 4] = [
        JitterDistribution::Normal,
        JitterDistribution::Uniform,
        JitterDistribution::Pareto,
        JitterDistribution::ParetoNormal,
    ];
}

/// Which packets are lost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossModel {
    /// No loss.
    #[default]
    None,
    /// Each packet lost independently with probability `p` (netem `loss random P`).
    Bernoulli {
        /// Loss probability.
        p: f64,
    },
    /// Two-state Markov loss (netem `loss gemodel p r 1-h 1-k`).
    GilbertElliott(GilbertElliott),
}

impl LossModel {
    /// The long-run fraction of packets lost.
    pub fn mean_loss(&self) -> f64 {
        match self {
            LossModel::None => 0.0,
            LossModel::Bernoulli { p } => *p,
            LossModel::GilbertElliott(ge) => ge.mean_loss(),
        }
    }
}

/// Gilbert–Elliott loss: a Good and a Bad state, each with its own loss probability.
///
/// Per packet, as netem does: the packet is lost with the probability of the state the chain
/// is in, then the chain moves (Good → Bad with `p`, Bad → Good with `r`). The chain starts in
/// Good. With `loss_bad = 1` and `loss_good = 0` (the simple Gilbert model) losses come in
/// bursts of mean length `1 / r`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GilbertElliott {
    /// Good → Bad transition probability per packet (netem `p`).
    pub p: f64,
    /// Bad → Good transition probability per packet (netem `r`).
    pub r: f64,
    /// Loss probability in the Bad state (netem `1-h`).
    #[serde(default = "one")]
    pub loss_bad: f64,
    /// Loss probability in the Good state (netem `1-k`).
    #[serde(default)]
    pub loss_good: f64,
}

fn one() -> f64 {
    1.0
}

impl GilbertElliott {
    /// The four-parameter form, in netem's order: `loss gemodel p r 1-h 1-k`.
    pub fn new(p: f64, r: f64, loss_bad: f64, loss_good: f64) -> Result<Self, ImpairError> {
        let ge = Self {
            p,
            r,
            loss_bad,
            loss_good,
        };
        ge.validate()?;
        Ok(ge)
    }

    /// The simple Gilbert model (everything lost in Bad, nothing in Good) with this long-run
    /// loss rate and mean burst length in packets: `r = 1 / burst`,
    /// `p = rate · r / (1 − rate)`.
    pub fn from_loss_and_burst(rate: f64, mean_burst: f64) -> Result<Self, ImpairError> {
        probability("loss", rate)?;
        if !(mean_burst.is_finite() && mean_burst >= 1.0) {
            return Err(ImpairError::Burst { value: mean_burst });
        }
        if rate >= 1.0 {
            return Err(ImpairError::Unreachable {
                rate,
                burst: mean_burst,
            });
        }
        let r = 1.0 / mean_burst;
        let p = rate * r / (1.0 - rate);
        if p > 1.0 {
            return Err(ImpairError::Unreachable {
                rate,
                burst: mean_burst,
            });
        }
        Ok(Self {
            p,
            r,
            loss_bad: 1.0,
            loss_good: 0.0,
        })
    }

    /// Long-run fraction of packets in the Bad state: `p / (p + r)` (Good forever when both
    /// are 0, as the chain starts there).
    pub fn bad_fraction(&self) -> f64 {
        if self.p + self.r == 0.0 {
            0.0
        } else {
            self.p / (self.p + self.r)
        }
    }

    /// Long-run fraction of packets lost.
    pub fn mean_loss(&self) -> f64 {
        let bad = self.bad_fraction();
        bad * self.loss_bad + (1.0 - bad) * self.loss_good
    }

    /// Mean number of consecutive packets in the Bad state: `1 / r`.
    pub fn mean_bad_run(&self) -> f64 {
        1.0 / self.r
    }

    fn validate(&self) -> Result<(), ImpairError> {
        probability("loss.p", self.p)?;
        probability("loss.r", self.r)?;
        probability("loss.loss_bad", self.loss_bad)?;
        probability("loss.loss_good", self.loss_good)
    }
}

/// Whether packets may overtake each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DeliveryOrder {
    /// Each packet leaves at its own due time, so a packet with a shorter delay overtakes
    /// earlier ones (netem's time-sorted queue: large jitter reorders).
    #[default]
    #[serde(rename = "time")]
    DueTime,
    /// A packet never leaves before the one offered before it: due time is
    /// `max(own, previous packet's)`, as on a single queueing path.
    #[serde(rename = "keep")]
    Keep,
}

impl DeliveryOrder {
    /// The name the compact form and the configuration use.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryOrder::DueTime => "time",
            DeliveryOrder::Keep => "keep",
        }
    }
}

/// The named presets, in order of severity.
pub const PRESETS: [&str; 3] = ["good", "poor", "bad"];

impl Default for ImpairConfig {
    fn default() -> Self {
        Self::none()
    }
}

impl ImpairConfig {
    /// No impairment: packets pass at once, in order.
    pub const fn none() -> Self {
        Self {
            delay: Duration::ZERO,
            jitter: Jitter {
                amount: Duration::ZERO,
                distribution: JitterDistribution::Normal,
                correlation: 0.0,
            },
            loss: LossModel::None,
            reorder: 0.0,
            duplicate: 0.0,
            order: DeliveryOrder::DueTime,
            limit: None,
            seed: None,
        }
    }

    /// SPEC ACC-PESQ-GOOD: a good network, no impairment.
    pub const fn good() -> Self {
        Self::none()
    }

    /// SPEC ACC-PESQ-POOR: 1 % loss, 20 ms jitter, 100 ms delay; as
    /// `tc qdisc add … netem delay 100ms 20ms distribution normal loss random 1%`.
    pub const fn poor() -> Self {
        Self::spec_condition(100, 20, 0.01)
    }

    /// SPEC ACC-PESQ-BAD: 5 % loss, 60 ms jitter, 400 ms delay; as
    /// `tc qdisc add … netem delay 400ms 60ms distribution normal loss random 5%`.
    pub const fn bad() -> Self {
        Self::spec_condition(400, 60, 0.05)
    }

    /// The SPEC's conditions read as netem reads them: jitter normal with standard deviation
    /// `J` (the "J ms jitter" of a test plan is commonly a standard deviation, and normal is
    /// the table labs load), independent (Bernoulli) loss, netem's time-sorted delivery.
    const fn spec_condition(delay_ms: u64, jitter_ms: u64, loss: f64) -> Self {
        let mut c = Self::none();
        c.delay = Duration::from_millis(delay_ms);
        c.jitter.amount = Duration::from_millis(jitter_ms);
        c.loss = LossModel::Bernoulli { p: loss };
        c
    }

    /// A preset by name: `good`, `poor` or `bad` (see [`PRESETS`]).
    pub fn preset(name: &str) -> Result<Self, ImpairError> {
        match name {
            "good" | "none" => Ok(Self::good()),
            "poor" => Ok(Self::poor()),
            "bad" => Ok(Self::bad()),
            _ => Err(ImpairError::UnknownPreset {
                name: name.to_string(),
            }),
        }
    }

    /// Whether this configuration changes nothing (no delay, loss, reordering or copies).
    pub fn is_none(&self) -> bool {
        self.delay.is_zero()
            && self.jitter.amount.is_zero()
            && self.loss.mean_loss() == 0.0
            && self.reorder == 0.0
            && self.duplicate == 0.0
            && self.limit.is_none()
    }

    /// Checks every field; the error names the first one that is wrong.
    pub fn validate(&self) -> Result<(), ImpairError> {
        match &self.loss {
            LossModel::None => {}
            LossModel::Bernoulli { p } => probability("loss.p", *p)?,
            LossModel::GilbertElliott(ge) => ge.validate()?,
        }
        let c = self.jitter.correlation;
        if !(c.is_finite() && (0.0..1.0).contains(&c)) {
            return Err(ImpairError::Correlation { value: c });
        }
        probability("reorder", self.reorder)?;
        probability("duplicate", self.duplicate)?;
        if self.reorder > 0.0 && self.delay.is_zero() && self.jitter.amount.is_zero() {
            return Err(ImpairError::ReorderWithoutDelay);
        }
        if self.limit == Some(0) {
            return Err(ImpairError::ZeroLimit);
        }
        // Delays are added to `Instant`s; keep them far from overflow (a day is plenty).
        let longest = self
            .jitter
            .amount
            .checked_mul(4)
            .and_then(|j| j.checked_add(self.delay))
            .unwrap_or(Duration::MAX);
        if longest > MAX_DELAY {
            return Err(ImpairError::TooLong { delay: longest });
        }
        Ok(())
    }
}

/// Longest delay (with jitter at its cut-off) accepted.
pub const MAX_DELAY: Duration = Duration::from_secs(86_400);

/// `value` must be a probability; the error names `field`.
pub(crate) fn probability(field: &'static str, value: f64) -> Result<(), ImpairError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ImpairError::Probability { field, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_the_spec_conditions() {
        // SPEC ACC-PESQ-GOOD: no impairment.
        assert!(ImpairConfig::preset("good").unwrap().is_none());
        // SPEC ACC-PESQ-POOR: 1 % loss, 20 ms jitter, 100 ms delay.
        let poor = ImpairConfig::preset("poor").unwrap();
        assert_eq!(poor.delay, Duration::from_millis(100));
        assert_eq!(poor.jitter.amount, Duration::from_millis(20));
        assert_eq!(poor.jitter.distribution, JitterDistribution::Normal);
        assert_eq!(poor.loss, LossModel::Bernoulli { p: 0.01 });
        assert_eq!((poor.reorder, poor.duplicate), (0.0, 0.0));
        // SPEC ACC-PESQ-BAD: 5 % loss, 60 ms jitter, 400 ms delay.
        let bad = ImpairConfig::preset("bad").unwrap();
        assert_eq!(bad.delay, Duration::from_millis(400));
        assert_eq!(bad.jitter.amount, Duration::from_millis(60));
        assert_eq!(bad.jitter.distribution, JitterDistribution::Normal);
        assert_eq!(bad.loss, LossModel::Bernoulli { p: 0.05 });
        for name in PRESETS {
            ImpairConfig::preset(name).unwrap().validate().unwrap();
        }
        assert_eq!(
            ImpairConfig::preset("awful").unwrap_err().to_string(),
            "unknown impairment preset \"awful\" (known: good, poor, bad)"
        );
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = ImpairConfig::poor();
        c.duplicate = 1.5;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("duplicate:"));
        let mut c = ImpairConfig::poor();
        c.loss = LossModel::Bernoulli { p: -0.1 };
        assert!(c.validate().unwrap_err().to_string().starts_with("loss.p:"));
        let mut c = ImpairConfig::poor();
        c.loss = LossModel::GilbertElliott(GilbertElliott {
            p: 0.1,
            r: f64::NAN,
            loss_bad: 1.0,
            loss_good: 0.0,
        });
        assert!(c.validate().unwrap_err().to_string().starts_with("loss.r:"));
        let mut c = ImpairConfig::poor();
        c.jitter.correlation = 1.0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("jitter.correlation:"));
        let mut c = ImpairConfig::none();
        c.reorder = 0.1;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("reorder:"));
        let mut c = ImpairConfig::poor();
        c.limit = Some(0);
        assert!(c.validate().unwrap_err().to_string().starts_with("limit:"));
        let mut c = ImpairConfig::poor();
        c.delay = Duration::from_secs(100_000);
        assert!(c.validate().unwrap_err().to_string().starts_with("delay:"));
    }

    #[test]
    fn gilbert_elliott_from_loss_and_burst() {
        let ge = GilbertElliott::from_loss_and_burst(0.05, 3.0).unwrap();
        assert!((ge.mean_loss() - 0.05).abs() < 1e-12);
        assert!((ge.mean_bad_run() - 3.0).abs() < 1e-12);
        assert_eq!((ge.loss_bad, ge.loss_good), (1.0, 0.0));
        // 60 % loss in bursts of one would need p > 1.
        assert!(matches!(
            GilbertElliott::from_loss_and_burst(0.6, 1.0),
            Err(ImpairError::Unreachable { .. })
        ));
        assert!(matches!(
            GilbertElliott::from_loss_and_burst(0.05, 0.5),
            Err(ImpairError::Burst { .. })
        ));
        assert!(GilbertElliott::new(0.01, 0.3, 1.0, 2.0).is_err());
    }

    #[test]
    fn yaml_form_round_trips_and_rejects_unknown_fields() {
        let yaml = "delay: 100ms\njitter:\n  amount: 20ms\n  distribution: pareto\n\
                    loss:\n  model: gilbert_elliott\n  p: 0.01\n  r: 0.25\norder: keep\n";
        let c: ImpairConfig = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(c.delay, Duration::from_millis(100));
        assert_eq!(c.jitter.distribution, JitterDistribution::Pareto);
        assert_eq!(
            c.loss,
            LossModel::GilbertElliott(GilbertElliott {
                p: 0.01,
                r: 0.25,
                loss_bad: 1.0,
                loss_good: 0.0
            })
        );
        assert_eq!(c.order, DeliveryOrder::Keep);
        let json = serde_json::to_string(&c).unwrap();
        let back: ImpairConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let bern: ImpairConfig =
            serde_json::from_str(r#"{"loss":{"model":"bernoulli","p":0.05}}"#).unwrap();
        assert_eq!(bern.loss, LossModel::Bernoulli { p: 0.05 });
        assert!(serde_json::from_str::<ImpairConfig>(r#"{"los":{}}"#).is_err());
        assert!(serde_json::from_str::<ImpairConfig>(
            r#"{"loss":{"model":"bernoulli","p":0.05,"q":1}}"#
        )
        .is_err());
    }
}
