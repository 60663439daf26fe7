//! The data engine: CSV sources and their dialect, type inference, CSV to Parquet, and SQL with
//! DuckDB. Nothing here prints or knows about flags.

pub mod chunks;
pub mod convert;
pub mod csv_chunks;
pub mod infer;
pub mod input;
pub mod json;
pub mod nested;
pub mod one_pass;
pub mod parquet_input;
pub mod parquet_stats;
pub mod parquet_writer;
pub mod rejects;
pub mod sniff;
pub mod source;
pub mod values;
