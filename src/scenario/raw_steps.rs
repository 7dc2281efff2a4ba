//! `call.steps` and `call.prompts` as written, and their validation into [`Step`]s.
//!
//! Each step is a one-key map (`- dtmf: "1"`, `- wait_prompt: { name: welcome }`) or, for
//! `hangup`, a bare word. The short forms take the step's main argument as a string.

use super::error::ScenarioError;
use super::steps::{
    AgentDetect, DtmfMethod, DtmfSend, PromptWait, Step, DEFAULT_AGENT_TIMEOUT,
    DEFAULT_MIN_CONFIDENCE, DEFAULT_PROMPT_TIMEOUT,
};
use super::yaml::{invalid, position, relative_to, Dur};
use crate::media::dtmf::InfoFormat;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One item of `call.steps`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawStep {
    ExpectAnswer(Spanned<Dur>),
    WaitPrompt(Spanned<StrOr<RawWait>>),
    Dtmf(Spanned<StrOr<RawDtmf>>),
    Query(Spanned<RawQuery>),
    Agent(Spanned<RawAgent>),
    Talk(Spanned<RawTalk>),
    Pause(Spanned<Dur>),
    Hangup,
}

/// The short form (a string) or the full map.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum StrOr<T> {
    Short(String),
    Full(T),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWait {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timeout: Option<Dur>,
    #[serde(default)]
    min_confidence: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDtmf {
    digits: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    digit: Option<Dur>,
    #[serde(default)]
    gap: Option<Dur>,
    #[serde(default)]
    barge_in: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuery {
    digits: String,
    prompt: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    digit: Option<Dur>,
    #[serde(default)]
    gap: Option<Dur>,
    #[serde(default)]
    barge_in: bool,
    #[serde(default)]
    timeout: Option<Dur>,
    #[serde(default)]
    min_confidence: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    #[serde(default)]
    digits: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    digit: Option<Dur>,
    #[serde(default)]
    gap: Option<Dur>,
    #[serde(default)]
    barge_in: bool,
    #[serde(default)]
    detect: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    timeout: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTalk {
    audio: String,
    duration: Dur,
}

/// The reference prompts a scenario names, found in `call.prompts`.
pub(crate) struct PromptDir {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) names: Vec<String>,
}

impl PromptDir {
    /// Lists the `*.wav` files of `call.prompts` (resolved against the scenario file).
    pub(crate) fn load(file: &Path, raw: Option<&Spanned<String>>) -> Result<Self, ScenarioError> {
        let Some(p) = raw else {
            return Ok(Self {
                dir: None,
                names: Vec::new(),
            });
        };
        let dir = relative_to(file, p.value.trim());
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            invalid(
                file,
                p,
                "call.prompts",
                format!("cannot read prompt folder {}: {e}", dir.display()),
            )
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(invalid(
                file,
                p,
                "call.prompts",
                format!("no .wav prompts in {}", dir.display()),
            ));
        }
        Ok(Self {
            dir: Some(dir),
            names,
        })
    }

    fn check(
        &self,
        file: &Path,
        at: &Spanned<impl Sized>,
        field: &str,
        name: &str,
    ) -> Result<(), ScenarioError> {
        if self.dir.is_none() {
            return Err(invalid(
                file,
                at,
                field,
                format!("prompt '{name}' named, but `call.prompts` (the folder of reference recordings) is not set"),
            ));
        }
        if !self.names.iter().any(|n| n == name) {
            return Err(invalid(
                file,
                at,
                field,
                format!("unknown prompt '{name}' (known: {})", self.names.join(", ")),
            ));
        }
        Ok(())
    }
}

/// Validates the steps; returns them and the answer timeout an `expect_answer` sets.
pub(crate) fn steps(
    file: &Path,
    raw: Vec<Spanned<RawStep>>,
    prompts: &PromptDir,
) -> Result<(Vec<Step>, Option<Duration>), ScenarioError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut answer_timeout = None;
    for (i, item) in raw.into_iter().enumerate() {
        let field = |k: &str| format!("call.steps[{i}].{k}");
        let step = match item.value {
            RawStep::ExpectAnswer(d) => {
                if i != 0 {
                    return Err(invalid(
                        file,
                        &d,
                        &field("expect_answer"),
                        "must be the first step",
                    ));
                }
                if d.value.0.is_zero() {
                    return Err(invalid(
                        file,
                        &d,
                        &field("expect_answer"),
                        "must be greater than 0",
                    ));
                }
                answer_timeout = Some(d.value.0);
                Step::ExpectAnswer { timeout: d.value.0 }
            }
            RawStep::WaitPrompt(w) => {
                let f = field("wait_prompt");
                let raw = match &w.value {
                    StrOr::Short(name) => RawWait {
                        name: Some(name.clone()),
                        ..RawWait::default()
                    },
                    StrOr::Full(r) => RawWait {
                        name: r.name.clone(),
                        timeout: r.timeout,
                        min_confidence: r.min_confidence,
                    },
                };
                Step::WaitPrompt(prompt_wait(
                    file,
                    &w,
                    &f,
                    raw.name,
                    raw.timeout,
                    raw.min_confidence,
                    prompts,
                )?)
            }
            RawStep::Dtmf(d) => {
                let f = field("dtmf");
                let send = match &d.value {
                    StrOr::Short(digits) => dtmf(file, &d, &f, digits, None, None, None, false)?,
                    StrOr::Full(r) => dtmf(
                        file,
                        &d,
                        &f,
                        &r.digits,
                        r.method.as_deref(),
                        r.digit,
                        r.gap,
                        r.barge_in,
                    )?,
                };
                Step::Dtmf(send)
            }
            RawStep::Query(q) => {
                let f = field("query");
                let r = &q.value;
                Step::Query {
                    dtmf: dtmf(
                        file,
                        &q,
                        &f,
                        &r.digits,
                        r.method.as_deref(),
                        r.digit,
                        r.gap,
                        r.barge_in,
                    )?,
                    prompt: prompt_wait(
                        file,
                        &q,
                        &f,
                        Some(r.prompt.clone()),
                        r.timeout.or(Some(Dur(Duration::from_secs(30)))),
                        r.min_confidence,
                        prompts,
                    )?,
                }
            }
            RawStep::Agent(a) => {
                let f = field("agent");
                let r = &a.value;
                let send = match &r.digits {
                    Some(d) => Some(dtmf(
                        file,
                        &a,
                        &f,
                        d,
                        r.method.as_deref(),
                        r.digit,
                        r.gap,
                        r.barge_in,
                    )?),
                    None => None,
                };
                let detect = match (r.detect.as_deref().map(str::trim), &r.prompt) {
                    (None | Some("prompt"), Some(p)) => {
                        prompts.check(file, &a, &format!("{f}.prompt"), p)?;
                        AgentDetect::Prompt(p.clone())
                    }
                    (Some("prompt"), None) => {
                        return Err(invalid(
                            file,
                            &a,
                            &format!("{f}.prompt"),
                            "detect: prompt needs the agent's prompt name",
                        ))
                    }
                    (None | Some("voice"), None) => AgentDetect::Voice,
                    (Some("reinvite"), None) => AgentDetect::Reinvite,
                    (Some(d @ ("voice" | "reinvite")), Some(_)) => {
                        return Err(invalid(
                            file,
                            &a,
                            &format!("{f}.prompt"),
                            format!("a prompt name goes with detect: prompt, not {d}"),
                        ))
                    }
                    (Some(other), _) => {
                        return Err(invalid(
                            file,
                            &a,
                            &format!("{f}.detect"),
                            format!(
                                "unknown detection {other:?}: expected prompt, reinvite or voice"
                            ),
                        ))
                    }
                };
                Step::Agent {
                    dtmf: send,
                    detect,
                    timeout: positive(
                        file,
                        &a,
                        &format!("{f}.timeout"),
                        r.timeout,
                        DEFAULT_AGENT_TIMEOUT,
                    )?,
                }
            }
            RawStep::Talk(t) => {
                let f = field("talk");
                let path = relative_to(file, t.value.audio.trim());
                if !path.is_file() {
                    return Err(ScenarioError::FileNotFound {
                        at: position(file, Some(t.referenced)),
                        field: format!("{f}.audio"),
                        path,
                    });
                }
                Step::Talk {
                    audio: path,
                    duration: positive(
                        file,
                        &t,
                        &format!("{f}.duration"),
                        Some(t.value.duration),
                        Duration::ZERO,
                    )?,
                }
            }
            RawStep::Pause(d) => Step::Pause(d.value.0),
            RawStep::Hangup => Step::Hangup,
        };
        out.push(step);
    }
    Ok((out, answer_timeout))
}

fn positive<T>(
    file: &Path,
    at: &Spanned<T>,
    field: &str,
    value: Option<Dur>,
    default: Duration,
) -> Result<Duration, ScenarioError> {
    match value {
        None => Ok(default),
        Some(Dur(d)) if d.is_zero() => Err(invalid(file, at, field, "must be greater than 0")),
        Some(Dur(d)) => Ok(d),
    }
}

fn prompt_wait<T>(
    file: &Path,
    at: &Spanned<T>,
    field: &str,
    name: Option<String>,
    timeout: Option<Dur>,
    min_confidence: Option<f64>,
    prompts: &PromptDir,
) -> Result<PromptWait, ScenarioError> {
    let name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if let Some(n) = &name {
        prompts.check(file, at, field, n)?;
    }
    let min_confidence = min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(invalid(
            file,
            at,
            &format!("{field}.min_confidence"),
            format!("must be between 0 and 1, got {min_confidence}"),
        ));
    }
    Ok(PromptWait {
        name,
        timeout: positive(
            file,
            at,
            &format!("{field}.timeout"),
            timeout,
            DEFAULT_PROMPT_TIMEOUT,
        )?,
        min_confidence,
    })
}

#[allow(clippy::too_many_arguments)]
fn dtmf<T>(
    file: &Path,
    at: &Spanned<T>,
    field: &str,
    digits: &str,
    method: Option<&str>,
    digit: Option<Dur>,
    gap: Option<Dur>,
    barge_in: bool,
) -> Result<DtmfSend, ScenarioError> {
    let digits: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() {
        return Err(invalid(file, at, &format!("{field}.digits"), "no digits"));
    }
    if let Some(bad) = digits
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c.to_ascii_uppercase(), '*' | '#' | 'A'..='D')))
    {
        return Err(invalid(
            file,
            at,
            &format!("{field}.digits"),
            format!("{bad:?} is not a DTMF digit (0-9, *, #, A-D)"),
        ));
    }
    let method = match method.map(|m| m.trim().to_ascii_lowercase()).as_deref() {
        None | Some("rfc4733") | Some("rfc2833") => DtmfMethod::Rfc4733,
        Some("info") | Some("info_dtmf_relay") => DtmfMethod::Info(InfoFormat::DtmfRelay),
        Some("info_dtmf") => DtmfMethod::Info(InfoFormat::Dtmf),
        Some("inband") => DtmfMethod::Inband,
        Some(other) => {
            return Err(invalid(
                file,
                at,
                &format!("{field}.method"),
                format!(
                    "unknown DTMF method {other:?}: expected rfc4733, info, info_dtmf or inband"
                ),
            ))
        }
    };
    let digit_len = positive(
        file,
        at,
        &format!("{field}.digit"),
        digit,
        Duration::from_millis(100),
    )?;
    if digit_len < Duration::from_millis(40) && method == DtmfMethod::Inband {
        return Err(invalid(
            file,
            at,
            &format!("{field}.digit"),
            "in-band digits shorter than 40 ms are not reliably detected (ITU-T Q.24)",
        ));
    }
    let gap = positive(
        file,
        at,
        &format!("{field}.gap"),
        gap,
        Duration::from_millis(100),
    )?;
    Ok(DtmfSend {
        digits: digits.to_ascii_uppercase(),
        method,
        digit: digit_len,
        gap,
        barge_in,
    })
}
