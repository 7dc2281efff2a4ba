//! SIP signalling hot paths per call: parsing an INVITE with SDP and its 200 OK, building and
//! serializing an INVITE, matching a response to its transaction, and one whole client INVITE
//! transaction (INVITE → 100 → 180 → 200) on a fake clock.

use callcert::sip::rsip::{
    self,
    headers::{
        CSeq, CallId, Contact, ContentLength, ContentType, From, MaxForwards, To, UserAgent, Via,
    },
    Header, Headers, Method, SipMessage,
};
use callcert::sip::transaction::{
    ClientEvent, InviteClient, Reliability, TimerConfig, TransactionKey,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SDP: &str = "v=0\r\n\
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

const BRANCH: &str = "z9hG4bK74bf9a1c5e8d2f0a3b";

fn wire(lines: &[&str], body: &str) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str(&format!(
        "\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        body
    ));
    s.into_bytes()
}

fn invite_bytes() -> Vec<u8> {
    wire(
        &[
            "INVITE sip:4000@callcenter.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c5e8d2f0a3b;rport",
            "Max-Forwards: 70",
            "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
            "To: <sip:4000@callcenter.example.com>",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314159 INVITE",
            "Contact: <sip:caller@192.0.2.10:5060>",
            "User-Agent: callcert/0.1.0",
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO",
            "Supported: timer",
            "Content-Type: application/sdp",
        ],
        SDP,
    )
}

fn response_bytes(status: &str, to_tag: Option<&str>, body: &str) -> Vec<u8> {
    let status_line = format!("SIP/2.0 {status}");
    let to = match to_tag {
        Some(t) => format!("To: <sip:4000@callcenter.example.com>;tag={t}"),
        None => "To: <sip:4000@callcenter.example.com>".to_string(),
    };
    let mut lines = vec![
        status_line.as_str(),
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c5e8d2f0a3b;rport=5060;received=192.0.2.10",
        "From: \"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
        to.as_str(),
        "Call-ID: a84b4c76e66710@192.0.2.10",
        "CSeq: 314159 INVITE",
        "Server: reference-ivr/1.0",
    ];
    if !body.is_empty() {
        lines.push("Contact: <sip:4000@203.0.113.5:5060>");
        lines.push("Content-Type: application/sdp");
    }
    wire(&lines, body)
}

fn response(bytes: &[u8]) -> rsip::Response {
    match rsip::parser::parse_message(bytes) {
        Ok(SipMessage::Response(r)) => r,
        other => panic!("benchmark fixture is not a response: {other:?}"),
    }
}

fn invite() -> rsip::Request {
    match rsip::parser::parse_message(&invite_bytes()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("benchmark fixture is not a request: {other:?}"),
    }
}

/// An INVITE built header by header, as a UAC does for each call.
fn build_invite(seq: u32) -> rsip::Request {
    let uri = rsip::parse_uri("sip:4000@callcenter.example.com").expect("static URI parses");
    let mut headers = Headers::default();
    headers.push(Header::Via(Via::new(format!(
        "SIP/2.0/UDP 192.0.2.10:5060;branch={BRANCH};rport"
    ))));
    headers.push(Header::MaxForwards(MaxForwards::new("70")));
    headers.push(Header::From(From::new(
        "\"callcert\" <sip:caller@192.0.2.10>;tag=1928301774",
    )));
    headers.push(Header::To(To::new("<sip:4000@callcenter.example.com>")));
    headers.push(Header::CallId(CallId::new("a84b4c76e66710@192.0.2.10")));
    headers.push(Header::CSeq(CSeq::new(format!("{seq} INVITE"))));
    headers.push(Header::Contact(Contact::new(
        "<sip:caller@192.0.2.10:5060>",
    )));
    headers.push(Header::UserAgent(UserAgent::new("callcert/0.1.0")));
    headers.push(Header::ContentType(ContentType::new("application/sdp")));
    headers.push(Header::ContentLength(ContentLength::new(
        SDP.len().to_string(),
    )));
    rsip::Request {
        method: Method::Invite,
        uri,
        version: rsip::Version::V2,
        headers,
        body: SDP.as_bytes().to_vec(),
    }
}

fn parse(c: &mut Criterion) {
    let invite = invite_bytes();
    let ok = response_bytes("200 OK", Some("a6c85cf"), SDP);
    let mut group = c.benchmark_group("sip_parse");
    group.throughput(Throughput::Bytes(invite.len() as u64));
    group.bench_function("invite_with_sdp", |b| {
        b.iter(|| rsip::parser::parse_message(black_box(&invite)))
    });
    group.throughput(Throughput::Bytes(ok.len() as u64));
    group.bench_function("200_ok_with_sdp", |b| {
        b.iter(|| rsip::parser::parse_message(black_box(&ok)))
    });
    group.finish();
}

fn build(c: &mut Criterion) {
    c.bench_function("sip_build_serialize_invite", |b| {
        let mut seq = 1u32;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(build_invite(black_box(seq)).to_bytes())
        })
    });
}

fn key(c: &mut Criterion) {
    let ringing = response(&response_bytes("180 Ringing", Some("a6c85cf"), ""));
    c.bench_function("sip_transaction_key_from_response", |b| {
        b.iter(|| TransactionKey::from_response(black_box(&ringing)))
    });
}

fn lifecycle(c: &mut Criterion) {
    let invite = invite();
    let trying = response(&response_bytes("100 Trying", None, ""));
    let ringing = response(&response_bytes("180 Ringing", Some("a6c85cf"), ""));
    let ok = response(&response_bytes("200 OK", Some("a6c85cf"), SDP));
    // The fake clock: one base instant, advanced by adding durations.
    #[allow(clippy::disallowed_methods)]
    let t0 = Instant::now();
    c.bench_function("sip_invite_client_100_180_200", |b| {
        b.iter_batched(
            || (invite.clone(), trying.clone(), ringing.clone(), ok.clone()),
            |(invite, trying, ringing, ok)| {
                let mut tx =
                    InviteClient::new(invite, Reliability::Unreliable, TimerConfig::default(), t0);
                let mut sent = 0usize;
                while let Some(m) = tx.poll_transmit() {
                    black_box(m);
                    sent += 1;
                }
                let mut finals = 0usize;
                for (at_ms, r) in [(40, trying), (900, ringing), (4200, ok)] {
                    tx.handle_response(r, t0 + Duration::from_millis(at_ms));
                    while let Some(e) = tx.poll_event() {
                        finals += usize::from(matches!(e, ClientEvent::Final(_)));
                    }
                }
                tx.handle_timeout(t0 + Duration::from_secs(40));
                assert!(tx.is_terminated() && finals == 1);
                sent
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, parse, build, key, lifecycle);
criterion_main!(benches);
