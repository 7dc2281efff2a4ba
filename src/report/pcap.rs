//! Packet captures of calls (SIP and RTP/RTCP), readable by Wireshark and tshark.
//!
//! The harness records what each call sent and received, as it was on the socket and with the
//! wire timestamps the measurements use, and writes the calls that failed (or all calls, on
//! request) into one pcap file. Ethernet/IP/UDP (or TCP) headers are synthesized around the
//! payloads, since the sockets only see payloads.

use crate::sip::dialog::TransportKind;
use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapPacket, PcapWriter};
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Which calls to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureMode {
    /// No capture.
    Off,
    /// Calls that failed (the default).
    #[default]
    Failed,
    /// Every call.
    All,
}

/// Most bytes kept per call; later packets are counted but not kept (a long call's media).
pub const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;

/// Errors writing a capture.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The file could not be created or written.
    #[error("cannot write capture {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The protocol a captured payload travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// UDP datagram (SIP over UDP, RTP, RTCP).
    Udp,
    /// A segment of a SIP-over-TCP stream.
    Tcp,
}

impl From<TransportKind> for Carrier {
    fn from(k: TransportKind) -> Self {
        match k {
            TransportKind::Udp => Carrier::Udp,
            TransportKind::Tcp => Carrier::Tcp,
        }
    }
}

#[derive(Debug, Clone)]
struct Captured {
    at: Duration,
    src: SocketAddr,
    dst: SocketAddr,
    carrier: Carrier,
    data: Vec<u8>,
}

/// Media packets (RTP/RTCP) kept from the start of a call, both directions together.
pub const MEDIA_HEAD_PACKETS: usize = 250;
/// Media packets kept from the end of a call (a ring of the latest), both directions together:
/// with G.711 at 20 ms, the last 5 seconds of each direction.
pub const MEDIA_TAIL_PACKETS: usize = 500;

/// The packets of one call, in the order the driver saw them: every SIP message (up to
/// [`MAX_BYTES_PER_CALL`]), and of the media its first [`MEDIA_HEAD_PACKETS`] and its last
/// [`MEDIA_TAIL_PACKETS`] (the call's set-up and how it ended; a long call's middle is
/// counted, not kept). The ring reuses its buffers, so a call's capture stops allocating once
/// full: every packet of every call passes through here, and only failed calls are written.
#[derive(Debug, Clone, Default)]
pub struct CallCapture {
    packets: Vec<Captured>,
    bytes: usize,
    dropped: u64,
    media_seen: u64,
    tail: Vec<Captured>,
    /// Where the next tail packet goes once the ring is full.
    tail_next: usize,
}

impl CallCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a signalling payload; `at` is the time since the run's origin.
    pub fn push(
        &mut self,
        at: Duration,
        carrier: Carrier,
        src: SocketAddr,
        dst: SocketAddr,
        data: &[u8],
    ) {
        if self.bytes + data.len() > MAX_BYTES_PER_CALL {
            self.dropped += 1;
            return;
        }
        self.bytes += data.len();
        self.packets.push(Captured {
            at,
            src,
            dst,
            carrier,
            data: data.to_vec(),
        });
    }

    /// Records an RTP or RTCP datagram: kept while among the call's first media packets, else
    /// in the ring of the latest.
    pub fn push_media(&mut self, at: Duration, src: SocketAddr, dst: SocketAddr, data: &[u8]) {
        self.media_seen += 1;
        if self.media_seen <= MEDIA_HEAD_PACKETS as u64 {
            self.push(at, Carrier::Udp, src, dst, data);
            return;
        }
        if self.tail.len() < MEDIA_TAIL_PACKETS {
            self.tail.push(Captured {
                at,
                src,
                dst,
                carrier: Carrier::Udp,
                data: data.to_vec(),
            });
            return;
        }
        let slot = &mut self.tail[self.tail_next];
        self.tail_next = (self.tail_next + 1) % MEDIA_TAIL_PACKETS;
        slot.at = at;
        slot.src = src;
        slot.dst = dst;
        slot.data.clear();
        slot.data.extend_from_slice(data);
        self.dropped += 1;
    }

    /// Packets kept.
    pub fn len(&self) -> usize {
        self.packets.len() + self.tail.len()
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Packets seen but not kept: SIP beyond [`MAX_BYTES_PER_CALL`], media between the head
    /// and the tail.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Every kept packet in time order.
    fn in_order(&self) -> Vec<&Captured> {
        let (newer, older) = self.tail.split_at(self.tail_next);
        let mut all: Vec<&Captured> = self.packets.iter().chain(older).chain(newer).collect();
        // Stable: packets stamped alike keep the order the driver saw them in.
        all.sort_by_key(|p| p.at);
        all
    }
}

/// A pcap file that calls are appended to.
pub struct PcapSink {
    path: PathBuf,
    writer: PcapWriter<BufWriter<std::fs::File>>,
    /// Unix time of the run's origin: packet times are origin + offset.
    origin_unix: Duration,
    /// TCP sequence numbers per direction, so Wireshark can reassemble SIP over TCP.
    tcp_seq: std::collections::HashMap<(SocketAddr, SocketAddr), u32>,
    calls: u64,
}

fn mac(addr: &SocketAddr) -> [u8; 6] {
    // A stable, locally administered MAC per IP so endpoints are told apart in Wireshark.
    let o = match addr.ip() {
        std::net::IpAddr::V4(v) => v.octets().to_vec(),
        std::net::IpAddr::V6(v) => v.octets()[12..].to_vec(),
    };
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

impl PcapSink {
    /// Creates the file.
    pub fn create(path: &Path, origin_unix: Duration) -> Result<Self, CaptureError> {
        let err = |reason: String| CaptureError::Write {
            path: path.to_path_buf(),
            reason,
        };
        let f = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
        let writer = PcapWriter::new(BufWriter::new(f)).map_err(|e| err(e.to_string()))?;
        Ok(PcapSink {
            path: path.to_path_buf(),
            writer,
            origin_unix,
            tcp_seq: Default::default(),
            calls: 0,
        })
    }

    /// Calls written so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Appends every packet of a call.
    pub fn write_call(&mut self, cap: &CallCapture) -> Result<(), CaptureError> {
        self.calls += 1;
        for p in cap.in_order() {
            let frame = self.frame(p);
            let ts = self.origin_unix + p.at;
            let packet = PcapPacket::new(ts, frame.len() as u32, &frame);
            self.writer
                .write_packet(&packet)
                .map_err(|e| CaptureError::Write {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    fn frame(&mut self, p: &Captured) -> Vec<u8> {
        let eth = PacketBuilder::ethernet2(mac(&p.src), mac(&p.dst));
        let ip = match (p.src, p.dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                eth.ipv4(s.ip().octets(), d.ip().octets(), 64)
            }
            (s, d) => {
                let v6 = |a: SocketAddr| match a {
                    SocketAddr::V6(a) => a.ip().octets(),
                    SocketAddr::V4(a) => a.ip().to_ipv6_mapped().octets(),
                };
                eth.ipv6(v6(s), v6(d), 64)
            }
        };
        let mut out = Vec::new();
        let result = match p.carrier {
            Carrier::Udp => {
                let b = ip.udp(p.src.port(), p.dst.port());
                out.reserve(b.size(p.data.len()));
                b.write(&mut out, &p.data)
            }
            Carrier::Tcp => {
                let seq = self.tcp_seq.entry((p.src, p.dst)).or_insert(1);
                let b = ip.tcp(p.src.port(), p.dst.port(), *seq, 65535).psh().ack(1);
                *seq = seq.wrapping_add(p.data.len() as u32);
                out.reserve(b.size(p.data.len()));
                b.write(&mut out, &p.data)
            }
        };
        if result.is_err() {
            // Payload too large for one IP packet (cannot happen for SIP/RTP we send); keep
            // the capture going without this packet.
            out.clear();
        }
        out
    }

    /// Flushes the file.
    pub fn finish(self) -> Result<PathBuf, CaptureError> {
        use std::io::Write;
        let path = self.path.clone();
        self.writer
            .into_writer()
            .flush()
            .map_err(|e| CaptureError::Write {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;

    #[test]
    fn writes_readable_udp_and_tcp_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        let mut sink = PcapSink::create(&path, Duration::from_secs(1_800_000_000)).unwrap();
        let a: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let b: SocketAddr = "[::1]:5080".parse().unwrap();
        let mut cap = CallCapture::new();
        cap.push(
            Duration::from_millis(1),
            Carrier::Udp,
            a,
            a,
            b"INVITE sip:x SIP/2.0\r\n\r\n",
        );
        cap.push(
            Duration::from_millis(2),
            Carrier::Tcp,
            b,
            b,
            b"SIP/2.0 200 OK\r\n\r\n",
        );
        sink.write_call(&cap).unwrap();
        sink.finish().unwrap();
        let mut r = PcapReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let first = r.next_packet().unwrap().unwrap().into_owned();
        assert_eq!(first.timestamp, Duration::from_millis(1_800_000_000_001));
        let parsed = etherparse::SlicedPacket::from_ethernet(&first.data).unwrap();
        assert!(matches!(
            parsed.transport,
            Some(etherparse::TransportSlice::Udp(_))
        ));
        let second = r.next_packet().unwrap().unwrap().into_owned();
        let parsed = etherparse::SlicedPacket::from_ethernet(&second.data).unwrap();
        assert!(matches!(
            parsed.transport,
            Some(etherparse::TransportSlice::Tcp(_))
        ));
        assert!(r.next_packet().is_none());
    }

    #[test]
    fn a_call_is_bounded_in_memory() {
        let mut cap = CallCapture::new();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let chunk = vec![0u8; 1200];
        for _ in 0..(MAX_BYTES_PER_CALL / 1200 + 10) {
            cap.push(Duration::ZERO, Carrier::Udp, a, a, &chunk);
        }
        assert!(cap.dropped() >= 10);
        assert!(cap.len() * 1200 <= MAX_BYTES_PER_CALL);
    }

    #[test]
    fn media_keeps_the_head_and_the_tail_in_order() {
        let mut cap = CallCapture::new();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        cap.push(Duration::ZERO, Carrier::Udp, a, a, b"INVITE");
        let n = MEDIA_HEAD_PACKETS + MEDIA_TAIL_PACKETS + 777;
        for i in 0..n {
            let at = Duration::from_millis(10 + i as u64);
            cap.push_media(at, a, a, &(i as u32).to_be_bytes());
        }
        cap.push(Duration::from_secs(3600), Carrier::Udp, a, a, b"BYE");
        assert_eq!(cap.len(), 2 + MEDIA_HEAD_PACKETS + MEDIA_TAIL_PACKETS);
        assert_eq!(cap.dropped(), 777);
        let kept: Vec<&[u8]> = cap.in_order().iter().map(|p| &p.data[..]).collect();
        assert_eq!(kept[0], b"INVITE");
        assert_eq!(*kept.last().unwrap(), b"BYE");
        let media: Vec<u32> = kept[1..kept.len() - 1]
            .iter()
            .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
            .collect();
        let head = 0..MEDIA_HEAD_PACKETS as u32;
        let tail = (n - MEDIA_TAIL_PACKETS) as u32..n as u32;
        let want: Vec<u32> = head.chain(tail).collect();
        assert_eq!(media, want);
    }
}
