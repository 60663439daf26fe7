//! A lake home opened: its catalog, its store, and where the catalog lives.
//! `Lake` is the one handle the CLI and the server share; its operations
//! live beside it, one file per kind: `ingest` (a file in), `read` (what
//! the lake holds, views and queries), `history` (snapshots, restore,
//! remove), and the maintenance of `gc`, `compact` and `doctor`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::{Catalog, SnapshotId};
use crate::ingest::writer::stats::object_stats;
use crate::query::quote_literal;
use crate::store::{Store, StoreOptions, StoreUrl};

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

mod catalog_location;
mod compact;
mod doctor;
mod error;
mod gc;
mod history;
mod index;
mod ingest;
mod leases;
mod migrate;
mod read;

pub use catalog_location::{CATALOG_URL_FILE, CatalogLocation};
pub use compact::{CompactReport, DEFAULT_TARGET};
pub use doctor::DoctorReport;
pub use error::{ErrorClass, LakeError};
pub use gc::{GcOptions, GcReport, parse_duration};
pub use index::IndexReport;
pub use ingest::{IngestReport, IngestRequest, default_delimiter, default_name, name_for_file};
pub use leases::SnapshotHold;
pub use migrate::Migration;
pub use read::DatasetSummary;

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

    /// Records the statistics of objects a catalog from before DuckLake
    /// named without them: DuckDB needs them right to insert into a table.
    /// An object that cannot be read is left for a later open.
    pub(super) fn record_missing_stats(&mut self) -> Result<(), LakeError> {
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
