//! The INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026's Accepted state).

use super::ack::build_ack;
use super::timers::{TimerSlot, TimerTable};
use super::{ClientEvent, Reliability, ResponseClass, TimerConfig};
use crate::sip::rsip::{self, SipMessage};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// States of the INVITE client transaction (RFC 3261 Figure 5 as updated by RFC 6026 §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InviteClientState {
    /// RFC 3261 §17.1.1.2: the INVITE is sent, Timers A and B run.
    Calling,
    /// RFC 3261 §17.1.1.2: a provisional response arrived; no retransmissions.
    Proceeding,
    /// RFC 6026 §8.4: a 2xx arrived; further 2xx are passed up until Timer M fires.
    Accepted,
    /// RFC 3261 §17.1.1.2: a 300–699 arrived and was ACKed; Timer D absorbs retransmissions.
    Completed,
    /// RFC 3261 §17.1.1.2: the transaction is over.
    Terminated,
}

/// The timers of the INVITE client transaction (RFC 3261 Table 4, RFC 6026 §8.4).
#[derive(Debug, Clone, Copy)]
enum Timer {
    /// INVITE retransmission, T1 doubling (unreliable transports only).
    A,
    /// Transaction timeout in Calling, 64·T1.
    B,
    /// Wait for response retransmissions in Completed.
    D,
    /// Wait for 2xx retransmissions in Accepted, 64·T1.
    M,
}

impl TimerSlot for Timer {
    fn slot(self) -> usize {
        self as usize
    }
}

/// The INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §8.4), sans-IO.
#[derive(Debug, Clone)]
pub struct InviteClient {
    request: rsip::Request,
    ack: Option<rsip::Request>,
    state: InviteClientState,
    reliability: Reliability,
    config: TimerConfig,
    timers: TimerTable<4>,
    timer_a_interval: Duration,
    last_provisional: Option<rsip::Response>,
    success_to_tags: Vec<Option<String>>,
    transmits: VecDeque<SipMessage>,
    events: VecDeque<ClientEvent>,
    retransmissions_sent: u32,
    retransmissions_received: u32,
}

impl InviteClient {
    /// RFC 3261 §17.1.1.2: starts in Calling with the INVITE queued, Timer A (unreliable only)
    /// at T1 and Timer B at 64·T1.
    pub fn new(invite: rsip::Request, rel: Reliability, timers: TimerConfig, now: Instant) -> Self {
        let mut tx = InviteClient {
            request: invite,
            ack: None,
            state: InviteClientState::Calling,
            reliability: rel,
            config: timers,
            timers: TimerTable::default(),
            timer_a_interval: timers.t1,
            last_provisional: None,
            success_to_tags: Vec::new(),
            transmits: VecDeque::with_capacity(2),
            events: VecDeque::with_capacity(2),
            retransmissions_sent: 0,
            retransmissions_received: 0,
        };
        tx.transmits
            .push_back(SipMessage::Request(tx.request.clone()));
        if rel == Reliability::Unreliable {
            tx.timers.set_after(Timer::A, now, timers.t1);
        }
        tx.timers.set_after(Timer::B, now, timers.timeout_64_t1());
        tx
    }

    /// RFC 3261 §17.1.1.2, RFC 6026 §8.4: feeds a response matched to this transaction.
    pub fn handle_response(&mut self, resp: rsip::Response, now: Instant) {
        let Some(class) = ResponseClass::of(&resp) else {
            return; // outside 100–699: not a valid response (§21)
        };
        use InviteClientState as S;
        match (self.state, class) {
            (S::Calling | S::Proceeding, ResponseClass::Provisional) => {
                self.state = S::Proceeding;
                self.timers.stop(Timer::A);
                self.timers.stop(Timer::B);
                if self.last_provisional.as_ref() == Some(&resp) {
                    self.retransmissions_received = self.retransmissions_received.saturating_add(1);
                }
                self.last_provisional = Some(resp.clone());
                self.events.push_back(ClientEvent::Provisional(resp));
            }
            (S::Calling | S::Proceeding, ResponseClass::Success) => {
                self.state = S::Accepted;
                self.timers.stop_all();
                self.timers
                    .set_after(Timer::M, now, self.config.timeout_64_t1());
                self.success_to_tags.push(super::to_tag(&resp));
                self.events.push_back(ClientEvent::Final(resp));
            }
            (S::Calling | S::Proceeding, ResponseClass::Failure) => {
                self.state = S::Completed;
                self.timers.stop_all();
                let ack = build_ack(&self.request, &resp);
                self.transmits.push_back(SipMessage::Request(ack.clone()));
                self.ack = Some(ack);
                self.events.push_back(ClientEvent::Final(resp));
                let d = self.config.timer_d(self.reliability);
                if d.is_zero() {
                    self.terminate();
                } else {
                    self.timers.set_after(Timer::D, now, d);
                }
            }
            (S::Accepted, ResponseClass::Success) => {
                // RFC 6026 §8.4: every 2xx goes up; the TU ACKs it again. A 2xx with a To tag
                // not seen before is a fork, not a retransmission.
                let tag = super::to_tag(&resp);
                if self.success_to_tags.contains(&tag) {
                    self.retransmissions_received = self.retransmissions_received.saturating_add(1);
                } else {
                    self.success_to_tags.push(tag);
                }
                self.events.push_back(ClientEvent::Final(resp));
            }
            (S::Completed, ResponseClass::Failure) => {
                // §17.1.1.2: a retransmitted final response is ACKed again, not passed up.
                self.retransmissions_received = self.retransmissions_received.saturating_add(1);
                if let Some(ack) = &self.ack {
                    self.transmits.push_back(SipMessage::Request(ack.clone()));
                    self.retransmissions_sent = self.retransmissions_sent.saturating_add(1);
                }
            }
            _ => {}
        }
    }

    /// RFC 3261 §17.1.1.2: fires every timer due at `now` (Timers A, B, D, M).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.take_expired(Timer::B, now) && self.state == InviteClientState::Calling {
            self.events.push_back(ClientEvent::Timeout);
            self.terminate();
            return;
        }
        if self.timers.take_expired(Timer::A, now) && self.state == InviteClientState::Calling {
            // §17.1.1.2: retransmit and double Timer A; INVITE intervals are not capped at T2.
            self.transmits
                .push_back(SipMessage::Request(self.request.clone()));
            self.retransmissions_sent = self.retransmissions_sent.saturating_add(1);
            self.timer_a_interval = self.timer_a_interval.saturating_mul(2);
            self.timers.set_after(Timer::A, now, self.timer_a_interval);
        }
        if self.timers.take_expired(Timer::D, now) || self.timers.take_expired(Timer::M, now) {
            self.terminate();
        }
    }

    /// RFC 3261 §17.1.1.2: the transport failed; the TU is told and the transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != InviteClientState::Terminated {
            self.transmits.clear();
            self.events.push_back(ClientEvent::TransportError);
            self.terminate();
        }
    }

    /// The next message to put on the wire (the INVITE, its retransmissions, the ACK of a
    /// non-2xx); call until `None`.
    pub fn poll_transmit(&mut self) -> Option<SipMessage> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user; call until `None`.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run: the earliest armed timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current state (RFC 3261 Figure 5 as updated by RFC 6026 §8.4).
    pub fn state(&self) -> InviteClientState {
        self.state
    }

    /// Whether the transaction reached Terminated (RFC 3261 §17.1.1.2).
    pub fn is_terminated(&self) -> bool {
        self.state == InviteClientState::Terminated
    }

    /// INVITE retransmissions (Timer A) and re-sent ACKs (§17.1.1.2).
    pub fn retransmissions_sent(&self) -> u32 {
        self.retransmissions_sent
    }

    /// Repeated responses from the far end: identical 1xx, 2xx with a To tag already seen, and
    /// 300–699 in Completed.
    pub fn retransmissions_received(&self) -> u32 {
        self.retransmissions_received
    }

    /// The INVITE that created the transaction (RFC 3261 §17.1.1.1).
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    /// The ACK this transaction sent for a 300–699 response (RFC 3261 §17.1.1.3), if any.
    pub fn ack(&self) -> Option<&rsip::Request> {
        self.ack.as_ref()
    }

    fn terminate(&mut self) {
        self.state = InviteClientState::Terminated;
        self.timers.stop_all();
    }
}
