//! `compact`: a dataset's live objects (many small ones from `--append`,
//! rows deleted by DuckDB) rewritten as few objects of about a target size,
//! the same rows in the same order, as one snapshot. The old objects become
//! garbage for `gc`. Objects are cut once they reach the target, so every
//! one but the last is at least about that big: a dataset whose objects
//! (but the last) are at least half the target, with no deleted rows, is
//! left as it is.

use std::io::BufWriter;
use std::ops::ControlFlow;

use serde::Serialize;

use super::{Lake, LakeError};
use crate::ingest::batch::arrow_schema;
use crate::ingest::error::ConvertError;
use crate::ingest::scan::Scan;
use crate::ingest::values::Formats;
use crate::ingest::writer::{ParquetObject, Written, conform};
use crate::query::{QueryEngine, quote_ident};

/// The default size of a compacted object.
pub const DEFAULT_TARGET: u64 = 256 << 20;

/// What `compact` did.
#[derive(Debug, Clone, Serialize)]
pub struct CompactReport {
    pub name: String,
    /// `compacted`, or `unchanged` when the objects are already as few as
    /// the target allows and no row is deleted.
    pub status: &'static str,
    /// Objects before and after.
    pub before: u64,
    pub after: u64,
    pub rows: u64,
    pub bytes: u64,
    pub snapshot: i64,
}

/// Rows written at a time: an object ends at most this many rows after it
/// reached the target.
const PIECE_ROWS: usize = 1024;

/// A temporary file an object is written to.
type Out = BufWriter<tempfile::NamedTempFile>;

impl Lake {
    /// Merges the live objects of `name` into as few as objects of about
    /// `target` bytes allow.
    pub fn compact(&mut self, name: &str, target: u64) -> Result<CompactReport, LakeError> {
        // gc keeps what it reads until the new objects are committed.
        let hold = self.hold_snapshot(None)?;
        let state = self.catalog.table_state(name, Some(hold.snapshot()))?;
        let schema = self
            .catalog
            .dataset(name)?
            .current
            .schema()
            .map_err(|columns| {
                LakeError::Usage(format!(
                    "{name} has columns lake does not write ({columns}): compact it in DuckDB"
                ))
            })?;
        let rows: u64 = state.files.iter().map(|f| f.live_rows()).sum();
        let bytes: u64 = state.files.iter().map(|f| f.bytes).sum();
        let target = target.max(1);
        let deleted = state.files.iter().any(|f| !f.deletes.is_empty());
        let small = match state.files.split_last() {
            Some((_, others)) => others.iter().any(|f| f.bytes < target / 2),
            None => false,
        };
        let mut report = CompactReport {
            name: state.name.clone(),
            status: "unchanged",
            before: state.files.len() as u64,
            after: state.files.len() as u64,
            rows,
            bytes,
            snapshot: state.snapshot,
        };
        if !small && !deleted {
            return Ok(report);
        }
        let scan = Scan {
            dictionary: vec![true; schema.columns.len()],
            leaf_dictionary: Vec::new(),
            schema: schema.clone(),
            rows,
            formats: Formats::default(),
            rejects: Vec::new(),
            json_chunks: None,
        };
        let target_arrow = arrow_schema(&schema);

        // The rows as lake reads them, in file order, cut into objects.
        let engine = QueryEngine::open()?;
        let _held =
            self.register_views(&engine, std::slice::from_ref(&state.name), state.snapshot)?;
        let mut done: Vec<(Written, tempfile::NamedTempFile)> = Vec::new();
        let mut current: Option<ParquetObject<Out>> = None;
        let store = &self.store;
        let new_object = || -> Result<ParquetObject<Out>, LakeError> {
            Ok(ParquetObject::new(
                &scan,
                BufWriter::new(store.temp_file()?),
            )?)
        };
        let finish =
            |object: ParquetObject<Out>| -> Result<(Written, tempfile::NamedTempFile), LakeError> {
                let (written, out) = object.finish()?;
                let file = out
                    .into_inner()
                    .map_err(|e| ConvertError::Write(e.into_error()))?;
                Ok((written, file))
            };
        let sql = format!("SELECT * FROM {}", quote_ident(&state.name));
        engine.run(&sql, &mut |_, batch| {
            let batch = conform(batch, &target_arrow).map_err(anyhow::Error::msg)?;
            // Pieces of a batch, so that objects end close to the target.
            let mut offset = 0;
            while offset < batch.num_rows() {
                let n = PIECE_ROWS.min(batch.num_rows() - offset);
                let object = match current.as_mut() {
                    Some(object) => object,
                    None => current.insert(new_object()?),
                };
                object.write(&batch.slice(offset, n))?;
                offset += n;
                if object.size() >= target
                    && let Some(full) = current.take()
                {
                    done.push(finish(full)?);
                }
            }
            Ok(ControlFlow::Continue(()))
        })?;
        if let Some(last) = current.take() {
            done.push(finish(last)?);
        }
        if done.is_empty() {
            // No rows: one empty object.
            done.push(finish(new_object()?)?);
        }

        // Published (announced first, for gc) and committed in one snapshot.
        let prefix = self.catalog.object_prefix(&state.name)?;
        let mut objects = Vec::with_capacity(done.len());
        let mut pending = Vec::with_capacity(done.len());
        let published = (|| -> Result<(), LakeError> {
            for (written, file) in done {
                let object = self.stage(&prefix, &schema, &written, file)?;
                pending.push(object.object.key.clone());
                objects.push(object);
            }
            Ok(())
        })();
        let ids: Vec<i64> = state.files.iter().map(|f| f.data_file_id).collect();
        let committed =
            published.and_then(|()| Ok(self.catalog.compact(&state.name, &ids, &objects)?));
        for key in &pending {
            let _ = self.catalog.unpend(key);
        }
        let committed = committed?;
        self.index_new_objects(&state.name, &crate::ingest::progress::NoProgress);
        report.status = "compacted";
        report.after = objects.len() as u64;
        report.bytes = objects.iter().map(|o| o.object.bytes).sum();
        report.snapshot = committed.version.snapshot;
        Ok(report)
    }
}
