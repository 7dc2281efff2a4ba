//! STYLE.md rule 5: a SIP message from the network never panics the parser, the transaction
//! key extraction (RFC 3261 §17.1.3, §17.2.3) or the transaction state machines fed with it.
#![no_main]

use callcert::sip::rsip::{self, SipMessage};
use callcert::sip::transaction::{
    build_cancel, InviteClient, InviteServer, NonInviteServer, Reliability, TimerConfig,
    TransactionKey,
};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = rsip::parser::parse_message(data) else {
        return;
    };
    let key = TransactionKey::from_message(&msg);
    let _ = msg.to_bytes();
    // The fuzzer is a driver: it may read the clock once for its fake base instant.
    #[allow(clippy::disallowed_methods)]
    let t0 = Instant::now();
    let timers = TimerConfig::default();
    match msg {
        SipMessage::Request(req) => {
            // A request with a key is one a server transaction can be created for.
            if key.is_ok() {
                let mut inv = InviteServer::new(req.clone(), Reliability::Unreliable, timers, t0);
                inv.handle_request(req.clone(), t0);
                inv.handle_timeout(t0 + Duration::from_secs(1));
                while inv.poll_transmit().is_some() {}
                let mut other =
                    NonInviteServer::new(req.clone(), Reliability::Unreliable, timers, t0);
                other.handle_request(req.clone(), t0);
            }
            let cancel = build_cancel(&req);
            let _ = TransactionKey::from_request(&cancel);
            let _ = cancel.to_bytes();
        }
        SipMessage::Response(resp) => {
            // A response arriving at an INVITE client transaction built from it: 1xx, 2xx and
            // 300–699 (which makes it build an ACK from the INVITE and this response).
            let _ = TransactionKey::from_response(&resp);
            let invite = rsip::Request {
                method: rsip::Method::Invite,
                uri: rsip::Uri::default(),
                version: rsip::Version::V2,
                headers: resp.headers.clone(),
                body: Vec::new(),
            };
            let mut tx = InviteClient::new(invite, Reliability::Unreliable, timers, t0);
            tx.handle_response(resp.clone(), t0);
            tx.handle_response(resp, t0 + Duration::from_millis(500));
            while let Some(m) = tx.poll_transmit() {
                let _ = m.to_bytes();
            }
            while tx.poll_event().is_some() {}
        }
    }
});
