//! Reading CSV records: the head (header, names, `--schema`), each record
//! placed on the line its text begins on, the checks every row must pass
//! (field count, NUL, given types), the tally pass one keeps while
//! inferring, and the errors that name file, line and column.

use std::io::Read;

use super::{CsvOptions, as_table, fields, reader};
use crate::ingest::chunks::{Kept, Peek};
use crate::ingest::columns::unique_names;
use crate::ingest::error::ConvertError;
use crate::ingest::infer::{Inferrer, fits_type};
use crate::ingest::scan::{DistinctSample, Reject, Scan, in_sample};
use crate::ingest::source::Source;
use crate::ingest::values::Formats;
use crate::schema::{Column, ColumnType, Schema};

/// What reading one more record gave.
pub(crate) enum Next {
    Row,
    /// A record that is not UTF-8 (only when rejects are kept).
    Bad(Reject),
    End,
}

/// Reads the next record into `record`, placed on the line its text
/// begins on. A record that is not UTF-8 fails the file, or keeping
/// rejects, is handed back as a reject.
pub(crate) fn next_record<R: Read + Peek>(
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
pub(crate) fn joined<S: AsRef<str>>(fields: impl Iterator<Item = S>, opts: &CsvOptions) -> String {
    let mut text = String::new();
    for (i, field) in fields.enumerate() {
        if i > 0 {
            text.push(char::from(opts.delimiter));
        }
        text.push_str(field.as_ref());
    }
    text
}

/// What to say after "expected N fields, found M" when M is short.
fn short_row_hint(short: bool) -> &'static str {
    if short {
        " (--null-padding reads the missing ones as NULL)"
    } else {
        ""
    }
}

pub(crate) fn parse_error(source: &Source, err: csv::Error, headers: &[String]) -> ConvertError {
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

/// What pass one knows before the first data row.
pub(crate) struct Head {
    pub(crate) names: Vec<String>,
    pub(crate) forced: Vec<Option<ColumnType>>,
    pub(crate) null_padding: bool,
    pub(crate) nulls: Vec<String>,
    pub(crate) formats: Formats,
}

/// What pass one counts over a run of rows.
pub(crate) struct Tally {
    pub(crate) inferrer: Inferrer,
    pub(crate) sample: Option<DistinctSample>,
    pub(crate) rows: u64,
    /// Where the reader of these rows started, in the decompressed source.
    pub(crate) base: u64,
    /// Where the last row began, in the decompressed source.
    pub(crate) last_start: Option<u64>,
    /// The line it began on (counted from where this reader began).
    pub(crate) last_line: u64,
    /// Whether its last field ends with a line break, as one does that a
    /// quote never closed has run to the end of the file.
    pub(crate) last_ends_in_break: bool,
}

impl Tally {
    pub(crate) fn new(head: &Head, sample: bool, base: u64) -> Tally {
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
    pub(crate) fn record(
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
        if in_sample(self.rows, self.start(record))
            && let Some(sample) = &mut self.sample
        {
            sample.observe(fields(record, expected, &head.nulls));
        }
        self.counted(record);
        Ok(())
    }

    /// One more row, checked, in the rows of a guessed schema: the types
    /// of the `unseen` columns (none of their values in the head) narrow.
    pub(crate) fn observe(&mut self, record: &csv::StringRecord, head: &Head, unseen: &[usize]) {
        self.narrow(|i| record.get(i), head, unseen);
        self.counted(record);
    }

    /// The types of the `unseen` columns narrow by a row's fields.
    pub(crate) fn narrow<'f>(
        &mut self,
        field: impl Fn(usize) -> Option<&'f str>,
        head: &Head,
        unseen: &[usize],
    ) {
        for &i in unseen {
            self.inferrer.observe(i, as_table(field(i), &head.nulls));
        }
    }

    /// Where `record` begins in the decompressed source.
    pub(crate) fn start(&self, record: &csv::StringRecord) -> u64 {
        self.base + record.position().map_or(0, csv::Position::byte)
    }

    /// One more row, checked: where it began.
    pub(crate) fn counted(&mut self, record: &csv::StringRecord) {
        self.rows += 1;
        let position = record.position();
        self.last_at(
            position.map(csv::Position::byte),
            position.map_or(0, csv::Position::line),
            record.get(record.len().wrapping_sub(1)),
        );
    }

    /// The last row counted began `byte` bytes into its reader's text (when
    /// known), on `line`, and its last field is `last_field`.
    pub(crate) fn last_at(&mut self, byte: Option<u64>, line: u64, last_field: Option<&str>) {
        self.last_start = byte.map(|byte| self.base + byte);
        self.last_line = line;
        self.last_ends_in_break = last_field.is_some_and(|f| f.ends_with(['\n', '\r']));
    }

    /// Adds the tally of the rows that follow this one's.
    pub(crate) fn merge(&mut self, later: Tally) {
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
pub(crate) fn check_record(
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
    match broken_rule(record.len(), |i| record.get(i), head) {
        None => Ok(()),
        Some(Broken::Count) => Err(ConvertError::Parse {
            file: source.label().to_owned(),
            line: record.position().map_or(0, |p| p.line()),
            reason: format!(
                "expected {expected} fields, found {}{}",
                record.len(),
                short_row_hint(record.len() < expected)
            ),
        }),
        Some(Broken::Value(i, t)) => {
            let field = as_table(record.get(i), &head.nulls);
            Err(value_error(source, record, i, &head.names, t, field))
        }
    }
}

/// Which of the head's rules a row breaks (a "misfit" elsewhere is a value
/// that does not fit a guessed type; these are refused rows).
pub(crate) enum Broken<'h> {
    /// Too many fields, or too few without null padding.
    Count,
    /// The value of column `i` is not of the type `--schema` gives it.
    Value(usize, &'h ColumnType),
}

/// Whether a row of `len` fields (field `i` at `field(i)`) breaks the
/// head's rules (the NUL check aside).
pub(crate) fn broken_rule<'f, 'h>(
    len: usize,
    field: impl Fn(usize) -> Option<&'f str>,
    head: &'h Head,
) -> Option<Broken<'h>> {
    let expected = head.names.len();
    if len > expected || (len < expected && !head.null_padding) {
        return Some(Broken::Count);
    }
    head.forced.iter().enumerate().find_map(|(i, forced)| {
        let t = forced.as_ref()?;
        let value = as_table(field(i), &head.nulls);
        (!value.is_empty() && !fits_type(value, t, &head.formats)).then_some(Broken::Value(i, t))
    })
}

/// A reader of the source past its skipped lines, and what [`read_head`]
/// read: the record (without a header, the first row), the head, and where
/// the reader began.
pub(crate) type Opened<'a> = (
    csv::Reader<Kept<Box<dyn Read + Send + 'a>>>,
    csv::StringRecord,
    Head,
    u64,
);

/// Opens the source past the lines `opts.skip` skips and reads its head;
/// `bytes` is told how much of the file is read. With `keep`, the reader
/// keeps what it reads, to hand the records to [`write_chunks`].
pub(crate) fn open_head<'a>(
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
pub(crate) fn records_at<R: Read>(rdr: &csv::Reader<R>, opts: &CsvOptions) -> csv::Position {
    if opts.header {
        rdr.position().clone()
    } else {
        csv::Position::new()
    }
}

/// Reads the header (or, without one, the first record into `record`) and
/// resolves `--schema`. A source with no record at all is empty.
pub(crate) fn read_head<R: Read>(
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

pub(crate) fn finish_scan(head: &Head, tally: &Tally) -> Scan {
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
        leaf_dictionary: Vec::new(),
        formats: head.formats.clone(),
        rejects: Vec::new(),
        json_chunks: None,
    }
}

pub(crate) fn value_error(
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
