//! The E-model of ITU-T G.107: transmission rating R and MOS-CQE from delay and packet loss.
//!
//! Narrowband only (the 0–100 R scale of G.107). Codec values are those of G.113 Appendix I for
//! G.711; the wideband E-model (G.107.1, R up to 129) and its G.722/Opus values are not
//! implemented.
//!
//! [`G107Parameters::rating`] computes every term of G.107 §3 (Ro, Is, Id, Ie-eff) from the
//! full parameter set, so a planner can change any of them; [`r_factor`] is the common case
//! of measured one-way delay and loss with every other parameter at its G.107 Table 3 default.

use serde::{Deserialize, Serialize};

use super::QualityError;

/// The codec's equipment impairment Ie and packet-loss robustness Bpl (G.113 Appendix I).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodecImpairment {
    /// G.711 with packet-loss concealment (G.711 Appendix I): Ie 0, Bpl 25.1.
    G711Plc,
    /// G.711 without concealment (silence in place of lost packets): Ie 0, Bpl 4.3.
    G711NoPlc,
    /// Values from elsewhere (G.113 tables for other codecs, or a lab's own measurement).
    Custom {
        /// Equipment impairment factor Ie, 0–95.
        ie: f64,
        /// Packet-loss robustness factor Bpl, > 0.
        bpl: f64,
    },
}

impl CodecImpairment {
    /// Equipment impairment factor Ie.
    pub fn ie(&self) -> f64 {
        match *self {
            Self::G711Plc | Self::G711NoPlc => 0.0,
            Self::Custom { ie, .. } => ie,
        }
    }

    /// Packet-loss robustness factor Bpl.
    pub fn bpl(&self) -> f64 {
        match *self {
            Self::G711Plc => 25.1,
            Self::G711NoPlc => 4.3,
            Self::Custom { bpl, .. } => bpl,
        }
    }
}

/// What a call measured, for the E-model (every other G.107 parameter at its default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EModelInput {
    /// Mean one-way mouth-to-ear delay Ta in ms (ACC-VOIP-DELAY). The echo path is taken as
    /// the same delay (T = Ta, round trip Tr = 2·Ta), with echo loss at the G.107 defaults.
    pub one_way_delay_ms: f64,
    /// Packet loss Ppl in percent, 0–100 (ACC-VOIP-LOSS).
    pub packet_loss_pct: f64,
    /// BurstR: 1 for random loss, above 1 for bursty loss ([`burst_ratio`]).
    pub burst_ratio: f64,
    /// The codec's Ie and Bpl.
    pub codec: CodecImpairment,
}

/// Every input of the G.107 §3 computation. [`Default`] gives the values of G.107 Table 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct G107Parameters {
    /// Send loudness rating SLR, dB (8).
    pub slr: f64,
    /// Receive loudness rating RLR, dB (2).
    pub rlr: f64,
    /// Sidetone masking rating STMR, dB (15).
    pub stmr: f64,
    /// Listener sidetone rating LSTR, dB (18).
    pub lstr: f64,
    /// D-value of the telephone's send side Ds (3).
    pub ds: f64,
    /// D-value of the telephone's receive side Dr (3).
    pub dr: f64,
    /// Talker echo loudness rating TELR, dB (65).
    pub telr: f64,
    /// Weighted echo path loss WEPL, dB (110).
    pub wepl: f64,
    /// Mean one-way delay of the echo path T, ms (0).
    pub t: f64,
    /// Round-trip delay in a 4-wire loop Tr, ms (0).
    pub tr: f64,
    /// Absolute delay in echo-free connections Ta, ms (0).
    pub ta: f64,
    /// Number of quantization distortion units qdu (1).
    pub qdu: f64,
    /// Equipment impairment factor Ie (0).
    pub ie: f64,
    /// Packet-loss robustness factor Bpl (1; 25.1 for G.711 with concealment).
    pub bpl: f64,
    /// Random packet-loss probability Ppl, % (0).
    pub ppl: f64,
    /// Burst ratio BurstR (1).
    pub burst_r: f64,
    /// Circuit noise referred to the 0 dBr point Nc, dBm0p (−70).
    pub nc: f64,
    /// Noise floor at the receive side Nfor, dBmp (−64).
    pub nfor: f64,
    /// Room noise at the send side Ps, dB(A) (35).
    pub ps: f64,
    /// Room noise at the receive side Pr, dB(A) (35).
    pub pr: f64,
    /// Advantage factor A (0).
    pub a: f64,
}

impl Default for G107Parameters {
    fn default() -> Self {
        Self {
            slr: 8.0,
            rlr: 2.0,
            stmr: 15.0,
            lstr: 18.0,
            ds: 3.0,
            dr: 3.0,
            telr: 65.0,
            wepl: 110.0,
            t: 0.0,
            tr: 0.0,
            ta: 0.0,
            qdu: 1.0,
            ie: 0.0,
            bpl: 1.0,
            ppl: 0.0,
            burst_r: 1.0,
            nc: -70.0,
            nfor: -64.0,
            ps: 35.0,
            pr: 35.0,
            a: 0.0,
        }
    }
}

/// The terms of R = Ro − Is − Id − Ie-eff + A (G.107 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rating {
    /// Transmission rating factor R.
    pub r: f64,
    /// Basic signal-to-noise ratio Ro.
    pub ro: f64,
    /// Simultaneous impairment factor Is.
    pub is: f64,
    /// Delay impairment factor Id.
    pub id: f64,
    /// Effective equipment impairment factor Ie-eff.
    pub ie_eff: f64,
    /// Advantage factor A.
    pub a: f64,
}

/// 10·log10 of a sum of powers given in dB.
fn power_sum_db(levels: &[f64]) -> f64 {
    10.0 * levels
        .iter()
        .map(|l| 10_f64.powf(l / 10.0))
        .sum::<f64>()
        .log10()
}

impl G107Parameters {
    /// Table 3 defaults with the measured delay, loss and codec of `input` (T = Ta, Tr = 2·Ta).
    pub fn from_input(input: &EModelInput) -> Self {
        Self {
            t: input.one_way_delay_ms,
            tr: 2.0 * input.one_way_delay_ms,
            ta: input.one_way_delay_ms,
            ie: input.codec.ie(),
            bpl: input.codec.bpl(),
            ppl: input.packet_loss_pct,
            burst_r: input.burst_ratio,
            ..Self::default()
        }
    }

    /// Computes R and its terms (G.107 §3.2 to §3.6).
    pub fn rating(&self) -> Rating {
        let p = self;
        // §3.2 Basic signal-to-noise ratio.
        let olr = p.slr + p.rlr;
        let nfo = p.nfor + p.rlr;
        let pre = p.pr + 10.0 * (1.0 + 10_f64.powf((10.0 - p.lstr) / 10.0)).log10();
        let nor = p.rlr - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
        let nos = p.ps - p.slr - p.ds - 100.0 + 0.004 * (p.ps - olr - p.ds - 14.0).powi(2);
        let no = power_sum_db(&[p.nc, nos, nor, nfo]);
        let ro = 15.0 - 1.5 * (p.slr + no);

        // §3.3 Simultaneous impairment factor.
        let xolr = olr + 0.2 * (64.0 + no - p.rlr);
        let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);
        let stmro = -10.0
            * (10_f64.powf(-p.stmr / 10.0) + (-p.t / 4.0).exp() * 10_f64.powf(-p.telr / 10.0))
                .log10();
        let ist = 12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
            - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
            - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
            + 29.0;
        let q = 37.0 - 15.0 * p.qdu.log10();
        let g = 1.07 + 0.258 * q + 0.0602 * q * q;
        let z = 46.0 / 30.0 - g / 40.0;
        let y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
        let iq = 15.0 * (1.0 + 10_f64.powf(y) + 10_f64.powf(z)).log10();
        let is = iolr + ist + iq;

        // §3.4 Delay impairment factor: talker echo, listener echo, absolute delay.
        let mut terv = p.telr - 40.0 * ((1.0 + p.t / 10.0) / (1.0 + p.t / 150.0)).log10()
            + 6.0 * (-0.3 * p.t * p.t).exp();
        if p.stmr < 9.0 {
            terv += ist / 2.0;
        }
        let re = 80.0 + 2.5 * (terv - 14.0);
        let roe = -1.5 * (no - p.rlr);
        let mut idte = ((roe - re) / 2.0 + ((roe - re).powi(2) / 4.0 + 100.0).sqrt() - 1.0)
            * (1.0 - (-p.t).exp());
        if p.stmr > 20.0 {
            idte = (idte * idte + ist * ist).sqrt();
        }
        let rle = 10.5 * (p.wepl + 7.0) * (p.tr + 1.0).powf(-0.25);
        let idle = (ro - rle) / 2.0 + ((ro - rle).powi(2) / 4.0 + 169.0).sqrt();
        let idd = if p.ta <= 100.0 {
            0.0
        } else {
            let x = (p.ta / 100.0).log2();
            25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0)
                - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
                + 2.0)
        };
        let id = idte + idle + idd;

        // §3.5 Effective equipment impairment factor.
        let ie_eff = if p.ppl > 0.0 {
            p.ie + (95.0 - p.ie) * p.ppl / (p.ppl / p.burst_r + p.bpl)
        } else {
            p.ie
        };

        Rating {
            r: ro - is - id - ie_eff + p.a,
            ro,
            is,
            id,
            ie_eff,
            a: p.a,
        }
    }
}

fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    range: &'static str,
) -> Result<(), QualityError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(QualityError::OutOfRange { name, value, range })
    }
}

/// The transmission rating R of a call with `input`'s delay, loss and codec.
pub fn r_factor(input: &EModelInput) -> Result<f64, QualityError> {
    let delay = input.one_way_delay_ms;
    check("one_way_delay_ms", delay, delay >= 0.0, "0 ms or more")?;
    let loss = input.packet_loss_pct;
    check(
        "packet_loss_pct",
        loss,
        (0.0..=100.0).contains(&loss),
        "0 to 100 %",
    )?;
    let burst = input.burst_ratio;
    check("burst_ratio", burst, burst > 0.0, "above 0")?;
    let (ie, bpl) = (input.codec.ie(), input.codec.bpl());
    check("ie", ie, (0.0..=95.0).contains(&ie), "0 to 95")?;
    check("bpl", bpl, bpl > 0.0, "above 0")?;
    Ok(G107Parameters::from_input(input).rating().r)
}

/// MOS-CQE (conversational quality, 1–4.5) from R (G.107 Annex B). The cubic dips just below 1
/// for R under 6.5; it is held at 1 there.
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6).max(1.0)
    }
}

/// BurstR from the observed loss rate (0–1) and mean burst length (consecutive packets lost).
///
/// G.107 §3.5 defines BurstR as the mean length of the observed loss bursts over the mean
/// burst length expected for random loss at the same rate, 1/(1 − loss). For the two-state
/// Markov model with p = P(found → lost) and q = P(lost → found) this is 1/(p + q).
/// With no loss the ratio is 1.
pub fn burst_ratio(loss_rate: f64, mean_burst_len: f64) -> Result<f64, QualityError> {
    check(
        "loss_rate",
        loss_rate,
        (0.0..1.0).contains(&loss_rate),
        "0 to below 1",
    )?;
    if loss_rate == 0.0 {
        return Ok(1.0);
    }
    check(
        "mean_burst_len",
        mean_burst_len,
        mean_burst_len >= 1.0,
        "1 packet or more",
    )?;
    Ok(mean_burst_len * (1.0 - loss_rate))
}

/// Loss rate and BurstR of an observed sequence of packets (`true` = lost). `None` when the
/// sequence is empty or every packet was lost.
pub fn burst_ratio_of_pattern(lost: &[bool]) -> Option<(f64, f64)> {
    let losses = lost.iter().filter(|&&l| l).count();
    if lost.is_empty() || losses == lost.len() {
        return None;
    }
    let bursts = lost
        .iter()
        .enumerate()
        .filter(|&(i, &l)| l && (i == 0 || !lost[i - 1]))
        .count();
    let rate = losses as f64 / lost.len() as f64;
    if bursts == 0 {
        return Some((0.0, 1.0));
    }
    let ratio = burst_ratio(rate, losses as f64 / bursts as f64).ok()?;
    Some((rate, ratio))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(delay: f64, loss: f64, burst: f64, codec: CodecImpairment) -> EModelInput {
        EModelInput {
            one_way_delay_ms: delay,
            packet_loss_pct: loss,
            burst_ratio: burst,
            codec,
        }
    }

    #[test]
    fn defaults_give_the_published_rating_and_mos() {
        // G.107 §3.7: all defaults give R = 93.2 (Ro 94.77, Is 1.41, Id 0.15), MOS 4.41.
        let rating = G107Parameters::default().rating();
        assert!((rating.r - 93.2).abs() < 0.05, "{rating:?}");
        assert!((rating.ro - 94.77).abs() < 0.01, "{rating:?}");
        assert!((rating.is - 1.41).abs() < 0.01, "{rating:?}");
        assert!((rating.id - 0.15).abs() < 0.01, "{rating:?}");
        assert_eq!(rating.ie_eff, 0.0);
        assert!((mos_from_r(rating.r) - 4.41).abs() < 0.005);
        let r = r_factor(&input(0.0, 0.0, 1.0, CodecImpairment::G711Plc)).unwrap();
        assert!((r - rating.r).abs() < 1e-12);
    }

    #[test]
    fn mos_formula_and_limits() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        assert_eq!(mos_from_r(3.0), 1.0);
        assert_eq!(mos_from_r(100.0), 4.5);
        assert_eq!(mos_from_r(120.0), 4.5);
        // 1 + 3.5·... at R = 50: 1 + 1.75 + 50·(−10)·50·7e-6 = 2.575.
        assert!((mos_from_r(50.0) - 2.575).abs() < 1e-12);
        assert!((mos_from_r(80.0) - (1.0 + 2.8 + 80.0 * 20.0 * 20.0 * 7.0e-6)).abs() < 1e-12);
        let mut previous = 0.0;
        for step in 0..=1000 {
            let mos = mos_from_r(f64::from(step) / 10.0);
            assert!(
                mos >= previous,
                "MOS falls at R = {}",
                f64::from(step) / 10.0
            );
            previous = mos;
        }
    }

    #[test]
    fn delay_beyond_100_ms_and_loss_lower_the_rating() {
        let codec = CodecImpairment::G711Plc;
        // Ta ≤ 100 ms adds no Idd; the echo terms at the default TELR cost under 3 points.
        let at_100 = r_factor(&input(100.0, 0.0, 1.0, codec)).unwrap();
        assert!((90.0..93.2).contains(&at_100), "{at_100}");
        let mut previous = f64::INFINITY;
        for delay in (0..=800).step_by(25) {
            let r = r_factor(&input(f64::from(delay), 0.0, 1.0, codec)).unwrap();
            assert!(r <= previous + 1e-9, "R rises at {delay} ms");
            previous = r;
        }
        // Idd at Ta = 200 ms: X = 1, 25·(2^(1/6) − 3·(1 + 3^−6)^(1/6) + 2) = 3.05.
        let p = G107Parameters {
            ta: 200.0,
            ..G107Parameters::default()
        };
        let idd = p.rating().id - G107Parameters::default().rating().id;
        assert!((idd - 3.045).abs() < 0.005, "{idd}");
        let mut previous = f64::INFINITY;
        for loss in 0..=40 {
            let r = r_factor(&input(0.0, f64::from(loss) / 2.0, 1.0, codec)).unwrap();
            assert!(r < previous, "R does not fall at {loss}/2 %");
            previous = r;
        }
    }

    #[test]
    fn loss_impairment_follows_the_ie_eff_formula() {
        // Ie-eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl).
        let base = r_factor(&input(0.0, 0.0, 1.0, CodecImpairment::G711Plc)).unwrap();
        let plc = r_factor(&input(0.0, 1.0, 1.0, CodecImpairment::G711Plc)).unwrap();
        assert!((base - plc - 95.0 / 26.1).abs() < 1e-9);
        let no_plc = r_factor(&input(0.0, 1.0, 1.0, CodecImpairment::G711NoPlc)).unwrap();
        assert!((base - no_plc - 95.0 / 5.3).abs() < 1e-9);
        // Bursty loss hurts more than the same random loss.
        let bursty = r_factor(&input(0.0, 5.0, 2.0, CodecImpairment::G711Plc)).unwrap();
        let random = r_factor(&input(0.0, 5.0, 1.0, CodecImpairment::G711Plc)).unwrap();
        assert!(bursty < random);
        let custom = CodecImpairment::Custom {
            ie: 11.0,
            bpl: 19.0,
        };
        let r = r_factor(&input(0.0, 0.0, 1.0, custom)).unwrap();
        assert!((base - r - 11.0).abs() < 1e-9);
        // Total random loss: Ie-eff = 95·100/(100 + 25.1), MOS near the bottom of the scale.
        let r = r_factor(&input(0.0, 100.0, 1.0, CodecImpairment::G711Plc)).unwrap();
        assert!((base - r - 9_500.0 / 125.1).abs() < 1e-9);
        assert!(mos_from_r(r) < 1.5, "{r}");
    }

    #[test]
    fn the_spec_conditions_rank_in_order() {
        let mos = |delay, loss| {
            mos_from_r(r_factor(&input(delay, loss, 1.0, CodecImpairment::G711Plc)).unwrap())
        };
        let good = mos(20.0, 0.0);
        let poor = mos(100.0, 1.0);
        let bad = mos(400.0, 5.0);
        assert!(good > 4.3 && poor > 4.2 && poor < good, "{good} {poor}");
        assert!(bad < 3.0 && bad > 1.5, "{bad}");
    }

    #[test]
    fn out_of_range_inputs_are_errors() {
        let codec = CodecImpairment::G711Plc;
        for bad in [
            input(-1.0, 0.0, 1.0, codec),
            input(f64::NAN, 0.0, 1.0, codec),
            input(0.0, 101.0, 1.0, codec),
            input(0.0, -0.1, 1.0, codec),
            input(0.0, 1.0, 0.0, codec),
            input(0.0, 1.0, f64::INFINITY, codec),
            input(
                0.0,
                1.0,
                1.0,
                CodecImpairment::Custom { ie: 96.0, bpl: 1.0 },
            ),
            input(0.0, 1.0, 1.0, CodecImpairment::Custom { ie: 0.0, bpl: 0.0 }),
        ] {
            assert!(
                matches!(r_factor(&bad), Err(QualityError::OutOfRange { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn burst_ratio_from_the_markov_model() {
        // Random loss at 10 %: mean burst 1/(1 − 0.1) gives BurstR 1.
        assert!((burst_ratio(0.1, 1.0 / 0.9).unwrap() - 1.0).abs() < 1e-12);
        // Markov p = 0.02, q = 0.3: loss p/(p+q) = 1/16, mean burst 1/q; BurstR = 1/(p+q).
        let (p, q) = (0.02, 0.3);
        let ratio = burst_ratio(p / (p + q), 1.0 / q).unwrap();
        assert!((ratio - 1.0 / (p + q)).abs() < 1e-12);
        assert_eq!(burst_ratio(0.0, 0.0).unwrap(), 1.0);
        assert!(burst_ratio(1.0, 3.0).is_err());
        assert!(burst_ratio(0.1, 0.5).is_err());
        assert!(burst_ratio(f64::NAN, 2.0).is_err());

        let pattern: Vec<bool> = "..xx....x...xxx....".chars().map(|c| c == 'x').collect();
        let (rate, ratio) = burst_ratio_of_pattern(&pattern).unwrap();
        assert!((rate - 6.0 / 19.0).abs() < 1e-12);
        assert!((ratio - 2.0 * (1.0 - 6.0 / 19.0)).abs() < 1e-12);
        assert_eq!(burst_ratio_of_pattern(&[false; 5]), Some((0.0, 1.0)));
        assert_eq!(burst_ratio_of_pattern(&[true; 5]), None);
        assert_eq!(burst_ratio_of_pattern(&[]), None);
    }
}
