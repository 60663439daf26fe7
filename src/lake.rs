//! A lake home opened: its catalog and its store, and the operations that the
//! CLI and the server share.

use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use thiserror::Error;

use crate::catalog::{
    Catalog, CatalogError, Commit, CommitStatus, Committed, LogEntry, NewObject, ObjectRef,
    SnapshotId, TableColumn, TableState, WriteMode, refused_change,
};
use crate::ingest::csv::dialect::DialectFlags;
use crate::ingest::error::ConvertError;
use crate::ingest::progress::Progress;
use crate::ingest::reading::Reading;
use crate::ingest::rejects::{rejects_schema, write_rejects};
use crate::ingest::source::Source;
use crate::ingest::writer::Written;
use crate::ingest::writer::stats::object_stats;
use crate::query::view::{FileColumns, ViewColumn, ViewFile};
use crate::query::{QueryEngine, QueryError, quote_literal, referenced_names};
use crate::schema::{self, Schema};
use crate::store::{KeyError, Readable, Store, StoreError, StoreOptions, StoreUrl};

/// The catalog file inside a home.
pub const CATALOG_FILE: &str = "catalog.sqlite";
/// Scratch files inside a home: spooled input, uploads, objects being built.
pub const TMP_DIR: &str = "tmp";
/// The cache of a remote store's objects inside a home.
pub const CACHE_DIR: &str = "cache";
/// The setting that records where the objects live.
const STORE_SETTING: &str = "store";
/// The store of a new lake: `store/` inside its home.
const DEFAULT_STORE: &str = "store";

/// Errors of lake operations.
#[derive(Debug, Error)]
pub enum LakeError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("invalid dataset name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error("lake home {path}")]
    Home {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the store {store} overlaps this lake's home {home}: its catalog, WAL or cache would be objects anyone could read or delete; use a store outside the home, or the default {home}/store"
    )]
    StoreHoldsHome { store: String, home: String },
    #[error("this lake already uses the store {current}; it cannot be changed to {requested}")]
    StoreChange { current: String, requested: String },
    #[error(
        "this lake's catalog is {current}; it cannot be changed to {requested} (a new home can use it)"
    )]
    CatalogChange { current: String, requested: String },
}

/// What a process exit code says about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Anything else: 1.
    Failure,
    /// A bad argument: 2.
    Usage,
    /// A schema conflict: 3.
    Conflict,
    /// A dataset or key that does not exist: 4.
    NotFound,
}

impl ErrorClass {
    /// The exit code of the class.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Failure => 1,
            ErrorClass::Usage => 2,
            ErrorClass::Conflict => 3,
            ErrorClass::NotFound => 4,
        }
    }

    /// The class of the first typed error in a chain.
    pub fn of(err: &anyhow::Error) -> ErrorClass {
        err.chain()
            .find_map(|cause| {
                if let Some(e) = cause.downcast_ref::<LakeError>() {
                    Some(e.class())
                } else if let Some(e) = cause.downcast_ref::<CatalogError>() {
                    Some(catalog_class(e))
                } else if let Some(e) = cause.downcast_ref::<StoreError>() {
                    Some(store_class(e))
                } else if cause.downcast_ref::<KeyError>().is_some() {
                    Some(ErrorClass::Usage)
                } else {
                    cause.downcast_ref::<ConvertError>().map(convert_class)
                }
            })
            .unwrap_or(ErrorClass::Failure)
    }
}

fn catalog_class(e: &CatalogError) -> ErrorClass {
    match e {
        CatalogError::NotFound { .. }
        | CatalogError::NotAtSnapshot { .. }
        | CatalogError::NoSnapshot(_) => ErrorClass::NotFound,
        CatalogError::SchemaConflict { .. }
        | CatalogError::ForeignSchema { .. }
        | CatalogError::Changed { .. } => ErrorClass::Conflict,
        _ => ErrorClass::Failure,
    }
}

fn store_class(e: &StoreError) -> ErrorClass {
    match e {
        StoreError::NotFound { .. } => ErrorClass::NotFound,
        StoreError::Key(_) | StoreError::BadUrl { .. } => ErrorClass::Usage,
        StoreError::Io { .. } | StoreError::Remote { .. } | StoreError::Cache { .. } => {
            ErrorClass::Failure
        }
    }
}

fn convert_class(e: &ConvertError) -> ErrorClass {
    match e {
        ConvertError::SchemaOverride(_) | ConvertError::Flag(_) => ErrorClass::Usage,
        _ => ErrorClass::Failure,
    }
}

impl LakeError {
    /// The exit-code class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            LakeError::Catalog(e) => catalog_class(e),
            LakeError::Store(e) => store_class(e),
            LakeError::Convert(e) => convert_class(e),
            LakeError::InvalidName { .. }
            | LakeError::Usage(_)
            | LakeError::StoreChange { .. }
            | LakeError::CatalogChange { .. }
            | LakeError::StoreHoldsHome { .. } => ErrorClass::Usage,
            LakeError::Query(_) | LakeError::Home { .. } => ErrorClass::Failure,
        }
    }
}

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    /// The dataset; by default the file's stem.
    pub name: Option<String>,
    pub mode: WriteMode,
    /// Accept added, removed and widened columns.
    pub evolve: bool,
    /// The CSV dialect as far as the user fixed it; the rest is sniffed.
    pub dialect: DialectFlags,
    /// Column types given by the user, by name; the rest are inferred.
    pub types: Vec<(String, crate::schema::ColumnType)>,
}

/// What an ingest did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub name: String,
    pub dataset_id: String,
    pub version: u64,
    /// The DuckLake snapshot of this version.
    pub snapshot: SnapshotId,
    /// Rows in the ingested file.
    pub rows: u64,
    /// Bytes of the Parquet object.
    pub bytes: u64,
    pub key: String,
    pub fingerprint: String,
    pub status: CommitStatus,
    /// What `--evolve` changed in the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evolved: Option<crate::schema::EvolvePlan>,
    /// Rows set aside (with `--rejects`).
    pub rejects: u64,
    /// The dataset they were written to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_dataset: Option<String>,
}

/// How to open a lake.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The store to record for a new lake (and to check an old one against).
    pub store: Option<String>,
    /// The catalog (a PostgreSQL URL) to record for a new home (and to
    /// check an old one against); by default the SQLite file in the home.
    pub catalog: Option<String>,
    /// The bound of the local cache of a remote store's objects.
    pub cache_max: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            store: None,
            catalog: None,
            cache_max: crate::store::cache::DEFAULT_CACHE_MAX,
        }
    }
}

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

mod catalog_location;
mod compact;
mod doctor;
mod gc;
mod leases;
mod migrate;

pub use catalog_location::{CATALOG_URL_FILE, CatalogLocation};
pub use compact::{CompactReport, DEFAULT_TARGET};
pub use doctor::DoctorReport;
pub use gc::{GcOptions, GcReport, parse_duration};
pub use leases::SnapshotHold;
pub use migrate::Migration;

/// An open lake home.
pub struct Lake {
    home: PathBuf,
    location: CatalogLocation,
    catalog: Catalog,
    /// Shared by every [`Lake::reopen`]ed handle: one S3 client and cache.
    store: Arc<Store>,
    store_url: StoreUrl,
    /// The process's read lease, shared by every reopened handle too.
    leases: Arc<leases::ReadLeases>,
}

impl Lake {
    /// Opens the lake at `home`, creating it with the local store if new.
    pub fn open(home: &Path) -> Result<Lake, LakeError> {
        Lake::open_with(home, &OpenOptions::default())
    }

    /// Opens or creates the lake at `home`. A `store` URL is recorded when
    /// the lake has none yet, and must match the recorded one otherwise.
    pub fn open_with(home: &Path, opts: &OpenOptions) -> Result<Lake, LakeError> {
        let store = opts.store.as_deref();
        let home_err = |source| LakeError::Home {
            path: home.display().to_string(),
            source,
        };
        // Refused before anything is created.
        if let Some(StoreUrl::Local(root)) = store.map(StoreUrl::parse).transpose()? {
            check_store_outside_home(&std::path::absolute(&root).unwrap_or(root), home)?;
        }
        fs::create_dir_all(home.join(TMP_DIR)).map_err(home_err)?;
        // Spooled uploads and objects being built by processes now gone.
        crate::store::sweep_stale(&home.join(TMP_DIR));
        let location = CatalogLocation::resolve(home, opts.catalog.as_deref())?;
        let mut catalog = location.open()?;
        location.remember(home)?;
        // The default store is recorded relative to the home, so a home can
        // be moved; a store given on the command line is made absolute, and
        // so is the default when the catalog is shared by many machines.
        let requested = store
            .map(|s| StoreUrl::parse(s).map(|url| url.absolute()))
            .transpose()?;
        let default_store = if location.is_shared() {
            StoreUrl::parse(DEFAULT_STORE)?
                .relative_to(home)
                .absolute()
                .to_string()
        } else {
            DEFAULT_STORE.to_owned()
        };
        let wanted = requested
            .as_ref()
            .map_or(default_store, |url| url.to_string());
        // Read first: a write transaction on every open would serialize
        // concurrent processes and server requests.
        let recorded = match catalog.setting(STORE_SETTING)? {
            Some(recorded) => recorded,
            None => catalog.setting_or_insert(STORE_SETTING, &wanted)?,
        };
        // The default is recorded relative to the home: compare resolved.
        let url = StoreUrl::parse(&recorded)?.relative_to(home);
        if let Some(requested) = requested
            && requested != url
        {
            return Err(LakeError::StoreChange {
                current: recorded,
                requested: requested.to_string(),
            });
        }
        // DuckLake's data path: where the store is now, absolute (as DuckDB
        // records it), so a plain ATTACH from any folder reads and writes
        // the store. The default store is recorded relative to the home in
        // lake's own setting, so a moved or copied home still finds it, and
        // its DuckLake data path follows on the next open.
        let data_path = data_path_of(&url.clone().absolute());
        match catalog.record_data_path(&data_path) {
            Ok(true) => tracing::debug!(data_path, "recorded the store's path for DuckDB"),
            Ok(false) => {}
            // A catalog this process may not write: lake itself needs no
            // data path, DuckDB is told where the store is by `lake info`.
            Err(e) => tracing::warn!(
                data_path,
                "could not record the store's path in the catalog ({e}): \
                 DuckDB needs DATA_PATH and OVERRIDE_DATA_PATH to read this lake"
            ),
        }
        let store = Store::open(
            &url,
            &StoreOptions {
                tmp_dir: home.join(TMP_DIR),
                cache_dir: home.join(CACHE_DIR),
                cache_max: opts.cache_max,
            },
        )?;
        let mut lake = Lake {
            home: home.to_owned(),
            leases: leases::ReadLeases::new(location.clone()),
            location,
            catalog,
            store: Arc::new(store),
            store_url: url,
        };
        lake.record_missing_stats()?;
        Ok(lake)
    }

    /// Another handle on the same lake: a catalog connection of its own, the
    /// same store (and S3 client and cache). Much cheaper than opening.
    pub fn reopen(&self) -> Result<Lake, LakeError> {
        Ok(Lake {
            home: self.home.clone(),
            location: self.location.clone(),
            catalog: self.location.open()?,
            store: self.store.clone(),
            store_url: self.store_url.clone(),
            leases: self.leases.clone(),
        })
    }

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

    /// Records the statistics of objects a catalog from before DuckLake
    /// named without them: DuckDB needs them right to insert into a table.
    /// An object that cannot be read is left for a later open.
    fn record_missing_stats(&mut self) -> Result<(), LakeError> {
        for (file_id, key, schema) in self.catalog.files_without_stats()? {
            let Ok(readable) = self.store.readable(&key) else {
                continue;
            };
            let Ok(file) = fs::File::open(&readable.path) else {
                continue;
            };
            if let Ok(stats) = object_stats(&file, &schema) {
                self.catalog
                    .record_file_stats(file_id, Some(stats.footer_size), &stats.columns)?;
            }
        }
        Ok(())
    }

    /// The statement that attaches this lake in DuckDB (with the ducklake
    /// and sqlite or postgres extensions), read-only.
    pub fn attach_statement(&self) -> Result<String, LakeError> {
        let recorded = self.catalog.info()?.data_path;
        let data_path = data_path_of(&self.store_url.clone().absolute());
        let target = quote_literal(&format!("ducklake:{}", self.location.ducklake_target()));
        Ok(if recorded == data_path {
            format!("ATTACH {target} AS lake (READ_ONLY);")
        } else {
            format!(
                "ATTACH {target} AS lake (DATA_PATH {}, OVERRIDE_DATA_PATH true, READ_ONLY);",
                quote_literal(&data_path)
            )
        })
    }

    /// Facts about the home: catalog, store, snapshots, sizes.
    pub fn info(&self) -> Result<HomeInfo, LakeError> {
        let catalog = self.catalog.info()?;
        let datasets = self.summaries()?;
        Ok(HomeInfo {
            home: self.home.display().to_string(),
            catalog: self.location.display(),
            catalog_bytes: self.location.local_bytes(),
            store: self.store_url.to_string(),
            ducklake_version: catalog.ducklake_version.clone(),
            data_path: catalog.data_path.clone(),
            snapshot: catalog.snapshot,
            snapshots: catalog.snapshots,
            datasets: catalog.datasets,
            rows: datasets.iter().map(|d| d.rows).sum(),
            bytes: datasets.iter().map(|d| d.bytes).sum(),
            attach: self.attach_statement()?,
        })
    }

    /// Removes a dataset from the present; returns the snapshot that did.
    pub fn remove(&mut self, name: &str) -> Result<SnapshotId, LakeError> {
        Ok(self.catalog.remove(name)?)
    }

    /// A new snapshot in which `name` has the data (and schema) it had at
    /// snapshot `to`: the same objects, no copy.
    pub fn restore(&mut self, name: &str, to: SnapshotId) -> Result<Committed, LakeError> {
        Ok(self.catalog.restore(name, to)?)
    }

    /// The snapshots, newest first; only those of `name` if given.
    pub fn log(&self, name: Option<&str>) -> Result<Vec<LogEntry>, LakeError> {
        Ok(self.catalog.log(name)?)
    }

    /// The snapshot a user's `--at` names: an id or a time.
    pub fn resolve_snapshot(&self, spec: &str) -> Result<SnapshotId, LakeError> {
        Ok(self.catalog.resolve_snapshot(spec)?)
    }

    /// Where the catalog lives.
    pub fn catalog_location(&self) -> &CatalogLocation {
        &self.location
    }

    /// Where the objects live.
    pub fn store_url(&self) -> &StoreUrl {
        &self.store_url
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The object store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A directory for scratch files (spooled standard input).
    pub fn tmp_dir(&self) -> PathBuf {
        self.home.join(TMP_DIR)
    }

    /// Ingests a CSV source as a new version of a dataset: infer, write the
    /// Parquet object, make it durable, then commit the catalog. Counted in
    /// the metrics by status, with the input's bytes.
    pub fn ingest(
        &mut self,
        source: &Source,
        req: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<IngestReport, LakeError> {
        let result = self.ingest_uncounted(source, req, progress);
        let m = crate::metrics::metrics();
        let (dataset, status) = match &result {
            Ok(report) => {
                m.bytes_ingested.inc_by(source.len());
                (report.name.as_str(), report.status.as_str())
            }
            Err(_) => (req.name.as_deref().unwrap_or_default(), "failed"),
        };
        m.ingests.with_label_values(&[status]).inc();
        tracing::info!(dataset, status, "ingest");
        result
    }

    fn ingest_uncounted(
        &mut self,
        source: &Source,
        req: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<IngestReport, LakeError> {
        let name = match &req.name {
            Some(name) => name.clone(),
            None => default_name(source)?,
        };
        schema::check_name(&name).map_err(|reason| LakeError::InvalidName {
            name: name.clone(),
            reason,
        })?;
        let reading = Reading::of(
            source,
            &req.dialect,
            req.types.clone(),
            default_delimiter(source.path()),
        )?;
        let rejects_name = format!("{name}_rejects");
        if req.dialect.rejects {
            schema::check_name(&rejects_name).map_err(|reason| LakeError::InvalidName {
                name: rejects_name.clone(),
                reason,
            })?;
        }
        let out = |store: &Store| -> Result<_, LakeError> {
            Ok(std::io::BufWriter::with_capacity(
                1 << 20,
                store.temp_file()?,
            ))
        };
        // One pass where the input allows, else two: the schema from every
        // row, then the object. A schema the mode does not accept is refused
        // before anything is published (and checked again in the commit,
        // which decides).
        let (mut scan, mut written, (name, dataset_id)) =
            match reading.convert(source, out(&self.store)?, progress)? {
                Some((scan, written)) => {
                    let named = self.name_and_id(&name, &scan.schema, req.mode, req.evolve)?;
                    (scan, written, named)
                }
                None => {
                    let scan = reading.scan(source, progress)?;
                    let named = self.name_and_id(&name, &scan.schema, req.mode, req.evolve)?;
                    let written =
                        reading.write_parquet(source, &scan, out(&self.store)?, progress)?;
                    (scan, written, named)
                }
            };
        // Columns the file holds in a narrower type than the dataset's
        // (BIGINT in a DOUBLE column, anything in a VARCHAR one) are written
        // in the dataset's type, read again from the text: engines other
        // than DuckDB expect a file's types to be its table's.
        if req.evolve && !matches!(reading, Reading::Parquet) {
            let wider = self.wider_types(&name, &scan.schema, req.mode);
            if !wider.is_empty() {
                for (i, t) in wider {
                    scan.schema.columns[i].column_type = t;
                }
                written = reading.write_parquet(source, &scan, out(&self.store)?, progress)?;
            }
        }
        let mut report = self.record(
            &name,
            &dataset_id,
            &scan.schema,
            written,
            req.mode,
            req.evolve,
        )?;
        // The rows set aside, as their own dataset: written when there are
        // any, and emptied when a run has none.
        if req.dialect.rejects
            && (!scan.rejects.is_empty() || self.catalog.dataset(&rejects_name).is_ok())
        {
            let schema = rejects_schema();
            let (rejects_name, id) =
                self.name_and_id(&rejects_name, &schema, WriteMode::Replace, false)?;
            let written = write_rejects(&scan.rejects, out(&self.store)?)?;
            self.record(
                &rejects_name,
                &id,
                &schema,
                written,
                WriteMode::Replace,
                false,
            )?;
            report.rejects_dataset = Some(rejects_name);
        }
        report.rejects = scan.rejects.len() as u64;
        Ok(report)
    }

    /// The columns of `file` (by position) whose type the dataset `name`
    /// holds wider, with that type; none for a new dataset or a replace.
    fn wider_types(
        &self,
        name: &str,
        file: &Schema,
        mode: WriteMode,
    ) -> Vec<(usize, schema::ColumnType)> {
        let current = match self.catalog.dataset(name) {
            Ok(ds) if mode != WriteMode::Replace => ds.current.schema(),
            _ => return Vec::new(),
        };
        let Ok(current) = current else {
            return Vec::new();
        };
        file.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let t = &current
                    .columns
                    .iter()
                    .find(|d| d.name == c.name)?
                    .column_type;
                (!t.is_nested() && schema::widens(&c.column_type, t)).then(|| (i, t.clone()))
            })
            .collect()
    }

    /// The dataset's name as the catalog spells it and its id (new ones
    /// for a new dataset), refusing a schema change the mode does not
    /// accept before anything is written (the commit checks again, and
    /// decides).
    fn name_and_id(
        &self,
        name: &str,
        schema: &Schema,
        mode: WriteMode,
        evolve: bool,
    ) -> Result<(String, String), LakeError> {
        match self.catalog.dataset(name) {
            Ok(ds) => {
                if let Some(err) = refused_change(&ds.name, &ds.current, schema, mode, evolve) {
                    return Err(err.into());
                }
                Ok((ds.name, ds.dataset_id))
            }
            Err(CatalogError::NotFound { .. }) => {
                Ok((name.to_owned(), schema::dataset_id(name).to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes a Parquet object just written to a temporary file and
    /// commits it as a new version of `name`.
    fn record(
        &mut self,
        name: &str,
        dataset_id: &str,
        schema: &Schema,
        (written, tmp): (Written, std::io::BufWriter<tempfile::NamedTempFile>),
        mode: WriteMode,
        evolve: bool,
    ) -> Result<IngestReport, LakeError> {
        let tmp = tmp
            .into_inner()
            .map_err(|e| ConvertError::Write(e.into_error()))?;
        let prefix = self.catalog.object_prefix(name)?;
        let object = self.stage(&prefix, schema, &written, tmp)?;
        let key = object.object.key.clone();
        // The commit checks, under the catalog's write lock, that the object
        // is still there.
        let store = &self.store;
        let present = || store.exists(&key).unwrap_or(false);
        let committed = self.catalog.commit(&Commit {
            name,
            dataset_id,
            schema,
            object,
            mode,
            evolve,
            object_present: Some(&present),
        });
        let _ = self.catalog.unpend(&key);
        let committed = committed?;
        Ok(IngestReport {
            name: committed.name,
            dataset_id: dataset_id.to_owned(),
            version: committed.version.version,
            snapshot: committed.version.snapshot,
            rows: written.rows,
            bytes: written.bytes,
            key,
            fingerprint: committed.version.fingerprint,
            status: committed.status,
            evolved: committed.plan,
            rejects: 0,
            rejects_dataset: None,
        })
    }

    /// Makes an object just written to `file` (of `schema`) ready for a
    /// commit: announced to gc first, then published under `prefix` unless
    /// the same bytes are there already, with the statistics DuckDB prunes
    /// files by. The caller ends the announcement ([`Catalog::unpend`]) once
    /// its commit is done.
    fn stage(
        &mut self,
        prefix: &str,
        schema: &Schema,
        written: &Written,
        file: tempfile::NamedTempFile,
    ) -> Result<NewObject, LakeError> {
        let stats = object_stats(file.as_file(), schema).ok();
        let key = format!("{prefix}{}.parquet", written.sha256);
        self.catalog.pend(&key)?;
        let published = match self.store.exists(&key) {
            Ok(true) => Ok(()),
            Ok(false) => self.store.publish(&key, file),
            Err(e) => Err(e),
        };
        if let Err(e) = published {
            let _ = self.catalog.unpend(&key);
            return Err(e.into());
        }
        Ok(NewObject {
            object: ObjectRef {
                key,
                rows: written.rows,
                bytes: written.bytes,
            },
            sha256: written.sha256.clone(),
            footer_size: stats.as_ref().map(|s| s.footer_size),
            stats: stats.map(|s| s.columns).unwrap_or_default(),
        })
    }

    /// One summary per dataset, by name: what `lake ls` and the catalog list
    /// route show.
    pub fn summaries(&self) -> Result<Vec<DatasetSummary>, LakeError> {
        Ok(self
            .catalog
            .list()?
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
        let ds = self.catalog.dataset(name)?;
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

    /// The columns and local files of a dataset's view, or why it cannot be
    /// read.
    fn view_of(
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

/// Facts about a lake home, for `lake info`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HomeInfo {
    pub home: String,
    pub catalog: String,
    pub catalog_bytes: u64,
    pub store: String,
    pub ducklake_version: String,
    pub data_path: String,
    pub snapshot: SnapshotId,
    pub snapshots: u64,
    pub datasets: u64,
    pub rows: u64,
    pub bytes: u64,
    pub attach: String,
}

/// Refuses a local store that holds the home (the catalog, its WAL and the
/// cache would be objects), or that sits inside the home anywhere but in
/// its own `store/` folder.
pub fn check_store_outside_home(root: &Path, home: &Path) -> Result<(), LakeError> {
    let resolve = |p: &Path| {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        // Symbolic links count: resolve the part that exists.
        let mut existing = p.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => return p.clone(),
            }
        }
        let mut resolved = existing
            .canonicalize()
            .unwrap_or_else(|_| existing.to_owned());
        resolved.extend(rest.iter().rev());
        resolved
    };
    let (root, home) = (resolve(root), resolve(home));
    let holds_home = home.starts_with(&root);
    let inside_home = root.starts_with(&home) && !root.starts_with(home.join(DEFAULT_STORE));
    if holds_home || inside_home {
        return Err(LakeError::StoreHoldsHome {
            store: root.display().to_string(),
            home: home.display().to_string(),
        });
    }
    Ok(())
}

/// DuckLake's data path for a store: its URL with a trailing `/`.
fn data_path_of(url: &StoreUrl) -> String {
    let s = url.to_string();
    if s.ends_with('/') { s } else { format!("{s}/") }
}

/// The dataset name a source gets by default: its file stem, without
/// `.gz` and the CSV extension.
pub fn default_name(source: &Source) -> Result<String, LakeError> {
    let path = source
        .path()
        .ok_or_else(|| LakeError::Usage("reading standard input needs --name".to_owned()))?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(name_for_file(&file))
}

/// The dataset name for a file name: `Sales 2024.csv.gz` is `sales_2024`.
pub fn name_for_file(file: &str) -> String {
    let file = file.rsplit('/').next().unwrap_or(file);
    let mut stem = [".gz", ".zst", ".zstd"]
        .into_iter()
        .find_map(|ext| file.strip_suffix(ext))
        .unwrap_or(file);
    for ext in [
        ".csv", ".tsv", ".tab", ".txt", ".jsonl", ".ndjson", ".json", ".parquet",
    ] {
        if let Some(s) = stem.strip_suffix(ext) {
            stem = s;
            break;
        }
    }
    schema::name_from_stem(stem)
}

/// The delimiter a file name implies: tab for `.tsv` and `.tab`, else comma.
pub fn default_delimiter(path: Option<&Path>) -> u8 {
    let name = path
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".tsv") || name.ends_with(".tab") {
        b'\t'
    } else {
        b','
    }
}
