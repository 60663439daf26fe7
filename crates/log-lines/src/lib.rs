//! How one event becomes one line, its bytes appended to a buffer: a server
//! logs every request, and general formatters cost up to a third of a
//! cached query's answer (~56,000 instructions). Measured with callgrind,
//! a request's line took ~23,000 instructions with tracing-subscriber's
//! JSON format, ~5,000 with `core::fmt` through its `Writer`, and ~2,600
//! this way, tracing's own dispatch included.
//!
//! JSON: `{"timestamp":"2026-11-28T17:22:49.668433Z","level":"INFO",
//! "target":"lake::server::observe","message":"request","route":...}`.
//! Human: `2026-11-28T17:22:49.668433Z  INFO request route=/v1/sql ...`.
//!
//! A crate of its own so that it is built without debug assertions and
//! overflow checks even in the dev profile, which the tests and the
//! benchmark use: there, the checks inside every `Vec::extend_from_slice`
//! made a line cost ~25% more (by callgrind, ~3,200 instructions against
//! ~2,600), checks a release build does not have either.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Metadata};

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object each: `timestamp`, `level`, `target`, then the
    /// event's fields, `message` among them.
    Json,
    /// Text for people: timestamp, level, message, then `name=value`.
    Human,
}

/// Appends `n` in decimal, at least `width` digits (zero-padded).
fn digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
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
    out.extend_from_slice(&buf[start..]);
}

thread_local! {
    /// The second last written, and its text up to the fraction (empty
    /// until the thread's first line).
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

/// Appends `time` as RFC 3339 in UTC with microseconds; the part up to the
/// second is made once a second.
fn timestamp(out: &mut Vec<u8>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    // Through `reused`, like the line's other buffers: an event logged while
    // the thread's locals are torn down must not panic.
    reused(&SECOND, |(second, text)| {
        if *second != secs || text.is_empty() {
            text.clear();
            let _ = whole_seconds(text, secs);
            *second = secs;
        }
        out.extend_from_slice(text.as_bytes());
    });
    digits(out, u64::from(since.subsec_micros()), 6);
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS.` of a Unix time.
fn whole_seconds(out: &mut String, secs: u64) -> fmt::Result {
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

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The bytes a JSON string cannot hold as they are.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Appends `s` as the inside of a JSON string.
fn escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !ESCAPED[usize::from(b)] {
            continue;
        }
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// What `core::fmt` writes through it lands in the line: escaped as the
/// inside of a JSON string, or as it is.
struct Text<'a> {
    out: &'a mut Vec<u8>,
    json: bool,
}

impl fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.json {
            escaped(self.out, s);
        } else {
            self.out.extend_from_slice(s.as_bytes());
        }
        Ok(())
    }
}

/// The parts of a line that are the same for every event of one callsite,
/// made once rather than once a line: what follows the timestamp (level,
/// and target in JSON) and what goes before each field's value (the
/// `,"name":` of JSON, the ` name=` of a human line, where the message
/// has no name). Field names are Rust identifiers: nothing to escape.
#[derive(Default)]
struct Shared {
    callsite: Option<(tracing_core::callsite::Identifier, Format, bool)>,
    head: Vec<u8>,
    keys: Vec<u8>,
    /// Where each field's key starts in `keys`, by the field's index, and
    /// where the last ends.
    starts: Vec<usize>,
}

impl Shared {
    /// Makes the parts for `meta`'s callsite, unless they are made.
    fn of(&mut self, meta: &Metadata<'_>, format: Format, colour: bool) {
        let callsite = Some((meta.callsite(), format, colour));
        if self.callsite == callsite {
            return;
        }
        self.head.clear();
        self.keys.clear();
        self.starts.clear();
        match format {
            Format::Json => {
                self.head.extend_from_slice(b"\",\"level\":\"");
                self.head
                    .extend_from_slice(meta.level().as_str().as_bytes());
                self.head.extend_from_slice(b"\",\"target\":\"");
                escaped(&mut self.head, meta.target());
                self.head.push(b'"');
            }
            Format::Human => {
                let level = meta.level();
                let name = level.as_str();
                self.head.resize(6 - name.len(), b' ');
                if colour {
                    self.head.extend_from_slice(colour_of(level).as_bytes());
                }
                self.head.extend_from_slice(name.as_bytes());
                if colour {
                    self.head.extend_from_slice(b"\x1b[0m");
                }
            }
        }
        for field in meta.fields() {
            self.starts.push(self.keys.len());
            let name = field.name().as_bytes();
            match format {
                Format::Json => {
                    self.keys.extend_from_slice(b",\"");
                    self.keys.extend_from_slice(name);
                    self.keys.extend_from_slice(b"\":");
                }
                Format::Human if name == b"message" => self.keys.push(b' '),
                Format::Human => {
                    self.keys.push(b' ');
                    self.keys.extend_from_slice(name);
                    self.keys.push(b'=');
                }
            }
        }
        self.starts.push(self.keys.len());
        self.callsite = callsite;
    }

    fn key(&self, field: &Field) -> &[u8] {
        let i = field.index();
        let key = self
            .starts
            .get(i..i + 2)
            .and_then(|s| self.keys.get(s[0]..s[1]));
        key.unwrap_or_default()
    }
}

/// Runs `f` on this thread's `T` in `key`, borrowed in place: an event
/// logged while a line is being made (by a value's Debug) finds it borrowed
/// and gets a new one, as does a thread that is ending. (Taking the `T` out
/// and putting it back cost ~150 instructions a line.)
pub fn reused<T: Default>(key: &'static std::thread::LocalKey<RefCell<T>>, f: impl FnOnce(&mut T)) {
    let mut f = Some(f);
    let _ = key.try_with(|cell| {
        if let Ok(mut t) = cell.try_borrow_mut()
            && let Some(f) = f.take()
        {
            f(&mut t);
        }
    });
    if let Some(f) = f {
        f(&mut T::default());
    }
}

thread_local! {
    /// The parts of the callsite this thread logged last.
    static SHARED: RefCell<Shared> = RefCell::new(Shared::default());
}

/// Writes an event's fields as they are recorded (tracing records the
/// message first).
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    shared: &'a Shared,
    format: Format,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) {
        self.out.extend_from_slice(self.shared.key(field));
    }

    fn raw(&mut self, field: &Field, value: &[u8]) {
        self.key(field);
        self.out.extend_from_slice(value);
    }

    fn quote(&mut self) {
        if self.format == Format::Json {
            self.out.push(b'"');
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        self.quote();
        match self.format {
            Format::Json => escaped(self.out, value),
            Format::Human => self.out.extend_from_slice(value.as_bytes()),
        }
        self.quote();
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.quote();
        let json = self.format == Format::Json;
        // Writing to a Vec cannot fail; a Debug that fails leaves what it wrote.
        let _ = write!(
            Text {
                out: self.out,
                json
            },
            "{value:?}"
        );
        self.quote();
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        digits(self.out, value, 1);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        if value < 0 {
            self.out.push(b'-');
        }
        digits(self.out, value.unsigned_abs(), 1);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { b"true" } else { b"false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, value.to_string().as_bytes());
        } else {
            self.record_debug(field, &format_args!("{value}"));
        }
    }
}

/// The ANSI colour a level is shown in on a terminal.
fn colour_of(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        _ => "\x1b[35m",
    }
}

/// Appends `event` to `out` as one line in `format`, newline included;
/// `colour` shows a human line's level in colour.
pub fn line(out: &mut Vec<u8>, event: &Event<'_>, format: Format, colour: bool) {
    let meta = event.metadata();
    if format == Format::Json {
        out.extend_from_slice(b"{\"timestamp\":\"");
    }
    timestamp(out, SystemTime::now());
    reused(&SHARED, |shared| {
        shared.of(meta, format, colour);
        out.extend_from_slice(&shared.head);
        event.record(&mut Fields {
            out,
            shared,
            format,
        });
    });
    out.extend_from_slice(match format {
        Format::Json => b"}\n",
        Format::Human => b"\n",
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut s = Vec::new();
        let t = UNIX_EPOCH + Duration::from_micros(1_795_887_769_668_433);
        timestamp(&mut s, t);
        assert_eq!(s, b"2026-11-28T17:42:49.668433Z");
        s.clear();
        timestamp(&mut s, UNIX_EPOCH + Duration::from_secs(951_782_400));
        assert_eq!(s, b"2000-02-29T00:00:00.000000Z");
        s.clear();
        digits(&mut s, 0, 1);
        digits(&mut s, 42, 6);
        digits(&mut s, u64::MAX, 1);
        assert_eq!(s, b"000004218446744073709551615");
    }

    /// Lines of the events `log` makes, as [`line`] writes them.
    fn lines_of(format: Format, colour: bool, log: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
        struct Capture(Arc<Mutex<Vec<u8>>>, Format, bool);
        impl<S: tracing::Subscriber> Layer<S> for Capture {
            fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
                line(&mut self.0.lock().unwrap(), event, self.1, self.2);
            }
        }
        let out = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(out.clone(), format, colour));
        tracing::subscriber::with_default(subscriber, log);
        String::from_utf8(out.lock().unwrap().clone()).unwrap()
    }

    fn events() {
        for i in 0..2u64 {
            tracing::info!(
                message = "request",
                id = "a\"b",
                status = 200u16,
                rows = i,
                ok = true
            );
        }
        tracing::warn!(delta = -3i64, ratio = 0.5, what = ?Some("x"), "slow {}", "disk");
    }

    #[test]
    fn json_lines_hold_every_field_once_per_event() {
        let text = lines_of(Format::Json, false, events);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (i, line) in lines[..2].iter().enumerate() {
            assert_eq!(line["level"], "INFO");
            assert_eq!(line["target"], "lake_log_lines::tests");
            assert_eq!(line["message"], "request");
            assert_eq!(line["id"], "a\"b");
            assert_eq!(line["status"], 200);
            assert_eq!(line["rows"], i);
            assert_eq!(line["ok"], true);
            assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
        }
        let warn = &lines[2];
        assert_eq!(warn["level"], "WARN");
        assert_eq!(warn["message"], "slow disk");
        assert_eq!(warn["delta"], -3);
        assert_eq!(warn["ratio"], 0.5);
        assert_eq!(warn["what"], "Some(\"x\")");
    }

    #[test]
    fn human_lines_read_as_text_and_colour_only_the_level() {
        let plain = lines_of(Format::Human, false, events);
        let first = plain.lines().next().unwrap();
        let (time, rest) = first.split_once(' ').unwrap();
        assert_eq!(time.len(), "2026-11-28T17:42:49.668433Z".len());
        assert_eq!(rest, " INFO request id=a\"b status=200 rows=0 ok=true");
        let last = plain.lines().nth(2).unwrap();
        assert!(
            last.ends_with(" WARN slow disk delta=-3 ratio=0.5 what=Some(\"x\")"),
            "{last}"
        );
        let coloured = lines_of(Format::Human, true, events);
        let first = coloured.lines().next().unwrap();
        assert!(
            first.contains(" \x1b[32mINFO\x1b[0m request id="),
            "{first:?}"
        );
        assert!(
            coloured
                .lines()
                .nth(2)
                .unwrap()
                .contains("\x1b[33mWARN\x1b[0m")
        );
    }

    #[test]
    fn a_borrowed_buffer_is_lent_anew_and_the_thread_keeps_its_own() {
        thread_local!(static KEPT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) });
        reused(&KEPT, |outer| {
            outer.push(1);
            // As when a value's Debug logs while its line is being made.
            reused(&KEPT, |inner| {
                assert!(inner.is_empty());
                inner.push(2);
            });
            outer.push(3);
        });
        reused(&KEPT, |again| assert_eq!(again, &[1, 3]));
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = Vec::new();
        escaped(&mut s, "a\"b\\c\nd\u{1}\u{1f}é");
        let s = String::from_utf8(s).unwrap();
        assert_eq!(s, "a\\\"b\\\\c\\nd\\u0001\\u001fé");
        let parsed: String = serde_json::from_str(&format!("\"{s}\"")).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}\u{1f}é");
    }
}
