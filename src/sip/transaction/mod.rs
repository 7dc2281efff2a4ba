//! SIP transactions, sans-IO (RFC 3261 §17, with the Accepted states of RFC 6026).
//!
//! Four state machines — [`InviteClient`], [`NonInviteClient`], [`InviteServer`] and
//! [`NonInviteServer`] — take messages and the current time as input and hand back what to put
//! on the wire ([`poll_transmit`](InviteClient::poll_transmit)), what to tell the transaction
//! user ([`poll_event`](InviteClient::poll_event)) and when to wake them
//! ([`poll_timeout`](InviteClient::poll_timeout)). They never read the clock and own no socket;
//! the driver calls `handle_timeout(now)` once `now` reaches the returned deadline.
//!
//! Routing a message to its transaction is the caller's job, with [`TransactionKey`].

mod ack;
mod cancel;
mod error;
mod invite_client;
mod invite_server;
mod key;
mod non_invite_client;
mod non_invite_server;
mod timers;

#[cfg(test)]
mod tests;

pub use cancel::build_cancel;
pub use error::TransactionError;
pub use invite_client::{InviteClient, InviteClientState};
pub use invite_server::{InviteServer, InviteServerState};
pub use key::{new_branch, TransactionKey, MAGIC_COOKIE};
pub use non_invite_client::{NonInviteClient, NonInviteClientState};
pub use non_invite_server::{NonInviteServer, NonInviteServerState};
pub use timers::TimerConfig;

use crate::sip::rsip;

/// Whether the transport delivers reliably (RFC 3261 §17.1.1.2: retransmission timers run on
/// unreliable transports only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// UDP: the transaction retransmits and lingers to absorb retransmissions.
    Unreliable,
    /// TCP, TLS: no retransmissions; Timers D, I, J, K are zero.
    Reliable,
}

/// What a client transaction tells its transaction user (RFC 3261 §17.1.1.2, §17.1.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// RFC 3261 §17.1.1.2: a 1xx response, each one passed up.
    Provisional(rsip::Response),
    /// RFC 3261 §17.1.1.2: a final response; for INVITE, every 2xx (RFC 6026 §8.4), so the
    /// TU can ACK retransmissions and forks.
    Final(rsip::Response),
    /// RFC 3261 §17.1.1.2 / §17.1.2.2: Timer B or F fired without a final response.
    Timeout,
    /// RFC 3261 §8.1.3.1: the transport failed to send a request of this transaction.
    TransportError,
}

/// What a server transaction tells its transaction user (RFC 3261 §17.2, RFC 6026 §8.7).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a few events per transaction, not per packet; the TU takes the ACK by value"
)]
pub enum ServerEvent {
    /// RFC 3261 §17.2.1 / RFC 6026 §8.7: the ACK for our final response arrived (the first one).
    Ack(rsip::Request),
    /// RFC 3261 §17.2.1 Timer H, RFC 6026 §8.7 Timer L: no ACK came for our final response.
    AckTimeout,
    /// RFC 3261 §17.2.4: the transport failed to send a response of this transaction.
    TransportError,
}

/// The response class of a status code (RFC 3261 §7.2); `None` outside 100–699.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseClass {
    /// 1xx.
    Provisional,
    /// 2xx.
    Success,
    /// 3xx–6xx.
    Failure,
}

impl ResponseClass {
    /// Classifies a response; codes outside 100–699 are invalid (RFC 3261 §21) and yield `None`.
    pub(crate) fn of(resp: &rsip::Response) -> Option<Self> {
        match resp.status_code.code() {
            100..=199 => Some(ResponseClass::Provisional),
            200..=299 => Some(ResponseClass::Success),
            300..=699 => Some(ResponseClass::Failure),
            _ => None,
        }
    }
}

/// The To tag of a message, if its To header parses and carries one (RFC 3261 §19.3).
pub(crate) fn to_tag(msg: &impl rsip::prelude::HeadersExt) -> Option<String> {
    // The text helper, not rsip's typed To header (which parses the whole name-addr).
    crate::sip::message::to_tag(msg.headers())
}
