//! The per-call media endpoint: sends audio as RTP on absolute 20 ms deadlines, receives RTP
//! into statistics and a voice onset detector, and exchanges RTCP reports. Sans-IO: every input
//! carries `now`, output is polled, and the session says when it wants to wake.

use super::audio::{samples_to_duration, AudioSource};
use super::codec::Codec;
use super::dtmf::{
    DtmfError, DtmfTiming, FrameAction, Rfc4733Event, Rfc4733Receiver, Rfc4733Sender,
};
use super::jitter::{Earpiece, EarpieceStats, JitterBufferConfig};
use super::playout::Playout;
use super::prompt::{PromptSegmenter, SegmentEvent, SegmenterConfig};
use super::rtcp::{
    ntp, parse_compound, ReceiverReport, ReportBlock, RtcpPacket, SenderReport, SourceDescription,
};
use super::rtp::{RtpPacketizer, PACKET_DURATION, SAMPLES_PER_PACKET};
use super::stats::{Arrival, RtpReceiveStats};
use super::voice::{VoiceOnsetConfig, VoiceOnsetDetector};
use super::MediaError;
use crate::impair::{derive_seed, ImpairConfig, ImpairError, ImpairStats, Impairment};
use callcert_codecs::dtmf::{DtmfDetector, DtmfEvent, DtmfTone};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Size of the transmit buffer: one Ethernet MTU.
const TRANSMIT_BUFFER: usize = 1500;

/// Most overdue packets sent back to back when the driver wakes late; older ones are skipped.
const MAX_CATCH_UP: u64 = 5;

/// Packets whose (first sample, arrival) are kept to time detector events.
const RX_MARKS: usize = 512;

/// RTP silence after which the received stream is taken to be silent.
const RTP_GAP: Duration = Duration::from_millis(60);

/// Most silence filled in at once (1 s; the next wake fills more).
const MAX_GAP_FILL: usize = 8000;

/// Playout tag of in-band DTMF clips.
const INBAND_TAG: u32 = 0xd7f;

/// How long after the end of a call media still in an impaired network is taken to arrive.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(10);

/// Default RTCP report interval (RFC 3550 §6.2: 5 s minimum).
pub const DEFAULT_RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// What a media session sends and how it reports.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Codec to send (can change with [`MediaSession::set_codec`] after the SDP answer).
    pub codec: Codec,
    /// Audio to send.
    pub source: AudioSource,
    /// Seed for SSRC, initial sequence number and timestamp, CNAME and RTCP timing.
    pub seed: u64,
    /// Mean RTCP report interval, randomized ×[0.5, 1.5] (RFC 3550 §6.3.1).
    pub rtcp_interval: Duration,
    /// Payload type of RFC 4733 telephone events, if negotiated.
    pub telephone_event_pt: Option<u8>,
    /// Speech threshold for the first-voice detector, dBov.
    pub voice_threshold_dbov: f64,
    /// Play the source again from the start when it ends; otherwise send silence.
    pub loop_source: bool,
    /// What to listen for in the received audio besides the first voice.
    pub listen: ListenConfig,
}

/// Detectors run on the received stream; each costs CPU per packet, so each is opt-in.
#[derive(Debug, Clone, Default)]
pub struct ListenConfig {
    /// Segment the received audio into prompts (onset and end of each, sample-precise).
    pub prompts: Option<SegmenterConfig>,
    /// Detect in-band DTMF tones (Goertzel, after decoding).
    pub inband_dtmf: bool,
    /// Do not look for the first voice (a far end that never asks when voice began: the
    /// detector would otherwise decode every packet of a silent caller).
    pub skip_first_voice: bool,
    /// Play the received audio through a phone's receiver (jitter buffer and concealment),
    /// keeping what the caller hears for scoring.
    pub hear: Option<JitterBufferConfig>,
}

/// How a received digit came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DtmfVia {
    /// RFC 4733 telephone-events.
    Rfc4733,
    /// Tones in the audio.
    Inband,
}

/// Something the session noticed in the received stream. Times are sample-precise: a
/// packet's first sample is taken to be heard when the packet arrived, the next ones 125 µs
/// apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MediaEvent {
    /// A digit started (for barge-in).
    DtmfStarted {
        /// The digit.
        digit: char,
        /// When it started.
        at: Instant,
        /// How it came.
        via: DtmfVia,
    },
    /// A digit ended.
    Dtmf {
        /// The digit.
        digit: char,
        /// When it ended: the first end packet's arrival, or the tone's last sample.
        end: Instant,
        /// How it came.
        via: DtmfVia,
    },
    /// Voice started (a prompt's onset).
    VoiceOnset {
        /// The onset sample's time.
        at: Instant,
    },
    /// Voice ended (silence for the segmenter's `min_silence` since).
    VoiceEnd {
        /// Just after the last voiced sample.
        at: Instant,
    },
}

/// Something marked in an outgoing packet, whose wire time the driver must note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMark {
    /// The last digit of a [`MediaSession::send_dtmf`] ends `offset` samples into this packet
    /// (0 for RFC 4733: the packet is the digit's first end packet).
    DtmfDone {
        /// Samples into the packet.
        offset: u16,
    },
}

/// How [`MediaSession::send_dtmf`] sends digits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MediaDtmf {
    /// RFC 4733 telephone-events (needs the negotiated payload type).
    Rfc4733,
    /// Tones in the audio at this level per frequency, dBm0.
    Inband {
        /// Level of each of the two frequencies.
        level_dbm0: f64,
    },
}

impl MediaConfig {
    /// Settings with the defaults: seed 0, 5 s RTCP, no telephone events, −35 dBov, no looping.
    pub fn new(codec: Codec, source: AudioSource) -> Self {
        Self {
            codec,
            source,
            seed: 0,
            rtcp_interval: DEFAULT_RTCP_INTERVAL,
            telephone_event_pt: None,
            voice_threshold_dbov: super::voice::DEFAULT_THRESHOLD_DBOV,
            loop_source: false,
            listen: ListenConfig::default(),
        }
    }
}

/// Which socket a datagram goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RtpChannel {
    /// The RTP port.
    Rtp,
    /// The RTCP port (RTP port + 1 unless negotiated otherwise).
    Rtcp,
}

/// A datagram ready in the session's transmit buffer; read it with [`MediaSession::transmit_buf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaTransmit {
    /// Socket to send it on.
    pub channel: RtpChannel,
    /// Length of the datagram.
    pub len: usize,
    /// What this packet carries that the driver must time.
    pub mark: Option<TxMark>,
}

/// What one media session did and saw. Instants are skipped in JSON; the `_ms` fields carry
/// them as milliseconds since the session was created.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaStats {
    /// Codec being sent.
    pub codec: Codec,
    /// Our SSRC.
    pub local_ssrc: u32,
    /// SSRC of the stream we receive.
    pub remote_ssrc: Option<u32>,
    /// RTP packets sent.
    pub tx_packets: u64,
    /// RTP payload octets sent (the SR octet count, RFC 3550 §6.4.1).
    pub tx_bytes: u64,
    /// Packet times skipped because the driver woke more than 100 ms late.
    pub tx_skipped: u64,
    /// Valid RTP packets received, any payload type.
    pub rx_packets: u64,
    /// RTP payload octets received.
    pub rx_bytes: u64,
    /// Packets expected from the sequence numbers (RFC 3550 A.3).
    pub expected: u64,
    /// Cumulative packets lost; negative with duplicates (RFC 3550 A.3).
    pub lost: i64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Packets received after a higher sequence number.
    pub out_of_order: u64,
    /// Interarrival jitter now, ms (RFC 3550 A.8).
    pub jitter_ms: f64,
    /// Highest interarrival jitter seen, ms.
    pub max_jitter_ms: f64,
    /// Malformed RTP and RTCP datagrams received.
    pub malformed: u64,
    /// Of those, RTCP datagrams.
    pub rtcp_malformed: u64,
    /// Why the last malformed datagram was rejected.
    pub last_malformed: Option<String>,
    /// Times the received SSRC changed.
    pub ssrc_changes: u64,
    /// RFC 4733 telephone-event packets received.
    pub rx_telephone_events: u64,
    /// Packets of a payload type that is neither our audio nor telephone events.
    pub rx_unknown_payload: u64,
    /// RTCP compound packets sent.
    pub rtcp_sent: u64,
    /// Valid RTCP compound packets received.
    pub rtcp_received: u64,
    /// Round-trip time from the last report block about us (RFC 3550 §6.4.1), ms.
    pub rtt_ms: Option<f64>,
    /// Cumulative loss of our stream as the far end last reported it.
    pub remote_reported_lost: Option<i32>,
    /// Jitter of our stream as the far end last reported it, ms.
    pub remote_reported_jitter_ms: Option<f64>,
    /// Arrival of the first valid RTP packet.
    #[serde(skip)]
    pub first_rtp_at: Option<Instant>,
    /// Arrival of the last valid RTP packet.
    #[serde(skip)]
    pub last_rtp_at: Option<Instant>,
    /// Time of the first speech sample received (packet arrival + sample offset).
    #[serde(skip)]
    pub first_voice_at: Option<Instant>,
    /// `first_rtp_at` in ms since the session was created.
    pub first_rtp_ms: Option<f64>,
    /// `first_voice_at` in ms since the session was created.
    pub first_voice_ms: Option<f64>,
    /// Mean one-way network delay of the received stream, ms: each packet's arrival against
    /// its send time from the far end's sender report (RTP to NTP). Exact when both ends share
    /// a clock (the reference call center on the same host), as good as their NTP otherwise.
    pub one_way_delay_ms: Option<f64>,
    /// Largest such delay, ms.
    pub max_one_way_delay_ms: Option<f64>,
    /// Half the RTCP round-trip time: the one-way delay estimate without a shared clock, ms.
    pub rtt_one_way_delay_ms: Option<f64>,
    /// What the phone's receiver did (with [`ListenConfig::hear`]).
    pub heard: Option<EarpieceStats>,
}

/// Sending state: packet `n` is due at `start + n × 20 ms`.
#[derive(Debug, Clone, Copy)]
struct Sending {
    start: Instant,
    next_frame: u64,
}

/// The sans-IO RTP/RTCP endpoint of one call.
#[derive(Debug)]
pub struct MediaSession {
    codec: Codec,
    telephone_event_pt: Option<u8>,
    rtcp_interval: Duration,
    created_at: Instant,
    /// Wall clock: this NTP time was at this instant.
    wall_clock: (u64, Instant),
    rng: StdRng,
    cname: String,
    packetizer: RtpPacketizer,
    playout: Playout,
    dtmf_tx: Option<Rfc4733Sender>,
    dtmf_tx_left: usize,
    pending_mark: Option<TxMark>,
    rx_dtmf: Rfc4733Receiver,
    segmenter: Option<PromptSegmenter>,
    inband: Option<DtmfDetector>,
    skip_first_voice: bool,
    earpiece: Option<Earpiece>,
    /// Network impairment of what this session receives and of the RTP it sends.
    impair_rx: Option<Impairment<Vec<u8>>>,
    impair_tx: Option<Impairment<Vec<u8>>>,
    /// The far end's last sender report: its NTP time and the same instant in RTP units.
    remote_sr: Option<(u64, u32)>,
    /// One-way delays measured against it: sum, count, largest (ns).
    owd: (f64, u64, i64),
    /// Samples pushed to the detectors so far, and where recent packets began (sample, arrival).
    rx_samples: u64,
    rx_marks: VecDeque<(u64, Instant)>,
    /// The first prompt onset the segmenter found (preferred to the plain voice detector's:
    /// one definition of "onset" for every delay of a call).
    first_segment_at: Option<Instant>,
    /// When the sample after the last one received is due: a far end that stops sending
    /// (silence suppression, a player at the end of its file) is heard as silence from then.
    rx_next_at: Option<Instant>,
    events: VecDeque<MediaEvent>,
    sending: Option<Sending>,
    /// Where sending stopped, to keep the RTP clock running across a pause.
    stopped: Option<Instant>,
    now: Instant,
    next_rtcp: Option<Instant>,
    rtcp_due: bool,
    rx: RtpReceiveStats,
    voice: VoiceOnsetDetector,
    tx_packets: u64,
    tx_bytes: u64,
    tx_skipped: u64,
    rtcp_sent: u64,
    rtcp_received: u64,
    rtcp_malformed: u64,
    last_malformed: Option<MediaError>,
    rx_telephone_events: u64,
    rx_dtmf_malformed: u64,
    rx_unknown_payload: u64,
    rtt: Option<Duration>,
    remote_report: Option<ReportBlock>,
    sender_report: SenderReport,
    receiver_report: ReceiverReport,
    pcm: [i16; SAMPLES_PER_PACKET],
    /// Decoded received audio for the receiver (up to 60 ms packets).
    pcm_rx: Box<[i16; 3 * SAMPLES_PER_PACKET]>,
    payload: [u8; SAMPLES_PER_PACKET],
    buf: Box<[u8; TRANSMIT_BUFFER]>,
}

impl MediaSession {
    /// A session created at `now`; it sends nothing until [`start_sending`](Self::start_sending).
    pub fn new(config: MediaConfig, now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let packetizer = RtpPacketizer::new(config.codec.payload_type(), &mut rng);
        // RFC 7022 §4.2: a random CNAME per session.
        let cname = format!("{:016x}@callcert", rng.random::<u64>());
        Self {
            codec: config.codec,
            telephone_event_pt: config.telephone_event_pt,
            rtcp_interval: config.rtcp_interval.max(Duration::from_millis(1)),
            created_at: now,
            // Until the driver gives a wall clock, count from the Unix epoch at creation.
            wall_clock: (ntp::UNIX_EPOCH_OFFSET_SECS << 32, now),
            rng,
            cname,
            packetizer,
            playout: Playout::new(&config.source, config.loop_source),
            dtmf_tx: None,
            dtmf_tx_left: 0,
            pending_mark: None,
            rx_dtmf: Rfc4733Receiver::new(),
            segmenter: config.listen.prompts.map(PromptSegmenter::new),
            inband: config
                .listen
                .inband_dtmf
                .then(|| DtmfDetector::new(Default::default())),
            skip_first_voice: config.listen.skip_first_voice,
            earpiece: config
                .listen
                .hear
                .map(|c| Earpiece::new(c, config.codec.clock_rate())),
            remote_sr: None,
            impair_rx: None,
            impair_tx: None,
            owd: (0.0, 0, i64::MIN),
            rx_samples: 0,
            first_segment_at: None,
            rx_next_at: None,
            // Grows with the packets received (to RX_MARKS): a signalling-only call allocates nothing.
            rx_marks: VecDeque::new(),
            events: VecDeque::new(),
            sending: None,
            stopped: None,
            now,
            next_rtcp: None,
            rtcp_due: false,
            rx: RtpReceiveStats::new(config.codec.clock_rate()),
            voice: VoiceOnsetDetector::new(VoiceOnsetConfig::with_threshold(
                config.voice_threshold_dbov,
            )),
            tx_packets: 0,
            tx_bytes: 0,
            tx_skipped: 0,
            rtcp_sent: 0,
            rtcp_received: 0,
            rtcp_malformed: 0,
            last_malformed: None,
            rx_telephone_events: 0,
            rx_dtmf_malformed: 0,
            rx_unknown_payload: 0,
            rtt: None,
            remote_report: None,
            sender_report: SenderReport {
                reports: Vec::with_capacity(1),
                ..SenderReport::default()
            },
            receiver_report: ReceiverReport {
                reports: Vec::with_capacity(1),
                ..ReceiverReport::default()
            },
            pcm: [0; SAMPLES_PER_PACKET],
            pcm_rx: Box::new([0; 3 * SAMPLES_PER_PACKET]),
            payload: [0; SAMPLES_PER_PACKET],
            buf: Box::new([0; TRANSMIT_BUFFER]),
        }
    }

    /// Sets the wall clock: `ntp` (64-bit NTP format) is the time at `now`. Used for SR timestamps.
    pub fn set_wall_clock(&mut self, ntp: u64, now: Instant) {
        self.wall_clock = (ntp, now);
    }

    /// Changes the codec to send (after the SDP answer); received audio is decoded by its payload type.
    pub fn set_codec(&mut self, codec: Codec) {
        self.codec = codec;
        self.packetizer.set_payload_type(codec.payload_type());
    }

    /// Sets the payload type of RFC 4733 telephone-events (from the SDP answer).
    pub fn set_telephone_event_pt(&mut self, pt: Option<u8>) {
        self.telephone_event_pt = pt;
    }

    /// The codec being sent.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Name of the codec being sent, as in SDP.
    pub fn codec_name(&self) -> &'static str {
        self.codec.name()
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.packetizer.ssrc()
    }

    /// Our RTCP CNAME.
    pub fn cname(&self) -> &str {
        &self.cname
    }

    /// True while RTP is being sent.
    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
    }

    /// Starts sending at `now`: packet `n` is due at `now + n × 20 ms`. Does nothing if already sending.
    pub fn start_sending(&mut self, now: Instant) {
        self.advance(now);
        if self.sending.is_some() {
            return;
        }
        if let Some(stopped) = self.stopped.take() {
            // Keep the RTP clock running across the pause (RFC 3550 §5.1).
            let paused = now.saturating_duration_since(stopped);
            let frames = paused.as_nanos() / PACKET_DURATION.as_nanos();
            self.packetizer.skip(frames.min(u32::MAX as u128) as u32);
        }
        self.packetizer.start_talkspurt();
        self.sending = Some(Sending {
            start: now,
            next_frame: 0,
        });
        self.schedule_first_rtcp(now);
    }

    /// Stops sending RTP (hold); RTCP and receiving go on.
    pub fn stop_sending(&mut self, now: Instant) {
        self.advance(now);
        if let Some(s) = self.sending.take() {
            self.stopped = Some(Self::deadline(s));
        }
    }

    /// Puts a network condition in the path of the RTP this session receives (`rx`) and sends
    /// (`tx`), each seeded on its own. Received packets reach the session at their impaired
    /// arrival times, so every statistic, the receiver and the detectors see the impaired
    /// stream; sent packets leave at their impaired times ([`poll_timeout`](Self::poll_timeout)
    /// includes them). RTCP is not impaired.
    pub fn set_network(
        &mut self,
        rx: Option<ImpairConfig>,
        tx: Option<ImpairConfig>,
        seed: u64,
    ) -> Result<(), ImpairError> {
        self.impair_rx = rx
            .map(|c| Impairment::new(c, derive_seed(seed, 1)))
            .transpose()?;
        self.impair_tx = tx
            .map(|c| Impairment::new(c, derive_seed(seed, 2)))
            .transpose()?;
        Ok(())
    }

    /// What the impairments did: (received direction, sent direction).
    pub fn network_stats(&self) -> (Option<ImpairStats>, Option<ImpairStats>) {
        (
            self.impair_rx.as_ref().map(Impairment::stats),
            self.impair_tx.as_ref().map(Impairment::stats),
        )
    }

    /// Handles an RTP datagram that arrived at `now`; malformed ones are counted.
    pub fn handle_rtp(&mut self, datagram: &[u8], now: Instant) {
        let Some(net) = self.impair_rx.as_mut() else {
            return self.receive_rtp(datagram, now);
        };
        // Everything up to `now` has been read from the socket: what the network delivers
        // by then is final, at its own arrival times.
        net.push(datagram.to_vec(), now);
        self.deliver_impaired(now);
    }

    fn deliver_impaired(&mut self, now: Instant) {
        while let Some((d, at)) = self.impair_rx.as_mut().and_then(|n| n.poll_timed(now)) {
            self.receive_rtp(&d, at);
        }
    }

    fn receive_rtp(&mut self, datagram: &[u8], now: Instant) {
        self.advance(now);
        let received = match self.rx.on_packet(datagram, now) {
            Ok(r) => r,
            Err(e) => {
                self.last_malformed = Some(MediaError::Rtp(e));
                return;
            }
        };
        self.schedule_first_rtcp(now);
        let payload_type = received.header.payload_type;
        let fresh = !matches!(received.arrival, Arrival::Duplicate | Arrival::Discarded);
        if Some(payload_type) == self.telephone_event_pt {
            self.rx_telephone_events += 1;
            let h = received.header;
            if let Err(e) = self
                .rx_dtmf
                .on_packet(h.timestamp, h.marker, h.payload, now)
            {
                self.last_malformed = Some(MediaError::Dtmf(e));
                self.rx_dtmf_malformed += 1;
            }
            self.drain_rfc4733();
            return;
        }
        let Some(codec) = Codec::from_payload_type(payload_type) else {
            self.rx_unknown_payload += 1;
            return;
        };
        if let Some((sr_ntp, sr_rtp)) = self.remote_sr.filter(|_| fresh) {
            // The packet's first sample was taken at the SR's time plus the timestamp difference.
            let ahead = received.header.timestamp.wrapping_sub(sr_rtp) as i32;
            let sent =
                sr_ntp as i128 + i128::from(ahead) * (1i128 << 32) / i128::from(codec.clock_rate());
            let arrived = self.ntp_at(now) as i128;
            let owd = (((arrived - sent) * 1_000_000_000) >> 32) as i64;
            self.owd.0 += owd as f64;
            self.owd.1 += 1;
            self.owd.2 = self.owd.2.max(owd);
        }
        if let Some(ear) = self.earpiece.as_mut() {
            // Duplicates and all: the receiver tells them apart itself.
            let h = received.header;
            let n = codec.decode_frame(h.payload, &mut self.pcm_rx[..]);
            ear.insert(h.sequence, h.timestamp, &self.pcm_rx[..n], now);
        }
        if !fresh {
            return;
        }
        let listening = self.segmenter.is_some() || self.inband.is_some();
        let want_voice = !self.skip_first_voice && self.voice.onset_index().is_none();
        if !want_voice && !listening {
            return;
        }
        // The packet's first sample is taken to be played when it arrived.
        let mut offset = 0u64;
        for chunk in received.header.payload.chunks(SAMPLES_PER_PACKET) {
            let n = codec.decode_frame(chunk, &mut self.pcm);
            let at = now + samples_to_duration(offset);
            if want_voice && self.voice.onset_index().is_none() {
                self.voice.push(&self.pcm[..n], at);
            }
            if listening {
                if self.rx_marks.len() == RX_MARKS {
                    self.rx_marks.pop_front();
                }
                self.rx_marks.push_back((self.rx_samples, at));
                self.rx_samples += n as u64;
                if let Some(seg) = self.segmenter.as_mut() {
                    seg.push(&self.pcm[..n]);
                }
                if let Some(det) = self.inband.as_mut() {
                    det.push(&self.pcm[..n]);
                }
                self.rx_next_at = Some(at + samples_to_duration(n as u64));
            }
            offset += n as u64;
        }
        if listening {
            self.drain_detectors();
        }
    }

    /// Without RTP for [`RTP_GAP`] while voice is on, the missing stretch is heard as digital
    /// silence, so a prompt ends even when the far end stops sending after it.
    fn fill_rtp_gap(&mut self, now: Instant) {
        let (Some(next), Some(seg)) = (self.rx_next_at, self.segmenter.as_mut()) else {
            return;
        };
        if !seg.in_voice() || now < next + RTP_GAP {
            return;
        }
        let rate = self.codec.clock_rate() as u128;
        let n = (now.duration_since(next).as_nanos() * rate / 1_000_000_000) as usize;
        let n = n.min(MAX_GAP_FILL);
        if self.rx_marks.len() == RX_MARKS {
            self.rx_marks.pop_front();
        }
        self.rx_marks.push_back((self.rx_samples, next));
        self.rx_samples += n as u64;
        let zeros = [0i16; SAMPLES_PER_PACKET];
        let mut left = n;
        while left > 0 {
            let k = left.min(SAMPLES_PER_PACKET);
            seg.push(&zeros[..k]);
            if let Some(det) = self.inband.as_mut() {
                det.push(&zeros[..k]);
            }
            left -= k;
        }
        self.rx_next_at = Some(next + samples_to_duration(n as u64));
        self.drain_detectors();
    }

    /// The time sample `k` of the received stream was heard.
    fn sample_time(&self, k: u64) -> Option<Instant> {
        let i = self.rx_marks.partition_point(|(first, _)| *first <= k);
        let (first, at) = *self.rx_marks.get(i.checked_sub(1)?)?;
        Some(at + samples_to_duration(k - first))
    }

    fn drain_detectors(&mut self) {
        while let Some(e) = self.segmenter.as_mut().and_then(PromptSegmenter::poll) {
            let ev = match e {
                SegmentEvent::Onset { sample } => {
                    let at = self.sample_time(sample);
                    if self.first_segment_at.is_none() {
                        self.first_segment_at = at;
                    }
                    at.map(|at| MediaEvent::VoiceOnset { at })
                }
                SegmentEvent::End { end, .. } => {
                    self.sample_time(end).map(|at| MediaEvent::VoiceEnd { at })
                }
            };
            self.events.extend(ev);
        }
        while let Some(e) = self.inband.as_mut().and_then(DtmfDetector::poll) {
            let ev = match e {
                DtmfEvent::Started { digit, sample } => {
                    self.sample_time(sample).map(|at| MediaEvent::DtmfStarted {
                        digit,
                        at,
                        via: DtmfVia::Inband,
                    })
                }
                DtmfEvent::Ended(d) => self.sample_time(d.end_sample).map(|end| MediaEvent::Dtmf {
                    digit: d.digit,
                    end,
                    via: DtmfVia::Inband,
                }),
            };
            self.events.extend(ev);
        }
    }

    fn drain_rfc4733(&mut self) {
        while let Some(e) = self.rx_dtmf.poll() {
            self.events.push_back(match e {
                Rfc4733Event::Started { digit, at } => MediaEvent::DtmfStarted {
                    digit,
                    at,
                    via: DtmfVia::Rfc4733,
                },
                Rfc4733Event::Ended(d) => MediaEvent::Dtmf {
                    digit: d.digit,
                    end: d.end,
                    via: DtmfVia::Rfc4733,
                },
            });
        }
    }

    /// The next thing noticed in the received stream.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The audio of the prompt being heard (or just heard), from its onset; empty without
    /// prompt segmentation.
    pub fn prompt_audio(&self) -> &[i16] {
        self.segmenter.as_ref().map_or(&[], |s| s.current_audio())
    }

    /// Whether voice is on now (prompt segmentation only).
    pub fn in_voice(&self) -> bool {
        self.segmenter.as_ref().is_some_and(|s| s.in_voice())
    }

    /// Forgets the voice heard so far: the next onset is a new prompt.
    pub fn listen_for_prompt(&mut self) {
        if let Some(s) = self.segmenter.as_mut() {
            s.reset();
        }
        self.events.retain(|e| {
            !matches!(
                e,
                MediaEvent::VoiceOnset { .. } | MediaEvent::VoiceEnd { .. }
            )
        });
    }

    /// Stream sample of the outgoing stream that is on the wire at `at` (while sending).
    fn stream_sample_at(&self, at: Instant) -> u64 {
        let Some(sending) = self.sending else {
            return self.playout.position();
        };
        let since = at.saturating_duration_since(sending.start);
        (since.as_nanos() * self.codec.clock_rate() as u128 / 1_000_000_000) as u64
    }

    /// Plays `audio` so that its first sample is on the wire at `at` (or as soon as possible
    /// after), replacing what was to play; `looping` repeats it until [`stop_playing`](Self::stop_playing).
    pub fn play(&mut self, audio: AudioSource, at: Instant, looping: bool) {
        let k = self.stream_sample_at(at);
        self.playout.schedule(audio, k, looping, None, 0);
    }

    /// Stops the clip playing at `at` (or as soon as possible after); the background resumes.
    pub fn stop_playing(&mut self, at: Instant) {
        let k = self.stream_sample_at(at);
        self.playout.stop(k);
    }

    /// True while a clip plays or waits to.
    pub fn is_playing(&self) -> bool {
        self.playout.is_busy()
    }

    /// Sends `digits` from `now`: RFC 4733 events in place of audio frames, or tones in the
    /// audio. The packet carrying the end of the last digit comes out of
    /// [`poll_transmit`](Self::poll_transmit) with [`TxMark::DtmfDone`].
    pub fn send_dtmf(
        &mut self,
        digits: &str,
        timing: DtmfTiming,
        how: MediaDtmf,
        now: Instant,
    ) -> Result<(), MediaError> {
        match how {
            MediaDtmf::Rfc4733 => {
                if self.telephone_event_pt.is_none() {
                    return Err(MediaError::TelephoneEventNotNegotiated);
                }
                let sender = Rfc4733Sender::new(digits, timing)?;
                self.dtmf_tx_left = digits.chars().count();
                self.dtmf_tx = Some(sender);
            }
            MediaDtmf::Inband { level_dbm0 } => {
                let rate = self.codec.clock_rate() as u64;
                let tone = (timing.digit.as_nanos() as u64 * rate / 1_000_000_000) as usize;
                let gap = (timing.gap.as_nanos() as u64 * rate / 1_000_000_000) as usize;
                let mut samples = Vec::new();
                for (i, d) in digits.chars().enumerate() {
                    if i > 0 {
                        samples.resize(samples.len() + gap, 0);
                    }
                    let mut gen = DtmfTone::new(d, level_dbm0, 0.0)
                        .ok_or(DtmfError::UnknownDigit { digit: d })?;
                    let start = samples.len();
                    samples.resize(start + tone, 0);
                    gen.fill(&mut samples[start..]);
                }
                let end = samples.len() as u64;
                let k = self.stream_sample_at(now);
                self.playout.schedule(
                    AudioSource::from_samples(samples),
                    k,
                    false,
                    Some(end),
                    INBAND_TAG,
                );
            }
        }
        Ok(())
    }

    /// Handles an RTCP datagram that arrived at `now`: LSR for our reports, RTT from blocks about us.
    pub fn handle_rtcp(&mut self, datagram: &[u8], now: Instant) {
        self.advance(now);
        let packets = match parse_compound(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.rtcp_malformed += 1;
                self.last_malformed = Some(MediaError::Rtcp(e));
                return;
            }
        };
        self.rtcp_received += 1;
        let arrival_ntp = self.ntp_at(now);
        let ours = self.ssrc();
        for packet in &packets {
            if let RtcpPacket::SenderReport(sr) = packet {
                self.rx.on_sender_report(sr.ssrc, sr.ntp, now);
                if self.rx.ssrc().is_none_or(|s| s == sr.ssrc) {
                    self.remote_sr = Some((sr.ntp, sr.rtp_timestamp));
                }
            }
            for block in packet.report_blocks().iter().filter(|b| b.ssrc == ours) {
                if let Some(rtt) = block.round_trip_time(arrival_ntp) {
                    self.rtt = Some(rtt);
                }
                self.remote_report = Some(*block);
            }
        }
    }

    /// Advances the clock to `now`; due packets are then available from [`poll_transmit`](Self::poll_transmit).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.fill_rtp_gap(now);
        if self.rx_dtmf.poll_timeout().is_some_and(|t| t <= now) {
            self.rx_dtmf.handle_timeout(now);
            self.drain_rfc4733();
        }
    }

    /// The next datagram to send, written into the session's buffer; call until `None`.
    pub fn poll_transmit(&mut self) -> Option<MediaTransmit> {
        if self.rtcp_due {
            self.rtcp_due = false;
            if let Some(len) = self.write_rtcp() {
                self.rtcp_sent += 1;
                return Some(MediaTransmit {
                    channel: RtpChannel::Rtcp,
                    len,
                    mark: None,
                });
            }
        }
        if self.impair_tx.is_none() {
            return self.next_rtp();
        }
        // Through the network: what is due goes in, what the network delivers by now comes out.
        let now = self.now;
        while let Some(t) = self.next_rtp() {
            let bytes = self.buf[..t.len].to_vec();
            if let Some(net) = self.impair_tx.as_mut() {
                net.push(bytes, now);
            }
        }
        let (bytes, _) = self.impair_tx.as_mut()?.poll_timed(now)?;
        let len = bytes.len().min(TRANSMIT_BUFFER);
        self.buf[..len].copy_from_slice(&bytes[..len]);
        Some(MediaTransmit {
            channel: RtpChannel::Rtp,
            len,
            mark: None,
        })
    }

    fn next_rtp(&mut self) -> Option<MediaTransmit> {
        let sending = self.sending?;
        if Self::deadline(sending) > self.now {
            return None;
        }
        self.skip_overdue();
        let len = self.write_rtp()?;
        Some(MediaTransmit {
            channel: RtpChannel::Rtp,
            len,
            mark: self.pending_mark.take(),
        })
    }

    /// The datagram a [`MediaTransmit`] refers to (valid until the next `poll_transmit`).
    pub fn transmit_buf(&self, transmit: &MediaTransmit) -> &[u8] {
        &self.buf[..transmit.len.min(TRANSMIT_BUFFER)]
    }

    /// When the session next wants [`handle_timeout`](Self::handle_timeout): the next packet or report.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rtp = self.sending.map(Self::deadline);
        let gap = self
            .rx_next_at
            .filter(|_| self.segmenter.as_ref().is_some_and(|s| s.in_voice()))
            .map(|t| t + RTP_GAP);
        let net = self.impair_tx.as_ref().and_then(Impairment::poll_timeout);
        [rtp, self.next_rtcp, self.rx_dtmf.poll_timeout(), gap, net]
            .into_iter()
            .flatten()
            .min()
    }

    /// Counters, loss, jitter, first RTP and first voice, RTT.
    pub fn stats(&self) -> MediaStats {
        let since_created =
            |t: Instant| t.saturating_duration_since(self.created_at).as_secs_f64() * 1000.0;
        let clock_rate = self.codec.clock_rate() as f64;
        MediaStats {
            codec: self.codec,
            local_ssrc: self.ssrc(),
            remote_ssrc: self.rx.ssrc(),
            tx_packets: self.tx_packets,
            tx_bytes: self.tx_bytes,
            tx_skipped: self.tx_skipped,
            rx_packets: self.rx.packets(),
            rx_bytes: self.rx.payload_bytes(),
            expected: self.rx.expected(),
            lost: self.rx.lost(),
            duplicates: self.rx.duplicates(),
            out_of_order: self.rx.out_of_order(),
            jitter_ms: self.rx.jitter_ms(),
            max_jitter_ms: self.rx.max_jitter_ms(),
            malformed: self.rx.malformed() + self.rtcp_malformed + self.rx_dtmf_malformed,
            rtcp_malformed: self.rtcp_malformed,
            last_malformed: self.last_malformed.as_ref().map(|e| e.to_string()),
            ssrc_changes: self.rx.ssrc_changes(),
            rx_telephone_events: self.rx_telephone_events,
            rx_unknown_payload: self.rx_unknown_payload,
            rtcp_sent: self.rtcp_sent,
            rtcp_received: self.rtcp_received,
            rtt_ms: self.rtt.map(|d| d.as_secs_f64() * 1000.0),
            remote_reported_lost: self.remote_report.map(|b| b.cumulative_lost),
            remote_reported_jitter_ms: self
                .remote_report
                .map(|b| b.jitter as f64 * 1000.0 / clock_rate),
            first_rtp_at: self.rx.first_packet_at(),
            last_rtp_at: self.rx.last_packet_at(),
            first_voice_at: self.first_segment_at.or(self.voice.onset()),
            first_rtp_ms: self.rx.first_packet_at().map(since_created),
            first_voice_ms: self
                .first_segment_at
                .or(self.voice.onset())
                .map(since_created),
            one_way_delay_ms: (self.owd.1 > 0).then(|| self.owd.0 / self.owd.1 as f64 / 1e6),
            max_one_way_delay_ms: (self.owd.1 > 0).then(|| self.owd.2 as f64 / 1e6),
            rtt_one_way_delay_ms: self.rtt.map(|d| d.as_secs_f64() * 500.0),
            heard: self.earpiece.as_ref().map(Earpiece::stats),
        }
    }

    /// Ends the receiver at `end` (the call's end): what was due by then is heard. Call before
    /// [`stats`](Self::stats) and [`take_heard`](Self::take_heard).
    ///
    /// What was in flight in the impaired network at `end` still arrives, at its own time:
    /// the hang-up (signalling, not impaired) would have waited for it on a real network.
    pub fn finish_hearing(&mut self, end: Instant) {
        let drained = end + IN_FLIGHT_GRACE;
        self.deliver_impaired(drained);
        if let Some(ear) = self.earpiece.as_mut() {
            ear.finish(drained);
        }
    }

    /// The audio the caller heard (with [`ListenConfig::hear`]), at the codec's clock rate.
    pub fn take_heard(&mut self) -> Vec<i16> {
        self.earpiece
            .as_mut()
            .map(Earpiece::take_heard)
            .unwrap_or_default()
    }

    /// The receive statistics, for more than [`MediaStats`] shows.
    pub fn receive_stats(&self) -> &RtpReceiveStats {
        &self.rx
    }

    fn deadline(sending: Sending) -> Instant {
        sending.start + PACKET_DURATION * sending.next_frame as u32
    }

    /// Moves the clock forward (never back) and notes a due RTCP report.
    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        if let Some(next) = self.next_rtcp {
            if next <= self.now {
                self.rtcp_due = true;
                let interval = self.randomized_interval(1.0);
                // Absolute schedule, but never a burst of reports after a stall.
                let mut following = next + interval;
                if following <= self.now {
                    following = self.now + interval;
                }
                self.next_rtcp = Some(following);
            }
        }
    }

    /// The first report goes out half an interval after the session becomes active (RFC 3550 §6.2).
    fn schedule_first_rtcp(&mut self, now: Instant) {
        if self.next_rtcp.is_none() {
            self.next_rtcp = Some(now + self.randomized_interval(0.5));
        }
    }

    /// `scale × interval × U[0.5, 1.5]` (RFC 3550 §6.3.1).
    fn randomized_interval(&mut self, scale: f64) -> Duration {
        let factor: f64 = self.rng.random_range(0.5..1.5);
        self.rtcp_interval.mul_f64(scale * factor)
    }

    /// Skips packet times more than [`MAX_CATCH_UP`] behind `now`, keeping the RTP clock and audio in step.
    fn skip_overdue(&mut self) {
        let Some(sending) = self.sending.as_mut() else {
            return;
        };
        let elapsed = self.now.saturating_duration_since(sending.start);
        let due = (elapsed.as_nanos() / PACKET_DURATION.as_nanos()) as u64 + 1;
        let overdue = due.saturating_sub(sending.next_frame);
        if overdue > MAX_CATCH_UP {
            let skip = overdue - MAX_CATCH_UP;
            sending.next_frame += skip;
            self.tx_skipped += skip;
            self.packetizer.skip(skip.min(u32::MAX as u64) as u32);
            self.playout.skip(skip);
        }
    }

    /// Encodes the next frame and writes its RTP packet into the buffer.
    fn write_rtp(&mut self) -> Option<usize> {
        if let Some(m) = self.playout.fill(&mut self.pcm) {
            if m.tag == INBAND_TAG {
                self.pending_mark = Some(TxMark::DtmfDone { offset: m.offset });
            }
        }
        if let (Some(tx), Some(pt)) = (self.dtmf_tx.as_mut(), self.telephone_event_pt) {
            let ts = self.packetizer.next_timestamp();
            match tx.on_frame(ts) {
                FrameAction::Event {
                    payload,
                    marker,
                    timestamp,
                } => {
                    if tx.poll_sent().is_some() {
                        self.dtmf_tx_left = self.dtmf_tx_left.saturating_sub(1);
                        if self.dtmf_tx_left == 0 {
                            self.pending_mark = Some(TxMark::DtmfDone { offset: 0 });
                        }
                    }
                    let len = self
                        .packetizer
                        .packetize_event(pt, marker, timestamp, &payload, &mut self.buf[..])
                        .ok()?;
                    if let Some(sending) = self.sending.as_mut() {
                        sending.next_frame += 1;
                    }
                    self.tx_packets += 1;
                    self.tx_bytes += payload.len() as u64;
                    return Some(len);
                }
                FrameAction::Audio => {}
                FrameAction::Done => self.dtmf_tx = None,
            }
        }
        let n = self.codec.encode_frame(&self.pcm, &mut self.payload);
        let len = self
            .packetizer
            .packetize(&self.payload[..n], &mut self.buf[..])
            .ok()?;
        if let Some(sending) = self.sending.as_mut() {
            sending.next_frame += 1;
        }
        self.tx_packets += 1;
        self.tx_bytes += n as u64;
        Some(len)
    }

    /// NTP time at `now` from the wall clock anchor.
    fn ntp_at(&self, now: Instant) -> u64 {
        let (anchor_ntp, anchor) = self.wall_clock;
        match now.checked_duration_since(anchor) {
            Some(d) => ntp::add(anchor_ntp, d),
            None => anchor_ntp.wrapping_sub(ntp::add(0, anchor.duration_since(now))),
        }
    }

    /// The RTP timestamp of the last sample taken at or before `now`, and that sample's
    /// instant (for the SR, RFC 3550 §6.4.1: both fields name the same instant, so a receiver
    /// sharing our clock computes one-way delays to the nanosecond).
    fn rtp_timestamp_at(&self, now: Instant) -> (u32, Instant) {
        let next = self.packetizer.next_timestamp();
        let Some(sending) = self.sending else {
            return (next, now);
        };
        let deadline = Self::deadline(sending);
        let rate = self.codec.clock_rate() as u128;
        let per_sample = |n: u128| Duration::from_nanos((n * 1_000_000_000 / rate) as u64);
        match deadline.checked_duration_since(now) {
            Some(ahead) => {
                let n = (ahead.as_nanos() * rate).div_ceil(1_000_000_000);
                (next.wrapping_sub(n as u32), deadline - per_sample(n))
            }
            None => {
                let n = now.duration_since(deadline).as_nanos() * rate / 1_000_000_000;
                (next.wrapping_add(n as u32), deadline + per_sample(n))
            }
        }
    }

    /// Writes the compound report: SR if we have sent RTP, else RR, then SDES CNAME (RFC 3550 §6.1).
    fn write_rtcp(&mut self) -> Option<usize> {
        let now = self.now;
        let block = self.rx.report_block(now);
        let ssrc = self.ssrc();
        let first = if self.tx_packets > 0 {
            self.sender_report.ssrc = ssrc;
            let (ts, sampled) = self.rtp_timestamp_at(now);
            self.sender_report.ntp = self.ntp_at(sampled);
            self.sender_report.rtp_timestamp = ts;
            self.sender_report.packet_count = self.tx_packets as u32;
            self.sender_report.octet_count = self.tx_bytes as u32;
            self.sender_report.reports.clear();
            self.sender_report.reports.extend(block);
            self.sender_report.write_to(&mut self.buf[..])
        } else {
            self.receiver_report.ssrc = ssrc;
            self.receiver_report.reports.clear();
            self.receiver_report.reports.extend(block);
            self.receiver_report.write_to(&mut self.buf[..])
        }
        .ok()?;
        let sdes =
            SourceDescription::write_cname(ssrc, &self.cname, &mut self.buf[first..]).ok()?;
        Some(first + sdes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::parse_rtp;
    use crate::media::voice::dbov_to_rms;

    #[allow(clippy::disallowed_methods)] // tests: one real base instant, then durations
    fn base() -> Instant {
        Instant::now()
    }

    /// Silence, then a 1 kHz tone at −20 dBov from sample `start`, `len` samples in all.
    fn prompt(len: usize, start: usize) -> AudioSource {
        let amplitude = dbov_to_rms(-20.0) * std::f64::consts::SQRT_2;
        AudioSource::from_samples(
            (0..len)
                .map(|i| {
                    if i < start {
                        0
                    } else {
                        let t = (i - start) as f64 / 8000.0;
                        (amplitude * (2.0 * std::f64::consts::PI * 1000.0 * t + 0.6).sin()) as i16
                    }
                })
                .collect::<Vec<i16>>(),
        )
    }

    /// A datagram in flight in the fake network.
    struct InFlight {
        at: Instant,
        to_b: bool,
        channel: RtpChannel,
        bytes: Vec<u8>,
    }

    fn drain(session: &mut MediaSession, to_b: bool, at: Instant, net: &mut Vec<InFlight>) {
        while let Some(t) = session.poll_transmit() {
            net.push(InFlight {
                at,
                to_b,
                channel: t.channel,
                bytes: session.transmit_buf(&t).to_vec(),
            });
        }
    }

    /// Runs A and B over a link of constant `delay` from `t0` to `end` on a fake clock: B
    /// starts sending at `b_start` (never without it), each stops after `packets` packets.
    fn link(
        a: &mut MediaSession,
        b: &mut MediaSession,
        delay: Duration,
        t0: Instant,
        end: Instant,
        b_start: Option<Instant>,
        packets: u64,
    ) {
        let mut net: Vec<InFlight> = Vec::new();
        let mut b_start = b_start;
        let mut now = t0;
        while now < end {
            // The next event: a session's timer, B's start, or a delivery.
            let mut next = end;
            for t in [a.poll_timeout(), b.poll_timeout(), b_start]
                .into_iter()
                .flatten()
            {
                next = next.min(t);
            }
            for d in &net {
                next = next.min(d.at + delay);
            }
            now = next.max(now);
            if b_start.is_some_and(|s| now >= s) {
                b.start_sending(now);
                b_start = None;
            }
            let (due, later): (Vec<_>, Vec<_>) = net.drain(..).partition(|d| d.at + delay <= now);
            net = later;
            for d in due {
                let target = if d.to_b { &mut *b } else { &mut *a };
                match d.channel {
                    RtpChannel::Rtp => target.handle_rtp(&d.bytes, now),
                    RtpChannel::Rtcp => target.handle_rtcp(&d.bytes, now),
                }
            }
            a.handle_timeout(now);
            b.handle_timeout(now);
            drain(a, true, now, &mut net);
            drain(b, false, now, &mut net);
            for s in [&mut *a, &mut *b] {
                if s.stats().tx_packets == packets {
                    s.stop_sending(now);
                }
            }
        }
    }

    #[test]
    fn back_to_back_sessions_exchange_50_packets_without_loss() {
        let t0 = base();
        let delay = Duration::from_millis(30);
        let b_start = t0 + Duration::from_millis(7);
        let config = |codec, source, seed| MediaConfig {
            rtcp_interval: Duration::from_millis(400),
            seed,
            ..MediaConfig::new(codec, source)
        };
        let mut a = MediaSession::new(config(Codec::Pcmu, prompt(16000, 2437), 1), t0);
        let mut b = MediaSession::new(config(Codec::Pcma, prompt(16000, 1003), 2), t0);
        a.set_wall_clock(ntp::from_unix(Duration::from_secs(1_700_000_000)), t0);
        b.set_wall_clock(ntp::from_unix(Duration::from_secs(1_600_000_000)), t0);
        a.start_sending(t0);

        link(
            &mut a,
            &mut b,
            delay,
            t0,
            t0 + Duration::from_secs(3),
            Some(b_start),
            50,
        );

        for (name, s) in [("A", &a), ("B", &b)] {
            let st = s.stats();
            assert_eq!(st.tx_packets, 50, "{name}");
            assert_eq!(st.rx_packets, 50, "{name}");
            assert_eq!(st.lost, 0, "{name}");
            assert_eq!(st.expected, 50, "{name}");
            assert_eq!(st.malformed, 0, "{name}");
            assert!(st.jitter_ms < 1e-6, "{name}: jitter {}", st.jitter_ms);
            assert!(
                st.rtcp_received >= 2,
                "{name}: {} reports",
                st.rtcp_received
            );
            let rtt = st.rtt_ms.expect("RTT");
            assert!((rtt - 60.0).abs() < 0.1, "{name}: RTT {rtt} ms");
            assert_eq!(st.remote_reported_lost, Some(0), "{name}");
        }
        // A's tone starts at sample 2437; B hears it 30 ms after it was sent.
        let a_to_b = t0 + samples_to_duration(2437) + delay;
        let b_to_a = b_start + samples_to_duration(1003) + delay;
        let error = |got: Option<Instant>, want: Instant| {
            let got = got.expect("first voice");
            got.duration_since(t0).as_nanos() as i128 - want.duration_since(t0).as_nanos() as i128
        };
        let e = error(b.stats().first_voice_at, a_to_b);
        assert!((0..=125_000).contains(&e), "B heard A's voice {e} ns off");
        let e = error(a.stats().first_voice_at, b_to_a);
        assert!((0..=125_000).contains(&e), "A heard B's voice {e} ns off");
        assert_eq!(b.stats().first_rtp_at, Some(t0 + delay));
        assert_eq!(a.stats().first_rtp_at, Some(b_start + delay));
        assert_eq!(a.stats().remote_ssrc, Some(b.ssrc()));
        let json = serde_json::to_value(a.stats()).unwrap();
        assert_eq!(json["codec"], "PCMU");
        assert!(json["first_voice_ms"].as_f64().is_some());
        assert!(json.get("first_voice_at").is_none());
    }

    /// With a shared wall clock the one-way delay is exact, and the receiver hears the whole
    /// prompt; half the RTT is the estimate without one.
    #[test]
    fn one_way_delay_from_sender_reports_and_the_heard_audio() {
        let t0 = base();
        let delay = Duration::from_micros(37_250);
        let source = prompt(16000, 2437);
        let mut a = MediaSession::new(
            MediaConfig {
                rtcp_interval: Duration::from_millis(400),
                seed: 5,
                ..MediaConfig::new(Codec::Pcmu, source.clone())
            },
            t0,
        );
        let mut b = MediaSession::new(
            MediaConfig {
                rtcp_interval: Duration::from_millis(400),
                seed: 6,
                listen: ListenConfig {
                    hear: Some(JitterBufferConfig::fixed(Duration::from_millis(40))),
                    ..ListenConfig::default()
                },
                ..MediaConfig::new(Codec::Pcmu, AudioSource::silence())
            },
            t0,
        );
        let wall = ntp::from_unix(Duration::from_secs(1_700_000_000));
        a.set_wall_clock(wall, t0);
        b.set_wall_clock(wall, t0);
        a.start_sending(t0);
        b.start_sending(t0);
        // The last packet leaves at 1.98 s and is due 40 ms after it arrives.
        let end = t0 + Duration::from_millis(2100);
        link(&mut a, &mut b, delay, t0, end, None, 100);
        b.finish_hearing(end);
        let st = b.stats();
        let owd = st.one_way_delay_ms.expect("sender reports arrived");
        assert!((owd - 37.25).abs() < 0.001, "one-way delay {owd} ms");
        assert!((st.max_one_way_delay_ms.expect("max") - 37.25).abs() < 0.001);
        let rtt_half = a.stats().rtt_one_way_delay_ms.expect("RTT");
        assert!((rtt_half - 37.25).abs() < 0.1, "RTT / 2 {rtt_half} ms");
        let heard = st.heard.expect("receiver on");
        assert_eq!(
            (heard.expected, heard.played, heard.late_discarded),
            (100, 100, 0)
        );
        assert_eq!(
            heard.jitter_buffer.mode,
            crate::media::jitter::JitterMode::Fixed
        );
        let audio = b.take_heard();
        let d = crate::media::plc::PLC_DELAY_SAMPLES;
        // What was sent, through µ-law and back.
        let mut coded = vec![0u8; 16000];
        Codec::Pcmu.encode_frame(&source.samples()[..16000], &mut coded);
        let mut sent = vec![0i16; 16000];
        Codec::Pcmu.decode_frame(&coded, &mut sent);
        assert!(audio[d..d + sent.len()] == sent[..], "heard ≠ sent");
        assert!(a.stats().heard.is_none());
    }

    #[test]
    fn packets_follow_absolute_deadlines_despite_late_wakeups() {
        let t0 = base();
        let mut s = MediaSession::new(MediaConfig::new(Codec::Pcma, prompt(800, 0)), t0);
        s.start_sending(t0);
        let mut sent = Vec::new();
        let mut timestamps = Vec::new();
        let mut wake = t0;
        for _ in 0..20 {
            // The driver wakes 7 ms after each deadline.
            s.handle_timeout(wake);
            while let Some(t) = s.poll_transmit() {
                if t.channel == RtpChannel::Rtp {
                    let h = parse_rtp(s.transmit_buf(&t)).unwrap();
                    timestamps.push((h.sequence, h.timestamp, h.marker));
                    sent.push(wake);
                }
            }
            let deadline = s.poll_timeout().unwrap();
            assert_eq!(
                deadline,
                t0 + PACKET_DURATION * timestamps.len() as u32,
                "deadlines do not drift"
            );
            wake = deadline + Duration::from_millis(7);
        }
        assert_eq!(timestamps.len(), 20);
        for (i, w) in timestamps.windows(2).enumerate() {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1), "seq at {i}");
            assert_eq!(w[1].1, w[0].1.wrapping_add(160), "timestamp at {i}");
            assert!(!w[1].2, "marker only on the first");
        }
        assert!(timestamps[0].2);
        assert_eq!(s.stats().tx_bytes, 20 * 160);
    }

    #[test]
    fn a_late_driver_gets_a_short_burst_and_long_stalls_are_skipped() {
        let t0 = base();
        let mut s = MediaSession::new(MediaConfig::new(Codec::Pcmu, AudioSource::silence()), t0);
        s.start_sending(t0);
        let count = |s: &mut MediaSession, at: Instant| {
            s.handle_timeout(at);
            let mut ts = Vec::new();
            while let Some(t) = s.poll_transmit() {
                if t.channel == RtpChannel::Rtp {
                    let h = parse_rtp(s.transmit_buf(&t)).unwrap();
                    assert!(h.payload.iter().all(|&b| b == 0xFF), "µ-law silence");
                    ts.push(h.timestamp);
                }
            }
            ts
        };
        assert_eq!(count(&mut s, t0).len(), 1);
        // 70 ms late: packets 1, 2, 3 are due, sent back to back.
        let burst = count(&mut s, t0 + Duration::from_millis(70));
        assert_eq!(burst.len(), 3);
        // A 1 s stall: only the last 5 due packets go out, the rest are skipped.
        let after_stall = count(&mut s, t0 + Duration::from_millis(1070));
        assert_eq!(after_stall.len(), 5);
        assert_eq!(after_stall[0], burst[2].wrapping_add(160 * 46));
        assert_eq!(s.stats().tx_skipped, 54 - 5 - 4);
        assert_eq!(s.stats().tx_packets, 9);
    }

    #[test]
    fn looping_and_exhausted_sources() {
        let t0 = base();
        let tone = prompt(200, 0);
        for (looping, expect_sound) in [(true, true), (false, false)] {
            let mut s = MediaSession::new(
                MediaConfig {
                    loop_source: looping,
                    ..MediaConfig::new(Codec::Pcmu, tone.clone())
                },
                t0,
            );
            s.start_sending(t0);
            let mut last = Vec::new();
            for i in 0..5u32 {
                s.handle_timeout(t0 + PACKET_DURATION * i);
                while let Some(t) = s.poll_transmit() {
                    if t.channel == RtpChannel::Rtp {
                        last = parse_rtp(s.transmit_buf(&t)).unwrap().payload.to_vec();
                    }
                }
            }
            let sound = last.iter().any(|&b| b != 0xFF);
            assert_eq!(sound, expect_sound, "looping {looping}");
        }
    }

    #[test]
    fn malformed_input_is_counted_not_fatal() {
        let t0 = base();
        let mut s = MediaSession::new(MediaConfig::new(Codec::Pcmu, AudioSource::silence()), t0);
        s.handle_rtp(&[0x80, 0x00, 0x01], t0);
        s.handle_rtp(&[0x40; 20], t0);
        s.handle_rtcp(&[0x80, 201, 0x00, 0x09], t0);
        s.handle_rtcp(&[], t0);
        let st = s.stats();
        assert_eq!(st.malformed, 4);
        assert_eq!(st.rtcp_malformed, 2);
        assert!(st.last_malformed.unwrap().contains("empty"));
        assert_eq!(st.rx_packets, 0);
        assert_eq!(st.first_rtp_at, None);
    }

    #[test]
    fn telephone_events_and_codec_changes() {
        let t0 = base();
        let mut s = MediaSession::new(
            MediaConfig {
                telephone_event_pt: Some(101),
                ..MediaConfig::new(Codec::Pcmu, AudioSource::silence())
            },
            t0,
        );
        let mut buf = [0u8; 64];
        let mut remote = RtpPacketizer::with_state(101, 5, 10, 0);
        let len = remote.packetize(&[1, 0, 0, 160], &mut buf).unwrap();
        s.handle_rtp(&buf[..len], t0);
        let mut other = RtpPacketizer::with_state(18, 5, 11, 160);
        let len = other.packetize(&[0; 20], &mut buf).unwrap();
        s.handle_rtp(&buf[..len], t0);
        let st = s.stats();
        assert_eq!((st.rx_telephone_events, st.rx_unknown_payload), (1, 1));
        assert_eq!(st.rx_packets, 2);

        s.set_codec(Codec::Pcma);
        assert_eq!(s.codec_name(), "PCMA");
        s.start_sending(t0);
        let t = s.poll_transmit().unwrap();
        assert_eq!(parse_rtp(s.transmit_buf(&t)).unwrap().payload_type, 8);
    }

    #[test]
    fn rtcp_starts_with_a_receiver_report_and_carries_the_cname() {
        let t0 = base();
        let mut s = MediaSession::new(
            MediaConfig {
                rtcp_interval: Duration::from_secs(1),
                seed: 9,
                ..MediaConfig::new(Codec::Pcmu, AudioSource::silence())
            },
            t0,
        );
        assert_eq!(s.poll_timeout(), None, "idle until active");
        let mut remote = RtpPacketizer::with_state(0, 42, 1, 0);
        let mut buf = [0u8; 200];
        let len = remote.packetize(&[0xFF; 160], &mut buf).unwrap();
        s.handle_rtp(&buf[..len], t0);
        let first = s.poll_timeout().unwrap();
        let since = first.duration_since(t0);
        assert!(since >= Duration::from_millis(250) && since <= Duration::from_millis(750));
        s.handle_timeout(first);
        let t = s.poll_transmit().unwrap();
        assert_eq!(t.channel, RtpChannel::Rtcp);
        let packets = parse_compound(s.transmit_buf(&t)).unwrap();
        let RtcpPacket::ReceiverReport(rr) = &packets[0] else {
            panic!("expected RR first: {packets:?}");
        };
        assert_eq!(rr.ssrc, s.ssrc());
        assert_eq!(rr.reports[0].ssrc, 42);
        assert_eq!(rr.reports[0].extended_highest_seq, 1);
        let RtcpPacket::SourceDescription(sdes) = &packets[1] else {
            panic!("expected SDES second: {packets:?}");
        };
        assert_eq!(sdes.chunks[0].cname.as_deref(), Some(s.cname()));
        assert!(s.poll_transmit().is_none());
        assert!(s.poll_timeout().unwrap() > first);
    }

    /// Sends `packets` RTP packets of `audio` from `t0` on the 20 ms clock, each delivered at
    /// its send time.
    fn send_rtp(
        audio: AudioSource,
        t0: Instant,
        packets: u32,
        mut deliver: impl FnMut(&[u8], Instant),
    ) {
        let mut tx = MediaSession::new(MediaConfig::new(Codec::Pcmu, audio), t0);
        tx.start_sending(t0);
        for i in 0..packets {
            let t = t0 + PACKET_DURATION * i;
            tx.handle_timeout(t);
            while let Some(m) = tx.poll_transmit() {
                if m.channel == RtpChannel::Rtp {
                    deliver(tx.transmit_buf(&m), t);
                }
            }
        }
    }

    /// A receiver told not to look for voice counts the packets but finds no voice; the
    /// same stream to a default receiver has its onset at the prompt's 100 ms.
    #[test]
    fn skip_first_voice_counts_packets_without_detecting() {
        let t0 = base();
        let mk = |skip| {
            MediaSession::new(
                MediaConfig {
                    listen: ListenConfig {
                        skip_first_voice: skip,
                        ..ListenConfig::default()
                    },
                    ..MediaConfig::new(Codec::Pcmu, AudioSource::silence())
                },
                t0,
            )
        };
        let (mut skipping, mut listening) = (mk(true), mk(false));
        send_rtp(prompt(4000, 800), t0, 25, |d, t| {
            skipping.handle_rtp(d, t);
            listening.handle_rtp(d, t);
        });
        assert_eq!(skipping.stats().rx_packets, 25);
        assert_eq!(skipping.stats().first_voice_at, None);
        let onset = listening.stats().first_voice_at.expect("voice heard");
        assert_eq!(onset.duration_since(t0), Duration::from_millis(100));
    }

    #[test]
    fn a_far_end_that_stops_sending_ends_the_prompt() {
        let t0 = base();
        let mut rx = MediaSession::new(
            MediaConfig {
                listen: ListenConfig {
                    prompts: Some(SegmenterConfig::default()),
                    ..ListenConfig::default()
                },
                ..MediaConfig::new(Codec::Pcmu, AudioSource::silence())
            },
            t0,
        );
        send_rtp(prompt(8000, 800), t0, 50, |d, t| rx.handle_rtp(d, t));
        // The far end stops sending after 1 s; only the session's own wake-ups go on.
        let mut events = Vec::new();
        let mut now = t0 + Duration::from_secs(1);
        for _ in 0..100 {
            now = rx.poll_timeout().map_or(now, |w| w.max(now)) + Duration::from_millis(1);
            rx.handle_timeout(now);
            events.extend(std::iter::from_fn(|| rx.poll_event()));
            if events
                .iter()
                .any(|e| matches!(e, MediaEvent::VoiceEnd { .. }))
            {
                break;
            }
        }
        let ms = |t: Instant| t.duration_since(t0).as_secs_f64() * 1000.0;
        let onset = events.iter().find_map(|e| match e {
            MediaEvent::VoiceOnset { at } => Some(ms(*at)),
            _ => None,
        });
        let end = events.iter().find_map(|e| match e {
            MediaEvent::VoiceEnd { at } => Some(ms(*at)),
            _ => None,
        });
        let onset = onset.expect("onset");
        let end = end.expect("the prompt ended although no RTP came");
        assert!((onset - 100.0).abs() < 0.5, "{onset}");
        assert!((end - 1000.0).abs() < 1.0, "{end}");
        assert!(
            now < t0 + Duration::from_millis(1900),
            "ended late: {now:?}"
        );
    }

    #[test]
    fn a_garbage_telephone_event_is_counted_not_a_panic() {
        let t0 = base();
        let mut rx = MediaSession::new(
            MediaConfig {
                telephone_event_pt: Some(101),
                ..MediaConfig::new(Codec::Pcmu, AudioSource::silence())
            },
            t0,
        );
        // A valid RTP header with PT 101 and a 2-byte payload (needs 4).
        let mut pkt = vec![0x80, 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
        pkt.extend_from_slice(&[1, 2]);
        rx.handle_rtp(&pkt, t0);
        let s = rx.stats();
        assert_eq!(s.malformed, 1);
        assert!(s.last_malformed.unwrap().contains("telephone-event"));
        assert!(rx.poll_event().is_none());
    }
}
