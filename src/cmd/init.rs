//! `lake init [--store URL] [--catalog URL]`

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::cli::InitArgs;
use crate::lake::{Lake, OpenOptions};
use crate::output::write_record;
use crate::printer::Printer;

pub fn run(
    home: &Path,
    args: InitArgs,
    opts: &OpenOptions,
    printer: Printer,
) -> anyhow::Result<()> {
    let opts = OpenOptions {
        store: args.store,
        ..opts.clone()
    };
    let lake = Lake::open_with(home, &opts)
        .with_context(|| format!("initialising lake at {}", home.display()))?;
    let store = lake.store_url().to_string();
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("home", Value::from(home.display().to_string())),
            ("catalog", Value::from(lake.catalog_location().display())),
            ("store", Value::from(store)),
        ],
    )?;
    Ok(())
}
