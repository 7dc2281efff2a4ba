//! Media: RTP/RTCP sessions, receive statistics, audio sources, voice onset.
//!
//! Sans-IO throughout: time is an input (`now: Instant`), nothing here reads the clock or
//! touches a socket. The drivers in `engine` and `sut` own both.
//!
//! - [`codec`]: G.711 PCMU/PCMA as RTP payload formats.
//! - [`rtp`]: RTP parsing and the packetizer (RFC 3550 §5).
//! - [`stats`]: receive statistics: loss, jitter, duplicates (RFC 3550 Appendix A).
//! - [`rtcp`]: SR, RR, SDES and compound packets (RFC 3550 §6).
//! - [`audio`]: WAV prompts shared by all calls.
//! - [`voice`]: sample-precise voice onset detection.
//! - [`session`]: the per-call RTP/RTCP endpoint.
#![warn(missing_docs)]

pub mod audio;
pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod playout;
pub mod plc;
pub mod prompt;
pub mod rtcp;
pub mod rtp;
pub mod session;
pub mod stats;
pub mod voice;

pub use audio::{AudioCursor, AudioError, AudioSource};
pub use codec::Codec;
pub use rtcp::{parse_compound, RtcpError, RtcpPacket};
pub use rtp::{parse_rtp, RtpError, RtpHeaderView, RtpPacketizer};
pub use session::{MediaConfig, MediaSession, MediaStats, MediaTransmit, RtpChannel};
pub use stats::RtpReceiveStats;
pub use voice::{VoiceOnsetConfig, VoiceOnsetDetector};

/// Errors of the media layer.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// An RTP datagram was malformed or a packet could not be built.
    #[error("RTP: {0}")]
    Rtp(#[from] RtpError),
    /// An RTCP datagram was malformed or a report could not be built.
    #[error("RTCP: {0}")]
    Rtcp(#[from] RtcpError),
    /// A DTMF payload or body was malformed, or digits could not be sent.
    #[error("DTMF: {0}")]
    Dtmf(#[from] dtmf::DtmfError),
    /// RFC 4733 digits were asked for, but the far end did not accept telephone-events.
    #[error(
        "the far end did not negotiate telephone-event (RFC 4733): send DTMF in-band or by INFO"
    )]
    TelephoneEventNotNegotiated,
    /// An audio file could not be loaded.
    #[error(transparent)]
    Audio(#[from] AudioError),
}
