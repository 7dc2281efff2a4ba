//! G.711 checked against an independent reference built from the tables of the standard.
//!
//! Where the expected values come from:
//!
//! * **ITU-T G.711 (11/88), Table 1/G.711 (A-law) and Table 2/G.711 (µ-law).** Each table lists,
//!   per segment, the decision values `x_n` (interval edges), the character signal and the
//!   decoder output value `y_n`. A-law values are in units where the overload point is 4096,
//!   µ-law values in units where it is 8159. The rows below are copied from those tables: the
//!   first decision value of each 16-interval group, the interval width, and the first output
//!   value. (G.711 counts A-law's first 32 intervals as one segment; here they are the first
//!   two groups of 16, which is how the codes are laid out.) The µ-law first interval is the
//!   table's special `0..1 → 0`; the following ones in that segment are 2 wide.
//! * **Character signals.** A-law: sign bit 1 for positive, then the interval number 0..=127,
//!   then the even bits inverted (`^ 0x55`). µ-law: sign bit 1 for positive and the interval
//!   number inverted (`0x7F - n`), i.e. all bits of the magnitude inverted.
//! * **The 16-bit linear interface of the ITU-T G.191 software tools (`g711.c`).** A 16-bit
//!   sample is the table value left-justified: µ-law table units × 4 (14-bit), A-law × 8
//!   (13-bit). Negative samples are made positive by their one's complement (`-x - 1`), so the
//!   decision for `x < 0` is the decision for `-x - 1`. Inputs beyond the last decision value
//!   fall in the last interval (overload).
//!
//! The reference quantizes by a plain search over the 128 decision values of each polarity,
//! without any of the bit tricks of the code under test.

use callcert_codecs::g711::{
    alaw_decode, alaw_encode, decode_alaw, decode_ulaw, encode_alaw, encode_ulaw, ulaw_decode,
    ulaw_encode, ALAW_ZERO, ULAW_ZERO,
};

/// One group of 16 intervals of a G.711 table: first decision value, interval width, first output value.
struct Segment {
    first_decision: i32,
    width: i32,
    first_output: i32,
}

/// Table 1/G.711, A-law, positive half (units: overload at 4096).
const ALAW_TABLE: [Segment; 8] = [
    Segment {
        first_decision: 0,
        width: 2,
        first_output: 1,
    },
    Segment {
        first_decision: 32,
        width: 2,
        first_output: 33,
    },
    Segment {
        first_decision: 64,
        width: 4,
        first_output: 66,
    },
    Segment {
        first_decision: 128,
        width: 8,
        first_output: 132,
    },
    Segment {
        first_decision: 256,
        width: 16,
        first_output: 264,
    },
    Segment {
        first_decision: 512,
        width: 32,
        first_output: 528,
    },
    Segment {
        first_decision: 1024,
        width: 64,
        first_output: 1056,
    },
    Segment {
        first_decision: 2048,
        width: 128,
        first_output: 2112,
    },
];

/// Table 2/G.711, µ-law, positive half (units: overload at 8159). The first interval of
/// segment 1 is `0..1` with output 0; the other 15 are 2 wide starting at decision value 1.
const ULAW_TABLE: [Segment; 8] = [
    Segment {
        first_decision: -1,
        width: 2,
        first_output: 0,
    },
    Segment {
        first_decision: 31,
        width: 4,
        first_output: 33,
    },
    Segment {
        first_decision: 95,
        width: 8,
        first_output: 99,
    },
    Segment {
        first_decision: 223,
        width: 16,
        first_output: 231,
    },
    Segment {
        first_decision: 479,
        width: 32,
        first_output: 495,
    },
    Segment {
        first_decision: 991,
        width: 64,
        first_output: 1023,
    },
    Segment {
        first_decision: 2015,
        width: 128,
        first_output: 2079,
    },
    Segment {
        first_decision: 4063,
        width: 256,
        first_output: 4191,
    },
];

/// The 128 lower decision values and the 128 output values of one law, interval 0 first.
struct Quantizer {
    lower_edges: Vec<i32>,
    outputs: Vec<i32>,
}

fn quantizer(table: &[Segment; 8]) -> Quantizer {
    let mut lower_edges = Vec::with_capacity(128);
    let mut outputs = Vec::with_capacity(128);
    for segment in table {
        for i in 0..16 {
            lower_edges.push(segment.first_decision + i * segment.width);
            outputs.push(segment.first_output + i * segment.width);
        }
    }
    // µ-law's special first interval: decision value 0 (not -1) and output 0.
    if lower_edges[0] < 0 {
        lower_edges[0] = 0;
    }
    Quantizer {
        lower_edges,
        outputs,
    }
}

/// Interval number (0..=127) of a non-negative magnitude in 16-bit units, by linear search.
fn interval(q: &Quantizer, magnitude: i32, scale: i32) -> usize {
    let mut n = 0;
    for (i, &edge) in q.lower_edges.iter().enumerate() {
        if magnitude >= edge * scale {
            n = i;
        }
    }
    n
}

/// G.191's one's complement for negative samples.
fn sign_and_magnitude(x: i16) -> (bool, i32) {
    if x < 0 {
        (true, -(x as i32) - 1)
    } else {
        (false, x as i32)
    }
}

fn reference_ulaw_encode(q: &Quantizer, x: i16) -> u8 {
    let (negative, magnitude) = sign_and_magnitude(x);
    let n = interval(q, magnitude, 4) as u8;
    let code = 0x7F - n;
    if negative {
        code
    } else {
        code | 0x80
    }
}

fn reference_alaw_encode(q: &Quantizer, x: i16) -> u8 {
    let (negative, magnitude) = sign_and_magnitude(x);
    let n = interval(q, magnitude, 8) as u8;
    let character = if negative { n } else { n | 0x80 };
    character ^ 0x55
}

fn reference_ulaw_decode(q: &Quantizer, code: u8) -> i16 {
    let n = (0x7F - (code & 0x7F)) as usize;
    let value = q.outputs[n] * 4;
    (if code & 0x80 != 0 { value } else { -value }) as i16
}

fn reference_alaw_decode(q: &Quantizer, code: u8) -> i16 {
    let character = code ^ 0x55;
    let value = q.outputs[(character & 0x7F) as usize] * 8;
    (if character & 0x80 != 0 { value } else { -value }) as i16
}

#[test]
fn the_transcribed_tables_have_the_published_end_points() {
    let u = quantizer(&ULAW_TABLE);
    let a = quantizer(&ALAW_TABLE);
    // Table 2: decision values 0, 1, 3, ..., output 8031 in the last interval, 7903..8159.
    assert_eq!(&u.lower_edges[..3], &[0, 1, 3]);
    assert_eq!(&u.outputs[..3], &[0, 2, 4]);
    assert_eq!(u.lower_edges[16], 31);
    assert_eq!(u.lower_edges[127], 7903);
    assert_eq!(u.outputs[127], 8031);
    // Table 1: output 4032 in the last interval, 3968..4096; segment 1 outputs 1, 3, ..., 63.
    assert_eq!(a.lower_edges[127], 3968);
    assert_eq!(a.outputs[127], 4032);
    assert_eq!(a.outputs[31], 63);
    // Every output value lies inside its interval (midpoint rule of G.711).
    for q in [&u, &a] {
        for n in 1..127 {
            assert!(q.lower_edges[n] <= q.outputs[n] && q.outputs[n] < q.lower_edges[n + 1]);
        }
    }
}

#[test]
fn ulaw_encode_matches_the_table_for_all_65536_inputs() {
    let q = quantizer(&ULAW_TABLE);
    for x in i16::MIN..=i16::MAX {
        assert_eq!(
            ulaw_encode(x),
            reference_ulaw_encode(&q, x),
            "µ-law encode of {x}"
        );
    }
}

#[test]
fn alaw_encode_matches_the_table_for_all_65536_inputs() {
    let q = quantizer(&ALAW_TABLE);
    for x in i16::MIN..=i16::MAX {
        assert_eq!(
            alaw_encode(x),
            reference_alaw_encode(&q, x),
            "A-law encode of {x}"
        );
    }
}

#[test]
fn decode_of_all_256_codes_gives_the_table_output_values() {
    let u = quantizer(&ULAW_TABLE);
    let a = quantizer(&ALAW_TABLE);
    for code in 0..=255u8 {
        assert_eq!(
            ulaw_decode(code),
            reference_ulaw_decode(&u, code),
            "µ-law {code:#04x}"
        );
        assert_eq!(
            alaw_decode(code),
            reference_alaw_decode(&a, code),
            "A-law {code:#04x}"
        );
    }
}

#[test]
fn published_spot_values() {
    // Zero and negative zero.
    assert_eq!(ulaw_encode(0), ULAW_ZERO);
    assert_eq!(ulaw_encode(-1), 0x7F);
    assert_eq!(alaw_encode(0), ALAW_ZERO);
    assert_eq!(alaw_encode(-1), 0x55);
    // Full scale.
    assert_eq!(ulaw_encode(i16::MAX), 0x80);
    assert_eq!(ulaw_encode(i16::MIN), 0x00);
    assert_eq!(alaw_encode(i16::MAX), 0xAA);
    assert_eq!(alaw_encode(i16::MIN), 0x2A);
    assert_eq!(ulaw_decode(0x80), 32124);
    assert_eq!(ulaw_decode(0x00), -32124);
    assert_eq!(ulaw_decode(0xFF), 0);
    assert_eq!(ulaw_decode(0x7F), 0);
    assert_eq!(alaw_decode(0xAA), 32256);
    assert_eq!(alaw_decode(0x2A), -32256);
    assert_eq!(alaw_decode(0xD5), 8);
    assert_eq!(alaw_decode(0x55), -8);
}

#[test]
fn encode_of_decode_is_the_identity_except_ulaw_negative_zero() {
    for code in 0..=255u8 {
        assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            ulaw_encode(ulaw_decode(code)),
            expected,
            "µ-law {code:#04x}"
        );
    }
}

#[test]
fn quantization_is_monotonic_symmetric_and_idempotent() {
    let mut previous_u = i16::MIN;
    let mut previous_a = i16::MIN;
    for x in i16::MIN..=i16::MAX {
        let qu = ulaw_decode(ulaw_encode(x));
        let qa = alaw_decode(alaw_encode(x));
        assert!(qu >= previous_u && qa >= previous_a, "monotonic at {x}");
        previous_u = qu;
        previous_a = qa;
        // One's complement symmetry: x and -x-1 differ only in the sign bit.
        let mirror = -(x as i32) - 1;
        let mirror = mirror as i16;
        assert_eq!(
            ulaw_encode(x) ^ 0x80,
            ulaw_encode(mirror),
            "µ-law symmetry at {x}"
        );
        assert_eq!(
            alaw_encode(x) ^ 0x80,
            alaw_encode(mirror),
            "A-law symmetry at {x}"
        );
        // Re-encoding a decoded value keeps the code (µ-law: except the negative zero).
        assert_eq!(alaw_encode(qa), alaw_encode(x));
        if ulaw_encode(x) != 0x7F {
            assert_eq!(ulaw_encode(qu), ulaw_encode(x));
        }
    }
}

#[test]
fn slice_versions_agree_with_the_sample_versions() {
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((i * 409) % 65536 - 32768) as i16)
        .collect();
    let mut u = [0u8; 160];
    let mut a = [0u8; 160];
    assert_eq!(encode_ulaw(&pcm, &mut u), 160);
    assert_eq!(encode_alaw(&pcm, &mut a), 160);
    let mut du = [0i16; 160];
    let mut da = [0i16; 160];
    assert_eq!(decode_ulaw(&u, &mut du), 160);
    assert_eq!(decode_alaw(&a, &mut da), 160);
    for i in 0..160 {
        assert_eq!(u[i], ulaw_encode(pcm[i]));
        assert_eq!(a[i], alaw_encode(pcm[i]));
        assert_eq!(du[i], ulaw_decode(u[i]));
        assert_eq!(da[i], alaw_decode(a[i]));
    }
}
