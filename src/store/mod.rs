//! The object store: a local directory today, behind one type so that the
//! rest of the library never asks where an object lives.

pub mod cache;
pub mod chunks;
pub mod key;
mod local;
mod s3;

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use cache::ObjectCache;
pub use key::KeyError;
pub use local::LocalStore;
pub use s3::{S3Store, redact};

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
    #[error("{action} {key}: {message}")]
    Remote {
        action: &'static str,
        key: String,
        message: String,
        /// Whether trying again can help.
        kind: RemoteKind,
    },
    #[error("cache for {key}")]
    Cache {
        key: String,
        #[source]
        source: std::io::Error,
    },
}

/// What kind of failure a remote store reported: whether trying again can
/// help decides how the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    /// Credentials missing, wrong or not allowed: permanent.
    Denied,
    /// The bucket does not exist: permanent.
    NoBucket,
    /// The store is set up wrong (a bad bucket name, a bad option).
    Config,
    /// Unreachable, timed out or throttled: trying later can help.
    Transient,
    /// Anything else the store said.
    Other,
}

/// Where a lake keeps its objects, as recorded in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A directory on this machine.
    Local(PathBuf),
    /// A bucket, and a prefix in it (no leading or trailing `/`).
    S3 { bucket: String, prefix: String },
}

impl StoreUrl {
    /// Parses `s3://bucket[/prefix]`, `file:///path`, or a plain path.
    pub fn parse(url: &str) -> Result<StoreUrl, StoreError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::BadUrl {
                    url: url.to_owned(),
                    reason: "no bucket".into(),
                });
            }
            return Ok(StoreUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(StoreUrl::Local(PathBuf::from(path)));
        }
        if url.contains("://") {
            return Err(StoreError::BadUrl {
                url: url.to_owned(),
                reason: "expected s3://bucket/prefix or a local directory".into(),
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
            s3 => s3,
        }
    }

    /// A relative local path resolved against `base` (the lake home).
    pub fn relative_to(self, base: &Path) -> StoreUrl {
        match self {
            StoreUrl::Local(p) => StoreUrl::Local(base.join(p)),
            s3 => s3,
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Local(path) => write!(f, "{}", path.display()),
            StoreUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// When the object was last written, if the store says.
    pub modified: Option<std::time::SystemTime>,
}

/// A temporary file untouched this long belongs to a process that is gone
/// (one being written or read is newer).
pub const STALE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether a file was last changed longer than [`STALE`] ago.
pub fn is_stale(meta: &std::fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE)
}

/// Removes the stale files of a temporary folder: what killed processes
/// left behind.
pub fn sweep_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.metadata().is_ok_and(|m| m.is_file() && is_stale(&m)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Where a remote store keeps local files.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Scratch files (objects being built before upload).
    pub tmp_dir: PathBuf,
    /// The object cache.
    pub cache_dir: PathBuf,
    /// The cache's size bound in bytes.
    pub cache_max: u64,
}

/// An object store.
#[derive(Debug)]
pub enum Store {
    Local(LocalStore),
    S3 {
        s3: S3Store,
        cache: ObjectCache,
        tmp_dir: PathBuf,
    },
}

impl Store {
    /// Opens the store a URL names, creating a local directory if needed.
    /// Nothing is sent to a remote store yet.
    pub fn open(url: &StoreUrl, opts: &StoreOptions) -> Result<Store, StoreError> {
        match url {
            StoreUrl::Local(path) => Ok(Store::Local(LocalStore::open(path)?)),
            StoreUrl::S3 { bucket, prefix } => Ok(Store::S3 {
                s3: S3Store::open(bucket, prefix)?,
                cache: ObjectCache::new(opts.cache_dir.clone(), opts.cache_max),
                tmp_dir: opts.tmp_dir.clone(),
            }),
        }
    }

    /// A new temporary file for an object being built (ingest writes Parquet
    /// here, then calls [`Store::publish`]).
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        match self {
            Store::Local(s) => s.temp_file(),
            Store::S3 { tmp_dir, .. } => {
                tempfile::NamedTempFile::new_in(tmp_dir).map_err(|source| StoreError::Io {
                    action: "creating temporary file in",
                    key: tmp_dir.display().to_string(),
                    source,
                })
            }
        }
    }

    /// Makes a finished temporary file durable and visible under `key`.
    /// The key is not checked against the catalog's prefix: the caller owns it.
    /// On S3 a content-addressed object also enters the cache.
    pub fn publish(&self, key: &str, file: tempfile::NamedTempFile) -> Result<(), StoreError> {
        key::validate(key)?;
        counted("put", file.as_file().metadata().map_or(0, |m| m.len()));
        match self {
            Store::Local(s) => s.publish(key, file),
            Store::S3 { s3, cache, .. } => {
                let mut reader = file.reopen().map_err(|source| StoreError::Io {
                    action: "reading",
                    key: key.to_owned(),
                    source,
                })?;
                s3.put(key, &mut reader)?;
                if let Some(hash) = cache::content_hash(key) {
                    // Best effort: the object is already safe in the bucket.
                    let _ = cache.insert(hash, file);
                }
                Ok(())
            }
        }
    }

    /// Streams `reader` into the object `key`; returns the bytes written.
    /// The object appears whole or not at all.
    pub fn put(&self, key: &str, reader: &mut dyn Read) -> Result<u64, StoreError> {
        key::validate_writable(key)?;
        let written = match self {
            Store::Local(s) => s.put(key, reader),
            Store::S3 { s3, .. } => s3.put(key, reader),
        }?;
        counted("put", written);
        Ok(written)
    }

    /// Opens the object `key` for streaming.
    pub fn get(&self, key: &str) -> Result<Box<dyn Read + Send>, StoreError> {
        key::validate(key)?;
        counted("get", 0);
        let reader = match self {
            Store::Local(s) => s.get(key),
            Store::S3 { s3, .. } => s3.get(key),
        }?;
        Ok(Box::new(CountedRead::new(reader)))
    }

    /// Whether the object `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        key::validate(key)?;
        counted("head", 0);
        match self {
            Store::Local(s) => s.exists(key),
            Store::S3 { s3, .. } => s3.exists(key),
        }
    }

    /// Deletes the object `key`; a missing key is [`StoreError::NotFound`].
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        key::validate_writable(key)?;
        counted("delete", 0);
        match self {
            Store::Local(s) => s.delete(key),
            Store::S3 { s3, .. } => s3.delete(key),
        }
    }

    /// Deletes objects of datasets (keys under `datasets/`) that no kept
    /// snapshot names: the garbage collector's, in batches on S3. A key
    /// already gone is no error.
    pub fn delete_dataset_objects(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            key::validate(key)?;
            if !key.starts_with(key::DATASETS_PREFIX) {
                return Err(KeyError::Reserved { key: key.clone() }.into());
            }
        }
        crate::metrics::metrics()
            .store_operations
            .with_label_values(&["delete"])
            .inc_by(keys.len() as u64);
        match self {
            Store::Local(s) => s.delete_all(keys),
            Store::S3 { s3, .. } => s3.delete_all(keys),
        }
    }

    /// Lists keys that start with `prefix`, in key order, after `start_after`,
    /// at most `limit` of them. The store pages: a page costs about its size.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        counted("list", 0);
        match self {
            Store::Local(s) => s.list(prefix, start_after, limit),
            Store::S3 { s3, .. } => s3.list(prefix, start_after, limit),
        }
    }

    /// A local file DuckDB can read the object from: the object itself on a
    /// local store, a verified cached copy of a remote one (fetched when
    /// missing), which no process evicts while the answer lives. A missing
    /// object is [`StoreError::NotFound`].
    pub fn readable(&self, key: &str) -> Result<Readable, StoreError> {
        key::validate(key)?;
        match self {
            Store::Local(s) => {
                if !s.exists(key)? {
                    return Err(StoreError::NotFound {
                        key: key.to_owned(),
                    });
                }
                Ok(Readable {
                    path: s.path_of(key),
                    _pin: None,
                })
            }
            Store::S3 { s3, cache, .. } => {
                let cache_err = |source| StoreError::Cache {
                    key: key.to_owned(),
                    source,
                };
                let hash = cache::content_hash(key).ok_or_else(|| {
                    cache_err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "only content-addressed objects are cached",
                    ))
                })?;
                let pin = cache.pin(hash).map_err(cache_err)?;
                let path = match cache.lookup(hash) {
                    Some(path) => path,
                    None => {
                        // One request: a missing object is NotFound from the GET.
                        counted("get", 0);
                        let mut reader = CountedRead::new(s3.get(key)?);
                        cache
                            .fill(hash, |out| std::io::copy(&mut reader, out).map(|_| ()))
                            .map_err(cache_err)?
                    }
                };
                Ok(Readable {
                    path,
                    _pin: Some(pin),
                })
            }
        }
    }

    /// The root folder of a local store.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Store::Local(s) => Some(s.root()),
            Store::S3 { .. } => None,
        }
    }

    /// Trims the cache to its bound, keeping every copy some process has
    /// pinned with a [`Readable`].
    pub fn trim(&self) {
        if let Store::S3 { cache, .. } = self {
            cache.evict();
        }
    }
}

/// A local file an object can be read from, kept while this lives.
#[derive(Debug)]
pub struct Readable {
    pub path: PathBuf,
    _pin: Option<cache::Pin>,
}

/// Counts one store operation and the bytes it moved.
fn counted(operation: &str, bytes: u64) {
    let m = crate::metrics::metrics();
    m.store_operations.with_label_values(&[operation]).inc();
    if bytes > 0 {
        m.store_bytes.with_label_values(&[operation]).inc_by(bytes);
    }
}

/// An object being read, counting its bytes as `get`'s.
struct CountedRead<R>(R, prometheus::IntCounter);

impl<R> CountedRead<R> {
    fn new(reader: R) -> CountedRead<R> {
        let bytes = crate::metrics::metrics()
            .store_bytes
            .with_label_values(&["get"]);
        CountedRead(reader, bytes)
    }
}

impl<R: Read> Read for CountedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.inc_by(n as u64);
        Ok(n)
    }
}
