//! `lake sql "SELECT ..."`, `-f FILE` or `-` for standard input.

use std::io::Read;

use anyhow::Context;

use crate::cli::SqlArgs;
use crate::lake::Lake;
use crate::output::RowWriter;
use crate::printer::Printer;

/// The statement from the argument, a file or standard input.
fn statement(args: &SqlArgs) -> anyhow::Result<String> {
    if let Some(path) = &args.file {
        return std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()));
    }
    match args.sql.as_deref() {
        Some("-") | None => {
            let mut sql = String::new();
            std::io::stdin()
                .read_to_string(&mut sql)
                .context("reading SQL from standard input")?;
            Ok(sql)
        }
        Some(sql) => Ok(sql.to_owned()),
    }
}

pub fn run(lake: &Lake, args: SqlArgs, printer: Printer) -> anyhow::Result<()> {
    let sql = statement(&args)?;
    let at = args
        .at
        .as_deref()
        .map(|spec| lake.resolve_snapshot(spec))
        .transpose()?;
    let names = |schema: &arrow::datatypes::SchemaRef| {
        schema.fields().iter().map(|f| f.name().clone()).collect()
    };
    let mut writer = None;
    let schema = lake.query(&sql, at, &mut |schema, batch| {
        if writer.is_none() {
            writer = Some(RowWriter::new(
                printer.format,
                printer.stdout(),
                names(schema),
            )?);
        }
        if let Some(w) = writer.as_mut() {
            w.batch(batch)?;
        }
        Ok(std::ops::ControlFlow::Continue(()))
    })?;
    let writer = match writer {
        Some(w) => w,
        None => RowWriter::new(printer.format, printer.stdout(), names(&schema))?,
    };
    writer.finish()?;
    Ok(())
}
