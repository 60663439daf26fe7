//! `lake ingest FILE|- [--name N] [--append | --replace]`

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::catalog::WriteMode;
use crate::cli::IngestArgs;
use crate::engine::convert::parse_schema_override;
use crate::engine::sniff::DialectFlags;
use crate::engine::source::Source;
use crate::lake::{IngestRequest, Lake, LakeError};
use crate::output::write_record;
use crate::printer::{Printer, human_bytes};

/// Parses a one-character flag (`--delimiter`, `--quote`, ...): one byte,
/// or `\t` / `tab`.
fn parse_char(flag: &str, s: &str) -> Result<u8, LakeError> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => Err(LakeError::Usage(format!(
            "--{flag} must be one byte (or \\t), not {s:?}"
        ))),
    }
}

pub fn run(lake: &mut Lake, args: IngestArgs, printer: Printer) -> anyhow::Result<()> {
    let stdin = args.file == Path::new("-");
    if stdin && args.name.is_none() {
        return Err(LakeError::Usage("reading standard input needs --name".into()).into());
    }
    let source = if stdin {
        Source::spool(&mut std::io::stdin().lock(), &lake.tmp_dir())
            .context("reading standard input")?
    } else {
        Source::file(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let char_flag = |flag: &str, value: &Option<String>| {
        value.as_deref().map(|v| parse_char(flag, v)).transpose()
    };
    let dialect = DialectFlags {
        delimiter: char_flag("delimiter", &args.delimiter)?,
        quote: char_flag("quote", &args.quote)?,
        escape: char_flag("escape", &args.escape)?,
        comment: char_flag("comment", &args.comment)?,
        skip: args.skip,
        header: if args.header {
            Some(true)
        } else if args.no_header {
            Some(false)
        } else {
            None
        },
    };
    let types = match &args.schema {
        Some(spec) => parse_schema_override(spec)?,
        None => Vec::new(),
    };
    let mode = if args.append {
        WriteMode::Append
    } else if args.replace {
        WriteMode::Replace
    } else {
        WriteMode::Overwrite
    };
    let request = IngestRequest {
        name: args.name,
        mode,
        evolve: args.evolve,
        dialect,
        types,
    };
    let report = {
        let progress = printer.progress();
        lake.ingest(&source, &request, progress.as_ref())
            .with_context(|| format!("ingesting {}", source.label()))?
    };
    printer.message(&format!(
        "{} {}: {} rows, version {}, {}",
        report.status,
        report.name,
        report.rows,
        report.version,
        human_bytes(report.bytes)
    ));
    if let Some(plan) = &report.evolved {
        printer.message(&format!(
            "evolved {}: {plan}; fingerprint {}",
            report.name, report.fingerprint
        ));
    }
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("name", Value::from(report.name)),
            ("dataset_id", Value::from(report.dataset_id)),
            ("version", Value::from(report.version)),
            ("snapshot", Value::from(report.snapshot)),
            ("rows", Value::from(report.rows)),
            ("bytes", Value::from(report.bytes)),
            ("key", Value::from(report.key)),
            ("fingerprint", Value::from(report.fingerprint)),
            ("status", Value::from(report.status.to_string())),
            (
                "evolved",
                report
                    .evolved
                    .as_ref()
                    .map_or(Value::Null, |plan| Value::from(plan.to_string())),
            ),
        ],
    )?;
    Ok(())
}
