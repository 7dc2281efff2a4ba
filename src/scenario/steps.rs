//! The IVR steps of a call (`call.steps`): what the caller does after the answer, in order.
//!
//! ```yaml
//! call:
//!   prompts: ivr/prompts          # reference recordings, one WAV per prompt name
//!   steps:
//!     - wait_prompt: welcome
//!     - wait_prompt: { name: main_menu, timeout: 8s, min_confidence: 0.6 }
//!     - dtmf: "1"
//!     - wait_prompt: enter_account
//!     - query: { digits: "12345678#", prompt: balance, timeout: 15s }
//!     - dtmf: { digits: "0", method: info }
//!     - agent: { detect: prompt, prompt: agent_greeting, timeout: 120s }
//!     - talk: { audio: ../prompts/caller.wav, duration: 3s }
//!     - pause: 1s
//!     - hangup
//! ```

use crate::media::dtmf::InfoFormat;
use std::path::PathBuf;
use std::time::Duration;

/// Default time a `wait_prompt` waits for the prompt's voice.
pub const DEFAULT_PROMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default minimum confidence of a prompt identification.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.6;
/// Default time an `agent` step waits for an agent.
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(180);

/// One step of the flow.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `expect_answer`: the call must be answered (its timeout becomes the answer timeout).
    ExpectAnswer {
        /// CANCEL when not answered by then.
        timeout: Duration,
    },
    /// `wait_prompt`: the next prompt's voice must start in time and be the one named.
    WaitPrompt(PromptWait),
    /// `dtmf`: send digits.
    Dtmf(DtmfSend),
    /// `query`: send digits that select a database query, then wait for its result prompt;
    /// the delay is a query response (ACC-QUERY-RESPONSE), not a DTMF response.
    Query {
        /// The digits (e.g. an account number and `#`).
        dtmf: DtmfSend,
        /// The result prompt.
        prompt: PromptWait,
    },
    /// `agent`: choose the transfer to an agent (optionally sending digits) and wait until an
    /// agent answers (OPS-AGENT-WAIT).
    Agent {
        /// Digits that choose the transfer; without them, the wait counts from the end of the
        /// last digits sent.
        dtmf: Option<DtmfSend>,
        /// How the agent's answer shows.
        detect: AgentDetect,
        /// Give up (step failed) after this long.
        timeout: Duration,
    },
    /// `talk`: send speech for a while (looping the file), then silence.
    Talk {
        /// 8 kHz WAV, resolved against the scenario file.
        audio: PathBuf,
        /// How long.
        duration: Duration,
    },
    /// `pause`: do nothing for a while.
    Pause(Duration),
    /// `hangup`: send BYE; the flow is complete.
    Hangup,
}

impl Step {
    /// The step's keyword, as in the file.
    pub fn keyword(&self) -> &'static str {
        match self {
            Step::ExpectAnswer { .. } => "expect_answer",
            Step::WaitPrompt(_) => "wait_prompt",
            Step::Dtmf(_) => "dtmf",
            Step::Query { .. } => "query",
            Step::Agent { .. } => "agent",
            Step::Talk { .. } => "talk",
            Step::Pause(_) => "pause",
            Step::Hangup => "hangup",
        }
    }

    /// `keyword` with its main argument, for failure reasons: `wait_prompt balance`.
    pub fn label(&self) -> String {
        match self {
            Step::WaitPrompt(p) | Step::Query { prompt: p, .. } => match &p.name {
                Some(n) => format!("{} {n}", self.keyword()),
                None => self.keyword().to_string(),
            },
            Step::Dtmf(d) => format!("dtmf {}", d.digits),
            Step::Agent { dtmf: Some(d), .. } => format!("agent {}", d.digits),
            s => s.keyword().to_string(),
        }
    }
}

/// What a prompt wait expects.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptWait {
    /// The prompt (a reference in `call.prompts`); `None` accepts any voice.
    pub name: Option<String>,
    /// Fail when no voice starts within this long of the step's start.
    pub timeout: Duration,
    /// The identification must reach this confidence (0–1).
    pub min_confidence: f64,
}

/// How digits are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfMethod {
    /// RFC 4733 telephone-events in the RTP stream (the default).
    Rfc4733,
    /// SIP INFO, one request per digit.
    Info(InfoFormat),
    /// Tones in the audio (ITU-T Q.23), through the codec.
    Inband,
}

impl DtmfMethod {
    /// Name as in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            DtmfMethod::Rfc4733 => "rfc4733",
            DtmfMethod::Info(InfoFormat::DtmfRelay) => "info",
            DtmfMethod::Info(InfoFormat::Dtmf) => "info_dtmf",
            DtmfMethod::Inband => "inband",
        }
    }
}

/// Digits to send and how.
#[derive(Debug, Clone, PartialEq)]
pub struct DtmfSend {
    /// The digits: `0-9 * # A-D`.
    pub digits: String,
    /// The method.
    pub method: DtmfMethod,
    /// Length of each digit (default 100 ms).
    pub digit: Duration,
    /// Silence between digits (default 100 ms).
    pub gap: Duration,
    /// Send while a prompt still plays instead of waiting for it to end.
    pub barge_in: bool,
}

/// How an agent's answer is recognised.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentDetect {
    /// The named prompt (e.g. a recorded agent greeting) is heard; other prompts (hold
    /// announcements) are skipped.
    Prompt(String),
    /// The call center re-INVITEs the caller (the agent's leg is bridged in).
    Reinvite,
    /// Voice that is none of the known prompts.
    Voice,
}
