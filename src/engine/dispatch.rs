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
}

/// The routing table shared by the dispatcher and the calls.
#[derive(Clone, Default)]
pub struct Routes {
    inner: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<CallInput>>>>,
    stats: Arc<Mutex<DispatchStats>>,
}

impl Routes {
    /// Registers a call; its messages arrive on the returned receiver.
    pub fn register(&self, call_id: &str) -> mpsc::UnboundedReceiver<CallInput> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut m) = self.inner.lock() {
            m.insert(call_id.to_string(), tx);
        }
        rx
    }

    /// Forgets a call.
    pub fn unregister(&self, call_id: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.remove(call_id);
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> DispatchStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn get(&self, call_id: &str) -> Option<mpsc::UnboundedSender<CallInput>> {
        self.inner.lock().ok()?.get(call_id).cloned()
    }

    fn all(&self) -> Vec<mpsc::UnboundedSender<CallInput>> {
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
                    let _ = tx.send(CallInput::Message(msg, at, data));
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
                        let _ = socket.send(&resp.to_bytes(), from).await;
                    }
                }
            }
            TransportNotice::FlowClosed { .. } => {
                for tx in routes.all() {
                    let _ = tx.send(CallInput::FlowClosed(now()));
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
