//! Speech codecs for callcert.
//!
//! [`g711`]: ITU-T G.711 µ-law (PCMU) and A-law (PCMA), bit-exact with ITU-T G.191.
#![warn(missing_docs)]

pub mod g711;

pub mod dtmf;
