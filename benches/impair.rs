//! Network impairment: the cost of one packet through [`Impairment`] (push, then poll when
//! due) on a fake clock, and the relay's own delay on loopback (round trip through
//! `callcert impair`'s relay with no impairment, against the same round trip direct).
#![allow(clippy::disallowed_methods)] // a benchmark: one real base instant, and a relay driver

use callcert::impair::relay::{Relay, RelayConfig};
use callcert::impair::{ImpairConfig, Impairment};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// One packet per `gap` of fake time: push, then poll everything due. In steady state one
/// packet goes in and (minus losses, plus copies) one comes out per iteration, with
/// `delay / gap` packets waiting.
fn push_poll<T: Clone>(c: &mut Criterion, name: &str, spec: &str, gap: Duration, packet: T) {
    let config: ImpairConfig = spec.parse().expect("bench spec");
    let mut group = c.benchmark_group("impair_push_poll");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        let mut link = Impairment::new(config, 1).expect("valid");
        let mut now = Instant::now();
        b.iter(|| {
            now += gap;
            link.push(black_box(packet.clone()), now);
            while let Some(p) = link.poll(now) {
                black_box(p);
            }
        })
    });
    group.finish();
}

fn engine(c: &mut Criterion) {
    let ms20 = Duration::from_millis(20);
    // A G.711 RTP packet (12-byte header + 160 bytes) on the heap, as the relay holds them;
    // the clone per iteration (an allocation and a free) is part of the figure. Keep `T`
    // small: a large inline packet (a 172-byte array) is moved by value several times per
    // packet and costs about 300 ns more.
    let rtp = vec![0xD5u8; 172];
    push_poll(c, "none", "none", ms20, rtp.clone());
    push_poll(c, "poor_preset", "poor", ms20, rtp.clone());
    push_poll(c, "bad_preset", "bad", ms20, rtp.clone());
    push_poll(
        c,
        "everything",
        "delay=100ms,jitter=20ms,dist=paretonormal,corr=25%,loss=3%,burst=3,reorder=1%,dup=1%",
        ms20,
        rtp.clone(),
    );
    // A relay carrying ~1000 calls' RTP on one link: a packet every 20 µs, 400 ms held, so
    // some 20 000 waiting in the heap.
    push_poll(
        c,
        "bad_preset_20000_waiting",
        "bad",
        Duration::from_micros(20),
        rtp,
    );
    // The engine alone, with an 8-byte packet (an index into the caller's buffers).
    push_poll(c, "none_u64", "none", ms20, 7u64);
    push_poll(c, "poor_preset_u64", "poor", ms20, 7u64);
    push_poll(c, "bad_preset_u64", "bad", ms20, 7u64);
}

/// Round trips of one 172-byte datagram to `to`, echoed back, each timed.
fn round_trips(sock: &UdpSocket, to: SocketAddr, iters: u64) -> Duration {
    let msg = [0xD5u8; 172];
    let mut buf = [0u8; 256];
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        sock.send_to(&msg, to).expect("send");
        sock.recv_from(&mut buf).expect("echo within the timeout");
        total += start.elapsed();
    }
    total
}

/// The relay's own delay: a round trip through it (two relayed legs, no impairment) against
/// the same echo direct. The difference is what the relay adds for two legs.
fn relay_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let echo = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let echo_addr = echo.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let relay = runtime
        .block_on(Relay::start(RelayConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            echo_addr,
        )))
        .expect("relay starts");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut group = c.benchmark_group("udp_round_trip_172");
    group.bench_function("direct", |b| {
        b.iter_custom(|iters| round_trips(&client, echo_addr, iters))
    });
    let via = relay.local_addr();
    group.bench_function("through_relay", |b| {
        b.iter_custom(|iters| round_trips(&client, via, iters))
    });
    group.finish();
    let stats = runtime.block_on(relay.stop());
    eprintln!(
        "relay lateness (send time - due time), upstream: mean {:.3} ms, max {:.3} ms over {}; \
         downstream: mean {:.3} ms, max {:.3} ms",
        stats.upstream.lateness.mean_ms,
        stats.upstream.lateness.max_ms,
        stats.upstream.lateness.samples,
        stats.downstream.lateness.mean_ms,
        stats.downstream.lateness.max_ms,
    );
}

criterion_group!(benches, engine, relay_overhead);
criterion_main!(benches);
