//! Every environment variable `lake` reads, and how settings resolve: flag,
//! then environment, then what the catalog recorded, then the default.

use std::path::PathBuf;

/// The lake home directory.
pub const LAKE_HOME: &str = "LAKE_HOME";
/// The bound of the local cache of an S3 store's objects.
pub const LAKE_CACHE_MAX: &str = "LAKE_CACHE_MAX";
/// The catalog: a PostgreSQL URL (by default the SQLite file in the home).
pub const LAKE_CATALOG: &str = "LAKE_CATALOG";
/// The bearer token `lake serve` requires.
pub const LAKE_TOKEN: &str = "LAKE_TOKEN";
/// The address `lake serve` speaks Arrow Flight SQL on (off when unset).
pub const LAKE_FLIGHT_ADDR: &str = "LAKE_FLIGHT_ADDR";
/// The output format of every command that prints data.
pub const LAKE_FORMAT: &str = "LAKE_FORMAT";
/// What is logged, as `RUST_LOG` (`info`, `lake=debug,warn`).
pub const LAKE_LOG: &str = "LAKE_LOG";
/// How log lines are written: `human` or `json`.
pub const LAKE_LOG_FORMAT: &str = "LAKE_LOG_FORMAT";

/// The default home: the platform's data directory, then `lake`.
pub fn default_home() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("lake")
}
