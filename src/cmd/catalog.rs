//! `lake catalog migrate --to URL`: the catalog into a new database.

use serde_json::Value;

use crate::cli::{CatalogCommand, MigrateArgs};
use crate::lake::Lake;
use crate::output::write_record;
use crate::printer::Printer;

pub fn run(lake: &mut Lake, command: CatalogCommand, printer: Printer) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Migrate(args) => migrate(lake, args, printer),
    }
}

fn migrate(lake: &mut Lake, args: MigrateArgs, printer: Printer) -> anyhow::Result<()> {
    let done = lake.migrate_catalog(&args.to)?;
    printer.message(&format!(
        "migrated {} snapshots ({} rows in {} tables) from {} to {}; the old catalog is unchanged",
        done.snapshots, done.rows, done.tables, done.from, done.to
    ));
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("from", Value::from(done.from)),
            ("to", Value::from(done.to)),
            ("snapshots", Value::from(done.snapshots)),
            ("tables", Value::from(done.tables)),
            ("rows", Value::from(done.rows)),
        ],
    )?;
    Ok(())
}
