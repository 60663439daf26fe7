//! `lake init [--store URL]`

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::cli::InitArgs;
use crate::lake::Lake;
use crate::output::write_record;
use crate::printer::Printer;

pub fn run(home: &Path, args: InitArgs, printer: Printer) -> anyhow::Result<()> {
    let lake = Lake::open_with_store(home, args.store.as_deref())
        .with_context(|| format!("initialising lake at {}", home.display()))?;
    let store = lake
        .store()
        .local_root()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("home", Value::from(home.display().to_string())),
            ("store", Value::from(store)),
        ],
    )?;
    Ok(())
}
