//! ITU-T G.722: 7 kHz audio coding within 64 kbit/s (sub-band ADPCM).
//!
//! 16 kHz linear PCM is split by a 24-tap quadrature mirror filter (QMF) into a lower and a
//! higher sub-band at 8 kHz each. The lower band is coded with 6-bit ADPCM, the higher band
//! with 2-bit ADPCM; each pair of input samples gives one octet, `IH IH IL IL IL IL IL IL` from
//! the most significant bit. Both bands use a backward-adaptive quantizer (scale factor in the
//! log domain) and a pole-zero predictor (2 poles, 6 zeros) driven by the quantized difference
//! signal, so the decoder tracks the encoder from the octets alone.
//!
//! The lower band's code is embedded: its predictor and scale factor are driven by the 4 most
//! significant bits only, so a decoder that gets 5 (56 kbit/s, mode 2) or 4 (48 kbit/s,
//! mode 3) of the 6 bits stays in step with the encoder ([`G722Mode`]). The encoder always
//! sends all 6 bits.
//!
//! Written from the block description of the Recommendation (G.722 §3–§4 and the computational
//! details of §5–§6: `QUANTL`, `INVQAL`, `LOGSCL`, `SCALEL`, `UPPOL1`, `UPPOL2`, `UPZERO`,
//! `FILTEP`, `FILTEZ`, `PREDIC`, and their higher-band counterparts), with the tables of the
//! Recommendation. 16-bit PCM in and out: the QMF works on the 16-bit samples and hands the
//! ADPCM coders a 15-bit signal (half of the input scale), the receive QMF scales back, so a
//! full-scale sine comes back at full scale.
//!
//! Checked octet for octet (encoder) and sample for sample (decoder, all three modes) against
//! FFmpeg's libavcodec G.722, an independent implementation of the same Recommendation that
//! passes the ITU-T test sequences, on speech, tones, overload and random octets
//! (`tests/g722_ffmpeg.rs`).
//!
//! RTP (RFC 3551 §4.5.2): static payload type 9, and the RTP clock is 8000 Hz although the
//! audio is sampled at 16 kHz (one RTP tick per octet). A 20 ms packet is 160 octets.
//!
//! Delay: the two QMFs together delay the signal by 22 samples at 16 kHz ([`CODEC_DELAY`]).

/// Audio sample rate of G.722, Hz.
pub const SAMPLE_RATE_HZ: u32 = 16_000;

/// RTP timestamp clock rate for G.722, Hz (RFC 3551 §4.5.2: 8000, for historical reasons).
pub const RTP_CLOCK_HZ: u32 = 8_000;

/// Static RTP payload type of G.722 (RFC 3551 Table 4).
pub const PAYLOAD_TYPE: u8 = 9;

/// 16 kHz samples in a 20 ms frame.
pub const FRAME_20MS_SAMPLES: usize = 320;

/// Octets in a 20 ms frame (64 kbit/s), which is also its RTP timestamp increment.
pub const FRAME_20MS_BYTES: usize = 160;

/// Delay of encoder plus decoder, in 16 kHz samples: output sample `n + 22` reproduces input
/// sample `n`.
///
/// The transmit and receive QMFs (24 taps each) together form a linear-phase filter of 47
/// taps, a delay of 23 samples counted from the later sample of each input pair; the decoder
/// puts the two samples of an octet at the pair's earlier position, one sample sooner.
pub const CODEC_DELAY: usize = 22;

/// Decoder operating mode (G.722 §1.3): how many lower-band bits of each octet carry audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum G722Mode {
    /// Mode 1: 64 kbit/s of audio, all 6 lower-band bits.
    #[default]
    Kbps64,
    /// Mode 2: 56 kbit/s of audio; the lowest bit of each octet is auxiliary data.
    Kbps56,
    /// Mode 3: 48 kbit/s of audio; the two lowest bits of each octet are auxiliary data.
    Kbps48,
}

/// QMF coefficients h0..h23 (G.722 §5, the QMF coefficient table), scaled by 2^13.
/// Symmetric: h(i) = h(23-i).
const QMF_COEFFS: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Lower-band quantizer decision levels Q6(1..=29) (G.722 `QUANTL`, its table of interval
/// limits): an error magnitude `WD` with `(Q6(k) × DETL) >> 12 ≤ WD` lies above level `k`.
const Q6: [i32; 29] = [
    35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023,
    1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// 6-bit code of quantizer interval `MIL` = 1..=30 for a negative error (G.722 `QUANTL`, `ILN`).
/// Index 0 is unused.
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];

/// 6-bit code of quantizer interval `MIL` = 1..=30 for a positive error (G.722 `QUANTL`, `ILP`).
/// Index 0 is unused.
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// Output levels of the 6-bit inverse quantizer by code (G.722 `INVQBL`, `QQ6`, signed by the
/// code's polarity, in units where the difference is `(DETL × QQ6) >> 15`). The unused codes
/// 0..=3 decode as the smallest negative level.
const QQ6: [i32; 64] = build_qq6();

/// Output levels of the 5-bit inverse quantizer (mode 2) by code `IL >> 1` (G.722 `INVQBL`, `QQ5`).
const QQ5: [i32; 32] = [
    -280, -280, -23352, -17560, -14120, -11664, -9752, -8184, -6864, -5712, -4696, -3784, -2960,
    -2208, -1520, -880, 23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712, 4696, 3784, 2960, 2208,
    1520, 880, 280, -280,
];

/// Output levels of the 4-bit inverse quantizer by code `IL >> 2` (G.722 `INVQAL`, `QQ4`). It feeds
/// the predictor in every mode, and the output in mode 3.
const QQ4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// Magnitudes of the 6-bit output levels for intervals `MIL` = 1..=30 (G.722 `QQ6`).
const QQ6_MAGNITUDE: [i32; 30] = [
    136, 432, 728, 1040, 1360, 1688, 2032, 2400, 2776, 3168, 3576, 4008, 4464, 4944, 5456, 6000,
    6576, 7192, 7856, 8576, 9360, 10232, 11192, 12280, 13512, 14984, 16704, 19008, 21904, 24808,
];

/// Lower-band log scale factor increments by 4-bit code magnitude (G.722 `LOGSCL`, `WL`, indexed
/// through `RIL`'s magnitude class).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];

/// Magnitude class (0 = smallest) of a 4-bit lower-band code `IL >> 2` (G.722 `LOGSCL`: `RIL`
/// to `WL`).
const RIL_CLASS: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

/// Higher-band quantizer decision level (G.722 `QUANTH`): `|EH| ≥ (564 × DETH) >> 12` is the
/// outer interval.
const Q2: i32 = 564;

/// Output levels of the 2-bit inverse quantizer by code `IH` (G.722 `INVQAH`, `QQ2`).
const QQ2: [i32; 4] = [-7408, -1616, 7408, 1616];

/// Higher-band log scale factor increments by code `IH` (G.722 `LOGSCH`, `WH`).
const WH: [i32; 4] = [798, -214, 798, -214];

/// Antilog table for the scale factors: 2048 × 2^(i/32), rounded (G.722 `SCALEL`/`SCALEH`, `ILB`).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Upper limit of the lower-band log scale factor `NBL` (G.722 `LOGSCL`).
const NBL_MAX: i32 = 18432;

/// Upper limit of the higher-band log scale factor `NBH` (G.722 `LOGSCH`).
const NBH_MAX: i32 = 22528;

const fn build_qq6() -> [i32; 64] {
    let mut table = [0i32; 64];
    let mut mil = 1;
    while mil <= 30 {
        table[ILN[mil] as usize] = -QQ6_MAGNITUDE[mil - 1];
        table[ILP[mil] as usize] = QQ6_MAGNITUDE[mil - 1];
        mil += 1;
    }
    let mut code = 0;
    while code < 4 {
        table[code] = -QQ6_MAGNITUDE[0];
        code += 1;
    }
    table
}

/// Limits to the 16-bit two's complement range, as every block of the Recommendation does.
#[inline]
fn sat16(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// One's complement magnitude of a 16-bit value (G.722 `QUANTL`/`QUANTH`: `WD`).
#[inline]
fn magnitude(x: i32) -> i32 {
    if x < 0 {
        -(x + 1)
    } else {
        x
    }
}

/// Adaptive quantizer scale and pole-zero predictor of one sub-band (G.722 §3.5–§3.6).
///
/// Encoder and decoder run the same band state on the same quantized differences, which is
/// what keeps them in step.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Band {
    /// Signal estimate `S` for the next sample (`SL`/`SH`, `PREDIC`).
    s: i32,
    /// Zero-section part of the estimate `SZ` (`SZL`/`SZH`, `FILTEZ`).
    sz: i32,
    /// Log scale factor `NB` (`NBL`/`NBH`).
    nb: i32,
    /// Linear scale factor `DET` (`DETL`/`DETH`).
    det: i32,
    /// Pole coefficients `A1`, `A2`.
    a: [i32; 2],
    /// Zero coefficients `B1`..`B6`.
    b: [i32; 6],
    /// Past quantized differences `D(n-1)`..`D(n-6)`.
    d: [i32; 6],
    /// Past reconstructed signals `R(n-1)`, `R(n-2)`.
    r: [i32; 2],
    /// Whether the past partially reconstructed signals `P(n-1)`, `P(n-2)` were negative.
    p_negative: [bool; 2],
}

impl Band {
    /// Reset state (G.722: all zero but the scale factors, `DETL` = 32 and `DETH` = 8).
    fn new(det: i32) -> Self {
        Band {
            s: 0,
            sz: 0,
            nb: 0,
            det,
            a: [0; 2],
            b: [0; 6],
            d: [0; 6],
            r: [0; 2],
            p_negative: [false; 2],
        }
    }

    /// `LOGSCL`/`LOGSCH` then `SCALEL`/`SCALEH`: leaks the log scale factor by 127/128, adds
    /// `step`, limits it to `0..=max`, and converts it to the linear scale factor, which is
    /// 2^(NB/2048) × `ILB(0)` / 2^`base_shift` × 4.
    fn adapt_scale(&mut self, step: i32, max: i32, base_shift: i32) {
        self.nb = (((self.nb * 32512) >> 15) + step).clamp(0, max);
        let mantissa = ILB[((self.nb >> 6) & 31) as usize];
        let exponent = (self.nb >> 11) - base_shift;
        let linear = if exponent < 0 {
            mantissa >> -exponent
        } else {
            mantissa << exponent
        };
        self.det = linear << 2;
    }

    /// Adapts the predictor to the quantized difference `d` of this sample and computes the
    /// estimate for the next one (`PARREC`, `RECONS`, `UPPOL2`, `UPPOL1`, `UPZERO`, `DELAYA`,
    /// `FILTEP`, `FILTEZ`, `PREDIC`).
    fn adapt_predictor(&mut self, d: i32) {
        // PARREC: the partially reconstructed signal; only its sign is used.
        let p_negative = d + self.sz < 0;
        // RECONS: the reconstructed signal.
        let r = sat16(self.s + d);

        // UPPOL2: second pole coefficient, leak 127/128, limited to ±0.75 (12288).
        let same_as_p1 = p_negative == self.p_negative[0];
        let same_as_p2 = p_negative == self.p_negative[1];
        let a1_term = sat16(self.a[0] * 4);
        let a1_term = if same_as_p1 { sat16(-a1_term) } else { a1_term } >> 7;
        let a2 = (a1_term + if same_as_p2 { 128 } else { -128 } + ((self.a[1] * 32512) >> 15))
            .clamp(-12288, 12288);

        // UPPOL1: first pole coefficient, leak 255/256, limited to ±(15360 - A2).
        let a1 = (if same_as_p1 { 192 } else { -192 }) + ((self.a[0] * 32640) >> 15);
        let a1_limit = 15360 - a2;
        let a1 = a1.clamp(-a1_limit, a1_limit);

        // UPZERO: zero coefficients, leak 255/256, sign-sign update (none when d is zero).
        let step = if d == 0 { 0 } else { 128 };
        let d_negative = d < 0;
        for (b, &past) in self.b.iter_mut().zip(&self.d) {
            let signed = if d_negative == (past < 0) {
                step
            } else {
                -step
            };
            *b = signed + ((*b * 32640) >> 15);
        }

        // DELAYA.
        self.d.copy_within(0..5, 1);
        self.d[0] = d;
        self.r = [r, self.r[0]];
        self.p_negative = [p_negative, self.p_negative[0]];
        self.a = [a1, a2];

        // FILTEP: pole section on the reconstructed signal.
        let sp = sat16(
            ((self.a[0] * sat16(self.r[0] * 2)) >> 15) + ((self.a[1] * sat16(self.r[1] * 2)) >> 15),
        );
        // FILTEZ: zero section on the quantized differences.
        let sz: i32 = self
            .b
            .iter()
            .zip(&self.d)
            .map(|(&b, &d)| (b * sat16(d * 2)) >> 15)
            .sum();
        self.sz = sat16(sz);
        // PREDIC.
        self.s = sat16(sp + self.sz);
    }
}

/// Lower-band ADPCM step shared by encoder and decoder after the code is known: the 4-bit
/// feedback difference (`INVQAL`), scale factor and predictor adaptation.
#[inline]
fn lower_band_update(band: &mut Band, il: u8) {
    let ril = (il >> 2) as usize;
    let d = (band.det * QQ4[ril]) >> 15;
    band.adapt_scale(WL[RIL_CLASS[ril]], NBL_MAX, 8);
    band.adapt_predictor(d);
}

/// Higher-band ADPCM step after the code is known; returns the quantized difference `DH`.
#[inline]
fn higher_band_update(band: &mut Band, ih: u8) -> i32 {
    let d = (band.det * QQ2[ih as usize]) >> 15;
    band.adapt_scale(WH[ih as usize], NBH_MAX, 10);
    band.adapt_predictor(d);
    d
}

/// G.722 encoder (64 kbit/s): 16 kHz 16-bit PCM in, one octet per two samples out.
///
/// One encoder per stream: it carries the QMF history and both ADPCM states from call to
/// call, so encoding a stream frame by frame gives the same octets as encoding it at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct G722Encoder {
    /// The last 24 input samples, newest first.
    qmf: [i32; 24],
    lower: Band,
    higher: Band,
    /// First sample of a pair whose second sample has not arrived yet.
    pending: Option<i16>,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// An encoder in the reset state of the Recommendation.
    pub fn new() -> Self {
        G722Encoder {
            qmf: [0; 24],
            lower: Band::new(32),
            higher: Band::new(8),
            pending: None,
        }
    }

    /// Back to the reset state (start of a new stream).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Whether one sample is waiting for its pair (an odd number of samples was given so far).
    pub fn has_pending_sample(&self) -> bool {
        self.pending.is_some()
    }

    /// Encodes `pcm16k` (16 kHz) and appends one octet per pair of samples to `out`.
    ///
    /// An odd sample left over is kept and paired with the first sample of the next call.
    pub fn encode(&mut self, pcm16k: &[i16], out: &mut Vec<u8>) {
        let mut samples = pcm16k;
        if let Some(first) = self.pending.take() {
            match samples.split_first() {
                Some((&second, rest)) => {
                    out.push(self.encode_pair(first, second));
                    samples = rest;
                }
                None => {
                    self.pending = Some(first);
                    return;
                }
            }
        }
        out.reserve(samples.len() / 2);
        let mut pairs = samples.chunks_exact(2);
        for pair in &mut pairs {
            out.push(self.encode_pair(pair[0], pair[1]));
        }
        if let [last] = pairs.remainder() {
            self.pending = Some(*last);
        }
    }

    /// Encodes one pair of samples (the earlier first) into one octet.
    #[inline]
    pub fn encode_pair(&mut self, earlier: i16, later: i16) -> u8 {
        // Transmit QMF (§3.1): the even coefficients weigh the newest sample and every second
        // one before it, the odd ones the others.
        self.qmf.copy_within(0..22, 2);
        self.qmf[1] = i32::from(earlier);
        self.qmf[0] = i32::from(later);
        let mut even = 0i32;
        let mut odd = 0i32;
        for (h, x) in QMF_COEFFS.chunks_exact(2).zip(self.qmf.chunks_exact(2)) {
            even += h[0] * x[0];
            odd += h[1] * x[1];
        }
        let xl = (even + odd) >> 14;
        let xh = (even - odd) >> 14;

        // Lower band: SUBTRA, QUANTL (6 bits).
        let el = sat16(xl - self.lower.s);
        let wd = magnitude(el);
        let det = self.lower.det;
        let mil = 1 + Q6.iter().take_while(|&&q| wd >= (q * det) >> 12).count();
        let il = if el < 0 { ILN[mil] } else { ILP[mil] };
        lower_band_update(&mut self.lower, il);

        // Higher band: SUBTRA, QUANTH (2 bits).
        let eh = sat16(xh - self.higher.s);
        let outer = magnitude(eh) >= (Q2 * self.higher.det) >> 12;
        let ih = match (eh < 0, outer) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        higher_band_update(&mut self.higher, ih);

        (ih << 6) | il
    }
}

/// G.722 decoder: one octet in, two 16 kHz 16-bit samples out, in any of the three modes.
///
/// Every octet is valid input. One decoder per stream, like [`G722Encoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct G722Decoder {
    mode: G722Mode,
    lower: Band,
    higher: Band,
    /// Receive QMF inputs `rL - rH`, newest first.
    difference: [i32; 12],
    /// Receive QMF inputs `rL + rH`, newest first.
    sum: [i32; 12],
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A 64 kbit/s (mode 1) decoder in the reset state.
    pub fn new() -> Self {
        Self::with_mode(G722Mode::Kbps64)
    }

    /// A decoder for `mode` in the reset state.
    pub fn with_mode(mode: G722Mode) -> Self {
        G722Decoder {
            mode,
            lower: Band::new(32),
            higher: Band::new(8),
            difference: [0; 12],
            sum: [0; 12],
        }
    }

    /// The operating mode.
    pub fn mode(&self) -> G722Mode {
        self.mode
    }

    /// Back to the reset state, keeping the mode.
    pub fn reset(&mut self) {
        *self = Self::with_mode(self.mode);
    }

    /// Decodes `bytes` and appends two 16 kHz samples per octet to `out`.
    pub fn decode(&mut self, bytes: &[u8], out: &mut Vec<i16>) {
        out.reserve(bytes.len() * 2);
        for &byte in bytes {
            let [earlier, later] = self.decode_octet(byte);
            out.push(earlier);
            out.push(later);
        }
    }

    /// Decodes one octet into two samples, the earlier first.
    #[inline]
    pub fn decode_octet(&mut self, octet: u8) -> [i16; 2] {
        let il = octet & 0x3F;
        let ih = octet >> 6;

        // Lower band: INVQBL in the mode's resolution, RECONS, LIMIT to 15 bits.
        let level = match self.mode {
            G722Mode::Kbps64 => QQ6[il as usize],
            G722Mode::Kbps56 => QQ5[(il >> 1) as usize],
            G722Mode::Kbps48 => QQ4[(il >> 2) as usize],
        };
        let dl = (self.lower.det * level) >> 15;
        let rl = (self.lower.s + dl).clamp(-16384, 16383);
        lower_band_update(&mut self.lower, il);

        // Higher band: INVQAH, RECONS, LIMIT.
        let sh = self.higher.s;
        let dh = higher_band_update(&mut self.higher, ih);
        let rh = (sh + dh).clamp(-16384, 16383);

        // Receive QMF (§4.4): xout(j) = 2 Σ h(2i)·xd(i), xout(j+1) = 2 Σ h(2i+1)·xs(i).
        self.difference.copy_within(0..11, 1);
        self.difference[0] = rl - rh;
        self.sum.copy_within(0..11, 1);
        self.sum[0] = rl + rh;
        let mut earlier = 0i32;
        let mut later = 0i32;
        for ((h, &xd), &xs) in QMF_COEFFS
            .chunks_exact(2)
            .zip(&self.difference)
            .zip(&self.sum)
        {
            earlier += h[0] * xd;
            later += h[1] * xs;
        }
        [sat16(earlier >> 11) as i16, sat16(later >> 11) as i16]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn antilog_table_is_2048_times_powers_of_two_to_the_1_32() {
        for (i, &v) in ILB.iter().enumerate() {
            let exact = 2048.0 * 2f64.powf(i as f64 / 32.0);
            assert_eq!(v, exact.round() as i32, "ILB({i})");
        }
    }

    #[test]
    fn qmf_is_symmetric_with_unity_gain() {
        for i in 0..12 {
            assert_eq!(QMF_COEFFS[i], QMF_COEFFS[23 - i]);
        }
        let even: i32 = QMF_COEFFS.iter().step_by(2).sum();
        let odd: i32 = QMF_COEFFS.iter().skip(1).step_by(2).sum();
        assert_eq!((even, odd), (4096, 4096));
    }

    #[test]
    fn quantizer_codes_cover_each_code_once() {
        let mut seen = [false; 64];
        for mil in 1..=30 {
            for code in [ILN[mil], ILP[mil]] {
                assert!(!seen[code as usize], "code {code} twice");
                seen[code as usize] = true;
            }
        }
        // Only the four codes below 4 are never sent.
        assert_eq!(seen.iter().filter(|&&s| !s).count(), 4);
        assert!(!seen[..4].iter().any(|&s| s));
    }

    #[test]
    fn embedded_tables_agree_with_the_six_bit_table() {
        // Each 5-bit (4-bit) level has the polarity of the 6-bit codes it covers.
        for code in 4..64usize {
            assert_eq!(
                QQ6[code].signum(),
                QQ5[code >> 1].signum(),
                "QQ5 for {code}"
            );
            let q4 = QQ4[code >> 2];
            assert!(
                q4 == 0 || q4.signum() == QQ6[code].signum(),
                "QQ4 for {code}"
            );
        }
    }

    #[test]
    fn odd_sample_counts_carry_over() {
        let pcm: Vec<i16> = (0..101).map(|i| ((i * 311) % 2000 - 1000) as i16).collect();
        let mut whole = Vec::new();
        G722Encoder::new().encode(&pcm[..100], &mut whole);
        let mut split = Vec::new();
        let mut encoder = G722Encoder::new();
        encoder.encode(&pcm[..33], &mut split);
        assert!(encoder.has_pending_sample());
        encoder.encode(&[], &mut split);
        assert!(encoder.has_pending_sample());
        encoder.encode(&pcm[33..101], &mut split);
        assert!(encoder.has_pending_sample());
        assert_eq!(split.len(), 50);
        assert_eq!(split, whole);
        encoder.reset();
        assert!(!encoder.has_pending_sample());
        assert_eq!(encoder, G722Encoder::new());
    }
}
