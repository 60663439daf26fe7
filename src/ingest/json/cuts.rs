//! Where a chunk of JSON text may end: after so many objects at line ends
//! (JSON Lines), or between the elements of the one array, found by
//! following strings and nesting; and the pieces of a chunk that each hold
//! one value.

use std::ops::Range;

use crate::ingest::chunks::Cut;
use crate::ingest::error::ConvertError;
use crate::ingest::scan::JsonForm;
use crate::ingest::source::Source;

/// The pieces of a chunk that each hold one value (what is not white
/// space), with the line each begins on.
pub(super) fn pieces(
    source: &Source,
    form: JsonForm,
    text: &[u8],
    at: &csv::Position,
) -> Result<Vec<(Range<usize>, u64)>, ConvertError> {
    let ranges = match form {
        JsonForm::Lines => return Ok(line_pieces(text, at.line())),
        JsonForm::Array => {
            elements(text, at.byte() == 0).map_err(|(i, what)| ConvertError::Parse {
                file: source.label().to_owned(),
                line: at.line() + line_feeds(&text[..i]),
                reason: format!("invalid JSON: {what}"),
            })?
        }
    };
    let mut line = at.line();
    let mut seen = 0;
    let mut pieces = Vec::with_capacity(ranges.len());
    for range in ranges {
        if let Some(start) = value_start(text, range.clone()) {
            line += line_feeds(&text[seen..start]);
            seen = start;
            pieces.push((start..range.end, line));
        }
    }
    Ok(pieces)
}

/// The pieces of JSON Lines text that begins on line `first`: a value a
/// line, so each line's number is counted rather than searched for.
fn line_pieces(text: &[u8], first: u64) -> Vec<(Range<usize>, u64)> {
    let mut start = 0;
    let mut pieces = Vec::new();
    let ends = memchr::memchr_iter(b'\n', text).chain([text.len()]);
    for (line, end) in (first..).zip(ends) {
        if let Some(value) = value_start(text, start..end) {
            pieces.push((value..end, line));
        }
        start = end + 1;
    }
    pieces
}

/// Where the first byte of `text[range]` that is not white space is.
fn value_start(text: &[u8], range: Range<usize>) -> Option<usize> {
    let first = text[range.clone()]
        .iter()
        .position(|b| !b.is_ascii_whitespace())?;
    Some(range.start + first)
}

pub(super) fn line_feeds(text: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', text).count() as u64
}

/// Objects in a chunk: chunks of JSON end after this many objects (or at
/// the first object end past [`TEXT_PER_TARGET`] times the chunk target:
/// 8 MiB), whatever the form of the file, so the same objects give the
/// same batches, and the same Parquet bytes, as JSON Lines, as an array, or
/// spread over lines (see `write_parquet`) while they average under 2 KB.
/// Unit tests cut after a few.
pub(crate) const CHUNK_OBJECTS: usize = if cfg!(test) { 5 } else { 4096 };

/// How much more text than the chunk target a chunk of wide objects holds.
pub(super) const TEXT_PER_TARGET: usize = 8;

/// Cuts after the line of the [`CHUNK_OBJECTS`]th object.
#[derive(Default)]
pub(super) struct LineEnds {
    objects: usize,
    pos: usize,
}

impl Cut for LineEnds {
    fn cut(&mut self, text: &[u8], target: usize) -> Option<usize> {
        while let Some(i) = memchr::memchr(b'\n', &text[self.pos..]) {
            let end = self.pos + i;
            if value_start(text, self.pos..end).is_some() {
                self.objects += 1;
            }
            self.pos = end + 1;
            if self.objects == CHUNK_OBJECTS || end >= target * TEXT_PER_TARGET {
                return Some(self.pos);
            }
        }
        None
    }

    fn restart(&mut self) {
        *self = LineEnds::default();
    }
}

/// Follows strings and nesting to the bytes that matter at the top of one
/// array: its `[`, the commas between its elements, its `]`.
#[derive(Default)]
pub(super) struct Structure {
    depth: u32,
    in_string: bool,
    pos: usize,
}

impl Structure {
    /// The next of those bytes in `text` from where it stopped, and where.
    fn next_top(&mut self, text: &[u8]) -> Option<(usize, u8)> {
        while self.pos < text.len() {
            if self.in_string {
                let Some(i) = memchr::memchr2(b'"', b'\\', &text[self.pos..]) else {
                    self.pos = text.len();
                    return None;
                };
                let i = self.pos + i;
                // An escape skips the byte after it (perhaps not read yet).
                self.pos = i + if text[i] == b'\\' { 2 } else { 1 };
                self.in_string = text[i] == b'\\';
                continue;
            }
            let i = self.pos;
            self.pos += 1;
            match text[i] {
                b'"' => self.in_string = true,
                b @ (b'[' | b'{') => {
                    self.depth += 1;
                    if self.depth == 1 {
                        return Some((i, b));
                    }
                }
                b @ (b']' | b'}') => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some((i, b));
                    }
                }
                b',' if self.depth == 1 => return Some((i, b',')),
                _ => {}
            }
        }
        None
    }
}

/// Cuts after the comma that ends the [`CHUNK_OBJECTS`]th element.
#[derive(Default)]
pub(super) struct ElementEnds {
    structure: Structure,
    objects: usize,
}

impl Cut for ElementEnds {
    fn cut(&mut self, text: &[u8], target: usize) -> Option<usize> {
        while let Some((i, b)) = self.structure.next_top(text) {
            if b == b',' {
                self.objects += 1;
                if self.objects == CHUNK_OBJECTS || i >= target * TEXT_PER_TARGET {
                    return Some(i + 1);
                }
            }
        }
        None
    }

    /// Chunks after the first begin inside the array.
    fn restart(&mut self) {
        *self = ElementEnds {
            structure: Structure {
                depth: 1,
                ..Structure::default()
            },
            objects: 0,
        };
    }
}

/// The elements of the array in a chunk (the first holds its `[`, the last
/// its `]`); where and what is wrong with the array itself.
pub(super) fn elements(
    text: &[u8],
    first: bool,
) -> Result<Vec<Range<usize>>, (usize, &'static str)> {
    let mut structure = Structure {
        depth: u32::from(!first),
        ..Structure::default()
    };
    let mut start = (!first).then_some(0);
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut closed = None;
    let blank = |r: &Range<usize>| text[r.clone()].iter().all(u8::is_ascii_whitespace);
    while let Some((i, b)) = structure.next_top(text) {
        match (b, start) {
            (b'[', None) if closed.is_none() => start = Some(i + 1),
            (b',', Some(s)) => {
                if blank(&(s..i)) {
                    return Err((i, "an element is missing before a comma"));
                }
                ranges.push(s..i);
                start = Some(i + 1);
            }
            (b']', Some(s)) => {
                // `[]` and `[ ]` hold no element; `,]` is a trailing comma.
                if !blank(&(s..i)) {
                    ranges.push(s..i);
                } else if !ranges.is_empty() || !first {
                    return Err((i, "an element is missing before the closing ]"));
                }
                start = None;
                closed = Some(i);
            }
            _ => return Err((i, "expected an array of objects")),
        }
    }
    match (start, closed) {
        (Some(s), _) if !blank(&(s..text.len())) => Err((
            text.len(),
            "the array is never closed (the file ends inside it)",
        )),
        (None, Some(end)) if !blank(&(end + 1..text.len())) => {
            Err((end + 1, "trailing characters after the array"))
        }
        _ => Ok(ranges),
    }
}

impl Cut for Box<dyn Cut> {
    fn cut(&mut self, text: &[u8], target: usize) -> Option<usize> {
        (**self).cut(text, target)
    }

    fn restart(&mut self) {
        (**self).restart();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_numbered_past_blank_ones() {
        let text = b"{}\n\n  \n {\"b\":2}\r\n{}";
        assert_eq!(line_pieces(text, 5), [(0..2, 5), (8..16, 8), (17..19, 9)]);
    }

    /// The chunks the cutter makes of `text`, whole.
    fn chunks(text: &[u8], target: usize) -> Vec<&[u8]> {
        let mut cutter = ElementEnds::default();
        let mut rest = text;
        let mut out = Vec::new();
        while let Some(cut) = cutter.cut(rest, target) {
            out.push(&rest[..cut]);
            rest = &rest[cut..];
            cutter.restart();
        }
        out.push(rest);
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Cut anywhere, the elements of every chunk are the array's own,
        /// whatever their strings hold.
        #[test]
        fn arrays_are_cut_between_elements(
            items in proptest::collection::vec((0i64..1000, "[a-z,\\[\\]{}\"\\\\ \n]{0,6}"), 0..30),
            space in proptest::sample::select(vec!["", " ", "\n  "]),
            target in 1usize..120,
        ) {
            let values: Vec<serde_json::Value> = items
                .iter()
                .map(|(id, s)| serde_json::json!({"id": id, "s": s, "n": [s, {"x": []}]}))
                .collect();
            let texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            let text = format!("{space}[{space}{}{space}]{space}", texts.join(&format!(",{space}")));
            let mut got = Vec::new();
            for (k, chunk) in chunks(text.as_bytes(), target).into_iter().enumerate() {
                for range in elements(chunk, k == 0).unwrap() {
                    got.push(serde_json::from_slice::<serde_json::Value>(&chunk[range]).unwrap());
                }
            }
            proptest::prop_assert_eq!(got, values);
        }
    }

    #[test]
    fn a_broken_array_is_named() {
        for (text, what) in [
            ("[{\"a\": 1},]", "missing before the closing ]"),
            ("[{\"a\": 1},,{}]", "missing before a comma"),
            ("[{\"a\": 1}, {\"b\": 2}", "never closed"),
            ("[{\"a\": 1}] x", "trailing characters"),
        ] {
            let err = elements(text.as_bytes(), true).unwrap_err();
            assert!(err.1.contains(what), "{text}: {err:?}");
        }
        assert_eq!(
            elements(b" [ ] ", true).unwrap(),
            Vec::<Range<usize>>::new()
        );
    }
}
