//! Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3) and making branch ids
//! (§8.1.1.7).

use super::TransactionError;
use crate::sip::rsip::{
    self,
    prelude::{HeadersExt, ToTypedHeader},
    Method, SipMessage,
};
use rand::Rng;

/// RFC 3261 §8.1.1.7: the prefix of every branch id made by an RFC 3261 element.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Random characters after the magic cookie in [`new_branch`] (about 119 bits).
const BRANCH_RANDOM_CHARS: usize = 20;

/// RFC 3261 §8.1.1.7: a new branch id, the magic cookie followed by a random token.
pub fn new_branch(rng: &mut impl Rng) -> String {
    let mut branch = String::with_capacity(MAGIC_COOKIE.len() + BRANCH_RANDOM_CHARS);
    branch.push_str(MAGIC_COOKIE);
    branch.extend(
        rng.sample_iter(rand::distr::Alphanumeric)
            .take(BRANCH_RANDOM_CHARS)
            .map(char::from),
    );
    branch
}

/// The identity of a transaction, for finding the one a message belongs to (RFC 3261 §17.1.3,
/// §17.2.3).
///
/// Built from a request with [`TransactionKey::from_request`] and from a response with
/// [`TransactionKey::from_response`]: a response yields the key of the client transaction that
/// sent its request, a request the key of the server transaction it belongs to. An ACK to a
/// non-2xx response has the key of its INVITE; a CANCEL has a key of its own although it
/// shares the INVITE's branch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// RFC 3261 §17.2.3: the top Via branch (starting with the magic cookie), its sent-by and
    /// the method, ACK counting as INVITE. Responses (§17.1.3) always use this form.
    Branch {
        /// The `branch` parameter of the top Via, lower-cased.
        branch: String,
        /// The top Via's sent-by (`host[:port]`), lower-cased.
        sent_by: String,
        /// The method of the transaction; ACK is folded into INVITE.
        method: Method,
    },
    /// RFC 3261 §17.2.3, requests from RFC 2543 elements (no magic cookie in the branch):
    /// Request-URI, From tag, Call-ID, CSeq number, top Via and method, ACK counting as INVITE.
    ///
    /// The To tag is left out so that an ACK (whose To carries the tag of our response) finds
    /// the INVITE's transaction.
    Rfc2543 {
        /// The Request-URI as text.
        request_uri: String,
        /// The From tag, empty when the From has none.
        from_tag: String,
        /// The Call-ID.
        call_id: String,
        /// The CSeq sequence number.
        cseq: u32,
        /// The top Via value as text.
        top_via: String,
        /// The method of the transaction; ACK is folded into INVITE.
        method: Method,
    },
}

impl TransactionKey {
    /// RFC 3261 §17.2.3: the key of the server transaction a request belongs to (and of the
    /// client transaction that sends it).
    pub fn from_request(req: &rsip::Request) -> Result<Self, TransactionError> {
        let method = transaction_method(req.method);
        let (raw_via, via) = top_via(req)?;
        match branch_of(&via) {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => Ok(TransactionKey::Branch {
                branch: branch.to_ascii_lowercase(),
                sent_by: sent_by_of(&via),
                method,
            }),
            _ => Self::rfc2543(req, &raw_via, method),
        }
    }

    /// RFC 3261 §17.1.3: the key of the client transaction a response belongs to (top Via
    /// branch and sent-by, CSeq method).
    pub fn from_response(resp: &rsip::Response) -> Result<Self, TransactionError> {
        let (_, via) = top_via(resp)?;
        let branch = branch_of(&via).ok_or(TransactionError::MissingBranch)?;
        let cseq = resp
            .cseq_header()
            .map_err(|_| TransactionError::MissingCSeq)?
            .typed()
            .map_err(|_| TransactionError::MalformedCSeq)?;
        Ok(TransactionKey::Branch {
            branch: branch.to_ascii_lowercase(),
            sent_by: sent_by_of(&via),
            method: transaction_method(cseq.method),
        })
    }

    /// The key of a request or response (RFC 3261 §17.1.3, §17.2.3).
    pub fn from_message(msg: &SipMessage) -> Result<Self, TransactionError> {
        match msg {
            SipMessage::Request(r) => Self::from_request(r),
            SipMessage::Response(r) => Self::from_response(r),
        }
    }

    /// The method of the transaction (RFC 3261 §17.2.3: an ACK's is INVITE).
    pub fn method(&self) -> Method {
        match self {
            TransactionKey::Branch { method, .. } | TransactionKey::Rfc2543 { method, .. } => {
                *method
            }
        }
    }

    fn rfc2543(
        req: &rsip::Request,
        via: &rsip::Via,
        method: Method,
    ) -> Result<Self, TransactionError> {
        let cseq = req
            .cseq_header()
            .map_err(|_| TransactionError::MissingCSeq)?
            .typed()
            .map_err(|_| TransactionError::MalformedCSeq)?;
        let call_id = req
            .call_id_header()
            .map_err(|_| TransactionError::MissingCallId)?
            .value()
            .trim()
            .to_string();
        if call_id.is_empty() {
            return Err(TransactionError::MissingCallId);
        }
        let from_tag = req
            .from_header()
            .map_err(|_| TransactionError::MissingFrom)?
            .tag()
            .map_err(|_| TransactionError::MalformedFrom)?
            .map(|t| t.value().to_string())
            .unwrap_or_default();
        Ok(TransactionKey::Rfc2543 {
            request_uri: req.uri.to_string(),
            from_tag,
            call_id,
            cseq: cseq.seq,
            top_via: via.value().trim().to_string(),
            method,
        })
    }
}

/// RFC 3261 §17.2.3: an ACK belongs to the INVITE's transaction.
fn transaction_method(method: Method) -> Method {
    match method {
        Method::Ack => Method::Invite,
        m => m,
    }
}

/// The top Via (first value of the first Via header field, RFC 3261 §20.42), as text and parsed.
pub(crate) fn top_via(
    msg: &impl HeadersExt,
) -> Result<(rsip::Via, rsip::typed::Via), TransactionError> {
    let raw = msg
        .via_header()
        .map_err(|_| TransactionError::MissingVia)?
        .first_value()
        .map_err(|_| TransactionError::MalformedVia)?;
    let typed = raw.typed().map_err(|_| TransactionError::MalformedVia)?;
    Ok((raw, typed))
}

/// The branch parameter of a Via, if present and non-empty.
fn branch_of(via: &rsip::typed::Via) -> Option<&str> {
    via.branch()
        .map(|b| b.value().trim())
        .filter(|b| !b.is_empty())
}

/// The sent-by of a Via, lower-cased (host names compare case-insensitively, §19.1.4).
fn sent_by_of(via: &rsip::typed::Via) -> String {
    via.sent_by().to_string().to_ascii_lowercase()
}
