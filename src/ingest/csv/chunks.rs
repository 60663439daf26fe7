//! CSV in chunks (see `chunks`): record ends found by a state machine that
//! follows quotes, escapes and comments as the csv crate's parser does,
//! without building fields; each chunk parsed and checked as pass one
//! checks every row.

use std::io;

use arrow::datatypes::SchemaRef;

use crate::ingest::batch::arrow_schema;
use crate::ingest::chunks::{ChunkBatches, ChunkText, Chunking, Cut, Parsed, Stop};
use crate::ingest::csv::records::{
    Head, Next, Tally, check_record, next_record, parse_error, value_error,
};
use crate::ingest::csv::{CsvOptions, csv_reader, fields};
use crate::ingest::scan::Scan;
use crate::ingest::source::Source;

/// Where the csv crate's parser is, as far as records go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum State {
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    /// After the escape character inside quotes.
    Escaped,
    /// After a quote inside quotes: closed, or the first of a doubled one.
    QuoteInQuoted,
    Comment,
}

impl State {
    /// The state after byte `b`, as `csv_core` moves (CRLF terminators,
    /// doubled quotes).
    pub(crate) fn next(self, b: u8, opts: &CsvOptions) -> State {
        use State::*;
        let term = b == b'\n' || b == b'\r';
        match self {
            RecordStart if term => RecordStart,
            RecordStart if Some(b) == opts.comment => Comment,
            RecordStart | FieldStart if b == opts.quote => Quoted,
            RecordStart | FieldStart | Unquoted | QuoteInQuoted if b == opts.delimiter => {
                FieldStart
            }
            RecordStart | FieldStart | Unquoted | QuoteInQuoted if term => RecordStart,
            RecordStart | FieldStart | Unquoted => Unquoted,
            Quoted if b == opts.quote => QuoteInQuoted,
            Quoted if Some(b) == opts.escape => Escaped,
            Quoted | Escaped => Quoted,
            QuoteInQuoted if b == opts.quote => Quoted,
            QuoteInQuoted => Unquoted,
            Comment if b == b'\n' => RecordStart,
            Comment => Comment,
        }
    }

    /// Inside a quoted field: a quote here was never closed.
    pub(crate) fn in_quotes(self) -> bool {
        matches!(self, State::Quoted | State::Escaped)
    }
}

/// Finds the first record end at or after a target offset in a chunk that
/// begins at a record start, resuming where it left off as the chunk grows.
pub(crate) struct Cutter<'a> {
    opts: &'a CsvOptions,
    state: State,
    /// How far into the chunk `state` holds.
    pos: usize,
}

impl<'a> Cutter<'a> {
    pub(crate) fn new(opts: &'a CsvOptions) -> Self {
        Cutter {
            opts,
            state: State::RecordStart,
            pos: 0,
        }
    }
}

impl Cut for Cutter<'_> {
    /// Where the chunk `text` ends: just past the terminator of the first
    /// record (not a blank or comment line) that ends at index `target` or
    /// later. `None` when `text` holds none yet: call again with `text`
    /// extended, and [`Cutter::restart`] for the next chunk. The cut falls
    /// where the csv crate's reader stands after that record, so lines are
    /// numbered alike on both sides: after the CR of a CRLF (its LF is
    /// counted when the next record is read), before blank lines.
    fn cut(&mut self, text: &[u8], target: usize) -> Option<usize> {
        let outside = matches!(
            self.state,
            State::RecordStart | State::FieldStart | State::Unquoted
        );
        let term = |b: u8| b == b'\n' || b == b'\r';
        if outside
            && self.opts.comment.is_none()
            && memchr::memchr(self.opts.quote, &text[self.pos..]).is_none()
        {
            // No quote ahead: a terminator ends a record unless it ends a
            // blank line (follows another, or begins the chunk).
            let mut from = self.pos.max(target);
            while let Some(i) = memchr::memchr2(b'\n', b'\r', text.get(from..).unwrap_or(&[])) {
                let i = from + i;
                if i > 0 && !term(text[i - 1]) {
                    return Some(i + 1);
                }
                from = i + 1;
            }
            if let Some(&last) = text.get(self.pos..).and_then(<[u8]>::last) {
                self.state = if term(last) {
                    State::RecordStart
                } else if last == self.opts.delimiter {
                    State::FieldStart
                } else {
                    State::Unquoted
                };
            }
            self.pos = text.len();
            return None;
        }
        while self.pos < text.len() {
            let before = self.state;
            self.state = before.next(text[self.pos], self.opts);
            self.pos += 1;
            let ends_record = self.state == State::RecordStart
                && matches!(
                    before,
                    State::FieldStart | State::Unquoted | State::QuoteInQuoted
                );
            if ends_record && self.pos > target {
                return Some(self.pos);
            }
        }
        None
    }

    fn restart(&mut self) {
        self.state = State::RecordStart;
        self.pos = 0;
    }
}

/// How every chunk of one file is parsed.
pub(crate) struct Rows<'a> {
    source: &'a Source,
    /// The dialect, with no header (a chunk holds only records).
    opts: CsvOptions,
    head: &'a Head,
    scan: &'a Scan,
    arrow: SchemaRef,
    /// Lines (counted after the skipped ones) that pass one set aside.
    rejected: &'a [u64],
    /// Columns of a guessed schema with no value in the head: what the
    /// rest holds decides their type.
    unseen: &'a [usize],
    /// Where the text after the skipped lines begins in the source.
    base: u64,
}

impl<'a> Rows<'a> {
    pub(crate) fn new(
        source: &'a Source,
        opts: &CsvOptions,
        head: &'a Head,
        scan: &'a Scan,
        rejected: &'a [u64],
        unseen: &'a [usize],
        base: u64,
    ) -> Self {
        Rows {
            source,
            opts: CsvOptions {
                header: false,
                ..opts.clone()
            },
            head,
            scan,
            arrow: arrow_schema(&scan.schema),
            rejected,
            unseen,
            base,
        }
    }
}

impl Chunking for Rows<'_> {
    type Tally = Tally;

    fn scan(&self) -> &Scan {
        self.scan
    }

    fn label(&self) -> &str {
        self.source.label()
    }

    fn cutter(&self) -> impl Cut {
        Cutter::new(&self.opts)
    }

    fn tally(&self) -> Tally {
        Tally::new(self.head, false, self.base)
    }

    fn merge(&self, tally: &mut Tally, later: Tally) {
        tally.merge(later);
    }

    /// Checks every row (as pass one does), leaves out the rejected ones,
    /// and builds the batches.
    fn parse(&self, text: &[u8], at: csv::Position, lines: u64) -> Parsed<Tally> {
        let (source, head) = (self.source, self.head);
        let to_error = |e| parse_error(source, e, &head.names);
        let mut rdr = csv_reader(&self.opts, ChunkText::new(text, &at), 64 << 10);
        let line = at.line();
        rdr.seek_raw(io::SeekFrom::Start(0), at).map_err(to_error)?;
        let mut tally = Tally::new(head, false, self.base);
        let mut batches = ChunkBatches::new(self.scan, &self.arrow, lines);
        let mut record = csv::StringRecord::new();
        let columns = head.names.len();
        let first = self.rejected.partition_point(|&l| l < line);
        let mut rejected = self.rejected[first..].iter().copied().peekable();
        loop {
            match next_record(&mut rdr, &mut record, &self.opts, source, &head.names)? {
                Next::End => break,
                Next::Bad(_) => continue,
                Next::Row => {}
            }
            if rejected.peek().is_some() {
                let line = record.position().map_or(0, |p| p.line());
                while rejected.next_if(|&r| r < line).is_some() {}
                if rejected.next_if_eq(&line).is_some() {
                    continue;
                }
            }
            check_record(&record, head, source)?;
            tally.observe(&record, head, self.unseen);
            for (i, field) in fields(&record, columns, &head.nulls).enumerate() {
                if !batches.builders[i].append(field) {
                    let t = &self.scan.schema.columns[i].column_type;
                    let e = value_error(source, &record, i, &head.names, t, field);
                    return Err(Stop::Misfit(e));
                }
            }
            batches.row_done()?;
        }
        Ok((batches.finish()?, tally))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every record of `text` read from `at`: its fields and its line.
    fn records(text: &[u8], at: csv::Position, opts: &CsvOptions) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut rdr = csv_reader(opts, io::Cursor::new(text), 1 << 10);
        rdr.seek_raw(io::SeekFrom::Start(0), at).unwrap();
        rdr.byte_records()
            .map(|r| {
                let r = r.unwrap();
                let line = r.position().unwrap().line();
                (r.iter().map(<[u8]>::to_vec).collect(), line)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Wherever the cutter cuts (the text handed to it in pieces of any
        /// size), the records on either side are exactly the records of
        /// the whole, on the same lines.
        #[test]
        fn cuts_fall_between_records(
            text in proptest::collection::vec(
                proptest::sample::select(b"ab,;\"'\\#\r\n\n".to_vec()), 0..160),
            target in 0usize..160,
            step in 1usize..40,
            quote in proptest::sample::select(vec![b'"', b'\'']),
            escape in proptest::option::of(Just(b'\\')),
            comment in proptest::option::of(Just(b'#')),
            delimiter in proptest::sample::select(vec![b',', b';']),
        ) {
            let opts = CsvOptions {
                header: false,
                delimiter,
                quote,
                escape,
                comment,
                null_padding: true,
                ..CsvOptions::default()
            };
            let mut cutter = Cutter::new(&opts);
            let mut len = 0;
            let cut = loop {
                len = (len + step).min(text.len());
                let eof = len == text.len();
                if let Some(cut) = cutter.cut(&text[..len], target) {
                    break cut;
                }
                if eof {
                    break text.len();
                }
            };
            prop_assert!(cut >= target.min(text.len()));
            let mut at = csv::Position::new();
            let mut parts = records(&text[..cut], at.clone(), &opts);
            let lines = text[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
            at.set_byte(cut as u64).set_line(1 + lines);
            parts.extend(records(&text[cut..], at, &opts));
            prop_assert_eq!(parts, records(&text, csv::Position::new(), &opts));
        }
    }
}
