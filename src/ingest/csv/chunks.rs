//! CSV in chunks (see `ingest::chunks`): the text cut where `cuts` finds a
//! record end, each chunk parsed and checked on a worker as pass one checks
//! every row.

use std::io;

use arrow::datatypes::SchemaRef;

use super::cuts::Cutter;
use super::records::{Head, Next, Tally, check_record, next_record, parse_error, value_error};
use super::{CsvOptions, csv_reader, fields};
use crate::ingest::batch::arrow_schema;
use crate::ingest::chunks::{ChunkBatches, ChunkText, Chunking, Cut, Parsed, Stop};
use crate::ingest::scan::Scan;
use crate::ingest::source::Source;

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
            // The cut is where stepping through every byte puts it: skipping
            // the runs that change nothing moves no cut (the content address
            // of what is written depends on the chunks).
            prop_assert_eq!(cut, bytewise_cut(&text, target, &opts));
        }
    }

    /// The cut of a whole text by the state machine alone, byte by byte.
    fn bytewise_cut(text: &[u8], target: usize, opts: &CsvOptions) -> usize {
        let mut state = super::super::cuts::State::RecordStart;
        for (i, &b) in text.iter().enumerate() {
            let before = state;
            state = before.next(b, opts);
            let ends_record = state == super::super::cuts::State::RecordStart
                && matches!(
                    before,
                    super::super::cuts::State::FieldStart
                        | super::super::cuts::State::Unquoted
                        | super::super::cuts::State::QuoteInQuoted
                );
            if ends_record && i + 1 > target {
                return i + 1;
            }
        }
        text.len()
    }
}
