//! Times of day as configuration files write them: daily windows such as `09:00-18:00`,
//! `22:00-06:00` (over midnight) or `10:15:30-10:16:00`, and the local clock they are read on.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Seconds in a day.
pub const DAY_S: u32 = 86_400;

/// Why a daily window did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid time window {text:?}: {why} (expected HH:MM-HH:MM or HH:MM:SS-HH:MM:SS)")]
pub struct DaytimeError {
    /// The text as written.
    pub text: String,
    /// What is wrong.
    pub why: &'static str,
}

/// A window of the day, `[start, end)` in seconds since local midnight; `end < start` runs over
/// midnight, and `end == start` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyWindow {
    /// First second of the window.
    pub start_s: u32,
    /// First second after it.
    pub end_s: u32,
}

impl DailyWindow {
    /// Whether `second_of_day` (0..86 400) falls in the window.
    pub fn contains(&self, second_of_day: u32) -> bool {
        let s = second_of_day % DAY_S;
        match self.start_s.cmp(&self.end_s) {
            std::cmp::Ordering::Less => (self.start_s..self.end_s).contains(&s),
            std::cmp::Ordering::Greater => s >= self.start_s || s < self.end_s,
            std::cmp::Ordering::Equal => true,
        }
    }

    /// Its length in seconds.
    pub fn len_s(&self) -> u32 {
        (self.end_s + DAY_S - self.start_s - 1) % DAY_S + 1
    }
}

fn time_of_day(text: &str, whole: &str) -> Result<u32, DaytimeError> {
    let err = |why| DaytimeError {
        text: whole.to_string(),
        why,
    };
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(err("a time is HH:MM or HH:MM:SS"));
    }
    let mut v = [0u32; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("hours, minutes and seconds are one or two digits"));
        }
        v[i] = p.parse().map_err(|_| err("not a number"))?;
    }
    if v[0] > 24 || v[1] > 59 || v[2] > 59 || (v[0] == 24 && (v[1] > 0 || v[2] > 0)) {
        return Err(err("out of range (00:00 to 24:00)"));
    }
    Ok(v[0] * 3600 + v[1] * 60 + v[2])
}

impl FromStr for DailyWindow {
    type Err = DaytimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (a, b) = text.split_once('-').ok_or_else(|| DaytimeError {
            text: text.to_string(),
            why: "no `-` between start and end",
        })?;
        let start_s = time_of_day(a, text)?;
        let end_s = time_of_day(b, text)?;
        if start_s == DAY_S {
            return Err(DaytimeError {
                text: text.to_string(),
                why: "a window cannot start at 24:00",
            });
        }
        if start_s == end_s {
            return Err(DaytimeError {
                text: text.to_string(),
                why: "start and end are the same time",
            });
        }
        Ok(DailyWindow {
            start_s,
            end_s: end_s % DAY_S,
        })
    }
}

impl fmt::Display for DailyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hms = |s: u32| {
            let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
            if sec == 0 {
                format!("{h:02}:{m:02}")
            } else {
                format!("{h:02}:{m:02}:{sec:02}")
            }
        };
        let end = if self.end_s == 0 { DAY_S } else { self.end_s };
        write!(f, "{}-{}", hms(self.start_s), hms(end))
    }
}

/// The second of the (local) day of a Unix time, given the local offset from UTC.
pub fn second_of_day(unix_s: f64, utc_offset_s: i32) -> u32 {
    (unix_s + f64::from(utc_offset_s)).rem_euclid(f64::from(DAY_S)) as u32 % DAY_S
}

/// The hour of the (local) day of a Unix time.
pub fn hour_of_day(unix_s: f64, utc_offset_s: i32) -> u8 {
    (second_of_day(unix_s, utc_offset_s) / 3600) as u8
}

/// This machine's offset from UTC at `unix_s` (the `TZ` environment variable or the system's
/// zone), in seconds east of UTC; 0 where it cannot be known.
pub fn local_utc_offset_s(unix_s: i64) -> i32 {
    #[cfg(unix)]
    {
        let t: libc::time_t = unix_s as libc::time_t;
        // SAFETY: localtime_r writes into the zeroed tm we own; both pointers are valid.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        if ok {
            return tm.tm_gmtoff as i32;
        }
        0
    }
    #[cfg(not(unix))]
    {
        let _ = unix_s;
        0
    }
}

/// Parses a UTC offset as written on the command line: `+08:00`, `-05:30`, `+8`, `Z`, `UTC`.
pub fn parse_utc_offset(text: &str) -> Result<i32, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(0);
    }
    let bad = || format!("invalid UTC offset {text:?}: expected +HH:MM, -HH:MM or UTC");
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> DailyWindow {
        s.parse().expect(s)
    }

    #[test]
    fn windows_parse_and_contain() {
        let day = w("09:00-18:00");
        assert_eq!((day.start_s, day.end_s), (9 * 3600, 18 * 3600));
        assert!(day.contains(9 * 3600) && day.contains(18 * 3600 - 1));
        assert!(!day.contains(18 * 3600) && !day.contains(8 * 3600 + 3599));
        let night = w("22:00-06:00");
        assert!(night.contains(23 * 3600) && night.contains(3600) && !night.contains(12 * 3600));
        assert_eq!(night.len_s(), 8 * 3600);
        let to_midnight = w("20:00-24:00");
        assert_eq!(to_midnight.end_s, 0);
        assert!(to_midnight.contains(DAY_S - 1) && !to_midnight.contains(0));
        assert_eq!(to_midnight.len_s(), 4 * 3600);
        assert_eq!(to_midnight.to_string(), "20:00-24:00");
        let secs = w("10:15:30-10:16:00");
        assert_eq!(secs.len_s(), 30);
        assert_eq!(secs.to_string(), "10:15:30-10:16");
    }

    #[test]
    fn bad_windows_say_why() {
        for (text, why) in [
            ("0900-1800", "a time is HH:MM"),
            ("09:00", "no `-`"),
            ("25:00-26:00", "out of range"),
            ("09:60-10:00", "out of range"),
            ("10:00-10:00", "the same time"),
            ("24:00-01:00", "cannot start at 24:00"),
            ("a:00-10:00", "one or two digits"),
        ] {
            let e = text.parse::<DailyWindow>().expect_err(text).to_string();
            assert!(e.contains(why) && e.contains(text), "{text}: {e}");
        }
    }

    #[test]
    fn hours_follow_the_offset() {
        // 02:30:00 UTC.
        let t = 1_764_901_800.0;
        assert_eq!(hour_of_day(t, 0), 2);
        assert_eq!(hour_of_day(t, 8 * 3600), 10);
        assert_eq!(hour_of_day(t, -5 * 3600), 21);
        assert_eq!(second_of_day(t, 0), 2 * 3600 + 1800);
        assert_eq!(parse_utc_offset("+08:00"), Ok(28_800));
        assert_eq!(parse_utc_offset("-05:30"), Ok(-19_800));
        assert_eq!(parse_utc_offset("UTC"), Ok(0));
        assert!(parse_utc_offset("8").is_err());
    }
}
