//! The history of a lake: its snapshot log, a snapshot named by number or
//! time, and the changes that make a new one without new data (remove,
//! restore).

use crate::catalog::{Committed, LogEntry, SnapshotId};

use super::Lake;
use super::error::LakeError;

impl Lake {
    /// Removes a dataset from the present; returns the snapshot that did.
    pub fn remove(&mut self, name: &str) -> Result<SnapshotId, LakeError> {
        Ok(self.catalog.remove(name)?)
    }

    /// A new snapshot in which `name` has the data (and schema) it had at
    /// snapshot `to`: the same objects, no copy.
    pub fn restore(&mut self, name: &str, to: SnapshotId) -> Result<Committed, LakeError> {
        let committed = self.catalog.restore(name, to)?;
        self.index_new_objects(&committed.name, &crate::ingest::progress::NoProgress);
        Ok(committed)
    }

    /// The snapshots, newest first; only those of `name` if given.
    pub fn log(&self, name: Option<&str>) -> Result<Vec<LogEntry>, LakeError> {
        Ok(self.catalog.log(name)?)
    }

    /// The snapshot a user's `--at` names: an id or a time.
    pub fn resolve_snapshot(&self, spec: &str) -> Result<SnapshotId, LakeError> {
        Ok(self.catalog.resolve_snapshot(spec)?)
    }
}
