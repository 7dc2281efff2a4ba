//! The loss decision for each packet: independent (Bernoulli) or Gilbert–Elliott.

use super::config::{GilbertElliott, LossModel};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Decides, packet by packet, which are lost.
#[derive(Debug, Clone)]
pub(crate) struct LossProcess {
    model: LossModel,
    /// Gilbert–Elliott: whether the chain is in the Bad state.
    bad: bool,
    rng: SmallRng,
}

impl LossProcess {
    pub(crate) fn new(model: LossModel, seed: u64) -> Self {
        Self {
            model,
            bad: false,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// Whether the next packet is lost.
    pub(crate) fn lose(&mut self) -> bool {
        match self.model {
            LossModel::None => false,
            LossModel::Bernoulli { p } => self.rng.random::<f64>() < p,
            LossModel::GilbertElliott(GilbertElliott {
                p,
                r,
                loss_bad,
                loss_good,
            }) => {
                // As netem: the packet meets the loss of the state the chain is in; the chain
                // then moves for the next packet. Two draws per packet whatever happens, so
                // the stream stays aligned with the packets.
                let (lost, leave) = if self.bad {
                    (loss_bad, r)
                } else {
                    (loss_good, p)
                };
                let lost = self.rng.random::<f64>() < lost;
                if self.rng.random::<f64>() < leave {
                    self.bad = !self.bad;
                }
                lost
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 200_000;

    fn run(model: LossModel, seed: u64) -> Vec<bool> {
        let mut l = LossProcess::new(model, seed);
        (0..N).map(|_| l.lose()).collect()
    }

    /// Lengths of the runs of consecutive losses.
    fn bursts(lost: &[bool]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut run = 0;
        for &l in lost {
            if l {
                run += 1;
            } else if run > 0 {
                out.push(run);
                run = 0;
            }
        }
        if run > 0 {
            out.push(run);
        }
        out
    }

    fn rate(lost: &[bool]) -> f64 {
        lost.iter().filter(|l| **l).count() as f64 / lost.len() as f64
    }

    #[test]
    fn bernoulli_loses_the_configured_fraction() {
        for p in [0.01, 0.05, 0.3] {
            let got = rate(&run(LossModel::Bernoulli { p }, 11));
            // 4 standard errors of a binomial proportion.
            let tol = 4.0 * (p * (1.0 - p) / N as f64).sqrt();
            assert!((got - p).abs() < tol, "p {p}: {got}");
        }
        // Independent losses: bursts are geometric, mean 1/(1−p).
        let b = bursts(&run(LossModel::Bernoulli { p: 0.05 }, 12));
        let mean = b.iter().sum::<usize>() as f64 / b.len() as f64;
        assert!((mean - 1.0 / 0.95).abs() < 0.02, "mean burst {mean}");
        assert_eq!(rate(&run(LossModel::None, 1)), 0.0);
        assert_eq!(rate(&run(LossModel::Bernoulli { p: 1.0 }, 1)), 1.0);
    }

    #[test]
    fn gilbert_elliott_rate_and_burst_length() {
        // 5 % loss in bursts of 3 packets on average.
        let ge = GilbertElliott::from_loss_and_burst(0.05, 3.0).unwrap();
        let lost = run(LossModel::GilbertElliott(ge), 13);
        let got = rate(&lost);
        // Bursty losses vary more than independent ones: ~4 standard errors of the
        // proportion inflated by the burst length.
        assert!((got - 0.05).abs() < 0.005, "rate {got}");
        let b = bursts(&lost);
        let mean = b.iter().sum::<usize>() as f64 / b.len() as f64;
        assert!((mean - 3.0).abs() < 0.15, "mean burst {mean}");
        // Bursts are geometric in the Bad state: P(length 1) = r.
        let ones = b.iter().filter(|x| **x == 1).count() as f64 / b.len() as f64;
        assert!((ones - 1.0 / 3.0).abs() < 0.03, "single losses {ones}");
    }

    #[test]
    fn gilbert_elliott_four_parameters() {
        // netem `loss gemodel 2% 20% 70% 0.5%`.
        let ge = GilbertElliott::new(0.02, 0.2, 0.7, 0.005).unwrap();
        let want = ge.mean_loss();
        let got = rate(&run(LossModel::GilbertElliott(ge), 14));
        assert!((got - want).abs() < 0.007, "rate {got} vs {want}");
        // Never Bad (p = 0): only the Good state's loss.
        let ge = GilbertElliott::new(0.0, 0.5, 1.0, 0.02).unwrap();
        let got = rate(&run(LossModel::GilbertElliott(ge), 15));
        assert!((got - 0.02).abs() < 0.002, "rate {got}");
    }

    #[test]
    fn a_packet_meets_the_state_before_the_transition_as_in_netem() {
        // Good → Bad surely after the first packet, never back: the first packet meets the
        // Good state (kept), every later one the Bad state (lost).
        let ge = GilbertElliott::new(1.0, 0.0, 1.0, 0.0).unwrap();
        let mut l = LossProcess::new(LossModel::GilbertElliott(ge), 1);
        let got: Vec<bool> = (0..5).map(|_| l.lose()).collect();
        assert_eq!(got, [false, true, true, true, true]);
    }

    #[test]
    fn same_seed_same_losses() {
        let ge = LossModel::GilbertElliott(GilbertElliott::from_loss_and_burst(0.1, 4.0).unwrap());
        assert_eq!(run(ge, 99), run(ge, 99));
        assert_ne!(run(ge, 99), run(ge, 100));
    }
}
