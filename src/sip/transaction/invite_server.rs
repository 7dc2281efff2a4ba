//! The INVITE server transaction (RFC 3261 §17.2.1, with RFC 6026's Accepted state and the
//! 2xx retransmission of §13.3.1.4).

use super::timers::{TimerSlot, TimerTable};
use super::{Reliability, ResponseClass, ServerEvent, TimerConfig};
use crate::sip::rsip::{self, headers::ContentLength, Header, Method, SipMessage, StatusCode};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// RFC 3261 §17.2.1: the server transaction sends 100 Trying itself when the TU has not
/// answered within 200 ms.
const AUTO_TRYING_AFTER: Duration = Duration::from_millis(200);

/// States of the INVITE server transaction (RFC 3261 Figure 7 as updated by RFC 6026 §8.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InviteServerState {
    /// RFC 3261 §17.2.1: the INVITE arrived; provisional responses may be sent.
    Proceeding,
    /// RFC 6026 §8.7: a 2xx was sent; it is retransmitted until the ACK, Timer L runs.
    Accepted,
    /// RFC 3261 §17.2.1: a 300–699 was sent; Timers G (unreliable) and H run.
    Completed,
    /// RFC 3261 §17.2.1: the ACK for the 300–699 arrived; Timer I absorbs ACK retransmissions.
    Confirmed,
    /// RFC 3261 §17.2.1: the transaction is over.
    Terminated,
}

/// The timers of the INVITE server transaction (RFC 3261 Table 4, §13.3.1.4, RFC 6026 §8.7).
#[derive(Debug, Clone, Copy)]
enum Timer {
    /// Send 100 Trying if the TU is silent for 200 ms (§17.2.1).
    Trying,
    /// 2xx retransmission until the ACK, T1 doubling up to T2, any transport (§13.3.1.4).
    Retransmit2xx,
    /// Lifetime of Accepted, 64·T1.
    L,
    /// Final response retransmission, T1 doubling up to T2 (unreliable transports only).
    G,
    /// Wait for the ACK in Completed, 64·T1.
    H,
    /// Absorb ACK retransmissions in Confirmed.
    I,
}

impl TimerSlot for Timer {
    fn slot(self) -> usize {
        self as usize
    }
}

/// The INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §8.7), sans-IO.
#[derive(Debug, Clone)]
pub struct InviteServer {
    request: rsip::Request,
    last_response: Option<rsip::Response>,
    ack_received: bool,
    state: InviteServerState,
    reliability: Reliability,
    config: TimerConfig,
    timers: TimerTable<6>,
    retransmit_interval: Duration,
    transmits: VecDeque<SipMessage>,
    events: VecDeque<ServerEvent>,
    retransmissions_sent: u32,
    retransmissions_received: u32,
}

impl InviteServer {
    /// RFC 3261 §17.2.1: starts in Proceeding for a received INVITE; a 100 Trying goes out after
    /// 200 ms unless the TU responds first.
    pub fn new(invite: rsip::Request, rel: Reliability, timers: TimerConfig, now: Instant) -> Self {
        let mut tx = InviteServer {
            request: invite,
            last_response: None,
            ack_received: false,
            state: InviteServerState::Proceeding,
            reliability: rel,
            config: timers,
            timers: TimerTable::default(),
            retransmit_interval: timers.t1,
            transmits: VecDeque::with_capacity(2),
            events: VecDeque::with_capacity(1),
            retransmissions_sent: 0,
            retransmissions_received: 0,
        };
        tx.timers.set_after(Timer::Trying, now, AUTO_TRYING_AFTER);
        tx
    }

    /// RFC 3261 §17.2.1, §13.3.1.4, RFC 6026 §8.7: sends a response from the TU. 1xx keep the
    /// transaction in Proceeding; a 2xx moves it to Accepted, a 300–699 to Completed. Responses
    /// the current state does not allow are dropped.
    pub fn send_response(&mut self, resp: rsip::Response, now: Instant) {
        let Some(class) = ResponseClass::of(&resp) else {
            return;
        };
        use InviteServerState as S;
        match (self.state, class) {
            (S::Proceeding, ResponseClass::Provisional) => {
                self.timers.stop(Timer::Trying);
                self.send(resp);
            }
            (S::Proceeding, ResponseClass::Success) => {
                self.timers.stop(Timer::Trying);
                self.state = S::Accepted;
                self.send(resp);
                // §13.3.1.4: the 2xx is retransmitted end to end, whatever the transport.
                self.retransmit_interval = self.config.t1;
                self.timers
                    .set_after(Timer::Retransmit2xx, now, self.retransmit_interval);
                self.timers
                    .set_after(Timer::L, now, self.config.timeout_64_t1());
            }
            (S::Proceeding, ResponseClass::Failure) => {
                self.timers.stop(Timer::Trying);
                self.state = S::Completed;
                self.send(resp);
                if self.reliability == Reliability::Unreliable {
                    self.retransmit_interval = self.config.t1;
                    self.timers
                        .set_after(Timer::G, now, self.retransmit_interval);
                }
                self.timers
                    .set_after(Timer::H, now, self.config.timeout_64_t1());
            }
            (S::Accepted, ResponseClass::Success) => {
                // RFC 6026 §8.7: further 2xx from the TU go to the transport as they are.
                self.transmits.push_back(SipMessage::Response(resp));
            }
            _ => {}
        }
    }

    /// RFC 3261 §17.2.1, RFC 6026 §8.7: feeds a request matched to this transaction — a
    /// retransmitted INVITE (the last response is sent again) or an ACK.
    pub fn handle_request(&mut self, req: rsip::Request, now: Instant) {
        use InviteServerState as S;
        match req.method {
            Method::Invite => {
                if self.state == S::Terminated {
                    return;
                }
                self.retransmissions_received = self.retransmissions_received.saturating_add(1);
                let resend = match self.state {
                    S::Proceeding | S::Completed => true,
                    // RFC 6026 §8.7 absorbs it; until the ACK we answer with the 2xx again,
                    // as its retransmission timer would anyway.
                    S::Accepted => !self.ack_received,
                    S::Confirmed | S::Terminated => false,
                };
                if resend {
                    self.resend_last();
                }
            }
            Method::Ack => match self.state {
                S::Accepted if !self.ack_received => {
                    // §13.3.1.4: the ACK stops the 2xx retransmissions; Accepted lasts until L.
                    self.ack_received = true;
                    self.timers.stop(Timer::Retransmit2xx);
                    self.events.push_back(ServerEvent::Ack(req));
                }
                S::Completed => {
                    self.state = S::Confirmed;
                    self.ack_received = true;
                    self.timers.stop(Timer::G);
                    self.timers.stop(Timer::H);
                    self.events.push_back(ServerEvent::Ack(req));
                    let i = self.config.t4_or_zero(self.reliability);
                    if i.is_zero() {
                        self.terminate();
                    } else {
                        self.timers.set_after(Timer::I, now, i);
                    }
                }
                S::Accepted | S::Confirmed => {
                    self.retransmissions_received = self.retransmissions_received.saturating_add(1)
                }
                S::Proceeding | S::Terminated => {}
            },
            _ => {}
        }
    }

    /// RFC 3261 §17.2.1, §13.3.1.4, RFC 6026 §8.7: fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        use InviteServerState as S;
        if self.timers.take_expired(Timer::L, now) {
            if !self.ack_received {
                self.events.push_back(ServerEvent::AckTimeout);
            }
            self.terminate();
            return;
        }
        if self.timers.take_expired(Timer::H, now) && self.state == S::Completed {
            self.events.push_back(ServerEvent::AckTimeout);
            self.terminate();
            return;
        }
        if self.timers.take_expired(Timer::I, now) {
            self.terminate();
            return;
        }
        if self.timers.take_expired(Timer::Trying, now)
            && self.state == S::Proceeding
            && self.last_response.is_none()
        {
            self.send(trying_response(&self.request));
        }
        let due_2xx = self.timers.take_expired(Timer::Retransmit2xx, now)
            && self.state == S::Accepted
            && !self.ack_received;
        if due_2xx {
            self.resend_last();
            self.retransmit_interval = self.config.next_capped_interval(self.retransmit_interval);
            self.timers
                .set_after(Timer::Retransmit2xx, now, self.retransmit_interval);
        }
        if self.timers.take_expired(Timer::G, now) && self.state == S::Completed {
            self.resend_last();
            self.retransmit_interval = self.config.next_capped_interval(self.retransmit_interval);
            self.timers
                .set_after(Timer::G, now, self.retransmit_interval);
        }
    }

    /// RFC 3261 §17.2.4: the transport failed to send a response; the TU is told and the
    /// transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != InviteServerState::Terminated {
            self.transmits.clear();
            self.events.push_back(ServerEvent::TransportError);
            self.terminate();
        }
    }

    /// The next response to put on the wire; call until `None`.
    pub fn poll_transmit(&mut self) -> Option<SipMessage> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user; call until `None`.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run: the earliest armed timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current state (RFC 3261 Figure 7 as updated by RFC 6026 §8.7).
    pub fn state(&self) -> InviteServerState {
        self.state
    }

    /// Whether the transaction reached Terminated (RFC 3261 §17.2.1).
    pub fn is_terminated(&self) -> bool {
        self.state == InviteServerState::Terminated
    }

    /// Responses sent again: on Timer G, on the 2xx timer and for retransmitted INVITEs.
    pub fn retransmissions_sent(&self) -> u32 {
        self.retransmissions_sent
    }

    /// Retransmitted INVITEs and repeated ACKs from the far end.
    pub fn retransmissions_received(&self) -> u32 {
        self.retransmissions_received
    }

    /// The INVITE that created the transaction (RFC 3261 §17.2.1).
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    /// The most recent response sent (RFC 3261 §17.2.1).
    pub fn last_response(&self) -> Option<&rsip::Response> {
        self.last_response.as_ref()
    }

    fn send(&mut self, resp: rsip::Response) {
        self.transmits.push_back(SipMessage::Response(resp.clone()));
        self.last_response = Some(resp);
    }

    fn resend_last(&mut self) {
        if let Some(resp) = &self.last_response {
            self.transmits.push_back(SipMessage::Response(resp.clone()));
            self.retransmissions_sent = self.retransmissions_sent.saturating_add(1);
        }
    }

    fn terminate(&mut self) {
        self.state = InviteServerState::Terminated;
        self.timers.stop_all();
    }
}

/// RFC 3261 §8.2.6: a 100 Trying for `invite` — its Via, From, To, Call-ID, CSeq and Timestamp,
/// no To tag, no body.
fn trying_response(invite: &rsip::Request) -> rsip::Response {
    let mut headers = rsip::Headers::default();
    for h in invite.headers.iter() {
        if matches!(
            h,
            Header::Via(_)
                | Header::From(_)
                | Header::To(_)
                | Header::CallId(_)
                | Header::CSeq(_)
                | Header::Timestamp(_)
        ) {
            headers.push(h.clone());
        }
    }
    headers.push(Header::ContentLength(ContentLength::new("0")));
    rsip::Response {
        status_code: StatusCode::Trying,
        wire_reason: None,
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}
