//! CSV in chunks (see `ingest::chunks`): the text cut where `cuts` finds a
//! record end, each chunk parsed and checked on a worker as pass one checks
//! every row: split by `split` where it can, else (and to say what is wrong
//! with a row, and where) read by the csv crate's reader.

use std::io;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::cuts::Cutter;
use super::records::{
    Head, Next, Tally, broken_rule, check_record, next_record, parse_error, value_error,
};
use super::split::{Splitter, Unclosed};
use super::{CsvOptions, as_table, csv_reader, fields};
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
        match self.parse_split(text, &at, lines)? {
            Some(parsed) => Ok(parsed),
            None => self.parse_records(text, at, lines),
        }
    }
}

impl Rows<'_> {
    /// The chunk read by the csv crate's reader: every error found and
    /// told with its line and column.
    fn parse_records(&self, text: &[u8], at: csv::Position, lines: u64) -> Parsed<Tally> {
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

    /// The chunk split by [`Splitter`]: the same batches and tally as
    /// [`Rows::parse_records`], or `None` when the csv crate's reader must
    /// read it: another dialect, rejected lines in it, text that is not
    /// UTF-8 or holds a NUL, a quote never closed, or a row that is
    /// refused (the reader tells why and where).
    fn parse_split(
        &self,
        text: &[u8],
        at: &csv::Position,
        lines: u64,
    ) -> Result<Option<(Vec<RecordBatch>, Tally)>, Stop> {
        let line = at.line();
        let rejected = self.rejected.partition_point(|&l| l < line);
        if self
            .rejected
            .get(rejected)
            .is_some_and(|&l| l <= line + lines)
            || memchr::memchr(0, text).is_some()
        {
            return Ok(None);
        }
        let Some(mut split) = std::str::from_utf8(text)
            .ok()
            .and_then(|text| Splitter::new(text, &self.opts))
        else {
            return Ok(None);
        };
        let head = self.head;
        let mut tally = Tally::new(head, false, self.base);
        let mut batches = ChunkBatches::new(self.scan, &self.arrow, lines);
        let mut last = None;
        loop {
            let record = match split.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(Unclosed) => return Ok(None),
            };
            if broken_rule(split.len(), |i| split.field(i), head).is_some() {
                return Ok(None);
            }
            tally.narrow(|i| split.field(i), head, self.unseen);
            for (i, builder) in batches.builders.iter_mut().enumerate() {
                if !builder.append(as_table(split.field(i), &head.nulls)) {
                    return Ok(None);
                }
            }
            batches.row_done()?;
            tally.rows += 1;
            last = Some(record);
        }
        if let Some(record) = last {
            let after = memchr::memchr_iter(b'\n', &text[record.text_start..]).count() as u64;
            let last_field = split.field(split.len().wrapping_sub(1));
            tally.last_at(
                Some(at.byte() + record.start as u64),
                line + lines - after,
                last_field,
            );
        }
        Ok(Some((batches.finish()?, tally)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ingest::csv::records::finish_scan;
    use crate::schema::ColumnType;

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

    fn column_type() -> impl Strategy<Value = ColumnType> {
        proptest::sample::select(vec![
            ColumnType::Bigint,
            ColumnType::Double,
            ColumnType::Boolean,
            ColumnType::Date,
            ColumnType::Varchar,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// Rows of numbers, dates, booleans, NULLs and quoted text (line
        /// breaks, delimiters and doubled quotes inside), of any length,
        /// CRLF or LF, blank lines between, a quote left open at the end,
        /// columns of any type, rejected lines: the splitter's chunk is the
        /// csv crate reader's, batches, tally and errors alike.
        #[test]
        fn split_chunks_are_the_readers(
            cells in proptest::collection::vec(
                "(-?[0-9]{1,3}|[0-9]\\.[0-9]|2024-0[1-9]-1[0-9]|true|NA|[a-z ]{0,3}|\"[a-z,\r\n]{0,3}\"|\"\"\"|\"x\"y|)",
                0..40,
            ),
            breaks in proptest::collection::vec(
                proptest::sample::select(vec![",", "\n", "\r\n", "\n\n", "\r"]),
                40,
            ),
            types in [column_type(), column_type(), column_type()],
            forced in any::<bool>(),
            null_padding in any::<bool>(),
            open in any::<bool>(),
            rejected in proptest::option::of(2u64..12),
        ) {
            let mut text = String::new();
            for (cell, sep) in cells.iter().zip(&breaks) {
                text.push_str(cell);
                text.push_str(sep);
            }
            if open {
                text.push_str("\"a,");
            }
            let rejected: Vec<u64> = rejected.into_iter().collect();
            let [split, read] = both_ways(&text, types, forced, null_padding, &rejected);
            prop_assert_eq!(split, read);
        }
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

    /// `text` as a file's source (in a directory that lasts while it is
    /// held).
    fn source_of(text: &[u8]) -> (tempfile::TempDir, Source) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let source = Source::file(&path).unwrap();
        (dir, source)
    }

    /// A chunk of `text` of a three-column table: parsed as `parse` does
    /// (split where it can) and by the csv crate's reader alone, as
    /// (batches, rows, last start, last line, last ends in a break, the
    /// unseen column's type), or the error, as text.
    fn both_ways(
        text: &str,
        types: [ColumnType; 3],
        forced: bool,
        null_padding: bool,
        rejected: &[u64],
    ) -> [Result<String, String>; 2] {
        let (_dir, source) = source_of(text.as_bytes());
        let opts = CsvOptions {
            header: false,
            null_padding,
            nulls: vec!["NA".to_owned()],
            ..CsvOptions::default()
        };
        let names: Vec<String> = ["a", "b", "c"].map(str::to_owned).to_vec();
        let head = Head {
            forced: vec![forced.then(|| types[0].clone()), None, None],
            names: names.clone(),
            null_padding,
            nulls: opts.nulls.clone(),
            formats: opts.formats.clone(),
        };
        let scan = Scan {
            schema: crate::schema::Schema {
                columns: names
                    .into_iter()
                    .zip(types)
                    .map(|(name, column_type)| crate::schema::Column { name, column_type })
                    .collect(),
            },
            rows: 0,
            dictionary: vec![true; 3],
            leaf_dictionary: Vec::new(),
            formats: opts.formats.clone(),
            rejects: Vec::new(),
            json_chunks: None,
        };
        let unseen = [2];
        let rows = Rows::new(&source, &opts, &head, &scan, rejected, &unseen, 7);
        let mut at = csv::Position::new();
        at.set_byte(3).set_line(2);
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() as u64;
        let show = |parsed: Parsed<Tally>| match parsed {
            Ok((batches, t)) => Ok(format!(
                "{batches:?} {} {:?} {} {} {:?}",
                t.rows,
                t.last_start,
                t.last_line,
                t.last_ends_in_break,
                t.inferrer.finish()[2]
            )),
            Err(Stop::Failed(e)) => Err(format!("failed: {e}")),
            Err(Stop::Misfit(e)) => Err(format!("misfit: {e}")),
        };
        [
            show(rows.parse(text.as_bytes(), at.clone(), lines)),
            show(rows.parse_records(text.as_bytes(), at, lines)),
        ]
    }

    /// Whether the splitter reads `text` (as three VARCHAR columns).
    fn splits(text: &[u8]) -> bool {
        let (_dir, source) = source_of(text);
        let opts = CsvOptions {
            header: false,
            ..CsvOptions::default()
        };
        let head = Head {
            names: ["a", "b", "c"].map(str::to_owned).to_vec(),
            forced: vec![None; 3],
            null_padding: false,
            nulls: Vec::new(),
            formats: opts.formats.clone(),
        };
        let scan = finish_scan(&head, &Tally::new(&head, false, 0));
        let rows = Rows::new(&source, &opts, &head, &scan, &[], &[], 0);
        let parsed = rows.parse_split(text, &csv::Position::new(), 1);
        parsed.unwrap().is_some()
    }

    #[test]
    fn the_splitter_reads_plain_text_and_leaves_the_rest() {
        assert!(splits(b"1,\"a, \"\"b\"\"\",x\r\n2,c,\n"));
        assert!(!splits(b"1,a\n"), "a row short of a field");
        assert!(!splits(b"1,a,b\n2,\"open"), "a quote never closed");
        assert!(!splits(b"1,\0,b\n"), "a NUL");
        assert!(splits("1,\u{e9},b\n".as_bytes()));
        assert!(!splits(b"1,\xe9,b\n"), "not UTF-8");
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
