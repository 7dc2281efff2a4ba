//! Speech codecs for callcert.
//!
//! - [`g711`]: ITU-T G.711 µ-law (PCMU) and A-law (PCMA), bit-exact with ITU-T G.191.
//! - [`g722`]: ITU-T G.722 wideband sub-band ADPCM (RTP payload type 9, 16 kHz audio on an
//!   8 kHz RTP clock), encoder and decoder for all three modes, bit-exact with FFmpeg's
//!   implementation.
//! - [`dtmf`]: DTMF tone generation and in-band detection (ITU-T Q.23/Q.24).
//! - [`resample`]: 8 kHz ↔ 16 kHz half-band resampling, to compare narrowband and wideband audio.
//! - `opus` (crate feature `opus`): Opus through the system libopus, 20 ms mono packets on the
//!   48 kHz RTP clock of RFC 7587, with loss concealment and in-band FEC recovery.
//!
//! The default build is pure Rust. The `opus` feature links libopus through pkg-config
//! (Debian package `libopus-dev`).
//!
//! Every codec keeps its state per stream and takes any input without panicking.
#![warn(missing_docs)]

pub mod g711;

pub mod g722;

pub mod dtmf;

pub mod resample;

#[cfg(feature = "opus")]
pub mod opus;
