//! A sub-millisecond timer for the drivers.
//!
//! tokio's timer wheel has a 1 ms tick and rounds every deadline up to the next tick, so a
//! 150 ms ring delay leaves the reference call center 150.0–151.0 ms later (≈ +0.6 ms on
//! average). That is the granularity of the ground truth the harness is checked against, and it
//! also decides when scheduled calls and RTP packets leave. This timer keeps deadlines in a heap
//! on one OS thread that waits on a condition variable (futex, nanosecond timeout), and wakes the
//! task through a oneshot channel: typically within 0.1 ms of the deadline, without spinning.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::oneshot;

struct Entry {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

fn shared() -> &'static Arc<Shared> {
    static TIMER: OnceLock<Arc<Shared>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let s = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let t = s.clone();
        let spawned = std::thread::Builder::new()
            .name("callcert-timer".into())
            .spawn(move || run(&t));
        if spawned.is_err() {
            tracing::error!("cannot start the precise timer thread; deadlines fall back to tokio");
        }
        s
    })
}

#[allow(clippy::disallowed_methods)] // the timer thread is a driver: it reads the clock
fn run(s: &Shared) {
    let Ok(mut st) = s.state.lock() else { return };
    loop {
        let now = Instant::now();
        while st.heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(e)) = st.heap.pop() {
                let _ = e.wake.send(());
            }
        }
        // Drop entries whose waiter is gone, so the heap stays small.
        if st.heap.len() > 4096 {
            let kept: Vec<_> = st
                .heap
                .drain()
                .filter(|Reverse(e)| !e.wake.is_closed())
                .collect();
            st.heap.extend(kept);
        }
        st = match st.heap.peek().map(|Reverse(e)| e.at) {
            Some(at) => match s
                .changed
                .wait_timeout(st, at.saturating_duration_since(now))
            {
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

/// Completes at `deadline`, within about 0.1 ms (tokio's timer is the fallback).
pub async fn sleep_until(deadline: Instant) {
    let (tx, rx) = oneshot::channel();
    let s = shared();
    let registered = match s.state.lock() {
        Ok(mut st) => {
            st.seq += 1;
            let seq = st.seq;
            let earliest = st.heap.peek().is_none_or(|Reverse(e)| deadline < e.at);
            st.heap.push(Reverse(Entry {
                at: deadline,
                seq,
                wake: tx,
            }));
            if earliest {
                s.changed.notify_one();
            }
            true
        }
        Err(_) => false,
    };
    if !registered || rx.await.is_err() {
        tokio::time::sleep_until(deadline.into()).await;
    }
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
}
