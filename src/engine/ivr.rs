//! The IVR half of a call's driver: feeds the step runner what the media session heard,
//! identifies prompts against the references, and carries out the runner's actions on the
//! call leg (INFO digits, BYE) and the media session (RFC 4733 and in-band digits, talking).

use super::IvrPlan;
use crate::media::dtmf::{info_body, DtmfTiming, InfoFormat};
use crate::media::session::{MediaDtmf, MediaEvent};
use crate::media::MediaSession;
use crate::scenario::runner::{Heard, StepAction, StepRunner};
use crate::scenario::steps::DtmfMethod;
use crate::sip::dialog::UacCall;
use crate::sip::rsip::{Method, SipMessage};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Below this confidence a prompt is "unknown" (voice that is none of the references).
pub const UNKNOWN_BELOW: f64 = 0.5;

/// How much voice identification waits for: enough to tell prompts apart, not the whole prompt.
const ID_WINDOW: Duration = Duration::from_millis(1500);

/// Level of in-band digits per frequency, dBm0.
const INBAND_LEVEL_DBM0: f64 = callcert_codecs::dtmf::DEFAULT_LEVEL_DBM0;

/// Per-call IVR state of the driver.
#[derive(Debug)]
pub(crate) struct IvrDriver {
    plan: Arc<IvrPlan>,
    runner: StepRunner,
    /// An onset whose prompt is not identified yet.
    pending_id: bool,
    /// Digits still to send as INFO, with when.
    info_queue: VecDeque<(char, Instant)>,
    info: Option<(InfoFormat, Duration)>,
    /// The last INFO of a step is queued: its wire time ends the step's digits.
    last_info_pending: bool,
    /// Learn mode: steps whose prompt has been saved.
    learned: Vec<usize>,
}

impl IvrDriver {
    pub(crate) fn new(plan: Arc<IvrPlan>) -> Self {
        let runner = StepRunner::new(plan.steps.clone());
        Self {
            plan,
            runner,
            pending_id: false,
            info_queue: VecDeque::new(),
            info: None,
            last_info_pending: false,
            learned: Vec::new(),
        }
    }

    pub(crate) fn runner(&self) -> &StepRunner {
        &self.runner
    }

    pub(crate) fn on_answered(&mut self, now: Instant) {
        self.runner.on_answered(now);
    }

    pub(crate) fn on_reinvite(&mut self, now: Instant) {
        self.runner.on_reinvite(now, now);
    }

    pub(crate) fn on_call_ended(&mut self, now: Instant) {
        self.runner.on_call_ended(now);
    }

    pub(crate) fn on_info_answered(&mut self, code: u16, now: Instant) {
        if code == 0 || code >= 300 {
            let why = if code == 0 {
                "INFO got no response".to_string()
            } else {
                format!("INFO answered {code}")
            };
            self.info_queue.clear();
            self.last_info_pending = false;
            self.runner.on_dtmf_failed(&why, now);
        }
    }

    /// A SIP message left the socket at `at`.
    pub(crate) fn on_sip_sent(&mut self, m: &SipMessage, at: Instant) {
        if !self.last_info_pending || !self.info_queue.is_empty() {
            return;
        }
        if matches!(m, SipMessage::Request(r) if r.method == Method::Info) {
            self.last_info_pending = false;
            self.runner.on_dtmf_sent(at, at);
        }
    }

    /// The last digit sent through the media session ended on the wire at `at`.
    pub(crate) fn on_media_digits_sent(&mut self, at: Instant, now: Instant) {
        self.runner.on_dtmf_sent(at, now);
    }

    /// Passes what the media session heard to the runner, identifying prompts when enough of
    /// them has been heard.
    pub(crate) fn on_media(&mut self, session: &mut MediaSession, now: Instant) {
        while let Some(e) = session.poll_event() {
            match e {
                MediaEvent::VoiceOnset { at } => {
                    self.pending_id = true;
                    self.runner.on_voice_onset(at, now);
                }
                MediaEvent::VoiceEnd { at } => {
                    if self.pending_id {
                        self.identify(session, now);
                    }
                    self.save_learned(session);
                    self.runner.on_voice_end(at, now);
                }
                MediaEvent::DtmfStarted { .. } | MediaEvent::Dtmf { .. } => {}
            }
        }
        if self.pending_id && self.enough_heard(session.prompt_audio().len()) {
            self.identify(session, now);
        }
    }

    /// Learn mode: the prompt that just ended, if a named step took it, becomes `NAME.wav`.
    fn save_learned(&mut self, session: &MediaSession) {
        let Some(learn) = &self.plan.learn else {
            return;
        };
        let Some(heard) = self.runner.result().prompts.last() else {
            return;
        };
        let step = heard.step;
        if self.learned.contains(&step) {
            return;
        }
        let Some(Some(name)) = learn.names.get(step - 1) else {
            return;
        };
        self.learned.push(step);
        let path = learn.dir.join(format!("{name}.wav"));
        if let Err(e) = crate::media::audio::write_wav(&path, session.prompt_audio()) {
            tracing::warn!("learn: cannot write {}: {e}", path.display());
        }
    }

    fn enough_heard(&self, samples: usize) -> bool {
        let heard = Duration::from_secs_f64(samples as f64 / 8000.0);
        let want = self
            .runner
            .expected_prompt()
            .and_then(|n| self.plan.library.get(n))
            .map_or(ID_WINDOW, |r| r.duration().min(ID_WINDOW));
        heard >= want
    }

    fn identify(&mut self, session: &MediaSession, now: Instant) {
        self.pending_id = false;
        let heard = match self.plan.library.identify(session.prompt_audio()) {
            Some(m) if m.confidence >= UNKNOWN_BELOW => Heard {
                name: Some(m.name),
                confidence: m.confidence,
            },
            Some(m) => Heard {
                name: None,
                confidence: m.confidence,
            },
            None => Heard {
                name: None,
                confidence: 0.0,
            },
        };
        self.runner.on_prompt_identified(heard, now);
    }

    /// Carries out what the runner asks.
    pub(crate) fn act(&mut self, call: &mut UacCall, session: &mut MediaSession, now: Instant) {
        while let Some(a) = self.runner.poll_action() {
            match a {
                StepAction::SendDtmf(d) => {
                    let timing = DtmfTiming {
                        digit: d.digit,
                        gap: d.gap,
                        ..DtmfTiming::default()
                    };
                    let how = match d.method {
                        DtmfMethod::Rfc4733 => MediaDtmf::Rfc4733,
                        DtmfMethod::Inband => MediaDtmf::Inband {
                            level_dbm0: INBAND_LEVEL_DBM0,
                        },
                        DtmfMethod::Info(format) => {
                            let mut at = now;
                            for c in d.digits.chars() {
                                self.info_queue.push_back((c, at));
                                at += d.digit + d.gap;
                            }
                            self.info = Some((format, d.digit));
                            self.send_due_info(call, now);
                            continue;
                        }
                    };
                    if let Err(e) = session.send_dtmf(&d.digits, timing, how, now) {
                        self.runner.on_dtmf_failed(&e.to_string(), now);
                    }
                }
                StepAction::ListenForPrompt => {
                    self.pending_id = false;
                    session.listen_for_prompt();
                }
                StepAction::Talk(path) => {
                    if let Some(audio) = self.plan.talk.get(&path) {
                        session.play(audio.clone(), now, true);
                    }
                }
                StepAction::StopTalking => session.stop_playing(now),
                StepAction::Hangup => call.hangup(now),
            }
        }
    }

    fn send_due_info(&mut self, call: &mut UacCall, now: Instant) {
        let Some((format, length)) = self.info else {
            return;
        };
        while self.info_queue.front().is_some_and(|(_, at)| *at <= now) {
            let (digit, _) = self.info_queue.pop_front().expect("front checked");
            if self.info_queue.is_empty() {
                self.last_info_pending = true;
            }
            match info_body(digit, length, format) {
                Ok(body) => call.send_info(format.content_type(), &body, now),
                Err(e) => {
                    self.info_queue.clear();
                    self.last_info_pending = false;
                    self.runner.on_dtmf_failed(&e.to_string(), now);
                }
            }
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.runner.poll_timeout(),
            self.info_queue.front().map(|(_, at)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn handle_timeout(&mut self, call: &mut UacCall, now: Instant) {
        self.send_due_info(call, now);
        if self.runner.poll_timeout().is_some_and(|d| d <= now) {
            self.runner.handle_timeout(now);
        }
    }
}
