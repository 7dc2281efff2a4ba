//! The media pacer: one OS thread that sends and receives the RTP of every call whose media
//! needs no reaction from its call's task (a call without IVR steps; the reference call
//! center's calls without an IVR).
//!
//! Driven from each call's task, every RTP packet and every 20 ms send tick woke the task (an
//! epoll event, a task poll that re-polls the call's SIP inbox, its end watch, RTP, RTCP and
//! timer futures, a receive and the receive that finds the socket empty): at 2000 calls that
//! was most of a core on each side beyond the kernel's own send and receive. Here the calls'
//! sockets are never registered with epoll. The pacer keeps each call's next due time in one
//! heap and serves every call that is due in one pass: it reads what arrived since its last
//! visit with one `recvmmsg` (arrival times from the kernel's receive timestamps,
//! `SO_TIMESTAMPNS`, so reading late never moves a measured time), advances the session, and
//! sends what is due. A call is visited at least every [`MAX_IDLE`], sending or not.
//!
//! With few calls each is served at its deadline (a futex wait with a nanosecond timeout,
//! typically within 0.1 ms). Above [`COALESCE_ABOVE`] calls, wake-ups are batched: a pass may
//! start up to [`COALESCE`] after the first due call, which is the scheduling granularity of
//! a 20 ms packet clock under load, never of a measurement (receive times are the kernel's).

use crate::media::{MediaSession, MediaTransmit, RtpChannel};
use crate::report::pcap::CallCapture;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Longest a paced call goes without its sockets being read.
pub const MAX_IDLE: Duration = Duration::from_millis(20);

/// The RTP socket is read at every this many visits (every 80 ms while sending: about four
/// packets per `recvmmsg`, a quarter of the receive calls). Arrival times are the kernel's, so
/// reading later moves no measured time; what a plain call reacts to in its media (nothing
/// but the statistics) can wait that long, and the call's end reads what is left.
const RTP_EVERY: u32 = 4;

/// The RTCP socket is read at every this many visits (about every 160 ms while sending); its
/// reports carry kernel arrival times, so the round-trip time does not depend on it either.
const RTCP_EVERY: u32 = 8;

/// Calls above which a pass may start up to [`COALESCE`] late to serve more calls at once.
pub const COALESCE_ABOVE: usize = 256;

/// How late a batched pass may start.
pub const COALESCE: Duration = Duration::from_micros(250);

/// Datagrams read per `recvmmsg` call.
const BATCH: usize = 8;

/// Largest datagram read whole (larger ones arrive truncated and are counted malformed).
const DATAGRAM: usize = 2048;

#[allow(clippy::disallowed_methods)] // the pacer is a driver: it reads the clock
fn now() -> Instant {
    Instant::now()
}

/// Locks a mutex, recovering from a panicked holder (the session's counters stay usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Locks a call's shared media.
pub fn lock_media(m: &SharedMedia) -> MutexGuard<'_, MediaCore> {
    lock(m)
}

/// A call's media as its task and the pacer share it: the session, where to send, and (once
/// paced) the sockets.
#[derive(Debug)]
pub struct MediaCore {
    /// The sans-IO RTP/RTCP endpoint.
    pub session: MediaSession,
    /// Where RTP goes (`None`: on hold or not known yet).
    pub remote_rtp: Option<SocketAddr>,
    /// Where RTCP goes.
    pub remote_rtcp: Option<SocketAddr>,
    /// The call's packet capture (its task adds the SIP, whoever sends or receives the media
    /// adds that), with the run's time origin.
    pub capture: Option<(CallCapture, Instant)>,
    /// The RTP socket's address, for captured media.
    pub local_rtp: Option<SocketAddr>,
    /// RTP packets the session made that the socket refused (full send buffer, unreachable
    /// network): not on the wire, so not counted as sent in the call's record.
    pub rtp_send_failed: u64,
    /// The sockets, while the pacer serves the call.
    sockets: Option<Sockets>,
    visits: u32,
}

#[derive(Debug)]
struct Sockets {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

/// A [`MediaCore`] shared between a call's task and the pacer.
pub type SharedMedia = Arc<Mutex<MediaCore>>;

impl MediaCore {
    /// A core around `session`, served by its call's task until [`pace`] takes it over.
    pub fn new(session: MediaSession) -> Self {
        Self {
            session,
            remote_rtp: None,
            remote_rtcp: None,
            capture: None,
            local_rtp: None,
            rtp_send_failed: 0,
            sockets: None,
            visits: 0,
        }
    }

    /// Adds a media datagram to the capture (if any): `sent` from our RTP (or RTCP) socket to
    /// `peer`, or received from `peer`.
    pub fn capture_media(
        &mut self,
        at: Instant,
        channel: RtpChannel,
        sent: bool,
        peer: SocketAddr,
        data: &[u8],
    ) {
        capture_into(
            &mut self.capture,
            self.local_rtp,
            at,
            channel,
            sent,
            peer,
            data,
        );
    }

    /// The next datagram the session has ready, copied into `out`, and where it goes (for a
    /// call's task sending on its own sockets; the copy lets the lock go before the send).
    pub fn next_datagram(
        &mut self,
        out: &mut Vec<u8>,
    ) -> Option<(MediaTransmit, Option<SocketAddr>)> {
        let t = self.session.poll_transmit()?;
        out.clear();
        out.extend_from_slice(self.session.transmit_buf(&t));
        let to = match t.channel {
            RtpChannel::Rtp => self.remote_rtp,
            RtpChannel::Rtcp => self.remote_rtcp,
        };
        Some((t, to))
    }

    /// True while the pacer serves this call.
    pub fn is_paced(&self) -> bool {
        self.sockets.is_some()
    }

    /// Reads what arrived on the paced sockets (at the call's end, so that packets that came
    /// after the pacer's last visit are counted too).
    pub fn drain(&mut self) {
        let mut scratch = Scratch::new();
        self.receive(&mut scratch, true, true);
    }

    /// Closes the paced sockets (the ports are free again); the pacer forgets the call at
    /// its next visit.
    pub fn close(&mut self) {
        self.sockets = None;
    }

    /// Reads, advances and sends at `t`; returns when to come back (`None`: closed).
    fn visit(&mut self, t: Instant, scratch: &mut Scratch) -> Option<Instant> {
        self.visits = self.visits.wrapping_add(1);
        let rtp = self.visits.is_multiple_of(RTP_EVERY);
        let rtcp = self.visits.is_multiple_of(RTCP_EVERY);
        self.receive(scratch, rtp, rtcp);
        self.sockets.as_ref()?;
        self.send_due(t);
        let idle = t + MAX_IDLE;
        let next = self.session.poll_timeout().map_or(idle, |d| d.min(idle));
        Some(next.max(t + Duration::from_micros(50)))
    }

    /// Starts sending at `t`. A paced call's first packet goes out now, from the caller's
    /// thread: the pacer's next visit may be up to [`MAX_IDLE`] away, but never later than the
    /// second packet's time.
    pub fn start_sending(&mut self, t: Instant) {
        self.session.start_sending(t);
        self.send_due(t);
    }

    /// Advances the session to `t` and sends what is due on the paced sockets.
    fn send_due(&mut self, t: Instant) {
        let Some(sockets) = self.sockets.as_ref() else {
            return;
        };
        self.session.handle_timeout(t);
        while let Some(tx) = self.session.poll_transmit() {
            let (sock, to) = match tx.channel {
                RtpChannel::Rtp => (&sockets.rtp, self.remote_rtp),
                RtpChannel::Rtcp => (&sockets.rtcp, self.remote_rtcp),
            };
            if let Some(to) = to {
                // A full send buffer drops the packet, as a congested link would; the far end
                // counts it lost, and the record does not count it sent.
                let data = self.session.transmit_buf(&tx);
                if sock.send_to(data, to).is_err() && tx.channel == RtpChannel::Rtp {
                    self.rtp_send_failed += 1;
                }
                capture_into(
                    &mut self.capture,
                    self.local_rtp,
                    t,
                    tx.channel,
                    true,
                    to,
                    data,
                );
            }
        }
    }

    fn receive(&mut self, scratch: &mut Scratch, rtp: bool, rtcp: bool) {
        let Some(sockets) = self.sockets.as_ref() else {
            return;
        };
        let (session, capture, local) = (&mut self.session, &mut self.capture, self.local_rtp);
        let want_from = capture.is_some();
        if rtp {
            recv_batch(&sockets.rtp, scratch, want_from, |data, at, from| {
                if let Some(from) = from {
                    capture_into(capture, local, at, RtpChannel::Rtp, false, from, data);
                }
                session.handle_rtp(data, at)
            });
        }
        if rtcp {
            recv_batch(&sockets.rtcp, scratch, want_from, |data, at, from| {
                if let Some(from) = from {
                    capture_into(capture, local, at, RtpChannel::Rtcp, false, from, data);
                }
                session.handle_rtcp(data, at)
            });
        }
    }
}

/// Adds a media datagram to `capture` (if any), `sent` from our RTP or RTCP socket to `peer`
/// or received from `peer`.
fn capture_into(
    capture: &mut Option<(CallCapture, Instant)>,
    local_rtp: Option<SocketAddr>,
    at: Instant,
    channel: RtpChannel,
    sent: bool,
    peer: SocketAddr,
    data: &[u8],
) {
    let (Some((cap, origin)), Some(local)) = (capture.as_mut(), local_rtp) else {
        return;
    };
    let local = match channel {
        RtpChannel::Rtp => local,
        RtpChannel::Rtcp => SocketAddr::new(local.ip(), local.port().wrapping_add(1)),
    };
    let t = at.saturating_duration_since(*origin);
    match sent {
        true => cap.push_media(t, local, peer, data),
        false => cap.push_media(t, peer, local, data),
    }
}

/// Hands a call's media to a pacer: from now on the pacer reads `rtp` and `rtcp` (bound,
/// non-blocking, never registered with an event loop) and sends what the session has due.
///
/// When no pacer thread could be started, the sockets come back (the caller then serves the
/// call's media itself).
pub fn pace(
    media: &SharedMedia,
    rtp: UdpSocket,
    rtcp: UdpSocket,
) -> Result<(), (UdpSocket, UdpSocket)> {
    let pacers = match pacers() {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("{e}; calls serve their own media");
            return Err((rtp, rtcp));
        }
    };
    enable_rx_timestamps(&rtp);
    enable_rx_timestamps(&rtcp);
    lock(media).sockets = Some(Sockets { rtp, rtcp });
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let p = &pacers[NEXT.fetch_add(1, Ordering::Relaxed) % pacers.len()];
    let mut incoming = lock(&p.incoming);
    incoming.calls.push(media.clone());
    // A pacer serving calls picks the new one up at its next pass (within MAX_IDLE, before
    // the call's second packet is due: the first leaves from `start_sending`). Waking it now
    // would preempt the launching thread with a whole pass of other calls' media.
    if incoming.idle {
        incoming.idle = false;
        p.wake.notify_one();
    }
    Ok(())
}

/// Hands a call's sockets to the pacer when `paced` (and a pacer runs), or registers them
/// with the event loop for the call's task to serve: `Ok(None)` when paced, the task's
/// sockets otherwise.
pub fn pace_or_own(
    media: &SharedMedia,
    (rtp, rtcp, rtp_port): (UdpSocket, UdpSocket, u16),
    paced: bool,
) -> std::io::Result<Option<super::RtpPair>> {
    let (rtp, rtcp) = match paced {
        true => match pace(media, rtp, rtcp) {
            Ok(()) => return Ok(None),
            Err(back) => back,
        },
        false => (rtp, rtcp),
    };
    super::RtpPair::from_std(rtp, rtcp, rtp_port).map(Some)
}

struct Pacer {
    incoming: Mutex<Incoming>,
    wake: Condvar,
}

#[derive(Default)]
struct Incoming {
    /// Calls handed over since the last pass.
    calls: Vec<SharedMedia>,
    /// The pacer serves no call and waits for one.
    idle: bool,
}

/// One pacer per four CPUs (at least one): a pacer serves a few thousand calls on one core.
fn pacers() -> Result<&'static [Arc<Pacer>], &'static str> {
    static PACERS: OnceLock<Result<Vec<Arc<Pacer>>, String>> = OnceLock::new();
    let pacers = PACERS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = cpus.div_ceil(4).max(1);
        (0..n)
            .map(|i| {
                let p = Arc::new(Pacer {
                    incoming: Mutex::new(Incoming::default()),
                    wake: Condvar::new(),
                });
                let q = p.clone();
                std::thread::Builder::new()
                    .name(format!("callcert-media-{i}"))
                    .spawn(move || run(&q))
                    .map_err(|e| format!("cannot start the media pacer thread: {e}"))?;
                Ok(p)
            })
            .collect()
    });
    pacers.as_deref().map_err(String::as_str)
}

fn run(p: &Pacer) {
    let mut calls: Vec<Option<SharedMedia>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let mut scratch = Scratch::new();
    loop {
        {
            let mut incoming = lock(&p.incoming);
            loop {
                let slack = if due.len() > COALESCE_ABOVE {
                    COALESCE
                } else {
                    Duration::ZERO
                };
                let t = now();
                incoming = match due.peek() {
                    Some(Reverse((d, _))) if *d + slack <= t => break,
                    Some(Reverse((d, _))) => {
                        let wait = (*d + slack).saturating_duration_since(t);
                        p.wake
                            .wait_timeout(incoming, wait)
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .0
                    }
                    None if !incoming.calls.is_empty() => break,
                    None => {
                        incoming.idle = true;
                        p.wake
                            .wait(incoming)
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                    }
                };
            }
            let t = now();
            for m in incoming.calls.drain(..) {
                let i = match free.pop() {
                    Some(i) => {
                        calls[i] = Some(m);
                        i
                    }
                    None => {
                        calls.push(Some(m));
                        calls.len() - 1
                    }
                };
                due.push(Reverse((t, i)));
            }
        }
        while let Some(&Reverse((d, i))) = due.peek() {
            let t = now();
            if d > t {
                break;
            }
            due.pop();
            let Some(m) = calls[i].as_ref() else {
                continue;
            };
            // The call's task has let go: nothing reads this session any more.
            let next = match Arc::strong_count(m) {
                1 => None,
                _ => lock(m).visit(t, &mut scratch),
            };
            match next {
                Some(n) => due.push(Reverse((n, i))),
                None => {
                    calls[i] = None;
                    free.push(i);
                }
            }
        }
    }
}

/// Receive buffers for [`recv_batch`].
struct Scratch {
    bufs: Vec<[u8; DATAGRAM]>,
    #[cfg(target_os = "linux")]
    control: Vec<[u64; 8]>,
    #[cfg(target_os = "linux")]
    names: Vec<libc::sockaddr_storage>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            bufs: vec![[0; DATAGRAM]; BATCH],
            #[cfg(target_os = "linux")]
            control: vec![[0; 8]; BATCH],
            // SAFETY: all-zero is a valid sockaddr_storage (family AF_UNSPEC).
            #[cfg(target_os = "linux")]
            names: vec![unsafe { std::mem::zeroed() }; BATCH],
        }
    }
}

/// Asks the kernel to stamp each datagram's arrival (`SO_TIMESTAMPNS`; read them with
/// [`rx_stamp`]). Also used by the impairment relay.
pub(crate) fn enable_rx_timestamps(sock: &UdpSocket) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option of the size given.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            tracing::debug!(
                "SO_TIMESTAMPNS: {}; arrival times are read when the socket is read",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = sock;
}

/// The two clocks read together: converts the kernel's wall-clock stamps into [`Instant`]s.
#[cfg(target_os = "linux")]
struct Clocks {
    mono: Instant,
    wall: Duration,
}

#[cfg(target_os = "linux")]
impl Clocks {
    #[allow(clippy::disallowed_methods)] // the pacer is a driver: it reads the clock
    fn read() -> Self {
        let mono = Instant::now();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self { mono, wall }
    }

    /// The instant of a wall-clock stamp taken before the clocks were read (now without one).
    fn instant(&self, stamp: Option<Duration>) -> Instant {
        stamp
            .and_then(|s| self.wall.checked_sub(s))
            .and_then(|ago| self.mono.checked_sub(ago))
            .unwrap_or(self.mono)
    }
}

/// Reads every datagram waiting on `sock` (never blocks), each with its arrival time and,
/// when `want_from`, its source.
#[cfg(target_os = "linux")]
fn recv_batch(
    sock: &UdpSocket,
    s: &mut Scratch,
    want_from: bool,
    mut f: impl FnMut(&[u8], Instant, Option<SocketAddr>),
) {
    use std::os::fd::AsRawFd;
    // SAFETY: zeroed iovec/mmsghdr are valid (null pointers, zero lengths) and are filled in
    // below before use.
    let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    loop {
        for i in 0..BATCH {
            iov[i] = libc::iovec {
                iov_base: s.bufs[i].as_mut_ptr().cast(),
                iov_len: DATAGRAM,
            };
            let h = &mut hdrs[i].msg_hdr;
            if want_from {
                h.msg_name = (&mut s.names[i] as *mut libc::sockaddr_storage).cast();
                h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            } else {
                h.msg_name = std::ptr::null_mut();
                h.msg_namelen = 0;
            }
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
            h.msg_control = s.control[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of::<[u64; 8]>() as _;
            h.msg_flags = 0;
            hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points at live buffers of the lengths given, owned by `s`,
        // `iov` and `hdrs`, which outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            // EAGAIN (nothing waiting) or an error reported by the socket: nothing to read now.
            return;
        }
        let clocks = Clocks::read();
        let n = n as usize;
        for (i, h) in hdrs.iter().enumerate().take(n) {
            let stamp = rx_stamp(&h.msg_hdr);
            let len = (h.msg_len as usize).min(DATAGRAM);
            let from = want_from.then(|| socket_addr(&s.names[i])).flatten();
            f(&s.bufs[i][..len], clocks.instant(stamp), from);
        }
        if n < BATCH {
            return;
        }
    }
}

/// The IPv4 or IPv6 address a `recvmmsg` wrote.
#[cfg(target_os = "linux")]
fn socket_addr(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    let p = (a as *const libc::sockaddr_storage).cast::<u8>();
    match a.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4: libc::sockaddr_in = unsafe { std::ptr::read_unaligned(p.cast()) };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6: libc::sockaddr_in6 = unsafe { std::ptr::read_unaligned(p.cast()) };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The `SCM_TIMESTAMPNS` stamp of a received message, as time since the Unix epoch.
#[cfg(target_os = "linux")]
pub(crate) fn rx_stamp(h: &libc::msghdr) -> Option<Duration> {
    // SAFETY: `h` was filled by recvmsg or recvmmsg; the CMSG macros walk its control buffer within
    // `msg_controllen`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

/// Reads every datagram waiting on `sock`, timed when read (no kernel stamps here).
#[cfg(not(target_os = "linux"))]
fn recv_batch(
    sock: &UdpSocket,
    s: &mut Scratch,
    _want_from: bool,
    mut f: impl FnMut(&[u8], Instant, Option<SocketAddr>),
) {
    while let Ok((n, from)) = sock.recv_from(&mut s.bufs[0]) {
        f(&s.bufs[0][..n], now(), Some(from));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)]
    use super::*;
    use crate::media::rtp::PACKET_DURATION as PACKET;
    use crate::media::{AudioSource, Codec, MediaConfig};

    fn bound() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        s
    }

    /// The kernel's arrival stamp, not the time of the read, is the packet's time.
    #[test]
    fn packets_read_late_keep_their_arrival_time() {
        let rx = bound();
        enable_rx_timestamps(&rx);
        let tx = bound();
        let sent = Instant::now();
        tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let mut scratch = Scratch::new();
        let mut got = Vec::new();
        recv_batch(&rx, &mut scratch, true, |d, at, from| {
            got.push((d.to_vec(), at, from))
        });
        assert_eq!(got.len(), 1);
        let (data, at, from) = &got[0];
        assert_eq!(data, b"x");
        assert_eq!(*from, Some(tx.local_addr().unwrap()));
        let late = at.saturating_duration_since(sent);
        assert!(
            late < Duration::from_millis(5),
            "stamped {late:?} after the send"
        );
    }

    /// More datagrams than one batch are all read, in order.
    #[test]
    fn a_backlog_larger_than_a_batch_is_read_whole() {
        let rx = bound();
        enable_rx_timestamps(&rx);
        let tx = bound();
        for i in 0..(BATCH as u8 * 2 + 3) {
            tx.send_to(&[i], rx.local_addr().unwrap()).unwrap();
        }
        let mut scratch = Scratch::new();
        let mut got = Vec::new();
        recv_batch(&rx, &mut scratch, false, |d, _, _| got.push(d[0]));
        assert_eq!(got, (0..(BATCH as u8 * 2 + 3)).collect::<Vec<_>>());
    }

    /// A paced call's first packet leaves when sending starts, not at the pacer's next visit.
    #[test]
    fn the_first_packet_leaves_when_sending_starts() {
        let t0 = Instant::now();
        let cfg = MediaConfig::new(Codec::Pcmu, AudioSource::silence());
        let m = Arc::new(Mutex::new(MediaCore::new(MediaSession::new(cfg, t0))));
        let far = bound();
        enable_rx_timestamps(&far);
        lock(&m).remote_rtp = Some(far.local_addr().unwrap());
        pace(&m, bound(), bound()).unwrap();
        // The pacer has visited and will not be back for up to MAX_IDLE.
        std::thread::sleep(Duration::from_millis(7));
        let start = Instant::now();
        lock(&m).start_sending(start);
        let mut scratch = Scratch::new();
        let mut got = Vec::new();
        recv_batch(&far, &mut scratch, false, |_, at, _| got.push(at));
        assert_eq!(got.len(), 1, "the first packet is on the wire at once");
        assert!(got[0].saturating_duration_since(start) < Duration::from_millis(1));
        lock(&m).close();
    }

    /// A packet the socket refuses is not counted as sent (here: an IPv6 destination for an
    /// IPv4 socket).
    #[test]
    fn a_refused_send_is_counted() {
        let t0 = Instant::now();
        let cfg = MediaConfig::new(Codec::Pcmu, AudioSource::silence());
        let m = Arc::new(Mutex::new(MediaCore::new(MediaSession::new(cfg, t0))));
        lock(&m).remote_rtp = Some("[::1]:9".parse().unwrap());
        pace(&m, bound(), bound()).unwrap();
        let mut g = lock(&m);
        g.start_sending(Instant::now());
        assert_eq!(g.session.stats().tx_packets, 1);
        assert_eq!(g.rtp_send_failed, 1);
        g.close();
    }

    /// Garbage from the far end on the RTP and RTCP ports is counted malformed, never a panic,
    /// and the valid packets around it still count.
    #[test]
    fn malformed_datagrams_are_counted() {
        let t0 = Instant::now();
        let cfg = MediaConfig::new(Codec::Pcmu, AudioSource::silence());
        let m = Arc::new(Mutex::new(MediaCore::new(MediaSession::new(cfg, t0))));
        let (rtp, rtcp) = (bound(), bound());
        let (rtp_addr, rtcp_addr) = (rtp.local_addr().unwrap(), rtcp.local_addr().unwrap());
        pace(&m, rtp, rtcp).unwrap();
        let far = bound();
        let mut tx = MediaSession::new(MediaConfig::new(Codec::Pcmu, AudioSource::silence()), t0);
        tx.start_sending(t0);
        let mut valid = 0;
        for i in 0..5u32 {
            tx.handle_timeout(t0 + PACKET * i);
            while let Some(t) = tx.poll_transmit() {
                if t.channel == RtpChannel::Rtp {
                    far.send_to(tx.transmit_buf(&t), rtp_addr).unwrap();
                    valid += 1;
                }
            }
            far.send_to(&[0x80, 0x00, 0x01], rtp_addr).unwrap();
        }
        far.send_to(&[0xff; 40], rtcp_addr).unwrap();
        far.send_to(&[], rtp_addr).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let mut g = lock(&m);
        g.drain();
        let s = g.session.stats();
        assert_eq!(s.rx_packets, valid);
        assert!(s.malformed >= 6, "{s:?}");
        assert_eq!(s.rtcp_malformed, 1, "{s:?}");
        assert!(s.last_malformed.is_some());
        g.close();
    }

    /// Two paced sessions talk to each other: each sends on its 20 ms clock and counts what
    /// the other sent; closing one lets the pacer forget it.
    #[test]
    fn paced_sessions_exchange_rtp() {
        let t0 = Instant::now();
        let mk = |seed| {
            let mut cfg = MediaConfig::new(Codec::Pcmu, AudioSource::silence());
            cfg.seed = seed;
            Arc::new(Mutex::new(MediaCore::new(MediaSession::new(cfg, t0))))
        };
        let (a, b) = (mk(1), mk(2));
        let (a_rtp, a_rtcp, b_rtp, b_rtcp) = (bound(), bound(), bound(), bound());
        for (m, rtp, rtcp) in [(&a, &b_rtp, &b_rtcp), (&b, &a_rtp, &a_rtcp)] {
            let mut g = lock(m);
            g.remote_rtp = Some(rtp.local_addr().unwrap());
            g.remote_rtcp = Some(rtcp.local_addr().unwrap());
            g.session.start_sending(Instant::now());
        }
        pace(&a, a_rtp, a_rtcp).unwrap();
        pace(&b, b_rtp, b_rtcp).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        for m in [&a, &b] {
            let mut g = lock(m);
            g.drain();
            let s = g.session.stats();
            assert!((20..=30).contains(&s.tx_packets), "sent {}", s.tx_packets);
            assert!(s.rx_packets + 2 >= s.tx_packets, "{s:?}");
            assert_eq!(s.lost, 0);
            assert!(s.jitter_ms < 2.0, "jitter {}", s.jitter_ms);
            g.close();
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            Arc::strong_count(&a),
            1,
            "the pacer let go of a closed call"
        );
    }
}
