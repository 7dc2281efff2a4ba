//! Aggregates of a run: HDR histograms of the delays and counters of outcomes, bounded in memory
//! whatever the length of the run.

use crate::engine::record::{CallRecord, FailureKind};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// SIP retransmissions sent by us.
    pub retransmissions_sent: u64,
    /// SIP retransmissions received from the far end.
    pub retransmissions_received: u64,
    /// RTP packets received.
    pub rtp_received: u64,
    /// RTP packets lost (RFC 3550 cumulative).
    pub rtp_lost: i64,
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
            retransmissions_sent: 0,
            retransmissions_received: 0,
            rtp_received: 0,
            rtp_lost: 0,
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
        self.retransmissions_sent += u64::from(r.retransmissions_sent);
        self.retransmissions_received += u64::from(r.retransmissions_received);
        if let Some(m) = &r.media {
            self.rtp_received += m.rx_packets;
            self.rtp_lost += m.rx_lost;
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
