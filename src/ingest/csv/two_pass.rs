//! CSV to Parquet in two streaming passes: the first reads every row to
//! infer the schema (a large file as two halves on two threads), the
//! second writes the rows in chunks on every core (see `ingest::chunks`),
//! hashing the bytes as they are written.

use std::io::{self, Read, Write};

use super::chunks::Rows;
use super::cuts::State;
use super::records::{
    Head, Next, Tally, finish_scan, joined, next_record, open_head, read_head, records_at,
};
use super::{CsvOptions, fields, reader};
use crate::ingest::chunks::{Kept, Stop, write_chunks};
use crate::ingest::error::ConvertError;
use crate::ingest::progress::Progress;
use crate::ingest::rejects::add_reject;
use crate::ingest::scan::{DICTIONARY_SAMPLE_ROWS, Reject, Scan, in_sample};
use crate::ingest::source::{Compression, Source};
use crate::ingest::writer::Written;

/// Files smaller than this are scanned on one thread.
const PARALLEL_SCAN_BYTES: u64 = 16 << 20;

/// Pass one: reads every row, checks it, and infers the schema. A large
/// plain file is read as two halves on two threads; if the split point
/// turns out not to be a record boundary (a quoted newline), or anything is
/// wrong with the file, it is read again on one thread, which also gives
/// errors their exact line.
pub fn scan(
    source: &Source,
    opts: &CsvOptions,
    progress: &dyn Progress,
) -> Result<Scan, ConvertError> {
    if source.is_empty() {
        return Err(ConvertError::Empty {
            file: source.label().to_owned(),
        });
    }
    progress.start("scanning", source.len());
    let read_err = |e| ConvertError::Read {
        file: source.label().to_owned(),
        source: e,
    };
    let bytes = |n| progress.bytes(n);
    // Lines before the header are skipped; offsets below count from here.
    let (mut rdr, mut record, head, skipped) = open_head(source, opts, &bytes, false)?;
    let data_start = skipped + records_at(&rdr, opts).byte();
    // Rejects are collected on one thread, in file order.
    if source.compression() == Compression::None
        && source.len() >= PARALLEL_SCAN_BYTES
        && !opts.rejects
    {
        if let Some(tally) = scan_halves(source, opts, &head, data_start, progress)
            && !last_row_unterminated(source, opts, &tally).map_err(read_err)?
        {
            return Ok(finish_scan(&head, &tally));
        }
        // Start again on one thread.
        progress.start("scanning", source.len());
        let input = source.open_from(skipped, &bytes).map_err(read_err)?;
        rdr = reader(opts, Kept::new(input, false));
        read_head(&mut rdr, &mut record, source, opts)?;
    }
    let mut tally = Tally::new(&head, true, skipped);
    let mut rejects = Vec::new();
    let mut reject_bytes = 0;
    // Without a header the first record is data, and already read.
    let mut next = if opts.header { None } else { Some(Next::Row) };
    loop {
        let read = match next.take() {
            Some(read) => read,
            None => next_record(&mut rdr, &mut record, opts, source, &head.names)?,
        };
        let checked = match read {
            Next::End => break,
            Next::Bad(reject) => Err(reject),
            Next::Row => match tally.record(&record, &head, source) {
                Err(ConvertError::Parse { line, reason, .. }) if opts.rejects => Err(Reject {
                    line,
                    text: joined(record.iter(), opts),
                    reason,
                }),
                other => Ok(other?),
            },
        };
        match checked {
            Ok(()) if tally.rows.is_multiple_of(8192) => progress.rows(8192),
            Ok(()) => {}
            Err(reject) => add_reject(&mut rejects, &mut reject_bytes, reject, source)?,
        }
    }
    progress.rows(tally.rows % 8192);
    if last_row_unterminated(source, opts, &tally).map_err(read_err)? {
        return Err(ConvertError::Parse {
            file: source.label().to_owned(),
            line: tally.last_line,
            reason: format!(
                "a field opened with {} is never closed (the file ends inside it)",
                char::from(opts.quote)
            ),
        });
    }
    let mut scan = finish_scan(&head, &tally);
    // Lines of the file, counting the ones skipped.
    for r in &mut rejects {
        r.line += opts.skip;
    }
    scan.rejects = rejects;
    Ok(scan)
}

/// Scans the data as two halves on two threads. `None` when the halves do
/// not meet at a record boundary or either half hit an error: the caller
/// then scans on one thread.
fn scan_halves(
    source: &Source,
    opts: &CsvOptions,
    head: &Head,
    data_start: u64,
    progress: &dyn Progress,
) -> Option<Tally> {
    let bytes = |n| progress.bytes(n);
    let data_len = source.len().checked_sub(source.bom_len() + data_start)?;
    let split = source.next_line_start(data_start + data_len / 2).ok()??;
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| {
            let input = source.open_at(split, &bytes).ok()?;
            scan_range(reader(&no_header(opts), input), head, source, split, None)
        });
        let first = (|| {
            let input = source.open_at(data_start, &bytes).ok()?;
            scan_range(
                reader(&no_header(opts), input),
                head,
                source,
                data_start,
                Some(split - data_start),
            )
        })();
        (first, second.join().ok().flatten())
    });
    let (mut first, stopped_at) = first?;
    let (second, _) = second?;
    // The first half must have stopped exactly where the second began.
    if stopped_at != Some(split - data_start) {
        return None;
    }
    // The dictionary sample is the file's first rows, however it is read
    // (the same rows give the same bytes): a short first half lends the
    // rest of the sample from the start of the second.
    if first.rows < DICTIONARY_SAMPLE_ROWS
        && let Some(sample) = &mut first.sample
    {
        let input = source.open_at(split, &|_| {}).ok()?;
        let mut rdr = reader(&no_header(opts), input);
        let mut record = csv::StringRecord::new();
        let mut sampled = first.rows;
        while rdr.read_record(&mut record).ok()? {
            let start = split + record.position().map_or(0, csv::Position::byte);
            if !in_sample(sampled, start) {
                break;
            }
            sample.observe(fields(&record, head.names.len(), &head.nulls));
            sampled += 1;
        }
    }
    first.merge(second);
    Some(first)
}

/// Whether the file ends inside a quoted field of its last row. The CSV
/// parser takes such a field to the end of the file, as if the quote were
/// closed there; DuckDB refuses the file, and so does lake. The last row is
/// read again from where it began: a seek in a plain file. A compressed one
/// would be decompressed again from its start, so it is only read when the
/// last field ends with a line break, as a quote left open through the
/// file's final line break makes it (an open quote in a compressed file that
/// does not end with one goes unseen).
pub(crate) fn last_row_unterminated(
    source: &Source,
    opts: &CsvOptions,
    tally: &Tally,
) -> io::Result<bool> {
    let Some(start) = tally.last_start else {
        return Ok(false);
    };
    if source.compression() != Compression::None && !tally.last_ends_in_break {
        return Ok(false);
    }
    let mut input = source.open_from(start, &|_| {})?;
    let mut state = State::RecordStart;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(state.in_quotes());
        }
        for &b in &buf[..n] {
            state = state.next(b, opts);
        }
    }
}

fn no_header(opts: &CsvOptions) -> CsvOptions {
    CsvOptions {
        header: false,
        ..opts.clone()
    }
}

/// Scans records until one starts at or after `end` (relative to where the
/// reader starts); returns the tally and that record's start.
fn scan_range<R: Read>(
    mut rdr: csv::Reader<R>,
    head: &Head,
    source: &Source,
    base: u64,
    end: Option<u64>,
) -> Option<(Tally, Option<u64>)> {
    let mut tally = Tally::new(head, end.is_some(), base);
    let mut record = csv::StringRecord::new();
    while rdr.read_record(&mut record).ok()? {
        let start = record.position().map_or(0, |p| p.byte());
        if end.is_some_and(|end| start >= end) {
            return Some((tally, Some(start)));
        }
        tally.record(&record, head, source).ok()?;
    }
    Some((tally, None))
}

/// Pass two: converts the source to Parquet as [`scan`] found it, writing
/// to `out`, the rows pass one set aside left out. Parsing runs on worker
/// threads while this one encodes.
pub fn write_parquet<W: Write + Send>(
    source: &Source,
    opts: &CsvOptions,
    scan: &Scan,
    out: W,
    progress: &dyn Progress,
) -> Result<(Written, W), ConvertError> {
    progress.start("writing", source.len());
    let bytes = |n| progress.bytes(n);
    let (rdr, _, head, skipped) = open_head(source, opts, &bytes, true)?;
    let at = records_at(&rdr, opts);
    let rejected: Vec<u64> = scan.rejects.iter().map(|r| r.line - opts.skip).collect();
    let rows = Rows::new(source, opts, &head, scan, &rejected, &[], skipped);
    let text = rdr.into_inner().text_from(at.byte());
    let (written, _) = write_chunks(out, progress, text, at, &rows).map_err(Stop::into_error)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::columns::parse_schema_override;
    use crate::ingest::csv::records::column_names;
    use crate::ingest::progress::NoProgress;
    use crate::schema::ColumnType;

    #[test]
    fn header_names_are_made_unique() {
        let header = csv::StringRecord::from(vec!["id", "", "name", "Name", "name", " "]);
        assert_eq!(
            column_names(Some(&header), 6),
            ["id", "column_2", "name", "Name_2", "name_3", "column_6"]
        );
        assert_eq!(column_names(None, 2), ["column_1", "column_2"]);
    }

    #[test]
    fn schema_override_parses() {
        let types = parse_schema_override("id:BIGINT, zip:varchar").unwrap();
        assert_eq!(
            types,
            [
                ("id".to_owned(), ColumnType::Bigint),
                ("zip".to_owned(), ColumnType::Varchar)
            ]
        );
        assert!(parse_schema_override("id").is_err());
        assert!(parse_schema_override("id:NUMBER").is_err());
    }

    /// Converts CSV text with every column forced to VARCHAR and reads the
    /// Parquet back as rows of optional strings.
    fn round_trip(csv_text: &[u8], names: &[String]) -> Vec<Vec<Option<String>>> {
        use arrow::array::AsArray;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, csv_text).unwrap();
        let source = Source::file(&path).unwrap();
        let opts = CsvOptions {
            types: names
                .iter()
                .map(|n| (n.clone(), ColumnType::Varchar))
                .collect(),
            ..CsvOptions::default()
        };
        let scan = scan(&source, &opts, &NoProgress).unwrap();
        let (written, bytes) =
            write_parquet(&source, &opts, &scan, Vec::new(), &NoProgress).unwrap();
        assert_eq!(written.rows, scan.rows);
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            bytes::Bytes::from(bytes),
            1024,
        )
        .unwrap();
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            for r in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| {
                            let c = c.as_string::<i32>();
                            (!arrow::array::Array::is_null(c, r)).then(|| c.value(r).to_owned())
                        })
                        .collect(),
                );
            }
        }
        rows
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any table of strings written as CSV reads back equal (an empty
        /// string is NULL, as the spec says).
        #[test]
        fn any_table_of_strings_round_trips(
            cols in 1usize..5,
            cells in proptest::collection::vec("(\\PC|[,\"\r\n ]){0,12}", 0..60),
        ) {
            let names: Vec<String> = (0..cols).map(|i| format!("c{i}")).collect();
            let table: Vec<Vec<String>> = cells.chunks(cols).filter(|r| r.len() == cols).map(<[String]>::to_vec).collect();
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(&names).unwrap();
            for row in &table {
                w.write_record(row).unwrap();
            }
            let text = w.into_inner().unwrap();
            let expected: Vec<Vec<Option<String>>> = table
                .iter()
                .map(|r| r.iter().map(|c| (!c.is_empty()).then(|| c.clone())).collect())
                .collect();
            proptest::prop_assert_eq!(round_trip(&text, &names), expected);
        }
    }
}
