//! The scenario file as written (serde shape, with source spans) and its validation into
//! [`Scenario`].

use super::error::ScenarioError;
use super::model::{CallPlan, CallerAudio, Scenario, Timers, DEFAULT_MAX_RATE};
use super::yaml::{check_codecs, invalid, position, Dur, EnvLookup};
use crate::sip::auth::Credentials;
use crate::sip::dialog::TransportKind;
use crate::sip::rsip::{Host, Uri};
use crate::sip::sdp::AudioCodec;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

fn yes() -> bool {
    true
}

/// Top level of a scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    name: Spanned<String>,
    target: Spanned<String>,
    #[serde(default)]
    transport: Option<TransportKind>,
    #[serde(default)]
    local: Option<Spanned<String>>,
    #[serde(default)]
    from: Option<Spanned<String>>,
    #[serde(default)]
    codec: Option<Spanned<AudioCodec>>,
    #[serde(default)]
    codecs: Option<Spanned<Vec<AudioCodec>>>,
    #[serde(default = "yes")]
    telephone_event: bool,
    #[serde(default)]
    preflight: bool,
    #[serde(default)]
    profile: Option<Spanned<String>>,
    #[serde(default)]
    thresholds: Option<std::collections::BTreeMap<String, Vec<Spanned<String>>>>,
    #[serde(default)]
    abort_on_fail: bool,
    #[serde(default)]
    capture: crate::report::pcap::CaptureMode,
    #[serde(default)]
    credentials: Option<Spanned<RawCredentials>>,
    #[serde(default)]
    calls: Option<Spanned<u64>>,
    #[serde(default)]
    rate: Option<Spanned<f64>>,
    #[serde(default)]
    load: Option<Spanned<super::raw_load::RawLoad>>,
    #[serde(default)]
    max_concurrent: Option<Spanned<u32>>,
    #[serde(default)]
    max_rate: Option<Spanned<f64>>,
    #[serde(default)]
    drain: Option<Spanned<Dur>>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    timers: Option<RawTimers>,
    #[serde(default)]
    call: Option<RawCall>,
}

/// `credentials:`; no `Debug`, it may hold a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    username: Spanned<String>,
    #[serde(default)]
    password: Option<Spanned<String>>,
    #[serde(default)]
    password_env: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimers {
    #[serde(default)]
    t1: Option<Spanned<Dur>>,
    #[serde(default)]
    t2: Option<Spanned<Dur>>,
    #[serde(default)]
    t4: Option<Spanned<Dur>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    #[serde(default)]
    answer_timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    hold: Option<Spanned<Dur>>,
    #[serde(default)]
    audio: Option<Spanned<String>>,
    #[serde(default = "yes")]
    expect_voice: bool,
    #[serde(default)]
    expect_media: Option<Spanned<bool>>,
    #[serde(default)]
    media: Option<Spanned<bool>>,
    #[serde(default)]
    media_timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    voice_threshold_dbov: Option<Spanned<f64>>,
    #[serde(default)]
    prompts: Option<Spanned<String>>,
    #[serde(default)]
    steps: Option<Vec<Spanned<super::raw_steps::RawStep>>>,
    #[serde(default)]
    quality: Option<super::raw_quality::RawQuality>,
}

impl RawScenario {
    /// Checks every value and fills in defaults (STYLE.md rule 9: validated once, at load).
    pub(crate) fn validate(
        self,
        file: &Path,
        env: EnvLookup<'_>,
        text: &str,
    ) -> Result<Scenario, ScenarioError> {
        // Thresholds and profiles are checked here, before any call (k6: exit 104).
        let mut thresholds = Vec::new();
        let mut profile_name = None;
        if let Some(p) = &self.profile {
            let name = p.value.trim();
            let builtin = crate::verdict::BUILTIN_PROFILES
                .iter()
                .any(|(n, _)| *n == name);
            let spec = if builtin || Path::new(name).is_absolute() {
                name.to_string()
            } else {
                let rel = super::yaml::relative_to(file, name);
                if rel.exists() {
                    rel.display().to_string()
                } else {
                    name.to_string()
                }
            };
            let profile = crate::verdict::load_profile(&spec).map_err(|e| {
                if e.position().is_some() {
                    e
                } else {
                    invalid(file, p, "profile", format!("{e}"))
                }
            })?;
            profile_name = Some(profile.name.clone());
            thresholds.extend(profile.thresholds);
        }
        if let Some(map) = &self.thresholds {
            thresholds.extend(crate::verdict::parse_threshold_map(
                file,
                text,
                "thresholds",
                map,
            )?);
        }
        let name = self.name.value.trim().to_string();
        if name.is_empty() {
            return Err(invalid(file, &self.name, "name", "must not be empty"));
        }
        let target = parse_uri(&self.target.value, &["sip", "sips", "tel"])
            .map_err(|m| invalid(file, &self.target, "target", m))?;
        let local = match &self.local {
            Some(l) => l.value.trim().parse::<SocketAddr>().map_err(|_| {
                invalid(
                    file,
                    l,
                    "local",
                    format!(
                        "invalid socket address {:?} (expected e.g. 127.0.0.1:0 or [::1]:5062)",
                        l.value
                    ),
                )
            })?,
            None => default_local(&target),
        };
        let from = match &self.from {
            Some(f) => Some(
                parse_uri(&f.value, &["sip", "sips"]).map_err(|m| invalid(file, f, "from", m))?,
            ),
            None => None,
        };
        let codecs = preferred_codecs(file, self.codec.as_ref(), self.codecs.as_ref())?;
        let credentials = match self.credentials {
            Some(c) => Some(credentials(file, c, env)?),
            None => None,
        };
        let load = match &self.load {
            Some(l) => Some(super::raw_load::load(file, l)?),
            None => None,
        };
        let (calls, rate) = match (&self.calls, &self.rate, &load) {
            (Some(c), Some(r), None) => {
                if c.value < 1 {
                    return Err(invalid(file, c, "calls", "must be at least 1"));
                }
                if !(r.value.is_finite() && r.value > 0.0) {
                    return Err(invalid(
                        file,
                        r,
                        "rate",
                        format!(
                            "must be a positive number of calls per second, got {}",
                            r.value
                        ),
                    ));
                }
                (c.value, r.value)
            }
            (None, None, Some(l)) => {
                // Expected from the profile; the run places what the seeded arrivals give.
                let secs = l.profile.duration().as_secs_f64();
                let rate = l.profile.max_rate(l.holding.mean());
                ((rate * secs).round().max(1.0) as u64, rate)
            }
            (Some(c), _, Some(_)) => {
                return Err(invalid(
                    file,
                    c,
                    "calls",
                    "set either calls and rate, or load",
                ))
            }
            (_, Some(r), Some(_)) => {
                return Err(invalid(
                    file,
                    r,
                    "rate",
                    "set either calls and rate, or load",
                ))
            }
            (None, _, None) => {
                return Err(invalid(
                    file,
                    &self.name,
                    "calls",
                    "missing: the number of calls to place (with rate), or a load: section",
                ))
            }
            (Some(_), None, None) => {
                return Err(invalid(
                    file,
                    &self.name,
                    "rate",
                    "missing: calls per second (or a load: section)",
                ))
            }
        };
        if let Some(m) = &self.max_concurrent {
            if m.value < 1 {
                return Err(invalid(file, m, "max_concurrent", "must be at least 1"));
            }
        }
        // The calls/s ceiling guards the target against a typo in the load: a plan whose own
        // rate is above it is refused here, and Poisson bursts are held to it during the run.
        let max_rate = match &self.max_rate {
            Some(m) if !(m.value.is_finite() && m.value > 0.0) => {
                return Err(invalid(
                    file,
                    m,
                    "max_rate",
                    format!(
                        "must be a positive number of calls per second, got {}",
                        m.value
                    ),
                ))
            }
            Some(m) => m.value,
            None => DEFAULT_MAX_RATE,
        };
        if rate > max_rate {
            let (field, at): (&str, Option<&Spanned<f64>>) = match (&self.rate, &self.max_rate) {
                (_, Some(m)) => ("max_rate", Some(m)),
                (Some(r), None) => ("rate", Some(r)),
                (None, None) => ("load", None),
            };
            let msg = format!(
                "the load peaks at {rate:.1} calls/s, above the ceiling of {max_rate} calls/s \
                 (max_rate, default {DEFAULT_MAX_RATE}): raise max_rate if you mean it"
            );
            return Err(match (at, &self.load) {
                (Some(a), _) => invalid(file, a, field, msg),
                (None, Some(l)) => invalid(file, l, "load", msg),
                (None, None) => invalid(file, &self.name, field, msg),
            });
        }
        let drain = self.drain.as_ref().map(|d| d.value.0);
        let timers = match self.timers {
            Some(t) => timers(file, t)?,
            None => Timers::default(),
        };
        let call = match self.call {
            Some(c) => call_plan(file, c)?,
            None => CallPlan::default(),
        };
        // The Erlang C comparison measures the wait at the flow's `agent` step.
        if let Some(agents) = self.load.as_ref().and_then(|l| l.value.agents_field()) {
            let has_agent_step = call
                .steps
                .iter()
                .any(|s| matches!(s, super::steps::Step::Agent { .. }));
            if !has_agent_step {
                return Err(invalid(
                    file,
                    agents,
                    "load.agents",
                    "declares the target's agent queue, but call.steps has no `agent` step \
                     whose wait could be compared with Erlang C",
                ));
            }
        }
        Ok(Scenario {
            name,
            source: file.to_path_buf(),
            target,
            transport: self.transport.unwrap_or(TransportKind::Udp),
            local,
            from,
            codecs,
            telephone_event: self.telephone_event,
            preflight: self.preflight,
            profile: profile_name,
            thresholds,
            abort_on_fail: self.abort_on_fail,
            capture: self.capture,
            credentials,
            calls,
            load,
            rate,
            max_concurrent: self.max_concurrent.map(|m| m.value),
            max_rate,
            drain,
            seed: self.seed.unwrap_or(1),
            timers,
            call,
        })
    }
}

/// Parses a URI with rsip and checks its scheme is one of `schemes` and it names a host.
fn parse_uri(text: &str, schemes: &[&str]) -> Result<Uri, String> {
    let text = text.trim();
    let wanted = schemes
        .iter()
        .map(|s| format!("{s}:"))
        .collect::<Vec<_>>()
        .join(", ");
    let scheme_ok = text
        .split_once(':')
        .is_some_and(|(s, _)| schemes.iter().any(|w| w.eq_ignore_ascii_case(s)));
    if !scheme_ok {
        return Err(format!("invalid URI {text:?}: expected a {wanted} URI"));
    }
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return Err(format!(
            "invalid URI {text:?}: no spaces or angle brackets allowed"
        ));
    }
    let uri = Uri::try_from(text).map_err(|e| format!("invalid URI {text:?}: {e}"))?;
    let is_tel = text
        .get(..4)
        .is_some_and(|s| s.eq_ignore_ascii_case("tel:"));
    match &uri.host_with_port.host {
        Host::IpAddr(_) => {}
        Host::Domain(d) if is_tel => {
            // RFC 3966 §3: global (+digits) or local number with visual separators.
            let n = d.0.strip_prefix('+').unwrap_or(&d.0);
            let ok = n.chars().any(|c| c.is_ascii_hexdigit())
                && n.chars()
                    .all(|c| c.is_ascii_hexdigit() || "*#-.()".contains(c));
            if !ok {
                return Err(format!("invalid URI {text:?}: bad telephone number"));
            }
        }
        Host::Domain(d) => {
            // RFC 3261 §25.1 hostname (IPv6 literals parse as IpAddr above).
            let ok = !d.0.is_empty()
                && !d.0.starts_with(['-', '.'])
                && d.0
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok {
                return Err(format!("invalid URI {text:?}: bad host {:?}", d.0));
            }
        }
    }
    Ok(uri)
}

/// `0.0.0.0:0`, or `[::]:0` when the target is an IPv6 literal.
fn default_local(target: &Uri) -> SocketAddr {
    match &target.host_with_port.host {
        Host::IpAddr(IpAddr::V6(_)) => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
        _ => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
    }
}

/// `codecs` (or `[codec]`), with `codec` moved to the front.
fn preferred_codecs(
    file: &Path,
    codec: Option<&Spanned<AudioCodec>>,
    codecs: Option<&Spanned<Vec<AudioCodec>>>,
) -> Result<Vec<AudioCodec>, ScenarioError> {
    let Some(list) = codecs else {
        return Ok(vec![codec.map_or(AudioCodec::Pcmu, |c| c.value)]);
    };
    let mut out = check_codecs(file, list, "codecs")?;
    if let Some(c) = codec {
        let Some(i) = out.iter().position(|x| *x == c.value) else {
            return Err(invalid(
                file,
                c,
                "codec",
                format!(
                    "{} is not in codecs",
                    c.value.encoding_name().to_lowercase()
                ),
            ));
        };
        let preferred = out.remove(i);
        out.insert(0, preferred);
    }
    Ok(out)
}

fn credentials(
    file: &Path,
    c: Spanned<RawCredentials>,
    env: EnvLookup<'_>,
) -> Result<Credentials, ScenarioError> {
    let raw = &c.value;
    let username = raw.username.value.trim();
    if username.is_empty() {
        return Err(invalid(
            file,
            &raw.username,
            "credentials.username",
            "must not be empty",
        ));
    }
    match (&raw.password, &raw.password_env) {
        (Some(p), None) => Ok(Credentials::new(username, p.value.clone())),
        (None, Some(var)) => {
            let name = var.value.trim();
            if name.is_empty() {
                return Err(invalid(
                    file,
                    var,
                    "credentials.password_env",
                    "must name a variable",
                ));
            }
            Credentials::from_lookup(username, name, env).map_err(|_| ScenarioError::MissingEnv {
                at: position(file, Some(var.referenced)),
                field: "credentials.password_env".into(),
                variable: name.to_string(),
            })
        }
        (Some(_), Some(var)) => Err(invalid(
            file,
            var,
            "credentials.password_env",
            "set either password or password_env, not both",
        )),
        (None, None) => Err(invalid(
            file,
            &c,
            "credentials",
            "set one of password or password_env",
        )),
    }
}

fn positive(file: &Path, d: &Spanned<Dur>, field: &str) -> Result<Duration, ScenarioError> {
    if d.value.0.is_zero() {
        return Err(invalid(file, d, field, "must be greater than 0"));
    }
    Ok(d.value.0)
}

fn timers(file: &Path, t: RawTimers) -> Result<Timers, ScenarioError> {
    let mut out = Timers::default();
    if let Some(d) = &t.t1 {
        out.t1 = positive(file, d, "timers.t1")?;
    }
    if let Some(d) = &t.t4 {
        out.t4 = positive(file, d, "timers.t4")?;
    }
    if let Some(d) = &t.t2 {
        out.t2 = d.value.0;
    }
    if out.t2 < out.t1 {
        let (at, field) = match (&t.t2, &t.t1) {
            (Some(d), _) => (position(file, Some(d.referenced)), "timers.t2"),
            (None, Some(d)) => (position(file, Some(d.referenced)), "timers.t1"),
            (None, None) => (position(file, None), "timers"),
        };
        return Err(ScenarioError::Invalid {
            at,
            field: field.into(),
            message: "T2 must not be shorter than T1 (RFC 3261 §17.1.2.2)".into(),
        });
    }
    Ok(out)
}

fn call_plan(file: &Path, c: RawCall) -> Result<CallPlan, ScenarioError> {
    let mut out = CallPlan {
        expect_voice: c.expect_voice,
        ..CallPlan::default()
    };
    // `media: false` is signalling only: no RTP ports, nothing sent, nothing expected.
    out.media = c.media.as_ref().is_none_or(|m| m.value);
    match (&c.expect_media, out.media) {
        (Some(e), false) if e.value => {
            return Err(invalid(
                file,
                e,
                "call.expect_media",
                "cannot expect media from a call with `media: false`",
            ))
        }
        (Some(e), true) => out.expect_media = e.value,
        (_, false) => {
            out.expect_media = false;
            out.expect_voice = false;
        }
        (None, true) => {}
    }
    if let Some(d) = &c.answer_timeout {
        out.answer_timeout = positive(file, d, "call.answer_timeout")?;
    }
    if let Some(d) = &c.hold {
        out.hold = d.value.0;
    }
    if let Some(d) = &c.media_timeout {
        out.media_timeout = positive(file, d, "call.media_timeout")?;
    }
    if let Some(v) = &c.voice_threshold_dbov {
        if !(v.value.is_finite() && (-120.0..=0.0).contains(&v.value)) {
            return Err(invalid(
                file,
                v,
                "call.voice_threshold_dbov",
                format!("must be between -120 and 0 dBov, got {}", v.value),
            ));
        }
        out.voice_threshold_dbov = v.value;
    }
    if let Some(a) = &c.audio {
        out.audio = resolve_audio(file, a, "call.audio")?;
    }
    let prompts = super::raw_steps::PromptDir::load(file, c.prompts.as_ref())?;
    if let Some(raw) = c.steps {
        let (steps, answer_timeout) = super::raw_steps::steps(file, raw, &prompts)?;
        if let Some(t) = answer_timeout {
            out.answer_timeout = t;
        }
        out.steps = steps.into();
    }
    out.prompts = prompts.dir;
    if let Some(q) = c.quality {
        out.quality = Some(super::raw_quality::quality_plan(file, q)?.into());
    }
    Ok(out)
}

/// `silence`, or a WAV path relative to the configuration file's folder that must exist.
fn resolve_audio(
    file: &Path,
    a: &Spanned<String>,
    field: &str,
) -> Result<CallerAudio, ScenarioError> {
    let text = a.value.trim();
    if text == "silence" {
        return Ok(CallerAudio::Silence);
    }
    if text.is_empty() {
        return Err(invalid(
            file,
            a,
            field,
            "expected `silence` or a WAV file path",
        ));
    }
    let path = super::yaml::relative_to(file, text);
    if !path.is_file() {
        return Err(ScenarioError::FileNotFound {
            at: position(file, Some(a.referenced)),
            field: field.into(),
            path,
        });
    }
    Ok(CallerAudio::File(path))
}
