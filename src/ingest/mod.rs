//! Ingest: a file becomes one content-addressed Parquet object. Nothing here
//! prints or knows about flags. The layers, each importing only those above
//! it in this list (docs/ARCHITECTURE.md):
//!
//! - the shared vocabulary: [`error`], [`progress`], [`source`] (opening,
//!   decompressing, telling the content), [`values`] (parsing text by type),
//!   [`infer`], [`columns`] (names, `--schema`), [`scan`] (what pass one
//!   learns) and [`batch`] (Arrow builders, one per column);
//! - [`writer`]: record batches to Parquet, hashed as written, which names
//!   the object;
//! - [`chunks`]: text cut at record ends and parsed on every core, the
//!   interface a text format implements ([`chunks::Chunking`]), and
//!   [`rejects`], rows set aside;
//! - one module per input format, none importing another: [`csv`], [`json`],
//!   [`parquet`], each with pass one (`scan`), pass two (`write_parquet`) and,
//!   where it can, both at once (`convert`);
//! - [`reading`]: the content told, the format chosen, one interface for an
//!   ingest whatever the input.

pub mod batch;
pub mod chunks;
pub mod columns;
pub mod csv;
pub mod error;
mod hashes;
pub mod infer;
pub mod json;
pub mod parquet;
pub mod progress;
pub mod reading;
pub mod rejects;
pub mod scan;
mod simd;
pub mod source;
pub mod values;
pub mod writer;
