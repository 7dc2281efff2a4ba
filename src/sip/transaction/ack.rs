//! The ACK the INVITE client transaction sends for a non-2xx final response (RFC 3261 §17.1.1.3).

use crate::sip::rsip::{
    self,
    headers::{CSeq, ContentLength, MaxForwards},
    prelude::HeadersExt,
    Header, Headers, Method,
};

/// RFC 3261 §8.1.1.6: the Max-Forwards a UAC puts in a request it originates.
const DEFAULT_MAX_FORWARDS: &str = "70";

/// RFC 3261 §17.1.1.3: the ACK for a 300–699 response — the INVITE's Request-URI, Call-ID,
/// From, CSeq number (method ACK), top Via only and Route headers, and the response's To.
pub(crate) fn build_ack(invite: &rsip::Request, response: &rsip::Response) -> rsip::Request {
    let mut headers = Headers::default();
    if let Some(via) = top_via_header(invite) {
        headers.push(via);
    }
    for h in invite.headers.iter() {
        if matches!(h, Header::Route(_)) {
            headers.push(h.clone());
        }
    }
    headers.push(max_forwards(invite));
    for h in invite.headers.iter() {
        if matches!(h, Header::From(_)) {
            headers.push(h.clone());
        }
    }
    // The To of the response carries the tag the server chose; fall back to the INVITE's.
    if let Ok(to) = response.to_header().or_else(|_| invite.to_header()) {
        headers.push(Header::To(to.clone()));
    }
    for h in invite.headers.iter() {
        if matches!(h, Header::CallId(_)) {
            headers.push(h.clone());
        }
    }
    if let Some(cseq) = cseq_header(invite, Method::Ack) {
        headers.push(cseq);
    }
    headers.push(Header::ContentLength(ContentLength::new("0")));
    rsip::Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: invite.version,
        headers,
        body: Vec::new(),
    }
}

/// The INVITE's top Via value alone (§17.1.1.3, §9.1); the raw first Via if it does not split.
pub(super) fn top_via_header(invite: &rsip::Request) -> Option<Header> {
    let via = invite.via_header().ok()?;
    Some(Header::Via(
        via.first_value().unwrap_or_else(|_| via.clone()),
    ))
}

/// The INVITE's Max-Forwards, or 70 when it has none (§8.1.1.6).
pub(super) fn max_forwards(invite: &rsip::Request) -> Header {
    let value = invite
        .max_forwards_header()
        .map(|m| m.value().trim().to_string())
        .unwrap_or_else(|_| DEFAULT_MAX_FORWARDS.to_string());
    Header::MaxForwards(MaxForwards::new(value))
}

/// A CSeq with the INVITE's sequence number and `method` (§17.1.1.3, §9.1).
pub(super) fn cseq_header(invite: &rsip::Request, method: Method) -> Option<Header> {
    let seq = invite.cseq_header().ok()?.seq().ok()?;
    Some(Header::CSeq(CSeq::new(format!("{seq} {method}"))))
}
