//! Receive statistics of one incoming RTP stream (RFC 3550 Appendix A.1, A.3, A.8).

use super::rtcp::{ntp, ReportBlock};
use super::rtp::{parse_rtp, RtpError, RtpHeaderView};
use std::time::Instant;

/// RFC 3550 A.1: a forward jump below this many sequence numbers is in-order (with loss).
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: a backward step up to this many sequence numbers is a late or duplicate packet.
const MAX_MISORDER: u16 = 100;
/// Sequence number modulus (RFC 3550 A.1 `RTP_SEQ_MOD`).
const SEQ_MOD: u64 = 1 << 16;
/// Sequence numbers behind the highest one that the duplicate detector remembers.
const HISTORY: u16 = 128;

/// How one valid packet related to the stream so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The first packet of a source (the first packet at all, or after an SSRC change).
    NewSource,
    /// Ahead of the highest sequence number so far (perhaps after a gap).
    InOrder,
    /// Behind the highest sequence number and not seen before: reordered.
    Late,
    /// A sequence number already received.
    Duplicate,
    /// A jump of more than 3000 ahead or 100 behind: ignored until the next packet confirms
    /// a new sequence (RFC 3550 A.1 `bad_seq`).
    Discarded,
    /// The second packet of a confirmed jump: the sequence state restarted (RFC 3550 A.1).
    Restarted,
}

/// A valid packet as seen by the statistics: its header and how it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedRtp<'a> {
    /// The parsed header and payload.
    pub header: RtpHeaderView<'a>,
    /// Sequence number extended with the cycle count (RFC 3550 A.1).
    pub extended_seq: u64,
    /// How the packet fits the stream.
    pub arrival: Arrival,
}

/// Sequence and jitter state of the current source (RFC 3550 A.1 `source`).
#[derive(Debug, Clone)]
struct SourceState {
    ssrc: u32,
    max_seq: u16,
    /// Sequence number cycles, already multiplied by 2^16.
    cycles: u64,
    base_seq: u64,
    /// `RTP_SEQ_MOD + 1` when no jump is pending, so it never equals a sequence number.
    bad_seq: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Bit k set: extended sequence `max - k` was received.
    history: u128,
    /// Interarrival jitter estimate in timestamp units (RFC 3550 A.8).
    jitter: f64,
    /// Arrival time and RTP timestamp of the previous packet, for the transit difference.
    previous: Option<(Instant, u32)>,
}

impl SourceState {
    /// RFC 3550 A.1 `init_seq`.
    fn new(ssrc: u32, seq: u16) -> Self {
        Self {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: seq as u64,
            bad_seq: SEQ_MOD + 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            history: 0,
            jitter: 0.0,
            previous: None,
        }
    }

    /// State after the first packet `seq` of a source: received and remembered.
    fn started(ssrc: u32, seq: u16) -> Self {
        let mut state = Self::new(ssrc, seq);
        state.received = 1;
        state.history = 1;
        state
    }

    fn extended_max(&self) -> u64 {
        self.cycles + self.max_seq as u64
    }

    fn expected(&self) -> u64 {
        self.extended_max() + 1 - self.base_seq
    }

    /// RFC 3550 A.1 `update_seq`, with duplicate and reorder classification added.
    fn update_seq(&mut self, seq: u16) -> (Arrival, u64) {
        let udelta = seq.wrapping_sub(self.max_seq);
        let arrival = if udelta == 0 {
            // A.1 counts it as received like any other; it is the highest one again.
            Arrival::Duplicate
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = seq;
            self.history = if udelta >= HISTORY {
                0
            } else {
                self.history << udelta
            };
            self.history |= 1;
            Arrival::InOrder
        } else if udelta as u64 <= SEQ_MOD - MAX_MISORDER as u64 {
            if seq as u64 == self.bad_seq {
                // Two sequential packets after a jump: the sender restarted (A.1 `init_seq`);
                // the caller re-initializes the state after keeping its counts.
                return (Arrival::Restarted, seq as u64);
            }
            self.bad_seq = (seq as u64 + 1) & (SEQ_MOD - 1);
            return (Arrival::Discarded, seq as u64);
        } else {
            let behind = self.max_seq.wrapping_sub(seq);
            if behind < HISTORY && self.history & (1u128 << behind) != 0 {
                Arrival::Duplicate
            } else {
                if behind < HISTORY {
                    self.history |= 1u128 << behind;
                }
                Arrival::Late
            }
        };
        self.received += 1;
        let extended = if arrival == Arrival::Late {
            self.extended_max()
                .saturating_sub(self.max_seq.wrapping_sub(seq) as u64)
        } else {
            self.extended_max()
        };
        (arrival, extended)
    }

    /// RFC 3550 A.8: `J += (|D(i-1,i)| - J) / 16`, D the difference of relative transit times.
    fn update_jitter(&mut self, arrival: Instant, timestamp: u32, clock_rate: u32) {
        if let Some((previous_arrival, previous_timestamp)) = self.previous {
            let arrival_delta = signed_seconds(arrival, previous_arrival) * clock_rate as f64;
            let timestamp_delta = timestamp.wrapping_sub(previous_timestamp) as i32 as f64;
            let d = (arrival_delta - timestamp_delta).abs();
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.previous = Some((arrival, timestamp));
    }
}

/// `a - b` in seconds, negative when `a` is earlier.
fn signed_seconds(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64(),
        None => -b.duration_since(a).as_secs_f64(),
    }
}

/// Receive statistics of one incoming RTP stream, per RFC 3550 Appendix A.
///
/// The source is accepted from its first packet (A.1's `MIN_SEQUENTIAL` probation is 1): the
/// peer is known from SDP, and a load tester must count the first packet. An SSRC change starts
/// a new source; the counts of earlier sources stay in the cumulative totals.
#[derive(Debug, Clone)]
pub struct RtpReceiveStats {
    clock_rate: u32,
    source: Option<SourceState>,
    earlier_expected: u64,
    earlier_received: u64,
    packets: u64,
    payload_bytes: u64,
    duplicates: u64,
    late: u64,
    discarded: u64,
    malformed: u64,
    last_malformed: Option<RtpError>,
    ssrc_changes: u64,
    first_packet_at: Option<Instant>,
    last_packet_at: Option<Instant>,
    max_jitter: f64,
    /// SSRC, LSR and arrival time of the last SR heard (RFC 3550 §6.4.1 LSR/DLSR).
    last_sr: Option<(u32, u32, Instant)>,
}

impl RtpReceiveStats {
    /// Empty statistics for a stream with this RTP clock rate (Hz).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            source: None,
            earlier_expected: 0,
            earlier_received: 0,
            packets: 0,
            payload_bytes: 0,
            duplicates: 0,
            late: 0,
            discarded: 0,
            malformed: 0,
            last_malformed: None,
            ssrc_changes: 0,
            first_packet_at: None,
            last_packet_at: None,
            max_jitter: 0.0,
            last_sr: None,
        }
    }

    /// Accounts one datagram that arrived at `arrival`; malformed ones are counted and returned as errors.
    pub fn on_packet<'a>(
        &mut self,
        datagram: &'a [u8],
        arrival: Instant,
    ) -> Result<ReceivedRtp<'a>, RtpError> {
        let header = match parse_rtp(datagram) {
            Ok(h) => h,
            Err(e) => {
                self.malformed += 1;
                self.last_malformed = Some(e);
                return Err(e);
            }
        };
        self.packets += 1;
        self.payload_bytes += header.payload.len() as u64;
        self.first_packet_at.get_or_insert(arrival);
        self.last_packet_at = Some(arrival);

        let current = self
            .source
            .as_mut()
            .filter(|source| source.ssrc == header.ssrc);
        let (arrival_kind, extended_seq) = match current {
            Some(source) => {
                let (kind, extended) = source.update_seq(header.sequence);
                if kind == Arrival::Restarted {
                    // Keep the counts of the old sequence in the totals; the jitter estimate
                    // carries on, but not across the jump in timestamps.
                    self.earlier_expected += source.expected();
                    self.earlier_received += source.received;
                    let jitter = source.jitter;
                    *source = SourceState::started(header.ssrc, header.sequence);
                    source.jitter = jitter;
                }
                (kind, extended)
            }
            None => {
                if let Some(old) = self.source.take() {
                    self.earlier_expected += old.expected();
                    self.earlier_received += old.received;
                    self.ssrc_changes += 1;
                }
                self.source = Some(SourceState::started(header.ssrc, header.sequence));
                (Arrival::NewSource, header.sequence as u64)
            }
        };
        match arrival_kind {
            Arrival::Duplicate => self.duplicates += 1,
            Arrival::Late => self.late += 1,
            Arrival::Discarded => self.discarded += 1,
            Arrival::NewSource | Arrival::InOrder | Arrival::Restarted => {}
        }
        if arrival_kind != Arrival::Discarded {
            if let Some(source) = &mut self.source {
                source.update_jitter(arrival, header.timestamp, self.clock_rate);
                self.max_jitter = self.max_jitter.max(source.jitter);
            }
        }
        Ok(ReceivedRtp {
            header,
            extended_seq,
            arrival: arrival_kind,
        })
    }

    /// Remembers an SR from `ssrc` with NTP time `ntp`, received at `arrival`, for LSR/DLSR.
    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, arrival: Instant) {
        self.last_sr = Some((ssrc, ntp::middle32(ntp), arrival));
    }

    /// The report block about the current source at `now` (RFC 3550 §6.4.1, A.3).
    ///
    /// Starts a new reporting interval: the fraction lost covers the packets since the previous call.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let last_sr = self.last_sr;
        let source = self.source.as_mut()?;
        let expected = source.expected();
        let lost = expected as i64 - source.received as i64;
        let expected_interval = expected - source.expected_prior;
        let received_interval = source.received - source.received_prior;
        source.expected_prior = expected;
        source.received_prior = source.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match last_sr {
            Some((ssrc, lsr, at)) if ssrc == source.ssrc => (
                lsr,
                ntp::duration_to_short(now.saturating_duration_since(at)),
            ),
            _ => (0, 0),
        };
        Some(ReportBlock {
            ssrc: source.ssrc,
            fraction_lost,
            cumulative_lost: ReportBlock::clamp_cumulative_lost(lost),
            extended_highest_seq: source.extended_max() as u32,
            jitter: source.jitter as u32,
            last_sr,
            delay_since_last_sr,
        })
    }

    /// SSRC of the current source.
    pub fn ssrc(&self) -> Option<u32> {
        self.source.as_ref().map(|s| s.ssrc)
    }

    /// Valid RTP packets received, of any source, duplicates and discarded ones included.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Payload octets of those packets.
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Packets expected from the sequence numbers, over all sources (RFC 3550 A.3).
    pub fn expected(&self) -> u64 {
        self.earlier_expected + self.source.as_ref().map_or(0, |s| s.expected())
    }

    /// Packets counted as received by RFC 3550 A.1 (duplicates included), over all sources.
    pub fn received(&self) -> u64 {
        self.earlier_received + self.source.as_ref().map_or(0, |s| s.received)
    }

    /// Cumulative packets lost: expected minus received; negative with duplicates (RFC 3550 A.3).
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received() as i64
    }

    /// Extended highest sequence number of the current source (RFC 3550 A.1).
    pub fn extended_highest_seq(&self) -> Option<u64> {
        self.source.as_ref().map(|s| s.extended_max())
    }

    /// Interarrival jitter of the current source in timestamp units (RFC 3550 A.8).
    pub fn jitter(&self) -> f64 {
        self.source.as_ref().map_or(0.0, |s| s.jitter)
    }

    /// Interarrival jitter of the current source in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter() * 1000.0 / self.clock_rate as f64
    }

    /// Highest jitter seen so far in milliseconds.
    pub fn max_jitter_ms(&self) -> f64 {
        self.max_jitter * 1000.0 / self.clock_rate as f64
    }

    /// Packets whose sequence number had already been received.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Packets that arrived after a higher sequence number: out of order.
    pub fn out_of_order(&self) -> u64 {
        self.late
    }

    /// Packets ignored as an unconfirmed sequence jump (RFC 3550 A.1 `bad_seq`).
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// Datagrams that were not valid RTP.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Why the last malformed datagram was rejected.
    pub fn last_malformed(&self) -> Option<RtpError> {
        self.last_malformed
    }

    /// Times the SSRC changed.
    pub fn ssrc_changes(&self) -> u64 {
        self.ssrc_changes
    }

    /// Arrival of the first valid packet.
    pub fn first_packet_at(&self) -> Option<Instant> {
        self.first_packet_at
    }

    /// Arrival of the last valid packet.
    pub fn last_packet_at(&self) -> Option<Instant> {
        self.last_packet_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::RtpPacketizer;
    use rand::rngs::StdRng;
    use rand::{Rng, RngCore, SeedableRng};
    use std::time::Duration;

    #[allow(clippy::disallowed_methods)] // tests: one real base instant, then durations
    fn base() -> Instant {
        Instant::now()
    }

    fn packet(seq: u16, timestamp: u32, ssrc: u32) -> Vec<u8> {
        let mut buf = [0u8; 200];
        let len = RtpPacketizer::with_state(0, ssrc, seq, timestamp)
            .packetize(&[0xFF; 160], &mut buf)
            .unwrap();
        buf[..len].to_vec()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn jitter_follows_rfc_3550_on_alternating_transit() {
        // Packets every 20 ms (160 units); odd packets arrive 5 ms late. Every transit
        // difference is |D| = 5 ms = 40 units, so J_n = J_{n-1} + (40 - J_{n-1})/16, i.e.
        // J after n differences = 40 (1 - (15/16)^n).
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        let n_packets = 200u32;
        for i in 0..n_packets {
            let late = if i % 2 == 1 { 5 } else { 0 };
            let at = t0 + ms(20 * i as u64 + late);
            stats
                .on_packet(&packet(i as u16, 1000 + 160 * i, 7), at)
                .unwrap();
            let n = i as i32;
            let expected = 40.0 * (1.0 - (15.0f64 / 16.0).powi(n));
            assert!(
                (stats.jitter() - expected).abs() < 1e-6,
                "after {i}: {} vs {expected}",
                stats.jitter()
            );
        }
        let expected_ms = 5.0 * (1.0 - (15.0f64 / 16.0).powi(n_packets as i32 - 1));
        assert!((stats.jitter_ms() - expected_ms).abs() < 1e-6);
        assert_eq!(stats.lost(), 0);
        assert_eq!(stats.received(), 200);
    }

    #[test]
    fn constant_delay_has_zero_jitter_and_timestamp_wrap_is_harmless() {
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        let ts0 = u32::MAX - 320;
        for i in 0..10u32 {
            let at = t0 + ms(20 * i as u64 + 37);
            stats
                .on_packet(&packet(i as u16, ts0.wrapping_add(160 * i), 1), at)
                .unwrap();
        }
        assert!(stats.jitter() < 1e-9, "{}", stats.jitter());
    }

    #[test]
    fn loss_and_sequence_wrap_at_65535() {
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        // 65530 ..= 65535, 0 ..= 9, with 65533, 2 and 3 lost.
        let seqs: Vec<u16> = (65530u16..=65535).chain(0..10).collect();
        let mut sent = 0;
        for (i, &seq) in seqs.iter().enumerate() {
            if [65533, 2, 3].contains(&seq) {
                continue;
            }
            sent += 1;
            let extended_seq = stats
                .on_packet(&packet(seq, 160 * i as u32, 5), t0 + ms(20 * i as u64))
                .unwrap()
                .extended_seq;
            if seq < 100 {
                assert_eq!(extended_seq, 65536 + seq as u64);
            }
        }
        assert_eq!(stats.expected(), 16);
        assert_eq!(stats.received(), sent);
        assert_eq!(stats.lost(), 3);
        assert_eq!(stats.extended_highest_seq(), Some(65536 + 9));
        let block = stats.report_block(t0 + ms(400)).unwrap();
        assert_eq!(block.extended_highest_seq, 0x0001_0009);
        assert_eq!(block.cumulative_lost, 3);
        assert_eq!(block.fraction_lost, (3 * 256 / 16) as u8);
        // No new packets: the next interval has no loss.
        assert_eq!(stats.report_block(t0 + ms(500)).unwrap().fraction_lost, 0);
    }

    #[test]
    fn duplicates_make_loss_negative_and_reordering_is_counted() {
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        let order = [10u16, 11, 13, 12, 13, 11, 14];
        let mut kinds = Vec::new();
        for (i, &seq) in order.iter().enumerate() {
            let arrival = stats
                .on_packet(&packet(seq, 160 * seq as u32, 9), t0 + ms(20 * i as u64))
                .unwrap()
                .arrival;
            kinds.push(arrival);
        }
        use Arrival::*;
        assert_eq!(
            kinds,
            vec![NewSource, InOrder, InOrder, Late, Duplicate, Duplicate, InOrder]
        );
        assert_eq!(stats.duplicates(), 2);
        assert_eq!(stats.out_of_order(), 1);
        assert_eq!(stats.expected(), 5);
        assert_eq!(stats.received(), 7);
        assert_eq!(stats.lost(), -2);
        assert_eq!(stats.report_block(t0).unwrap().cumulative_lost, -2);
    }

    #[test]
    fn sequence_jump_restarts_after_two_sequential_packets() {
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        for seq in 100..105u16 {
            stats.on_packet(&packet(seq, 0, 3), t0).unwrap();
        }
        let arrival = |stats: &mut RtpReceiveStats, seq| {
            stats.on_packet(&packet(seq, 0, 3), t0).unwrap().arrival
        };
        assert_eq!(arrival(&mut stats, 40_000), Arrival::Discarded);
        assert_eq!(arrival(&mut stats, 40_001), Arrival::Restarted);
        stats.on_packet(&packet(40_002, 0, 3), t0).unwrap();
        assert_eq!(stats.discarded(), 1);
        // 5 before the jump, 2 after it; the discarded packet is neither expected nor received.
        assert_eq!(stats.received(), 7);
        assert_eq!(stats.expected(), 7);
        assert_eq!(stats.lost(), 0);
        assert_eq!(stats.packets(), 8);
    }

    #[test]
    fn ssrc_change_starts_a_new_source_and_keeps_totals() {
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        for seq in [1u16, 2, 4] {
            stats.on_packet(&packet(seq, 0, 0xAAAA), t0).unwrap();
        }
        let datagram = packet(5000, 0, 0xBBBB);
        let arrival = stats.on_packet(&datagram, t0).unwrap().arrival;
        assert_eq!(arrival, Arrival::NewSource);
        stats.on_packet(&packet(5001, 0, 0xBBBB), t0).unwrap();
        assert_eq!(stats.ssrc(), Some(0xBBBB));
        assert_eq!(stats.ssrc_changes(), 1);
        assert_eq!(stats.expected(), 4 + 2);
        assert_eq!(stats.lost(), 1);
        let block = stats.report_block(t0).unwrap();
        assert_eq!((block.ssrc, block.cumulative_lost), (0xBBBB, 0));
    }

    #[test]
    fn lsr_and_dlsr_echo_the_last_sender_report() {
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        stats.on_packet(&packet(1, 0, 77), t0).unwrap();
        stats.on_sender_report(77, 0x0000_1234_5678_0000, t0);
        let block = stats
            .report_block(t0 + Duration::from_millis(1500))
            .unwrap();
        assert_eq!(block.last_sr, 0x1234_5678);
        assert_eq!(block.delay_since_last_sr, 0x0001_8000);
        stats.on_sender_report(78, 0x0000_1234_5678_0000, t0);
        assert_eq!(
            stats.report_block(t0).unwrap().last_sr,
            0,
            "SR of another source"
        );
    }

    #[test]
    fn malformed_datagrams_are_counted_never_panic() {
        let t0 = base();
        let mut stats = RtpReceiveStats::new(8000);
        let mut rng = StdRng::seed_from_u64(1889);
        let mut buf = [0u8; 80];
        let mut errors = 0;
        for i in 0..50_000 {
            let len = rng.random_range(0..buf.len());
            rng.fill_bytes(&mut buf[..len]);
            if i % 3 == 0 && len > 0 {
                buf[0] = 0x80 | (buf[0] & 0x3F);
            }
            if stats.on_packet(&buf[..len], t0).is_err() {
                errors += 1;
            }
        }
        assert_eq!(stats.malformed(), errors);
        assert!(errors > 10_000);
        assert!(stats.last_malformed().is_some());
        assert_eq!(stats.packets() + stats.malformed(), 50_000);
        assert_eq!(
            stats.on_packet(&[0x80, 0], t0),
            Err(RtpError::TooShort { len: 2 })
        );
        assert_eq!(stats.last_malformed(), Some(RtpError::TooShort { len: 2 }));
    }
}
