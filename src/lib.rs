//! callcert: telephony load testing and call-center certification against YD/T 2823-2015.
//!
//! The protocol logic (SIP transactions and dialogs, RTP sessions) is sans-IO: state machines
//! that take `now` and return what to send and when to wake. The tokio drivers in `engine`,
//! `sut` and `sip::transport` own the sockets and the clock.

pub mod cli;
pub mod engine;
pub mod impair;
pub mod media;
pub mod metrics;
pub mod monitor;
pub mod quality;
pub mod report;
pub mod scenario;
pub mod sip;
pub mod sut;
pub mod traffic;
pub mod verdict;
