//! A store in a local directory: key `a/b` is the file `<root>/a/b`.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{ObjectInfo, StoreError};

/// Where objects under construction live, inside the root so that publishing
/// is a rename on one file system.
const TMP_DIR: &str = ".lake-tmp";

/// A store rooted at a local directory.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
}

fn io_err(action: &'static str, key: &str) -> impl FnOnce(io::Error) -> StoreError {
    let key = key.to_owned();
    move |source| {
        if source.kind() == io::ErrorKind::NotFound {
            StoreError::NotFound { key }
        } else {
            StoreError::Io {
                action,
                key,
                source,
            }
        }
    }
}

impl LocalStore {
    /// Opens (and creates) a store rooted at `root`.
    pub fn open(root: &Path) -> Result<LocalStore, StoreError> {
        let display = root.display().to_string();
        fs::create_dir_all(root.join(TMP_DIR)).map_err(|source| StoreError::Io {
            action: "creating store directory",
            key: display,
            source,
        })?;
        Ok(LocalStore {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn check_not_internal(key: &str) -> Result<(), StoreError> {
        if key == TMP_DIR || key.starts_with(&format!("{TMP_DIR}/")) {
            return Err(super::KeyError::Reserved {
                key: key.to_owned(),
            }
            .into());
        }
        Ok(())
    }

    /// A new temporary file; first clears out what killed writers left.
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        super::sweep_stale(&self.root.join(TMP_DIR));
        tempfile::NamedTempFile::new_in(self.root.join(TMP_DIR)).map_err(|source| StoreError::Io {
            action: "creating temporary file in",
            key: self.root.display().to_string(),
            source,
        })
    }

    pub fn publish(&self, key: &str, file: tempfile::NamedTempFile) -> Result<(), StoreError> {
        Self::check_not_internal(key)?;
        let dest = self.path_of(key);
        let parent = dest.parent().unwrap_or(&self.root);
        let wrap = |action| {
            move |source| StoreError::Io {
                action,
                key: key.to_owned(),
                source,
            }
        };
        file.as_file().sync_all().map_err(wrap("syncing"))?;
        fs::create_dir_all(parent).map_err(wrap("creating directory for"))?;
        file.persist(&dest)
            .map_err(|e| e.error)
            .map_err(wrap("moving into place"))?;
        // The rename is durable only once its directory is.
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(wrap("syncing directory of"))?;
        Ok(())
    }

    /// Deletes the objects `keys`; those already gone are no error.
    pub fn delete_all(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            Self::check_not_internal(key)?;
            match fs::remove_file(self.path_of(key)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err("deleting", key)(e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn put(&self, key: &str, reader: &mut dyn Read) -> Result<u64, StoreError> {
        Self::check_not_internal(key)?;
        let mut tmp = self.temp_file()?;
        let n = io::copy(reader, tmp.as_file_mut()).map_err(|source| StoreError::Io {
            action: "writing",
            key: key.to_owned(),
            source,
        })?;
        self.publish(key, tmp)?;
        Ok(n)
    }

    pub fn get(&self, key: &str) -> Result<Box<dyn Read + Send>, StoreError> {
        Self::check_not_internal(key)?;
        let path = self.path_of(key);
        let file = File::open(&path).map_err(io_err("opening", key))?;
        let meta = file.metadata().map_err(io_err("opening", key))?;
        if !meta.is_file() {
            return Err(StoreError::NotFound {
                key: key.to_owned(),
            });
        }
        Ok(Box::new(file))
    }

    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match fs::metadata(self.path_of(key)) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io {
                action: "checking",
                key: key.to_owned(),
                source,
            }),
        }
    }

    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        Self::check_not_internal(key)?;
        if !self.exists(key)? {
            return Err(StoreError::NotFound {
                key: key.to_owned(),
            });
        }
        fs::remove_file(self.path_of(key)).map_err(io_err("deleting", key))
    }

    /// Keys that start with `prefix`, after `start_after`, in key order, at
    /// most `limit`: a sorted walk that skips every folder wholly before
    /// `start_after` or outside `prefix`, so a page costs about its size.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        self.walk(
            &self.root,
            "",
            prefix,
            start_after.unwrap_or(""),
            limit,
            &mut out,
        )?;
        Ok(out)
    }

    fn walk(
        &self,
        dir: &Path,
        rel: &str,
        prefix: &str,
        after: &str,
        limit: usize,
        out: &mut Vec<ObjectInfo>,
    ) -> Result<(), StoreError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "listing",
                    key: rel.to_owned(),
                    source,
                });
            }
        };
        // A folder sorts as its name and a `/`: then the walk visits keys
        // in the order their full strings sort.
        let mut sorted = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("listing", rel))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_dir = entry.file_type().map_err(io_err("listing", rel))?.is_dir();
            let key = if is_dir {
                format!("{rel}{name}/")
            } else {
                format!("{rel}{name}")
            };
            if key == format!("{TMP_DIR}/") {
                continue;
            }
            sorted.push((key, is_dir));
        }
        sorted.sort_unstable();
        for (key, is_dir) in sorted {
            if out.len() >= limit {
                break;
            }
            if is_dir {
                let in_prefix = key.starts_with(prefix) || prefix.starts_with(&key);
                // Every key inside sorts before `after`: nothing to see.
                let before = key.as_str() < after && !after.starts_with(&key);
                if in_prefix && !before {
                    self.walk(&self.root.join(&key), &key, prefix, after, limit, out)?;
                }
            } else if key.starts_with(prefix) && key.as_str() > after {
                let meta = fs::metadata(self.root.join(&key)).map_err(io_err("listing", &key))?;
                out.push(ObjectInfo {
                    key,
                    size: meta.len(),
                    modified: meta.modified().ok(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        store.put("b/one", &mut &b"1"[..]).unwrap();
        store.put("a", &mut &b"22"[..]).unwrap();
        store.put("b/two", &mut &b"333"[..]).unwrap();
        let mut body = String::new();
        store
            .get("b/two")
            .unwrap()
            .read_to_string(&mut body)
            .unwrap();
        assert_eq!(body, "333");
        let store = super::super::Store::Local(store);
        let keys: Vec<_> = store
            .list("", None, 10)
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(keys, ["a", "b/one", "b/two"]);
        let keys: Vec<_> = store
            .list("b/", Some("b/one"), 10)
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(keys, ["b/two"]);
        assert_eq!(store.list("", None, 1).unwrap().len(), 1);
        // A folder's keys sort by their whole string: `b-c` before `b/one`.
        store.put("b-c", &mut &b"4"[..]).unwrap();
        store.put("b/deep/x", &mut &b"5"[..]).unwrap();
        let page = |prefix: &str, after: Option<&str>, limit| -> Vec<String> {
            store
                .list(prefix, after, limit)
                .unwrap()
                .into_iter()
                .map(|o| o.key)
                .collect()
        };
        assert_eq!(
            page("", None, 10),
            ["a", "b-c", "b/deep/x", "b/one", "b/two"]
        );
        assert_eq!(page("", Some("b-c"), 2), ["b/deep/x", "b/one"]);
        assert_eq!(page("", Some("b/deep/x"), 10), ["b/one", "b/two"]);
        assert_eq!(page("b/d", None, 10), ["b/deep/x"]);
        assert_eq!(page("b", Some("b/one"), 10), ["b/two"]);
        store.delete("a").unwrap();
        assert!(matches!(store.get("a"), Err(StoreError::NotFound { .. })));
        assert!(matches!(
            store.delete("a"),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(store.get("b"), Err(StoreError::NotFound { .. })));
    }

    #[test]
    fn stale_temp_files_are_removed_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let old = store.temp_file().unwrap().into_temp_path().keep().unwrap();
        let fresh = store.temp_file().unwrap().into_temp_path().keep().unwrap();
        let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let _next = store.temp_file().unwrap();
        assert!(!old.exists());
        assert!(fresh.exists());
    }
}
