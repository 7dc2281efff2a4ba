//! The reception report block carried by SR and RR packets (RFC 3550 §6.4.1).

use super::ntp;
use super::RtcpError;
use std::time::Duration;

/// Length of one report block on the wire.
pub const REPORT_BLOCK_LEN: usize = 24;

/// Largest cumulative loss a report block can carry: 24-bit signed (RFC 3550 §6.4.1, A.3).
pub const CUMULATIVE_LOST_MAX: i32 = 0x7F_FFFF;

/// Smallest (most negative) cumulative loss a report block can carry.
pub const CUMULATIVE_LOST_MIN: i32 = -0x80_0000;

/// What one receiver says about one source (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// SSRC of the source this block is about (SSRC_n).
    pub ssrc: u32,
    /// Packets lost since the previous report, as a fraction of 256 (RFC 3550 A.3).
    pub fraction_lost: u8,
    /// Packets lost since reception began, 24-bit signed; negative with duplicates.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received: cycles in the high 16 bits.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units (RFC 3550 §6.4.1, A.8).
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from the source (LSR); 0 if none.
    pub last_sr: u32,
    /// Delay since that SR was received, in units of 1/65536 s (DLSR); 0 if none.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Clamps a loss count to the 24-bit signed field (RFC 3550 A.3).
    pub fn clamp_cumulative_lost(lost: i64) -> i32 {
        lost.clamp(CUMULATIVE_LOST_MIN as i64, CUMULATIVE_LOST_MAX as i64) as i32
    }

    /// Parses one block from exactly [`REPORT_BLOCK_LEN`] octets or more (the rest is ignored).
    pub fn parse(bytes: &[u8]) -> Result<Self, RtcpError> {
        let b: &[u8; REPORT_BLOCK_LEN] = bytes
            .get(..REPORT_BLOCK_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(RtcpError::Truncated {
                needed: REPORT_BLOCK_LEN,
                len: bytes.len(),
            })?;
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        // Sign-extend the 24-bit cumulative loss.
        let lost = ((word(4) << 8) as i32) >> 8;
        Ok(Self {
            ssrc: word(0),
            fraction_lost: b[4],
            cumulative_lost: lost,
            extended_highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        })
    }

    /// Writes the block into the first [`REPORT_BLOCK_LEN`] octets of `out`.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, RtcpError> {
        let available = out.len();
        let out = out
            .get_mut(..REPORT_BLOCK_LEN)
            .ok_or(RtcpError::BufferTooSmall {
                needed: REPORT_BLOCK_LEN,
                available,
            })?;
        let lost = Self::clamp_cumulative_lost(self.cumulative_lost as i64) as u32 & 0x00FF_FFFF;
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4..8].copy_from_slice(&((self.fraction_lost as u32) << 24 | lost).to_be_bytes());
        out[8..12].copy_from_slice(&self.extended_highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
        Ok(REPORT_BLOCK_LEN)
    }

    /// Round-trip time to the reporter, RFC 3550 §6.4.1: `A - LSR - DLSR`, where `A` is the
    /// NTP time this block arrived. `None` without an LSR, or if the result is negative.
    pub fn round_trip_time(&self, arrival_ntp: u64) -> Option<Duration> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = ntp::middle32(arrival_ntp)
            .wrapping_sub(self.last_sr)
            .wrapping_sub(self.delay_since_last_sr);
        // More than half the 16.16 range means the subtraction went negative.
        if rtt > 0x8000_0000 {
            return None;
        }
        Some(ntp::short_to_duration(rtt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_negative_loss() {
        let block = ReportBlock {
            ssrc: 0x0102_0304,
            fraction_lost: 25,
            cumulative_lost: -3,
            extended_highest_seq: 0x0001_0005,
            jitter: 77,
            last_sr: 0xAABB_CCDD,
            delay_since_last_sr: 65536,
        };
        let mut buf = [0u8; REPORT_BLOCK_LEN];
        assert_eq!(block.write_to(&mut buf), Ok(24));
        assert_eq!(&buf[4..8], &[25, 0xFF, 0xFF, 0xFD]);
        assert_eq!(ReportBlock::parse(&buf), Ok(block));
    }

    #[test]
    fn cumulative_loss_is_clamped_to_24_bits() {
        assert_eq!(ReportBlock::clamp_cumulative_lost(10_000_000), 0x7F_FFFF);
        assert_eq!(ReportBlock::clamp_cumulative_lost(-10_000_000), -0x80_0000);
        let block = ReportBlock {
            cumulative_lost: -0x80_0000,
            ..Default::default()
        };
        let mut buf = [0u8; 24];
        block.write_to(&mut buf).unwrap();
        assert_eq!(&buf[5..8], &[0x80, 0, 0]);
        assert_eq!(
            ReportBlock::parse(&buf).unwrap().cumulative_lost,
            -0x80_0000
        );
    }

    #[test]
    fn round_trip_time_per_rfc_3550_example() {
        // RFC 3550 §6.4.1 figure: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
        // (46853.125 s), DLSR = 0x0005:4000 (5.250 s) gives RTT 6.125 s.
        let block = ReportBlock {
            last_sr: 0xB705_2000,
            delay_since_last_sr: 0x0005_4000,
            ..Default::default()
        };
        let arrival = (0xB710_8000u64) << 16;
        assert_eq!(
            block.round_trip_time(arrival),
            Some(Duration::from_millis(6125))
        );
        assert_eq!(ReportBlock::default().round_trip_time(arrival), None);
        let early = ReportBlock {
            last_sr: 0xB710_8000,
            delay_since_last_sr: 10,
            ..Default::default()
        };
        assert_eq!(early.round_trip_time(arrival), None);
    }

    #[test]
    fn short_input_is_truncated() {
        assert!(matches!(
            ReportBlock::parse(&[0u8; 23]),
            Err(RtcpError::Truncated { .. })
        ));
        assert!(matches!(
            ReportBlock::default().write_to(&mut [0u8; 10]),
            Err(RtcpError::BufferTooSmall { .. })
        ));
    }
}
