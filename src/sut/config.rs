//! Configuration of the reference call center (`callcert sut`): YAML with the same conventions
//! and errors as scenario files (`file:line:col: field: message`).
//!
//! Its delays are ground truth: the harness's post-dial delay and answer measurements are
//! checked against `ring_delay` and `answer_delay`.

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
    /// this file); without it the call center plays `prompt` once.
    pub ivr: Option<LoadedIvr>,
}

/// A loaded IVR definition, shared by every call.
#[derive(Debug, Clone)]
pub struct LoadedIvr(pub std::sync::Arc<super::ivr::IvrDefinition>);

impl PartialEq for LoadedIvr {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0) || self.0.file == other.0.file
    }
}

impl LoadedIvr {
    /// Loads an IVR definition file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        super::ivr::load_ivr(path).map(|d| LoadedIvr(std::sync::Arc::new(d)))
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
        }
    }
}

impl SutConfig {
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
        let mut faults = Faults::default();
        if let Some(f) = self.faults {
            let mut first_rate = None;
            if let Some(r) = &f.reject {
                let mut fault = RejectFault {
                    rate: rate(file, &r.rate, "faults.reject.rate")?,
                    ..RejectFault::default()
                };
                if let Some(code) = &r.code {
                    if !(400..=699).contains(&code.value) {
                        return Err(invalid(
                            file,
                            code,
                            "faults.reject.code",
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
                    rate: rate(file, &n.rate, "faults.no_answer.rate")?,
                });
                first_rate.get_or_insert(&n.rate);
            }
            if let Some(x) = &f.drop_after {
                faults.drop_after = Some(DropAfterFault {
                    rate: rate(file, &x.rate, "faults.drop_after.rate")?,
                    after: x.after.map_or(DropAfterFault::default().after, |a| a.0),
                });
                first_rate.get_or_insert(&x.rate);
            }
            let total = faults.total_rate();
            if let Some(r) = first_rate.filter(|_| total > 1.0 + 1e-9) {
                return Err(invalid(
                    file,
                    r,
                    "faults",
                    format!(
                        "the fault rates add up to {total}; they are exclusive outcomes of one \
draw per call, so at most 1"
                    ),
                ));
            }
        }
        Ok(SutConfig {
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
            ivr: match &self.ivr {
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
            },
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
