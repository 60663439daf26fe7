//! A lake home opened: its catalog and its store, and the operations that the
//! CLI and the server share.

use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use thiserror::Error;

use crate::catalog::{
    Catalog, CatalogError, Commit, CommitStatus, ObjectRef, WriteMode, refused_change,
};
use crate::engine::convert::{self, ConvertError, CsvOptions, Progress};
use crate::engine::query::{QueryEngine, QueryError, referenced_names};
use crate::engine::source::Source;
use crate::schema;
use crate::store::{KeyError, Store, StoreError, StoreOptions, StoreUrl};

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
    #[error("this lake already uses the store {current}; it cannot be changed to {requested}")]
    StoreChange { current: String, requested: String },
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
        CatalogError::NotFound { .. } => ErrorClass::NotFound,
        CatalogError::SchemaConflict { .. } => ErrorClass::Conflict,
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
        ConvertError::SchemaOverride(_) => ErrorClass::Usage,
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
            LakeError::InvalidName { .. } | LakeError::Usage(_) | LakeError::StoreChange { .. } => {
                ErrorClass::Usage
            }
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
    pub csv: CsvOptions,
}

/// What an ingest did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub name: String,
    pub dataset_id: String,
    pub version: u64,
    /// Rows in the ingested file.
    pub rows: u64,
    /// Bytes of the Parquet object.
    pub bytes: u64,
    pub key: String,
    pub fingerprint: String,
    pub status: CommitStatus,
}

/// How to open a lake.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The store to record for a new lake (and to check an old one against).
    pub store: Option<String>,
    /// The bound of the local cache of a remote store's objects.
    pub cache_max: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            store: None,
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

/// An open lake home.
pub struct Lake {
    home: PathBuf,
    catalog: Catalog,
    store: Store,
    store_url: StoreUrl,
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
        fs::create_dir_all(home.join(TMP_DIR)).map_err(home_err)?;
        let mut catalog = Catalog::open(&home.join(CATALOG_FILE))?;
        // The default store is recorded relative to the home, so a home can
        // be moved; a store given on the command line is made absolute.
        let requested = store
            .map(|s| StoreUrl::parse(s).map(|url| url.absolute()))
            .transpose()?;
        let wanted = requested
            .as_ref()
            .map_or_else(|| DEFAULT_STORE.to_owned(), |url| url.to_string());
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
        let store = Store::open(
            &url,
            &StoreOptions {
                tmp_dir: home.join(TMP_DIR),
                cache_dir: home.join(CACHE_DIR),
                cache_max: opts.cache_max,
            },
        )?;
        Ok(Lake {
            home: home.to_owned(),
            catalog,
            store,
            store_url: url,
        })
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
    /// Parquet object, make it durable, then commit the catalog.
    pub fn ingest(
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
        let scan = convert::scan(source, &req.csv, progress)?;
        // The catalog spells the name; a conflict is refused before anything
        // is written (and checked again in the commit, which decides).
        let (name, dataset_id) = match self.catalog.dataset(&name) {
            Ok(ds) => {
                if let Some(diff) = refused_change(&ds.current, &scan.schema, req.mode) {
                    return Err(CatalogError::SchemaConflict {
                        name: ds.name,
                        diff,
                    }
                    .into());
                }
                (ds.name, ds.dataset_id)
            }
            Err(CatalogError::NotFound { .. }) => {
                let id = schema::dataset_id(&name).to_string();
                (name, id)
            }
            Err(e) => return Err(e.into()),
        };
        let tmp = self.store.temp_file()?;
        let (written, tmp) = convert::write_parquet(
            source,
            &req.csv,
            &scan,
            std::io::BufWriter::with_capacity(1 << 20, tmp),
            progress,
        )?;
        let tmp = tmp
            .into_inner()
            .map_err(|e| ConvertError::Write(e.into_error()))?;
        let key = format!("datasets/{name}/{}.parquet", written.sha256);
        if self.store.exists(&key)? {
            drop(tmp); // the same bytes are already there
        } else {
            self.store.publish(&key, tmp)?;
        }
        let committed = self.catalog.commit(&Commit {
            name: &name,
            dataset_id: &dataset_id,
            schema: &scan.schema,
            object: ObjectRef {
                key: key.clone(),
                rows: written.rows,
                bytes: written.bytes,
            },
            mode: req.mode,
        })?;
        Ok(IngestReport {
            name: committed.name,
            dataset_id,
            version: committed.version.version,
            rows: written.rows,
            bytes: written.bytes,
            key,
            fingerprint: committed.version.fingerprint,
            status: committed.status,
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
                columns: ds.current.schema.columns.len(),
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
            .schema
            .columns
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "type": c.column_type.sql_name()}))
            .collect();
        Ok(serde_json::json!({
            "name": ds.name,
            "dataset_id": ds.dataset_id,
            "fingerprint": ds.current.fingerprint,
            "version": ds.current.version,
            "rows": ds.current.rows,
            "bytes": ds.current.bytes,
            "created_at": ds.created_at,
            "updated_at": ds.updated_at,
            "schema": schema,
            "objects": ds.current.objects,
            "versions": versions,
        }))
    }

    /// Runs one SQL statement over every dataset, handing result batches to
    /// `sink`. Only datasets the SQL names are registered; one whose objects
    /// are missing or unreadable fails only the queries that read it.
    pub fn query(
        &self,
        sql: &str,
        sink: &mut dyn FnMut(&SchemaRef, &RecordBatch) -> anyhow::Result<ControlFlow<()>>,
    ) -> Result<SchemaRef, LakeError> {
        let engine = QueryEngine::open()?;
        self.register_datasets(&engine, sql)?;
        Ok(engine.run(sql, sink)?)
    }

    /// A database locked down for untrusted SQL: it reads no file but the
    /// lake's own objects (the store, or the cache of a remote one), loads
    /// no extension, and its settings cannot change. Open it once; give each
    /// query a [`QueryEngine::connect`]ion.
    pub fn sandboxed_engine(&self) -> Result<QueryEngine, LakeError> {
        let engine = QueryEngine::open()?;
        let allowed = match self.store.local_root() {
            Some(root) => vec![root.to_owned()],
            None => vec![self.home.join(CACHE_DIR)],
        };
        engine.sandbox(&allowed)?;
        Ok(engine)
    }

    /// Runs untrusted SQL on `engine`, a fresh connection to a
    /// [`Self::sandboxed_engine`]: one SELECT, interrupted after `timeout`.
    pub fn query_read_only(
        &self,
        engine: QueryEngine,
        sql: &str,
        timeout: std::time::Duration,
        sink: &mut dyn FnMut(&SchemaRef, &RecordBatch) -> anyhow::Result<ControlFlow<()>>,
    ) -> Result<SchemaRef, LakeError> {
        self.register_datasets(&engine, sql)?;
        let interrupt = engine.interrupt_handle();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let timer = std::thread::spawn(move || {
            // Only a timeout interrupts; a finished query drops the sender.
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
                interrupt.interrupt();
            }
        });
        let result = engine.run(&crate::engine::query::read_only(sql), sink);
        drop(done_tx);
        let _ = timer.join();
        result.map_err(|e| {
            match e {
                QueryError::Sql(msg) if msg.contains("Expected a single SELECT statement") => {
                    QueryError::Sql("only one SELECT statement is allowed".to_owned())
                }
                QueryError::Sql(msg) if msg.contains("INTERRUPT") || msg.contains("nterrupted") => {
                    QueryError::Sql(format!(
                        "query took longer than {timeout:?} and was stopped"
                    ))
                }
                other => other,
            }
            .into()
        })
    }

    /// Registers, as views, the datasets `sql` may name.
    pub fn register_datasets(&self, engine: &QueryEngine, sql: &str) -> Result<(), LakeError> {
        let words = referenced_names(sql);
        let mut in_use = std::collections::HashSet::new();
        for name in self.catalog.names()? {
            if !words.contains(&name.to_lowercase()) {
                continue;
            }
            let ds = self.catalog.dataset(&name)?;
            let files: Result<Vec<PathBuf>, String> = ds
                .current
                .objects
                .iter()
                .map(|object| match self.store.readable_path(&object.key) {
                    Ok(path) => Ok(path),
                    Err(StoreError::NotFound { key }) => {
                        Err(format!("object {key} is missing from the store"))
                    }
                    Err(e) => Err(format!("object {}: {e}", object.key)),
                })
                .collect();
            let registered = files.and_then(|files| {
                in_use.extend(files.iter().cloned());
                engine.register(&ds.name, &files).map_err(|e| e.to_string())
            });
            if let Err(reason) = registered {
                engine.register_broken(&ds.name, &ds.current.schema, &reason)?;
            }
        }
        self.store.release(&in_use);
        Ok(())
    }
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
    let mut stem = file.strip_suffix(".gz").unwrap_or(file);
    for ext in [".csv", ".tsv", ".tab", ".txt"] {
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
