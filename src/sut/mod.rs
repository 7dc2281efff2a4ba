//! The reference call center (`callcert sut`): a UAS with a limited number of trunks,
//! configured ring and answer delays, an optional 183 with early media, a recorded welcome
//! prompt, digest authentication and faults on demand. Its configured delays are the ground
//! truth the harness's measurements are checked against.

pub mod config;
pub mod ivr;

use crate::engine::dispatch::{self, CallInput, NewRequest, Routes};
use crate::engine::pacer::{self, MediaCore, SharedMedia};
use crate::engine::RtpPair;
use crate::media::{AudioSource, MediaConfig, MediaSession};
use crate::sip::auth;
use crate::sip::dialog::{LocalEndpoint, UasCall, UasEvent, UasOutcome};
use crate::sip::message::{self, build_response, top_via_branch};
use crate::sip::rsip::{Method, Request, SipMessage};
use crate::sip::sdp;
use crate::sip::transaction::TimerConfig;
use crate::sip::transport::{self, SipSocket, TransportError};
use config::{AfterPrompt, Faults, SutConfig};
use ivr::{AgentPool, IvrAction, IvrCall, IvrDefinition};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[allow(clippy::disallowed_methods)] // driver: reads the clock where packets are
fn now() -> Instant {
    Instant::now()
}

/// Seconds since the Unix epoch on the wall clock: the time of day the schedule is read at.
#[allow(clippy::disallowed_methods)] // driver: once per new INVITE
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Counters of the reference call center, readable while it runs.
#[derive(Debug, Default)]
pub struct SutCounters {
    /// New INVITEs received (one per call attempt; authenticated retries not counted again).
    pub invites: AtomicU64,
    /// Calls answered with 200 OK.
    pub answered: AtomicU64,
    /// Calls refused with 503 because every trunk was busy.
    pub busy_503: AtomicU64,
    /// Calls rejected by the configured fault.
    pub fault_rejected: AtomicU64,
    /// Calls left ringing by the configured fault.
    pub fault_no_answer: AtomicU64,
    /// Calls dropped by the call center by the configured fault.
    pub fault_dropped: AtomicU64,
    /// Calls challenged with 401.
    pub challenged: AtomicU64,
    /// Calls ended by the caller's BYE.
    pub caller_hangups: AtomicU64,
    /// Calls ended by our BYE.
    pub sut_hangups: AtomicU64,
    /// Calls cancelled by the caller.
    pub cancelled: AtomicU64,
    /// Calls whose 2xx was never ACKed.
    pub ack_timeouts: AtomicU64,
    /// Calls in progress now.
    pub active: AtomicU64,
    /// Most calls in progress at once.
    pub max_active: AtomicU64,
    /// SIP retransmissions we sent.
    pub retransmissions_sent: AtomicU64,
    /// SIP retransmissions the callers sent.
    pub retransmissions_received: AtomicU64,
    /// OPTIONS answered.
    pub options: AtomicU64,
    /// Digits the IVR received as RFC 4733 telephone-events.
    pub digits_rfc4733: AtomicU64,
    /// Digits the IVR received in SIP INFO.
    pub digits_info: AtomicU64,
    /// Digits the IVR detected in the audio.
    pub digits_inband: AtomicU64,
    /// Prompts the IVR played (or scheduled).
    pub ivr_prompts: AtomicU64,
    /// Calls an agent answered.
    pub agent_answers: AtomicU64,
}

/// A snapshot of [`SutCounters`] for printing.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SutStats {
    /// New INVITEs.
    pub invites: u64,
    /// Answered.
    pub answered: u64,
    /// 503 because all trunks were busy.
    pub busy_503: u64,
    /// Fault: rejected.
    pub fault_rejected: u64,
    /// Fault: never answered.
    pub fault_no_answer: u64,
    /// Fault: dropped after answer.
    pub fault_dropped: u64,
    /// Challenged with 401.
    pub challenged: u64,
    /// Ended by the caller.
    pub caller_hangups: u64,
    /// Ended by us.
    pub sut_hangups: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// 2xx never ACKed.
    pub ack_timeouts: u64,
    /// Active now.
    pub active: u64,
    /// Peak concurrency.
    pub max_active: u64,
    /// Retransmissions sent.
    pub retransmissions_sent: u64,
    /// Retransmissions received.
    pub retransmissions_received: u64,
    /// OPTIONS answered.
    pub options: u64,
    /// IVR digits by RFC 4733.
    pub digits_rfc4733: u64,
    /// IVR digits by SIP INFO.
    pub digits_info: u64,
    /// IVR digits in-band.
    pub digits_inband: u64,
    /// IVR prompts played.
    pub ivr_prompts: u64,
    /// Calls answered by an agent.
    pub agent_answers: u64,
    /// Messages that did not parse.
    pub malformed: u64,
    /// TCP connections accepted.
    pub tcp_connections: u64,
}

/// A running reference call center.
#[derive(Clone)]
pub struct SutHandle {
    /// Where it listens.
    pub local_addr: SocketAddr,
    counters: Arc<SutCounters>,
    routes: Routes,
    socket: SipSocket,
}

impl SutHandle {
    /// A snapshot of the counters.
    pub fn stats(&self) -> SutStats {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SutStats {
            invites: g(&c.invites),
            answered: g(&c.answered),
            busy_503: g(&c.busy_503),
            fault_rejected: g(&c.fault_rejected),
            fault_no_answer: g(&c.fault_no_answer),
            fault_dropped: g(&c.fault_dropped),
            challenged: g(&c.challenged),
            caller_hangups: g(&c.caller_hangups),
            sut_hangups: g(&c.sut_hangups),
            cancelled: g(&c.cancelled),
            ack_timeouts: g(&c.ack_timeouts),
            active: g(&c.active),
            max_active: g(&c.max_active),
            retransmissions_sent: g(&c.retransmissions_sent),
            retransmissions_received: g(&c.retransmissions_received),
            options: g(&c.options),
            digits_rfc4733: g(&c.digits_rfc4733),
            digits_info: g(&c.digits_info),
            digits_inband: g(&c.digits_inband),
            ivr_prompts: g(&c.ivr_prompts),
            agent_answers: g(&c.agent_answers),
            malformed: self.routes.stats().malformed.values().sum(),
            tcp_connections: self.socket.connections_opened(),
        }
    }
}

struct SutContext {
    cfg: SutConfig,
    prompt: AudioSource,
    socket: SipSocket,
    routes: Routes,
    local: LocalEndpoint,
    counters: Arc<SutCounters>,
    timers: TimerConfig,
    /// The IVR's agent pools, shared by all calls.
    pools: Mutex<BTreeMap<String, AgentPool>>,
    /// Calls waiting for an agent: where to tell them one answered.
    waiters: Mutex<HashMap<u64, mpsc::UnboundedSender<(u32, Instant)>>>,
}

/// What one call gets, fixed when its INVITE arrives (the schedule entry active then).
struct CallBehaviour {
    /// The IVR definition it walks.
    ivr: Option<Arc<IvrDefinition>>,
    /// The faults drawn from.
    faults: Faults,
}

/// Starts the reference call center on the configured address; returns once it listens.
///
/// Each new INVITE reads the wall clock once and takes the behaviour of the schedule entry
/// active then ([`SutConfig::behaviour_at`]); the agent pools are the configured IVR's, shared
/// by calls under every entry.
pub async fn serve(cfg: SutConfig, prompt: AudioSource) -> Result<SutHandle, TransportError> {
    let mut cfg = cfg;
    // The IVR may have been replaced since loading (`--ivr`, `--fixed-delays`).
    cfg.prepare_schedule();
    for (i, e) in cfg.schedule.entries.iter().enumerate() {
        tracing::info!(entry = i, "sut schedule: {e}");
    }
    let (socket, inbound) = SipSocket::bind(cfg.transport, cfg.listen, true).await?;
    let bound = socket.local_addr();
    let advertised = advertised_for(bound, SocketAddr::new([127, 0, 0, 1].into(), 5060));
    let routes = Routes::default();
    let (new_tx, mut new_rx) = mpsc::unbounded_channel::<NewRequest>();
    tokio::spawn(dispatch::dispatch(
        inbound,
        socket.clone(),
        routes.clone(),
        Some(new_tx),
    ));
    let counters = Arc::new(SutCounters::default());
    let ctx = Arc::new(SutContext {
        cfg: cfg.clone(),
        timers: TimerConfig::default(),
        prompt,
        socket,
        routes: routes.clone(),
        local: LocalEndpoint {
            transport: cfg.transport,
            addr: bound,
            user: "callcenter".into(),
        },
        counters: counters.clone(),
        pools: Mutex::new(
            cfg.ivr
                .as_ref()
                .map(|i| i.0.agent_pools())
                .unwrap_or_default(),
        ),
        waiters: Mutex::new(HashMap::new()),
    });
    let ctx2 = ctx.clone();
    tokio::spawn(async move {
        let mut seq = 0u64;
        let mut active_entry = None;
        while let Some((req, from, at)) = new_rx.recv().await {
            seq += 1;
            handle_new(&ctx2, req, from, at, seq, &mut active_entry).await;
        }
    });
    Ok(SutHandle {
        local_addr: advertised,
        counters,
        routes,
        socket: ctx.socket.clone(),
    })
}

/// Which schedule entry governs a call arriving now; logs when that changes (`active_entry`
/// is the entry of the previous call).
fn behaviour_now(ctx: &SutContext, active_entry: &mut Option<usize>) -> CallBehaviour {
    let b = ctx.cfg.behaviour_at(unix_now());
    if b.entry != *active_entry {
        if let Some(old) = active_entry.and_then(|i| ctx.cfg.schedule.entries.get(i)) {
            tracing::info!("sut schedule: entry over ({})", old.window);
        }
        if let Some(new) = b.entry.and_then(|i| ctx.cfg.schedule.entries.get(i)) {
            tracing::info!("sut schedule: entry active: {new}");
        }
        *active_entry = b.entry;
    }
    CallBehaviour {
        ivr: b.ivr,
        faults: *b.faults,
    }
}

async fn handle_new(
    ctx: &Arc<SutContext>,
    req: Request,
    from: SocketAddr,
    at: Instant,
    seq: u64,
    active_entry: &mut Option<usize>,
) {
    match req.method {
        Method::Invite => {
            let Ok(call_id) = message::call_id(&req.headers).map(str::to_string) else {
                return;
            };
            let Some(rx) = ctx.routes.register_new(&call_id) else {
                // A retransmission of an INVITE whose call is already being set up.
                let input = CallInput::Message(SipMessage::Request(req), at, Default::default());
                ctx.routes.deliver(&call_id, input);
                return;
            };
            let behaviour = behaviour_now(ctx, active_entry);
            let ctx = ctx.clone();
            tokio::spawn(async move {
                incoming_call(ctx.clone(), req, from, at, rx, seq, behaviour).await;
                ctx.routes.unregister(&call_id);
            });
        }
        Method::Options => {
            ctx.counters.options.fetch_add(1, Ordering::Relaxed);
            let mut r = build_response(&req, 200, None);
            message::push_header(
                &mut r.headers,
                "Allow",
                "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO",
            );
            message::push_header(&mut r.headers, "Accept", "application/sdp");
            let _ = ctx.socket.send(&message::encode_response(&r), from).await;
        }
        _ => {
            let r = build_response(&req, 481, None);
            let _ = ctx.socket.send(&message::encode_response(&r), from).await;
        }
    }
}

/// Releases a trunk when dropped.
struct Trunk(Arc<SutCounters>);

impl Drop for Trunk {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

fn take_trunk(c: &Arc<SutCounters>, limit: u32) -> Option<Trunk> {
    let mut cur = c.active.load(Ordering::Relaxed);
    loop {
        if cur >= u64::from(limit) {
            return None;
        }
        match c
            .active
            .compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => {
                c.max_active.fetch_max(cur + 1, Ordering::Relaxed);
                return Some(Trunk(c.clone()));
            }
            Err(v) => cur = v,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    Reject(u16),
    NoAnswer,
    DropAfter(Duration),
}

fn pick_fault(f: &Faults, rng: &mut StdRng) -> Fault {
    let x: f64 = rng.random();
    let mut acc = 0.0;
    if let Some(r) = &f.reject {
        acc += r.rate;
        if x < acc {
            return Fault::Reject(r.code);
        }
    }
    if let Some(n) = &f.no_answer {
        acc += n.rate;
        if x < acc {
            return Fault::NoAnswer;
        }
    }
    if let Some(d) = &f.drop_after {
        acc += d.rate;
        if x < acc {
            return Fault::DropAfter(d.after);
        }
    }
    Fault::None
}

struct Media {
    /// The task's own sockets (calls with an IVR, which reacts to their digits); closed when
    /// the call ends, while the task may linger for SIP retransmissions.
    sockets: Option<RtpPair>,
    /// The session and where it sends; shared with the media pacer when paced.
    core: SharedMedia,
    /// The media pacer sends and receives (a call without IVR: it plays the prompt on its
    /// 20 ms clock and nothing it hears changes what it does).
    paced: bool,
    started: bool,
    /// The datagram being sent by the task.
    out: Vec<u8>,
}

async fn send_all(ctx: &SutContext, leg: &mut UasCall, to: SocketAddr) {
    while let Some(m) = leg.poll_transmit() {
        let _ = ctx.socket.send(&message::encode(&m), to).await;
    }
}

async fn incoming_call(
    ctx: Arc<SutContext>,
    invite: Request,
    from: SocketAddr,
    at: Instant,
    mut rx: crate::engine::dispatch::CallReceiver,
    seq: u64,
    behaviour: CallBehaviour,
) {
    let cfg = &ctx.cfg;
    let c = &ctx.counters;
    c.invites.fetch_add(1, Ordering::Relaxed);
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let local = LocalEndpoint {
        addr: advertised_for(ctx.local.addr, from),
        ..ctx.local.clone()
    };
    let mut leg = UasCall::new(invite, local.clone(), ctx.timers, rng.random(), at);
    send_all(&ctx, &mut leg, from).await;

    let trunk = match take_trunk(c, cfg.trunks) {
        Some(t) => t,
        None => {
            c.busy_503.fetch_add(1, Ordering::Relaxed);
            leg.reject(503, &[("Retry-After", cfg.retry_after.to_string())], at);
            send_all(&ctx, &mut leg, from).await;
            linger(&ctx, leg, rx, from).await;
            return;
        }
    };

    // Digest challenge (RFC 3261 §22.2): the authenticated INVITE arrives as a new transaction.
    if let Some(a) = &cfg.auth {
        let nonce = crate::sip::dialog::random_token(&mut rng, 24);
        if auth_header_ok(leg.invite(), a, &nonce).is_none() {
            c.challenged.fetch_add(1, Ordering::Relaxed);
            let challenge = format!(
                "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"",
                a.realm
            );
            leg.reject(401, &[("WWW-Authenticate", challenge)], now());
            send_all(&ctx, &mut leg, from).await;
            // Wait for the retry on the same Call-ID; absorb the ACK of the 401 meanwhile.
            let deadline = now() + Duration::from_secs(32);
            let next = loop {
                tokio::select! {
                    input = rx.recv() => match input {
                        Some(CallInput::Message(crate::sip::rsip::SipMessage::Request(r), at2, ..))
                            if r.method == Method::Invite
                                && top_via_branch(&r.headers) != top_via_branch(&leg.invite().headers) =>
                        {
                            break Some((r, at2));
                        }
                        Some(CallInput::Message(m, at2, ..)) => {
                            leg.handle_message(m, at2);
                            send_all(&ctx, &mut leg, from).await;
                        }
                        _ => break None,
                    },
                    _ = tokio::time::sleep_until(deadline.into()) => break None,
                }
            };
            let Some((retry, at2)) = next else {
                return;
            };
            let verified = auth_header_ok(&retry, a, &nonce) == Some(true);
            leg = UasCall::new(retry, local.clone(), ctx.timers, rng.random(), at2);
            send_all(&ctx, &mut leg, from).await;
            if !verified {
                leg.reject(403, &[], now());
                send_all(&ctx, &mut leg, from).await;
                linger(&ctx, leg, rx, from).await;
                return;
            }
        }
    }
    let answer_origin = now();
    let fault = pick_fault(&behaviour.faults, &mut rng);
    if let Fault::Reject(code) = fault {
        c.fault_rejected.fetch_add(1, Ordering::Relaxed);
        leg.reject(code, &[], answer_origin);
        send_all(&ctx, &mut leg, from).await;
        drop(trunk);
        linger(&ctx, leg, rx, from).await;
        return;
    }
    // SDP answer to the caller's offer (RFC 3264 §6).
    let media = match prepare_media(&ctx, &leg, &local, &mut rng).await {
        Ok(m) => m,
        Err(code) => {
            leg.reject(code, &[], answer_origin);
            send_all(&ctx, &mut leg, from).await;
            drop(trunk);
            linger(&ctx, leg, rx, from).await;
            return;
        }
    };
    let (mut media, answer_sdp) = media;
    // Ground truth: 18x at INVITE arrival + ring_delay, 200 at that + answer_delay.
    let origin = if cfg.auth.is_some() {
        answer_origin
    } else {
        at
    };
    let mut ring_at = Some(origin + cfg.ring_delay);
    let mut answer_at = match fault {
        Fault::NoAnswer => {
            c.fault_no_answer.fetch_add(1, Ordering::Relaxed);
            None
        }
        _ => Some(origin + cfg.ring_delay + cfg.answer_delay),
    };
    let mut hangup_at: Option<Instant> = None;
    let max_ring = origin + Duration::from_secs(300);
    let mut answered = false;
    let mut rtp_buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 2048];
    let mut trunk = Some(trunk);
    let mut ended = false;
    let mut linger_until: Option<Instant> = None;
    let mut ivr = behaviour.ivr.map(|d| {
        let seed = d.call_seed(seq);
        IvrCall::new(d, seed)
    });
    let (agent_tx, mut agent_rx) = mpsc::unbounded_channel::<(u32, Instant)>();
    let mut last_msg_at = at;
    // The caller's ACK arrived: only then may the agent's leg re-INVITE (RFC 3261 §14.1); an
    // agent free at once on a call transferred at the answer waits for it.
    let mut confirmed = false;
    let mut reinvite_due = false;

    loop {
        send_all(&ctx, &mut leg, from).await;
        while !media.paced {
            // The lock goes before the send (the guard is not held across the await).
            let next = lock(&media.core).next_datagram(&mut media.out);
            let Some((t, to)) = next else { break };
            let (Some(pair), Some(to)) = (&media.sockets, to) else {
                continue;
            };
            let _ = pair.socket(t.channel).send_to(&media.out, to).await;
        }
        if let Some(call) = ivr.as_mut() {
            if drive_ivr(&ctx, call, &mut media, &mut hangup_at, seq, &agent_tx) {
                // The agent's leg shows as a re-INVITE (`announce: reinvite` or `both`).
                if confirmed {
                    leg.reinvite(&answer_sdp, now());
                    continue;
                }
                reinvite_due = true;
            }
        }
        while let Some(ev) = leg.poll_event() {
            match ev {
                UasEvent::Confirmed => {
                    confirmed = true;
                    if std::mem::take(&mut reinvite_due) {
                        leg.reinvite(&answer_sdp, now());
                    }
                }
                UasEvent::Info { content_type, body } => {
                    // SIP INFO digits (RFC 6086): the digit is known when the request arrives.
                    if let (Some(call), Ok(d)) = (
                        ivr.as_mut(),
                        crate::media::dtmf::parse_info(&content_type, &body),
                    ) {
                        c.digits_info.fetch_add(1, Ordering::Relaxed);
                        call.on_digit_started(d.digit, last_msg_at);
                        call.on_digit(d.digit, last_msg_at);
                    }
                }
                UasEvent::Reoffer { .. } => leg.answer_reoffer(&answer_sdp, now()),
                UasEvent::Ended(o) => {
                    ended = true;
                    if let Some(call) = ivr.as_mut() {
                        call.on_caller_hangup(now());
                        drive_ivr(&ctx, call, &mut media, &mut hangup_at, seq, &agent_tx);
                    }
                    lock(&ctx.waiters).remove(&seq);
                    media.started = false;
                    media.sockets = None;
                    lock(&media.core).close();
                    trunk.take();
                    let counter = match o {
                        UasOutcome::CallerHangup => &c.caller_hangups,
                        UasOutcome::Hangup => &c.sut_hangups,
                        UasOutcome::Cancelled => &c.cancelled,
                        UasOutcome::AckTimeout => &c.ack_timeouts,
                        _ => &c.sut_hangups,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    linger_until = Some(now() + ctx.timers.t1 * 64);
                }
            }
        }
        if ended && leg.is_done() {
            break;
        }
        if leg.has_pending_output() {
            continue;
        }
        let mut deadline = max_ring;
        let media_due = (media.started && !media.paced)
            .then(|| lock(&media.core).session.poll_timeout())
            .flatten();
        for d in [
            leg.poll_timeout(),
            ring_at,
            answer_at,
            hangup_at,
            linger_until,
            ivr.as_ref()
                .filter(|_| !ended)
                .and_then(IvrCall::poll_timeout),
        ]
        .into_iter()
        .flatten()
        {
            deadline = deadline.min(d);
        }
        deadline = media_due.map_or(deadline, |m| m.min(deadline));
        tokio::select! {
            input = rx.recv() => match input {
                Some(CallInput::Message(m, at2, ..)) => {
                    last_msg_at = at2;
                    leg.handle_message(m, at2);
                }
                Some(CallInput::FlowClosed(at2)) => leg.handle_transport_error(at2),
                None => break,
            },
            Some((agent, at2)) = agent_rx.recv() => {
                if let Some(call) = ivr.as_mut() {
                    call.on_agent_answered(agent, at2);
                }
            },
            r = RtpPair::recv_rtp(&media.sockets, &mut rtp_buf) => {
                if let Ok((n, _)) = r { lock(&media.core).session.handle_rtp(&rtp_buf[..n], now()); }
            },
            r = RtpPair::recv_rtcp(&media.sockets, &mut rtcp_buf) => {
                if let Ok((n, _)) = r { lock(&media.core).session.handle_rtcp(&rtcp_buf[..n], now()); }
            },
            _ = crate::engine::timer::sleep_until(deadline) => {
                let t = now();
                if leg.poll_timeout().is_some_and(|d| d <= t) {
                    leg.handle_timeout(t);
                }
                if media.started && !media.paced {
                    lock(&media.core).session.handle_timeout(t);
                }
                if let Some(call) = ivr.as_mut() {
                    if call.poll_timeout().is_some_and(|d| d <= t) {
                        call.handle_timeout(t);
                    }
                }
                if ring_at.is_some_and(|d| d <= t) {
                    ring_at = None;
                    if cfg.early_media && ivr.is_none() {
                        leg.provisional(183, Some(&answer_sdp), t);
                        start_prompt(&mut media, t, &mut hangup_at, cfg, &ctx.prompt);
                    } else {
                        leg.provisional(180, None, t);
                    }
                }
                if answer_at.is_some_and(|d| d <= t) && !ended {
                    answer_at = None;
                    answered = true;
                    c.answered.fetch_add(1, Ordering::Relaxed);
                    leg.answer(&answer_sdp, t);
                    if let Some(call) = ivr.as_mut() {
                        lock(&media.core).start_sending(t);
                        media.started = true;
                        call.on_answered(t);
                    } else if !media.started {
                        start_prompt(&mut media, t, &mut hangup_at, cfg, &ctx.prompt);
                    }
                    let cap = t + cfg.max_call;
                    if let Fault::DropAfter(after) = fault {
                        c.fault_dropped.fetch_add(1, Ordering::Relaxed);
                        hangup_at = Some(t + after);
                    } else if cfg.after_prompt == AfterPrompt::Keep || ivr.is_some() {
                        hangup_at = Some(cap);
                    }
                    hangup_at = hangup_at.map(|h| h.min(cap));
                }
                if hangup_at.is_some_and(|d| d <= t) && answered {
                    hangup_at = None;
                    leg.hangup(t);
                }
                if linger_until.is_some_and(|d| d <= t) || (t >= max_ring && !answered && !ended) {
                    break;
                }
            }
        }
    }
    c.retransmissions_sent
        .fetch_add(u64::from(leg.retransmissions_sent()), Ordering::Relaxed);
    c.retransmissions_received
        .fetch_add(u64::from(leg.retransmissions_received()), Ordering::Relaxed);
}

/// Locks a mutex, recovering from a panicked holder (the data are counters and queues).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Feeds the IVR the digits the media session detected and carries out its actions; true
/// when an agent answered and the call should be re-INVITEd.
fn drive_ivr(
    ctx: &SutContext,
    call: &mut IvrCall,
    media: &mut Media,
    hangup_at: &mut Option<Instant>,
    seq: u64,
    agent_tx: &mpsc::UnboundedSender<(u32, Instant)>,
) -> bool {
    let mut reinvite = false;
    use crate::media::session::MediaEvent;
    let mut core = lock(&media.core);
    let session = &mut core.session;
    while let Some(e) = session.poll_event() {
        match e {
            MediaEvent::DtmfStarted { digit, at, .. } => call.on_digit_started(digit, at),
            MediaEvent::Dtmf { digit, end, via } => {
                let counter = match via {
                    crate::media::session::DtmfVia::Rfc4733 => &ctx.counters.digits_rfc4733,
                    crate::media::session::DtmfVia::Inband => &ctx.counters.digits_inband,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                call.on_digit(digit, end);
            }
            MediaEvent::VoiceOnset { .. } | MediaEvent::VoiceEnd { .. } => {}
        }
    }
    while let Some(a) = call.poll_action() {
        match a {
            IvrAction::Play {
                audio,
                start_at,
                skip,
                ..
            } => {
                ctx.counters.ivr_prompts.fetch_add(1, Ordering::Relaxed);
                let audio = if skip.is_zero() {
                    audio
                } else {
                    let n = (skip.as_nanos() * 8000 / 1_000_000_000) as usize;
                    AudioSource::from_samples(audio.samples().get(n..).unwrap_or(&[]).to_vec())
                };
                session.play(audio, start_at, false);
            }
            IvrAction::StopPlaying { at } => session.stop_playing(at),
            IvrAction::QueueForAgent { queue, at } => {
                let got = lock(&ctx.pools)
                    .get_mut(&queue)
                    .and_then(|p| p.request(seq, at));
                match got {
                    Some(agent) => call.on_agent_answered(agent, at),
                    None => {
                        lock(&ctx.waiters).insert(seq, agent_tx.clone());
                    }
                }
            }
            IvrAction::AgentConnected { announce, .. } => {
                ctx.counters.agent_answers.fetch_add(1, Ordering::Relaxed);
                reinvite |= matches!(announce, ivr::Announce::Reinvite | ivr::Announce::Both);
            }
            IvrAction::ReleaseAgent { queue, agent, at } => {
                let next = lock(&ctx.pools)
                    .get_mut(&queue)
                    .and_then(|p| p.release(agent, at));
                if let Some((waiting, agent)) = next {
                    if let Some(tx) = lock(&ctx.waiters).remove(&waiting) {
                        let _ = tx.send((agent, at));
                    }
                }
            }
            IvrAction::LeaveQueue { queue, .. } => {
                if let Some(p) = lock(&ctx.pools).get_mut(&queue) {
                    p.abandon(seq);
                }
                lock(&ctx.waiters).remove(&seq);
            }
            IvrAction::Hangup { at } => *hangup_at = Some(hangup_at.map_or(at, |h| h.min(at))),
        }
    }
    reinvite
}

/// Starts playing the prompt; with `after_prompt: hangup` the BYE follows its end.
fn start_prompt(
    media: &mut Media,
    t: Instant,
    hangup_at: &mut Option<Instant>,
    cfg: &SutConfig,
    prompt: &AudioSource,
) {
    lock(&media.core).start_sending(t);
    media.started = true;
    if cfg.after_prompt == AfterPrompt::Hangup {
        *hangup_at = Some(t + prompt.duration() + Duration::from_millis(200));
    }
}

async fn prepare_media(
    ctx: &SutContext,
    leg: &UasCall,
    local: &LocalEndpoint,
    rng: &mut StdRng,
) -> Result<(Media, Vec<u8>), u16> {
    let invite = leg.invite();
    let offer = sdp::parse_sdp(&invite.body).map_err(|_| 488u16)?;
    let bound = RtpPair::bind_std(local.addr.ip()).map_err(|_| 500u16)?;
    let ans = sdp::answer(&offer, &ctx.cfg.codecs, local.addr.ip(), bound.2).map_err(|_| 488u16)?;
    let remote = ans.negotiated.remote;
    let mut session = MediaSession::new(
        MediaConfig {
            codec: ans.negotiated.codec.into(),
            source: if ctx.cfg.ivr.is_some() {
                AudioSource::silence()
            } else {
                ctx.prompt.clone()
            },
            seed: rng.random(),
            rtcp_interval: Duration::from_secs(5),
            telephone_event_pt: ans.negotiated.telephone_event_pt,
            voice_threshold_dbov: -35.0,
            loop_source: false,
            listen: crate::media::session::ListenConfig {
                prompts: None,
                inband_dtmf: ctx.cfg.ivr.is_some(),
                skip_first_voice: true,
                hear: None,
            },
        },
        now(),
    );
    // Sender reports carry the wall clock, so a caller on the same host (or NTP) measures
    // the one-way delay of this stream.
    let (ntp, at) = crate::engine::wall_clock();
    session.set_wall_clock(ntp, at);
    let mut core = MediaCore::new(session);
    core.remote_rtp = Some(remote);
    core.remote_rtcp = Some(SocketAddr::new(remote.ip(), remote.port().wrapping_add(1)));
    let core = Arc::new(Mutex::new(core));
    // Calls with an IVR react to what they hear: their task serves their media. So do all
    // calls if the pacer thread could not start.
    let sockets = pacer::pace_or_own(&core, bound, ctx.cfg.ivr.is_none()).map_err(|_| 500u16)?;
    let paced = sockets.is_none();
    Ok((
        Media {
            sockets,
            core,
            paced,
            started: false,
            out: Vec::with_capacity(if paced { 0 } else { 1500 }),
        },
        ans.sdp,
    ))
}

/// Checks the Authorization of an INVITE against the configured users; None when absent.
fn auth_header_ok(req: &Request, a: &config::SutAuth, nonce: &str) -> Option<bool> {
    let value = message::header_value(&req.headers, "Authorization")?;
    Some(auth::verify(value, "INVITE", nonce, &a.realm, |user| {
        a.users.get(user).cloned()
    }))
}

/// Keeps a finished leg alive to absorb retransmissions and the ACK of its final response.
async fn linger(
    ctx: &SutContext,
    mut leg: UasCall,
    mut rx: crate::engine::dispatch::CallReceiver,
    from: SocketAddr,
) {
    let until = now() + ctx.timers.t1 * 64;
    while !leg.is_done() {
        let deadline = leg.poll_timeout().unwrap_or(until).min(until);
        tokio::select! {
            input = rx.recv() => match input {
                Some(CallInput::Message(m, at, ..)) => leg.handle_message(m, at),
                _ => break,
            },
            _ = tokio::time::sleep_until(deadline.into()) => {
                let t = now();
                if t >= until { break; }
                leg.handle_timeout(t);
            }
        }
        send_all(ctx, &mut leg, from).await;
    }
    ctx.counters
        .retransmissions_sent
        .fetch_add(u64::from(leg.retransmissions_sent()), Ordering::Relaxed);
    ctx.counters
        .retransmissions_received
        .fetch_add(u64::from(leg.retransmissions_received()), Ordering::Relaxed);
}

/// The advertised address for a wildcard bind.
pub fn advertised_for(bound: SocketAddr, peer: SocketAddr) -> SocketAddr {
    if bound.ip().is_unspecified() {
        SocketAddr::new(
            transport::route_source(peer).unwrap_or(bound.ip()),
            bound.port(),
        )
    } else {
        bound
    }
}
