//! The answering call leg (RFC 3261 §13.3, §15, §9.2): provisional and final responses, the ACK,
//! CANCEL from the caller, BYE in both directions, re-INVITEs answered.

use super::{random_token, Dialog, LocalEndpoint};
use crate::sip::message::{self, build_response, has_sdp, top_via_branch, with_body};
use crate::sip::rsip::{Method, Request, Response, SipMessage};
use crate::sip::transaction::{
    ClientEvent, InviteClient, InviteServer, NonInviteClient, NonInviteServer, ServerEvent,
    TimerConfig,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::time::Instant;

/// What the answering leg reports to its user.
#[derive(Debug, Clone, PartialEq)]
pub enum UasEvent {
    /// The caller ACKed our 2xx: the dialog is confirmed.
    Confirmed,
    /// The caller re-INVITEd; answer with [`UasCall::answer_reoffer`].
    Reoffer {
        /// The new offer (may be empty).
        sdp: Vec<u8>,
    },
    /// The caller sent an in-dialog INFO (e.g. a DTMF digit, RFC 6086); answered 200.
    Info {
        /// Its Content-Type, empty when absent.
        content_type: String,
        /// Its body.
        body: Vec<u8>,
    },
    /// The call is over.
    Ended(UasOutcome),
}

/// How an incoming call ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UasOutcome {
    /// The caller sent BYE.
    CallerHangup,
    /// We sent BYE and it completed.
    Hangup,
    /// The caller cancelled before the answer.
    Cancelled,
    /// We rejected the INVITE with this code.
    Rejected(u16),
    /// The caller never ACKed our 2xx (Timer L / H).
    AckTimeout,
    /// Our BYE got no final response.
    ByeTimeout,
    /// The transport failed.
    TransportError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Incoming,
    Answered,
    Confirmed,
    Terminating,
    Ended,
}

/// One incoming call, sans-IO.
#[derive(Debug)]
pub struct UasCall {
    local: LocalEndpoint,
    timers: TimerConfig,
    rng: StdRng,
    local_tag: String,
    invite_branch: String,
    invite_tx: InviteServer,
    dialog: Option<Dialog>,
    servers: Vec<(String, Method, ServerTxKind)>,
    bye: Option<NonInviteClient>,
    /// Our re-INVITE (e.g. an agent's leg bridged in) and its CSeq, for the ACK of its 2xx.
    reinvite: Option<(InviteClient, u32)>,
    reoffer: Option<usize>,
    phase: Phase,
    events: VecDeque<UasEvent>,
    transmits: VecDeque<SipMessage>,
}

#[derive(Debug)]
enum ServerTxKind {
    Invite(InviteServer),
    Other(NonInviteServer),
}

impl UasCall {
    /// Takes an incoming INVITE; sends 100 Trying at once (RFC 3261 §17.2.1).
    pub fn new(
        invite: Request,
        local: LocalEndpoint,
        timers: TimerConfig,
        seed: u64,
        now: Instant,
    ) -> UasCall {
        let mut rng = StdRng::seed_from_u64(seed);
        let local_tag = random_token(&mut rng, 10);
        let invite_branch = top_via_branch(&invite.headers).unwrap_or_default();
        let mut invite_tx =
            InviteServer::new(invite.clone(), local.transport.reliability(), timers, now);
        invite_tx.send_response(build_response(&invite, 100, None), now);
        let mut call = UasCall {
            local,
            timers,
            rng,
            local_tag,
            invite_branch,
            invite_tx,
            dialog: None,
            servers: Vec::new(),
            bye: None,
            reinvite: None,
            reoffer: None,
            phase: Phase::Incoming,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
        };
        call.drain(now);
        call
    }

    /// The dialog, once answered.
    pub fn dialog(&self) -> Option<&Dialog> {
        self.dialog.as_ref()
    }

    /// The INVITE that started the call.
    pub fn invite(&self) -> &Request {
        self.invite_tx.request()
    }

    fn response(&self, code: u16) -> Response {
        let mut r = build_response(self.invite_tx.request(), code, Some(&self.local_tag));
        if code > 100 && code < 300 {
            message::push_header(&mut r.headers, "Contact", self.local.contact());
        }
        r
    }

    /// Sends a provisional response (180 Ringing, or 183 with early-media SDP).
    pub fn provisional(&mut self, code: u16, sdp: Option<&[u8]>, now: Instant) {
        if self.phase != Phase::Incoming {
            return;
        }
        let mut r = self.response(code);
        if let Some(s) = sdp {
            r = with_body(r, s.to_vec(), "application/sdp");
        }
        self.invite_tx.send_response(r, now);
        self.drain(now);
    }

    /// Answers with 200 OK and our SDP.
    pub fn answer(&mut self, sdp: &[u8], now: Instant) {
        if self.phase != Phase::Incoming {
            return;
        }
        let r = with_body(self.response(200), sdp.to_vec(), "application/sdp");
        self.dialog = Dialog::from_uas(self.invite_tx.request(), &self.local_tag);
        self.invite_tx.send_response(r, now);
        self.phase = Phase::Answered;
        self.drain(now);
    }

    /// Rejects the INVITE with a final error response and extra headers (e.g. Retry-After).
    pub fn reject(&mut self, code: u16, extra: &[(&str, String)], now: Instant) {
        if self.phase != Phase::Incoming {
            return;
        }
        let mut r = self.response(code);
        for (k, v) in extra {
            message::push_header(&mut r.headers, k, v.clone());
        }
        self.invite_tx.send_response(r, now);
        self.finish(UasOutcome::Rejected(code));
        self.drain(now);
    }

    /// Sends a re-INVITE with `sdp` in the confirmed dialog (RFC 3261 §14.1), e.g. when an
    /// agent's leg is bridged in; its 2xx is ACKed here. Ignored while one is pending.
    pub fn reinvite(&mut self, sdp: &[u8], now: Instant) {
        if self.phase != Phase::Confirmed || self.reinvite.is_some() {
            return;
        }
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let req = d.request(
            Method::Invite,
            &self.local,
            &mut self.rng,
            Vec::new(),
            Some((sdp, "application/sdp")),
            None,
        );
        let cseq = d.local_cseq;
        let tx = InviteClient::new(req, self.local.transport.reliability(), self.timers, now);
        self.reinvite = Some((tx, cseq));
        self.drain(now);
    }

    /// Hangs up an answered call with BYE (RFC 3261 §15.1.1).
    pub fn hangup(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Answered | Phase::Confirmed) {
            return;
        }
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let bye = d.request(
            Method::Bye,
            &self.local,
            &mut self.rng,
            Vec::new(),
            None,
            None,
        );
        self.bye = Some(NonInviteClient::new(
            bye,
            self.local.transport.reliability(),
            self.timers,
            now,
        ));
        self.phase = Phase::Terminating;
        self.drain(now);
    }

    /// Answers the caller's re-INVITE with our SDP.
    pub fn answer_reoffer(&mut self, sdp: &[u8], now: Instant) {
        let Some(i) = self.reoffer.take() else {
            return;
        };
        let contact = self.local.contact();
        if let Some((_, _, ServerTxKind::Invite(tx))) = self.servers.get_mut(i) {
            let mut r = build_response(tx.request(), 200, None);
            message::push_header(&mut r.headers, "Contact", contact);
            tx.send_response(with_body(r, sdp.to_vec(), "application/sdp"), now);
        }
        self.drain(now);
    }

    /// Feeds a message with this call's Call-ID.
    pub fn handle_message(&mut self, msg: SipMessage, now: Instant) {
        match msg {
            SipMessage::Request(req) => self.handle_request(req, now),
            SipMessage::Response(resp) => match message::cseq(&resp.headers) {
                Ok((_, Method::Bye)) => {
                    if let Some(b) = self.bye.as_mut() {
                        b.handle_response(resp, now);
                    }
                }
                Ok((_, Method::Invite)) => {
                    if let Some((r, _)) = self.reinvite.as_mut() {
                        r.handle_response(resp, now);
                    }
                }
                _ => {}
            },
        }
        self.drain(now);
    }

    fn handle_request(&mut self, req: Request, now: Instant) {
        let branch = top_via_branch(&req.headers).unwrap_or_default();
        let rel = self.local.transport.reliability();
        match req.method {
            Method::Invite if branch == self.invite_branch => {
                self.invite_tx.handle_request(req, now)
            }
            Method::Ack if branch == self.invite_branch => self.invite_tx.handle_request(req, now),
            Method::Ack => {
                // ACK of a 2xx is its own transaction (new branch) — RFC 3261 §17.1.1.3.
                if let Some((_, _, ServerTxKind::Invite(tx))) = self
                    .servers
                    .iter_mut()
                    .find(|(_, m, _)| *m == Method::Invite)
                {
                    tx.handle_request(req.clone(), now);
                }
                self.invite_tx.handle_request(req, now);
            }
            Method::Cancel if branch == self.invite_branch => {
                let mut tx = NonInviteServer::new(req.clone(), rel, self.timers, now);
                tx.send_response(build_response(&req, 200, None), now);
                self.servers
                    .push((branch, Method::Cancel, ServerTxKind::Other(tx)));
                if self.phase == Phase::Incoming {
                    let r = self.response(487);
                    self.invite_tx.send_response(r, now);
                    self.finish(UasOutcome::Cancelled);
                }
            }
            method => {
                if let Some((_, _, tx)) = self
                    .servers
                    .iter_mut()
                    .find(|(b, m, _)| *b == branch && *m == method)
                {
                    match tx {
                        ServerTxKind::Invite(t) => t.handle_request(req, now),
                        ServerTxKind::Other(t) => t.handle_request(req, now),
                    }
                    return;
                }
                let in_dialog = self.dialog.as_ref().is_some_and(|d| d.matches(&req));
                if method == Method::Invite && in_dialog {
                    let sdp = if has_sdp(&req.headers, &req.body) {
                        req.body.clone()
                    } else {
                        Vec::new()
                    };
                    let tx = InviteServer::new(req, rel, self.timers, now);
                    self.servers
                        .push((branch, Method::Invite, ServerTxKind::Invite(tx)));
                    self.reoffer = Some(self.servers.len() - 1);
                    self.events.push_back(UasEvent::Reoffer { sdp });
                    return;
                }
                let code = if in_dialog { 200 } else { 481 };
                if in_dialog && method == Method::Info {
                    let content_type = message::header_value(&req.headers, "Content-Type")
                        .unwrap_or_default()
                        .to_string();
                    self.events.push_back(UasEvent::Info {
                        content_type,
                        body: req.body.clone(),
                    });
                }
                let mut tx = NonInviteServer::new(req.clone(), rel, self.timers, now);
                tx.send_response(build_response(&req, code, None), now);
                self.servers.push((branch, method, ServerTxKind::Other(tx)));
                if in_dialog && method == Method::Bye {
                    self.finish(UasOutcome::CallerHangup);
                }
            }
        }
    }

    /// Feeds the passage of time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.invite_tx.poll_timeout().is_some_and(|d| d <= now) {
            self.invite_tx.handle_timeout(now);
        }
        if let Some(b) = self.bye.as_mut() {
            if b.poll_timeout().is_some_and(|d| d <= now) {
                b.handle_timeout(now);
            }
        }
        if let Some((r, _)) = self.reinvite.as_mut() {
            if r.poll_timeout().is_some_and(|d| d <= now) {
                r.handle_timeout(now);
            }
        }
        for (_, _, tx) in &mut self.servers {
            match tx {
                ServerTxKind::Invite(t) => {
                    if t.poll_timeout().is_some_and(|d| d <= now) {
                        t.handle_timeout(now)
                    }
                }
                ServerTxKind::Other(t) => {
                    if t.poll_timeout().is_some_and(|d| d <= now) {
                        t.handle_timeout(now)
                    }
                }
            }
        }
        self.drain(now);
    }

    /// The transport to the caller failed.
    pub fn handle_transport_error(&mut self, now: Instant) {
        self.finish(UasOutcome::TransportError);
        self.drain(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<SipMessage> {
        self.transmits.pop_front()
    }

    /// Whether messages or events are waiting to be polled.
    pub fn has_pending_output(&self) -> bool {
        !self.transmits.is_empty() || !self.events.is_empty()
    }

    /// The next event for the user.
    pub fn poll_event(&mut self) -> Option<UasEvent> {
        self.events.pop_front()
    }

    /// When [`UasCall::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut ts = vec![self.invite_tx.poll_timeout()];
        ts.push(self.bye.as_ref().and_then(|b| b.poll_timeout()));
        ts.push(self.reinvite.as_ref().and_then(|(r, _)| r.poll_timeout()));
        for (_, _, tx) in &self.servers {
            ts.push(match tx {
                ServerTxKind::Invite(t) => t.poll_timeout(),
                ServerTxKind::Other(t) => t.poll_timeout(),
            });
        }
        ts.into_iter().flatten().min()
    }

    /// Whether the call has ended.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether every transaction has terminated as well.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Ended
            && self.invite_tx.is_terminated()
            && self.bye.as_ref().is_none_or(|b| b.is_terminated())
            && self
                .reinvite
                .as_ref()
                .is_none_or(|(r, _)| r.is_terminated())
            && self.servers.iter().all(|(_, _, t)| match t {
                ServerTxKind::Invite(x) => x.is_terminated(),
                ServerTxKind::Other(x) => x.is_terminated(),
            })
    }

    /// Retransmissions we sent (UDP).
    pub fn retransmissions_sent(&self) -> u32 {
        self.invite_tx.retransmissions_sent()
            + self.bye.as_ref().map_or(0, |b| b.retransmissions_sent())
    }

    /// Retransmissions the caller sent us.
    pub fn retransmissions_received(&self) -> u32 {
        self.invite_tx.retransmissions_received()
            + self
                .bye
                .as_ref()
                .map_or(0, |b| b.retransmissions_received())
    }

    fn finish(&mut self, o: UasOutcome) {
        if self.phase != Phase::Ended {
            self.phase = Phase::Ended;
            self.events.push_back(UasEvent::Ended(o));
        }
    }

    fn drain(&mut self, _now: Instant) {
        while let Some(m) = self.invite_tx.poll_transmit() {
            self.transmits.push_back(m);
        }
        while let Some(e) = self.invite_tx.poll_event() {
            match e {
                ServerEvent::Ack(_) => {
                    if self.phase == Phase::Answered {
                        self.phase = Phase::Confirmed;
                        self.events.push_back(UasEvent::Confirmed);
                    }
                }
                ServerEvent::AckTimeout => {
                    if matches!(self.phase, Phase::Answered) {
                        self.finish(UasOutcome::AckTimeout);
                    }
                }
                ServerEvent::TransportError => self.finish(UasOutcome::TransportError),
            }
        }
        if let Some(b) = self.bye.as_mut() {
            while let Some(m) = b.poll_transmit() {
                self.transmits.push_back(m);
            }
            let mut ended = None;
            while let Some(e) = b.poll_event() {
                match e {
                    ClientEvent::Final(_) => ended = Some(UasOutcome::Hangup),
                    ClientEvent::Timeout => ended = Some(UasOutcome::ByeTimeout),
                    ClientEvent::TransportError => ended = Some(UasOutcome::TransportError),
                    ClientEvent::Provisional(_) => {}
                }
            }
            if let Some(o) = ended {
                self.finish(o);
            }
        }
        if let Some((r, cseq)) = self.reinvite.as_mut() {
            while let Some(m) = r.poll_transmit() {
                self.transmits.push_back(m);
            }
            while let Some(e) = r.poll_event() {
                // A 2xx is ACKed by us (RFC 3261 §13.2.2.4), every time it comes; the
                // transaction ACKs the others itself.
                if let ClientEvent::Final(resp) = e {
                    if (200..300).contains(&message::status(&resp)) {
                        if let Some(d) = self.dialog.as_mut() {
                            let ack = d.request(
                                Method::Ack,
                                &self.local,
                                &mut self.rng,
                                Vec::new(),
                                None,
                                Some(*cseq),
                            );
                            self.transmits.push_back(SipMessage::Request(ack));
                        }
                    }
                }
            }
        }
        for (_, _, tx) in &mut self.servers {
            match tx {
                ServerTxKind::Invite(t) => {
                    while let Some(m) = t.poll_transmit() {
                        self.transmits.push_back(m);
                    }
                    while t.poll_event().is_some() {}
                }
                ServerTxKind::Other(t) => {
                    while let Some(m) = t.poll_transmit() {
                        self.transmits.push_back(m);
                    }
                }
            }
        }
    }
}
