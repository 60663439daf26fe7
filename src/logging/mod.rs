//! Where `tracing` events go: standard error, as human lines or JSON lines
//! (`--log-format`, `LAKE_LOG_FORMAT`), at the level `LAKE_LOG` or `-v`
//! asks for. Standard output stays the command's (or MCP's) own.
//!
//! What is logged at info never holds a secret or a value from a query:
//! routes, statuses, sizes and names. SQL text is logged at debug.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use clap::ValueEnum;
use lake_log_lines::{Format, reused};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

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

/// A server's log lines wait here and are written together by the
/// `lake-log` thread, every [`FLUSH_EVERY`]: one write for hundreds of
/// requests, none by the threads that answer them.
static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// The lines taken from [`BUFFER`] while they are written (its lock held
/// keeps them in the order they came); emptied, it becomes the buffer
/// again, so a busy server's lines need no new memory.
static WRITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// How long a buffered line may wait before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Past this many bytes waiting (standard error is slow to take them),
/// the thread that logs writes them itself.
const BUFFER_BYTES: usize = 4 << 20;
/// The most memory a written buffer keeps for the lines to come.
const KEPT_BYTES: usize = 1 << 20;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the log lines still buffered. Called when a command ends (and
/// every 100 ms while a server runs).
pub fn flush() {
    let mut lines = lock(&WRITING);
    std::mem::swap(&mut *lock(&BUFFER), &mut *lines);
    if !lines.is_empty() {
        let _ = std::io::stderr().write_all(&lines);
        lines.clear();
        lines.shrink_to(KEPT_BYTES);
    }
}

/// Where lines go: straight to standard error for a command, which logs
/// little; through the buffer for a server, which logs every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Direct,
    Buffered,
}

impl Sink {
    fn write(self, line: &[u8]) {
        match self {
            Sink::Direct => {
                let _ = std::io::stderr().write_all(line);
            }
            Sink::Buffered => {
                let waiting = {
                    let mut buffer = lock(&BUFFER);
                    buffer.extend_from_slice(line);
                    buffer.len()
                };
                if waiting >= BUFFER_BYTES {
                    flush();
                }
            }
        }
    }
}

thread_local! {
    /// The line being made on this thread, kept to reuse its allocation.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The layer that writes each event as one line to its [`Sink`].
struct Lines {
    format: Format,
    /// Human lines on a terminal show their level in colour (unless
    /// `NO_COLOR` is set).
    colour: bool,
    sink: Sink,
}

impl<S: tracing::Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        reused(&LINE, |line| {
            line.clear();
            lake_log_lines::line(line, event, self.format, self.colour);
            self.sink.write(line);
        });
    }
}

/// Installs the process's logger. Called once, before any work.
pub fn init(format: LogFormat, verbose: u8, default: &str, sink: Sink) -> Result<(), String> {
    let filter = filter(verbose, default)?;
    if sink == Sink::Buffered {
        std::thread::Builder::new()
            .name("lake-log".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flush();
                }
            })
            .map_err(|e| format!("starting the log writer: {e}"))?;
    }
    // Installed already (a test calling twice): keep the first.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(Lines {
            format: match format {
                LogFormat::Human => Format::Human,
                LogFormat::Json => Format::Json,
            },
            colour: format == LogFormat::Human
                && std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            sink,
        })
        .try_init();
    Ok(())
}
