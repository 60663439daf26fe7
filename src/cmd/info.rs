//! `lake info`: the home, its catalog and store, and how DuckDB attaches it.

use serde_json::Value;

use crate::lake::Lake;
use crate::output::write_record;
use crate::printer::Printer;

pub fn run(lake: &Lake, printer: Printer) -> anyhow::Result<()> {
    let info = lake.info()?;
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("home", Value::from(info.home)),
            ("catalog", Value::from(info.catalog)),
            ("catalog_bytes", Value::from(info.catalog_bytes)),
            ("store", Value::from(info.store)),
            ("ducklake_version", Value::from(info.ducklake_version)),
            ("data_path", Value::from(info.data_path)),
            ("snapshot", Value::from(info.snapshot)),
            ("snapshots", Value::from(info.snapshots)),
            ("datasets", Value::from(info.datasets)),
            ("rows", Value::from(info.rows)),
            ("bytes", Value::from(info.bytes)),
            ("attach", Value::from(info.attach)),
        ],
    )?;
    Ok(())
}
