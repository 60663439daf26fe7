//! The object store: a local directory today, behind one type so that the
//! rest of the library never asks where an object lives.

pub mod key;
mod local;

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use key::KeyError;
pub use local::LocalStore;

/// Errors from the object store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("key not found: {key}")]
    NotFound { key: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{action} {key}")]
    Io {
        action: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unsupported store URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
}

/// Where a lake keeps its objects, as recorded in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A directory on this machine.
    Local(PathBuf),
}

impl StoreUrl {
    /// Parses `file:///path`, or a plain path.
    pub fn parse(url: &str) -> Result<StoreUrl, StoreError> {
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(StoreUrl::Local(PathBuf::from(path)));
        }
        if url.contains("://") {
            return Err(StoreError::BadUrl {
                url: url.to_owned(),
                reason: "only local directories are supported so far".into(),
            });
        }
        if url.is_empty() {
            return Err(StoreError::BadUrl {
                url: url.to_owned(),
                reason: "empty".into(),
            });
        }
        Ok(StoreUrl::Local(PathBuf::from(url)))
    }
}

impl StoreUrl {
    /// A relative local path made absolute against the current directory.
    pub fn absolute(self) -> StoreUrl {
        match self {
            StoreUrl::Local(p) => StoreUrl::Local(std::path::absolute(&p).unwrap_or(p)),
        }
    }

    /// A relative local path resolved against `base` (the lake home).
    pub fn relative_to(self, base: &Path) -> StoreUrl {
        match self {
            StoreUrl::Local(p) => StoreUrl::Local(base.join(p)),
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// An object store.
#[derive(Debug)]
pub enum Store {
    Local(LocalStore),
}

impl Store {
    /// Opens the store a URL names, creating a local directory if needed.
    pub fn open(url: &StoreUrl) -> Result<Store, StoreError> {
        match url {
            StoreUrl::Local(path) => Ok(Store::Local(LocalStore::open(path)?)),
        }
    }

    /// A new temporary file on the store's own file system, for an object
    /// being built (ingest writes Parquet here, then calls [`Store::publish`]).
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        match self {
            Store::Local(s) => s.temp_file(),
        }
    }

    /// Makes a finished temporary file durable and visible under `key`.
    /// The key is not checked against the catalog's prefix: the caller owns it.
    pub fn publish(&self, key: &str, file: tempfile::NamedTempFile) -> Result<(), StoreError> {
        key::validate(key)?;
        match self {
            Store::Local(s) => s.publish(key, file),
        }
    }

    /// Streams `reader` into the object `key`; returns the bytes written.
    /// The object appears whole or not at all.
    pub fn put(&self, key: &str, reader: &mut dyn Read) -> Result<u64, StoreError> {
        key::validate_writable(key)?;
        match self {
            Store::Local(s) => s.put(key, reader),
        }
    }

    /// Opens the object `key` for streaming.
    pub fn get(&self, key: &str) -> Result<Box<dyn Read + Send>, StoreError> {
        key::validate(key)?;
        match self {
            Store::Local(s) => s.get(key),
        }
    }

    /// Whether the object `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        key::validate(key)?;
        match self {
            Store::Local(s) => s.exists(key),
        }
    }

    /// Deletes the object `key`; a missing key is [`StoreError::NotFound`].
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        key::validate_writable(key)?;
        match self {
            Store::Local(s) => s.delete(key),
        }
    }

    /// Lists keys that start with `prefix`, in key order, after `start_after`,
    /// at most `limit` of them.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        match self {
            Store::Local(s) => s.list(prefix, start_after, limit),
        }
    }

    /// A path DuckDB can read the object from.
    pub fn readable_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        key::validate(key)?;
        match self {
            Store::Local(s) => Ok(s.path_of(key)),
        }
    }

    /// The store's root directory, when it is local.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Store::Local(s) => Some(s.root()),
        }
    }
}
