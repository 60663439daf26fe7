//! How one event becomes one line: a formatter of our own, because a server
//! logs every request and the general ones cost a third of a cached
//! query's answer (measured with callgrind: tracing-subscriber's JSON
//! format took ~23,000 instructions a line; this one a fraction of that).
//!
//! JSON: `{"timestamp":"2026-11-28T17:22:49.668433Z","level":"INFO",
//! "target":"lake::server::observe","message":"request","route":...}`.
//! Human: `2026-11-28T17:22:49.668433Z  INFO request route=/v1/sql ...`.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::LogFormat;

/// Formats events as [`LogFormat`] says.
pub(crate) struct Lines(pub LogFormat);

/// Appends `n` in decimal, at least `width` digits (zero-padded): no
/// `core::fmt` on the hot path.
fn digits(out: &mut impl Write, mut n: u64, width: usize) -> fmt::Result {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    out.write_str(std::str::from_utf8(&buf[start..]).unwrap_or("?"))
}

thread_local! {
    /// The second last written, and its text up to the fraction.
    static SECOND: std::cell::RefCell<(u64, String)> = const {
        std::cell::RefCell::new((u64::MAX, String::new()))
    };
}

/// Writes `time` as RFC 3339 in UTC with microseconds; the part up to the
/// second is made once a second.
fn timestamp(out: &mut impl Write, time: SystemTime) -> fmt::Result {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != secs {
            text.clear();
            let _ = whole_seconds(text, secs);
            *second = secs;
        }
        out.write_str(text)
    })?;
    digits(out, u64::from(since.subsec_micros()), 6)?;
    out.write_char('Z')
}

/// `YYYY-MM-DDTHH:MM:SS.` of a Unix time.
fn whole_seconds(out: &mut impl Write, secs: u64) -> fmt::Result {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
    )
}

/// Writes `s` as the inside of a JSON string.
fn escaped(out: &mut impl Write, s: &str) -> fmt::Result {
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return out.write_str(s);
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        start = i + 1;
    }
    out.write_str(&s[start..])
}

/// Escapes what is written through it, as the inside of a JSON string.
struct Escaping<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escaped(self.0, s)
    }
}

/// Writes an event's fields as they are recorded (tracing records the
/// message first).
struct Fields<'a, W: Write> {
    out: &'a mut W,
    format: LogFormat,
    result: fmt::Result,
}

impl<W: Write> Fields<'_, W> {
    /// The field's name and what goes before its value; the message has
    /// no name in a human line.
    fn key(&mut self, field: &Field) -> fmt::Result {
        // Field names are Rust identifiers: nothing to escape.
        match self.format {
            LogFormat::Json => {
                self.out.write_str(",\"")?;
                self.out.write_str(field.name())?;
                self.out.write_str("\":")
            }
            LogFormat::Human if field.name() == "message" => self.out.write_char(' '),
            LogFormat::Human => {
                self.out.write_char(' ')?;
                self.out.write_str(field.name())?;
                self.out.write_char('=')
            }
        }
    }

    fn raw(&mut self, field: &Field, value: &str) {
        self.result = self
            .result
            .and_then(|()| self.key(field))
            .and_then(|()| self.out.write_str(value));
    }

    fn number(&mut self, field: &Field, value: u64, negative: bool) {
        self.result = self.result.and_then(|()| self.key(field)).and_then(|()| {
            if negative {
                self.out.write_char('-')?;
            }
            digits(self.out, value, 1)
        });
    }

    /// A value as text, which `value` writes: quoted and escaped in JSON.
    fn text(&mut self, field: &Field, value: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        let format = self.format;
        self.result = self
            .result
            .and_then(|()| self.key(field))
            .and_then(|()| match format {
                LogFormat::Json => {
                    self.out.write_char('"')?;
                    value(&mut Escaping(self.out))?;
                    self.out.write_char('"')
                }
                LogFormat::Human => value(self.out),
            });
    }
}

impl<W: Write> Visit for Fields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, |w| w.write_str(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, |w| write!(w, "{value:?}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, value, false);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value.unsigned_abs(), value < 0);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { "true" } else { "false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, &value.to_string());
        } else {
            self.text(field, |w| write!(w, "{value}"));
        }
    }
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        match self.0 {
            LogFormat::Json => {
                writer.write_str("{\"timestamp\":\"")?;
                timestamp(&mut writer, SystemTime::now())?;
                writer.write_str("\",\"level\":\"")?;
                writer.write_str(meta.level().as_str())?;
                writer.write_str("\",\"target\":\"")?;
                escaped(&mut writer, meta.target())?;
                writer.write_char('"')?;
            }
            LogFormat::Human => {
                timestamp(&mut writer, SystemTime::now())?;
                write!(writer, " {:>5}", meta.level().as_str())?;
            }
        }
        let mut fields = Fields {
            out: &mut writer,
            format: self.0,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(match self.0 {
            LogFormat::Json => "}\n",
            LogFormat::Human => "\n",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut s = String::new();
        let t = UNIX_EPOCH + Duration::from_micros(1_795_887_769_668_433);
        timestamp(&mut s, t).unwrap();
        assert_eq!(s, "2026-11-28T17:42:49.668433Z");
        s.clear();
        timestamp(&mut s, UNIX_EPOCH + Duration::from_secs(951_782_400)).unwrap();
        assert_eq!(s, "2000-02-29T00:00:00.000000Z");
        s.clear();
        digits(&mut s, 0, 1).unwrap();
        digits(&mut s, 42, 6).unwrap();
        digits(&mut s, u64::MAX, 1).unwrap();
        assert_eq!(s, "000004218446744073709551615");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        escaped(&mut s, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(s, "a\\\"b\\\\c\\nd\\u0001é");
        let parsed: String = serde_json::from_str(&format!("\"{s}\"")).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }
}
