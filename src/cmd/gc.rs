//! `lake gc`: expire snapshots and delete the objects no kept snapshot
//! names.

use serde_json::Value;

use crate::cli::GcArgs;
use crate::lake::{GcOptions, Lake};
use crate::output::write_record;
use crate::printer::{Printer, human_bytes};

pub fn run(lake: &mut Lake, args: GcArgs, printer: Printer) -> anyhow::Result<()> {
    let opts = GcOptions::from_flags(
        args.keep,
        args.older_than.as_deref(),
        &args.grace,
        args.dry_run,
    )?;
    let spinner = printer.spinner("gc");
    let report = lake.gc(&opts, &mut |report, seen| {
        if let Some(bar) = &spinner {
            bar.set_message(format!(
                "{seen} objects looked at, {} to remove ({})",
                report.objects,
                human_bytes(report.bytes)
            ));
        }
    })?;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    printer.message(&format!(
        "{verb} {} objects ({}) and {} snapshots (oldest kept: {}); {} unreferenced objects \
         younger than {} kept",
        report.objects,
        human_bytes(report.bytes),
        report.snapshots,
        report.oldest_kept,
        report.young,
        args.grace
    ));
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("dry_run", Value::from(report.dry_run)),
            ("objects", Value::from(report.objects)),
            ("bytes", Value::from(report.bytes)),
            ("snapshots", Value::from(report.snapshots)),
            ("oldest_kept", Value::from(report.oldest_kept)),
            ("files", Value::from(report.files)),
            ("young", Value::from(report.young)),
        ],
    )?;
    Ok(())
}
