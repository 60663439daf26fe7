//! CSV to Parquet in two streaming passes: the first reads every row to infer
//! the schema, the second builds Arrow record batches and writes them with
//! the Parquet `ArrowWriter`, hashing the bytes as they are written.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::infer::{Inferrer, fits_type};
use super::source::Source;
use super::values::{self, Formats};
use crate::schema::{Column, ColumnType, Schema};

/// Rows per Arrow record batch.
const BATCH_ROWS: usize = 32 * 1024;
/// Bytes of fields in one batch at most (narrow rows reach BATCH_ROWS
/// first, so their objects are as before).
const BATCH_BYTES: usize = 16 << 20;
/// Rows per Parquet row group (DuckDB's own row group size).
const ROW_GROUP_ROWS: usize = 122_880;
/// Encoded bytes a row group may buffer before it is flushed: bounds memory
/// on wide rows.
const ROW_GROUP_BYTES: usize = 64 << 20;

/// Errors while reading CSV or writing Parquet.
#[derive(Debug, Error)]
pub enum ConvertError {
    #[error("{file}: empty file: no header row")]
    Empty { file: String },
    #[error("{file}: line {line}: {reason}")]
    Parse {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("reading {file}")]
    Read {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("--schema: {0}")]
    SchemaOverride(String),
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
    /// Fields that read as NULL besides the empty one, like `NA`.
    pub nulls: Vec<String>,
    /// Date and timestamp formats besides ISO 8601.
    pub formats: Formats,
    /// Types given by the user, by column name; the rest are inferred.
    pub types: Vec<(String, ColumnType)>,
}

/// The fields of one row as the table sees them: missing ones (with null
/// padding) and the `--null` strings are empty, that is NULL.
fn fields<'r>(
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
            let ty = ty.parse().map_err(ConvertError::SchemaOverride)?;
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
}

/// Rows sampled for the distinct-value estimate behind dictionary encoding.
const DICTIONARY_SAMPLE_ROWS: u64 = 65_536;

/// Counts distinct values per column over the first rows.
struct DistinctSample {
    seen: Vec<HashSet<u64>>,
    values: Vec<u64>,
}

impl DistinctSample {
    fn new(columns: usize) -> Self {
        DistinctSample {
            seen: vec![HashSet::new(); columns],
            values: vec![0; columns],
        }
    }

    fn observe(&mut self, fields: impl Iterator<Item = impl AsRef<str>>) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        for (i, field) in fields.enumerate() {
            let field = field.as_ref();
            if !field.is_empty() {
                self.values[i] += 1;
                self.seen[i].insert(hasher.hash_one(field));
            }
        }
    }

    /// Dictionary encoding for columns with at most one distinct value in
    /// four sampled ones.
    fn finish(&self) -> Vec<bool> {
        self.seen
            .iter()
            .zip(&self.values)
            .map(|(seen, &values)| (seen.len() as u64) * 4 <= values.max(1))
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

fn reader<'a>(
    opts: &CsvOptions,
    input: Box<dyn Read + Send + 'a>,
) -> csv::Reader<Box<dyn Read + Send + 'a>> {
    csv::ReaderBuilder::new()
        .has_headers(opts.header)
        .delimiter(opts.delimiter)
        .quote(opts.quote)
        .escape(opts.escape)
        .comment(opts.comment)
        .flexible(opts.null_padding)
        .buffer_capacity(1 << 20)
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

fn parse_error(source: &Source, err: csv::Error, headers: &[String]) -> ConvertError {
    let file = source.label().to_owned();
    let line = err.position().map_or(0, |p| p.line());
    match err.into_kind() {
        csv::ErrorKind::Io(source) => ConvertError::Read { file, source },
        csv::ErrorKind::Utf8 { err, .. } => ConvertError::Parse {
            file,
            line,
            reason: format!(
                "column {}: invalid UTF-8 (is this a text file?)",
                column_label(err.field(), headers)
            ),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ConvertError::Parse {
            file,
            line,
            reason: format!(
                "expected {expected_len} fields, found {len}{}",
                short_row_hint(len < expected_len)
            ),
        },
        other => ConvertError::Parse {
            file,
            line,
            reason: format!("{other:?}"),
        },
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
    let mut seen = HashSet::new();
    let mut names = Vec::with_capacity(count);
    for i in 0..count {
        let raw = header.and_then(|h| h.get(i)).map(str::trim).unwrap_or("");
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
struct Head {
    names: Vec<String>,
    forced: Vec<Option<ColumnType>>,
    null_padding: bool,
    nulls: Vec<String>,
    formats: Formats,
}

/// What pass one counts over a run of rows.
struct Tally {
    inferrer: Inferrer,
    sample: Option<DistinctSample>,
    rows: u64,
}

impl Tally {
    fn new(head: &Head, sample: bool) -> Tally {
        Tally {
            inferrer: Inferrer::new(head.names.len(), head.formats.clone()),
            sample: sample.then(|| DistinctSample::new(head.names.len())),
            rows: 0,
        }
    }

    /// Checks one record and narrows the types.
    fn record(
        &mut self,
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
        for (i, field) in fields(record, expected, &head.nulls).enumerate() {
            match head.forced[i] {
                None => self.inferrer.observe(i, field),
                Some(t) => {
                    if !field.is_empty() && !fits_type(field, t, &head.formats) {
                        return Err(value_error(source, record, i, &head.names, t, field));
                    }
                }
            }
        }
        if self.rows < DICTIONARY_SAMPLE_ROWS
            && let Some(sample) = &mut self.sample
        {
            sample.observe(fields(record, expected, &head.nulls));
        }
        self.rows += 1;
        Ok(())
    }

    /// Adds the tally of the rows that follow this one's.
    fn merge(mut self, later: Tally) -> Tally {
        self.inferrer.merge(&later.inferrer);
        self.rows += later.rows;
        self
    }
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
    let skipped = source.line_offset(opts.skip).map_err(read_err)?;
    let mut rdr = reader(opts, source.open_from(skipped, &bytes).map_err(read_err)?);
    let mut record = csv::StringRecord::new();
    let Some(head) = read_head(&mut rdr, &mut record, source, opts)? else {
        return finish_scan(
            Head {
                names: Vec::new(),
                forced: Vec::new(),
                null_padding: opts.null_padding,
                nulls: Vec::new(),
                formats: Formats::default(),
            },
            None,
        );
    };
    let data_start = skipped
        + if opts.header {
            rdr.position().byte()
        } else {
            0
        };
    if !source.is_gzip() && source.len() >= PARALLEL_SCAN_BYTES {
        if let Some(tally) = scan_halves(source, opts, &head, data_start, progress) {
            return finish_scan(head, Some(tally));
        }
        // Start again on one thread.
        progress.start("scanning", source.len());
        rdr = reader(opts, source.open_from(skipped, &bytes).map_err(read_err)?);
        read_head(&mut rdr, &mut record, source, opts)?;
    }
    let mut tally = Tally::new(&head, true);
    // Without a header the first record is data, and already read.
    if !opts.header {
        tally.record(&record, &head, source)?;
    }
    loop {
        let more = rdr
            .read_record(&mut record)
            .map_err(|e| parse_error(source, e, &head.names))?;
        if !more {
            break;
        }
        tally.record(&record, &head, source)?;
        if tally.rows.is_multiple_of(8192) {
            progress.rows(8192);
        }
    }
    progress.rows(tally.rows % 8192);
    finish_scan(head, Some(tally))
}

/// Reads the header (or, without one, the first record into `record`) and
/// resolves `--schema`. `None` when there is no record at all.
fn read_head<R: Read>(
    rdr: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    source: &Source,
    opts: &CsvOptions,
) -> Result<Option<Head>, ConvertError> {
    let names = if opts.header {
        let h = rdr.headers().map_err(|e| parse_error(source, e, &[]))?;
        if h.is_empty() {
            return Err(ConvertError::Empty {
                file: source.label().to_owned(),
            });
        }
        column_names(Some(h), h.len())
    } else {
        if !rdr
            .read_record(record)
            .map_err(|e| parse_error(source, e, &[]))?
        {
            return Ok(None);
        }
        column_names(None, record.len())
    };
    let forced = resolve_overrides(&names, &opts.types)?;
    Ok(Some(Head {
        names,
        forced,
        null_padding: opts.null_padding,
        nulls: opts.nulls.clone(),
        formats: opts.formats.clone(),
    }))
}

fn finish_scan(head: Head, tally: Option<Tally>) -> Result<Scan, ConvertError> {
    let inferred = tally.as_ref().map(|t| t.inferrer.finish());
    let columns = head
        .names
        .into_iter()
        .enumerate()
        .map(|(i, name)| Column {
            name,
            column_type: head.forced[i]
                .or_else(|| inferred.as_ref().map(|t| t[i]))
                .unwrap_or(ColumnType::Varchar),
        })
        .collect::<Vec<_>>();
    let dictionary = match tally.as_ref().and_then(|t| t.sample.as_ref()) {
        Some(sample) => sample.finish(),
        None => vec![true; columns.len()],
    };
    Ok(Scan {
        schema: Schema { columns },
        rows: tally.map_or(0, |t| t.rows),
        dictionary,
    })
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
            scan_range(reader(&no_header(opts), input), head, source, None)
        });
        let first = (|| {
            let input = source.open_at(data_start, &bytes).ok()?;
            scan_range(
                reader(&no_header(opts), input),
                head,
                source,
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
    Some(first.merge(second))
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
    end: Option<u64>,
) -> Option<(Tally, Option<u64>)> {
    let mut tally = Tally::new(head, end.is_some());
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

fn value_error(
    source: &Source,
    record: &csv::StringRecord,
    i: usize,
    names: &[String],
    t: ColumnType,
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
        forced[i] = Some(*t);
    }
    Ok(forced)
}

/// The Arrow schema a lake schema is written as.
pub fn arrow_schema(schema: &Schema) -> SchemaRef {
    Arc::new(ArrowSchema::new(
        schema
            .columns
            .iter()
            .map(|c| {
                let dt = match c.column_type {
                    ColumnType::Boolean => DataType::Boolean,
                    ColumnType::Bigint => DataType::Int64,
                    ColumnType::Double => DataType::Float64,
                    ColumnType::Date => DataType::Date32,
                    ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
                    ColumnType::Timestamptz => {
                        DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
                    }
                    ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
                    ColumnType::Varchar => DataType::Utf8,
                };
                Field::new(&c.name, dt, true)
            })
            .collect::<Vec<_>>(),
    ))
}

enum Builder {
    Boolean(BooleanBuilder),
    Bigint(Int64Builder),
    Double(Float64Builder),
    Date(Date32Builder, Formats),
    Timestamp(TimestampMicrosecondBuilder, Formats),
    Timestamptz(TimestampMicrosecondBuilder),
    Time(Time64MicrosecondBuilder),
    Varchar(StringBuilder),
}

/// The zone instants are stored in.
const UTC: &str = "UTC";

impl Builder {
    fn new(t: ColumnType, formats: &Formats) -> Builder {
        match t {
            ColumnType::Boolean => Builder::Boolean(BooleanBuilder::with_capacity(BATCH_ROWS)),
            ColumnType::Bigint => Builder::Bigint(Int64Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Double => Builder::Double(Float64Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Date => {
                Builder::Date(Date32Builder::with_capacity(BATCH_ROWS), formats.clone())
            }
            ColumnType::Timestamp => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS),
                formats.clone(),
            ),
            ColumnType::Timestamptz => Builder::Timestamptz(
                TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS).with_timezone(UTC),
            ),
            ColumnType::Time => Builder::Time(Time64MicrosecondBuilder::with_capacity(BATCH_ROWS)),
            ColumnType::Varchar => {
                Builder::Varchar(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16))
            }
        }
    }

    /// Appends one field; `false` when it does not parse as the column type.
    #[inline]
    fn append(&mut self, field: &str) -> bool {
        if field.is_empty() {
            match self {
                Builder::Boolean(b) => b.append_null(),
                Builder::Bigint(b) => b.append_null(),
                Builder::Double(b) => b.append_null(),
                Builder::Date(b, _) => b.append_null(),
                Builder::Timestamp(b, _) | Builder::Timestamptz(b) => b.append_null(),
                Builder::Time(b) => b.append_null(),
                Builder::Varchar(b) => b.append_null(),
            }
            return true;
        }
        fn put<T>(v: Option<T>, f: impl FnOnce(T)) -> bool {
            v.map(f).is_some()
        }
        match self {
            Builder::Boolean(b) => put(values::parse_bool(field), |v| b.append_value(v)),
            Builder::Bigint(b) => put(values::parse_i64(field), |v| b.append_value(v)),
            Builder::Double(b) => put(values::parse_f64(field), |v| b.append_value(v)),
            Builder::Date(b, formats) => put(formats.date(field), |v| b.append_value(v)),
            Builder::Timestamp(b, formats) => put(formats.timestamp(field), |v| b.append_value(v)),
            Builder::Timestamptz(b) => put(values::parse_timestamptz(field), |v| b.append_value(v)),
            Builder::Time(b) => put(values::parse_time(field), |v| b.append_value(v)),
            Builder::Varchar(b) => {
                b.append_value(field);
                true
            }
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Bigint(b) => Arc::new(b.finish()),
            Builder::Double(b) => Arc::new(b.finish()),
            Builder::Date(b, _) => Arc::new(b.finish()),
            Builder::Timestamp(b, _) | Builder::Timestamptz(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Varchar(b) => Arc::new(b.finish()),
        }
    }
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The SHA-256 (hex) and length of everything written, and the writer.
    pub fn finish(mut self) -> io::Result<(String, u64, W)> {
        self.inner.flush()?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes, self.inner))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The Parquet file a conversion wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
}

/// Writer settings: decided by the input alone, so the same input always
/// gives the same bytes.
fn writer_properties(scan: &Scan) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(concat!("lake ", env!("CARGO_PKG_VERSION")).to_owned());
    for (col, &dictionary) in scan.schema.columns.iter().zip(&scan.dictionary) {
        props =
            props.set_column_dictionary_enabled(ColumnPath::from(col.name.as_str()), dictionary);
    }
    props.build()
}

/// Pass two: converts the source to Parquet as [`scan`] found it, writing
/// to `out`. Parsing and encoding run on two threads.
pub fn write_parquet<W: Write + Send>(
    source: &Source,
    opts: &CsvOptions,
    scan: &Scan,
    out: W,
    progress: &dyn Progress,
) -> Result<(Written, W), ConvertError> {
    let schema = &scan.schema;
    let arrow = arrow_schema(schema);
    let mut writer = ArrowWriter::try_new(
        HashingWriter::new(out),
        arrow.clone(),
        Some(writer_properties(scan)),
    )?;
    let names: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
    progress.start("writing", source.len());
    let (tx, rx) = sync_channel::<RecordBatch>(2);
    let (parsed, rows) = std::thread::scope(|scope| {
        let parser = scope.spawn(move || -> Result<u64, ConvertError> {
            let bytes = |n| progress.bytes(n);
            let read_err = |e| ConvertError::Read {
                file: source.label().to_owned(),
                source: e,
            };
            let skipped = source.line_offset(opts.skip).map_err(read_err)?;
            let input = source.open_from(skipped, &bytes).map_err(read_err)?;
            let mut rdr = reader(opts, input);
            let mut builders: Vec<Builder> = schema
                .columns
                .iter()
                .map(|c| Builder::new(c.column_type, &opts.formats))
                .collect();
            let mut record = csv::StringRecord::new();
            let mut in_batch = 0usize;
            let mut batch_bytes = 0usize;
            let mut rows = 0u64;
            loop {
                let more = rdr
                    .read_record(&mut record)
                    .map_err(|e| parse_error(source, e, &names))?;
                if more {
                    let row = fields(&record, builders.len(), &opts.nulls);
                    for (i, (field, b)) in row.zip(builders.iter_mut()).enumerate() {
                        if !b.append(field) {
                            return Err(value_error(
                                source,
                                &record,
                                i,
                                &names,
                                schema.columns[i].column_type,
                                field,
                            ));
                        }
                    }
                    in_batch += 1;
                    batch_bytes += record.as_slice().len();
                }
                // Batches are bounded in rows and in bytes: memory follows
                // the budget, not the width of the rows.
                let full = in_batch == BATCH_ROWS || batch_bytes >= BATCH_BYTES;
                if (more && full) || (!more && in_batch > 0) {
                    batch_bytes = 0;
                    let columns = builders.iter_mut().map(Builder::finish).collect();
                    let batch = RecordBatch::try_new(arrow.clone(), columns)?;
                    progress.rows(in_batch as u64);
                    rows += in_batch as u64;
                    in_batch = 0;
                    if tx.send(batch).is_err() {
                        break; // the writer failed; its error is reported
                    }
                }
                if !more {
                    break;
                }
            }
            Ok(rows)
        });
        let mut written: Result<(), ConvertError> = Ok(());
        for batch in rx {
            if let Err(e) = writer.write(&batch) {
                written = Err(e.into());
                break;
            }
        }
        let rows = parser.join().unwrap_or_else(|_| {
            Err(ConvertError::Write(io::Error::other(
                "the CSV parser thread panicked",
            )))
        });
        (written, rows)
    });
    let rows = rows?;
    parsed?;
    let hashing = writer.into_inner()?;
    let (sha256, bytes, out) = hashing.finish().map_err(ConvertError::Write)?;
    Ok((
        Written {
            sha256,
            bytes,
            rows,
        },
        out,
    ))
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
