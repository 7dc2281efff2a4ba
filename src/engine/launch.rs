//! Launches a run's calls on their absolute schedule, under the concurrency cap and the calls/s
//! ceiling, and ends the run gracefully: no launches after the schedule (or a stop request),
//! calls in progress may go on for the drain time, then those still up are hung up.

use super::call;
use super::record::CallRecord;
use super::{timer, CallContext};
use crate::report::pcap::CallCapture;
use crate::traffic::arrivals::Arrival;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// Calls/s above which launches wait on tokio's millisecond timer rather than the precise one.
const COARSE_ABOVE_RATE: f64 = 250.0;

/// Where a run is in its life, as every call sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Calls are being launched.
    Launching,
    /// No more launches; calls still up at `hangup_at` (if set) are hung up then.
    Draining {
        /// When calls in progress are cut.
        hangup_at: Option<Instant>,
    },
}

impl End {
    /// When calls still in progress are to be hung up, if that is decided.
    pub(crate) fn hangup_at(self) -> Option<Instant> {
        match self {
            End::Launching => None,
            End::Draining { hangup_at } => hangup_at,
        }
    }
}

/// What a stop request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopRequest {
    /// Keep going.
    None,
    /// Stop launching; calls in progress get the drain time.
    Graceful,
    /// Stop launching and hang up every call now.
    Now,
}

/// Lets another task (the CLI's signal handler) end a run early, gracefully or at once.
#[derive(Clone)]
pub struct StopHandle {
    tx: Arc<watch::Sender<StopRequest>>,
}

impl Default for StopHandle {
    fn default() -> Self {
        StopHandle {
            tx: Arc::new(watch::channel(StopRequest::None).0),
        }
    }
}

impl StopHandle {
    /// Asks for `req`; a request never weakens an earlier one.
    pub fn request(&self, req: StopRequest) {
        self.tx.send_if_modified(|cur| {
            let stronger = req > *cur;
            if stronger {
                *cur = req;
            }
            stronger
        });
    }

    /// What has been asked so far.
    pub fn requested(&self) -> StopRequest {
        *self.tx.borrow()
    }

    /// Waits until a stop has been asked for, and says which.
    pub async fn stopped(&self) -> StopRequest {
        self.reached(StopRequest::Graceful).await
    }

    /// Waits until the request is at least `level`, and says what it is.
    pub async fn reached(&self, level: StopRequest) -> StopRequest {
        let mut rx = self.subscribe();
        loop {
            let r = *rx.borrow_and_update();
            if r >= level {
                return r;
            }
            // The sender lives in `self`, so the channel cannot close while we wait.
            if rx.changed().await.is_err() {
                return StopRequest::None;
            }
        }
    }

    fn subscribe(&self) -> watch::Receiver<StopRequest> {
        self.tx.subscribe()
    }
}

/// The launcher's inputs.
pub(crate) struct Launcher {
    pub ctx: Arc<CallContext>,
    /// Pre-drawn Poisson arrivals, or `None` for `calls` at a fixed `rate`.
    pub schedule: Option<Arc<[Arrival]>>,
    /// Calls to place.
    pub total: u64,
    pub records: mpsc::UnboundedSender<(CallRecord, Option<CallCapture>)>,
    /// Calls placed so far.
    pub launched: Arc<AtomicU64>,
    /// Tells the calls when the run ends.
    pub end: Arc<watch::Sender<End>>,
    pub stop: StopHandle,
}

/// When call `i` is due and how long it holds after the answer.
fn slot(ctx: &CallContext, schedule: Option<&[Arrival]>, i: u64) -> (Instant, Duration) {
    match schedule {
        Some(s) => (ctx.origin + s[i as usize].at, s[i as usize].holding),
        None => (
            ctx.origin + Duration::from_secs_f64(i as f64 / ctx.plan.rate),
            ctx.plan.hold,
        ),
    }
}

impl Launcher {
    /// Places the calls, then announces the cut-off of the drain; lives on until the run
    /// ends, so that an immediate stop request can still cut the drain short.
    pub(crate) async fn run(self) {
        let Launcher {
            ctx,
            schedule,
            total,
            records,
            launched,
            end,
            stop,
        } = self;
        let mut stop_rx = stop.subscribe();
        let sem = Arc::new(Semaphore::new(ctx.plan.max_concurrent.max(1)));
        let ceiling = ceiling(ctx.plan.max_rate);
        let coarse = ctx.plan.rate.min(ctx.plan.max_rate) > COARSE_ABOVE_RATE;
        let mut stopped_early = false;
        for i in 0..total {
            // Absolute schedule: lateness never accumulates, and the scheduled time stays the
            // latency origin of the call (a launch held back by the cap or the ceiling shows as
            // launch lateness, never as a shorter delay).
            let (due, hold) = slot(&ctx, schedule.as_deref(), i);
            let ready = async {
                match coarse {
                    // Launches under a few ms apart: tokio's 1 ms timer wakes the launcher once
                    // per tick for every call due by then (lateness ≤ ~1 ms, measured and
                    // reported), instead of a thread hand-off per call.
                    true => tokio::time::sleep_until(due.into()).await,
                    false => timer::sleep_until(due).await,
                }
                if let Some(limiter) = &ceiling {
                    while let Err(not_until) = limiter.check() {
                        timer::sleep_until(not_until.earliest_possible()).await;
                    }
                }
                sem.clone().acquire_owned().await.ok()
            };
            let permit = tokio::select! {
                p = ready => p,
                _ = stopped(&mut stop_rx) => None,
            };
            let Some(permit) = permit else {
                stopped_early = true;
                break;
            };
            launched.fetch_add(1, Ordering::SeqCst);
            // Boxed: the call's state machine is kilobytes, and a future spawned by value is
            // copied on its way into the task (a measurable share of the CPU per call).
            tokio::spawn(Box::pin(call::run_call(
                ctx.clone(),
                i,
                due,
                hold,
                records.clone(),
                permit,
            )));
        }
        drop(records);
        // The drain counts from the end of the schedule (a load profile runs its full length
        // even when its last arrival came early) or from the stop request.
        let t = now();
        let base = match (stopped_early, &ctx.plan.load) {
            (false, Some(l)) => t.max(ctx.origin + l.profile.duration()),
            _ => t,
        };
        let hangup_at = ctx.plan.drain.map(|d| base + d);
        let _ = end.send(End::Draining { hangup_at });
        // A later "now" request still cuts the drain short.
        while *stop_rx.borrow_and_update() != StopRequest::Now {
            if stop_rx.changed().await.is_err() {
                return;
            }
        }
        let _ = end.send(End::Draining {
            hangup_at: Some(now()),
        });
    }
}

/// Completes when a stop has been requested.
async fn stopped(rx: &mut watch::Receiver<StopRequest>) {
    loop {
        if *rx.borrow_and_update() != StopRequest::None {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

type Ceiling = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::MonotonicClock,
>;

/// The GCRA limiter of `max_rate` calls/s with a burst of one second's calls, so that the
/// bunching of Poisson arrivals below the ceiling passes and a runaway schedule does not.
fn ceiling(max_rate: f64) -> Option<Ceiling> {
    if !(max_rate.is_finite() && max_rate > 0.0) {
        return None;
    }
    let period = Duration::from_secs_f64(1.0 / max_rate);
    let burst = NonZeroU32::new(max_rate.ceil().clamp(1.0, u32::MAX as f64) as u32)?;
    let quota = Quota::with_period(period)?.allow_burst(burst);
    Some(RateLimiter::direct_with_clock(
        quota,
        governor::clock::MonotonicClock,
    ))
}

#[allow(clippy::disallowed_methods)] // driver: the launcher reads the clock
fn now() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_requests_only_strengthen() {
        let h = StopHandle::default();
        assert_eq!(h.requested(), StopRequest::None);
        h.request(StopRequest::Now);
        h.request(StopRequest::Graceful);
        assert_eq!(h.requested(), StopRequest::Now);
    }

    #[test]
    fn the_ceiling_holds_a_burst_to_its_rate() {
        let limiter = ceiling(100.0).expect("a valid rate");
        // A burst of 100 (one second's worth) passes at once, the 101st must wait.
        let passed = (0..500).filter(|_| limiter.check().is_ok()).count();
        assert_eq!(passed, 100);
        assert!(ceiling(f64::NAN).is_none());
        assert!(ceiling(0.0).is_none());
    }
}
