//! Media files for SIPp's `play_pcap_audio`: hand-built RTP packets (G.711 prompts, RFC 4733
//! telephone events) wrapped in an Ethernet/IPv4/UDP pcap.
//!
//! What SIPp 3.6.1 (Debian `sip-tester`, built with PCAP support) does with such a file,
//! checked on loopback with tshark (see `tests/sipp/README.md`):
//!
//! * It accepts link type Ethernet with IPv4 (or IPv6) and UDP; every packet must be whole
//!   (captured length = original length). A Linux cooked (SLL) capture is refused ("Unsupported
//!   ethernet type 17664"), so write Ethernet, as [`write_rtp_pcap`] does.
//! * It sends each UDP payload **unchanged** (RTP header included: PT, SSRC, sequence number,
//!   timestamp and marker are ours, byte for byte) from a raw socket (so SIPp must run as root or
//!   with `CAP_NET_RAW`), rewriting only the UDP ports and checksum: the destination is the
//!   `c=` address and `m=audio` port of the peer's SDP, the source `-mi`:`-mp` (SIPp's media
//!   address and port).
//! * It paces the packets by the differences of their pcap timestamps, on an absolute schedule
//!   (no drift; within 0.1 ms, now and then a few ms late); the first one leaves when the
//!   `play_pcap_audio` action runs.
//! * The file is read once, when SIPp loads the scenario: name it with `-key NAME PATH` and
//!   `play_pcap_audio="[NAME]"` (per-call `[field0]`/`[$var]` values are not accepted).
//!
//! So the timestamps written here are offsets from the start of the play; the absolute time base
//! ([`PCAP_EPOCH`]) only makes the file look sane in Wireshark.
//!
//! Since SIPp does not rewrite RTP headers, two plays in one call are two RTP streams to the
//! receiver: give each file its own SSRC (a receiver seeing the same SSRC restart at sequence 1
//! would take the packets for old duplicates).
#![allow(dead_code)]

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapPacket, PcapWriter};
use std::io;
use std::net::SocketAddrV4;
use std::path::Path;
use std::time::Duration;

/// One packet every 20 ms (the G.711 `ptime` everybody uses).
pub const PTIME: Duration = Duration::from_millis(20);

/// Samples (RTP clock ticks at 8 kHz) per 20 ms packet.
pub const SAMPLES_PER_PACKET: usize = 160;

/// Static payload type of PCMU (µ-law).
pub const PT_PCMU: u8 = 0;

/// Payload type the scenarios in `tests/sipp/` give telephone-event/8000.
pub const PT_TELEPHONE_EVENT: u8 = 101;

/// Silence µ-law audio before the first digit of [`rfc2833_digits_rtp`]: long enough for the
/// IVR to have answered and started its prompt.
pub const RFC2833_LEAD_IN: Duration = Duration::from_millis(1000);

/// Times of the packets in the file: [`PCAP_EPOCH`] + offset (2024-01-01T00:00:00Z). SIPp only
/// uses differences.
pub const PCAP_EPOCH: Duration = Duration::from_secs(1_704_067_200);

/// The 12-byte RTP header (RFC 3550 §5.1: version 2, no padding, no extension, no CSRC).
pub fn rtp_header(pt: u8, marker: bool, seq: u16, timestamp: u32, ssrc: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = 0x80;
    h[1] = (u8::from(marker) << 7) | (pt & 0x7F);
    h[2..4].copy_from_slice(&seq.to_be_bytes());
    h[4..8].copy_from_slice(&timestamp.to_be_bytes());
    h[8..12].copy_from_slice(&ssrc.to_be_bytes());
    h
}

fn rtp_packet(
    pt: u8,
    marker: bool,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.extend_from_slice(&rtp_header(pt, marker, seq, timestamp, ssrc));
    p.extend_from_slice(payload);
    p
}

/// A locally administered MAC derived from an IPv4 address (Wireshark tells the ends apart).
fn mac(a: &SocketAddrV4) -> [u8; 6] {
    let o = a.ip().octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// Writes `packets` (offset from the start of the play, complete RTP packet) as a pcap SIPp's
/// `play_pcap_audio` accepts: link type Ethernet, IPv4 (TTL 64), UDP `src` → `dst` with a valid
/// checksum, microsecond timestamps [`PCAP_EPOCH`] + offset, whole packets.
///
/// SIPp replaces both ports and both addresses; what it keeps from `dst` is only the port
/// difference to the lowest destination port in the file (0 here: one stream per file), so any
/// `src`/`dst` will do. Offsets should not decrease (SIPp paces by the differences).
pub fn write_rtp_pcap(
    path: &Path,
    packets: &[(Duration, Vec<u8>)],
    src: SocketAddrV4,
    dst: SocketAddrV4,
) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    let to_io = |e: pcap_file::PcapError| io::Error::other(e.to_string());
    // The default header: pcap 2.4, snaplen 65535, Ethernet, microseconds, native endianness.
    let mut writer = PcapWriter::new(io::BufWriter::new(file)).map_err(to_io)?;
    for (at, rtp) in packets {
        let builder = PacketBuilder::ethernet2(mac(&src), mac(&dst))
            .ipv4(src.ip().octets(), dst.ip().octets(), 64)
            .udp(src.port(), dst.port());
        let mut frame = Vec::with_capacity(builder.size(rtp.len()));
        builder
            .write(&mut frame, rtp)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let packet = PcapPacket::new(PCAP_EPOCH + *at, frame.len() as u32, &frame);
        writer.write_packet(&packet).map_err(to_io)?;
    }
    use io::Write;
    writer.into_writer().flush()
}

/// A prompt as 20 ms PCMU-style RTP packets: µ-law (`callcert_codecs::g711::encode_ulaw`) of
/// `samples` (8 kHz mono), 160 samples a packet, the last one padded with zero samples.
///
/// Packet `k` is at offset `k × 20 ms`, sequence number `1 + k`, timestamp `k × 160`, SSRC
/// `ssrc`, payload type `pt` (0 for PCMU; the µ-law encoding is used whatever `pt` says); the
/// marker bit is set on packet 0 only (start of a talkspurt). The first voiced sample of a WAV
/// from `scenarios/prompts/` (100 ms of digital silence first) is thus on the wire 100 ms after
/// the play starts, in packet 5.
pub fn g711_prompt_rtp(samples: &[i16], pt: u8, ssrc: u32) -> Vec<(Duration, Vec<u8>)> {
    let mut out = Vec::with_capacity(samples.len().div_ceil(SAMPLES_PER_PACKET));
    let mut frame = [0i16; SAMPLES_PER_PACKET];
    let mut ulaw = [0u8; SAMPLES_PER_PACKET];
    for (k, chunk) in samples.chunks(SAMPLES_PER_PACKET).enumerate() {
        frame.fill(0);
        frame[..chunk.len()].copy_from_slice(chunk);
        callcert_codecs::g711::encode_ulaw(&frame, &mut ulaw);
        let seq = (1 + k) as u16;
        let ts = (k * SAMPLES_PER_PACKET) as u32;
        out.push((
            PTIME * k as u32,
            rtp_packet(pt, k == 0, seq, ts, ssrc, &ulaw),
        ));
    }
    out
}

/// Where one digit of [`rfc2833_digits_rtp`] is in the play, as offsets from its start (the
/// `play_pcap_audio` action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitTiming {
    /// The digit.
    pub digit: char,
    /// The RFC 4733 event code (0-9, `*` = 10, `#` = 11, A-D = 12-15).
    pub event: u8,
    /// The first event packet (marker bit set): the tone's onset.
    pub onset: Duration,
    /// The first packet with the E (end) bit: onset + (digit length − 20 ms). A receiver knows
    /// the digit ended from this packet on.
    pub first_end: Duration,
    /// The third and last end packet: `first_end` + 40 ms.
    pub last_end: Duration,
    /// The event's duration field in the end packets, in 8 kHz ticks (digit length × 8).
    pub duration_ticks: u16,
}

/// The RFC 4733 event code of a DTMF digit, if it is one.
pub fn dtmf_event_code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(12 + (d as u8 - b'A')),
        _ => None,
    }
}

fn slots(ms: u32) -> u32 {
    ms.div_ceil(20).max(1)
}

/// The schedule [`rfc2833_digits_rtp`] follows, digit by digit (same arguments; panics on a
/// character that is not a DTMF digit).
///
/// Time is cut in 20 ms slots; slot `i` starts at offset `i × 20 ms` and has RTP timestamp
/// `i × 160`. With `N = ceil(digit_ms / 20)` and `G = ceil(gap_ms / 20)` (each at least 1):
///
/// * slots `0 .. 50` (the 1 s [`RFC2833_LEAD_IN`]): silence audio;
/// * each digit: `N` event slots starting at its onset slot `s`, then 2 more slots for the
///   retransmitted end packets, then `G` slots of silence audio; the next digit starts at
///   `s + N + 2 + G`. The last digit is followed by `G` slots of silence too.
///
/// The same as [`rfc2833_digit_groups_schedule`] with one group at [`RFC2833_LEAD_IN`].
pub fn rfc2833_digit_schedule(digits: &str, digit_ms: u32, gap_ms: u32) -> Vec<DigitTiming> {
    rfc2833_digit_groups_schedule(&[(RFC2833_LEAD_IN, digits)], digit_ms, gap_ms)
}

/// The schedule of [`rfc2833_digit_groups_rtp`]: groups of digits, each starting at its own
/// offset from the start of the play (as a caller keys "1", listens to the next prompt, then
/// keys an account number).
///
/// A group's offset is rounded up to the next 20 ms slot; within a group the digits follow each
/// other as in [`rfc2833_digit_schedule`] (`N + 2 + G` slots apart). Panics on a character that
/// is not a DTMF digit, or when a group would start before the previous group's last digit and
/// its `G` trailing slots of silence are over (offsets must leave room for the digits).
pub fn rfc2833_digit_groups_schedule(
    groups: &[(Duration, &str)],
    digit_ms: u32,
    gap_ms: u32,
) -> Vec<DigitTiming> {
    let n = slots(digit_ms);
    let g = slots(gap_ms);
    let mut out = Vec::new();
    // The first slot free for the next group.
    let mut free = 0u32;
    for (at, digits) in groups {
        let start = at.as_micros().div_ceil(PTIME.as_micros()) as u32;
        assert!(
            start >= free,
            "digit group {digits:?} at {at:?} overlaps the previous group (free from {:?})",
            PTIME * free
        );
        let mut slot = start;
        for digit in digits.chars() {
            let event =
                dtmf_event_code(digit).unwrap_or_else(|| panic!("{digit:?} is not a DTMF digit"));
            out.push(DigitTiming {
                digit,
                event,
                onset: PTIME * slot,
                first_end: PTIME * (slot + n - 1),
                last_end: PTIME * (slot + n + 1),
                duration_ticks: (n as usize * SAMPLES_PER_PACKET).min(u16::MAX as usize) as u16,
            });
            slot += n + 2 + g;
        }
        free = slot;
    }
    out
}

/// DTMF digits as an RFC 4733 (RFC 2833) telephone-event stream between µ-law silence, as a
/// phone sends it: one SSRC, one sequence-number space and one RTP clock for the audio (PT 0,
/// payload 160 × `0xFF`) and the events (PT `pt`, 101 in our SDP).
///
/// Timing (see [`rfc2833_digit_schedule`], which returns it per digit):
///
/// * one packet per 20 ms slot; slot `i` at offset `i × 20 ms`; sequence numbers `1, 2, …` in
///   packet order; audio packets carry the timestamp of their slot (`i × 160`);
/// * the first audio packet (slot 0) has the marker bit (talkspurt start);
/// * each digit, from its onset slot `s`, for `N = ceil(digit_ms / 20)` slots `s + k`
///   (`k = 0 .. N`): an event packet with timestamp `s × 160` (the same for the whole event),
///   volume 10 (−10 dBm0), duration `(k + 1) × 160`, the marker bit on `k = 0` only, the E bit
///   on `k = N − 1`; then that last (end) packet twice more, in slots `s + N` and `s + N + 1`
///   (RFC 4733 §2.5.1.4: three times at the update interval; each copy has its own sequence
///   number, same timestamp and duration); no audio in those `N + 2` slots;
/// * `G = ceil(gap_ms / 20)` slots of silence audio after each digit (also after the last).
///
/// With `digit_ms = 100`, `gap_ms = 100`, "12": digit 1 onset 1000 ms, ends (E bit) at 1080,
/// 1100, 1120 ms; digit 2 onset 1240 ms, ends at 1320, 1340, 1360 ms; the play lasts
/// 1480 ms (74 slots).
pub fn rfc2833_digits_rtp(
    digits: &str,
    digit_ms: u32,
    gap_ms: u32,
    pt: u8,
    ssrc: u32,
) -> Vec<(Duration, Vec<u8>)> {
    rfc2833_digit_groups_rtp(&[(RFC2833_LEAD_IN, digits)], digit_ms, gap_ms, pt, ssrc)
}

/// Like [`rfc2833_digits_rtp`], for groups of digits at given offsets (see
/// [`rfc2833_digit_groups_schedule`]): silence audio from slot 0 to the first digit, between
/// the groups, and for `G` slots after the last digit; the digits as in
/// [`rfc2833_digits_rtp`]. One SSRC, sequence numbers and RTP clock run on through the whole
/// play.
pub fn rfc2833_digit_groups_rtp(
    groups: &[(Duration, &str)],
    digit_ms: u32,
    gap_ms: u32,
    pt: u8,
    ssrc: u32,
) -> Vec<(Duration, Vec<u8>)> {
    const VOLUME: u8 = 10;
    let schedule = rfc2833_digit_groups_schedule(groups, digit_ms, gap_ms);
    let n = slots(digit_ms);
    let g = slots(gap_ms);
    let silence = [callcert_codecs::g711::ULAW_ZERO; SAMPLES_PER_PACKET];
    let mut out = Vec::new();
    let mut seq: u16 = 1;
    let audio = |out: &mut Vec<(Duration, Vec<u8>)>, seq: &mut u16, from: u32, to: u32| {
        for slot in from..to {
            let ts = slot * SAMPLES_PER_PACKET as u32;
            out.push((
                PTIME * slot,
                rtp_packet(PT_PCMU, slot == 0, *seq, ts, ssrc, &silence),
            ));
            *seq = seq.wrapping_add(1);
        }
    };
    // The first slot not sent yet.
    let mut next = 0u32;
    for d in &schedule {
        let s = (d.onset.as_micros() / PTIME.as_micros()) as u32;
        audio(&mut out, &mut seq, next, s);
        let ts = s * SAMPLES_PER_PACKET as u32;
        for k in 0..n + 2 {
            let end = k + 1 >= n;
            let duration =
                ((k.min(n - 1) + 1) as usize * SAMPLES_PER_PACKET).min(u16::MAX as usize) as u16;
            let mut payload = [0u8; 4];
            payload[0] = d.event;
            payload[1] = (u8::from(end) << 7) | VOLUME;
            payload[2..4].copy_from_slice(&duration.to_be_bytes());
            let p = rtp_packet(pt, k == 0, seq, ts, ssrc, &payload);
            seq = seq.wrapping_add(1);
            out.push((PTIME * (s + k), p));
        }
        next = s + n + 2;
    }
    audio(&mut out, &mut seq, next, next + g);
    out
}

/// Reads a WAV of 8 kHz mono 16-bit PCM (the format of `scenarios/prompts/*.wav`).
pub fn read_wav_8k_mono(path: &Path) -> io::Result<Vec<i16>> {
    let reader = hound::WavReader::open(path).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    let spec = reader.spec();
    if spec.sample_rate != 8000 || spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: want 8 kHz mono 16-bit, got {spec:?}", path.display()),
        ));
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}
