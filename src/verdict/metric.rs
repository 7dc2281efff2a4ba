//! The metrics a threshold may name: their kind, unit, SPEC.md ids and whether callcert
//! measures them yet. A name outside this table is a configuration error (exit 104).

use super::expr::Aggregation;
use serde::Serialize;
use std::fmt;

/// What a metric's samples are, which decides the aggregations and statistics that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Successes out of trials (calls, packets): `rate`, `count`; Wilson intervals.
    Rate,
    /// A duration per sample: `avg min med max p(N) count`; limits in ms, s or m.
    Delay,
    /// A dimensionless score per sample (PESQ, MOS): `avg min med max p(N) count value`.
    Score,
}

impl MetricKind {
    /// Whether `aggregation` applies to this kind.
    pub fn allows(self, aggregation: Aggregation) -> bool {
        use Aggregation as A;
        match self {
            Self::Rate => matches!(aggregation, A::Rate | A::Count),
            Self::Delay => !matches!(aggregation, A::Rate | A::Value),
            Self::Score => !matches!(aggregation, A::Rate),
        }
    }

    /// The aggregations this kind allows, as listed in error messages.
    pub fn allowed_list(self) -> &'static str {
        match self {
            Self::Rate => "rate or count",
            Self::Delay => "avg, min, med, max, p(N) or count",
            Self::Score => "avg, min, med, max, p(N), count or value",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rate => "rate",
            Self::Delay => "delay",
            Self::Score => "score",
        })
    }
}

/// One known metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MetricInfo {
    /// The name thresholds use.
    pub name: &'static str,
    /// Its kind.
    pub kind: MetricKind,
    /// The unit of `measured` values in verdicts: `ms`, `ratio`, or the score's scale.
    pub unit: &'static str,
    /// The SPEC.md ids whose thresholds use it.
    pub spec_ids: &'static [&'static str],
    /// Whether callcert measures it yet; thresholds on the others report `not_measured`.
    pub measured: bool,
    /// One line: what is counted or timed.
    pub description: &'static str,
}

/// Every metric a threshold may name.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "connect_rate",
        kind: MetricKind::Rate,
        unit: "ratio",
        spec_ids: &["CERT-CONNECT-RATE"],
        measured: true,
        description: "answered ÷ attempted calls; for now answered at access level, \
                      CERT-CONNECT-RATE proper counts agent-answered ÷ offered to agents",
    },
    MetricInfo {
        name: "call_completion_rate",
        kind: MetricKind::Rate,
        unit: "ratio",
        spec_ids: &["ACC-CCR-IDLE", "ACC-CCR-BUSY"],
        measured: true,
        description: "succeeded ÷ attempted calls at the access equipment",
    },
    MetricInfo {
        name: "post_dial_delay",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &[],
        measured: true,
        description: "INVITE sent → first 180/183",
    },
    MetricInfo {
        name: "setup_time",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &["SYS-SETUP-RESPONSE"],
        measured: true,
        description: "INVITE sent → 200 OK received",
    },
    MetricInfo {
        name: "connect_delay",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &["ACC-CONNECT-DELAY"],
        measured: true,
        description: "INVITE sent → first voice received from the call center",
    },
    MetricInfo {
        name: "trying_delay",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &[],
        measured: true,
        description: "INVITE sent → 100 Trying (a diagnostic, no clause)",
    },
    MetricInfo {
        name: "dtmf_response",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &["ACC-DTMF-RESPONSE", "OPS-DTMF-RESPONSE"],
        measured: true,
        description: "each DTMF digit sent in an IVR flow → the voice response",
    },
    MetricInfo {
        name: "query_response",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &["ACC-QUERY-RESPONSE", "OPS-QUERY-RESPONSE"],
        measured: true,
        description: "last action selecting a database query → the result heard",
    },
    MetricInfo {
        name: "agent_wait",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &["OPS-AGENT-WAIT"],
        measured: true,
        description: "\"transfer to agent\" chosen → an agent answers",
    },
    MetricInfo {
        name: "ivr_success_rate",
        kind: MetricKind::Rate,
        unit: "ratio",
        spec_ids: &[
            "ACC-IVR-SUCCESS-IDLE",
            "ACC-IVR-SUCCESS-BUSY",
            "OPS-IVR-SUCCESS",
        ],
        measured: true,
        description: "IVR flows completed as scripted ÷ IVR flows attempted",
    },
    MetricInfo {
        name: "pesq_raw",
        kind: MetricKind::Score,
        unit: "p862_raw",
        spec_ids: &["ACC-PESQ-GOOD", "ACC-PESQ-POOR", "ACC-PESQ-BAD"],
        measured: false,
        description: "PESQ raw score, ITU-T P.862 (−0.5 to 4.5), one per scored call",
    },
    MetricInfo {
        name: "mos_lqo",
        kind: MetricKind::Score,
        unit: "mos_lqo",
        spec_ids: &[],
        measured: false,
        description: "PESQ mapped to MOS-LQO, ITU-T P.862.1 (1.02 to 4.55)",
    },
    MetricInfo {
        name: "voip_one_way_delay",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &["ACC-VOIP-DELAY"],
        measured: false,
        description: "one-way mouth-to-ear delay after connect, one sample per call",
    },
    MetricInfo {
        name: "voip_loss",
        kind: MetricKind::Rate,
        unit: "ratio",
        spec_ids: &["ACC-VOIP-LOSS"],
        measured: false,
        description: "RTP packets lost ÷ expected, both directions",
    },
    MetricInfo {
        name: "service_level",
        kind: MetricKind::Rate,
        unit: "ratio",
        spec_ids: &["CERT-SERVICE-LEVEL"],
        measured: false,
        description: "calls answered by an agent within 20 s ÷ calls offered to agents",
    },
    MetricInfo {
        name: "asa",
        kind: MetricKind::Delay,
        unit: "ms",
        spec_ids: &["CERT-ASA"],
        measured: false,
        description: "queue time + ring time per agent-answered call (its mean is the ASA)",
    },
    MetricInfo {
        name: "availability",
        kind: MetricKind::Rate,
        unit: "ratio",
        spec_ids: &["SYS-AVAILABILITY"],
        measured: true,
        description: "probes answered ÷ probes sent over the observation window (the monitor's \
                      OPTIONS pings)",
    },
    MetricInfo {
        name: "busy_idle_wait_ratio",
        kind: MetricKind::Score,
        unit: "×",
        spec_ids: &["OPS-BUSY-IDLE-PARITY"],
        measured: true,
        description: "the longer ÷ the shorter mean agent wait of busy and idle hours of the day \
                      (monitor windows); judged with a permutation test across hours and a 10 s \
                      margin, see monitor::window",
    },
];

/// The metric called `name`, if there is one.
pub fn lookup_metric(name: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name)
}

/// The known metric closest to `name` in spelling, for "did you mean" hints.
pub fn closest_metric(name: &str) -> Option<&'static str> {
    METRICS
        .iter()
        .map(|m| (edit_distance(name, m.name), m.name))
        .filter(|(d, candidate)| *d <= 3.max(candidate.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(current)
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        for (i, m) in METRICS.iter().enumerate() {
            assert!(m.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(
                METRICS[i + 1..].iter().all(|o| o.name != m.name),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn the_measured_set_is_the_one_callcert_records() {
        let measured: Vec<&str> = METRICS
            .iter()
            .filter(|m| m.measured)
            .map(|m| m.name)
            .collect();
        assert_eq!(
            measured,
            [
                "connect_rate",
                "call_completion_rate",
                "post_dial_delay",
                "setup_time",
                "connect_delay",
                "trying_delay",
                "dtmf_response",
                "query_response",
                "agent_wait",
                "ivr_success_rate",
                "availability",
                "busy_idle_wait_ratio"
            ]
        );
    }

    #[test]
    fn kinds_allow_the_k6_aggregations() {
        assert!(MetricKind::Rate.allows(Aggregation::Rate));
        assert!(MetricKind::Rate.allows(Aggregation::Count));
        assert!(!MetricKind::Rate.allows(Aggregation::Avg));
        assert!(MetricKind::Delay.allows(Aggregation::Percentile(95.0)));
        assert!(!MetricKind::Delay.allows(Aggregation::Rate));
        assert!(!MetricKind::Delay.allows(Aggregation::Value));
        assert!(MetricKind::Score.allows(Aggregation::Value));
    }

    #[test]
    fn lookup_and_hints() {
        assert_eq!(
            lookup_metric("setup_time").map(|m| m.kind),
            Some(MetricKind::Delay)
        );
        assert!(lookup_metric("setup").is_none());
        assert_eq!(closest_metric("conect_rate"), Some("connect_rate"));
        assert_eq!(closest_metric("post_dial_dely"), Some("post_dial_delay"));
        assert_eq!(closest_metric("zzzz"), None);
    }
}
