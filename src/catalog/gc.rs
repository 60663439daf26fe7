//! What the garbage collector and the doctor ask of the catalog: expiring
//! old snapshots (the file rows only they saw go with them), the objects
//! every remaining file row names (read under the write lock for a
//! deletion, so that no commit can name an object between the check and
//! its deletion), and the DuckLake invariants it keeps.

use std::collections::{HashMap, HashSet};

use super::db::Db;
use serde::Serialize;

use super::key_set::KeySet;
use super::{CatalogError, DATASETS_PREFIX, SnapshotId, sql};

/// Which snapshots `gc` keeps (the newest is always kept).
#[derive(Debug, Clone, PartialEq)]
pub enum Keep {
    /// Every snapshot.
    All,
    /// The newest N.
    Newest(u64),
    /// Those taken at or after a time (`YYYY-MM-DD HH:MM:SS`, UTC, as the
    /// catalog writes them).
    Since(String),
}

/// What expiring removed from the catalog (or would, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Expired {
    /// Snapshots removed.
    pub snapshots: u64,
    /// The oldest snapshot kept.
    pub oldest_kept: SnapshotId,
    /// Data and delete file rows no kept snapshot sees.
    pub files: u64,
}

/// What the file rows and writers' announcements named when gc read them.
#[derive(Debug)]
pub struct References {
    /// Their keys, on disk.
    pub keys: KeySet,
    /// The id the next file row was to have: rows added since have it or a
    /// higher one (DuckLake hands file ids out from the newest snapshot's
    /// `next_file_id`, and so does lake).
    next_file_id: i64,
}

/// Expires the snapshots `keep` does not keep, in one transaction (rolled
/// back when `dry_run`), but never one that was the newest at or after the
/// time `readers_since` (a reader that began then may still read it), nor
/// one a reader's lease holds; returns what went and what the remaining
/// file rows name.
pub(super) fn expire(
    conn: &mut Db,
    keep: &Keep,
    readers_since: &str,
    dry_run: bool,
) -> Result<(Expired, References), CatalogError> {
    let tx = conn.write_transaction().map_err(sql("starting gc"))?;
    let snapshots: Vec<(SnapshotId, String)> = tx
        .prepare("SELECT snapshot_id, snapshot_time FROM ducklake_snapshot ORDER BY snapshot_id")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })?
            .collect()
        })
        .map_err(sql("reading snapshots"))?;
    let Some(&(newest, _)) = snapshots.last() else {
        return Err(CatalogError::Invalid("the catalog has no snapshot".into()));
    };
    let by_rule = match keep {
        Keep::All => snapshots[0].0,
        Keep::Newest(n) => {
            let n = (*n).max(1) as usize;
            snapshots[snapshots.len().saturating_sub(n)].0
        }
        Keep::Since(time) => snapshots
            .iter()
            .find(|(_, t)| t.as_str() >= time.as_str())
            .map_or(newest, |(id, _)| *id),
    };
    // The snapshot that was the newest at `readers_since`, or the first.
    let read_then = snapshots
        .iter()
        .rev()
        .find(|(_, t)| t.as_str() <= readers_since)
        .map_or(snapshots[0].0, |(id, _)| *id);
    // And every snapshot a reader of lake's holds a lease on, however old.
    let leased = super::readers::oldest_leased(&tx)?.unwrap_or(newest);
    let oldest_kept = by_rule.min(read_then).min(leased);
    let expired = |table: &str| {
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE data_file_id IN (SELECT data_file_id FROM {table}
                 WHERE end_snapshot IS NOT NULL AND end_snapshot <= ?1)"
            ),
            [oldest_kept],
        )
    };
    // Statistics and lake's facts about the files go first: they name them.
    for table in ["ducklake_file_column_stats", "lake_object"] {
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE data_file_id IN (SELECT data_file_id
                 FROM ducklake_data_file WHERE end_snapshot IS NOT NULL AND end_snapshot <= ?1)"
            ),
            [oldest_kept],
        )
        .map_err(sql("expiring files"))?;
    }
    let files = expired("ducklake_delete_file").map_err(sql("expiring files"))?
        + expired("ducklake_data_file").map_err(sql("expiring files"))?;
    let mut snapshots_gone = 0;
    for table in ["ducklake_snapshot_changes", "ducklake_snapshot"] {
        snapshots_gone = tx
            .execute(
                &format!("DELETE FROM {table} WHERE snapshot_id < ?1"),
                [oldest_kept],
            )
            .map_err(sql("expiring snapshots"))?;
    }
    // Files DuckDB's own expiry scheduled for deletion are no snapshot's:
    // gc deletes them as it deletes every unreferenced object.
    tx.execute(
        "DELETE FROM ducklake_files_scheduled_for_deletion WHERE schedule_start < ?1",
        [readers_since],
    )
    .map_err(sql("expiring files"))?;
    let referenced = references(&tx)?;
    if dry_run {
        tx.rollback().map_err(sql("ending a dry run"))?;
    } else {
        tx.commit().map_err(sql("committing gc"))?;
    }
    Ok((
        Expired {
            snapshots: snapshots_gone as u64,
            oldest_kept,
            files: files as u64,
        },
        referenced,
    ))
}

/// What every file row (whatever snapshot sees it) and every object being
/// written names.
fn references(conn: &Db) -> Result<References, CatalogError> {
    let keys = KeySet::new()?;
    keys.fill(|add| {
        file_objects(conn, 0, &mut |f| add(&f.key, f.bytes))?;
        pending_keys(conn)?.iter().try_for_each(|key| add(key, 0))
    })??;
    keys.fill(|add| index_references(conn, &|k| keys.contains(k), add))??;
    Ok(References {
        keys,
        next_file_id: super::read::last_snapshot(conn)?.next_file_id,
    })
}

/// Runs `f` with the keys named since `since` was read (by file rows added
/// since, and by objects being written), holding the catalog's write lock:
/// no commit can name an object until `f` returns.
pub(super) fn with_new_references<T>(
    conn: &mut Db,
    since: &References,
    f: impl FnOnce(&HashSet<String>) -> T,
) -> Result<T, CatalogError> {
    let tx = conn
        .write_transaction()
        .map_err(sql("locking the catalog"))?;
    let mut keys: HashSet<String> = pending_keys(&tx)?.into_iter().collect();
    file_objects(&tx, since.next_file_id, &mut |f| {
        keys.insert(f.key);
        Ok(())
    })?;
    // Index objects are recorded for old data objects too: every one counts.
    index_references(&tx, &|_| Ok(true), &mut |key, _| {
        keys.insert(key.to_owned());
        Ok(())
    })?;
    let out = f(&keys);
    tx.commit().map_err(sql("unlocking the catalog"))?;
    Ok(out)
}

/// The objects every data and delete file row names, with the sizes the
/// rows record, in a set on disk.
pub(super) fn named_objects(conn: &Db) -> Result<KeySet, CatalogError> {
    let keys = KeySet::new()?;
    keys.fill(|add| file_objects(conn, 0, &mut |f| add(&f.key, f.bytes)))??;
    keys.fill(|add| index_references(conn, &|_| Ok(true), add))??;
    Ok(keys)
}

/// How long an object announced as being written is kept without its
/// commit: a writer killed between the two leaves it to gc after this.
const PENDING_FOR: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A time as `lake_pending` records it (UTC, to the second: it compares
/// as text).
fn pending_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Announcements made before this time have lapsed.
fn pending_since() -> String {
    pending_time(chrono::Utc::now() - PENDING_FOR)
}

/// The keys of the objects being written (see [`pend`]).
fn pending_keys(conn: &Db) -> Result<Vec<String>, CatalogError> {
    let mut stmt = conn
        .prepare("SELECT key FROM lake_pending WHERE since > ?1")
        .map_err(sql("reading objects being written"))?;
    stmt.query_map([pending_since()], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("reading objects being written"))
}

/// Announces that an object is being written (before it is published):
/// gc keeps it until the commit that names it ends the announcement (or a
/// day has passed). Announcements older than that go.
pub(super) fn pend(conn: &mut Db, key: &str) -> Result<(), CatalogError> {
    let tx = conn
        .write_transaction()
        .map_err(sql("announcing an object"))?;
    tx.execute(
        "DELETE FROM lake_pending WHERE since <= ?1",
        [pending_since()],
    )
    .map_err(sql("announcing an object"))?;
    tx.execute(
        "INSERT INTO lake_pending (key, since) VALUES (?1, ?2)",
        [key.to_owned(), pending_time(chrono::Utc::now())],
    )
    .map_err(sql("announcing an object"))?;
    tx.commit().map_err(sql("announcing an object"))
}

/// Ends one announcement of `key` (in the commit's transaction, or when
/// the write failed).
pub(super) fn unpend(conn: &Db, key: &str) -> Result<(), CatalogError> {
    let row = conn.row_id();
    conn.execute(
        &format!(
            "DELETE FROM lake_pending WHERE {row} = (SELECT {row} FROM lake_pending WHERE key = ?1 LIMIT 1)"
        ),
        [key],
    )
    .map_err(sql("ending an announcement"))?;
    Ok(())
}

/// An object a data or delete file row names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileObject {
    pub key: String,
    /// The size the row records.
    pub bytes: u64,
    pub table_id: i64,
}

/// Calls `each` with the object (under `datasets/`) each data and delete
/// file row with an id of `from_id` or more names, whatever snapshot sees
/// it. A file outside the store names no key.
fn file_objects(
    conn: &Db,
    from_id: i64,
    each: &mut dyn FnMut(FileObject) -> Result<(), CatalogError>,
) -> Result<(), CatalogError> {
    let data_path = super::read::metadata(conn, "data_path")?.unwrap_or_default();
    // Each table's directory: a key prefix (relative to the data path,
    // as lake's readers resolve it) or an absolute path.
    let mut dirs: HashMap<i64, (String, bool)> = HashMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT t.table_id, t.path, t.path_is_relative, s.path, s.path_is_relative
             FROM ducklake_table t LEFT JOIN ducklake_schema s USING (schema_id)",
        )
        .map_err(sql("reading tables"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                r.get::<_, Option<bool>>(2)?.unwrap_or(true),
                r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                r.get::<_, Option<bool>>(4)?.unwrap_or(true),
            ))
        })
        .map_err(sql("reading tables"))?;
    for row in rows {
        let (table_id, path, relative, schema_path, schema_relative) =
            row.map_err(sql("reading tables"))?;
        let dir = match (relative, schema_relative) {
            (true, true) => (format!("{schema_path}{path}"), true),
            (true, false) => (format!("{schema_path}{path}"), false),
            (false, _) => (path, false),
        };
        dirs.insert(table_id, dir);
    }
    for (table, id) in [
        ("ducklake_data_file", "data_file_id"),
        ("ducklake_delete_file", "delete_file_id"),
    ] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT table_id, path, path_is_relative, file_size_bytes FROM {table}
                 WHERE {id} >= ?1"
            ))
            .map_err(sql("reading files"))?;
        let rows = stmt
            .query_map([from_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<bool>>(2)?.unwrap_or(true),
                    r.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
                ))
            })
            .map_err(sql("reading files"))?;
        for row in rows {
            let (table_id, path, relative, bytes) = row.map_err(sql("reading files"))?;
            let key = match dirs.get(&table_id) {
                Some((dir, true)) if relative => Some(format!("{dir}{path}")),
                Some((dir, false)) if relative => format!("{dir}{path}")
                    .strip_prefix(&data_path)
                    .map(str::to_owned),
                _ if !relative => path.strip_prefix(&data_path).map(str::to_owned),
                _ => {
                    return Err(CatalogError::Invalid(format!(
                        "file {path} belongs to table {table_id}, which the catalog does not have: \
                         gc cannot tell where it is"
                    )));
                }
            };
            // An object under another name is not lake's to delete.
            if let Some(key) = key.filter(|k| k.starts_with(DATASETS_PREFIX)) {
                each(FileObject {
                    key,
                    bytes,
                    table_id,
                })?;
            }
        }
    }
    Ok(())
}

/// In gc's transaction: drops the rows of index objects whose data object
/// no file row names any more (`named` says which are), and calls `add`
/// with every other index object.
fn index_references(
    conn: &Db,
    named: &dyn Fn(&str) -> Result<bool, CatalogError>,
    add: &mut dyn FnMut(&str, u64) -> Result<(), CatalogError>,
) -> Result<(), CatalogError> {
    let rows: Vec<(String, String, i64)> = conn
        .prepare("SELECT data_key, key, bytes FROM lake_vector_file")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(sql("reading vector index objects"))?;
    for (data_key, key, bytes) in rows {
        if named(&data_key)? {
            add(&key, bytes.max(0) as u64)?;
        } else {
            conn.execute(
                "DELETE FROM lake_vector_file WHERE data_key = ?1",
                [&data_key],
            )
            .map_err(sql("expiring vector index objects"))?;
        }
    }
    Ok(())
}

/// DuckLake invariants the catalog breaks, one line each: ids unique and
/// below the counters that hand them out, snapshot ranges that end after
/// they begin, statistics of lake's objects recorded.
pub(super) fn check(conn: &Db) -> Result<Vec<String>, CatalogError> {
    let mut problems = Vec::new();
    let mut each = |query: &str, say: &dyn Fn(i64) -> String| -> Result<(), CatalogError> {
        let mut stmt = conn.prepare(query).map_err(sql("checking the catalog"))?;
        let ids = stmt
            .query_map([], |r| r.get::<_, i64>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql("checking the catalog"))?;
        problems.extend(ids.into_iter().map(say));
        Ok(())
    };
    for (table, id) in [
        ("ducklake_snapshot", "snapshot_id"),
        ("ducklake_data_file", "data_file_id"),
        ("ducklake_delete_file", "delete_file_id"),
        ("ducklake_column_mapping", "mapping_id"),
    ] {
        each(
            &format!("SELECT {id} FROM {table} GROUP BY {id} HAVING count(*) > 1"),
            &|v| format!("{table}: {id} {v} is not unique"),
        )?;
    }
    let next = "(SELECT next_file_id FROM ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1)";
    for (table, id) in [
        ("ducklake_data_file", "data_file_id"),
        ("ducklake_delete_file", "delete_file_id"),
        ("ducklake_column_mapping", "mapping_id"),
    ] {
        each(
            &format!("SELECT {id} FROM {table} WHERE {id} >= {next}"),
            &|v| format!("{table}: {id} {v} is not below the snapshot's next_file_id"),
        )?;
    }
    let next = "(SELECT next_catalog_id FROM ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1)";
    for (table, id) in [
        ("ducklake_table", "table_id"),
        ("ducklake_column", "column_id"),
    ] {
        each(
            &format!("SELECT DISTINCT {id} FROM {table} WHERE {id} >= {next}"),
            &|v| format!("{table}: {id} {v} is not below the snapshot's next_catalog_id"),
        )?;
    }
    let last = "(SELECT max(snapshot_id) FROM ducklake_snapshot)";
    for (table, id) in [
        ("ducklake_data_file", "data_file_id"),
        ("ducklake_delete_file", "delete_file_id"),
        ("ducklake_table", "table_id"),
        ("ducklake_column", "column_id"),
    ] {
        each(
            &format!(
                "SELECT {id} FROM {table} WHERE (end_snapshot IS NOT NULL AND \
                 end_snapshot < begin_snapshot) OR begin_snapshot > {last}"
            ),
            &|v| format!("{table}: {id} {v} has a snapshot range that is not valid"),
        )?;
    }
    each(
        "SELECT o.data_file_id FROM lake_object o JOIN ducklake_data_file f USING (data_file_id)
         WHERE o.stats_recorded = 0 AND f.end_snapshot IS NULL",
        &|v| format!("data file {v}: statistics not recorded"),
    )?;
    Ok(problems)
}
