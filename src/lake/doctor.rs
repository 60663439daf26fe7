//! `doctor`: does the store hold every object the catalog names, at the
//! size it records (and, deep, with the bytes its key says and a Parquet
//! footer that opens, or a vector index that does)? Does the catalog keep DuckLake's invariants? What
//! would gc remove?

use std::fs::File;
use std::io::{Read, Seek};
use std::time::SystemTime;

use parquet::file::metadata::ParquetMetaDataReader;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Lake, LakeError};
use crate::catalog::DATASETS_PREFIX;
use crate::store::ObjectInfo;
use crate::store::cache::{VECTOR_INDEX_SUFFIX, content_hash};

/// Objects listed at a time.
const PAGE: usize = 1000;

/// What `doctor` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DoctorReport {
    /// What is wrong, one line each; empty when the lake is healthy.
    pub problems: Vec<String>,
    /// Objects the catalog names, and their bytes.
    pub objects: u64,
    pub bytes: u64,
    /// Objects no snapshot names, older than gc's grace: what `gc` would
    /// remove.
    pub orphans: u64,
    pub orphan_bytes: u64,
}

impl Lake {
    /// Checks the lake; `deep` also re-hashes content-addressed objects and
    /// opens every footer. Objects unreferenced for less than `grace` are
    /// not orphans yet. `progress` is told how many objects were checked.
    pub fn doctor(
        &self,
        deep: bool,
        grace: std::time::Duration,
        progress: &mut dyn FnMut(u64),
    ) -> Result<DoctorReport, LakeError> {
        let mut report = DoctorReport {
            problems: self.catalog.check()?,
            ..DoctorReport::default()
        };
        let named = self.catalog.named_objects()?;
        (report.objects, report.bytes) = named.totals()?;
        let old_before = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut after: Option<String> = None;
        let mut checked = 0u64;
        loop {
            let page = self.store.list(DATASETS_PREFIX, after.as_deref(), PAGE)?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.key.clone());
            for object in page {
                match named.take(&object.key)? {
                    None => {
                        if object.modified.is_some_and(|m| m <= old_before) {
                            report.orphans += 1;
                            report.orphan_bytes += object.size;
                        }
                    }
                    Some(bytes) if bytes != object.size => report.problems.push(format!(
                        "{}: {} bytes, the catalog records {bytes}",
                        object.key, object.size
                    )),
                    Some(_) if deep => {
                        if let Err(problem) = self.examine(&object) {
                            report.problems.push(format!("{}: {problem}", object.key));
                        }
                    }
                    Some(_) => {}
                }
                checked += 1;
            }
            progress(checked);
        }
        named.for_each(|k| report.problems.push(format!("{k}: missing from the store")))?;
        Ok(report)
    }

    /// Reads an object whole, from the store itself (never a cached copy):
    /// its SHA-256 must be the one its key names (lake's objects), and its
    /// Parquet footer must open.
    fn examine(&self, object: &ObjectInfo) -> Result<(), String> {
        let text = |e: &dyn std::fmt::Display| e.to_string();
        // A local object is read where it is; a remote one is copied to a
        // temporary file as it streams in.
        let (mut file, _copy) = match self.store.local_root() {
            Some(root) => (
                File::open(root.join(&object.key)).map_err(|e| text(&e))?,
                None,
            ),
            None => {
                let mut copy = self.store.temp_file().map_err(|e| text(&e))?;
                let mut reader = self.store.get(&object.key).map_err(|e| text(&e))?;
                std::io::copy(&mut reader, copy.as_file_mut()).map_err(|e| text(&e))?;
                (copy.reopen().map_err(|e| text(&e))?, Some(copy))
            }
        };
        if let Some(hash) = content_hash(&object.key) {
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf).map_err(|e| text(&e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            let got = hex::encode(hasher.finalize());
            if got != hash {
                return Err(format!("its bytes hash to {got}, not to its name"));
            }
        }
        if object.key.ends_with(VECTOR_INDEX_SUFFIX) {
            let mut bytes = Vec::new();
            file.seek(std::io::SeekFrom::Start(0))
                .and_then(|_| file.read_to_end(&mut bytes))
                .map_err(|e| text(&e))?;
            return crate::vector::IndexFile::from_bytes(&bytes)
                .map(drop)
                .map_err(|e| format!("it does not open: {e}"));
        }
        ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .map(|_| ())
            .map_err(|e| format!("its Parquet footer does not open: {e}"))
    }
}
