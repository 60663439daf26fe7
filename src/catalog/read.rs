//! Reading the DuckLake rows: what was live at a snapshot.
//!
//! A row is live at snapshot S when `begin_snapshot <= S` and
//! (`end_snapshot` is NULL or `S < end_snapshot`).

use super::db::{Db, DbResult, OptionalExtension, Row, params};

use super::{CatalogError, CatalogInfo, SnapshotId, sql};

/// The condition "live at snapshot ?2" for a table aliased `x`.
macro_rules! live {
    ($alias:literal) => {
        concat!(
            $alias,
            ".begin_snapshot <= ?2 AND (",
            $alias,
            ".end_snapshot IS NULL OR ",
            $alias,
            ".end_snapshot > ?2)"
        )
    };
}

pub(super) use live;

/// The newest snapshot row.
#[derive(Debug, Clone)]
pub(super) struct Snap {
    pub id: SnapshotId,
    pub schema_version: i64,
    pub next_catalog_id: i64,
    pub next_file_id: i64,
}

pub(super) fn last_snapshot(conn: &Db) -> Result<Snap, CatalogError> {
    conn.query_row(
        "SELECT snapshot_id, schema_version, next_catalog_id, next_file_id
         FROM ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1",
        [],
        |r| {
            Ok(Snap {
                id: r.get(0)?,
                schema_version: r.get(1)?,
                next_catalog_id: r.get(2)?,
                next_file_id: r.get(3)?,
            })
        },
    )
    .map_err(sql("reading the newest snapshot"))
}

pub(super) fn metadata(conn: &Db, key: &str) -> Result<Option<String>, CatalogError> {
    conn.query_row(
        "SELECT value FROM ducklake_metadata WHERE key = ?1 AND scope IS NULL",
        [key],
        |r| r.get(0),
    )
    .optional()
    .map_err(sql("reading the DuckLake metadata"))
}

pub(super) fn snapshot_time(conn: &Db, id: SnapshotId) -> Result<String, CatalogError> {
    conn.query_row(
        "SELECT snapshot_time FROM ducklake_snapshot WHERE snapshot_id = ?1",
        [id],
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()
    .map_err(sql("reading a snapshot"))
    .map(|t| display_time(&t.flatten().unwrap_or_default()))
}

/// A DuckLake snapshot time (`2026-11-24 08:40:22.336235+00`) as RFC 3339
/// UTC with microseconds (all of it: `--at` that time is that snapshot);
/// unparsable text as it is.
pub(super) fn display_time(t: &str) -> String {
    parse_snapshot_time(t).map_or_else(
        || t.to_owned(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

fn parse_snapshot_time(t: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z")
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A time as a user writes it: RFC 3339, or `YYYY-MM-DD[ HH:MM:SS[.f]]` in UTC.
fn parse_user_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(t) = parse_snapshot_time(s) {
        return Some(t);
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
}

pub(super) fn resolve_snapshot(conn: &Db, spec: &str) -> Result<SnapshotId, CatalogError> {
    let spec = spec.trim();
    if let Ok(id) = spec.parse::<SnapshotId>() {
        let found: Option<SnapshotId> = conn
            .query_row(
                "SELECT snapshot_id FROM ducklake_snapshot WHERE snapshot_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a snapshot"))?;
        return found.ok_or_else(|| CatalogError::NoSnapshot(format!("{id} (see lake log)")));
    }
    let Some(wanted) = parse_user_time(spec) else {
        return Err(CatalogError::NoSnapshot(format!(
            "{spec:?} is neither a snapshot id nor a time like 2026-11-20T10:00:00Z"
        )));
    };
    let mut stmt = conn
        .prepare(
            "SELECT snapshot_id, snapshot_time FROM ducklake_snapshot ORDER BY snapshot_id DESC",
        )
        .map_err(sql("reading snapshots"))?;
    let mut rows = stmt.query([]).map_err(sql("reading snapshots"))?;
    while let Some(row) = rows.next().map_err(sql("reading snapshots"))? {
        let id: SnapshotId = row.get(0).map_err(sql("reading snapshots"))?;
        let time: Option<String> = row.get(1).map_err(sql("reading snapshots"))?;
        if time
            .as_deref()
            .and_then(parse_snapshot_time)
            .is_some_and(|t| t <= wanted)
        {
            return Ok(id);
        }
    }
    Err(CatalogError::NoSnapshot(format!(
        "no snapshot at or before {spec}"
    )))
}

/// The `main` schema: its id and the store key prefix of its tables.
#[derive(Debug, Clone)]
pub(super) struct MainSchema {
    pub id: i64,
    pub dir: String,
}

pub(super) fn main_schema(conn: &Db, at: SnapshotId) -> Result<MainSchema, CatalogError> {
    let row: Option<(i64, Option<String>, Option<bool>)> = conn
        .query_row(
            concat!(
                "SELECT x.schema_id, x.path, x.path_is_relative FROM ducklake_schema x
                 WHERE x.schema_name = 'main' AND ?1 = ?1 AND ",
                live!("x")
            ),
            params![0, at],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(sql("reading the main schema"))?;
    let (id, path, relative) =
        row.ok_or_else(|| CatalogError::Invalid(format!("no schema named main at snapshot {at}")))?;
    let path = path.unwrap_or_default();
    if relative == Some(false) {
        return Err(CatalogError::Invalid(format!(
            "the main schema has an absolute path ({path}), which lake does not support"
        )));
    }
    Ok(MainSchema { id, dir: path })
}

/// One row of `ducklake_table`.
#[derive(Debug, Clone)]
pub(super) struct TableRow {
    pub table_id: i64,
    pub uuid: String,
    pub name: String,
    pub path: String,
    pub path_is_relative: bool,
}

impl TableRow {
    fn from_row(r: &Row<'_>) -> DbResult<TableRow> {
        Ok(TableRow {
            table_id: r.get(0)?,
            uuid: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            name: r.get(2)?,
            path: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            path_is_relative: r.get::<_, Option<bool>>(4)? != Some(false),
        })
    }

    /// The store key prefix of the table's files.
    pub fn dir(&self, main: &MainSchema) -> Result<String, String> {
        if !self.path_is_relative {
            return Err(format!(
                "table path {} is absolute, which lake does not support",
                self.path
            ));
        }
        Ok(format!("{}{}", main.dir, self.path))
    }
}

const TABLE_COLUMNS: &str = "x.table_id, x.table_uuid, x.table_name, x.path, x.path_is_relative";

/// The table named `name` (case-insensitively) in `main` at `at`.
pub(super) fn find_table(
    conn: &Db,
    name: &str,
    at: SnapshotId,
) -> Result<Option<TableRow>, CatalogError> {
    let main = main_schema(conn, at)?;
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {TABLE_COLUMNS} FROM ducklake_table x
             WHERE x.schema_id = ?1 AND lower(x.table_name) = lower(?3) AND {}
             ORDER BY x.table_id LIMIT 1",
            live!("x")
        ))
        .map_err(sql("finding a table"))?;
    stmt.query_row(params![main.id, at, name], TableRow::from_row)
        .optional()
        .map_err(sql("finding a table"))
}

/// The newest row of table `id`, live or not.
pub(super) fn table_by_id(conn: &Db, id: i64) -> Result<Option<TableRow>, CatalogError> {
    conn.query_row(
        &format!(
            "SELECT {TABLE_COLUMNS} FROM ducklake_table x WHERE x.table_id = ?1
             ORDER BY x.begin_snapshot DESC LIMIT 1"
        ),
        [id],
        TableRow::from_row,
    )
    .optional()
    .map_err(sql("reading a table"))
}

pub(super) fn table_names(conn: &Db, at: SnapshotId) -> Result<Vec<String>, CatalogError> {
    let main = main_schema(conn, at)?;
    let mut stmt = conn
        .prepare_cached(concat!(
            "SELECT x.table_name FROM ducklake_table x WHERE x.schema_id = ?1 AND ",
            live!("x"),
            " ORDER BY lower(x.table_name)"
        ))
        .map_err(sql("listing datasets"))?;
    stmt.query_map(params![main.id, at], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sql("listing datasets"))
}

pub(super) fn info(conn: &Db) -> Result<CatalogInfo, CatalogError> {
    let snap = last_snapshot(conn)?;
    let snapshots: u64 = conn
        .query_row("SELECT count(*) FROM ducklake_snapshot", [], |r| r.get(0))
        .map_err(sql("counting snapshots"))?;
    Ok(CatalogInfo {
        ducklake_version: metadata(conn, "version")?.unwrap_or_default(),
        data_path: metadata(conn, "data_path")?.unwrap_or_default(),
        snapshot: snap.id,
        snapshots,
        datasets: table_names(conn, snap.id)?.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_users_write_them() {
        let t = parse_user_time("2026-11-20T10:00:00Z").unwrap();
        assert_eq!(parse_user_time("2026-11-20 10:00:00").unwrap(), t);
        assert_eq!(parse_user_time("2026-11-20T12:00:00+02:00").unwrap(), t);
        assert_eq!(
            parse_snapshot_time("2026-11-20 10:00:00.000000+00").unwrap(),
            t
        );
        assert!(parse_user_time("yesterday").is_none());
    }
}
