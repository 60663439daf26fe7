//! CSV: how a file's dialect is decided (`dialect`), how its records are
//! read and checked (`records`), where its chunks are cut (`cuts`) and how
//! each is parsed (`chunks`; in the plain dialect, split by `split`), and
//! the two ways to Parquet: one pass over a guessed schema (`one_pass`), or
//! pass one inferring every column and pass two writing (`two_pass`).

use std::io::Read;

use crate::ingest::values::Formats;
use crate::schema::ColumnType;

pub mod chunks;
pub mod cuts;
pub mod dialect;
pub mod one_pass;
pub mod records;
pub mod split;
pub mod two_pass;

/// How to read the CSV.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// The first row names the columns.
    pub header: bool,
    /// The field delimiter.
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
    /// The escape character inside quotes, besides a doubled quote.
    pub escape: Option<u8>,
    /// Lines starting with this are skipped.
    pub comment: Option<u8>,
    /// Lines skipped before the header (or the first row).
    pub skip: u64,
    /// Rows with too few fields get NULL for the rest (else they are refused).
    pub null_padding: bool,
    /// Rows that cannot be read are set aside as rejects (else the file is
    /// refused).
    pub rejects: bool,
    /// Fields that read as NULL besides the empty one, like `NA`.
    pub nulls: Vec<String>,
    /// Date and timestamp formats besides ISO 8601.
    pub formats: Formats,
    /// Types given by the user, by column name; the rest are inferred.
    pub types: Vec<(String, ColumnType)>,
}

/// The fields of one row as the table sees them: missing ones (with null
/// padding) and the `--null` strings are empty, that is NULL.
pub(crate) fn fields<'r>(
    record: &'r csv::StringRecord,
    columns: usize,
    nulls: &'r [String],
) -> impl Iterator<Item = &'r str> + 'r {
    (0..columns).map(move |i| as_table(record.get(i), nulls))
}

/// A field as the table sees it: a missing one (with null padding) and the
/// `--null` strings are empty, that is NULL.
pub(crate) fn as_table<'f>(field: Option<&'f str>, nulls: &[String]) -> &'f str {
    match field {
        Some(field) if !nulls.iter().any(|n| n == field) => field,
        _ => "",
    }
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            delimiter: b',',
            quote: b'"',
            escape: None,
            comment: None,
            skip: 0,
            null_padding: false,
            rejects: false,
            nulls: Vec::new(),
            formats: Formats::default(),
            types: Vec::new(),
        }
    }
}

pub(crate) fn reader<R: Read>(opts: &CsvOptions, input: R) -> csv::Reader<R> {
    csv_reader(opts, input, 1 << 20)
}

/// A CSV reader of the dialect with a buffer of `buffer` bytes.
pub(crate) fn csv_reader<R: Read>(opts: &CsvOptions, input: R, buffer: usize) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(opts.header)
        .delimiter(opts.delimiter)
        .quote(opts.quote)
        .escape(opts.escape)
        .comment(opts.comment)
        // Field counts are checked by `check_record`, on the right line.
        .flexible(true)
        .buffer_capacity(buffer)
        .from_reader(input)
}
