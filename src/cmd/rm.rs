//! `lake rm NAME`: remove a dataset from the present.

use serde_json::Value;

use crate::cli::RmArgs;
use crate::lake::Lake;
use crate::output::write_record;
use crate::printer::Printer;

pub fn run(lake: &mut Lake, args: RmArgs, printer: Printer) -> anyhow::Result<()> {
    let snapshot = lake.remove(&args.name)?;
    printer.message(&format!(
        "removed {} at snapshot {snapshot} (earlier snapshots still have it)",
        args.name
    ));
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("name", Value::from(args.name)),
            ("snapshot", Value::from(snapshot)),
            ("status", Value::from("removed")),
        ],
    )?;
    Ok(())
}
