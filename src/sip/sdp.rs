//! SDP for audio calls (RFC 4566) and the offer/answer model (RFC 3264).
//!
//! [`parse_sdp`] reads what real peers send (CRLF or LF, unknown lines and attributes kept or
//! skipped); [`build_offer`] and [`answer`] write ours; [`NegotiatedMedia`] is what the media
//! layer needs to start RTP, including hold (`a=sendonly`/`inactive`, or the RFC 2543
//! `c=0.0.0.0`) for re-INVITEs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use thiserror::Error;

/// Errors of the SDP layer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// The body has no `v=` line before its first other line (RFC 4566 §5: `v=` comes first).
    #[error("SDP does not start with a v= line")]
    MissingVersion,
    /// `v=` is not `0` (RFC 4566 §5.1).
    #[error("unsupported SDP version {0:?}")]
    UnsupportedVersion(String),
    /// A line we rely on is malformed; `line` is 1-based within the body.
    #[error("SDP line {line} ({kind}=): {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The line's type letter.
        kind: char,
        /// What was wrong.
        reason: &'static str,
    },
    /// No audio stream over RTP/AVP(F) with a non-zero port (RFC 3264 §6: port 0 rejects).
    #[error("no usable audio stream (m=audio with RTP/AVP and a non-zero port)")]
    NoAudio,
    /// The audio stream has no connection address at media or session level (RFC 4566 §5.7).
    #[error("no c= line for the audio stream")]
    MissingConnection,
    /// None of the offered or answered codecs is one we support (RFC 3264 §6.1).
    #[error("no common audio codec")]
    NoCommonCodec,
}

/// Audio codecs callcert negotiates: G.711 at 8 kHz with static payload types (RFC 3551 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioCodec {
    /// G.711 µ-law, `PCMU/8000`, static payload type 0.
    Pcmu,
    /// G.711 A-law, `PCMA/8000`, static payload type 8.
    Pcma,
}

impl AudioCodec {
    /// Every codec, in our default preference order.
    pub const ALL: [AudioCodec; 2] = [AudioCodec::Pcmu, AudioCodec::Pcma];

    /// Static RTP payload type (RFC 3551 Table 4).
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
        }
    }

    /// Encoding name as in `a=rtpmap` (RFC 3551 Table 4).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }

    /// RTP clock rate in Hz.
    pub fn clock_rate(self) -> u32 {
        8000
    }

    /// The codec with this static payload type, used when no `a=rtpmap` names it.
    pub fn from_static_pt(pt: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.payload_type() == pt)
    }

    /// The codec with this encoding name and clock rate (case-insensitive, RFC 4566 §6).
    pub fn from_rtpmap(map: &RtpMap) -> Option<Self> {
        Self::ALL.into_iter().find(|c| {
            map.encoding.eq_ignore_ascii_case(c.encoding_name())
                && map.clock_rate == c.clock_rate()
                && map.channels.is_none_or(|n| n == 1)
        })
    }
}

impl fmt::Display for AudioCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

/// Media direction attribute (RFC 4566 §6, RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `a=sendrecv` (the default when none is given).
    #[default]
    SendRecv,
    /// `a=sendonly`: the side that wrote it only sends (e.g. it put the other on hold).
    SendOnly,
    /// `a=recvonly`: the side that wrote it only receives.
    RecvOnly,
    /// `a=inactive`: neither direction.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn from_attribute(name: &str) -> Option<Self> {
        [
            Self::SendRecv,
            Self::SendOnly,
            Self::RecvOnly,
            Self::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }

    fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// Whether the side holding this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether the side holding this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// The peer's view of this direction (RFC 3264 §6.1: sendonly is answered recvonly).
    pub fn reversed(self) -> Self {
        Self::from_flags(self.receives(), self.sends())
    }

    /// What both allow (our wish combined with what the peer permits).
    pub fn intersect(self, other: Self) -> Self {
        Self::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

/// `o=` origin (RFC 4566 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<username>`, `-` when none.
    pub username: String,
    /// `<sess-id>`.
    pub session_id: u64,
    /// `<sess-version>`: increments whenever the session changes (RFC 3264 §8).
    pub session_version: u64,
    /// `<unicast-address>`: an IP literal or a host name, kept verbatim.
    pub address: String,
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` (RFC 4566 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub pt: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count, when given.
    pub channels: Option<u8>,
}

/// `a=fmtp:<format> <parameters>` (RFC 4566 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The format (payload type) it applies to.
    pub pt: u8,
    /// Parameters, verbatim.
    pub params: String,
}

/// `a=rtcp:<port> [IN IP4|IP6 <addr>]` (RFC 3605 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpAttribute {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when different from the media connection address.
    pub addr: Option<IpAddr>,
}

/// Any other `a=` line, kept verbatim (RFC 4566 §5.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Value after the first `:`, if any.
    pub value: Option<String>,
}

/// One `m=` section (RFC 4566 §5.14) with the attributes we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, …
    pub media: String,
    /// Transport port; 0 means the stream is rejected or disabled (RFC 3264 §6, §8.2).
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, …
    pub proto: String,
    /// Format list (payload types for RTP), in preference order.
    pub formats: Vec<String>,
    /// Media-level `c=` address, overriding the session's.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` lines.
    pub fmtps: Vec<Fmtp>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
    /// `a=rtcp`.
    pub rtcp: Option<RtcpAttribute>,
    /// Other attributes, in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// The payload types in the format list, skipping non-numeric formats.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt <= 127)
    }

    /// The rtpmap for `pt`, if any.
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.pt == pt)
    }

    /// The codec a payload type stands for: its rtpmap, else its static assignment (RFC 3551).
    pub fn codec_of(&self, pt: u8) -> Option<AudioCodec> {
        match self.rtpmap(pt) {
            Some(map) => AudioCodec::from_rtpmap(map),
            None => AudioCodec::from_static_pt(pt),
        }
    }

    /// The payload type of `telephone-event/8000` in the format list (RFC 4733 §7.1.1).
    pub fn telephone_event_pt(&self) -> Option<u8> {
        let listed: Vec<u8> = self.payload_types().collect();
        self.rtpmaps
            .iter()
            .find(|m| {
                m.encoding.eq_ignore_ascii_case("telephone-event")
                    && m.clock_rate == 8000
                    && listed.contains(&m.pt)
            })
            .map(|m| m.pt)
    }

    /// Whether this is an audio stream over plain RTP with a non-zero port.
    pub fn is_usable_audio(&self) -> bool {
        self.media.eq_ignore_ascii_case("audio")
            && self.port != 0
            && (self.proto.eq_ignore_ascii_case("RTP/AVP")
                || self.proto.eq_ignore_ascii_case("RTP/AVPF"))
    }
}

/// A parsed or built session description (RFC 4566 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=`.
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `t=<start> <stop>`; `(0, 0)` for unbounded sessions.
    pub timing: (u64, u64),
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Other session-level attributes.
    pub attributes: Vec<Attribute>,
    /// `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// The first usable audio stream and its index among the `m=` lines.
    pub fn audio(&self) -> Option<(usize, &MediaDescription)> {
        self.media
            .iter()
            .enumerate()
            .find(|(_, m)| m.is_usable_audio())
    }

    /// The direction in force for `media` as its writer means it: media level, else session
    /// level, else sendrecv (RFC 4566 §6). `c=0.0.0.0`/`::` (RFC 3264 §8.4, the RFC 2543 hold)
    /// removes the receive half: the writer wants nothing sent to it.
    pub fn direction_of(&self, media: &MediaDescription) -> Direction {
        let d = media.direction.or(self.direction).unwrap_or_default();
        match self.connection_of(media) {
            Some(addr) if addr.is_unspecified() => d.intersect(Direction::SendOnly),
            _ => d,
        }
    }

    /// The connection address in force for `media`: media level, else session level.
    pub fn connection_of(&self, media: &MediaDescription) -> Option<IpAddr> {
        media.connection.or(self.connection)
    }

    /// The SDP text, CRLF line endings (RFC 4566 §5).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

fn addr_type(addr: &IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        let o_type = match o.address.parse::<IpAddr>() {
            Ok(a) => addr_type(&a),
            Err(_) => "IP4",
        };
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o={} {} {} IN {} {}\r\n",
            o.username, o.session_id, o.session_version, o_type, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(c) = &self.connection {
            write!(f, "c=IN {} {}\r\n", addr_type(c), c)?;
        }
        write!(f, "t={} {}\r\n", self.timing.0, self.timing.1)?;
        if let Some(d) = self.direction {
            write!(f, "a={}\r\n", d.as_str())?;
        }
        write_attributes(f, &self.attributes)?;
        for m in &self.media {
            write!(f, "m={} {} {}", m.media, m.port, m.proto)?;
            for fmt in &m.formats {
                write!(f, " {fmt}")?;
            }
            write!(f, "\r\n")?;
            if let Some(c) = &m.connection {
                write!(f, "c=IN {} {}\r\n", addr_type(c), c)?;
            }
            for r in &m.rtpmaps {
                write!(f, "a=rtpmap:{} {}/{}", r.pt, r.encoding, r.clock_rate)?;
                if let Some(ch) = r.channels {
                    write!(f, "/{ch}")?;
                }
                write!(f, "\r\n")?;
            }
            for p in &m.fmtps {
                write!(f, "a=fmtp:{} {}\r\n", p.pt, p.params)?;
            }
            if let Some(p) = m.ptime {
                write!(f, "a=ptime:{p}\r\n")?;
            }
            if let Some(r) = &m.rtcp {
                write!(f, "a=rtcp:{}", r.port)?;
                if let Some(a) = &r.addr {
                    write!(f, " IN {} {}", addr_type(a), a)?;
                }
                write!(f, "\r\n")?;
            }
            if let Some(d) = m.direction {
                write!(f, "a={}\r\n", d.as_str())?;
            }
            write_attributes(f, &m.attributes)?;
        }
        Ok(())
    }
}

fn write_attributes(f: &mut fmt::Formatter<'_>, attrs: &[Attribute]) -> fmt::Result {
    for a in attrs {
        match &a.value {
            Some(v) => write!(f, "a={}:{}\r\n", a.name, v)?,
            None => write!(f, "a={}\r\n", a.name)?,
        }
    }
    Ok(())
}

/// Parses an SDP body (RFC 4566 §5). Lines end in CRLF or LF; unknown line types and
/// attributes are tolerated; lines before `v=` are an error. Never panics.
pub fn parse_sdp(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = String::from_utf8_lossy(body);
    let mut sdp = SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: 0,
            session_version: 0,
            address: String::new(),
        },
        session_name: String::new(),
        connection: None,
        timing: (0, 0),
        direction: None,
        attributes: Vec::new(),
        media: Vec::new(),
    };
    let mut seen_version = false;
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_end();
        if line.is_empty() {
            continue;
        }
        let mut chars = line.chars();
        let (Some(kind), Some('=')) = (chars.next(), chars.next()) else {
            if !seen_version {
                return Err(SdpError::MissingVersion);
            }
            continue; // not a `x=` line: tolerated
        };
        let value = &line[kind.len_utf8() + 1..];
        let bad = |reason| SdpError::Malformed {
            line: line_no,
            kind,
            reason,
        };
        if !seen_version {
            if kind != 'v' {
                return Err(SdpError::MissingVersion);
            }
            if value.trim() != "0" {
                return Err(SdpError::UnsupportedVersion(value.to_string()));
            }
            seen_version = true;
            continue;
        }
        match kind {
            'o' => {
                sdp.origin = parse_origin(value)
                    .ok_or_else(|| bad("expected <user> <id> <version> IN IP4|IP6 <address>"))?
            }
            's' => sdp.session_name = value.to_string(),
            'c' => {
                let addr =
                    parse_connection(value).ok_or_else(|| bad("expected IN IP4|IP6 <address>"))?;
                match sdp.media.last_mut() {
                    Some(m) => m.connection = Some(addr),
                    None => sdp.connection = Some(addr),
                }
            }
            't' if sdp.media.is_empty() => {
                let mut it = value.split_ascii_whitespace().map(str::parse::<u64>);
                match (it.next(), it.next()) {
                    (Some(Ok(a)), Some(Ok(b))) => sdp.timing = (a, b),
                    _ => return Err(bad("expected <start> <stop>")),
                }
            }
            'm' => sdp.media.push(
                parse_media(value)
                    .ok_or_else(|| bad("expected <media> <port> <proto> <fmt>..."))?,
            ),
            'a' => {
                let (name, val) = match value.split_once(':') {
                    Some((n, v)) => (n, Some(v)),
                    None => (value, None),
                };
                match sdp.media.last_mut() {
                    None => match Direction::from_attribute(name) {
                        Some(d) if val.is_none() => sdp.direction = Some(d),
                        _ => sdp.attributes.push(Attribute {
                            name: name.to_string(),
                            value: val.map(str::to_string),
                        }),
                    },
                    Some(m) => parse_media_attribute(m, name, val).map_err(bad)?,
                }
            }
            _ => {} // b=, i=, u=, e=, p=, z=, k=, r=, unknown: tolerated
        }
    }
    if !seen_version {
        return Err(SdpError::MissingVersion);
    }
    Ok(sdp)
}

fn parse_origin(value: &str) -> Option<Origin> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [username, id, version, _net, _atype, address] = f.as_slice() else {
        return None;
    };
    Some(Origin {
        username: username.to_string(),
        session_id: id.parse().ok()?,
        session_version: version.parse().ok()?,
        address: address.to_string(),
    })
}

/// `IN IP4 <addr>[/ttl[/n]]` → the address.
fn parse_connection(value: &str) -> Option<IpAddr> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [net, _atype, addr] = f.as_slice() else {
        return None;
    };
    if !net.eq_ignore_ascii_case("IN") {
        return None;
    }
    let addr = addr.split('/').next()?;
    addr.parse().ok()
}

fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut f = value.split_ascii_whitespace();
    let media = f.next()?.to_string();
    let port = f.next()?.split('/').next()?.parse().ok()?;
    let proto = f.next()?.to_string();
    Some(MediaDescription {
        media,
        port,
        proto,
        formats: f.map(str::to_string).collect(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: None,
        rtcp: None,
        attributes: Vec::new(),
    })
}

fn parse_pt(s: &str) -> Option<u8> {
    s.trim().parse::<u8>().ok().filter(|pt| *pt <= 127)
}

fn parse_media_attribute(
    m: &mut MediaDescription,
    name: &str,
    val: Option<&str>,
) -> Result<(), &'static str> {
    match (name.to_ascii_lowercase().as_str(), val) {
        ("rtpmap", Some(v)) => {
            let (pt, rest) = v
                .trim()
                .split_once(' ')
                .ok_or("rtpmap: expected <pt> <encoding>/<clock>")?;
            let pt = parse_pt(pt).ok_or("rtpmap: payload type must be 0..=127")?;
            let mut parts = rest.trim().split('/');
            let encoding = parts.next().unwrap_or_default().to_string();
            let clock_rate = parts
                .next()
                .and_then(|c| c.trim().parse().ok())
                .ok_or("rtpmap: expected a clock rate")?;
            let channels = match parts.next() {
                Some(c) => Some(c.trim().parse().map_err(|_| "rtpmap: bad channel count")?),
                None => None,
            };
            if encoding.is_empty() {
                return Err("rtpmap: empty encoding name");
            }
            m.rtpmaps.push(RtpMap {
                pt,
                encoding,
                clock_rate,
                channels,
            });
        }
        ("fmtp", Some(v)) => {
            let (pt, params) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
            match parse_pt(pt) {
                Some(pt) => m.fmtps.push(Fmtp {
                    pt,
                    params: params.trim().to_string(),
                }),
                None => m.attributes.push(Attribute {
                    name: name.to_string(),
                    value: Some(v.to_string()),
                }),
            }
        }
        ("ptime", Some(v)) => {
            let v = v.trim();
            let ms = v
                .parse::<u32>()
                .ok()
                .or_else(|| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x >= 0.0 && *x < 1e6)
                        .map(|x| x.round() as u32)
                })
                .ok_or("ptime: expected milliseconds")?;
            m.ptime = Some(ms);
        }
        ("rtcp", Some(v)) => {
            let mut f = v.split_ascii_whitespace();
            let port = f
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or("rtcp: expected a port")?;
            let addr = match (f.next(), f.next(), f.next()) {
                (Some(_net), Some(_t), Some(a)) => a.split('/').next().and_then(|a| a.parse().ok()),
                _ => None,
            };
            m.rtcp = Some(RtcpAttribute { port, addr });
        }
        (n, None) if Direction::from_attribute(n).is_some() => {
            m.direction = Direction::from_attribute(n);
        }
        _ => m.attributes.push(Attribute {
            name: name.to_string(),
            value: val.map(str::to_string),
        }),
    }
    Ok(())
}

/// The RFC 4733 events we offer and answer: DTMF 0–9, *, #, A–D and flash (§3.2).
const TELEPHONE_EVENTS: &str = "0-16";

/// Packetisation time we send (RFC 3551 §4.5: G.711 default 20 ms).
const PTIME_MS: u32 = 20;

/// What our offer contains (RFC 3264 §5).
#[derive(Debug, Clone, Copy)]
pub struct OfferParams<'a> {
    /// Address the RTP socket is bound to, advertised in `o=` and `c=`.
    pub addr: IpAddr,
    /// RTP port (RTCP is the next port, RFC 3550 §11).
    pub rtp_port: u16,
    /// Codecs to offer, in preference order.
    pub codecs: &'a [AudioCodec],
    /// Payload type for `telephone-event/8000` (RFC 4733), usually 101; `None` offers no DTMF.
    pub telephone_event_pt: Option<u8>,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` session version: increment for each new offer in the session (RFC 3264 §8).
    pub version: u64,
    /// Our direction: `SendOnly` to put the peer on hold (RFC 3264 §8.4).
    pub direction: Direction,
}

/// Builds our SDP offer (RFC 3264 §5): one audio stream, CRLF line endings.
pub fn build_offer(params: &OfferParams<'_>) -> Vec<u8> {
    let mut formats: Vec<String> = params
        .codecs
        .iter()
        .map(|c| c.payload_type().to_string())
        .collect();
    let mut rtpmaps: Vec<RtpMap> = params.codecs.iter().map(|c| codec_rtpmap(*c)).collect();
    let mut fmtps = Vec::new();
    if let Some(pt) = params.telephone_event_pt {
        formats.push(pt.to_string());
        rtpmaps.push(telephone_event_rtpmap(pt));
        fmtps.push(Fmtp {
            pt,
            params: TELEPHONE_EVENTS.into(),
        });
    }
    local_description(
        params.addr,
        params.session_id,
        params.version,
        vec![MediaDescription {
            media: "audio".into(),
            port: params.rtp_port,
            proto: "RTP/AVP".into(),
            formats,
            connection: None,
            rtpmaps,
            fmtps,
            ptime: Some(PTIME_MS),
            direction: Some(params.direction),
            rtcp: None,
            attributes: Vec::new(),
        }],
    )
    .to_bytes()
}

fn codec_rtpmap(c: AudioCodec) -> RtpMap {
    RtpMap {
        pt: c.payload_type(),
        encoding: c.encoding_name().into(),
        clock_rate: c.clock_rate(),
        channels: None,
    }
}

fn telephone_event_rtpmap(pt: u8) -> RtpMap {
    RtpMap {
        pt,
        encoding: "telephone-event".into(),
        clock_rate: 8000,
        channels: None,
    }
}

fn local_description(
    addr: IpAddr,
    session_id: u64,
    version: u64,
    media: Vec<MediaDescription>,
) -> SessionDescription {
    SessionDescription {
        origin: Origin {
            username: "callcert".into(),
            session_id,
            session_version: version,
            address: addr.to_string(),
        },
        session_name: "callcert".into(),
        connection: Some(addr),
        timing: (0, 0),
        direction: None,
        attributes: Vec::new(),
        media,
    }
}

/// How we answer an offer (RFC 3264 §6).
#[derive(Debug, Clone, Copy)]
pub struct AnswerParams<'a> {
    /// Address the RTP socket is bound to.
    pub addr: IpAddr,
    /// RTP port.
    pub rtp_port: u16,
    /// Codecs we accept; the offerer's order decides among them (RFC 3264 §6.1).
    pub supported: &'a [AudioCodec],
    /// Accept `telephone-event` when offered, echoing its payload type.
    pub telephone_event: bool,
    /// `o=` session id (constant for the dialog).
    pub session_id: u64,
    /// `o=` session version (increment when our description changes, RFC 3264 §8).
    pub version: u64,
    /// The most we want: `SendRecv` normally, `SendOnly` to hold the peer ourselves.
    pub direction: Direction,
}

/// An SDP answer and what it agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The answer body.
    pub sdp: Vec<u8>,
    /// The agreed media, from our side.
    pub negotiated: NegotiatedMedia,
}

/// The media both sides agreed, from our side: where to send, in which format, which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Where to send RTP (the peer's connection address and port).
    pub remote: SocketAddr,
    /// The audio codec.
    pub codec: AudioCodec,
    /// Its payload type on the wire.
    pub pt: u8,
    /// The RFC 4733 payload type, when both sides do telephone-event.
    pub telephone_event_pt: Option<u8>,
    /// Our direction: whether we may send and whether we will receive.
    pub direction: Direction,
}

impl NegotiatedMedia {
    /// Whether the peer holds us: we must not send (`a=sendonly`/`inactive` or `c=0.0.0.0`
    /// from the peer, RFC 3264 §8.4).
    pub fn is_held(&self) -> bool {
        !self.direction.sends()
    }

    /// The agreed media from the answer to our offer (RFC 3264 §7): the first answered format
    /// that we offered, telephone-event when answered, and our `wanted` direction as the
    /// answer permits it.
    pub fn from_answer(
        answer: &SessionDescription,
        offered: &[AudioCodec],
        wanted: Direction,
    ) -> Result<Self, SdpError> {
        let (_, m) = answer.audio().ok_or(SdpError::NoAudio)?;
        let (codec, pt) = m
            .payload_types()
            .find_map(|pt| {
                m.codec_of(pt)
                    .filter(|c| offered.contains(c))
                    .map(|c| (c, pt))
            })
            .ok_or(SdpError::NoCommonCodec)?;
        Ok(NegotiatedMedia {
            remote: remote_of(answer, m)?,
            codec,
            pt,
            telephone_event_pt: m.telephone_event_pt(),
            direction: wanted.intersect(answer.direction_of(m).reversed()),
        })
    }
}

fn remote_of(sdp: &SessionDescription, m: &MediaDescription) -> Result<SocketAddr, SdpError> {
    let ip = sdp.connection_of(m).ok_or(SdpError::MissingConnection)?;
    Ok(SocketAddr::new(ip, m.port))
}

/// The agreed media from an SDP answer body to our offer of `offered` (RFC 3264 §7), wanting
/// sendrecv; see [`NegotiatedMedia::from_answer`].
pub fn negotiated_from_answer(
    answer: &[u8],
    offered: &[AudioCodec],
) -> Result<NegotiatedMedia, SdpError> {
    NegotiatedMedia::from_answer(&parse_sdp(answer)?, offered, Direction::SendRecv)
}

/// Answers an offer with `supported` codecs at `addr`:`rtp_port` (RFC 3264 §6), accepting
/// telephone-event and wanting sendrecv; see [`answer_with`].
///
/// The `o=` line carries session id `rtp_port` and version 1. A re-INVITE's answer must keep the
/// dialog's `o=` and raise its version (RFC 3264 §8): use [`answer_with`] for those.
pub fn answer(
    offer: &SessionDescription,
    supported: &[AudioCodec],
    addr: IpAddr,
    rtp_port: u16,
) -> Result<Answer, SdpError> {
    answer_with(
        offer,
        &AnswerParams {
            addr,
            rtp_port,
            supported,
            telephone_event: true,
            session_id: u64::from(rtp_port),
            version: 1,
            direction: Direction::SendRecv,
        },
    )
}

/// Answers an offer (RFC 3264 §6): the first offered codec we support (offer order), echoing its
/// payload type and telephone-event's; one `m=` line per offered one, the others rejected with
/// port 0 (§6: same count and order); the direction reversed and limited by ours (§6.1).
pub fn answer_with(
    offer: &SessionDescription,
    params: &AnswerParams<'_>,
) -> Result<Answer, SdpError> {
    let (index, m) = offer.audio().ok_or(SdpError::NoAudio)?;
    let (codec, pt) = m
        .payload_types()
        .find_map(|pt| {
            m.codec_of(pt)
                .filter(|c| params.supported.contains(c))
                .map(|c| (c, pt))
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let remote = remote_of(offer, m)?;
    let te = params
        .telephone_event
        .then(|| m.telephone_event_pt())
        .flatten();
    let direction = params.direction.intersect(offer.direction_of(m).reversed());
    let mut rtpmaps = vec![RtpMap {
        pt,
        ..codec_rtpmap(codec)
    }];
    let mut formats = vec![pt.to_string()];
    let mut fmtps = Vec::new();
    if let Some(te) = te {
        formats.push(te.to_string());
        rtpmaps.push(telephone_event_rtpmap(te));
        fmtps.push(Fmtp {
            pt: te,
            params: TELEPHONE_EVENTS.into(),
        });
    }
    let media = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, o)| {
            if i == index {
                MediaDescription {
                    media: o.media.clone(),
                    port: params.rtp_port,
                    proto: o.proto.clone(),
                    formats: formats.clone(),
                    connection: None,
                    rtpmaps: rtpmaps.clone(),
                    fmtps: fmtps.clone(),
                    ptime: Some(PTIME_MS),
                    direction: Some(direction),
                    rtcp: None,
                    attributes: Vec::new(),
                }
            } else {
                rejected(o)
            }
        })
        .collect();
    let sdp = local_description(params.addr, params.session_id, params.version, media);
    Ok(Answer {
        sdp: sdp.to_bytes(),
        negotiated: NegotiatedMedia {
            remote,
            codec,
            pt,
            telephone_event_pt: te,
            direction,
        },
    })
}

/// An `m=` line refused with port 0, keeping one format so the line stays valid (RFC 3264 §6).
fn rejected(offered: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: offered.media.clone(),
        port: 0,
        proto: offered.proto.clone(),
        formats: offered
            .formats
            .first()
            .cloned()
            .into_iter()
            .collect::<Vec<_>>(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: None,
        rtcp: None,
        attributes: Vec::new(),
    }
}

/// The unspecified address of a family, for `c=` lines of streams that are put on hold the
/// RFC 2543 way (prefer `a=sendonly`; RFC 3264 §8.4).
pub fn unspecified(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// SIPp's built-in uac scenario body (sip-tester 3.x `uac` with `[media_ip]` filled in).
    const SIPP: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.1.1\r\n\
s=-\r\n\
c=IN IP4 127.0.1.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

    /// baresip 3.x offering many codecs, media-level c=, rtcp-mux and extensions.
    const BARESIP: &str = "v=0\r\n\
o=- 1913449367 3621617591 IN IP4 192.168.1.20\r\n\
s=-\r\n\
c=IN IP4 192.168.1.20\r\n\
t=0 0\r\n\
a=tool:baresip 3.10.1\r\n\
m=audio 34354 RTP/AVP 96 97 9 0 8 101\r\n\
b=AS:125\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 stereo=1;sprop-stereo=1\r\n\
a=rtpmap:97 G7221/16000\r\n\
a=fmtp:97 bitrate=32000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtcp-mux\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:2947196207 cname:d4c2c3a7-2a6b\r\n\
a=ptime:20\r\n";

    /// Asterisk 20 (chan_pjsip) answer-style body: session-level c=, alaw preferred,
    /// telephone-event on pt 101, maxptime.
    const ASTERISK: &str = "v=0\r\n\
o=- 1683622914 1683622916 IN IP4 10.0.0.5\r\n\
s=Asterisk\r\n\
c=IN IP4 10.0.0.5\r\n\
t=0 0\r\n\
m=audio 17774 RTP/AVP 8 0 3 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

    /// IPv6 with LF-only endings, static payload types without rtpmap, and an rtcp attribute.
    const IPV6_LF: &str = "v=0\n\
o=alice 2890844526 2890844527 IN IP6 2001:db8::1\n\
s=call\n\
t=0 0\n\
m=audio 49170 RTP/AVP 8 0\n\
c=IN IP6 2001:db8::1\n\
a=rtcp:53020 IN IP6 2001:db8::2\n";

    fn params(supported: &[AudioCodec]) -> AnswerParams<'_> {
        AnswerParams {
            addr: "127.0.0.1".parse().expect("literal"),
            rtp_port: 40000,
            supported,
            telephone_event: true,
            session_id: 42,
            version: 1,
            direction: Direction::SendRecv,
        }
    }

    #[test]
    fn parses_sipp_default() {
        let s = parse_sdp(SIPP.as_bytes()).expect("parses");
        assert_eq!(s.origin.session_id, 53655765);
        assert_eq!(s.origin.session_version, 2353687637);
        let (_, m) = s.audio().expect("audio");
        assert_eq!(m.port, 6000);
        assert_eq!(m.codec_of(0), Some(AudioCodec::Pcmu));
        let a = answer_with(&s, &params(&AudioCodec::ALL)).expect("answers");
        assert_eq!(a.negotiated.codec, AudioCodec::Pcmu);
        assert_eq!(
            a.negotiated.remote,
            "127.0.1.1:6000".parse().expect("literal")
        );
        assert_eq!(a.negotiated.telephone_event_pt, None);
        assert_eq!(a.negotiated.direction, Direction::SendRecv);
    }

    #[test]
    fn parses_baresip_many_codecs() {
        let s = parse_sdp(BARESIP.as_bytes()).expect("parses");
        let (_, m) = s.audio().expect("audio");
        assert_eq!(m.rtpmaps.len(), 6);
        assert_eq!(m.telephone_event_pt(), Some(101));
        assert_eq!(m.ptime, Some(20));
        assert_eq!(m.rtpmap(96).and_then(|r| r.channels), Some(2));
        assert!(m.attributes.iter().any(|a| a.name == "rtcp-mux"));
        assert_eq!(s.attributes[0].name, "tool");
        // Offer order decides: PCMU (pt 0) comes before PCMA (pt 8) in baresip's list.
        let a = answer_with(&s, &params(&[AudioCodec::Pcma, AudioCodec::Pcmu])).expect("answers");
        assert_eq!((a.negotiated.codec, a.negotiated.pt), (AudioCodec::Pcmu, 0));
        assert_eq!(a.negotiated.telephone_event_pt, Some(101));
        let text = String::from_utf8(a.sdp).expect("utf8");
        assert!(text.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{text}");
        assert!(
            text.contains("a=rtpmap:101 telephone-event/8000\r\n"),
            "{text}"
        );
    }

    #[test]
    fn parses_asterisk() {
        let s = parse_sdp(ASTERISK.as_bytes()).expect("parses");
        let (_, m) = s.audio().expect("audio");
        assert_eq!(s.session_name, "Asterisk");
        assert_eq!(s.direction_of(m), Direction::SendRecv);
        let a = answer_with(&s, &params(&AudioCodec::ALL)).expect("answers");
        assert_eq!(a.negotiated.codec, AudioCodec::Pcma);
        assert_eq!(a.negotiated.pt, 8);
        // As an answer to our offer.
        let n = NegotiatedMedia::from_answer(&s, &[AudioCodec::Pcmu], Direction::SendRecv)
            .expect("pcmu is in the answer");
        assert_eq!((n.codec, n.pt), (AudioCodec::Pcmu, 0));
        assert_eq!(n.remote, "10.0.0.5:17774".parse().expect("literal"));
        assert_eq!(n.telephone_event_pt, Some(101));
    }

    #[test]
    fn parses_ipv6_lf() {
        let s = parse_sdp(IPV6_LF.as_bytes()).expect("parses");
        assert_eq!(s.connection, None);
        let (_, m) = s.audio().expect("audio");
        assert_eq!(
            m.rtcp,
            Some(RtcpAttribute {
                port: 53020,
                addr: Some("2001:db8::2".parse().expect("literal"))
            })
        );
        let a = answer_with(&s, &params(&AudioCodec::ALL)).expect("answers");
        assert_eq!(
            a.negotiated.remote,
            "[2001:db8::1]:49170".parse().expect("literal")
        );
        assert_eq!(a.negotiated.codec, AudioCodec::Pcma);
    }

    #[test]
    fn offer_round_trips_and_negotiates() {
        let offer = build_offer(&OfferParams {
            addr: "::1".parse().expect("literal"),
            rtp_port: 30000,
            codecs: &[AudioCodec::Pcma, AudioCodec::Pcmu],
            telephone_event_pt: Some(101),
            session_id: 7,
            version: 2,
            direction: Direction::SendRecv,
        });
        let text = String::from_utf8(offer.clone()).expect("utf8");
        assert_eq!(
            text,
            "v=0\r\no=callcert 7 2 IN IP6 ::1\r\ns=callcert\r\nc=IN IP6 ::1\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        let parsed = parse_sdp(&offer).expect("own offer parses");
        assert_eq!(parse_sdp(&parsed.to_bytes()).expect("re-parses"), parsed);
        // The reference call center answers; the caller reads the answer.
        let a = answer_with(&parsed, &params(&AudioCodec::ALL)).expect("answers");
        assert_eq!(a.negotiated.codec, AudioCodec::Pcma);
        assert_eq!(a.negotiated.remote, "[::1]:30000".parse().expect("literal"));
        let ans = parse_sdp(&a.sdp).expect("answer parses");
        let n = NegotiatedMedia::from_answer(
            &ans,
            &[AudioCodec::Pcma, AudioCodec::Pcmu],
            Direction::SendRecv,
        )
        .expect("agrees");
        assert_eq!(n.codec, AudioCodec::Pcma);
        assert_eq!(n.telephone_event_pt, Some(101));
        assert_eq!(n.remote, "127.0.0.1:40000".parse().expect("literal"));
        assert!(!n.is_held());
    }

    /// Offered codecs × supported codecs × telephone-event.
    #[test]
    fn offer_answer_matrix() {
        use AudioCodec::*;
        let cases: &[(&[AudioCodec], &[AudioCodec], Option<AudioCodec>)] = &[
            (&[Pcmu], &[Pcmu], Some(Pcmu)),
            (&[Pcmu], &[Pcma], None),
            (&[Pcma], &[Pcmu, Pcma], Some(Pcma)),
            (&[Pcmu, Pcma], &[Pcma], Some(Pcma)),
            (&[Pcma, Pcmu], &[Pcmu, Pcma], Some(Pcma)),
            (&[Pcmu, Pcma], &[Pcma, Pcmu], Some(Pcmu)),
            (&[], &[Pcmu, Pcma], None),
        ];
        for (offered, supported, want) in cases {
            for te in [None, Some(101u8), Some(96)] {
                let offer = parse_sdp(&build_offer(&OfferParams {
                    addr: "10.1.1.1".parse().expect("literal"),
                    rtp_port: 5004,
                    codecs: offered,
                    telephone_event_pt: te,
                    session_id: 1,
                    version: 1,
                    direction: Direction::SendRecv,
                }))
                .expect("parses");
                for accept_te in [false, true] {
                    let mut p = params(supported);
                    p.telephone_event = accept_te;
                    match (answer_with(&offer, &p), want) {
                        (Ok(a), Some(c)) => {
                            assert_eq!(a.negotiated.codec, *c);
                            assert_eq!(a.negotiated.pt, c.payload_type());
                            let want_te = if accept_te { te } else { None };
                            assert_eq!(a.negotiated.telephone_event_pt, want_te);
                            let back = NegotiatedMedia::from_answer(
                                &parse_sdp(&a.sdp).expect("parses"),
                                offered,
                                Direction::SendRecv,
                            )
                            .expect("caller agrees");
                            assert_eq!((back.codec, back.telephone_event_pt), (*c, want_te));
                        }
                        (Err(e), None) => assert_eq!(e, SdpError::NoCommonCodec),
                        (got, want) => panic!("{offered:?}/{supported:?}: {got:?} vs {want:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn dynamic_and_renamed_payload_types() {
        // PCMU on a dynamic pt, lower-case name; pt 0 remapped to something else.
        let s = parse_sdp(
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
m=audio 1000 RTP/AVP 0 99 102\r\na=rtpmap:0 speex/8000\r\na=rtpmap:99 pcmu/8000\r\n\
a=rtpmap:102 Telephone-Event/8000\r\n",
        )
        .expect("parses");
        let a = answer_with(&s, &params(&AudioCodec::ALL)).expect("answers");
        assert_eq!(
            (a.negotiated.codec, a.negotiated.pt),
            (AudioCodec::Pcmu, 99)
        );
        assert_eq!(a.negotiated.telephone_event_pt, Some(102));
        let text = String::from_utf8(a.sdp).expect("utf8");
        assert!(
            text.contains("m=audio 40000 RTP/AVP 99 102\r\na=rtpmap:99 PCMU/8000"),
            "{text}"
        );
    }

    #[test]
    fn rejects_other_streams_with_port_zero() {
        let s = parse_sdp(
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
m=video 2000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 0 RTP/AVP 0\r\n\
m=audio 1000 RTP/SAVP 0\r\nm=audio 1002 RTP/AVP 8\r\n",
        )
        .expect("parses");
        let a = answer_with(&s, &params(&AudioCodec::ALL)).expect("answers");
        let ans = parse_sdp(&a.sdp).expect("parses");
        let ports: Vec<u16> = ans.media.iter().map(|m| m.port).collect();
        assert_eq!(ports, vec![0, 0, 0, 40000]);
        assert_eq!(a.negotiated.remote.port(), 1002);
    }

    #[test]
    fn hold_detection() {
        let base = "v=0\r\no=- 1 2 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
m=audio 7000 RTP/AVP 0\r\n";
        let cases = [
            ("", Direction::SendRecv, false),
            ("a=sendonly\r\n", Direction::RecvOnly, true),
            ("a=inactive\r\n", Direction::Inactive, true),
            ("a=recvonly\r\n", Direction::SendOnly, false),
        ];
        for (attr, ours, held) in cases {
            let s = parse_sdp(format!("{base}{attr}").as_bytes()).expect("parses");
            let a = answer_with(&s, &params(&AudioCodec::ALL)).expect("answers");
            assert_eq!(a.negotiated.direction, ours, "{attr}");
            assert_eq!(a.negotiated.is_held(), held, "{attr}");
            let text = String::from_utf8(a.sdp).expect("utf8");
            assert!(text.contains(&format!("a={}\r\n", ours.as_str())), "{text}");
        }
        // Session-level sendonly applies to the stream.
        let s = parse_sdp(
            b"v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\na=sendonly\r\n\
m=audio 7000 RTP/AVP 0\r\n",
        )
        .expect("parses");
        assert!(answer_with(&s, &params(&AudioCodec::ALL))
            .expect("answers")
            .negotiated
            .is_held());
        // RFC 2543 hold: c=0.0.0.0 (media level) with sendrecv.
        let s = parse_sdp(
            b"v=0\r\no=- 1 3 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\n\
m=audio 7000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\n",
        )
        .expect("parses");
        let n = answer_with(&s, &params(&AudioCodec::ALL))
            .expect("answers")
            .negotiated;
        assert!(n.is_held());
        assert_eq!(n.direction, Direction::RecvOnly);
        // And unhold.
        let s = parse_sdp(format!("{base}a=sendrecv\r\n").as_bytes()).expect("parses");
        assert!(!answer_with(&s, &params(&AudioCodec::ALL))
            .expect("answers")
            .negotiated
            .is_held());
        // The answer to our hold offer (we sent sendonly, they answer recvonly).
        let s = parse_sdp(format!("{base}a=recvonly\r\n").as_bytes()).expect("parses");
        let n = NegotiatedMedia::from_answer(&s, &[AudioCodec::Pcmu], Direction::SendOnly)
            .expect("agrees");
        assert_eq!(n.direction, Direction::SendOnly);
        assert_eq!(
            unspecified("::1".parse().expect("literal")).to_string(),
            "::"
        );
    }

    #[test]
    fn convenience_wrappers() {
        let offer = parse_sdp(ASTERISK.as_bytes()).expect("parses");
        let a = answer(
            &offer,
            &AudioCodec::ALL,
            "127.0.0.1".parse().expect("literal"),
            4000,
        )
        .expect("answers");
        assert_eq!(a.negotiated.codec, AudioCodec::Pcma);
        assert_eq!(a.negotiated.telephone_event_pt, Some(101));
        let n = negotiated_from_answer(&a.sdp, &[AudioCodec::Pcma]).expect("agrees");
        assert_eq!(n.remote, "127.0.0.1:4000".parse().expect("literal"));
        assert_eq!(
            negotiated_from_answer(b"garbage", &AudioCodec::ALL),
            Err(SdpError::MissingVersion)
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse_sdp(b""), Err(SdpError::MissingVersion));
        assert_eq!(parse_sdp(b"hello"), Err(SdpError::MissingVersion));
        assert_eq!(
            parse_sdp(b"o=- 1 1 IN IP4 1.1.1.1\r\nv=0\r\n"),
            Err(SdpError::MissingVersion)
        );
        assert_eq!(
            parse_sdp(b"v=1\r\n"),
            Err(SdpError::UnsupportedVersion("1".into()))
        );
        assert!(matches!(
            parse_sdp(b"v=0\r\nm=audio port RTP/AVP 0\r\n"),
            Err(SdpError::Malformed {
                line: 2,
                kind: 'm',
                ..
            })
        ));
        assert!(matches!(
            parse_sdp(b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:200 PCMU/8000\r\n"),
            Err(SdpError::Malformed {
                line: 3,
                kind: 'a',
                ..
            })
        ));
        assert!(matches!(
            parse_sdp(b"v=0\r\nc=IN IP4 not-an-ip\r\n"),
            Err(SdpError::Malformed { kind: 'c', .. })
        ));
        let no_c = parse_sdp(b"v=0\r\nm=audio 1 RTP/AVP 0\r\n").expect("parses");
        assert_eq!(
            answer_with(&no_c, &params(&AudioCodec::ALL)),
            Err(SdpError::MissingConnection)
        );
        let no_audio =
            parse_sdp(b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=video 1 RTP/AVP 96\r\n").expect("parses");
        assert_eq!(
            answer_with(&no_audio, &params(&AudioCodec::ALL)),
            Err(SdpError::NoAudio)
        );
        // Unknown line types and odd lines are tolerated.
        let s = parse_sdp(
            b"v=0\r\nx=whatever\r\nnot a line\r\nc=IN IP4 1.1.1.1/127\r\nm=audio 9 RTP/AVP 0\r\n",
        )
        .expect("tolerant");
        assert_eq!(s.connection, Some("1.1.1.1".parse().expect("literal")));
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = StdRng::seed_from_u64(4566);
        let pieces: &[&[u8]] = &[
            b"v=0\r\n",
            b"m=audio ",
            b"c=IN IP4 ",
            b"c=IN IP6 ::",
            b"a=rtpmap:",
            b"a=fmtp:",
            b"a=ptime:",
            b"a=rtcp:",
            b"a=sendonly",
            b"o=",
            b" ",
            b"/",
            b":",
            b"0",
            b"101",
            b"99999999999999999999",
            b"\r\n",
            b"\n",
            b"\xff\xfe",
            b"\xc3",
            b"=",
            b"RTP/AVP",
            b"telephone-event/8000",
            b"PCMU/8000/",
            b"-1",
            b"1.2.3.4",
            b"\0",
        ];
        let supported = AudioCodec::ALL;
        for _ in 0..20_000 {
            let mut body = Vec::new();
            for _ in 0..rng.random_range(0..40) {
                body.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
            }
            if let Ok(s) = parse_sdp(&body) {
                let _ = answer_with(&s, &params(&supported));
                let _ = NegotiatedMedia::from_answer(&s, &supported, Direction::SendRecv);
                let _ = parse_sdp(&s.to_bytes());
            }
            let random: Vec<u8> = (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect();
            let _ = parse_sdp(&random);
        }
    }
}
