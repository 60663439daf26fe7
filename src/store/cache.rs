//! A local cache of dataset objects fetched from a remote store.
//!
//! Dataset objects are immutable and named by the SHA-256 of their bytes, so
//! a cached copy is always correct once its hash checks. A copy is hashed when
//! it arrives; a small marker beside it records the file's length and
//! modification time at that moment, and its own modification time is the
//! last use, which decides what is evicted first when the cache is over its
//! size.
//!
//! One cache serves every process of a home. A copy in use is pinned: a
//! shared lock on its `.lock` file, which eviction (an exclusive lock, never
//! waited for) respects and which dies with its process. Temporary files of
//! downloads that a killed process left are swept, and the bound counts
//! every file in the folder.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

const DATA_EXT: &str = "parquet";
const MARK_EXT: &str = "ok";
const LOCK_EXT: &str = "lock";

/// A cached copy kept from eviction, by every process, while this lives.
#[derive(Debug)]
pub struct Pin {
    _lock: File,
}

/// The default size bound: 2 GiB.
pub const DEFAULT_CACHE_MAX: u64 = 2 << 30;

/// A cache directory with a size bound.
#[derive(Debug)]
pub struct ObjectCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// The SHA-256 a content-addressed key names: `.../<64 hex>.parquet`.
/// The name ending of a vector index object (`<sha256>.hnsw`).
pub const VECTOR_INDEX_SUFFIX: &str = ".hnsw";

pub fn content_hash(key: &str) -> Option<&str> {
    let file = key.rsplit('/').next()?;
    let hash = file
        .strip_suffix(".parquet")
        .or_else(|| file.strip_suffix(VECTOR_INDEX_SUFFIX))?;
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
}

fn stamp(meta: &fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} {mtime}", meta.len())
}

/// SHA-256 (hex) of a file.
pub fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

impl ObjectCache {
    /// A cache in `dir` holding at most `max_bytes` (more only while one
    /// query needs more).
    pub fn new(dir: PathBuf, max_bytes: u64) -> ObjectCache {
        ObjectCache { dir, max_bytes }
    }

    fn data_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.{DATA_EXT}"))
    }

    fn mark_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.{MARK_EXT}"))
    }

    fn lock_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.{LOCK_EXT}"))
    }

    /// Keeps the copy of `hash` (present or still to be fetched) from
    /// eviction by any process until the pin is dropped. Pin first, then
    /// look up: eviction cannot slip in between.
    pub fn pin(&self, hash: &str) -> io::Result<Pin> {
        use std::os::unix::fs::MetadataExt;
        fs::create_dir_all(&self.dir)?;
        let path = self.lock_path(hash);
        loop {
            let lock = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            lock.lock_shared()?;
            // An eviction may have removed this lock file between our open
            // and our lock: then the pin holds nothing; take the new one.
            let held = lock.metadata()?;
            if fs::metadata(&path)
                .is_ok_and(|now| now.ino() == held.ino() && now.dev() == held.dev())
            {
                return Ok(Pin { _lock: lock });
            }
        }
    }

    /// The cached copy of the object with this hash, if present and intact;
    /// marks it used. A copy changed since it was verified is hashed again
    /// and dropped if wrong.
    pub fn lookup(&self, hash: &str) -> Option<PathBuf> {
        let found = self.find(hash);
        let m = crate::metrics::metrics();
        let counter = if found.is_some() {
            &m.cache_hits
        } else {
            &m.cache_misses
        };
        counter
            .with_label_values(&[crate::metrics::OBJECT_CACHE])
            .inc();
        found
    }

    fn find(&self, hash: &str) -> Option<PathBuf> {
        let data = self.data_path(hash);
        let mark = self.mark_path(hash);
        let meta = fs::metadata(&data).ok()?;
        let verified = fs::read_to_string(&mark)
            .ok()
            .is_some_and(|m| m == stamp(&meta));
        if !verified {
            if hash_file(&data).ok().as_deref() != Some(hash) {
                let _ = fs::remove_file(&data);
                let _ = fs::remove_file(&mark);
                return None;
            }
            fs::write(&mark, stamp(&meta)).ok()?;
        }
        // Last use, for eviction.
        let _ = File::options()
            .write(true)
            .open(&mark)
            .and_then(|f| f.set_modified(SystemTime::now()));
        Some(data)
    }

    /// Adds a file whose hash the caller has checked, moving it in.
    pub fn insert(&self, hash: &str, file: tempfile::NamedTempFile) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.dir)?;
        let data = self.data_path(hash);
        file.persist(&data).map_err(|e| e.error)?;
        let meta = fs::metadata(&data)?;
        fs::write(self.mark_path(hash), stamp(&meta))?;
        Ok(data)
    }

    /// A temporary file in the cache directory, for a download.
    pub fn temp_file(&self) -> io::Result<tempfile::NamedTempFile> {
        fs::create_dir_all(&self.dir)?;
        tempfile::NamedTempFile::new_in(&self.dir)
    }

    /// Downloads into the cache: `fetch` writes the object's bytes; they
    /// must hash to `hash`.
    pub fn fill(
        &self,
        hash: &str,
        fetch: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<PathBuf> {
        let mut tmp = self.temp_file()?;
        let mut hashing = crate::hashing::HashingWriter::new(io::BufWriter::new(tmp.as_file_mut()));
        fetch(&mut hashing)?;
        let (got, _, _) = hashing.finish()?;
        if got != hash {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("downloaded bytes hash to {got}, not {hash}"),
            ));
        }
        self.insert(hash, tmp)
    }

    /// Evicts least recently used copies until the cache fits its bound,
    /// counting every file in the folder; never a copy some process has
    /// pinned. Temporary files of processes that are gone go first.
    pub fn evict(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut total = 0u64;
        let mut copies: Vec<(SystemTime, u64, String)> = Vec::new();
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let hash = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if ![DATA_EXT, MARK_EXT, LOCK_EXT].contains(&ext) {
                // A download's temporary file: swept once its writer is gone.
                if super::is_stale(&meta) && fs::remove_file(&path).is_ok() {
                    continue;
                }
            } else if ext == DATA_EXT {
                let used = fs::metadata(self.mark_path(hash))
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                copies.push((used, meta.len(), hash.to_owned()));
            }
            total += meta.len();
        }
        copies.sort();
        let m = crate::metrics::metrics();
        for (_, size, hash) in copies {
            if total <= self.max_bytes {
                break;
            }
            if self.remove_unpinned(&hash) {
                total = total.saturating_sub(size);
                m.cache_evictions
                    .with_label_values(&[crate::metrics::OBJECT_CACHE])
                    .inc();
            }
        }
        m.cache_bytes
            .with_label_values(&[crate::metrics::OBJECT_CACHE])
            .set(i64::try_from(total).unwrap_or(i64::MAX));
    }

    /// Removes a copy unless a process holds a pin on it.
    fn remove_unpinned(&self, hash: &str) -> bool {
        let lock_path = self.lock_path(hash);
        let Ok(lock) = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        else {
            return false;
        };
        if lock.try_lock().is_err() {
            return false; // in use
        }
        let removed = fs::remove_file(self.data_path(hash)).is_ok();
        let _ = fs::remove_file(self.mark_path(hash));
        // Still under our lock: a pinner that opened this file retries.
        let _ = fs::remove_file(&lock_path);
        removed
    }
}

/// Parses a size: `500000`, `100MiB`, `2GiB`, `1G`, `64k`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    Ok((num * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn content_hashes() {
        let h = "a".repeat(64);
        assert_eq!(
            content_hash(&format!("datasets/x/{h}.parquet")),
            Some(h.as_str())
        );
        assert_eq!(content_hash("datasets/x/short.parquet"), None);
        assert_eq!(content_hash("notes/a.txt"), None);
    }

    #[test]
    fn fill_lookup_corruption_and_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ObjectCache::new(dir.path().to_owned(), 10);
        let body = b"0123456789";
        let hash = hex::encode(Sha256::digest(body));
        assert!(cache.lookup(&hash).is_none());
        let path = cache.fill(&hash, |w| w.write_all(body)).unwrap();
        assert_eq!(cache.lookup(&hash), Some(path.clone()));
        // A wrong download is refused.
        assert!(cache.fill(&"0".repeat(64), |w| w.write_all(body)).is_err());
        // A corrupted copy is detected and dropped.
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&path, b"01234x6789").unwrap();
        assert!(cache.lookup(&hash).is_none());
        assert!(!path.exists());
        // Over the bound, the least recently used copy goes first.
        let other = b"abcdefghij";
        let other_hash = hex::encode(Sha256::digest(other));
        cache.fill(&hash, |w| w.write_all(body)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        let pin = cache.pin(&other_hash).unwrap();
        cache.fill(&other_hash, |w| w.write_all(other)).unwrap();
        cache.evict();
        assert!(cache.lookup(&hash).is_none());
        assert!(cache.lookup(&other_hash).is_some());
        // A pinned copy stays even over the bound; unpinned, it goes.
        cache.fill(&hash, |w| w.write_all(body)).unwrap();
        let second = cache.pin(&hash).unwrap();
        cache.evict();
        assert!(cache.lookup(&hash).is_some() && cache.lookup(&other_hash).is_some());
        drop(pin);
        cache.evict();
        assert!(cache.lookup(&other_hash).is_none());
        assert!(cache.lookup(&hash).is_some());
        drop(second);
        // A download left by a killed process is swept once stale.
        let left = cache.temp_file().unwrap().into_temp_path().keep().unwrap();
        let old = SystemTime::now() - super::super::STALE - std::time::Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&left)
            .unwrap()
            .set_modified(old)
            .unwrap();
        cache.evict();
        assert!(!left.exists());
    }
}
