//! The validated scenario: what `callcert run` executes.

use crate::sip::auth::Credentials;
use crate::sip::dialog::TransportKind;
use crate::sip::rsip::Uri;
use crate::sip::sdp::AudioCodec;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default `max_rate`: calls/s above this need the scenario to say so.
pub const DEFAULT_MAX_RATE: f64 = 1000.0;

/// A loaded, validated scenario file; every default is filled in and every path resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name`: shown in reports.
    pub name: String,
    /// The file it was loaded from, as named to the loader.
    pub source: PathBuf,
    /// `target`: Request-URI of each INVITE (sip:, sips: or tel:).
    pub target: Uri,
    /// `transport` (default UDP).
    pub transport: TransportKind,
    /// `local`: address to bind (default `0.0.0.0:0`, or `[::]:0` for an IPv6 target).
    pub local: SocketAddr,
    /// `from`: the From URI, if set (else the engine derives one from `local`).
    pub from: Option<Uri>,
    /// Codecs to offer, preferred (`codec`) first; never empty.
    pub codecs: Vec<AudioCodec>,
    /// `telephone_event`: offer RFC 4733 DTMF (default true).
    pub telephone_event: bool,
    /// `preflight`: ping the target with OPTIONS before the first call (default false: the
    /// ping is one more transaction in the target's own statistics).
    pub preflight: bool,
    /// `profile`: the threshold profile judged (a shipped name or a file), when given.
    pub profile: Option<String>,
    /// The profile's thresholds followed by the scenario's own `thresholds:` (k6 syntax).
    pub thresholds: Vec<crate::verdict::Threshold>,
    /// `abort_on_fail`: stop placing calls once a threshold has failed beyond doubt.
    pub abort_on_fail: bool,
    /// `capture`: which calls go into the run's pcap — `failed` (default), `all` or `off`.
    pub capture: crate::report::pcap::CaptureMode,
    /// `credentials`, with `password_env` already resolved.
    pub credentials: Option<Credentials>,
    /// `calls`: how many calls to place in total (≥ 1); with `load`, the expected count.
    pub calls: u64,
    /// `load`: offered traffic with Poisson arrivals, instead of `calls` and `rate`.
    pub load: Option<ScenarioLoad>,
    /// `rate`: new calls per second (> 0).
    pub rate: f64,
    /// `max_concurrent`: cap on simultaneous calls, if any.
    pub max_concurrent: Option<u32>,
    /// `max_rate`: hard ceiling on calls started per second (default [`DEFAULT_MAX_RATE`]).
    pub max_rate: f64,
    /// `drain`: after the last launch, how long calls in progress may go on before they are
    /// hung up (default: 30 s with a `load:` section; unbounded otherwise).
    pub drain: Option<Duration>,
    /// `seed` of every random choice of the run (default 1; never taken from the clock).
    pub seed: u64,
    /// `timers`: SIP transaction timers.
    pub timers: Timers,
    /// `call`: what each call does.
    pub call: CallPlan,
}

impl Scenario {
    /// The preferred codec (`codec`, the first of `codecs`).
    pub fn codec(&self) -> AudioCodec {
        self.codecs.first().copied().unwrap_or(AudioCodec::Pcmu)
    }
}

/// SIP timers (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// T1: RTT estimate (default 500 ms).
    pub t1: Duration,
    /// T2: maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// T4: maximum duration a message remains in the network (default 5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// What each call of the scenario does, and when it counts as failed.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPlan {
    /// CANCEL when no final response came this long after the INVITE (default 32 s = 64·T1).
    pub answer_timeout: Duration,
    /// How long to stay in the call after the 200 OK before sending BYE (default 3 s).
    pub hold: Duration,
    /// What the caller sends (default silence).
    pub audio: CallerAudio,
    /// Fail the call as "no voice" if no voice was heard by hangup (default true).
    pub expect_voice: bool,
    /// Expect RTP from the far end at all; false for peers that send none (default true).
    pub expect_media: bool,
    /// `media`: false for signalling only: no RTP ports bound, nothing sent (default true).
    pub media: bool,
    /// Fail the call as "no media" if no RTP arrived this long after the 200 OK (default 2 s).
    pub media_timeout: Duration,
    /// Level above which received audio counts as voice, in dBov (default -35).
    pub voice_threshold_dbov: f64,
    /// `prompts`: folder of reference recordings (`NAME.wav`) that steps name.
    pub prompts: Option<PathBuf>,
    /// `steps`: the IVR flow after the answer; empty means "hold, then hang up".
    pub steps: std::sync::Arc<[super::steps::Step]>,
    /// `quality`: score what the caller hears against a reference, under a network condition.
    pub quality: Option<std::sync::Arc<QualityPlan>>,
}

/// `call.quality:`: voice-quality scoring of each call.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityPlan {
    /// `reference`: the recording the far end plays, which the heard audio is scored against.
    pub reference: PathBuf,
    /// `condition`: the label calls are summarized under (a preset's name by default).
    pub condition: String,
    /// `threshold`: P.862 raw score below which a call counts as poor (SPEC value for the
    /// presets, on the raw scale as in the acceptance profile).
    pub threshold: f64,
    /// `network`: impairment of the media the caller receives (none for `good`).
    pub network_rx: Option<crate::impair::ImpairConfig>,
    /// `network_tx`: impairment of the media the caller sends.
    pub network_tx: Option<crate::impair::ImpairConfig>,
    /// `jitter_buffer`: the receiver the heard audio is played by.
    pub jitter_buffer: crate::media::jitter::JitterBufferConfig,
}

impl Default for CallPlan {
    fn default() -> Self {
        CallPlan {
            answer_timeout: Duration::from_secs(32),
            hold: Duration::from_secs(3),
            audio: CallerAudio::Silence,
            expect_voice: true,
            expect_media: true,
            media: true,
            media_timeout: Duration::from_secs(2),
            voice_threshold_dbov: -35.0,
            prompts: None,
            steps: Vec::new().into(),
            quality: None,
        }
    }
}

/// The audio a caller plays into the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerAudio {
    /// Digital silence (still sent as RTP, so the far end sees media).
    Silence,
    /// A WAV file (8 kHz mono 16-bit PCM), resolved against the scenario file's folder.
    File(PathBuf),
}

/// `load:`: an offered-load profile with Poisson arrivals and sampled holding times.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioLoad {
    /// Offered load over time.
    pub profile: crate::traffic::Profile,
    /// Holding time after the answer.
    pub holding: crate::traffic::Holding,
    /// `trunks`: the target's trunk count, when declared.
    pub trunks: Option<u32>,
    /// `agents`: the target's agent queue (count, mean handle time, overhead), when declared.
    pub agents: Option<crate::traffic::check::AgentQueue>,
    /// `series_interval`: interval of the report's time series (default: from the length).
    pub series_interval: Option<Duration>,
}
