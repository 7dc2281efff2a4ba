//! Opus (RFC 6716) through the system libopus (`audiopus`), framed for RTP as RFC 7587 has it.
//!
//! - Mono, 20 ms per packet. The RTP clock is 48 kHz whatever the audio's sample rate (RFC 7587
//!   §4.1), so every packet advances the timestamp by [`RTP_TIMESTAMP_INCREMENT_20MS`]; the PCM
//!   side may run at any rate libopus supports ([`OpusRate`]), 20 ms being
//!   [`OpusRate::frame_samples`] samples.
//! - Loss: [`OpusDecoder::decode_lost`] fills a lost frame by packet loss concealment, or, given
//!   the packet that followed, from that packet's in-band forward error correction (FEC, RFC
//!   6716 §2.1.7), which the encoder adds when [`OpusConfig::inband_fec`] is on.
//! - Every libopus failure comes back as an [`OpusError`]; no input makes these types panic.
//!
//! Built only with the crate feature `opus`, which links libopus through pkg-config (Debian
//! package `libopus-dev`).

use audiopus::coder::{Decoder, Encoder, GenericCtl};
use audiopus::{Application, Bitrate, Channels, ErrorCode, SampleRate, Signal};

/// RTP clock rate of Opus, Hz (RFC 7587 §4.1: always 48 000).
pub const RTP_CLOCK_HZ: u32 = 48_000;

/// RTP timestamp increment of one 20 ms packet (RFC 7587 §4.1).
pub const RTP_TIMESTAMP_INCREMENT_20MS: u32 = 960;

/// Largest Opus packet this encoder writes, octets: libopus's recommended output buffer
/// (RFC 6716 §3.2.1 bounds a single frame at 1275 octets; this leaves room for any packing).
pub const MAX_PACKET_BYTES: usize = 4000;

/// Longest audio one Opus packet can carry, in 48 kHz samples (120 ms, RFC 6716 §3.2.5).
const MAX_PACKET_SAMPLES_48K: usize = 5760;

/// Errors of the Opus encoder and decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpusError {
    /// The PCM frame given to the encoder is not 20 ms at the encoder's sample rate.
    #[error("an Opus frame is 20 ms: {expected} samples at this rate, got {got}")]
    FrameLength {
        /// Samples in 20 ms at the configured rate.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// A zero-length payload was given as a packet (RFC 6716 §3.4 requires at least one octet).
    #[error("empty Opus packet")]
    EmptyPacket,
    /// libopus found the packet malformed (RFC 6716 §3.4), e.g. a TOC and length that do not fit.
    #[error("invalid or corrupt Opus packet")]
    InvalidPacket,
    /// A configuration value outside what libopus accepts.
    #[error("invalid Opus configuration: {0}")]
    Config(&'static str),
    /// Any other failure reported by libopus or its binding.
    #[error("libopus: {0}")]
    Library(audiopus::Error),
}

impl From<audiopus::Error> for OpusError {
    fn from(error: audiopus::Error) -> Self {
        match error {
            audiopus::Error::EmptyPacket => OpusError::EmptyPacket,
            audiopus::Error::Opus(ErrorCode::InvalidPacket) => OpusError::InvalidPacket,
            other => OpusError::Library(other),
        }
    }
}

/// PCM sample rates libopus encodes from and decodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpusRate {
    /// 8 kHz (narrowband PCM, e.g. to compare with G.711).
    Hz8000,
    /// 12 kHz.
    Hz12000,
    /// 16 kHz (wideband PCM, e.g. to compare with G.722).
    Hz16000,
    /// 24 kHz.
    Hz24000,
    /// 48 kHz, the RTP clock rate.
    #[default]
    Hz48000,
}

impl OpusRate {
    /// The rate in Hz.
    pub fn hz(self) -> u32 {
        match self {
            OpusRate::Hz8000 => 8000,
            OpusRate::Hz12000 => 12_000,
            OpusRate::Hz16000 => 16_000,
            OpusRate::Hz24000 => 24_000,
            OpusRate::Hz48000 => 48_000,
        }
    }

    /// Samples in a 20 ms frame at this rate.
    pub fn frame_samples(self) -> usize {
        self.hz() as usize / 50
    }

    fn binding(self) -> SampleRate {
        match self {
            OpusRate::Hz8000 => SampleRate::Hz8000,
            OpusRate::Hz12000 => SampleRate::Hz12000,
            OpusRate::Hz16000 => SampleRate::Hz16000,
            OpusRate::Hz24000 => SampleRate::Hz24000,
            OpusRate::Hz48000 => SampleRate::Hz48000,
        }
    }
}

/// Encoder settings. The defaults suit a voice call: VoIP application, 24 kbit/s, variable
/// bit rate, in-band FEC on, tuned for 10 % loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    /// PCM sample rate of the input.
    pub rate: OpusRate,
    /// Target bit rate, bit/s (libopus accepts 500..=512 000).
    pub bitrate_bps: u32,
    /// Variable bit rate; `false` gives packets of one constant size.
    pub vbr: bool,
    /// Computational complexity 0..=10 (more is better quality and slower).
    pub complexity: u8,
    /// Add in-band FEC (a low-rate copy of each frame in the next packet) for
    /// [`OpusDecoder::decode_lost`] to recover from.
    pub inband_fec: bool,
    /// Expected packet loss, percent 0..=100: how much of the rate libopus spends on FEC.
    pub expected_loss_percent: u8,
}

impl Default for OpusConfig {
    fn default() -> Self {
        OpusConfig {
            rate: OpusRate::Hz48000,
            bitrate_bps: 24_000,
            vbr: true,
            complexity: 9,
            inband_fec: true,
            expected_loss_percent: 10,
        }
    }
}

/// Opus encoder for one mono stream, 20 ms per packet.
pub struct OpusEncoder {
    inner: Encoder,
    rate: OpusRate,
    buffer: Box<[u8; MAX_PACKET_BYTES]>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// An encoder with `config`; fails on a value libopus does not accept.
    pub fn new(config: &OpusConfig) -> Result<Self, OpusError> {
        if !(500..=512_000).contains(&config.bitrate_bps) {
            return Err(OpusError::Config("bit rate outside 500..=512000 bit/s"));
        }
        if config.complexity > 10 {
            return Err(OpusError::Config("complexity above 10"));
        }
        if config.expected_loss_percent > 100 {
            return Err(OpusError::Config("expected loss above 100 %"));
        }
        let mut inner = Encoder::new(config.rate.binding(), Channels::Mono, Application::Voip)?;
        inner.set_bitrate(Bitrate::BitsPerSecond(config.bitrate_bps as i32))?;
        inner.set_vbr(config.vbr)?;
        inner.set_complexity(config.complexity)?;
        inner.set_signal(Signal::Voice)?;
        inner.set_inband_fec(config.inband_fec)?;
        inner.set_packet_loss_perc(config.expected_loss_percent)?;
        Ok(OpusEncoder {
            inner,
            rate: config.rate,
            buffer: Box::new([0; MAX_PACKET_BYTES]),
        })
    }

    /// The PCM sample rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }

    /// Encodes one 20 ms frame (`rate().frame_samples()` samples) and appends the packet to
    /// `out`; returns the packet's length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, OpusError> {
        let expected = self.rate.frame_samples();
        if pcm.len() != expected {
            return Err(OpusError::FrameLength {
                expected,
                got: pcm.len(),
            });
        }
        let len = self.inner.encode(pcm, &mut self.buffer[..])?;
        out.extend_from_slice(&self.buffer[..len]);
        Ok(len)
    }

    /// Back to the state of a new encoder with the same settings.
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset_state()?)
    }
}

/// Opus decoder for one mono stream.
pub struct OpusDecoder {
    inner: Decoder,
    rate: OpusRate,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A decoder producing PCM at `rate`.
    pub fn new(rate: OpusRate) -> Result<Self, OpusError> {
        Ok(OpusDecoder {
            inner: Decoder::new(rate.binding(), Channels::Mono)?,
            rate,
        })
    }

    /// The PCM sample rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }

    /// Decodes one packet and appends its audio to `out` (as long as the packet says: 20 ms
    /// from our encoder, up to 120 ms from others); returns the number of samples appended.
    /// On error nothing is appended.
    pub fn decode(&mut self, packet: &[u8], out: &mut Vec<i16>) -> Result<usize, OpusError> {
        if packet.is_empty() {
            return Err(OpusError::EmptyPacket);
        }
        let capacity = MAX_PACKET_SAMPLES_48K * self.rate.hz() as usize / 48_000;
        self.decode_into(Some(packet), capacity, false, out)
    }

    /// Fills one lost 20 ms frame and appends it to `out`; returns the number of samples.
    ///
    /// With `next`, the packet received after the lost one, the frame is rebuilt from the FEC
    /// data in `next` (libopus falls back to concealment when `next` carries none); `next` must
    /// then still be decoded normally with [`decode`](Self::decode). Without it, the frame is
    /// concealed by extrapolating the audio before the loss.
    pub fn decode_lost(
        &mut self,
        next: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> Result<usize, OpusError> {
        if next.is_some_and(|p| p.is_empty()) {
            return Err(OpusError::EmptyPacket);
        }
        let frame = self.rate.frame_samples();
        self.decode_into(next, frame, next.is_some(), out)
    }

    /// Runs libopus on `packet` (or a loss) with room for `capacity` samples.
    fn decode_into(
        &mut self,
        packet: Option<&[u8]>,
        capacity: usize,
        fec: bool,
        out: &mut Vec<i16>,
    ) -> Result<usize, OpusError> {
        let start = out.len();
        out.resize(start + capacity, 0);
        match self.inner.decode(packet, &mut out[start..], fec) {
            Ok(samples) => {
                out.truncate(start + samples);
                Ok(samples)
            }
            Err(error) => {
                out.truncate(start);
                Err(error.into())
            }
        }
    }

    /// Back to the state of a new decoder.
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset_state()?)
    }
}
