//! NTP timestamps as RTCP carries them (RFC 3550 §4): 64-bit, seconds since 1900 in the high
//! 32 bits and the fraction in the low 32; the "short" form is the middle 32 bits (16.16).

use std::time::Duration;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const UNIX_EPOCH_OFFSET_SECS: u64 = 2_208_988_800;

/// The 64-bit NTP timestamp of a time given as a duration since the Unix epoch.
pub fn from_unix(since_unix_epoch: Duration) -> u64 {
    add(UNIX_EPOCH_OFFSET_SECS << 32, since_unix_epoch)
}

/// `ntp` advanced by `d` (wrapping, as NTP era rollover does).
pub fn add(ntp: u64, d: Duration) -> u64 {
    let fraction = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
    ntp.wrapping_add(d.as_secs() << 32).wrapping_add(fraction)
}

/// The middle 32 bits, as used for LSR in report blocks (RFC 3550 §6.4.1).
pub fn middle32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A 16.16 fixed-point count of seconds (LSR/DLSR units) as a duration.
pub fn short_to_duration(units: u32) -> Duration {
    Duration::from_nanos(((units as u64) * 1_000_000_000) >> 16)
}

/// A duration in 16.16 fixed-point seconds (DLSR units), saturating at `u32::MAX`.
pub fn duration_to_short(d: Duration) -> u32 {
    let units = (d.as_nanos() << 16) / 1_000_000_000;
    units.min(u32::MAX as u128) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let t = from_unix(Duration::from_millis(1_500));
        assert_eq!(t >> 32, UNIX_EPOCH_OFFSET_SECS + 1);
        assert_eq!(t as u32, 0x8000_0000);
        assert_eq!(middle32(t) & 0xFFFF, 0x8000);
        assert_eq!(duration_to_short(Duration::from_millis(5250)), 0x0005_4000);
        assert_eq!(short_to_duration(0x0005_4000), Duration::from_millis(5250));
        assert_eq!(duration_to_short(Duration::from_secs(1 << 20)), u32::MAX);
    }
}
