//! CSV to Parquet in one pass, for the common case. The types are guessed
//! from the head of the file (the rows of the dictionary sample: see
//! `scan::in_sample`), then the whole file is written in chunks (see
//! `chunks`; the head is read again), every row still checked. The guess
//! holds when every later value fits it and no column empty in the head has values
//! later: the types inferred from every row are then exactly the guessed
//! ones (a value that fits the head's narrowest type cannot make the column
//! narrower), and the object is byte for byte the one the two passes write.
//! When the guess fails, or the head is too wide to hold, the caller runs
//! the two passes.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::CsvOptions;
use super::chunks::Rows;
use super::records::{Next, Tally, finish_scan, next_record, open_head, records_at};
use super::two_pass::last_row_unterminated;
use crate::ingest::chunks::{Stop, write_chunks};
use crate::ingest::error::ConvertError;
use crate::ingest::progress::Progress;
use crate::ingest::scan::{Scan, in_sample};
use crate::ingest::source::{Compression, Recount, Source};
use crate::ingest::writer::Converted;
use crate::schema::ColumnType;

/// Converts `source` to Parquet into `out` in one pass; `None` when the
/// two passes are needed.
pub fn convert<W: Write + Send>(
    source: &Source,
    opts: &CsvOptions,
    out: W,
    progress: &dyn Progress,
) -> Result<Option<Converted<W>>, ConvertError> {
    if source.is_empty() {
        return Err(ConvertError::Empty {
            file: source.label().to_owned(),
        });
    }
    // Rejects are found by pass one and skipped by pass two.
    if opts.rejects {
        return Ok(None);
    }
    progress.start("converting", source.len());
    let read_err = |e| ConvertError::Read {
        file: source.label().to_owned(),
        source: e,
    };
    let head_bytes = AtomicU64::new(0);
    let bytes = |n| {
        head_bytes.fetch_add(n, Ordering::Relaxed);
        progress.bytes(n)
    };
    // The head is read, checked and the types guessed from it; then the
    // file is opened again where its records begin (a seek, or a skip in a
    // compressed one), so that no head is held however wide its rows.
    let (mut rdr, mut record, head, skipped) = open_head(source, opts, &bytes, false)?;
    let at = records_at(&rdr, opts);
    let mut sampled = Tally::new(&head, true, skipped);
    if !opts.header {
        sampled.record(&record, &head, source)?;
    }
    loop {
        if let Next::End = next_record(&mut rdr, &mut record, opts, source, &head.names)? {
            break;
        }
        // The row after the sample is read again with the rest.
        if !in_sample(sampled.rows, sampled.start(&record)) {
            break;
        }
        sampled.record(&record, &head, source)?;
    }
    let guess = finish_scan(&head, &sampled);
    // Columns with no value in the head are VARCHAR for now; what the rest
    // of the file holds decides whether that holds.
    let unseen: Vec<usize> = (0..head.names.len())
        .filter(|&i| head.forced[i].is_none() && !sampled.inferrer.seen(i))
        .collect();
    // The sample's sets are not needed while the rest is written.
    drop(sampled);
    let rows = Rows::new(source, opts, &head, &guess, &[], &unseen, skipped);
    drop(rdr);
    // What the head read is not counted twice.
    let again = match source.compression() {
        Compression::None => head_bytes.into_inner().saturating_sub(at.byte()),
        Compression::Gzip | Compression::Zstd => head_bytes.into_inner(),
    };
    let recounted = Recount::new(progress, again);
    let rest = |n| recounted.bytes(n);
    let text = source
        .open_from(skipped + at.byte(), &rest)
        .map_err(read_err)?;
    let (written, tally) = match write_chunks(out, progress, text, at, &rows) {
        Ok(done) => done,
        // A value that does not fit the guessed type: the two passes.
        Err(Stop::Misfit(_)) => return Ok(None),
        Err(Stop::Failed(e)) => return Err(e),
    };
    if last_row_unterminated(source, opts, &tally).map_err(read_err)? {
        // The two passes say where.
        return Ok(None);
    }
    let inferred = tally.inferrer.finish();
    if unseen.iter().any(|&i| inferred[i] != ColumnType::Varchar) {
        return Ok(None);
    }
    let scan = Scan {
        rows: tally.rows,
        ..guess
    };
    Ok(Some((scan, written)))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::ingest::csv::two_pass::{scan, write_parquet};
    use crate::ingest::progress::NoProgress;
    use crate::ingest::source::Source;

    /// The schema and Parquet bytes of the two passes.
    fn two_passes(source: &Source, opts: &CsvOptions) -> (Scan, Vec<u8>) {
        let scan = scan(source, opts, &NoProgress).unwrap();
        let (_, bytes) = write_parquet(source, opts, &scan, Vec::new(), &NoProgress).unwrap();
        (scan, bytes)
    }

    /// Writes `text` plain, gzipped and zstd-compressed; every path gives
    /// the two passes' bytes, and the one pass gives them too or says it
    /// cannot. Returns whether the one pass could (on the plain file).
    fn every_path_agrees(text: &str) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("t.csv");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.path().join("t.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let zst = dir.path().join("t.csv.zst");
        let compressed = zstd::encode_all(text.as_bytes(), 1).unwrap();
        std::fs::write(&zst, compressed).unwrap();
        let opts = CsvOptions::default();
        let (expected_scan, expected) = two_passes(&Source::file(&plain).unwrap(), &opts);
        let mut one_pass_held = false;
        for path in [&plain, &gz, &zst] {
            let source = Source::file(path).unwrap();
            let (scan, bytes) = two_passes(&source, &opts);
            assert_eq!(scan.schema, expected_scan.schema, "{}", path.display());
            assert_eq!(bytes, expected, "{}", path.display());
            if let Some((scan, (written, bytes))) =
                convert(&source, &opts, Vec::new(), &NoProgress).unwrap()
            {
                assert_eq!(scan.schema, expected_scan.schema, "{}", path.display());
                assert_eq!(scan.rows, expected_scan.rows);
                assert_eq!(written.rows, expected_scan.rows);
                assert_eq!(bytes, expected, "{}", path.display());
                one_pass_held |= path == &plain;
            }
        }
        one_pass_held
    }

    /// A header and `rows` rows made by `row(i)`.
    fn table(rows: usize, row: impl Fn(usize) -> String) -> String {
        let mut text = String::from("id,a,b\n");
        for i in 0..rows {
            text.push_str(&row(i));
            text.push('\n');
        }
        text
    }

    #[test]
    fn the_guess_holds_or_the_two_passes_run() {
        let head = crate::ingest::scan::DICTIONARY_SAMPLE_ROWS as usize;
        // Every later row fits the head's types: one pass.
        assert!(every_path_agrees(&table(head + 5000, |i| format!(
            "{i},{},x{}",
            i % 7,
            i % 3
        ))));
        // A number after the head that is not an integer: DOUBLE, two passes.
        assert!(!every_path_agrees(&table(head + 10, |i| {
            let a = if i == head + 5 {
                "2.5".to_owned()
            } else {
                i.to_string()
            };
            format!("{i},{a},y")
        })));
        // A column empty in the head with integers later: BIGINT, two passes.
        assert!(!every_path_agrees(&table(head + 10, |i| {
            let b = if i >= head {
                i.to_string()
            } else {
                String::new()
            };
            format!("{i},1,{b}")
        })));
        // A column empty in the head with text later: VARCHAR either way.
        assert!(every_path_agrees(&table(head + 10, |i| {
            let b = if i >= head { "text" } else { "" };
            format!("{i},1,{b}")
        })));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Random small tables of typed and untyped cells (quoted ones
        /// with delimiters and line breaks): the same bytes whichever path
        /// reads them, however the chunks are cut.
        #[test]
        fn random_tables_give_the_same_bytes_on_every_path(
            cells in proptest::collection::vec(
                "(-?[0-9]{1,4}|[0-9]\\.[0-9]{1,3}|2024-0[1-9]-1[0-9]|true|false|[a-z ]{0,5}|\"[a-z,\\n]{0,4}\"|)",
                3..300,
            ),
        ) {
            let mut text = String::from("a,b,c\n");
            for row in cells.chunks(3) {
                let mut row = row.to_vec();
                row.resize(3, String::new());
                text.push_str(&row.join(","));
                text.push('\n');
            }
            every_path_agrees(&text);
        }
    }
}
