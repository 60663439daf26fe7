//! A local cache of dataset objects fetched from a remote store.
//!
//! Dataset objects are immutable and named by the SHA-256 of their bytes, so
//! a cached copy is always correct once its hash checks. A copy is hashed when
//! it arrives; a small marker beside it records the file's length and
//! modification time at that moment, and its own modification time is the
//! last use, which decides what is evicted first when the cache is over its
//! size.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

const DATA_EXT: &str = "parquet";
const MARK_EXT: &str = "ok";

/// The default size bound: 2 GiB.
pub const DEFAULT_CACHE_MAX: u64 = 2 << 30;

/// A cache directory with a size bound.
#[derive(Debug)]
pub struct ObjectCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// The SHA-256 a content-addressed key names: `.../<64 hex>.parquet`.
pub fn content_hash(key: &str) -> Option<&str> {
    let file = key.rsplit('/').next()?;
    let hash = file.strip_suffix(".parquet")?;
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

    /// The cached copy of the object with this hash, if present and intact;
    /// marks it used. A copy changed since it was verified is hashed again
    /// and dropped if wrong.
    pub fn lookup(&self, hash: &str) -> Option<PathBuf> {
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
        let mut hashing =
            crate::engine::convert::HashingWriter::new(io::BufWriter::new(tmp.as_file_mut()));
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
    /// never one of `keep`.
    pub fn evict(&self, keep: &HashSet<PathBuf>) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut copies: Vec<(SystemTime, u64, PathBuf, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let data = e.path();
                if data.extension()?.to_str()? != DATA_EXT {
                    return None;
                }
                let size = e.metadata().ok()?.len();
                let mark = data.with_extension(MARK_EXT);
                let used = fs::metadata(&mark)
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Some((used, size, data, mark))
            })
            .collect();
        let mut total: u64 = copies.iter().map(|c| c.1).sum();
        copies.sort_by_key(|c| c.0);
        for (_, size, data, mark) in copies {
            if total <= self.max_bytes {
                break;
            }
            if keep.contains(&data) {
                continue;
            }
            if fs::remove_file(&data).is_ok() {
                let _ = fs::remove_file(&mark);
                total -= size;
            }
        }
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
        let other_path = cache.fill(&other_hash, |w| w.write_all(other)).unwrap();
        cache.evict(&HashSet::from([other_path.clone()]));
        assert!(cache.lookup(&hash).is_none());
        assert!(cache.lookup(&other_hash).is_some());
    }
}
