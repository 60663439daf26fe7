//! `lake show NAME`: schema, identity, versions and objects of a dataset.

use std::io::Write;

use serde_json::{Value, json};

use crate::cli::ShowArgs;
use crate::lake::Lake;
use crate::output::{OutputFormat, RowWriter, write_record};
use crate::printer::{Printer, human_bytes};
use crate::schema::Schema;

pub fn run(lake: &Lake, args: ShowArgs, printer: Printer) -> anyhow::Result<()> {
    let ds = lake.catalog().dataset(&args.name)?;
    let versions = lake.catalog().versions(&ds.name)?;
    let schema: Vec<Value> = ds
        .current
        .schema
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.column_type.sql_name()}))
        .collect();
    let mut out = printer.stdout();
    match printer.format {
        OutputFormat::Json | OutputFormat::Ndjson => {
            let doc = json!({
                "name": ds.name,
                "dataset_id": ds.dataset_id,
                "fingerprint": ds.current.fingerprint,
                "version": ds.current.version,
                "rows": ds.current.rows,
                "bytes": ds.current.bytes,
                "created_at": ds.created_at,
                "updated_at": ds.updated_at,
                "schema": schema,
                "objects": ds.current.objects,
                "versions": versions,
            });
            if printer.format == OutputFormat::Json {
                serde_json::to_writer_pretty(&mut out, &doc)?;
            } else {
                serde_json::to_writer(&mut out, &doc)?;
            }
            writeln!(out)?;
        }
        // CSV carries one table: the schema.
        OutputFormat::Csv => {
            write_schema(printer.format, &mut out, &ds.current.schema)?;
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
                    ("rows", Value::from(ds.current.rows)),
                    ("size", Value::from(human_bytes(ds.current.bytes))),
                    ("updated", Value::from(ds.updated_at.clone())),
                ],
            )?;
            write_schema(printer.format, &mut out, &ds.current.schema)?;
            let header = ["version", "created", "rows", "size", "objects"];
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
fn write_schema(format: OutputFormat, out: &mut dyn Write, schema: &Schema) -> anyhow::Result<()> {
    let mut w = RowWriter::new(format, out, vec!["column".into(), "type".into()])?;
    for col in &schema.columns {
        w.row(&[
            Value::from(col.name.clone()),
            Value::from(col.column_type.sql_name()),
        ])?;
    }
    w.finish()?;
    Ok(())
}
