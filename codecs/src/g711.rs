//! ITU-T G.711 µ-law and A-law, bit-exact with the ITU-T G.191 reference tools (`g711.c`).
//!
//! Linear samples are 16-bit two's complement, as in G.191: µ-law quantizes the 14 most
//! significant bits (the two low bits are dropped), A-law the 13 most significant bits (the
//! four low bits are dropped). Like G.191, a negative sample is made positive by its one's
//! complement (`!x`, i.e. `-x - 1`), so `-1` encodes as the negative zero code of each law.
//!
//! Decoding is a 256-entry table built at compile time from the G.191 expansion rule; encoding
//! finds the segment with one `leading_zeros` instead of G.191's shift loop. Both are checked
//! against an independent implementation of the G.711 tables for all 65 536 inputs in
//! `tests/g711_itu.rs`.

/// µ-law code of a zero sample (G.711 Table 2: positive zero is `1111 1111`).
pub const ULAW_ZERO: u8 = 0xFF;

/// A-law code of the smallest positive sample (G.711 Table 1: `1000 0000` with even bits inverted).
pub const ALAW_ZERO: u8 = 0xD5;

/// G.711 µ-law decoder output for every code, in 16-bit linear (G.191 `ulaw_expand`).
pub static ULAW_DECODE: [i16; 256] = build_ulaw_table();

/// G.711 A-law decoder output for every code, in 16-bit linear (G.191 `alaw_expand`).
pub static ALAW_DECODE: [i16; 256] = build_alaw_table();

/// G.191 `ulaw_expand` for one code: output value of G.711 Table 2, 14 bits left-justified.
const fn ulaw_expand(code: u8) -> i16 {
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 4 << (exponent + 1);
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    if code < 0x80 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// G.191 `alaw_expand` for one code: output value of G.711 Table 1, 13 bits left-justified.
const fn alaw_expand(code: u8) -> i16 {
    let ix = (code ^ 0x55) & 0x7F;
    let exponent = (ix >> 4) as i32;
    let mut mantissa = (ix & 0x0F) as i32;
    if exponent > 0 {
        mantissa += 16;
    }
    mantissa = (mantissa << 4) + 8;
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    if code > 127 {
        mantissa as i16
    } else {
        -mantissa as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_expand(code as u8);
        code += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_expand(code as u8);
        code += 1;
    }
    table
}

/// Encodes one 16-bit sample to µ-law (G.711 Table 2; G.191 `ulaw_compress`).
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    // 0 for positive samples, -1 for negative ones.
    let sign = sample >> 15;
    // One's complement of negative samples, as G.191 does: 0..=32767.
    let magnitude = (sample ^ sign) as u16;
    // 14-bit magnitude plus the µ-law bias of 33, limited to 13 bits (G.191's `absno`).
    let biased = ((magnitude >> 2) + 33).min(0x1FFF);
    // `biased` is at least 33, so its bit length is 6..=13: segment 0..=7.
    let segment = 16 - biased.leading_zeros() - 6;
    let mantissa = (biased >> (segment + 1)) & 0x0F;
    let value = ((segment as u16) << 4 | mantissa) as u8;
    // µ-law inverts all bits; the sign bit is 1 for positive samples.
    !value & (0x7F | (!sign as u8 & 0x80))
}

/// Decodes one µ-law code to a 16-bit sample (G.711 Table 2 output values).
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encodes one 16-bit sample to A-law (G.711 Table 1; G.191 `alaw_compress`).
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    let sign = sample >> 15;
    // 12-bit magnitude of the one's complement: 0..=2047.
    let ix = ((sample ^ sign) as u16) >> 4;
    let value = if ix > 15 {
        // Bit length 5..=11 gives exponent 1..=7.
        let exponent = 16 - ix.leading_zeros() - 4;
        ((exponent as u16) << 4 | ((ix >> (exponent - 1)) & 0x0F)) as u8
    } else {
        ix as u8
    };
    // Sign bit 1 for positive samples, then the even bits are inverted.
    (value | (!sign as u8 & 0x80)) ^ 0x55
}

/// Decodes one A-law code to a 16-bit sample (G.711 Table 1 output values).
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Encodes samples to µ-law; converts `min(pcm.len(), out.len())` samples and returns that count.
pub fn encode_ulaw(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    for (code, &sample) in out[..n].iter_mut().zip(&pcm[..n]) {
        *code = ulaw_encode(sample);
    }
    n
}

/// Decodes µ-law codes; converts `min(codes.len(), out.len())` codes and returns that count.
pub fn decode_ulaw(codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    for (sample, &code) in out[..n].iter_mut().zip(&codes[..n]) {
        *sample = ULAW_DECODE[code as usize];
    }
    n
}

/// Encodes samples to A-law; converts `min(pcm.len(), out.len())` samples and returns that count.
pub fn encode_alaw(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    for (code, &sample) in out[..n].iter_mut().zip(&pcm[..n]) {
        *code = alaw_encode(sample);
    }
    n
}

/// Decodes A-law codes; converts `min(codes.len(), out.len())` codes and returns that count.
pub fn decode_alaw(codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    for (sample, &code) in out[..n].iter_mut().zip(&codes[..n]) {
        *sample = ALAW_DECODE[code as usize];
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.191 `ulaw_compress`, transcribed loop for loop, to check the fast encoder's shortcut.
    fn g191_ulaw_compress(sample: i16) -> u8 {
        let mut absno: i32 = if sample < 0 {
            ((!sample) >> 2) as i32 + 33
        } else {
            (sample >> 2) as i32 + 33
        };
        if absno > 0x1FFF {
            absno = 0x1FFF;
        }
        let mut i = absno >> 6;
        let mut segno = 1;
        while i != 0 {
            segno += 1;
            i >>= 1;
        }
        let high_nibble = 0x0008 - segno;
        let low_nibble = 0x000F - ((absno >> segno) & 0x000F);
        let mut code = (high_nibble << 4) | low_nibble;
        if sample >= 0 {
            code |= 0x0080;
        }
        code as u8
    }

    /// G.191 `alaw_compress`, transcribed loop for loop.
    fn g191_alaw_compress(sample: i16) -> u8 {
        let mut ix: i32 = if sample < 0 {
            ((!sample) >> 4) as i32
        } else {
            (sample >> 4) as i32
        };
        if ix > 15 {
            let mut iexp = 1;
            while ix > 16 + 15 {
                ix >>= 1;
                iexp += 1;
            }
            ix -= 16;
            ix += iexp << 4;
        }
        if sample >= 0 {
            ix |= 0x0080;
        }
        (ix ^ 0x0055) as u8
    }

    #[test]
    fn fast_encoders_match_the_g191_loops_for_every_input() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(x), g191_ulaw_compress(x), "µ-law {x}");
            assert_eq!(alaw_encode(x), g191_alaw_compress(x), "A-law {x}");
        }
    }

    #[test]
    fn slice_functions_convert_the_shorter_length() {
        let pcm = [0i16, 1000, -1000, 32767];
        let mut codes = [0u8; 3];
        assert_eq!(encode_ulaw(&pcm, &mut codes), 3);
        assert_eq!(
            codes,
            [ulaw_encode(0), ulaw_encode(1000), ulaw_encode(-1000)]
        );
        let mut back = [0i16; 8];
        assert_eq!(decode_ulaw(&codes, &mut back), 3);
        assert_eq!(back[0], 0);
        assert_eq!(encode_alaw(&pcm, &mut codes), 3);
        assert_eq!(decode_alaw(&codes, &mut back[..2]), 2);
        assert_eq!(back[0], 8);
    }
}
