//! Where `tracing` events go: standard error, as human lines or JSON lines
//! (`--log-format`, `LAKE_LOG_FORMAT`), at the level `LAKE_LOG` or `-v`
//! asks for. Standard output stays the command's (or MCP's) own.
//!
//! What is logged at info never holds a secret or a value from a query:
//! routes, statuses, sizes and names. SQL text is logged at debug.

mod lines;

use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text each: time, level, message, `key=value` fields.
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

/// A server's log lines wait here (at most this many bytes) and are
/// written together: one write for hundreds of requests, not one each.
const BUFFER_BYTES: usize = 64 * 1024;
/// How long a buffered line may wait before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn buffer() -> MutexGuard<'static, Vec<u8>> {
    BUFFER.lock().unwrap_or_else(|p| p.into_inner())
}

/// Standard error through [`BUFFER`].
struct Buffered;

impl Write for Buffered {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut buffer = buffer();
        buffer.extend_from_slice(line);
        if buffer.len() >= BUFFER_BYTES {
            let _ = std::io::stderr().write_all(&buffer);
            buffer.clear();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the log lines still buffered. Called when a command ends (and
/// every 100 ms while a server runs).
pub fn flush() {
    let mut buffer = buffer();
    if !buffer.is_empty() {
        let _ = std::io::stderr().write_all(&buffer);
        buffer.clear();
    }
}

/// Where lines go: straight to standard error for a command, which logs
/// little; through the buffer for a server, which logs every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Direct,
    Buffered,
}

/// Installs the process's logger. Called once, before any work.
pub fn init(format: LogFormat, verbose: u8, default: &str, sink: Sink) -> Result<(), String> {
    let filter = filter(verbose, default)?;
    let writer = match sink {
        Sink::Direct => BoxMakeWriter::new(std::io::stderr),
        Sink::Buffered => {
            std::thread::Builder::new()
                .name("lake-log".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(FLUSH_EVERY);
                        flush();
                    }
                })
                .map_err(|e| format!("starting the log writer: {e}"))?;
            BoxMakeWriter::new(|| Buffered)
        }
    };
    // Installed already (a test calling twice): keep the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .event_format(lines::Lines(format))
        .try_init();
    Ok(())
}
