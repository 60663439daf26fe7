//! One module per subcommand: read the arguments, call the library, print.

mod catalog;
mod compact;
mod completions;
mod doctor;
mod gc;
mod get;
mod index;
mod info;
mod ingest;
mod init;
mod log;
mod ls;
mod man;
mod mcp;
mod put;
mod restore;
mod rm;
mod serve;
mod show;
mod sniff;
mod sql;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::lake::{Lake, OpenOptions};
use crate::printer::Printer;
use crate::settings;
use crate::store::cache::DEFAULT_CACHE_MAX;

/// Runs a parsed command line, logging how it went.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let server = matches!(cli.command, Command::Serve(_) | Command::Mcp(_));
    let sink = if server {
        crate::logging::Sink::Buffered
    } else {
        crate::logging::Sink::Direct
    };
    crate::logging::init(
        cli.global.log_format,
        cli.global.verbose,
        crate::logging::default_level(server),
        sink,
    )
    .map_err(anyhow::Error::msg)?;
    let command = cli.command.name();
    let started = std::time::Instant::now();
    let result = dispatch(cli);
    let elapsed_ms = started.elapsed().as_millis() as u64;
    // At debug: the error line is the command's own, on standard error,
    // and a server's log starts with its requests.
    match &result {
        Ok(()) => tracing::debug!(command, elapsed_ms, "command finished"),
        Err(err) => tracing::debug!(
            command,
            elapsed_ms,
            error = %crate::store::redact(&format!("{err:#}")),
            "command failed"
        ),
    }
    crate::logging::flush();
    result
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let printer = Printer::new(cli.global.format, cli.global.quiet);
    let log_format = cli.global.log_format;
    let home = cli
        .global
        .home
        .clone()
        .unwrap_or_else(settings::default_home);
    let home = std::path::absolute(&home).unwrap_or(home);
    let opts = OpenOptions {
        cache_max: cli.global.cache_max.unwrap_or(DEFAULT_CACHE_MAX),
        catalog: cli.global.catalog.clone(),
        ..OpenOptions::default()
    };
    let open = || -> anyhow::Result<Lake> {
        Lake::open_with(&home, &opts).with_context(|| format!("opening lake at {}", home.display()))
    };
    match cli.command {
        Command::Init(args) => init::run(&home, args, &opts, printer),
        // A dry run writes nothing: not even a new home.
        Command::Ingest(args) if args.dry_run => sniff::dry_run(args, printer),
        Command::Ingest(args) => ingest::run(&mut open()?, args, printer),
        Command::Sniff(args) => sniff::run(args, printer),
        Command::Ls => ls::run(&open()?, printer),
        Command::Show(args) => show::run(&open()?, args, printer),
        Command::Info => info::run(&open()?, printer),
        Command::Log(args) => log::run(&open()?, args, printer),
        Command::Sql(args) => sql::run(&open()?, args, printer),
        Command::Rm(args) => rm::run(&mut open()?, args, printer),
        Command::Gc(args) => gc::run(&mut open()?, args, printer),
        Command::Doctor(args) => doctor::run(&open()?, args, printer),
        Command::Compact(args) => compact::run(&mut open()?, args, printer),
        Command::Restore(args) => restore::run(&mut open()?, args, printer),
        Command::Index(command) => index::run(&mut open()?, command, printer),
        Command::Catalog(command) => catalog::run(&mut open()?, command, printer),
        Command::Put(args) => put::run(&open()?, args, printer),
        Command::Get(args) => get::run(&open()?, args, printer),
        Command::Serve(args) => serve::run(&home, args, &opts, printer, log_format),
        Command::Mcp(args) => mcp::run(&home, args, &opts),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}
