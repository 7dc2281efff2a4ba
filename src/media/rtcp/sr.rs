//! Sender Report, RTCP packet type 200 (RFC 3550 §6.4.1).

use super::report_block::{ReportBlock, REPORT_BLOCK_LEN};
use super::{write_header, RtcpError, HEADER_LEN, MAX_COUNT, PT_SR};

/// Octets of the SR body before the report blocks: SSRC and the 20-octet sender info.
const SENDER_PART_LEN: usize = 24;

/// What an active sender reports: its clocks and counts, and its reception reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// SSRC of the sender.
    pub ssrc: u32,
    /// Wall-clock time of this report, 64-bit NTP (RFC 3550 §4).
    pub ntp: u64,
    /// The same instant in the sender's RTP timestamp units.
    pub rtp_timestamp: u32,
    /// RTP data packets sent since the start of transmission (wrapping).
    pub packet_count: u32,
    /// RTP payload octets sent since the start of transmission (wrapping).
    pub octet_count: u32,
    /// Reception report blocks, at most 31.
    pub reports: Vec<ReportBlock>,
}

impl SenderReport {
    /// Octets this packet takes on the wire, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + SENDER_PART_LEN + REPORT_BLOCK_LEN * self.reports.len()
    }

    /// Writes the packet into `out`; returns its length.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, RtcpError> {
        let count = self.reports.len();
        if count > MAX_COUNT {
            return Err(RtcpError::TooManyItems { count });
        }
        let len = self.encoded_len();
        let available = out.len();
        let out = out.get_mut(..len).ok_or(RtcpError::BufferTooSmall {
            needed: len,
            available,
        })?;
        write_header(out, count as u8, PT_SR, len);
        out[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        out[8..16].copy_from_slice(&self.ntp.to_be_bytes());
        out[16..20].copy_from_slice(&self.rtp_timestamp.to_be_bytes());
        out[20..24].copy_from_slice(&self.packet_count.to_be_bytes());
        out[24..28].copy_from_slice(&self.octet_count.to_be_bytes());
        let mut offset = HEADER_LEN + SENDER_PART_LEN;
        for block in &self.reports {
            offset += block.write_to(&mut out[offset..])?;
        }
        Ok(len)
    }

    /// Parses the body (after the common header) of an SR with `count` report blocks.
    pub fn parse(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        let needed = SENDER_PART_LEN + REPORT_BLOCK_LEN * count as usize;
        if body.len() < needed {
            return Err(RtcpError::Truncated {
                needed,
                len: body.len(),
            });
        }
        let word = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        let reports = body[SENDER_PART_LEN..needed]
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::parse)
            .collect::<Result<Vec<_>, _>>()?;
        // Anything after the blocks is a profile-specific extension (RFC 3550 §6.4.1): ignored.
        Ok(Self {
            ssrc: word(0),
            ntp: (word(4) as u64) << 32 | word(8) as u64,
            rtp_timestamp: word(12),
            packet_count: word(16),
            octet_count: word(20),
            reports,
        })
    }
}
