//! `lake index`: HNSW indexes of a dataset's `FLOAT[N]` column, one index
//! object per data object (content-addressed, `<sha256>.hnsw` beside it),
//! built on every core. Ingests, appends, compactions and restores index
//! the objects they add; gc removes an index with the last file row of its
//! object.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Lake, LakeError};
use crate::catalog::{IndexObject, LiveFile, TableState, VectorIndex};
use crate::ingest::progress::Progress;
use crate::schema::ColumnType;
use crate::store::cache::VECTOR_INDEX_SUFFIX;
use crate::vector::parquet::{FileColumn, Vectors, read_vectors};
use crate::vector::{self, Metric, Params};

/// What `lake index create` (or an ingest) did to one index.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    #[serde(flatten)]
    pub index: VectorIndex,
    /// Data objects live now, and those with an index object.
    pub objects: u64,
    pub indexed: u64,
    /// Index objects built by this call, the vectors in them, their bytes.
    pub built: u64,
    pub vectors: u64,
    pub bytes: u64,
}

impl Lake {
    /// Gives `column` of dataset `name` an HNSW index built with `params`,
    /// and builds the index object of every live data object that has none.
    pub fn create_index(
        &mut self,
        name: &str,
        column: &str,
        params: Params,
        progress: &dyn Progress,
    ) -> Result<IndexReport, LakeError> {
        let state = self.catalog.table_state(name, None)?;
        let c = state
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(column))
            .ok_or_else(|| LakeError::Usage(format!("{}: no column {column:?}", state.name)))?;
        if !matches!(c.column_type(), Some(ColumnType::Vector(_))) {
            return Err(LakeError::Usage(format!(
                "{}.{}: {} is not FLOAT[N]: only embeddings are indexed",
                state.name,
                c.name,
                c.sql_type()
            )));
        }
        let index = VectorIndex {
            dataset: state.name.clone(),
            table_id: state.table_id,
            column_id: c.column_id,
            column: c.name.clone(),
            metric: params.metric.to_string(),
            m: params.m as i64,
            ef_construction: params.ef_construction as i64,
        };
        if !self.catalog.add_vector_index(&index)? {
            let existing = self.index_of(&state.name, &c.name)?;
            if existing != index {
                return Err(LakeError::Usage(format!(
                    "{}.{} has an index already ({} m={} ef_construction={}): `lake index rm` it first",
                    state.name, c.name, existing.metric, existing.m, existing.ef_construction
                )));
            }
        }
        self.index_objects(&state, &index, progress)
    }

    /// The index of `name.column`.
    fn index_of(&self, name: &str, column: &str) -> Result<VectorIndex, LakeError> {
        self.catalog
            .vector_indexes(Some(name))?
            .into_iter()
            .find(|i| i.column.eq_ignore_ascii_case(column))
            .ok_or_else(|| LakeError::Usage(format!("{name}.{column} has no index")))
    }

    /// Removes the index of `name.column`; gc deletes its objects.
    pub fn remove_index(&mut self, name: &str, column: &str) -> Result<VectorIndex, LakeError> {
        let index = self.index_of(name, column)?;
        self.catalog
            .remove_vector_index(index.table_id, index.column_id)?;
        Ok(index)
    }

    /// Every index (of `name`, if given), with how much of it is built.
    pub fn indexes(&self, name: Option<&str>) -> Result<Vec<IndexReport>, LakeError> {
        let mut out = Vec::new();
        for index in self.catalog.vector_indexes(name)? {
            let state = self.catalog.table_state(&index.dataset, None)?;
            let objects = self
                .catalog
                .vector_objects(index.table_id, index.column_id)?;
            let live: Vec<&IndexObject> = state
                .files
                .iter()
                .filter_map(|f| objects.get(f.key.as_ref().ok()?))
                .collect();
            out.push(IndexReport {
                objects: state.files.len() as u64,
                indexed: live.len() as u64,
                built: 0,
                vectors: 0,
                bytes: live.iter().map(|o| o.bytes).sum(),
                index,
            });
        }
        Ok(out)
    }

    /// Builds the missing index objects of every index of `name` (after a
    /// commit added data objects). A failure is logged, not returned: the
    /// commit stands, and a search scans an object without an index.
    pub(super) fn index_new_objects(&mut self, name: &str, progress: &dyn Progress) {
        let built = (|| -> Result<(), LakeError> {
            let indexes = self.catalog.vector_indexes(Some(name))?;
            if indexes.is_empty() {
                return Ok(());
            }
            let state = self.catalog.table_state(name, None)?;
            for index in indexes {
                self.index_objects(&state, &index, progress)?;
            }
            Ok(())
        })();
        if let Err(e) = built {
            tracing::warn!(dataset = name, error = %e, "indexing new objects");
        }
    }

    /// Builds and records the index object of each live file of `state`
    /// that has none.
    fn index_objects(
        &mut self,
        state: &TableState,
        index: &VectorIndex,
        progress: &dyn Progress,
    ) -> Result<IndexReport, LakeError> {
        let params = Params {
            metric: index.metric.parse::<Metric>().map_err(LakeError::Usage)?,
            m: index.m.max(2) as usize,
            ef_construction: index.ef_construction.max(1) as usize,
        };
        let done = self
            .catalog
            .vector_objects(index.table_id, index.column_id)?;
        let mut report = IndexReport {
            index: index.clone(),
            objects: state.files.len() as u64,
            indexed: 0,
            built: 0,
            vectors: 0,
            bytes: 0,
        };
        let todo: Vec<&LiveFile> = state
            .files
            .iter()
            .filter(|f| f.key.as_ref().is_ok_and(|k| !done.contains_key(k)))
            .collect();
        let width = state
            .columns
            .iter()
            .find(|c| c.column_id == index.column_id)
            .and_then(|c| c.vector())
            .unwrap_or(0) as u64
            * 4;
        // The bar counts the bytes of vectors inserted.
        let total: u64 = todo.iter().map(|f| f.rows).sum();
        progress.start("indexing", total * width);
        for file in todo {
            let data_key = file.key.clone().map_err(LakeError::Usage)?;
            let readable = self.store.readable(&data_key)?;
            let column = match &file.names {
                Some(names) => match names.get(&index.column_id) {
                    Some(name) => FileColumn::Name(name),
                    // An object from before the column was added.
                    None => continue,
                },
                None => FileColumn::FieldId(index.column_id),
            };
            let Vectors {
                values: vectors,
                rows,
                dim,
            } = read_vectors(&readable.path, column)
                .map_err(|e| LakeError::Usage(format!("indexing {data_key}: {e}")))?;
            let count = rows.len();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let reported = AtomicUsize::new(0);
            let bytes = vector::build(vectors, rows, dim, params, threads, &|n| {
                let new = n.saturating_sub(reported.swap(n, Ordering::Relaxed));
                progress.rows(new as u64);
                progress.bytes(new as u64 * width);
            });
            let sha = hex::encode(Sha256::digest(&bytes));
            let dir = data_key.rsplit_once('/').map_or("", |(d, _)| d);
            let key = format!("{dir}/{sha}{VECTOR_INDEX_SUFFIX}");
            let object = IndexObject {
                key: key.clone(),
                bytes: bytes.len() as u64,
            };
            self.catalog.pend(&key)?;
            let published = (|| -> Result<(), LakeError> {
                if !self.store.exists(&key)? {
                    let mut tmp = self.store.temp_file()?;
                    tmp.write_all(&bytes)
                        .and_then(|()| tmp.flush())
                        .map_err(|e| LakeError::Usage(format!("writing {key}: {e}")))?;
                    self.store.publish(&key, tmp)?;
                }
                Ok(self.catalog.add_vector_object(
                    index.table_id,
                    index.column_id,
                    &data_key,
                    &object,
                )?)
            })();
            if published.is_err() {
                let _ = self.catalog.unpend(&key);
            }
            published?;
            report.built += 1;
            report.vectors += count as u64;
            report.bytes += object.bytes;
        }
        let after = self
            .catalog
            .vector_objects(index.table_id, index.column_id)?;
        report.indexed = state
            .files
            .iter()
            .filter(|f| f.key.as_ref().is_ok_and(|k| after.contains_key(k)))
            .count() as u64;
        Ok(report)
    }
}
