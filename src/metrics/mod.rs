//! Aggregates of a run: HDR histograms of the delays and counters of outcomes, bounded in memory
//! whatever the length of the run; the run's time series ([`series`]); and, for `load:` runs,
//! the same aggregates per profile phase with the samples of the Erlang checks ([`load`]).

pub mod load;
pub mod series;

use crate::engine::record::{CallRecord, FailureKind};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Errors reading stored metrics back (report merge and re-check).
#[derive(Debug, Error)]
pub enum MetricsError {
    /// The histogram text is not base64.
    #[error("histogram {name}: not base64: {reason}")]
    Base64 {
        /// Metric name.
        name: String,
        /// Decoder message.
        reason: String,
    },
    /// The bytes are not an HDR histogram (V2 or V2 deflate).
    #[error("histogram {name}: not an HDR histogram: {reason}")]
    Hdr {
        /// Metric name.
        name: String,
        /// Decoder message.
        reason: String,
    },
}

/// A delay histogram as stored in report.json: the exact sum (for an exact mean) and the HDR
/// histogram, V2-deflate serialized and base64 encoded, so shards merge without loss.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistogramSnapshot {
    /// Sum of all samples, µs.
    pub sum_us: f64,
    /// The histogram (µs), HdrHistogram V2 deflate, base64.
    pub hdr: String,
}

/// Summary statistics of one delay metric, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DelaySummary {
    /// SPEC.md id the metric carries, when it has one.
    pub spec_id: Option<&'static str>,
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Minimum.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// A delay histogram in microseconds, 1 µs to 1 hour at 3 significant digits.
#[derive(Debug, Clone)]
pub struct DelayHistogram {
    spec_id: Option<&'static str>,
    hist: Histogram<u64>,
    sum_us: f64,
}

impl DelayHistogram {
    /// An empty histogram for a metric.
    pub fn new(spec_id: Option<&'static str>) -> Self {
        DelayHistogram {
            spec_id,
            // 1 µs .. 1 h, 3 significant figures: a fixed, small footprint.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).expect("3 sig figs is valid")),
            sum_us: 0.0,
        }
    }

    /// Records a delay in milliseconds (negative values, which cannot happen, are clamped).
    pub fn record_ms(&mut self, ms: f64) {
        let us = (ms * 1000.0).round().max(1.0) as u64;
        self.hist.saturating_record(us);
        self.sum_us += ms * 1000.0;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The stored form of this histogram.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut bytes = Vec::new();
        // Serializing into a Vec cannot fail for a valid histogram; an empty string marks the
        // impossible case and reads back as an error.
        let ok = V2DeflateSerializer::new()
            .serialize(&self.hist, &mut bytes)
            .is_ok();
        HistogramSnapshot {
            sum_us: self.sum_us,
            hdr: if ok {
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            } else {
                String::new()
            },
        }
    }

    /// Reads a stored histogram back.
    pub fn from_snapshot(
        name: &str,
        spec_id: Option<&'static str>,
        snap: &HistogramSnapshot,
    ) -> Result<Self, MetricsError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&snap.hdr)
            .map_err(|e| MetricsError::Base64 {
                name: name.to_string(),
                reason: e.to_string(),
            })?;
        let hist: Histogram<u64> = Deserializer::new()
            .deserialize(&mut std::io::Cursor::new(bytes))
            .map_err(|e| MetricsError::Hdr {
                name: name.to_string(),
                reason: format!("{e:?}"),
            })?;
        let mut out = DelayHistogram::new(spec_id);
        let _ = out.hist.add(&hist);
        out.sum_us = snap.sum_us;
        Ok(out)
    }

    /// The underlying histogram (µs).
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Merges another histogram of the same metric.
    pub fn merge(&mut self, other: &DelayHistogram) {
        let _ = self.hist.add(&other.hist);
        self.sum_us += other.sum_us;
    }

    /// The summary; the mean is exact (from the running sum), quantiles are HDR's.
    pub fn summary(&self) -> Option<DelaySummary> {
        let n = self.hist.len();
        if n == 0 {
            return None;
        }
        let q = |p: f64| self.hist.value_at_quantile(p) as f64 / 1000.0;
        Some(DelaySummary {
            spec_id: self.spec_id,
            count: n,
            mean_ms: self.sum_us / n as f64 / 1000.0,
            min_ms: self.hist.min() as f64 / 1000.0,
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: self.hist.max() as f64 / 1000.0,
        })
    }
}

/// The verdict engine's view: HDR percentiles, the exact mean from the running sum.
impl crate::verdict::DelayStats for DelayHistogram {
    fn count(&self) -> u64 {
        self.hist.len()
    }
    fn mean_ms(&self) -> f64 {
        match self.hist.len() {
            0 => 0.0,
            n => self.sum_us / n as f64 / 1000.0,
        }
    }
    fn stddev_ms(&self) -> f64 {
        crate::verdict::DelayStats::stddev_ms(&self.hist)
    }
    fn min_ms(&self) -> f64 {
        crate::verdict::DelayStats::min_ms(&self.hist)
    }
    fn max_ms(&self) -> f64 {
        crate::verdict::DelayStats::max_ms(&self.hist)
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        crate::verdict::DelayStats::percentile_ms(&self.hist, p)
    }
}

/// All aggregates of a run.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    /// Calls placed (INVITE sent or attempted).
    pub attempted: u64,
    /// Calls answered with 2xx.
    pub answered: u64,
    /// Calls that ran their course with media and ended normally.
    pub succeeded: u64,
    /// Failed calls by reason.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Final SIP error codes seen.
    pub sip_codes: BTreeMap<u16, u64>,
    /// Post-dial delay: INVITE sent → first 180/183 received.
    pub post_dial_delay: DelayHistogram,
    /// Setup time: INVITE sent → 200 OK received (SYS-SETUP-RESPONSE).
    pub setup_time: DelayHistogram,
    /// Connect delay: INVITE sent → first voice received (ACC-CONNECT-DELAY).
    pub connect_delay: DelayHistogram,
    /// INVITE sent → first 100 Trying.
    pub trying_delay: DelayHistogram,
    /// Launch lateness: scheduled start → INVITE on the wire.
    pub launch_lateness: DelayHistogram,
    /// DTMF response: end of a step's last digit on the wire → voice onset (ACC-DTMF-RESPONSE).
    pub dtmf_response: DelayHistogram,
    /// Query response: end of a query's last digit → its result's onset (ACC-QUERY-RESPONSE).
    pub query_response: DelayHistogram,
    /// Agent wait: transfer chosen → agent answers (OPS-AGENT-WAIT).
    pub agent_wait: DelayHistogram,
    /// Answered calls that ran an IVR flow.
    pub ivr_flows: u64,
    /// Of those, flows that completed every step (ACC-IVR-SUCCESS-*, OPS-IVR-SUCCESS).
    pub ivr_completed: u64,
    /// SIP retransmissions sent by us.
    pub retransmissions_sent: u64,
    /// SIP retransmissions received from the far end.
    pub retransmissions_received: u64,
    /// RTP packets received.
    pub rtp_received: u64,
    /// RTP packets lost (RFC 3550 cumulative).
    pub rtp_lost: i64,
    /// RTP packets sent.
    pub rtp_sent: u64,
    /// Packets our sender skipped because it woke too late to send them (an overloaded
    /// harness: the far end then receives less than a real phone sends).
    pub rtp_late_skipped: u64,
    /// Largest RFC 3550 interarrival jitter of any call, ms.
    pub max_jitter_ms: f64,
}

impl Default for RunMetrics {
    fn default() -> Self {
        RunMetrics {
            attempted: 0,
            answered: 0,
            succeeded: 0,
            failures: BTreeMap::new(),
            sip_codes: BTreeMap::new(),
            post_dial_delay: DelayHistogram::new(None),
            setup_time: DelayHistogram::new(Some("SYS-SETUP-RESPONSE")),
            connect_delay: DelayHistogram::new(Some("ACC-CONNECT-DELAY")),
            trying_delay: DelayHistogram::new(None),
            launch_lateness: DelayHistogram::new(None),
            dtmf_response: DelayHistogram::new(Some("ACC-DTMF-RESPONSE")),
            query_response: DelayHistogram::new(Some("ACC-QUERY-RESPONSE")),
            agent_wait: DelayHistogram::new(Some("OPS-AGENT-WAIT")),
            ivr_flows: 0,
            ivr_completed: 0,
            retransmissions_sent: 0,
            retransmissions_received: 0,
            rtp_received: 0,
            rtp_lost: 0,
            rtp_sent: 0,
            rtp_late_skipped: 0,
            max_jitter_ms: 0.0,
        }
    }
}

impl RunMetrics {
    /// Adds one finished call.
    pub fn record(&mut self, r: &CallRecord) {
        self.attempted += 1;
        if r.answered_ms.is_some() {
            self.answered += 1;
        }
        match &r.failure {
            None => self.succeeded += 1,
            Some(f) => *self.failures.entry(f.kind).or_default() += 1,
        }
        if let Some(c) = r.final_code.filter(|c| *c >= 300) {
            *self.sip_codes.entry(c).or_default() += 1;
        }
        if let Some(v) = r.post_dial_delay_ms() {
            self.post_dial_delay.record_ms(v);
        }
        if let Some(v) = r.setup_time_ms() {
            self.setup_time.record_ms(v);
        }
        if let Some(v) = r.connect_delay_ms() {
            self.connect_delay.record_ms(v);
        }
        if let (Some(i), Some(t)) = (r.invite_sent_ms, r.first_100_ms) {
            self.trying_delay.record_ms(t - i);
        }
        if let Some(i) = r.invite_sent_ms {
            self.launch_lateness.record_ms(i - r.scheduled_ms);
        }
        if let Some(ivr) = &r.ivr {
            self.ivr_flows += 1;
            self.ivr_completed += u64::from(ivr.completed);
            for v in &ivr.dtmf_response_ms {
                self.dtmf_response.record_ms(*v);
            }
            for v in &ivr.query_response_ms {
                self.query_response.record_ms(*v);
            }
            for v in &ivr.agent_wait_ms {
                self.agent_wait.record_ms(*v);
            }
        }
        self.retransmissions_sent += u64::from(r.retransmissions_sent);
        self.retransmissions_received += u64::from(r.retransmissions_received);
        if let Some(m) = &r.media {
            self.rtp_received += m.rx_packets;
            self.rtp_lost += m.rx_lost;
            self.rtp_sent += m.tx_packets;
            self.rtp_late_skipped += m.tx_late_skipped;
            self.max_jitter_ms = self.max_jitter_ms.max(m.rx_jitter_ms);
        }
    }

    /// Connect rate: answered ÷ attempted.
    pub fn connect_rate(&self) -> Option<f64> {
        (self.attempted > 0).then(|| self.answered as f64 / self.attempted as f64)
    }

    /// Success rate: succeeded ÷ attempted.
    pub fn success_rate(&self) -> Option<f64> {
        (self.attempted > 0).then(|| self.succeeded as f64 / self.attempted as f64)
    }

    /// Failed calls.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    fn histograms(&self) -> [(&'static str, &DelayHistogram); 8] {
        [
            ("dtmf_response", &self.dtmf_response),
            ("query_response", &self.query_response),
            ("agent_wait", &self.agent_wait),
            ("post_dial_delay", &self.post_dial_delay),
            ("setup_time", &self.setup_time),
            ("connect_delay", &self.connect_delay),
            ("trying_delay", &self.trying_delay),
            ("launch_lateness", &self.launch_lateness),
        ]
    }

    fn histograms_mut(&mut self) -> [(&'static str, &mut DelayHistogram); 8] {
        [
            ("dtmf_response", &mut self.dtmf_response),
            ("query_response", &mut self.query_response),
            ("agent_wait", &mut self.agent_wait),
            ("post_dial_delay", &mut self.post_dial_delay),
            ("setup_time", &mut self.setup_time),
            ("connect_delay", &mut self.connect_delay),
            ("trying_delay", &mut self.trying_delay),
            ("launch_lateness", &mut self.launch_lateness),
        ]
    }

    /// Adds another run's (or shard's) aggregates: counters add, histograms merge bucket by
    /// bucket (never averaged).
    pub fn merge(&mut self, o: &RunMetrics) {
        self.attempted += o.attempted;
        self.answered += o.answered;
        self.succeeded += o.succeeded;
        self.ivr_flows += o.ivr_flows;
        self.ivr_completed += o.ivr_completed;
        for (k, v) in &o.failures {
            *self.failures.entry(*k).or_default() += v;
        }
        for (k, v) in &o.sip_codes {
            *self.sip_codes.entry(*k).or_default() += v;
        }
        let theirs = o.histograms();
        for ((_, mine), (_, other)) in self.histograms_mut().into_iter().zip(theirs) {
            mine.merge(other);
        }
        self.retransmissions_sent += o.retransmissions_sent;
        self.retransmissions_received += o.retransmissions_received;
        self.rtp_received += o.rtp_received;
        self.rtp_lost += o.rtp_lost;
        self.rtp_sent += o.rtp_sent;
        self.rtp_late_skipped += o.rtp_late_skipped;
        self.max_jitter_ms = self.max_jitter_ms.max(o.max_jitter_ms);
    }

    /// What the verdict engine judges: rates as (successes, trials), delays as histograms.
    pub fn measurements(&self) -> crate::verdict::Measurements<'_> {
        let mut m = crate::verdict::Measurements::default();
        m.rates
            .insert("connect_rate".into(), (self.answered, self.attempted));
        m.rates.insert(
            "call_completion_rate".into(),
            (self.succeeded, self.attempted),
        );
        if self.ivr_flows > 0 {
            m.rates.insert(
                "ivr_success_rate".into(),
                (self.ivr_completed, self.ivr_flows),
            );
        }
        for (name, h) in self.histograms() {
            let ivr_only = matches!(name, "dtmf_response" | "query_response" | "agent_wait");
            if name != "launch_lateness" && (h.count() > 0 || !ivr_only) {
                m.delays
                    .insert(name.into(), h as &dyn crate::verdict::DelayStats);
            }
        }
        m
    }

    /// The stored form, written into report.json.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            attempted: self.attempted,
            answered: self.answered,
            succeeded: self.succeeded,
            ivr_flows: self.ivr_flows,
            ivr_completed: self.ivr_completed,
            failures: self.failures.clone(),
            sip_codes: self.sip_codes.clone(),
            histograms: self
                .histograms()
                .into_iter()
                .map(|(k, h)| (k.to_string(), h.snapshot()))
                .collect(),
            retransmissions_sent: self.retransmissions_sent,
            retransmissions_received: self.retransmissions_received,
            rtp_received: self.rtp_received,
            rtp_lost: self.rtp_lost,
            rtp_sent: self.rtp_sent,
            rtp_late_skipped: self.rtp_late_skipped,
            max_jitter_ms: self.max_jitter_ms,
        }
    }

    /// Reads stored aggregates back (for `report merge` and `report check`).
    pub fn from_snapshot(s: &MetricsSnapshot) -> Result<RunMetrics, MetricsError> {
        let mut m = RunMetrics {
            attempted: s.attempted,
            answered: s.answered,
            succeeded: s.succeeded,
            ivr_flows: s.ivr_flows,
            ivr_completed: s.ivr_completed,
            failures: s.failures.clone(),
            sip_codes: s.sip_codes.clone(),
            retransmissions_sent: s.retransmissions_sent,
            retransmissions_received: s.retransmissions_received,
            rtp_received: s.rtp_received,
            rtp_lost: s.rtp_lost,
            rtp_sent: s.rtp_sent,
            rtp_late_skipped: s.rtp_late_skipped,
            max_jitter_ms: s.max_jitter_ms,
            ..RunMetrics::default()
        };
        for (name, h) in m.histograms_mut() {
            if let Some(snap) = s.histograms.get(name) {
                *h = DelayHistogram::from_snapshot(name, h.spec_id, snap)?;
            }
        }
        Ok(m)
    }
}

/// [`RunMetrics`] as stored in report.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricsSnapshot {
    /// Calls placed.
    pub attempted: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls succeeded.
    pub succeeded: u64,
    /// Answered calls that ran an IVR flow.
    #[serde(default)]
    pub ivr_flows: u64,
    /// Flows that completed.
    #[serde(default)]
    pub ivr_completed: u64,
    /// Failures by reason.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Final SIP error codes.
    pub sip_codes: BTreeMap<u16, u64>,
    /// Delay histograms by metric name.
    pub histograms: BTreeMap<String, HistogramSnapshot>,
    /// Retransmissions sent.
    pub retransmissions_sent: u64,
    /// Retransmissions received.
    pub retransmissions_received: u64,
    /// RTP packets received.
    pub rtp_received: u64,
    /// RTP packets lost.
    pub rtp_lost: i64,
    /// RTP packets sent (absent in reports before it was kept).
    #[serde(default)]
    pub rtp_sent: u64,
    /// RTP packets skipped by a late sender.
    #[serde(default)]
    pub rtp_late_skipped: u64,
    /// Largest per-call jitter, ms.
    pub max_jitter_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_and_halves_merge_into_the_whole() {
        let mut whole = DelayHistogram::new(Some("ACC-CONNECT-DELAY"));
        let mut a = DelayHistogram::new(Some("ACC-CONNECT-DELAY"));
        let mut b = DelayHistogram::new(Some("ACC-CONNECT-DELAY"));
        for i in 0..2000 {
            let ms = 100.0 + (i * 37 % 900) as f64 * 0.731;
            whole.record_ms(ms);
            if i % 2 == 0 {
                a.record_ms(ms)
            } else {
                b.record_ms(ms)
            }
        }
        let a2 = DelayHistogram::from_snapshot("x", a.spec_id, &a.snapshot()).unwrap();
        let mut merged = DelayHistogram::from_snapshot("x", b.spec_id, &b.snapshot()).unwrap();
        merged.merge(&a2);
        let (w, m) = (whole.summary().unwrap(), merged.summary().unwrap());
        assert_eq!(w.count, m.count);
        assert!((w.mean_ms - m.mean_ms).abs() < 1e-9);
        assert_eq!(
            (w.p50_ms, w.p95_ms, w.p99_ms, w.max_ms),
            (m.p50_ms, m.p95_ms, m.p99_ms, m.max_ms)
        );
        let bad = HistogramSnapshot {
            sum_us: 0.0,
            hdr: "!!".into(),
        };
        assert!(DelayHistogram::from_snapshot("x", None, &bad).is_err());
    }

    #[test]
    fn mean_is_exact_and_quantiles_close() {
        let mut h = DelayHistogram::new(None);
        for i in 1..=1000 {
            h.record_ms(i as f64 / 10.0);
        }
        let s = h.summary().unwrap();
        assert_eq!(s.count, 1000);
        assert!((s.mean_ms - 50.05).abs() < 1e-9, "{}", s.mean_ms);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{}", s.p50_ms);
        assert!((s.max_ms - 100.0).abs() < 0.1);
        assert_eq!(DelayHistogram::new(None).summary(), None);
    }
}
