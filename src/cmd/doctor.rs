//! `lake doctor`: what is wrong with the lake, one line each.

use serde_json::Value;

use crate::cli::DoctorArgs;
use crate::lake::{Lake, LakeError, parse_duration};
use crate::output::{OutputFormat, RowWriter};
use crate::printer::{Printer, human_bytes};

pub fn run(lake: &Lake, args: DoctorArgs, printer: Printer) -> anyhow::Result<()> {
    let grace =
        parse_duration(&args.grace).map_err(|e| LakeError::Usage(format!("--grace: {e}")))?;
    let spinner = printer.spinner("doctor");
    let report = lake.doctor(args.deep, grace, &mut |checked| {
        if let Some(bar) = &spinner {
            bar.set_message(format!("{checked} objects checked"));
        }
    })?;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let mut out = printer.stdout();
    if printer.format == OutputFormat::Json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    } else {
        let mut w = RowWriter::new(printer.format, &mut out, vec!["problem".into()])?;
        for problem in &report.problems {
            w.row(&[Value::from(problem.clone())])?;
        }
        w.finish()?;
    }
    drop(out);
    printer.message(&format!(
        "{} objects ({}) named by the catalog; {} problems; {} orphans ({}) gc would remove",
        report.objects,
        human_bytes(report.bytes),
        report.problems.len(),
        report.orphans,
        human_bytes(report.orphan_bytes)
    ));
    if report.problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the lake has {} problems", report.problems.len())
    }
}
