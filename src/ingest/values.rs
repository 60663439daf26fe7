//! Parsing one CSV field as each column type. Inference and the Arrow
//! builders share these, so what inference accepts always converts.

use chrono::Datelike;

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
fn has_leading_zero(b: &[u8]) -> bool {
    b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit()
}

/// A whole number that fits a BIGINT: an optional sign and digits.
/// No leading zero (`007` is text), no space; None past BIGINT. One pass
/// over the bytes: it runs for every field of pass one and pass two.
pub fn parse_i64(s: &str) -> Option<i64> {
    let (negative, digits) = split_sign(s.as_bytes());
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    // Summed negative, so that BIGINT's least value fits.
    let mut n: i64 = 0;
    for &b in digits {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(digit))?;
    }
    if negative { Some(n) } else { n.checked_neg() }
}

/// A leading `-` or `+`, and the rest.
fn split_sign(b: &[u8]) -> (bool, &[u8]) {
    match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    }
}

/// A decimal number: digits with an optional sign, point and exponent.
/// `inf`, `NaN` and the like stay text.
pub fn parse_f64(s: &str) -> Option<f64> {
    let (_, b) = split_sign(s.as_bytes());
    if b.is_empty()
        || !(b[0].is_ascii_digit() || b[0] == b'.')
        || has_leading_zero(b)
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `YYYY-MM-DD`, a real calendar date, as days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days before each month of a year that is not a leap year.
const DAYS_BEFORE_MONTH: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Days from 0000-01-01 to 1970-01-01.
const DAYS_TO_1970: i32 = 719_528;

/// Days since 1970-01-01 of a proleptic Gregorian date of the years 0 to
/// 9999: a table lookup and three divisions by constants, in unsigned
/// arithmetic (the signed era arithmetic this replaced was a tenth of the
/// time spent reading dates).
fn days_from_civil(year: u32, month: u32, day: u32) -> i32 {
    // The leap years before `year` (year 0 is one).
    let leaps = year.div_ceil(4) - year.div_ceil(100) + year.div_ceil(400);
    let leap_day = u32::from(month > 2 && is_leap(year));
    let days = 365 * year + leaps + DAYS_BEFORE_MONTH[month as usize - 1] + leap_day + day - 1;
    days as i32 - DAYS_TO_1970
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or `T` between), no time zone, as
/// microseconds since 1970-01-01 00:00:00. Digits past microseconds are
/// truncated. A bare date is its midnight.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() == 10 {
        return parse_date(s).map(|days| i64::from(days) * 86_400_000_000);
    }
    if b.len() < 19 || !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = i64::from(parse_date(s.get(..10)?)?);
    let two = |i: usize| -> Option<i64> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| i64::from(h - b'0') * 10 + i64::from(l - b'0'))
    };
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut micros = 0i64;
    if b.len() > 19 {
        let fraction = &b[20..];
        if b[19] != b'.'
            || fraction.is_empty()
            || fraction.len() > 9
            || !fraction.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        for i in 0..6 {
            micros = micros * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
    }
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros)
}

/// An ISO 8601 time with a zone: `YYYY-MM-DD[T ]HH:MM:SS[.f]` then `Z` or
/// `+HH`, `+HH:MM`, `+HHMM` (or `-`), as microseconds since 1970-01-01 UTC.
pub fn parse_timestamptz(s: &str) -> Option<i64> {
    let (local, offset_minutes) = match s.strip_suffix(['Z', 'z']) {
        Some(local) => (local, 0),
        None => {
            let at = s.rfind(['+', '-']).filter(|&at| at >= 19)?;
            let zone = &s.as_bytes()[at + 1..];
            let digits = |r: std::ops::Range<usize>| -> Option<i64> {
                zone.get(r)?.iter().try_fold(0i64, |acc, d| {
                    d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
                })
            };
            let (hours, minutes) = match zone.len() {
                2 => (digits(0..2)?, 0),
                4 => (digits(0..2)?, digits(2..4)?),
                5 if zone[2] == b':' => (digits(0..2)?, digits(3..5)?),
                _ => return None,
            };
            if hours > 18 || minutes > 59 {
                return None;
            }
            let sign = if s.as_bytes()[at] == b'-' { -1 } else { 1 };
            (&s[..at], sign * (hours * 60 + minutes))
        }
    };
    if local.len() < 19 {
        return None; // a zone needs a time of day
    }
    Some(parse_timestamp(local)? - offset_minutes * 60_000_000)
}

/// `HH:MM:SS[.fraction]`, a time of day, as microseconds since midnight.
pub fn parse_time(s: &str) -> Option<i64> {
    // The time of day of a timestamp on 1970-01-01.
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' {
        return None;
    }
    parse_timestamp(&format!("1970-01-01 {s}"))
}

/// Date and timestamp formats besides ISO 8601, in strftime codes as
/// DuckDB's `dateformat` and `timestampformat` (`%m/%d/%Y`, `%d.%m.%Y`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Formats {
    pub date: Option<String>,
    pub timestamp: Option<String>,
}

impl Formats {
    /// Whether there is any format besides ISO 8601.
    pub fn any(&self) -> bool {
        self.date.is_some() || self.timestamp.is_some()
    }

    /// A date as ISO 8601 or the date format, as days since 1970-01-01.
    pub fn date(&self, s: &str) -> Option<i32> {
        parse_date(s).or_else(|| {
            let date = chrono::NaiveDate::parse_from_str(s, self.date.as_deref()?).ok()?;
            Some(date.num_days_from_ce() - 719_163)
        })
    }

    /// A timestamp as ISO 8601 or the timestamp format (a date is its
    /// midnight), as microseconds since 1970-01-01.
    pub fn timestamp(&self, s: &str) -> Option<i64> {
        parse_timestamp(s)
            .or_else(|| {
                let format = self.timestamp.as_deref()?;
                let t = chrono::NaiveDateTime::parse_from_str(s, format).ok()?;
                Some(t.and_utc().timestamp_micros())
            })
            .or_else(|| self.date(s).map(|days| i64::from(days) * 86_400_000_000))
    }
}

/// Appends to `out` the `n` numbers of a `FLOAT[N]` written as text
/// (`[0.1, -2, 3e-4]`), each a finite FLOAT; `false`, with `out` as it was,
/// for anything else.
pub fn parse_vector(s: &str, n: usize, out: &mut Vec<f32>) -> bool {
    let Some(inner) = s.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    let numbers = inner.split(',').map(|x| x.trim().parse::<f64>().ok());
    let numbers = (!inner.trim().is_empty()).then_some(numbers);
    push_vector(numbers.into_iter().flatten(), n, out)
}

/// Appends to `out` exactly `n` numbers, each a finite FLOAT (NaN,
/// infinities and what overflows FLOAT refused); `false`, with `out` as it
/// was, for anything else.
pub fn push_vector(
    numbers: impl Iterator<Item = Option<f64>>,
    n: usize,
    out: &mut Vec<f32>,
) -> bool {
    let start = out.len();
    for v in numbers {
        match v.map(|v| v as f32).filter(|f| f.is_finite()) {
            Some(f) if out.len() - start < n => out.push(f),
            _ => {
                out.truncate(start);
                return false;
            }
        }
    }
    if out.len() - start != n {
        out.truncate(start);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What parse_i64 answered before its one-pass form: the same
    /// answers, so the same columns are BIGINT.
    fn parse_i64_by_std(s: &str) -> Option<i64> {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        s.parse().ok()
    }

    proptest::proptest! {
        #[test]
        fn whole_numbers_as_std_parses_them(
            s in "[-+]?[0-9]{0,21}[a ]?",
            n in proptest::num::i64::ANY,
        ) {
            proptest::prop_assert_eq!(parse_i64(&s), parse_i64_by_std(&s), "{}", s);
            proptest::prop_assert_eq!(parse_i64(&n.to_string()), Some(n));
            let plus = format!("+{n}");
            proptest::prop_assert_eq!(parse_i64(&plus), parse_i64_by_std(&plus));
        }

        #[test]
        fn dates_agree_with_chrono(days in -719_528i32..2_932_897) {
            let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163).unwrap();
            proptest::prop_assert_eq!(parse_date(&date.format("%Y-%m-%d").to_string()), Some(days));
        }
    }

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
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("1900-02-29"), None);
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("0001-01-01"), Some(-719_162));
        assert_eq!(parse_timestamp("1970-01-01 00:00:01"), Some(1_000_000));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.5"), Some(500_000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.123456"), Some(123_456));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00Z"), None);
        assert_eq!(parse_timestamp("1970-01-01 00:00:00+01:00"), None);
        assert_eq!(parse_timestamp("1970-01-01 25:00:00"), None);
        assert_eq!(parse_timestamp("1970-01-01 00:00:00."), None);
        assert_eq!(parse_timestamp("1970-01-01é00:00:00"), None);
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Some(-1_000_000));
        // With a zone: instants in UTC.
        assert_eq!(parse_timestamptz("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_timestamptz("1970-01-01 02:00:00+02"), Some(0));
        assert_eq!(parse_timestamptz("1970-01-01 02:00:00+02:00"), Some(0));
        assert_eq!(parse_timestamptz("1969-12-31 19:00:00-0500"), Some(0));
        assert_eq!(parse_timestamptz("1970-01-01T00:00:00.25z"), Some(250_000));
        assert_eq!(parse_timestamptz("1970-01-01 00:00:00"), None);
        assert_eq!(parse_timestamptz("1970-01-01Z"), None);
        assert_eq!(parse_timestamptz("1970-01-01 00:00:00+2"), None);
        assert_eq!(parse_timestamptz("1970-01-01 00:00:00+25"), None);
        assert_eq!(parse_time("00:00:01"), Some(1_000_000));
        assert_eq!(parse_time("23:59:59.5"), Some(86_399_500_000));
        assert_eq!(parse_time("24:00:00"), None);
        assert_eq!(parse_time("1:00:00"), None);
        assert_eq!(parse_time("10:00"), None);
        // Other formats, when named.
        let us = Formats {
            date: Some("%m/%d/%Y".into()),
            timestamp: Some("%m/%d/%Y %H:%M:%S".into()),
        };
        assert_eq!(us.date("01/02/1970"), Some(1));
        assert_eq!(us.date("1970-01-02"), Some(1));
        assert_eq!(us.date("13/02/1970"), None);
        assert_eq!(us.timestamp("01/01/1970 00:00:01"), Some(1_000_000));
        assert_eq!(us.timestamp("01/02/1970"), Some(86_400_000_000));
        assert_eq!(Formats::default().date("01/02/1970"), None);
        assert_eq!(
            parse_timestamp("2024-02-29T12:34:56.7891239"),
            Some(1_709_210_096_789_123)
        );
        assert_eq!(parse_timestamp("2024-02-29 12:34:5"), None);
    }
}
