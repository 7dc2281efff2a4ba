//! The audio codecs a media session can send and receive: G.711 µ-law and A-law.

use callcert_codecs::g711;
use serde::{Deserialize, Serialize};

/// An RTP audio codec with a static payload type (RFC 3551 §6, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Codec {
    /// G.711 µ-law, "PCMU", payload type 0 (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law, "PCMA", payload type 8 (RFC 3551 §4.5.14).
    Pcma,
}

impl Codec {
    /// Static RTP payload type (RFC 3551 Table 4): 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// Encoding name as written in SDP `a=rtpmap` (RFC 3551 Table 4).
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// RTP clock rate in Hz (RFC 3551 §4.5.14: 8000 for both laws).
    pub const fn clock_rate(self) -> u32 {
        8000
    }

    /// Octets per sample on the wire: G.711 carries one octet per sample.
    pub const fn bytes_per_sample(self) -> usize {
        1
    }

    /// The codec with this static payload type, if it is one of ours.
    pub const fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The codec with this SDP encoding name (case-insensitive, RFC 4566 §6 `rtpmap`).
    pub fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }

    /// Code of a zero sample, for silence frames.
    pub const fn silence_code(self) -> u8 {
        match self {
            Codec::Pcmu => g711::ULAW_ZERO,
            Codec::Pcma => g711::ALAW_ZERO,
        }
    }

    /// Encodes `min(pcm.len(), out.len())` samples into `out`; returns the octets written.
    pub fn encode_frame(self, pcm: &[i16], out: &mut [u8]) -> usize {
        match self {
            Codec::Pcmu => g711::encode_ulaw(pcm, out),
            Codec::Pcma => g711::encode_alaw(pcm, out),
        }
    }

    /// Decodes `min(payload.len(), out.len())` octets into `out`; returns the samples written.
    pub fn decode_frame(self, payload: &[u8], out: &mut [i16]) -> usize {
        match self {
            Codec::Pcmu => g711::decode_ulaw(payload, out),
            Codec::Pcma => g711::decode_alaw(payload, out),
        }
    }
}

impl From<crate::sip::sdp::AudioCodec> for Codec {
    fn from(codec: crate::sip::sdp::AudioCodec) -> Self {
        match codec {
            crate::sip::sdp::AudioCodec::Pcmu => Codec::Pcmu,
            crate::sip::sdp::AudioCodec::Pcma => Codec::Pcma,
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_payload_types_and_names() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            assert_eq!(Codec::from_payload_type(codec.payload_type()), Some(codec));
            assert_eq!(Codec::from_name(&codec.name().to_lowercase()), Some(codec));
            assert_eq!(codec.clock_rate(), 8000);
        }
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_payload_type(18), None);
        assert_eq!(Codec::from_name("G729"), None);
    }

    #[test]
    fn frames_round_trip_within_quantization() {
        let pcm: Vec<i16> = (0..160).map(|i| (i * 97 - 8000) as i16).collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut wire = [0u8; 160];
            assert_eq!(codec.encode_frame(&pcm, &mut wire), 160);
            let mut back = [0i16; 160];
            assert_eq!(codec.decode_frame(&wire, &mut back), 160);
            for (a, b) in pcm.iter().zip(&back) {
                assert!((a - b).abs() <= 260, "{codec}: {a} vs {b}");
            }
            let mut silence = [0i16; 1];
            codec.decode_frame(&[codec.silence_code()], &mut silence);
            assert!(silence[0].abs() <= 8);
        }
    }
}
