//! Runs many calls: schedules launches on absolute times, caps concurrency, collects every
//! call's record into the metrics and the per-call log, and ends cleanly.

mod call;
pub mod dispatch;
mod ivr;
mod launch;
pub mod pacer;
pub mod quality;
pub mod record;
pub mod timer;

use crate::media::AudioSource;
use crate::metrics::RunMetrics;
use crate::report::pcap::{CallCapture, CaptureMode, PcapSink};
use crate::sip::auth::Credentials;
use crate::sip::dialog::{LocalEndpoint, TransportKind};
use crate::sip::rsip::Uri;
use crate::sip::sdp::AudioCodec;
use crate::sip::transaction::TimerConfig;
use crate::sip::transport::{self, SipSocket, TransportError};
use dispatch::{DispatchStats, Routes};
pub use launch::{StopHandle, StopRequest};
use record::CallRecord;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Errors that stop a run before or while it places calls (failed calls are not errors).
#[derive(Debug, Error)]
pub enum EngineError {
    /// The target URI's host does not resolve.
    #[error("cannot resolve target {target}: {reason}")]
    Resolve {
        /// The target as written.
        target: String,
        /// Why.
        reason: String,
    },
    /// The SIP socket could not be bound.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The load profile is not usable (checked again here for plans built in code).
    #[error("load: {0}")]
    Load(#[from] crate::traffic::load::TrafficModelError),
    /// The output directory could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Everything a run needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Scenario name.
    pub name: String,
    /// Request-URI of every INVITE.
    pub target: Uri,
    /// Where the INVITEs go (resolved from the target, or an outbound proxy).
    pub target_addr: SocketAddr,
    /// Signalling transport.
    pub transport: TransportKind,
    /// Local bind address for SIP (port 0 = any).
    pub local: SocketAddr,
    /// From value without tag.
    pub from: String,
    /// Codecs offered, preferred first.
    pub codecs: Vec<AudioCodec>,
    /// Offer RFC 4733 telephone-event.
    pub telephone_event: bool,
    /// Ping the target with OPTIONS before the first call.
    pub preflight: bool,
    /// Digest credentials.
    pub credentials: Option<Credentials>,
    /// Calls to place.
    pub calls: u64,
    /// Calls per second.
    pub rate: f64,
    /// Most calls in progress at once.
    pub max_concurrent: usize,
    /// Hard ceiling on calls started per second, whatever the schedule says.
    pub max_rate: f64,
    /// After the last launch (or a stop request), how long calls in progress may go on before
    /// they are hung up; `None`: until each ends by itself.
    pub drain: Option<Duration>,
    /// Bind RTP ports and exchange media; false for signalling-only load.
    pub media: bool,
    /// Seed of every random choice.
    pub seed: u64,
    /// SIP timers.
    pub timers: TimerConfig,
    /// CANCEL after this long without an answer.
    pub answer_timeout: Duration,
    /// How long to stay in the call after the answer.
    pub hold: Duration,
    /// What the caller sends.
    pub audio: AudioSource,
    /// Fail calls in which no voice was heard.
    pub expect_voice: bool,
    /// Fail calls without RTP from the far end.
    pub expect_media: bool,
    /// Fail calls with no RTP this long after the answer.
    pub media_timeout: Duration,
    /// Speech threshold for first-voice detection, dBov.
    pub voice_threshold_dbov: f64,
    /// Which calls go into the pcap.
    pub capture: CaptureMode,
    /// Thresholds judged at the end (and during the run with `abort_on_fail`).
    pub thresholds: Vec<crate::verdict::Threshold>,
    /// The profile the thresholds came from, if any.
    pub profile: Option<String>,
    /// Stop placing calls once a threshold has failed beyond doubt.
    pub abort_on_fail: bool,
    /// The IVR flow each call walks, when the scenario has steps.
    pub ivr: Option<Arc<IvrPlan>>,
    /// Voice-quality scoring of each call (`call.quality`), its reference loaded.
    pub quality: Option<Arc<quality::QualitySetup>>,
    /// Offered load as a profile with Poisson arrivals and sampled holding times; replaces
    /// `calls`, `rate` and `hold` when set.
    pub load: Option<LoadPlan>,
}

/// Poisson arrivals over a load profile (issue 4's traffic model), each call holding for a
/// sampled time after its answer.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The offered load over time.
    pub profile: crate::traffic::load::Profile,
    /// Holding time after the answer.
    pub holding: crate::traffic::load::Holding,
    /// The target's trunks, when declared (for the Erlang B comparison).
    pub trunks: Option<u32>,
    /// The target's agent queue, when declared (for the Erlang C comparison).
    pub agents: Option<crate::traffic::check::AgentQueue>,
    /// Interval of the report's time series; `None`: chosen from the profile's length.
    pub series_interval: Option<Duration>,
}

/// The IVR flow of a run, loaded once and shared by every call.
#[derive(Debug, Clone)]
pub struct IvrPlan {
    /// The steps.
    pub steps: Arc<[crate::scenario::steps::Step]>,
    /// Reference recordings of the prompts the steps name.
    pub library: crate::media::prompt::PromptLibrary,
    /// The speech files of `talk` steps, loaded.
    pub talk: std::collections::HashMap<std::path::PathBuf, AudioSource>,
    /// Longest the flow can take (sum of its timeouts and durations), bounding each call.
    pub budget: Duration,
    /// Learn mode: save each named prompt heard into this folder as `NAME.wav`.
    pub learn: Option<Learn>,
}

/// Where learn mode saves prompts, and the prompt name each step (by index) waits for.
#[derive(Debug, Clone)]
pub struct Learn {
    /// Output folder.
    pub dir: std::path::PathBuf,
    /// Per step: the prompt name its first voice is saved as.
    pub names: Vec<Option<String>>,
}

impl IvrPlan {
    /// Learn mode: the same flow, accepting any voice where a prompt is named, saving each one
    /// heard as `dir/NAME.wav` to serve as a reference for later runs.
    pub fn learning(self, dir: std::path::PathBuf) -> Self {
        use crate::scenario::steps::{AgentDetect, Step};
        let mut names = Vec::with_capacity(self.steps.len());
        let steps: Vec<Step> = self
            .steps
            .iter()
            .cloned()
            .map(|s| match s {
                Step::WaitPrompt(mut p) => {
                    names.push(p.name.take());
                    Step::WaitPrompt(p)
                }
                Step::Query { dtmf, mut prompt } => {
                    names.push(prompt.name.take());
                    Step::Query { dtmf, prompt }
                }
                Step::Agent {
                    dtmf,
                    detect: AgentDetect::Prompt(n),
                    timeout,
                } => {
                    // Nothing is known yet: the first voice after the transfer is taken as the
                    // agent's greeting.
                    names.push(Some(n));
                    Step::Agent {
                        dtmf,
                        detect: AgentDetect::Voice,
                        timeout,
                    }
                }
                s => {
                    names.push(None);
                    s
                }
            })
            .collect();
        Self {
            steps: steps.into(),
            library: crate::media::prompt::PromptLibrary::new(),
            learn: Some(Learn { dir, names }),
            ..self
        }
    }
}

impl IvrPlan {
    /// Loads the prompts and speech files the steps use.
    pub fn load(
        steps: Arc<[crate::scenario::steps::Step]>,
        prompts: Option<&std::path::Path>,
    ) -> Result<Self, String> {
        use crate::scenario::steps::Step;
        let library = match prompts {
            Some(dir) => crate::media::prompt::PromptLibrary::load_dir(dir)
                .map_err(|e| format!("call.prompts: {e}"))?,
            None => crate::media::prompt::PromptLibrary::new(),
        };
        let mut talk = std::collections::HashMap::new();
        let mut budget = Duration::from_secs(30);
        let digits = |d: &crate::scenario::steps::DtmfSend| {
            (d.digit + d.gap) * d.digits.chars().count() as u32 + Duration::from_secs(1)
        };
        for s in steps.iter() {
            budget += match s {
                Step::ExpectAnswer { .. } | Step::Hangup => Duration::ZERO,
                // A caller waits for a prompt to end before pressing (at most a minute).
                Step::Dtmf(d) => digits(d) + Duration::from_secs(60),
                Step::WaitPrompt(p) => p.timeout,
                Step::Query { dtmf, prompt } => {
                    digits(dtmf) + prompt.timeout + Duration::from_secs(60)
                }
                Step::Agent { dtmf, timeout, .. } => {
                    dtmf.as_ref().map_or(Duration::ZERO, digits)
                        + *timeout
                        + Duration::from_secs(60)
                }
                Step::Talk { audio, duration } => {
                    if !talk.contains_key(audio) {
                        let a = AudioSource::from_wav(audio).map_err(|e| e.to_string())?;
                        talk.insert(audio.clone(), a);
                    }
                    *duration
                }
                Step::Pause(d) => *d,
            };
        }
        Ok(Self {
            steps,
            library,
            talk,
            budget,
            learn: None,
        })
    }
}

/// What a finished run hands to the report.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Aggregates.
    pub metrics: RunMetrics,
    /// Wall-clock duration of the run.
    pub duration: Duration,
    /// Failed calls, the first [`MAX_FAILED_KEPT`] of them.
    pub failed_calls: Vec<CallRecord>,
    /// Messages the dispatcher could not deliver.
    pub dispatch: DispatchStats,
    /// Local SIP address used.
    pub local_addr: SocketAddr,
    /// Whether any call got any response from the target.
    pub target_responded: bool,
    /// Set when `abort_on_fail` stopped the run early: after how many calls.
    pub aborted_after: Option<u64>,
    /// The pcap written (or why it could not be), when any call was captured.
    pub capture: Option<Result<PathBuf, String>>,
    /// The OPTIONS ping sent before the first call, when asked for.
    pub preflight: Option<Preflight>,
    /// A stop request (SIGINT/SIGTERM) ended launching before the schedule did.
    pub stopped: bool,
    /// Attempts, completions, failures, concurrency and load at a fixed interval.
    pub series: crate::metrics::series::TimeSeries,
    /// With a load profile: the metrics of each phase and the samples of the Erlang checks.
    pub load: Option<crate::metrics::load::LoadMetrics>,
    /// With `call.quality`: P.862 raw score per network condition (mean, p5, calls below
    /// threshold).
    pub quality: Vec<crate::quality::ConditionSummary>,
    /// With `call.quality`: every call's scores, for the verdict (ACC-PESQ-*).
    pub scores: Option<quality::RunScores>,
}

/// What the target said to an OPTIONS ping before the run (RFC 3261 §11).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Preflight {
    /// A final response: the target is there.
    Answered {
        /// Status code.
        code: u16,
        /// Round-trip time, ms.
        rtt_ms: f64,
    },
    /// No answer within the wait.
    NoAnswer {
        /// How long we waited, ms.
        waited_ms: f64,
    },
    /// The transport failed (e.g. TCP connection refused).
    TransportError {
        /// The error.
        detail: String,
    },
}

/// How long the pre-run OPTIONS ping waits for an answer.
pub const PREFLIGHT_WAIT: Duration = Duration::from_secs(2);

async fn preflight(
    plan: &RunPlan,
    socket: &SipSocket,
    routes: &Routes,
    local: &LocalEndpoint,
) -> Preflight {
    options_ping(plan, socket, routes, local, plan.seed ^ 0x0971).await
}

/// One OPTIONS ping of the plan's target over `socket`, waiting at most [`PREFLIGHT_WAIT`].
async fn options_ping(
    plan: &RunPlan,
    socket: &SipSocket,
    routes: &Routes,
    local: &LocalEndpoint,
    seed: u64,
) -> Preflight {
    use crate::sip::options::{OptionsPing, PingResult};
    let start = now();
    let mut ping = OptionsPing::new(&plan.target, local, plan.timers, seed, start);
    let mut rx = routes.register(ping.call_id());
    let give_up = start + PREFLIGHT_WAIT;
    let mut error = String::new();
    let result = loop {
        while let Some(m) = ping.poll_transmit() {
            match socket
                .send(&crate::sip::message::encode(&m), plan.target_addr)
                .await
            {
                Ok(at) => ping.on_sent(at),
                Err(e) => {
                    error = e.to_string();
                    ping.handle_transport_error(now());
                }
            }
        }
        if let Some(r) = ping.result() {
            break r.clone();
        }
        let deadline = ping.poll_timeout().unwrap_or(give_up).min(give_up);
        tokio::select! {
            m = rx.recv() => match m {
                Some(dispatch::CallInput::Message(m, at, ..)) => ping.handle_message(m, at),
                Some(dispatch::CallInput::FlowClosed(at)) => ping.handle_transport_error(at),
                None => break PingResult::Timeout,
            },
            _ = tokio::time::sleep_until(deadline.into()) => {
                let t = now();
                if t >= give_up {
                    break PingResult::Timeout;
                }
                ping.handle_timeout(t);
            }
        }
    };
    routes.unregister(ping.call_id());
    match result {
        PingResult::Answered { code, rtt } => Preflight::Answered {
            code,
            rtt_ms: rtt.as_secs_f64() * 1000.0,
        },
        PingResult::Timeout => Preflight::NoAnswer {
            waited_ms: now().saturating_duration_since(start).as_secs_f64() * 1000.0,
        },
        PingResult::TransportError => Preflight::TransportError { detail: error },
    }
}

/// A long-lived SIP endpoint that pings a plan's target with OPTIONS again and again (the
/// monitor's availability probe, SYS-AVAILABILITY): one socket and dispatcher for all pings.
pub struct Pinger {
    plan: RunPlan,
    socket: SipSocket,
    routes: Routes,
    local: LocalEndpoint,
    sent: u64,
    dispatcher: tokio::task::JoinHandle<()>,
}

impl Pinger {
    /// Binds the plan's transport on an ephemeral port of its local address.
    pub async fn bind(plan: &RunPlan) -> Result<Pinger, EngineError> {
        let local_addr = SocketAddr::new(plan.local.ip(), 0);
        let (socket, inbound) = SipSocket::bind(plan.transport, local_addr, false).await?;
        let local = local_endpoint(&socket, plan);
        let routes = Routes::default();
        let dispatcher = tokio::spawn(dispatch::dispatch(
            inbound,
            socket.clone(),
            routes.clone(),
            None,
        ));
        Ok(Pinger {
            plan: plan.clone(),
            socket,
            routes,
            local,
            sent: 0,
            dispatcher,
        })
    }

    /// Sends one OPTIONS and waits for its answer (at most [`PREFLIGHT_WAIT`]).
    pub async fn ping(&mut self) -> Preflight {
        self.sent += 1;
        let seed = self.plan.seed ^ 0x0971 ^ self.sent.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        options_ping(&self.plan, &self.socket, &self.routes, &self.local, seed).await
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        self.dispatcher.abort();
    }
}

/// The address the plan's calls advertise for `socket`: the bound one, or the source address
/// towards the target when bound to the unspecified address.
fn local_endpoint(socket: &SipSocket, plan: &RunPlan) -> LocalEndpoint {
    let bound = socket.local_addr();
    let advertised_ip = if bound.ip().is_unspecified() {
        transport::route_source(plan.target_addr).unwrap_or(bound.ip())
    } else {
        bound.ip()
    };
    LocalEndpoint {
        transport: plan.transport,
        addr: SocketAddr::new(advertised_ip, bound.port()),
        user: "callcert".into(),
    }
}

/// How many failed call records the summary keeps (all are in `calls.jsonl`).
pub const MAX_FAILED_KEPT: usize = 1000;

/// A pair of RTP/RTCP sockets on adjacent ports, RTP even (RFC 3550 §11).
pub struct RtpPair {
    /// RTP socket.
    pub rtp: UdpSocket,
    /// RTCP socket (RTP port + 1).
    pub rtcp: UdpSocket,
    /// The RTP port.
    pub rtp_port: u16,
}

impl RtpPair {
    /// Binds an even/odd pair on `ip`.
    pub async fn bind(ip: IpAddr) -> std::io::Result<RtpPair> {
        let (rtp, rtcp, rtp_port) = Self::bind_std(ip)?;
        Self::from_std(rtp, rtcp, rtp_port)
    }

    /// Registers a pair from [`bind_std`](Self::bind_std) with the event loop.
    pub fn from_std(
        rtp: std::net::UdpSocket,
        rtcp: std::net::UdpSocket,
        rtp_port: u16,
    ) -> std::io::Result<RtpPair> {
        Ok(RtpPair {
            rtp: UdpSocket::from_std(rtp)?,
            rtcp: UdpSocket::from_std(rtcp)?,
            rtp_port,
        })
    }

    /// Binds an even/odd pair on `ip` as non-blocking std sockets (for the media pacer, which
    /// reads them outside the event loop): RTP socket, RTCP socket, RTP port.
    pub fn bind_std(
        ip: IpAddr,
    ) -> std::io::Result<(std::net::UdpSocket, std::net::UdpSocket, u16)> {
        let mut last = None;
        for _ in 0..64 {
            let rtp = transport::bind_udp_std(SocketAddr::new(ip, 0))?;
            let port = rtp.local_addr()?.port();
            if port % 2 != 0 || port == u16::MAX {
                continue;
            }
            match transport::bind_udp_std(SocketAddr::new(ip, port + 1)) {
                Ok(rtcp) => return Ok((rtp, rtcp, port)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no even/odd port pair free")))
    }
}

impl RtpPair {
    /// The socket a datagram for `channel` goes out on.
    pub fn socket(&self, channel: crate::media::RtpChannel) -> &UdpSocket {
        match channel {
            crate::media::RtpChannel::Rtp => &self.rtp,
            crate::media::RtpChannel::Rtcp => &self.rtcp,
        }
    }

    /// Receives on the RTP socket (`None`: never completes — the pair was closed).
    pub async fn recv_rtp(
        pair: &Option<RtpPair>,
        buf: &mut [u8],
    ) -> std::io::Result<(usize, SocketAddr)> {
        match pair {
            Some(p) => p.rtp.recv_from(buf).await,
            None => std::future::pending().await,
        }
    }

    /// Receives on the RTCP socket (`None`: never completes).
    pub async fn recv_rtcp(
        pair: &Option<RtpPair>,
        buf: &mut [u8],
    ) -> std::io::Result<(usize, SocketAddr)> {
        match pair {
            Some(p) => p.rtcp.recv_from(buf).await,
            None => std::future::pending().await,
        }
    }
}

/// Shared by the calls of a run.
pub(crate) struct CallContext {
    pub plan: RunPlan,
    pub socket: SipSocket,
    pub routes: Routes,
    pub local: LocalEndpoint,
    pub target_addr: SocketAddr,
    pub origin: Instant,
    /// Which calls to capture.
    pub capture: CaptureMode,
    /// Unique per run (wall clock and process id), part of every Call-ID.
    pub run_tag: String,
    /// When calls still in progress are cut at the end of the run.
    pub end: tokio::sync::watch::Receiver<launch::End>,
    /// Scores the heard audio of each call off the media path (with `call.quality`).
    pub scorer: Option<Arc<quality::Scorer>>,
}

/// Wall-clock time of now, for pcap timestamps (not a measurement).
#[allow(clippy::disallowed_methods)] // the engine is a driver
fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// The wall clock (64-bit NTP) and the monotonic clock read together, for a media session's
/// sender reports: a receiver sharing the wall clock then measures one-way delays exactly.
#[allow(clippy::disallowed_methods)] // the engine is a driver
pub fn wall_clock() -> (u64, Instant) {
    let mono = Instant::now();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (crate::media::rtcp::ntp::from_unix(wall), mono)
}

/// A tag unique to this run: the only non-seeded input of a run.
#[allow(clippy::disallowed_methods)] // the engine is a driver; this is not a measurement
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40) ^ (nanos >> 64) as u64;
    format!("{mixed:016x}")
}

#[allow(clippy::disallowed_methods)] // driver: the scheduler reads the clock
fn now() -> Instant {
    Instant::now()
}

/// Resolves the host and port of a SIP URI (default port 5060).
pub async fn resolve_target(uri: &Uri) -> Result<SocketAddr, EngineError> {
    let host = uri.host_with_port.host.to_string();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri
        .host_with_port
        .port
        .as_ref()
        .map(|p| p.value())
        .unwrap_or(5060);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| EngineError::Resolve {
            target: uri.to_string(),
            reason: e.to_string(),
        })?;
    addrs.next().ok_or_else(|| EngineError::Resolve {
        target: uri.to_string(),
        reason: "no address".into(),
    })
}

/// How long a finished call's row may wait in the buffers of `calls.jsonl` and `calls.csv`.
const FLUSH_WITHIN: Duration = Duration::from_millis(100);
/// Rows written at which the buffers are flushed at once.
const FLUSH_ROWS: u32 = 1024;

/// Flushes the per-call files; a failed flush keeps the rows buffered for the next one.
fn flush_rows(
    log: &mut Option<std::io::BufWriter<std::fs::File>>,
    csv: &mut Option<crate::report::csv::CallsCsvWriter<std::io::BufWriter<std::fs::File>>>,
) {
    if let Some(w) = log.as_mut() {
        let _ = w.flush();
    }
    if let Some(w) = csv.as_mut() {
        let _ = w.flush();
    }
}

/// Places the plan's calls and collects their records. `calls.jsonl` (one record per line,
/// flushed within 100 ms of each call's end) goes into `out_dir` when given.
pub async fn run(plan: RunPlan, out_dir: Option<PathBuf>) -> Result<RunResult, EngineError> {
    run_until(plan, out_dir, StopHandle::default()).await
}

/// [`run`], which `stop` can end early: a graceful request stops launching and gives the calls
/// in progress the plan's drain time; a second, immediate one hangs them all up at once.
pub async fn run_until(
    plan: RunPlan,
    out_dir: Option<PathBuf>,
    stop: StopHandle,
) -> Result<RunResult, EngineError> {
    run_observed(plan, out_dir, stop, None).await
}

/// [`run_until`], handing a copy of every call record to `observer` as the call ends (the
/// monitor stores each one at once).
pub async fn run_observed(
    plan: RunPlan,
    out_dir: Option<PathBuf>,
    stop: StopHandle,
    observer: Option<mpsc::UnboundedSender<CallRecord>>,
) -> Result<RunResult, EngineError> {
    let (socket, inbound) = SipSocket::bind(plan.transport, plan.local, false).await?;
    let local = local_endpoint(&socket, &plan);
    let routes = Routes::default();
    tokio::spawn(dispatch::dispatch(
        inbound,
        socket.clone(),
        routes.clone(),
        None,
    ));
    let mut log = match &out_dir {
        Some(dir) => {
            let path = dir.join("calls.jsonl");
            std::fs::create_dir_all(dir).map_err(|source| EngineError::Output {
                path: dir.clone(),
                source,
            })?;
            let f = std::fs::File::create(&path)
                .map_err(|source| EngineError::Output { path, source })?;
            Some(std::io::BufWriter::new(f))
        }
        None => None,
    };
    let mut csv = match &out_dir {
        Some(dir) => Some(
            crate::report::csv::CallsCsvWriter::create(&dir.join("calls.csv")).map_err(|e| {
                EngineError::Output {
                    path: dir.join("calls.csv"),
                    source: std::io::Error::other(e.to_string()),
                }
            })?,
        ),
        None => None,
    };
    let ctx_capture = if out_dir.is_some() {
        plan.capture
    } else {
        CaptureMode::Off
    };
    let preflight = match plan.preflight {
        true => Some(preflight(&plan, &socket, &routes, &local).await),
        false => None,
    };
    let plan_quality = plan.quality.clone();
    let scorer = match &plan.quality {
        Some(setup) => Some(Arc::new({
            let heard = out_dir.as_ref().map(|d| d.join("heard"));
            quality::Scorer::start(setup.clone(), heard.clone()).map_err(|source| {
                EngineError::Output {
                    path: heard.unwrap_or_default(),
                    source,
                }
            })?
        })),
        None => None,
    };
    let origin = now();
    let (end_tx, end_rx) = tokio::sync::watch::channel(launch::End::Launching);
    let end_tx = Arc::new(end_tx);
    let ctx = Arc::new(CallContext {
        scorer,
        end: end_rx,
        target_addr: plan.target_addr,
        plan,
        socket,
        routes: routes.clone(),
        local,
        origin,
        capture: ctx_capture,
        run_tag: run_tag(),
    });
    let (rec_tx, mut rec_rx) = mpsc::unbounded_channel::<(CallRecord, Option<CallCapture>)>();
    let origin_unix = unix_now();
    let mut pcap: Option<PcapSink> = None;
    let mut pcap_error = None;
    // With a load profile the whole arrival schedule is drawn up front (seeded, absolute).
    let schedule: Option<Arc<[crate::traffic::arrivals::Arrival]>> = match &ctx.plan.load {
        Some(l) => Some(
            crate::traffic::arrivals::Arrivals::new(&l.profile, l.holding, ctx.plan.seed)?
                .collect::<Vec<_>>()
                .into(),
        ),
        None => None,
    };
    let total = schedule.as_ref().map_or(ctx.plan.calls, |s| s.len() as u64);
    let launched = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let launcher = tokio::spawn(
        launch::Launcher {
            ctx: ctx.clone(),
            schedule: schedule.clone(),
            total,
            records: rec_tx.clone(),
            launched: launched.clone(),
            end: end_tx.clone(),
            stop: stop.clone(),
        }
        .run(),
    );
    drop(rec_tx);
    let mut metrics = RunMetrics::default();
    let mut quality_tally = quality::Tally::default();
    let mut series = crate::metrics::series::TimeSeries::for_plan(&ctx.plan);
    let mut load_metrics =
        crate::metrics::load::LoadMetrics::for_run(&ctx.plan, schedule.as_deref());
    let mut failed = Vec::new();
    let mut received = 0u64;
    let mut unflushed = 0u32;
    let mut responded = false;
    let mut expected = total;
    let mut aborted_after = None;
    let conditions = crate::verdict::RunConditions::default();
    let mut json_line = Vec::with_capacity(1024);
    // Records written but not yet flushed, and when they must be.
    let mut flush_due: Option<Instant> = None;
    while received < expected {
        let next = match flush_due {
            None => rec_rx.recv().await,
            Some(due) => tokio::select! {
                r = rec_rx.recv() => r,
                _ = timer::sleep_until(due) => {
                    flush_due = None;
                    unflushed = 0;
                    flush_rows(&mut log, &mut csv);
                    continue;
                }
            },
        };
        let Some((mut r, cap)) = next else {
            break;
        };
        // The phase of the profile the call was scheduled in, from the pre-drawn schedule.
        r.phase = schedule
            .as_deref()
            .and_then(|s| s.get(r.index as usize))
            .map(|a| a.phase as u32);
        let keep = match ctx.capture {
            CaptureMode::Off => false,
            CaptureMode::Failed => !r.succeeded(),
            CaptureMode::All => true,
        };
        if let (true, Some(cap), Some(dir)) = (keep, cap, out_dir.as_ref()) {
            if pcap.is_none() && pcap_error.is_none() {
                let name = match ctx.capture {
                    CaptureMode::All => "calls.pcap",
                    _ => "failed_calls.pcap",
                };
                match PcapSink::create(&dir.join(name), origin_unix) {
                    Ok(s) => pcap = Some(s),
                    Err(e) => pcap_error = Some(e.to_string()),
                }
            }
            if let Some(sink) = pcap.as_mut() {
                if let Err(e) = sink.write_call(&cap) {
                    pcap_error = Some(e.to_string());
                    pcap = None;
                }
            }
        }
        received += 1;
        responded |= r.first_100_ms.is_some()
            || r.first_18x_ms.is_some()
            || r.answered_ms.is_some()
            || r.final_code.is_some();
        metrics.record(&r);
        if let Some(o) = &observer {
            let _ = o.send(r.clone());
        }
        quality_tally.record(&r);
        series.record(&r);
        if let Some(l) = load_metrics.as_mut() {
            l.record(&r);
        }
        if let Some(w) = log.as_mut() {
            // Into a reused buffer, so a record that fails to serialize leaves no partial line.
            json_line.clear();
            if serde_json::to_writer(&mut json_line, &r).is_ok() {
                json_line.push(b'\n');
                let _ = w.write_all(&json_line);
            }
        }
        if let Some(w) = csv.as_mut() {
            let _ = w.write_record(&r);
        }
        // Flushed within FLUSH_WITHIN of a call's end (sooner when FLUSH_ROWS are waiting): a
        // killed run keeps every call that had ended before that, without a write per call at
        // thousands of calls/s.
        unflushed += 1;
        if flush_due.is_none() {
            flush_due = Some(now() + FLUSH_WITHIN);
        }
        if unflushed >= FLUSH_ROWS {
            unflushed = 0;
            flush_due = None;
            flush_rows(&mut log, &mut csv);
        }
        if !r.succeeded() && failed.len() < MAX_FAILED_KEPT {
            failed.push(r);
        }
        // abort_on_fail: judge as the records come in; a failure beyond doubt stops launching
        // and the run ends when the calls already placed have ended.
        if ctx.plan.abort_on_fail && aborted_after.is_none() && received.is_multiple_of(10) {
            let eval = crate::verdict::evaluate(
                &ctx.plan.thresholds,
                &metrics.measurements(),
                &conditions,
            );
            if eval.status == crate::verdict::Status::Fail {
                launcher.abort();
                let placed = launched.load(std::sync::atomic::Ordering::SeqCst);
                expected = placed;
                aborted_after = Some(placed);
            }
        }
    }
    launcher.abort();
    let capture = match (pcap, pcap_error) {
        (_, Some(e)) => Some(Err(e)),
        (Some(sink), None) => Some(sink.finish().map_err(|e| e.to_string())),
        (None, None) => None,
    };
    flush_rows(&mut log, &mut csv);
    Ok(RunResult {
        metrics,
        duration: now().saturating_duration_since(origin),
        failed_calls: failed,
        dispatch: routes.stats(),
        local_addr: ctx.local.addr,
        preflight,
        target_responded: responded,
        aborted_after,
        capture,
        stopped: stop.requested() != StopRequest::None,
        series,
        load: load_metrics,
        quality: quality_tally.summaries(),
        scores: plan_quality.map(|q| quality_tally.run_scores(&q.plan.condition)),
    })
}
