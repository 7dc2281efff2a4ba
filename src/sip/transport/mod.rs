//! SIP transports (RFC 3261 §18): the tokio driver that owns the sockets.
//!
//! Every received message is timestamped the moment the datagram or stream read returns, and
//! every send reports the time it left the socket (DESIGN.md: timestamps are taken where the
//! packet is). Responses and in-dialog requests go back to the address the peer used — symmetric
//! signalling as with `rport` (RFC 3581) — so both ends work behind a single socket.
//! TLS would be a third [`SipSocket`] variant over the same stream framing.

pub mod framing;

use crate::sip::dialog::TransportKind;
use bytes::Bytes;
use framing::StreamFramer;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{tcp::OwnedWriteHalf, TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Errors of the transport layer.
#[derive(Debug, Error)]
pub enum TransportError {
    /// Binding the local socket failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Sending to the peer failed (unreachable, refused, reset).
    #[error("cannot send to {addr}: {source}")]
    Send {
        /// The destination.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}

/// A message as it arrived: bytes, sender and arrival time.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The raw message.
    pub data: Bytes,
    /// Who sent it (the flow's remote address).
    pub from: SocketAddr,
    /// When the read returned.
    pub at: Instant,
}

/// Something the transport reports besides messages: a stream that broke.
#[derive(Debug, Clone)]
pub enum TransportNotice {
    /// A message arrived.
    Message(Inbound),
    /// A stream to this peer closed or could not be framed; calls on it have lost signalling.
    FlowClosed {
        /// The peer.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
}

type Writers = Arc<Mutex<HashMap<SocketAddr, Arc<tokio::sync::Mutex<OwnedWriteHalf>>>>>;

/// A bound SIP socket: UDP, or TCP with connection reuse per peer.
#[derive(Clone, Debug)]
pub enum SipSocket {
    /// One UDP socket for every call.
    Udp(Arc<UdpSocket>),
    /// TCP connections by peer address; new ones are dialled on first send.
    Tcp {
        /// Local listening address (or the address of the first connection for a client).
        local: SocketAddr,
        /// Open connections.
        writers: Writers,
        /// Where readers deliver messages.
        inbound: mpsc::Sender<TransportNotice>,
        /// Connections opened so far (accepted or dialled).
        opened: Arc<std::sync::atomic::AtomicU64>,
        /// Held while dialling a new connection.
        dial_lock: Arc<tokio::sync::Mutex<()>>,
    },
}

/// #[allow] justification: the transport is the driver; it reads the clock where packets are.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

impl SipSocket {
    /// Binds a socket and starts its receive loop; messages arrive on the returned channel.
    pub async fn bind(
        kind: TransportKind,
        addr: SocketAddr,
        listen: bool,
    ) -> Result<(SipSocket, mpsc::Receiver<TransportNotice>), TransportError> {
        let (tx, rx) = mpsc::channel(16 * 1024);
        match kind {
            TransportKind::Udp => {
                let sock = crate::sip::transport::bind_udp(addr)
                    .map_err(|source| TransportError::Bind { addr, source })?;
                let sock = Arc::new(sock);
                tokio::spawn(udp_recv_loop(sock.clone(), tx));
                Ok((SipSocket::Udp(sock), rx))
            }
            TransportKind::Tcp => {
                let writers: Writers = Arc::default();
                let opened = Arc::new(std::sync::atomic::AtomicU64::new(0));
                let local = if listen {
                    let l = TcpListener::bind(addr)
                        .await
                        .map_err(|source| TransportError::Bind { addr, source })?;
                    let local = l
                        .local_addr()
                        .map_err(|source| TransportError::Bind { addr, source })?;
                    tokio::spawn(tcp_accept_loop(
                        l,
                        writers.clone(),
                        tx.clone(),
                        opened.clone(),
                    ));
                    local
                } else {
                    addr
                };
                Ok((
                    SipSocket::Tcp {
                        local,
                        writers,
                        inbound: tx,
                        opened,
                        dial_lock: Arc::default(),
                    },
                    rx,
                ))
            }
        }
    }

    /// The local address (for Via and Contact).
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            SipSocket::Udp(s) => s
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            SipSocket::Tcp { local, .. } => *local,
        }
    }

    /// Stream connections opened so far (0 for UDP).
    pub fn connections_opened(&self) -> u64 {
        match self {
            SipSocket::Udp(_) => 0,
            SipSocket::Tcp { opened, .. } => opened.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The transport kind.
    pub fn kind(&self) -> TransportKind {
        match self {
            SipSocket::Udp(_) => TransportKind::Udp,
            SipSocket::Tcp { .. } => TransportKind::Tcp,
        }
    }

    /// Sends one message; returns when it left the socket: the midpoint of the clock read just
    /// before and just after the send call, which brackets the moment the kernel took it.
    pub async fn send(&self, data: &[u8], to: SocketAddr) -> Result<Instant, TransportError> {
        match self {
            SipSocket::Udp(s) => {
                let before = now();
                // try_send_to avoids the async machinery on the (usual) ready path.
                match s.try_send_to(data, to) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        s.send_to(data, to)
                            .await
                            .map_err(|source| TransportError::Send { addr: to, source })?;
                    }
                    Err(source) => return Err(TransportError::Send { addr: to, source }),
                }
                let after = now();
                Ok(before + after.saturating_duration_since(before) / 2)
            }
            SipSocket::Tcp {
                writers,
                inbound,
                opened,
                dial_lock,
                ..
            } => {
                let existing = writers.lock().ok().and_then(|w| w.get(&to).cloned());
                // Serialize dialling so that calls starting together share one connection.
                let _dialling = match existing {
                    Some(_) => None,
                    None => Some(dial_lock.lock().await),
                };
                let existing =
                    existing.or_else(|| writers.lock().ok().and_then(|w| w.get(&to).cloned()));
                let w = match existing {
                    Some(w) => w,
                    None => {
                        let stream = TcpStream::connect(to)
                            .await
                            .map_err(|source| TransportError::Send { addr: to, source })?;
                        let _ = stream.set_nodelay(true);
                        opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        register_stream(stream, to, writers.clone(), inbound.clone())
                    }
                };
                let mut guard = w.lock().await;
                guard
                    .write_all(data)
                    .await
                    .map_err(|source| TransportError::Send { addr: to, source })?;
                Ok(now())
            }
        }
    }
}

/// Binds a UDP socket with a large receive buffer (bursts of thousands of calls per second).
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    UdpSocket::from_std(bind_udp_std(addr)?)
}

/// [`bind_udp`] without the event loop: a bound, non-blocking std socket.
pub fn bind_udp_std(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let domain = if addr.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(8 * 1024 * 1024);
    let _ = s.set_send_buffer_size(8 * 1024 * 1024);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

async fn udp_recv_loop(sock: Arc<UdpSocket>, tx: mpsc::Sender<TransportNotice>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let at = now();
                let msg = Inbound {
                    data: Bytes::copy_from_slice(&buf[..n]),
                    from,
                    at,
                };
                if tx.send(TransportNotice::Message(msg)).await.is_err() {
                    return;
                }
            }
            // ICMP port unreachable surfaces as ECONNREFUSED on Linux; keep receiving.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => continue,
            Err(_) => {
                if tx.is_closed() {
                    return;
                }
            }
        }
    }
}

async fn tcp_accept_loop(
    l: TcpListener,
    writers: Writers,
    tx: mpsc::Sender<TransportNotice>,
    opened: Arc<std::sync::atomic::AtomicU64>,
) {
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                register_stream(stream, peer, writers.clone(), tx.clone());
            }
            Err(_) => {
                if tx.is_closed() {
                    return;
                }
            }
        }
    }
}

fn register_stream(
    stream: TcpStream,
    peer: SocketAddr,
    writers: Writers,
    tx: mpsc::Sender<TransportNotice>,
) -> Arc<tokio::sync::Mutex<OwnedWriteHalf>> {
    let (mut rd, wr) = stream.into_split();
    let wr = Arc::new(tokio::sync::Mutex::new(wr));
    if let Ok(mut w) = writers.lock() {
        w.insert(peer, wr.clone());
    }
    tokio::spawn(async move {
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; 16 * 1024];
        let reason = loop {
            match rd.read(&mut buf).await {
                Ok(0) => break "closed by peer".to_string(),
                Ok(n) => {
                    let at = now();
                    framer.push(&buf[..n]);
                    loop {
                        match framer.next_message() {
                            Ok(Some(data)) => {
                                let m = TransportNotice::Message(Inbound {
                                    data,
                                    from: peer,
                                    at,
                                });
                                if tx.send(m).await.is_err() {
                                    return;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                let _ = tx
                                    .send(TransportNotice::FlowClosed {
                                        peer,
                                        reason: e.to_string(),
                                    })
                                    .await;
                                if let Ok(mut w) = writers.lock() {
                                    w.remove(&peer);
                                }
                                return;
                            }
                        }
                    }
                }
                Err(e) => break e.to_string(),
            }
        };
        if let Ok(mut w) = writers.lock() {
            w.remove(&peer);
        }
        let _ = tx.send(TransportNotice::FlowClosed { peer, reason }).await;
    });
    wr
}

/// The local address the OS would use to reach `target` (for Via/Contact when bound to any).
pub fn route_source(target: SocketAddr) -> Option<std::net::IpAddr> {
    let any: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse().ok()?
    } else {
        "0.0.0.0:0".parse().ok()?
    };
    let s = std::net::UdpSocket::bind(any).ok()?;
    s.connect(target).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}
