//! SIP dialogs (RFC 3261 §12): the dialog state shared by both ends, the caller's call leg
//! ([`UacCall`]) and the answering leg the reference call center uses ([`UasCall`]).

#[cfg(test)]
#[path = "tests.rs"]
mod leg_tests;
mod uac;
mod uas;

pub use uac::{CallEvent, CallOutcome, UacCall, UacConfig};
pub use uas::{UasCall, UasEvent, UasOutcome};

use super::message::{
    self, build_request, contact_uri, from_tag, header_value, header_values, name_addr_uri, to_tag,
    RequestSpec,
};
use super::rsip::{Method, Request, Response, Uri};
use super::transaction::new_branch;
use std::net::SocketAddr;

/// The transport a SIP message travels on (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// UDP: unreliable, transactions retransmit.
    Udp,
    /// TCP: reliable, stream framed by Content-Length.
    Tcp,
}

impl TransportKind {
    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
        }
    }

    /// Whether transactions on this transport skip retransmissions (RFC 3261 §17.1.1.2).
    pub fn reliability(self) -> super::transaction::Reliability {
        match self {
            TransportKind::Udp => super::transaction::Reliability::Unreliable,
            TransportKind::Tcp => super::transaction::Reliability::Reliable,
        }
    }
}

/// Where this end is reachable: the Via sent-by and the Contact (RFC 3261 §18.1.1, §8.1.1.8).
#[derive(Debug, Clone)]
pub struct LocalEndpoint {
    /// The transport in use.
    pub transport: TransportKind,
    /// The address put in Via sent-by and Contact.
    pub addr: SocketAddr,
    /// The user part of our Contact URI.
    pub user: String,
}

impl LocalEndpoint {
    /// A Via value with a fresh branch; UDP asks for `rport` (RFC 3581).
    pub fn via(&self, branch: &str) -> String {
        let rport = if self.transport == TransportKind::Udp {
            ";rport"
        } else {
            ""
        };
        let mut v = String::with_capacity(48 + branch.len());
        v.push_str("SIP/2.0/");
        v.push_str(self.transport.via_token());
        v.push(' ');
        push_host_port(&mut v, self.addr);
        v.push_str(";branch=");
        v.push_str(branch);
        v.push_str(rport);
        v
    }

    /// Our Contact value.
    pub fn contact(&self) -> String {
        let t = match self.transport {
            TransportKind::Udp => "",
            TransportKind::Tcp => ";transport=tcp",
        };
        let mut c = String::with_capacity(40 + self.user.len());
        c.push_str("<sip:");
        c.push_str(&self.user);
        c.push('@');
        push_host_port(&mut c, self.addr);
        c.push_str(t);
        c.push('>');
        c
    }
}

/// `host:port` with IPv6 in brackets.
pub fn host_port(addr: SocketAddr) -> String {
    let mut s = String::with_capacity(24);
    push_host_port(&mut s, addr);
    s
}

/// Appends `host:port` (IPv6 in brackets); IPv4 without the formatting machinery, which every
/// Via and Contact of every call goes through.
pub fn push_host_port(out: &mut String, addr: SocketAddr) {
    use message::push_u32;
    match addr {
        SocketAddr::V4(a) => {
            let [a0, a1, a2, a3] = a.ip().octets();
            for (i, o) in [a0, a1, a2, a3].into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u32(out, u32::from(o));
            }
        }
        SocketAddr::V6(a) => {
            use std::fmt::Write as _;
            let _ = write!(out, "[{}]", a.ip());
        }
    }
    out.push(':');
    push_u32(out, u32::from(addr.port()));
}

/// A confirmed or early dialog's state (RFC 3261 §12.1).
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The far end's tag.
    pub remote_tag: String,
    /// Our From/To value without tag, as used in requests we send.
    pub local_party: String,
    /// The far end's From/To value without tag.
    pub remote_party: String,
    /// Our CSeq counter for requests we send.
    pub local_cseq: u32,
    /// The highest CSeq the far end sent in the dialog.
    pub remote_cseq: Option<u32>,
    /// Where in-dialog requests go (the far end's Contact).
    pub remote_target: Uri,
    /// Record-Route set, already in the order to put in Route.
    pub route_set: Vec<String>,
}

/// Strips the `tag` parameter from a From/To value.
fn without_tag(value: &str) -> String {
    let mut out = String::new();
    let (addr, params) = match value.rfind('>') {
        Some(i) => (&value[..=i], &value[i + 1..]),
        None => match value.split_once(';') {
            Some((a, p)) => (a, p),
            None => (value, ""),
        },
    };
    out.push_str(addr.trim());
    for p in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let key = p.split('=').next().unwrap_or("");
        if !key.trim().eq_ignore_ascii_case("tag") {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

impl Dialog {
    /// The caller's dialog from its INVITE and a response carrying a To tag (§12.1.2).
    pub fn from_uac(invite: &Request, resp: &Response) -> Option<Dialog> {
        let remote_tag = to_tag(&resp.headers)?;
        let local_tag = from_tag(&invite.headers)?;
        let (cseq, _) = message::cseq(&invite.headers).ok()?;
        let remote_target = contact_uri(&resp.headers).unwrap_or_else(|| invite.uri.clone());
        let mut route_set = header_values(&resp.headers, "Record-Route");
        route_set.reverse();
        Some(Dialog {
            call_id: message::call_id(&invite.headers).ok()?.to_string(),
            local_tag,
            remote_tag,
            local_party: without_tag(header_value(&invite.headers, "From")?),
            remote_party: without_tag(header_value(&resp.headers, "To")?),
            local_cseq: cseq,
            remote_cseq: None,
            remote_target,
            route_set,
        })
    }

    /// The answering side's dialog from a received INVITE and our chosen tag (§12.1.1).
    pub fn from_uas(invite: &Request, local_tag: &str) -> Option<Dialog> {
        let remote_target = contact_uri(&invite.headers)?;
        let (cseq, _) = message::cseq(&invite.headers).ok()?;
        Some(Dialog {
            call_id: message::call_id(&invite.headers).ok()?.to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: from_tag(&invite.headers)?,
            local_party: without_tag(header_value(&invite.headers, "To")?),
            remote_party: without_tag(header_value(&invite.headers, "From")?),
            local_cseq: 0,
            remote_cseq: Some(cseq),
            remote_target,
            route_set: header_values(&invite.headers, "Record-Route"),
        })
    }

    /// Builds an in-dialog request (§12.2.1.1); ACK reuses the INVITE's CSeq number.
    pub fn request(
        &mut self,
        method: Method,
        local: &LocalEndpoint,
        rng: &mut impl rand::Rng,
        extra: Vec<(&'static str, String)>,
        body: Option<(&[u8], &str)>,
        ack_cseq: Option<u32>,
    ) -> Request {
        let cseq = match ack_cseq {
            Some(n) => n,
            None => {
                self.local_cseq += 1;
                self.local_cseq
            }
        };
        let contact = matches!(method, Method::Invite | Method::Update).then(|| local.contact());
        build_request(RequestSpec {
            method,
            uri: self.remote_target.clone(),
            via: local.via(&new_branch(rng)),
            from: format!("{};tag={}", self.local_party, self.local_tag),
            to: format!("{};tag={}", self.remote_party, self.remote_tag),
            call_id: &self.call_id,
            cseq,
            contact,
            route: &self.route_set,
            extra,
            body,
            user_agent: super::USER_AGENT,
        })
    }

    /// Whether a request belongs to this dialog (§12.2.2: Call-ID and both tags).
    pub fn matches(&self, req: &Request) -> bool {
        message::call_id(&req.headers).ok() == Some(self.call_id.as_str())
            && to_tag(&req.headers).as_deref() == Some(self.local_tag.as_str())
            && from_tag(&req.headers).as_deref() == Some(self.remote_tag.as_str())
    }
}

/// A random token for tags and Call-IDs.
pub fn random_token(rng: &mut impl rand::Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The URI part of a From/To value.
pub fn party_uri(value: &str) -> &str {
    name_addr_uri(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_the_tag() {
        assert_eq!(
            without_tag("\"A\" <sip:a@b>;tag=1;x=y"),
            "\"A\" <sip:a@b>;x=y"
        );
        assert_eq!(without_tag("sip:a@b;tag=1"), "sip:a@b");
    }

    #[test]
    fn via_and_contact() {
        let l = LocalEndpoint {
            transport: TransportKind::Udp,
            addr: "[::1]:5060".parse().unwrap(),
            user: "callcert".into(),
        };
        assert_eq!(
            l.via("z9hG4bKx"),
            "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx;rport"
        );
        assert_eq!(l.contact(), "<sip:callcert@[::1]:5060>");
        for a in ["0.0.0.0:0", "10.200.3.255:65535", "[fe80::1]:5"] {
            let a: SocketAddr = a.parse().unwrap();
            let want = match a {
                SocketAddr::V4(v) => v.to_string(),
                SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
            };
            assert_eq!(host_port(a), want);
        }
    }
}
