//! The non-INVITE client transaction (RFC 3261 §17.1.2).

use super::timers::{TimerSlot, TimerTable};
use super::{ClientEvent, Reliability, ResponseClass, TimerConfig};
use crate::sip::rsip::{self, SipMessage};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// States of the non-INVITE client transaction (RFC 3261 Figure 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonInviteClientState {
    /// RFC 3261 §17.1.2.2: the request is sent, Timers E and F run.
    Trying,
    /// RFC 3261 §17.1.2.2: a provisional response arrived; Timer E is now T2.
    Proceeding,
    /// RFC 3261 §17.1.2.2: a final response arrived; Timer K absorbs retransmissions.
    Completed,
    /// RFC 3261 §17.1.2.2: the transaction is over.
    Terminated,
}

/// The timers of the non-INVITE client transaction (RFC 3261 Table 4).
#[derive(Debug, Clone, Copy)]
enum Timer {
    /// Request retransmission, T1 doubling up to T2 (unreliable transports only).
    E,
    /// Transaction timeout, 64·T1.
    F,
    /// Wait for response retransmissions in Completed.
    K,
}

impl TimerSlot for Timer {
    fn slot(self) -> usize {
        self as usize
    }
}

/// The non-INVITE client transaction (RFC 3261 §17.1.2), sans-IO: BYE, CANCEL, OPTIONS, INFO…
#[derive(Debug, Clone)]
pub struct NonInviteClient {
    request: rsip::Request,
    state: NonInviteClientState,
    reliability: Reliability,
    config: TimerConfig,
    timers: TimerTable<3>,
    timer_e_interval: Duration,
    last_provisional: Option<rsip::Response>,
    transmits: VecDeque<SipMessage>,
    events: VecDeque<ClientEvent>,
    retransmissions_sent: u32,
    retransmissions_received: u32,
}

impl NonInviteClient {
    /// RFC 3261 §17.1.2.2: starts in Trying with the request queued, Timer E (unreliable only)
    /// at T1 and Timer F at 64·T1.
    pub fn new(
        request: rsip::Request,
        rel: Reliability,
        timers: TimerConfig,
        now: Instant,
    ) -> Self {
        let mut tx = NonInviteClient {
            request,
            state: NonInviteClientState::Trying,
            reliability: rel,
            config: timers,
            timers: TimerTable::default(),
            timer_e_interval: timers.t1,
            last_provisional: None,
            transmits: VecDeque::with_capacity(2),
            events: VecDeque::with_capacity(2),
            retransmissions_sent: 0,
            retransmissions_received: 0,
        };
        tx.transmits
            .push_back(SipMessage::Request(tx.request.clone()));
        if rel == Reliability::Unreliable {
            tx.timers.set_after(Timer::E, now, timers.t1);
        }
        tx.timers.set_after(Timer::F, now, timers.timeout_64_t1());
        tx
    }

    /// RFC 3261 §17.1.2.2: feeds a response the caller matched to this transaction.
    pub fn handle_response(&mut self, resp: rsip::Response, now: Instant) {
        let Some(class) = ResponseClass::of(&resp) else {
            return; // outside 100–699: not a valid response (§21)
        };
        use NonInviteClientState as S;
        match (self.state, class) {
            (S::Trying | S::Proceeding, ResponseClass::Provisional) => {
                self.state = S::Proceeding;
                if self.last_provisional.as_ref() == Some(&resp) {
                    self.retransmissions_received = self.retransmissions_received.saturating_add(1);
                }
                self.last_provisional = Some(resp.clone());
                self.events.push_back(ClientEvent::Provisional(resp));
            }
            (S::Trying | S::Proceeding, ResponseClass::Success | ResponseClass::Failure) => {
                self.state = S::Completed;
                self.timers.stop_all();
                self.events.push_back(ClientEvent::Final(resp));
                let k = self.config.t4_or_zero(self.reliability);
                if k.is_zero() {
                    self.terminate();
                } else {
                    self.timers.set_after(Timer::K, now, k);
                }
            }
            (S::Completed, ResponseClass::Success | ResponseClass::Failure) => {
                // §17.1.2.2: final response retransmissions are absorbed in Completed.
                self.retransmissions_received = self.retransmissions_received.saturating_add(1);
            }
            _ => {}
        }
    }

    /// RFC 3261 §17.1.2.2: fires every timer due at `now` (Timers E, F, K).
    pub fn handle_timeout(&mut self, now: Instant) {
        use NonInviteClientState as S;
        if self.timers.take_expired(Timer::F, now)
            && matches!(self.state, S::Trying | S::Proceeding)
        {
            self.events.push_back(ClientEvent::Timeout);
            self.terminate();
            return;
        }
        if self.timers.take_expired(Timer::E, now) {
            let next = match self.state {
                // §17.1.2.2: in Trying, min(2·previous, T2) …
                S::Trying => self.config.next_capped_interval(self.timer_e_interval),
                // … in Proceeding, T2.
                S::Proceeding => self.config.t2,
                S::Completed | S::Terminated => return,
            };
            self.transmits
                .push_back(SipMessage::Request(self.request.clone()));
            self.retransmissions_sent = self.retransmissions_sent.saturating_add(1);
            self.timer_e_interval = next;
            self.timers.set_after(Timer::E, now, next);
        }
        if self.timers.take_expired(Timer::K, now) {
            self.terminate();
        }
    }

    /// RFC 3261 §17.1.2.2: the transport failed; the TU is told and the transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != NonInviteClientState::Terminated {
            self.transmits.clear();
            self.events.push_back(ClientEvent::TransportError);
            self.terminate();
        }
    }

    /// The next message to put on the wire (the request and its retransmissions); call until
    /// `None`.
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

    /// The current state (RFC 3261 Figure 6).
    pub fn state(&self) -> NonInviteClientState {
        self.state
    }

    /// Whether the transaction reached Terminated (RFC 3261 §17.1.2.2).
    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteClientState::Terminated
    }

    /// Request retransmissions sent on Timer E (RFC 3261 §17.1.2.2).
    pub fn retransmissions_sent(&self) -> u32 {
        self.retransmissions_sent
    }

    /// Repeated responses from the far end: identical 1xx and finals absorbed in Completed.
    pub fn retransmissions_received(&self) -> u32 {
        self.retransmissions_received
    }

    /// The request that created the transaction (RFC 3261 §17.1.2.1).
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    fn terminate(&mut self) {
        self.state = NonInviteClientState::Terminated;
        self.timers.stop_all();
    }
}
