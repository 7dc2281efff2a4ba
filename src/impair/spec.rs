//! The compact one-line form of an [`ImpairConfig`], for the command line:
//! `poor`, `loss=1%,jitter=20ms,delay=100ms,dist=normal`, `bad,burst=3,order=keep`.
//!
//! Items are separated by commas. A preset name may come first; the `key=value` items after
//! it override the preset's fields. Keys (netem's option in brackets):
//!
//! | key | value | netem |
//! |---|---|---|
//! | `delay` | duration (`100ms`) | `delay D` |
//! | `jitter` | duration | `delay D J` |
//! | `dist` | `normal`, `uniform`, `pareto`, `paretonormal` | `distribution X` |
//! | `corr` | jitter correlation, `25%` or `0.25` | `delay D J CORR` |
//! | `loss` | probability, `1%` or `0.01` | `loss random P` |
//! | `burst` | mean burst length in packets; with the loss rate (of `loss` or the preset) it gives a simple Gilbert chain | `loss gemodel p r` |
//! | `gemodel` | `p/r/1-h/1-k` (the last three optional: `r = 1 − p`, `1-h = 100%`, `1-k = 0%` as in tc) | `loss gemodel p r 1-h 1-k` |
//! | `reorder` | probability | `reorder P` |
//! | `dup` | probability | `duplicate P` |
//! | `order` | `time` (may overtake, as netem) or `keep` | (a `pfifo` child keeps order) |
//! | `limit` | packets | `limit N` |
//! | `seed` | integer | `seed N` |

use super::config::{probability, DeliveryOrder, GilbertElliott, ImpairConfig, JitterDistribution};
use super::config::{LossModel, PRESETS};
use super::error::ImpairError;
use crate::scenario::{format_duration, parse_duration};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

impl FromStr for ImpairConfig {
    type Err = ImpairError;

    /// Parses the compact form onto no impairment (see the module documentation).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ImpairConfig::none().with_spec(text)
    }
}

/// The keys of the compact form, each under its canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Delay,
    Jitter,
    Dist,
    Corr,
    Loss,
    Burst,
    GeModel,
    Reorder,
    Dup,
    Order,
    Limit,
    Seed,
}

impl Key {
    fn parse(name: &str) -> Option<Key> {
        Some(match name {
            "delay" => Key::Delay,
            "jitter" => Key::Jitter,
            "dist" | "distribution" => Key::Dist,
            "corr" | "correlation" => Key::Corr,
            "loss" => Key::Loss,
            "burst" => Key::Burst,
            "gemodel" => Key::GeModel,
            "reorder" => Key::Reorder,
            "dup" | "duplicate" => Key::Dup,
            "order" => Key::Order,
            "limit" => Key::Limit,
            "seed" => Key::Seed,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Key::Delay => "delay",
            Key::Jitter => "jitter",
            Key::Dist => "dist",
            Key::Corr => "corr",
            Key::Loss => "loss",
            Key::Burst => "burst",
            Key::GeModel => "gemodel",
            Key::Reorder => "reorder",
            Key::Dup => "dup",
            Key::Order => "order",
            Key::Limit => "limit",
            Key::Seed => "seed",
        }
    }
}

impl ImpairConfig {
    /// This configuration with the fields of a compact form (see [`crate::impair::spec`])
    /// overridden; a preset name in front replaces the base first. Validated.
    pub fn with_spec(self, text: &str) -> Result<Self, ImpairError> {
        let mut c = self;
        let mut seen: Vec<Key> = Vec::new();
        let mut loss: Option<f64> = None;
        let mut burst: Option<f64> = None;
        for (i, item) in text.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let Some((name, value)) = item.split_once('=') else {
                if i == 0 && (PRESETS.contains(&item) || item == "none") {
                    c = ImpairConfig::preset(item)?;
                    continue;
                }
                if i == 0 && item.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(ImpairError::UnknownPreset {
                        name: item.to_string(),
                    });
                }
                return Err(ImpairError::NotKeyValue {
                    item: item.to_string(),
                });
            };
            let (name, value) = (name.trim(), value.trim());
            let key = Key::parse(name).ok_or_else(|| ImpairError::UnknownField {
                key: name.to_string(),
            })?;
            if seen.contains(&key) {
                return Err(ImpairError::Repeated {
                    key: key.name().to_string(),
                });
            }
            seen.push(key);
            let k = key.name();
            match key {
                Key::Delay => c.delay = duration(k, value)?,
                Key::Jitter => c.jitter.amount = duration(k, value)?,
                Key::Dist => {
                    c.jitter.distribution = JitterDistribution::ALL
                        .into_iter()
                        .find(|d| d.name() == value)
                        .ok_or_else(|| ImpairError::BadValue {
                            key: k,
                            value: value.to_string(),
                            expected: "a distribution (normal, uniform, pareto, paretonormal)",
                        })?;
                }
                Key::Corr => {
                    let v = fraction(k, value)?;
                    if v >= 1.0 {
                        return Err(ImpairError::Correlation { value: v });
                    }
                    c.jitter.correlation = v;
                }
                Key::Loss => {
                    let p = fraction(k, value)?;
                    loss = Some(p);
                    c.loss = if p == 0.0 {
                        LossModel::None
                    } else {
                        LossModel::Bernoulli { p }
                    };
                }
                Key::Burst => {
                    let b: f64 = value.parse().map_err(|_| ImpairError::BadValue {
                        key: k,
                        value: value.to_string(),
                        expected: "a mean burst length in packets (e.g. 3)",
                    })?;
                    burst = Some(b);
                }
                Key::GeModel => c.loss = LossModel::GilbertElliott(gemodel(value)?),
                Key::Reorder => c.reorder = fraction(k, value)?,
                Key::Dup => c.duplicate = fraction(k, value)?,
                Key::Order => {
                    c.order = match value {
                        "time" => DeliveryOrder::DueTime,
                        "keep" => DeliveryOrder::Keep,
                        _ => {
                            return Err(ImpairError::BadValue {
                                key: k,
                                value: value.to_string(),
                                expected: "an order (time or keep)",
                            })
                        }
                    }
                }
                Key::Limit => {
                    let n: u32 = value.parse().map_err(|_| ImpairError::BadValue {
                        key: k,
                        value: value.to_string(),
                        expected: "a number of packets",
                    })?;
                    c.limit = Some(n);
                }
                Key::Seed => {
                    let s: u64 = value.parse().map_err(|_| ImpairError::BadValue {
                        key: k,
                        value: value.to_string(),
                        expected: "an unsigned 64-bit integer",
                    })?;
                    c.seed = Some(s);
                }
            }
        }
        if seen.contains(&Key::GeModel) {
            for other in [Key::Loss, Key::Burst] {
                if seen.contains(&other) {
                    return Err(ImpairError::Conflict {
                        key: other.name(),
                        other: "gemodel",
                    });
                }
            }
        }
        if let Some(b) = burst {
            let rate = loss.unwrap_or_else(|| c.loss.mean_loss());
            if rate == 0.0 {
                return Err(ImpairError::BadValue {
                    key: "burst",
                    value: format!("{b}"),
                    expected: "usable without a loss rate (give loss=…)",
                });
            }
            c.loss = LossModel::GilbertElliott(GilbertElliott::from_loss_and_burst(rate, b)?);
        }
        c.validate()?;
        Ok(c)
    }
}

fn duration(key: &'static str, value: &str) -> Result<Duration, ImpairError> {
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(value).map_err(|source| ImpairError::Duration { key, source })
}

/// `1%`, `0.5%` or `0.01`, checked to be a probability.
fn fraction(key: &'static str, value: &str) -> Result<f64, ImpairError> {
    let (number, scale) = match value.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (value, 1.0),
    };
    let v: f64 = number.parse().map_err(|_| ImpairError::BadValue {
        key,
        value: value.to_string(),
        expected: "a probability (e.g. 1% or 0.01)",
    })?;
    let v = v / scale;
    probability(key, v)?;
    Ok(v)
}

/// `p/r/1-h/1-k`, with tc's defaults for the missing tail.
fn gemodel(value: &str) -> Result<GilbertElliott, ImpairError> {
    let parts: Vec<&str> = value.split('/').map(str::trim).collect();
    if parts.is_empty() || parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return Err(ImpairError::BadValue {
            key: "gemodel",
            value: value.to_string(),
            expected: "p/r/1-h/1-k (e.g. 1%/30%/100%/0%; r, 1-h, 1-k optional)",
        });
    }
    let p = fraction("gemodel", parts[0])?;
    let r = match parts.get(1) {
        Some(v) => fraction("gemodel", v)?,
        None => 1.0 - p,
    };
    let loss_bad = match parts.get(2) {
        Some(v) => fraction("gemodel", v)?,
        None => 1.0,
    };
    let loss_good = match parts.get(3) {
        Some(v) => fraction("gemodel", v)?,
        None => 0.0,
    };
    GilbertElliott::new(p, r, loss_bad, loss_good)
}

/// A probability as the shortest exact text: `1%` when the percentage is short, else `0.0123…`.
fn format_fraction(v: f64) -> String {
    let pct = v * 100.0;
    let text = format!("{pct}");
    if pct / 100.0 == v && text.len() <= 8 {
        format!("{text}%")
    } else {
        format!("{v}")
    }
}

impl fmt::Display for ImpairConfig {
    /// The compact form, which [`FromStr`] reads back to an equal configuration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = Vec::new();
        if !self.delay.is_zero() {
            items.push(format!("delay={}", format_duration(self.delay)));
        }
        if !self.jitter.amount.is_zero() {
            items.push(format!("jitter={}", format_duration(self.jitter.amount)));
        }
        if self.jitter.distribution != JitterDistribution::Normal {
            items.push(format!("dist={}", self.jitter.distribution.name()));
        }
        if self.jitter.correlation != 0.0 {
            items.push(format!("corr={}", format_fraction(self.jitter.correlation)));
        }
        match &self.loss {
            LossModel::None => {}
            LossModel::Bernoulli { p } => items.push(format!("loss={}", format_fraction(*p))),
            LossModel::GilbertElliott(ge) => items.push(format!(
                "gemodel={}/{}/{}/{}",
                format_fraction(ge.p),
                format_fraction(ge.r),
                format_fraction(ge.loss_bad),
                format_fraction(ge.loss_good)
            )),
        }
        if self.reorder != 0.0 {
            items.push(format!("reorder={}", format_fraction(self.reorder)));
        }
        if self.duplicate != 0.0 {
            items.push(format!("dup={}", format_fraction(self.duplicate)));
        }
        if self.order != DeliveryOrder::DueTime {
            items.push(format!("order={}", self.order.name()));
        }
        if let Some(n) = self.limit {
            items.push(format!("limit={n}"));
        }
        if let Some(s) = self.seed {
            items.push(format!("seed={s}"));
        }
        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_compact_form() {
        let c: ImpairConfig = "loss=1%,jitter=20ms,delay=100ms,dist=normal"
            .parse()
            .unwrap();
        assert_eq!(c, ImpairConfig::poor());
        let c: ImpairConfig = "poor".parse().unwrap();
        assert_eq!(c, ImpairConfig::poor());
        let c: ImpairConfig = "bad, dist=uniform, order=keep, seed=7".parse().unwrap();
        assert_eq!(c.delay, Duration::from_millis(400));
        assert_eq!(c.jitter.distribution, JitterDistribution::Uniform);
        assert_eq!(c.order, DeliveryOrder::Keep);
        assert_eq!(c.seed, Some(7));
        let c: ImpairConfig = "delay=50ms,jitter=10ms,corr=25%,reorder=2%,dup=0.5%,limit=500"
            .parse()
            .unwrap();
        assert_eq!(c.jitter.correlation, 0.25);
        assert_eq!(c.reorder, 0.02);
        assert_eq!(c.duplicate, 0.005);
        assert_eq!(c.limit, Some(500));
        assert_eq!("".parse::<ImpairConfig>().unwrap(), ImpairConfig::none());
        assert_eq!(
            "none".parse::<ImpairConfig>().unwrap(),
            ImpairConfig::none()
        );
    }

    #[test]
    fn burst_turns_the_loss_rate_into_a_gilbert_chain() {
        let c: ImpairConfig = "loss=5%,burst=3".parse().unwrap();
        let LossModel::GilbertElliott(ge) = c.loss else {
            panic!("{:?}", c.loss)
        };
        assert!((ge.mean_loss() - 0.05).abs() < 1e-12);
        assert!((ge.mean_bad_run() - 3.0).abs() < 1e-12);
        // The preset's rate when no loss= is given.
        let c: ImpairConfig = "poor,burst=2".parse().unwrap();
        assert!((c.loss.mean_loss() - 0.01).abs() < 1e-12);
        assert_eq!(
            "burst=2".parse::<ImpairConfig>().unwrap_err().to_string(),
            "burst: \"2\" is not usable without a loss rate (give loss=…)"
        );
    }

    #[test]
    fn gemodel_takes_netem_order_and_defaults() {
        let c: ImpairConfig = "gemodel=1%/30%/90%/0.1%".parse().unwrap();
        assert_eq!(
            c.loss,
            LossModel::GilbertElliott(GilbertElliott {
                p: 0.01,
                r: 0.3,
                loss_bad: 0.9,
                loss_good: 0.001
            })
        );
        let c: ImpairConfig = "gemodel=2%".parse().unwrap();
        let LossModel::GilbertElliott(ge) = c.loss else {
            panic!()
        };
        assert_eq!(
            (ge.p, ge.r, ge.loss_bad, ge.loss_good),
            (0.02, 0.98, 1.0, 0.0)
        );
        assert!("gemodel=1%,loss=2%".parse::<ImpairConfig>().is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("loss=150%", "loss: 1.5 is not a probability"),
            ("loss=abc", "loss: \"abc\" is not a probability"),
            ("loss=5", "loss: 5 is not a probability"),
            ("jitter=20", "jitter: invalid duration \"20\": missing unit"),
            ("delay=-5ms", "delay: invalid duration \"-5ms\""),
            ("dist=gauss", "dist: \"gauss\" is not a distribution"),
            ("order=random", "order: \"random\" is not an order"),
            ("dup=2", "dup: 2 is not a probability"),
            ("reorder=10%", "reorder: needs a delay or jitter"),
            ("corr=100%", "jitter.correlation: 1 is outside [0, 1)"),
            ("gemodel=1%/", "gemodel: \"1%/\" is not p/r/1-h/1-k"),
            ("gemodel=1%/200%", "gemodel: 2 is not a probability"),
            ("burst=0.5,loss=1%", "burst: 0.5 is not a mean burst length"),
            ("limit=-1", "limit: \"-1\" is not a number of packets"),
            ("limit=0", "limit: must be at least 1"),
            ("seed=x", "seed: \"x\" is not an unsigned 64-bit integer"),
            ("los=1%", "unknown impairment field \"los\""),
            ("loss=1%,loss=2%", "loss: given twice"),
            ("awful", "unknown impairment preset \"awful\""),
            ("loss=1%,poor", "\"poor\": expected key=value"),
        ];
        for (text, want) in cases {
            let got = text.parse::<ImpairConfig>().unwrap_err().to_string();
            assert!(got.starts_with(want), "{text}: {got}");
        }
    }

    #[test]
    fn never_panics_on_garbled_input() {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let pieces = [
            "loss",
            "delay",
            "jitter",
            "dist",
            "corr",
            "burst",
            "gemodel",
            "reorder",
            "dup",
            "order",
            "limit",
            "seed",
            "poor",
            "=",
            ",",
            "%",
            "/",
            "ms",
            "s",
            "1",
            "0",
            "-",
            ".",
            "nan",
            "inf",
            "1e308",
            "99999999999999999999",
            "keep",
            "pareto",
            " ",
            "é",
            "\0",
        ];
        let mut rng = SmallRng::seed_from_u64(5);
        let mut ok = 0;
        for _ in 0..50_000 {
            let n = rng.random_range(1..12);
            let text: String = (0..n)
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            if let Ok(c) = text.parse::<ImpairConfig>() {
                c.validate().unwrap();
                assert_eq!(c.to_string().parse::<ImpairConfig>().unwrap(), c, "{text}");
                ok += 1;
            }
        }
        // Some of the random lines are valid, so both paths were exercised.
        assert!(ok > 100, "{ok}");
    }

    #[test]
    fn display_round_trips() {
        let texts = [
            "none",
            "poor",
            "bad",
            "delay=50ms,jitter=10ms,dist=pareto,corr=25%,loss=0.3%,reorder=1%,dup=2%,order=keep,limit=100,seed=9",
            "delay=1ms,gemodel=1%/30%/90%/0.1%",
            "loss=5%,burst=3",
            "delay=1.5ms,jitter=333us,dist=paretonormal,loss=0.123456789",
        ];
        for t in texts {
            let c: ImpairConfig = t.parse().unwrap();
            let shown = c.to_string();
            let back: ImpairConfig = shown.parse().unwrap();
            assert_eq!(back, c, "{t} -> {shown}");
        }
        assert_eq!(
            ImpairConfig::poor().to_string(),
            "delay=100ms,jitter=20ms,loss=1%"
        );
    }
}
