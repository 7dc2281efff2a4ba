//! Transaction tests on a fake clock: one base `Instant`, time advanced by adding Durations.

use super::*;
use crate::sip::rsip::{prelude::HeadersExt, Header, Method, SipMessage};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Fixtures: realistic SIP text, parsed with rsip.

const INVITE_BRANCH: &str = "z9hG4bK74bf9a1c5e";

const SDP_OFFER: &str = "v=0\r\n\
o=callcert 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=callcert\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// Joins header lines with CRLF, adds Content-Length and the body.
fn wire(lines: &[&str], body: &str) -> Vec<u8> {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{}", body.len(), body));
    s.into_bytes()
}

fn parse(bytes: &[u8]) -> SipMessage {
    rsip::parser::parse_message(bytes).expect("fixture parses")
}

fn request(bytes: &[u8]) -> rsip::Request {
    match parse(bytes) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("fixture is a response"),
    }
}

fn response(bytes: &[u8]) -> rsip::Response {
    match parse(bytes) {
        SipMessage::Response(r) => r,
        SipMessage::Request(_) => panic!("fixture is a request"),
    }
}

fn invite_bytes() -> Vec<u8> {
    wire(
        &[
            "INVITE sip:4000@callcenter.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c5e;rport",
            "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKupstream77",
            "Max-Forwards: 69",
            "Route: <sip:sbc1.callcenter.example.com;lr>",
            "Route: <sip:sbc2.callcenter.example.com;lr>",
            "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
            "To: <sip:4000@callcenter.example.com>",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314159 INVITE",
            "Contact: <sip:caller@192.0.2.10:5060>",
            "User-Agent: callcert/0.1.0",
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO",
            "Content-Type: application/sdp",
        ],
        SDP_OFFER,
    )
}

fn invite() -> rsip::Request {
    request(&invite_bytes())
}

/// A response to the fixture INVITE (or, with `cseq_method`, to its CANCEL).
fn response_bytes(status: &str, to_tag: Option<&str>, cseq_method: &str) -> Vec<u8> {
    let to = match to_tag {
        Some(t) => format!("To: <sip:4000@callcenter.example.com>;tag={t}"),
        None => "To: <sip:4000@callcenter.example.com>".to_string(),
    };
    let cseq = format!("CSeq: 314159 {cseq_method}");
    let status_line = format!("SIP/2.0 {status}");
    wire(
        &[
            &status_line,
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c5e;rport=5060;received=192.0.2.10",
            "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKupstream77",
            "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
            &to,
            "Call-ID: a84b4c76e66710@192.0.2.10",
            &cseq,
            "Server: reference-ivr/1.0",
        ],
        "",
    )
}

fn resp(status: &str, to_tag: Option<&str>) -> rsip::Response {
    response(&response_bytes(status, to_tag, "INVITE"))
}

fn bye() -> rsip::Request {
    request(&wire(
        &[
            "BYE sip:4000@203.0.113.5:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbye5521",
            "Max-Forwards: 70",
            "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
            "To: <sip:4000@callcenter.example.com>;tag=a6c85cf",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314160 BYE",
        ],
        "",
    ))
}

fn bye_response(status: &str) -> rsip::Response {
    response(&wire(
        &[
            &format!("SIP/2.0 {status}"),
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbye5521",
            "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
            "To: <sip:4000@callcenter.example.com>;tag=a6c85cf",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314160 BYE",
        ],
        "",
    ))
}

/// The ACK a UAC sends for a 2xx: a new transaction, so a new branch (RFC 3261 §13.2.2.4).
fn ack_for_2xx() -> rsip::Request {
    request(&wire(
        &[
            "ACK sip:4000@203.0.113.5:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack2xx991",
            "Max-Forwards: 70",
            "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
            "To: <sip:4000@callcenter.example.com>;tag=a6c85cf",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314159 ACK",
        ],
        "",
    ))
}

/// The ACK for a non-2xx: same branch as the INVITE (RFC 3261 §17.1.1.3).
fn ack_for_non_2xx() -> rsip::Request {
    request(&wire(
        &[
            "ACK sip:4000@callcenter.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c5e;rport",
            "Max-Forwards: 70",
            "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
            "To: <sip:4000@callcenter.example.com>;tag=busy77",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314159 ACK",
        ],
        "",
    ))
}

/// Responses a server transaction sends for the fixture INVITE.
fn server_resp(status: &str) -> rsip::Response {
    resp(status, Some("srv42"))
}

// ---------------------------------------------------------------------------------------------
// The fake clock and a driver that jumps to each deadline.

#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// The four machines, seen the same way by the test driver.
trait Machine {
    fn next_deadline(&self) -> Option<Instant>;
    fn fire(&mut self, now: Instant);
    fn take_transmit(&mut self) -> Option<SipMessage>;
}

macro_rules! machine {
    ($t:ty) => {
        impl Machine for $t {
            fn next_deadline(&self) -> Option<Instant> {
                self.poll_timeout()
            }
            fn fire(&mut self, now: Instant) {
                self.handle_timeout(now)
            }
            fn take_transmit(&mut self) -> Option<SipMessage> {
                self.poll_transmit()
            }
        }
    };
}
machine!(InviteClient);
machine!(NonInviteClient);
machine!(InviteServer);
machine!(NonInviteServer);

/// Drains what the machine wants sent now, stamped with `at` (seconds since `t0`).
fn drain(m: &mut impl Machine, t0: Instant, at: Instant, out: &mut Vec<(f64, SipMessage)>) {
    while let Some(msg) = m.take_transmit() {
        out.push((at.duration_since(t0).as_secs_f64(), msg));
    }
}

/// Jumps from deadline to deadline until `until`; returns what was sent and when.
fn run_until(m: &mut impl Machine, t0: Instant, until: Instant) -> Vec<(f64, SipMessage)> {
    let mut sent = Vec::new();
    drain(m, t0, t0, &mut sent);
    while let Some(d) = m.next_deadline() {
        if d > until {
            break;
        }
        m.fire(d);
        drain(m, t0, d, &mut sent);
    }
    sent
}

fn times(sent: &[(f64, SipMessage)]) -> Vec<f64> {
    sent.iter()
        .map(|(t, _)| (t * 1000.0).round() / 1000.0)
        .collect()
}

fn code(msg: &SipMessage) -> u16 {
    match msg {
        SipMessage::Response(r) => r.status_code.code(),
        SipMessage::Request(_) => 0,
    }
}

fn method(msg: &SipMessage) -> Option<Method> {
    match msg {
        SipMessage::Request(r) => Some(r.method),
        SipMessage::Response(_) => None,
    }
}

fn header_values(req: &rsip::Request, pick: fn(&Header) -> bool) -> Vec<String> {
    req.headers
        .iter()
        .filter(|h| pick(h))
        .map(|h| h.value().trim().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// INVITE client (RFC 3261 §17.1.1, RFC 6026 §8.4)

mod invite_client {
    use super::*;

    #[test]
    fn timer_a_doubles_without_cap_until_timer_b_times_out() {
        let t0 = clock();
        let mut tx = InviteClient::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert_eq!(tx.state(), InviteClientState::Calling);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert_eq!(
            times(&sent),
            vec![0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5],
            "RFC 3261 §17.1.1.2: A = T1, 2·T1, 4·T1 … until B"
        );
        assert!(sent.iter().all(|(_, m)| method(m) == Some(Method::Invite)));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Timeout));
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.state(), InviteClientState::Terminated);
        assert!(tx.is_terminated());
        assert_eq!(tx.retransmissions_sent(), 6);
        assert_eq!(tx.retransmissions_received(), 0);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn timer_b_fires_at_64_t1() {
        let t0 = clock();
        let mut tx = InviteClient::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        run_until(&mut tx, t0, t0 + secs(31.999));
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32.0)));
        tx.handle_timeout(t0 + secs(32.0));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Timeout));
        assert_eq!(tx.poll_transmit(), None, "no retransmission at the timeout");
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let t0 = clock();
        let mut tx = InviteClient::new(invite(), Reliability::Reliable, TimerConfig::default(), t0);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32.0)), "only Timer B");
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert_eq!(times(&sent), vec![0.0]);
        assert_eq!(tx.retransmissions_sent(), 0);
        assert_eq!(tx.poll_event(), Some(ClientEvent::Timeout));
    }

    #[test]
    fn provisional_stops_timer_a_and_each_1xx_goes_up() {
        let t0 = clock();
        let mut tx = InviteClient::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        let sent = run_until(&mut tx, t0, t0 + secs(1.0));
        assert_eq!(times(&sent), vec![0.0, 0.5]);
        let trying = resp("100 Trying", None);
        let ringing = resp("180 Ringing", Some("a6c85cf"));
        let progress = resp("183 Session Progress", Some("a6c85cf"));
        tx.handle_response(trying.clone(), t0 + secs(1.0));
        tx.handle_response(ringing.clone(), t0 + secs(1.2));
        tx.handle_response(progress.clone(), t0 + secs(1.4));
        assert_eq!(tx.state(), InviteClientState::Proceeding);
        assert_eq!(tx.poll_event(), Some(ClientEvent::Provisional(trying)));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Provisional(ringing)));
        assert_eq!(
            tx.poll_event(),
            Some(ClientEvent::Provisional(progress.clone()))
        );
        // No more retransmissions, and Timer B does not apply in Proceeding (§17.1.1.2).
        assert_eq!(tx.poll_timeout(), None);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert!(sent.is_empty());
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.retransmissions_sent(), 1);
        // An identical 1xx again is passed up and counted as a retransmission.
        tx.handle_response(progress.clone(), t0 + secs(2.0));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Provisional(progress)));
        assert_eq!(tx.retransmissions_received(), 1);
    }

    #[test]
    fn non_2xx_is_acked_field_by_field() {
        let t0 = clock();
        let inv = invite();
        let mut tx = InviteClient::new(
            inv.clone(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        run_until(&mut tx, t0, t0 + secs(0.7));
        tx.handle_response(resp("180 Ringing", Some("busy77")), t0 + secs(1.0));
        let busy = resp("486 Busy Here", Some("busy77"));
        tx.handle_response(busy.clone(), t0 + secs(2.0));
        assert_eq!(tx.state(), InviteClientState::Completed);
        assert!(matches!(tx.poll_event(), Some(ClientEvent::Provisional(_))));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Final(busy.clone())));
        assert_eq!(tx.poll_event(), None);

        let Some(SipMessage::Request(ack)) = tx.poll_transmit() else {
            panic!("the transaction sends the ACK itself");
        };
        assert_eq!(tx.poll_transmit(), None);
        assert_eq!(tx.ack(), Some(&ack));
        // RFC 3261 §17.1.1.3, field by field.
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.uri, inv.uri, "same Request-URI");
        assert_eq!(
            ack.call_id_header().unwrap().value(),
            inv.call_id_header().unwrap().value()
        );
        assert_eq!(
            ack.from_header().unwrap().value(),
            inv.from_header().unwrap().value()
        );
        assert_eq!(
            ack.to_header().unwrap().value(),
            busy.to_header().unwrap().value(),
            "To from the response, with its tag"
        );
        assert_eq!(
            ack.to_header().unwrap().tag().unwrap().unwrap().value(),
            "busy77"
        );
        let cseq = ack.cseq_header().unwrap();
        assert_eq!(cseq.seq().unwrap(), 314159);
        assert_eq!(cseq.method().unwrap(), Method::Ack);
        assert_eq!(
            header_values(&ack, |h| matches!(h, Header::Via(_))),
            vec!["SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c5e;rport"],
            "only the INVITE's top Via"
        );
        assert_eq!(
            header_values(&ack, |h| matches!(h, Header::Route(_))),
            header_values(&inv, |h| matches!(h, Header::Route(_))),
            "the INVITE's Route set"
        );
        assert_eq!(
            header_values(&ack, |h| matches!(h, Header::MaxForwards(_))),
            vec!["69"]
        );
        assert_eq!(
            header_values(&ack, |h| matches!(h, Header::ContentLength(_))),
            vec!["0"]
        );
        assert!(header_values(&ack, |h| matches!(h, Header::ContentType(_))).is_empty());
        assert!(ack.body.is_empty());
        // The ACK reparses and matches the INVITE's server transaction (§17.2.3).
        let reparsed = request(&ack.to_bytes());
        assert_eq!(
            TransactionKey::from_request(&reparsed),
            TransactionKey::from_request(&inv)
        );

        // Timer D: 32 s on UDP; a retransmitted 486 re-sends the ACK, nothing goes up.
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(34.0)));
        tx.handle_response(busy.clone(), t0 + secs(3.0));
        assert_eq!(tx.poll_transmit(), Some(SipMessage::Request(ack.clone())));
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.retransmissions_received(), 1);
        assert_eq!(tx.retransmissions_sent(), 2, "one INVITE, one ACK");
        tx.handle_timeout(t0 + secs(33.9));
        assert_eq!(tx.state(), InviteClientState::Completed);
        tx.handle_timeout(t0 + secs(34.0));
        assert_eq!(tx.state(), InviteClientState::Terminated);
        tx.handle_response(busy, t0 + secs(35.0));
        assert_eq!(tx.poll_transmit(), None, "terminated: nothing more");
    }

    #[test]
    fn timer_d_is_zero_on_reliable_transport() {
        let t0 = clock();
        let mut tx = InviteClient::new(invite(), Reliability::Reliable, TimerConfig::default(), t0);
        assert!(tx.poll_transmit().is_some());
        tx.handle_response(resp("603 Decline", Some("x1")), t0 + secs(1.0));
        assert!(tx.is_terminated());
        assert_eq!(method(&tx.poll_transmit().unwrap()), Some(Method::Ack));
        assert!(matches!(tx.poll_event(), Some(ClientEvent::Final(_))));
    }

    #[test]
    fn accepted_passes_every_2xx_up_until_timer_m() {
        let t0 = clock();
        let mut tx = InviteClient::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert!(tx.poll_transmit().is_some());
        let ok = resp("200 OK", Some("a6c85cf"));
        tx.handle_response(ok.clone(), t0 + secs(2.0));
        assert_eq!(tx.state(), InviteClientState::Accepted);
        assert_eq!(tx.poll_event(), Some(ClientEvent::Final(ok.clone())));
        assert_eq!(
            tx.poll_transmit(),
            None,
            "the TU ACKs a 2xx, not the transaction"
        );
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(34.0)), "Timer M = 64·T1");
        // Retransmitted 2xx: up again, counted.
        tx.handle_response(ok.clone(), t0 + secs(2.5));
        tx.handle_response(ok.clone(), t0 + secs(3.5));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Final(ok.clone())));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Final(ok.clone())));
        assert_eq!(tx.retransmissions_received(), 2);
        // A 2xx from another fork goes up but is not a retransmission.
        let forked = resp("200 OK", Some("fork2"));
        tx.handle_response(forked.clone(), t0 + secs(4.0));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Final(forked)));
        assert_eq!(tx.retransmissions_received(), 2);
        // Non-2xx and 1xx are absorbed in Accepted.
        tx.handle_response(resp("180 Ringing", Some("a6c85cf")), t0 + secs(5.0));
        tx.handle_response(
            resp("500 Server Internal Error", Some("a6c85cf")),
            t0 + secs(5.0),
        );
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.poll_transmit(), None);
        tx.handle_timeout(t0 + secs(34.0));
        assert!(tx.is_terminated());
    }

    #[test]
    fn full_lifecycle_trying_ringing_ok() {
        let t0 = clock();
        let mut tx = InviteClient::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        let mut events = Vec::new();
        let sent = run_until(&mut tx, t0, t0 + secs(0.2));
        assert_eq!(times(&sent), vec![0.0]);
        for (at, r) in [
            (0.05, resp("100 Trying", None)),
            (0.9, resp("180 Ringing", Some("a6c85cf"))),
            (4.2, resp("200 OK", Some("a6c85cf"))),
        ] {
            tx.handle_response(r, t0 + secs(at));
            while let Some(e) = tx.poll_event() {
                events.push(e);
            }
        }
        let codes: Vec<_> = events
            .iter()
            .map(|e| match e {
                ClientEvent::Provisional(r) => (1, r.status_code.code()),
                ClientEvent::Final(r) => (2, r.status_code.code()),
                ClientEvent::Timeout | ClientEvent::TransportError => (0, 0),
            })
            .collect();
        assert_eq!(codes, vec![(1, 100), (1, 180), (2, 200)]);
        assert_eq!(tx.retransmissions_sent(), 0);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert!(sent.is_empty());
        assert!(tx.is_terminated());
    }

    #[test]
    fn transport_error_ends_the_transaction() {
        let t0 = clock();
        let mut tx = InviteClient::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        tx.handle_transport_error(t0);
        assert_eq!(tx.poll_transmit(), None);
        assert_eq!(tx.poll_event(), Some(ClientEvent::TransportError));
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_transport_error(t0);
        assert_eq!(tx.poll_event(), None, "reported once");
    }

    #[test]
    fn invalid_status_codes_are_ignored() {
        let t0 = clock();
        let mut tx = InviteClient::new(invite(), Reliability::Reliable, TimerConfig::default(), t0);
        tx.handle_response(resp("700 Strange", Some("a")), t0);
        tx.handle_response(resp("099 Low", Some("a")), t0);
        assert_eq!(tx.state(), InviteClientState::Calling);
        assert_eq!(tx.poll_event(), None);
    }

    #[test]
    fn custom_timers_scale_the_schedule() {
        let t0 = clock();
        let cfg = TimerConfig {
            t1: Duration::from_millis(250),
            t2: Duration::from_secs(2),
            t4: Duration::from_secs(3),
        };
        let mut tx = InviteClient::new(invite(), Reliability::Unreliable, cfg, t0);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert_eq!(times(&sent), vec![0.0, 0.25, 0.75, 1.75, 3.75, 7.75, 15.75]);
        assert_eq!(tx.poll_event(), Some(ClientEvent::Timeout));
    }
}

// ---------------------------------------------------------------------------------------------
// Non-INVITE client (RFC 3261 §17.1.2)

mod non_invite_client {
    use super::*;

    #[test]
    fn timer_e_doubles_up_to_t2_and_timer_f_times_out() {
        let t0 = clock();
        let mut tx =
            NonInviteClient::new(bye(), Reliability::Unreliable, TimerConfig::default(), t0);
        assert_eq!(tx.state(), NonInviteClientState::Trying);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        let t = times(&sent);
        assert_eq!(
            t,
            vec![0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        );
        let intervals: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(
            intervals,
            vec![0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
        );
        assert!(sent.iter().all(|(_, m)| method(m) == Some(Method::Bye)));
        assert_eq!(tx.poll_event(), Some(ClientEvent::Timeout));
        assert!(tx.is_terminated());
        assert_eq!(tx.retransmissions_sent(), 10);
    }

    #[test]
    fn proceeding_retransmits_every_t2() {
        let t0 = clock();
        let mut tx =
            NonInviteClient::new(bye(), Reliability::Unreliable, TimerConfig::default(), t0);
        run_until(&mut tx, t0, t0 + secs(0.6)); // 0, 0.5; next E at 1.5
        tx.handle_response(bye_response("100 Trying"), t0 + secs(0.7));
        assert_eq!(tx.state(), NonInviteClientState::Proceeding);
        assert!(matches!(tx.poll_event(), Some(ClientEvent::Provisional(_))));
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert_eq!(
            times(&sent),
            vec![1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5],
            "E fires once more on its old schedule, then every T2 until F"
        );
        assert_eq!(tx.poll_event(), Some(ClientEvent::Timeout));
    }

    #[test]
    fn final_response_completes_and_timer_k_absorbs_retransmissions() {
        let t0 = clock();
        let mut tx =
            NonInviteClient::new(bye(), Reliability::Unreliable, TimerConfig::default(), t0);
        assert!(tx.poll_transmit().is_some());
        let ok = bye_response("200 OK");
        tx.handle_response(ok.clone(), t0 + secs(0.3));
        assert_eq!(tx.state(), NonInviteClientState::Completed);
        assert_eq!(tx.poll_event(), Some(ClientEvent::Final(ok.clone())));
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(5.3)), "Timer K = T4");
        tx.handle_response(ok, t0 + secs(1.0));
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.poll_transmit(), None);
        assert_eq!(tx.retransmissions_received(), 1);
        tx.handle_timeout(t0 + secs(5.3));
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_transport_terminates_on_final() {
        let t0 = clock();
        let mut tx = NonInviteClient::new(bye(), Reliability::Reliable, TimerConfig::default(), t0);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32.0)), "F only");
        tx.handle_response(bye_response("481 Call/Transaction Does Not Exist"), t0);
        assert!(tx.is_terminated());
        assert!(matches!(tx.poll_event(), Some(ClientEvent::Final(_))));
    }

    #[test]
    fn transport_error_is_reported() {
        let t0 = clock();
        let mut tx = NonInviteClient::new(bye(), Reliability::Reliable, TimerConfig::default(), t0);
        tx.handle_transport_error(t0);
        assert_eq!(tx.poll_event(), Some(ClientEvent::TransportError));
        assert!(tx.is_terminated());
    }
}

// ---------------------------------------------------------------------------------------------
// INVITE server (RFC 3261 §17.2.1, §13.3.1.4, RFC 6026 §8.7)

mod invite_server {
    use super::*;

    #[test]
    fn sends_100_trying_after_200_ms_of_tu_silence() {
        let t0 = clock();
        let inv = invite();
        let mut tx = InviteServer::new(
            inv.clone(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(0.2)));
        let sent = run_until(&mut tx, t0, t0 + secs(10.0));
        assert_eq!(times(&sent), vec![0.2]);
        let SipMessage::Response(trying) = &sent[0].1 else {
            panic!("a response");
        };
        assert_eq!(trying.status_code.code(), 100);
        assert_eq!(
            trying
                .headers
                .iter()
                .filter(|h| matches!(h, Header::Via(_)))
                .count(),
            2,
            "all Vias copied (§8.2.6.2)"
        );
        assert_eq!(
            trying.to_header().unwrap().value(),
            inv.to_header().unwrap().value()
        );
        assert_eq!(tx.state(), InviteServerState::Proceeding);

        // A TU that answers at once suppresses it.
        let mut tx = InviteServer::new(inv, Reliability::Unreliable, TimerConfig::default(), t0);
        tx.send_response(server_resp("180 Ringing"), t0);
        let sent = run_until(&mut tx, t0, t0 + secs(10.0));
        assert_eq!(
            sent.iter().map(|(_, m)| code(m)).collect::<Vec<_>>(),
            vec![180]
        );
    }

    #[test]
    fn retransmitted_invite_resends_the_last_response() {
        let t0 = clock();
        let mut tx = InviteServer::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        tx.send_response(server_resp("180 Ringing"), t0);
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(180));
        tx.handle_request(invite(), t0 + secs(0.5));
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(180));
        assert_eq!(tx.retransmissions_received(), 1);
        assert_eq!(tx.retransmissions_sent(), 1);
        tx.send_response(server_resp("486 Busy Here"), t0 + secs(1.0));
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(486));
        tx.handle_request(invite(), t0 + secs(1.2));
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(486));
        assert_eq!(tx.retransmissions_received(), 2);
        assert_eq!(tx.retransmissions_sent(), 2);
    }

    #[test]
    fn accepted_retransmits_2xx_until_ack_then_lingers_until_timer_l() {
        let t0 = clock();
        let mut tx = InviteServer::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        tx.send_response(server_resp("180 Ringing"), t0);
        tx.send_response(server_resp("200 OK"), t0);
        assert_eq!(tx.state(), InviteServerState::Accepted);
        let sent = run_until(&mut tx, t0, t0 + secs(8.0));
        assert_eq!(times(&sent), vec![0.0, 0.0, 0.5, 1.5, 3.5, 7.5]);
        assert_eq!(
            sent.iter().map(|(_, m)| code(m)).collect::<Vec<_>>(),
            vec![180, 200, 200, 200, 200, 200]
        );
        let ack = ack_for_2xx();
        tx.handle_request(ack.clone(), t0 + secs(8.0));
        assert_eq!(tx.poll_event(), Some(ServerEvent::Ack(ack.clone())));
        assert_eq!(tx.retransmissions_sent(), 4);
        // A retransmitted INVITE after the ACK is absorbed; a repeated ACK is counted.
        tx.handle_request(invite(), t0 + secs(9.0));
        tx.handle_request(ack, t0 + secs(9.0));
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.retransmissions_received(), 2);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert!(sent.is_empty(), "no 2xx after the ACK");
        assert_eq!(tx.poll_event(), None, "no AckTimeout when the ACK came");
        assert!(tx.is_terminated());
    }

    #[test]
    fn missing_ack_for_2xx_times_out_on_timer_l() {
        let t0 = clock();
        let mut tx = InviteServer::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        tx.send_response(server_resp("200 OK"), t0);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert_eq!(
            times(&sent),
            vec![0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5],
            "§13.3.1.4: T1 doubling up to T2, until 64·T1"
        );
        assert_eq!(tx.poll_event(), Some(ServerEvent::AckTimeout));
        assert!(tx.is_terminated());
        assert_eq!(tx.retransmissions_sent(), 10);
    }

    #[test]
    fn reliable_transport_still_retransmits_2xx() {
        let t0 = clock();
        let mut tx = InviteServer::new(invite(), Reliability::Reliable, TimerConfig::default(), t0);
        tx.send_response(server_resp("200 OK"), t0);
        let sent = run_until(&mut tx, t0, t0 + secs(4.0));
        assert_eq!(times(&sent), vec![0.0, 0.5, 1.5, 3.5]);
    }

    #[test]
    fn timer_g_retransmits_final_until_timer_h() {
        let t0 = clock();
        let mut tx = InviteServer::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        tx.send_response(server_resp("486 Busy Here"), t0);
        assert_eq!(tx.state(), InviteServerState::Completed);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert_eq!(
            times(&sent),
            vec![0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        );
        assert!(sent.iter().all(|(_, m)| code(m) == 486));
        assert_eq!(tx.poll_event(), Some(ServerEvent::AckTimeout));
        assert!(tx.is_terminated());
    }

    #[test]
    fn ack_confirms_and_timer_i_terminates() {
        let t0 = clock();
        let mut tx = InviteServer::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        tx.send_response(server_resp("486 Busy Here"), t0);
        run_until(&mut tx, t0, t0 + secs(2.0)); // 0, 0.5, 1.5
        let ack = ack_for_non_2xx();
        tx.handle_request(ack.clone(), t0 + secs(2.0));
        assert_eq!(tx.state(), InviteServerState::Confirmed);
        assert_eq!(tx.poll_event(), Some(ServerEvent::Ack(ack.clone())));
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(7.0)), "Timer I = T4");
        // ACK retransmissions are absorbed in Confirmed.
        tx.handle_request(ack, t0 + secs(3.0));
        assert_eq!(tx.poll_event(), None);
        assert_eq!(tx.retransmissions_received(), 1);
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert!(sent.is_empty(), "Timer G stopped");
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_event(), None);
    }

    #[test]
    fn reliable_transport_has_no_timer_g_and_zero_timer_i() {
        let t0 = clock();
        let mut tx = InviteServer::new(invite(), Reliability::Reliable, TimerConfig::default(), t0);
        tx.send_response(server_resp("404 Not Found"), t0);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32.0)), "H only");
        let sent = run_until(&mut tx, t0, t0 + secs(10.0));
        assert_eq!(times(&sent), vec![0.0]);
        tx.handle_request(ack_for_non_2xx(), t0 + secs(10.0));
        assert!(tx.is_terminated());
        assert!(matches!(tx.poll_event(), Some(ServerEvent::Ack(_))));
    }

    #[test]
    fn responses_out_of_state_are_dropped() {
        let t0 = clock();
        let mut tx = InviteServer::new(invite(), Reliability::Reliable, TimerConfig::default(), t0);
        tx.send_response(server_resp("486 Busy Here"), t0);
        tx.send_response(server_resp("180 Ringing"), t0);
        tx.send_response(server_resp("200 OK"), t0);
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(486));
        assert_eq!(tx.poll_transmit(), None);
        assert_eq!(tx.state(), InviteServerState::Completed);
    }

    #[test]
    fn transport_error_is_reported() {
        let t0 = clock();
        let mut tx = InviteServer::new(
            invite(),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        tx.send_response(server_resp("200 OK"), t0);
        tx.handle_transport_error(t0);
        assert_eq!(tx.poll_event(), Some(ServerEvent::TransportError));
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_timeout(), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Non-INVITE server (RFC 3261 §17.2.2)

mod non_invite_server {
    use super::*;

    fn bye_ok() -> rsip::Response {
        bye_response("200 OK")
    }

    #[test]
    fn trying_absorbs_proceeding_and_completed_resend() {
        let t0 = clock();
        let mut tx =
            NonInviteServer::new(bye(), Reliability::Unreliable, TimerConfig::default(), t0);
        assert_eq!(tx.state(), NonInviteServerState::Trying);
        tx.handle_request(bye(), t0 + secs(0.5));
        assert_eq!(tx.poll_transmit(), None, "nothing to resend in Trying");
        tx.send_response(bye_response("100 Trying"), t0 + secs(0.6));
        assert_eq!(tx.state(), NonInviteServerState::Proceeding);
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(100));
        tx.handle_request(bye(), t0 + secs(1.5));
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(100));
        tx.send_response(bye_ok(), t0 + secs(2.0));
        assert_eq!(tx.state(), NonInviteServerState::Completed);
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(200));
        tx.handle_request(bye(), t0 + secs(3.5));
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(200));
        assert_eq!(tx.retransmissions_received(), 3);
        assert_eq!(tx.retransmissions_sent(), 2);
        // A second final is dropped.
        tx.send_response(bye_response("500 Server Internal Error"), t0 + secs(4.0));
        assert_eq!(tx.poll_transmit(), None);
    }

    #[test]
    fn timer_j_is_64_t1_on_udp() {
        let t0 = clock();
        let mut tx =
            NonInviteServer::new(bye(), Reliability::Unreliable, TimerConfig::default(), t0);
        tx.send_response(bye_ok(), t0 + secs(1.0));
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(33.0)));
        let sent = run_until(&mut tx, t0, t0 + secs(100.0));
        assert_eq!(
            times(&sent),
            vec![0.0],
            "a server never retransmits on its own"
        );
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_event(), None);
    }

    #[test]
    fn timer_j_is_zero_on_reliable_transport() {
        let t0 = clock();
        let mut tx = NonInviteServer::new(bye(), Reliability::Reliable, TimerConfig::default(), t0);
        tx.send_response(bye_ok(), t0);
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_transmit().map(|m| code(&m)), Some(200));
    }

    #[test]
    fn transport_error_is_reported() {
        let t0 = clock();
        let mut tx =
            NonInviteServer::new(bye(), Reliability::Unreliable, TimerConfig::default(), t0);
        tx.handle_transport_error(t0);
        assert_eq!(tx.poll_event(), Some(ServerEvent::TransportError));
        assert!(tx.is_terminated());
    }
}

// ---------------------------------------------------------------------------------------------
// CANCEL (RFC 3261 §9.1)

#[test]
fn cancel_copies_the_invite_identity() {
    let inv = invite();
    let cancel = build_cancel(&inv);
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, inv.uri);
    assert_eq!(
        cancel.call_id_header().unwrap().value(),
        inv.call_id_header().unwrap().value()
    );
    assert_eq!(
        cancel.from_header().unwrap().value(),
        inv.from_header().unwrap().value()
    );
    assert_eq!(
        cancel.to_header().unwrap().value(),
        inv.to_header().unwrap().value()
    );
    let cseq = cancel.cseq_header().unwrap();
    assert_eq!(cseq.seq().unwrap(), 314159);
    assert_eq!(cseq.method().unwrap(), Method::Cancel);
    assert_eq!(
        header_values(&cancel, |h| matches!(h, Header::Via(_))),
        vec!["SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c5e;rport"]
    );
    assert_eq!(
        header_values(&cancel, |h| matches!(h, Header::Route(_))),
        header_values(&inv, |h| matches!(h, Header::Route(_)))
    );
    assert_eq!(
        header_values(&cancel, |h| matches!(h, Header::MaxForwards(_))),
        vec!["69"]
    );
    assert_eq!(
        header_values(&cancel, |h| matches!(h, Header::ContentLength(_))),
        vec!["0"]
    );
    assert!(cancel.body.is_empty());
    assert!(header_values(&cancel, |h| matches!(h, Header::Contact(_))).is_empty());
    // Serializes and reparses; same branch as the INVITE, separate transaction.
    let reparsed = request(&cancel.to_bytes());
    let key = TransactionKey::from_request(&reparsed).unwrap();
    assert_eq!(key.method(), Method::Cancel);
    assert_ne!(Ok(key), TransactionKey::from_request(&inv));
}

#[test]
fn cancel_adds_max_forwards_when_missing() {
    let mut inv = invite();
    inv.headers.retain(|h| !matches!(h, Header::MaxForwards(_)));
    let cancel = build_cancel(&inv);
    assert_eq!(
        header_values(&cancel, |h| matches!(h, Header::MaxForwards(_))),
        vec!["70"]
    );
}

// ---------------------------------------------------------------------------------------------
// Transaction keys (RFC 3261 §17.1.3, §17.2.3)

mod keys {
    use super::*;
    use rand::SeedableRng;

    fn key_req(r: &rsip::Request) -> TransactionKey {
        TransactionKey::from_request(r).expect("key")
    }

    fn key_resp(r: &rsip::Response) -> TransactionKey {
        TransactionKey::from_response(r).expect("key")
    }

    #[test]
    fn invite_key_is_branch_sent_by_method() {
        assert_eq!(
            key_req(&invite()),
            TransactionKey::Branch {
                branch: INVITE_BRANCH.to_ascii_lowercase(),
                sent_by: "192.0.2.10:5060".into(),
                method: Method::Invite,
            }
        );
    }

    #[test]
    fn responses_match_their_client_transaction() {
        let inv = key_req(&invite());
        for status in [
            "100 Trying",
            "180 Ringing",
            "200 OK",
            "487 Request Terminated",
        ] {
            assert_eq!(key_resp(&resp(status, Some("a6c85cf"))), inv, "{status}");
        }
        let bye_key = key_req(&bye());
        assert_eq!(key_resp(&bye_response("200 OK")), bye_key);
        assert_ne!(bye_key, inv);
    }

    #[test]
    fn cancel_is_its_own_transaction_on_the_same_branch() {
        let inv = invite();
        let cancel = build_cancel(&inv);
        let cancel_key = key_req(&cancel);
        assert_ne!(cancel_key, key_req(&inv));
        // 200 to the CANCEL and 487 to the INVITE carry the same branch but different CSeq
        // methods: each finds its own client transaction.
        let ok_cancel = response(&response_bytes("200 OK", Some("a6c85cf"), "CANCEL"));
        let terminated = resp("487 Request Terminated", Some("a6c85cf"));
        assert_eq!(key_resp(&ok_cancel), cancel_key);
        assert_eq!(key_resp(&terminated), key_req(&inv));
        assert_ne!(key_resp(&ok_cancel), key_resp(&terminated));
    }

    #[test]
    fn ack_for_non_2xx_matches_the_invite_and_ack_for_2xx_does_not() {
        let inv = key_req(&invite());
        assert_eq!(key_req(&ack_for_non_2xx()), inv);
        assert_eq!(key_req(&ack_for_non_2xx()).method(), Method::Invite);
        assert_ne!(key_req(&ack_for_2xx()), inv);
    }

    #[test]
    fn sent_by_is_part_of_the_server_key() {
        let a = invite();
        let b = request(
            &String::from_utf8(invite_bytes())
                .unwrap()
                .replacen(
                    "SIP/2.0/UDP 192.0.2.10:5060;branch",
                    "SIP/2.0/UDP 192.0.2.99:5060;branch",
                    1,
                )
                .into_bytes(),
        );
        assert_ne!(key_req(&a), key_req(&b));
        let c = request(
            &String::from_utf8(invite_bytes())
                .unwrap()
                .replacen(
                    "SIP/2.0/UDP 192.0.2.10:5060;branch",
                    "SIP/2.0/UDP UAC.Example.COM:5060;branch",
                    1,
                )
                .into_bytes(),
        );
        let d = request(
            &String::from_utf8(invite_bytes())
                .unwrap()
                .replacen(
                    "SIP/2.0/UDP 192.0.2.10:5060;branch",
                    "SIP/2.0/UDP uac.example.com:5060;branch",
                    1,
                )
                .into_bytes(),
        );
        assert_eq!(
            key_req(&c),
            key_req(&d),
            "host names compare case-insensitively"
        );
    }

    #[test]
    fn compact_and_comma_joined_vias_use_the_first_value() {
        let bytes = wire(
            &[
                "OPTIONS sip:4000@callcenter.example.com SIP/2.0",
                "v: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKopt1, SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKx",
                "f: <sip:caller@192.0.2.10>;tag=99",
                "t: <sip:4000@callcenter.example.com>",
                "i: opt-1@192.0.2.10",
                "CSeq: 7 OPTIONS",
            ],
            "",
        );
        let key = key_req(&request(&bytes));
        assert_eq!(
            key,
            TransactionKey::Branch {
                branch: "z9hg4bkopt1".into(),
                sent_by: "192.0.2.10:5060".into(),
                method: Method::Options,
            }
        );
    }

    #[test]
    fn rfc2543_requests_match_without_a_magic_cookie() {
        let old = |method: &str, to: &str| {
            request(&wire(
                &[
                    &format!("{method} sip:4000@callcenter.example.com SIP/2.0"),
                    "Via: SIP/2.0/UDP 10.1.1.1:5060",
                    "From: <sip:old@10.1.1.1>;tag=77",
                    to,
                    "Call-ID: legacy-1@10.1.1.1",
                    &format!("CSeq: 1 {method}"),
                ],
                "",
            ))
        };
        let inv = key_req(&old("INVITE", "To: <sip:4000@callcenter.example.com>"));
        assert!(matches!(inv, TransactionKey::Rfc2543 { .. }));
        let ack = key_req(&old(
            "ACK",
            "To: <sip:4000@callcenter.example.com>;tag=srv1",
        ));
        assert_eq!(ack, inv);
        let cancel = key_req(&old("CANCEL", "To: <sip:4000@callcenter.example.com>"));
        assert_ne!(cancel, inv);
    }

    #[test]
    fn missing_or_malformed_headers_are_errors() {
        let strip = |name: &str| {
            let text = String::from_utf8(invite_bytes()).unwrap();
            let kept: Vec<&str> = text
                .split("\r\n")
                .filter(|l| !l.starts_with(name))
                .collect();
            kept.join("\r\n").into_bytes()
        };
        assert_eq!(
            TransactionKey::from_request(&request(&strip("Via:"))),
            Err(TransactionError::MissingVia)
        );
        let bad_via = String::from_utf8(invite_bytes()).unwrap().replacen(
            "SIP/2.0/UDP 192.0.2.10:5060;branch",
            "garbage;branch",
            1,
        );
        assert_eq!(
            TransactionKey::from_request(&request(bad_via.as_bytes())),
            Err(TransactionError::MalformedVia)
        );
        let ok = String::from_utf8(response_bytes("200 OK", Some("x"), "INVITE")).unwrap();
        let no_branch = ok.replacen(";branch=z9hG4bK74bf9a1c5e", "", 1);
        assert_eq!(
            TransactionKey::from_response(&response(no_branch.as_bytes())),
            Err(TransactionError::MissingBranch)
        );
        let no_cseq = ok.replacen("CSeq: 314159 INVITE\r\n", "", 1);
        assert_eq!(
            TransactionKey::from_response(&response(no_cseq.as_bytes())),
            Err(TransactionError::MissingCSeq)
        );
        let bad_cseq = ok.replacen("CSeq: 314159 INVITE", "CSeq: many INVITE", 1);
        assert_eq!(
            TransactionKey::from_response(&response(bad_cseq.as_bytes())),
            Err(TransactionError::MalformedCSeq)
        );
        // An RFC 2543 request needs Call-ID and From for its key.
        let legacy =
            String::from_utf8(invite_bytes())
                .unwrap()
                .replacen(";branch=z9hG4bK74bf9a1c5e", "", 1);
        let no_call_id: String = legacy
            .split("\r\n")
            .filter(|l| !l.starts_with("Call-ID:"))
            .collect::<Vec<_>>()
            .join("\r\n");
        assert_eq!(
            TransactionKey::from_request(&request(no_call_id.as_bytes())),
            Err(TransactionError::MissingCallId)
        );
    }

    #[test]
    fn new_branch_has_the_magic_cookie_and_is_unique() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let branches: std::collections::HashSet<String> =
            (0..1000).map(|_| new_branch(&mut rng)).collect();
        assert_eq!(branches.len(), 1000);
        for b in &branches {
            assert!(b.starts_with(MAGIC_COOKIE));
            assert_eq!(b.len(), MAGIC_COOKIE.len() + 20);
            assert!(b.chars().all(|c| c.is_ascii_alphanumeric()));
        }
        // Seeded: the same seed gives the same branch.
        let mut a = rand::rngs::StdRng::seed_from_u64(42);
        let mut b = rand::rngs::StdRng::seed_from_u64(42);
        assert_eq!(new_branch(&mut a), new_branch(&mut b));
    }

    /// xorshift64*: a tiny deterministic generator for mutating fixtures.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Feeds bytes through the parser, key extraction and the state machines.
    fn exercise(bytes: &[u8]) -> bool {
        let Ok(msg) = rsip::parser::parse_message(bytes) else {
            return false;
        };
        let _ = TransactionKey::from_message(&msg);
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        match msg {
            SipMessage::Request(r) => {
                let _ = build_cancel(&r);
                let mut s = InviteServer::new(
                    r.clone(),
                    Reliability::Unreliable,
                    TimerConfig::default(),
                    t0,
                );
                s.handle_request(r.clone(), t0);
                let mut c =
                    InviteClient::new(r, Reliability::Unreliable, TimerConfig::default(), t0);
                c.handle_response(resp("486 Busy Here", Some("z")), t0);
                while c.poll_transmit().is_some() {}
            }
            SipMessage::Response(r) => {
                let mut c = InviteClient::new(
                    invite(),
                    Reliability::Unreliable,
                    TimerConfig::default(),
                    t0,
                );
                c.handle_response(r.clone(), t0);
                c.handle_response(r.clone(), t0);
                let mut s = InviteServer::new(
                    invite(),
                    Reliability::Unreliable,
                    TimerConfig::default(),
                    t0,
                );
                s.send_response(r, t0);
                s.handle_timeout(t0 + Duration::from_secs(1));
            }
        }
        true
    }

    #[test]
    fn garbage_and_truncated_messages_never_panic() {
        let mut parsed = 0usize;
        let fixtures = [
            invite_bytes(),
            response_bytes("200 OK", Some("a6c85cf"), "INVITE"),
            response_bytes("200 OK", Some("a6c85cf"), "CANCEL"),
            ack_for_non_2xx().to_bytes(),
            build_cancel(&invite()).to_bytes(),
        ];
        for f in &fixtures {
            // Every truncation, as is and closed with an empty line.
            for cut in 0..=f.len() {
                let head = &f[..cut];
                exercise(head);
                let mut closed = head.to_vec();
                closed.extend_from_slice(b"\r\n\r\n");
                parsed += usize::from(exercise(&closed));
            }
        }
        // Seeded random mutations: replaced bytes, including separators and non-UTF-8.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let alphabet = b";,:=<>\"\\ \t\r\n/@[]z9hG4bK\x00\xff\xc3";
        for round in 0..4000 {
            let f = &fixtures[round % fixtures.len()];
            let mut m = f.clone();
            let edits = 1 + (next(&mut state) % 6) as usize;
            for _ in 0..edits {
                let at = (next(&mut state) as usize) % m.len();
                let pick = (next(&mut state) as usize) % alphabet.len();
                m[at] = alphabet[pick];
            }
            parsed += usize::from(exercise(&m));
        }
        // Hand-made nasties aimed at the Via, CSeq and status line.
        let nasties: [&[u8]; 16] = [
            b"",
            b"\r\n\r\n",
            b"SIP/2.0 200\r\n\r\n",
            b"SIP/2.0 99999 Big\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia:\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: ,,,\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP [::1\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:99999;branch=z9hG4bK\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: \"unterminated;branch=z9hG4bKq\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch\r\nCSeq: \r\n\r\n",
            b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 4294967296 ACK\r\nFrom: <\r\nCall-ID: x\r\n\r\n",
            b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 ACK\r\nFrom: ;tag=\r\nCall-ID: \r\n\r\n",
            b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1\r\nTo: <sip:\xff>;tag=\r\n\r\n",
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 FOO\r\nContent-Length: 99999999\r\n\r\nv=0",
        ];
        for n in nasties {
            exercise(n);
        }
        assert!(
            parsed > 1000,
            "the batch must reach key extraction: {parsed}"
        );
    }
}
