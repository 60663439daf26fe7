//! A dataset's versions: the snapshots that changed its table, each seen as
//! a version (objects, rows, bytes, fingerprint), and where new objects go.

use super::db::{Db, OptionalExtension, params};

use super::{CatalogError, Dataset, ObjectRef, SnapshotId, Version, sql};
use crate::schema::{self};

use super::columns::fingerprint;
use super::files::{TableState, state_of};
use super::read::{TableRow, find_table, last_snapshot, main_schema, snapshot_time};

/// The snapshots that changed table `id`, up to `at`, oldest first.
pub(super) fn change_snapshots(
    conn: &Db,
    id: i64,
    at: SnapshotId,
) -> Result<Vec<SnapshotId>, CatalogError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT s FROM (
                SELECT begin_snapshot s FROM ducklake_table WHERE table_id = ?1
                UNION SELECT end_snapshot FROM ducklake_table WHERE table_id = ?1
                UNION SELECT begin_snapshot FROM ducklake_column WHERE table_id = ?1
                UNION SELECT end_snapshot FROM ducklake_column WHERE table_id = ?1
                UNION SELECT begin_snapshot FROM ducklake_data_file WHERE table_id = ?1
                UNION SELECT end_snapshot FROM ducklake_data_file WHERE table_id = ?1
                UNION SELECT begin_snapshot FROM ducklake_delete_file WHERE table_id = ?1
                UNION SELECT end_snapshot FROM ducklake_delete_file WHERE table_id = ?1
             ) changes WHERE s IS NOT NULL AND s <= ?2 ORDER BY s",
        )
        .map_err(sql("reading a dataset's history"))?;
    stmt.query_map(params![id, at], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sql("reading a dataset's history"))
}

pub(super) fn version_of(
    conn: &Db,
    table: &TableRow,
    at: SnapshotId,
    number: u64,
) -> Result<Version, CatalogError> {
    let state = state_of(conn, table, at)?;
    Ok(version_from_state(&state, number, snapshot_time(conn, at)?))
}

pub(super) fn version_from_state(state: &TableState, number: u64, created_at: String) -> Version {
    let objects: Vec<ObjectRef> = state
        .files
        .iter()
        .map(|f| ObjectRef {
            key: f.key.clone().unwrap_or_else(|e| e),
            rows: f.live_rows(),
            bytes: f.bytes,
        })
        .collect();
    Version {
        version: number,
        snapshot: state.snapshot,
        rows: objects.iter().map(|o| o.rows).sum(),
        bytes: objects.iter().map(|o| o.bytes).sum(),
        fingerprint: fingerprint(&state.columns),
        columns: state.columns.clone(),
        created_at,
        objects,
    }
}

pub(super) fn dataset_id(conn: &Db, table: &TableRow) -> Result<String, CatalogError> {
    let id: Option<String> = conn
        .query_row(
            "SELECT dataset_id FROM lake_dataset WHERE table_id = ?1",
            [table.table_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("reading a dataset id"))?;
    Ok(id.unwrap_or_else(|| schema::dataset_id(&table.name).to_string()))
}

pub(super) fn dataset(
    conn: &Db,
    name: &str,
    at: SnapshotId,
) -> Result<Option<Dataset>, CatalogError> {
    let Some(table) = find_table(conn, name, at)? else {
        return Ok(None);
    };
    let changes = change_snapshots(conn, table.table_id, at)?;
    let first = changes.first().copied().unwrap_or(at);
    let last = changes.last().copied().unwrap_or(at);
    let current = version_of(conn, &table, at, changes.len().max(1) as u64)?;
    Ok(Some(Dataset {
        dataset_id: dataset_id(conn, &table)?,
        table_id: table.table_id,
        created_at: snapshot_time(conn, first)?,
        updated_at: snapshot_time(conn, last)?,
        name: table.name,
        current,
    }))
}

pub(super) fn versions(conn: &Db, table_id: i64, name: &str) -> Result<Vec<Version>, CatalogError> {
    let at = last_snapshot(conn)?.id;
    let changes = change_snapshots(conn, table_id, at)?;
    let mut out = Vec::with_capacity(changes.len());
    for (i, s) in changes.iter().enumerate() {
        // A snapshot that dropped the table is a change, but not a version.
        let Some(table) = find_table(conn, name, *s)? else {
            continue;
        };
        if table.table_id != table_id {
            continue;
        }
        out.push(version_of(conn, &table, *s, i as u64 + 1)?);
    }
    Ok(out)
}

pub(super) fn object_prefix(conn: &Db, name: &str, at: SnapshotId) -> Result<String, CatalogError> {
    let main = main_schema(conn, at)?;
    match find_table(conn, name, at)? {
        Some(table) => table.dir(&main).map_err(CatalogError::Invalid),
        None => Ok(format!("{}{name}/", main.dir)),
    }
}
