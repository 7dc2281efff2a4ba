//! Packet-loss concealment in the manner of ITU-T G.711 Appendix I: pitch-period repetition.
//!
//! The concealer works on 10 ms blocks of 8 kHz audio. Its output is delayed by
//! [`PLC_DELAY_SAMPLES`] (3.75 ms) so that, when a block is lost, the last quarter pitch period
//! already received can still be cross-faded into the synthetic signal:
//! - the first lost block repeats the last pitch period (found by normalised autocorrelation
//!   over 5–15 ms lags), starting with a quarter-period overlap-add;
//! - each further lost block widens the repeated stretch by a period (up to three) and fades
//!   the signal by 20 % per 10 ms, so that after 60 ms of loss the output is silent;
//! - the first good block after a loss is cross-faded with the continuation of the synthetic
//!   signal over a quarter period plus 4 ms per extra lost block (at most 10 ms).
//!
//! Written from the algorithm's description; no reference code was used.

/// Samples per block (10 ms at 8 kHz).
pub const BLOCK: usize = 80;
/// Shortest pitch period searched, samples (200 Hz).
const PITCH_MIN: usize = 40;
/// Longest pitch period searched, samples (66.7 Hz).
const PITCH_MAX: usize = 120;
/// Correlation window of the pitch search, samples (20 ms).
const CORR_LEN: usize = 160;
/// Output delay: a quarter of the longest pitch period (3.75 ms).
pub const PLC_DELAY_SAMPLES: usize = PITCH_MAX / 4;
/// History kept for the pitch search and the repeated periods.
const HISTORY: usize = 3 * PITCH_MAX + PLC_DELAY_SAMPLES + CORR_LEN;
/// Blocks of loss after which the output is silent (60 ms).
const MUTE_AFTER: u32 = 6;
/// Gain lost per lost block after the first.
const FADE_PER_BLOCK: f32 = 0.2;

/// The concealer of one received stream.
#[derive(Debug, Clone)]
pub struct Concealer {
    /// The last [`HISTORY`] samples produced (received or synthetic), newest last.
    history: Vec<f32>,
    /// Lost blocks in a row so far.
    lost: u32,
    /// Pitch period of the current loss.
    pitch: usize,
    /// Periods being repeated (1 to 3).
    periods: usize,
    /// The repeated stretch (`periods` pitch periods) and the read position in it.
    pitch_buf: Vec<f32>,
    pos: usize,
    /// Samples produced but not yet output (the 3.75 ms delay line).
    delay: Vec<f32>,
    /// Blocks concealed since creation.
    concealed: u64,
}

impl Default for Concealer {
    fn default() -> Self {
        Self::new()
    }
}

impl Concealer {
    /// A concealer with silent history.
    pub fn new() -> Self {
        Self {
            history: vec![0.0; HISTORY],
            lost: 0,
            pitch: PITCH_MAX,
            periods: 1,
            pitch_buf: Vec::with_capacity(3 * PITCH_MAX),
            pos: 0,
            delay: vec![0.0; PLC_DELAY_SAMPLES],
            concealed: 0,
        }
    }

    /// Blocks concealed so far.
    pub fn concealed_blocks(&self) -> u64 {
        self.concealed
    }

    /// Appends the samples still in the delay line (at the end of the stream).
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        out.extend(self.delay.iter().map(|&v| to_i16(v)));
        self.delay.fill(0.0);
    }

    /// A received block of [`BLOCK`] samples; appends [`BLOCK`] output samples to `out`.
    pub fn good(&mut self, block: &[i16; BLOCK], out: &mut Vec<i16>) {
        let mut x = [0f32; BLOCK];
        for (d, s) in x.iter_mut().zip(block) {
            *d = f32::from(*s);
        }
        if self.lost > 0 {
            // Fade from the synthetic continuation into the received signal.
            let olen = (self.pitch / 4 + 32 * (self.lost as usize - 1)).min(BLOCK);
            let gain = self.gain_at_block(self.lost);
            let step = FADE_PER_BLOCK / BLOCK as f32;
            for (i, xi) in x.iter_mut().take(olen).enumerate() {
                let g = if self.lost >= MUTE_AFTER {
                    0.0
                } else {
                    (gain - step * i as f32).max(0.0)
                };
                let synth = self.next_pitch_sample() * g;
                let w = (i + 1) as f32 / (olen + 1) as f32;
                *xi = synth * (1.0 - w) + *xi * w;
            }
            self.lost = 0;
        }
        self.emit(&x, out);
    }

    /// A lost block; appends [`BLOCK`] concealment samples to `out`.
    pub fn lost(&mut self, out: &mut Vec<i16>) {
        self.concealed += 1;
        let mut y = [0f32; BLOCK];
        if self.lost == 0 {
            self.start_loss();
        } else if self.lost < 3 {
            self.widen();
        }
        if self.lost < MUTE_AFTER {
            let gain = self.gain_at_block(self.lost);
            let step = if self.lost == 0 {
                0.0
            } else {
                FADE_PER_BLOCK / BLOCK as f32
            };
            for (i, yi) in y.iter_mut().enumerate() {
                let g = (gain - step * i as f32).max(0.0);
                *yi = self.next_pitch_sample() * g;
            }
        }
        self.lost += 1;
        self.emit(&y, out);
    }

    /// Gain at the start of lost block `k` (0-based): 1 for the first, then 20 % less per block.
    fn gain_at_block(&self, k: u32) -> f32 {
        if k == 0 {
            1.0
        } else {
            (1.0 - FADE_PER_BLOCK * (k - 1) as f32).max(0.0)
        }
    }

    /// Pushes `x` through the delay line into the history and the output.
    fn emit(&mut self, x: &[f32; BLOCK], out: &mut Vec<i16>) {
        // Output: the delayed samples first, then the start of this block.
        let d = PLC_DELAY_SAMPLES;
        out.extend(self.delay.iter().map(|&v| to_i16(v)));
        out.extend(x[..BLOCK - d].iter().map(|&v| to_i16(v)));
        self.delay.copy_from_slice(&x[BLOCK - d..]);
        self.history.drain(..BLOCK);
        self.history.extend_from_slice(x);
    }

    /// The first lost block: find the pitch, and cross-fade the last quarter period received
    /// (still in the delay line) into the start of the repetition.
    fn start_loss(&mut self) {
        self.pitch = find_pitch(&self.history);
        self.periods = 1;
        let n = self.history.len();
        let p = self.pitch;
        let q = p / 4;
        // The tail of the history is the not-yet-output delay line (its last `d` samples).
        // Replace the last quarter period by a fade into the samples one period earlier, so the
        // repetition continues smoothly from the end of the history.
        for i in 0..q {
            let w = (i + 1) as f32 / (q + 1) as f32;
            let k = n - q + i;
            self.history[k] = self.history[k] * (1.0 - w) + self.history[k - p] * w;
        }
        let d = PLC_DELAY_SAMPLES;
        self.delay.copy_from_slice(&self.history[n - d..]);
        self.pitch_buf.clear();
        self.pitch_buf.extend_from_slice(&self.history[n - p..]);
        // Reading starts one period back: it continues the waveform that ends the history.
        self.pos = 0;
    }

    /// A further lost block: repeat one more period from the history, faded in over a quarter
    /// period so the longer cycle has no click.
    fn widen(&mut self) {
        let p = self.pitch;
        let n = self.history.len();
        // The history's end is synthetic by now; the real periods lie before the loss began.
        let received_end = n - self.lost as usize * BLOCK;
        let periods = self.periods + 1;
        let len = periods * p;
        let q = p / 4;
        if received_end < len + q {
            return;
        }
        let start = received_end - len;
        let mut buf: Vec<f32> = self.history[start..received_end].to_vec();
        // The stretch wraps from its end to its start: fade its last quarter period into the
        // samples that preceded its start, so the longer cycle has no click.
        for i in 0..q {
            let w = (i + 1) as f32 / (q + 1) as f32;
            buf[len - q + i] = buf[len - q + i] * (1.0 - w) + self.history[start - q + i] * w;
        }
        // Keep the phase: continue from the same position within the period.
        let phase = self.pos % p;
        self.pitch_buf = buf;
        self.periods = periods;
        self.pos = (periods - 1) * p + phase;
    }

    fn next_pitch_sample(&mut self) -> f32 {
        if self.pitch_buf.is_empty() {
            return 0.0;
        }
        let v = self.pitch_buf[self.pos % self.pitch_buf.len()];
        self.pos = (self.pos + 1) % self.pitch_buf.len();
        v
    }
}

fn to_i16(v: f32) -> i16 {
    v.round().clamp(-32768.0, 32767.0) as i16
}

/// The lag in `PITCH_MIN..=PITCH_MAX` that best predicts the last [`CORR_LEN`] samples from
/// those one lag earlier (normalised cross-correlation; coarse search on every other lag,
/// then the neighbours of the best).
fn find_pitch(h: &[f32]) -> usize {
    let n = h.len();
    let target = &h[n - CORR_LEN..];
    let score = |lag: usize| -> f32 {
        let past = &h[n - CORR_LEN - lag..n - lag];
        let (mut xy, mut yy) = (0f32, 0f32);
        for (x, y) in target.iter().zip(past) {
            xy += x * y;
            yy += y * y;
        }
        if yy <= 1.0 {
            return f32::MIN;
        }
        xy / yy.sqrt()
    };
    let mut best = PITCH_MAX;
    let mut best_score = f32::MIN;
    for lag in (PITCH_MIN..=PITCH_MAX).step_by(2) {
        let s = score(lag);
        if s > best_score {
            best_score = s;
            best = lag;
        }
    }
    let lo = best.saturating_sub(1).max(PITCH_MIN);
    let hi = (best + 1).min(PITCH_MAX);
    for lag in lo..=hi {
        let s = score(lag);
        if s > best_score {
            best_score = s;
            best = lag;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, n: usize, start: usize) -> Vec<i16> {
        (start..start + n)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16
            })
            .collect()
    }

    fn run(c: &mut Concealer, signal: &[i16], lost: &[bool]) -> Vec<i16> {
        let mut out = Vec::new();
        for (k, block) in signal.chunks_exact(BLOCK).enumerate() {
            if lost[k] {
                c.lost(&mut out);
            } else {
                c.good(block.try_into().expect("block"), &mut out);
            }
        }
        out
    }

    #[test]
    fn without_loss_the_output_is_the_input_delayed() {
        let x = tone(200.0, 800, 0);
        let mut c = Concealer::new();
        let out = run(&mut c, &x, &[false; 10]);
        assert_eq!(out.len(), 800);
        assert!(out[..PLC_DELAY_SAMPLES].iter().all(|&v| v == 0));
        assert_eq!(&out[PLC_DELAY_SAMPLES..], &x[..800 - PLC_DELAY_SAMPLES]);
        assert_eq!(c.concealed_blocks(), 0);
    }

    #[test]
    fn pitch_is_found_for_voiced_periods() {
        for period in [40usize, 57, 80, 100, 120] {
            let f = 8000.0 / period as f64;
            let h: Vec<f32> = tone(f, HISTORY, 0).iter().map(|&v| v as f32).collect();
            let p = find_pitch(&h);
            // A multiple of the period predicts as well; only harmonically consistent lags count.
            assert!(
                p % period <= 1 || period - p % period <= 1,
                "period {period}: {p}"
            );
        }
    }

    #[test]
    fn a_lost_block_of_a_steady_vowel_is_rebuilt_closely() {
        // 100 Hz (80-sample period) plus its third harmonic: a steady voiced sound.
        let x: Vec<i16> = (0..1600)
            .map(|i| {
                let t = i as f64 / 8000.0;
                (6000.0 * (2.0 * std::f64::consts::PI * 100.0 * t).sin()
                    + 2000.0 * (2.0 * std::f64::consts::PI * 300.0 * t).sin())
                    as i16
            })
            .collect();
        let mut lost = [false; 20];
        lost[10] = true;
        let mut c = Concealer::new();
        let out = run(&mut c, &x, &lost);
        let d = PLC_DELAY_SAMPLES;
        // Compare the concealed block (in output time) with what was sent.
        let (mut err, mut sig) = (0f64, 0f64);
        for i in 10 * BLOCK..11 * BLOCK {
            let e = f64::from(out[i + d]) - f64::from(x[i]);
            err += e * e;
            sig += f64::from(x[i]).powi(2);
        }
        let snr = 10.0 * (sig / err).log10();
        assert!(snr > 15.0, "SNR of the concealed block {snr:.1} dB");
        assert_eq!(c.concealed_blocks(), 1);
        // Zero insertion for comparison would give 0 dB.
    }

    #[test]
    fn a_long_loss_fades_to_silence_and_recovers() {
        let x = tone(125.0, 2400, 0);
        let mut lost = [false; 30];
        for l in lost.iter_mut().skip(10).take(10) {
            *l = true;
        }
        let mut c = Concealer::new();
        let out = run(&mut c, &x, &lost);
        let d = PLC_DELAY_SAMPLES;
        let energy = |a: usize, b: usize| {
            out[a + d..b + d]
                .iter()
                .map(|&v| f64::from(v).powi(2))
                .sum::<f64>()
        };
        // 60 ms into the loss the output is silent.
        assert_eq!(energy(16 * BLOCK, 20 * BLOCK), 0.0);
        // Earlier, the fade: the second lost block is weaker than the first.
        assert!(energy(11 * BLOCK, 12 * BLOCK) < energy(10 * BLOCK, 11 * BLOCK));
        assert!(energy(10 * BLOCK, 11 * BLOCK) > 0.0);
        // After the loss, the signal is back whole (past the cross-fade).
        let back = 22 * BLOCK;
        assert_eq!(&out[back + d..back + d + BLOCK], &x[back..back + BLOCK]);
    }

    #[test]
    fn silence_stays_silent_and_nothing_panics_at_start() {
        let mut c = Concealer::new();
        let mut out = Vec::new();
        for _ in 0..8 {
            c.lost(&mut out);
        }
        c.good(&[0; BLOCK], &mut out);
        assert!(out.iter().all(|&v| v == 0));
        // Full-scale input does not overflow.
        let loud = [i16::MAX; BLOCK];
        c.good(&loud, &mut out);
        c.lost(&mut out);
        c.good(&[i16::MIN; BLOCK], &mut out);
        assert_eq!(out.len(), 12 * BLOCK);
    }
}
