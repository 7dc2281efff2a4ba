//! Media hot paths per 20 ms packet: G.711 encode/decode of a 160-sample frame, packetizing,
//! receive-statistics update, and the whole receive path of a session (parse, stats, decode,
//! voice detection).

use callcert::media::rtp::{RtpPacketizer, SAMPLES_PER_PACKET};
use callcert::media::{AudioSource, Codec, MediaConfig, MediaSession, RtpReceiveStats};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};

fn frame() -> [i16; SAMPLES_PER_PACKET] {
    let mut pcm = [0i16; SAMPLES_PER_PACKET];
    for (i, s) in pcm.iter_mut().enumerate() {
        *s = ((i as f64 * 0.7).sin() * 12000.0) as i16;
    }
    pcm
}

fn g711(c: &mut Criterion) {
    let pcm = frame();
    let mut group = c.benchmark_group("g711_frame_160");
    group.throughput(Throughput::Elements(SAMPLES_PER_PACKET as u64));
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let mut wire = [0u8; SAMPLES_PER_PACKET];
        codec.encode_frame(&pcm, &mut wire);
        group.bench_function(format!("encode_{}", codec.name()), |b| {
            let mut out = [0u8; SAMPLES_PER_PACKET];
            b.iter(|| codec.encode_frame(black_box(&pcm), black_box(&mut out)))
        });
        group.bench_function(format!("decode_{}", codec.name()), |b| {
            let mut out = [0i16; SAMPLES_PER_PACKET];
            b.iter(|| codec.decode_frame(black_box(&wire), black_box(&mut out)))
        });
    }
    group.finish();
}

fn packetize(c: &mut Criterion) {
    let payload = [0xD5u8; SAMPLES_PER_PACKET];
    let mut packetizer = RtpPacketizer::with_state(8, 0x1234_5678, 0, 0);
    let mut buf = [0u8; 1500];
    c.bench_function("rtp_packetize_160", |b| {
        b.iter(|| packetizer.packetize(black_box(&payload), black_box(&mut buf)))
    });
}

/// One second of packets from a peer, 50 per second, to replay.
fn stream(packets: usize) -> Vec<Vec<u8>> {
    let mut p = RtpPacketizer::with_state(0, 0xCAFE, 65000, 0);
    let mut buf = [0u8; 1500];
    let pcm = frame();
    let mut payload = [0u8; SAMPLES_PER_PACKET];
    Codec::Pcmu.encode_frame(&pcm, &mut payload);
    (0..packets)
        .map(|_| {
            let len = p.packetize(&payload, &mut buf).unwrap_or(0);
            buf[..len].to_vec()
        })
        .collect()
}

#[allow(clippy::disallowed_methods)] // benchmark: one real base instant
fn base() -> Instant {
    Instant::now()
}

fn receive(c: &mut Criterion) {
    let packets = stream(1000);
    let t0 = base();
    c.bench_function("rx_stats_update", |b| {
        let mut stats = RtpReceiveStats::new(8000);
        let mut i = 0usize;
        b.iter(|| {
            let at = t0 + Duration::from_millis(20 * i as u64);
            let r = stats.on_packet(black_box(&packets[i % packets.len()]), at);
            i += 1;
            r.is_ok()
        })
    });
    c.bench_function("session_handle_rtp_before_voice", |b| {
        // Silence keeps the voice detector busy on every sample (the worst case).
        let silent = {
            let mut p = RtpPacketizer::with_state(0, 0xBEEF, 0, 0);
            let mut buf = [0u8; 1500];
            (0..1000)
                .map(|_| {
                    let len = p.packetize(&[0xFF; 160], &mut buf).unwrap_or(0);
                    buf[..len].to_vec()
                })
                .collect::<Vec<_>>()
        };
        let mut session =
            MediaSession::new(MediaConfig::new(Codec::Pcmu, AudioSource::silence()), t0);
        let mut i = 0usize;
        b.iter(|| {
            let at = t0 + Duration::from_millis(20 * i as u64);
            session.handle_rtp(black_box(&silent[i % silent.len()]), at);
            i += 1;
        })
    });
    c.bench_function("session_send_one_packet", |b| {
        let source = AudioSource::from_samples(frame().repeat(50));
        let mut session = MediaSession::new(
            MediaConfig {
                loop_source: true,
                ..MediaConfig::new(Codec::Pcma, source)
            },
            t0,
        );
        session.start_sending(t0);
        let mut i = 0u64;
        b.iter(|| {
            session.handle_timeout(t0 + Duration::from_millis(20 * i));
            i += 1;
            let mut n = 0;
            while let Some(t) = session.poll_transmit() {
                n += session.transmit_buf(&t).len();
            }
            n
        })
    });
}

criterion_group!(benches, g711, packetize, receive);
criterion_main!(benches);
