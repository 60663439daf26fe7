//! `lake ls`: one row per dataset.

use serde_json::Value;

use crate::lake::Lake;
use crate::output::{OutputFormat, RowWriter};
use crate::printer::{Printer, human_bytes};

pub fn run(lake: &Lake, printer: Printer) -> anyhow::Result<()> {
    let datasets = lake.summaries()?;
    let columns = ["name", "rows", "columns", "bytes", "version", "updated"];
    let mut out = printer.stdout();
    let mut w = RowWriter::new(printer.format, &mut out, columns.map(String::from).to_vec())?;
    for ds in datasets {
        let bytes = if printer.format == OutputFormat::Table {
            Value::from(human_bytes(ds.bytes))
        } else {
            Value::from(ds.bytes)
        };
        w.row(&[
            Value::from(ds.name),
            Value::from(ds.rows),
            Value::from(ds.columns),
            bytes,
            Value::from(ds.version),
            Value::from(ds.updated),
        ])?;
    }
    w.finish()?;
    Ok(())
}
