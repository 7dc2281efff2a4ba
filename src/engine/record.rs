//! The record of one call: wire timestamps, outcome and failure reason, media statistics.
//!
//! [`CallTimeline`] watches every message a call sends and receives, with the time the driver
//! took at the socket, and keeps the first occurrence of each event of interest.

use crate::sip::message::{self, status};
use crate::sip::rsip::{Method, SipMessage};
use serde::Serialize;
use std::time::Instant;

/// Why a call failed: the categories a report counts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No final response to the INVITE (Timer B).
    Timeout,
    /// The INVITE got a 3xx–6xx final response.
    SipError,
    /// Not answered within the answer timeout; cancelled.
    NoAnswer,
    /// The transport failed (connection refused, reset, unroutable).
    Transport,
    /// Answered, but no RTP arrived within the media timeout.
    NoMedia,
    /// RTP arrived but no voice was heard.
    NoVoice,
    /// Our BYE got no final response.
    ByeTimeout,
    /// The SDP answer was unusable (no common codec, unparsable).
    BadSdp,
    /// A local resource failed (e.g. no RTP port).
    Local,
    /// An IVR step waited in vain for a prompt.
    NoPrompt,
    /// An IVR step heard another prompt than the one expected.
    WrongPrompt,
    /// No agent answered within the `agent` step's timeout.
    NoAgent,
    /// The far end hung up before the IVR flow completed.
    FlowHangup,
    /// Digits could not be sent (e.g. INFO refused).
    DtmfFailed,
    /// The end of the run (its drain time, or a stop request) cut the call before it was
    /// answered or before its IVR flow completed: not the target's failure.
    Interrupted,
}

impl FailureKind {
    /// The category of a failed IVR step.
    pub fn of_step(f: crate::scenario::runner::StepFailure) -> Self {
        use crate::scenario::runner::StepFailure as S;
        match f {
            S::NoPrompt => FailureKind::NoPrompt,
            S::WrongPrompt => FailureKind::WrongPrompt,
            S::NoAgent => FailureKind::NoAgent,
            S::RemoteHangup => FailureKind::FlowHangup,
            S::DtmfFailed => FailureKind::DtmfFailed,
        }
    }
}

/// A failure with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Failure {
    /// Category.
    pub kind: FailureKind,
    /// Human-readable detail (e.g. `503 Service Unavailable`).
    pub detail: String,
}

/// Per-call media numbers kept in the record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct CallMedia {
    /// Codec used.
    pub codec: String,
    /// RTP packets sent.
    pub tx_packets: u64,
    /// RTP packets received.
    pub rx_packets: u64,
    /// Packets lost (RFC 3550 cumulative; negative with duplicates).
    pub rx_lost: i64,
    /// RFC 3550 interarrival jitter, ms.
    pub rx_jitter_ms: f64,
    /// Packets our sender skipped because it woke too late to send them.
    pub tx_late_skipped: u64,
    /// Malformed RTP/RTCP datagrams received.
    pub malformed: u64,
    /// Round-trip time from RTCP, ms.
    pub rtt_ms: Option<f64>,
}

/// Everything known about one call. Times are milliseconds since the start of the run.
///
/// It reads back from its own JSON (the monitor's store keeps records that way), except for
/// `quality`, which is written but not read back.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CallRecord {
    /// Sequence number of the call in the run (0-based).
    pub index: u64,
    /// Call-ID.
    pub call_id: String,
    /// When the call was due to start (the latency origin).
    pub scheduled_ms: f64,
    /// First INVITE left the socket.
    pub invite_sent_ms: Option<f64>,
    /// First 100 Trying arrived.
    pub first_100_ms: Option<f64>,
    /// First 180/183 arrived.
    pub first_18x_ms: Option<f64>,
    /// Its code (180 or 183).
    pub first_18x_code: Option<u16>,
    /// 200 OK arrived.
    pub answered_ms: Option<f64>,
    /// First RTP packet arrived.
    pub first_rtp_ms: Option<f64>,
    /// First voice (decoded audio above the speech threshold), sample-precise.
    pub first_voice_ms: Option<f64>,
    /// BYE sent (by us) or received (from the far end).
    pub bye_ms: Option<f64>,
    /// Who hung up: `caller`, `callee`, or none.
    pub bye_by: Option<HungUpBy>,
    /// The call ended.
    pub ended_ms: f64,
    /// Final response code to the INVITE.
    pub final_code: Option<u16>,
    /// `None` when the call succeeded.
    pub failure: Option<Failure>,
    /// SIP retransmissions we sent.
    pub retransmissions_sent: u32,
    /// SIP retransmissions the far end sent.
    pub retransmissions_received: u32,
    /// Media statistics, when media was set up.
    pub media: Option<CallMedia>,
    /// The IVR flow's measurements and outcome, when the scenario has steps and the call was
    /// answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr: Option<crate::scenario::runner::StepsResult>,
    /// The end of the run hung the call up (it was still in progress at the drain's cut-off).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_by_end: bool,
    /// Index of the `load:` profile phase the call was scheduled in (load runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<u32>,
    /// Voice quality (with `call.quality`, when the call was answered).
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub quality: Option<super::quality::CallQuality>,
}

/// Which side hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HungUpBy {
    /// We sent the BYE.
    Caller,
    /// The far end sent it.
    Callee,
}

impl HungUpBy {
    /// `caller` or `callee`.
    pub fn as_str(self) -> &'static str {
        match self {
            HungUpBy::Caller => "caller",
            HungUpBy::Callee => "callee",
        }
    }
}

impl CallRecord {
    /// A record of call `index` with nothing happened yet (every time unset, no failure).
    pub fn blank(index: u64, call_id: String) -> CallRecord {
        CallRecord {
            index,
            call_id,
            scheduled_ms: 0.0,
            invite_sent_ms: None,
            first_100_ms: None,
            first_18x_ms: None,
            first_18x_code: None,
            answered_ms: None,
            first_rtp_ms: None,
            first_voice_ms: None,
            bye_ms: None,
            bye_by: None,
            ended_ms: 0.0,
            final_code: None,
            failure: None,
            retransmissions_sent: 0,
            retransmissions_received: 0,
            media: None,
            ivr: None,
            quality: None,
            cut_by_end: false,
            phase: None,
        }
    }

    /// Post-dial delay: INVITE → first 180/183 (SPEC terms).
    pub fn post_dial_delay_ms(&self) -> Option<f64> {
        Some(self.first_18x_ms? - self.invite_sent_ms?)
    }

    /// Setup time: INVITE → 200 OK.
    pub fn setup_time_ms(&self) -> Option<f64> {
        Some(self.answered_ms? - self.invite_sent_ms?)
    }

    /// Connect delay: INVITE (dialling) → first voice from the call center (ACC-CONNECT-DELAY).
    pub fn connect_delay_ms(&self) -> Option<f64> {
        Some(self.first_voice_ms? - self.invite_sent_ms?)
    }

    /// Whether the call succeeded.
    pub fn succeeded(&self) -> bool {
        self.failure.is_none()
    }
}

/// Records the first occurrence of each signalling event, by wire time.
#[derive(Debug, Clone)]
pub struct CallTimeline {
    origin: Instant,
    /// The run-relative times, filled as events happen.
    pub record: CallRecord,
}

impl CallTimeline {
    /// A timeline for call `index`, scheduled at `scheduled`, with times relative to `origin`.
    pub fn new(index: u64, call_id: String, origin: Instant, scheduled: Instant) -> Self {
        let mut t = CallTimeline {
            origin,
            record: CallRecord::blank(index, call_id),
        };
        t.record.scheduled_ms = t.ms(scheduled);
        t
    }

    /// Milliseconds since the run origin.
    pub fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.origin).as_secs_f64() * 1000.0
    }

    /// A message left the socket at `at`.
    pub fn on_sent(&mut self, msg: &SipMessage, at: Instant) {
        if let SipMessage::Request(r) = msg {
            match r.method {
                Method::Invite if self.record.invite_sent_ms.is_none() => {
                    self.record.invite_sent_ms = Some(self.ms(at))
                }
                Method::Bye if self.record.bye_ms.is_none() => {
                    self.record.bye_ms = Some(self.ms(at));
                    self.record.bye_by = Some(HungUpBy::Caller);
                }
                _ => {}
            }
        }
    }

    /// A message arrived at `at`.
    pub fn on_received(&mut self, msg: &SipMessage, at: Instant) {
        let t = self.ms(at);
        match msg {
            SipMessage::Response(r) => {
                let is_invite = matches!(message::cseq(&r.headers), Ok((_, Method::Invite)));
                if !is_invite {
                    return;
                }
                let code = status(r);
                match code {
                    100 if self.record.first_100_ms.is_none() => self.record.first_100_ms = Some(t),
                    180 | 183 if self.record.first_18x_ms.is_none() => {
                        self.record.first_18x_ms = Some(t);
                        self.record.first_18x_code = Some(code);
                    }
                    200..=299 if self.record.answered_ms.is_none() => {
                        self.record.answered_ms = Some(t);
                        self.record.final_code = Some(code);
                    }
                    300..=699 => {
                        // The last final error (an authenticated retry may follow a 401).
                        self.record.final_code = Some(code);
                    }
                    _ => {}
                }
            }
            SipMessage::Request(r) => {
                if r.method == Method::Bye && self.record.bye_ms.is_none() {
                    self.record.bye_ms = Some(t);
                    self.record.bye_by = Some(HungUpBy::Callee);
                }
            }
        }
    }

    /// The first RTP packet arrived at `at`.
    pub fn on_first_rtp(&mut self, at: Instant) {
        if self.record.first_rtp_ms.is_none() {
            self.record.first_rtp_ms = Some(self.ms(at));
        }
    }

    /// Voice began at `at` (the onset sample's time).
    pub fn on_first_voice(&mut self, at: Instant) {
        if self.record.first_voice_ms.is_none() {
            self.record.first_voice_ms = Some(self.ms(at));
        }
    }

    /// Sets the failure unless one is already recorded (the first cause wins).
    pub fn fail(&mut self, kind: FailureKind, detail: impl Into<String>) {
        if self.record.failure.is_none() {
            self.record.failure = Some(Failure {
                kind,
                detail: detail.into(),
            });
        }
    }
}
