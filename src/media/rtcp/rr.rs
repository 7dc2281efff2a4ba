//! Receiver Report, RTCP packet type 201 (RFC 3550 §6.4.2).

use super::report_block::{ReportBlock, REPORT_BLOCK_LEN};
use super::{write_header, RtcpError, HEADER_LEN, MAX_COUNT, PT_RR};

/// What a participant that has not sent RTP reports about the sources it hears.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    /// SSRC of the reporter.
    pub ssrc: u32,
    /// Reception report blocks, at most 31; an RR may carry none (RFC 3550 §6.4.2).
    pub reports: Vec<ReportBlock>,
}

impl ReceiverReport {
    /// Octets this packet takes on the wire, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + 4 + REPORT_BLOCK_LEN * self.reports.len()
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
        write_header(out, count as u8, PT_RR, len);
        out[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut offset = HEADER_LEN + 4;
        for block in &self.reports {
            offset += block.write_to(&mut out[offset..])?;
        }
        Ok(len)
    }

    /// Parses the body (after the common header) of an RR with `count` report blocks.
    pub fn parse(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        let needed = 4 + REPORT_BLOCK_LEN * count as usize;
        if body.len() < needed {
            return Err(RtcpError::Truncated {
                needed,
                len: body.len(),
            });
        }
        let reports = body[4..needed]
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            ssrc: u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
            reports,
        })
    }
}
