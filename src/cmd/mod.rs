//! One module per subcommand: read the arguments, call the library, print.

mod get;
mod ingest;
mod init;
mod ls;
mod put;
mod serve;
mod show;
mod sql;

use std::path::Path;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::lake::Lake;
use crate::printer::Printer;
use crate::settings;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let printer = Printer::new(cli.global.format, cli.global.quiet);
    let home = cli
        .global
        .home
        .clone()
        .unwrap_or_else(settings::default_home);
    let home = std::path::absolute(&home).unwrap_or(home);
    match cli.command {
        Command::Init(args) => init::run(&home, args, printer),
        Command::Ingest(args) => ingest::run(&mut open(&home)?, args, printer),
        Command::Ls => ls::run(&open(&home)?, printer),
        Command::Show(args) => show::run(&open(&home)?, args, printer),
        Command::Sql(args) => sql::run(&open(&home)?, args, printer),
        Command::Put(args) => put::run(&open(&home)?, args, printer),
        Command::Get(args) => get::run(&open(&home)?, args, printer),
        Command::Serve(args) => serve::run(args),
    }
}

fn open(home: &Path) -> anyhow::Result<Lake> {
    Lake::open(home).with_context(|| format!("opening lake at {}", home.display()))
}
