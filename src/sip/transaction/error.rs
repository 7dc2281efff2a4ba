//! Errors of the transaction layer: why a message cannot be matched to a transaction.

use thiserror::Error;

/// Why a SIP message cannot be matched to a transaction (RFC 3261 §17.1.3, §17.2.3).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransactionError {
    /// The message has no Via header field (RFC 3261 §8.1.1.7 makes it mandatory).
    #[error("missing Via header")]
    MissingVia,
    /// The top Via header field value does not parse as `SIP/2.0/transport sent-by;params`.
    #[error("malformed top Via header")]
    MalformedVia,
    /// The top Via has no `branch` parameter, or an empty one (RFC 3261 §8.1.1.7).
    #[error("top Via has no branch parameter")]
    MissingBranch,
    /// The message has no CSeq header field (RFC 3261 §8.1.1.5).
    #[error("missing CSeq header")]
    MissingCSeq,
    /// The CSeq value is not `number METHOD` with a 32-bit number and a known method.
    #[error("malformed CSeq header")]
    MalformedCSeq,
    /// The message has no Call-ID header field (RFC 3261 §8.1.1.4); needed for RFC 2543 matching.
    #[error("missing Call-ID header")]
    MissingCallId,
    /// The message has no From header field (RFC 3261 §8.1.1.3); needed for RFC 2543 matching.
    #[error("missing From header")]
    MissingFrom,
    /// The From header field does not parse; needed for RFC 2543 matching.
    #[error("malformed From header")]
    MalformedFrom,
}
