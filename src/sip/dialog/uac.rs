//! The caller's call leg (RFC 3261 §13.2, §15): INVITE with an SDP offer, provisional and final
//! responses, ACK for 2xx, CANCEL on answer timeout, digest authentication, BYE in both
//! directions, and re-INVITEs from the far end (hold/unhold) answered without ending the call.

use super::{random_token, Dialog, LocalEndpoint};
use crate::sip::auth::{self, Credentials};
use crate::sip::message::{
    self, build_request, build_response, has_sdp, status, to_tag, top_via_branch, with_body,
    RequestSpec,
};
use crate::sip::rsip::{Method, Request, Response, SipMessage, Uri};
use crate::sip::transaction::{
    build_cancel, new_branch, ClientEvent, InviteClient, InviteServer, NonInviteClient,
    NonInviteServer, TimerConfig,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the caller's leg is set up.
#[derive(Debug, Clone)]
pub struct UacConfig {
    /// Request-URI of the INVITE.
    pub target: Uri,
    /// From value without tag, e.g. `<sip:callcert@127.0.0.1>`.
    pub from: String,
    /// To value, e.g. `<sip:ivr@127.0.0.1:5080>`.
    pub to: String,
    /// Our transport, Via sent-by and Contact.
    pub local: LocalEndpoint,
    /// The SDP offer carried by the INVITE.
    pub offer: Vec<u8>,
    /// Digest credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// CANCEL the INVITE when no final response has come by then (counted from the INVITE).
    pub answer_timeout: Duration,
    /// Transaction timers.
    pub timers: TimerConfig,
    /// Seed of this call's tags, branches and cnonces.
    pub seed: u64,
    /// Call-ID to use (the driver routes by it).
    pub call_id: String,
}

/// What the caller's leg reports to its user.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A provisional response (100, 180, 183…), with its SDP when it carries one (early media).
    Provisional {
        /// Status code.
        code: u16,
        /// SDP body, when present.
        sdp: Option<Vec<u8>>,
    },
    /// The 200 OK to our INVITE; the ACK has been queued.
    Answered {
        /// SDP answer.
        sdp: Option<Vec<u8>>,
    },
    /// The far end re-INVITEd (e.g. hold/unhold); answer it with [`UacCall::answer_reoffer`].
    Reoffer {
        /// The new SDP offer (empty when the re-INVITE had none).
        sdp: Vec<u8>,
    },
    /// The far end sent an in-dialog INFO (e.g. DTMF, RFC 6086); it has been answered 200.
    Info {
        /// Its Content-Type, empty when absent.
        content_type: String,
        /// Its body.
        body: Vec<u8>,
    },
    /// The far end answered one of our INFO requests (code 0: no answer, Timer F).
    InfoAnswered {
        /// Final status code.
        code: u16,
    },
    /// The call is over; transactions may still linger to absorb retransmissions.
    Ended(CallOutcome),
}

/// How the call ended, from the signalling point of view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallOutcome {
    /// We hung up with BYE after the call ran its course.
    Completed,
    /// The far end sent BYE.
    RemoteHangup,
    /// The INVITE got a final error response.
    Rejected {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// No answer within the answer timeout; the INVITE was cancelled.
    NoAnswer,
    /// No final response at all (Timer B, RFC 3261 §17.1.1.2).
    Timeout,
    /// The transport failed (e.g. TCP connection refused).
    TransportError,
    /// Our BYE got no final response (Timer F).
    ByeTimeout,
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a handful per call; boxing would add an allocation each
enum ClientTx {
    Invite(InviteClient),
    Other(NonInviteClient, Method),
}

#[derive(Debug)]
enum ServerTx {
    Invite(InviteServer),
    Other(NonInviteServer),
}

/// What the call needs of any of its transactions, whatever their kind.
macro_rules! delegate {
    ($ty:ident, $($variant:ident($x:ident $(, $rest:pat)?)),+) => {
        impl $ty {
            fn poll_timeout(&self) -> Option<Instant> {
                match self { $($ty::$variant($x $(, $rest)?) => $x.poll_timeout()),+ }
            }
            /// Fires the transaction's timer when it is due.
            fn handle_timeout_if_due(&mut self, now: Instant) {
                if self.poll_timeout().is_some_and(|d| d <= now) {
                    match self { $($ty::$variant($x $(, $rest)?) => $x.handle_timeout(now)),+ }
                }
            }
            fn poll_transmit(&mut self) -> Option<SipMessage> {
                match self { $($ty::$variant($x $(, $rest)?) => $x.poll_transmit()),+ }
            }
            fn is_terminated(&self) -> bool {
                match self { $($ty::$variant($x $(, $rest)?) => $x.is_terminated()),+ }
            }
            /// Retransmissions (sent, received).
            fn retransmissions(&self) -> (u32, u32) {
                match self {
                    $($ty::$variant($x $(, $rest)?) => {
                        ($x.retransmissions_sent(), $x.retransmissions_received())
                    }),+
                }
            }
        }
    };
}
delegate!(ClientTx, Invite(x), Other(x, _));
delegate!(ServerTx, Invite(x), Other(x));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Calling,
    Early,
    Confirmed,
    Terminating,
    Ended,
}

/// One outgoing call, sans-IO: feed it messages and timeouts, drain what it sends and reports.
#[derive(Debug)]
pub struct UacCall {
    cfg: UacConfig,
    rng: StdRng,
    from_tag: String,
    cseq: u32,
    invite: Request,
    clients: Vec<(String, ClientTx)>,
    servers: Vec<(String, ServerTx)>,
    reoffer: Option<usize>,
    dialog: Option<Dialog>,
    ack: Option<Request>,
    phase: Phase,
    provisional_seen: bool,
    cancel_requested: bool,
    cancel_sent: bool,
    answer_deadline: Option<Instant>,
    auth_attempts: u32,
    nc: u32,
    outcome_on_end: Option<CallOutcome>,
    events: VecDeque<CallEvent>,
    transmits: VecDeque<SipMessage>,
    retransmissions_sent: u32,
    retransmissions_received: u32,
}

impl UacCall {
    /// Builds the INVITE and starts its client transaction; the INVITE is the first transmit.
    pub fn new(cfg: UacConfig, now: Instant) -> UacCall {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let from_tag = random_token(&mut rng, 10);
        let mut call = UacCall {
            answer_deadline: Some(now + cfg.answer_timeout),
            invite: Request {
                method: Method::Invite,
                uri: cfg.target.clone(),
                version: crate::sip::rsip::Version::V2,
                headers: Default::default(),
                body: Vec::new(),
            },
            cfg,
            rng,
            from_tag,
            cseq: 1,
            clients: Vec::new(),
            servers: Vec::new(),
            reoffer: None,
            dialog: None,
            ack: None,
            phase: Phase::Calling,
            provisional_seen: false,
            cancel_requested: false,
            cancel_sent: false,
            auth_attempts: 0,
            nc: 0,
            outcome_on_end: None,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            retransmissions_sent: 0,
            retransmissions_received: 0,
        };
        let invite = call.build_invite(Vec::new());
        call.start_invite(invite, now);
        call
    }

    fn build_invite(&mut self, extra: Vec<(&'static str, String)>) -> Request {
        let branch = new_branch(&mut self.rng);
        build_request(RequestSpec {
            method: Method::Invite,
            uri: self.cfg.target.clone(),
            via: self.cfg.local.via(&branch),
            from: format!("{};tag={}", self.cfg.from, self.from_tag),
            to: self.cfg.to.clone(),
            call_id: &self.cfg.call_id,
            cseq: self.cseq,
            contact: Some(self.cfg.local.contact()),
            route: &[],
            extra: {
                let mut e = extra;
                e.push((
                    "Allow",
                    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE".into(),
                ));
                e
            },
            body: Some((&self.cfg.offer, "application/sdp")),
            user_agent: crate::sip::USER_AGENT,
        })
    }

    fn start_invite(&mut self, invite: Request, now: Instant) {
        let branch = top_via_branch(&invite.headers).unwrap_or_default();
        self.invite = invite.clone();
        let tx = InviteClient::new(
            invite,
            self.cfg.local.transport.reliability(),
            self.cfg.timers,
            now,
        );
        self.clients.push((branch, ClientTx::Invite(tx)));
        self.drain();
    }

    /// The Call-ID of this call.
    pub fn call_id(&self) -> &str {
        &self.cfg.call_id
    }

    /// The INVITE currently in progress (the authenticated one after a challenge).
    pub fn invite(&self) -> &Request {
        &self.invite
    }

    /// Feeds a message from the far end that carries this call's Call-ID.
    pub fn handle_message(&mut self, msg: SipMessage, now: Instant) {
        match msg {
            SipMessage::Response(r) => self.handle_response(r, now),
            SipMessage::Request(r) => self.handle_request(r, now),
        }
        self.drain_and_react(now);
    }

    fn handle_response(&mut self, resp: Response, now: Instant) {
        let Some(mut branch) = top_via_branch(&resp.headers) else {
            return;
        };
        if matches!(message::cseq(&resp.headers), Ok((_, Method::Cancel))) {
            branch.push_str("#cancel");
        }
        if let Some((_, tx)) = self.clients.iter_mut().find(|(b, _)| *b == branch) {
            match tx {
                ClientTx::Invite(t) => t.handle_response(resp, now),
                ClientTx::Other(t, _) => t.handle_response(resp, now),
            }
        }
    }

    fn handle_request(&mut self, req: Request, now: Instant) {
        let branch = top_via_branch(&req.headers).unwrap_or_default();
        // ACKs for our 2xx to a re-INVITE and retransmissions go to their server transaction.
        let is_ack = req.method == Method::Ack;
        if let Some((_, tx)) = self
            .servers
            .iter_mut()
            .find(|(b, t)| *b == branch && (!is_ack || matches!(t, ServerTx::Invite(_))))
        {
            match tx {
                ServerTx::Invite(t) => t.handle_request(req, now),
                ServerTx::Other(t) => t.handle_request(req, now),
            }
            return;
        }
        if is_ack {
            return; // an ACK matching nothing is dropped (RFC 3261 §17.2.3)
        }
        let in_dialog = self.dialog.as_ref().is_some_and(|d| d.matches(&req));
        let rel = self.cfg.local.transport.reliability();
        if !in_dialog {
            let resp = build_response(&req, 481, None);
            let mut tx = NonInviteServer::new(req, rel, self.cfg.timers, now);
            tx.send_response(resp, now);
            self.servers.push((branch, ServerTx::Other(tx)));
            return;
        }
        match req.method {
            Method::Invite => {
                let sdp = if has_sdp(&req.headers, &req.body) {
                    req.body.clone()
                } else {
                    Vec::new()
                };
                let mut tx = InviteServer::new(req.clone(), rel, self.cfg.timers, now);
                tx.send_response(build_response(&req, 100, None), now);
                self.servers.push((branch, ServerTx::Invite(tx)));
                self.reoffer = Some(self.servers.len() - 1);
                if let (Some(d), Ok((n, _))) = (self.dialog.as_mut(), message::cseq(&req.headers)) {
                    d.remote_cseq = Some(n);
                    if let Some(c) = message::contact_uri(&req.headers) {
                        d.remote_target = c;
                    }
                }
                self.events.push_back(CallEvent::Reoffer { sdp });
            }
            Method::Bye => {
                let resp = build_response(&req, 200, None);
                let mut tx = NonInviteServer::new(req, rel, self.cfg.timers, now);
                tx.send_response(resp, now);
                self.servers.push((branch, ServerTx::Other(tx)));
                if self.phase != Phase::Ended {
                    self.finish(CallOutcome::RemoteHangup);
                }
            }
            method => {
                if method == Method::Info {
                    let content_type = message::header_value(&req.headers, "Content-Type")
                        .unwrap_or_default()
                        .to_string();
                    self.events.push_back(CallEvent::Info {
                        content_type,
                        body: req.body.clone(),
                    });
                }
                let resp = build_response(&req, 200, None);
                let mut tx = NonInviteServer::new(req, rel, self.cfg.timers, now);
                tx.send_response(resp, now);
                self.servers.push((branch, ServerTx::Other(tx)));
            }
        }
    }

    /// Sends an in-dialog INFO (RFC 6086) with `body` of `content_type`, e.g. a DTMF digit as
    /// `application/dtmf-relay`. Ignored unless the call is answered. Its answer comes back as
    /// [`CallEvent::InfoAnswered`].
    pub fn send_info(&mut self, content_type: &str, body: &[u8], now: Instant) {
        if self.phase != Phase::Confirmed {
            return;
        }
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let info = dialog.request(
            Method::Info,
            &self.cfg.local,
            &mut self.rng,
            Vec::new(),
            Some((body, content_type)),
            None,
        );
        let branch = top_via_branch(&info.headers).unwrap_or_default();
        let tx = NonInviteClient::new(
            info,
            self.cfg.local.transport.reliability(),
            self.cfg.timers,
            now,
        );
        self.clients
            .push((branch, ClientTx::Other(tx, Method::Info)));
        self.drain_and_react(now);
    }

    /// Answers the far end's re-INVITE with our SDP (200 OK).
    pub fn answer_reoffer(&mut self, sdp: &[u8], now: Instant) {
        let Some(i) = self.reoffer.take() else {
            return;
        };
        let local_tag = self.from_tag.clone();
        let contact = self.cfg.local.contact();
        if let Some((_, ServerTx::Invite(tx))) = self.servers.get_mut(i) {
            let mut resp = build_response(tx.request(), 200, Some(&local_tag));
            message::push_header(&mut resp.headers, "Contact", contact);
            let resp = with_body(resp, sdp.to_vec(), "application/sdp");
            tx.send_response(resp, now);
        }
        self.drain_and_react(now);
    }

    /// Hangs up: BYE when answered, CANCEL while ringing (RFC 3261 §9.1, §15.1.1).
    pub fn hangup(&mut self, now: Instant) {
        match self.phase {
            Phase::Calling | Phase::Early => {
                self.outcome_on_end.get_or_insert(CallOutcome::NoAnswer);
                self.request_cancel(now);
            }
            Phase::Confirmed => self.send_bye(now),
            Phase::Terminating | Phase::Ended => {}
        }
        self.drain_and_react(now);
    }

    fn request_cancel(&mut self, now: Instant) {
        self.cancel_requested = true;
        // §9.1: a CANCEL may only be sent once a provisional response has arrived.
        if self.provisional_seen && !self.cancel_sent {
            self.cancel_sent = true;
            let cancel = build_cancel(&self.invite);
            let branch = top_via_branch(&cancel.headers).unwrap_or_default();
            let tx = NonInviteClient::new(
                cancel,
                self.cfg.local.transport.reliability(),
                self.cfg.timers,
                now,
            );
            // CANCEL shares the INVITE's branch; its responses are told apart by CSeq method.
            self.clients.push((
                format!("{branch}#cancel"),
                ClientTx::Other(tx, Method::Cancel),
            ));
        }
    }

    fn send_bye(&mut self, now: Instant) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let bye = dialog.request(
            Method::Bye,
            &self.cfg.local,
            &mut self.rng,
            Vec::new(),
            None,
            None,
        );
        let branch = top_via_branch(&bye.headers).unwrap_or_default();
        let tx = NonInviteClient::new(
            bye,
            self.cfg.local.transport.reliability(),
            self.cfg.timers,
            now,
        );
        self.clients
            .push((branch, ClientTx::Other(tx, Method::Bye)));
        self.phase = Phase::Terminating;
    }

    /// Feeds the passage of time: transaction timers and the answer timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(d) = self.answer_deadline {
            if now >= d {
                self.answer_deadline = None;
                if matches!(self.phase, Phase::Calling | Phase::Early) {
                    self.outcome_on_end = Some(CallOutcome::NoAnswer);
                    self.request_cancel(now);
                }
            }
        }
        for (_, tx) in &mut self.clients {
            tx.handle_timeout_if_due(now);
        }
        for (_, tx) in &mut self.servers {
            tx.handle_timeout_if_due(now);
        }
        self.drain_and_react(now);
    }

    /// The transport to the far end failed (e.g. TCP connect refused).
    pub fn handle_transport_error(&mut self, now: Instant) {
        for (_, tx) in &mut self.clients {
            match tx {
                ClientTx::Invite(t) => t.handle_transport_error(now),
                ClientTx::Other(t, _) => t.handle_transport_error(now),
            }
        }
        self.drain_and_react(now);
    }

    /// The next message to send to the far end.
    pub fn poll_transmit(&mut self) -> Option<SipMessage> {
        self.transmits.pop_front()
    }

    /// Whether messages or events are waiting to be polled.
    pub fn has_pending_output(&self) -> bool {
        !self.transmits.is_empty() || !self.events.is_empty()
    }

    /// The next event for the call's user.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// When [`UacCall::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.answer_deadline.filter(|_| {
            matches!(self.phase, Phase::Calling | Phase::Early) && !self.cancel_requested
        });
        let mut fold = |d: Option<Instant>| {
            if let Some(d) = d {
                t = Some(t.map_or(d, |t| t.min(d)));
            }
        };
        for (_, tx) in &self.clients {
            fold(tx.poll_timeout());
        }
        for (_, tx) in &self.servers {
            fold(tx.poll_timeout());
        }
        t
    }

    /// Whether the call has ended (its outcome reported).
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether every transaction has terminated too: the driver may forget the call.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Ended && self.clients.is_empty() && self.servers.is_empty()
    }

    /// Retransmissions (sent, received) over the live transactions plus the finished ones.
    fn retransmissions(&self) -> (u32, u32) {
        let live = self
            .clients
            .iter()
            .map(|(_, t)| t.retransmissions())
            .chain(self.servers.iter().map(|(_, t)| t.retransmissions()));
        live.fold(
            (self.retransmissions_sent, self.retransmissions_received),
            |(s, r), (a, b)| (s + a, r + b),
        )
    }

    /// Retransmissions we sent, over all of this call's transactions (UDP only).
    pub fn retransmissions_sent(&self) -> u32 {
        self.retransmissions().0
    }

    /// Retransmissions the far end sent us (duplicate responses or requests).
    pub fn retransmissions_received(&self) -> u32 {
        self.retransmissions().1
    }

    fn finish(&mut self, outcome: CallOutcome) {
        if self.phase != Phase::Ended {
            self.phase = Phase::Ended;
            self.answer_deadline = None;
            self.events.push_back(CallEvent::Ended(outcome));
        }
    }

    fn drain(&mut self) {
        for (_, tx) in &mut self.clients {
            while let Some(m) = tx.poll_transmit() {
                self.transmits.push_back(m);
            }
        }
        for (_, tx) in &mut self.servers {
            while let Some(m) = tx.poll_transmit() {
                self.transmits.push_back(m);
            }
        }
    }

    fn drain_and_react(&mut self, now: Instant) {
        loop {
            self.drain();
            let mut client_events = Vec::new();
            for (_, tx) in &mut self.clients {
                loop {
                    let e = match tx {
                        ClientTx::Invite(t) => t.poll_event().map(|e| (Method::Invite, e)),
                        ClientTx::Other(t, m) => t.poll_event().map(|e| (*m, e)),
                    };
                    match e {
                        Some(e) => client_events.push(e),
                        None => break,
                    }
                }
            }
            for (_, tx) in &mut self.servers {
                // Server events (ACK, AckTimeout) need no reaction from the caller's leg.
                match tx {
                    ServerTx::Invite(t) => while t.poll_event().is_some() {},
                    ServerTx::Other(_) => {}
                }
            }
            if client_events.is_empty() {
                break;
            }
            for (method, e) in client_events {
                self.react(method, e, now);
            }
        }
        self.collect_terminated();
    }

    fn collect_terminated(&mut self) {
        let (mut sent, mut recv) = (0, 0);
        let mut keep = |done: bool, (s, r): (u32, u32)| {
            if done {
                sent += s;
                recv += r;
            }
            !done
        };
        self.clients
            .retain(|(_, t)| keep(t.is_terminated(), t.retransmissions()));
        // A re-INVITE waiting for our answer keeps its index into `servers` valid.
        if self.reoffer.is_none() {
            self.servers
                .retain(|(_, t)| keep(t.is_terminated(), t.retransmissions()));
        }
        self.retransmissions_sent += sent;
        self.retransmissions_received += recv;
    }

    fn react(&mut self, method: Method, event: ClientEvent, now: Instant) {
        match (method, event) {
            (Method::Invite, ClientEvent::Provisional(resp)) => {
                self.provisional_seen = true;
                let code = status(&resp);
                if self.phase == Phase::Calling && code > 100 {
                    self.phase = Phase::Early;
                }
                let sdp = has_sdp(&resp.headers, &resp.body).then(|| resp.body.clone());
                self.events.push_back(CallEvent::Provisional { code, sdp });
                if self.cancel_requested {
                    self.request_cancel(now);
                }
            }
            (Method::Invite, ClientEvent::Final(resp)) => self.on_invite_final(resp, now),
            (Method::Invite, ClientEvent::Timeout) => {
                let o = if self.cancel_requested {
                    CallOutcome::NoAnswer
                } else {
                    CallOutcome::Timeout
                };
                if matches!(self.phase, Phase::Calling | Phase::Early) {
                    self.finish(o);
                }
            }
            (_, ClientEvent::TransportError) => self.finish(CallOutcome::TransportError),
            (Method::Bye, ClientEvent::Final(_)) => {
                let o = self
                    .outcome_on_end
                    .clone()
                    .unwrap_or(CallOutcome::Completed);
                self.finish(o);
            }
            (Method::Bye, ClientEvent::Timeout) => self.finish(CallOutcome::ByeTimeout),
            (Method::Info, ClientEvent::Final(resp)) => {
                self.events.push_back(CallEvent::InfoAnswered {
                    code: status(&resp),
                })
            }
            (Method::Info, ClientEvent::Timeout) => {
                self.events.push_back(CallEvent::InfoAnswered { code: 0 })
            }
            _ => {}
        }
    }

    fn on_invite_final(&mut self, resp: Response, now: Instant) {
        let code = status(&resp);
        if (200..300).contains(&code) {
            let same_dialog = match (&self.dialog, to_tag(&resp.headers)) {
                (Some(d), Some(t)) => d.remote_tag == t,
                _ => false,
            };
            if same_dialog {
                // A retransmitted 2xx: our ACK was lost (RFC 3261 §13.2.2.4).
                if let Some(ack) = self.ack.clone() {
                    self.transmits.push_back(SipMessage::Request(ack));
                    self.retransmissions_sent += 1;
                }
                return;
            }
            if self.dialog.is_some() {
                return; // a second fork's 2xx; ignored
            }
            let Some(mut dialog) = Dialog::from_uac(&self.invite, &resp) else {
                // No To tag: cannot form a dialog; treat as a protocol failure.
                self.finish(CallOutcome::Rejected {
                    code,
                    reason: "2xx without To tag".into(),
                });
                return;
            };
            let ack = dialog.request(
                Method::Ack,
                &self.cfg.local,
                &mut self.rng,
                Vec::new(),
                None,
                Some(self.cseq),
            );
            self.transmits.push_back(SipMessage::Request(ack.clone()));
            self.ack = Some(ack);
            self.dialog = Some(dialog);
            let sdp = has_sdp(&resp.headers, &resp.body).then(|| resp.body.clone());
            if self.phase == Phase::Ended {
                // A late 2xx after we gave up: ACK and hang up at once.
                self.send_bye(now);
                self.phase = Phase::Ended;
                return;
            }
            self.phase = Phase::Confirmed;
            self.answer_deadline = None;
            self.events.push_back(CallEvent::Answered { sdp });
            if self.cancel_requested {
                self.send_bye(now);
            }
            return;
        }
        if matches!(code, 401 | 407) && self.auth_attempts < 2 && self.phase != Phase::Ended {
            if let Some(creds) = self.cfg.credentials.clone() {
                let (challenge_header, answer_header) = if code == 401 {
                    ("WWW-Authenticate", "Authorization")
                } else {
                    ("Proxy-Authenticate", "Proxy-Authorization")
                };
                if let Some(ch) = message::header_value(&resp.headers, challenge_header) {
                    self.nc += 1;
                    let uri = self.cfg.target.to_string();
                    if let Ok(value) = auth::answer_challenge(
                        ch,
                        &creds,
                        "INVITE",
                        &uri,
                        &self.cfg.offer,
                        self.nc,
                        &mut self.rng,
                    ) {
                        self.auth_attempts += 1;
                        self.cseq += 1;
                        let invite = self.build_invite(vec![(answer_header, value)]);
                        self.start_invite(invite, now);
                        return;
                    }
                }
            }
        }
        let outcome = if code == 487 && self.cancel_requested {
            CallOutcome::NoAnswer
        } else {
            CallOutcome::Rejected {
                code,
                reason: resp
                    .wire_reason
                    .clone()
                    .unwrap_or_else(|| resp.status_code.text().to_string()),
            }
        };
        self.finish(outcome);
    }
}
