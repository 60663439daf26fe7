//! The one error of an ingest: what is wrong with the input (file, line,
//! column) or with writing its Parquet.

use std::io;

use thiserror::Error;

/// Errors while reading CSV or writing Parquet.
#[derive(Debug, Error)]
pub enum ConvertError {
    #[error("{file}: empty file: no rows and no header")]
    Empty { file: String },
    #[error("{file}: line {line}: {reason}")]
    Parse {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{file}: {reason}")]
    Input { file: String, reason: String },
    #[error("reading {file}")]
    Read {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("--schema: {0}")]
    SchemaOverride(String),
    /// A flag that does not apply to the input.
    #[error("{0}")]
    Flag(String),
    #[error("writing Parquet")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("building Arrow batch")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("writing Parquet")]
    Write(#[source] io::Error),
}

impl ConvertError {
    /// Lines are counted from where the parser began: after `skipped`
    /// lines of preamble, the file's own numbers are that much higher.
    pub fn after_skipped_lines(self, skipped: u64) -> ConvertError {
        match self {
            ConvertError::Parse { file, line, reason } if line > 0 => ConvertError::Parse {
                file,
                line: line + skipped,
                reason,
            },
            other => other,
        }
    }
}
