//! Configuration of the reference call center (`callcert sut`): YAML with the same conventions
//! and errors as scenario files (`file:line:col: field: message`).
//!
//! Its delays are ground truth: the harness's post-dial delay and answer measurements are
//! checked against `ring_delay` and `answer_delay`.
//!
//! A `schedule` changes the behaviour by the local time of day (a slow back end 10:00-11:00,
//! slow agents, an outage) for calls arriving in its windows; [`SutConfig::behaviour_at`] says
//! what a call arriving at a given wall-clock time gets, so a fake clock can ask too. See
//! `scenarios/sut/bank-slow-hour.yaml`.

use super::ivr::{self, Delay, IvrDefinition, IvrNode, RawDelay};
use crate::scenario::daytime::{
    local_utc_offset_s, parse_utc_offset, second_of_day, DailyWindow, DaytimeError,
};
use crate::scenario::yaml::{check_codecs, from_yaml, invalid, relative_to, Dur};
use crate::scenario::ScenarioError;
use crate::sip::dialog::TransportKind;
use crate::sip::sdp::AudioCodec;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The built-in welcome prompt (`scenarios/prompts/welcome.wav`: 8 kHz mono 16-bit PCM with
/// exactly 100 ms of leading silence).
pub const EMBEDDED_WELCOME_WAV: &[u8] = include_bytes!("../../scenarios/prompts/welcome.wav");

/// The reference call center's behaviour, validated; [`SutConfig::default`] is the embedded demo.
#[derive(Debug, Clone, PartialEq)]
pub struct SutConfig {
    /// `listen`: SIP address (default `127.0.0.1:5080`).
    pub listen: SocketAddr,
    /// `transport` (default UDP).
    pub transport: TransportKind,
    /// `trunks`: calls handled at once; more are refused with 503 (default 30).
    pub trunks: u32,
    /// `retry_after`: seconds in the 503's Retry-After (RFC 3261 §20.33; default 5).
    pub retry_after: u32,
    /// `ring_delay`: INVITE received → 180 Ringing (or 183) sent (default 100 ms).
    pub ring_delay: Duration,
    /// `answer_delay`: 180/183 sent → 200 OK sent (default 400 ms).
    pub answer_delay: Duration,
    /// `early_media`: send 183 Session Progress with SDP and start the prompt before answering
    /// (RFC 3960 §3; default false).
    pub early_media: bool,
    /// `prompt`: the WAV callers hear, resolved against the file's folder; `None` means the
    /// built-in welcome prompt ([`EMBEDDED_WELCOME_WAV`]).
    pub prompt: Option<PathBuf>,
    /// `after_prompt`: what happens when the prompt ends (default hang up).
    pub after_prompt: AfterPrompt,
    /// `max_call`: the longest a call may last before the call center hangs up (default 60 s).
    pub max_call: Duration,
    /// `codecs` accepted, in preference order (default PCMU, PCMA).
    pub codecs: Vec<AudioCodec>,
    /// `auth`: challenge INVITEs with 401 (RFC 3261 §22.2) when set.
    pub auth: Option<SutAuth>,
    /// `faults` injected on demand.
    pub faults: Faults,
    /// `seed` of the fault draws (default 7).
    pub seed: u64,
    /// `ivr`: the menu tree callers walk after the answer (an IVR definition file, relative to
    /// this file); without it the call center plays `prompt` once. After replacing it, call
    /// [`SutConfig::set_ivr`] (or [`SutConfig::prepare_schedule`]) so that the schedule's
    /// definitions follow.
    pub ivr: Option<LoadedIvr>,
    /// `schedule` and `utc_offset`: behaviour that changes with the time of day.
    pub schedule: Schedule,
}

/// A loaded IVR definition, shared by every call.
#[derive(Debug, Clone)]
pub struct LoadedIvr(pub Arc<IvrDefinition>);

impl PartialEq for LoadedIvr {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.file == other.0.file
    }
}

impl LoadedIvr {
    /// Loads an IVR definition file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        ivr::load_ivr(path).map(|d| LoadedIvr(Arc::new(d)))
    }
}

impl Default for SutConfig {
    fn default() -> Self {
        SutConfig {
            listen: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 5080),
            transport: TransportKind::Udp,
            trunks: 30,
            retry_after: 5,
            ring_delay: Duration::from_millis(100),
            answer_delay: Duration::from_millis(400),
            early_media: false,
            prompt: None,
            after_prompt: AfterPrompt::Hangup,
            max_call: Duration::from_secs(60),
            codecs: AudioCodec::ALL.to_vec(),
            auth: None,
            faults: Faults::default(),
            seed: 7,
            ivr: None,
            schedule: Schedule::default(),
        }
    }
}

impl SutConfig {
    /// What the call center does with a call whose INVITE arrives at `unix_s` (seconds since
    /// the Unix epoch, wall clock): the first schedule entry whose window holds that time of
    /// day, or the configured behaviour outside every window. Pure: a fake clock may ask.
    ///
    /// The answer is a look-up when the schedule is prepared for the current `ivr` (it is
    /// after loading, [`SutConfig::set_ivr`] and [`SutConfig::prepare_schedule`]); otherwise the
    /// entry's definition is derived on the spot.
    pub fn behaviour_at(&self, unix_s: f64) -> Behaviour<'_> {
        let base = self.ivr.as_ref().map(|i| &i.0);
        let Some(index) = self.schedule.entry_at(unix_s) else {
            return Behaviour {
                entry: None,
                window: None,
                ivr: base.cloned(),
                faults: &self.faults,
            };
        };
        let e = &self.schedule.entries[index];
        let ivr = base.map(|b| match &e.prepared {
            Some(p) if Arc::ptr_eq(&p.base, b) => p.ivr.clone(),
            _ if !e.changes_ivr() => b.clone(),
            _ => Arc::new(e.apply(b)),
        });
        Behaviour {
            entry: Some(index),
            window: Some(e.window),
            ivr,
            faults: e.faults.as_ref().unwrap_or(&self.faults),
        }
    }

    /// Derives each schedule entry's IVR definition from `ivr` (done at load; again after
    /// `ivr` was replaced, so that [`SutConfig::behaviour_at`] stays a look-up).
    pub fn prepare_schedule(&mut self) {
        let base = self.ivr.as_ref().map(|i| i.0.clone());
        for e in &mut self.schedule.entries {
            e.prepared = match &base {
                Some(b) if e.changes_ivr() => Some(PreparedIvr {
                    base: b.clone(),
                    ivr: Arc::new(e.apply(b)),
                }),
                _ => None,
            };
        }
    }

    /// Replaces the IVR (e.g. `callcert sut --ivr`) and prepares the schedule for it. Entries
    /// whose overrides the new IVR cannot take (no query node, no agent queue) change nothing
    /// of it.
    pub fn set_ivr(&mut self, ivr: Option<LoadedIvr>) {
        self.ivr = ivr;
        self.prepare_schedule();
    }

    /// The same configuration with every delay distribution of the IVR and of the schedule
    /// replaced by its mean (`callcert sut --fixed-delays`: exact ground truth).
    pub fn with_fixed_delays(mut self) -> Self {
        if let Some(i) = self.ivr.take() {
            self.ivr = Some(LoadedIvr(Arc::new((*i.0).clone().with_fixed_delays())));
        }
        for e in &mut self.schedule.entries {
            for d in [&mut e.query_delay, &mut e.agent_answer_delay]
                .into_iter()
                .flatten()
            {
                *d = d.fixed_at_mean();
            }
        }
        self.prepare_schedule();
        self
    }

    /// The prompt's WAV bytes: the configured file (read now), else the embedded welcome prompt.
    pub fn prompt_wav(&self) -> std::io::Result<std::borrow::Cow<'static, [u8]>> {
        match &self.prompt {
            None => Ok(std::borrow::Cow::Borrowed(EMBEDDED_WELCOME_WAV)),
            Some(p) => std::fs::read(p).map(std::borrow::Cow::Owned),
        }
    }
}

/// What the call center does when its prompt has played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterPrompt {
    /// Send BYE.
    Hangup,
    /// Stay in the call until the caller's BYE or `max_call`.
    Keep,
}

/// Digest authentication of callers (RFC 3261 §22.4); `Debug` lists user names, not passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct SutAuth {
    /// The realm in the challenge.
    pub realm: String,
    /// User name → password (never logged).
    pub users: BTreeMap<String, String>,
}

impl SutAuth {
    /// Authentication for `realm` with `users` (name → password).
    pub fn new(realm: impl Into<String>, users: BTreeMap<String, String>) -> Self {
        SutAuth {
            realm: realm.into(),
            users,
        }
    }

    /// The password of `username`, for `crate::sip::auth::verify`.
    pub fn password(&self, username: &str) -> Option<&str> {
        self.users.get(username).map(String::as_str)
    }

    /// The configured user names.
    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }
}

impl fmt::Debug for SutAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SutAuth")
            .field("realm", &self.realm)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Faults the call center injects. They are exclusive outcomes of one draw per call, so their
/// rates add up to at most 1 (checked at load).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Refuse the INVITE with a final error response.
    pub reject: Option<RejectFault>,
    /// Ring forever (never send a final response).
    pub no_answer: Option<NoAnswerFault>,
    /// Hang up (BYE) from the call center some time into the call.
    pub drop_after: Option<DropAfterFault>,
}

impl Faults {
    /// The probability that some fault hits a call.
    pub fn total_rate(&self) -> f64 {
        self.reject.map_or(0.0, |f| f.rate)
            + self.no_answer.map_or(0.0, |f| f.rate)
            + self.drop_after.map_or(0.0, |f| f.rate)
    }
}

/// `faults.reject`: answer the INVITE with `code` (RFC 3261 §21.4–§21.6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RejectFault {
    /// Probability per call, in [0, 1].
    pub rate: f64,
    /// Final response code, 400–699 (default 486 Busy Here).
    pub code: u16,
}

impl Default for RejectFault {
    fn default() -> Self {
        RejectFault {
            rate: 0.0,
            code: 486,
        }
    }
}

/// `faults.no_answer`: keep ringing, never answer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NoAnswerFault {
    /// Probability per call, in [0, 1].
    pub rate: f64,
}

/// `faults.drop_after`: BYE from the call center `after` this long in the call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DropAfterFault {
    /// Probability per call, in [0, 1].
    pub rate: f64,
    /// Time after the 200 OK (default 2 s).
    pub after: Duration,
}

impl Default for DropAfterFault {
    fn default() -> Self {
        DropAfterFault {
            rate: 0.0,
            after: Duration::from_secs(2),
        }
    }
}

/// `schedule`: faults and slow-downs by the time of day, for calls that arrive (INVITE
/// received) while an entry's window is open; the first matching entry wins.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule {
    /// `utc_offset`: the zone the windows are read in, seconds east of UTC; `None` is this
    /// machine's zone (the `TZ` variable or the system's) at the time asked about.
    pub utc_offset_s: Option<i32>,
    /// The entries, in the file's order.
    pub entries: Vec<ScheduleEntry>,
}

impl Schedule {
    /// The offset from UTC that local times of day are read with at `unix_s`.
    pub fn utc_offset_at(&self, unix_s: f64) -> i32 {
        self.utc_offset_s
            .unwrap_or_else(|| local_utc_offset_s(unix_s.floor() as i64))
    }

    /// The index of the first entry whose window holds the local time of day of `unix_s`.
    pub fn entry_at(&self, unix_s: f64) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let s = second_of_day(unix_s, self.utc_offset_at(unix_s));
        self.entries.iter().position(|e| e.window.contains(s))
    }
}

/// One `schedule` entry: what changes while its window is open.
#[derive(Debug, Clone)]
pub struct ScheduleEntry {
    /// `between`: the daily window, local time (`10:00-11:00`, `22:00-06:00`).
    pub window: DailyWindow,
    /// `query_delay`: replaces the delay of every `query` node of the IVR (a slow back end).
    pub query_delay: Option<Delay>,
    /// `agent_answer_delay`: replaces the answer delay of every agent queue (slow agents).
    pub agent_answer_delay: Option<Delay>,
    /// `faults`: replace the global `faults` (e.g. an outage: reject rate 1, code 503).
    pub faults: Option<Faults>,
    /// The IVR with this entry's delays, derived from the configured one.
    prepared: Option<PreparedIvr>,
}

/// An entry's IVR definition and the definition it was derived from.
#[derive(Debug, Clone)]
struct PreparedIvr {
    base: Arc<IvrDefinition>,
    ivr: Arc<IvrDefinition>,
}

impl PartialEq for ScheduleEntry {
    /// The prepared definition follows from the rest and the configuration's `ivr`.
    fn eq(&self, other: &Self) -> bool {
        self.window == other.window
            && self.query_delay == other.query_delay
            && self.agent_answer_delay == other.agent_answer_delay
            && self.faults == other.faults
    }
}

impl ScheduleEntry {
    /// An entry that changes `window` and nothing else yet.
    pub fn new(window: DailyWindow) -> Self {
        ScheduleEntry {
            window,
            query_delay: None,
            agent_answer_delay: None,
            faults: None,
            prepared: None,
        }
    }

    /// Whether it changes the IVR's delays.
    pub fn changes_ivr(&self) -> bool {
        self.query_delay.is_some() || self.agent_answer_delay.is_some()
    }

    /// `base` with this entry's delays. The agent queues keep their names and sizes, so calls
    /// walking either definition share the driver's agent pools.
    pub fn apply(&self, base: &IvrDefinition) -> IvrDefinition {
        let mut def = base.clone();
        if let Some(d) = self.query_delay {
            for node in def.nodes.values_mut() {
                if let IvrNode::Query(q) = node {
                    q.delay = d;
                }
            }
        }
        if let Some(d) = self.agent_answer_delay {
            for q in def.queues.values_mut() {
                q.answer_delay = d;
            }
        }
        def
    }
}

impl fmt::Display for ScheduleEntry {
    /// `10:00-11:00: query_delay 3s, faults reject 100% (503)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.window)?;
        let mut sep = " ";
        if let Some(d) = &self.query_delay {
            write!(f, "{sep}query_delay {d}")?;
            sep = ", ";
        }
        if let Some(d) = &self.agent_answer_delay {
            write!(f, "{sep}agent_answer_delay {d}")?;
            sep = ", ";
        }
        if let Some(x) = &self.faults {
            write!(f, "{sep}faults {x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Faults {
    /// `reject 100% (503), no_answer 5%, drop_after 10% (2s)`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |r: f64| r * 100.0;
        let mut parts = Vec::new();
        if let Some(r) = &self.reject {
            parts.push(format!("reject {}% ({})", pct(r.rate), r.code));
        }
        if let Some(n) = &self.no_answer {
            parts.push(format!("no_answer {}%", pct(n.rate)));
        }
        if let Some(d) = &self.drop_after {
            parts.push(format!("drop_after {}% ({:?})", pct(d.rate), d.after));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What the call center does with a call arriving at a given time ([`SutConfig::behaviour_at`]).
#[derive(Debug, Clone)]
pub struct Behaviour<'a> {
    /// The index of the active `schedule` entry; `None` outside every window.
    pub entry: Option<usize>,
    /// Its window.
    pub window: Option<DailyWindow>,
    /// The IVR definition the call walks (`None` without an IVR).
    pub ivr: Option<Arc<IvrDefinition>>,
    /// The faults drawn for the call.
    pub faults: &'a Faults,
}

/// Reads, parses and validates a reference call center configuration file.
pub fn load_sut_config(path: &Path) -> Result<SutConfig, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_sut_config(&text, path)
}

/// Parses and validates configuration text; `path` names the file in errors and is the base
/// of a relative `prompt`.
pub fn parse_sut_config(text: &str, path: &Path) -> Result<SutConfig, ScenarioError> {
    let raw: RawSut = from_yaml(text, path)?;
    raw.validate(path)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSut {
    #[serde(default)]
    listen: Option<Spanned<String>>,
    #[serde(default)]
    transport: Option<TransportKind>,
    #[serde(default)]
    trunks: Option<Spanned<u32>>,
    #[serde(default)]
    retry_after: Option<u32>,
    #[serde(default)]
    ring_delay: Option<Dur>,
    #[serde(default)]
    answer_delay: Option<Dur>,
    #[serde(default)]
    early_media: Option<bool>,
    #[serde(default)]
    prompt: Option<Spanned<String>>,
    #[serde(default)]
    after_prompt: Option<AfterPrompt>,
    #[serde(default)]
    max_call: Option<Spanned<Dur>>,
    #[serde(default)]
    codecs: Option<Spanned<Vec<AudioCodec>>>,
    #[serde(default)]
    auth: Option<RawAuth>,
    #[serde(default)]
    faults: Option<RawFaults>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    ivr: Option<Spanned<String>>,
    #[serde(default)]
    utc_offset: Option<Spanned<String>>,
    #[serde(default)]
    schedule: Option<Spanned<Vec<Spanned<RawScheduleEntry>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScheduleEntry {
    between: Spanned<String>,
    #[serde(default)]
    query_delay: Option<Spanned<RawDelay>>,
    #[serde(default)]
    agent_answer_delay: Option<Spanned<RawDelay>>,
    #[serde(default)]
    faults: Option<RawFaults>,
}

/// No `Debug`: holds passwords.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    realm: Spanned<String>,
    users: Spanned<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    #[serde(default)]
    reject: Option<RawReject>,
    #[serde(default)]
    no_answer: Option<RawRate>,
    #[serde(default)]
    drop_after: Option<RawDropAfter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReject {
    rate: Spanned<f64>,
    #[serde(default)]
    code: Option<Spanned<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    rate: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDropAfter {
    rate: Spanned<f64>,
    #[serde(default)]
    after: Option<Dur>,
}

fn rate(file: &Path, r: &Spanned<f64>, field: &str) -> Result<f64, ScenarioError> {
    if !(0.0..=1.0).contains(&r.value) {
        return Err(invalid(
            file,
            r,
            field,
            format!("must be a probability in [0, 1], got {}", r.value),
        ));
    }
    Ok(r.value)
}

impl RawSut {
    fn validate(self, file: &Path) -> Result<SutConfig, ScenarioError> {
        let d = SutConfig::default();
        let listen = match &self.listen {
            Some(l) => l.value.trim().parse().map_err(|_| {
                invalid(
                    file,
                    l,
                    "listen",
                    format!(
                        "invalid socket address {:?} (expected e.g. 127.0.0.1:5080)",
                        l.value
                    ),
                )
            })?,
            None => d.listen,
        };
        let trunks = match &self.trunks {
            Some(t) if t.value < 1 => return Err(invalid(file, t, "trunks", "must be at least 1")),
            Some(t) => t.value,
            None => d.trunks,
        };
        let prompt = match &self.prompt {
            Some(p) if p.value.trim().is_empty() => {
                return Err(invalid(file, p, "prompt", "expected a WAV file path"))
            }
            Some(p) => {
                let path = relative_to(file, p.value.trim());
                if !path.is_file() {
                    return Err(ScenarioError::FileNotFound {
                        at: crate::scenario::yaml::position(file, Some(p.referenced)),
                        field: "prompt".into(),
                        path,
                    });
                }
                Some(path)
            }
            None => None,
        };
        let max_call = match &self.max_call {
            Some(m) if m.value.0.is_zero() => {
                return Err(invalid(file, m, "max_call", "must be greater than 0"))
            }
            Some(m) => m.value.0,
            None => d.max_call,
        };
        let codecs = match &self.codecs {
            Some(c) => check_codecs(file, c, "codecs")?,
            None => d.codecs,
        };
        let auth = match self.auth {
            Some(a) => {
                let realm = a.realm.value.trim();
                if realm.is_empty() {
                    return Err(invalid(file, &a.realm, "auth.realm", "must not be empty"));
                }
                if a.users.value.is_empty() {
                    return Err(invalid(
                        file,
                        &a.users,
                        "auth.users",
                        "must list at least one user",
                    ));
                }
                Some(SutAuth::new(realm, a.users.value))
            }
            None => None,
        };
        let faults = match &self.faults {
            Some(f) => validate_faults(file, f, "faults")?,
            None => Faults::default(),
        };
        let ivr = match &self.ivr {
            None => None,
            Some(p) => {
                let path = relative_to(file, p.value.trim());
                if !path.is_file() {
                    return Err(ScenarioError::FileNotFound {
                        at: crate::scenario::yaml::position(file, Some(p.referenced)),
                        field: "ivr".into(),
                        path,
                    });
                }
                Some(LoadedIvr::load(&path)?)
            }
        };
        let utc_offset_s = match &self.utc_offset {
            Some(o) => Some(
                parse_utc_offset(&o.value).map_err(|why| invalid(file, o, "utc_offset", why))?,
            ),
            None => None,
        };
        let mut entries = Vec::new();
        for (i, raw) in self
            .schedule
            .iter()
            .flat_map(|s| s.value.iter())
            .enumerate()
        {
            entries.push(raw.value.validate(file, raw, i, ivr.as_ref())?);
        }
        let mut cfg = SutConfig {
            listen,
            transport: self.transport.unwrap_or(d.transport),
            trunks,
            retry_after: self.retry_after.unwrap_or(d.retry_after),
            ring_delay: self.ring_delay.map_or(d.ring_delay, |x| x.0),
            answer_delay: self.answer_delay.map_or(d.answer_delay, |x| x.0),
            early_media: self.early_media.unwrap_or(d.early_media),
            prompt,
            after_prompt: self.after_prompt.unwrap_or(d.after_prompt),
            max_call,
            codecs,
            auth,
            faults,
            seed: self.seed.unwrap_or(d.seed),
            ivr,
            schedule: Schedule {
                utc_offset_s,
                entries,
            },
        };
        cfg.prepare_schedule();
        Ok(cfg)
    }
}

/// Validates a `faults` map (the global one, or a schedule entry's at `field`).
fn validate_faults(file: &Path, f: &RawFaults, field: &str) -> Result<Faults, ScenarioError> {
    let mut faults = Faults::default();
    let mut first_rate = None;
    if let Some(r) = &f.reject {
        let mut fault = RejectFault {
            rate: rate(file, &r.rate, &format!("{field}.reject.rate"))?,
            ..RejectFault::default()
        };
        if let Some(code) = &r.code {
            if !(400..=699).contains(&code.value) {
                return Err(invalid(
                    file,
                    code,
                    &format!("{field}.reject.code"),
                    format!("must be a final error code 400-699, got {}", code.value),
                ));
            }
            fault.code = code.value;
        }
        first_rate.get_or_insert(&r.rate);
        faults.reject = Some(fault);
    }
    if let Some(n) = &f.no_answer {
        faults.no_answer = Some(NoAnswerFault {
            rate: rate(file, &n.rate, &format!("{field}.no_answer.rate"))?,
        });
        first_rate.get_or_insert(&n.rate);
    }
    if let Some(x) = &f.drop_after {
        faults.drop_after = Some(DropAfterFault {
            rate: rate(file, &x.rate, &format!("{field}.drop_after.rate"))?,
            after: x.after.map_or(DropAfterFault::default().after, |a| a.0),
        });
        first_rate.get_or_insert(&x.rate);
    }
    let total = faults.total_rate();
    if let Some(r) = first_rate.filter(|_| total > 1.0 + 1e-9) {
        return Err(invalid(
            file,
            r,
            field,
            format!(
                "the fault rates add up to {total}; they are exclusive outcomes of one \
draw per call, so at most 1"
            ),
        ));
    }
    Ok(faults)
}

impl RawScheduleEntry {
    /// Validates entry `i` (spanned as `at`) against the configured IVR.
    fn validate(
        &self,
        file: &Path,
        at: &Spanned<RawScheduleEntry>,
        i: usize,
        ivr: Option<&LoadedIvr>,
    ) -> Result<ScheduleEntry, ScenarioError> {
        let field = format!("schedule[{i}]");
        let window: DailyWindow = self.between.value.parse().map_err(|e: DaytimeError| {
            invalid(
                file,
                &self.between,
                &format!("{field}.between"),
                e.to_string(),
            )
        })?;
        if self.query_delay.is_none() && self.agent_answer_delay.is_none() && self.faults.is_none()
        {
            return Err(invalid(
                file,
                at,
                &field,
                "changes nothing: give query_delay, agent_answer_delay or faults",
            ));
        }
        let query_delay = match &self.query_delay {
            Some(raw) => {
                let name = format!("{field}.query_delay");
                let def = ivr.map(|i| &*i.0).ok_or_else(|| {
                    invalid(
                        file,
                        raw,
                        &name,
                        "needs an `ivr` (it replaces the delay of its query nodes)",
                    )
                })?;
                if !def.nodes.values().any(|n| matches!(n, IvrNode::Query(_))) {
                    return Err(invalid(
                        file,
                        raw,
                        &name,
                        format!("the IVR {:?} has no query node", def.name),
                    ));
                }
                Some(ivr::delay(file, raw, &name)?)
            }
            None => None,
        };
        let agent_answer_delay = match &self.agent_answer_delay {
            Some(raw) => {
                let name = format!("{field}.agent_answer_delay");
                let def = ivr.map(|i| &*i.0).ok_or_else(|| {
                    invalid(
                        file,
                        raw,
                        &name,
                        "needs an `ivr` (it replaces the answer delay of its agent queues)",
                    )
                })?;
                if def.queues.is_empty() {
                    return Err(invalid(
                        file,
                        raw,
                        &name,
                        format!("the IVR {:?} has no agent queue", def.name),
                    ));
                }
                Some(ivr::delay(file, raw, &name)?)
            }
            None => None,
        };
        let faults = match &self.faults {
            Some(f) => Some(validate_faults(file, f, &format!("{field}.faults"))?),
            None => None,
        };
        Ok(ScheduleEntry {
            window,
            query_delay,
            agent_answer_delay,
            faults,
            prepared: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sut_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sut")
    }

    fn err(text: &str) -> String {
        let e = parse_sut_config(text, Path::new("sut.yaml")).expect_err("must fail");
        e.to_string()
    }

    #[test]
    fn shipped_default_matches_builtin() {
        let c = load_sut_config(&sut_dir().join("default.yaml")).expect("default.yaml loads");
        let expected = SutConfig {
            prompt: Some(sut_dir().join("../prompts/welcome.wav")),
            faults: Faults {
                reject: Some(RejectFault::default()),
                no_answer: Some(NoAnswerFault::default()),
                drop_after: Some(DropAfterFault::default()),
            },
            ..SutConfig::default()
        };
        assert_eq!(c, expected);
        // The file on disk and the embedded copy are the same prompt.
        assert_eq!(
            c.prompt_wav().expect("readable").as_ref(),
            EMBEDDED_WELCOME_WAV
        );
        let builtin = SutConfig::default().prompt_wav().expect("embedded");
        assert_eq!(builtin.as_ref(), EMBEDDED_WELCOME_WAV);
    }

    #[test]
    fn empty_document_is_the_default() {
        let c = parse_sut_config("{}\n", Path::new("sut.yaml")).expect("empty mapping");
        assert_eq!(c, SutConfig::default());
    }

    #[test]
    fn everything_set() {
        let text = "\
listen: '[::1]:5090'
transport: tcp
trunks: 2
retry_after: 9
ring_delay: 50ms
answer_delay: 1.5s
early_media: true
after_prompt: keep
max_call: 2m
codecs: [pcma]
auth: { realm: callcert, users: { alice: secret, bob: hunter2 } }
faults:
  reject: { rate: 0.25, code: 503 }
  no_answer: { rate: 0.1 }
  drop_after: { rate: 0.5, after: 3s }
seed: 99
";
        let c = parse_sut_config(text, Path::new("sut.yaml")).expect("parses");
        assert_eq!(c.listen, "[::1]:5090".parse().expect("literal"));
        assert_eq!(c.transport, TransportKind::Tcp);
        assert_eq!((c.trunks, c.retry_after), (2, 9));
        assert_eq!(c.answer_delay, Duration::from_millis(1500));
        assert!(c.early_media);
        assert_eq!(c.after_prompt, AfterPrompt::Keep);
        assert_eq!(c.codecs, vec![AudioCodec::Pcma]);
        let auth = c.auth.as_ref().expect("auth");
        assert_eq!(auth.password("bob"), Some("hunter2"));
        assert_eq!(auth.password("eve"), None);
        assert_eq!(auth.usernames().collect::<Vec<_>>(), vec!["alice", "bob"]);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("secret") && !dbg.contains("hunter2"), "{dbg}");
        let reject = RejectFault {
            rate: 0.25,
            code: 503,
        };
        assert_eq!(c.faults.reject, Some(reject));
        assert_eq!(c.faults.no_answer, Some(NoAnswerFault { rate: 0.1 }));
        let drop_after = c.faults.drop_after.map(|d| d.after);
        assert_eq!(drop_after, Some(Duration::from_secs(3)));
        assert_eq!(c.seed, 99);
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let cases = [
            ("trunks: 0\n", "sut.yaml:1:9: trunks: must be at least 1"),
            ("ring_delay: soon\n", "sut.yaml:1:13: ring_delay: invalid duration \"soon\": expected <number><unit>, units us, ms, s, m, h"),
            ("faults:\n  reject: { rate: 1.5 }\n", "sut.yaml:2:19: faults.reject.rate: must be a probability in [0, 1], got 1.5"),
            ("faults:\n  reject: { rate: 0.5, code: 200 }\n", "sut.yaml:2:30: faults.reject.code: must be a final error code 400-699, got 200"),
            ("faults:\n  drop_after: { after: 2s }\n", "sut.yaml:2:17: faults.drop_after.rate: missing field `rate`"),
            ("prompt: nope.wav\n", "sut.yaml:1:9: prompt: file not found: nope.wav"),
            ("auth: { realm: '', users: { a: b } }\n", "sut.yaml:1:16: auth.realm: must not be empty"),
            ("listen: 5080\n", "sut.yaml:1:9: listen: invalid socket address \"5080\" (expected e.g. 127.0.0.1:5080)"),
            ("max_call: 0s\n", "sut.yaml:1:11: max_call: must be greater than 0"),
            ("codecs: [pcmu, pcmu]\n", "sut.yaml:1:9: codecs[1]: pcmu is listed twice"),
            ("faults:\n  reject: { rate: 0.6 }\n  no_answer: { rate: 0.6 }\n", "sut.yaml:2:19: faults: the fault rates add up to 1.2; they are exclusive outcomes of one draw per call, so at most 1"),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text}");
        }
        let e = err("faults:\n  latency: { rate: 0.1 }\n");
        assert!(
            e.starts_with("sut.yaml:2:3: faults.latency: unknown field `latency`"),
            "{e}"
        );
        let e = err("after_prompt: linger\n");
        assert!(
            e.starts_with("sut.yaml:1:15: after_prompt: unknown variant `linger`"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    fn sut_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sut")
    }

    /// The bank IVR's absolute path, for configurations parsed as `sut.yaml`.
    fn bank_ivr() -> String {
        sut_dir().join("../ivr/bank.yaml").display().to_string()
    }

    fn parse(text: &str) -> SutConfig {
        parse_sut_config(text, Path::new("sut.yaml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn err(text: &str) -> String {
        parse_sut_config(text, Path::new("sut.yaml"))
            .expect_err(text)
            .to_string()
    }

    fn query_delays(def: &IvrDefinition) -> Vec<Delay> {
        def.nodes
            .values()
            .filter_map(|n| match n {
                IvrNode::Query(q) => Some(q.delay),
                _ => None,
            })
            .collect()
    }

    const H: f64 = 3600.0;
    /// 2025-12-05 00:00:00 UTC.
    const MIDNIGHT_UTC: f64 = 1_764_892_800.0;

    #[test]
    fn entries_parse_into_prepared_definitions() {
        let text = format!(
            "ivr: {}\nutc_offset: '+08:00'\nfaults: {{ no_answer: {{ rate: 0.1 }} }}\nschedule:\n\
             \x20 - between: 10:00-11:00\n    query_delay: 3s\n\
             \x20 - between: \"18:00-19:00\"\n    agent_answer_delay: {{ dist: normal, mean: 8s, sd: 1s }}\n\
             \x20 - between: 22:00-06:00\n    faults: {{ reject: {{ rate: 1, code: 503 }} }}\n\
             \x20 - {{ between: '12:00:00-12:00:30', query_delay: 2s, faults: {{}} }}\n",
            bank_ivr()
        );
        let c = parse(&text);
        let s = &c.schedule;
        assert_eq!(s.utc_offset_s, Some(8 * 3600));
        for (written, want) in [("+08:00", 28_800), ("-05:30", -19_800), ("UTC", 0)] {
            let c = parse(&format!("utc_offset: {written}\n"));
            assert_eq!(c.schedule.utc_offset_s, Some(want), "{written}");
        }
        assert_eq!(s.entries.len(), 4);
        assert_eq!(s.entries[0].window, "10:00-11:00".parse().unwrap());
        assert_eq!(
            s.entries[0].query_delay,
            Some(Delay::Fixed(Duration::from_secs(3)))
        );
        assert_eq!(s.entries[0].agent_answer_delay, None);
        assert_eq!(s.entries[0].faults, None);
        assert_eq!(
            s.entries[1].agent_answer_delay,
            Some(Delay::Normal {
                mean: Duration::from_secs(8),
                sd: Duration::from_secs(1)
            })
        );
        let outage = Faults {
            reject: Some(RejectFault {
                rate: 1.0,
                code: 503,
            }),
            ..Faults::default()
        };
        assert_eq!(s.entries[2].faults, Some(outage));
        assert_eq!(s.entries[2].window.len_s(), 8 * 3600);
        assert_eq!(s.entries[3].window.len_s(), 30);
        // An empty `faults` switches the global faults off in the window.
        assert_eq!(s.entries[3].faults, Some(Faults::default()));
        assert_eq!(
            s.entries[2].to_string(),
            "22:00-06:00: faults reject 100% (503)"
        );
        assert_eq!(
            s.entries[3].to_string(),
            "12:00-12:00:30: query_delay 2s, faults none"
        );
        // Prepared at load: the entries that change the IVR hold their own definition.
        let base = &c.ivr.as_ref().unwrap().0;
        for (i, want) in [(0, true), (1, true), (2, false), (3, true)] {
            let p = s.entries[i].prepared.as_ref();
            assert_eq!(p.is_some(), want, "entry {i}");
            if let Some(p) = p {
                assert!(Arc::ptr_eq(&p.base, base));
                assert!(!Arc::ptr_eq(&p.ivr, base));
            }
        }
    }

    #[test]
    fn schedule_errors_name_file_line_column_and_field() {
        let ivr = bank_ivr();
        let tmp = tempfile::tempdir().unwrap();
        let tiny = tiny_ivr(tmp.path());
        let cases = [
            (
                "schedule:\n  - between: \"10:00\"\n    query_delay: 3s\n".to_string(),
                "sut.yaml:2:14: schedule[0].between: invalid time window \"10:00\": no `-` between \
start and end (expected HH:MM-HH:MM or HH:MM:SS-HH:MM:SS)",
            ),
            (
                format!("ivr: {ivr}\nschedule:\n  - between: 10:00-11:00\n    query_delay: 3s\n  - between: 25:00-26:00\n    query_delay: 3s\n"),
                "sut.yaml:5:14: schedule[1].between: invalid time window \"25:00-26:00\": out of \
range (00:00 to 24:00) (expected HH:MM-HH:MM or HH:MM:SS-HH:MM:SS)",
            ),
            (
                "schedule:\n  - between: 10:00-11:00\n".to_string(),
                "sut.yaml:2:5: schedule[0]: changes nothing: give query_delay, agent_answer_delay \
or faults",
            ),
            (
                "schedule:\n  - { between: 10:00-11:00 }\n".to_string(),
                "sut.yaml:2:5: schedule[0]: changes nothing: give query_delay, agent_answer_delay \
or faults",
            ),
            (
                "schedule:\n  - between: 10:00-11:00\n    query_delay: 3s\n".to_string(),
                "sut.yaml:3:18: schedule[0].query_delay: needs an `ivr` (it replaces the delay of \
its query nodes)",
            ),
            (
                "schedule:\n  - between: 10:00-11:00\n    agent_answer_delay: 3s\n".to_string(),
                "sut.yaml:3:25: schedule[0].agent_answer_delay: needs an `ivr` (it replaces the \
answer delay of its agent queues)",
            ),
            (
                format!("ivr: {tiny}\nschedule:\n  - between: 10:00-11:00\n    query_delay: 3s\n"),
                "sut.yaml:4:18: schedule[0].query_delay: the IVR \"Tiny\" has no query node",
            ),
            (
                format!("ivr: {tiny}\nschedule:\n  - between: 10:00-11:00\n    agent_answer_delay: 3s\n"),
                "sut.yaml:4:25: schedule[0].agent_answer_delay: the IVR \"Tiny\" has no agent queue",
            ),
            (
                format!("ivr: {ivr}\nschedule:\n  - between: 10:00-11:00\n    query_delay: {{ dist: gamma, mean: 2s }}\n"),
                "sut.yaml:4:26: schedule[0].query_delay.dist: unknown distribution \"gamma\" \
(expected normal, uniform, lognormal, exponential)",
            ),
            (
                "schedule:\n  - between: 10:00-11:00\n    faults: { reject: { rate: 2 } }\n".to_string(),
                "sut.yaml:3:31: schedule[0].faults.reject.rate: must be a probability in [0, 1], got 2",
            ),
            (
                "schedule:\n  - between: 10:00-11:00\n    faults: { reject: { rate: 1, code: 200 } }\n".to_string(),
                "sut.yaml:3:40: schedule[0].faults.reject.code: must be a final error code 400-699, got 200",
            ),
            (
                "schedule:\n  - between: 10:00-11:00\n    faults: { reject: { rate: 0.7 }, no_answer: { rate: 0.7 } }\n".to_string(),
                "sut.yaml:3:31: schedule[0].faults: the fault rates add up to 1.4; they are \
exclusive outcomes of one draw per call, so at most 1",
            ),
            (
                "utc_offset: '+25:00'\n".to_string(),
                "sut.yaml:1:13: utc_offset: invalid UTC offset \"+25:00\": expected +HH:MM, -HH:MM or UTC",
            ),
        ];
        for (text, want) in &cases {
            assert_eq!(&err(text), want, "{text}");
        }
        for (text, starts) in [
            (
                "schedule:\n  - between: 10:00-11:00\n    slow: 3s\n",
                "sut.yaml:3:5: schedule[0].slow: unknown field `slow`",
            ),
            (
                "schedule:\n  - between: 10:00-11:00\n    faults: { outage: { rate: 1 } }\n",
                "sut.yaml:3:15: schedule[0].faults.outage: unknown field `outage`",
            ),
            (
                "schedule:\n  - query_delay: 3s\n",
                "sut.yaml:2:5: schedule[0].between: missing field `between`",
            ),
            ("schedule: 10:00-11:00\n", "sut.yaml:1:11: schedule: "),
        ] {
            let e = err(text);
            assert!(e.starts_with(starts), "{text}: {e}");
        }
    }

    /// An IVR with one play node and no query node or agent queue, in a temporary folder.
    fn tiny_ivr(dir: &Path) -> String {
        let welcome = sut_dir().join("../ivr/prompts/welcome.wav");
        let path = dir.join("tiny.yaml");
        std::fs::write(
            &path,
            format!(
                "name: Tiny\nprompts: {{ welcome: {} }}\nstart: hi\nnodes:\n  hi: {{ type: play, prompt: welcome, delay: 0s, next: bye }}\n  bye: {{ type: hangup }}\n",
                welcome.display()
            ),
        )
        .unwrap();
        path.display().to_string()
    }

    /// A day in hours at `offset`: which entry governs each local hour.
    fn entries_by_local_hour(c: &SutConfig, offset_h: f64) -> Vec<Option<usize>> {
        (0..24)
            .map(|h| {
                // Half past local hour h, whatever the offset.
                let t = MIDNIGHT_UTC + (f64::from(h) + 0.5 - offset_h) * H;
                c.behaviour_at(t).entry
            })
            .collect()
    }

    fn day_config(offset: &str) -> SutConfig {
        parse(&format!(
            "ivr: {}\nutc_offset: '{offset}'\nschedule:\n\
             \x20 - {{ between: 10:00-11:00, query_delay: 3s }}\n\
             \x20 - {{ between: 10:00-13:00, faults: {{ no_answer: {{ rate: 0.5 }} }} }}\n\
             \x20 - {{ between: 18:00-19:00, agent_answer_delay: 8s }}\n\
             \x20 - {{ between: 22:00-02:00, faults: {{ reject: {{ rate: 1, code: 503 }} }} }}\n",
            bank_ivr()
        ))
    }

    #[test]
    fn the_active_entry_follows_the_local_time_of_day_at_every_offset() {
        let mut want = vec![None; 24];
        want[10] = Some(0); // first match wins over entry 1
        want[11] = Some(1);
        want[12] = Some(1);
        want[18] = Some(2);
        for h in [22, 23, 0, 1] {
            want[h] = Some(3); // over midnight
        }
        for (offset, hours) in [
            ("+00:00", 0.0),
            ("+08:00", 8.0),
            ("-05:00", -5.0),
            ("+05:30", 5.5),
            ("-09:30", -9.5),
        ] {
            let c = day_config(offset);
            assert_eq!(entries_by_local_hour(&c, hours), want, "offset {offset}");
        }
        // Edges, to the second: [start, end).
        let c = day_config("+00:00");
        let at = |h: f64| c.behaviour_at(MIDNIGHT_UTC + h * H).entry;
        assert_eq!(at(10.0 - 1.0 / H), None);
        assert_eq!(at(10.0), Some(0));
        assert_eq!(at(11.0 - 1.0 / H), Some(0));
        assert_eq!(at(11.0), Some(1));
        assert_eq!(at(13.0), None);
        assert_eq!(at(2.0 - 1.0 / H), Some(3));
        assert_eq!(at(2.0), None);
        // Any day, before or after the epoch's.
        assert_eq!(
            c.behaviour_at(MIDNIGHT_UTC + 400.0 * 86_400.0 + 18.5 * H)
                .entry,
            Some(2)
        );
        assert_eq!(c.behaviour_at(-86_400.0 + 23.0 * H).entry, Some(3));
    }

    #[test]
    fn without_utc_offset_the_machine_zone_is_used() {
        let text = format!(
            "ivr: {}\nschedule:\n  - {{ between: 10:00-11:00, query_delay: 3s }}\n",
            bank_ivr()
        );
        let c = parse(&text);
        assert_eq!(c.schedule.utc_offset_s, None);
        for h in 0..48 {
            let t = MIDNIGHT_UTC + f64::from(h) * 1800.0 + 17.0;
            let local = local_utc_offset_s(t as i64);
            assert_eq!(c.schedule.utc_offset_at(t), local);
            let hour = second_of_day(t, local) / 3600;
            assert_eq!(c.behaviour_at(t).entry, (hour == 10).then_some(0), "t {t}");
        }
    }

    #[test]
    fn behaviour_gives_the_entry_definition_and_faults() {
        let mut c = day_config("+00:00");
        c.faults.drop_after = Some(DropAfterFault {
            rate: 0.25,
            after: Duration::from_secs(2),
        });
        fn at(c: &SutConfig, h: f64) -> Behaviour<'_> {
            c.behaviour_at(MIDNIGHT_UTC + h * H)
        }
        let base = c.ivr.as_ref().unwrap().0.clone();
        let bank_query = query_delays(&base);
        assert_eq!(bank_query.len(), 2);

        // Outside every window: the configured IVR itself and the global faults.
        let quiet = at(&c, 8.0);
        assert_eq!((quiet.entry, quiet.window), (None, None));
        assert!(Arc::ptr_eq(quiet.ivr.as_ref().unwrap(), &base));
        assert_eq!(*quiet.faults, c.faults);

        // 10:00-11:00: every query node takes 3 s; the rest of the IVR is the configured one.
        let slow = at(&c, 10.5);
        let def = slow.ivr.clone().unwrap();
        assert_eq!(
            query_delays(&def),
            vec![Delay::Fixed(Duration::from_secs(3)); 2]
        );
        assert_eq!(def.queues, base.queues);
        assert_eq!(def.start, base.start);
        assert_eq!(*slow.faults, c.faults, "no faults key: the global faults");
        // A look-up: the same prepared definition for every call in the window.
        assert!(Arc::ptr_eq(&def, at(&c, 10.9).ivr.as_ref().unwrap()));

        // 11:00-13:00: the IVR is the configured one, the faults the entry's.
        let flaky = at(&c, 12.0);
        assert!(Arc::ptr_eq(flaky.ivr.as_ref().unwrap(), &base));
        assert_eq!(
            *flaky.faults,
            Faults {
                no_answer: Some(NoAnswerFault { rate: 0.5 }),
                ..Faults::default()
            }
        );

        // 18:00-19:00: slow agents, the same queues (names and sizes: the same pools).
        let agents = at(&c, 18.2).ivr.unwrap();
        assert_eq!(query_delays(&agents), bank_query);
        let q = &agents.queues["agents"];
        assert_eq!(q.answer_delay, Delay::Fixed(Duration::from_secs(8)));
        assert_eq!(q.handle_time, base.queues["agents"].handle_time);
        let pools = |d: &IvrDefinition| {
            d.agent_pools()
                .iter()
                .map(|(n, p)| (n.clone(), p.count()))
                .collect::<Vec<_>>()
        };
        assert_eq!(pools(&agents), pools(&base));

        // The outage over midnight.
        assert_eq!(
            at(&c, 23.0).faults.reject.map(|r| (r.rate, r.code)),
            Some((1.0, 503))
        );

        // A replaced IVR without preparing: still right (derived on the spot).
        let mut other = (*base).clone();
        other.name = "Other".into();
        c.ivr = Some(LoadedIvr(Arc::new(other)));
        let a = at(&c, 10.5).ivr.unwrap();
        let b = at(&c, 10.5).ivr.unwrap();
        assert_eq!(a.name, "Other");
        assert_eq!(
            query_delays(&a),
            vec![Delay::Fixed(Duration::from_secs(3)); 2]
        );
        assert!(!Arc::ptr_eq(&a, &b));
        // set_ivr prepares it: a look-up again.
        let current = c.ivr.clone();
        c.set_ivr(current);
        let a = at(&c, 10.5).ivr.unwrap();
        assert!(Arc::ptr_eq(&a, &at(&c, 10.5).ivr.unwrap()));
        assert_eq!(a.name, "Other");
        // Without an IVR, no definition in any window.
        c.set_ivr(None);
        assert!(at(&c, 10.5).ivr.is_none() && at(&c, 8.0).ivr.is_none());
    }

    #[test]
    fn fixed_delays_fix_the_schedule_too() {
        let c = parse(&format!(
            "ivr: {}\nutc_offset: UTC\nschedule:\n\
             \x20 - {{ between: 10:00-11:00, query_delay: {{ dist: uniform, min: 2s, max: 4s }} }}\n",
            bank_ivr()
        ))
        .with_fixed_delays();
        let three = Delay::Fixed(Duration::from_secs(3));
        assert_eq!(c.schedule.entries[0].query_delay, Some(three));
        let slow = c.behaviour_at(MIDNIGHT_UTC + 10.5 * H).ivr.unwrap();
        assert_eq!(query_delays(&slow), vec![three; 2]);
        let quiet = c.behaviour_at(MIDNIGHT_UTC).ivr.unwrap();
        assert_eq!(
            query_delays(&quiet),
            vec![
                Delay::Fixed(Duration::from_millis(1500)),
                Delay::Fixed(Duration::from_millis(1000))
            ]
        );
    }

    #[test]
    fn shipped_slow_hour_example_loads() {
        let c = load_sut_config(&sut_dir().join("bank-slow-hour.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let e = &c.schedule.entries;
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].window, "10:00-11:00".parse().unwrap());
        assert_eq!(
            e[0].query_delay,
            Some(Delay::Normal {
                mean: Duration::from_secs(6),
                sd: Duration::from_millis(500)
            })
        );
        assert_eq!(e[1].window, "18:00-19:00".parse().unwrap());
        assert_eq!(
            e[1].agent_answer_delay,
            Some(Delay::Fixed(Duration::from_secs(8)))
        );
        // Every other setting is bank.yaml's.
        let bank = load_sut_config(&sut_dir().join("bank.yaml")).unwrap();
        assert_eq!(
            SutConfig {
                schedule: Schedule::default(),
                ..c.clone()
            },
            bank
        );
    }
}
