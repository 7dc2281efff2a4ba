//! The non-INVITE server transaction (RFC 3261 §17.2.2).

use super::timers::{TimerSlot, TimerTable};
use super::{Reliability, ResponseClass, ServerEvent, TimerConfig};
use crate::sip::rsip::{self, SipMessage};
use std::collections::VecDeque;
use std::time::Instant;

/// States of the non-INVITE server transaction (RFC 3261 Figure 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonInviteServerState {
    /// RFC 3261 §17.2.2: the request arrived, nothing sent yet; retransmissions are absorbed.
    Trying,
    /// RFC 3261 §17.2.2: a provisional response was sent.
    Proceeding,
    /// RFC 3261 §17.2.2: a final response was sent; Timer J absorbs request retransmissions.
    Completed,
    /// RFC 3261 §17.2.2: the transaction is over.
    Terminated,
}

/// The timers of the non-INVITE server transaction (RFC 3261 Table 4).
#[derive(Debug, Clone, Copy)]
enum Timer {
    /// Wait for request retransmissions in Completed, 64·T1 (unreliable) or 0.
    J,
}

impl TimerSlot for Timer {
    fn slot(self) -> usize {
        self as usize
    }
}

/// The non-INVITE server transaction (RFC 3261 §17.2.2), sans-IO.
#[derive(Debug, Clone)]
pub struct NonInviteServer {
    request: rsip::Request,
    last_response: Option<rsip::Response>,
    state: NonInviteServerState,
    reliability: Reliability,
    config: TimerConfig,
    timers: TimerTable<1>,
    transmits: VecDeque<SipMessage>,
    events: VecDeque<ServerEvent>,
    retransmissions_sent: u32,
    retransmissions_received: u32,
}

impl NonInviteServer {
    /// RFC 3261 §17.2.2: starts in Trying for a received request.
    pub fn new(
        request: rsip::Request,
        rel: Reliability,
        timers: TimerConfig,
        _now: Instant,
    ) -> Self {
        NonInviteServer {
            request,
            last_response: None,
            state: NonInviteServerState::Trying,
            reliability: rel,
            config: timers,
            timers: TimerTable::default(),
            transmits: VecDeque::with_capacity(1),
            events: VecDeque::new(),
            retransmissions_sent: 0,
            retransmissions_received: 0,
        }
    }

    /// RFC 3261 §17.2.2: sends a response from the TU; a final one moves the transaction to
    /// Completed and starts Timer J. Responses after the final one are dropped.
    pub fn send_response(&mut self, resp: rsip::Response, now: Instant) {
        let Some(class) = ResponseClass::of(&resp) else {
            return;
        };
        use NonInviteServerState as S;
        match (self.state, class) {
            (S::Trying | S::Proceeding, ResponseClass::Provisional) => {
                self.state = S::Proceeding;
                self.send(resp);
            }
            (S::Trying | S::Proceeding, ResponseClass::Success | ResponseClass::Failure) => {
                self.state = S::Completed;
                self.send(resp);
                let j = self.config.timer_j(self.reliability);
                if j.is_zero() {
                    self.terminate();
                } else {
                    self.timers.set_after(Timer::J, now, j);
                }
            }
            _ => {}
        }
    }

    /// RFC 3261 §17.2.2: feeds a retransmission of the request; the last response is sent
    /// again (absorbed in Trying).
    pub fn handle_request(&mut self, req: rsip::Request, _now: Instant) {
        use NonInviteServerState as S;
        if req.method != self.request.method {
            return;
        }
        match self.state {
            S::Trying => {
                self.retransmissions_received = self.retransmissions_received.saturating_add(1)
            }
            S::Proceeding | S::Completed => {
                self.retransmissions_received = self.retransmissions_received.saturating_add(1);
                if let Some(resp) = &self.last_response {
                    self.transmits.push_back(SipMessage::Response(resp.clone()));
                    self.retransmissions_sent = self.retransmissions_sent.saturating_add(1);
                }
            }
            S::Terminated => {}
        }
    }

    /// RFC 3261 §17.2.2: fires Timer J if due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.take_expired(Timer::J, now) {
            self.terminate();
        }
    }

    /// RFC 3261 §17.2.4: the transport failed to send a response; the TU is told and the
    /// transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != NonInviteServerState::Terminated {
            self.transmits.clear();
            self.events.push_back(ServerEvent::TransportError);
            self.terminate();
        }
    }

    /// The next response to put on the wire; call until `None`.
    pub fn poll_transmit(&mut self) -> Option<SipMessage> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user (only transport errors); call until `None`.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run (Timer J).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current state (RFC 3261 Figure 8).
    pub fn state(&self) -> NonInviteServerState {
        self.state
    }

    /// Whether the transaction reached Terminated (RFC 3261 §17.2.2).
    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteServerState::Terminated
    }

    /// Responses sent again for retransmitted requests (RFC 3261 §17.2.2).
    pub fn retransmissions_sent(&self) -> u32 {
        self.retransmissions_sent
    }

    /// Retransmissions of the request from the far end.
    pub fn retransmissions_received(&self) -> u32 {
        self.retransmissions_received
    }

    /// The request that created the transaction (RFC 3261 §17.2.2).
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    /// The most recent response sent (RFC 3261 §17.2.2).
    pub fn last_response(&self) -> Option<&rsip::Response> {
        self.last_response.as_ref()
    }

    fn send(&mut self, resp: rsip::Response) {
        self.transmits.push_back(SipMessage::Response(resp.clone()));
        self.last_response = Some(resp);
    }

    fn terminate(&mut self) {
        self.state = NonInviteServerState::Terminated;
        self.timers.stop_all();
    }
}
