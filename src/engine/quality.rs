//! Voice quality of each call (`call.quality`): the heard audio is scored on a worker pool,
//! off the media path, and the call's record is handed to the run once its score is in.

use crate::impair::ImpairStats;
use crate::media::jitter::EarpieceStats;
use crate::media::session::MediaStats;
use crate::quality::{self, CodecImpairment, EModelInput, PesqScore};
use crate::scenario::QualityPlan;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

/// The scenario's quality plan with its reference loaded and prepared once for every call.
pub struct QualitySetup {
    /// The plan.
    pub plan: QualityPlan,
    reference: quality::p862::PreparedReference,
}

impl std::fmt::Debug for QualitySetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QualitySetup")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl QualitySetup {
    /// Loads the reference recording (resampled to 8 kHz when it is not) and prepares it.
    pub fn load(plan: &QualityPlan) -> Result<Self, String> {
        let what = |e: quality::QualityError| format!("{}: {e}", plan.reference.display());
        let pcm = quality::read_wav_at(&plan.reference, 8000).map_err(what)?;
        let reference =
            quality::p862::PreparedReference::narrowband(&pcm.samples, 8000).map_err(what)?;
        Ok(Self {
            plan: plan.clone(),
            reference,
        })
    }
}

/// What a call's voice quality came to: the network it went through, the receiver that
/// played it, the delays, and the two scores (P.862 against the reference, E-model from the
/// measured loss and delay).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallQuality {
    /// The condition's label (summaries group calls by it).
    pub condition: String,
    /// P.862 raw score below which the call counts as poor (the SPEC's scale).
    pub threshold: f64,
    /// The impairment applied to the received media (compact form), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The impairment applied to the sent media, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_tx: Option<String>,
    /// What the impairment did to the received packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_stats: Option<ImpairStats>,
    /// The receiver: jitter-buffer settings, network loss, late discards, bursts, concealment.
    pub receiver: Option<EarpieceStats>,
    /// RFC 3550 interarrival jitter of the received stream at the end, ms.
    pub jitter_ms: f64,
    /// Mean one-way network delay from the far end's sender reports, ms (exact on a shared clock).
    pub one_way_delay_ms: Option<f64>,
    /// Half the RTCP round-trip time, ms.
    pub rtt_one_way_delay_ms: Option<f64>,
    /// Mouth to ear (ACC-VOIP-DELAY): network delay (sender reports, else RTT / 2) plus the
    /// 20 ms packetization, the mean jitter-buffer delay and the concealer's 3.75 ms, ms.
    pub mouth_to_ear_ms: Option<f64>,
    /// P.862 raw score and P.862.1 MOS-LQO of the reference found in the heard audio.
    pub pesq: Option<PesqScore>,
    /// Where the reference was found in the heard audio, ms from its start.
    pub reference_offset_ms: Option<f64>,
    /// G.107 transmission rating R from the measured effective loss, burst ratio and delay.
    pub r_factor: Option<f64>,
    /// MOS-CQE from R (G.107 Annex B).
    pub mos_cqe: Option<f64>,
    /// Why a score is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The heard audio, as written (relative to the report folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heard_wav: Option<String>,
}

/// Every scored call of a run, for the verdict: the run's network condition (from a preset
/// name) and the two score metrics.
#[derive(Debug, Clone, Default)]
pub struct RunScores {
    /// `good`, `poor` or `bad` when the condition is a preset's name; `Any` otherwise.
    pub network: crate::verdict::NetworkCondition,
    /// P.862 raw scores (the scale of the SPEC's limits, see the acceptance profile).
    pub pesq_raw: crate::verdict::SampleSet,
    /// P.862.1 MOS-LQO.
    pub mos_lqo: crate::verdict::SampleSet,
}

/// The run's scores by condition, gathered as records arrive.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    groups: std::collections::BTreeMap<String, (Vec<f64>, f64)>,
    raw: Vec<f64>,
    mos: Vec<f64>,
}

impl Tally {
    /// Counts a call's P.862 raw score under its condition (MOS-LQO for wideband, which has
    /// no raw score); calls without a score are not counted.
    pub fn record(&mut self, r: &super::record::CallRecord) {
        let Some(q) = &r.quality else { return };
        let Some(p) = &q.pesq else { return };
        if let Some(raw) = p.raw {
            self.raw.push(raw);
        }
        self.mos.push(p.mos_lqo);
        self.groups
            .entry(q.condition.clone())
            .or_insert_with(|| (Vec::new(), q.threshold))
            .0
            .push(p.raw.unwrap_or(p.mos_lqo));
    }

    /// The scores for the verdict, under the run's condition.
    pub fn run_scores(&self, condition: &str) -> RunScores {
        use crate::verdict::NetworkCondition;
        RunScores {
            network: match condition {
                "good" => NetworkCondition::Good,
                "poor" => NetworkCondition::Poor,
                "bad" => NetworkCondition::Bad,
                _ => NetworkCondition::Any,
            },
            pesq_raw: crate::verdict::SampleSet::new(self.raw.clone()),
            mos_lqo: crate::verdict::SampleSet::new(self.mos.clone()),
        }
    }

    /// Count, mean, p5, minimum and calls below the threshold, per condition.
    pub fn summaries(&self) -> Vec<quality::ConditionSummary> {
        self.groups
            .iter()
            .filter_map(|(name, (scores, threshold))| {
                quality::summarize(name, scores, *threshold).ok()
            })
            .collect()
    }
}

/// What a call hands to the scorer when it ends.
pub(crate) struct Heard {
    pub index: u64,
    pub audio: Vec<i16>,
    pub stats: MediaStats,
    pub network: Option<ImpairStats>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The scoring workers of a run (half the CPUs, at least one). Jobs run in order of
/// submission; dropping the scorer lets the workers finish the queue and exit.
pub(crate) struct Scorer {
    setup: Arc<QualitySetup>,
    heard_dir: Option<PathBuf>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Scorer {
    pub fn start(setup: Arc<QualitySetup>, heard_dir: Option<PathBuf>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .max(1);
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("callcert-score-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })?;
        }
        if let Some(dir) = &heard_dir {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self {
            setup,
            heard_dir,
            jobs: Mutex::new(Some(tx)),
        })
    }

    /// Scores `heard` on a worker, then calls `done` with the result (on the worker).
    pub fn submit(&self, heard: Heard, done: impl FnOnce(CallQuality) + Send + 'static) {
        let setup = self.setup.clone();
        let dir = self.heard_dir.clone();
        let job: Job = Box::new(move || done(assess(&setup, dir.as_deref(), heard)));
        let sent = match self.jobs.lock() {
            Ok(guard) => guard.as_ref().map(|tx| tx.send(job)),
            Err(_) => None,
        };
        if let Some(Err(mpsc::SendError(job))) = sent {
            // No worker left (they cannot exit while the sender lives; belt and braces).
            job();
        }
    }
}

/// Scores one call's heard audio.
pub(crate) fn assess(setup: &QualitySetup, dir: Option<&std::path::Path>, h: Heard) -> CallQuality {
    let plan = &setup.plan;
    let receiver = h.stats.heard.clone();
    let network_ms = h.stats.one_way_delay_ms.or(h.stats.rtt_one_way_delay_ms);
    let mouth_to_ear_ms = match (network_ms, &receiver) {
        (Some(n), Some(r)) => {
            Some(n + 20.0 + r.mean_buffer_delay_ms + r.jitter_buffer.plc_delay_ms)
        }
        _ => None,
    };
    let mut error = None;
    let mut heard_wav = None;
    if let Some(dir) = dir {
        let name = format!("call-{:06}.wav", h.index);
        match crate::media::audio::write_wav(&dir.join(&name), &h.audio) {
            Ok(()) => heard_wav = Some(format!("heard/{name}")),
            Err(e) => error = Some(format!("heard audio not written: {e}")),
        }
    }
    let (pesq, offset) = match setup.reference.score_received(&h.audio) {
        Ok(s) => (Some(s.score), Some(s.alignment.offset_ms())),
        Err(e) => {
            error = Some(format!("P.862: {e}"));
            (None, None)
        }
    };
    let (r_factor, mos_cqe) = match (&receiver, mouth_to_ear_ms) {
        (Some(r), Some(delay)) => {
            let input = EModelInput {
                one_way_delay_ms: delay,
                packet_loss_pct: r.effective_loss * 100.0,
                burst_ratio: r.burst_ratio.max(1.0),
                codec: CodecImpairment::G711Plc,
            };
            match quality::r_factor(&input) {
                Ok(r) => (Some(r), Some(quality::mos_from_r(r))),
                Err(e) => {
                    error.get_or_insert_with(|| format!("E-model: {e}"));
                    (None, None)
                }
            }
        }
        _ => (None, None),
    };
    CallQuality {
        condition: plan.condition.clone(),
        threshold: plan.threshold,
        network: plan.network_rx.map(|c| c.to_string()),
        network_tx: plan.network_tx.map(|c| c.to_string()),
        network_stats: h.network,
        receiver,
        jitter_ms: h.stats.jitter_ms,
        one_way_delay_ms: h.stats.one_way_delay_ms,
        rtt_one_way_delay_ms: h.stats.rtt_one_way_delay_ms,
        mouth_to_ear_ms,
        pesq,
        reference_offset_ms: offset,
        r_factor,
        mos_cqe,
        error,
        heard_wav,
    }
}
