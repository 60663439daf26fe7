//! What the lake holds and SQL over it: the datasets listed and described,
//! each dataset a DuckDB view over its live files at a snapshot, and the
//! read lease that keeps a snapshot's files while a query runs.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::catalog::{SnapshotId, TableColumn, TableState};
use crate::query::search::IndexOpener;
use crate::query::view::{FileColumns, ViewColumn, ViewFile};
use crate::query::{QueryEngine, QueryError, referenced_names};
use crate::store::{Readable, StoreError};
use crate::vector::Metric;

use super::error::LakeError;
use super::leases::SnapshotHold;
use super::{CACHE_DIR, Lake};

/// One line of `lake ls`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetSummary {
    pub name: String,
    pub dataset_id: String,
    pub rows: u64,
    pub columns: usize,
    pub bytes: u64,
    pub version: u64,
    pub updated: String,
}

impl Lake {
    /// Holds snapshot `at` (the newest when `None`) for a read: gc keeps
    /// it, whatever its grace, until the hold is dropped (or this process
    /// dies and its lease lapses).
    pub fn hold_snapshot(&self, at: Option<SnapshotId>) -> Result<SnapshotHold, LakeError> {
        self.leases
            .hold(at, || Ok(self.catalog.current_snapshot()?))
    }

    /// A number that changes whenever another connection commits to the
    /// catalog: a cheap test of whether the lake changed.
    pub fn change_counter(&self) -> Result<i64, LakeError> {
        Ok(self.catalog.data_version()?)
    }

    /// One summary per dataset, by name: what `lake ls` and the catalog list
    /// route show.
    pub fn summaries(&self) -> Result<Vec<DatasetSummary>, LakeError> {
        self.summaries_at(None)
    }

    /// The summaries as of snapshot `at` (default: now).
    pub fn summaries_at(&self, at: Option<SnapshotId>) -> Result<Vec<DatasetSummary>, LakeError> {
        Ok(self
            .catalog
            .list(at)?
            .into_iter()
            .map(|ds| DatasetSummary {
                columns: ds.current.columns.len(),
                rows: ds.current.rows,
                bytes: ds.current.bytes,
                version: ds.current.version,
                name: ds.name,
                dataset_id: ds.dataset_id,
                updated: ds.updated_at,
            })
            .collect())
    }

    /// Everything about one dataset: what `lake show --format json` and the
    /// catalog route show.
    pub fn describe(&self, name: &str) -> Result<serde_json::Value, LakeError> {
        self.describe_at(name, None)
    }

    /// The description as of snapshot `at` (default: now); `versions` holds
    /// every version, later ones too.
    pub fn describe_at(
        &self,
        name: &str,
        at: Option<SnapshotId>,
    ) -> Result<serde_json::Value, LakeError> {
        let ds = match at {
            Some(at) => self.catalog.dataset_at(name, at)?,
            None => self.catalog.dataset(name)?,
        };
        let versions = self.catalog.versions(&ds.name)?;
        let schema: Vec<serde_json::Value> = ds
            .current
            .columns
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "type": c.sql_type()}))
            .collect();
        Ok(serde_json::json!({
            "name": ds.name,
            "dataset_id": ds.dataset_id,
            "fingerprint": ds.current.fingerprint,
            "version": ds.current.version,
            "snapshot": ds.current.snapshot,
            "table_id": ds.table_id,
            "rows": ds.current.rows,
            "bytes": ds.current.bytes,
            "created_at": ds.created_at,
            "updated_at": ds.updated_at,
            "schema": schema,
            "objects": ds.current.objects,
            "versions": versions,
            "attach": self.attach_statement()?,
        }))
    }

    /// Runs one SQL statement over every dataset, handing result batches to
    /// `sink`. Only datasets the SQL names are registered; one whose objects
    /// are missing or unreadable fails only the queries that read it.
    pub fn query(
        &self,
        sql: &str,
        at: Option<SnapshotId>,
        sink: &mut dyn FnMut(&SchemaRef, &RecordBatch) -> anyhow::Result<ControlFlow<()>>,
    ) -> Result<SchemaRef, LakeError> {
        let engine = QueryEngine::open()?;
        let _held = self.register_datasets(&engine, sql, at)?;
        Ok(engine.run(sql, sink)?)
    }

    /// A database locked down for untrusted SQL: it reads no file but the
    /// lake's own objects (the store, or the cache of a remote one), loads
    /// no extension, and its settings cannot change. Open it once; give each
    /// query a [`QueryEngine::connect`]ion.
    pub fn sandboxed_engine(&self) -> Result<QueryEngine, LakeError> {
        let engine = QueryEngine::open()?;
        // DuckDB reads only the datasets' objects: never the catalog, even
        // in a lake whose store was allowed to hold its home.
        let allowed = match self.store.local_root() {
            Some(root) => vec![root.join(crate::store::key::DATASETS_PREFIX)],
            None => vec![self.home.join(CACHE_DIR)],
        };
        engine.sandbox(&allowed)?;
        Ok(engine)
    }

    /// Registers, as views, the datasets `sql` may name, as they were at
    /// snapshot `at` (default: now). The views read the files returned, of
    /// the snapshot held: keep both until the query is done.
    pub fn register_datasets(
        &self,
        engine: &QueryEngine,
        sql: &str,
        at: Option<SnapshotId>,
    ) -> Result<(Option<SnapshotHold>, Vec<Readable>), LakeError> {
        let words = referenced_names(sql);
        let named = |at: SnapshotId| -> Result<Vec<String>, LakeError> {
            Ok(self
                .catalog
                .names(Some(at))?
                .into_iter()
                .filter(|name| words.contains(&name.to_lowercase()))
                .collect())
        };
        // A query that reads no dataset (`select 1`) takes no lease.
        let first = match at {
            Some(at) => at,
            None => self.catalog.current_snapshot()?,
        };
        if named(first)?.is_empty() {
            return Ok((None, Vec::new()));
        }
        let hold = self.hold_snapshot(at)?;
        let names = named(hold.snapshot())?;
        let held = self.register_views(engine, &names, hold.snapshot())?;
        self.store.trim();
        Ok((Some(hold), held))
    }

    /// Registers the datasets `names` (as the catalog spells them) as views
    /// as they were at snapshot `at`; a dataset that cannot be read becomes
    /// a view that fails with the reason. Returns the local files the views
    /// read, kept from the cache's eviction while they are held.
    pub fn register_views(
        &self,
        engine: &QueryEngine,
        names: &[String],
        at: SnapshotId,
    ) -> Result<Vec<Readable>, LakeError> {
        let mut in_use = Vec::new();
        for name in names {
            let state = self.catalog.table_state(name, Some(at))?;
            let registered = self
                .view_of(&state, &mut in_use)
                .and_then(|(columns, files)| {
                    engine
                        .register(&state.name, &columns, &files)
                        .and_then(|()| self.register_search(engine, &state, &columns, files))
                        .map_err(|e| match e {
                            QueryError::Dataset { reason, .. } => reason,
                            other => other.to_string(),
                        })
                });
            if let Err(reason) = registered {
                // Typed NULL columns, when DuckDB knows every type.
                let columns: Vec<(String, String)> =
                    if state.columns.iter().all(TableColumn::readable) {
                        state
                            .columns
                            .iter()
                            .map(|c| (c.name.clone(), c.sql_type()))
                            .collect()
                    } else {
                        Vec::new()
                    };
                engine.register_broken(&state.name, &columns, &reason)?;
            }
        }
        Ok(in_use)
    }

    /// Makes a dataset registered as a view searchable by `vector_search`,
    /// with the index objects of its files.
    fn register_search(
        &self,
        engine: &QueryEngine,
        state: &TableState,
        columns: &[ViewColumn],
        files: Vec<ViewFile>,
    ) -> Result<(), QueryError> {
        let catalog_error = |e: crate::catalog::CatalogError| QueryError::Dataset {
            name: state.name.clone(),
            reason: e.to_string(),
        };
        let mut metrics = HashMap::new();
        let mut objects = Vec::new();
        // Only a dataset with a FLOAT[N] column can have an index: the
        // others cost a query no catalog read.
        let indexes = if state.columns.iter().any(|c| c.vector().is_some()) {
            self.catalog
                .vector_indexes(Some(&state.name))
                .map_err(catalog_error)?
        } else {
            Vec::new()
        };
        for index in indexes.iter().filter(|i| i.table_id == state.table_id) {
            if let Ok(metric) = index.metric.parse::<Metric>() {
                metrics.insert(index.column_id, metric);
            }
            let by_data = self
                .catalog
                .vector_objects(index.table_id, index.column_id)
                .map_err(catalog_error)?;
            objects.push((index.column_id, by_data));
        }
        let files: Vec<(ViewFile, HashMap<i64, String>)> = files
            .into_iter()
            .zip(&state.files)
            .map(|(view, live)| {
                let keys = objects
                    .iter()
                    .filter_map(|(column, by_data)| {
                        let object = by_data.get(live.key.as_ref().ok()?)?;
                        Some((*column, object.key.clone()))
                    })
                    .collect();
                (view, keys)
            })
            .collect();
        let store = self.store.clone();
        let open: IndexOpener = Arc::new(move |key: &str| {
            store
                .readable(key)
                .map(|r| r.path.clone())
                .map_err(|e| format!("index object {key}: {e}"))
        });
        engine.register_search(&state.name, columns, &files, metrics, open)
    }

    /// The columns and local files of a dataset's view, or why it cannot be
    /// read.
    pub(super) fn view_of(
        &self,
        state: &TableState,
        in_use: &mut Vec<Readable>,
    ) -> Result<(Vec<ViewColumn>, Vec<ViewFile>), String> {
        if !state.problems.is_empty() {
            return Err(state.problems.join("; "));
        }
        let columns = state
            .columns
            .iter()
            .map(|c| ViewColumn {
                column_id: c.column_id,
                name: c.name.clone(),
                sql_type: c.sql_type(),
                default: c.initial_default.clone(),
            })
            .collect();
        let mut local = |key: &Result<String, String>| -> Result<PathBuf, String> {
            let key = key.as_ref().map_err(Clone::clone)?;
            let readable = match self.store.readable(key) {
                Ok(readable) => readable,
                Err(StoreError::NotFound { key }) => {
                    return Err(format!("object {key} is missing from the store"));
                }
                Err(e) => return Err(format!("object {key}: {e}")),
            };
            let path = readable.path.clone();
            in_use.push(readable);
            Ok(path)
        };
        let mut files = Vec::with_capacity(state.files.len());
        for f in &state.files {
            let deletes = f
                .deletes
                .iter()
                .map(|d| local(&d.key))
                .collect::<Result<Vec<_>, _>>()?;
            files.push(ViewFile {
                path: local(&f.key)?,
                columns: match (&f.names, f.mapping_id) {
                    (Some(names), Some(mapping)) => FileColumns::ByName {
                        mapping,
                        names: names.clone(),
                    },
                    _ => FileColumns::ByFieldId,
                },
                deletes,
            });
        }
        Ok((columns, files))
    }
}
