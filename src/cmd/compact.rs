//! `lake compact NAME`: fewer, larger objects holding the same rows.

use serde_json::Value;

use crate::cli::CompactArgs;
use crate::lake::Lake;
use crate::output::write_record;
use crate::printer::{Printer, human_bytes};

pub fn run(lake: &mut Lake, args: CompactArgs, printer: Printer) -> anyhow::Result<()> {
    let report = lake.compact(&args.name, args.target_size)?;
    printer.message(&format!(
        "{} {}: {} objects -> {}, {} rows, {}",
        report.status,
        report.name,
        report.before,
        report.after,
        report.rows,
        human_bytes(report.bytes)
    ));
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("name", Value::from(report.name)),
            ("status", Value::from(report.status)),
            ("before", Value::from(report.before)),
            ("after", Value::from(report.after)),
            ("rows", Value::from(report.rows)),
            ("bytes", Value::from(report.bytes)),
            ("snapshot", Value::from(report.snapshot)),
        ],
    )?;
    Ok(())
}
