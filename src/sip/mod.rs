//! SIP: messages (on the rsip fork inside rsipstack), transactions, dialogs, digest auth, SDP
//! and transports.

pub use rsipstack::sip as rsip;

pub mod auth;
pub mod dialog;
pub mod message;
pub mod sdp;
pub mod transaction;
pub mod transport;
