//! Where output goes: data to standard output, messages and progress to
//! standard error, progress only on a terminal and never with `--quiet`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ingest::progress::Progress;
use crate::output::OutputFormat;

/// Output settings for one command.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// The format of data on standard output.
    pub format: OutputFormat,
    quiet: bool,
    stderr_terminal: bool,
}

impl Printer {
    /// The format defaults to a table on a terminal and CSV elsewhere.
    pub fn new(format: Option<OutputFormat>, quiet: bool) -> Printer {
        let format = format.unwrap_or(if io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Csv
        });
        Printer {
            format,
            quiet,
            stderr_terminal: io::stderr().is_terminal(),
        }
    }

    /// Standard output, buffered.
    pub fn stdout(&self) -> BufWriter<io::StdoutLock<'static>> {
        BufWriter::with_capacity(64 * 1024, io::stdout().lock())
    }

    /// Whether messages are off (`-q`).
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// A short message on standard error, unless quiet.
    pub fn message(&self, msg: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr(), "{msg}");
        }
    }

    /// A spinner with a message on standard error when it is a terminal
    /// (work of unknown length: set its message as it goes).
    pub fn spinner(&self, prefix: &'static str) -> Option<ProgressBar> {
        if self.quiet || !self.stderr_terminal {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>8} {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(prefix);
        bar.enable_steady_tick(Duration::from_millis(200));
        Some(bar)
    }

    /// A progress bar on standard error when it is a terminal.
    pub fn progress(&self) -> Box<dyn Progress> {
        if self.quiet || !self.stderr_terminal {
            return Box::new(crate::ingest::progress::NoProgress);
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {binary_bytes}/{binary_total_bytes} {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(Bar {
            bar,
            rows: Default::default(),
        })
    }
}

struct Bar {
    bar: ProgressBar,
    rows: std::sync::atomic::AtomicU64,
}

impl Progress for Bar {
    fn start(&self, pass: &'static str, total: u64) {
        self.rows.store(0, std::sync::atomic::Ordering::Relaxed);
        self.bar.set_prefix(pass);
        self.bar.set_length(total);
        self.bar.set_position(0);
    }

    fn bytes(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn rows(&self, rows: u64) {
        let total = self
            .rows
            .fetch_add(rows, std::sync::atomic::Ordering::Relaxed)
            + rows;
        self.bar.set_message(format!("{total} rows"));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A byte count for people: `1.2 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
