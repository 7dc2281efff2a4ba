//! The delay each packet gets: `delay + jitter · t`, with `t` drawn from netem's standardised
//! distributions and, when asked, correlated between consecutive packets.
//!
//! Every distribution is drawn from one standard normal score `z` per packet. Correlation
//! acts on the scores (`z = ρ·z_prev + √(1−ρ²)·e`, a Gaussian AR(1) chain), and the score
//! is mapped onto the distribution through its quantile function at `u = Φ(z)`. So the
//! marginal distribution is exactly the one asked for at any correlation. (netem mixes
//! uniform draws instead, `(1−ρ)·U + ρ·U_prev`, which narrows the distribution as ρ grows.)

use super::config::{Jitter, JitterDistribution};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::time::Duration;

/// netem's tables hold standardised values as 16-bit integers scaled by 8192 (its
/// `NETEM_DIST_SCALE`), so no draw is beyond ±4 (32767 / 8192).
const TABLE_LIMIT: f64 = 4.0;

/// Draws each packet's delay.
#[derive(Debug, Clone)]
pub(crate) struct DelaySampler {
    base_ns: f64,
    scale_ns: f64,
    distribution: JitterDistribution,
    rho: f64,
    innovation: f64,
    score: Option<f64>,
    rng: SmallRng,
}

impl DelaySampler {
    pub(crate) fn new(delay: Duration, jitter: &Jitter, seed: u64) -> Self {
        let rho = jitter.correlation;
        Self {
            base_ns: delay.as_nanos() as f64,
            scale_ns: jitter.amount.as_nanos() as f64,
            distribution: jitter.distribution,
            rho,
            innovation: (1.0 - rho * rho).sqrt(),
            score: None,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The next packet's delay (never negative: a draw below zero leaves at once, as in
    /// netem, whose send time is then already past).
    pub(crate) fn sample(&mut self) -> Duration {
        if self.scale_ns == 0.0 {
            return Duration::from_nanos(self.base_ns as u64);
        }
        let e: f64 = self.rng.sample(StandardNormal);
        let z = match self.score {
            Some(prev) => self.rho * prev + self.innovation * e,
            None => e,
        };
        self.score = Some(z);
        let t = standardised(self.distribution, z);
        let ns = self.base_ns + self.scale_ns * t;
        Duration::from_nanos(ns.max(0.0).round() as u64)
    }
}

/// The standardised value `t` of `distribution` at the normal score `z` (the delay is
/// `D + J·t`).
pub(crate) fn standardised(distribution: JitterDistribution, z: f64) -> f64 {
    match distribution {
        JitterDistribution::Normal => z.clamp(-TABLE_LIMIT, TABLE_LIMIT),
        // Φ(z) − Φ(−z) = 2Φ(z) − 1, computed symmetrically: uniform in (−1, 1).
        JitterDistribution::Uniform => normal_cdf(z) - normal_cdf(-z),
        JitterDistribution::Pareto => pareto(normal_cdf(-z)),
        JitterDistribution::ParetoNormal => (0.25 * z.clamp(-TABLE_LIMIT, TABLE_LIMIT)
            + 0.75 * pareto(normal_cdf(-z)))
        .clamp(-TABLE_LIMIT, TABLE_LIMIT),
    }
}

/// netem's Pareto table at upper-tail probability `q = 1 − u`: a Pareto variable of shape 3
/// and minimum 1 (`X = q^(−1/3)`, mean 1.5), centred on its mean and scaled by 4/3, cut at
/// the table's limit. Ranges over `[−2/3, 4]`.
fn pareto(q: f64) -> f64 {
    if q <= 0.0 {
        return TABLE_LIMIT;
    }
    let x = q.powf(-1.0 / 3.0);
    ((x - 1.5) * 4.0 / 3.0).min(TABLE_LIMIT)
}

/// The standard normal distribution function Φ(z), from the complementary error function
/// approximation of Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
pub(crate) fn normal_cdf(z: f64) -> f64 {
    // Φ(z) = ½·erfc(−z/√2); for x = |z|/√2 ≥ 0, erfc(x) ≈ poly(t)·e^(−x²), t = 1/(1 + 0.3275911x).
    let x = z.abs() * std::f64::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jitter(ms: u64, distribution: JitterDistribution, correlation: f64) -> Jitter {
        Jitter {
            amount: Duration::from_millis(ms),
            distribution,
            correlation,
        }
    }

    /// Delays in milliseconds.
    fn draw(n: usize, delay_ms: u64, j: &Jitter, seed: u64) -> Vec<f64> {
        let mut s = DelaySampler::new(Duration::from_millis(delay_ms), j, seed);
        (0..n).map(|_| s.sample().as_secs_f64() * 1e3).collect()
    }

    fn mean_std(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    fn quantile(v: &[f64], q: f64) -> f64 {
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        s[((s.len() - 1) as f64 * q).round() as usize]
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        for (z, want) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.959_963_985, 0.025),
            (3.090_232_306, 0.999),
            (-5.0, 2.866_515_7e-7),
        ] {
            assert!(
                (normal_cdf(z) - want).abs() < 2e-7,
                "Φ({z}) = {}",
                normal_cdf(z)
            );
        }
    }

    #[test]
    fn normal_jitter_has_sigma_j_around_the_delay() {
        // netem `delay 100ms 20ms distribution normal`.
        let v = draw(
            200_000,
            100,
            &jitter(20, JitterDistribution::Normal, 0.0),
            1,
        );
        let (mean, std) = mean_std(&v);
        assert!((mean - 100.0).abs() < 0.2, "mean {mean}");
        assert!((std - 20.0).abs() < 0.2, "std {std}");
        // Cut at ±4 σ like netem's table.
        assert!(v.iter().all(|d| (20.0..=180.0).contains(d)));
    }

    #[test]
    fn uniform_jitter_stays_within_plus_minus_j() {
        let v = draw(
            200_000,
            100,
            &jitter(20, JitterDistribution::Uniform, 0.0),
            2,
        );
        assert!(v.iter().all(|d| (80.0..=120.0).contains(d)));
        let (mean, std) = mean_std(&v);
        assert!((mean - 100.0).abs() < 0.1, "mean {mean}");
        // A uniform of half-width J has standard deviation J/√3.
        assert!((std - 20.0 / 3f64.sqrt()).abs() < 0.1, "std {std}");
        // Flat: each tenth of the range holds a tenth of the draws.
        for k in 0..10 {
            let lo = 80.0 + 4.0 * f64::from(k);
            let share =
                v.iter().filter(|d| **d >= lo && **d < lo + 4.0).count() as f64 / v.len() as f64;
            assert!((share - 0.1).abs() < 0.005, "bin {k}: {share}");
        }
    }

    #[test]
    fn pareto_jitter_has_netems_shape() {
        let v = draw(
            200_000,
            100,
            &jitter(30, JitterDistribution::Pareto, 0.0),
            3,
        );
        // Never below D − (2/3)·J, never above D + 4J.
        assert!(v.iter().all(|d| (80.0 - 1e-6..=220.0).contains(d)));
        // Median of t: (2^(1/3) − 1.5)·4/3 = −0.3201.
        let median = quantile(&v, 0.5);
        assert!(
            (median - (100.0 - 30.0 * 0.3201)).abs() < 0.3,
            "median {median}"
        );
        // 90th percentile: (10^(1/3) − 1.5)·4/3 = 0.8728.
        let p90 = quantile(&v, 0.9);
        assert!((p90 - (100.0 + 30.0 * 0.8728)).abs() < 0.5, "p90 {p90}");
    }

    #[test]
    fn paretonormal_mixes_at_the_same_quantile() {
        let v = draw(
            200_000,
            100,
            &jitter(20, JitterDistribution::ParetoNormal, 0.0),
            4,
        );
        // At the median the normal part is 0: t = 0.75·(−0.3201).
        let median = quantile(&v, 0.5);
        assert!(
            (median - (100.0 - 20.0 * 0.75 * 0.3201)).abs() < 0.3,
            "median {median}"
        );
        assert!(v.iter().all(|d| (20.0..=180.0).contains(d)));
    }

    #[test]
    fn correlation_links_consecutive_delays_and_keeps_the_spread() {
        for rho in [0.0, 0.5, 0.9] {
            let v = draw(
                200_000,
                100,
                &jitter(20, JitterDistribution::Normal, rho),
                5,
            );
            let (mean, std) = mean_std(&v);
            let lag1 = v
                .windows(2)
                .map(|w| (w[0] - mean) * (w[1] - mean))
                .sum::<f64>()
                / ((v.len() - 1) as f64 * std * std);
            assert!((lag1 - rho).abs() < 0.02, "ρ {rho}: lag-1 {lag1}");
            assert!((std - 20.0).abs() < 0.6, "ρ {rho}: std {std}");
        }
        // Uniform keeps its bounds and flatness when correlated.
        let v = draw(
            200_000,
            100,
            &jitter(20, JitterDistribution::Uniform, 0.8),
            6,
        );
        assert!(v.iter().all(|d| (80.0..=120.0).contains(d)));
        assert!((quantile(&v, 0.25) - 90.0).abs() < 1.0);
    }

    #[test]
    fn negative_draws_leave_at_once() {
        let v = draw(10_000, 5, &jitter(20, JitterDistribution::Normal, 0.0), 7);
        assert!(v.iter().all(|d| *d >= 0.0));
        assert!(v.iter().filter(|d| **d == 0.0).count() > 3000);
    }
}
