//! SIP: messages (on the rsip fork inside rsipstack), transactions, dialogs, digest auth, SDP
//! and transports.

pub use rsipstack::sip as rsip;

pub mod auth;
pub mod dialog;
pub mod message;
pub mod options;
pub mod sdp;
pub mod transaction;
pub mod transport;

/// The User-Agent / Server header value callcert sends.
pub const USER_AGENT: &str = concat!("callcert/", env!("CARGO_PKG_VERSION"));
