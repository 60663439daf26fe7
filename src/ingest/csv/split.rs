//! A chunk's records split into fields by jumping from one delimiter,
//! quote or line break to the next, for the plain dialect (a quote escaped
//! by doubling it, no other escape character, no comments). It finds the
//! fields, record starts and lines that the csv crate's reader finds,
//! without its byte-at-a-time state machine or its copy of every field: a
//! field is a slice of the chunk, and only one with a doubled quote or text
//! after its closing quote is put together in a buffer. A quote still open
//! at the end of the text is not its to read.
//!
//! Those bytes are found 64 at a time ([`Marks`]): one mask of where they
//! are, then a count of trailing zeros per field, rather than a search
//! started anew for every field (memchr's setup cost more than the search
//! on fields of a few bytes).

use super::CsvOptions;
use crate::ingest::simd::{mask_of, mask_of_64};

/// Where a field's text is: a slice of the chunk, or of the buffer.
#[derive(Clone, Copy)]
enum Span {
    Text(usize, usize),
    Own(usize, usize),
}

/// Where a record is, in bytes from the start of the text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Record {
    /// Where the reader stands before it: just past the line break that
    /// ended the record before (the csv crate's position).
    pub(crate) start: usize,
    /// Where its text begins, past any blank lines.
    pub(crate) text_start: usize,
}

/// The text after a quote that no quote closes: the csv crate reads it.
#[derive(Debug, PartialEq)]
pub(crate) struct Unclosed;

/// Splits one text into records, one at a time; the fields of the last
/// record read are at [`Splitter::field`].
pub(crate) struct Splitter<'t> {
    text: &'t str,
    delimiter: u8,
    quote: u8,
    marks: Marks<'t>,
    pos: usize,
    spans: Vec<Span>,
    /// The text of fields that are not one slice of `text`.
    own: String,
}

impl<'t> Splitter<'t> {
    /// A splitter of `text` (which begins at a record start), or `None`
    /// for a dialect it does not read.
    pub(crate) fn new(text: &'t str, opts: &CsvOptions) -> Option<Self> {
        let plain = |b: u8| !matches!(b, b'\n' | b'\r');
        // An escape character that is the quote changes nothing: a quote
        // inside quotes is read as a closing or doubled quote first.
        let reads = opts.escape.is_none_or(|e| e == opts.quote)
            && opts.comment.is_none()
            && plain(opts.delimiter)
            && plain(opts.quote)
            && opts.delimiter != opts.quote;
        reads.then(|| Splitter {
            text,
            delimiter: opts.delimiter,
            quote: opts.quote,
            marks: Marks::new(text.as_bytes(), [opts.delimiter, opts.quote, b'\n', b'\r']),
            pos: 0,
            spans: Vec::new(),
            own: String::new(),
        })
    }

    /// The number of fields of the record read last.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Field `i` of the record read last.
    #[inline(always)]
    pub(crate) fn field(&self, i: usize) -> Option<&str> {
        match self.spans.get(i) {
            Some(&Span::Text(from, to)) => Some(slice(self.text, from, to)),
            Some(&Span::Own(from, to)) => Some(slice(&self.own, from, to)),
            None => None,
        }
    }

    /// Reads the next record: `None` at the end of the text.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, Unclosed> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        // Blank lines (and the LF of a CRLF) hold no record.
        while matches!(bytes.get(self.pos), Some(b'\n' | b'\r')) {
            self.pos += 1;
        }
        if self.pos == bytes.len() {
            return Ok(None);
        }
        let text_start = self.pos;
        self.spans.clear();
        self.own.clear();
        loop {
            if bytes.get(self.pos) == Some(&self.quote) {
                self.quoted()?;
            } else {
                let end = self.unquoted_end(self.pos);
                self.spans.push(Span::Text(self.pos, end));
                self.pos = end;
            }
            // After a field: a delimiter, a line break or the end.
            match bytes.get(self.pos) {
                Some(&b) if b == self.delimiter => self.pos += 1,
                Some(_) => {
                    self.pos += 1;
                    break;
                }
                None => break,
            }
            // A delimiter at the very end leaves one more, empty field.
            if self.pos == bytes.len() {
                self.spans.push(Span::Text(self.pos, self.pos));
                break;
            }
        }
        Ok(Some(Record { start, text_start }))
    }

    /// Where an unquoted field from `from` ends: at a delimiter, a line
    /// break or the end of the text (a quote inside it is text).
    #[inline(always)]
    fn unquoted_end(&mut self, mut from: usize) -> usize {
        loop {
            let at = self.marks.next(from);
            if self.text.as_bytes().get(at) != Some(&self.quote) {
                return at;
            }
            from = at + 1;
        }
    }

    /// The next quote at or after `from`.
    fn next_quote(&mut self, mut from: usize) -> Option<usize> {
        loop {
            let at = self.marks.next(from);
            match self.text.as_bytes().get(at) {
                Some(&b) if b == self.quote => return Some(at),
                Some(_) => from = at + 1,
                None => return None,
            }
        }
    }

    /// Reads a quoted field, the opening quote at `pos`: to its closing
    /// quote, a doubled quote read as one, and any text after the closing
    /// quote up to a delimiter or line break added to it.
    fn quoted(&mut self) -> Result<(), Unclosed> {
        let bytes = self.text.as_bytes();
        let own_start = self.own.len();
        self.pos += 1;
        let mut from = self.pos;
        let mut owned = false;
        let close = loop {
            let q = self.next_quote(self.pos).ok_or(Unclosed)?;
            if bytes.get(q + 1) == Some(&self.quote) {
                self.own.push_str(&self.text[from..=q]);
                owned = true;
                self.pos = q + 2;
                from = self.pos;
            } else {
                break q;
            }
        };
        self.pos = close + 1;
        let rest = self.unquoted_end(self.pos);
        if owned || rest > self.pos {
            self.own.push_str(&self.text[from..close]);
            self.own.push_str(&self.text[self.pos..rest]);
            self.spans.push(Span::Own(own_start, self.own.len()));
        } else {
            self.spans.push(Span::Text(from, close));
        }
        self.pos = rest;
        Ok(())
    }
}

/// `text[from..to]`, for a span this module found: in the chunk, one that
/// begins and ends at the text's ends or at an ASCII byte (a delimiter,
/// quote or line break); in the buffer, at the ends of what was pushed.
#[inline(always)]
fn slice(text: &str, from: usize, to: usize) -> &str {
    // Checked in the unit tests only: a check on every field is what this
    // saves (the benchmark's binary has debug assertions).
    #[cfg(test)]
    assert!(from <= to && text.is_char_boundary(from) && text.is_char_boundary(to));
    // SAFETY: `from <= to <= text.len()`, and both are char boundaries (as
    // above): what was checked on every field (a fifth of the time spent
    // splitting).
    unsafe { text.get_unchecked(from..to) }
}

/// Where four bytes are in a text, found a block of 64 bytes at a time:
/// the block's mask of them is kept while fields are read from it.
struct Marks<'t> {
    bytes: &'t [u8],
    of: [u8; 4],
    /// Where the block begins (a multiple of 64).
    block: usize,
    /// Bit `i`: byte `block + i` is one of them.
    mask: u64,
}

impl<'t> Marks<'t> {
    fn new(bytes: &'t [u8], of: [u8; 4]) -> Self {
        let mut marks = Marks {
            bytes,
            of,
            block: 0,
            mask: 0,
        };
        marks.mask = marks.block_mask(0);
        marks
    }

    /// The first of the bytes at or after `from`, or the length of the
    /// text (the splitter asks from later and later places, so the block is
    /// mostly the one at hand).
    #[inline(always)]
    fn next(&mut self, from: usize) -> usize {
        if !(self.block..self.block + 64).contains(&from) {
            self.block = from & !63;
            self.mask = self.block_mask(self.block);
        }
        // Those at or after `from`.
        let mut after = self.mask & (u64::MAX << (from - self.block));
        while after == 0 {
            if self.block + 64 >= self.bytes.len() {
                return self.bytes.len();
            }
            self.block += 64;
            self.mask = self.block_mask(self.block);
            after = self.mask;
        }
        self.block + after.trailing_zeros() as usize
    }

    /// The mask of the block at `block` (shorter at the end of the text).
    fn block_mask(&self, block: usize) -> u64 {
        match self.bytes.get(block..block + 64) {
            Some(bytes) => mask_of_64(bytes.try_into().unwrap(), self.of),
            None => mask_of(&self.bytes[block.min(self.bytes.len())..], self.of),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ingest::csv::csv_reader;

    /// Every record as the csv crate reads it: its fields, and where the
    /// reader stood before it.
    fn csv_records(text: &str, opts: &CsvOptions) -> Vec<(Vec<String>, u64)> {
        let mut rdr = csv_reader(opts, text.as_bytes(), 1 << 10);
        rdr.records()
            .map(|r| {
                let r = r.unwrap();
                let start = r.position().unwrap().byte();
                (r.iter().map(str::to_owned).collect(), start)
            })
            .collect()
    }

    /// Every record as the splitter reads it, or `Unclosed`.
    fn split_records(text: &str, opts: &CsvOptions) -> Result<Vec<(Vec<String>, u64)>, Unclosed> {
        let mut split = Splitter::new(text, opts).unwrap();
        let mut records = Vec::new();
        while let Some(record) = split.next_record()? {
            let fields = (0..split.len())
                .map(|i| split.field(i).unwrap().to_owned())
                .collect();
            let blank = &text.as_bytes()[record.start..record.text_start];
            assert!(blank.iter().all(|b| matches!(b, b'\n' | b'\r')));
            records.push((fields, record.start as u64));
        }
        Ok(records)
    }

    proptest! {
        /// Each search finds the first mark at or after where it starts:
        /// later, earlier or past the end of the text.
        #[test]
        fn marks_are_found_from_any_place(
            text in proptest::collection::vec(proptest::sample::select(b",ab\n".to_vec()), 0..300),
            starts in proptest::collection::vec(0usize..320, 1..12),
            later in any::<bool>(),
        ) {
            let mut marks = Marks::new(&text, [b',', b'\n', b'\n', b'\n']);
            let mut starts = starts;
            if later {
                starts.sort_unstable();
            }
            for from in starts {
                let plain = (from..text.len())
                    .find(|&i| matches!(text[i], b',' | b'\n'))
                    .unwrap_or(text.len());
                prop_assert_eq!(marks.next(from), plain);
            }
        }
    }

    fn opts(delimiter: u8, quote: u8) -> CsvOptions {
        CsvOptions {
            header: false,
            delimiter,
            quote,
            ..CsvOptions::default()
        }
    }

    #[test]
    fn fields_quotes_and_line_breaks_as_the_csv_crate_reads_them() {
        let o = opts(b',', b'"');
        for text in [
            "a,b\nc,d\n",
            "a,b\r\nc,d",
            "\n\r\n\na,\n,b\r\r,\n",
            "\"x,y\",\"say \"\"hi\"\"\"\n\"\"\n",
            "\"ab\"cd\"e,f\n\"\"\"\",a\"b\n",
            "\"line\nbreak\",\"cr\r\"\r\n",
            "a,b,",
            ",",
            "\"x\"",
            "é,\"ü\"\"ñ\"\n",
        ] {
            assert_eq!(
                split_records(text, &o),
                Ok(csv_records(text, &o)),
                "{text:?}"
            );
        }
        assert_eq!(split_records("a\n\"open,", &o), Err(Unclosed));
        assert_eq!(split_records("\"a\"\"", &o), Err(Unclosed));
    }

    #[test]
    fn other_dialects_are_not_its_to_read() {
        let with = |f: fn(&mut CsvOptions)| {
            let mut o = opts(b',', b'"');
            f(&mut o);
            Splitter::new("", &o).is_some()
        };
        assert!(with(|_| {}));
        assert!(with(|o| o.escape = Some(b'"')));
        assert!(!with(|o| o.escape = Some(b'\\')));
        assert!(!with(|o| o.comment = Some(b'#')));
        assert!(!with(|o| o.quote = b','));
        assert!(!with(|o| o.delimiter = b'\n'));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any text of delimiters, quotes, line breaks and letters: the
        /// records, fields and starts of the csv crate, unless a quote is
        /// left open at the end.
        #[test]
        fn the_records_of_the_csv_crate(
            text in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b", ",", ";", "\"", "'", "\r", "\n", "é"]),
                0..80,
            ),
            delimiter in proptest::sample::select(vec![b',', b';']),
            quote in proptest::sample::select(vec![b'"', b'\'']),
            escape_is_quote in any::<bool>(),
        ) {
            let text = text.concat();
            let o = CsvOptions {
                escape: escape_is_quote.then_some(quote),
                ..opts(delimiter, quote)
            };
            match split_records(&text, &o) {
                Ok(records) => prop_assert_eq!(records, csv_records(&text, &o)),
                Err(Unclosed) => {
                    // Only where the csv crate's last field runs to the end
                    // inside quotes.
                    let mut state = super::super::cuts::State::RecordStart;
                    for &b in text.as_bytes() {
                        state = state.next(b, &o);
                    }
                    prop_assert!(state.in_quotes());
                }
            }
        }
    }
}
