//! `lake ingest FILE|- [--name N] [--append | --replace]`

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::catalog::WriteMode;
use crate::cli::IngestArgs;
use crate::lake::{IngestRequest, Lake, LakeError};
use crate::output::write_record;
use crate::printer::{Printer, human_bytes};

pub fn run(lake: &mut Lake, args: IngestArgs, printer: Printer) -> anyhow::Result<()> {
    let stdin = args.file == Path::new("-");
    if stdin && args.name.is_none() {
        return Err(LakeError::Usage("reading standard input needs --name".into()).into());
    }
    let source = super::sniff::open_source(&args.file, &lake.tmp_dir())?;
    let dialect = super::sniff::flags(&args.dialect)?;
    let types = super::sniff::types(args.schema.as_deref())?;
    let mode = if args.append {
        WriteMode::Append
    } else if args.replace {
        WriteMode::Replace
    } else {
        WriteMode::Overwrite
    };
    let request = IngestRequest {
        name: args.name,
        mode,
        evolve: args.evolve,
        dialect,
        types,
    };
    let report = {
        let progress = printer.progress();
        lake.ingest(&source, &request, progress.as_ref())
            .with_context(|| format!("ingesting {}", source.label()))?
    };
    printer.message(&format!(
        "{} {}: {} rows, version {}, {}",
        report.status,
        report.name,
        report.rows,
        report.version,
        human_bytes(report.bytes)
    ));
    if let Some(rejects) = &report.rejects_dataset {
        printer.message(&format!(
            "set aside {} rows that could not be read: see {rejects}",
            report.rejects
        ));
    }
    if let Some(plan) = &report.evolved {
        printer.message(&format!(
            "evolved {}: {plan}; fingerprint {}",
            report.name, report.fingerprint
        ));
    }
    write_record(
        printer.format,
        &mut printer.stdout(),
        &[
            ("name", Value::from(report.name)),
            ("dataset_id", Value::from(report.dataset_id)),
            ("version", Value::from(report.version)),
            ("snapshot", Value::from(report.snapshot)),
            ("rows", Value::from(report.rows)),
            ("bytes", Value::from(report.bytes)),
            ("key", Value::from(report.key)),
            ("fingerprint", Value::from(report.fingerprint)),
            ("status", Value::from(report.status.to_string())),
            (
                "evolved",
                report
                    .evolved
                    .as_ref()
                    .map_or(Value::Null, |plan| Value::from(plan.to_string())),
            ),
            ("rejects", Value::from(report.rejects)),
        ],
    )?;
    Ok(())
}
