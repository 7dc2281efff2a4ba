//! RTP packets (RFC 3550 §5.1): parsing on `rtp-rs`'s reader and building with its builder into
//! caller-supplied buffers.

use rand::Rng;
use rtp_rs::{RtpPacketBuildError, RtpPacketBuilder, RtpReader, RtpReaderError, Seq};
use std::time::Duration;

/// Length of the fixed RTP header (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;

/// Samples in one 20 ms packet at 8 kHz (RFC 3551 §4.5: default packetization 20 ms).
pub const SAMPLES_PER_PACKET: usize = 160;

/// Duration of one packet's audio.
pub const PACKET_DURATION: Duration = Duration::from_millis(20);

/// What is wrong with an RTP datagram, or why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the 12-octet fixed header (RFC 3550 §5.1).
    #[error("RTP datagram of {len} octets is shorter than the 12-octet header")]
    TooShort {
        /// Length of the datagram.
        len: usize,
    },
    /// Version field is not 2 (RFC 3550 §5.1, A.1 validity check).
    #[error("RTP version {version}, expected 2")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The CSRC list or header extension runs past the end of the datagram (RFC 3550 §5.3.1).
    #[error("RTP header of {header_len} octets does not fit in {len} octets")]
    HeaderTruncated {
        /// Header length the flags and counts call for.
        header_len: usize,
        /// Length of the datagram.
        len: usize,
    },
    /// Padding count is zero or longer than the payload (RFC 3550 §5.1, P bit).
    #[error("RTP padding count {count} is invalid")]
    BadPadding {
        /// The padding count in the last octet.
        count: u8,
    },
    /// Payload type 72–76 is RTCP's SR/RR range, so this is RTCP, not RTP (RFC 3550 A.1; RFC 5761 §4).
    #[error("payload type {payload_type} collides with RTCP packet types")]
    RtcpPayloadType {
        /// The payload type found.
        payload_type: u8,
    },
    /// The output buffer cannot hold the packet.
    #[error("buffer of {available} octets cannot hold an RTP packet of {needed}")]
    BufferTooSmall {
        /// Octets the packet needs.
        needed: usize,
        /// Octets the buffer has.
        available: usize,
    },
    /// Payload type above 127 cannot be sent (RFC 3550 §5.1: PT is 7 bits).
    #[error("payload type {payload_type} does not fit in 7 bits")]
    InvalidPayloadType {
        /// The payload type given.
        payload_type: u8,
    },
}

impl From<RtpReaderError> for RtpError {
    fn from(e: RtpReaderError) -> Self {
        match e {
            RtpReaderError::BufferTooShort(len) => RtpError::TooShort { len },
            RtpReaderError::UnsupportedVersion(version) => RtpError::BadVersion { version },
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => RtpError::HeaderTruncated {
                header_len,
                len: buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(count) => RtpError::BadPadding { count },
        }
    }
}

/// The fields of a received RTP packet, borrowing its payload from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeaderView<'a> {
    /// Marker bit; for audio, the first packet of a talkspurt (RFC 3551 §4.1).
    pub marker: bool,
    /// Payload type (RFC 3550 §5.1).
    pub payload_type: u8,
    /// Sequence number, 16 bits, wrapping.
    pub sequence: u16,
    /// RTP timestamp in clock-rate units, wrapping.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
    /// Number of CSRC entries.
    pub csrc_count: u8,
    /// Padding octets removed from the end (0 without the P bit).
    pub padding: u8,
    /// Payload, without header, extension and padding.
    pub payload: &'a [u8],
}

/// Parses and validates one RTP datagram (RFC 3550 §5.1 and the checks of A.1).
pub fn parse_rtp(datagram: &[u8]) -> Result<RtpHeaderView<'_>, RtpError> {
    let reader = RtpReader::new(datagram)?;
    let payload_type = reader.payload_type();
    if (72..=76).contains(&payload_type) {
        return Err(RtpError::RtcpPayloadType { payload_type });
    }
    Ok(RtpHeaderView {
        marker: reader.mark(),
        payload_type,
        sequence: u16::from(reader.sequence_number()),
        timestamp: reader.timestamp(),
        ssrc: reader.ssrc(),
        csrc_count: reader.csrc_count(),
        padding: reader.padding().unwrap_or(0),
        payload: reader.payload(),
    })
}

/// Builds the RTP packets of one outgoing stream: sequence, timestamp, SSRC and marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacketizer {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    payload_type: u8,
    samples_per_packet: u32,
    talkspurt_start: bool,
}

impl RtpPacketizer {
    /// A stream with random SSRC, initial sequence number and timestamp (RFC 3550 §5.1, §8.1).
    pub fn new(payload_type: u8, rng: &mut impl Rng) -> Self {
        Self::with_state(payload_type, rng.random(), rng.random(), rng.random())
    }

    /// A stream with the given SSRC, next sequence number and next timestamp.
    pub fn with_state(payload_type: u8, ssrc: u32, seq: u16, timestamp: u32) -> Self {
        Self {
            ssrc,
            seq,
            timestamp,
            payload_type,
            samples_per_packet: SAMPLES_PER_PACKET as u32,
            talkspurt_start: true,
        }
    }

    /// Synchronization source of the stream.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.seq
    }

    /// RTP timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Payload type of the packets.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Changes the payload type (after an SDP answer picked another codec); starts a talkspurt.
    pub fn set_payload_type(&mut self, payload_type: u8) {
        if payload_type != self.payload_type {
            self.payload_type = payload_type;
            self.talkspurt_start = true;
        }
    }

    /// Timestamp increment per packet, in samples (160 for 20 ms at 8 kHz).
    pub fn samples_per_packet(&self) -> u32 {
        self.samples_per_packet
    }

    /// Writes the next packet with `payload` into `out`; returns its length.
    ///
    /// The sequence number advances by one and the timestamp by one packet of samples
    /// (RFC 3550 §5.1); the marker bit is set on the first packet of a talkspurt (RFC 3551 §4.1).
    pub fn packetize(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        let builder = RtpPacketBuilder::new()
            .payload_type(self.payload_type)
            .marked(self.talkspurt_start)
            .sequence(Seq::from(self.seq))
            .timestamp(self.timestamp)
            .ssrc(self.ssrc)
            .payload(payload);
        let len = builder.build_into(out).map_err(|e| match e {
            RtpPacketBuildError::PayloadTypeInvalid => RtpError::InvalidPayloadType {
                payload_type: self.payload_type,
            },
            _ => RtpError::BufferTooSmall {
                needed: builder.target_length(),
                available: out.len(),
            },
        })?;
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(self.samples_per_packet);
        self.talkspurt_start = false;
        Ok(len)
    }

    /// Writes the next packet with the given payload type, marker and timestamp into `out`;
    /// returns its length. For RFC 4733 telephone events sent in place of audio frames.
    ///
    /// The packet takes the next sequence number and the stream's SSRC. The stream's own
    /// running timestamp still advances by one packet of samples, as in
    /// [`packetize`](Self::packetize), so audio resumes after the event at the timestamp it
    /// would have had if audio had been sent all along (RFC 4733 §2.5.1.1: the event reuses the
    /// audio's clock and SSRC). The talkspurt flag is left as it is. On error nothing advances.
    pub fn packetize_event(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let builder = RtpPacketBuilder::new()
            .payload_type(payload_type)
            .marked(marker)
            .sequence(Seq::from(self.seq))
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .payload(payload);
        let len = builder.build_into(out).map_err(|e| match e {
            RtpPacketBuildError::PayloadTypeInvalid => {
                RtpError::InvalidPayloadType { payload_type }
            }
            _ => RtpError::BufferTooSmall {
                needed: builder.target_length(),
                available: out.len(),
            },
        })?;
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(self.samples_per_packet);
        Ok(len)
    }

    /// Skips `packets` packet times without sending (a silence gap): the timestamp keeps
    /// counting sampling instants, the sequence number does not move, and the next packet starts
    /// a talkspurt (RFC 3550 §5.1; RFC 3551 §4.1).
    pub fn skip(&mut self, packets: u32) {
        if packets > 0 {
            self.timestamp = self
                .timestamp
                .wrapping_add(self.samples_per_packet.wrapping_mul(packets));
            self.talkspurt_start = true;
        }
    }

    /// Marks the next packet as the first of a talkspurt.
    pub fn start_talkspurt(&mut self) {
        self.talkspurt_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngCore, SeedableRng};

    #[test]
    fn packetizer_advances_seq_and_timestamp_and_marks_talkspurts() {
        let mut p = RtpPacketizer::with_state(0, 0xDEAD_BEEF, 65534, u32::MAX - 100);
        let payload = [0xFFu8; 160];
        let mut buf = [0u8; 256];
        let mut seen = Vec::new();
        for _ in 0..3 {
            let len = p.packetize(&payload, &mut buf).unwrap();
            assert_eq!(len, RTP_HEADER_LEN + 160);
            let h = parse_rtp(&buf[..len]).unwrap();
            assert_eq!(h.ssrc, 0xDEAD_BEEF);
            assert_eq!(h.payload, &payload[..]);
            seen.push((h.sequence, h.timestamp, h.marker));
        }
        // Silence gap of two packets: timestamp continues, sequence does not, marker set.
        p.skip(2);
        let len = p.packetize(&payload, &mut buf).unwrap();
        let h = parse_rtp(&buf[..len]).unwrap();
        seen.push((h.sequence, h.timestamp, h.marker));
        let t0 = u32::MAX - 100;
        assert_eq!(
            seen,
            vec![
                (65534, t0, true),
                (65535, t0.wrapping_add(160), false),
                (0, t0.wrapping_add(320), false),
                (1, t0.wrapping_add(800), true),
            ]
        );
    }

    #[test]
    fn audio_after_events_continues_the_rtp_clock() {
        let t0 = u32::MAX - 200;
        let mut p = RtpPacketizer::with_state(0, 0xABCD, 65535, t0);
        let audio = [0xFFu8; 160];
        let mut buf = [0u8; 256];
        let mut seen = Vec::new();
        let record = |len: usize, buf: &[u8]| {
            let h = parse_rtp(&buf[..len]).unwrap();
            assert_eq!(h.ssrc, 0xABCD);
            (
                h.payload_type,
                h.marker,
                h.sequence,
                h.timestamp,
                h.payload.len(),
            )
        };
        let len = p.packetize(&audio, &mut buf).unwrap();
        seen.push(record(len, &buf));
        // Three event packets replace three audio frames; all carry the event's start time.
        let event_ts = p.next_timestamp();
        for i in 0..3 {
            let len = p
                .packetize_event(101, i == 0, event_ts, &[1, 10, 0, 160], &mut buf)
                .unwrap();
            seen.push(record(len, &buf));
        }
        let len = p.packetize(&audio, &mut buf).unwrap();
        seen.push(record(len, &buf));
        assert_eq!(
            seen,
            vec![
                (0, true, 65535, t0, 160),
                (101, true, 0, t0.wrapping_add(160), 4),
                (101, false, 1, t0.wrapping_add(160), 4),
                (101, false, 2, t0.wrapping_add(160), 4),
                // As if four audio frames had been sent: timestamp + 4 × 160, no marker.
                (0, false, 3, t0.wrapping_add(640), 160),
            ]
        );
        assert_eq!(
            p.packetize_event(128, false, 0, &[0; 4], &mut buf),
            Err(RtpError::InvalidPayloadType { payload_type: 128 })
        );
        assert_eq!(
            p.packetize_event(101, false, 0, &[0; 4], &mut buf[..10]),
            Err(RtpError::BufferTooSmall {
                needed: 16,
                available: 10
            })
        );
        assert_eq!(
            (p.next_sequence(), p.next_timestamp()),
            (4, t0.wrapping_add(800)),
            "failed builds advance nothing"
        );
    }

    #[test]
    fn seeded_packetizers_are_random_but_repeatable() {
        let a = RtpPacketizer::new(8, &mut StdRng::seed_from_u64(7));
        let b = RtpPacketizer::new(8, &mut StdRng::seed_from_u64(7));
        let c = RtpPacketizer::new(8, &mut StdRng::seed_from_u64(8));
        assert_eq!(a, b);
        assert_ne!(a.ssrc(), c.ssrc());
    }

    #[test]
    fn building_into_a_short_buffer_is_an_error() {
        let mut p = RtpPacketizer::with_state(0, 1, 1, 1);
        let mut buf = [0u8; 20];
        assert_eq!(
            p.packetize(&[0u8; 160], &mut buf),
            Err(RtpError::BufferTooSmall {
                needed: 172,
                available: 20
            })
        );
        assert_eq!(
            p.next_sequence(),
            1,
            "a failed build does not consume a sequence number"
        );
        let mut p = RtpPacketizer::with_state(200, 1, 1, 1);
        assert_eq!(
            p.packetize(&[0u8; 4], &mut [0u8; 64]),
            Err(RtpError::InvalidPayloadType { payload_type: 200 })
        );
    }

    #[test]
    fn parse_hand_built_packet_with_csrc_and_padding() {
        let bytes = [
            0xA1, 0x88, 0x12, 0x34, // V=2 P=1 CC=1, M=1 PT=8, seq 0x1234
            0x00, 0x00, 0x01, 0x00, // timestamp 256
            0xCA, 0xFE, 0xBA, 0xBE, // SSRC
            0x00, 0x00, 0x00, 0x07, // CSRC
            0xD5, 0xD5, 0x00, 0x02, // payload D5 D5, padding of 2
        ];
        let h = parse_rtp(&bytes).unwrap();
        assert!(h.marker);
        assert_eq!(h.payload_type, 8);
        assert_eq!(h.sequence, 0x1234);
        assert_eq!(h.timestamp, 256);
        assert_eq!(h.ssrc, 0xCAFE_BABE);
        assert_eq!(h.csrc_count, 1);
        assert_eq!(h.padding, 2);
        assert_eq!(h.payload, &[0xD5, 0xD5]);
    }

    #[test]
    fn malformed_rtp_is_an_error() {
        let good = {
            let mut buf = [0u8; 64];
            let len = RtpPacketizer::with_state(0, 1, 2, 3)
                .packetize(&[1, 2, 3, 4], &mut buf)
                .unwrap();
            buf[..len].to_vec()
        };
        assert_eq!(parse_rtp(&good[..11]), Err(RtpError::TooShort { len: 11 }));
        let mut v1 = good.clone();
        v1[0] = 0x40;
        assert_eq!(parse_rtp(&v1), Err(RtpError::BadVersion { version: 1 }));
        let mut cc = good.clone();
        cc[0] |= 0x0F; // 15 CSRCs announced, none present
        assert!(matches!(
            parse_rtp(&cc),
            Err(RtpError::HeaderTruncated { .. })
        ));
        let mut ext = good.clone();
        ext[0] |= 0x10; // extension announced, 4-octet extension header is the payload
        ext[14] = 0xFF; // extension length 0xFF04 words
        assert!(matches!(
            parse_rtp(&ext),
            Err(RtpError::HeaderTruncated { .. })
        ));
        let mut pad = good.clone();
        pad[0] |= 0x20;
        *pad.last_mut().unwrap() = 0;
        assert_eq!(parse_rtp(&pad), Err(RtpError::BadPadding { count: 0 }));
        *pad.last_mut().unwrap() = 200;
        assert_eq!(parse_rtp(&pad), Err(RtpError::BadPadding { count: 200 }));
        let mut rtcp = good.clone();
        rtcp[1] = 200; // an RTCP SR on the RTP port
        assert_eq!(
            parse_rtp(&rtcp),
            Err(RtpError::RtcpPayloadType { payload_type: 72 })
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = StdRng::seed_from_u64(3550);
        let mut buf = [0u8; 64];
        for i in 0..100_000 {
            let len = i % 64;
            rng.fill_bytes(&mut buf[..len]);
            if i % 2 == 0 && len > 0 {
                buf[0] = (buf[0] & 0x3F) | 0x80; // mostly version 2, to reach the deeper checks
            }
            if let Ok(h) = parse_rtp(&buf[..len]) {
                assert!(h.payload.len() <= len);
            }
        }
    }
}
