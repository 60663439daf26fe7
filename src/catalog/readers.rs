//! Readers' leases: a process that reads the lake keeps one row in
//! `lake_reader` naming the oldest snapshot it may still read, with a
//! heartbeat; gc keeps every snapshot from the oldest leased one on,
//! whatever its `--grace`. A killed reader stops beating, and its lease
//! lapses after [`LEASE_FOR`].

use super::db::{Db, OptionalExtension, params};
use super::{CatalogError, SnapshotId, sql};

/// How long a lease holds without a heartbeat.
pub const LEASE_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// A time as `lake_reader` records it (UTC, to the microsecond: it
/// compares as text).
fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Heartbeats before this time have lapsed.
fn lapsed_before() -> String {
    let lease = chrono::TimeDelta::from_std(LEASE_FOR).unwrap_or(chrono::TimeDelta::MAX);
    stamp(chrono::Utc::now() - lease)
}

/// Records (or moves) `reader`'s lease to `at`, or to the newest snapshot
/// when `None`, in one statement: a gc that commits before it keeps the
/// newest snapshot, one after it sees the lease. Returns the snapshot.
pub(super) fn lease(
    conn: &mut Db,
    reader: &str,
    at: Option<SnapshotId>,
) -> Result<SnapshotId, CatalogError> {
    let tx = conn
        .write_transaction()
        .map_err(sql("taking a read lease"))?;
    // `WHERE true`: SQLite's upsert after a SELECT needs a WHERE.
    tx.execute(
        "INSERT INTO lake_reader (reader, snapshot_id, heartbeat)
         SELECT ?1, coalesce(?2, max(snapshot_id)), ?3 FROM ducklake_snapshot WHERE true
         ON CONFLICT (reader) DO UPDATE
         SET snapshot_id = excluded.snapshot_id, heartbeat = excluded.heartbeat",
        params![reader, at, stamp(chrono::Utc::now())],
    )
    .map_err(sql("taking a read lease"))?;
    let snapshot: SnapshotId = tx
        .query_row(
            "SELECT snapshot_id FROM lake_reader WHERE reader = ?1",
            [reader],
            |r| r.get(0),
        )
        .map_err(sql("taking a read lease"))?;
    tx.commit().map_err(sql("taking a read lease"))?;
    Ok(snapshot)
}

/// Ends `reader`'s lease.
pub(super) fn release(conn: &Db, reader: &str) -> Result<(), CatalogError> {
    conn.execute("DELETE FROM lake_reader WHERE reader = ?1", [reader])
        .map(drop)
        .map_err(sql("ending a read lease"))
}

/// The oldest snapshot a live lease names (lapsed leases go), read in
/// gc's transaction.
pub(super) fn oldest_leased(conn: &Db) -> Result<Option<SnapshotId>, CatalogError> {
    let lapsed = lapsed_before();
    conn.execute("DELETE FROM lake_reader WHERE heartbeat < ?1", [&lapsed])
        .map_err(sql("reading read leases"))?;
    conn.query_row(
        "SELECT min(snapshot_id) FROM lake_reader WHERE heartbeat >= ?1",
        [&lapsed],
        |r| r.get::<_, Option<SnapshotId>>(0),
    )
    .optional()
    .map(Option::flatten)
    .map_err(sql("reading read leases"))
}
