//! Routes inbound SIP messages to the call that owns their Call-ID.
//!
//! Parsing happens here, once per message; a message that does not parse is counted with its
//! reason (never a panic), and a request for an unknown call is answered statelessly with 481
//! (RFC 3261 §12.2.2) so the far end stops retransmitting.

use crate::sip::message::{self, build_response};
use crate::sip::rsip::{Method, SipMessage};
use crate::sip::transport::{Inbound, SipSocket, TransportNotice};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// What a call task receives.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // messages are the common case; boxing them costs more
pub enum CallInput {
    /// A parsed message, when it arrived, and its bytes as received (for captures).
    Message(SipMessage, Instant, bytes::Bytes),
    /// The signalling flow to the far end broke.
    FlowClosed(Instant),
}

/// Counters of what could not be delivered to a call.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DispatchStats {
    /// Messages that did not parse, by reason.
    pub malformed: BTreeMap<String, u64>,
    /// Responses for no known call (late retransmissions after a call was forgotten).
    pub stray_responses: u64,
    /// Requests for no known call, answered 481.
    pub stray_requests: u64,
    /// Retransmissions for calls that had ended (final responses re-ACKed, BYEs answered
    /// again, other responses absorbed), within 64·T1 of their end.
    pub after_end: u64,
}

/// A call's inbox. Inputs travel boxed: a channel allocates its slots in blocks of 32, and a
/// parsed message is a few hundred bytes, so unboxed every call would allocate ~10 KiB.
#[derive(Debug)]
pub struct CallReceiver(mpsc::UnboundedReceiver<Box<CallInput>>);

impl CallReceiver {
    /// The next input; `None` once the call has been unregistered and its inbox drained.
    pub async fn recv(&mut self) -> Option<CallInput> {
        self.0.recv().await.map(|b| *b)
    }
}

type CallSender = mpsc::UnboundedSender<Box<CallInput>>;

/// The routing table shared by the dispatcher and the calls.
#[derive(Clone, Default)]
pub struct Routes {
    inner: Arc<Mutex<HashMap<String, CallSender>>>,
    stats: Arc<Mutex<DispatchStats>>,
    ended: Arc<Mutex<Ended>>,
}

/// Calls that have ended but whose far end may still retransmit (RFC 3261 §17: a lost ACK
/// brings the final response back for up to 64·T1). A call task does not linger for that —
/// at thousands of calls a second, tens of thousands would — it leaves its last ACK here.
#[derive(Default)]
struct Ended {
    acks: HashMap<String, Option<bytes::Bytes>>,
    /// Call-IDs in the order they ended, with when they may be forgotten.
    order: std::collections::VecDeque<(Instant, String)>,
}

impl Ended {
    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, id)) = self.order.pop_front() {
                self.acks.remove(&id);
            }
        }
    }
}

impl Routes {
    /// Registers a call; its messages arrive on the returned receiver.
    pub fn register(&self, call_id: &str) -> CallReceiver {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut m) = self.inner.lock() {
            m.insert(call_id.to_string(), tx);
        }
        CallReceiver(rx)
    }

    /// Registers a call unless its Call-ID already has one: `None` then, and the caller hands
    /// its message to the existing call with [`deliver`](Self::deliver) (a retransmitted
    /// INVITE that arrived before the first had created its call).
    pub fn register_new(&self, call_id: &str) -> Option<CallReceiver> {
        let mut m = self.inner.lock().ok()?;
        if m.contains_key(call_id) {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        m.insert(call_id.to_string(), tx);
        Some(CallReceiver(rx))
    }

    /// Hands `input` to the call registered for `call_id`; false when there is none.
    pub fn deliver(&self, call_id: &str, input: CallInput) -> bool {
        self.get(call_id)
            .is_some_and(|tx| tx.send(Box::new(input)).is_ok())
    }

    /// Forgets a call.
    pub fn unregister(&self, call_id: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.remove(call_id);
        }
    }

    /// Forgets a call that has ended, answering its far end's retransmissions until `until`
    /// from what it leaves: the last ACK it sent (re-sent for a retransmitted final response).
    pub fn retire(&self, call_id: &str, ack: Option<bytes::Bytes>, until: Instant) {
        self.unregister(call_id);
        if let Ok(mut e) = self.ended.lock() {
            e.expire(now());
            if e.acks.insert(call_id.to_string(), ack).is_none() {
                e.order.push_back((until, call_id.to_string()));
            }
        }
    }

    /// For a call that ended recently: `Some(its last ACK)`.
    fn ended(&self, call_id: &str) -> Option<Option<bytes::Bytes>> {
        let mut e = self.ended.lock().ok()?;
        e.expire(now());
        e.acks.get(call_id).cloned()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> DispatchStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn get(&self, call_id: &str) -> Option<CallSender> {
        self.inner.lock().ok()?.get(call_id).cloned()
    }

    fn all(&self) -> Vec<CallSender> {
        self.inner
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut DispatchStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }
}

/// A new request whose Call-ID no call owns: the hook for the answering side.
pub type NewRequest = (crate::sip::rsip::Request, SocketAddr, Instant);

/// Runs the dispatcher until the transport closes. Requests without a call go to `on_new`
/// when given (the reference call center creates calls there), else get a 481.
pub async fn dispatch(
    mut rx: mpsc::Receiver<TransportNotice>,
    socket: SipSocket,
    routes: Routes,
    on_new: Option<mpsc::UnboundedSender<NewRequest>>,
) {
    while let Some(n) = rx.recv().await {
        match n {
            TransportNotice::Message(Inbound { data, from, at }) => {
                let msg = match message::parse(&data) {
                    Ok(m) => m,
                    Err(e) => {
                        let reason = short_reason(&e.to_string());
                        routes.count(|s| *s.malformed.entry(reason).or_default() += 1);
                        continue;
                    }
                };
                let headers = match &msg {
                    SipMessage::Request(r) => &r.headers,
                    SipMessage::Response(r) => &r.headers,
                };
                let Ok(call_id) = message::call_id(headers) else {
                    routes.count(|s| {
                        *s.malformed
                            .entry("missing Call-ID".to_string())
                            .or_default() += 1
                    });
                    continue;
                };
                if message::cseq(headers).is_err() {
                    routes.count(|s| {
                        *s.malformed
                            .entry("missing or malformed CSeq".to_string())
                            .or_default() += 1
                    });
                    continue;
                }
                if let Some(tx) = routes.get(call_id) {
                    let _ = tx.send(Box::new(CallInput::Message(msg, at, data)));
                    continue;
                }
                if let Some(ack) = routes.ended(call_id) {
                    routes.count(|s| s.after_end += 1);
                    let reply = match &msg {
                        // A final response to the INVITE again: our ACK was lost.
                        SipMessage::Response(r)
                            if r.status_code.code() >= 200
                                && matches!(message::cseq(&r.headers), Ok((_, Method::Invite))) =>
                        {
                            ack
                        }
                        // The far end's BYE again: our 200 was lost.
                        SipMessage::Request(req) if req.method == Method::Bye => {
                            Some(message::encode_response(&build_response(req, 200, None)).into())
                        }
                        _ => None,
                    };
                    if let Some(bytes) = reply {
                        let _ = socket.send(&bytes, from).await;
                    }
                    continue;
                }
                match msg {
                    SipMessage::Response(_) => routes.count(|s| s.stray_responses += 1),
                    SipMessage::Request(req) => {
                        if req.method == Method::Ack {
                            continue;
                        }
                        if let Some(new) = &on_new {
                            let _ = new.send((req, from, at));
                            continue;
                        }
                        routes.count(|s| s.stray_requests += 1);
                        let resp = build_response(&req, 481, None);
                        let _ = socket.send(&message::encode_response(&resp), from).await;
                    }
                }
            }
            TransportNotice::FlowClosed { .. } => {
                for tx in routes.all() {
                    let _ = tx.send(Box::new(CallInput::FlowClosed(now())));
                }
            }
        }
    }
}

#[allow(clippy::disallowed_methods)] // driver: the dispatcher is where events happen
fn now() -> Instant {
    Instant::now()
}

/// The first line of a parser error, bounded, as a counter key.
fn short_reason(e: &str) -> String {
    let first = e.lines().next().unwrap_or("parse error");
    first.chars().take(80).collect()
}
