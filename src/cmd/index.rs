//! `lake index create|ls|rm`: HNSW indexes of FLOAT[N] columns.

use serde_json::Value;

use crate::cli::IndexCommand;
use crate::lake::{IndexReport, Lake};
use crate::output::{OutputFormat, RowWriter};
use crate::printer::{Printer, human_bytes};
use crate::vector::Params;

pub fn run(lake: &mut Lake, command: IndexCommand, printer: Printer) -> anyhow::Result<()> {
    let reports = match command {
        IndexCommand::Create(args) => {
            let params = Params {
                metric: args.metric,
                m: args.m as usize,
                ef_construction: args.ef_construction as usize,
            };
            let progress = printer.progress();
            let report = lake.create_index(&args.name, &args.column, params, progress.as_ref())?;
            drop(progress);
            printer.message(&format!(
                "indexed {}.{}: {} of {} objects ({} built, {} vectors, {})",
                report.index.dataset,
                report.index.column,
                report.indexed,
                report.objects,
                report.built,
                report.vectors,
                human_bytes(report.bytes)
            ));
            vec![report]
        }
        IndexCommand::Ls(args) => lake.indexes(args.name.as_deref())?,
        IndexCommand::Rm(args) => {
            let index = lake.remove_index(&args.name, &args.column)?;
            printer.message(&format!(
                "removed the index of {}.{} (gc deletes its objects)",
                index.dataset, index.column
            ));
            return Ok(());
        }
    };
    write(&reports, &printer)
}

fn write(reports: &[IndexReport], printer: &Printer) -> anyhow::Result<()> {
    let columns = [
        "dataset",
        "column",
        "metric",
        "m",
        "ef_construction",
        "objects",
        "indexed",
        "bytes",
    ];
    let mut out = printer.stdout();
    let mut w = RowWriter::new(printer.format, &mut out, columns.map(String::from).to_vec())?;
    for r in reports {
        let bytes = if printer.format == OutputFormat::Table {
            Value::from(human_bytes(r.bytes))
        } else {
            Value::from(r.bytes)
        };
        w.row(&[
            Value::from(r.index.dataset.clone()),
            Value::from(r.index.column.clone()),
            Value::from(r.index.metric.clone()),
            Value::from(r.index.m),
            Value::from(r.index.ef_construction),
            Value::from(r.objects),
            Value::from(r.indexed),
            bytes,
        ])?;
    }
    w.finish()?;
    Ok(())
}
