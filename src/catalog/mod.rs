//! The catalog: a DuckLake 1.0 catalog in SQLite, plus lake's own settings
//! and the facts DuckLake has no column for (dataset ids, content hashes).
//!
//! Every change is one DuckLake snapshot written in one `BEGIN IMMEDIATE`
//! transaction, so any DuckDB with the ducklake extension reads the lake,
//! its history included, and several `lake` processes (and DuckDB sessions)
//! can share one catalog. lake's own reads come from the same DuckLake rows.

mod changes;
mod columns;
mod copy;
mod db;
mod ducklake_ddl;
mod files;
mod gc;
mod key_set;
mod legacy;
mod log;
mod migrations;
mod read;
mod readers;
mod stats;
mod vectors;
mod versions;
mod write;

use std::path::Path;
use std::time::Duration;

use db::{Db, DbError, OptionalExtension};
use serde::Serialize;
use thiserror::Error;

use crate::schema::{EvolvePlan, Schema, SchemaDiff, evolve_plan};

pub use crate::schema::ColumnStats;
pub use columns::TableColumn;
pub use copy::{Copied, Relocation};
pub use db::{libpq_words as postgres_libpq_words, redacted as redacted_url};
pub use files::{DeleteRef, LiveFile, TableState};
pub use gc::{Expired, FileObject, Keep, References};
pub use key_set::KeySet;
pub use log::LogEntry;
pub use vectors::{IndexObject, VectorIndex};

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The DuckLake version lake writes.
pub const DUCKLAKE_VERSION: &str = "1.0";

/// Where DuckLake tables of the `main` schema keep their files, relative to
/// the data path: lake's objects are `datasets/<name>/<sha256>.parquet`.
pub const DATASETS_PREFIX: &str = "datasets/";

/// A DuckLake snapshot id.
pub type SnapshotId = i64;

/// Errors from the catalog.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("dataset not found: {name}")]
    NotFound { name: String },
    #[error("dataset {name} did not exist at snapshot {snapshot}")]
    NotAtSnapshot { name: String, snapshot: SnapshotId },
    #[error("snapshot not found: {0}")]
    NoSnapshot(String),
    #[error("schema conflict on dataset {name}: {diff} (use --replace to accept the new schema)")]
    SchemaConflict { name: String, diff: SchemaDiff },
    #[error(
        "schema conflict on dataset {name}: it has columns lake does not ingest ({columns}); use --replace to replace them"
    )]
    ForeignSchema { name: String, columns: String },
    #[error("catalog {path}")]
    Open {
        path: String,
        #[source]
        source: DbError,
    },
    #[error("catalog: {context}")]
    Sql {
        context: &'static str,
        #[source]
        source: DbError,
    },
    #[error("catalog: {0}")]
    Invalid(String),
    #[error("dataset {name} changed while it was compacted; run lake compact again")]
    Changed { name: String },
    #[error(
        "object {key} is not in the store at commit time (a concurrent gc removed it, or the \
         store did not answer); nothing was recorded"
    )]
    ObjectGone { key: String },
    #[error("catalog holds a schema it cannot read for {name}")]
    BadSchema {
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

fn sql(context: &'static str) -> impl FnOnce(DbError) -> CatalogError {
    move |source| CatalogError::Sql { context, source }
}

/// One object of a version: its store key, rows and bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
}

/// A Parquet object just written, offered to a dataset.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub object: ObjectRef,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// The length of its Parquet footer.
    pub footer_size: Option<u64>,
    /// Per column, in schema order.
    pub stats: Vec<ColumnStats>,
}

/// One version of a dataset: its state after one snapshot that changed it.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// 1 for the snapshot that created the dataset, then one more per change.
    pub version: u64,
    /// The DuckLake snapshot.
    pub snapshot: SnapshotId,
    pub rows: u64,
    pub bytes: u64,
    pub fingerprint: String,
    #[serde(skip)]
    pub columns: Vec<TableColumn>,
    pub created_at: String,
    pub objects: Vec<ObjectRef>,
}

impl Version {
    /// The schema, if every column has a type lake knows.
    pub fn schema(&self) -> Result<Schema, String> {
        columns::schema_of(&self.columns)
    }
}

/// A dataset and its version at some snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub name: String,
    pub dataset_id: String,
    /// The DuckLake table id.
    pub table_id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub current: Version,
}

/// How an ingest relates to the current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Same schema: the new object replaces the data.
    Overwrite,
    /// Same schema: the new object is added to the current ones.
    Append,
    /// Any schema: the new object replaces the data.
    Replace,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitStatus {
    Created,
    Updated,
    Unchanged,
}

impl CommitStatus {
    /// The status in words: `created`, `updated` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitStatus::Created => "created",
            CommitStatus::Updated => "updated",
            CommitStatus::Unchanged => "unchanged",
        }
    }
}

impl std::fmt::Display for CommitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new object offered to a dataset.
pub struct Commit<'a> {
    pub name: &'a str,
    pub dataset_id: &'a str,
    pub schema: &'a Schema,
    pub object: NewObject,
    pub mode: WriteMode,
    /// Accept added, removed and widened columns (`--evolve`).
    pub evolve: bool,
    /// Whether the object is in the store, asked under the write lock (gc
    /// deletes under it too): a commit never names a deleted object.
    pub object_present: Option<&'a dyn Fn() -> bool>,
}

/// The outcome of a commit.
#[derive(Debug, Clone)]
pub struct Committed {
    pub status: CommitStatus,
    /// The dataset's name as the catalog spells it.
    pub name: String,
    pub version: Version,
    /// What `--evolve` changed in the schema, if it did.
    pub plan: Option<EvolvePlan>,
}

/// The schema change a write refuses, if `schema` differs from the current
/// version's: any change unless the mode is [`WriteMode::Replace`], and
/// with `evolve` only retypes that are no widening.
pub fn refused_change(
    name: &str,
    current: &Version,
    schema: &Schema,
    mode: WriteMode,
    evolve: bool,
) -> Option<CatalogError> {
    if mode == WriteMode::Replace || current.fingerprint == schema.fingerprint() {
        return None;
    }
    Some(match current.schema() {
        Ok(live) if evolve => match evolve_plan(&live, schema) {
            Ok(_) => return None,
            Err(diff) => CatalogError::SchemaConflict {
                name: name.to_owned(),
                diff,
            },
        },
        Ok(live) => CatalogError::SchemaConflict {
            name: name.to_owned(),
            diff: live.diff(schema),
        },
        Err(columns) => CatalogError::ForeignSchema {
            name: name.to_owned(),
            columns,
        },
    })
}

/// Facts about the catalog as a whole, for `lake info`.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogInfo {
    pub ducklake_version: String,
    pub data_path: String,
    pub snapshot: SnapshotId,
    pub snapshots: u64,
    pub datasets: u64,
}

/// The catalog of one lake home.
pub struct Catalog {
    conn: Db,
}

impl Catalog {
    /// Opens (creating and migrating) the catalog at `path`. Processes that
    /// create one catalog at once can find it busy before any busy handler
    /// applies (switching to WAL): they try again, for as long as a writer
    /// would wait.
    pub fn open(path: &Path) -> Result<Catalog, CatalogError> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match Catalog::try_open(path) {
                Err(CatalogError::Open { source, .. })
                    if source.is_busy() && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Opens (creating and migrating) the catalog in the PostgreSQL
    /// database `url` names. Errors name the database without its password.
    pub fn open_postgres(url: &str) -> Result<Catalog, CatalogError> {
        let open_err = |source| CatalogError::Open {
            path: db::redacted(url),
            source,
        };
        let mut conn = Db::open_postgres(url).map_err(open_err)?;
        migrations::migrate(&mut conn).map_err(open_err)?;
        Ok(Catalog { conn })
    }

    fn try_open(path: &Path) -> Result<Catalog, CatalogError> {
        let open_err = |source| CatalogError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Db::open_sqlite(path, BUSY_TIMEOUT).map_err(open_err)?;
        migrations::migrate(&mut conn).map_err(open_err)?;
        Ok(Catalog { conn })
    }

    /// The value of a setting, if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, CatalogError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("reading a setting"))
    }

    /// Sets `key` to `value` unless it is set already; returns the value in
    /// force afterwards (another process may have set it first).
    pub fn setting_or_insert(&mut self, key: &str, value: &str) -> Result<String, CatalogError> {
        let tx = self
            .conn
            .write_transaction()
            .map_err(sql("writing a setting"))?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            [key, value],
        )
        .map_err(sql("writing a setting"))?;
        let value: String = tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .map_err(sql("reading a setting"))?;
        tx.commit().map_err(sql("writing a setting"))?;
        Ok(value)
    }

    /// Records `wanted` as DuckLake's `data_path` unless it is recorded
    /// already: a metadata change, no snapshot. Returns whether it wrote.
    pub fn record_data_path(&mut self, wanted: &str) -> Result<bool, CatalogError> {
        if read::metadata(&self.conn, "data_path")?.as_deref() == Some(wanted) {
            return Ok(false);
        }
        let tx = self
            .conn
            .write_transaction()
            .map_err(sql("recording the data path"))?;
        let written = match read::metadata(&tx, "data_path")? {
            Some(path) if path == wanted => false,
            Some(_) => {
                tx.execute(
                    "UPDATE ducklake_metadata SET value = ?1
                     WHERE key = 'data_path' AND scope IS NULL",
                    [wanted],
                )
                .map_err(sql("recording the data path"))?;
                true
            }
            None => {
                tx.execute(
                    "INSERT INTO ducklake_metadata (key, value) VALUES ('data_path', ?1)",
                    [wanted],
                )
                .map_err(sql("recording the data path"))?;
                true
            }
        };
        tx.commit().map_err(sql("recording the data path"))?;
        Ok(written)
    }

    /// A number that changes whenever another connection commits a change
    /// to the lake (on SQLite it costs no catalog read).
    pub fn data_version(&self) -> Result<i64, CatalogError> {
        self.conn
            .data_version()
            .map_err(sql("reading the data version"))
    }

    /// The newest snapshot.
    pub fn current_snapshot(&self) -> Result<SnapshotId, CatalogError> {
        read::last_snapshot(&self.conn).map(|s| s.id)
    }

    /// The snapshot `spec` names: a snapshot id, or a time (RFC 3339 or
    /// `YYYY-MM-DD[ HH:MM:SS]`, UTC unless it says otherwise): the newest
    /// snapshot at or before it.
    pub fn resolve_snapshot(&self, spec: &str) -> Result<SnapshotId, CatalogError> {
        read::resolve_snapshot(&self.conn, spec)
    }

    /// The names of every dataset at `at` (default: now), in order.
    pub fn names(&self, at: Option<SnapshotId>) -> Result<Vec<String>, CatalogError> {
        let at = self.at(at)?;
        read::table_names(&self.conn, at)
    }

    /// Every dataset with its version at `at` (default: now), by name.
    pub fn list(&self, at: Option<SnapshotId>) -> Result<Vec<Dataset>, CatalogError> {
        let at = self.at(at)?;
        read::table_names(&self.conn, at)?
            .iter()
            .map(|n| self.dataset_at(n, at))
            .collect()
    }

    /// One dataset as it is now; names match case-insensitively.
    pub fn dataset(&self, name: &str) -> Result<Dataset, CatalogError> {
        let at = self.current_snapshot()?;
        self.dataset_at(name, at)
    }

    /// One dataset as it was at snapshot `at`.
    pub fn dataset_at(&self, name: &str, at: SnapshotId) -> Result<Dataset, CatalogError> {
        versions::dataset(&self.conn, name, at)?.ok_or_else(|| CatalogError::NotFound {
            name: name.to_owned(),
        })
    }

    /// Everything needed to read a dataset at snapshot `at`: its columns,
    /// live files and their deletions.
    pub fn table_state(
        &self,
        name: &str,
        at: Option<SnapshotId>,
    ) -> Result<TableState, CatalogError> {
        let at = self.at(at)?;
        files::table_state(&self.conn, name, at)?.ok_or_else(|| CatalogError::NotFound {
            name: name.to_owned(),
        })
    }

    /// Every version of a dataset, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Version>, CatalogError> {
        let ds = self.dataset(name)?;
        versions::versions(&self.conn, ds.table_id, &ds.name)
    }

    /// The snapshots, newest first; only those that changed `name` if given.
    pub fn log(&self, name: Option<&str>) -> Result<Vec<LogEntry>, CatalogError> {
        log::log(&self.conn, name)
    }

    /// Facts about the catalog.
    pub fn info(&self) -> Result<CatalogInfo, CatalogError> {
        read::info(&self.conn)
    }

    /// Records `commit` as a new snapshot, unless it would equal the current
    /// version. One write transaction: either all of it is recorded or none.
    pub fn commit(&mut self, commit: &Commit<'_>) -> Result<Committed, CatalogError> {
        changes::commit(&mut self.conn, commit)
    }

    /// Expires the snapshots `keep` does not keep, save those a reader
    /// may have begun on since `readers_since` (nothing changes when
    /// `dry_run`); what went, and the store keys the remaining file rows
    /// (and writers) name.
    pub fn expire(
        &mut self,
        keep: &Keep,
        readers_since: std::time::SystemTime,
        dry_run: bool,
    ) -> Result<(Expired, References), CatalogError> {
        let since = chrono::DateTime::<chrono::Utc>::from(readers_since)
            .format("%Y-%m-%d %H:%M:%S%.6f+00")
            .to_string();
        gc::expire(&mut self.conn, keep, &since, dry_run)
    }

    /// Runs `f` with the store keys named since `since` was read (by new
    /// file rows and writers), holding the write lock: no commit names an
    /// object until `f` returns.
    pub fn with_new_references<T>(
        &mut self,
        since: &References,
        f: impl FnOnce(&std::collections::HashSet<String>) -> T,
    ) -> Result<T, CatalogError> {
        gc::with_new_references(&mut self.conn, since, f)
    }

    /// Takes (or moves) `reader`'s lease to snapshot `at`, or to the newest
    /// when `None`; gc keeps every snapshot from the oldest leased one on.
    /// Returns the leased snapshot.
    pub fn lease(
        &mut self,
        reader: &str,
        at: Option<SnapshotId>,
    ) -> Result<SnapshotId, CatalogError> {
        readers::lease(&mut self.conn, reader, at)
    }

    /// Ends `reader`'s lease.
    pub fn release(&mut self, reader: &str) -> Result<(), CatalogError> {
        readers::release(&self.conn, reader)
    }

    /// Announces that the object `key` is being written: gc keeps it until
    /// a commit names it or [`Catalog::unpend`] is called.
    pub fn pend(&mut self, key: &str) -> Result<(), CatalogError> {
        gc::pend(&mut self.conn, key)
    }

    /// Ends an announcement of [`Catalog::pend`] (a write that failed).
    pub fn unpend(&mut self, key: &str) -> Result<(), CatalogError> {
        gc::unpend(&self.conn, key)
    }

    /// The objects every data and delete file row names (under
    /// `datasets/`), with the sizes the rows record, in a set on disk.
    pub fn named_objects(&self) -> Result<KeySet, CatalogError> {
        gc::named_objects(&self.conn)
    }

    /// Copies this whole catalog (every snapshot) into `target`, which
    /// must be new, in one transaction on the target.
    pub fn copy_into(
        &mut self,
        target: &mut Catalog,
        relocation: &Relocation<'_>,
    ) -> Result<Copied, CatalogError> {
        copy::copy(self, target, relocation)
    }

    /// The DuckLake invariants the catalog breaks, one line each.
    pub fn check(&self) -> Result<Vec<String>, CatalogError> {
        gc::check(&self.conn)
    }

    /// Replaces the live files of `name` (the data files `expected`) by
    /// `objects` holding the same rows: one snapshot.
    pub fn compact(
        &mut self,
        name: &str,
        expected: &[i64],
        objects: &[NewObject],
    ) -> Result<Committed, CatalogError> {
        changes::compact(&mut self.conn, name, expected, objects)
    }

    /// Removes a dataset from the present: a snapshot that drops its table.
    pub fn remove(&mut self, name: &str) -> Result<SnapshotId, CatalogError> {
        changes::remove(&mut self.conn, name)
    }

    /// A new snapshot whose data for `name` is what it was at `to`.
    pub fn restore(&mut self, name: &str, to: SnapshotId) -> Result<Committed, CatalogError> {
        changes::restore(&mut self.conn, name, to)
    }

    /// The directory (store key prefix, with its trailing `/`) where the
    /// objects of `name` go: its table's path, or `datasets/<name>/` for a
    /// new dataset.
    pub fn object_prefix(&self, name: &str) -> Result<String, CatalogError> {
        let at = self.current_snapshot()?;
        versions::object_prefix(&self.conn, name, at)
    }

    /// Lake objects whose statistics are not recorded yet (catalogs
    /// migrated from before DuckLake): data file id, key, and the schema it
    /// was written with.
    pub fn files_without_stats(&self) -> Result<Vec<(i64, String, Schema)>, CatalogError> {
        files::files_without_stats(&self.conn)
    }

    /// Records the statistics of a file found by [`Self::files_without_stats`].
    pub fn record_file_stats(
        &mut self,
        data_file_id: i64,
        footer_size: Option<u64>,
        stats: &[ColumnStats],
    ) -> Result<(), CatalogError> {
        changes::record_file_stats(&mut self.conn, data_file_id, footer_size, stats)
    }

    fn at(&self, at: Option<SnapshotId>) -> Result<SnapshotId, CatalogError> {
        match at {
            Some(at) => Ok(at),
            None => self.current_snapshot(),
        }
    }
}

/// Now, as DuckLake writes snapshot times: `2026-11-24 08:40:22.336235+00`.
fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S%.6f+00")
        .to_string()
}

#[cfg(test)]
mod tests;
