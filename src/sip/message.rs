//! Reading and building SIP messages on top of rsip: the header fields the dialog layer needs.
//!
//! rsip keeps most headers as text; these helpers extract the parts we match on (tags, CSeq,
//! branch, URIs in name-addr form) without panicking on malformed input, and build requests
//! and responses with the mandatory header set of RFC 3261 §8.1.1 and §8.2.6.

use super::rsip::{
    self,
    headers::{make_header, Header},
    HasHeaders, Method, Request, Response, SipMessage, StatusCode, Uri, Version,
};
use thiserror::Error;

/// Errors from reading a SIP message field.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// A header required by RFC 3261 §8.1.1 is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header is present but its value does not parse.
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
    /// A URI does not parse.
    #[error("malformed URI {0:?}")]
    MalformedUri(String),
}

/// The first header of a kind, as its text value.
pub fn header_value<'a>(headers: &'a rsip::Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
}

/// All header values of a kind, in order, splitting comma-separated lists of name-addrs.
pub fn header_values(headers: &rsip::Headers, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for h in headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
    {
        out.extend(split_comma_list(h.value()));
    }
    out
}

/// Splits a header value at top-level commas (not inside `<…>` or quotes).
pub fn split_comma_list(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                let part = value[start..i].trim();
                if !part.is_empty() {
                    parts.push(part.to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = value[start..].trim();
    if !last.is_empty() {
        parts.push(last.to_string());
    }
    parts
}

/// The Call-ID of a message.
pub fn call_id(headers: &rsip::Headers) -> Result<&str, MessageError> {
    header_value(headers, "Call-ID")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(MessageError::MissingHeader("Call-ID"))
}

/// The CSeq number and method (RFC 3261 §8.1.1.5).
pub fn cseq(headers: &rsip::Headers) -> Result<(u32, Method), MessageError> {
    let v = header_value(headers, "CSeq").ok_or(MessageError::MissingHeader("CSeq"))?;
    let mut it = v.split_whitespace();
    let n = it
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or(MessageError::MalformedHeader("CSeq"))?;
    let m = it
        .next()
        .and_then(parse_method)
        .ok_or(MessageError::MalformedHeader("CSeq"))?;
    Ok((n, m))
}

/// A method token as rsip's enum; None for extension methods we do not handle.
pub fn parse_method(token: &str) -> Option<Method> {
    Method::all()
        .into_iter()
        .find(|m| m.to_string().eq_ignore_ascii_case(token))
}

/// A parameter of a name-addr header value (after the URI), e.g. `tag` of From/To.
pub fn name_addr_param(value: &str, param: &str) -> Option<String> {
    // Parameters of the header (not the URI) follow the closing '>' when present.
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value.split_once(';').map(|(_, p)| p).unwrap_or(""),
    };
    let params = params.trim_start_matches(';');
    for p in params.split(';') {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k.trim().eq_ignore_ascii_case(param) {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// The URI inside a name-addr or addr-spec header value (`"A" <sip:a@b>;tag=x` → `sip:a@b`).
pub fn name_addr_uri(value: &str) -> &str {
    if let (Some(s), Some(e)) = (value.find('<'), value.rfind('>')) {
        if s < e {
            return value[s + 1..e].trim();
        }
    }
    value.split(';').next().unwrap_or("").trim()
}

/// The tag of the From header (RFC 3261 §19.3).
pub fn from_tag(headers: &rsip::Headers) -> Option<String> {
    header_value(headers, "From").and_then(|v| name_addr_param(v, "tag"))
}

/// The tag of the To header (RFC 3261 §19.3).
pub fn to_tag(headers: &rsip::Headers) -> Option<String> {
    header_value(headers, "To").and_then(|v| name_addr_param(v, "tag"))
}

/// The branch parameter of the top Via (RFC 3261 §8.1.1.7).
pub fn top_via_branch(headers: &rsip::Headers) -> Option<String> {
    let via = header_values(headers, "Via").into_iter().next()?;
    via.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("branch")
            .then(|| v.trim().to_string())
    })
}

/// Parses a URI, naming it in the error.
pub fn parse_uri(text: &str) -> Result<Uri, MessageError> {
    Uri::try_from(text).map_err(|_| MessageError::MalformedUri(text.to_string()))
}

/// The Contact URI of a message (the remote target of a dialog, RFC 3261 §12.1).
pub fn contact_uri(headers: &rsip::Headers) -> Option<Uri> {
    let first = header_values(headers, "Contact").into_iter().next()?;
    Uri::try_from(name_addr_uri(&first)).ok()
}

/// The numeric status code of a response.
pub fn status(resp: &Response) -> u16 {
    resp.status_code.code()
}

/// Whether a message carries an SDP body.
pub fn has_sdp(headers: &rsip::Headers, body: &[u8]) -> bool {
    !body.is_empty()
        && header_value(headers, "Content-Type")
            .map(|v| v.trim().to_ascii_lowercase().starts_with("application/sdp"))
            .unwrap_or(false)
}

/// Appends a header by name and value.
pub fn push_header(headers: &mut rsip::Headers, name: &str, value: impl Into<String>) {
    headers.push(make_header(name, value.into()));
}

/// Replaces (or adds) a header by name.
pub fn set_header(headers: &mut rsip::Headers, name: &str, value: impl Into<String>) {
    headers.retain(|h| !h.name().eq_ignore_ascii_case(name));
    push_header(headers, name, value);
}

/// Sets the body, Content-Type (when a body is present) and Content-Length.
pub fn set_body(headers: &mut rsip::Headers, body: &[u8], content_type: Option<&str>) {
    headers.retain(|h| {
        !h.name().eq_ignore_ascii_case("Content-Length")
            && !h.name().eq_ignore_ascii_case("Content-Type")
    });
    if let (Some(ct), false) = (content_type, body.is_empty()) {
        push_header(headers, "Content-Type", ct);
    }
    push_header(headers, "Content-Length", body.len().to_string());
}

/// Everything needed to build an out-of-dialog or in-dialog request (RFC 3261 §8.1.1, §12.2.1.1).
#[derive(Debug, Clone)]
pub struct RequestSpec<'a> {
    /// The request method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The full Via value for this hop, e.g. `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK…;rport`.
    pub via: String,
    /// From value with its tag.
    pub from: String,
    /// To value (with the remote tag inside a dialog).
    pub to: String,
    /// Call-ID.
    pub call_id: &'a str,
    /// CSeq number.
    pub cseq: u32,
    /// Contact value, when the method needs one.
    pub contact: Option<String>,
    /// Route set, in order.
    pub route: &'a [String],
    /// Extra headers (name, value), e.g. Authorization.
    pub extra: Vec<(&'static str, String)>,
    /// The body and its content type.
    pub body: Option<(&'a [u8], &'a str)>,
    /// User-Agent header.
    pub user_agent: &'a str,
}

/// Builds a request from its parts.
pub fn build_request(spec: RequestSpec<'_>) -> Request {
    let mut headers = rsip::Headers::default();
    push_header(&mut headers, "Via", spec.via);
    push_header(&mut headers, "Max-Forwards", "70");
    for r in spec.route {
        push_header(&mut headers, "Route", r.clone());
    }
    push_header(&mut headers, "From", spec.from);
    push_header(&mut headers, "To", spec.to);
    push_header(&mut headers, "Call-ID", spec.call_id);
    push_header(
        &mut headers,
        "CSeq",
        format!("{} {}", spec.cseq, spec.method),
    );
    if let Some(c) = spec.contact {
        push_header(&mut headers, "Contact", c);
    }
    for (k, v) in spec.extra {
        push_header(&mut headers, k, v);
    }
    push_header(&mut headers, "User-Agent", spec.user_agent);
    let body = match spec.body {
        Some((b, ct)) => {
            set_body(&mut headers, b, Some(ct));
            b.to_vec()
        }
        None => {
            set_body(&mut headers, &[], None);
            Vec::new()
        }
    };
    Request {
        method: spec.method,
        uri: spec.uri,
        version: Version::V2,
        headers,
        body,
    }
}

/// Builds a response to a request (RFC 3261 §8.2.6.2): copies Via, From, To, Call-ID and CSeq,
/// adding a To tag when given and the request's To has none.
pub fn build_response(req: &Request, code: u16, to_tag: Option<&str>) -> Response {
    let mut headers = rsip::Headers::default();
    for h in req.headers().iter() {
        let n = h.name();
        let copy = ["Via", "From", "Call-ID", "CSeq", "Record-Route"]
            .iter()
            .any(|k| n.eq_ignore_ascii_case(k));
        if copy {
            headers.push(h.clone());
        } else if n.eq_ignore_ascii_case("To") {
            let v = h.value();
            match (to_tag, name_addr_param(v, "tag")) {
                (Some(t), None) => push_header(&mut headers, "To", format!("{v};tag={t}")),
                _ => headers.push(h.clone()),
            }
        }
    }
    push_header(&mut headers, "Server", crate::sip::USER_AGENT);
    set_body(&mut headers, &[], None);
    Response {
        status_code: StatusCode::from(code),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Sets a response's body (e.g. an SDP answer) with its content type.
pub fn with_body(mut resp: Response, body: Vec<u8>, content_type: &str) -> Response {
    set_body(&mut resp.headers, &body, Some(content_type));
    resp.body = body;
    resp
}

/// Parses a datagram or a framed stream message; the error names why.
pub fn parse(data: &[u8]) -> Result<SipMessage, rsip::Error> {
    rsip::parser::parse_message(data)
}

/// Whether a header is the one named (case-insensitive, compact forms resolved by rsip).
pub fn is_header(h: &Header, name: &str) -> bool {
    h.name().eq_ignore_ascii_case(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:ivr@127.0.0.1:5080 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: \"IVR\" <sip:ivr@127.0.0.1:5080>\r\n\
From: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@127.0.0.1:5060>\r\n\
Content-Length: 0\r\n\r\n";

    fn invite() -> Request {
        match parse(INVITE.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            _ => panic!("not a request"),
        }
    }

    #[test]
    fn reads_dialog_fields() {
        let r = invite();
        assert_eq!(call_id(&r.headers).unwrap(), "a84b4c76e66710@pc33");
        assert_eq!(cseq(&r.headers).unwrap(), (314159, Method::Invite));
        assert_eq!(from_tag(&r.headers).as_deref(), Some("1928301774"));
        assert_eq!(to_tag(&r.headers), None);
        assert_eq!(
            top_via_branch(&r.headers).as_deref(),
            Some("z9hG4bK776asdhds")
        );
        assert_eq!(
            contact_uri(&r.headers).unwrap().to_string(),
            "sip:alice@127.0.0.1:5060"
        );
    }

    #[test]
    fn response_copies_mandatory_headers_and_adds_tag() {
        let r = invite();
        let resp = build_response(&r, 180, Some("xyz"));
        assert_eq!(status(&resp), 180);
        assert_eq!(to_tag(&resp.headers).as_deref(), Some("xyz"));
        assert_eq!(cseq(&resp.headers).unwrap(), (314159, Method::Invite));
        let text = String::from_utf8(resp.to_bytes()).unwrap();
        assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
        let reparsed = parse(text.as_bytes()).unwrap();
        assert!(reparsed.is_response());
    }

    #[test]
    fn name_addr_helpers() {
        assert_eq!(
            name_addr_param("<sip:a@b;lr>;tag=abc;x=1", "tag").as_deref(),
            Some("abc")
        );
        assert_eq!(
            name_addr_param("sip:a@b;tag=q", "tag").as_deref(),
            Some("q")
        );
        assert_eq!(name_addr_uri("\"A, B\" <sip:a@b;lr>;tag=1"), "sip:a@b;lr");
        assert_eq!(
            split_comma_list("<sip:p1;lr>, \"x,y\" <sip:p2;lr>"),
            vec!["<sip:p1;lr>".to_string(), "\"x,y\" <sip:p2;lr>".to_string()]
        );
    }

    #[test]
    fn malformed_fields_are_errors() {
        let mut h = rsip::Headers::default();
        assert_eq!(call_id(&h), Err(MessageError::MissingHeader("Call-ID")));
        push_header(&mut h, "CSeq", "abc INVITE");
        assert_eq!(cseq(&h), Err(MessageError::MalformedHeader("CSeq")));
        assert_eq!(top_via_branch(&h), None);
    }
}
