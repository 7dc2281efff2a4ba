//! The step runner: walks a call's [`Step`]s as a sans-IO state machine. The call driver feeds
//! it what happened on the line (the answer, voice onsets, identified prompts, digits on the
//! wire, re-INVITEs, the far end's BYE) with the time it happened, polls the actions to take
//! (send digits, talk, listen for the next prompt, hang up) and wakes it at
//! [`poll_timeout`](StepRunner::poll_timeout).
//!
//! Measurements (SPEC ids):
//! - DTMF response (ACC-DTMF-RESPONSE, OPS-DTMF-RESPONSE): end of the last digit of a `dtmf`
//!   step as it left on the wire → onset of the next voice.
//! - Query response (ACC-QUERY-RESPONSE, OPS-QUERY-RESPONSE): end of the last digit of a `query`
//!   step → onset of its result prompt.
//! - Agent wait (OPS-AGENT-WAIT): end of the digits choosing the transfer → the agent answers.
//! - IVR success (ACC-IVR-SUCCESS-*, OPS-IVR-SUCCESS): every step passed.

use super::steps::{AgentDetect, DtmfSend, PromptWait, Step};
use serde::Serialize;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the driver must do for the runner.
#[derive(Debug, Clone, PartialEq)]
pub enum StepAction {
    /// Send these digits; report the wire time of the end of the last one with
    /// [`StepRunner::on_dtmf_sent`].
    SendDtmf(DtmfSend),
    /// Forget the voice heard so far: the next onset is a new prompt.
    ListenForPrompt,
    /// Play this speech file (looping) until [`StepAction::StopTalking`].
    Talk(PathBuf),
    /// Stop talking (silence follows).
    StopTalking,
    /// Hang up (BYE).
    Hangup,
}

/// A prompt as identified by the driver.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// Best matching reference, if any was close enough to name.
    pub name: Option<String>,
    /// Its confidence (0–1).
    pub confidence: f64,
}

/// One prompt the runner took note of, for the record.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HeardPrompt {
    /// Step (1-based) that consumed it.
    pub step: usize,
    /// Identified name (`null` when unknown).
    pub name: Option<String>,
    /// Identification confidence.
    pub confidence: f64,
    /// Voice onset, as the instant's offset from the answer, ms.
    pub onset_after_answer_ms: f64,
}

/// What the flow measured and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct StepsResult {
    /// Steps in the flow.
    pub steps: usize,
    /// Steps passed.
    pub passed: usize,
    /// Every step passed.
    pub completed: bool,
    /// `step N (label): reason` of the step that failed.
    pub failure: Option<String>,
    /// Which kind of failure (for the record's failure category).
    #[serde(skip)]
    pub failure_kind: Option<StepFailure>,
    /// DTMF responses, ms (ACC-DTMF-RESPONSE).
    pub dtmf_response_ms: Vec<f64>,
    /// Query responses, ms (ACC-QUERY-RESPONSE).
    pub query_response_ms: Vec<f64>,
    /// Agent waits, ms (OPS-AGENT-WAIT).
    pub agent_wait_ms: Vec<f64>,
    /// Prompts heard, in order.
    pub prompts: Vec<HeardPrompt>,
}

/// Why a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepFailure {
    /// No voice within the step's timeout.
    NoPrompt,
    /// A prompt played, but not the expected one (or not confidently).
    WrongPrompt,
    /// No agent within the timeout.
    NoAgent,
    /// The far end hung up before the flow completed.
    RemoteHangup,
    /// Digits could not be sent (e.g. INFO rejected).
    DtmfFailed,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Not answered yet.
    Idle,
    /// Waiting for the current prompt to finish before sending digits.
    AwaitSilence,
    /// Digits handed to the driver; waiting for their end on the wire.
    Sending,
    /// Waiting for a prompt (voice onset, then identification).
    AwaitPrompt,
    /// Waiting for the agent.
    AwaitAgent,
    /// Talking or pausing until the deadline.
    Timed,
    /// Finished (passed or failed).
    Done,
}

/// What an onset is measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Origin {
    Dtmf(Instant),
    Query(Instant),
}

/// The sans-IO runner of one call's steps.
#[derive(Debug)]
pub struct StepRunner {
    steps: Arc<[Step]>,
    /// Index of the current step.
    index: usize,
    phase: Phase,
    answered_at: Option<Instant>,
    deadline: Option<Instant>,
    /// The latest voice onset not yet consumed by a step, and whether voice is on now.
    onset: Option<Instant>,
    /// The identification of that onset's prompt, once known.
    heard: Option<Heard>,
    in_voice: bool,
    /// Pending origin of a response measurement.
    origin: Option<Origin>,
    /// End of the last digits sent (the agent wait's origin).
    last_dtmf_end: Option<Instant>,
    /// The current step's agent-wait origin.
    agent_origin: Option<Instant>,
    actions: VecDeque<StepAction>,
    result: StepsResult,
    talking: bool,
}

impl StepRunner {
    /// A runner for `steps`; nothing happens until [`on_answered`](Self::on_answered).
    pub fn new(steps: Arc<[Step]>) -> Self {
        let n = steps.len();
        Self {
            steps,
            index: 0,
            phase: Phase::Idle,
            answered_at: None,
            deadline: None,
            onset: None,
            heard: None,
            in_voice: false,
            origin: None,
            last_dtmf_end: None,
            agent_origin: None,
            actions: VecDeque::new(),
            result: StepsResult {
                steps: n,
                ..StepsResult::default()
            },
            talking: false,
        }
    }

    /// The call was answered at `now`: the flow starts.
    pub fn on_answered(&mut self, now: Instant) {
        if self.phase != Phase::Idle {
            return;
        }
        self.answered_at = Some(now);
        self.start_step(now);
    }

    /// Voice started at `at` (the onset sample's time), reported at `now`.
    pub fn on_voice_onset(&mut self, at: Instant, now: Instant) {
        self.in_voice = true;
        self.onset = Some(at);
        self.heard = None;
        if self.phase == Phase::AwaitAgent {
            // The first voice after the transfer choice answers that digit (a hold prompt).
            if let Some(Origin::Dtmf(o)) = self.origin.take() {
                self.result.dtmf_response_ms.push(ms(at, o));
            }
        }
        self.evaluate(now);
    }

    /// The voice that started at the last onset was identified (enough of it was heard, or it
    /// ended).
    pub fn on_prompt_identified(&mut self, heard: Heard, now: Instant) {
        if self.onset.is_none() {
            return;
        }
        self.heard = Some(heard);
        self.evaluate(now);
    }

    /// The voice ended at `at` (silence since).
    pub fn on_voice_end(&mut self, _at: Instant, now: Instant) {
        self.in_voice = false;
        if self.phase == Phase::AwaitSilence {
            self.send_current_digits(now);
        }
    }

    /// The last digit handed over with [`StepAction::SendDtmf`] ended on the wire at `end`.
    pub fn on_dtmf_sent(&mut self, end: Instant, now: Instant) {
        if self.phase != Phase::Sending {
            return;
        }
        self.last_dtmf_end = Some(end);
        // A fresh prompt answers these digits.
        self.onset = None;
        self.heard = None;
        self.actions.push_back(StepAction::ListenForPrompt);
        match self.current().cloned() {
            Some(Step::Dtmf(_)) => {
                self.origin = Some(Origin::Dtmf(end));
                self.pass(now);
            }
            Some(Step::Query { prompt, .. }) => {
                self.origin = Some(Origin::Query(end));
                self.await_prompt(&prompt, now);
            }
            Some(Step::Agent { timeout, .. }) => {
                self.origin = Some(Origin::Dtmf(end));
                self.await_agent(end, timeout, now);
            }
            _ => {}
        }
    }

    /// Sending digits failed (e.g. the INFO was refused with `code`).
    pub fn on_dtmf_failed(&mut self, reason: &str, now: Instant) {
        if self.phase == Phase::Sending {
            self.fail(StepFailure::DtmfFailed, reason.to_string(), now);
        }
    }

    /// The far end re-INVITEd at `at`.
    pub fn on_reinvite(&mut self, at: Instant, now: Instant) {
        if self.phase == Phase::AwaitAgent
            && matches!(
                self.current(),
                Some(Step::Agent {
                    detect: AgentDetect::Reinvite,
                    ..
                })
            )
        {
            self.agent_answered(at, now);
        }
    }

    /// The far end hung up (or the call ended otherwise) at `now`.
    pub fn on_call_ended(&mut self, now: Instant) {
        match self.phase {
            Phase::Done | Phase::Idle => {}
            _ => {
                // A flow whose remaining steps are only a hangup has completed.
                if self.steps[self.index..]
                    .iter()
                    .all(|s| matches!(s, Step::Hangup))
                {
                    self.result.passed = self.result.steps;
                    self.result.completed = true;
                    self.phase = Phase::Done;
                } else {
                    self.fail(
                        StepFailure::RemoteHangup,
                        "the far end hung up".to_string(),
                        now,
                    );
                }
            }
        }
    }

    /// Handles the passage of time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(d) = self.deadline else { return };
        if now < d {
            return;
        }
        self.deadline = None;
        match self.phase {
            Phase::AwaitPrompt => {
                let (kind, msg) = match (&self.onset, self.current()) {
                    (Some(_), Some(Step::WaitPrompt(p) | Step::Query { prompt: p, .. })) => (
                        StepFailure::WrongPrompt,
                        format!("voice heard but not identified within {:?}", p.timeout),
                    ),
                    (_, Some(Step::WaitPrompt(p) | Step::Query { prompt: p, .. })) => (
                        StepFailure::NoPrompt,
                        format!("no prompt within {:?}", p.timeout),
                    ),
                    _ => (StepFailure::NoPrompt, "no prompt".to_string()),
                };
                self.fail(kind, msg, now);
            }
            Phase::AwaitAgent => {
                let t = match self.current() {
                    Some(Step::Agent { timeout, .. }) => *timeout,
                    _ => Duration::ZERO,
                };
                self.fail(StepFailure::NoAgent, format!("no agent within {t:?}"), now);
            }
            Phase::AwaitSilence => {
                // The prompt goes on and on: send anyway.
                self.send_current_digits(now);
            }
            Phase::Timed => {
                if self.talking {
                    self.talking = false;
                    self.actions.push_back(StepAction::StopTalking);
                }
                self.pass(now);
            }
            _ => {}
        }
    }

    /// When the runner wants [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<StepAction> {
        self.actions.pop_front()
    }

    /// True once every step passed or one failed.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// What was measured so far.
    pub fn result(&self) -> &StepsResult {
        &self.result
    }

    /// The step being run, if any.
    pub fn current(&self) -> Option<&Step> {
        (self.phase != Phase::Done)
            .then(|| self.steps.get(self.index))
            .flatten()
    }

    /// The prompt the current step waits for, and how much of it identification needs: the
    /// driver identifies the voice once it has this much (or the voice ended).
    pub fn expected_prompt(&self) -> Option<&str> {
        match self.current()? {
            Step::WaitPrompt(p) | Step::Query { prompt: p, .. } => p.name.as_deref(),
            Step::Agent {
                detect: AgentDetect::Prompt(n),
                ..
            } => Some(n),
            _ => None,
        }
    }

    fn start_step(&mut self, now: Instant) {
        self.deadline = None;
        let Some(step) = self.steps.get(self.index).cloned() else {
            self.complete(now);
            return;
        };
        match step {
            Step::ExpectAnswer { .. } => self.pass(now),
            Step::WaitPrompt(p) => self.await_prompt(&p, now),
            Step::Dtmf(d) | Step::Query { dtmf: d, .. } => self.before_digits(&d, now),
            Step::Agent { dtmf: Some(d), .. } => self.before_digits(&d, now),
            Step::Agent {
                dtmf: None,
                timeout,
                ..
            } => {
                let origin = self.last_dtmf_end.unwrap_or(now);
                self.await_agent(origin, timeout, now);
            }
            Step::Talk { audio, duration } => {
                self.actions.push_back(StepAction::Talk(audio));
                self.talking = true;
                self.phase = Phase::Timed;
                self.deadline = Some(now + duration);
            }
            Step::Pause(d) => {
                self.phase = Phase::Timed;
                self.deadline = Some(now + d);
            }
            Step::Hangup => {
                self.result.passed += 1;
                self.complete(now);
            }
        }
    }

    fn before_digits(&mut self, d: &DtmfSend, now: Instant) {
        if d.barge_in || !self.in_voice {
            self.send_current_digits(now);
        } else {
            // A caller listens to the end of the prompt before pressing; but not forever.
            self.phase = Phase::AwaitSilence;
            self.deadline = Some(now + Duration::from_secs(60));
        }
    }

    fn send_current_digits(&mut self, _now: Instant) {
        let d = match self.current() {
            Some(Step::Dtmf(d) | Step::Query { dtmf: d, .. }) => d.clone(),
            Some(Step::Agent { dtmf: Some(d), .. }) => d.clone(),
            _ => return,
        };
        self.deadline = None;
        self.phase = Phase::Sending;
        self.actions.push_back(StepAction::SendDtmf(d));
    }

    fn await_prompt(&mut self, p: &PromptWait, now: Instant) {
        self.phase = Phase::AwaitPrompt;
        self.deadline = Some(now + p.timeout);
        self.evaluate(now);
    }

    fn await_agent(&mut self, origin: Instant, timeout: Duration, now: Instant) {
        self.phase = Phase::AwaitAgent;
        self.agent_origin = Some(origin);
        self.deadline = Some(now + timeout);
        self.evaluate(now);
    }

    fn agent_answered(&mut self, at: Instant, now: Instant) {
        if let Some(o) = self.agent_origin.take() {
            self.result.agent_wait_ms.push(ms(at, o));
        }
        self.pass(now);
    }

    /// Checks the voice heard against what the current step waits for.
    fn evaluate(&mut self, now: Instant) {
        let Some(onset) = self.onset else { return };
        match self.phase {
            Phase::AwaitPrompt => {
                let Some(step) = self.current().cloned() else {
                    return;
                };
                let (Step::WaitPrompt(p) | Step::Query { prompt: p, .. }) = &step else {
                    return;
                };
                let is_query = matches!(step, Step::Query { .. });
                if p.name.is_some() && self.heard.is_none() {
                    return; // identification pending
                }
                let heard = self.heard.clone();
                self.note_prompt(onset, heard.as_ref());
                self.onset = None;
                self.heard = None;
                match (self.origin.take(), is_query) {
                    (Some(Origin::Query(o)), true) => {
                        self.result.query_response_ms.push(ms(onset, o))
                    }
                    (Some(Origin::Dtmf(o)), _) => self.result.dtmf_response_ms.push(ms(onset, o)),
                    _ => {}
                }
                match (&p.name, heard) {
                    (None, _) => self.pass(now),
                    (Some(want), Some(h))
                        if h.name.as_deref() == Some(want.as_str())
                            && h.confidence >= p.min_confidence =>
                    {
                        self.pass(now)
                    }
                    (Some(want), Some(h)) => {
                        let msg = match &h.name {
                            Some(n) if n == want => format!(
                                "heard '{want}' with confidence {:.2}, below the {:.2} required",
                                h.confidence, p.min_confidence
                            ),
                            Some(n) => format!(
                                "expected prompt '{want}', heard '{n}' (confidence {:.2})",
                                h.confidence
                            ),
                            None => format!(
                                "expected prompt '{want}', heard an unknown prompt \
                                 (best confidence {:.2})",
                                h.confidence
                            ),
                        };
                        self.fail(StepFailure::WrongPrompt, msg, now);
                    }
                    (Some(_), None) => {}
                }
            }
            Phase::AwaitAgent => {
                let detect = match self.current() {
                    Some(Step::Agent { detect, .. }) => detect.clone(),
                    _ => return,
                };
                let Some(h) = self.heard.clone() else { return };
                self.note_prompt(onset, Some(&h));
                self.onset = None;
                self.heard = None;
                let answered = match &detect {
                    AgentDetect::Prompt(n) => h.name.as_deref() == Some(n.as_str()),
                    AgentDetect::Voice => h.name.is_none(),
                    AgentDetect::Reinvite => false,
                };
                if answered {
                    self.agent_answered(onset, now);
                }
            }
            _ => {}
        }
    }

    fn note_prompt(&mut self, onset: Instant, heard: Option<&Heard>) {
        let after = self.answered_at.map_or(0.0, |a| ms(onset, a));
        self.result.prompts.push(HeardPrompt {
            step: self.index + 1,
            name: heard.and_then(|h| h.name.clone()),
            confidence: heard.map_or(0.0, |h| h.confidence),
            onset_after_answer_ms: after,
        });
    }

    fn pass(&mut self, now: Instant) {
        self.result.passed += 1;
        self.index += 1;
        self.start_step(now);
    }

    fn complete(&mut self, _now: Instant) {
        self.phase = Phase::Done;
        self.deadline = None;
        self.result.completed = true;
        if self.talking {
            self.talking = false;
            self.actions.push_back(StepAction::StopTalking);
        }
        self.actions.push_back(StepAction::Hangup);
    }

    fn fail(&mut self, kind: StepFailure, reason: String, _now: Instant) {
        let label = self
            .steps
            .get(self.index)
            .map_or_else(|| "end".to_string(), Step::label);
        self.result.failure = Some(format!("step {} ({label}): {reason}", self.index + 1));
        self.result.failure_kind = Some(kind);
        self.phase = Phase::Done;
        self.deadline = None;
        if self.talking {
            self.talking = false;
            self.actions.push_back(StepAction::StopTalking);
        }
        self.actions.push_back(StepAction::Hangup);
    }
}

fn ms(at: Instant, origin: Instant) -> f64 {
    // Signed: a response before its origin shows as negative rather than hidden.
    if at >= origin {
        at.duration_since(origin).as_secs_f64() * 1000.0
    } else {
        -(origin.duration_since(at).as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::steps::DtmfMethod;

    #[allow(clippy::disallowed_methods)] // tests: one real base instant, then durations
    fn base() -> Instant {
        Instant::now()
    }

    fn wait(name: &str) -> Step {
        Step::WaitPrompt(PromptWait {
            name: Some(name.into()),
            timeout: Duration::from_secs(5),
            min_confidence: 0.6,
        })
    }

    fn digits(d: &str) -> DtmfSend {
        DtmfSend {
            digits: d.into(),
            method: DtmfMethod::Rfc4733,
            digit: Duration::from_millis(100),
            gap: Duration::from_millis(100),
            barge_in: false,
        }
    }

    fn heard(name: &str, confidence: f64) -> Heard {
        Heard {
            name: Some(name.into()),
            confidence,
        }
    }

    /// Plays one prompt into the runner: onset at `at`, identified 1 s later, ended 2 s later.
    fn prompt(r: &mut StepRunner, at: Instant, name: &str) -> Instant {
        r.on_voice_onset(at, at);
        r.on_prompt_identified(heard(name, 0.9), at + Duration::from_secs(1));
        let end = at + Duration::from_secs(2);
        r.on_voice_end(end, end + Duration::from_millis(700));
        end + Duration::from_millis(700)
    }

    fn actions(r: &mut StepRunner) -> Vec<StepAction> {
        std::iter::from_fn(|| r.poll_action()).collect()
    }

    #[test]
    fn a_bank_flow_measures_each_response_against_its_origin() {
        let steps: Arc<[Step]> = vec![
            wait("welcome"),
            wait("main_menu"),
            Step::Dtmf(digits("1")),
            wait("enter_account"),
            Step::Query {
                dtmf: digits("1234#"),
                prompt: PromptWait {
                    name: Some("balance".into()),
                    timeout: Duration::from_secs(15),
                    min_confidence: 0.6,
                },
            },
            Step::Agent {
                dtmf: Some(digits("0")),
                detect: AgentDetect::Prompt("agent_greeting".into()),
                timeout: Duration::from_secs(60),
            },
            Step::Hangup,
        ]
        .into();
        let t0 = base();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut r = StepRunner::new(steps);
        r.on_answered(t0);
        let t = prompt(&mut r, at(300), "welcome");
        r.on_voice_onset(
            t + Duration::from_millis(500),
            t + Duration::from_millis(500),
        );
        r.on_prompt_identified(heard("main_menu", 0.95), at(4000));
        assert!(
            actions(&mut r).is_empty(),
            "digits wait for the menu to end"
        );
        r.on_voice_end(at(6000), at(6700));
        assert_eq!(actions(&mut r), vec![StepAction::SendDtmf(digits("1"))]);
        r.on_dtmf_sent(at(6900), at(6900));
        assert_eq!(actions(&mut r), vec![StepAction::ListenForPrompt]);
        let t = prompt(&mut r, at(7400), "enter_account");
        assert_eq!(actions(&mut r), vec![StepAction::SendDtmf(digits("1234#"))]);
        r.on_dtmf_sent(
            t + Duration::from_millis(900),
            t + Duration::from_millis(900),
        );
        let sent = t + Duration::from_millis(900);
        prompt(&mut r, sent + Duration::from_millis(1500), "balance");
        let a = actions(&mut r);
        assert_eq!(a[0], StepAction::ListenForPrompt);
        assert_eq!(a[1], StepAction::SendDtmf(digits("0")));
        let zero = sent + Duration::from_secs(5);
        r.on_dtmf_sent(zero, zero);
        // Hold announcement: answers the digit, does not end the wait.
        prompt(&mut r, zero + Duration::from_millis(400), "hold");
        assert!(!r.is_done());
        r.on_voice_onset(
            zero + Duration::from_secs(20),
            zero + Duration::from_secs(20),
        );
        r.on_prompt_identified(heard("agent_greeting", 0.9), zero + Duration::from_secs(21));
        assert!(r.is_done());
        assert!(actions(&mut r).contains(&StepAction::Hangup));
        let res = r.result();
        assert!(res.completed, "{res:?}");
        assert_eq!(res.passed, 7);
        assert_eq!(res.dtmf_response_ms, vec![500.0, 400.0]);
        assert_eq!(res.query_response_ms, vec![1500.0]);
        assert_eq!(res.agent_wait_ms, vec![20_000.0]);
        let names: Vec<_> = res.prompts.iter().filter_map(|p| p.name.clone()).collect();
        assert_eq!(
            names,
            [
                "welcome",
                "main_menu",
                "enter_account",
                "balance",
                "hold",
                "agent_greeting"
            ]
        );
    }

    #[test]
    fn a_wrong_prompt_fails_the_step_naming_both() {
        let mut r = StepRunner::new(vec![wait("balance"), Step::Hangup].into());
        let t0 = base();
        r.on_answered(t0);
        r.on_voice_onset(t0, t0);
        r.on_prompt_identified(heard("main_menu", 0.93), t0 + Duration::from_secs(1));
        assert!(r.is_done());
        let res = r.result();
        assert!(!res.completed);
        assert_eq!(res.failure_kind, Some(StepFailure::WrongPrompt));
        let msg = res.failure.as_deref().unwrap();
        assert!(msg.contains("step 1 (wait_prompt balance)"), "{msg}");
        assert!(
            msg.contains("expected prompt 'balance', heard 'main_menu'"),
            "{msg}"
        );
        assert_eq!(actions(&mut r), vec![StepAction::Hangup]);
    }

    #[test]
    fn low_confidence_and_silence_fail_with_their_own_reasons() {
        let t0 = base();
        let mut r = StepRunner::new(vec![wait("welcome")].into());
        r.on_answered(t0);
        r.on_voice_onset(t0, t0);
        r.on_prompt_identified(heard("welcome", 0.3), t0);
        assert!(r.result().failure.as_deref().unwrap().contains("below"));

        let mut r = StepRunner::new(vec![wait("welcome")].into());
        r.on_answered(t0);
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        r.handle_timeout(t0 + Duration::from_secs(4));
        assert!(!r.is_done());
        r.handle_timeout(t0 + Duration::from_secs(5));
        assert_eq!(r.result().failure_kind, Some(StepFailure::NoPrompt));
        assert!(r
            .result()
            .failure
            .as_deref()
            .unwrap()
            .contains("no prompt within 5s"));
    }

    #[test]
    fn the_far_end_hanging_up_fails_the_flow_unless_only_hangup_remains() {
        let t0 = base();
        let mut r = StepRunner::new(vec![wait("welcome"), wait("goodbye")].into());
        r.on_answered(t0);
        prompt(&mut r, t0, "welcome");
        r.on_call_ended(t0 + Duration::from_secs(3));
        assert_eq!(r.result().failure_kind, Some(StepFailure::RemoteHangup));
        assert!(r
            .result()
            .failure
            .as_deref()
            .unwrap()
            .contains("step 2 (wait_prompt goodbye)"));

        let mut r = StepRunner::new(vec![wait("goodbye"), Step::Hangup].into());
        r.on_answered(t0);
        prompt(&mut r, t0, "goodbye");
        r.on_call_ended(t0 + Duration::from_secs(3));
        assert!(r.result().completed);
    }

    #[test]
    fn talk_and_pause_run_on_the_clock_and_a_reinvite_can_be_the_agent() {
        let t0 = base();
        let steps: Arc<[Step]> = vec![
            Step::Talk {
                audio: "caller.wav".into(),
                duration: Duration::from_secs(3),
            },
            Step::Pause(Duration::from_secs(1)),
            Step::Agent {
                dtmf: None,
                detect: AgentDetect::Reinvite,
                timeout: Duration::from_secs(30),
            },
        ]
        .into();
        let mut r = StepRunner::new(steps);
        r.on_answered(t0);
        assert_eq!(actions(&mut r), vec![StepAction::Talk("caller.wav".into())]);
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        r.handle_timeout(t0 + Duration::from_secs(3));
        assert_eq!(actions(&mut r), vec![StepAction::StopTalking]);
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(4)));
        r.handle_timeout(t0 + Duration::from_secs(4));
        r.on_reinvite(t0 + Duration::from_secs(9), t0 + Duration::from_secs(9));
        assert!(r.result().completed);
        // No digits were sent: the wait counts from the agent step's start.
        assert_eq!(r.result().agent_wait_ms, vec![5000.0]);
    }

    #[test]
    fn barge_in_sends_during_the_prompt_and_a_silent_agent_queue_times_out() {
        let t0 = base();
        let mut d = digits("0");
        d.barge_in = true;
        let steps: Arc<[Step]> = vec![
            wait("main_menu"),
            Step::Agent {
                dtmf: Some(d.clone()),
                detect: AgentDetect::Voice,
                timeout: Duration::from_secs(10),
            },
        ]
        .into();
        let mut r = StepRunner::new(steps);
        r.on_answered(t0);
        r.on_voice_onset(t0, t0);
        r.on_prompt_identified(heard("main_menu", 0.9), t0 + Duration::from_secs(1));
        assert_eq!(actions(&mut r), vec![StepAction::SendDtmf(d)]);
        let sent = t0 + Duration::from_millis(1200);
        r.on_dtmf_sent(sent, sent);
        // A known prompt is not an agent; unknown voice is.
        prompt(&mut r, sent + Duration::from_millis(300), "hold");
        assert!(!r.is_done());
        r.handle_timeout(sent + Duration::from_secs(10));
        assert_eq!(r.result().failure_kind, Some(StepFailure::NoAgent));
        assert_eq!(r.result().dtmf_response_ms, vec![300.0]);
    }
}
