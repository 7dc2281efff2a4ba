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
    list_elements(value).map(str::to_string).collect()
}

/// The elements of a comma-separated header value, trimmed, empty ones skipped; commas inside
/// `<…>` or quotes do not split.
fn list_elements(value: &str) -> impl Iterator<Item = &str> {
    // Most values hold one element: no comma, no scan of quotes and brackets.
    let mut rest = Some(value);
    let single = !value.contains(',');
    std::iter::from_fn(move || loop {
        let v = rest?;
        if single {
            rest = None;
            let part = v.trim();
            return (!part.is_empty()).then_some(part);
        }
        let (mut depth, mut quoted, mut end) = (0i32, false, None);
        for (i, c) in v.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '<' if !quoted => depth += 1,
                '>' if !quoted => depth -= 1,
                ',' if !quoted && depth <= 0 => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let part = match end {
            Some(i) => {
                rest = Some(&v[i + 1..]);
                v[..i].trim()
            }
            None => {
                rest = None;
                v.trim()
            }
        };
        if !part.is_empty() {
            return Some(part);
        }
    })
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
    token.parse().ok()
}

/// A method's name on the wire.
pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Info => "INFO",
        Method::Invite => "INVITE",
        Method::Message => "MESSAGE",
        Method::Notify => "NOTIFY",
        Method::Options => "OPTIONS",
        Method::PRack => "PRACK",
        Method::Publish => "PUBLISH",
        Method::Refer => "REFER",
        Method::Register => "REGISTER",
        Method::Subscribe => "SUBSCRIBE",
        Method::Update => "UPDATE",
    }
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

/// The first value of a header kind that is not empty, list elements split.
fn first_value<'a>(headers: &'a rsip::Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .find_map(|h| list_elements(h.value()).next())
}

/// The branch parameter of the top Via (RFC 3261 §8.1.1.7).
pub fn top_via_branch(headers: &rsip::Headers) -> Option<String> {
    let via = first_value(headers, "Via")?;
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
    let first = first_value(headers, "Contact")?;
    Uri::try_from(name_addr_uri(first)).ok()
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
    push_body_headers(headers, body, content_type);
}

/// Appends Content-Type (when there is a body) and Content-Length.
fn push_body_headers(headers: &mut rsip::Headers, body: &[u8], content_type: Option<&str>) {
    if let (Some(ct), false) = (content_type, body.is_empty()) {
        headers.push(Header::ContentType(rsip::headers::ContentType::new(ct)));
    }
    headers.push(content_length(body.len()));
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
    use rsip::headers as h;
    // Headers are made as their variants directly: `make_header` finds a variant by comparing
    // the name with every header rsip knows, and a call builds a few dozen headers.
    let mut headers = rsip::Headers::default();
    headers.push(Header::Via(h::Via::new(spec.via)));
    headers.push(Header::MaxForwards(h::MaxForwards::new("70")));
    for r in spec.route {
        headers.push(Header::Route(h::Route::new(r.clone())));
    }
    headers.push(Header::From(h::From::new(spec.from)));
    headers.push(Header::To(h::To::new(spec.to)));
    headers.push(Header::CallId(h::CallId::new(spec.call_id)));
    let mut cseq = String::with_capacity(20);
    push_u32(&mut cseq, spec.cseq);
    cseq.push(' ');
    cseq.push_str(method_name(spec.method));
    headers.push(Header::CSeq(h::CSeq::new(cseq)));
    if let Some(c) = spec.contact {
        headers.push(Header::Contact(h::Contact::new(c)));
    }
    for (k, v) in spec.extra {
        push_header(&mut headers, k, v);
    }
    headers.push(Header::UserAgent(h::UserAgent::new(spec.user_agent)));
    let (body, content_type) = spec.body.unzip();
    let body = body.unwrap_or_default();
    push_body_headers(&mut headers, body, content_type);
    let body = body.to_vec();
    Request {
        method: spec.method,
        uri: spec.uri,
        version: Version::V2,
        headers,
        body,
    }
}

fn content_length(len: usize) -> Header {
    let mut v = String::with_capacity(8);
    v.push_str(itoa::Buffer::new().format(len));
    Header::ContentLength(rsip::headers::ContentLength::new(v))
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
    headers.push(Header::Server(rsip::headers::Server::new(
        crate::sip::USER_AGENT,
    )));
    push_body_headers(&mut headers, &[], None);
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

/// A message as it goes on the wire: the same bytes as rsip's `to_bytes`, written straight
/// into one buffer (rsip formats every header into its own string and joins them).
pub fn encode(msg: &SipMessage) -> Vec<u8> {
    match msg {
        SipMessage::Request(r) => encode_request(r),
        SipMessage::Response(r) => encode_response(r),
    }
}

/// A request as it goes on the wire (see [`encode`]).
pub fn encode_request(req: &Request) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut head = String::with_capacity(wire_len(&req.headers) + 96);
    head.push_str(method_name(req.method));
    head.push(' ');
    let _ = write!(head, "{}", req.uri);
    match req.version {
        Version::V2 => head.push_str(" SIP/2.0\r\n"),
        ref v => {
            let _ = write!(head, " {v}\r\n");
        }
    }
    finish_encoding(head, &req.headers, &req.body)
}

/// A response as it goes on the wire (see [`encode`]).
pub fn encode_response(resp: &Response) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut head = String::with_capacity(wire_len(&resp.headers) + 48);
    match resp.version {
        Version::V2 => head.push_str("SIP/2.0 "),
        ref v => {
            let _ = write!(head, "{v} ");
        }
    }
    push_u32(&mut head, u32::from(resp.status_code.code()));
    head.push(' ');
    head.push_str(resp.status_code.text());
    head.push_str("\r\n");
    finish_encoding(head, &resp.headers, &resp.body)
}

/// The bytes the header lines take (a capacity hint).
fn wire_len(headers: &rsip::Headers) -> usize {
    headers
        .iter()
        .map(|h| h.name().len() + h.value().len() + 4)
        .sum()
}

fn finish_encoding(head: String, headers: &rsip::Headers, body: &[u8]) -> Vec<u8> {
    let mut out = head.into_bytes();
    out.reserve(wire_len(headers) + 2 + body.len());
    for h in headers.iter() {
        out.extend_from_slice(h.name().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Appends a number in decimal without the formatting machinery.
pub fn push_u32(out: &mut String, n: u32) {
    out.push_str(itoa::Buffer::new().format(n));
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
    fn encoding_is_rsips_wire_form() {
        let compact = "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n\
f: <sip:a@b>;tag=1\r\nt: <sip:c@d>;tag=2\r\ni: xyz@h\r\nCSeq: 1 INVITE\r\nm: <sip:c@127.0.0.1:5080>\r\n\
X-Custom: some value\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nc: application/sdp\r\nl: 4\r\n\r\nv=0\n";
        let ok = parse(compact.as_bytes()).unwrap();
        let mut with_body = build_response(&invite(), 486, Some("t1"));
        with_body = with_body_bytes(with_body);
        let odd_version = Response {
            version: Version::V(1, 0),
            ..build_response(&invite(), 180, None)
        };
        let messages = [
            SipMessage::Request(invite()),
            ok,
            SipMessage::Response(with_body),
            SipMessage::Response(odd_version),
            SipMessage::Request(Request {
                headers: rsip::Headers::default(),
                ..invite()
            }),
        ];
        for m in messages {
            assert_eq!(
                String::from_utf8_lossy(&encode(&m)),
                String::from_utf8_lossy(&m.to_bytes())
            );
            assert_eq!(encode(&m), m.to_bytes());
        }
        let mut n = String::new();
        for v in [0, 7, 10, 486, 4_294_967_295] {
            n.clear();
            push_u32(&mut n, v);
            assert_eq!(n, v.to_string());
        }
    }

    fn with_body_bytes(r: Response) -> Response {
        with_body(r, vec![0xff, 0, b'x'], "application/octet-stream")
    }

    #[test]
    fn first_list_element() {
        let mut h = rsip::Headers::default();
        push_header(&mut h, "Via", "");
        push_header(
            &mut h,
            "Via",
            "SIP/2.0/UDP \"x,y\" <a,b>;branch=z9hG4bK1 , SIP/2.0/UDP b;branch=z9hG4bK2",
        );
        assert_eq!(top_via_branch(&h).as_deref(), Some("z9hG4bK1"));
        assert_eq!(list_elements(" a ").collect::<Vec<_>>(), ["a"]);
        assert_eq!(list_elements(" , a,, b ,").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(list_elements(" ,, ").next(), None);
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
