//! Vector search: HNSW graphs (Malkov and Yashunin) over the `FLOAT[N]`
//! column of one Parquet object, built on every core, stored as one
//! immutable file that is searched in place (memory-mapped).
//!
//! `distance` holds the metrics, `build` makes a graph, `file` is the
//! stored form and its search.

pub mod build;
pub mod distance;
pub mod file;
mod search;

pub use build::{Params, build};
pub use distance::Metric;
pub use file::{Hit, IndexFile};
