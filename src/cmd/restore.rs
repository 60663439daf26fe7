//! `lake restore NAME --to SNAPSHOT`: bring back earlier data, no copy.

use serde_json::Value;

use crate::cli::RestoreArgs;
use crate::lake::Lake;
use crate::output::write_record;
use crate::printer::Printer;

pub fn run(lake: &mut Lake, args: RestoreArgs, printer: Printer) -> anyhow::Result<()> {
    let to = lake.resolve_snapshot(&args.to)?;
    let committed = lake.restore(&args.name, to)?;
    let v = &committed.version;
    printer.message(&format!(
        "{} {}: as at snapshot {to}, {} rows, version {}, snapshot {}",
        committed.status, committed.name, v.rows, v.version, v.snapshot
    ));
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("name", Value::from(committed.name.clone())),
            ("restored_from", Value::from(to)),
            ("version", Value::from(v.version)),
            ("snapshot", Value::from(v.snapshot)),
            ("rows", Value::from(v.rows)),
            ("fingerprint", Value::from(v.fingerprint.clone())),
            ("status", Value::from(committed.status.to_string())),
        ],
    )?;
    Ok(())
}
