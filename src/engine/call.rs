//! The driver of one outgoing call: owns the call's RTP sockets, feeds the sans-IO call leg and
//! media session with wire-timestamped input, and produces the call's record.

use super::dispatch::CallInput;
use super::ivr::IvrDriver;
use super::pacer::{self, MediaCore, SharedMedia};
use super::record::{CallMedia, CallRecord, CallTimeline, FailureKind};
use super::{CallContext, RtpPair};
use crate::media::prompt::SegmenterConfig;
use crate::media::session::{ListenConfig, TxMark};
use crate::media::{MediaConfig, MediaSession, RtpChannel};
use crate::report::pcap::{CallCapture, CaptureMode, Carrier};
use crate::sip::dialog::{CallEvent, CallOutcome, UacCall, UacConfig};
use crate::sip::rsip::{Method, SipMessage};
use crate::sip::sdp;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a call hung up by the end of the run may take to end before it is given up.
const CUT_GRACE: Duration = Duration::from_secs(4);

/// The port a signalling-only call offers (discard, RFC 863): no socket behind it.
const DISCARD_PORT: u16 = 9;

#[allow(clippy::disallowed_methods)] // driver: reads the clock where packets are
fn now() -> Instant {
    Instant::now()
}

/// The media half of a call: the session and where to send it (shared with the media pacer
/// when paced), and the call's own sockets otherwise (closed when the call ends).
struct MediaLeg {
    sockets: Option<RtpPair>,
    core: SharedMedia,
    /// The media pacer sends and receives (a call without IVR steps); otherwise this task
    /// does, woken by each packet.
    paced: bool,
    sending: bool,
    /// The datagram being sent (copied out of the session so its lock is not held across the send).
    out: Vec<u8>,
}

impl MediaLeg {
    fn core(&self) -> MutexGuard<'_, MediaCore> {
        pacer::lock_media(&self.core)
    }

    /// Sends what the session has due; returns the wire time of a marked packet's mark.
    async fn flush(&mut self) -> Option<Instant> {
        let mut marked = None;
        if self.paced {
            return None;
        }
        loop {
            // The lock goes before the send (the guard is not held across the await).
            let next = pacer::lock_media(&self.core).next_datagram(&mut self.out);
            let Some((t, to)) = next else { break };
            let Some(pair) = &self.sockets else { continue };
            let sock = pair.socket(t.channel);
            if let Some(to) = to {
                let data = &self.out[..];
                let before = now();
                let sent_ok = sock.send_to(data, to).await.is_ok();
                if !sent_ok && t.channel == RtpChannel::Rtp {
                    self.core().rtp_send_failed += 1;
                }
                if let Some(TxMark::DtmfDone { offset }) = t.mark {
                    // Stamped like SIP sends: the midpoint of the clock reads around the call.
                    let after = now();
                    let sent = before + after.saturating_duration_since(before) / 2;
                    marked = Some(sent + crate::media::audio::samples_to_duration(offset as u64));
                }
                pacer::lock_media(&self.core).capture_media(now(), t.channel, true, to, data);
            }
        }
        marked
    }

    fn take_capture(&self) -> Option<CallCapture> {
        self.core().capture.take().map(|(c, _)| c)
    }

    fn apply_remote(&mut self, neg: &sdp::NegotiatedMedia) {
        let mut core = self.core();
        core.remote_rtp = Some(neg.remote);
        core.remote_rtcp = Some(SocketAddr::new(neg.remote.ip(), neg.remote.port() + 1));
        if neg.remote.ip().is_unspecified() || neg.remote.port() == 0 {
            // Hold with c=0.0.0.0 (RFC 3264 §8.4): stop sending, keep receiving.
            core.remote_rtp = None;
            core.remote_rtcp = None;
        }
    }
}

/// Places one call and returns its record once the call has ended. The task lingers afterwards
/// (in the background) to absorb the far end's retransmissions.
pub(crate) async fn run_call(
    ctx: Arc<CallContext>,
    index: u64,
    scheduled: Instant,
    hold: Duration,
    records: Records,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    // The sender goes with the record: once every call has reported and the launcher is done,
    // the run's collector sees the channel close even while calls linger for retransmissions.
    let mut records = Some(records);
    let mut cap = (ctx.capture != CaptureMode::Off).then(CallCapture::new);
    let carrier = Carrier::from(ctx.local.transport);
    // The concurrency slot is held until the call ends, not while the task lingers.
    let mut permit = Some(permit);
    let plan = &ctx.plan;
    // Seeded randomness makes a run repeatable; the run tag keeps Call-IDs unique across runs
    // (RFC 3261 §8.1.1.4), so a far end still absorbing an earlier run never mixes them up.
    let call_id = format!(
        "{}-{}-{index}@callcert",
        ctx.run_tag,
        crate::sip::dialog::random_token(
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
                plan.seed ^ index.rotate_left(17)
            ),
            8
        )
    );
    let mut tl = CallTimeline::new(index, call_id.clone(), ctx.origin, scheduled);
    // Signalling-only calls bind no ports and offer an inactive stream on the discard port
    // (RFC 3264 §5.1: the stream is declared, nothing flows).
    let bound = match plan.media {
        false => None,
        true => match RtpPair::bind_std(ctx.local.addr.ip()) {
            Ok(b) => Some(b),
            Err(e) => {
                tl.fail(FailureKind::Local, format!("cannot bind RTP ports: {e}"));
                tl.record.ended_ms = tl.ms(now());
                send(&mut records, tl.record, cap);
                return;
            }
        },
    };
    let rtp_port = bound.as_ref().map_or(DISCARD_PORT, |b| b.2);
    let local_rtp = bound.as_ref().and_then(|b| b.0.local_addr().ok());
    let offer = sdp::build_offer(&sdp::OfferParams {
        addr: ctx.local.addr.ip(),
        rtp_port,
        codecs: &plan.codecs,
        telephone_event_pt: plan.telephone_event.then_some(101),
        session_id: ctx.plan.seed.wrapping_add(index),
        version: 1,
        direction: match plan.media {
            true => sdp::Direction::SendRecv,
            false => sdp::Direction::Inactive,
        },
    });
    let media_cfg = MediaConfig {
        codec: plan.codecs[0].into(),
        source: plan.audio.clone(),
        seed: plan.seed.wrapping_mul(31).wrapping_add(index),
        rtcp_interval: Duration::from_secs(5),
        telephone_event_pt: None,
        voice_threshold_dbov: plan.voice_threshold_dbov,
        loop_source: plan.ivr.is_none(),
        listen: ListenConfig {
            prompts: plan.ivr.as_ref().map(|_| SegmenterConfig {
                threshold_dbov: plan.voice_threshold_dbov,
                ..SegmenterConfig::default()
            }),
            inband_dtmf: false,
            skip_first_voice: false,
            hear: plan.quality.as_ref().map(|q| q.plan.jitter_buffer),
        },
    };
    // With steps the caller is silent except when a `talk` step speaks.
    let media_cfg = if plan.ivr.is_some() {
        MediaConfig {
            source: crate::media::AudioSource::silence(),
            ..media_cfg
        }
    } else {
        media_cfg
    };
    let mut ivr = plan.ivr.clone().map(IvrDriver::new);
    // The run's end: calls still up at its cut-off are hung up (`cut`).
    let end = ctx.end.clone();
    let mut end_open = true;
    // Waits for the end to change on its own receiver, one future for the whole call: made
    // afresh in every pass of the loop it would join and leave the watch's waiter list (shared
    // by every call, behind a lock) at every packet.
    let mut end_changed = Box::pin(end_change(ctx.end.clone()));
    let mut cut = false;
    let start = now();
    let mut session = MediaSession::new(media_cfg, start);
    let (ntp, at) = super::wall_clock();
    session.set_wall_clock(ntp, at);
    if let Some(q) = &plan.quality {
        let seed = crate::impair::derive_seed(plan.seed, index);
        if let Err(e) = session.set_network(q.plan.network_rx, q.plan.network_tx, seed) {
            // Validated with the scenario; a plan built in code may still carry a bad one.
            tl.fail(FailureKind::Local, format!("call.quality.network: {e}"));
            tl.record.ended_ms = tl.ms(now());
            send(&mut records, tl.record, cap.take());
            return;
        }
    }
    let mut core = MediaCore::new(session);
    core.capture = cap.take().map(|c| (c, ctx.origin));
    core.local_rtp = local_rtp;
    let core = Arc::new(Mutex::new(core));
    // A call without steps has nothing to react to in its media: the media pacer sends and
    // receives it (see `pacer`), and this task handles only its signalling. With steps (or
    // without a pacer thread) this task serves the media, woken by each packet.
    // Quality calls too: their network impairment times packets to the microsecond, which the
    // pacer's 20 ms visits would not.
    let paced = plan.ivr.is_none() && plan.quality.is_none();
    let sockets = match bound.map(|b| pacer::pace_or_own(&core, b, paced)) {
        None => None,
        Some(Ok(own)) => own,
        Some(Err(e)) => {
            let cap = pacer::lock_media(&core).capture.take().map(|(c, _)| c);
            tl.fail(
                FailureKind::Local,
                format!("cannot register RTP ports: {e}"),
            );
            tl.record.ended_ms = tl.ms(now());
            send(&mut records, tl.record, cap);
            return;
        }
    };
    let mut media = MediaLeg {
        out: Vec::with_capacity(if sockets.is_some() { 1500 } else { 0 }),
        paced: plan.media && sockets.is_none(),
        sockets,
        core,
        sending: false,
    };
    let mut rx = ctx.routes.register(&call_id);
    let mut call = UacCall::new(
        UacConfig {
            target: plan.target.clone(),
            from: plan.from.clone(),
            to: format!("<{}>", plan.target),
            local: ctx.local.clone(),
            offer: offer.clone(),
            credentials: plan.credentials.clone(),
            answer_timeout: plan.answer_timeout,
            timers: plan.timers,
            seed: plan.seed ^ (index << 20) ^ 0x5eed,
            call_id: call_id.clone(),
        },
        start,
    );
    // Bound on the whole call so that every placed call ends up in the results.
    let call_time = plan.ivr.as_ref().map_or(hold, |p| p.budget);
    let mut hard_deadline = start + plan.answer_timeout + call_time + plan.timers.t1 * 64 * 2;
    let mut hangup_at: Option<Instant> = None;
    let mut media_check_at: Option<Instant> = None;
    let mut reported = false;
    let mut linger_until: Option<Instant> = None;
    // The last ACK sent, left behind for a final response retransmitted after the call ends.
    let mut last_ack: Option<Vec<u8>> = None;
    let mut last_transport_error = String::new();
    // Receive buffers only for calls with media (a signalling-only call never reads RTP).
    let buf_len = if plan.media { 2048 } else { 0 };
    let mut rtp_buf = vec![0u8; buf_len];
    let mut rtcp_buf = vec![0u8; buf_len];

    loop {
        // Put everything the state machines want sent on the wire, timestamped.
        while let Some(m) = call.poll_transmit() {
            let bytes = crate::sip::message::encode(&m);
            match ctx.socket.send(&bytes, ctx.target_addr).await {
                Ok(at) => {
                    if matches!(&m, SipMessage::Request(r) if r.method == Method::Ack) {
                        last_ack = Some(bytes.clone());
                    }
                    tl.on_sent(&m, at);
                    if let Some(v) = ivr.as_mut() {
                        v.on_sip_sent(&m, at);
                    }
                    if let Some((c, origin)) = media.core().capture.as_mut() {
                        let t = at.saturating_duration_since(*origin);
                        c.push(t, carrier, ctx.local.addr, ctx.target_addr, &bytes);
                    }
                }
                Err(e) => {
                    last_transport_error = e.to_string();
                    call.handle_transport_error(now());
                }
            }
        }
        if let Some(at) = media.flush().await {
            if let Some(v) = ivr.as_mut() {
                v.on_media_digits_sent(at, now());
            }
        }
        if let Some(v) = ivr.as_mut() {
            let t = now();
            let mut core = media.core();
            v.on_media(&mut core.session, t);
            v.act(&mut call, &mut core.session, t);
        }

        while let Some(ev) = call.poll_event() {
            let t = now();
            match ev {
                CallEvent::Provisional {
                    sdp: Some(body), ..
                } => {
                    // Early media (RFC 3960): receive the announcement before the answer.
                    if let Ok(neg) = sdp::negotiated_from_answer(&body, &plan.codecs) {
                        media.apply_remote(&neg);
                    }
                }
                CallEvent::Provisional { .. } => {}
                CallEvent::Info { .. } => {}
                CallEvent::InfoAnswered { code } => {
                    if let Some(v) = ivr.as_mut() {
                        v.on_info_answered(code, t);
                    }
                }
                CallEvent::Answered { sdp: body } => {
                    match body
                        .as_deref()
                        .map(|b| sdp::negotiated_from_answer(b, &plan.codecs))
                    {
                        Some(Ok(neg)) => {
                            media.apply_remote(&neg);
                            let mut core = pacer::lock_media(&media.core);
                            core.session.set_codec(neg.codec.into());
                            core.session.set_telephone_event_pt(neg.telephone_event_pt);
                            if plan.media {
                                core.start_sending(t);
                                media.sending = true;
                            }
                            drop(core);
                            match ivr.as_mut() {
                                Some(v) => v.on_answered(t),
                                None => hangup_at = Some(t + hold),
                            }
                            media_check_at = plan.expect_media.then(|| t + plan.media_timeout);
                        }
                        Some(Err(e)) => {
                            tl.fail(FailureKind::BadSdp, format!("SDP answer: {e}"));
                            call.hangup(t);
                        }
                        None => {
                            tl.fail(FailureKind::BadSdp, "200 OK without SDP answer");
                            call.hangup(t);
                        }
                    }
                }
                CallEvent::Reoffer { sdp: body } => {
                    if let Some(v) = ivr.as_mut() {
                        v.on_reinvite(t);
                    }
                    let answer = match sdp::parse_sdp(&body) {
                        Ok(o) if !body.is_empty() => {
                            match sdp::answer(&o, &plan.codecs, ctx.local.addr.ip(), rtp_port) {
                                Ok(a) => {
                                    media.apply_remote(&a.negotiated);
                                    a.sdp
                                }
                                Err(_) => offer.clone(),
                            }
                        }
                        _ => offer.clone(),
                    };
                    call.answer_reoffer(&answer, t);
                }
                CallEvent::Ended(outcome) => {
                    let answered = tl.record.answered_ms.is_some();
                    if let Some(v) = ivr.as_mut() {
                        v.on_call_ended(t);
                        if answered {
                            let r = v.runner().result();
                            if let (Some(kind), Some(why)) = (r.failure_kind, &r.failure) {
                                match cut {
                                    true => tl.fail(
                                        FailureKind::Interrupted,
                                        format!("hung up by the end of the run: {why}"),
                                    ),
                                    false => tl.fail(FailureKind::of_step(kind), why.clone()),
                                }
                            }
                            tl.record.ivr = Some(r.clone());
                        }
                    }
                    if cut && !answered {
                        tl.fail(
                            FailureKind::Interrupted,
                            "cancelled by the end of the run before an answer",
                        );
                    }
                    if media.paced {
                        // Count what arrived since the pacer's last visit.
                        media.core().drain();
                    }
                    finish(&mut tl, &outcome, &media, plan, &last_transport_error);
                    tl.record.retransmissions_sent = call.retransmissions_sent();
                    tl.record.retransmissions_received = call.retransmissions_received();
                    tl.record.ended_ms = tl.ms(t);
                    match (&ctx.scorer, answered && plan.media) {
                        (Some(scorer), true) => {
                            // Scored on the workers; the record goes to the run with its score.
                            let heard = {
                                let mut core = media.core();
                                core.session.finish_hearing(t);
                                let stats = core.session.stats();
                                super::quality::Heard {
                                    index,
                                    audio: core.session.take_heard(),
                                    stats,
                                    network: core.session.network_stats().0,
                                }
                            };
                            let mut record = tl.record.clone();
                            let cap = media.take_capture();
                            let mut tx = records.take();
                            scorer.submit(heard, move |q| {
                                record.quality = Some(q);
                                send(&mut tx, record, cap);
                            });
                        }
                        _ => send(&mut records, tl.record.clone(), media.take_capture()),
                    }
                    reported = true;
                    media.sending = false;
                    // Free the ports now; the task may linger to absorb SIP retransmissions.
                    media.sockets = None;
                    media.core().close();
                    drop(permit.take());
                    linger_until = Some(t + ctx.plan.timers.t1 * 64);
                }
            }
        }
        if reported {
            break;
        }
        let mut deadline = hard_deadline;
        let media_due = (media.sending && !media.paced)
            .then(|| media.core().session.poll_timeout())
            .flatten();
        for d in [
            call.poll_timeout(),
            hangup_at,
            media_check_at,
            linger_until,
            (!cut && !reported)
                .then(|| end.borrow().hangup_at())
                .flatten(),
            ivr.as_ref().and_then(IvrDriver::poll_timeout),
        ]
        .into_iter()
        .flatten()
        {
            deadline = deadline.min(d);
        }
        deadline = media_due.map_or(deadline, |m| m.min(deadline));
        if call.has_pending_output() {
            continue;
        }
        tokio::select! {
            input = rx.recv() => match input {
                Some(CallInput::Message(m, at, raw)) => {
                    if let Some((c, origin)) = media.core().capture.as_mut() {
                        let t = at.saturating_duration_since(*origin);
                        c.push(t, carrier, ctx.target_addr, ctx.local.addr, &raw);
                    }
                    tl.on_received(&m, at);
                    call.handle_message(m, at);
                }
                Some(CallInput::FlowClosed(at)) => {
                    last_transport_error = "signalling connection closed".into();
                    call.handle_transport_error(at);
                }
                None => break,
            },
            (r, watch) = &mut end_changed, if end_open => {
                // The deadline is re-read at the top of the loop.
                end_open = r.is_ok();
                end_changed = Box::pin(end_change(watch));
            },
            r = RtpPair::recv_rtp(&media.sockets, &mut rtp_buf) => {
                if let Ok((n, from)) = r {
                    let at = now();
                    let mut core = media.core();
                    core.capture_media(at, RtpChannel::Rtp, false, from, &rtp_buf[..n]);
                    tl.on_first_rtp(at);
                    core.session.handle_rtp(&rtp_buf[..n], at);
                }
            },
            r = RtpPair::recv_rtcp(&media.sockets, &mut rtcp_buf) => {
                if let Ok((n, from)) = r {
                    let at = now();
                    let mut core = media.core();
                    core.capture_media(at, RtpChannel::Rtcp, false, from, &rtcp_buf[..n]);
                    core.session.handle_rtcp(&rtcp_buf[..n], at);
                }
            },
            _ = super::timer::sleep_until(deadline) => {
                let t = now();
                if call.poll_timeout().is_some_and(|d| d <= t) {
                    call.handle_timeout(t);
                }
                if media.sending && !media.paced {
                    media.core().session.handle_timeout(t);
                }
                if let Some(v) = ivr.as_mut() {
                    if v.poll_timeout().is_some_and(|d| d <= t) {
                        v.handle_timeout(&mut call, t);
                    }
                }
                if media_check_at.is_some_and(|d| d <= t) {
                    media_check_at = None;
                    if media.core().session.stats().rx_packets == 0 {
                        tl.fail(
                            FailureKind::NoMedia,
                            format!("no RTP within {:?} of the answer", plan.media_timeout),
                        );
                        hangup_at = None;
                        call.hangup(t);
                    }
                }
                if !cut && !reported && end.borrow().hangup_at().is_some_and(|d| d <= t) {
                    cut = true;
                    tl.record.cut_by_end = true;
                    hangup_at = None;
                    media_check_at = None;
                    call.hangup(t);
                    // A CANCEL waits for a provisional response, a BYE for its answer: the end
                    // of the run waits for neither longer than this.
                    hard_deadline = hard_deadline.min(t + CUT_GRACE);
                }
                if hangup_at.is_some_and(|d| d <= t) {
                    hangup_at = None;
                    call.hangup(t);
                }
                if linger_until.is_some_and(|d| d <= t) {
                    break;
                }
                if t >= hard_deadline {
                    if !reported && cut {
                        tl.fail(
                            FailureKind::Interrupted,
                            format!(
                                "hung up by the end of the run; not ended {CUT_GRACE:?} later"
                            ),
                        );
                    }
                    if !reported {
                        tl.fail(FailureKind::Timeout, "call exceeded its overall deadline");
                        tl.record.ended_ms = tl.ms(t);
                        send(&mut records, tl.record.clone(), media.take_capture());
                        reported = true;
                    }
                    break;
                }
            }
        }
    }
    if !reported {
        tl.fail(FailureKind::Local, "call task ended before the call did");
        tl.record.ended_ms = tl.ms(now());
        send(&mut records, tl.record, media.take_capture());
    }
    // What the state machines still want sent (an ACK or BYE queued with the end).
    while let Some(m) = call.poll_transmit() {
        let bytes = crate::sip::message::encode(&m);
        if matches!(&m, SipMessage::Request(r) if r.method == Method::Ack) {
            last_ack = Some(bytes.clone());
        }
        let _ = ctx.socket.send(&bytes, ctx.target_addr).await;
    }
    // The task ends with the call (thousands end each second under load); the dispatcher
    // answers late retransmissions from the ACK left behind.
    let until = linger_until.unwrap_or_else(|| now() + ctx.plan.timers.t1 * 64);
    ctx.routes.retire(&call_id, last_ack.map(Into::into), until);
}

/// The run's end changing (or its sender gone), handing the receiver back for the next wait.
async fn end_change<T>(
    mut watch: tokio::sync::watch::Receiver<T>,
) -> (
    Result<(), tokio::sync::watch::error::RecvError>,
    tokio::sync::watch::Receiver<T>,
) {
    let r = watch.changed().await;
    (r, watch)
}

type Records = mpsc::UnboundedSender<(CallRecord, Option<CallCapture>)>;

/// Hands the record to the run (once) and lets go of the channel.
fn send(records: &mut Option<Records>, record: CallRecord, cap: Option<CallCapture>) {
    if let Some(tx) = records.take() {
        let _ = tx.send((record, cap));
    }
}

/// Maps the signalling outcome and the media statistics onto the record's verdict.
fn finish(
    tl: &mut CallTimeline,
    outcome: &CallOutcome,
    media: &MediaLeg,
    plan: &super::RunPlan,
    transport_error: &str,
) {
    let core = media.core();
    let stats = core.session.stats();
    if let Some(at) = stats.first_voice_at {
        tl.on_first_voice(at);
    }
    if let Some(at) = stats.first_rtp_at {
        tl.on_first_rtp(at);
    }
    if tl.record.answered_ms.is_some() || stats.rx_packets > 0 {
        tl.record.media = Some(CallMedia {
            codec: core.session.codec_name().to_string(),
            // Only what reached the wire counts as sent.
            tx_packets: stats.tx_packets.saturating_sub(core.rtp_send_failed),
            rx_packets: stats.rx_packets,
            rx_lost: stats.lost,
            rx_jitter_ms: stats.jitter_ms,
            tx_late_skipped: stats.tx_skipped,
            malformed: stats.malformed,
            rtt_ms: stats.rtt_ms,
        });
    }
    match outcome {
        CallOutcome::Completed | CallOutcome::RemoteHangup => {
            if stats.rx_packets == 0 && plan.expect_media {
                tl.fail(FailureKind::NoMedia, "no RTP received during the call");
            } else if plan.expect_media && plan.expect_voice && stats.first_voice_at.is_none() {
                tl.fail(
                    FailureKind::NoVoice,
                    "RTP received but no voice above threshold",
                );
            }
        }
        CallOutcome::Rejected { code, reason } => {
            tl.fail(FailureKind::SipError, format!("{code} {reason}"))
        }
        CallOutcome::NoAnswer => tl.fail(
            FailureKind::NoAnswer,
            format!("not answered within {:?}; cancelled", plan.answer_timeout),
        ),
        CallOutcome::Timeout => {
            let detail = if tl.record.first_100_ms.is_none() && tl.record.first_18x_ms.is_none() {
                "no response to INVITE (Timer B): target unreachable or not answering"
            } else {
                "no final response to INVITE (Timer B)"
            };
            tl.fail(FailureKind::Timeout, detail)
        }
        CallOutcome::TransportError => tl.fail(
            FailureKind::Transport,
            if transport_error.is_empty() {
                "transport error".to_string()
            } else {
                transport_error.to_string()
            },
        ),
        CallOutcome::ByeTimeout => tl.fail(FailureKind::ByeTimeout, "no response to BYE"),
    }
}
