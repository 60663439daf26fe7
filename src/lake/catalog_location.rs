//! Where a home's catalog lives: the SQLite file in the home (the
//! default), or a PostgreSQL database that many machines share, named in
//! the home's `catalog.url` (written by `lake init --catalog`, the first
//! command run with `--catalog` / `LAKE_CATALOG`, or `lake catalog migrate`,
//! which can also name a SQLite file elsewhere: `sqlite:PATH`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CATALOG_FILE, LakeError};
use crate::catalog::{Catalog, CatalogError, postgres_libpq_words, redacted_url};

/// The file in a home that names a PostgreSQL catalog.
pub const CATALOG_URL_FILE: &str = "catalog.url";

/// Where a catalog lives.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database: its connection string (a `postgres://` URL,
    /// perhaps with a password).
    Postgres(String),
}

impl CatalogLocation {
    /// The catalog of the home at `home`. A `requested` catalog (a
    /// `postgres://` URL) must be the one the home records, if it records
    /// one ([`CatalogLocation::remember`] records it once it opened).
    pub fn resolve(home: &Path, requested: Option<&str>) -> Result<CatalogLocation, LakeError> {
        let url_file = home.join(CATALOG_URL_FILE);
        let recorded = match fs::read_to_string(&url_file) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(LakeError::Home {
                    path: url_file.display().to_string(),
                    source,
                });
            }
        };
        let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return match recorded {
                Some(url) => CatalogLocation::parse(home, &url),
                None => Ok(CatalogLocation::Sqlite(home.join(CATALOG_FILE))),
            };
        };
        if !(requested.starts_with("postgres://") || requested.starts_with("postgresql://")) {
            return Err(LakeError::Usage(format!(
                "--catalog {}: a catalog is a PostgreSQL URL like \
                 postgres://user@host:5432/db (the default is the SQLite file in the home)",
                redacted_url(requested)
            )));
        }
        match recorded {
            Some(url) if url == requested => {}
            Some(url) => {
                return Err(LakeError::CatalogChange {
                    current: redacted_url(&url),
                    requested: redacted_url(requested),
                });
            }
            None if home.join(CATALOG_FILE).exists() => {
                return Err(LakeError::CatalogChange {
                    current: home.join(CATALOG_FILE).display().to_string(),
                    requested: redacted_url(requested),
                });
            }
            None => {}
        }
        Ok(CatalogLocation::Postgres(requested.to_owned()))
    }

    /// A catalog as a user names one: `postgres://...` (or
    /// `postgresql://`), or `sqlite:PATH` (`sqlite:` alone: the home's own
    /// file).
    pub fn parse(home: &Path, text: &str) -> Result<CatalogLocation, LakeError> {
        let text = text.trim();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(CatalogLocation::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = if path.is_empty() {
                home.join(CATALOG_FILE)
            } else {
                std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path))
            };
            return Ok(CatalogLocation::Sqlite(path));
        }
        Err(LakeError::Usage(format!(
            "{}: a catalog is postgres://user@host:5432/db or sqlite:PATH",
            redacted_url(text)
        )))
    }

    /// Makes the home name this catalog from now on (`lake catalog
    /// migrate`): its `catalog.url` replaced whole, or removed for the
    /// home's own SQLite file.
    pub fn point_home_at(&self, home: &Path) -> Result<(), LakeError> {
        let path = home.join(CATALOG_URL_FILE);
        let home_err = |source| LakeError::Home {
            path: path.display().to_string(),
            source,
        };
        let text = match self {
            CatalogLocation::Sqlite(p) if *p == home.join(CATALOG_FILE) => {
                return match fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(home_err(e)),
                    _ => Ok(()),
                };
            }
            CatalogLocation::Sqlite(p) => format!("sqlite:{}", p.display()),
            CatalogLocation::Postgres(url) => url.clone(),
        };
        let aside = path.with_extension(format!("url.{}", std::process::id()));
        write_private(&aside, &text)
            .and_then(|()| fs::rename(&aside, &path))
            .map_err(|e| {
                let _ = fs::remove_file(&aside);
                home_err(e)
            })
    }

    /// Records a PostgreSQL catalog in the home, unless it is there: done
    /// once the catalog opened, so a URL that does not work is not kept.
    pub fn remember(&self, home: &Path) -> Result<(), LakeError> {
        match self {
            CatalogLocation::Postgres(url) => record(&home.join(CATALOG_URL_FILE), url),
            CatalogLocation::Sqlite(_) => Ok(()),
        }
    }

    /// Opens (creating if new) the catalog.
    pub fn open(&self) -> Result<Catalog, CatalogError> {
        match self {
            CatalogLocation::Sqlite(path) => Catalog::open(path),
            CatalogLocation::Postgres(url) => Catalog::open_postgres(url),
        }
    }

    /// Whether the catalog is shared by many machines (the data path it
    /// records must then be absolute).
    pub fn is_shared(&self) -> bool {
        matches!(self, CatalogLocation::Postgres(_))
    }

    /// The catalog as `lake info` prints it: a path, or a URL without its
    /// password.
    pub fn display(&self) -> String {
        match self {
            CatalogLocation::Sqlite(path) => path.display().to_string(),
            CatalogLocation::Postgres(url) => redacted_url(url),
        }
    }

    /// What follows `ducklake:` in DuckDB's ATTACH: `sqlite:PATH`, or
    /// `postgres:` and libpq's words without the password (DuckDB's
    /// libpq finds it in `PGPASSWORD` or the password file).
    pub fn ducklake_target(&self) -> String {
        match self {
            CatalogLocation::Sqlite(path) => format!("sqlite:{}", path.display()),
            CatalogLocation::Postgres(url) => format!("postgres:{}", postgres_libpq_words(url)),
        }
    }

    /// The bytes the catalog takes in the home (a PostgreSQL catalog takes
    /// none there).
    pub fn local_bytes(&self) -> u64 {
        match self {
            CatalogLocation::Sqlite(path) => ["", "-wal"]
                .iter()
                .filter_map(|suffix| fs::metadata(format!("{}{suffix}", path.display())).ok())
                .map(|m| m.len())
                .sum(),
            CatalogLocation::Postgres(_) => 0,
        }
    }
}

/// Writes the catalog URL into the home, readable by its owner only (it
/// may hold a password), whole or not at all: written aside, then linked
/// into place unless another process was first.
fn record(path: &Path, url: &str) -> Result<(), LakeError> {
    let home_err = |source| LakeError::Home {
        path: path.display().to_string(),
        source,
    };
    if fs::read_to_string(path).is_ok_and(|current| current.trim() == url) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(home_err)?;
    }
    let aside = path.with_extension(format!("url.{}", std::process::id()));
    let written = write_private(&aside, url).and_then(|()| fs::hard_link(&aside, path));
    let _ = fs::remove_file(&aside);
    match written {
        Ok(()) => Ok(()),
        // Another process recorded one first: it must be this one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let current = fs::read_to_string(path).map_err(home_err)?;
            if current.trim() == url {
                Ok(())
            } else {
                Err(LakeError::CatalogChange {
                    current: redacted_url(current.trim()),
                    requested: redacted_url(url),
                })
            }
        }
        Err(e) => Err(home_err(e)),
    }
}

/// Writes one line to a new file only its owner can read.
fn write_private(path: &Path, line: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{line}")?;
    file.sync_all()
}
