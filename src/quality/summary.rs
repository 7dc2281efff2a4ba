//! Per-condition statistics of voice-quality scores (ACC-PESQ-GOOD, -POOR, -BAD compare the
//! mean of each network condition against its threshold).

use std::collections::BTreeMap;

use serde::Serialize;

use super::QualityError;

/// The scores of the calls of one network condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionSummary {
    /// The condition's name ("good", "poor", "bad", or a scenario's own).
    pub condition: String,
    /// Calls scored.
    pub count: usize,
    /// Mean score (`None` when no call was scored).
    pub mean: Option<f64>,
    /// 5th percentile, nearest rank: the ⌈0.05·n⌉-th lowest score.
    pub p5: Option<f64>,
    /// Lowest score.
    pub min: Option<f64>,
    /// The threshold the counts below refer to.
    pub threshold: f64,
    /// Calls that scored below the threshold.
    pub below_threshold: usize,
}

/// Summarizes the `scores` of one condition against `threshold`. A NaN or infinite score is an
/// error (it would poison the mean without a trace).
pub fn summarize(
    condition: &str,
    scores: &[f64],
    threshold: f64,
) -> Result<ConditionSummary, QualityError> {
    for &value in scores.iter().chain([&threshold]) {
        if !value.is_finite() {
            return Err(QualityError::OutOfRange {
                name: "score",
                value,
                range: "a finite number",
            });
        }
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let count = sorted.len();
    let rank = (count as f64 * 0.05).ceil().max(1.0) as usize;
    Ok(ConditionSummary {
        condition: condition.to_owned(),
        count,
        mean: (count > 0).then(|| sorted.iter().sum::<f64>() / count as f64),
        p5: sorted.get(rank - 1).copied(),
        min: sorted.first().copied(),
        threshold,
        below_threshold: sorted.iter().filter(|&&s| s < threshold).count(),
    })
}

/// Summarizes every condition of `groups` (name → scores), each against `threshold(name)`, in
/// name order.
pub fn summarize_groups(
    groups: &BTreeMap<String, Vec<f64>>,
    threshold: impl Fn(&str) -> f64,
) -> Result<Vec<ConditionSummary>, QualityError> {
    groups
        .iter()
        .map(|(name, scores)| summarize(name, scores, threshold(name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_one_condition() {
        let scores: Vec<f64> = (1..=40).map(|i| f64::from(i) / 10.0).collect();
        let summary = summarize("poor", &scores, 3.4).unwrap();
        assert_eq!(summary.count, 40);
        assert!((summary.mean.unwrap() - 2.05).abs() < 1e-12);
        // ⌈0.05·40⌉ = 2nd lowest.
        assert_eq!(summary.p5, Some(0.2));
        assert_eq!(summary.min, Some(0.1));
        assert_eq!(summary.below_threshold, 33);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["condition"], "poor");
        assert_eq!(json["below_threshold"], 33);
    }

    #[test]
    fn small_empty_and_invalid_groups() {
        let one = summarize("good", &[4.1], 3.8).unwrap();
        assert_eq!(
            (one.mean, one.p5, one.min, one.below_threshold),
            (Some(4.1), Some(4.1), Some(4.1), 0)
        );
        let empty = summarize("bad", &[], 2.8).unwrap();
        assert_eq!(
            (empty.count, empty.mean, empty.p5, empty.min),
            (0, None, None, None)
        );
        assert!(summarize("bad", &[3.0, f64::NAN], 2.8).is_err());
        assert!(summarize("bad", &[3.0], f64::INFINITY).is_err());
    }

    #[test]
    fn groups_are_summarized_with_their_own_thresholds() {
        let groups = BTreeMap::from([
            ("good".to_owned(), vec![4.2, 3.7]),
            ("bad".to_owned(), vec![2.9, 2.7, 2.5]),
        ]);
        let thresholds = |name: &str| if name == "good" { 3.8 } else { 2.8 };
        let summaries = summarize_groups(&groups, thresholds).unwrap();
        assert_eq!(summaries[0].condition, "bad");
        assert_eq!(summaries[0].below_threshold, 2);
        assert_eq!(summaries[1].condition, "good");
        assert_eq!(summaries[1].below_threshold, 1);
    }
}
