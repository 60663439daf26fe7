//! `lake put KEY [FILE|-]`: store a raw object, streaming.

use std::fs::File;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::cli::PutArgs;
use crate::lake::Lake;
use crate::output::write_record;
use crate::printer::Printer;

pub fn run(lake: &Lake, args: PutArgs, printer: Printer) -> anyhow::Result<()> {
    crate::store::key::validate_writable(&args.key)?;
    let bytes = match args.file.as_deref().filter(|p| *p != Path::new("-")) {
        None => lake.store().put(&args.key, &mut std::io::stdin().lock()),
        Some(path) => {
            let mut file =
                File::open(path).with_context(|| format!("reading {}", path.display()))?;
            lake.store().put(&args.key, &mut file)
        }
    }
    .with_context(|| format!("putting {}", args.key))?;
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("key", Value::from(args.key)),
            ("bytes", Value::from(bytes)),
        ],
    )?;
    Ok(())
}
