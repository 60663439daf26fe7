//! Parsing one CSV field as each column type. Inference and the Arrow
//! builders share these, so what inference accepts always converts.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");

/// `true` or `false`, in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Whether a number has a leading zero that a number type would drop
/// (`007`, `-01`): such a field is an identifier, not a number.
fn has_leading_zero(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit()
}

/// A whole number that fits a BIGINT: an optional sign and digits.
pub fn parse_i64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || has_leading_zero(digits)
    {
        return None;
    }
    s.parse().ok()
}

/// A decimal number: digits with an optional sign, point and exponent.
/// `inf`, `NaN` and the like stay text.
pub fn parse_f64(s: &str) -> Option<f64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let b = digits.as_bytes();
    if b.is_empty()
        || !(b[0].is_ascii_digit() || b[0] == b'.')
        || has_leading_zero(digits)
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `YYYY-MM-DD`, as days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i32> {
    Some(date(s)?.signed_duration_since(EPOCH).num_days() as i32)
}

fn date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[r];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')),
        )
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or `T` between), no time zone, as
/// microseconds since 1970-01-01 00:00:00.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if s.len() < 19 || !s.is_char_boundary(10) || !s.is_char_boundary(11) {
        return None;
    }
    let (d, rest) = s.split_at(10);
    let sep = rest.as_bytes()[0];
    if sep != b' ' && sep != b'T' {
        return None;
    }
    let time = &rest[1..];
    let tb = time.as_bytes();
    if tb.len() < 8 || tb[2] != b':' || tb[5] != b':' {
        return None;
    }
    if tb.len() > 8 && (tb[8] != b'.' || tb.len() == 9 || tb.len() > 18) {
        return None;
    }
    if !tb
        .iter()
        .enumerate()
        .all(|(i, c)| matches!(i, 2 | 5 | 8) || c.is_ascii_digit())
    {
        return None;
    }
    let t = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?;
    let ts = NaiveDateTime::new(date(d)?, t);
    Some(ts.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_i64("42"), Some(42));
        assert_eq!(parse_i64("-7"), Some(-7));
        assert_eq!(parse_i64("0"), Some(0));
        assert_eq!(parse_i64("007"), None);
        assert_eq!(parse_i64("9223372036854775808"), None);
        assert_eq!(parse_i64("1.0"), None);
        assert_eq!(parse_i64(" 1"), None);
        assert_eq!(parse_f64("1.5"), Some(1.5));
        assert_eq!(parse_f64("-0.25e3"), Some(-250.0));
        assert_eq!(parse_f64(".5"), Some(0.5));
        assert_eq!(parse_f64("0.5"), Some(0.5));
        assert_eq!(parse_f64("inf"), None);
        assert_eq!(parse_f64("NaN"), None);
        assert_eq!(parse_f64("1e999"), None);
        assert_eq!(parse_f64("01.5"), None);
        assert_eq!(parse_f64("1-2"), None);
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("1"), None);
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024-1-01"), None);
        assert_eq!(parse_timestamp("1970-01-01 00:00:01"), Some(1_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.5"), Some(500_000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.123456"), Some(123_456));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00Z"), None);
        assert_eq!(parse_timestamp("1970-01-01 00:00:00+01:00"), None);
        assert_eq!(parse_timestamp("1970-01-01 25:00:00"), None);
        assert_eq!(parse_timestamp("1970-01-01 00:00:00."), None);
        assert_eq!(parse_timestamp("1970-01-01é00:00:00"), None);
    }
}
