//! Durations as configuration files write them: `500ms`, `3s`, `1.5s`, `2m`, `1h`, `1m30s`.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;
use thiserror::Error;

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("invalid duration \"\": empty")]
    Empty,
    /// A number is not followed by a unit (`3` instead of `3s`).
    #[error("invalid duration {0:?}: missing unit (us, ms, s, m or h)")]
    MissingUnit(String),
    /// Something other than `<number><unit>` pairs, e.g. `3 seconds` or `-1s`.
    #[error("invalid duration {0:?}: expected <number><unit>, units us, ms, s, m, h")]
    Invalid(String),
    /// The value does not fit a `std::time::Duration`.
    #[error("invalid duration {0:?}: too large")]
    Overflow(String),
}

/// Parses `<number><unit>` pairs (units `us`, `ms`, `s`, `m`, `h`; decimals allowed: `1.5s`;
/// pairs add up: `1m30s`). Exact to the nanosecond; no sign, no spaces.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let invalid = || DurationError::Invalid(text.to_string());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        let int_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_part = &text[int_start..i];
        let mut frac_part = "";
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_part = &text[frac_start..i];
            if frac_part.is_empty() {
                return Err(invalid());
            }
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ns: u128 = match &text[unit_start..i] {
            "" if i == bytes.len() => return Err(DurationError::MissingUnit(text.to_string())),
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(invalid()),
        };
        let overflow = || DurationError::Overflow(text.to_string());
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut ns = whole.checked_mul(unit_ns).ok_or_else(overflow)?;
        // Fraction: digits beyond nanosecond precision are dropped.
        let mut scale = unit_ns;
        for d in frac_part.bytes() {
            scale /= 10;
            ns += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(ns).ok_or_else(overflow)?;
    }
    let secs =
        u64::try_from(total / 1_000_000_000).map_err(|_| DurationError::Overflow(text.into()))?;
    // The remainder is below 1e9 and so fits a u32.
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Writes a duration in the shortest exact form [`parse_duration`] reads back (`1.5s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let units: [(u128, &str); 5] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    if ns == 0 {
        return "0s".into();
    }
    for (unit, name) in units {
        if ns.is_multiple_of(unit) {
            return format!("{}{name}", ns / unit);
        }
    }
    // Sub-microsecond remainder: a decimal number of seconds, trailing zeros trimmed.
    let s = format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
    format!("{}s", s.trim_end_matches('0'))
}

/// `#[serde(deserialize_with = "duration::deserialize")]` for `Duration` fields.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// `#[serde(serialize_with = "duration::serialize")]` for `Duration` fields.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let ok = [
            ("500ms", Duration::from_millis(500)),
            ("3s", Duration::from_secs(3)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1m30s", Duration::from_secs(90)),
            ("0s", Duration::ZERO),
            (".5s", Duration::from_millis(500)),
            ("250us", Duration::from_micros(250)),
            ("0.0000000019s", Duration::from_nanos(1)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_the_rest() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("3"),
            Err(DurationError::MissingUnit("3".into()))
        );
        for bad in [
            "3 seconds",
            "-1s",
            "1.s",
            "s",
            "3sec",
            "1,5s",
            "1e3ms",
            " 3s",
            "3s ",
        ] {
            assert!(
                matches!(parse_duration(bad), Err(DurationError::Invalid(_))),
                "{bad}: {:?}",
                parse_duration(bad)
            );
        }
        assert!(matches!(
            parse_duration("99999999999999999999999999999999999999999h"),
            Err(DurationError::Overflow(_))
        ));
        assert_eq!(
            parse_duration("3 seconds").unwrap_err().to_string(),
            "invalid duration \"3 seconds\": expected <number><unit>, units us, ms, s, m, h"
        );
    }

    #[test]
    fn format_round_trips() {
        for d in [
            Duration::ZERO,
            Duration::from_millis(1500),
            Duration::from_millis(250),
            Duration::from_secs(7200),
            Duration::from_secs(90),
            Duration::from_nanos(1),
            Duration::from_nanos(1_000_000_123),
        ] {
            let text = format_duration(d);
            assert_eq!(parse_duration(&text), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }
}
