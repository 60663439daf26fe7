//! `lake log [NAME]`: snapshots, newest first.

use serde_json::Value;

use crate::cli::LogArgs;
use crate::lake::Lake;
use crate::output::RowWriter;
use crate::printer::Printer;

pub fn run(lake: &Lake, args: LogArgs, printer: Printer) -> anyhow::Result<()> {
    let entries = lake.log(args.name.as_deref())?;
    let columns = ["snapshot", "time", "dataset", "change", "rows"];
    let mut out = printer.stdout();
    let mut w = RowWriter::new(printer.format, &mut out, columns.map(String::from).to_vec())?;
    for e in entries {
        w.row(&[
            Value::from(e.snapshot),
            Value::from(e.time),
            Value::from(e.dataset),
            Value::from(e.change),
            Value::from(e.rows),
        ])?;
    }
    w.finish()?;
    Ok(())
}
