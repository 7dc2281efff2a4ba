//! OPTIONS pings (RFC 3261 §11): is the target there, and how fast does it answer?
//!
//! Used before a run to say plainly when a target is unreachable, and later for availability
//! monitoring (SYS-AVAILABILITY).

use super::dialog::{random_token, LocalEndpoint};
use super::message::{build_request, status, top_via_branch, RequestSpec};
use super::rsip::{Method, Response, SipMessage, Uri};
use super::transaction::{new_branch, ClientEvent, NonInviteClient, TimerConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::{Duration, Instant};

/// The answer to one ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingResult {
    /// A final response came back.
    Answered {
        /// Its status code (any final code proves the target is alive).
        code: u16,
        /// From the first transmission to the response.
        rtt: Duration,
    },
    /// No final response (Timer F).
    Timeout,
    /// The transport failed.
    TransportError,
}

/// One OPTIONS request and its non-INVITE client transaction, sans-IO.
#[derive(Debug)]
pub struct OptionsPing {
    tx: NonInviteClient,
    call_id: String,
    branch: String,
    sent_at: Instant,
    result: Option<PingResult>,
}

impl OptionsPing {
    /// Builds the OPTIONS and queues it.
    pub fn new(
        target: &Uri,
        local: &LocalEndpoint,
        timers: TimerConfig,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let call_id = format!("{}@callcert", random_token(&mut rng, 16));
        let branch = new_branch(&mut rng);
        let req = build_request(RequestSpec {
            method: Method::Options,
            uri: target.clone(),
            via: local.via(&branch),
            from: format!(
                "<sip:{}@{}>;tag={}",
                local.user,
                super::dialog::host_port(local.addr),
                random_token(&mut rng, 10)
            ),
            to: format!("<{target}>"),
            call_id: &call_id,
            cseq: 1,
            contact: Some(local.contact()),
            route: &[],
            extra: vec![("Accept", "application/sdp".into())],
            body: None,
            user_agent: super::USER_AGENT,
        });
        OptionsPing {
            tx: NonInviteClient::new(req, local.transport.reliability(), timers, now),
            call_id,
            branch,
            sent_at: now,
            result: None,
        }
    }

    /// The Call-ID (for routing the response here).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Feeds a message carrying our Call-ID.
    pub fn handle_message(&mut self, msg: SipMessage, now: Instant) {
        if let SipMessage::Response(r) = msg {
            if top_via_branch(&r.headers).as_deref() == Some(self.branch.as_str()) {
                self.tx.handle_response(r, now);
                self.collect(now);
            }
        }
    }

    /// Records the moment the request actually left the socket.
    pub fn on_sent(&mut self, at: Instant) {
        if self.tx.retransmissions_sent() == 0 {
            self.sent_at = at;
        }
    }

    /// Feeds the passage of time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.collect(now);
    }

    /// The transport failed.
    pub fn handle_transport_error(&mut self, now: Instant) {
        self.tx.handle_transport_error(now);
        self.collect(now);
    }

    /// What to send now.
    pub fn poll_transmit(&mut self) -> Option<SipMessage> {
        self.tx.poll_transmit()
    }

    /// When to call [`OptionsPing::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.result.is_some() {
            return None;
        }
        self.tx.poll_timeout()
    }

    /// The result, once known.
    pub fn result(&self) -> Option<&PingResult> {
        self.result.as_ref()
    }

    fn collect(&mut self, now: Instant) {
        while let Some(e) = self.tx.poll_event() {
            let r = match e {
                ClientEvent::Final(resp) => answered(&resp, now, self.sent_at),
                ClientEvent::Timeout => PingResult::Timeout,
                ClientEvent::TransportError => PingResult::TransportError,
                ClientEvent::Provisional(_) => continue,
            };
            self.result.get_or_insert(r);
        }
    }
}

fn answered(resp: &Response, now: Instant, sent: Instant) -> PingResult {
    PingResult::Answered {
        code: status(resp),
        rtt: now.saturating_duration_since(sent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::dialog::TransportKind;
    use crate::sip::message::{build_response, parse};

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn ping_answered_and_timed_out() {
        let t0 = Instant::now();
        let local = LocalEndpoint {
            transport: TransportKind::Udp,
            addr: "127.0.0.1:5060".parse().unwrap(),
            user: "callcert".into(),
        };
        let target = crate::sip::message::parse_uri("sip:ivr@127.0.0.1:5080").unwrap();
        let mut p = OptionsPing::new(&target, &local, TimerConfig::default(), 1, t0);
        let req = match p.poll_transmit().unwrap() {
            SipMessage::Request(r) => r,
            _ => panic!("a request"),
        };
        assert_eq!(req.method, Method::Options);
        let resp = build_response(&req, 200, Some("x"));
        let resp = parse(&resp.to_bytes()).unwrap();
        p.handle_message(resp, t0 + Duration::from_millis(3));
        assert_eq!(
            p.result(),
            Some(&PingResult::Answered {
                code: 200,
                rtt: Duration::from_millis(3)
            })
        );

        let mut q = OptionsPing::new(&target, &local, TimerConfig::default(), 2, t0);
        let mut now = t0;
        while let Some(d) = q.poll_timeout() {
            now = d;
            q.handle_timeout(now);
        }
        assert_eq!(q.result(), Some(&PingResult::Timeout));
        assert_eq!(now - t0, Duration::from_secs(32), "Timer F = 64·T1");
    }
}
