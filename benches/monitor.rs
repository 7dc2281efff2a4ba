//! The monitor's costs per event: judging the rolling window (done after calls end, at most
//! every 10 s) and storing a call (two durable SQLite transactions).
//!
//! `cargo bench --bench monitor`
#![allow(clippy::disallowed_methods)]

use callcert::engine::record::CallRecord;
use callcert::monitor::store::Store;
use callcert::monitor::window::{evaluate_window, monitor_thresholds, WindowConfig};
use callcert::monitor::{CallState, PingRecord, StoredCall};
use callcert::scenario::runner::StepsResult;
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

const DAY: f64 = 86_400.0;

/// A day of calls evenly spread, each with a DTMF, a query and an agent wait; waits longer in
/// two hours of the day (so the busy/idle comparison has something to find).
fn day_of_calls(n: u64) -> Vec<StoredCall> {
    (0..n)
        .map(|k| {
            let t = k as f64 * DAY / n as f64;
            let hour = (t / 3600.0) as u64;
            let wait = if hour == 10 || hour == 11 {
                45_000.0
            } else {
                8_000.0
            } + (k % 7) as f64 * 300.0;
            let mut r = CallRecord::blank(k, format!("bench-{k}"));
            r.invite_sent_ms = Some(0.3);
            r.first_18x_ms = Some(100.0 + (k % 5) as f64);
            r.answered_ms = Some(500.0);
            r.final_code = Some(200);
            r.ivr = Some(StepsResult {
                steps: 8,
                passed: 8,
                completed: true,
                dtmf_response_ms: vec![500.0 + (k % 3) as f64 * 10.0],
                query_response_ms: vec![1_500.0 + (k % 11) as f64 * 20.0],
                agent_wait_ms: vec![wait],
                ..StepsResult::default()
            });
            StoredCall {
                slot: k,
                scenario: "walk".into(),
                scheduled_unix: t,
                started_unix: t,
                ended_unix: Some(t + 30.0),
                state: CallState::Done,
                record: Some(r),
            }
        })
        .collect()
}

fn pings(n: u64) -> Vec<PingRecord> {
    (0..n)
        .map(|k| PingRecord {
            at_unix: k as f64 * DAY / n as f64,
            answered: k % 1000 != 7,
            code: Some(200),
            rtt_ms: Some(3.0),
            detail: None,
        })
        .collect()
}

fn window(c: &mut Criterion) {
    let cfg = WindowConfig::default();
    let thresholds = monitor_thresholds();
    let mut g = c.benchmark_group("monitor_window");
    g.sample_size(10);
    for (calls, every) in [(288u64, "5m"), (1440, "1m")] {
        let cs = day_of_calls(calls);
        let ps = pings(5760);
        g.bench_function(format!("24h_{calls}_calls_every_{every}_5760_pings"), |b| {
            b.iter(|| evaluate_window(&cs, &ps, DAY, &cfg, &thresholds))
        });
    }
    g.finish();
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let template = day_of_calls(1).remove(0);
    let mut slot = 0u64;
    let mut g = c.benchmark_group("monitor_store");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("call_started_and_ended_synchronous_full", |b| {
        b.iter(|| {
            store
                .call_started(slot, "walk", slot as f64, slot as f64)
                .unwrap();
            let call = StoredCall {
                slot,
                ..template.clone()
            };
            store.call_ended(&call).unwrap();
            slot += 1;
        })
    });
    g.finish();
}

criterion_group!(benches, window, store);
criterion_main!(benches);
