//! Certification score factors (SPEC.md §D; seed 003 §9.3 and Annex C.3) and the PESQ scale
//! mapping of ITU-T P.862.1 (for ACC-PESQ-GOOD/POOR/BAD).

use serde::Serialize;

/// ITU-T P.862.1 (11/2003) eq. 1: MOS-LQO from a raw P.862 PESQ score,
/// `0.999 + 4 / (1 + exp(−1.4945·raw + 4.6607))`; maps −0.5…4.5 to about 1.02…4.55.
///
/// YD/T 2823 §10.3.1.4 cites P.862 itself, so its limits 3.8 / 3.4 / 2.8 are raw scores: raw
/// 2.8 is only MOS-LQO 2.53 (ACC-PESQ-BAD).
pub fn mos_lqo_from_p862_raw(raw: f64) -> f64 {
    0.999 + 4.0 / (1.0 + (-1.4945 * raw + 4.6607).exp())
}

/// The inverse of [`mos_lqo_from_p862_raw`]: the raw P.862 score of a MOS-LQO, for MOS-LQO in
/// the open interval (0.999, 4.999); NaN outside it.
pub fn p862_raw_from_mos_lqo(mos_lqo: f64) -> f64 {
    let x = mos_lqo - 0.999;
    if !(x > 0.0 && x < 4.0) {
        return f64::NAN;
    }
    (4.6607 - (4.0 / x - 1.0).ln()) / 1.4945
}

/// CERT-CONNECT-RATE score factor from the connect rate (agent-answered ÷ offered, 0…1).
///
/// Seed 003 §9.3.3: "接通率应达到90%以上，折算系数为1.0；接通率在80%~90%之间，折算系数为0.9；
/// 接通率在70%~80%之间，折算系数为0.8；接通率低于70%，折算系数为0". "以上" includes its number
/// (GB/T 1.1 usage), and "低于" excludes it, so 90 % → 1.0 and 70 % → 0.8; the shared edge
/// 80 % goes, like 90 %, to the higher band (0.9). Bands: [0.9, 1] → 1.0, [0.8, 0.9) → 0.9,
/// [0.7, 0.8) → 0.8, below 0.7 → 0.
pub fn connect_rate_factor(rate: f64) -> f64 {
    if rate >= 0.90 {
        1.0
    } else if rate >= 0.80 {
        0.9
    } else if rate >= 0.70 {
        0.8
    } else {
        0.0
    }
}

/// CERT-ASA score factor from the average speed of answer in seconds.
///
/// Seed 003 §9.3.2: "平均应答速度 ≤20秒，折算系数为1.0；>20秒~≤30秒，折算系数为0.8；>30秒，
/// 折算系数为0.6": ≤ 20 s → 1.0, (20, 30] s → 0.8, > 30 s → 0.6.
pub fn asa_factor(asa_seconds: f64) -> f64 {
    if asa_seconds <= 20.0 {
        1.0
    } else if asa_seconds <= 30.0 {
        0.8
    } else {
        0.6
    }
}

/// The four sub-scores of the operational-efficiency category, each out of 100 (seed 003 §9.3
/// scores each "满分100分").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EfficiencyScores {
    /// Service level, CERT-SERVICE-LEVEL (weight 15 %).
    pub service_level: f64,
    /// Average speed of answer, CERT-ASA (weight 10 %); e.g. 100 × [`asa_factor`].
    pub asa: f64,
    /// Connect rate, CERT-CONNECT-RATE (weight 10 %); e.g. 100 × [`connect_rate_factor`].
    pub connect_rate: f64,
    /// Agent utilisation (weight 5 %): assessed by auditors, not measured by calls.
    pub agent_utilisation: f64,
}

/// Annex C.3 weights: service level 15 %, ASA 10 %, connect rate 10 %, agent utilisation 5 %.
pub const EFFICIENCY_WEIGHTS: EfficiencyScores = EfficiencyScores {
    service_level: 0.15,
    asa: 0.10,
    connect_rate: 0.10,
    agent_utilisation: 0.05,
};

/// Seed 003 Annex C.3: "运营效率评价得分 = Σ（二级指标得分 × 二级指标权重）", the weighted sum of
/// the sub-scores. With sub-scores out of 100 the category contributes at most 40 points to the
/// overall score of Annex C.5.
pub fn operational_efficiency_score(scores: &EfficiencyScores) -> f64 {
    let w = EFFICIENCY_WEIGHTS;
    scores.service_level * w.service_level
        + scores.asa * w.asa
        + scores.connect_rate * w.connect_rate
        + scores.agent_utilisation * w.agent_utilisation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p862_1_mapping() {
        // Hand-computed from P.862.1 eq. 1: raw 2.8 → 0.999 + 4/(1 + e^0.4761) = 2.532.
        assert!((mos_lqo_from_p862_raw(2.8) - 2.532).abs() < 1e-3);
        assert!((mos_lqo_from_p862_raw(3.4) - 3.414).abs() < 1e-3);
        assert!((mos_lqo_from_p862_raw(3.8) - 3.938).abs() < 1e-3);
        // The ends of the raw range map to P.862.1's stated 1.02 and 4.55.
        assert!((mos_lqo_from_p862_raw(-0.5) - 1.017).abs() < 1e-3);
        assert!((mos_lqo_from_p862_raw(4.5) - 4.549).abs() < 1e-3);
        for raw in [-0.5, 1.0, 2.8, 3.8, 4.5] {
            assert!((p862_raw_from_mos_lqo(mos_lqo_from_p862_raw(raw)) - raw).abs() < 1e-9);
        }
        assert!(p862_raw_from_mos_lqo(5.0).is_nan());
    }

    #[test]
    fn connect_rate_bands_at_their_edges() {
        assert_eq!(connect_rate_factor(1.0), 1.0);
        assert_eq!(connect_rate_factor(0.90), 1.0);
        assert_eq!(connect_rate_factor(0.8999), 0.9);
        assert_eq!(connect_rate_factor(0.80), 0.9);
        assert_eq!(connect_rate_factor(0.7999), 0.8);
        assert_eq!(connect_rate_factor(0.70), 0.8);
        assert_eq!(connect_rate_factor(0.6999), 0.0);
        assert_eq!(connect_rate_factor(0.0), 0.0);
    }

    #[test]
    fn asa_bands_at_their_edges() {
        assert_eq!(asa_factor(0.0), 1.0);
        assert_eq!(asa_factor(20.0), 1.0);
        assert_eq!(asa_factor(20.001), 0.8);
        assert_eq!(asa_factor(30.0), 0.8);
        assert_eq!(asa_factor(30.001), 0.6);
        assert_eq!(asa_factor(600.0), 0.6);
    }

    #[test]
    fn weighted_efficiency_score() {
        let full = EfficiencyScores {
            service_level: 100.0,
            asa: 100.0,
            connect_rate: 100.0,
            agent_utilisation: 100.0,
        };
        assert!((operational_efficiency_score(&full) - 40.0).abs() < 1e-9);
        // ASA 25 s (0.8) and connect rate 85 % (0.9): 15 + 8 + 9 + 4 = 36.
        let s = EfficiencyScores {
            service_level: 100.0,
            asa: 100.0 * asa_factor(25.0),
            connect_rate: 100.0 * connect_rate_factor(0.85),
            agent_utilisation: 80.0,
        };
        assert!((operational_efficiency_score(&s) - 36.0).abs() < 1e-9);
    }
}
