//! RTCP (RFC 3550 §6): compound packets of Sender Reports, Receiver Reports and SDES CNAME.
//!
//! One file per wire type: [`sr`], [`rr`], [`report_block`], [`sdes`], and [`ntp`] for the
//! timestamp format. Other packet types (BYE, APP, feedback, XR) are kept as opaque
//! [`RtcpPacket::Other`] so a compound packet that carries them still parses.

pub mod ntp;
pub mod report_block;
pub mod rr;
pub mod sdes;
pub mod sr;

pub use report_block::ReportBlock;
pub use rr::ReceiverReport;
pub use sdes::{SdesChunk, SourceDescription};
pub use sr::SenderReport;

/// Length of the common RTCP header: V, P, count, PT, length (RFC 3550 §6.4.1).
pub const HEADER_LEN: usize = 4;

/// Packet type of a Sender Report (RFC 3550 §12.1).
pub const PT_SR: u8 = 200;
/// Packet type of a Receiver Report.
pub const PT_RR: u8 = 201;
/// Packet type of a Source Description.
pub const PT_SDES: u8 = 202;
/// Packet type of a BYE.
pub const PT_BYE: u8 = 203;
/// Packet type of an APP packet.
pub const PT_APP: u8 = 204;

/// Largest report or chunk count: the 5-bit count field (RFC 3550 §6.4.1).
pub const MAX_COUNT: usize = 31;

/// What is wrong with an RTCP datagram, or why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// The datagram holds no RTCP packet (RFC 3550 §6.1: a compound packet has at least one).
    #[error("empty RTCP datagram")]
    Empty,
    /// Fewer than the 4 octets of a common header remain.
    #[error("RTCP header truncated: {len} octets left")]
    TooShort {
        /// Octets left.
        len: usize,
    },
    /// Version field is not 2 (RFC 3550 A.2 validity check).
    #[error("RTCP version {version}, expected 2")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The length field runs past the end of the datagram (RFC 3550 A.2).
    #[error("RTCP packet of {declared} octets, only {available} left in the datagram")]
    LengthMismatch {
        /// Length in octets the header declares.
        declared: usize,
        /// Octets left in the datagram.
        available: usize,
    },
    /// The body is shorter than its counts require.
    #[error("RTCP body of {len} octets, {needed} needed")]
    Truncated {
        /// Octets needed.
        needed: usize,
        /// Octets present.
        len: usize,
    },
    /// Padding is set on a packet that is not last, or its count is zero or too large (RFC 3550 A.2).
    #[error("invalid RTCP padding")]
    BadPadding,
    /// The output buffer cannot hold the packet.
    #[error("buffer of {available} octets cannot hold {needed}")]
    BufferTooSmall {
        /// Octets needed.
        needed: usize,
        /// Octets available.
        available: usize,
    },
    /// More report blocks or chunks than the 5-bit count can say.
    #[error("{count} items do not fit the 5-bit count")]
    TooManyItems {
        /// Items given.
        count: usize,
    },
    /// An SDES item longer than its 8-bit length allows (RFC 3550 §6.5).
    #[error("SDES item of {len} octets is longer than 255")]
    ItemTooLong {
        /// Length of the item.
        len: usize,
    },
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR, type 200.
    SenderReport(SenderReport),
    /// RR, type 201.
    ReceiverReport(ReceiverReport),
    /// SDES, type 202.
    SourceDescription(SourceDescription),
    /// Any other type, kept opaque.
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count/subtype field.
        count: u8,
        /// Body after the common header, padding removed.
        body: Vec<u8>,
    },
}

impl RtcpPacket {
    /// Report blocks this packet carries (SR and RR), else none.
    pub fn report_blocks(&self) -> &[ReportBlock] {
        match self {
            RtcpPacket::SenderReport(sr) => &sr.reports,
            RtcpPacket::ReceiverReport(rr) => &rr.reports,
            _ => &[],
        }
    }

    /// Writes the packet into `out`; returns its length.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, RtcpError> {
        match self {
            RtcpPacket::SenderReport(sr) => sr.write_to(out),
            RtcpPacket::ReceiverReport(rr) => rr.write_to(out),
            RtcpPacket::SourceDescription(sdes) => sdes.write_to(out),
            RtcpPacket::Other {
                packet_type,
                count,
                body,
            } => {
                let len = HEADER_LEN + body.len().div_ceil(4) * 4;
                let available = out.len();
                let out = out.get_mut(..len).ok_or(RtcpError::BufferTooSmall {
                    needed: len,
                    available,
                })?;
                out.fill(0);
                write_header(out, count & 0x1F, *packet_type, len);
                out[HEADER_LEN..HEADER_LEN + body.len()].copy_from_slice(body);
                Ok(len)
            }
        }
    }
}

/// Writes a compound packet: each packet in turn; returns the total length (RFC 3550 §6.1).
pub fn write_compound(packets: &[RtcpPacket], out: &mut [u8]) -> Result<usize, RtcpError> {
    let mut offset = 0;
    for packet in packets {
        // Each write returns at most the length of the slice it was given.
        offset += packet.write_to(&mut out[offset..])?;
    }
    Ok(offset)
}

/// Writes the common header; `len` is the packet length in octets, a multiple of 4.
pub(crate) fn write_header(out: &mut [u8], count: u8, packet_type: u8, len: usize) {
    let words = (len / 4).saturating_sub(1) as u16;
    out[0] = 0x80 | (count & 0x1F);
    out[1] = packet_type;
    out[2..4].copy_from_slice(&words.to_be_bytes());
}

/// Parses a compound RTCP datagram into its packets (RFC 3550 §6.1, checks of A.2).
///
/// Every packet must be version 2 and fit in the datagram with its declared length; padding
/// is allowed on the last packet only. The first packet need not be SR or RR, as RFC 5506
/// reduced-size RTCP allows.
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    if datagram.is_empty() {
        return Err(RtcpError::Empty);
    }
    let mut packets = Vec::with_capacity(2);
    let mut rest = datagram;
    while !rest.is_empty() {
        if rest.len() < HEADER_LEN {
            return Err(RtcpError::TooShort { len: rest.len() });
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion { version });
        }
        let padding = rest[0] & 0x20 != 0;
        let count = rest[0] & 0x1F;
        let packet_type = rest[1];
        let declared = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
        if declared > rest.len() {
            return Err(RtcpError::LengthMismatch {
                declared,
                available: rest.len(),
            });
        }
        let mut body = &rest[HEADER_LEN..declared];
        rest = &rest[declared..];
        if padding {
            let pad = body.last().copied().unwrap_or(0) as usize;
            if !rest.is_empty() || pad == 0 || pad > body.len() {
                return Err(RtcpError::BadPadding);
            }
            body = &body[..body.len() - pad];
        }
        packets.push(match packet_type {
            PT_SR => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
            PT_RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
            PT_SDES => RtcpPacket::SourceDescription(SourceDescription::parse(count, body)?),
            _ => RtcpPacket::Other {
                packet_type,
                count,
                body: body.to_vec(),
            },
        });
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, RngCore, SeedableRng};

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 64,
            cumulative_lost: 1234,
            extended_highest_seq: 0x0002_FFFE,
            jitter: 321,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x0001_8000,
        }
    }

    #[test]
    fn sr_rr_sdes_compound_round_trip() {
        let packets = vec![
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 0x1111_1111,
                ntp: 0xE000_0000_8000_0000,
                rtp_timestamp: 160_000,
                packet_count: 50,
                octet_count: 8000,
                reports: vec![block(0x2222_2222)],
            }),
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 0x1111_1111,
                reports: vec![block(3), block(4)],
            }),
            RtcpPacket::SourceDescription(SourceDescription {
                chunks: vec![SdesChunk {
                    ssrc: 0x1111_1111,
                    cname: Some("callcert@127.0.0.1".into()),
                }],
            }),
            RtcpPacket::Other {
                packet_type: PT_BYE,
                count: 1,
                body: vec![0x11, 0x11, 0x11, 0x11],
            },
        ];
        let mut buf = [0u8; 512];
        let len = write_compound(&packets, &mut buf).unwrap();
        assert_eq!(len, 52 + 56 + 32 + 8);
        assert_eq!(parse_compound(&buf[..len]).unwrap(), packets);
    }

    #[test]
    fn parses_a_hand_built_sr_with_sdes() {
        #[rustfmt::skip]
        let bytes: [u8; 68] = [
            // SR: V=2, RC=1, PT=200, length 12 words (52 octets)
            0x81, 200, 0x00, 0x0C,
            0x00, 0x00, 0x30, 0x39, // SSRC 12345
            0xE4, 0x1B, 0x7A, 0x00, // NTP seconds
            0x40, 0x00, 0x00, 0x00, // NTP fraction 0.25
            0x00, 0x01, 0x00, 0x00, // RTP timestamp 65536
            0x00, 0x00, 0x00, 0x64, // 100 packets
            0x00, 0x00, 0x3E, 0x80, // 16000 octets
            0x00, 0x00, 0xD4, 0x31, // SSRC_1 54321
            0x19, 0xFF, 0xFF, 0xFE, // fraction 25/256, cumulative lost -2
            0x00, 0x01, 0x00, 0x10, // one cycle, highest seq 16
            0x00, 0x00, 0x00, 0x28, // jitter 40
            0x7A, 0x00, 0x40, 0x00, // LSR
            0x00, 0x02, 0x80, 0x00, // DLSR 2.5 s
            // SDES: V=2, SC=1, PT=202, length 3 words (16 octets)
            0x81, 202, 0x00, 0x03,
            0x00, 0x00, 0x30, 0x39, // SSRC 12345
            0x01, 0x05, b'a', b'@', // CNAME, 5 octets
            b'h', b'o', b's', 0x00, // ... "a@hos", end, pad
        ];
        let packets = parse_compound(&bytes).unwrap();
        assert_eq!(packets.len(), 2);
        let RtcpPacket::SenderReport(sr) = &packets[0] else {
            panic!("not an SR: {:?}", packets[0]);
        };
        assert_eq!(sr.ssrc, 12345);
        assert_eq!(sr.ntp, 0xE41B_7A00_4000_0000);
        assert_eq!(sr.rtp_timestamp, 65536);
        assert_eq!((sr.packet_count, sr.octet_count), (100, 16000));
        assert_eq!(
            sr.reports,
            vec![ReportBlock {
                ssrc: 54321,
                fraction_lost: 25,
                cumulative_lost: -2,
                extended_highest_seq: 65536 + 16,
                jitter: 40,
                last_sr: 0x7A00_4000,
                delay_since_last_sr: 0x0002_8000,
            }]
        );
        assert_eq!(
            packets[1],
            RtcpPacket::SourceDescription(SourceDescription {
                chunks: vec![SdesChunk {
                    ssrc: 12345,
                    cname: Some("a@hos".into())
                }]
            })
        );
        // Writing the parsed packets gives the same bytes back.
        let mut out = [0u8; 68];
        assert_eq!(write_compound(&packets, &mut out), Ok(68));
        assert_eq!(out, bytes);
    }

    #[test]
    fn write_cname_matches_the_struct_writer() {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        for name in ["", "x", "abc", "abcd", "user@example.com"] {
            let la = SourceDescription::write_cname(7, name, &mut a).unwrap();
            let lb = SourceDescription {
                chunks: vec![SdesChunk {
                    ssrc: 7,
                    cname: Some(name.into()),
                }],
            }
            .write_to(&mut b)
            .unwrap();
            assert_eq!(a[..la], b[..lb], "{name:?}");
            assert_eq!(la % 4, 0);
        }
    }

    #[test]
    fn malformed_rtcp_is_an_error() {
        let mut buf = [0u8; 64];
        let len = ReceiverReport {
            ssrc: 9,
            reports: vec![block(1)],
        }
        .write_to(&mut buf)
        .unwrap();
        let good = buf[..len].to_vec();
        assert_eq!(parse_compound(&[]), Err(RtcpError::Empty));
        assert_eq!(
            parse_compound(&good[..3]),
            Err(RtcpError::TooShort { len: 3 })
        );
        let mut v1 = good.clone();
        v1[0] = 0x41;
        assert_eq!(
            parse_compound(&v1),
            Err(RtcpError::BadVersion { version: 1 })
        );
        assert!(matches!(
            parse_compound(&good[..len - 4]),
            Err(RtcpError::LengthMismatch { .. })
        ));
        let mut count = good.clone();
        count[0] = 0x82; // two blocks announced, one present
        assert!(matches!(
            parse_compound(&count),
            Err(RtcpError::Truncated { .. })
        ));
        let mut pad = good.clone();
        pad[0] |= 0x20;
        *pad.last_mut().unwrap() = 0;
        assert_eq!(parse_compound(&pad), Err(RtcpError::BadPadding));
        let mut two = good.clone();
        two[0] |= 0x20;
        two.extend_from_slice(&good);
        assert_eq!(parse_compound(&two), Err(RtcpError::BadPadding));
        let sdes_runaway = [0x81, 202, 0x00, 0x02, 0, 0, 0, 1, 1, 200, b'a', b'b'];
        assert!(matches!(
            parse_compound(&sdes_runaway),
            Err(RtcpError::Truncated { .. })
        ));
        assert_eq!(
            SenderReport {
                reports: vec![ReportBlock::default(); 32],
                ..Default::default()
            }
            .write_to(&mut [0u8; 2048]),
            Err(RtcpError::TooManyItems { count: 32 })
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = StdRng::seed_from_u64(6);
        let mut buf = [0u8; 96];
        for i in 0..100_000 {
            let len = rng.random_range(0..buf.len());
            rng.fill_bytes(&mut buf[..len]);
            if i % 2 == 0 && len >= 4 {
                // Plausible headers reach the body parsers more often.
                buf[0] = 0x80 | (buf[0] & 0x3F);
                buf[1] = 200 + (buf[1] % 5);
                let words = ((len / 4) as u16).saturating_sub(1);
                buf[2..4].copy_from_slice(&words.to_be_bytes());
            }
            let _ = parse_compound(&buf[..len]);
        }
    }
}
