//! How an ingest reads its source, told by the content: CSV (its dialect
//! sniffed, or fixed by flags), JSON or Parquet. One interface for both
//! passes whatever the source holds.

use std::io::Write;

use crate::ingest::csv::{CsvOptions, two_pass};

use crate::ingest::error::ConvertError;

use crate::ingest::progress::Progress;

use crate::ingest::csv::dialect;
use crate::ingest::csv::dialect::DialectFlags;
use crate::ingest::csv::one_pass;
use crate::ingest::json;
use crate::ingest::json::JsonOptions;
use crate::ingest::parquet;
use crate::ingest::scan::Scan;
use crate::ingest::source::{Content, Source};
use crate::ingest::values::Formats;
use crate::ingest::writer::Converted;
use crate::ingest::writer::Written;
use crate::schema::ColumnType;

/// A source's content and how it is read.
#[derive(Debug, Clone)]
pub enum Reading {
    Csv(CsvOptions),
    Json(JsonOptions),
    Parquet,
}

impl Reading {
    /// Looks at `source` and decides how to read it. Flags that only mean
    /// something for CSV are refused for the other contents, and `--schema`
    /// for Parquet (its types are in the file).
    pub fn of(
        source: &Source,
        flags: &DialectFlags,
        types: Vec<(String, ColumnType)>,
        default_delimiter: u8,
    ) -> Result<Reading, ConvertError> {
        let content = match flags.content {
            Some(content) => content,
            None => source.content().map_err(|e| ConvertError::Read {
                file: source.label().to_owned(),
                source: e,
            })?,
        };
        let refuse = |what: &str| {
            Err(ConvertError::Flag(format!(
                "{what} is for CSV input; {} holds {content}",
                source.label()
            )))
        };
        if content != Content::Csv
            && let Some(flag) = csv_only_flag(flags)
        {
            return refuse(flag);
        }
        Ok(match content {
            Content::Csv => Reading::Csv(dialect::dialect(source, flags, types, default_delimiter)),
            Content::Json => Reading::Json(JsonOptions {
                types,
                formats: Formats {
                    date: flags.date_format.clone(),
                    timestamp: flags.timestamp_format.clone(),
                },
            }),
            Content::Parquet => {
                if !types.is_empty() {
                    return refuse("--schema");
                }
                if flags.date_format.is_some() || flags.timestamp_format.is_some() {
                    return refuse("--date-format / --timestamp-format");
                }
                Reading::Parquet
            }
        })
    }

    /// What the source holds: `csv`, `json` or `parquet`.
    pub fn content(&self) -> Content {
        match self {
            Reading::Csv(_) => Content::Csv,
            Reading::Json(_) => Content::Json,
            Reading::Parquet => Content::Parquet,
        }
    }

    /// Pass one: every row read and checked, the schema inferred.
    pub fn scan(&self, source: &Source, progress: &dyn Progress) -> Result<Scan, ConvertError> {
        match self {
            Reading::Csv(csv) => {
                two_pass::scan(source, csv, progress).map_err(|e| e.after_skipped_lines(csv.skip))
            }
            Reading::Json(opts) => json::scan(source, opts, progress),
            Reading::Parquet => parquet::scan(source, progress),
        }
    }

    /// Both passes at once, where the input allows: the schema and the
    /// Parquet object written to `out`. `None` when the two passes are
    /// needed (`out` is then dropped).
    pub fn convert<W: Write + Send>(
        &self,
        source: &Source,
        out: W,
        progress: &dyn Progress,
    ) -> Result<Option<Converted<W>>, ConvertError> {
        match self {
            Reading::Csv(csv) => one_pass::convert(source, csv, out, progress)
                .map_err(|e| e.after_skipped_lines(csv.skip)),
            Reading::Json(opts) => json::convert(source, opts, out, progress),
            Reading::Parquet => Ok(None),
        }
    }

    /// Pass two: the Parquet object, written to `out`.
    pub fn write_parquet<W: Write + Send>(
        &self,
        source: &Source,
        scan: &Scan,
        out: W,
        progress: &dyn Progress,
    ) -> Result<(Written, W), ConvertError> {
        match self {
            Reading::Csv(csv) => two_pass::write_parquet(source, csv, scan, out, progress)
                .map_err(|e| e.after_skipped_lines(csv.skip)),
            Reading::Json(_) => json::write_parquet(source, scan, out, progress),
            Reading::Parquet => parquet::write_parquet(source, scan, out, progress),
        }
    }
}

/// The first flag given that only CSV reads.
fn csv_only_flag(flags: &DialectFlags) -> Option<&'static str> {
    [
        (flags.delimiter.is_some(), "--delimiter"),
        (flags.quote.is_some(), "--quote"),
        (flags.escape.is_some(), "--escape"),
        (flags.comment.is_some(), "--comment"),
        (flags.skip.is_some(), "--skip"),
        (flags.header.is_some(), "--header / --no-header"),
        (flags.null_padding, "--null-padding"),
        (flags.rejects, "--rejects"),
        (!flags.nulls.is_empty(), "--null"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::progress::NoProgress;

    /// How many random files: 32 in every test run; set LAKE_FUZZ_CASES
    /// for a long run outside CI (`LAKE_FUZZ_CASES=100000 cargo test
    /// --lib any_bytes`).
    fn cases() -> u32 {
        std::env::var("LAKE_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(cases()))]
        /// Any bytes at all, through the sniffer, the content check and
        /// both conversions: an error or a dataset, never a panic or a
        /// hang; and where one pass and two both succeed, the same bytes.
        #[test]
        fn any_bytes_are_read_or_refused(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(b"ab1,;\t|\"'\\\n\r #{}[]:.-".to_vec()),
                    1 => proptest::num::u8::ANY,
                ],
                0..400,
            ),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            std::fs::write(&path, &bytes).unwrap();
            let source = Source::file(&path).unwrap();
            let Ok(reading) = Reading::of(&source, &DialectFlags::default(), Vec::new(), b',')
            else {
                return Ok(());
            };
            let two = reading.scan(&source, &NoProgress).and_then(|scan| {
                let (_, bytes) = reading.write_parquet(&source, &scan, Vec::new(), &NoProgress)?;
                Ok((scan, bytes))
            });
            let one = reading.convert(&source, Vec::new(), &NoProgress);
            if let (Ok((scan, expected)), Ok(Some((one_scan, (_, bytes))))) = (&two, &one) {
                proptest::prop_assert_eq!(&scan.schema, &one_scan.schema);
                proptest::prop_assert_eq!(expected, bytes);
            }
            if two.is_err() {
                // One pass never accepts what two refuse.
                proptest::prop_assert!(!matches!(one, Ok(Some(_))));
            }
        }
    }
}
