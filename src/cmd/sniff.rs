//! `lake sniff FILE|-` and `lake ingest --dry-run`: how a file would be read
//! (its format; for CSV its dialect, found as DuckDB finds it, or as fixed
//! by flags) and the schema an ingest would make, from every row. Writes
//! nothing.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cli::{DialectArgs, IngestArgs, SniffArgs};
use crate::ingest::columns::parse_schema_override;
use crate::ingest::csv::CsvOptions;
use crate::ingest::csv::dialect;
use crate::ingest::csv::dialect::DialectFlags;
use crate::ingest::json::JsonOptions;
use crate::ingest::progress::NoProgress;
use crate::ingest::reading::Reading;
use crate::ingest::source::Source;
use crate::lake::{LakeError, default_delimiter, default_name};
use crate::output::write_record;
use crate::printer::Printer;
use crate::schema::ColumnType;

/// The parts of the dialect the flags fix.
pub fn flags(args: &DialectArgs) -> Result<DialectFlags, LakeError> {
    let char_flag = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| dialect::parse_char(&format!("--{flag}"), v).map_err(LakeError::Usage))
            .transpose()
    };
    Ok(DialectFlags {
        delimiter: char_flag("delimiter", &args.delimiter)?,
        quote: char_flag("quote", &args.quote)?,
        escape: char_flag("escape", &args.escape)?,
        comment: char_flag("comment", &args.comment)?,
        skip: args.skip,
        header: match (args.header, args.no_header) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        null_padding: args.null_padding,
        rejects: args.rejects,
        content: args.input_format.map(Into::into),
        nulls: args.nulls.clone(),
        date_format: args.date_format.clone(),
        timestamp_format: args.timestamp_format.clone(),
    })
}

/// `--schema`, parsed.
pub fn types(schema: Option<&str>) -> Result<Vec<(String, ColumnType)>, LakeError> {
    Ok(schema
        .map(parse_schema_override)
        .transpose()?
        .unwrap_or_default())
}

/// The file, or standard input spooled into `spool_dir`.
pub fn open_source(file: &Path, spool_dir: &Path) -> anyhow::Result<Source> {
    if file == Path::new("-") {
        std::fs::create_dir_all(spool_dir)
            .with_context(|| format!("creating {}", spool_dir.display()))?;
        Source::spool(&mut std::io::stdin().lock(), spool_dir).context("reading standard input")
    } else {
        Source::file(file).with_context(|| format!("reading {}", file.display()))
    }
}

/// A character setting as people write it.
fn shown(c: Option<u8>) -> Value {
    match c {
        None => Value::Null,
        Some(b'\t') => Value::from("\\t"),
        Some(c) => Value::from(char::from(c).to_string()),
    }
}

/// The dialect of `source` and the schema of its rows, as printed fields.
fn describe(
    source: &Source,
    flags: &DialectFlags,
    types: Vec<(String, ColumnType)>,
) -> anyhow::Result<Vec<(&'static str, Value)>> {
    let reading = Reading::of(source, flags, types, default_delimiter(source.path()))?;
    let scan = reading
        .scan(source, &NoProgress)
        .with_context(|| format!("reading {}", source.label()))?;
    let columns: Vec<Value> = scan
        .schema
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.column_type.sql_name()}))
        .collect();
    let mut fields = vec![
        ("file", Value::from(source.label())),
        (
            "format",
            Value::from(reading.content().to_string().to_lowercase()),
        ),
    ];
    if let Reading::Csv(csv) = &reading {
        fields.extend([
            ("delimiter", shown(Some(csv.delimiter))),
            ("quote", shown(Some(csv.quote))),
            ("escape", shown(csv.escape)),
            ("comment", shown(csv.comment)),
            ("skip", Value::from(csv.skip)),
            ("header", Value::from(csv.header)),
        ]);
    }
    if let Reading::Csv(CsvOptions { formats, .. }) | Reading::Json(JsonOptions { formats, .. }) =
        &reading
    {
        fields.extend([
            ("date_format", Value::from(formats.date.clone())),
            ("timestamp_format", Value::from(formats.timestamp.clone())),
        ]);
    }
    fields.push(("rows", Value::from(scan.rows)));
    if flags.rejects {
        fields.push(("rejects", Value::from(scan.rejects.len())));
    }
    fields.push(("columns", Value::Array(columns)));
    Ok(fields)
}

pub fn run(args: SniffArgs, printer: Printer) -> anyhow::Result<()> {
    let source = open_source(&args.file, &std::env::temp_dir())?;
    let fields = describe(
        &source,
        &flags(&args.dialect)?,
        types(args.schema.as_deref())?,
    )?;
    write_record(printer.format, &mut printer.stdout(), &fields)?;
    Ok(())
}

/// `lake ingest --dry-run`: what `lake sniff` prints, and the dataset name.
pub fn dry_run(args: IngestArgs, printer: Printer) -> anyhow::Result<()> {
    let source = open_source(&args.file, &std::env::temp_dir())?;
    let name = match args.name {
        Some(name) => name,
        None => default_name(&source)?,
    };
    let mut fields = vec![("name", Value::from(name))];
    fields.extend(describe(
        &source,
        &flags(&args.dialect)?,
        types(args.schema.as_deref())?,
    )?);
    write_record(printer.format, &mut printer.stdout(), &fields)?;
    Ok(())
}
