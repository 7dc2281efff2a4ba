//! The UDP relay behind `callcert impair`: an [`Impairment`] in front of any device.
//!
//! Datagrams from clients to the listen address are impaired (upstream configuration) and
//! forwarded to the target; the target's replies are impaired (downstream configuration) and
//! returned to the client they answer. Like a NAT mapping, each client address gets its own
//! upstream socket, so the RTP and RTCP of several calls (and their SIP) keep apart; mappings
//! are bounded (the least recently active one makes room) and expire when idle. Each
//! direction is one emulated link shared by every client, like a netem qdisc on an interface.
//!
//! # Driver
//!
//! Receiving runs on tokio (the CLI's runtime): one task for the listen socket, one per
//! mapping, woken by epoll, so a thousand mappings cost a thousand idle tasks, not threads.
//! On Linux every datagram carries the kernel's receive time stamp (`SO_TIMESTAMPNS`), so the
//! delay counts from when the datagram reached the socket, not from when a task ran.
//!
//! Delivering runs on one OS thread per direction that waits on a condition variable until
//! the next due time (a futex with a nanosecond timeout; on Linux the thread's timer slack is
//! lowered to 1 µs). tokio's timer wheel would not do: it rounds every deadline up to its
//! 1 ms tick, half a millisecond of bias on average. Each direction reports its *lateness*,
//! the send time minus the due time: the relay's own added delay (with kernel stamps it
//! includes the receive wake-up as well).

use super::impairment::{derive_seed, DelayStats, ImpairStats, Impairment, Spread};
use super::{ImpairConfig, ImpairError};
use crate::engine::pacer::enable_rx_timestamps;
#[cfg(target_os = "linux")]
use crate::engine::pacer::rx_stamp;
use serde::Serialize;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Largest datagram relayed (the UDP maximum).
const DATAGRAM: usize = 65_536;

/// Seed streams of the two directions.
const STREAM_UPSTREAM: u64 = 1;
const STREAM_DOWNSTREAM: u64 = 2;

/// Where and how to relay.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayConfig {
    /// Address clients send to.
    pub listen: SocketAddr,
    /// Where their datagrams go.
    pub forward: SocketAddr,
    /// Impairment from the clients to `forward`.
    pub upstream: ImpairConfig,
    /// Impairment of the replies from `forward` back to the clients.
    pub downstream: ImpairConfig,
    /// The run's seed; each direction draws from its own stream of it.
    pub seed: u64,
    /// Most client mappings held at once.
    pub max_mappings: usize,
    /// A mapping with no datagram either way for this long is closed.
    pub idle_timeout: Duration,
}

impl RelayConfig {
    /// A relay from `listen` to `forward` with no impairment, 1024 mappings idle after 60 s.
    pub fn new(listen: SocketAddr, forward: SocketAddr) -> Self {
        Self {
            listen,
            forward,
            upstream: ImpairConfig::none(),
            downstream: ImpairConfig::none(),
            seed: 0,
            max_mappings: 1024,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Why the relay did not start.
#[derive(Debug, Error)]
pub enum RelayError {
    /// The listen address cannot be bound.
    #[error("--listen {addr}: cannot bind: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The upstream impairment is invalid.
    #[error("upstream impairment: {0}")]
    Upstream(ImpairError),
    /// The downstream impairment is invalid.
    #[error("downstream impairment: {0}")]
    Downstream(ImpairError),
    /// No room for a single mapping.
    #[error("--max-mappings: must be at least 1")]
    NoMappings,
    /// A zero idle time would close every mapping at once.
    #[error("--idle: must be longer than 0")]
    NoIdle,
    /// The socket could not be set up for tokio, or a thread could not start.
    #[error("relay: {what}: {source}")]
    Setup {
        /// What failed.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
}

/// A datagram on its way out: the socket it leaves by and where it goes.
#[derive(Debug, Clone)]
struct Outbound {
    via: Arc<UdpSocket>,
    to: SocketAddr,
    data: Vec<u8>,
}

/// One direction: the impairment, shared by the receive tasks (push) and the delivery thread.
struct Link {
    state: Mutex<LinkState>,
    wake: Condvar,
}

struct LinkState {
    impairment: Impairment<Outbound>,
    stopped: bool,
    sent: u64,
    send_failed: u64,
    lateness: Spread,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[allow(clippy::disallowed_methods)] // the relay is a driver: it reads the clock
fn now() -> Instant {
    Instant::now()
}

impl Link {
    fn new(impairment: Impairment<Outbound>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(LinkState {
                impairment,
                stopped: false,
                sent: 0,
                send_failed: 0,
                lateness: Spread::default(),
            }),
            wake: Condvar::new(),
        })
    }

    /// Offers a datagram received at `at`; wakes the delivery thread if it is now due earlier.
    fn push(&self, packet: Outbound, at: Instant) {
        let mut s = lock(&self.state);
        if s.stopped {
            return;
        }
        let before = s.impairment.poll_timeout();
        s.impairment.push(packet, at);
        if s.impairment.poll_timeout() != before {
            self.wake.notify_one();
        }
    }

    fn stop(&self) {
        lock(&self.state).stopped = true;
        self.wake.notify_all();
    }

    fn stats(&self) -> DirectionStats {
        let s = lock(&self.state);
        DirectionStats {
            impairment: s.impairment.config().to_string(),
            seed: s.impairment.seed(),
            counts: s.impairment.stats(),
            sent: s.sent,
            send_failed: s.send_failed,
            lateness: s.lateness.summary(),
        }
    }

    /// The delivery thread: sends each datagram when due, until stopped.
    fn deliver(&self) {
        lower_timer_slack();
        let mut due: Vec<(Outbound, Instant)> = Vec::with_capacity(64);
        let mut done: Vec<Option<Duration>> = Vec::with_capacity(64);
        let mut s = lock(&self.state);
        loop {
            if s.stopped {
                return;
            }
            let t = now();
            while let Some(p) = s.impairment.poll_timed(t) {
                due.push(p);
            }
            if due.is_empty() {
                s = match s.impairment.poll_timeout() {
                    Some(next) => {
                        let wait = next.saturating_duration_since(t);
                        self.wake
                            .wait_timeout(s, wait)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                    None => self.wake.wait(s).unwrap_or_else(PoisonError::into_inner),
                };
                continue;
            }
            drop(s);
            for (p, at) in due.drain(..) {
                let ok = p.via.send_to(&p.data, p.to).is_ok();
                done.push(ok.then(|| now().saturating_duration_since(at)));
            }
            s = lock(&self.state);
            for d in done.drain(..) {
                match d {
                    Some(late) => {
                        s.sent += 1;
                        s.lateness.add(late);
                    }
                    None => s.send_failed += 1,
                }
            }
        }
    }
}

/// Lets the delivery thread's timed waits end within a microsecond of their deadline (the
/// default slack of 50 µs would be added to every delay).
fn lower_timer_slack() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_TIMERSLACK takes a plain integer and changes only this thread.
        let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DirectionStats {
    /// The impairment, in the compact form.
    pub impairment: String,
    /// The seed its impairment uses.
    pub seed: u64,
    /// What the impairment did.
    #[serde(flatten)]
    pub counts: ImpairStats,
    /// Datagrams the socket took.
    pub sent: u64,
    /// Datagrams the socket refused (full buffer, unreachable network).
    pub send_failed: u64,
    /// Send time minus due time: the relay's own delay on top of the impairment.
    pub lateness: DelayStats,
}

/// Client mappings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MappingStats {
    /// Mappings opened.
    pub created: u64,
    /// Closed after the idle time.
    pub expired: u64,
    /// Closed to make room for a new client.
    pub evicted: u64,
    /// Clients whose upstream socket could not be opened (their datagrams were dropped).
    pub failed: u64,
    /// Open now.
    pub active: u64,
}

/// Everything the relay counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelayStats {
    /// The run's seed.
    pub seed: u64,
    /// Clients to the forward target.
    pub upstream: DirectionStats,
    /// The forward target back to clients.
    pub downstream: DirectionStats,
    /// Client mappings.
    pub mappings: MappingStats,
}

impl RelayStats {
    /// The end-of-run summary, a few lines of text.
    pub fn summary(&self) -> String {
        let m = &self.mappings;
        let mut out = format!(
            "callcert impair: seed {}; {} client mapping(s) ({} expired, {} evicted, {} failed)\n",
            self.seed, m.created, m.expired, m.evicted, m.failed
        );
        for (name, d) in [
            ("upstream", &self.upstream),
            ("downstream", &self.downstream),
        ] {
            let c = &d.counts;
            out.push_str(&format!(
                "  {name:<10} [{}]: offered {}, dropped {} ({:.2} %), duplicated {}, \
                 reordered {}, delivered {}, queued {}\n",
                d.impairment,
                c.offered,
                c.dropped,
                c.loss_rate() * 100.0,
                c.duplicated,
                c.reordered,
                c.delivered,
                c.queued
            ));
            out.push_str(&format!(
                "  {:<10}  delay mean {:.3} ms, std {:.3} ms; relay lateness mean {:.3} ms, \
                 max {:.3} ms; {} send failure(s)\n",
                "",
                c.delay.mean_ms,
                c.delay.std_ms,
                d.lateness.mean_ms,
                d.lateness.max_ms,
                d.send_failed
            ));
        }
        out
    }
}

#[derive(Default)]
struct MappingCounters {
    created: AtomicU64,
    expired: AtomicU64,
    evicted: AtomicU64,
    failed: AtomicU64,
    active: AtomicU64,
}

/// A running relay.
pub struct Relay {
    local_addr: SocketAddr,
    seed: u64,
    upstream: Arc<Link>,
    downstream: Arc<Link>,
    mappings: Arc<MappingCounters>,
    listener: tokio::task::JoinHandle<()>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Binds the listen address and starts relaying (within a tokio runtime).
    pub async fn start(cfg: RelayConfig) -> Result<Relay, RelayError> {
        if cfg.max_mappings == 0 {
            return Err(RelayError::NoMappings);
        }
        if cfg.idle_timeout.is_zero() {
            return Err(RelayError::NoIdle);
        }
        let upstream = Impairment::new(cfg.upstream, derive_seed(cfg.seed, STREAM_UPSTREAM))
            .map_err(RelayError::Upstream)?;
        let downstream = Impairment::new(cfg.downstream, derive_seed(cfg.seed, STREAM_DOWNSTREAM))
            .map_err(RelayError::Downstream)?;
        let setup = |what| move |source| RelayError::Setup { what, source };
        let sock = UdpSocket::bind(cfg.listen).map_err(|source| RelayError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let local_addr = sock.local_addr().map_err(setup("local address"))?;
        sock.set_nonblocking(true)
            .map_err(setup("non-blocking socket"))?;
        enable_rx_timestamps(&sock);
        let send = Arc::new(sock.try_clone().map_err(setup("socket clone"))?);
        let recv = tokio::net::UdpSocket::from_std(sock).map_err(setup("tokio socket"))?;

        let upstream = Link::new(upstream);
        let downstream = Link::new(downstream);
        let mut threads = Vec::new();
        for (name, link) in [("impair-up", &upstream), ("impair-down", &downstream)] {
            let l = link.clone();
            let spawned = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || l.deliver());
            match spawned {
                Ok(t) => threads.push(t),
                Err(source) => {
                    upstream.stop();
                    downstream.stop();
                    return Err(RelayError::Setup {
                        what: "delivery thread",
                        source,
                    });
                }
            }
        }
        let mappings = Arc::new(MappingCounters::default());
        let listener = tokio::spawn(
            Listener {
                recv,
                send,
                forward: cfg.forward,
                upstream: upstream.clone(),
                downstream: downstream.clone(),
                counters: mappings.clone(),
                max_mappings: cfg.max_mappings,
                idle: cfg.idle_timeout,
                epoch: now(),
            }
            .run(),
        );
        Ok(Relay {
            local_addr,
            seed: cfg.seed,
            upstream,
            downstream,
            mappings,
            listener,
            threads,
        })
    }

    /// The bound listen address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Counters so far.
    pub fn stats(&self) -> RelayStats {
        collect(self.seed, &self.upstream, &self.downstream, &self.mappings)
    }

    /// Stops receiving and delivering (datagrams still held are counted `queued`) and returns
    /// the final counters.
    pub async fn stop(self) -> RelayStats {
        let Relay {
            seed,
            upstream,
            downstream,
            mappings,
            listener,
            threads,
            ..
        } = self;
        // Aborting the listener drops its mappings, whose tasks it aborts in turn.
        listener.abort();
        let _ = listener.await;
        upstream.stop();
        downstream.stop();
        for t in threads {
            let _ = t.join();
        }
        let mut stats = collect(seed, &upstream, &downstream, &mappings);
        stats.mappings.active = 0; // the listener's end closed them all
        stats
    }
}

fn collect(seed: u64, upstream: &Link, downstream: &Link, m: &MappingCounters) -> RelayStats {
    RelayStats {
        seed,
        upstream: upstream.stats(),
        downstream: downstream.stats(),
        mappings: MappingStats {
            created: m.created.load(Ordering::Relaxed),
            expired: m.expired.load(Ordering::Relaxed),
            evicted: m.evicted.load(Ordering::Relaxed),
            failed: m.failed.load(Ordering::Relaxed),
            active: m.active.load(Ordering::Relaxed),
        },
    }
}

/// A client's upstream socket.
struct Mapping {
    send: Arc<UdpSocket>,
    /// Nanoseconds since the listener's epoch of the last datagram either way.
    active: Arc<AtomicU64>,
    task: tokio::task::AbortHandle,
}

/// The listen socket's task: owns the mappings and their receive tasks.
struct Listener {
    recv: tokio::net::UdpSocket,
    send: Arc<UdpSocket>,
    forward: SocketAddr,
    upstream: Arc<Link>,
    downstream: Arc<Link>,
    counters: Arc<MappingCounters>,
    max_mappings: usize,
    idle: Duration,
    epoch: Instant,
}

impl Listener {
    async fn run(self) {
        let mut mappings: HashMap<SocketAddr, Mapping> = HashMap::new();
        // Dropping the set (when this task is aborted) aborts every mapping's task.
        let mut tasks = tokio::task::JoinSet::new();
        let mut buf = vec![0u8; DATAGRAM];
        let mut sweep = tokio::time::interval(
            (self.idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)),
        );
        loop {
            tokio::select! {
                r = recv_stamped(&self.recv, &mut buf) => {
                    let (n, from, at) = match r {
                        Ok(r) => r,
                        Err(e) => {
                            receive_error("listen socket", &e).await;
                            continue;
                        }
                    };
                    let via = match mappings.get(&from) {
                        Some(m) => {
                            m.active.store(self.since_epoch(at), Ordering::Relaxed);
                            m.send.clone()
                        }
                        None => match self.open(from, at, &mut mappings, &mut tasks) {
                            Ok(s) => s,
                            Err(e) => {
                                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!("impair: no upstream socket for {from}: {e}");
                                continue;
                            }
                        },
                    };
                    let packet = Outbound { via, to: self.forward, data: buf[..n].to_vec() };
                    self.upstream.push(packet, at);
                }
                _ = sweep.tick() => self.expire(&mut mappings),
                Some(_) = tasks.join_next() => {}
            }
        }
    }

    fn since_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Opens a mapping for `client`, making room first if the table is full.
    fn open(
        &self,
        client: SocketAddr,
        at: Instant,
        mappings: &mut HashMap<SocketAddr, Mapping>,
        tasks: &mut tokio::task::JoinSet<()>,
    ) -> io::Result<Arc<UdpSocket>> {
        if mappings.len() >= self.max_mappings {
            self.expire(mappings);
        }
        if mappings.len() >= self.max_mappings {
            let oldest = mappings
                .iter()
                .min_by_key(|(_, m)| m.active.load(Ordering::Relaxed))
                .map(|(a, _)| *a);
            if let Some(m) = oldest.and_then(|a| mappings.remove(&a)) {
                m.task.abort();
                self.counters.evicted.fetch_add(1, Ordering::Relaxed);
                self.counters.active.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let any: IpAddr = if self.forward.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let sock = UdpSocket::bind(SocketAddr::new(any, 0))?;
        // Connected: the kernel passes up only what the forward target sends.
        sock.connect(self.forward)?;
        sock.set_nonblocking(true)?;
        enable_rx_timestamps(&sock);
        let send = Arc::new(sock.try_clone()?);
        let recv = tokio::net::UdpSocket::from_std(sock)?;
        let active = Arc::new(AtomicU64::new(self.since_epoch(at)));
        let task = tasks.spawn(
            Replies {
                recv,
                client,
                via: self.send.clone(),
                downstream: self.downstream.clone(),
                active: active.clone(),
                epoch: self.epoch,
            }
            .run(),
        );
        mappings.insert(
            client,
            Mapping {
                send: send.clone(),
                active,
                task,
            },
        );
        self.counters.created.fetch_add(1, Ordering::Relaxed);
        self.counters.active.fetch_add(1, Ordering::Relaxed);
        Ok(send)
    }

    /// Closes the mappings idle for longer than the idle time.
    fn expire(&self, mappings: &mut HashMap<SocketAddr, Mapping>) {
        let now = self.since_epoch(now());
        let idle = self.idle.as_nanos() as u64;
        mappings.retain(|_, m| {
            let keep = now.saturating_sub(m.active.load(Ordering::Relaxed)) < idle;
            if !keep {
                m.task.abort();
                self.counters.expired.fetch_add(1, Ordering::Relaxed);
                self.counters.active.fetch_sub(1, Ordering::Relaxed);
            }
            keep
        });
    }
}

/// A mapping's task: the forward target's replies, back to the client.
struct Replies {
    recv: tokio::net::UdpSocket,
    client: SocketAddr,
    via: Arc<UdpSocket>,
    downstream: Arc<Link>,
    active: Arc<AtomicU64>,
    epoch: Instant,
}

impl Replies {
    async fn run(self) {
        let mut buf = vec![0u8; DATAGRAM];
        loop {
            let (n, _, at) = match recv_stamped(&self.recv, &mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    receive_error("upstream socket", &e).await;
                    continue;
                }
            };
            self.active.store(
                at.saturating_duration_since(self.epoch).as_nanos() as u64,
                Ordering::Relaxed,
            );
            let packet = Outbound {
                via: self.via.clone(),
                to: self.client,
                data: buf[..n].to_vec(),
            };
            self.downstream.push(packet, at);
        }
    }
}

/// A receive error: an ICMP "port unreachable" from an earlier send (the target or a client
/// not listening yet) is normal for UDP and skipped; anything else is logged and slows the
/// loop down so that a broken socket cannot spin.
async fn receive_error(what: &str, e: &io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {}
        _ => {
            tracing::warn!("impair: {what}: {e}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Receives one datagram: its length, source and arrival time (the kernel's on Linux).
#[cfg(target_os = "linux")]
async fn recv_stamped(
    sock: &tokio::net::UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Instant)> {
    use std::os::fd::AsRawFd;
    loop {
        sock.readable().await?;
        let fd = sock.as_raw_fd();
        match sock.try_io(tokio::io::Interest::READABLE, || recvmsg_stamped(fd, buf)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

/// One `recvmsg` with the `SCM_TIMESTAMPNS` control message.
#[cfg(target_os = "linux")]
fn recvmsg_stamped(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Instant)> {
    // Room for one cmsghdr and a timespec, aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: `try_init` hands us zeroed address storage and its length; recvmsg writes at
    // most that many bytes there and the received length back. The iovec and control
    // buffers are live locals of the lengths given.
    let ((n, stamp), from) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut h: libc::msghdr = std::mem::zeroed();
            h.msg_name = storage.cast();
            h.msg_namelen = *len;
            h.msg_iov = &mut iov;
            h.msg_iovlen = 1;
            h.msg_control = control.as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of_val(&control) as _;
            let n = libc::recvmsg(fd, &mut h, libc::MSG_DONTWAIT);
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            *len = h.msg_namelen;
            Ok((n as usize, rx_stamp(&h)))
        })?
    };
    let from = from
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP source address"))?;
    Ok((n, from, stamp_instant(stamp)))
}

/// The monotonic instant of a wall-clock stamp taken a moment ago (now without one).
#[cfg(target_os = "linux")]
#[allow(clippy::disallowed_methods)] // the relay is a driver: it reads the clocks
fn stamp_instant(stamp: Option<Duration>) -> Instant {
    let mono = Instant::now();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // A stamp "in the future" or from long ago means the wall clock was stepped since the
    // datagram arrived: read it as arriving now, which can only lengthen its delay.
    stamp
        .and_then(|s| wall.checked_sub(s))
        .filter(|ago| *ago < STAMP_PLAUSIBLE)
        .and_then(|ago| mono.checked_sub(ago))
        .unwrap_or(mono)
}

/// The oldest a receive stamp can plausibly be when read.
#[cfg(target_os = "linux")]
const STAMP_PLAUSIBLE: Duration = Duration::from_secs(1);

/// Receives one datagram, timed when read (no kernel stamps on this platform).
#[cfg(not(target_os = "linux"))]
async fn recv_stamped(
    sock: &tokio::net::UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Instant)> {
    let (n, from) = sock.recv_from(buf).await?;
    Ok((n, from, now()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)] // a test bounds its waits with the real clock
    use super::*;

    async fn echo_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = s.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                let _ = s.send_to(&buf[..n], from).await;
            }
        });
        (addr, task)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn relays_both_ways_per_client() {
        let (echo, server) = echo_server().await;
        let mut cfg = RelayConfig::new("127.0.0.1:0".parse().unwrap(), echo);
        cfg.upstream = "delay=5ms".parse().unwrap();
        cfg.downstream = "delay=3ms".parse().unwrap();
        cfg.seed = 5;
        let relay = Relay::start(cfg).await.unwrap();
        let to = relay.local_addr();
        let a = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0u8; 64];
        for i in 0..20u8 {
            a.send_to(&[b'a', i], to).await.unwrap();
            b.send_to(&[b'b', i], to).await.unwrap();
            for (s, tag) in [(&a, b'a'), (&b, b'b')] {
                let (n, from) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf))
                    .await
                    .expect("a reply within 2 s")
                    .unwrap();
                assert_eq!(&buf[..n], &[tag, i]);
                assert_eq!(from, to);
            }
        }
        let stats = relay.stop().await;
        server.abort();
        assert_eq!(stats.seed, 5);
        assert_eq!(stats.mappings.created, 2);
        assert_eq!(stats.upstream.counts.delivered, 40);
        assert_eq!(stats.upstream.sent, 40);
        assert_eq!(stats.downstream.sent, 40);
        assert_eq!(stats.upstream.counts.delay.mean_ms, 5.0);
        assert_eq!(stats.downstream.impairment, "delay=3ms");
        assert!(stats.upstream.lateness.samples == 40);
    }

    #[tokio::test]
    async fn bad_configuration_is_refused() {
        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        let cfg = RelayConfig::new(taken.local_addr().unwrap(), taken.local_addr().unwrap());
        let e = Relay::start(cfg.clone()).await.err().unwrap();
        assert!(e.to_string().starts_with("--listen 127.0.0.1:"), "{e}");
        let mut c = RelayConfig::new("127.0.0.1:0".parse().unwrap(), cfg.forward);
        c.downstream.duplicate = 3.0;
        let e = Relay::start(c).await.err().unwrap();
        assert!(
            e.to_string()
                .starts_with("downstream impairment: duplicate:"),
            "{e}"
        );
        let mut c = RelayConfig::new("127.0.0.1:0".parse().unwrap(), cfg.forward);
        c.max_mappings = 0;
        assert!(matches!(Relay::start(c).await, Err(RelayError::NoMappings)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mappings_are_bounded_and_expire() {
        let (echo, server) = echo_server().await;
        let mut cfg = RelayConfig::new("127.0.0.1:0".parse().unwrap(), echo);
        cfg.max_mappings = 2;
        cfg.idle_timeout = Duration::from_millis(200);
        let relay = Relay::start(cfg).await.unwrap();
        let to = relay.local_addr();
        let mut clients = Vec::new();
        let mut buf = [0u8; 16];
        for i in 0..3u8 {
            let c = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            c.send_to(&[i], to).await.unwrap();
            tokio::time::timeout(Duration::from_secs(2), c.recv_from(&mut buf))
                .await
                .expect("reply")
                .unwrap();
            clients.push(c);
        }
        let s = relay.stats();
        assert_eq!(
            (s.mappings.created, s.mappings.evicted, s.mappings.active),
            (3, 1, 2)
        );
        // Idle past the timeout: the sweep closes both.
        let start = tokio::time::Instant::now();
        while relay.stats().mappings.active > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{:?}",
                relay.stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(relay.stats().mappings.expired, 2);
        relay.stop().await;
        server.abort();
    }
}
