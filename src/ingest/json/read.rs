//! One JSON value read straight from its bytes into a [`Json`], for the
//! common text: the whole value is checked as UTF-8 once, strings are
//! borrowed or unescaped in one step, object keys and numbers are read
//! without serde's visitor calls. Whatever is not plainly valid (a syntax
//! error, a lone surrogate, a control character in a string, a number with
//! more digits than an `f64` holds exactly, deep nesting) is read by
//! serde_json instead, so the value, or the error and where it is, is
//! always serde_json's own: the two give the same [`Json`] for the same
//! text (a property test holds them to it).

use std::borrow::Cow;

use serde_json::Number;

use super::value::{Json, Object};
use crate::ingest::simd::string_run_end;

/// Reads the one JSON value `text` holds (white space around it allowed).
pub(super) fn read(text: &[u8]) -> Result<Json<'_>, serde_json::Error> {
    match quick(text) {
        Some(value) => Ok(value),
        None => serde_json::from_slice(text),
    }
}

/// Nesting past which serde_json reads the value (it stops at 128).
const MAX_NESTING: usize = 100;

/// Digits of the numbers read here (more are read by serde_json): their
/// value fits a u64 with room to spare.
const MAX_DIGITS: usize = 15;

/// Powers of ten as `f64`, as serde_json's table has them: a number is its
/// significand times or divided by one, the same operation serde_json
/// does (and, the significand below 2^53, correctly rounded).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Reads the one JSON value `text` holds into `members` when it is an
/// object (then `None`; what `members` held is gone), else the value: the
/// members of one object after another in one allocation.
pub(super) fn read_object<'a>(
    text: &'a [u8],
    members: &mut Object<'a>,
) -> Result<Option<Json<'a>>, serde_json::Error> {
    read_object_of(text, std::str::from_utf8(text).ok(), members)
}

/// [`read_object`] of text already checked as UTF-8 (a chunk's at once:
/// checked object by object, the checks' setup cost as much as the check).
pub(super) fn read_object_str<'a>(
    text: &'a str,
    members: &mut Object<'a>,
) -> Result<Option<Json<'a>>, serde_json::Error> {
    read_object_of(text.as_bytes(), Some(text), members)
}

/// [`read_object`] of `text`, which is `utf8` when that is `Some`.
fn read_object_of<'a>(
    text: &'a [u8],
    utf8: Option<&'a str>,
    members: &mut Object<'a>,
) -> Result<Option<Json<'a>>, serde_json::Error> {
    members.clear();
    let quick = utf8.map(Reader::of).and_then(|mut reader| {
        reader.skip_space();
        (reader.peek()? == b'{').then_some(())?;
        reader.members(members)?;
        reader.at_end()
    });
    if quick.is_some() {
        return Ok(None);
    }
    members.clear();
    match serde_json::from_slice(text)? {
        Json::Object(object) => {
            *members = object;
            Ok(None)
        }
        other => Ok(Some(other)),
    }
}

fn quick(text: &[u8]) -> Option<Json<'_>> {
    let mut reader = Reader::new(text)?;
    let value = reader.value()?;
    reader.at_end()?;
    Some(value)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `text`, when it is UTF-8.
    fn new(text: &'a [u8]) -> Option<Reader<'a>> {
        std::str::from_utf8(text).ok().map(Reader::of)
    }

    fn of(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    /// Nothing but white space is left.
    fn at_end(&mut self) -> Option<()> {
        self.skip_space();
        (self.pos == self.bytes.len()).then_some(())
    }

    #[inline(always)]
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consumes `word` when it comes next.
    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    fn value(&mut self) -> Option<Json<'a>> {
        self.skip_space();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Json::String),
            b't' => self.word(b"true").map(|()| Json::Bool(true)),
            b'f' => self.word(b"false").map(|()| Json::Bool(false)),
            b'n' => self.word(b"null").map(|()| Json::Null),
            b'-' | b'0'..=b'9' => self.number().map(Json::Number),
            _ => None,
        }
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_NESTING).then_some(())
    }

    fn object(&mut self) -> Option<Json<'a>> {
        let mut members = Vec::new();
        self.members(&mut members)?;
        Some(Json::Object(members))
    }

    /// The members of the object from its `{` on, onto `members`.
    fn members(&mut self, members: &mut Object<'a>) -> Option<()> {
        if self.open(b'}')? {
            return Some(());
        }
        loop {
            self.skip_space();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_space();
            self.word(b":")?;
            self.skip_space();
            // Strings and numbers read here, in place.
            let value = match self.peek()? {
                b'"' => Json::String(self.string()?),
                b'-' | b'0'..=b'9' => Json::Number(self.number()?),
                _ => self.value()?,
            };
            members.push((key, value));
            if self.next_or_close(b'}')? {
                return Some(());
            }
        }
    }

    fn array(&mut self) -> Option<Json<'a>> {
        let mut items = Vec::new();
        if self.open(b']')? {
            return Some(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            if self.next_or_close(b']')? {
                return Some(Json::Array(items));
            }
        }
    }

    /// Past the `{` or `[` here, one level deeper: whether `close` ends it
    /// at once.
    fn open(&mut self, close: u8) -> Option<bool> {
        self.nest()?;
        self.pos += 1;
        self.skip_space();
        Some(self.closes(close))
    }

    /// Consumes `close`, one level up again, when it comes next.
    fn closes(&mut self, close: u8) -> bool {
        let closes = self.peek() == Some(close);
        if closes {
            self.pos += 1;
            self.depth -= 1;
        }
        closes
    }

    /// After a member or element: a `,` before the next (false) or `close`
    /// (true); `None` for anything else.
    fn next_or_close(&mut self, close: u8) -> Option<bool> {
        self.skip_space();
        if self.closes(close) {
            return Some(true);
        }
        self.word(b",")?;
        Some(false)
    }

    /// A string, from its opening quote: borrowed when it holds no escape.
    #[inline(always)]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.pos += 1;
        let start = self.pos;
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            self.pos = string_run_end(self.bytes, self.pos);
            let b = *self.bytes.get(self.pos)?;
            match b {
                b'"' => {
                    let last = self.text.get(run..self.pos)?;
                    self.pos += 1;
                    return Some(match owned {
                        None => Cow::Borrowed(last),
                        Some(mut s) => {
                            s.push_str(last);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(self.text.get(run..self.pos)?);
                    self.pos += 1;
                    self.escape(s)?;
                    run = self.pos;
                }
                // serde_json refuses control characters in strings (and
                // nothing else ends a run).
                _ => return None,
            }
        }
    }

    /// The escape after a backslash, onto `s`.
    fn escape(&mut self, s: &mut String) -> Option<()> {
        let c = match self.peek()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                self.pos += 1;
                let unit = self.hex4()?;
                let c = match unit {
                    0xD800..=0xDBFF => {
                        // A surrogate pair, or serde_json says what is wrong.
                        self.word(b"\\u")?;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => u32::from(unit),
                };
                s.push(char::from_u32(c)?);
                return Some(());
            }
            _ => return None,
        };
        self.pos += 1;
        s.push(c);
        Some(())
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u16::from_str_radix(digits, 16).ok()
    }

    /// Digits from here on, after those of `value`: the value with them
    /// and how many there were; `None` past `most` of them.
    #[inline(always)]
    fn digits(&mut self, mut value: u64, most: usize) -> Option<(u64, usize)> {
        let start = self.pos;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.pos - start == most {
                return None;
            }
            value = value * 10 + u64::from(d - b'0');
            self.pos += 1;
        }
        Some((value, self.pos - start))
    }

    /// A number as serde_json reads it: an integer without fraction or
    /// exponent is a u64 (or, negative, an i64; `-0` is a float), the rest
    /// an `f64`. Only numbers of at most 15 digits, whose value is exact;
    /// serde_json reads the others.
    #[inline(always)]
    fn number(&mut self) -> Option<Number> {
        let negative = self.peek() == Some(b'-');
        self.pos += usize::from(negative);
        // One leading zero at most, and a digit first.
        let (whole, n) = match self.peek()? {
            b'0' => {
                self.pos += 1;
                (0, 1)
            }
            b'1'..=b'9' => self.digits(0, MAX_DIGITS)?,
            _ => return None,
        };
        if matches!(self.peek(), Some(b'0'..=b'9')) {
            return None;
        }
        let (mut significand, mut exponent) = (whole, 0i32);
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let (value, fraction) = self.digits(whole, MAX_DIGITS - n)?;
            if fraction == 0 {
                return None;
            }
            significand = value;
            exponent = -(fraction as i32);
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            let minus = self.peek() == Some(b'-');
            if let Some(b'-' | b'+') = self.peek() {
                self.pos += 1;
            }
            let (e, digits) = self.digits(0, 3)?;
            if digits == 0 || e > 22 {
                return None;
            }
            exponent += if minus { -(e as i32) } else { e as i32 };
            float = true;
        }
        if !float {
            return Some(match (negative, significand) {
                (false, n) => Number::from(n),
                (true, 0) => Number::from_f64(-0.0)?,
                (true, n) => Number::from(-(n as i64)),
            });
        }
        let pow = *POW10.get(exponent.unsigned_abs() as usize)?;
        let f = if exponent >= 0 {
            significand as f64 * pow
        } else {
            significand as f64 / pow
        };
        Number::from_f64(if negative { -f } else { f })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// serde_json's reading of `text`, as `read` must give it.
    fn by_serde(text: &str) -> Result<Json<'_>, String> {
        serde_json::from_str::<Json>(text).map_err(|e| e.to_string())
    }

    fn agrees(text: &str) {
        let ours = read(text.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(ours, by_serde(text), "{text:?}");
        // Where the quick reader takes the text, it gives serde's value.
        if let Some(value) = quick(text.as_bytes()) {
            assert_eq!(Ok(value), by_serde(text), "{text:?}");
        }
    }

    #[test]
    fn reads_as_serde_json_does() {
        // What the quick reader takes itself.
        for text in [
            r#"{"id":0,"name":"name_0","amount":123.45,"flag":true,"x":null}"#,
            r#" { "a" : [1, -2, 3.5e2, -0, 0, -0.0, 1E-3, 2e+2] , "b": {} , "c": [] } "#,
            r#"{"s":"has, comma and \"quote\"","t":"tab\there \u00e9 \ud83d\ude00 \/ \\ \b\f\n\r"}"#,
            r#"{"d":"2024-01-01","k":"","u":"ünïcödé ✓"}"#,
            r#"{"a":1,"a":2}"#,
            r#"[1,[2,[3]],{"x":[]}]"#,
        ] {
            assert!(quick(text.as_bytes()).is_some(), "{text:?}");
            agrees(text);
        }
        // What it leaves to serde_json, and errors.
        for text in [
            r#"{"big":18446744073709551615,"bigger":18446744073709551616,"neg":-9223372036854775808}"#,
            r#"{"long":3.141592653589793238,"tiny":1e-400,"huge":1e400,"e":1e22,"f":1e23}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00x"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"raw\ttab\"}",
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":[1,2"#,
            r#"{"a":"open"#,
            "\"just a string\"",
            "",
            "   ",
            "42",
            "-12.5e-3",
        ] {
            agrees(text);
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        agrees(&deep);
        let deep = "[".repeat(90) + &"]".repeat(90);
        agrees(&deep);
    }

    #[test]
    fn objects_are_read_into_one_vec() {
        let mut members = Vec::new();
        let text = br#"{"a":1,"b":[true]}"#;
        assert_eq!(read_object(text, &mut members).unwrap(), None);
        let Ok(Json::Object(expected)) = serde_json::from_slice::<Json>(text) else {
            panic!()
        };
        assert_eq!(members, expected);
        let capacity = members.capacity();
        assert_eq!(read_object(br#" {"c":"x"} "#, &mut members).unwrap(), None);
        assert_eq!(members.len(), 1);
        assert_eq!(members.capacity(), capacity);
        // Not an object, an error, and what only serde_json reads.
        assert_eq!(
            read_object(b"[1]", &mut members).unwrap(),
            Some(Json::Array(vec![Json::Number(1.into())]))
        );
        assert!(read_object(br#"{"a":}"#, &mut members).is_err());
        let long = br#"{"n":12345678901234567890}"#;
        assert_eq!(read_object(long, &mut members).unwrap(), None);
        assert_eq!(members[0].1, Json::Number(12345678901234567890u64.into()));
    }

    #[test]
    fn text_that_is_not_utf8_is_serde_jsons_error() {
        let text = b"{\"a\":\"\xff\"}";
        let ours = read(text).map_err(|e| e.to_string());
        let theirs = serde_json::from_slice::<Json>(text).map_err(|e| e.to_string());
        assert_eq!(ours, theirs);
        assert!(ours.is_err());
    }

    fn number() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop_oneof!["0", "[1-9][0-9]{0,20}"],
            prop::option::of("[0-9]{1,12}"),
            prop::option::of(("[eE]", prop_oneof!["", "\\+", "-"], "[0-9]{1,3}")),
        )
            .prop_map(|(minus, whole, fraction, exponent)| {
                let mut s = String::new();
                if minus {
                    s.push('-');
                }
                s.push_str(&whole);
                if let Some(f) = fraction {
                    s.push('.');
                    s.push_str(&f);
                }
                if let Some((e, sign, digits)) = exponent {
                    s.push_str(&e);
                    s.push_str(&sign);
                    s.push_str(&digits);
                }
                s
            })
    }

    proptest! {
        #[test]
        fn numbers_read_as_serde_json_reads_them(n in number()) {
            let text = format!(r#"{{"n":{n},"m":[{n}]}}"#);
            let ours = read(text.as_bytes()).map_err(|e| e.to_string());
            prop_assert_eq!(ours, by_serde(&text));
        }

        #[test]
        fn strings_read_as_serde_json_reads_them(s in "(\\PC|\\\\[\"\\\\/bfnrtu]|\\\\u[0-9a-fA-F]{4}|\t)*") {
            let text = format!(r#"{{"s":"{s}","k{s}":1}}"#);
            let ours = read(text.as_bytes()).map_err(|e| e.to_string());
            prop_assert_eq!(ours, by_serde(&text));
        }
    }
}
