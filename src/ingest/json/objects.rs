//! Reading objects out of a file: JSON Lines or one array, each object with
//! where it begins (its line), and the errors that say where.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use crate::ingest::error::ConvertError;
use crate::ingest::progress::Progress;
use crate::ingest::scan::JsonForm;
use crate::ingest::source::Source;
use crate::schema::ColumnType;

use super::cuts::{ElementEnds, pieces};
use super::read::read;
use super::value::{Json, Object};
use crate::ingest::chunks::ChunkReader;

/// Where an object is, for errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct At {
    pub(super) line: u64,
}

pub(super) fn value_error(
    source: &Source,
    at: At,
    key: &str,
    t: &ColumnType,
    text: &str,
) -> ConvertError {
    let shown: String = text.chars().take(40).collect();
    ConvertError::Parse {
        file: source.label().to_owned(),
        line: at.line,
        reason: format!("key {key:?}: {shown:?} is not a valid {t}"),
    }
}

/// A JSON syntax error at its line of the file: `line` is where what
/// serde_json read began.
pub(super) fn json_error(source: &Source, line: u64, err: &serde_json::Error) -> ConvertError {
    let message = err.to_string();
    let message = match message.rfind(" at line ") {
        Some(cut) => &message[..cut],
        None => &message,
    };
    // serde_json places an error just after the byte that caused it: a line
    // feed puts it at column 0 of the next line, though it ends this one.
    let (lines, at) = match (err.line(), err.column()) {
        (n, 0) if n > 1 => (n - 2, "at the end of the line".to_owned()),
        (n, column) => (n.saturating_sub(1), format!("column {column}")),
    };
    ConvertError::Parse {
        file: source.label().to_owned(),
        line: line + lines as u64,
        reason: format!("invalid JSON {at}: {message}"),
    }
}

pub(super) fn not_an_object(source: &Source, at: At, value: &Json<'_>) -> ConvertError {
    ConvertError::Parse {
        file: source.label().to_owned(),
        line: at.line,
        reason: format!(
            "expected a JSON object (one row), found {}",
            value.described()
        ),
    }
}

/// Calls `each` with every object of the source, in order, and where it is,
/// until `each` says stop; how the file holds its objects, when chunks can
/// be cut in it (not when an object is spread over lines).
pub(super) fn each_object(
    source: &Source,
    progress: &dyn Progress,
    mut each: impl FnMut(Object<'_>, At) -> Result<bool, ConvertError>,
) -> Result<Option<JsonForm>, ConvertError> {
    let read_err = |e| ConvertError::Read {
        file: source.label().to_owned(),
        source: e,
    };
    let bytes = |n| progress.bytes(n);
    let mut input = BufReader::with_capacity(1 << 20, source.open(&bytes).map_err(read_err)?);
    let (first, skipped) = first_non_space(&mut input).map_err(read_err)?;
    if first == Some(b'[') {
        return each_element(source, input, skipped + 1, each).map(|()| Some(JsonForm::Array));
    }
    // JSON Lines: an object per line, read a line at a time; an object
    // spread over lines is read on from there as a stream of values.
    let mut line = skipped;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf).map_err(read_err)?;
        if n == 0 {
            return Ok(Some(JsonForm::Lines));
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = At { line };
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        match read(text) {
            Ok(Json::Object(object)) => {
                if !each(object, at)? {
                    return Ok(Some(JsonForm::Lines));
                }
            }
            Ok(other) => return Err(not_an_object(source, at, &other)),
            Err(e) if e.is_eof() => {
                let rest = io::Cursor::new(std::mem::take(&mut buf)).chain(input);
                return each_streamed(source, rest, line, each).map(|()| None);
            }
            Err(e) => return Err(json_error(source, line, &e)),
        }
    }
}

/// Skips white space up to the first other byte (not consumed); that byte
/// and the lines skipped.
pub(super) fn first_non_space(input: &mut impl BufRead) -> io::Result<(Option<u8>, u64)> {
    let mut lines = 0;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((None, lines));
        }
        let n = buf
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(buf.len());
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        let first = buf.get(n).copied();
        input.consume(n);
        if first.is_some() {
            return Ok((first, lines));
        }
    }
}

/// Values one after another, from `line` on, read as a stream.
pub(super) fn each_streamed(
    source: &Source,
    input: impl Read,
    line: u64,
    mut each: impl FnMut(Object<'_>, At) -> Result<bool, ConvertError>,
) -> Result<(), ConvertError> {
    let (input, lines) = LineCounter::new(input);
    let stream = serde_json::Deserializer::from_reader(input).into_iter::<Json<'static>>();
    for value in stream {
        // An object is placed by the line it ends on.
        let at = At {
            line: line + lines.get(),
        };
        if !hand_on(source, value, at, line, &mut each)? {
            return Ok(());
        }
    }
    Ok(())
}

/// Hands a value read (from `line` on) to `each` when it is an object;
/// whether to go on.
pub(super) fn hand_on(
    source: &Source,
    value: Result<Json<'_>, serde_json::Error>,
    at: At,
    line: u64,
    each: &mut impl FnMut(Object<'_>, At) -> Result<bool, ConvertError>,
) -> Result<bool, ConvertError> {
    match value {
        Ok(Json::Object(object)) => each(object, at),
        Ok(other) => Err(not_an_object(source, at, &other)),
        Err(e) => Err(json_error(source, line, &e)),
    }
}

/// Counts the line feeds read through it.
pub(super) struct LineCounter<R> {
    pub(super) inner: R,
    pub(super) lines: Rc<Cell<u64>>,
}

impl<R> LineCounter<R> {
    /// Counts what is read of `inner`; the count, shared.
    pub(super) fn new(inner: R) -> (LineCounter<R>, Rc<Cell<u64>>) {
        let lines = Rc::new(Cell::new(0));
        (
            LineCounter {
                inner,
                lines: lines.clone(),
            },
            lines,
        )
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let feeds = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        self.lines.set(self.lines.get() + feeds);
        Ok(n)
    }
}

/// Calls `each` with every object of the array `input` holds (from its
/// `[`, on line `line`), on this thread, until `each` says stop.
pub(crate) fn each_element(
    source: &Source,
    input: impl Read,
    line: u64,
    mut each: impl FnMut(Object<'_>, At) -> Result<bool, ConvertError>,
) -> Result<(), ConvertError> {
    let mut at = csv::Position::new();
    at.set_line(line);
    let mut chunks = ChunkReader::new(input, at, ElementEnds::default());
    let read_err = |e| ConvertError::Read {
        file: source.label().to_owned(),
        source: e,
    };
    while let Some((chunk, at, _)) = chunks.next_chunk().map_err(read_err)? {
        for (range, line) in pieces(source, JsonForm::Array, &chunk, &at)? {
            let value = read(&chunk[range]);
            if !hand_on(source, value, At { line }, line, &mut each)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
