//! A sub-millisecond timer for the drivers.
//!
//! tokio's timer wheel has a 1 ms tick and rounds every deadline up to the next tick, so a
//! 150 ms ring delay leaves the reference call center 150.0–151.0 ms later (≈ +0.6 ms on
//! average). That is the granularity of the ground truth the harness is checked against, and it
//! also decides when scheduled calls and RTP packets leave. This timer keeps deadlines in an
//! ordered map on one OS thread that waits on a condition variable (futex, nanosecond timeout)
//! and wakes the task's waker: typically within 0.1 ms of the deadline, without spinning
//! (within 0.2 ms under load, when deadlines are served in batches).
//!
//! Most deadlines of a call never fire (retransmission timers cancelled by a response, the
//! call's overall bound, lingering), so a sleep first waits on tokio's own timer until
//! [`PRECISE_WINDOW`] before its deadline (no thread hand-off, no lock) and only then registers
//! with the precise thread. A [`Sleep`] dropped before its deadline (the losing branch of a
//! `select!`) removes its entry, so the map only ever holds live sleeps.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Live sleeps above which deadlines are served in batches.
const COALESCE_ABOVE: usize = 256;

/// How late a batched deadline may be served.
const COALESCE: std::time::Duration = std::time::Duration::from_micros(100);

/// Deadline and insertion number: unique, ordered by time first.
type Key = (Instant, u64);

#[derive(Default)]
struct State {
    sleeps: BTreeMap<Key, Waker>,
    seq: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

fn shared() -> Option<&'static Arc<Shared>> {
    static TIMER: OnceLock<Option<Arc<Shared>>> = OnceLock::new();
    TIMER
        .get_or_init(|| {
            let s = Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            });
            let t = s.clone();
            match std::thread::Builder::new()
                .name("callcert-timer".into())
                .spawn(move || run(&t))
            {
                Ok(_) => Some(s),
                Err(e) => {
                    tracing::error!(
                        "cannot start the precise timer thread ({e}); deadlines fall back to tokio"
                    );
                    None
                }
            }
        })
        .as_ref()
}

#[allow(clippy::disallowed_methods)] // the timer thread is a driver: it reads the clock
fn now() -> Instant {
    Instant::now()
}

fn run(s: &Shared) {
    let mut due: Vec<Waker> = Vec::new();
    let Ok(mut st) = s.state.lock() else { return };
    loop {
        let t = now();
        while let Some(entry) = st.sleeps.first_entry() {
            if entry.key().0 > t {
                break;
            }
            due.push(entry.remove());
        }
        if !due.is_empty() {
            // Wake outside the lock: a woken task may re-arm at once.
            drop(st);
            for w in due.drain(..) {
                w.wake();
            }
            st = match s.state.lock() {
                Ok(g) => g,
                Err(_) => return,
            };
            continue;
        }
        // Under load (thousands of media calls, a packet due every few µs) waking for each
        // deadline would cost a thread switch per packet: deadlines are then served in
        // batches, each up to COALESCE late. With few sleeps every one is served on time.
        let slack = if st.sleeps.len() > COALESCE_ABOVE {
            COALESCE
        } else {
            std::time::Duration::ZERO
        };
        st = match st.sleeps.first_key_value().map(|(k, _)| k.0 + slack) {
            Some(at) => match s.changed.wait_timeout(st, at.saturating_duration_since(t)) {
                Ok((g, _)) => g,
                Err(_) => return,
            },
            None => match s.changed.wait(st) {
                Ok(g) => g,
                Err(_) => return,
            },
        };
    }
}

/// How long before its deadline a sleep moves from tokio's 1 ms timer to the precise one.
pub const PRECISE_WINDOW: std::time::Duration = std::time::Duration::from_millis(3);

/// The future of [`sleep_until`].
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Instant,
    /// Where this sleep's waker is in the map, while registered.
    key: Option<Key>,
    /// tokio's timer: the coarse first phase, or all of it when the precise one could not
    /// start.
    coarse: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The coarse timer is the fallback for the whole wait.
    fallback: bool,
    /// The coarse phase has been decided (started or skipped).
    started: bool,
}

/// Completes at `deadline`, within about 0.1 ms (tokio's timer is the fallback).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        key: None,
        coarse: None,
        fallback: false,
        started: false,
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let t = now();
        if t >= this.deadline {
            this.deregister();
            return Poll::Ready(());
        }
        if !this.started {
            this.started = true;
            if this.deadline.saturating_duration_since(t) > PRECISE_WINDOW {
                let wake = (this.deadline - PRECISE_WINDOW).into();
                this.coarse = Some(Box::pin(tokio::time::sleep_until(wake)));
            }
        }
        if let Some(c) = this.coarse.as_mut() {
            match c.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if this.fallback => return Poll::Ready(()),
                Poll::Ready(()) => this.coarse = None,
            }
        }
        let Some(s) = shared() else {
            return this.fall_back(cx);
        };
        let Ok(mut st) = s.state.lock() else {
            return this.fall_back(cx);
        };
        match this.key.and_then(|k| st.sleeps.get_mut(&k)) {
            // Still registered: keep the waker current.
            Some(w) => {
                if !w.will_wake(cx.waker()) {
                    w.clone_from(cx.waker());
                }
            }
            // First poll, or fired a hair early for the clock read above: (re-)register.
            None => {
                st.seq += 1;
                let key = (this.deadline, st.seq);
                let earliest = st.sleeps.first_key_value().is_none_or(|(k, _)| key < *k);
                st.sleeps.insert(key, cx.waker().clone());
                this.key = Some(key);
                if earliest {
                    s.changed.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Sleep {
    /// Waits out the rest on tokio's timer (the precise thread is not available).
    fn fall_back(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.fallback = true;
        let c = self
            .coarse
            .insert(Box::pin(tokio::time::sleep_until(self.deadline.into())));
        c.as_mut().poll(cx)
    }

    fn deregister(&mut self) {
        if let (Some(k), Some(s)) = (self.key.take(), shared()) {
            if let Ok(mut st) = s.state.lock() {
                st.sleeps.remove(&k);
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// Live sleeps registered with the timer (for tests: dropped sleeps must not linger).
pub fn pending() -> usize {
    shared()
        .and_then(|s| s.state.lock().ok().map(|st| st.sleeps.len()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Behaviour, not speed: deadlines complete in order and never early.
    #[tokio::test]
    #[allow(clippy::disallowed_methods)]
    async fn completes_in_order_and_never_early() {
        let start = Instant::now();
        let mut handles = Vec::new();
        for ms in [30u64, 10, 20, 0] {
            let at = start + Duration::from_millis(ms);
            handles.push(tokio::spawn(async move {
                sleep_until(at).await;
                (ms, Instant::now() >= at)
            }));
        }
        for h in handles {
            let (_, not_early) = h.await.unwrap();
            assert!(not_early);
        }
    }

    /// A sleep that loses a `select!` leaves nothing behind in the timer.
    #[tokio::test]
    #[allow(clippy::disallowed_methods)]
    async fn a_dropped_sleep_is_removed() {
        let far = Instant::now() + Duration::from_secs(3600);
        for _ in 0..1000 {
            tokio::select! {
                _ = sleep_until(far) => unreachable!(),
                _ = tokio::task::yield_now() => {}
            }
        }
        // Other tests of this binary may hold a few live sleeps of their own.
        assert!(pending() < 100, "{} sleeps left registered", pending());
    }
}
