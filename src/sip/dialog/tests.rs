//! A caller's leg and an answering leg back to back on a fake clock (quinn's test shape): every
//! message is serialized and re-parsed, as on the wire; time jumps to the next deadline.
#![allow(clippy::disallowed_methods)]

use super::*;
use crate::sip::auth::Credentials;
use crate::sip::message::{self, header_value};
use crate::sip::rsip::SipMessage;
use crate::sip::transaction::TimerConfig;
use std::time::{Duration, Instant};

fn local(port: u16, user: &str) -> LocalEndpoint {
    LocalEndpoint {
        transport: TransportKind::Udp,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        user: user.into(),
    }
}

fn uac_config(answer_timeout: Duration, creds: Option<Credentials>) -> UacConfig {
    UacConfig {
        target: message::parse_uri("sip:ivr@127.0.0.1:5080").unwrap(),
        from: "<sip:callcert@127.0.0.1>".into(),
        to: "<sip:ivr@127.0.0.1:5080>".into(),
        local: local(5060, "callcert"),
        offer: b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n".to_vec(),
        credentials: creds,
        answer_timeout,
        timers: TimerConfig::default(),
        seed: 7,
        call_id: "test-call@callcert".into(),
    }
}

/// Two legs, a clock, and the wire between them.
struct Wire {
    now: Instant,
    uac: UacCall,
    uas: Option<UasCall>,
    /// Start lines in the order they crossed the wire, `>` caller→callee, `<` back.
    log: Vec<String>,
    /// Drop the next N caller→callee messages (simulated loss).
    drop_to_uas: usize,
    uac_events: Vec<CallEvent>,
    uas_events: Vec<UasEvent>,
}

fn reparse(m: &SipMessage) -> SipMessage {
    message::parse(&m.to_bytes()).expect("what we send parses")
}

impl Wire {
    fn new(cfg: UacConfig) -> Wire {
        let now = Instant::now();
        Wire {
            uac: UacCall::new(cfg, now),
            now,
            uas: None,
            log: Vec::new(),
            drop_to_uas: 0,
            uac_events: Vec::new(),
            uas_events: Vec::new(),
        }
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(m) = self.uac.poll_transmit() {
                moved = true;
                self.log.push(format!("> {}", m.start_line()));
                if self.drop_to_uas > 0 {
                    self.drop_to_uas -= 1;
                    continue;
                }
                let m = reparse(&m);
                // An INVITE outside any dialog (e.g. the authenticated retry) starts a new
                // answering leg, as the reference call center does.
                if let SipMessage::Request(r) = &m {
                    let fresh = r.method == crate::sip::rsip::Method::Invite
                        && message::to_tag(&r.headers).is_none()
                        && self.uas.as_ref().is_some_and(|u| u.is_ended());
                    if fresh {
                        self.uas = None;
                    }
                }
                match (&mut self.uas, m) {
                    (Some(uas), m) => uas.handle_message(m, self.now),
                    (None, SipMessage::Request(r)) => {
                        self.uas = Some(UasCall::new(
                            r,
                            local(5080, "ivr"),
                            TimerConfig::default(),
                            3,
                            self.now,
                        ))
                    }
                    (None, _) => {}
                }
            }
            if let Some(uas) = self.uas.as_mut() {
                while let Some(m) = uas.poll_transmit() {
                    moved = true;
                    self.log.push(format!("< {}", m.start_line()));
                    self.uac.handle_message(reparse(&m), self.now);
                }
                while let Some(e) = uas.poll_event() {
                    self.uas_events.push(e);
                }
            }
            while let Some(e) = self.uac.poll_event() {
                self.uac_events.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    /// Jumps the clock to the earliest deadline of either leg and fires it.
    fn advance(&mut self) -> bool {
        let next = [
            self.uac.poll_timeout(),
            self.uas.as_ref().and_then(|u| u.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(t) = next else { return false };
        self.now = self.now.max(t);
        self.uac.handle_timeout(self.now);
        if let Some(u) = self.uas.as_mut() {
            u.handle_timeout(self.now);
        }
        self.pump();
        true
    }

    fn advance_by(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let next = [
                self.uac.poll_timeout(),
                self.uas.as_ref().and_then(|u| u.poll_timeout()),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= until => {
                    self.advance();
                }
                _ => break,
            }
        }
        self.now = until;
        self.uac.handle_timeout(self.now);
        self.pump();
    }

    fn uas(&mut self) -> &mut UasCall {
        self.uas.as_mut().expect("the INVITE arrived")
    }
}

const ANSWER: &[u8] = b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

#[test]
fn basic_call_with_bye_from_the_caller() {
    let mut w = Wire::new(uac_config(Duration::from_secs(30), None));
    w.pump();
    let now = w.now;
    w.uas().provisional(180, None, now);
    w.uas().answer(ANSWER, now);
    w.pump();
    assert!(w
        .uac_events
        .iter()
        .any(|e| matches!(e, CallEvent::Provisional { code: 180, .. })));
    assert!(w
        .uac_events
        .iter()
        .any(|e| matches!(e, CallEvent::Answered { sdp: Some(_) })));
    assert_eq!(w.uas_events, vec![UasEvent::Confirmed]);
    w.uac.hangup(now);
    w.pump();
    assert_eq!(
        w.log,
        vec![
            "> INVITE sip:ivr@127.0.0.1:5080 SIP/2.0",
            "< SIP/2.0 100 Trying",
            "< SIP/2.0 180 Ringing",
            "< SIP/2.0 200 OK",
            "> ACK sip:ivr@127.0.0.1:5080 SIP/2.0",
            "> BYE sip:ivr@127.0.0.1:5080 SIP/2.0",
            "< SIP/2.0 200 OK",
        ]
    );
    assert!(w
        .uac_events
        .contains(&CallEvent::Ended(CallOutcome::Completed)));
    assert!(w
        .uas_events
        .contains(&UasEvent::Ended(UasOutcome::CallerHangup)));
    // The lingering transactions terminate on their own.
    while w.advance() {}
    assert!(w.uac.is_done());
    assert!(w.uas().is_done());
    assert_eq!(w.uac.retransmissions_sent(), 0);
}

#[test]
fn bye_from_the_far_end_ends_the_call() {
    let mut w = Wire::new(uac_config(Duration::from_secs(30), None));
    w.pump();
    let now = w.now;
    w.uas().answer(ANSWER, now);
    w.pump();
    w.uas().hangup(now);
    w.pump();
    assert!(w
        .uac_events
        .contains(&CallEvent::Ended(CallOutcome::RemoteHangup)));
    assert!(w.uas_events.contains(&UasEvent::Ended(UasOutcome::Hangup)));
}

#[test]
fn cancel_when_the_answer_timeout_expires() {
    let mut w = Wire::new(uac_config(Duration::from_secs(5), None));
    w.pump();
    let now = w.now;
    w.uas().provisional(180, None, now);
    w.pump();
    w.advance_by(Duration::from_secs(5));
    assert!(
        w.log.iter().any(|l| l.starts_with("> CANCEL")),
        "{:?}",
        w.log
    );
    assert!(
        w.log
            .iter()
            .any(|l| l == "< SIP/2.0 487 Request Terminated"),
        "{:?}",
        w.log
    );
    // The 487 is ACKed inside the INVITE transaction (RFC 3261 §17.1.1.3).
    assert!(w.log.iter().any(|l| l.starts_with("> ACK")), "{:?}", w.log);
    assert!(w
        .uac_events
        .contains(&CallEvent::Ended(CallOutcome::NoAnswer)));
    assert!(w
        .uas_events
        .contains(&UasEvent::Ended(UasOutcome::Cancelled)));
}

#[test]
fn answer_timeout_before_any_provisional_waits_for_one_to_cancel() {
    let mut w = Wire::new(uac_config(Duration::from_millis(200), None));
    w.drop_to_uas = 1; // the first INVITE is lost
    w.pump();
    w.advance_by(Duration::from_millis(300));
    assert!(
        !w.log.iter().any(|l| l.starts_with("> CANCEL")),
        "§9.1: no CANCEL before a 1xx"
    );
    // The retransmitted INVITE (Timer A) reaches the callee, whose 100 Trying allows the CANCEL.
    w.advance_by(Duration::from_millis(500));
    assert!(
        w.log.iter().any(|l| l.starts_with("> CANCEL")),
        "{:?}",
        w.log
    );
    assert!(w
        .uac_events
        .contains(&CallEvent::Ended(CallOutcome::NoAnswer)));
    assert!(w.uac.retransmissions_sent() >= 1);
}

#[test]
fn no_response_at_all_is_a_timer_b_timeout() {
    let mut w = Wire::new(uac_config(Duration::from_secs(60), None));
    w.drop_to_uas = usize::MAX;
    w.pump();
    while !w.uac.is_ended() && w.advance() {}
    assert!(w
        .uac_events
        .contains(&CallEvent::Ended(CallOutcome::Timeout)));
    // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s: six retransmissions before Timer B at 32 s.
    assert_eq!(
        w.log.iter().filter(|l| l.starts_with("> INVITE")).count(),
        7
    );
}

#[test]
fn rejected_call_reports_code_and_reason() {
    let mut w = Wire::new(uac_config(Duration::from_secs(30), None));
    w.pump();
    let now = w.now;
    w.uas().reject(486, &[], now);
    w.pump();
    assert!(w
        .uac_events
        .iter()
        .any(|e| matches!(e, CallEvent::Ended(CallOutcome::Rejected { code: 486, .. }))));
}

#[test]
fn reinvite_hold_and_unhold_keep_the_call() {
    let mut w = Wire::new(uac_config(Duration::from_secs(30), None));
    w.pump();
    let now = w.now;
    w.uas().answer(ANSWER, now);
    w.pump();
    // The far end puts the caller on hold with a re-INVITE (RFC 3264 §8.4) — built by hand
    // from the callee's dialog, as a PBX would send it.
    let hold = b"v=0\r\no=- 2 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=sendonly\r\n";
    let uas = w.uas.as_mut().unwrap();
    let mut d = uas.dialog().expect("answered").clone();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    let reinvite = d.request(
        crate::sip::rsip::Method::Invite,
        &local(5080, "ivr"),
        &mut rng,
        vec![],
        Some((hold, "application/sdp")),
        None,
    );
    w.uac.handle_message(SipMessage::Request(reinvite), now);
    let ev = w.uac.poll_event();
    assert!(matches!(ev, Some(CallEvent::Reoffer { ref sdp }) if sdp.as_slice() == hold));
    w.uac.answer_reoffer(b"v=0\r\n", now);
    let mut sent = Vec::new();
    while let Some(m) = w.uac.poll_transmit() {
        sent.push(m.start_line());
    }
    assert_eq!(sent, vec!["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]);
    assert!(!w.uac.is_ended(), "hold must not end the call");
}

#[test]
fn digest_challenge_is_answered_with_an_authenticated_invite() {
    let creds = Credentials::new("alice", "secret");
    let mut w = Wire::new(uac_config(Duration::from_secs(30), Some(creds)));
    w.pump();
    let now = w.now;
    let challenge =
        "Digest realm=\"callcert\", nonce=\"abc123\", algorithm=MD5, qop=\"auth\"".to_string();
    w.uas().reject(401, &[("WWW-Authenticate", challenge)], now);
    w.pump();
    let invites: Vec<_> = w.log.iter().filter(|l| l.starts_with("> INVITE")).collect();
    assert_eq!(invites.len(), 2, "{:?}", w.log);
    let retry = w.uac.invite().clone();
    let auth = header_value(&retry.headers, "Authorization").expect("Authorization header");
    assert!(auth.contains("username=\"alice\""));
    assert!(auth.contains("nc=00000001"));
    assert!(
        !auth.contains("secret"),
        "the password never goes on the wire"
    );
    assert_eq!(message::cseq(&retry.headers).unwrap().0, 2);
    assert!(crate::sip::auth::verify(
        auth,
        "INVITE",
        "abc123",
        "callcert",
        |u| { (u == "alice").then(|| "secret".to_string()) }
    ));
    assert!(!w.uac.is_ended());
}
