//! DTMF over RTP (RFC 4733 telephone events) and in SIP INFO bodies.
//!
//! - [`TelephoneEvent`]: the 4-octet telephone-event payload (RFC 4733 §2.3).
//! - [`Rfc4733Sender`]: turns a digit string into telephone-event packets sent in place of
//!   audio frames, driven by the media session's 20 ms frame clock (RFC 4733 §2.5.1).
//! - [`Rfc4733Receiver`]: turns received telephone-event packets into digits with their start
//!   and end times, tolerating loss, duplication and reordering (RFC 4733 §2.5.2).
//! - [`info_body`] / [`parse_info`]: `application/dtmf-relay` and `application/dtmf` SIP INFO
//!   bodies.
//!
//! Sans-IO: time is an input, nothing here reads the clock.
//!
//! The sender assumes the 8 kHz clock of the G.711 audio it interleaves with: one frame is
//! [`SAMPLES_PER_PACKET`] (160) timestamp units and [`PACKET_DURATION`] (20 ms).

use super::rtp::{PACKET_DURATION, SAMPLES_PER_PACKET};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Length of one telephone-event payload block (RFC 4733 §2.3).
pub const TELEPHONE_EVENT_LEN: usize = 4;

/// Timestamp units in one 20 ms frame.
const FRAME_SAMPLES: u32 = SAMPLES_PER_PACKET as u32;

/// Longest digit one event can carry: the 16-bit duration field in whole frames (409 × 160).
const MAX_DIGIT_FRAMES: u64 = u16::MAX as u64 / FRAME_SAMPLES as u64;

/// Longest gap between digits the sender accepts.
const MAX_GAP: Duration = Duration::from_secs(3600);

/// End packets per event: the first plus two retransmissions (RFC 4733 §2.5.1.4).
const END_PACKETS: u8 = 3;

/// Highest volume value: 6 bits, in −dBm0 (RFC 4733 §2.3.4).
pub const MAX_VOLUME: u8 = 63;

/// Default receiver timeout: an event with no packet for this long has ended.
pub const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_millis(120);

/// Recently ended events remembered to recognise their retransmitted end packets.
const ENDED_MEMORY: usize = 8;

/// What is wrong with a telephone-event payload, a digit string, DTMF timing or an INFO body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// The RTP payload is shorter than one 4-octet event block (RFC 4733 §2.3).
    #[error("telephone-event payload is {len} bytes, needs 4")]
    PayloadTooShort {
        /// Length of the payload.
        len: usize,
    },
    /// The digit string to send is empty.
    #[error("no DTMF digits to send")]
    NoDigits,
    /// A character to send is not one of 0-9, *, #, A-D.
    #[error("'{digit}' is not a DTMF digit (0-9, *, #, A-D)")]
    UnknownDigit {
        /// The character.
        digit: char,
    },
    /// The digit is longer than the 16-bit duration field can carry (RFC 4733 §2.5.1.3).
    #[error("DTMF digit of {ms} ms is longer than the 8180 ms one telephone event can carry")]
    DigitTooLong {
        /// The requested length, ms.
        ms: u128,
    },
    /// The gap between digits is longer than one hour.
    #[error("DTMF gap of {ms} ms is longer than one hour")]
    GapTooLong {
        /// The requested gap, ms.
        ms: u128,
    },
    /// The volume does not fit the 6-bit field (RFC 4733 §2.3.4).
    #[error("DTMF volume {volume} is outside 0..=63 (-dBm0)")]
    VolumeOutOfRange {
        /// The volume given.
        volume: u8,
    },
    /// The SIP INFO content type is not a DTMF format this module knows.
    #[error("unknown DTMF INFO content type '{content_type}'")]
    UnknownContentType {
        /// The content type as received.
        content_type: String,
    },
    /// An `application/dtmf-relay` body without a `Signal=` line.
    #[error("INFO body has no Signal= line")]
    NoSignal,
    /// An `application/dtmf` body with nothing but white space.
    #[error("application/dtmf INFO body is empty")]
    EmptyBody,
    /// The signal in an INFO body is not a DTMF digit.
    #[error("unknown DTMF signal '{signal}'")]
    UnknownSignal {
        /// The signal as received (lossy UTF-8).
        signal: String,
    },
    /// The `Duration=` value in an INFO body is not a whole number of milliseconds.
    #[error("INFO Duration '{value}' is not a whole number of milliseconds")]
    BadDuration {
        /// The value as received (lossy UTF-8).
        value: String,
    },
}

/// The telephone-event code of a DTMF digit (RFC 4733 §3.2): 0-9 → 0-9, `*` → 10, `#` → 11,
/// A-D → 12-15; lowercase a-d are accepted.
pub fn digit_to_event(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// The DTMF digit of a telephone-event code (RFC 4733 §3.2); `None` above 15 (flash, tones).
pub fn event_to_digit(e: u8) -> Option<char> {
    match e {
        0..=9 => Some((b'0' + e) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + e - 12) as char),
        _ => None,
    }
}

/// One telephone-event payload block (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (§2.3.1); 0-15 are the DTMF digits (§3.2).
    pub event: u8,
    /// E bit: this packet reports the end of the event (§2.3.2).
    pub end: bool,
    /// Power level in −dBm0, 0-63 (§2.3.4); written masked to 6 bits.
    pub volume: u8,
    /// Duration so far in timestamp units, counted from the event's timestamp (§2.3.5).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first event block of a telephone-event payload.
    ///
    /// A payload may carry several blocks (RFC 4733 §2.5.1.5 redundancy, or §2.5.1.6 packed
    /// events); only the first is read and the rest is ignored. The reserved R bit is ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let &[event, flags, hi, lo, ..] = payload else {
            return Err(DtmfError::PayloadTooShort { len: payload.len() });
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// Writes the block; the R bit is zero and the volume is masked to 6 bits.
    pub fn write(&self, out: &mut [u8; TELEPHONE_EVENT_LEN]) {
        let [hi, lo] = self.duration.to_be_bytes();
        *out = [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            hi,
            lo,
        ];
    }
}

/// How long each digit sounds, the silence between digits, and the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfTiming {
    /// Tone length of each digit; rounded up to whole 20 ms frames, at least one frame.
    pub digit: Duration,
    /// Silence from the end of one digit to the start of the next; rounded up to whole frames.
    pub gap: Duration,
    /// Volume field, 0..=63 (−dBm0).
    pub volume: u8,
}

impl Default for DtmfTiming {
    /// 100 ms digits, 100 ms gaps, −10 dBm0.
    fn default() -> Self {
        Self {
            digit: Duration::from_millis(100),
            gap: Duration::from_millis(100),
            volume: 10,
        }
    }
}

/// What the media session sends for the frame it asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameAction {
    /// Send the normal audio frame (also during the gaps between digits).
    Audio,
    /// Send a telephone-event packet instead of this audio frame.
    Event {
        /// The telephone-event payload.
        payload: [u8; TELEPHONE_EVENT_LEN],
        /// RTP marker bit: set on the first packet of an event (RFC 4733 §2.5.1.1).
        marker: bool,
        /// RTP timestamp: the event's start timestamp, the same for all its packets.
        timestamp: u32,
    },
    /// All digits and their end retransmissions are sent; send audio.
    Done,
}

/// A digit the sender finished, reported when its first end packet is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentDigit {
    /// The digit (A-D in uppercase).
    pub digit: char,
    /// Timestamp of the frame carrying the event's first packet (the event's timestamp).
    pub start_timestamp: u32,
    /// Timestamp of the frame carrying the first end packet.
    pub end_timestamp: u32,
    /// Final duration field, timestamp units.
    pub duration_samples: u32,
}

/// Where the sender is in its digit string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendPhase {
    /// Next digit starts on the first frame at or after this timestamp (`None`: the next frame).
    Waiting { not_before: Option<u32> },
    /// The current digit's tone is on; it began on the frame with this timestamp.
    Tone { start: u32 },
    /// The current digit's end packet is being retransmitted.
    Ending {
        start: u32,
        end: u32,
        duration: u16,
        left: u8,
    },
    /// Everything is sent.
    Done,
}

/// RFC 4733 sender of a digit string, driven by the media session's 20 ms frame clock.
///
/// Policies (RFC 4733 §2.5.1):
/// - The first digit starts on the first frame asked about.
/// - Every packet of an event carries the timestamp of the frame its first packet replaced;
///   the first packet has the marker bit.
/// - The duration field is the time covered so far *including* the current packet: 160 on the
///   first packet, +160 per frame (as Asterisk and FreeSWITCH send). It is computed from the
///   frame timestamps, so frames the session skips still count.
/// - The packet whose duration reaches the digit length (rounded up to whole frames) is the
///   first of three end packets (E bit, same final duration) sent on three consecutive frames.
/// - The gap counts from the frame after the first end packet: with a gap of `g` frames the
///   next digit starts `g + 1` frames after the first end packet. The two end retransmissions
///   overlap the gap; if the gap is shorter than those two frames (< 40 ms), the next digit
///   starts right after the retransmissions. No gap follows the last digit: [`FrameAction::Done`]
///   comes on the frame after its last retransmission.
#[derive(Debug, Clone)]
pub struct Rfc4733Sender {
    digits: Vec<(char, u8)>,
    next: usize,
    digit_samples: u16,
    gap_samples: u32,
    volume: u8,
    phase: SendPhase,
    sent: VecDeque<SentDigit>,
}

impl Rfc4733Sender {
    /// A sender of `digits` (0-9, *, #, A-D, lowercase a-d) with `timing`.
    pub fn new(digits: &str, timing: DtmfTiming) -> Result<Self, DtmfError> {
        let digits = digits
            .chars()
            .map(|c| {
                digit_to_event(c)
                    .map(|e| (c.to_ascii_uppercase(), e))
                    .ok_or(DtmfError::UnknownDigit { digit: c })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if digits.is_empty() {
            return Err(DtmfError::NoDigits);
        }
        if timing.volume > MAX_VOLUME {
            return Err(DtmfError::VolumeOutOfRange {
                volume: timing.volume,
            });
        }
        let digit_frames = frames(timing.digit).max(1);
        if digit_frames > MAX_DIGIT_FRAMES {
            return Err(DtmfError::DigitTooLong {
                ms: timing.digit.as_millis(),
            });
        }
        if timing.gap > MAX_GAP {
            return Err(DtmfError::GapTooLong {
                ms: timing.gap.as_millis(),
            });
        }
        let sent = VecDeque::with_capacity(digits.len());
        Ok(Self {
            digits,
            next: 0,
            // Both fit: checked against MAX_DIGIT_FRAMES and MAX_GAP above.
            digit_samples: (digit_frames * u64::from(FRAME_SAMPLES)) as u16,
            gap_samples: (frames(timing.gap) * u64::from(FRAME_SAMPLES)) as u32,
            volume: timing.volume,
            phase: SendPhase::Waiting { not_before: None },
            sent,
        })
    }

    /// What to send for the frame about to go out with RTP timestamp `frame_timestamp`.
    ///
    /// Call once per 20 ms frame, in order; timestamps advance by 160 per frame and wrap.
    pub fn on_frame(&mut self, frame_timestamp: u32) -> FrameAction {
        match self.phase {
            SendPhase::Done => FrameAction::Done,
            SendPhase::Waiting { not_before } => {
                if not_before.is_some_and(|t| before(frame_timestamp, t)) {
                    return FrameAction::Audio;
                }
                self.phase = SendPhase::Tone {
                    start: frame_timestamp,
                };
                self.tone_packet(frame_timestamp, frame_timestamp, true)
            }
            SendPhase::Tone { start } => self.tone_packet(start, frame_timestamp, false),
            SendPhase::Ending {
                start,
                end,
                duration,
                left,
            } => {
                let action = self.event_packet(start, false, true, duration);
                let left = left - 1;
                self.phase = if left > 0 {
                    SendPhase::Ending {
                        start,
                        end,
                        duration,
                        left,
                    }
                } else if self.next < self.digits.len() {
                    // Gap frames are counted from the frame after the first end packet.
                    let wait = self
                        .gap_samples
                        .max(u32::from(END_PACKETS - 1) * FRAME_SAMPLES);
                    SendPhase::Waiting {
                        not_before: Some(end.wrapping_add(FRAME_SAMPLES).wrapping_add(wait)),
                    }
                } else {
                    SendPhase::Done
                };
                action
            }
        }
    }

    /// The next digit whose first end packet has been produced, oldest first.
    pub fn poll_sent(&mut self) -> Option<SentDigit> {
        self.sent.pop_front()
    }

    /// All digits and their end retransmissions have been produced.
    pub fn is_done(&self) -> bool {
        self.phase == SendPhase::Done
    }

    /// A packet of the current digit's tone on the frame at `frame_timestamp`; the last one
    /// (duration reaching the digit length) is the first end packet.
    fn tone_packet(&mut self, start: u32, frame_timestamp: u32, marker: bool) -> FrameAction {
        let elapsed = frame_timestamp.wrapping_sub(start);
        // A timestamp before the start (a confused caller) counts as the start frame.
        let elapsed = if elapsed > i32::MAX as u32 {
            0
        } else {
            elapsed
        };
        let covered = elapsed.saturating_add(FRAME_SAMPLES);
        if covered < u32::from(self.digit_samples) {
            return self.event_packet(start, marker, false, covered as u16);
        }
        let duration = self.digit_samples;
        let (digit, _) = self.digits[self.next];
        self.next += 1;
        self.sent.push_back(SentDigit {
            digit,
            start_timestamp: start,
            end_timestamp: frame_timestamp,
            duration_samples: u32::from(duration),
        });
        let action = self.event_packet(start, marker, true, duration);
        self.phase = SendPhase::Ending {
            start,
            end: frame_timestamp,
            duration,
            left: END_PACKETS - 1,
        };
        action
    }

    /// A telephone-event packet of the current digit (the one at `next`, or the one just
    /// before it once its end is produced).
    fn event_packet(&self, start: u32, marker: bool, end: bool, duration: u16) -> FrameAction {
        let index = if end { self.next - 1 } else { self.next };
        let (_, event) = self.digits[index];
        let mut payload = [0u8; TELEPHONE_EVENT_LEN];
        TelephoneEvent {
            event,
            end,
            volume: self.volume,
            duration,
        }
        .write(&mut payload);
        FrameAction::Event {
            payload,
            marker,
            timestamp: start,
        }
    }
}

/// Whole 20 ms frames in `d`, rounded up.
fn frames(d: Duration) -> u64 {
    let frame = PACKET_DURATION.as_nanos();
    (d.as_nanos().div_ceil(frame)).min(u64::MAX as u128) as u64
}

/// RTP timestamp `a` is before `b` (serial number arithmetic over the 32-bit wrap).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// A digit the receiver saw from start to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDigit {
    /// The digit (A-D in uppercase).
    pub digit: char,
    /// Its telephone-event code.
    pub event: u8,
    /// Arrival of the first packet seen of the event (not necessarily its first packet).
    pub start: Instant,
    /// Arrival of the first end packet; without one, arrival of the packet with the longest
    /// duration seen (see [`Rfc4733Receiver`]).
    pub end: Instant,
    /// Final duration in timestamp units; without an end packet, the longest seen (a lower
    /// bound).
    pub duration_samples: u32,
    /// Volume of the last packet used, −dBm0.
    pub volume: u8,
    /// An end packet was received.
    pub end_seen: bool,
}

/// What the receiver reports, in order: a digit's start as soon as its first packet is seen
/// (for barge-in), then its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc4733Event {
    /// The first packet of a new digit was seen.
    Started {
        /// The digit.
        digit: char,
        /// Arrival of that packet.
        at: Instant,
    },
    /// A digit ended: end packet, next event or timeout.
    Ended(ReceivedDigit),
}

/// Counters of an [`Rfc4733Receiver`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rfc4733ReceiveStats {
    /// Well-formed telephone-event packets.
    pub packets: u64,
    /// Payloads shorter than 4 octets.
    pub malformed: u64,
    /// Retransmitted end packets and repeated updates of an event.
    pub duplicates: u64,
    /// Packets older than what was already seen: an update with a shorter duration, or a
    /// packet of an event that has already ended or been superseded.
    pub late: u64,
    /// Events ended, DTMF or not.
    pub events: u64,
    /// Events whose first packet seen had no marker bit (start packet lost or reordered).
    pub start_lost: u64,
    /// Events ended by the next event because no end packet came.
    pub ended_by_next_event: u64,
    /// Events ended by the timeout because no end packet came.
    pub ended_by_timeout: u64,
    /// Events with codes above 15 (flash, tones): tracked but not reported as digits.
    pub non_dtmf: u64,
}

/// The event being received.
#[derive(Debug, Clone, Copy)]
struct InProgress {
    timestamp: u32,
    event: u8,
    volume: u8,
    start: Instant,
    last_arrival: Instant,
    longest: u16,
    longest_arrival: Instant,
}

/// RFC 4733 receiver: telephone-event packets of one stream in, digits out.
///
/// Policies (RFC 4733 §2.5.2):
/// - Events are keyed by RTP timestamp; a packet with a newer timestamp starts a new event,
///   with or without the marker bit (so an event whose start packet was lost is still reported,
///   from the first packet seen).
/// - [`Rfc4733Event::Started`] is reported on the first packet seen of a digit,
///   [`Rfc4733Event::Ended`] on its first end packet; further end packets are counted as
///   duplicates.
/// - Without an end packet, an event ends when a newer event starts or when no packet of it has
///   arrived for the timeout ([`DEFAULT_EVENT_TIMEOUT`], 120 ms: six 20 ms updates or two
///   50 ms ones). Its end is then estimated as the arrival of the packet with the longest
///   duration, which stands where the end packet would have been had the tone stopped there.
/// - Packets of events older than the newest one seen are counted as late and ignored.
/// - Event codes above 15 are tracked (they end a digit in progress) but not reported.
/// - Long events split into segments (§2.5.1.3, over 8 s) are reported as separate events.
#[derive(Debug, Clone)]
pub struct Rfc4733Receiver {
    timeout: Duration,
    current: Option<InProgress>,
    newest: Option<u32>,
    ended: [u32; ENDED_MEMORY],
    ended_len: usize,
    ended_next: usize,
    out: VecDeque<Rfc4733Event>,
    stats: Rfc4733ReceiveStats,
}

impl Default for Rfc4733Receiver {
    fn default() -> Self {
        Self::new()
    }
}

impl Rfc4733Receiver {
    /// A receiver with the default 120 ms timeout.
    pub fn new() -> Self {
        Self::with_timeout(DEFAULT_EVENT_TIMEOUT)
    }

    /// A receiver that ends an event without end packet after `timeout` without its packets.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            current: None,
            newest: None,
            ended: [0; ENDED_MEMORY],
            ended_len: 0,
            ended_next: 0,
            out: VecDeque::new(),
            stats: Rfc4733ReceiveStats::default(),
        }
    }

    /// Handles the telephone-event payload of an RTP packet that arrived at `arrival`.
    ///
    /// Runs [`handle_timeout`](Self::handle_timeout) at `arrival` first. A malformed payload is
    /// counted and returned as an error; the receiver's state is unchanged by it.
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        arrival: Instant,
    ) -> Result<(), DtmfError> {
        self.handle_timeout(arrival);
        let packet = match TelephoneEvent::parse(payload) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        self.stats.packets += 1;

        if let Some(cur) = self.current.as_mut().filter(|c| c.timestamp == timestamp) {
            if arrival > cur.last_arrival {
                cur.last_arrival = arrival;
            }
            if packet.end {
                cur.volume = packet.volume;
                let cur = *cur;
                self.finish(cur, arrival, u32::from(packet.duration), true);
            } else if packet.duration > cur.longest {
                cur.longest = packet.duration;
                cur.longest_arrival = arrival;
                cur.volume = packet.volume;
            } else if packet.duration == cur.longest {
                self.stats.duplicates += 1;
            } else {
                self.stats.late += 1;
            }
            return Ok(());
        }
        if self.ended[..self.ended_len].contains(&timestamp) {
            if packet.end {
                self.stats.duplicates += 1;
            } else {
                self.stats.late += 1;
            }
            return Ok(());
        }
        if self.newest.is_some_and(|n| before(timestamp, n)) {
            self.stats.late += 1;
            return Ok(());
        }

        // A new event.
        if let Some(old) = self.current.take() {
            self.stats.ended_by_next_event += 1;
            self.finish_estimated(old);
        }
        self.newest = Some(timestamp);
        if !marker {
            self.stats.start_lost += 1;
        }
        if let Some(digit) = event_to_digit(packet.event) {
            self.out
                .push_back(Rfc4733Event::Started { digit, at: arrival });
        }
        let cur = InProgress {
            timestamp,
            event: packet.event,
            volume: packet.volume,
            start: arrival,
            last_arrival: arrival,
            longest: packet.duration,
            longest_arrival: arrival,
        };
        if packet.end {
            self.finish(cur, arrival, u32::from(packet.duration), true);
        } else {
            self.current = Some(cur);
        }
        Ok(())
    }

    /// The next start or end of a digit, oldest first.
    pub fn poll(&mut self) -> Option<Rfc4733Event> {
        self.out.pop_front()
    }

    /// When the event in progress times out: its last packet's arrival plus the timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current
            .and_then(|c| c.last_arrival.checked_add(self.timeout))
    }

    /// Ends the event in progress if no packet of it arrived for the timeout before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(cur) = self.current {
            if now.saturating_duration_since(cur.last_arrival) >= self.timeout {
                self.current = None;
                self.stats.ended_by_timeout += 1;
                self.finish_estimated(cur);
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Rfc4733ReceiveStats {
        self.stats
    }

    /// Ends `cur` without an end packet: end and duration from its longest update.
    fn finish_estimated(&mut self, cur: InProgress) {
        self.finish(cur, cur.longest_arrival, u32::from(cur.longest), false);
    }

    /// Ends `cur`, remembers its timestamp for deduplication and reports it if it is DTMF.
    fn finish(&mut self, cur: InProgress, end: Instant, duration_samples: u32, end_seen: bool) {
        if self.current.is_some_and(|c| c.timestamp == cur.timestamp) {
            self.current = None;
        }
        self.ended[self.ended_next] = cur.timestamp;
        self.ended_next = (self.ended_next + 1) % ENDED_MEMORY;
        self.ended_len = (self.ended_len + 1).min(ENDED_MEMORY);
        self.stats.events += 1;
        match event_to_digit(cur.event) {
            Some(digit) => self.out.push_back(Rfc4733Event::Ended(ReceivedDigit {
                digit,
                event: cur.event,
                start: cur.start,
                end,
                duration_samples,
                volume: cur.volume,
                end_seen,
            })),
            None => self.stats.non_dtmf += 1,
        }
    }
}

/// The SIP INFO body formats for DTMF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoFormat {
    /// `application/dtmf-relay`: `Signal=5\r\nDuration=160\r\n` (Duration in ms).
    DtmfRelay,
    /// `application/dtmf`: the digit alone, e.g. `5`.
    Dtmf,
}

impl InfoFormat {
    /// The Content-Type header value of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            InfoFormat::DtmfRelay => "application/dtmf-relay",
            InfoFormat::Dtmf => "application/dtmf",
        }
    }
}

/// A digit from a SIP INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    /// The digit (A-D in uppercase).
    pub digit: char,
    /// `Duration=` of an `application/dtmf-relay` body; `None` when absent or for
    /// `application/dtmf`.
    pub duration: Option<Duration>,
}

/// The body of a SIP INFO carrying `digit`; `duration` (whole ms) is used by
/// [`InfoFormat::DtmfRelay`] only.
pub fn info_body(
    digit: char,
    duration: Duration,
    format: InfoFormat,
) -> Result<Vec<u8>, DtmfError> {
    if digit_to_event(digit).is_none() {
        return Err(DtmfError::UnknownDigit { digit });
    }
    let digit = digit.to_ascii_uppercase();
    Ok(match format {
        InfoFormat::DtmfRelay => {
            format!("Signal={digit}\r\nDuration={}\r\n", duration.as_millis()).into_bytes()
        }
        InfoFormat::Dtmf => digit.to_string().into_bytes(),
    })
}

/// Reads the digit of a SIP INFO body, leniently, as real peers send them.
///
/// The content type's media type is compared case-insensitively, parameters
/// (`; charset=...`) ignored. In `application/dtmf-relay` bodies keys are case-insensitive,
/// spaces around `=` and CRLF or LF line ends are accepted, the first `Signal=` line counts and
/// other keys are ignored. Signals are 0-9, `*`, `#`, A-D (any case) and the numeric forms 10
/// (`*`) and 11 (`#`) some gateways send.
pub fn parse_info(content_type: &str, body: &[u8]) -> Result<InfoDigit, DtmfError> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case(InfoFormat::DtmfRelay.content_type()) {
        parse_dtmf_relay(body)
    } else if media_type.eq_ignore_ascii_case(InfoFormat::Dtmf.content_type()) {
        let signal = body.trim_ascii();
        if signal.is_empty() {
            return Err(DtmfError::EmptyBody);
        }
        Ok(InfoDigit {
            digit: parse_signal(signal)?,
            duration: None,
        })
    } else {
        Err(DtmfError::UnknownContentType {
            content_type: content_type.to_string(),
        })
    }
}

/// `Signal=` and `Duration=` of an `application/dtmf-relay` body.
fn parse_dtmf_relay(body: &[u8]) -> Result<InfoDigit, DtmfError> {
    let mut digit = None;
    let mut duration = None;
    for line in body.split(|&b| b == b'\n') {
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = (line[..eq].trim_ascii(), line[eq + 1..].trim_ascii());
        if key.eq_ignore_ascii_case(b"signal") {
            if digit.is_none() {
                digit = Some(parse_signal(value)?);
            }
        } else if key.eq_ignore_ascii_case(b"duration") && duration.is_none() {
            let ms = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| DtmfError::BadDuration {
                    value: String::from_utf8_lossy(value).into_owned(),
                })?;
            duration = Some(Duration::from_millis(ms));
        }
    }
    Ok(InfoDigit {
        digit: digit.ok_or(DtmfError::NoSignal)?,
        duration,
    })
}

/// One INFO signal value: a digit character, or 10 / 11 for `*` / `#`.
fn parse_signal(value: &[u8]) -> Result<char, DtmfError> {
    match value {
        [c] if digit_to_event(char::from(*c)).is_some() => Ok(char::from(*c).to_ascii_uppercase()),
        b"10" => Ok('*'),
        b"11" => Ok('#'),
        _ => Err(DtmfError::UnknownSignal {
            signal: String::from_utf8_lossy(value).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{parse_rtp, RtpPacketizer};

    #[allow(clippy::disallowed_methods)] // tests: one real base instant, then durations
    fn base() -> Instant {
        Instant::now()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A sent telephone-event packet with the frame it replaced.
    #[derive(Debug, Clone, Copy)]
    struct Sent {
        frame: u64,
        timestamp: u32,
        marker: bool,
        payload: [u8; 4],
    }

    /// Runs a sender over frames until Done; returns the actions and the event packets.
    fn run_sender(digits: &str, timing: DtmfTiming, t0: u32) -> (Vec<FrameAction>, Vec<Sent>) {
        let mut s = Rfc4733Sender::new(digits, timing).unwrap();
        let mut actions = Vec::new();
        let mut sent = Vec::new();
        for frame in 0..10_000u64 {
            let ts = t0.wrapping_add(frame as u32 * 160);
            let a = s.on_frame(ts);
            actions.push(a);
            match a {
                FrameAction::Done => break,
                FrameAction::Event {
                    payload,
                    marker,
                    timestamp,
                } => sent.push(Sent {
                    frame,
                    timestamp,
                    marker,
                    payload,
                }),
                FrameAction::Audio => {}
            }
        }
        (actions, sent)
    }

    fn ev(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let mut p = [0u8; 4];
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .write(&mut p);
        p
    }

    #[test]
    fn digit_codes_round_trip() {
        for (c, e) in "0123456789*#ABCD".chars().zip(0u8..) {
            assert_eq!(digit_to_event(c), Some(e));
            assert_eq!(event_to_digit(e), Some(c));
            assert_eq!(digit_to_event(c.to_ascii_lowercase()), Some(e));
        }
        assert_eq!(digit_to_event('E'), None);
        assert_eq!(digit_to_event(','), None);
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn payload_round_trip_and_errors() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 63,
            duration: 0xABCD,
        };
        let mut b = [0u8; 4];
        e.write(&mut b);
        assert_eq!(b, [11, 0xBF, 0xAB, 0xCD]);
        assert_eq!(TelephoneEvent::parse(&b), Ok(e));
        // R bit ignored; only the first block of a longer payload is read.
        assert_eq!(
            TelephoneEvent::parse(&[5, 0x4A, 0, 160, 9, 9, 9, 9]),
            Ok(TelephoneEvent {
                event: 5,
                end: false,
                volume: 10,
                duration: 160
            })
        );
        for len in 0..4 {
            let err = TelephoneEvent::parse(&b[..len]).unwrap_err();
            assert_eq!(err, DtmfError::PayloadTooShort { len });
        }
        assert_eq!(
            TelephoneEvent::parse(&b[..3]).unwrap_err().to_string(),
            "telephone-event payload is 3 bytes, needs 4"
        );
    }

    #[test]
    fn sender_sequence_for_1_hash() {
        let t0 = u32::MAX - 500; // wraps during the first digit
        let ts = |frame: u32| t0.wrapping_add(frame * 160);
        let mut s = Rfc4733Sender::new("1#", DtmfTiming::default()).unwrap();
        let mut got = Vec::new();
        let mut sent = Vec::new();
        for frame in 0..18 {
            got.push(s.on_frame(ts(frame)));
            while let Some(d) = s.poll_sent() {
                sent.push((frame, d));
            }
            assert_eq!(s.is_done(), frame >= 16, "frame {frame}");
        }
        let event = |payload, marker, timestamp| FrameAction::Event {
            payload,
            marker,
            timestamp,
        };
        let want = vec![
            event(ev(1, false, 160), true, ts(0)),
            event(ev(1, false, 320), false, ts(0)),
            event(ev(1, false, 480), false, ts(0)),
            event(ev(1, false, 640), false, ts(0)),
            event(ev(1, true, 800), false, ts(0)), // 100 ms reached: first end packet
            event(ev(1, true, 800), false, ts(0)), // retransmissions overlap the gap
            event(ev(1, true, 800), false, ts(0)),
            FrameAction::Audio,
            FrameAction::Audio,
            FrameAction::Audio, // gap: frames 5-9, 100 ms after the first end packet
            event(ev(11, false, 160), true, ts(10)),
            event(ev(11, false, 320), false, ts(10)),
            event(ev(11, false, 480), false, ts(10)),
            event(ev(11, false, 640), false, ts(10)),
            event(ev(11, true, 800), false, ts(10)),
            event(ev(11, true, 800), false, ts(10)),
            event(ev(11, true, 800), false, ts(10)),
            FrameAction::Done,
        ];
        assert_eq!(got, want);
        assert_eq!(
            sent,
            vec![
                (
                    4,
                    SentDigit {
                        digit: '1',
                        start_timestamp: ts(0),
                        end_timestamp: ts(4),
                        duration_samples: 800
                    }
                ),
                (
                    14,
                    SentDigit {
                        digit: '#',
                        start_timestamp: ts(10),
                        end_timestamp: ts(14),
                        duration_samples: 800
                    }
                ),
            ]
        );
        assert_eq!(s.on_frame(ts(18)), FrameAction::Done);
    }

    #[test]
    fn sender_rounds_up_and_short_gaps_wait_for_retransmissions() {
        for (gap, next_start) in [(0, 7), (20, 7), (40, 7), (41, 8), (60, 8)] {
            let timing = DtmfTiming {
                digit: ms(90), // rounds up to 100 ms: 5 frames
                gap: ms(gap),
                volume: 0,
            };
            let (_, sent) = run_sender("5a", timing, 1000);
            let starts: Vec<u64> = sent.iter().filter(|p| p.marker).map(|p| p.frame).collect();
            assert_eq!(starts, vec![0, next_start], "gap {gap} ms");
            assert_eq!(sent.len(), 14);
            assert_eq!(sent[13].payload, [12, 0x80, 0x03, 0x20]); // 'A', E, volume 0, 800
        }
        // A one-frame digit: the first packet is also the first end packet.
        let timing = DtmfTiming {
            digit: Duration::ZERO,
            ..DtmfTiming::default()
        };
        let (actions, sent) = run_sender("9", timing, 0);
        assert_eq!(sent.len(), 3);
        assert!(sent[0].marker);
        assert!(sent.iter().all(|p| p.payload == ev(9, true, 160)));
        assert_eq!(actions.last(), Some(&FrameAction::Done));
    }

    #[test]
    fn sender_counts_skipped_frames_from_timestamps() {
        let mut s = Rfc4733Sender::new("3", DtmfTiming::default()).unwrap();
        let dur = |a: FrameAction| match a {
            FrameAction::Event { payload, .. } => TelephoneEvent::parse(&payload).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(dur(s.on_frame(0)).duration, 160);
        // Two frames skipped by a late driver.
        assert_eq!(dur(s.on_frame(480)).duration, 640);
        let end = dur(s.on_frame(960)); // past the end: clamped to the digit length
        assert!(end.end);
        assert_eq!(end.duration, 800);
    }

    #[test]
    fn sender_rejects_bad_input() {
        let t = DtmfTiming::default();
        assert_eq!(Rfc4733Sender::new("", t).unwrap_err(), DtmfError::NoDigits);
        assert_eq!(
            Rfc4733Sender::new("12x", t).unwrap_err(),
            DtmfError::UnknownDigit { digit: 'x' }
        );
        let loud = DtmfTiming { volume: 64, ..t };
        assert_eq!(
            Rfc4733Sender::new("1", loud).unwrap_err(),
            DtmfError::VolumeOutOfRange { volume: 64 }
        );
        let long = DtmfTiming {
            digit: ms(8181),
            ..t
        };
        assert!(matches!(
            Rfc4733Sender::new("1", long),
            Err(DtmfError::DigitTooLong { ms: 8181 })
        ));
        let longest = DtmfTiming {
            digit: ms(8180),
            ..t
        };
        assert!(Rfc4733Sender::new("1", longest).is_ok());
        let gap = DtmfTiming {
            gap: Duration::from_secs(3601),
            ..t
        };
        assert!(matches!(
            Rfc4733Sender::new("1", gap),
            Err(DtmfError::GapTooLong { .. })
        ));
    }

    /// Arrival of the packet sent for `frame`: 20 ms frames plus 5 ms of network delay.
    fn arrival(t: Instant, frame: u64) -> Instant {
        t + ms(frame * 20 + 5)
    }

    fn feed(rx: &mut Rfc4733Receiver, t: Instant, packets: &[Sent]) -> Vec<Rfc4733Event> {
        let mut out = Vec::new();
        for p in packets {
            let at = arrival(t, p.frame);
            if let Some(deadline) = rx.poll_timeout() {
                if deadline <= at {
                    rx.handle_timeout(deadline);
                }
            }
            rx.on_packet(p.timestamp, p.marker, &p.payload, at).unwrap();
            out.extend(std::iter::from_fn(|| rx.poll()));
        }
        out
    }

    fn ended(events: &[Rfc4733Event]) -> Vec<ReceivedDigit> {
        events
            .iter()
            .filter_map(|e| match e {
                Rfc4733Event::Ended(d) => Some(*d),
                Rfc4733Event::Started { .. } => None,
            })
            .collect()
    }

    fn digit(c: char, start: Instant, end: Instant, dur: u32, end_seen: bool) -> ReceivedDigit {
        ReceivedDigit {
            digit: c,
            event: digit_to_event(c).unwrap(),
            start,
            end,
            duration_samples: dur,
            volume: 10,
            end_seen,
        }
    }

    #[test]
    fn receiver_round_trip_clean() {
        let t = base();
        let (_, sent) = run_sender("1#", DtmfTiming::default(), 7);
        let mut rx = Rfc4733Receiver::new();
        let events = feed(&mut rx, t, &sent);
        assert_eq!(
            events,
            vec![
                Rfc4733Event::Started {
                    digit: '1',
                    at: arrival(t, 0)
                },
                Rfc4733Event::Ended(digit('1', arrival(t, 0), arrival(t, 4), 800, true)),
                Rfc4733Event::Started {
                    digit: '#',
                    at: arrival(t, 10)
                },
                Rfc4733Event::Ended(digit('#', arrival(t, 10), arrival(t, 14), 800, true)),
            ]
        );
        let st = rx.stats();
        assert_eq!(
            (st.packets, st.duplicates, st.late, st.events),
            (14, 4, 0, 2)
        );
        assert_eq!(rx.poll_timeout(), None);
    }

    #[test]
    fn receiver_reports_an_event_whose_start_packet_was_lost() {
        let t = base();
        let (_, sent) = run_sender("1#", DtmfTiming::default(), 7);
        let lossy: Vec<Sent> = sent.iter().copied().filter(|p| p.frame != 0).collect();
        let mut rx = Rfc4733Receiver::new();
        let events = feed(&mut rx, t, &lossy);
        assert_eq!(
            events[0],
            Rfc4733Event::Started {
                digit: '1',
                at: arrival(t, 1)
            }
        );
        assert_eq!(
            ended(&events),
            vec![
                digit('1', arrival(t, 1), arrival(t, 4), 800, true),
                digit('#', arrival(t, 10), arrival(t, 14), 800, true),
            ]
        );
        assert_eq!(rx.stats().start_lost, 1);
    }

    #[test]
    fn receiver_ends_events_without_end_packets_by_timeout_or_next_event() {
        let t = base();
        let (_, sent) = run_sender("1#", DtmfTiming::default(), 7);
        // All end packets of both digits lost.
        let lossy: Vec<Sent> = sent
            .iter()
            .copied()
            .filter(|p| !TelephoneEvent::parse(&p.payload).unwrap().end)
            .collect();
        let mut rx = Rfc4733Receiver::new();
        let events = feed(&mut rx, t, &lossy);
        // '1' was ended by the timeout, since the gap (frames 4-9) is longer than 120 ms.
        let one = digit('1', arrival(t, 0), arrival(t, 3), 640, false);
        assert_eq!(ended(&events), vec![one]);
        assert_eq!(rx.poll_timeout(), Some(arrival(t, 13) + ms(120)));
        rx.handle_timeout(arrival(t, 13) + ms(119));
        assert_eq!(rx.poll(), None);
        rx.handle_timeout(arrival(t, 13) + ms(120));
        assert_eq!(
            rx.poll(),
            Some(Rfc4733Event::Ended(digit(
                '#',
                arrival(t, 10),
                arrival(t, 13),
                640,
                false
            )))
        );
        assert_eq!(rx.poll_timeout(), None);
        assert_eq!(rx.stats().ended_by_timeout, 2);

        // With a short gap, the next event ends the previous one first.
        let timing = DtmfTiming {
            gap: ms(40),
            ..DtmfTiming::default()
        };
        let (_, sent) = run_sender("1#", timing, 7);
        let lossy: Vec<Sent> = sent
            .iter()
            .copied()
            .filter(|p| !(p.payload[0] == 1 && p.payload[1] & 0x80 != 0))
            .collect();
        let mut rx = Rfc4733Receiver::new();
        let events = feed(&mut rx, t, &lossy);
        assert_eq!(
            &events[..3],
            &[
                Rfc4733Event::Started {
                    digit: '1',
                    at: arrival(t, 0)
                },
                Rfc4733Event::Ended(digit('1', arrival(t, 0), arrival(t, 3), 640, false)),
                Rfc4733Event::Started {
                    digit: '#',
                    at: arrival(t, 7)
                },
            ]
        );
        assert_eq!(rx.stats().ended_by_next_event, 1);
        assert_eq!(ended(&events).len(), 2);
    }

    #[test]
    fn receiver_deduplicates_and_tolerates_reordering() {
        let t = base();
        let (_, sent) = run_sender("1#", DtmfTiming::default(), 7);
        let clean = ended(&feed(&mut Rfc4733Receiver::new(), t, &sent));

        // Every packet twice.
        let doubled: Vec<Sent> = sent.iter().flat_map(|&p| [p, p]).collect();
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(ended(&feed(&mut rx, t, &doubled)), clean);
        assert_eq!(rx.stats().duplicates, 4 + 14);

        // Reordered; arrival slot k is at k × 20 ms + 5 ms. 320 after 480 (late), a
        // retransmission before the first end packet (which ends the digit; the first end packet
        // is then a duplicate), and a '1' end packet after '#' started (a duplicate).
        let order = [0, 2, 1, 3, 5, 4, 7, 8, 6, 9, 10, 11, 12, 13];
        let reordered: Vec<Sent> = order
            .iter()
            .enumerate()
            .map(|(slot, &i)| Sent {
                frame: slot as u64,
                ..sent[i]
            })
            .collect();
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(
            ended(&feed(&mut rx, t, &reordered)),
            vec![
                digit('1', arrival(t, 0), arrival(t, 4), 800, true),
                digit('#', arrival(t, 6), arrival(t, 11), 800, true),
            ]
        );
        let st = rx.stats();
        assert_eq!((st.late, st.duplicates, st.start_lost), (1, 4, 0));
    }

    #[test]
    fn receiver_tracks_non_dtmf_events_without_reporting_them() {
        let t = base();
        let mut rx = Rfc4733Receiver::new();
        rx.on_packet(100, true, &[16, 0x0A, 0, 160], t).unwrap(); // flash
        rx.on_packet(100, false, &[16, 0x8A, 1, 64], t + ms(20))
            .unwrap();
        assert_eq!(rx.poll(), None);
        assert_eq!((rx.stats().events, rx.stats().non_dtmf), (1, 1));
        assert_eq!(
            rx.on_packet(900, true, &[1, 2], t + ms(40)),
            Err(DtmfError::PayloadTooShort { len: 2 })
        );
        assert_eq!(rx.stats().malformed, 1);
        // Older than the newest event: late, ignored.
        rx.on_packet(50, true, &[1, 0x0A, 0, 160], t + ms(60))
            .unwrap();
        assert_eq!(rx.poll(), None);
        assert_eq!(rx.stats().late, 1);
    }

    #[test]
    fn sender_through_packetizer_to_receiver() {
        let t = base();
        let mut sender = Rfc4733Sender::new("*9", DtmfTiming::default()).unwrap();
        let t0 = u32::MAX - 1000;
        let mut p = RtpPacketizer::with_state(0, 42, 100, t0);
        let mut rx = Rfc4733Receiver::new();
        let mut buf = [0u8; 256];
        let mut digits = Vec::new();
        let mut frame = 0u32;
        let mut audio_after_done = 0;
        while audio_after_done < 2 {
            let ts = p.next_timestamp();
            let len = match sender.on_frame(ts) {
                FrameAction::Event {
                    payload,
                    marker,
                    timestamp,
                } => p
                    .packetize_event(101, marker, timestamp, &payload, &mut buf)
                    .unwrap(),
                action => {
                    if action == FrameAction::Done {
                        audio_after_done += 1;
                    }
                    p.packetize(&[0xFF; 160], &mut buf).unwrap()
                }
            };
            let h = parse_rtp(&buf[..len]).unwrap();
            assert_eq!(h.sequence, 100u16.wrapping_add(frame as u16));
            if h.payload_type == 101 {
                rx.on_packet(
                    h.timestamp,
                    h.marker,
                    h.payload,
                    t + ms(u64::from(frame) * 20),
                )
                .unwrap();
            } else {
                // Audio keeps the RTP clock as if no event had been sent.
                assert_eq!(h.timestamp, t0.wrapping_add(frame * 160));
            }
            digits.extend(ended(&std::iter::from_fn(|| rx.poll()).collect::<Vec<_>>()));
            frame += 1;
        }
        let got: Vec<(char, u32, bool)> = digits
            .iter()
            .map(|d| (d.digit, d.duration_samples, d.end_seen))
            .collect();
        assert_eq!(got, vec![('*', 800, true), ('9', 800, true)]);
        assert_eq!(digits[1].start - digits[0].start, ms(200));
    }

    #[test]
    fn info_round_trips() {
        for c in "0123456789*#ABCDabcd".chars() {
            let want = c.to_ascii_uppercase();
            let relay = info_body(c, ms(250), InfoFormat::DtmfRelay).unwrap();
            assert_eq!(
                parse_info("application/dtmf-relay", &relay),
                Ok(InfoDigit {
                    digit: want,
                    duration: Some(ms(250))
                })
            );
            let plain = info_body(c, ms(250), InfoFormat::Dtmf).unwrap();
            assert_eq!(plain, want.to_string().into_bytes());
            assert_eq!(
                parse_info(InfoFormat::Dtmf.content_type(), &plain),
                Ok(InfoDigit {
                    digit: want,
                    duration: None
                })
            );
        }
        assert_eq!(
            info_body('5', ms(160), InfoFormat::DtmfRelay).unwrap(),
            b"Signal=5\r\nDuration=160\r\n"
        );
        assert_eq!(
            info_body('x', ms(160), InfoFormat::Dtmf),
            Err(DtmfError::UnknownDigit { digit: 'x' })
        );
    }

    #[test]
    fn info_parsing_is_lenient() {
        let relay = "Application/DTMF-Relay ; charset=UTF-8";
        let cases: [(&str, &[u8], char, Option<u64>); 7] = [
            (relay, b"signal = 5\nDURATION= 250\n", '5', Some(250)),
            (relay, b"Signal=10\r\nDuration=100\r\n", '*', Some(100)),
            (relay, b"Signal=11", '#', None),
            (relay, b"\r\nFoo=bar\r\nSIGNAL=b\r\nSignal=1\r\n", 'B', None),
            (relay, b"Signal= #\t\r\n Duration =80", '#', Some(80)),
            ("application/dtmf", b" 7\r\n", '7', None),
            ("APPLICATION/DTMF;x=y", b"11", '#', None),
        ];
        for (ct, body, digit, duration) in cases {
            assert_eq!(
                parse_info(ct, body),
                Ok(InfoDigit {
                    digit,
                    duration: duration.map(ms)
                }),
                "{ct} {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn info_errors_name_the_problem() {
        let relay = "application/dtmf-relay";
        let err = |ct, body: &[u8]| parse_info(ct, body).unwrap_err().to_string();
        assert_eq!(
            err(relay, b"Duration=100\r\n"),
            "INFO body has no Signal= line"
        );
        assert_eq!(err(relay, b""), "INFO body has no Signal= line");
        assert_eq!(err(relay, b"Signal=x\r\n"), "unknown DTMF signal 'x'");
        assert_eq!(err(relay, b"Signal=12\r\n"), "unknown DTMF signal '12'");
        assert_eq!(err(relay, b"Signal=\r\n"), "unknown DTMF signal ''");
        assert_eq!(
            err(relay, b"Signal=1\r\nDuration=-5\r\n"),
            "INFO Duration '-5' is not a whole number of milliseconds"
        );
        assert_eq!(
            err("application/dtmf", b" \r\n"),
            "application/dtmf INFO body is empty"
        );
        assert_eq!(err("application/dtmf", b"55"), "unknown DTMF signal '55'");
        assert_eq!(
            err("text/plain", b"5"),
            "unknown DTMF INFO content type 'text/plain'"
        );
    }

    /// xorshift64: a seeded generator with no dependencies.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let t = base();
        let mut rng = XorShift(0x4733_4733_4733);
        let mut rx = Rfc4733Receiver::new();
        let mut now = t;
        let mut buf = [0u8; 48];
        let content_types = [
            "application/dtmf-relay",
            "application/dtmf",
            "APPLICATION/DTMF-RELAY;a=b",
            "",
            ";",
        ];
        let alphabet = b"Signal=Duration 0123456789*#ABCDabcd\r\n=;x\xff";
        for i in 0..100_000u64 {
            let len = (rng.next() % 48) as usize;
            for b in &mut buf[..len] {
                *b = rng.next() as u8;
            }
            let _ = TelephoneEvent::parse(&buf[..len]);
            now += ms(rng.next() % 60);
            // Timestamps mostly near each other so that events continue and repeat.
            let ts = if i.is_multiple_of(4) {
                rng.next() as u32
            } else {
                (rng.next() % 8) as u32 * 160
            };
            let _ = rx.on_packet(ts, rng.next().is_multiple_of(2), &buf[..len], now);
            if let Some(deadline) = rx.poll_timeout() {
                if rng.next().is_multiple_of(3) {
                    rx.handle_timeout(deadline);
                }
            }
            while rx.poll().is_some() {}
            let ct = content_types[(rng.next() % content_types.len() as u64) as usize];
            let _ = parse_info(ct, &buf[..len]);
            for b in &mut buf[..len] {
                *b = alphabet[(rng.next() % alphabet.len() as u64) as usize];
            }
            let _ = parse_info(ct, &buf[..len]);
            if let Ok(s) = std::str::from_utf8(&buf[..len]) {
                if let Ok(mut sender) = Rfc4733Sender::new(s, DtmfTiming::default()) {
                    let _ = sender.on_frame(rng.next() as u32);
                }
            }
        }
    }
}
