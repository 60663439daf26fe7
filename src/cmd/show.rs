//! `lake show NAME`: schema, identity, versions and objects of a dataset.

use std::io::Write;

use serde_json::Value;

use crate::catalog::TableColumn;
use crate::cli::ShowArgs;
use crate::lake::Lake;
use crate::output::{OutputFormat, RowWriter, write_record};
use crate::printer::{Printer, human_bytes};

pub fn run(lake: &Lake, args: ShowArgs, printer: Printer) -> anyhow::Result<()> {
    let mut out = printer.stdout();
    if matches!(printer.format, OutputFormat::Json | OutputFormat::Ndjson) {
        let doc = lake.describe(&args.name)?;
        if printer.format == OutputFormat::Json {
            serde_json::to_writer_pretty(&mut out, &doc)?;
        } else {
            serde_json::to_writer(&mut out, &doc)?;
        }
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    let ds = lake.catalog().dataset(&args.name)?;
    let versions = lake.catalog().versions(&ds.name)?;
    match printer.format {
        OutputFormat::Json | OutputFormat::Ndjson => {}
        // CSV carries one table: the schema.
        OutputFormat::Csv => {
            write_schema(printer.format, &mut out, &ds.current.columns)?;
        }
        OutputFormat::Table => {
            write_record(
                printer.format,
                &mut out,
                &[
                    ("name", Value::from(ds.name.clone())),
                    ("dataset_id", Value::from(ds.dataset_id.clone())),
                    ("fingerprint", Value::from(ds.current.fingerprint.clone())),
                    ("version", Value::from(ds.current.version)),
                    ("snapshot", Value::from(ds.current.snapshot)),
                    ("rows", Value::from(ds.current.rows)),
                    ("size", Value::from(human_bytes(ds.current.bytes))),
                    ("updated", Value::from(ds.updated_at.clone())),
                    ("attach", Value::from(lake.attach_statement()?)),
                ],
            )?;
            write_schema(printer.format, &mut out, &ds.current.columns)?;
            let header = ["version", "snapshot", "created", "rows", "size", "objects"];
            let mut w =
                RowWriter::new(printer.format, &mut out, header.map(String::from).to_vec())?;
            for v in versions.iter().rev() {
                let keys = v
                    .objects
                    .iter()
                    .map(|o| o.key.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                w.row(&[
                    Value::from(v.version),
                    Value::from(v.snapshot),
                    Value::from(v.created_at.clone()),
                    Value::from(v.rows),
                    Value::from(human_bytes(v.bytes)),
                    Value::from(keys),
                ])?;
            }
            w.finish()?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The schema as a table of column and type.
fn write_schema(
    format: OutputFormat,
    out: &mut dyn Write,
    columns: &[TableColumn],
) -> anyhow::Result<()> {
    let mut w = RowWriter::new(format, out, vec!["column".into(), "type".into()])?;
    for col in columns {
        w.row(&[Value::from(col.name.clone()), Value::from(col.sql_type())])?;
    }
    w.finish()?;
    Ok(())
}
