//! What this process reads, and the one read lease that keeps it from gc:
//! every query, view and compaction holds the snapshot it reads
//! ([`SnapshotHold`]); the process's row in the catalog names the oldest
//! snapshot held, and a thread of its own beats every [`BEAT_EVERY`] so
//! that the lease lives while the process does. Under one lock, a lease is
//! lowered (or taken) before a hold needs it, raised when the oldest hold
//! goes, and ended when the last one does, so a held snapshot is always
//! covered and nothing else is kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::{CatalogLocation, LakeError};
use crate::catalog::{Catalog, SnapshotId};

/// How often the lease is renewed (it lapses after a minute unrenewed).
const BEAT_EVERY: Duration = Duration::from_secs(10);

/// This process's read lease.
pub(crate) struct ReadLeases {
    /// The lease's name in the catalog: unique to this process.
    reader: String,
    location: CatalogLocation,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// A connection of the lease's own, opened at the first hold.
    catalog: Option<Catalog>,
    /// The snapshots held now, each with its number of holders.
    held: BTreeMap<SnapshotId, usize>,
    /// The snapshot the catalog's row names, once it has one.
    leased: Option<SnapshotId>,
    /// Whether the thread that renews the lease runs.
    beating: bool,
}

/// A snapshot this process reads: gc keeps it until this is dropped.
pub struct SnapshotHold {
    leases: Arc<ReadLeases>,
    snapshot: SnapshotId,
}

impl SnapshotHold {
    /// The snapshot held.
    pub fn snapshot(&self) -> SnapshotId {
        self.snapshot
    }
}

impl std::fmt::Debug for SnapshotHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SnapshotHold({})", self.snapshot)
    }
}

impl Drop for SnapshotHold {
    fn drop(&mut self) {
        let mut state = self.leases.lock();
        if let Some(n) = state.held.get_mut(&self.snapshot) {
            *n -= 1;
            if *n == 0 {
                state.held.remove(&self.snapshot);
                // The oldest hold went: the lease follows at once (one
                // write each time a reader moves on to a newer snapshot).
                if let Err(e) = self.leases.follow(&mut state) {
                    tracing::debug!(error = %e, "moving the read lease");
                }
            }
        }
    }
}

impl ReadLeases {
    /// The leases of a process reading the catalog at `location` (nothing
    /// is written before the first hold).
    pub fn new(location: CatalogLocation) -> Arc<ReadLeases> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let reader = uuid::Uuid::new_v5(
            &crate::schema::DATASET_NAMESPACE,
            format!("reader/{}/{nanos}", std::process::id()).as_bytes(),
        );
        Arc::new(ReadLeases {
            reader: reader.to_string(),
            location,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds snapshot `at`, or the newest when `None` (`newest` reads it
    /// when the lease already covers it; else the lease statement does).
    pub fn hold(
        self: &Arc<Self>,
        at: Option<SnapshotId>,
        newest: impl FnOnce() -> Result<SnapshotId, LakeError>,
    ) -> Result<SnapshotHold, LakeError> {
        let mut state = self.lock();
        let snapshot = match (at, state.leased) {
            // The newest is at least what the lease names.
            (None, Some(_)) => newest()?,
            (Some(at), Some(leased)) if leased <= at => at,
            (at, _) => {
                match self
                    .catalog(&mut state)
                    .and_then(|c| Ok(c.lease(&self.reader, at)?))
                {
                    Ok(leased) => {
                        state.leased = Some(leased);
                        if !state.beating {
                            state.beating = true;
                            self.beat_forever();
                        }
                        leased
                    }
                    // A catalog this process may only read: the query goes
                    // on, unprotected, as before leases.
                    Err(e) => {
                        tracing::warn!(error = %e, "no read lease: gc may remove what this reads");
                        match at {
                            Some(at) => at,
                            None => newest()?,
                        }
                    }
                }
            }
        };
        *state.held.entry(snapshot).or_default() += 1;
        Ok(SnapshotHold {
            leases: self.clone(),
            snapshot,
        })
    }

    fn catalog<'s>(&self, state: &'s mut State) -> Result<&'s mut Catalog, LakeError> {
        if state.catalog.is_none() {
            state.catalog = Some(self.location.open()?);
        }
        Ok(state.catalog.as_mut().expect("opened above"))
    }

    /// Renews the lease every [`BEAT_EVERY`] while the leases live.
    fn beat_forever(self: &Arc<Self>) {
        let weak: Weak<ReadLeases> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("lake-lease".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(BEAT_EVERY);
                    let Some(leases) = weak.upgrade() else { return };
                    if let Err(e) = leases.beat() {
                        tracing::debug!(error = %e, "renewing the read lease");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread to renew the read lease");
        }
    }

    /// Renews the lease (it names the oldest snapshot held).
    fn beat(&self) -> Result<(), LakeError> {
        let mut state = self.lock();
        let Some(oldest) = state.held.keys().next().copied() else {
            return Ok(());
        };
        if state.leased.is_some() {
            let leased = self
                .catalog(&mut state)?
                .lease(&self.reader, Some(oldest))?;
            state.leased = Some(leased);
        }
        Ok(())
    }

    /// Moves the lease up to the oldest snapshot still held, or ends it
    /// when none is: what no one reads, gc may take.
    fn follow(&self, state: &mut State) -> Result<(), LakeError> {
        let Some(leased) = state.leased else {
            return Ok(());
        };
        match state.held.keys().next().copied() {
            Some(oldest) if oldest > leased => {
                let moved = self.catalog(state)?.lease(&self.reader, Some(oldest))?;
                state.leased = Some(moved);
            }
            Some(_) => {}
            None => {
                self.catalog(state)?.release(&self.reader)?;
                state.leased = None;
            }
        }
        Ok(())
    }
}

impl Drop for ReadLeases {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let (Some(catalog), Some(_)) = (state.catalog.as_mut(), state.leased) {
            let _ = catalog.release(&self.reader);
        }
    }
}
