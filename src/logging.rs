//! Where `tracing` events go: standard error, as human lines or JSON lines
//! (`--log-format`, `LAKE_LOG_FORMAT`), at the level `LAKE_LOG` or `-v`
//! asks for. Standard output stays the command's (or MCP's) own.
//!
//! What is logged at info never holds a secret or a value from a query:
//! routes, statuses, sizes and names. SQL text is logged at debug.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text each, coloured on a terminal.
    Human,
    /// One JSON object each: `timestamp`, `level`, `target`, `message` and
    /// the event's fields.
    Json,
}

/// The filter when neither `LAKE_LOG` nor `-v` says: commands log only
/// warnings; the servers (`serve`, `mcp`) their requests too.
pub fn default_level(server: bool) -> &'static str {
    if server { "warn,lake=info" } else { "warn" }
}

/// The filter: `LAKE_LOG` (in `RUST_LOG`'s syntax, like `debug` or
/// `lake=debug,warn`) when set, else `-v` (debug), `-vv` (trace), else the
/// default.
fn filter(verbose: u8, default: &str) -> Result<EnvFilter, String> {
    match std::env::var(crate::settings::LAKE_LOG) {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec)
            .map_err(|e| format!("{} {spec:?}: {e}", crate::settings::LAKE_LOG)),
        _ => Ok(EnvFilter::new(match verbose {
            0 => default,
            1 => "info,lake=debug",
            _ => "debug,lake=trace",
        })),
    }
}

/// Installs the process's logger. Called once, before any work.
pub fn init(format: LogFormat, verbose: u8, default: &str) -> Result<(), String> {
    let filter = filter(verbose, default)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    // Installed already (a test calling twice): keep the first.
    let _ = installed;
    Ok(())
}
