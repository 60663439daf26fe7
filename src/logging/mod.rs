//! Where `tracing` events go: standard error, as human lines or JSON lines
//! (`--log-format`, `LAKE_LOG_FORMAT`), at the level `LAKE_LOG` or `-v`
//! asks for. Standard output stays the command's (or MCP's) own.
//!
//! What is logged at info never holds a secret or a value from a query:
//! routes, statuses, sizes and names. SQL text is logged at debug.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
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
/// requests, none by the threads that answer them. Standard error may stop
/// taking lines (a log pipe nobody reads, a paused log driver, a full
/// disk): the thread that logs never waits for it. Past [`BUFFER_BYTES`]
/// waiting, lines are dropped and counted.
static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// How long a buffered line may wait before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// The most bytes of lines that wait; a line that would go past is dropped.
const BUFFER_BYTES: usize = 4 << 20;
/// The most memory a written buffer keeps for the lines to come.
const KEPT_BYTES: usize = 1 << 20;
/// How long a server's last lines may take to be written when it stops.
const LAST_FLUSH: Duration = Duration::from_secs(2);

/// Lines dropped since the writer last said how many (all of them are
/// counted in `lake_log_lines_dropped_total`).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Rounds of the writer asked for and done, so that [`flush`] can wait for
/// one that began after it asked.
struct Rounds {
    asked: u64,
    done: u64,
}

static ROUNDS: Mutex<Rounds> = Mutex::new(Rounds { asked: 0, done: 0 });
static ROUND_DONE: Condvar = Condvar::new();
static ROUND_ASKED: Condvar = Condvar::new();
/// Whether a `lake-log` thread runs.
static WRITER: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `lake-log` thread: writes what waits, every [`FLUSH_EVERY`] or
/// when asked, and says how many lines were dropped once standard error
/// takes lines again.
fn write_forever() {
    let mut lines = Vec::new();
    loop {
        let asked = {
            let rounds = lock(&ROUNDS);
            let (rounds, _) = ROUND_ASKED
                .wait_timeout_while(rounds, FLUSH_EVERY, |r| r.asked == r.done)
                .unwrap_or_else(|p| p.into_inner());
            rounds.asked
        };
        std::mem::swap(&mut *lock(&BUFFER), &mut lines);
        if !lines.is_empty() {
            // The one place a server waits for standard error.
            let _ = std::io::stderr().write_all(&lines);
            lines.clear();
            lines.shrink_to(KEPT_BYTES);
        }
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "log lines dropped: standard error did not take them in time"
            );
        }
        let mut rounds = lock(&ROUNDS);
        rounds.done = rounds.done.max(asked);
        ROUND_DONE.notify_all();
    }
}

/// Writes the log lines still buffered. Called when a command ends: a
/// server's writer is given [`LAST_FLUSH`] to write them, so a standard
/// error that takes nothing cannot keep the process from exiting.
pub fn flush() {
    if !WRITER.load(Ordering::Relaxed) {
        return;
    }
    let mut rounds = lock(&ROUNDS);
    rounds.asked += 1;
    let wanted = rounds.asked;
    ROUND_ASKED.notify_all();
    let _ = ROUND_DONE.wait_timeout_while(rounds, LAST_FLUSH, |r| r.done < wanted);
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
                let mut buffer = lock(&BUFFER);
                if buffer.len() + line.len() <= BUFFER_BYTES {
                    buffer.extend_from_slice(line);
                } else {
                    drop(buffer);
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::metrics().log_lines_dropped.inc();
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
    if sink == Sink::Buffered && !WRITER.swap(true, Ordering::Relaxed) {
        std::thread::Builder::new()
            .name("lake-log".into())
            .spawn(write_forever)
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

/// A line a person or a script waits for (`listening on http://...`),
/// written at once, whatever the level: the message alone in the human
/// format, one JSON object (with `fields`) in the JSON format, so every
/// line a log shipper reads is JSON.
pub fn announce(format: LogFormat, message: &str, fields: &[(&str, &str)]) {
    let line = match format {
        LogFormat::Human => format!("{message}\n"),
        LogFormat::Json => {
            let mut object = serde_json::Map::new();
            let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
            object.insert("timestamp".into(), now.to_string().into());
            object.insert("level".into(), "INFO".into());
            object.insert("target".into(), "lake".into());
            object.insert("message".into(), message.into());
            for (key, value) in fields {
                object.insert((*key).into(), (*value).into());
            }
            format!("{}\n", serde_json::Value::Object(object))
        }
    };
    let _ = std::io::stderr().write_all(line.as_bytes());
}
