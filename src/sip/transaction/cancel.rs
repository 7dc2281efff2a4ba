//! The CANCEL request (RFC 3261 §9.1).

use super::ack::{cseq_header, max_forwards, top_via_header};
use crate::sip::rsip::{self, headers::ContentLength, Header, Headers, Method};

/// RFC 3261 §9.1: the CANCEL for an INVITE — same Request-URI, Call-ID, To, From and CSeq
/// number (method CANCEL), the INVITE's top Via only, its Route headers and Max-Forwards, no body.
///
/// A CANCEL shares the INVITE's branch but is a transaction of its own (§9.1): send it with a
/// `NonInviteClient`.
pub fn build_cancel(invite: &rsip::Request) -> rsip::Request {
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
        if matches!(h, Header::From(_) | Header::To(_) | Header::CallId(_)) {
            headers.push(h.clone());
        }
    }
    if let Some(cseq) = cseq_header(invite, Method::Cancel) {
        headers.push(cseq);
    }
    headers.push(Header::ContentLength(ContentLength::new("0")));
    rsip::Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        version: invite.version,
        headers,
        body: Vec::new(),
    }
}
