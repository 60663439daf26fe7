//! `lake get KEY [-o FILE]`: fetch a raw object, streaming.

use std::io::{self, Write};

use anyhow::Context;

use crate::cli::GetArgs;
use crate::lake::Lake;
use crate::printer::Printer;

pub fn run(lake: &Lake, args: GetArgs, printer: Printer) -> anyhow::Result<()> {
    let mut reader = lake.store().get(&args.key)?;
    match &args.output {
        None => {
            let mut out = printer.stdout();
            io::copy(&mut reader, &mut out).with_context(|| format!("reading {}", args.key))?;
            out.flush()?;
        }
        Some(path) => {
            // Written beside the destination, then renamed: never half a file.
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("writing {}", path.display()))?;
            io::copy(&mut reader, tmp.as_file_mut())
                .with_context(|| format!("reading {}", args.key))?;
            tmp.persist(path)
                .map_err(|e| e.error)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
