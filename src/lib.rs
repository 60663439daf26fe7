//! `lake`: a whole lakehouse in one binary. CSV becomes content-addressed
//! Parquet in a local or S3 store, a SQLite catalog keeps datasets and their
//! versions, and DuckDB runs SQL over all of it in this process.
//!
//! The CLI (`cmd`) and the HTTP server (`server`) are thin faces on [`lake::Lake`],
//! which ties the [`catalog`], the [`store`] and the [`engine`] together.

pub mod catalog;
pub mod cli;
pub mod cmd;
pub mod hashing;
pub mod ingest;
pub mod lake;
pub mod logging;
pub mod metrics;
pub mod output;
pub mod printer;
pub mod query;
pub mod schema;
pub mod server;
pub mod settings;
pub mod store;
pub mod vector;

pub use lake::{ErrorClass, Lake, LakeError};

/// Runs a parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    cmd::run(cli)
}

/// Whether an error is only a closed pipe (`lake sql ... | head`), which is
/// success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
