//! The CSV dialect of a file: what the user said, and the rest as DuckDB's
//! own sniffer (`sniff_csv`, in the engine lake embeds) finds it, so that
//! lake reads a file as `read_csv` does. Types are not taken from it: lake
//! infers them from every row.

use duckdb::Connection;

use super::CsvOptions;
use crate::ingest::source::Source;
use crate::ingest::values::Formats;
use crate::schema::ColumnType;
use crate::schema::quote_literal;

/// The parts of a dialect the user fixed; `None` is "find out".
#[derive(Debug, Clone, Default)]
pub struct DialectFlags {
    pub delimiter: Option<u8>,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub comment: Option<u8>,
    /// Lines before the header (or the first row).
    pub skip: Option<u64>,
    pub header: Option<bool>,
    /// Pad rows with too few fields with NULL.
    pub null_padding: bool,
    /// Set rows that cannot be read aside instead of refusing the file.
    pub rejects: bool,
    /// Strings that read as NULL.
    pub nulls: Vec<String>,
    /// What the file holds, when the user says; else told by the content.
    pub content: Option<crate::ingest::source::Content>,
    /// Date and timestamp formats (strftime codes).
    pub date_format: Option<String>,
    pub timestamp_format: Option<String>,
}

/// Parses a one-character setting (`delimiter`, `quote`, ...): one byte,
/// or `\t` / `tab`.
pub fn parse_char(setting: &str, s: &str) -> Result<u8, String> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => Err(format!("{setting} must be one byte (or \\t), not {s:?}")),
    }
}

/// What DuckDB's sniffer said of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub delimiter: u8,
    /// `None`: no quote character was seen.
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub comment: Option<u8>,
    pub skip: u64,
    pub header: bool,
    /// Formats of dates and timestamps that are not ISO 8601.
    pub date_format: Option<String>,
    pub timestamp_format: Option<String>,
}

/// One byte of a sniffed setting; `(empty)` is none, and so is anything
/// lake's parser cannot take (more than one byte).
fn one_byte(value: &str) -> Option<u8> {
    let value = match value {
        "\\t" => "\t",
        other => other,
    };
    (value.len() == 1).then(|| value.as_bytes()[0])
}

/// Runs DuckDB's sniffer on the file, with what the user fixed as given;
/// `None` when it cannot say (not a file DuckDB reads as CSV, a delimiter
/// of more than one byte...). `usual` is the delimiter the file's name
/// suggests.
pub fn sniff(source: &Source, flags: &DialectFlags, usual: u8) -> Option<Sniffed> {
    let conn = Connection::open_in_memory().ok()?;
    // One thread: the sniffer's sample is small, and idle workers of a
    // second one only spun for their tasks (5% of the head's time).
    conn.execute_batch(
        "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false; \
         SET threads = 1;",
    )
    .ok()?;
    let char_literal = |c: u8| quote_literal(&char::from(c).to_string());
    // The sniffer reads its sample of rows whole: on rows of 100 KB that is
    // gigabytes. It gets the head of the file instead, as plain text.
    let head = sample(source).ok()?;
    let mut options = vec!["compression := 'none'".to_owned()];
    let fixed = [
        ("delim", flags.delimiter),
        ("quote", flags.quote),
        ("escape", flags.escape),
        ("comment", flags.comment),
    ];
    options.extend(
        fixed
            .iter()
            .filter_map(|(name, c)| c.map(|c| format!("{name} := {}", char_literal(c)))),
    );
    if let Some(skip) = flags.skip {
        options.push(format!("skip := {skip}"));
    }
    if let Some(header) = flags.header {
        options.push(format!("header := {header}"));
    }
    if flags.null_padding {
        options.push("null_padding := true".to_owned());
    }
    if let Some(format) = &flags.date_format {
        options.push(format!("dateformat := {}", quote_literal(format)));
    }
    if let Some(format) = &flags.timestamp_format {
        options.push(format!("timestampformat := {}", quote_literal(format)));
    }
    let path = head.path().to_string_lossy().into_owned();
    conn.query_row(
        &format!(
            "SELECT Delimiter, Quote, Escape, Comment, SkipRows, HasHeader, \
             DateFormat, TimestampFormat FROM sniff_csv({}, {})",
            quote_literal(&path),
            options.join(", ")
        ),
        [],
        |row| {
            let text = |i| {
                row.get::<_, Option<String>>(i)
                    .map(|v| v.unwrap_or_default())
            };
            Ok((
                text(0)?,
                text(1)?,
                text(2)?,
                text(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, bool>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<String>>(7)?,
            ))
        },
    )
    .ok()
    .and_then(
        |(delimiter, quote, escape, comment, skip, header, date, timestamp)| {
            let sniffed = Sniffed {
                delimiter: one_byte(&delimiter)?,
                quote: one_byte(&quote),
                escape: one_byte(&escape),
                comment: one_byte(&comment),
                skip: u64::try_from(skip).ok()?,
                header,
                date_format: date.filter(|f| !f.is_empty() && f != "(empty)"),
                timestamp_format: timestamp.filter(|f| !f.is_empty() && f != "(empty)"),
            };
            // The sniffer also skips rows to find a regular table: a header
            // above a ragged row would be dropped without a word. Only lines
            // that hold no field separator (a title, a date) are a preamble;
            // the first line that does is the header.
            let preamble = preamble_lines(source, &sniffed).unwrap_or(0);
            let sniffed = if preamble < sniffed.skip {
                Sniffed {
                    skip: preamble,
                    header: true,
                    ..sniffed
                }
            } else {
                sniffed
            };
            // With no delimiter that gives every row the same fields, the
            // sniffer reads one column; a first line that holds the usual
            // delimiter is a table with a ragged row, to be refused as such.
            let first = first_line(source, sniffed.skip).unwrap_or_default();
            if sniffed.delimiter != usual
                && !first.contains(&sniffed.delimiter)
                && first.contains(&usual)
            {
                return Some(Sniffed {
                    delimiter: usual,
                    header: true,
                    ..sniffed
                });
            }
            Some(sniffed)
        },
    )
}

/// Line `skip` of the file (from 0), without its end.
fn first_line(source: &Source, skip: u64) -> std::io::Result<Vec<u8>> {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(source.open(&|_| {})?).split(b'\n');
    lines
        .nth(usize::try_from(skip).unwrap_or(usize::MAX))
        .unwrap_or(Ok(Vec::new()))
}

/// How many of the lines the sniffer would skip are a preamble, from the
/// top: comments, or lines without the delimiter (a title, a date).
fn preamble_lines(source: &Source, sniffed: &Sniffed) -> std::io::Result<u64> {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(source.open(&|_| {})?).split(b'\n');
    let mut count = 0;
    while count < sniffed.skip {
        let Some(line) = lines.next().transpose()? else {
            break;
        };
        let comment = sniffed.comment.is_some_and(|c| line.first() == Some(&c));
        if !comment && line.contains(&sniffed.delimiter) {
            break;
        }
        count += 1;
    }
    Ok(count)
}

/// Lines of the head the sniffer sees, as many as DuckDB's own sample.
const SAMPLE_LINES: usize = 20_480;
/// Bytes of the head the sniffer sees at most.
const SAMPLE_BYTES: u64 = 8 << 20;

/// The first lines of the decompressed file (whole lines, at most
/// [`SAMPLE_LINES`] and about [`SAMPLE_BYTES`]) in a temporary file.
fn sample(source: &Source) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::{BufRead, Read, Write};
    let mut input = std::io::BufReader::new(source.open(&|_| {})?);
    let mut out = std::io::BufWriter::new(tempfile::NamedTempFile::new()?);
    let (mut lines, mut bytes) = (0, 0u64);
    let mut line = Vec::new();
    while lines < SAMPLE_LINES && bytes < SAMPLE_BYTES {
        line.clear();
        let n = (&mut input)
            .take(SAMPLE_BYTES + 1 - bytes)
            .read_until(b'\n', &mut line)?;
        // A line cut by the byte bound is left out (unless it is the only one).
        if n == 0 || (!line.ends_with(b"\n") && lines > 0 && bytes + n as u64 > SAMPLE_BYTES) {
            break;
        }
        out.write_all(&line)?;
        lines += 1;
        bytes += n as u64;
    }
    out.into_inner()
        .map_err(std::io::IntoInnerError::into_error)
}

/// The dialect to read `source` with: every flag as given, the rest as
/// sniffed. When the sniffer cannot say, lake's defaults: a header, `"`
/// quotes, and tab for `.tsv` / `.tab` names, else comma. A quote the
/// sniffer did not see stays `"`: a quoted field later in a large file is
/// still read as one.
pub fn dialect(
    source: &Source,
    flags: &DialectFlags,
    types: Vec<(String, ColumnType)>,
    default_delimiter: u8,
) -> CsvOptions {
    let all_given = flags.delimiter.is_some()
        && flags.quote.is_some()
        && flags.escape.is_some()
        && flags.comment.is_some()
        && flags.skip.is_some()
        && flags.header.is_some();
    let sniffed = if all_given || source.is_empty() {
        None
    } else {
        sniff(source, flags, flags.delimiter.unwrap_or(default_delimiter))
    };
    let defaults = CsvOptions::default();
    CsvOptions {
        delimiter: flags
            .delimiter
            .or(sniffed.as_ref().map(|s| s.delimiter))
            .unwrap_or(default_delimiter),
        quote: flags
            .quote
            .or(sniffed.as_ref().and_then(|s| s.quote))
            .unwrap_or(defaults.quote),
        escape: flags.escape.or(sniffed.as_ref().and_then(|s| s.escape)),
        comment: flags.comment.or(sniffed.as_ref().and_then(|s| s.comment)),
        skip: flags.skip.or(sniffed.as_ref().map(|s| s.skip)).unwrap_or(0),
        header: flags
            .header
            .or(sniffed.as_ref().map(|s| s.header))
            .unwrap_or(true),
        null_padding: flags.null_padding,
        rejects: flags.rejects,
        nulls: flags.nulls.clone(),
        formats: Formats {
            date: flags
                .date_format
                .clone()
                .or_else(|| sniffed.as_ref().and_then(|s| s.date_format.clone())),
            timestamp: flags
                .timestamp_format
                .clone()
                .or_else(|| sniffed.as_ref().and_then(|s| s.timestamp_format.clone())),
        },
        types,
    }
}
