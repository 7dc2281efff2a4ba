//! The reference call center's IVR: menu tree definition and per-call state machine.
//!
//! - [`load_ivr`] / [`parse_ivr`] read an IVR definition (YAML, see `scenarios/ivr/bank.yaml`
//!   for the format) with the same `file:line:col: field: message` errors as scenario files.
//! - [`IvrCall`] is one call's walk through the menu tree. Sans-IO: every input carries its
//!   time, [`IvrCall::poll_action`] says what to play and when, [`IvrCall::poll_timeout`] when
//!   to wake it. It never reads the clock.
//! - [`AgentPool`] is the agents of one queue, shared by every call (the driver locks it).
//!
//! Every configured `delay` is ground truth for the harness: it runs from the event that
//! triggers a node (answer, end of a digit, end of the previous prompt, expiry of a timeout) to
//! the voice onset of the node's prompt, and [`IvrAction::Play`] carries that exact instant.

use crate::media::voice::DEFAULT_THRESHOLD_DBOV;
use crate::media::AudioSource;
use crate::scenario::yaml::{from_yaml, invalid, position, relative_to, Dur};
use crate::scenario::{parse_duration, ScenarioError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Exp1, StandardNormal};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Keys a caller can type ahead before the IVR listens; more are dropped.
pub const MAX_TYPE_AHEAD: usize = 32;

/// Longest input an `input` node may ask for.
pub const MAX_INPUT_DIGITS: u32 = 64;

/// The DTMF keys (RFC 4733 §3.2 events 0–15).
const DTMF_KEYS: &str = "0123456789*#ABCD";

// ---------------------------------------------------------------------------------------------
// Delay distributions
// ---------------------------------------------------------------------------------------------

/// A configured delay: a fixed value or a distribution drawn from once per use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    /// Always this long.
    Fixed(Duration),
    /// Uniform between `min` and `max`, both included.
    Uniform {
        /// Shortest.
        min: Duration,
        /// Longest.
        max: Duration,
    },
    /// Normal (Gaussian); draws below zero count as zero.
    Normal {
        /// Mean.
        mean: Duration,
        /// Standard deviation.
        sd: Duration,
    },
    /// Log-normal, given by the mean and standard deviation of the delay itself (not of its
    /// logarithm): σ² = ln(1 + sd²/mean²), μ = ln(mean) − σ²/2.
    LogNormal {
        /// Mean of the delay.
        mean: Duration,
        /// Standard deviation of the delay.
        sd: Duration,
    },
    /// Exponential (memoryless), e.g. agent handle times.
    Exponential {
        /// Mean.
        mean: Duration,
    },
}

impl Delay {
    /// One draw; never negative.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } if max <= min => min,
            Delay::Uniform { min, max } => {
                Duration::from_nanos(rng.random_range(nanos(min)..=nanos(max)))
            }
            Delay::Normal { mean, sd } if sd.is_zero() => mean,
            Delay::Normal { mean, sd } => {
                let z: f64 = rng.sample(StandardNormal);
                from_nanos_f64(nanos(mean) as f64 + nanos(sd) as f64 * z)
            }
            Delay::LogNormal { mean, sd } if sd.is_zero() || mean.is_zero() => mean,
            Delay::LogNormal { mean, sd } => {
                let m = nanos(mean) as f64;
                let ratio = nanos(sd) as f64 / m;
                let sigma2 = (1.0 + ratio * ratio).ln();
                let mu = m.ln() - sigma2 / 2.0;
                let z: f64 = rng.sample(StandardNormal);
                from_nanos_f64((mu + sigma2.sqrt() * z).exp())
            }
            Delay::Exponential { mean } if mean.is_zero() => mean,
            Delay::Exponential { mean } => {
                let e: f64 = rng.sample(Exp1);
                from_nanos_f64(nanos(mean) as f64 * e)
            }
        }
    }

    /// The configured mean (for `Normal`, before draws below zero are raised to zero).
    pub fn mean(&self) -> Duration {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } => min + max.saturating_sub(min) / 2,
            Delay::Normal { mean, .. }
            | Delay::LogNormal { mean, .. }
            | Delay::Exponential { mean } => mean,
        }
    }

    /// `Fixed(self.mean())`: what tests use to know every voice onset exactly.
    pub fn fixed_at_mean(&self) -> Delay {
        Delay::Fixed(self.mean())
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delay::Fixed(d) => write!(f, "{d:?}"),
            Delay::Uniform { min, max } => write!(f, "uniform({min:?}..{max:?})"),
            Delay::Normal { mean, sd } => write!(f, "normal({mean:?} ± {sd:?})"),
            Delay::LogNormal { mean, sd } => write!(f, "lognormal({mean:?} ± {sd:?})"),
            Delay::Exponential { mean } => write!(f, "exponential({mean:?})"),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds to a duration, rounded; negative and NaN become zero.
fn from_nanos_f64(ns: f64) -> Duration {
    if ns.is_nan() || ns <= 0.0 {
        Duration::ZERO
    } else {
        // `as` saturates at u64::MAX for huge values.
        Duration::from_nanos(ns.round() as u64)
    }
}

// ---------------------------------------------------------------------------------------------
// The definition
// ---------------------------------------------------------------------------------------------

/// A validated IVR definition, shared by every call (`Arc`).
///
/// Fields are public so that tests and tools can adjust a loaded definition (e.g.
/// [`IvrDefinition::with_fixed_delays`]); [`IvrCall`] copes with a definition edited into
/// inconsistency (a missing node hangs up, a missing prompt is silence) but never panics.
#[derive(Debug, Clone)]
pub struct IvrDefinition {
    /// `name`: shown in logs and reports.
    pub name: String,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// `prompts`: name → loaded audio.
    pub prompts: BTreeMap<String, IvrPrompt>,
    /// `start`: the node entered on answer.
    pub start: String,
    /// `dtmf_methods`: how the caller may send digits (informational; all are detected).
    pub dtmf_methods: Vec<DtmfMethod>,
    /// `nodes`: name → node.
    pub nodes: BTreeMap<String, IvrNode>,
    /// `agents`: queue name → agent pool settings.
    pub queues: BTreeMap<String, AgentQueue>,
    /// `seed`: base of every call's random draws (default 11).
    pub seed: u64,
}

impl IvrDefinition {
    /// The same definition with every distribution replaced by a fixed value at its mean.
    pub fn with_fixed_delays(mut self) -> Self {
        for node in self.nodes.values_mut() {
            for delay in node.delays_mut() {
                *delay = delay.fixed_at_mean();
            }
        }
        for q in self.queues.values_mut() {
            q.answer_delay = q.answer_delay.fixed_at_mean();
            q.handle_time = q.handle_time.fixed_at_mean();
        }
        self
    }

    /// One fresh [`AgentPool`] per queue, for the driver to share between calls.
    pub fn agent_pools(&self) -> BTreeMap<String, AgentPool> {
        self.queues
            .iter()
            .map(|(name, q)| (name.clone(), AgentPool::new(q.agents)))
            .collect()
    }

    /// The seed of call number `call` (SplitMix64 of `seed` and `call`): calls draw
    /// independent but repeatable delays.
    pub fn call_seed(&self, call: u64) -> u64 {
        let mut z = self
            .seed
            .wrapping_add(call.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A prompt: its audio and where its voice starts.
#[derive(Debug, Clone)]
pub struct IvrPrompt {
    /// The WAV file, resolved against the definition's folder.
    pub path: PathBuf,
    /// 8 kHz mono samples, shared.
    pub audio: AudioSource,
    /// Offset of the first voiced sample at −35 dBov (100 ms for the shipped prompts): play
    /// starts this much before the wanted voice onset.
    pub voice_onset: Duration,
}

/// How callers may send DTMF (`dtmf_methods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMethod {
    /// RTP telephone-event packets (RFC 4733).
    Rfc4733,
    /// SIP INFO with `application/dtmf-relay` (or `application/dtmf`).
    Info,
    /// In-band tones in the audio (ITU-T Q.23/Q.24).
    Inband,
}

/// How an agent's answer shows on the line (`announce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Announce {
    /// The agent's greeting prompt, in the same media stream.
    #[default]
    Prompt,
    /// A re-INVITE (a new media session, as a separate agent phone would), no greeting.
    Reinvite,
    /// A re-INVITE, then the greeting.
    Both,
}

/// One node of the menu tree.
#[derive(Debug, Clone, PartialEq)]
pub enum IvrNode {
    /// `play`: a prompt, then `next`.
    Play(PromptNode),
    /// `query`: a back-end look-up; `delay` is the query time; the result prompt, then `next`.
    Query(PromptNode),
    /// `menu`: one key chooses the next node.
    Menu(MenuNode),
    /// `input`: collects digits (an account number, a PIN).
    Input(InputNode),
    /// `transfer`: queues the call for an agent.
    Transfer(TransferNode),
    /// `hangup`: an optional goodbye prompt, then BYE.
    Hangup(HangupNode),
}

impl IvrNode {
    /// The `type` name as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            IvrNode::Play(_) => "play",
            IvrNode::Query(_) => "query",
            IvrNode::Menu(_) => "menu",
            IvrNode::Input(_) => "input",
            IvrNode::Transfer(_) => "transfer",
            IvrNode::Hangup(_) => "hangup",
        }
    }

    /// Every delay of the node, to adjust them in place.
    pub fn delays_mut(&mut self) -> Vec<&mut Delay> {
        match self {
            IvrNode::Play(n) | IvrNode::Query(n) => vec![&mut n.delay],
            IvrNode::Menu(n) => {
                let mut v = vec![&mut n.delay];
                v.extend(n.invalid.as_mut().map(|i| &mut i.delay));
                v
            }
            IvrNode::Input(n) => {
                let mut v = vec![&mut n.delay];
                v.extend(n.invalid.as_mut().map(|i| &mut i.delay));
                v
            }
            IvrNode::Transfer(n) => vec![&mut n.delay],
            IvrNode::Hangup(n) => vec![&mut n.delay],
        }
    }

    /// Whether the node takes digits (menus and inputs).
    fn listens(&self) -> bool {
        matches!(self, IvrNode::Menu(_) | IvrNode::Input(_))
    }
}

/// A `play` or `query` node.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptNode {
    /// The prompt.
    pub prompt: String,
    /// Trigger → voice onset of `prompt`.
    pub delay: Delay,
    /// Entered when the prompt ends; its delay counts from that end.
    pub next: String,
}

/// A `menu` node.
#[derive(Debug, Clone, PartialEq)]
pub struct MenuNode {
    /// The menu prompt.
    pub prompt: String,
    /// Trigger → voice onset of `prompt`.
    pub delay: Delay,
    /// A key stops the prompt at once; otherwise keys wait for its end (type-ahead).
    pub barge_in: bool,
    /// Key → node.
    pub options: BTreeMap<char, String>,
    /// What an unknown key plays; `None` replays the menu.
    pub invalid: Option<InvalidEntry>,
    /// No key for this long after the prompt ends is a failure.
    pub timeout: Duration,
    /// Failures (no input, unknown key) allowed before `on_exhausted`.
    pub retries: u32,
    /// Entered after `retries` + 1 failures.
    pub on_exhausted: String,
}

/// An `input` node.
#[derive(Debug, Clone, PartialEq)]
pub struct InputNode {
    /// The request prompt.
    pub prompt: String,
    /// Trigger → voice onset of `prompt`.
    pub delay: Delay,
    /// A key stops the prompt at once; otherwise keys wait for its end.
    pub barge_in: bool,
    /// The key that ends the input (not part of it), e.g. `#`.
    pub terminator: Option<char>,
    /// Fewer digits is a failure.
    pub min_digits: u32,
    /// The input ends by itself at this many digits.
    pub max_digits: u32,
    /// No first digit for this long after the prompt ends is a failure.
    pub timeout: Duration,
    /// Longest gap between digits; then the input ends with what it has.
    pub digit_timeout: Duration,
    /// Failures allowed before `on_exhausted`.
    pub retries: u32,
    /// Entered after `retries` + 1 failures.
    pub on_exhausted: String,
    /// What too few digits play; `None` replays the request.
    pub invalid: Option<InvalidEntry>,
    /// Entered with the digits; its delay counts from the end of the last key.
    pub next: String,
}

/// `invalid`: what a menu or input plays after an unknown key or too few digits.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidEntry {
    /// The prompt ("that is not a valid choice").
    pub prompt: String,
    /// End of the offending key (or expiry of the inter-digit timeout) → voice onset.
    pub delay: Delay,
    /// Entered when the prompt ends (default: the same node).
    pub next: String,
}

/// A `transfer` node.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferNode {
    /// The queue (an `agents` entry).
    pub queue: String,
    /// The hold prompt, if any.
    pub prompt: Option<String>,
    /// Trigger → voice onset of the hold prompt.
    pub delay: Delay,
    /// Gap from the end of the hold prompt to the voice onset of its repetition.
    pub hold_repeat: Option<Duration>,
    /// The agent's greeting.
    pub agent_prompt: Option<String>,
    /// How the answer shows on the line.
    pub announce: Announce,
}

/// A `hangup` node.
#[derive(Debug, Clone, PartialEq)]
pub struct HangupNode {
    /// The goodbye prompt, if any; BYE follows its end.
    pub prompt: Option<String>,
    /// Trigger → voice onset of the prompt, or → BYE without a prompt.
    pub delay: Delay,
}

/// One `agents` entry: a pool of identical agents.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentQueue {
    /// `count`: agents in the pool.
    pub agents: u32,
    /// `answer_delay`: agent answer → voice onset of the greeting.
    pub answer_delay: Delay,
    /// `handle_time`: agent answer → the call center's BYE.
    pub handle_time: Delay,
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Reads, parses and validates an IVR definition, loading every prompt.
pub fn load_ivr(path: &Path) -> Result<IvrDefinition, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_ivr(&text, path)
}

/// Parses and validates definition text; `path` names the file in errors and is the base of
/// the prompt paths.
pub fn parse_ivr(text: &str, path: &Path) -> Result<IvrDefinition, ScenarioError> {
    let raw: RawIvr = from_yaml(text, path)?;
    raw.validate(path)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIvr {
    name: Spanned<String>,
    prompts: BTreeMap<String, Spanned<String>>,
    start: Spanned<String>,
    #[serde(default)]
    dtmf_methods: Option<Spanned<Vec<DtmfMethod>>>,
    nodes: Spanned<BTreeMap<String, RawNode>>,
    #[serde(default)]
    agents: BTreeMap<String, RawQueue>,
    #[serde(default)]
    seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum NodeType {
    Play,
    Query,
    Menu,
    Input,
    Transfer,
    Hangup,
}

impl NodeType {
    fn name(self) -> &'static str {
        match self {
            NodeType::Play => "play",
            NodeType::Query => "query",
            NodeType::Menu => "menu",
            NodeType::Input => "input",
            NodeType::Transfer => "transfer",
            NodeType::Hangup => "hangup",
        }
    }

    /// The fields this type uses (besides `type`).
    fn fields(self) -> &'static [&'static str] {
        match self {
            NodeType::Play | NodeType::Query => &["prompt", "delay", "next"],
            NodeType::Menu => &[
                "prompt",
                "delay",
                "barge_in",
                "options",
                "invalid",
                "timeout",
                "retries",
                "on_exhausted",
            ],
            NodeType::Input => &[
                "prompt",
                "delay",
                "barge_in",
                "terminator",
                "min_digits",
                "max_digits",
                "timeout",
                "digit_timeout",
                "retries",
                "on_exhausted",
                "invalid",
                "next",
            ],
            NodeType::Transfer => &[
                "queue",
                "prompt",
                "delay",
                "hold_repeat",
                "agent_prompt",
                "announce",
            ],
            NodeType::Hangup => &["prompt", "delay"],
        }
    }
}

/// Every field of every node type; which ones a type accepts is checked after parsing so that
/// the error can point at the field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    #[serde(rename = "type")]
    kind: Spanned<NodeType>,
    #[serde(default)]
    prompt: Option<Spanned<String>>,
    #[serde(default)]
    delay: Option<Spanned<RawDelay>>,
    #[serde(default)]
    next: Option<Spanned<String>>,
    #[serde(default)]
    barge_in: Option<Spanned<bool>>,
    #[serde(default)]
    options: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    #[serde(default)]
    invalid: Option<Spanned<RawInvalid>>,
    #[serde(default)]
    timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    retries: Option<Spanned<u32>>,
    #[serde(default)]
    on_exhausted: Option<Spanned<String>>,
    #[serde(default)]
    terminator: Option<Spanned<String>>,
    #[serde(default)]
    min_digits: Option<Spanned<u32>>,
    #[serde(default)]
    max_digits: Option<Spanned<u32>>,
    #[serde(default)]
    digit_timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    queue: Option<Spanned<String>>,
    #[serde(default)]
    hold_repeat: Option<Spanned<Dur>>,
    #[serde(default)]
    agent_prompt: Option<Spanned<String>>,
    #[serde(default)]
    announce: Option<Spanned<Announce>>,
}

impl RawNode {
    /// The fields present, with where they are.
    fn present(&self) -> Vec<(&'static str, Location)> {
        fn at<T>(s: &Option<Spanned<T>>) -> Option<Location> {
            s.as_ref().map(|s| s.referenced)
        }
        let all = [
            ("prompt", at(&self.prompt)),
            ("delay", at(&self.delay)),
            ("next", at(&self.next)),
            ("barge_in", at(&self.barge_in)),
            ("options", at(&self.options)),
            ("invalid", at(&self.invalid)),
            ("timeout", at(&self.timeout)),
            ("retries", at(&self.retries)),
            ("on_exhausted", at(&self.on_exhausted)),
            ("terminator", at(&self.terminator)),
            ("min_digits", at(&self.min_digits)),
            ("max_digits", at(&self.max_digits)),
            ("digit_timeout", at(&self.digit_timeout)),
            ("queue", at(&self.queue)),
            ("hold_repeat", at(&self.hold_repeat)),
            ("agent_prompt", at(&self.agent_prompt)),
            ("announce", at(&self.announce)),
        ];
        all.into_iter()
            .filter_map(|(name, loc)| loc.map(|l| (name, l)))
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvalid {
    prompt: Spanned<String>,
    #[serde(default)]
    delay: Option<Spanned<RawDelay>>,
    #[serde(default)]
    next: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    count: Spanned<u32>,
    handle_time: Spanned<RawDelay>,
    #[serde(default)]
    answer_delay: Option<Spanned<RawDelay>>,
}

/// A delay as written: a duration string, or a `{ dist: ... }` map (also read by the call
/// center's `schedule`, see `super::config`).
pub(super) enum RawDelay {
    Fixed(Duration),
    Dist(Box<RawDist>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDist {
    dist: Spanned<String>,
    #[serde(default)]
    mean: Option<Spanned<Dur>>,
    #[serde(default)]
    sd: Option<Spanned<Dur>>,
    #[serde(default)]
    min: Option<Spanned<Dur>>,
    #[serde(default)]
    max: Option<Spanned<Dur>>,
}

impl<'de> Deserialize<'de> for RawDelay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DelayVisitor;
        impl<'de> Visitor<'de> for DelayVisitor {
            type Value = RawDelay;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration (800ms, 2s) or a distribution such as \
{ dist: normal, mean: 2s, sd: 300ms }",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDelay, E> {
                parse_duration(v).map(RawDelay::Fixed).map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDelay, A::Error> {
                RawDist::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|d| RawDelay::Dist(Box::new(d)))
            }
        }
        d.deserialize_any(DelayVisitor)
    }
}

const DISTRIBUTIONS: &str = "normal, uniform, lognormal, exponential";

/// Validates a delay at `field`.
pub(super) fn delay(
    file: &Path,
    raw: &Spanned<RawDelay>,
    field: &str,
) -> Result<Delay, ScenarioError> {
    let d = match &raw.value {
        RawDelay::Fixed(d) => return Ok(Delay::Fixed(*d)),
        RawDelay::Dist(d) => d,
    };
    let kind = d.dist.value.trim().to_ascii_lowercase();
    let (wanted, optional): (&[&str], &[&str]) = match kind.as_str() {
        "normal" | "lognormal" => (&["mean", "sd"], &[]),
        "uniform" => (&["min", "max"], &[]),
        "exponential" => (&["mean"], &[]),
        _ => {
            return Err(invalid(
                file,
                &d.dist,
                &format!("{field}.dist"),
                format!(
                    "unknown distribution {:?} (expected {DISTRIBUTIONS})",
                    d.dist.value
                ),
            ))
        }
    };
    let given = [
        ("mean", &d.mean),
        ("sd", &d.sd),
        ("min", &d.min),
        ("max", &d.max),
    ];
    for (name, value) in given {
        match value {
            Some(v) if !wanted.contains(&name) && !optional.contains(&name) => {
                return Err(invalid(
                    file,
                    v,
                    &format!("{field}.{name}"),
                    format!(
                        "not a parameter of a {kind} distribution (it takes {})",
                        wanted.join(", ")
                    ),
                ))
            }
            None if wanted.contains(&name) => {
                return Err(invalid(
                    file,
                    &d.dist,
                    &format!("{field}.{name}"),
                    format!("required by a {kind} distribution"),
                ))
            }
            _ => {}
        }
    }
    let get = |v: &Option<Spanned<Dur>>| v.as_ref().map_or(Duration::ZERO, |s| s.value.0);
    let positive_mean = || match &d.mean {
        Some(m) if m.value.0.is_zero() => Err(invalid(
            file,
            m,
            &format!("{field}.mean"),
            format!("a {kind} distribution needs a mean greater than 0"),
        )),
        _ => Ok(get(&d.mean)),
    };
    Ok(match kind.as_str() {
        "normal" => Delay::Normal {
            mean: get(&d.mean),
            sd: get(&d.sd),
        },
        "lognormal" => Delay::LogNormal {
            mean: positive_mean()?,
            sd: get(&d.sd),
        },
        "exponential" => Delay::Exponential {
            mean: positive_mean()?,
        },
        _ => {
            let (min, max) = (get(&d.min), get(&d.max));
            if let Some(at) = d.max.as_ref().filter(|_| min > max) {
                return Err(invalid(
                    file,
                    at,
                    &format!("{field}.max"),
                    format!("must not be less than min ({max:?} < {min:?})"),
                ));
            }
            Delay::Uniform { min, max }
        }
    })
}

/// One DTMF key from `text` (`a`-`d` as `A`-`D`), or an error at `value`.
fn dtmf_key<T>(
    file: &Path,
    value: &Spanned<T>,
    text: &str,
    field: &str,
) -> Result<char, ScenarioError> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if DTMF_KEYS.contains(c.to_ascii_uppercase()) => Ok(c.to_ascii_uppercase()),
        _ => Err(invalid(
            file,
            value,
            field,
            format!("{text:?} is not one DTMF key (0-9, *, #, A-D)"),
        )),
    }
}

/// Checks names against the definition while building it.
struct Names<'a> {
    file: &'a Path,
    nodes: Vec<String>,
    prompts: Vec<String>,
    queues: Vec<String>,
}

impl Names<'_> {
    fn node(&self, s: &Spanned<String>, field: &str) -> Result<String, ScenarioError> {
        Self::lookup(self.file, s, field, "node", &self.nodes)
    }

    fn prompt(&self, s: &Spanned<String>, field: &str) -> Result<String, ScenarioError> {
        Self::lookup(self.file, s, field, "prompt", &self.prompts)
    }

    fn queue(&self, s: &Spanned<String>, field: &str) -> Result<String, ScenarioError> {
        Self::lookup(self.file, s, field, "agent queue", &self.queues)
    }

    fn lookup(
        file: &Path,
        s: &Spanned<String>,
        field: &str,
        what: &str,
        known: &[String],
    ) -> Result<String, ScenarioError> {
        let name = s.value.trim();
        if known.iter().any(|k| k == name) {
            return Ok(name.to_string());
        }
        let known = if known.is_empty() {
            "none are defined".to_string()
        } else {
            format!("known: {}", known.join(", "))
        };
        Err(invalid(
            file,
            s,
            field,
            format!("no {what} named {name:?} ({known})"),
        ))
    }
}

impl RawIvr {
    fn validate(self, file: &Path) -> Result<IvrDefinition, ScenarioError> {
        let name = self.name.value.trim().to_string();
        if name.is_empty() {
            return Err(invalid(file, &self.name, "name", "must not be empty"));
        }
        let mut prompts = BTreeMap::new();
        for (pname, p) in &self.prompts {
            let field = format!("prompts.{pname}");
            prompts.insert(pname.clone(), load_prompt(file, p, &field)?);
        }
        let names = Names {
            file,
            nodes: self.nodes.value.keys().cloned().collect(),
            prompts: self.prompts.keys().cloned().collect(),
            queues: self.agents.keys().cloned().collect(),
        };
        if self.nodes.value.is_empty() {
            return Err(invalid(file, &self.nodes, "nodes", "must define a node"));
        }
        let start = names.node(&self.start, "start")?;
        let dtmf_methods = match &self.dtmf_methods {
            None => vec![DtmfMethod::Rfc4733, DtmfMethod::Info, DtmfMethod::Inband],
            Some(list) => {
                if list.value.is_empty() {
                    return Err(invalid(
                        file,
                        list,
                        "dtmf_methods",
                        "must list at least one of rfc4733, info, inband",
                    ));
                }
                let mut out: Vec<DtmfMethod> = Vec::new();
                for (i, m) in list.value.iter().enumerate() {
                    if out.contains(m) {
                        return Err(invalid(
                            file,
                            list,
                            &format!("dtmf_methods[{i}]"),
                            "is listed twice",
                        ));
                    }
                    out.push(*m);
                }
                out
            }
        };
        let mut queues = BTreeMap::new();
        for (qname, q) in &self.agents {
            let field = format!("agents.{qname}");
            if q.count.value < 1 {
                return Err(invalid(
                    file,
                    &q.count,
                    &format!("{field}.count"),
                    "must be at least 1",
                ));
            }
            let answer_delay = match &q.answer_delay {
                Some(d) => delay(file, d, &format!("{field}.answer_delay"))?,
                None => Delay::Fixed(Duration::ZERO),
            };
            queues.insert(
                qname.clone(),
                AgentQueue {
                    agents: q.count.value,
                    answer_delay,
                    handle_time: delay(file, &q.handle_time, &format!("{field}.handle_time"))?,
                },
            );
        }
        let mut nodes = BTreeMap::new();
        for (nname, raw) in &self.nodes.value {
            let node = validate_node(&names, nname, raw)?;
            nodes.insert(nname.clone(), node);
        }
        Ok(IvrDefinition {
            name,
            file: file.to_path_buf(),
            prompts,
            start,
            dtmf_methods,
            nodes,
            queues,
            seed: self.seed.unwrap_or(11),
        })
    }
}

/// Loads one prompt file: it must exist, be 8 kHz mono 16-bit and contain speech.
fn load_prompt(file: &Path, p: &Spanned<String>, field: &str) -> Result<IvrPrompt, ScenarioError> {
    let rel = p.value.trim();
    if rel.is_empty() {
        return Err(invalid(file, p, field, "expected a WAV file path"));
    }
    let path = relative_to(file, rel);
    if !path.is_file() {
        return Err(ScenarioError::FileNotFound {
            at: position(file, Some(p.referenced)),
            field: field.to_string(),
            path,
        });
    }
    let audio = AudioSource::from_wav(&path).map_err(|e| invalid(file, p, field, e.to_string()))?;
    // The onset as the harness's prompt segmenter finds it, so that a configured delay is the
    // delay the harness measures to the same sample.
    let segmenter = crate::media::prompt::SegmenterConfig {
        threshold_dbov: DEFAULT_THRESHOLD_DBOV,
        ..crate::media::prompt::SegmenterConfig::default()
    };
    let onset = crate::media::prompt::segments_of(audio.samples(), segmenter)
        .first()
        .map(|(start, _)| crate::media::audio::samples_to_duration(*start));
    let Some(voice_onset) = onset else {
        return Err(invalid(
            file,
            p,
            field,
            format!(
                "{}: no speech above {DEFAULT_THRESHOLD_DBOV} dBov",
                path.display()
            ),
        ));
    };
    Ok(IvrPrompt {
        path,
        audio,
        voice_onset,
    })
}

/// A required field's value, or the error `missing` makes.
fn required<T>(
    v: &Option<Spanned<T>>,
    missing: impl FnOnce() -> ScenarioError,
) -> Result<&Spanned<T>, ScenarioError> {
    v.as_ref().ok_or_else(missing)
}

fn validate_node(names: &Names<'_>, nname: &str, raw: &RawNode) -> Result<IvrNode, ScenarioError> {
    let file = names.file;
    let kind = raw.kind.value;
    let base = format!("nodes.{nname}");
    let field = |f: &str| format!("{base}.{f}");
    for (f, loc) in raw.present() {
        if !kind.fields().contains(&f) {
            return Err(ScenarioError::Invalid {
                at: position(file, Some(loc)),
                field: field(f),
                message: format!(
                    "not a field of a {} node (its fields: {})",
                    kind.name(),
                    kind.fields().join(", ")
                ),
            });
        }
    }
    let missing = |f: &str| {
        invalid(
            file,
            &raw.kind,
            &field(f),
            format!("required by a {} node", kind.name()),
        )
    };
    let delay_of = |req: bool| -> Result<Delay, ScenarioError> {
        match &raw.delay {
            Some(d) => delay(file, d, &field("delay")),
            None if req => Err(missing("delay")),
            None => Ok(Delay::Fixed(Duration::ZERO)),
        }
    };
    let positive = |v: &Option<Spanned<Dur>>, f: &str, default: Duration| match v {
        Some(s) if s.value.0.is_zero() => {
            Err(invalid(file, s, &field(f), "must be greater than 0"))
        }
        Some(s) => Ok(s.value.0),
        None => Ok(default),
    };
    let invalid_entry = |own: &Delay| -> Result<Option<InvalidEntry>, ScenarioError> {
        let Some(inv) = &raw.invalid else {
            return Ok(None);
        };
        Ok(Some(InvalidEntry {
            prompt: names.prompt(&inv.value.prompt, &field("invalid.prompt"))?,
            delay: match &inv.value.delay {
                Some(d) => delay(file, d, &field("invalid.delay"))?,
                None => *own,
            },
            next: match &inv.value.next {
                Some(n) => names.node(n, &field("invalid.next"))?,
                None => nname.to_string(),
            },
        }))
    };
    let retries = raw.retries.as_ref().map_or(2, |r| r.value);
    let barge_in = raw.barge_in.as_ref().is_some_and(|b| b.value);
    Ok(match kind {
        NodeType::Play | NodeType::Query => {
            let n = PromptNode {
                prompt: names.prompt(
                    required(&raw.prompt, || missing("prompt"))?,
                    &field("prompt"),
                )?,
                delay: delay_of(true)?,
                next: names.node(required(&raw.next, || missing("next"))?, &field("next"))?,
            };
            if kind == NodeType::Play {
                IvrNode::Play(n)
            } else {
                IvrNode::Query(n)
            }
        }
        NodeType::Menu => {
            let options_raw = raw.options.as_ref().ok_or_else(|| missing("options"))?;
            if options_raw.value.is_empty() {
                return Err(invalid(
                    file,
                    options_raw,
                    &field("options"),
                    "must map at least one key to a node",
                ));
            }
            let mut options = BTreeMap::new();
            for (key, target) in &options_raw.value {
                let f = field(&format!("options.{key}"));
                let k = dtmf_key(file, target, key, &f)?;
                if options.insert(k, names.node(target, &f)?).is_some() {
                    return Err(invalid(file, target, &f, "key listed twice"));
                }
            }
            let d = delay_of(true)?;
            IvrNode::Menu(MenuNode {
                prompt: names.prompt(
                    required(&raw.prompt, || missing("prompt"))?,
                    &field("prompt"),
                )?,
                invalid: invalid_entry(&d)?,
                delay: d,
                barge_in,
                options,
                timeout: positive(&raw.timeout, "timeout", Duration::from_secs(5))?,
                retries,
                on_exhausted: names.node(
                    required(&raw.on_exhausted, || missing("on_exhausted"))?,
                    &field("on_exhausted"),
                )?,
            })
        }
        NodeType::Input => {
            let terminator = match &raw.terminator {
                Some(t) => Some(dtmf_key(file, t, t.value.trim(), &field("terminator"))?),
                None => None,
            };
            let max_raw = raw
                .max_digits
                .as_ref()
                .ok_or_else(|| missing("max_digits"))?;
            let max_digits = max_raw.value;
            if !(1..=MAX_INPUT_DIGITS).contains(&max_digits) {
                return Err(invalid(
                    file,
                    max_raw,
                    &field("max_digits"),
                    format!("must be 1 to {MAX_INPUT_DIGITS}"),
                ));
            }
            let min_digits = match &raw.min_digits {
                Some(m) if m.value > max_digits => {
                    return Err(invalid(
                        file,
                        m,
                        &field("min_digits"),
                        format!("must not exceed max_digits ({max_digits})"),
                    ))
                }
                Some(m) => m.value,
                None => 1,
            };
            let d = delay_of(true)?;
            IvrNode::Input(InputNode {
                prompt: names.prompt(
                    required(&raw.prompt, || missing("prompt"))?,
                    &field("prompt"),
                )?,
                invalid: invalid_entry(&d)?,
                delay: d,
                barge_in,
                terminator,
                min_digits,
                max_digits,
                timeout: positive(&raw.timeout, "timeout", Duration::from_secs(5))?,
                digit_timeout: positive(
                    &raw.digit_timeout,
                    "digit_timeout",
                    Duration::from_secs(5),
                )?,
                retries,
                on_exhausted: names.node(
                    required(&raw.on_exhausted, || missing("on_exhausted"))?,
                    &field("on_exhausted"),
                )?,
                next: names.node(required(&raw.next, || missing("next"))?, &field("next"))?,
            })
        }
        NodeType::Transfer => {
            let prompt = match &raw.prompt {
                Some(p) => Some(names.prompt(p, &field("prompt"))?),
                None => None,
            };
            if let (None, Some(r)) = (&prompt, &raw.hold_repeat) {
                return Err(invalid(
                    file,
                    r,
                    &field("hold_repeat"),
                    "repeats the hold prompt: needs `prompt`",
                ));
            }
            let announce = raw
                .announce
                .as_ref()
                .map_or(Announce::default(), |a| a.value);
            let agent_prompt = match (&raw.agent_prompt, announce) {
                (Some(p), Announce::Reinvite) => {
                    return Err(invalid(
                        file,
                        p,
                        &field("agent_prompt"),
                        "not played with `announce: reinvite` (use prompt or both)",
                    ))
                }
                (Some(p), _) => Some(names.prompt(p, &field("agent_prompt"))?),
                (None, Announce::Reinvite) => None,
                (None, _) => return Err(missing("agent_prompt")),
            };
            IvrNode::Transfer(TransferNode {
                queue: names.queue(required(&raw.queue, || missing("queue"))?, &field("queue"))?,
                delay: delay_of(prompt.is_some())?,
                prompt,
                hold_repeat: match &raw.hold_repeat {
                    Some(_) => Some(positive(&raw.hold_repeat, "hold_repeat", Duration::ZERO)?),
                    None => None,
                },
                agent_prompt,
                announce,
            })
        }
        NodeType::Hangup => {
            let prompt = match &raw.prompt {
                Some(p) => Some(names.prompt(p, &field("prompt"))?),
                None => None,
            };
            IvrNode::Hangup(HangupNode {
                delay: delay_of(prompt.is_some())?,
                prompt,
            })
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The per-call state machine
// ---------------------------------------------------------------------------------------------

/// What the driver must do for a call, in order (see [`IvrCall::poll_action`]).
#[derive(Debug, Clone)]
pub enum IvrAction {
    /// Play `audio` from `start_at`, skipping its first `skip`, so that its voice onset falls
    /// exactly on `voice_at`. Emitted at the trigger, usually before `start_at`; a later
    /// [`IvrAction::StopPlaying`] at or before `start_at` cancels it. It replaces nothing:
    /// prompts never overlap.
    Play {
        /// The prompt's name in the definition.
        prompt: String,
        /// Its audio.
        audio: AudioSource,
        /// The wanted voice onset: trigger + the node's delay (the ground truth).
        voice_at: Instant,
        /// When the first sample goes out: `voice_at` − the prompt's voice onset offset, but not
        /// before the trigger.
        start_at: Instant,
        /// Audio to skip at the start: nonzero only when the delay is shorter than the prompt's
        /// own lead-in (then `start_at` is the trigger).
        skip: Duration,
    },
    /// Stop the prompt playing (or cancel the one scheduled) at `at`: the caller barged in or an
    /// agent answered.
    StopPlaying {
        /// When.
        at: Instant,
    },
    /// Ask the queue's [`AgentPool`] for an agent ([`AgentPool::request`]); when one is (or
    /// becomes) free, call [`IvrCall::on_agent_answered`].
    QueueForAgent {
        /// The queue.
        queue: String,
        /// When the call joined the queue.
        at: Instant,
    },
    /// An agent took the call; announce it on the line as `announce` says.
    AgentConnected {
        /// The queue.
        queue: String,
        /// The agent's id in the pool.
        agent: u32,
        /// Greeting prompt, re-INVITE, or both.
        announce: Announce,
        /// When the agent answered.
        at: Instant,
    },
    /// The call is over for the agent: [`AgentPool::release`] it.
    ReleaseAgent {
        /// The queue.
        queue: String,
        /// The agent.
        agent: u32,
        /// When the call ended.
        at: Instant,
    },
    /// The caller hung up while waiting: [`AgentPool::abandon`].
    LeaveQueue {
        /// The queue.
        queue: String,
        /// When.
        at: Instant,
    },
    /// Send BYE at `at`.
    Hangup {
        /// When.
        at: Instant,
    },
}

/// Why a menu or input did not get a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No key before the timeout.
    NoInput,
    /// A key that is not an option of the menu.
    UnknownOption(char),
    /// An input ended with fewer than `min_digits` digits.
    TooFewDigits(String),
}

/// What became of a key the caller pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitHandling {
    /// Acted on at once.
    Acted,
    /// Kept until the prompt ends (type-ahead).
    Buffered,
    /// Not listening here (play, query, transfer, hangup node), or the type-ahead was full.
    Ignored,
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupBy {
    /// The IVR (goodbye, end of the agent's handle time, menu exhausted).
    Ivr,
    /// The caller.
    Caller,
}

/// One entry of a call's ground-truth log ([`IvrCall::history`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrStep {
    /// The call was answered.
    Answered {
        /// When.
        at: Instant,
    },
    /// A node was entered; `at` is the trigger its delay counts from.
    Entered {
        /// The node.
        node: String,
        /// The trigger.
        at: Instant,
    },
    /// A prompt was scheduled.
    Prompt {
        /// The node playing it.
        node: String,
        /// The prompt.
        prompt: String,
        /// First sample sent.
        start_at: Instant,
        /// Voice onset (ground truth).
        voice_at: Instant,
        /// Last sample sent, unless stopped.
        ends_at: Instant,
    },
    /// A prompt was stopped (or cancelled before it started).
    PromptStopped {
        /// The prompt.
        prompt: String,
        /// When.
        at: Instant,
    },
    /// A key ended (the instant responses count from).
    Digit {
        /// The key.
        digit: char,
        /// End of the key.
        at: Instant,
        /// What became of it.
        handling: DigitHandling,
    },
    /// An input node accepted digits (without the terminator).
    Input {
        /// The node.
        node: String,
        /// The digits.
        digits: String,
        /// The trigger of the next node.
        at: Instant,
    },
    /// A menu or input failed; `attempt` counts failures in this node.
    Failure {
        /// The node.
        node: String,
        /// Why.
        reason: Failure,
        /// 1 for the first failure.
        attempt: u32,
        /// When.
        at: Instant,
    },
    /// The call joined an agent queue.
    Queued {
        /// The queue.
        queue: String,
        /// When.
        at: Instant,
    },
    /// An agent answered.
    AgentConnected {
        /// The queue.
        queue: String,
        /// The agent.
        agent: u32,
        /// When.
        at: Instant,
    },
    /// The call ended.
    Hangup {
        /// Who ended it.
        by: HangupBy,
        /// When.
        at: Instant,
    },
}

/// What happens when a timed phase runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Then {
    /// The menu or input prompt ended: listen.
    Listen,
    /// Enter this node (its delay counts from now).
    Enter(String),
    /// Send BYE.
    Hangup,
    /// The hold prompt ended: repeat it or wait in silence.
    Hold,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Not answered yet.
    Idle,
    /// A prompt (or a plain delay) runs until `at`.
    Until { at: Instant, then: Then },
    /// A menu or input waits for keys until `deadline`.
    Listening { deadline: Instant },
    /// Queued for an agent, nothing playing.
    Queued,
    /// Over.
    Ended,
}

/// The queue a call is in, and its agent once one answered.
#[derive(Debug, Clone)]
struct QueueSlot {
    queue: String,
    agent: Option<u32>,
}

/// One call's walk through an IVR: sans-IO, time is always an input.
///
/// Feed it [`on_answered`](Self::on_answered), the caller's keys
/// ([`on_digit_started`](Self::on_digit_started), [`on_digit`](Self::on_digit)), agent answers
/// and [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout); drain
/// [`poll_action`](Self::poll_action) after each. Prompt ends are computed from the prompt's
/// length, so there is no "prompt finished" input. Every input first runs the timers due up to
/// its own instant, so events and timers are handled in time order.
///
/// Keys: menus and inputs act on keys; with `barge_in` a key stops the prompt at its start and
/// is acted on at its end; without, keys pressed during the prompt are buffered (type-ahead,
/// at most [`MAX_TYPE_AHEAD`]) and acted on when the prompt ends, which is then the trigger of
/// what follows. Keys left after a choice carry into the next menu or input (a barge-in node
/// then skips its prompt). Other nodes ignore keys and drop the buffer.
#[derive(Debug)]
pub struct IvrCall {
    def: Arc<IvrDefinition>,
    rng: StdRng,
    node: String,
    phase: Phase,
    /// Failures in the current node (reset when another node is entered).
    failures: u32,
    /// Digits of the current input.
    collected: String,
    /// Type-ahead.
    pending: VecDeque<char>,
    queue: Option<QueueSlot>,
    /// The queue the caller left by hanging up while waiting (a late answer is handed back).
    left_queue: Option<String>,
    /// The prompt scheduled or playing, and its end.
    playing: Option<(String, Instant)>,
    actions: VecDeque<IvrAction>,
    history: Vec<IvrStep>,
}

/// Timer firings handled by one call of `advance` at most: a guard against a definition edited
/// in code into a loop of zero-length prompts (loaded definitions always move time forward).
const MAX_FIRINGS: usize = 10_000;

impl IvrCall {
    /// A call through `def`, drawing its delays from `seed` (see [`IvrDefinition::call_seed`]).
    pub fn new(def: Arc<IvrDefinition>, seed: u64) -> Self {
        IvrCall {
            def,
            rng: StdRng::seed_from_u64(seed),
            node: String::new(),
            phase: Phase::Idle,
            failures: 0,
            collected: String::new(),
            pending: VecDeque::new(),
            queue: None,
            left_queue: None,
            playing: None,
            actions: VecDeque::new(),
            history: Vec::new(),
        }
    }

    /// The call was answered at `now`: enter the start node (its delay counts from `now`).
    pub fn on_answered(&mut self, now: Instant) {
        if self.phase != Phase::Idle {
            return;
        }
        self.history.push(IvrStep::Answered { at: now });
        let start = self.def.start.clone();
        self.enter(&start, now);
    }

    /// A key started at `at` (RFC 4733 first event packet, tone onset): barges in on a prompt of
    /// a node with `barge_in`, and holds off the no-input timer until the key ends.
    pub fn on_digit_started(&mut self, digit: char, at: Instant) {
        self.advance(at);
        if !DTMF_KEYS.contains(digit.to_ascii_uppercase()) {
            return;
        }
        let def = self.definition();
        let Some(node) = def.nodes.get(&self.node) else {
            return;
        };
        match self.phase {
            Phase::Until {
                then: Then::Listen, ..
            } if barge_in(node) => {
                self.stop(at);
                self.phase = Phase::Listening {
                    deadline: at + self.listen_timeout(node),
                };
            }
            Phase::Listening { deadline } => {
                self.phase = Phase::Listening {
                    deadline: deadline.max(at + self.listen_timeout(node)),
                };
            }
            _ => {}
        }
    }

    /// A key ended at `end_at` (the origin of the response delay).
    pub fn on_digit(&mut self, digit: char, end_at: Instant) {
        let digit = digit.to_ascii_uppercase();
        self.advance(end_at);
        let def = self.definition();
        let node = def.nodes.get(&self.node);
        let listens = node.is_some_and(IvrNode::listens) && DTMF_KEYS.contains(digit);
        let handling = match (&self.phase, node) {
            (Phase::Listening { .. }, _) if listens => DigitHandling::Acted,
            (
                Phase::Until {
                    then: Then::Listen, ..
                },
                Some(n),
            ) if listens && barge_in(n) => {
                self.stop(end_at);
                self.phase = Phase::Listening { deadline: end_at };
                DigitHandling::Acted
            }
            (Phase::Until { .. }, _) if listens && self.pending.len() < MAX_TYPE_AHEAD => {
                DigitHandling::Buffered
            }
            _ => DigitHandling::Ignored,
        };
        self.history.push(IvrStep::Digit {
            digit,
            at: end_at,
            handling,
        });
        match handling {
            DigitHandling::Acted => {
                self.act_on_digit(digit, end_at);
                self.settle(end_at);
            }
            DigitHandling::Buffered => self.pending.push_back(digit),
            DigitHandling::Ignored => {}
        }
    }

    /// The agent `agent` of the call's queue answered at `at`: stop the hold prompt, announce
    /// the agent, play the greeting `answer_delay` later, hang up after the handle time.
    ///
    /// An answer that comes after the caller left the queue (a race in the driver) is handed
    /// straight back as [`IvrAction::ReleaseAgent`]; other unexpected answers are ignored.
    pub fn on_agent_answered(&mut self, agent: u32, at: Instant) {
        self.advance(at);
        if let Some(queue) = self.left_queue.take() {
            self.actions
                .push_back(IvrAction::ReleaseAgent { queue, agent, at });
            return;
        }
        let waiting = matches!(
            self.phase,
            Phase::Queued
                | Phase::Until {
                    then: Then::Hold,
                    ..
                }
        );
        let Some(slot) = self.queue.as_mut().filter(|s| waiting && s.agent.is_none()) else {
            return;
        };
        slot.agent = Some(agent);
        let queue = slot.queue.clone();
        self.stop(at);
        let def = self.definition();
        let (agent_prompt, announce) = match def.nodes.get(&self.node) {
            Some(IvrNode::Transfer(t)) => (t.agent_prompt.as_ref(), t.announce),
            _ => (None, Announce::default()),
        };
        self.actions.push_back(IvrAction::AgentConnected {
            queue: queue.clone(),
            agent,
            announce,
            at,
        });
        self.history.push(IvrStep::AgentConnected {
            queue: queue.clone(),
            agent,
            at,
        });
        let (answer_delay, handle) = match def.queues.get(&queue) {
            Some(q) => (
                q.answer_delay.sample(&mut self.rng),
                q.handle_time.sample(&mut self.rng),
            ),
            None => (Duration::ZERO, Duration::ZERO),
        };
        let mut hangup_at = at + handle;
        if let Some(p) = agent_prompt {
            let end = self.play(p, &Delay::Fixed(answer_delay), at);
            hangup_at = hangup_at.max(end);
        }
        self.phase = Phase::Until {
            at: hangup_at,
            then: Then::Hangup,
        };
    }

    /// The caller hung up (BYE received) at `at`; a queued call leaves its queue and an agent is
    /// released (as actions).
    pub fn on_caller_hangup(&mut self, at: Instant) {
        self.advance(at);
        self.hang_up(at, HangupBy::Caller);
    }

    /// Runs the timers due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Until { at, .. } => Some(at),
            Phase::Listening { deadline } => Some(deadline),
            Phase::Idle | Phase::Queued | Phase::Ended => None,
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_action(&mut self) -> Option<IvrAction> {
        self.actions.pop_front()
    }

    /// What happened so far, in order: the ground truth of the call.
    pub fn history(&self) -> &[IvrStep] {
        &self.history
    }

    /// The node the call is in (empty before the answer).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the call has ended.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// The definition, held apart from `self` so a node can be read while `self` changes.
    fn definition(&self) -> Arc<IvrDefinition> {
        Arc::clone(&self.def)
    }

    fn advance(&mut self, now: Instant) {
        for _ in 0..MAX_FIRINGS {
            match self.poll_timeout() {
                Some(at) if at <= now => self.fire(at),
                _ => break,
            }
        }
        if self.playing.as_ref().is_some_and(|(_, end)| *end <= now) {
            self.playing = None;
        }
    }

    fn fire(&mut self, at: Instant) {
        if self.playing.as_ref().is_some_and(|(_, end)| *end <= at) {
            self.playing = None;
        }
        let def = self.definition();
        let node = def.nodes.get(&self.node);
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Until { then, .. } => match then {
                Then::Listen => {
                    let timeout = node.map_or(Duration::ZERO, |n| self.listen_timeout(n));
                    self.phase = Phase::Listening {
                        deadline: at + timeout,
                    };
                    self.settle(at);
                }
                Then::Enter(next) => self.enter(&next, at),
                Then::Hangup => self.hang_up(at, HangupBy::Ivr),
                Then::Hold => self.hold_ended(at),
            },
            Phase::Listening { .. } => {
                let input_started =
                    matches!(node, Some(IvrNode::Input(_))) && !self.collected.is_empty();
                if input_started {
                    self.finish_input(at);
                } else {
                    self.fail(Failure::NoInput, at);
                }
            }
            other => self.phase = other,
        }
    }

    /// How long a listening node waits for the next key.
    fn listen_timeout(&self, node: &IvrNode) -> Duration {
        match node {
            IvrNode::Menu(m) => m.timeout,
            IvrNode::Input(i) if self.collected.is_empty() => i.timeout,
            IvrNode::Input(i) => i.digit_timeout,
            _ => Duration::ZERO,
        }
    }

    /// Acts on buffered keys while a node listens.
    fn settle(&mut self, at: Instant) {
        while matches!(self.phase, Phase::Listening { .. }) {
            let Some(d) = self.pending.pop_front() else {
                break;
            };
            self.act_on_digit(d, at);
        }
    }

    /// A key in a listening node, at its trigger instant `at`.
    fn act_on_digit(&mut self, digit: char, at: Instant) {
        let def = self.definition();
        match def.nodes.get(&self.node) {
            Some(IvrNode::Menu(m)) => match m.options.get(&digit) {
                Some(next) => self.enter(next, at),
                None => self.fail(Failure::UnknownOption(digit), at),
            },
            Some(IvrNode::Input(i)) => {
                if Some(digit) == i.terminator {
                    self.finish_input(at);
                    return;
                }
                self.collected.push(digit);
                if self.collected.len() >= i.max_digits as usize {
                    self.finish_input(at);
                } else {
                    self.phase = Phase::Listening {
                        deadline: at + i.digit_timeout,
                    };
                }
            }
            _ => self.hang_up(at, HangupBy::Ivr),
        }
    }

    /// An input ends (terminator, max_digits or inter-digit timeout) at `at`.
    fn finish_input(&mut self, at: Instant) {
        let def = self.definition();
        let Some(IvrNode::Input(i)) = def.nodes.get(&self.node) else {
            self.hang_up(at, HangupBy::Ivr);
            return;
        };
        let digits = std::mem::take(&mut self.collected);
        if digits.len() < i.min_digits as usize {
            self.fail(Failure::TooFewDigits(digits), at);
            return;
        }
        self.history.push(IvrStep::Input {
            node: self.node.clone(),
            digits,
            at,
        });
        self.enter(&i.next, at);
    }

    /// A menu or input failed at `at`: invalid prompt, replay, or `on_exhausted`.
    fn fail(&mut self, reason: Failure, at: Instant) {
        let def = self.definition();
        let (retries, exhausted, invalid) = match def.nodes.get(&self.node) {
            Some(IvrNode::Menu(m)) => (m.retries, &m.on_exhausted, &m.invalid),
            Some(IvrNode::Input(i)) => (i.retries, &i.on_exhausted, &i.invalid),
            _ => {
                self.hang_up(at, HangupBy::Ivr);
                return;
            }
        };
        self.failures += 1;
        self.collected.clear();
        self.pending.clear();
        self.history.push(IvrStep::Failure {
            node: self.node.clone(),
            reason: reason.clone(),
            attempt: self.failures,
            at,
        });
        if self.failures > retries {
            self.enter(exhausted, at);
            return;
        }
        match invalid {
            Some(inv) if reason != Failure::NoInput => {
                let end = self.play(&inv.prompt, &inv.delay, at);
                self.phase = Phase::Until {
                    at: end,
                    then: Then::Enter(inv.next.clone()),
                };
            }
            _ => {
                let here = self.node.clone();
                self.enter(&here, at);
            }
        }
    }

    /// Enters `name` with `at` as the trigger of its delay.
    fn enter(&mut self, name: &str, at: Instant) {
        let def = self.definition();
        if name != self.node {
            self.failures = 0;
        }
        self.node = name.to_string();
        self.collected.clear();
        self.history.push(IvrStep::Entered {
            node: name.to_string(),
            at,
        });
        let Some(node) = def.nodes.get(name) else {
            self.hang_up(at, HangupBy::Ivr);
            return;
        };
        if !node.listens() {
            self.pending.clear();
        }
        match node {
            IvrNode::Play(p) | IvrNode::Query(p) => {
                let end = self.play(&p.prompt, &p.delay, at);
                self.phase = Phase::Until {
                    at: end,
                    then: Then::Enter(p.next.clone()),
                };
            }
            IvrNode::Menu(MenuNode { prompt, delay, .. })
            | IvrNode::Input(InputNode { prompt, delay, .. }) => {
                if barge_in(node) && !self.pending.is_empty() {
                    // Type-ahead barges in before the prompt even starts.
                    self.phase = Phase::Listening {
                        deadline: at + self.listen_timeout(node),
                    };
                } else {
                    let end = self.play(prompt, delay, at);
                    self.phase = Phase::Until {
                        at: end,
                        then: Then::Listen,
                    };
                }
            }
            IvrNode::Transfer(t) => {
                self.queue = Some(QueueSlot {
                    queue: t.queue.clone(),
                    agent: None,
                });
                self.actions.push_back(IvrAction::QueueForAgent {
                    queue: t.queue.clone(),
                    at,
                });
                self.history.push(IvrStep::Queued {
                    queue: t.queue.clone(),
                    at,
                });
                self.phase = match &t.prompt {
                    Some(p) => Phase::Until {
                        at: self.play(p, &t.delay, at),
                        then: Then::Hold,
                    },
                    None => Phase::Queued,
                };
            }
            IvrNode::Hangup(h) => {
                let end = match &h.prompt {
                    Some(p) => self.play(p, &h.delay, at),
                    None => at + h.delay.sample(&mut self.rng),
                };
                self.phase = Phase::Until {
                    at: end,
                    then: Then::Hangup,
                };
            }
        }
    }

    /// The hold prompt ended at `at`: repeat it after `hold_repeat`, or wait in silence.
    fn hold_ended(&mut self, at: Instant) {
        let def = self.definition();
        let repeat = match def.nodes.get(&self.node) {
            Some(IvrNode::Transfer(t)) => t.prompt.as_ref().zip(t.hold_repeat),
            _ => None,
        };
        self.phase = match repeat {
            Some((p, gap)) => Phase::Until {
                at: self.play(p, &Delay::Fixed(gap), at),
                then: Then::Hold,
            },
            None => Phase::Queued,
        };
    }

    /// Schedules `prompt` with its voice `delay` after `trigger`; returns when it ends.
    fn play(&mut self, prompt: &str, delay: &Delay, trigger: Instant) -> Instant {
        let voice_at = trigger + delay.sample(&mut self.rng);
        let Some(p) = self.def.prompts.get(prompt) else {
            return voice_at;
        };
        let lead = voice_at - trigger;
        let (start_at, skip) = if lead >= p.voice_onset {
            (voice_at - p.voice_onset, Duration::ZERO)
        } else {
            (trigger, p.voice_onset - lead)
        };
        let ends_at = start_at + p.audio.duration().saturating_sub(skip);
        self.actions.push_back(IvrAction::Play {
            prompt: prompt.to_string(),
            audio: p.audio.clone(),
            voice_at,
            start_at,
            skip,
        });
        self.history.push(IvrStep::Prompt {
            node: self.node.clone(),
            prompt: prompt.to_string(),
            start_at,
            voice_at,
            ends_at,
        });
        self.playing = Some((prompt.to_string(), ends_at));
        ends_at
    }

    /// Stops the prompt scheduled or playing, if it has not ended by `at`.
    fn stop(&mut self, at: Instant) {
        if let Some((prompt, end)) = self.playing.take() {
            if end > at {
                self.actions.push_back(IvrAction::StopPlaying { at });
                self.history.push(IvrStep::PromptStopped { prompt, at });
            }
        }
    }

    fn hang_up(&mut self, at: Instant, by: HangupBy) {
        if matches!(self.phase, Phase::Ended) {
            return;
        }
        if let Some(slot) = self.queue.take() {
            self.actions.push_back(match slot.agent {
                Some(agent) => IvrAction::ReleaseAgent {
                    queue: slot.queue,
                    agent,
                    at,
                },
                None => {
                    self.left_queue = Some(slot.queue.clone());
                    IvrAction::LeaveQueue {
                        queue: slot.queue,
                        at,
                    }
                }
            });
        }
        if by == HangupBy::Ivr {
            self.actions.push_back(IvrAction::Hangup { at });
        }
        self.history.push(IvrStep::Hangup { by, at });
        self.phase = Phase::Ended;
        self.pending.clear();
        self.playing = None;
    }
}

fn barge_in(node: &IvrNode) -> bool {
    match node {
        IvrNode::Menu(m) => m.barge_in,
        IvrNode::Input(i) => i.barge_in,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

/// Counters of an [`AgentPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentPoolStats {
    /// Calls that got an agent.
    pub served: u64,
    /// Calls that hung up while waiting.
    pub abandoned: u64,
    /// Sum of the waits of served calls (zero for calls served at once).
    pub total_wait: Duration,
    /// Longest wait of a served call.
    pub max_wait: Duration,
}

/// The agents of one queue, shared by every call (the driver wraps it in a `Mutex`). Sans-IO.
///
/// Calls wait first come, first served; a free agent goes to the call that has waited
/// longest, and among free agents the one idle longest answers.
#[derive(Debug, Clone)]
pub struct AgentPool {
    /// Call served by each agent, by agent id.
    serving: Vec<Option<u64>>,
    /// Free agents, longest idle first.
    free: VecDeque<u32>,
    /// Waiting calls, in arrival order, with when they arrived.
    waiting: VecDeque<(u64, Instant)>,
    stats: AgentPoolStats,
}

impl AgentPool {
    /// `count` agents (ids 0 to `count` − 1), all free.
    pub fn new(count: u32) -> Self {
        AgentPool {
            serving: vec![None; count as usize],
            free: (0..count).collect(),
            waiting: VecDeque::new(),
            stats: AgentPoolStats::default(),
        }
    }

    /// Call `call` asks for an agent at `now`: the agent's id if one is free, else the call
    /// waits in line (asking again while waiting changes nothing).
    pub fn request(&mut self, call: u64, now: Instant) -> Option<u32> {
        if self.waiting.iter().any(|(c, _)| *c == call) {
            return None;
        }
        match self.free.pop_front() {
            Some(agent) => {
                self.assign(agent, call, Duration::ZERO);
                Some(agent)
            }
            None => {
                self.waiting.push_back((call, now));
                None
            }
        }
    }

    /// Agent `agent` finished its call at `now`: it takes the longest-waiting call, returned
    /// as `(call, agent)`, or becomes free. Releasing an agent that is not busy does nothing.
    pub fn release(&mut self, agent: u32, now: Instant) -> Option<(u64, u32)> {
        let slot = self.serving.get_mut(agent as usize)?;
        slot.take()?;
        match self.waiting.pop_front() {
            Some((call, since)) => {
                self.assign(agent, call, now.saturating_duration_since(since));
                Some((call, agent))
            }
            None => {
                self.free.push_back(agent);
                None
            }
        }
    }

    /// Call `call` hung up while waiting; returns whether it was waiting.
    pub fn abandon(&mut self, call: u64) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|(c, _)| *c != call);
        let removed = self.waiting.len() != before;
        if removed {
            self.stats.abandoned += 1;
        }
        removed
    }

    /// Calls waiting for an agent.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Agents on a call.
    pub fn busy(&self) -> u32 {
        self.serving.iter().filter(|s| s.is_some()).count() as u32
    }

    /// Agents in the pool.
    pub fn count(&self) -> u32 {
        self.serving.len() as u32
    }

    /// The agent serving `call`, if any.
    pub fn agent_of(&self, call: u64) -> Option<u32> {
        self.serving
            .iter()
            .position(|s| *s == Some(call))
            .map(|i| i as u32)
    }

    /// How long the first caller in line has waited by `now`.
    pub fn longest_wait(&self, now: Instant) -> Option<Duration> {
        self.waiting
            .front()
            .map(|(_, since)| now.saturating_duration_since(*since))
    }

    /// Counters so far.
    pub fn stats(&self) -> AgentPoolStats {
        self.stats
    }

    fn assign(&mut self, agent: u32, call: u64, waited: Duration) {
        self.serving[agent as usize] = Some(call);
        self.stats.served += 1;
        self.stats.total_wait += waited;
        self.stats.max_wait = self.stats.max_wait.max(waited);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long every test key lasts (RFC 4733 start → end).
    const KEY: Duration = Duration::from_millis(100);
    /// A call id for the agent pool.
    const CALL: u64 = 7;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[allow(clippy::disallowed_methods)] // tests: one real base instant, then durations
    fn base() -> Instant {
        Instant::now()
    }

    fn ivr_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ivr")
    }

    /// The shipped bank IVR as loaded (with its distributions).
    fn bank_as_shipped() -> IvrDefinition {
        load_ivr(&ivr_dir().join("bank.yaml")).expect("bank.yaml loads")
    }

    /// The bank IVR with every delay fixed at its mean: voice onsets are exact.
    fn bank() -> Arc<IvrDefinition> {
        Arc::new(bank_as_shipped().with_fixed_delays())
    }

    /// A call on a fake clock: the test plays the driver.
    struct Sim {
        def: Arc<IvrDefinition>,
        call: IvrCall,
        t0: Instant,
        actions: Vec<IvrAction>,
    }

    impl Sim {
        fn new(def: Arc<IvrDefinition>) -> Self {
            Sim {
                call: IvrCall::new(Arc::clone(&def), 1),
                def,
                t0: base(),
                actions: Vec::new(),
            }
        }

        fn drain(&mut self) {
            while let Some(a) = self.call.poll_action() {
                self.actions.push(a);
            }
        }

        /// Jumps from deadline to deadline up to `t`.
        fn run_to(&mut self, t: Instant) {
            while let Some(d) = self.call.poll_timeout().filter(|d| *d <= t) {
                self.call.handle_timeout(d);
                self.drain();
            }
            self.drain();
        }

        /// A key pressed at `start`, lasting [`KEY`]; returns its end.
        fn press(&mut self, digit: char, start: Instant) -> Instant {
            self.run_to(start);
            self.call.on_digit_started(digit, start);
            self.run_to(start + KEY);
            self.call.on_digit(digit, start + KEY);
            self.drain();
            start + KEY
        }

        /// Keys one after another, 150 ms apart; returns the end of the last.
        fn type_keys(&mut self, keys: &str, mut start: Instant) -> Instant {
            let mut end = start;
            for k in keys.chars() {
                end = self.press(k, start);
                start = end + ms(150);
            }
            end
        }

        /// Answers at `t0` and lets the welcome prompt play; returns the main menu's voice.
        fn reach_main_menu(&mut self) -> Instant {
            self.call.on_answered(self.t0);
            self.drain();
            let welcome_end = self.end_of("welcome");
            self.run_to(welcome_end);
            let (name, voice) = self.last_prompt();
            assert_eq!(name, "main_menu");
            assert_eq!(voice, welcome_end + ms(500));
            voice
        }

        /// Prompts scheduled so far: (prompt, voice onset, end).
        fn prompts(&self) -> Vec<(String, Instant, Instant)> {
            self.call
                .history()
                .iter()
                .filter_map(|s| match s {
                    IvrStep::Prompt {
                        prompt,
                        voice_at,
                        ends_at,
                        ..
                    } => Some((prompt.clone(), *voice_at, *ends_at)),
                    _ => None,
                })
                .collect()
        }

        fn last_prompt(&self) -> (String, Instant) {
            let (p, v, _) = self.prompts().pop().expect("a prompt");
            (p, v)
        }

        /// End of the last scheduling of `prompt`.
        fn end_of(&self, prompt: &str) -> Instant {
            self.prompts()
                .into_iter()
                .rev()
                .find(|(p, _, _)| p == prompt)
                .map(|(_, _, end)| end)
                .expect("prompt scheduled")
        }

        /// The expected end of `prompt` whose voice starts at `voice_at` (delay ≥ onset).
        fn expected_end(&self, prompt: &str, voice_at: Instant) -> Instant {
            let p = &self.def.prompts[prompt];
            voice_at - p.voice_onset + p.audio.duration()
        }

        fn stops(&self) -> Vec<Instant> {
            self.actions
                .iter()
                .filter_map(|a| match a {
                    IvrAction::StopPlaying { at } => Some(*at),
                    _ => None,
                })
                .collect()
        }

        fn entered(&self) -> Vec<(String, Instant)> {
            self.call
                .history()
                .iter()
                .filter_map(|s| match s {
                    IvrStep::Entered { node, at } => Some((node.clone(), *at)),
                    _ => None,
                })
                .collect()
        }
    }

    // --- delays ------------------------------------------------------------------------------

    #[derive(Deserialize)]
    struct OneDelay {
        d: Spanned<RawDelay>,
    }

    fn parse_delay(text: &str) -> Result<Delay, ScenarioError> {
        let file = Path::new("d.yaml");
        let raw: OneDelay = from_yaml(text, file)?;
        delay(file, &raw.d, "d")
    }

    #[test]
    fn delay_yaml_forms() {
        let cases = [
            ("d: 800ms\n", Delay::Fixed(ms(800))),
            ("d: 2s\n", Delay::Fixed(ms(2000))),
            (
                "d: { dist: normal, mean: 2s, sd: 300ms }\n",
                Delay::Normal {
                    mean: ms(2000),
                    sd: ms(300),
                },
            ),
            (
                "d: { dist: uniform, min: 1s, max: 3s }\n",
                Delay::Uniform {
                    min: ms(1000),
                    max: ms(3000),
                },
            ),
            (
                "d:\n  dist: lognormal\n  mean: 2s\n  sd: 500ms\n",
                Delay::LogNormal {
                    mean: ms(2000),
                    sd: ms(500),
                },
            ),
            (
                "d: { dist: Exponential, mean: 20s }\n",
                Delay::Exponential { mean: ms(20_000) },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_delay(text).expect(text), want, "{text}");
        }
    }

    #[test]
    fn delay_errors_name_the_field() {
        let cases = [
            (
                "d: { dist: gamma, mean: 1s }\n",
                "d.yaml:1:12: d.dist: unknown distribution \"gamma\" (expected normal, uniform, lognormal, exponential)",
            ),
            (
                "d: { dist: uniform, min: 3s, max: 1s }\n",
                "d.yaml:1:35: d.max: must not be less than min (1s < 3s)",
            ),
            (
                "d: { dist: normal, mean: 1s }\n",
                "d.yaml:1:12: d.sd: required by a normal distribution",
            ),
            (
                "d: { dist: exponential, mean: 1s, sd: 1s }\n",
                "d.yaml:1:39: d.sd: not a parameter of a exponential distribution (it takes mean)",
            ),
            (
                "d: { dist: lognormal, mean: 0s, sd: 1s }\n",
                "d.yaml:1:29: d.mean: a lognormal distribution needs a mean greater than 0",
            ),
        ];
        for (text, want) in cases {
            let e = parse_delay(text).expect_err(text).to_string();
            assert_eq!(e, want, "{text}");
        }
        // A negative standard deviation is not a duration at all.
        let e = parse_delay("d: { dist: normal, mean: 1s, sd: -300ms }\n")
            .expect_err("negative")
            .to_string();
        assert!(
            e.starts_with("d.yaml:1:") && e.contains("d.sd: invalid duration \"-300ms\""),
            "{e}"
        );
        let e = parse_delay("d: 5\n").expect_err("number").to_string();
        assert!(
            e.starts_with("d.yaml:1:") && e.contains("a duration"),
            "{e}"
        );
        let e = parse_delay("d: { dist: normal, mean: 1s, sd: 1s, shape: 2 }\n")
            .expect_err("unknown field")
            .to_string();
        assert!(e.contains("unknown field `shape`"), "{e}");
    }

    /// Mean and standard deviation of `n` draws, in seconds.
    fn moments(d: &Delay, n: usize, seed: u64) -> (f64, f64, Vec<Duration>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let draws: Vec<Duration> = (0..n).map(|_| d.sample(&mut rng)).collect();
        let secs: Vec<f64> = draws.iter().map(Duration::as_secs_f64).collect();
        let mean = secs.iter().sum::<f64>() / n as f64;
        let var = secs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt(), draws)
    }

    #[test]
    fn delay_sampling_matches_parameters() {
        let n = 40_000;
        let fixed = Delay::Fixed(ms(1234));
        let (_, _, draws) = moments(&fixed, 100, 1);
        assert!(draws.iter().all(|d| *d == ms(1234)));

        let normal = Delay::Normal {
            mean: ms(1500),
            sd: ms(200),
        };
        let (mean, sd, _) = moments(&normal, n, 2);
        assert!(
            (mean - 1.5).abs() < 0.01 && (sd - 0.2).abs() < 0.01,
            "{mean} {sd}"
        );

        let lognormal = Delay::LogNormal {
            mean: ms(2000),
            sd: ms(500),
        };
        let (mean, sd, draws) = moments(&lognormal, n, 3);
        assert!(
            (mean - 2.0).abs() < 0.02 && (sd - 0.5).abs() < 0.02,
            "{mean} {sd}"
        );
        assert!(draws.iter().all(|d| !d.is_zero()));

        let exponential = Delay::Exponential { mean: ms(20_000) };
        let (mean, sd, _) = moments(&exponential, n, 4);
        assert!(
            (mean - 20.0).abs() < 0.4 && (sd - 20.0).abs() < 0.6,
            "{mean} {sd}"
        );

        let uniform = Delay::Uniform {
            min: ms(1000),
            max: ms(3000),
        };
        let (mean, _, draws) = moments(&uniform, n, 5);
        assert!((mean - 2.0).abs() < 0.02, "{mean}");
        assert!(draws.iter().all(|d| (ms(1000)..=ms(3000)).contains(d)));

        // Never negative: a wide normal near zero is clamped.
        let near_zero = Delay::Normal {
            mean: ms(10),
            sd: ms(1000),
        };
        let (_, _, draws) = moments(&near_zero, 1000, 6);
        assert!(draws.iter().filter(|d| d.is_zero()).count() > 400);

        assert_eq!(normal.mean(), ms(1500));
        assert_eq!(uniform.mean(), ms(2000));
        assert_eq!(exponential.fixed_at_mean(), Delay::Fixed(ms(20_000)));
        // Seeded: the same seed draws the same delays.
        assert_eq!(moments(&lognormal, 50, 9).2, moments(&lognormal, 50, 9).2);
        assert_ne!(moments(&lognormal, 50, 9).2, moments(&lognormal, 50, 10).2);
    }

    // --- the bank definition and its prompts -------------------------------------------------

    #[test]
    fn bank_definition_loads() {
        let def = bank_as_shipped();
        assert_eq!(def.name, "Callcert Bank");
        assert_eq!(def.start, "welcome");
        assert_eq!(def.seed, 11);
        assert_eq!(def.prompts.len(), 10);
        assert_eq!(def.queues["agents"].agents, 2);
        assert_eq!(
            def.queues["agents"].handle_time,
            Delay::Exponential { mean: ms(20_000) }
        );
        let Some(IvrNode::Query(q)) = def.nodes.get("balance_result") else {
            panic!("balance_result is a query");
        };
        assert_eq!(
            q.delay,
            Delay::Normal {
                mean: ms(1500),
                sd: ms(200)
            }
        );
        let Some(IvrNode::Menu(main)) = def.nodes.get("main") else {
            panic!("main is a menu");
        };
        assert!(main.barge_in);
        assert_eq!(main.options.get(&'0').map(String::as_str), Some("agent"));
        let Some(IvrNode::Menu(cards)) = def.nodes.get("cards") else {
            panic!("cards is a menu");
        };
        assert!(!cards.barge_in);
        assert_eq!(cards.options.get(&'*').map(String::as_str), Some("main"));
        assert_eq!(
            cards.invalid.as_ref().map(|i| i.next.as_str()),
            Some("cards")
        );
        let Some(IvrNode::Input(acct)) = def.nodes.get("balance_account") else {
            panic!("balance_account is an input");
        };
        assert_eq!(acct.terminator, Some('#'));
        assert_eq!((acct.min_digits, acct.max_digits), (4, 12));
        let fixed = def.with_fixed_delays();
        let Some(IvrNode::Query(q)) = fixed.nodes.get("balance_result") else {
            panic!("query");
        };
        assert_eq!(q.delay, Delay::Fixed(ms(1500)));
        assert_eq!(fixed.queues["agents"].handle_time, Delay::Fixed(ms(20_000)));
        // Per-call seeds are repeatable and distinct.
        assert_eq!(fixed.call_seed(3), fixed.call_seed(3));
        assert_ne!(fixed.call_seed(3), fixed.call_seed(4));
    }

    #[test]
    fn bank_prompts_have_the_lead_in_and_fit() {
        let def = bank_as_shipped();
        let mut bytes = 0;
        for (name, p) in &def.prompts {
            let s = p.audio.samples();
            assert!(s[..800].iter().all(|&x| x == 0), "{name}: 100 ms of zeros");
            assert_ne!(s[800], 0, "{name}: sound right after the lead-in");
            assert!(
                s[s.len() - 1600..].iter().all(|&x| x == 0),
                "{name}: 200 ms tail"
            );
            let len = p.audio.duration();
            assert!((ms(2000)..=ms(6000)).contains(&len), "{name}: {len:?}");
            assert!((ms(100)..=ms(110)).contains(&p.voice_onset), "{name}");
            bytes += std::fs::metadata(&p.path).expect("prompt file").len();
        }
        assert!(bytes < 400 * 1024, "prompts take {bytes} bytes");
    }

    // --- walking the bank IVR ----------------------------------------------------------------

    #[test]
    fn welcome_voice_starts_exactly_at_answer_plus_delay() {
        let mut sim = Sim::new(bank());
        sim.call.on_answered(sim.t0);
        sim.drain();
        let Some(IvrAction::Play {
            prompt,
            voice_at,
            start_at,
            skip,
            audio,
        }) = sim.actions.first()
        else {
            panic!("welcome plays first: {:?}", sim.actions);
        };
        assert_eq!(prompt, "welcome");
        assert_eq!(*voice_at, sim.t0 + ms(300));
        assert_eq!(*start_at, sim.t0 + ms(200)); // 100 ms lead-in
        assert_eq!(*skip, Duration::ZERO);
        assert_eq!(audio.len(), sim.def.prompts["welcome"].audio.len());
        assert_eq!(sim.call.poll_timeout(), Some(sim.end_of("welcome")));
        assert_eq!(
            sim.end_of("welcome"),
            sim.t0 + ms(200) + sim.def.prompts["welcome"].audio.duration()
        );
    }

    #[test]
    fn balance_enquiry_with_barge_in_and_query() {
        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        // "1" a second into the menu: barge-in stops the prompt at the key's start.
        let key_start = main_voice + ms(1000);
        let one_end = sim.press('1', key_start);
        assert_eq!(sim.stops(), vec![key_start]);
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(prompt, "enter_account");
        assert_eq!(voice, one_end + ms(500));
        // The account number after the prompt, then "#".
        let prompt_end = sim.end_of("enter_account");
        assert_eq!(prompt_end, sim.expected_end("enter_account", voice));
        let hash_end = sim.type_keys("12345678#", prompt_end + ms(300));
        assert!(sim.call.history().contains(&IvrStep::Input {
            node: "balance_account".into(),
            digits: "12345678".into(),
            at: hash_end,
        }));
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(prompt, "balance");
        assert_eq!(voice, hash_end + ms(1500), "query delay fixed at its mean");
        // After the result, back to the main menu, 500 ms after the result's end.
        let result_end = sim.end_of("balance");
        sim.run_to(result_end);
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(
            (prompt.as_str(), voice),
            ("main_menu", result_end + ms(500))
        );
        let nodes: Vec<String> = sim.entered().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            nodes,
            [
                "welcome",
                "main",
                "balance_account",
                "balance_result",
                "main"
            ]
        );
        assert!(!sim.call.is_ended());
    }

    #[test]
    fn query_delay_is_drawn_from_its_distribution() {
        // As shipped: the balance query is normal(1.5 s, 200 ms) and the call's first draw.
        let def = Arc::new(bank_as_shipped());
        let Some(IvrNode::Query(q)) = def.nodes.get("balance_result") else {
            panic!("query");
        };
        let expected = q.delay.sample(&mut StdRng::seed_from_u64(1));
        assert_ne!(expected, ms(1500));
        assert!((ms(700)..=ms(2300)).contains(&expected), "{expected:?}");
        let mut sim = Sim::new(def);
        let main_voice = sim.reach_main_menu();
        sim.press('1', main_voice + ms(200));
        let hash_end = sim.type_keys("4321#", sim.end_of("enter_account"));
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(prompt, "balance");
        assert_eq!(voice - hash_end, expected);
    }

    #[test]
    fn invalid_key_plays_invalid_then_the_menu_again() {
        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        let end = sim.press('9', main_voice + ms(400));
        assert!(sim.call.history().contains(&IvrStep::Failure {
            node: "main".into(),
            reason: Failure::UnknownOption('9'),
            attempt: 1,
            at: end,
        }));
        let (prompt, voice) = sim.last_prompt();
        assert_eq!((prompt.as_str(), voice), ("invalid", end + ms(400)));
        let invalid_end = sim.end_of("invalid");
        sim.run_to(invalid_end);
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(
            (prompt.as_str(), voice),
            ("main_menu", invalid_end + ms(500))
        );
        assert_eq!(
            sim.entered().last(),
            Some(&("main".to_string(), invalid_end))
        );
    }

    #[test]
    fn no_input_replays_the_menu_then_gives_up() {
        let mut sim = Sim::new(bank());
        let mut voice = sim.reach_main_menu();
        for attempt in 1..=2 {
            let deadline = sim.expected_end("main_menu", voice) + ms(6000);
            sim.run_to(deadline);
            assert!(sim.call.history().contains(&IvrStep::Failure {
                node: "main".into(),
                reason: Failure::NoInput,
                attempt,
                at: deadline,
            }));
            let (prompt, v) = sim.last_prompt();
            assert_eq!((prompt.as_str(), v), ("main_menu", deadline + ms(500)));
            voice = v;
        }
        // Third silence: retries (2) exhausted → goodbye → BYE when it ends.
        let deadline = sim.expected_end("main_menu", voice) + ms(6000);
        sim.run_to(deadline);
        let (prompt, v) = sim.last_prompt();
        assert_eq!((prompt.as_str(), v), ("goodbye", deadline + ms(300)));
        let bye = sim.end_of("goodbye");
        sim.run_to(bye);
        assert!(matches!(sim.actions.last(), Some(IvrAction::Hangup { at }) if *at == bye));
        assert!(sim.call.is_ended());
        assert_eq!(sim.call.poll_timeout(), None);
        assert_eq!(
            sim.call.history().last(),
            Some(&IvrStep::Hangup {
                by: HangupBy::Ivr,
                at: bye
            })
        );
    }

    #[test]
    fn type_ahead_waits_for_the_prompt_end_without_barge_in() {
        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        let two_end = sim.press('2', main_voice + ms(300));
        let (prompt, card_voice) = sim.last_prompt();
        assert_eq!(
            (prompt.as_str(), card_voice),
            ("card_menu", two_end + ms(500))
        );
        let stops_before = sim.stops().len();
        // "1" during the card menu: no barge-in, so kept until the prompt ends.
        sim.press('1', card_voice + ms(800));
        assert_eq!(sim.stops().len(), stops_before, "no barge-in");
        assert!(matches!(
            sim.call.history().last(),
            Some(IvrStep::Digit {
                digit: '1',
                handling: DigitHandling::Buffered,
                ..
            })
        ));
        let card_end = sim.end_of("card_menu");
        sim.run_to(card_end);
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(
            (prompt.as_str(), voice),
            ("card_blocked", card_end + ms(1000))
        );
    }

    #[test]
    fn type_ahead_carries_into_the_next_menu() {
        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        sim.press('2', main_voice + ms(300));
        let (_, card_voice) = sim.last_prompt();
        // "*" (back) then "1" (balance) during the card menu.
        sim.type_keys("*1", card_voice + ms(500));
        let card_end = sim.end_of("card_menu");
        sim.run_to(card_end);
        // "*" → main; main barges in with the buffered "1" before its prompt: straight on.
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(
            (prompt.as_str(), voice),
            ("enter_account", card_end + ms(500))
        );
        let tail: Vec<(String, Instant)> = sim.entered().into_iter().skip(3).collect();
        assert_eq!(
            tail,
            [
                ("main".to_string(), card_end),
                ("balance_account".to_string(), card_end)
            ]
        );
    }

    #[test]
    fn input_ends_on_the_inter_digit_timeout_or_max_digits() {
        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        sim.press('1', main_voice + ms(300));
        let last = sim.type_keys("1234", sim.end_of("enter_account") + ms(200));
        let accepted = last + ms(4000); // digit_timeout
        sim.run_to(accepted);
        let (prompt, voice) = sim.last_prompt();
        assert_eq!((prompt.as_str(), voice), ("balance", accepted + ms(1500)));

        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        sim.press('1', main_voice + ms(300));
        let twelfth = sim.type_keys("123456789012", sim.end_of("enter_account"));
        let (prompt, voice) = sim.last_prompt();
        assert_eq!((prompt.as_str(), voice), ("balance", twelfth + ms(1500)));
    }

    #[test]
    fn too_few_digits_is_invalid_and_asks_again() {
        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        sim.press('1', main_voice + ms(300));
        let hash_end = sim.type_keys("12#", sim.end_of("enter_account"));
        assert!(sim.call.history().contains(&IvrStep::Failure {
            node: "balance_account".into(),
            reason: Failure::TooFewDigits("12".into()),
            attempt: 1,
            at: hash_end,
        }));
        let (prompt, voice) = sim.last_prompt();
        assert_eq!((prompt.as_str(), voice), ("invalid", hash_end + ms(400)));
        let invalid_end = sim.end_of("invalid");
        sim.run_to(invalid_end);
        let (prompt, voice) = sim.last_prompt();
        assert_eq!(
            (prompt.as_str(), voice),
            ("enter_account", invalid_end + ms(500))
        );
    }

    #[test]
    fn keys_during_a_play_node_are_ignored() {
        let mut sim = Sim::new(bank());
        sim.call.on_answered(sim.t0);
        sim.press('1', sim.t0 + ms(800));
        assert!(matches!(
            sim.call.history().last(),
            Some(IvrStep::Digit {
                handling: DigitHandling::Ignored,
                ..
            })
        ));
        let welcome_end = sim.end_of("welcome");
        sim.run_to(welcome_end);
        assert_eq!(
            sim.last_prompt(),
            ("main_menu".into(), welcome_end + ms(500))
        );
        assert!(sim.stops().is_empty());
    }

    #[test]
    fn a_delay_shorter_than_the_lead_in_skips_into_the_prompt() {
        let mut def = bank_as_shipped().with_fixed_delays();
        if let Some(IvrNode::Play(p)) = def.nodes.get_mut("welcome") {
            p.delay = Delay::Fixed(ms(40));
        }
        let mut sim = Sim::new(Arc::new(def));
        sim.call.on_answered(sim.t0);
        sim.drain();
        let Some(IvrAction::Play {
            voice_at,
            start_at,
            skip,
            ..
        }) = sim.actions.first()
        else {
            panic!("play");
        };
        assert_eq!(
            (*voice_at, *start_at, *skip),
            (sim.t0 + ms(40), sim.t0, ms(60))
        );
        let len = sim.def.prompts["welcome"].audio.duration();
        assert_eq!(sim.end_of("welcome"), sim.t0 + len - ms(60));
    }

    #[test]
    fn transfer_waits_for_a_busy_agent() {
        let mut sim = Sim::new(bank());
        let mut pool = AgentPool::new(1);
        assert_eq!(pool.request(99, sim.t0), Some(0)); // another caller has the only agent
        let main_voice = sim.reach_main_menu();
        let zero_end = sim.press('0', main_voice + ms(500));
        let queued = sim.actions.iter().find_map(|a| match a {
            IvrAction::QueueForAgent { queue, at } => Some((queue.clone(), *at)),
            _ => None,
        });
        assert_eq!(queued, Some(("agents".to_string(), zero_end)));
        assert_eq!(pool.request(CALL, zero_end), None);
        assert_eq!(pool.waiting(), 1);
        let (prompt, hold_voice) = sim.last_prompt();
        assert_eq!((prompt.as_str(), hold_voice), ("hold", zero_end + ms(400)));
        // The hold prompt ends; it comes back 15 s later.
        let hold_end = sim.expected_end("hold", hold_voice);
        sim.run_to(hold_end);
        assert_eq!(sim.last_prompt(), ("hold".into(), hold_end + ms(15_000)));
        // The other call ends 5 s after the hold prompt: our call gets the agent.
        let answer = hold_end + ms(5000);
        sim.run_to(answer);
        assert_eq!(pool.release(0, answer), Some((CALL, 0)));
        let before = sim.actions.len();
        sim.call.on_agent_answered(0, answer);
        sim.drain();
        let new: Vec<&IvrAction> = sim.actions[before..].iter().collect();
        assert!(matches!(new[0], IvrAction::StopPlaying { at } if *at == answer));
        assert!(matches!(
            new[1],
            IvrAction::AgentConnected { agent: 0, announce: Announce::Prompt, at, .. } if *at == answer
        ));
        assert!(matches!(
            new[2],
            IvrAction::Play { prompt, voice_at, .. }
                if prompt == "agent_greeting" && *voice_at == answer + ms(200)
        ));
        assert_eq!(pool.stats().max_wait, answer - zero_end);
        // Handle time (fixed at its 20 s mean) after the answer: BYE and the agent is free.
        let bye = answer + ms(20_000);
        sim.run_to(bye);
        let n = sim.actions.len();
        assert!(matches!(
            &sim.actions[n - 2],
            IvrAction::ReleaseAgent { queue, agent: 0, at } if queue == "agents" && *at == bye
        ));
        assert!(matches!(sim.actions[n - 1], IvrAction::Hangup { at } if at == bye));
        assert_eq!(pool.release(0, bye), None);
        assert_eq!((pool.busy(), pool.waiting()), (0, 0));
    }

    #[test]
    fn a_free_agent_answers_before_the_hold_prompt() {
        let mut sim = Sim::new(bank());
        let mut pool = AgentPool::new(2);
        let main_voice = sim.reach_main_menu();
        let zero_end = sim.press('0', main_voice + ms(500));
        let agent = pool.request(CALL, zero_end).expect("a free agent");
        sim.call.on_agent_answered(agent, zero_end);
        sim.drain();
        // The hold prompt was cancelled before its first sample.
        assert_eq!(sim.stops().last(), Some(&zero_end));
        assert!(sim.call.history().contains(&IvrStep::PromptStopped {
            prompt: "hold".into(),
            at: zero_end,
        }));
        assert_eq!(
            sim.last_prompt(),
            ("agent_greeting".into(), zero_end + ms(200))
        );
    }

    #[test]
    fn caller_hanging_up_in_the_queue_leaves_it() {
        let mut sim = Sim::new(bank());
        let mut pool = AgentPool::new(1);
        pool.request(99, sim.t0);
        let main_voice = sim.reach_main_menu();
        let zero_end = sim.press('0', main_voice + ms(500));
        assert_eq!(pool.request(CALL, zero_end), None);
        let gone = zero_end + ms(30_000);
        sim.call.on_caller_hangup(gone);
        sim.drain();
        assert!(matches!(
            sim.actions.last(),
            Some(IvrAction::LeaveQueue { queue, at }) if queue == "agents" && *at == gone
        ));
        assert!(pool.abandon(CALL));
        assert_eq!(pool.waiting(), 0);
        assert!(sim.call.is_ended());
        // An agent that answers anyway (a race in the driver) is handed back, once.
        sim.call.on_agent_answered(0, gone + ms(1));
        assert!(matches!(
            sim.call.poll_action(),
            Some(IvrAction::ReleaseAgent { agent: 0, .. })
        ));
        sim.call.on_agent_answered(0, gone + ms(2));
        assert!(sim.call.poll_action().is_none());
    }

    #[test]
    fn reinvite_announce_and_caller_hangup_with_an_agent() {
        let text = "\
name: T
prompts:
  hold: prompts/hold.wav
start: desk
nodes:
  desk: { type: transfer, queue: q, announce: reinvite }
agents:
  q: { count: 1, handle_time: 1m }
";
        let def = parse_ivr(text, &ivr_dir().join("t.yaml")).expect("valid");
        let mut sim = Sim::new(Arc::new(def));
        sim.call.on_answered(sim.t0);
        sim.drain();
        assert!(matches!(
            sim.actions.as_slice(),
            [IvrAction::QueueForAgent { at, .. }] if *at == sim.t0
        ));
        assert_eq!(
            sim.call.poll_timeout(),
            None,
            "silent queue: nothing to wake for"
        );
        // Keys while queued are ignored; so is a non-DTMF character.
        sim.press('5', sim.t0 + ms(100));
        sim.call.on_digit('x', sim.t0 + ms(300));
        let ignored = sim.call.history().iter().filter(|s| {
            matches!(
                s,
                IvrStep::Digit {
                    handling: DigitHandling::Ignored,
                    ..
                }
            )
        });
        assert_eq!(ignored.count(), 2);
        let answer = sim.t0 + ms(1000);
        sim.call.on_agent_answered(0, answer);
        sim.drain();
        assert!(matches!(
            &sim.actions[1..],
            [IvrAction::AgentConnected {
                announce: Announce::Reinvite,
                agent: 0,
                ..
            }]
        ));
        assert_eq!(sim.call.poll_timeout(), Some(answer + ms(60_000)));
        // A second answer for the same call is ignored.
        sim.call.on_agent_answered(1, answer);
        assert!(sim.call.poll_action().is_none());
        let gone = answer + ms(9000);
        sim.call.on_caller_hangup(gone);
        sim.drain();
        assert!(matches!(
            &sim.actions[2..],
            [IvrAction::ReleaseAgent { agent: 0, at, .. }] if *at == gone
        ));
        assert_eq!(
            sim.call.history().last(),
            Some(&IvrStep::Hangup {
                by: HangupBy::Caller,
                at: gone
            })
        );
    }

    #[test]
    fn a_key_before_the_prompt_starts_cancels_it() {
        let mut sim = Sim::new(bank());
        let main_voice = sim.reach_main_menu();
        let one_end = sim.press('1', main_voice + ms(300));
        // The account prompt would start 400 ms after the "1"; the first digit beats it.
        let early = one_end + ms(50);
        let first_end = sim.press('9', early);
        assert_eq!(sim.stops().last(), Some(&early));
        assert!(sim.call.history().contains(&IvrStep::PromptStopped {
            prompt: "enter_account".into(),
            at: early,
        }));
        assert_eq!(sim.call.poll_timeout(), Some(first_end + ms(4000)));
    }

    // --- the agent pool ----------------------------------------------------------------------

    #[test]
    fn agent_pool_serves_in_arrival_order() {
        let t = base();
        let mut pool = AgentPool::new(1);
        assert_eq!(pool.request(1, t), Some(0));
        assert_eq!(pool.request(2, t + ms(10)), None);
        assert_eq!(pool.request(3, t + ms(20)), None);
        assert_eq!(pool.request(4, t + ms(30)), None);
        assert_eq!(
            pool.request(3, t + ms(40)),
            None,
            "asking again does not re-queue"
        );
        assert_eq!((pool.busy(), pool.waiting()), (1, 3));
        assert_eq!(pool.longest_wait(t + ms(110)), Some(ms(100)));
        assert_eq!(pool.release(0, t + ms(1000)), Some((2, 0)));
        assert_eq!(pool.agent_of(2), Some(0));
        assert_eq!(pool.release(0, t + ms(2000)), Some((3, 0)));
        assert_eq!(pool.release(0, t + ms(3000)), Some((4, 0)));
        assert_eq!(pool.release(0, t + ms(4000)), None);
        assert_eq!((pool.busy(), pool.waiting()), (0, 0));
        let stats = pool.stats();
        assert_eq!(stats.served, 4);
        assert_eq!(stats.max_wait, ms(2970));
        assert_eq!(stats.total_wait, ms(990 + 1980 + 2970));
    }

    #[test]
    fn agent_pool_abandon_and_bad_release() {
        let t = base();
        let mut pool = AgentPool::new(1);
        pool.request(1, t);
        pool.request(2, t);
        pool.request(3, t);
        assert!(pool.abandon(2));
        assert!(!pool.abandon(2), "already gone");
        assert!(!pool.abandon(1), "served, not waiting");
        assert_eq!(pool.release(0, t), Some((3, 0)), "2 hung up: 3 is next");
        assert_eq!(pool.release(5, t), None, "no such agent");
        assert_eq!(pool.release(0, t), None);
        assert_eq!(pool.release(0, t), None, "already free");
        assert_eq!(pool.stats().abandoned, 1);
        assert_eq!(pool.request(4, t), Some(0));
        assert_eq!(pool.busy(), 1);
    }

    #[test]
    fn agent_pool_gives_the_longest_idle_agent() {
        let t = base();
        let mut pool = AgentPool::new(3);
        assert_eq!(pool.request(1, t), Some(0));
        assert_eq!(pool.request(2, t), Some(1));
        assert_eq!(pool.release(1, t + ms(5)), None);
        assert_eq!(pool.release(0, t + ms(6)), None);
        // Agent 2 has never worked, then 1 finished before 0.
        assert_eq!(pool.request(3, t + ms(7)), Some(2));
        assert_eq!(pool.request(4, t + ms(7)), Some(1));
        assert_eq!(pool.request(5, t + ms(7)), Some(0));
        assert_eq!(pool.count(), 3);
    }

    // --- definition errors -------------------------------------------------------------------

    const VALID: &str = "\
name: T
prompts:
  hello: prompts/welcome.wav
  menu: prompts/main_menu.wav
start: hello
nodes:
  hello: { type: play, prompt: hello, delay: 300ms, next: main }
  main: { type: menu, prompt: menu, delay: 500ms, options: { \"1\": bye }, on_exhausted: bye }
  bye: { type: hangup }
";

    /// The error of `VALID` with `from` replaced by `to`, for a file in `scenarios/ivr`.
    fn error_of(from: &str, to: &str) -> String {
        assert!(VALID.contains(from), "{from}");
        let text = VALID.replace(from, to);
        let path = ivr_dir().join("t.yaml");
        let e = parse_ivr(&text, &path).expect_err(&text).to_string();
        let prefix = format!("{}:", path.display());
        e.strip_prefix(&prefix).unwrap_or(&e).to_string()
    }

    #[test]
    fn minimal_definition_parses() {
        let unquoted = VALID.replace("{ \"1\": bye }", "{ 1: bye, a: bye }");
        let def = parse_ivr(&unquoted, &ivr_dir().join("t.yaml")).expect("unquoted keys");
        let Some(IvrNode::Menu(m)) = def.nodes.get("main") else {
            panic!("menu");
        };
        assert_eq!(m.options.keys().collect::<String>(), "1A");
        let def = parse_ivr(VALID, &ivr_dir().join("t.yaml")).expect("valid");
        assert_eq!(def.nodes.len(), 3);
        let Some(IvrNode::Menu(m)) = def.nodes.get("main") else {
            panic!("menu");
        };
        assert_eq!((m.timeout, m.retries, m.barge_in), (ms(5000), 2, false));
        assert_eq!(def.dtmf_methods.len(), 3);
        assert_eq!(
            def.nodes["bye"],
            IvrNode::Hangup(HangupNode {
                prompt: None,
                delay: Delay::Fixed(Duration::ZERO)
            })
        );
    }

    #[test]
    fn definition_errors_give_file_line_and_field() {
        let cases = [
            (
                ("next: main }", "next: mian }"),
                "7:59: nodes.hello.next: no node named \"mian\" (known: bye, hello, main)",
            ),
            (
                ("{ \"1\": bye }", "{ \"11\": bye }"),
                "8:68: nodes.main.options.11: \"11\" is not one DTMF key (0-9, *, #, A-D)",
            ),
            (
                ("delay: 300ms", "delay: { dist: poisson, mean: 1s }"),
                "7:54: nodes.hello.delay.dist: unknown distribution \"poisson\" (expected normal, uniform, lognormal, exponential)",
            ),
            (
                ("prompts/main_menu.wav", "prompts/nope.wav"),
                "4:9: prompts.menu: file not found: ",
            ),
            (
                ("start: hello", "start: nobody"),
                "5:8: start: no node named \"nobody\" (known: bye, hello, main)",
            ),
            (
                ("prompt: hello,", "prompt: helo,"),
                "7:32: nodes.hello.prompt: no prompt named \"helo\" (known: hello, menu)",
            ),
            (
                ("next: main }", "next: main, options: { \"1\": bye } }"),
                "7:74: nodes.hello.options: not a field of a play node (its fields: prompt, delay, next)",
            ),
            (
                (", on_exhausted: bye }", " }"),
                "8:17: nodes.main.on_exhausted: required by a menu node",
            ),
            (
                (
                    "bye: { type: hangup }",
                    "bye: { type: transfer, queue: desk, agent_prompt: hello }",
                ),
                "9:33: nodes.bye.queue: no agent queue named \"desk\" (none are defined)",
            ),
            (
                ("bye: { type: hangup }", "bye: { type: transfer, queue: desk }"),
                "9:16: nodes.bye.agent_prompt: required by a transfer node",
            ),
            (
                ("delay: 500ms", "delay: 500ms, timeout: 0s"),
                "8:60: nodes.main.timeout: must be greater than 0",
            ),
        ];
        let mut wrong = Vec::new();
        for ((from, to), want) in cases {
            let e = error_of(from, to);
            if !e.starts_with(want) {
                wrong.push(format!("{from} -> {to}:\n got {e}\nwant {want}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let e = error_of("type: hangup", "type: goodbye");
        assert!(
            e.starts_with("9:16: nodes.bye.type: unknown variant `goodbye`"),
            "{e}"
        );
        let e = error_of("name: T", "name: T\ncolour: blue");
        assert!(e.starts_with("2:1: colour: unknown field `colour`"), "{e}");
    }

    #[test]
    fn a_prompt_that_is_not_8khz_mono_16bit_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.path().join("wide.wav"), spec).expect("wav");
        for i in 0..1600 {
            w.write_sample(((i % 40) * 500) as i16).expect("sample");
        }
        w.finalize().expect("wav");
        let text = "name: T\nprompts:\n  hi: wide.wav\nstart: a\nnodes:\n  a: { type: hangup, prompt: hi, delay: 1s }\n";
        let path = dir.path().join("w.yaml");
        let e = parse_ivr(text, &path).expect_err("16 kHz").to_string();
        assert!(
            e.starts_with(&format!("{}:3:7: prompts.hi: ", path.display()))
                && e.contains("sample rate is 16000 Hz"),
            "{e}"
        );
    }
}
