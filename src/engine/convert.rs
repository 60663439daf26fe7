//! CSV to Parquet in two streaming passes: the first reads every row to infer
//! the schema, the second writes the rows in chunks on every core (see
//! `chunks`), hashing the bytes as they are written.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use thiserror::Error;

use super::chunks::{Kept, Stop, write_chunks};
use super::csv_chunks::{Rows, State};
use super::infer::{Inferrer, fits_type};
use super::parquet_writer::Written;
use super::rejects::{Reject, add_reject};
use super::source::{Compression, Source};
use super::values::Formats;
use crate::schema::{Column, ColumnType, Schema};

/// Errors while reading CSV or writing Parquet.
#[derive(Debug, Error)]
pub enum ConvertError {
    #[error("{file}: empty file: no rows and no header")]
    Empty { file: String },
    #[error("{file}: line {line}: {reason}")]
    Parse {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{file}: {reason}")]
    Input { file: String, reason: String },
    #[error("reading {file}")]
    Read {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("--schema: {0}")]
    SchemaOverride(String),
    /// A flag that does not apply to the input.
    #[error("{0}")]
    Flag(String),
    #[error("writing Parquet")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("building Arrow batch")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("writing Parquet")]
    Write(#[source] io::Error),
}

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
pub(super) fn fields<'r>(
    record: &'r csv::StringRecord,
    columns: usize,
    nulls: &'r [String],
) -> impl Iterator<Item = &'r str> + 'r {
    (0..columns).map(move |i| match record.get(i) {
        Some(field) if !nulls.iter().any(|n| n == field) => field,
        _ => "",
    })
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

impl ConvertError {
    /// Lines are counted from where the parser began: after `skipped`
    /// lines of preamble, the file's own numbers are that much higher.
    pub fn after_skipped_lines(self, skipped: u64) -> ConvertError {
        match self {
            ConvertError::Parse { file, line, reason } if line > 0 => ConvertError::Parse {
                file,
                line: line + skipped,
                reason,
            },
            other => other,
        }
    }
}

/// Parses `--schema "col:TYPE,col:TYPE"`.
pub fn parse_schema_override(spec: &str) -> Result<Vec<(String, ColumnType)>, ConvertError> {
    spec.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, ty) = part.rsplit_once(':').ok_or_else(|| {
                ConvertError::SchemaOverride(format!("{part:?} is not of the form column:TYPE"))
            })?;
            let ty: ColumnType = ty.parse().map_err(ConvertError::SchemaOverride)?;
            if ty.is_nested() {
                return Err(ConvertError::SchemaOverride(format!(
                    "{}: {ty} is a nested type, which lake infers from JSON and never takes \
                     from --schema",
                    name.trim()
                )));
            }
            Ok((name.trim().to_owned(), ty))
        })
        .collect()
}

/// What the first pass learned.
#[derive(Debug, Clone)]
pub struct Scan {
    pub schema: Schema,
    pub rows: u64,
    /// Per column: whether dictionary encoding pays (few distinct values in
    /// the first rows). Unique columns skip the cost of hashing every value.
    pub dictionary: Vec<bool>,
    /// How dates and timestamps in the text are written.
    pub formats: Formats,
    /// The rows set aside (with `rejects`), in file order.
    pub rejects: Vec<Reject>,
    /// A JSON file whose chunks are written on many threads.
    pub json_chunks: Option<super::json::JsonChunks>,
}

/// What reading one more record gave.
pub(super) enum Next {
    Row,
    /// A record that is not UTF-8 (only when rejects are kept).
    Bad(Reject),
    End,
}

/// Reads the next record into `record`, placed on the line its text
/// begins on. A record that is not UTF-8 fails the file, or keeping
/// rejects, is handed back as a reject.
pub(super) fn next_record<R: Read + Peek>(
    rdr: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    opts: &CsvOptions,
    source: &Source,
    names: &[String],
) -> Result<Next, ConvertError> {
    let comment = opts.comment;
    if !opts.rejects {
        return match rdr.read_record(record) {
            Ok(false) => Ok(Next::End),
            Ok(true) => {
                if let Some(pos) = record
                    .position()
                    .and_then(|p| placed(rdr.get_ref(), p, comment))
                {
                    record.set_position(Some(pos));
                }
                Ok(Next::Row)
            }
            Err(e) => match (
                e.kind(),
                e.position().and_then(|p| placed(rdr.get_ref(), p, comment)),
            ) {
                (csv::ErrorKind::Utf8 { err, .. }, Some(pos)) => {
                    Err(utf8_error(source, pos.line(), err.field(), names))
                }
                _ => Err(parse_error(source, e, names)),
            },
        };
    }
    // Keeping rejects: the bytes of a record that is not UTF-8 are its text.
    let mut bytes = std::mem::take(record).into_byte_record();
    if !rdr
        .read_byte_record(&mut bytes)
        .map_err(|e| parse_error(source, e, names))?
    {
        return Ok(Next::End);
    }
    if let Some(pos) = bytes
        .position()
        .and_then(|p| placed(rdr.get_ref(), p, comment))
    {
        bytes.set_position(Some(pos));
    }
    match csv::StringRecord::from_byte_record(bytes) {
        Ok(row) => {
            *record = row;
            Ok(Next::Row)
        }
        Err(e) => {
            let bytes = e.into_byte_record();
            Ok(Next::Bad(Reject {
                line: bytes.position().map_or(0, |p| p.line()),
                text: joined(bytes.iter().map(String::from_utf8_lossy), opts),
                reason: "invalid UTF-8 (is this a text file?)".to_owned(),
            }))
        }
    }
}

/// What a reader can tell of the text it has read: the byte at an offset
/// from where it began, while at hand.
pub(super) trait Peek {
    fn peek(&self, offset: u64) -> Option<u8>;
}

/// The csv crate places a record where the reader stood after the one
/// before: ahead of the LF of a CRLF, of blank lines and of comment lines.
/// Where it begins instead, on the line its text begins on, when that is
/// another line (and the text is at hand).
fn placed(text: &impl Peek, pos: &csv::Position, comment: Option<u8>) -> Option<csv::Position> {
    let (mut at, mut line) = (pos.byte(), pos.line());
    loop {
        match text.peek(at) {
            Some(b'\n') => line += 1,
            Some(b'\r') => {}
            Some(c) if Some(c) == comment => {
                // A comment line, to its line feed.
                while text.peek(at) != Some(b'\n') {
                    text.peek(at)?;
                    at += 1;
                }
                line += 1;
            }
            _ => break,
        }
        at += 1;
    }
    (line != pos.line()).then(|| {
        let mut placed = pos.clone();
        placed.set_line(line);
        placed
    })
}

/// Fields joined by the delimiter, as a reject's text.
fn joined<S: AsRef<str>>(fields: impl Iterator<Item = S>, opts: &CsvOptions) -> String {
    let mut text = String::new();
    for (i, field) in fields.enumerate() {
        if i > 0 {
            text.push(char::from(opts.delimiter));
        }
        text.push_str(field.as_ref());
    }
    text
}

/// Rows sampled for the distinct-value estimate behind dictionary encoding.
pub(super) const DICTIONARY_SAMPLE_ROWS: u64 = 65_536;

/// Counts distinct values per column over the first rows.
pub(super) struct DistinctSample {
    seen: Vec<HashSet<u64>>,
    values: Vec<u64>,
}

impl DistinctSample {
    pub(super) fn new(columns: usize) -> Self {
        DistinctSample {
            seen: vec![HashSet::new(); columns],
            values: vec![0; columns],
        }
    }

    pub(super) fn observe(&mut self, fields: impl Iterator<Item = impl AsRef<str>>) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        for (i, field) in fields.enumerate() {
            let field = field.as_ref();
            if i == self.seen.len() {
                // A column first seen now (a new JSON key).
                self.seen.push(HashSet::new());
                self.values.push(0);
            }
            if !field.is_empty() {
                self.values[i] += 1;
                self.seen[i].insert(hasher.hash_one(field));
            }
        }
    }

    /// Dictionary encoding for columns with at most one distinct value in
    /// four sampled ones (and for those with no value in the sample).
    pub(super) fn finish(&self, columns: usize) -> Vec<bool> {
        (0..columns)
            .map(|i| match (self.seen.get(i), self.values.get(i)) {
                (Some(seen), Some(&values)) => (seen.len() as u64) * 4 <= values.max(1),
                _ => true,
            })
            .collect()
    }
}

/// Reports how far a pass has got.
pub trait Progress: Sync {
    /// A pass begins; `total` is the source's size on disk.
    fn start(&self, _pass: &'static str, _total: u64) {}
    /// `bytes` more of the source were read.
    fn bytes(&self, _bytes: u64) {}
    /// `rows` more rows were read.
    fn rows(&self, _rows: u64) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

pub(super) fn reader<R: Read>(opts: &CsvOptions, input: R) -> csv::Reader<R> {
    csv_reader(opts, input, 1 << 20)
}

/// A CSV reader of the dialect with a buffer of `buffer` bytes.
pub(super) fn csv_reader<R: Read>(opts: &CsvOptions, input: R, buffer: usize) -> csv::Reader<R> {
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

/// What to say after "expected N fields, found M" when M is short.
fn short_row_hint(short: bool) -> &'static str {
    if short {
        " (--null-padding reads the missing ones as NULL)"
    } else {
        ""
    }
}

pub(super) fn parse_error(source: &Source, err: csv::Error, headers: &[String]) -> ConvertError {
    let file = source.label().to_owned();
    let line = err.position().map_or(0, |p| p.line());
    match err.into_kind() {
        csv::ErrorKind::Io(source) => ConvertError::Read { file, source },
        csv::ErrorKind::Utf8 { err, .. } => utf8_error(source, line, err.field(), headers),
        other => ConvertError::Parse {
            file,
            line,
            reason: format!("{other:?}"),
        },
    }
}

fn utf8_error(source: &Source, line: u64, field: usize, headers: &[String]) -> ConvertError {
    ConvertError::Parse {
        file: source.label().to_owned(),
        line,
        reason: format!(
            "column {}: invalid UTF-8 (is this a text file?)",
            column_label(field, headers)
        ),
    }
}

/// `3 (age)`: a 1-based column number with its name, when known.
fn column_label(index: usize, headers: &[String]) -> String {
    match headers.get(index) {
        Some(name) => format!("{} ({name})", index + 1),
        None => (index + 1).to_string(),
    }
}

/// Column names from the header row, or `column_1..N`; empty names become
/// `column_N` and repeats get `_2`, `_3`, unique without regard to case
/// (SQL names are case-insensitive).
pub fn column_names(header: Option<&csv::StringRecord>, count: usize) -> Vec<String> {
    unique_names((0..count).map(|i| header.and_then(|h| h.get(i)).unwrap_or("")))
}

/// Column names from raw ones (trimmed), by the rules of [`column_names`].
pub fn unique_names<'a>(raw: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for (i, raw) in raw.enumerate() {
        let raw = raw.trim();
        let base = if raw.is_empty() {
            format!("column_{}", i + 1)
        } else {
            raw.to_owned()
        };
        let mut name = base.clone();
        let mut n = 2;
        while !seen.insert(name.to_lowercase()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// Files smaller than this are scanned on one thread.
const PARALLEL_SCAN_BYTES: u64 = 16 << 20;

/// What pass one knows before the first data row.
pub(super) struct Head {
    pub(super) names: Vec<String>,
    pub(super) forced: Vec<Option<ColumnType>>,
    pub(super) null_padding: bool,
    pub(super) nulls: Vec<String>,
    pub(super) formats: Formats,
}

/// What pass one counts over a run of rows.
pub(super) struct Tally {
    pub(super) inferrer: Inferrer,
    pub(super) sample: Option<DistinctSample>,
    pub(super) rows: u64,
    /// Where the reader of these rows started, in the decompressed source.
    pub(super) base: u64,
    /// Where the last row began, in the decompressed source.
    pub(super) last_start: Option<u64>,
    /// The line it began on (counted from where this reader began).
    pub(super) last_line: u64,
    /// Whether its last field ends with a line break, as one does that a
    /// quote never closed has run to the end of the file.
    pub(super) last_ends_in_break: bool,
}

impl Tally {
    pub(super) fn new(head: &Head, sample: bool, base: u64) -> Tally {
        Tally {
            inferrer: Inferrer::new(head.names.len(), head.formats.clone()),
            sample: sample.then(|| DistinctSample::new(head.names.len())),
            rows: 0,
            base,
            last_start: None,
            last_line: 0,
            last_ends_in_break: false,
        }
    }

    /// Checks one record and narrows the types.
    pub(super) fn record(
        &mut self,
        record: &csv::StringRecord,
        head: &Head,
        source: &Source,
    ) -> Result<(), ConvertError> {
        check_record(record, head, source)?;
        let expected = head.names.len();
        for (i, field) in fields(record, expected, &head.nulls).enumerate() {
            if head.forced[i].is_none() {
                self.inferrer.observe(i, field);
            }
        }
        if self.rows < DICTIONARY_SAMPLE_ROWS
            && let Some(sample) = &mut self.sample
        {
            sample.observe(fields(record, expected, &head.nulls));
        }
        self.counted(record);
        Ok(())
    }

    /// One more row, checked, in the rows of a guessed schema: the types
    /// of the `unseen` columns (none of their values in the head) narrow.
    pub(super) fn observe(&mut self, record: &csv::StringRecord, head: &Head, unseen: &[usize]) {
        for &i in unseen {
            let field = record
                .get(i)
                .filter(|f| !head.nulls.iter().any(|n| n == f))
                .unwrap_or("");
            self.inferrer.observe(i, field);
        }
        self.counted(record);
    }

    /// One more row, checked: where it began.
    pub(super) fn counted(&mut self, record: &csv::StringRecord) {
        self.rows += 1;
        self.last_start = record.position().map(|p| self.base + p.byte());
        self.last_line = record.position().map_or(0, |p| p.line());
        self.last_ends_in_break = record
            .get(record.len().wrapping_sub(1))
            .is_some_and(|f| f.ends_with(['\n', '\r']));
    }

    /// Adds the tally of the rows that follow this one's.
    pub(super) fn merge(&mut self, later: Tally) {
        self.inferrer.merge(&later.inferrer);
        self.rows += later.rows;
        if later.last_start.is_some() {
            self.last_start = later.last_start;
            self.last_line = later.last_line;
            self.last_ends_in_break = later.last_ends_in_break;
        }
    }
}

/// Checks what every row must be: no NUL, the header's number of fields
/// (fewer with null padding), and values of the types given by `--schema`.
/// Every check comes before any inference: a row refused (or set aside)
/// must not have narrowed a type.
pub(super) fn check_record(
    record: &csv::StringRecord,
    head: &Head,
    source: &Source,
) -> Result<(), ConvertError> {
    if memchr::memchr(0, record.as_slice().as_bytes()).is_some() {
        let col = record.iter().position(|f| f.contains('\0')).unwrap_or(0);
        return Err(ConvertError::Parse {
            file: source.label().to_owned(),
            line: record.position().map_or(0, |p| p.line()),
            reason: format!(
                "column {}: contains a NUL byte (is this a text file?)",
                column_label(col, &head.names)
            ),
        });
    }
    let expected = head.names.len();
    if record.len() > expected || (record.len() < expected && !head.null_padding) {
        return Err(ConvertError::Parse {
            file: source.label().to_owned(),
            line: record.position().map_or(0, |p| p.line()),
            reason: format!(
                "expected {expected} fields, found {}{}",
                record.len(),
                short_row_hint(record.len() < expected)
            ),
        });
    }
    if head.forced.iter().any(Option::is_some) {
        for (i, field) in fields(record, expected, &head.nulls).enumerate() {
            if let Some(t) = &head.forced[i]
                && !field.is_empty()
                && !fits_type(field, t, &head.formats)
            {
                return Err(value_error(source, record, i, &head.names, t, field));
            }
        }
    }
    Ok(())
}

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

/// A reader of the source past its skipped lines, and what [`read_head`]
/// read: the record (without a header, the first row), the head, and where
/// the reader began.
pub(super) type Opened<'a> = (
    csv::Reader<Kept<Box<dyn Read + Send + 'a>>>,
    csv::StringRecord,
    Head,
    u64,
);

/// Opens the source past the lines `opts.skip` skips and reads its head;
/// `bytes` is told how much of the file is read. With `keep`, the reader
/// keeps what it reads, to hand the records to [`write_chunks`].
pub(super) fn open_head<'a>(
    source: &Source,
    opts: &CsvOptions,
    bytes: &'a (dyn Fn(u64) + Sync),
    keep: bool,
) -> Result<Opened<'a>, ConvertError> {
    let read_err = |e| ConvertError::Read {
        file: source.label().to_owned(),
        source: e,
    };
    let skipped = source.line_offset(opts.skip).map_err(read_err)?;
    let input = source.open_from(skipped, bytes).map_err(read_err)?;
    let mut rdr = reader(opts, Kept::new(input, keep));
    let mut record = csv::StringRecord::new();
    let head = read_head(&mut rdr, &mut record, source, opts)?;
    Ok((rdr, record, head, skipped))
}

/// Where the records begin once [`read_head`] has read the head: after the
/// header, or where the reader began.
pub(super) fn records_at<R: Read>(rdr: &csv::Reader<R>, opts: &CsvOptions) -> csv::Position {
    if opts.header {
        rdr.position().clone()
    } else {
        csv::Position::new()
    }
}

/// Reads the header (or, without one, the first record into `record`) and
/// resolves `--schema`. A source with no record at all is empty.
pub(super) fn read_head<R: Read>(
    rdr: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    source: &Source,
    opts: &CsvOptions,
) -> Result<Head, ConvertError> {
    let empty = || ConvertError::Empty {
        file: source.label().to_owned(),
    };
    let names = if opts.header {
        let h = rdr.headers().map_err(|e| parse_error(source, e, &[]))?;
        if h.is_empty() {
            return Err(empty());
        }
        column_names(Some(h), h.len())
    } else {
        if !rdr
            .read_record(record)
            .map_err(|e| parse_error(source, e, &[]))?
        {
            return Err(empty());
        }
        column_names(None, record.len())
    };
    let forced = resolve_overrides(&names, &opts.types)?;
    Ok(Head {
        names,
        forced,
        null_padding: opts.null_padding,
        nulls: opts.nulls.clone(),
        formats: opts.formats.clone(),
    })
}

pub(super) fn finish_scan(head: &Head, tally: &Tally) -> Scan {
    let inferred = tally.inferrer.finish();
    let columns = head
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| Column {
            name: name.clone(),
            column_type: head.forced[i].clone().unwrap_or(inferred[i].clone()),
        })
        .collect::<Vec<_>>();
    let dictionary = match &tally.sample {
        Some(sample) => sample.finish(columns.len()),
        None => vec![true; columns.len()],
    };
    Scan {
        schema: Schema { columns },
        rows: tally.rows,
        dictionary,
        formats: head.formats.clone(),
        rejects: Vec::new(),
        json_chunks: None,
    }
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
        while sampled < DICTIONARY_SAMPLE_ROWS && rdr.read_record(&mut record).ok()? {
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
pub(super) fn last_row_unterminated(
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

pub(super) fn value_error(
    source: &Source,
    record: &csv::StringRecord,
    i: usize,
    names: &[String],
    t: &ColumnType,
    field: &str,
) -> ConvertError {
    let shown: String = field.chars().take(40).collect();
    ConvertError::Parse {
        file: source.label().to_owned(),
        line: record.position().map_or(0, |p| p.line()),
        reason: format!(
            "column {}: {shown:?} is not a valid {t}",
            column_label(i, names)
        ),
    }
}

/// The type each column was given with `--schema`, refusing unknown names.
fn resolve_overrides(
    names: &[String],
    types: &[(String, ColumnType)],
) -> Result<Vec<Option<ColumnType>>, ConvertError> {
    let mut forced = vec![None; names.len()];
    for (name, t) in types {
        let i = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                ConvertError::SchemaOverride(format!(
                    "no column named {name:?} (columns: {})",
                    names.join(", ")
                ))
            })?;
        forced[i] = Some(t.clone());
    }
    Ok(forced)
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
