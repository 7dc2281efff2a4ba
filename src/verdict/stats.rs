//! Sampling statistics behind the verdicts: normal and Student-t quantiles, the Wilson score
//! interval of a proportion, the t interval of a mean, distribution-free ranks for percentiles,
//! and the sample sizes a threshold needs to be decided (SPEC.md §A–§D thresholds are all
//! claims about a population measured through a finite sample of calls).
//!
//! No statistics crate is used: the two quantile functions are classic rational approximations
//! (Acklam for the normal, Hill 1970 for Student's t), checked against published tables in the
//! tests below.

use std::f64::consts::{FRAC_PI_2, PI};

/// The confidence used when none is given: 95 %.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// Quantile of the standard normal distribution: the `z` with Φ(z) = `p`, for 0 < p < 1.
///
/// P. J. Acklam's rational approximation (relative error below 1.15·10⁻⁹). Returns ±∞ at 0
/// and 1 and NaN outside [0, 1].
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

/// Quantile of Student's t distribution with `df` degrees of freedom: the `t` with
/// P(T ≤ t) = `p`, for 0 < p < 1 and df > 0.
///
/// Exact closed forms for df = 1 and 2; otherwise G. W. Hill, "Algorithm 396: Student's
/// t-quantiles", Comm. ACM 13(10):619–620, 1970 (the same expansion R's `qt` starts from),
/// accurate to about 10⁻⁵ relative for df ≥ 3 at the usual confidence levels.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p.is_nan() || df.is_nan() || df <= 0.0 || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if df.is_infinite() {
        return normal_quantile(p);
    }
    // Hill works on the two-tailed probability P(|T| > t) and returns t > 0.
    let two_tailed = 2.0 * p.min(1.0 - p);
    let t = if df == 1.0 {
        // Cauchy: t = tan(π (1 − P) / 2).
        (FRAC_PI_2 * (1.0 - two_tailed)).tan()
    } else if df == 2.0 {
        (2.0 / (two_tailed * (2.0 - two_tailed)) - 2.0).sqrt()
    } else {
        hill_upper(two_tailed, df)
    };
    if p < 0.5 {
        -t
    } else {
        t
    }
}

/// Hill (1970), Algorithm 396: the positive t with P(|T| > t) = `two_tailed`.
fn hill_upper(two_tailed: f64, n: f64) -> f64 {
    let a = 1.0 / (n - 0.5);
    let b = 48.0 / (a * a);
    let mut c = ((20_700.0 * a / b - 98.0) * a - 16.0) * a + 96.36;
    let d = ((94.5 / (b + c) - 3.0) / b + 1.0) * (a * PI / 2.0).sqrt() * n;
    let y = (d * two_tailed).powf(2.0 / n);
    let y = if y > 0.05 + a {
        // Asymptotic inverse expansion about the normal.
        let x = normal_quantile(0.5 * two_tailed);
        let y = x * x;
        if n < 5.0 {
            c += 0.3 * (n - 4.5) * (x + 0.6);
        }
        c += (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b;
        let y = (((((0.4 * y + 6.3) * y + 36.0) * y + 94.5) / c - y - 3.0) / b + 1.0) * x;
        (a * y * y).exp_m1()
    } else {
        ((1.0 / (((n + 6.0) / (n * y) - 0.089 * d - 0.822) * (n + 2.0) * 3.0) + 0.5 / (n + 4.0))
            * y
            - 1.0)
            * (n + 1.0)
            / (n + 2.0)
            + 1.0 / y
    };
    (n * y).sqrt()
}

/// The two-sided Wilson score interval of a proportion: `successes` of `trials` at
/// `confidence` (e.g. 0.95). `None` when there are no trials or the input is inconsistent.
///
/// E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
/// JASA 22:209–212, 1927. The interval is the set of p₀ the score test does not reject:
/// |p̂ − p₀| ≤ z·√(p₀(1 − p₀)/n).
pub fn wilson_interval(successes: u64, trials: u64, confidence: f64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials || !valid_confidence(confidence) {
        return None;
    }
    let z = normal_quantile(0.5 + confidence / 2.0);
    Some(wilson_with_z(successes, trials, z))
}

/// Wilson bounds for a given normal deviate `z`.
fn wilson_with_z(successes: u64, trials: u64, z: f64) -> (f64, f64) {
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// One-sided confidence bounds on a proportion, each holding with probability `confidence`
/// (so together a two-sided interval at 2·confidence − 1): the Wilson bounds, except that with
/// no failures (no successes) the lower (upper) bound is the exact Clopper–Pearson one,
/// (1 − confidence)^(1/n), because Wilson's is too optimistic at the edge (Brown, Cai &
/// DasGupta, "Interval estimation for a binomial proportion", Statistical Science 16(2), 2001,
/// §4.1.1). This is what makes [`zero_failure_trials`] and the verdict agree.
pub fn proportion_bounds(successes: u64, trials: u64, confidence: f64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials || !valid_confidence(confidence) {
        return None;
    }
    let z = normal_quantile(confidence);
    let (mut lower, mut upper) = wilson_with_z(successes, trials, z);
    let exact_edge = (1.0 - confidence).powf(1.0 / trials as f64);
    if successes == trials {
        lower = exact_edge;
        upper = 1.0;
    }
    if successes == 0 {
        upper = 1.0 - exact_edge;
        lower = 0.0;
    }
    Some((lower, upper))
}

/// The number of trials with no failure at all that shows a success rate of at least
/// `p0` with one-sided `confidence`: the smallest n with p₀ⁿ ≤ 1 − confidence, that is
/// n ≥ ln(1 − confidence) / ln(p₀).
///
/// 99.99 % at 95 % needs 29 956 calls (the "rule of three", 3/n: Hanley & Lippman-Hand, "If
/// nothing goes wrong, is everything all right?", JAMA 249(13):1743–1745, 1983). `None` when
/// p0 is not in (0, 1).
pub fn zero_failure_trials(p0: f64, confidence: f64) -> Option<u64> {
    if !is_open_unit(p0) || !valid_confidence(confidence) {
        return None;
    }
    ceil_count((1.0 - confidence).ln() / p0.ln())
}

/// Trials needed to decide a rate threshold at `p0` when the true rate is `observed`: the n at
/// which the one-sided Wilson bound on the far side of `observed` reaches `p0`,
/// n = z²·p₀(1 − p₀)/(p̂ − p₀)², z = Φ⁻¹(confidence). With `observed` 1 (0) the exact
/// zero-failure count of [`zero_failure_trials`] applies instead. `None` when the observed rate
/// equals the limit (no sample size decides it) or an input is out of range.
pub fn rate_trials_needed(observed: f64, p0: f64, confidence: f64) -> Option<u64> {
    if !(0.0..=1.0).contains(&observed) || !(0.0..=1.0).contains(&p0) {
        return None;
    }
    if !valid_confidence(confidence) || observed == p0 {
        return None;
    }
    if observed == 1.0 {
        return zero_failure_trials(p0, confidence);
    }
    if observed == 0.0 {
        return zero_failure_trials(1.0 - p0, confidence);
    }
    let z = normal_quantile(confidence);
    let gap = observed - p0;
    ceil_count(z * z * p0 * (1.0 - p0) / (gap * gap))
}

/// One-sided confidence bounds on a mean from `n` samples of mean `mean` and sample standard
/// deviation `stddev`: mean ∓ t(confidence, n − 1)·s/√n, each bound holding with probability
/// `confidence` (together the two-sided t interval at 2·confidence − 1). `None` below 2 samples.
pub fn mean_bounds(n: u64, mean: f64, stddev: f64, confidence: f64) -> Option<(f64, f64)> {
    if n < 2 || !valid_confidence(confidence) || !mean.is_finite() || !stddev.is_finite() {
        return None;
    }
    let half = t_quantile(confidence, (n - 1) as f64) * stddev.abs() / (n as f64).sqrt();
    Some((mean - half, mean + half))
}

/// The two-sided t confidence interval of a mean at `confidence` (e.g. 0.95):
/// mean ± t(1 − α/2, n − 1)·s/√n. `None` below 2 samples.
pub fn mean_interval(n: u64, mean: f64, stddev: f64, confidence: f64) -> Option<(f64, f64)> {
    if !valid_confidence(confidence) {
        return None;
    }
    mean_bounds(n, mean, stddev, 0.5 + confidence / 2.0)
}

/// Samples needed for the one-sided `confidence` bound of a mean to stay within `margin` of it,
/// t(confidence, n − 1)·s/√n ≤ margin, given the standard deviation `stddev`. At least 2;
/// `None` when the margin is not positive.
pub fn mean_samples_needed(stddev: f64, margin: f64, confidence: f64) -> Option<u64> {
    if margin.is_nan() || margin <= 0.0 || !stddev.is_finite() || !valid_confidence(confidence) {
        return None;
    }
    let s = stddev.abs();
    if s == 0.0 {
        return Some(2);
    }
    // Start from the normal approximation and walk up while the t quantile is still too wide.
    let z = normal_quantile(confidence);
    let mut n = ceil_count((z * s / margin).powi(2))?.max(2);
    while t_quantile(confidence, (n - 1) as f64) * s / (n as f64).sqrt() > margin {
        n = n.checked_add(1 + n / 1000)?;
    }
    Some(n)
}

/// Distribution-free one-sided confidence ranks of the `q`-quantile (0 < q < 1) of `n`
/// samples: the 1-based order statistics X₍ₗ₎ ≤ ξ_q ≤ X₍ᵤ₎, each holding with probability
/// `confidence`, from the normal approximation to the binomial count of samples below ξ_q
/// (W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed., Wiley 1999, §3.2):
/// l = ⌊nq − z√(nq(1 − q))⌋, u = ⌈nq + z√(nq(1 − q))⌉.
///
/// A side is `None` when its rank falls outside 1..=n: the sample is too small to bound the
/// percentile on that side (p(99) needs 268 samples for an upper bound at 95 %; the exact
/// binomial answer is 299, ln 0.05 / ln 0.99).
pub fn quantile_ranks(n: u64, q: f64, confidence: f64) -> (Option<u64>, Option<u64>) {
    if n == 0 || !is_open_unit(q) || !valid_confidence(confidence) {
        return (None, None);
    }
    let nf = n as f64;
    let spread = normal_quantile(confidence) * (nf * q * (1.0 - q)).sqrt();
    let lower = (nf * q - spread).floor();
    let upper = (nf * q + spread).ceil();
    let lower = (lower >= 1.0).then_some(lower as u64);
    let upper = (upper <= nf).then_some(upper as u64);
    (lower, upper)
}

/// The smallest sample size for which [`quantile_ranks`] gives the `q`-quantile an upper
/// (`upper == true`) or lower bound at all.
pub fn quantile_samples_needed(q: f64, confidence: f64, upper: bool) -> Option<u64> {
    if !is_open_unit(q) || !valid_confidence(confidence) {
        return None;
    }
    // The side of the bound needs n·(1 − q) (or n·q) ≥ z·√(n q (1 − q)) + 1 samples beyond it.
    let z = normal_quantile(confidence);
    let far = if upper { 1.0 - q } else { q };
    let mut n = ceil_count(z * z * q * (1.0 - q) / (far * far))?.max(1);
    loop {
        let (l, u) = quantile_ranks(n, q, confidence);
        if (upper && u.is_some()) || (!upper && l.is_some()) {
            return Some(n);
        }
        n = n.checked_add(1 + n / 1000)?;
    }
}

/// `x.ceil()` as a count, `None` when not finite or beyond u64.
fn ceil_count(x: f64) -> Option<u64> {
    if x.is_finite() && x >= 0.0 && x < u64::MAX as f64 {
        Some(x.ceil() as u64)
    } else {
        None
    }
}

/// A confidence strictly between 0 and 1.
pub(crate) fn valid_confidence(confidence: f64) -> bool {
    is_open_unit(confidence)
}

/// 0 < x < 1 (false for NaN).
fn is_open_unit(x: f64) -> bool {
    x > 0.0 && x < 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_quantiles_match_published_values() {
        // Abramowitz & Stegun, Handbook of Mathematical Functions, Table 26.5 (and any z table).
        assert!(close(normal_quantile(0.975), 1.959_963_985, 1e-8));
        assert!(close(normal_quantile(0.95), 1.644_853_627, 1e-8));
        assert!(close(normal_quantile(0.995), 2.575_829_304, 1e-8));
        assert!(close(normal_quantile(0.9995), 3.290_526_731, 1e-8));
        assert!(close(normal_quantile(0.01), -2.326_347_874, 1e-8));
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn t_quantiles_match_the_nist_table() {
        // NIST/SEMATECH e-Handbook of Statistical Methods §1.3.6.7.2, "Critical values of the
        // Student's t distribution" (upper-tail probabilities 0.05, 0.025, 0.005).
        let table: &[(f64, f64, f64)] = &[
            (0.975, 1.0, 12.706),
            (0.975, 2.0, 4.303),
            (0.975, 3.0, 3.182),
            (0.975, 4.0, 2.776),
            (0.975, 5.0, 2.571),
            (0.975, 10.0, 2.228),
            (0.975, 20.0, 2.086),
            (0.975, 30.0, 2.042),
            (0.975, 100.0, 1.984),
            (0.95, 1.0, 6.314),
            (0.95, 3.0, 2.353),
            (0.95, 10.0, 1.812),
            (0.95, 29.0, 1.699),
            (0.995, 5.0, 4.032),
            (0.995, 10.0, 3.169),
            (0.995, 60.0, 2.660),
        ];
        for &(p, df, t) in table {
            let got = t_quantile(p, df);
            assert!(close(got, t, 6e-4), "t({p}, {df}) = {got}, table {t}");
            assert!(close(t_quantile(1.0 - p, df), -t, 6e-4));
        }
        // Large df tends to the normal.
        assert!(close(t_quantile(0.975, 1e7), 1.959_964, 1e-5));
        assert!(t_quantile(0.975, 0.0).is_nan());
    }

    #[test]
    fn wilson_matches_newcombe_1998() {
        // R. G. Newcombe, "Two-sided confidence intervals for the single proportion: comparison
        // of seven methods", Statistics in Medicine 17:857–872, 1998, Table II, method 3
        // (score method without continuity correction), 95 %.
        let cases: &[(u64, u64, f64, f64)] = &[
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ];
        for &(x, n, lo, hi) in cases {
            let (l, h) = wilson_interval(x, n, 0.95).expect("valid input");
            assert!(close(l, lo, 6e-5) && close(h, hi, 6e-5), "{x}/{n}: {l} {h}");
        }
        assert_eq!(wilson_interval(1, 0, 0.95), None);
        assert_eq!(wilson_interval(3, 2, 0.95), None);
    }

    #[test]
    fn proportion_bounds_are_exact_at_the_edges() {
        // 0.05^(1/29956) = 0.999 900 00…: just clears 99.99 %.
        let (lo, hi) = proportion_bounds(29_956, 29_956, 0.95).expect("valid");
        assert!(lo >= 0.9999 && hi == 1.0);
        let (lo, _) = proportion_bounds(29_955, 29_955, 0.95).expect("valid");
        assert!(lo < 0.9999);
        let (lo, hi) = proportion_bounds(0, 100, 0.95).expect("valid");
        assert!(lo == 0.0 && close(hi, 1.0 - 0.05f64.powf(0.01), 1e-12));
        // Away from the edges: the one-sided 95 % Wilson bound is the two-sided 90 % interval.
        let one_sided = proportion_bounds(81, 263, 0.95).expect("valid");
        let two_sided = wilson_interval(81, 263, 0.90).expect("valid");
        assert!(close(one_sided.0, two_sided.0, 1e-12) && close(one_sided.1, two_sided.1, 1e-12));
    }

    #[test]
    fn zero_failure_sample_sizes() {
        // ln(0.05)/ln(0.9999) = 29 955.8 → 29 956 calls for 99.99 % (ACC-CCR-IDLE);
        // ln(0.05)/ln(0.9996) = 7 487.9 → 7 488 for 99.96 % (ACC-CCR-BUSY);
        // ln(0.05)/ln(0.99) = 298.07 → 299 for 99 % (the rule of three: ≈ 3/0.01 = 300).
        assert_eq!(zero_failure_trials(0.9999, 0.95), Some(29_956));
        assert_eq!(zero_failure_trials(0.9996, 0.95), Some(7_488));
        assert_eq!(zero_failure_trials(0.99, 0.95), Some(299));
        assert_eq!(zero_failure_trials(1.0, 0.95), None);
        assert_eq!(rate_trials_needed(1.0, 0.9999, 0.95), Some(29_956));
    }

    #[test]
    fn rate_sample_size_from_the_score_test() {
        // Hand computation: z = 1.644 853 6, p0 = 0.9, observed 0.95:
        // 2.705 543 × 0.09 / 0.0025 = 97.40 → 98 trials.
        assert_eq!(rate_trials_needed(0.95, 0.9, 0.95), Some(98));
        // Near that n the one-sided Wilson bound of an observed 95 % reaches the limit:
        // 95/100 clears 90 %, 47/50 (94 %) does not.
        let (lo, _) = proportion_bounds(95, 100, 0.95).expect("valid");
        assert!(lo > 0.9, "{lo}");
        let (lo, _) = proportion_bounds(47, 50, 0.95).expect("valid");
        assert!(lo < 0.9, "{lo}");
        // Observed below the limit: the same n shows the failure.
        assert_eq!(rate_trials_needed(0.85, 0.9, 0.95), Some(98));
        assert_eq!(rate_trials_needed(0.9, 0.9, 0.95), None);
    }

    #[test]
    fn mean_interval_by_hand() {
        // n = 10, mean 900 ms, s = 200 ms: t(0.975, 9) = 2.262 (NIST table), half-width
        // 2.262 × 200/√10 = 143.1 ms.
        let (lo, hi) = mean_interval(10, 900.0, 200.0, 0.95).expect("valid");
        assert!(close(lo, 756.9, 0.1) && close(hi, 1043.1, 0.1), "{lo} {hi}");
        assert_eq!(mean_interval(1, 900.0, 0.0, 0.95), None);
    }

    #[test]
    fn mean_sample_size() {
        // s = 200 ms, margin 100 ms, one-sided 95 %: z-estimate (1.645 × 2)² = 10.8; with t,
        // n = 13: t(0.95, 12) = 1.782, 1.782 × 200/√13 = 98.8 ≤ 100, while n = 12 gives
        // t(0.95, 11) = 1.796, 1.796 × 200/√12 = 103.7 > 100.
        assert_eq!(mean_samples_needed(200.0, 100.0, 0.95), Some(13));
        assert_eq!(mean_samples_needed(0.0, 100.0, 0.95), Some(2));
        assert_eq!(mean_samples_needed(200.0, 0.0, 0.95), None);
    }

    #[test]
    fn quantile_rank_bounds() {
        // n = 1000, q = 0.95: nq = 950, √(nq(1−q)) = 6.892, z = 1.645 → 950 ∓ 11.34.
        assert_eq!(quantile_ranks(1000, 0.95, 0.95), (Some(938), Some(962)));
        // p(99) with 100 samples has no upper bound. n = 268: 265.32 + 1.645 × √2.6532
        // = 267.999 → rank 268; n = 267 needs rank 268 > 267.
        assert_eq!(quantile_ranks(100, 0.99, 0.95).1, None);
        let needed = quantile_samples_needed(0.99, 0.95, true).expect("finite");
        assert_eq!(needed, 268);
        assert!(quantile_ranks(needed, 0.99, 0.95).1.is_some());
        assert!(quantile_ranks(needed - 1, 0.99, 0.95).1.is_none());
    }
}
