//! The files of a table live at a snapshot: data files, their deletion
//! files and name mappings, resolved to store keys; everything needed to
//! read the table then.

use std::collections::HashMap;

use super::db::{Db, DbResult, Row, params};
use serde::Serialize;

use super::{CatalogError, SnapshotId, sql};
use crate::schema::Schema;

use super::columns::{TableColumn, columns, schema_of};
use super::read::{
    MainSchema, TableRow, find_table, last_snapshot, live, main_schema, metadata, table_by_id,
};

/// A deletion file of a data file.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteRef {
    /// The store key, or why it has none.
    pub key: Result<String, String>,
    pub count: u64,
}

/// A data file live at some snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct LiveFile {
    pub data_file_id: i64,
    /// The store key, or why it has none.
    pub key: Result<String, String>,
    /// Rows in the file, before deletions.
    pub rows: u64,
    pub bytes: u64,
    /// The DuckLake name mapping of the file, if it has one.
    pub mapping_id: Option<i64>,
    /// By column id, the name of the column in the file; `None` when the
    /// file carries DuckLake's field ids instead.
    pub names: Option<HashMap<i64, String>>,
    pub deletes: Vec<DeleteRef>,
}

impl LiveFile {
    /// Rows after deletions.
    pub fn live_rows(&self) -> u64 {
        let deleted: u64 = self.deletes.iter().map(|d| d.count).sum();
        self.rows.saturating_sub(deleted)
    }
}

/// Everything needed to read a table at a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct TableState {
    pub name: String,
    pub table_id: i64,
    pub snapshot: SnapshotId,
    pub columns: Vec<TableColumn>,
    pub files: Vec<LiveFile>,
    /// What lake cannot honour in this table (empty when it reads it all).
    pub problems: Vec<String>,
}

/// Resolves a file path of a table whose files live under `dir`.
pub(super) fn file_key(
    dir: &Result<String, String>,
    path: &str,
    relative: bool,
    data_path: &str,
) -> Result<String, String> {
    if relative {
        return dir
            .as_ref()
            .map(|d| format!("{d}{path}"))
            .map_err(Clone::clone);
    }
    if !data_path.is_empty()
        && let Some(rest) = path.strip_prefix(data_path)
    {
        return Ok(rest.to_owned());
    }
    Err(format!("file {path} is outside the lake's store"))
}

/// The columns a data file row and a delete file row share: the data file
/// id, path, whether it is relative, the row count, format and key.
struct FileRow {
    data_file_id: i64,
    path: String,
    relative: bool,
    count: u64,
    format: Option<String>,
    encryption_key: Option<String>,
}

impl FileRow {
    fn read(r: &Row<'_>) -> DbResult<FileRow> {
        Ok(FileRow {
            data_file_id: r.get(0)?,
            path: r.get(1)?,
            relative: r.get::<_, Option<bool>>(2)? != Some(false),
            count: r.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
            format: r.get(4)?,
            encryption_key: r.get(5)?,
        })
    }

    /// Notes in `problems` what lake cannot read in this file.
    fn check(&self, kind: &str, problems: &mut Vec<String>) {
        if self.format.as_deref().is_some_and(|f| f != "parquet") || self.encryption_key.is_some() {
            problems.push(format!(
                "{kind} file {} is encrypted or not Parquet",
                self.path
            ));
        }
    }
}

pub(super) fn live_files(
    conn: &Db,
    table: &TableRow,
    main: &MainSchema,
    at: SnapshotId,
    problems: &mut Vec<String>,
) -> Result<Vec<LiveFile>, CatalogError> {
    let data_path = metadata(conn, "data_path")?.unwrap_or_default();
    let dir = table.dir(main);
    let mut deletes: HashMap<i64, Vec<DeleteRef>> = HashMap::new();
    {
        let mut stmt = conn
            .prepare_cached(concat!(
                "SELECT x.data_file_id, x.path, x.path_is_relative, x.delete_count, x.format,
                        x.encryption_key
                 FROM ducklake_delete_file x WHERE x.table_id = ?1 AND ",
                live!("x")
            ))
            .map_err(sql("reading delete files"))?;
        let rows = stmt
            .query_map(params![table.table_id, at], FileRow::read)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql("reading delete files"))?;
        for f in rows {
            f.check("delete", problems);
            deletes.entry(f.data_file_id).or_default().push(DeleteRef {
                key: file_key(&dir, &f.path, f.relative, &data_path),
                count: f.count,
            });
        }
    }
    let mut stmt = conn
        .prepare_cached(concat!(
            "SELECT x.data_file_id, x.path, x.path_is_relative, x.record_count,
                    x.file_format, x.encryption_key, x.file_size_bytes, x.mapping_id,
                    x.partial_max
             FROM ducklake_data_file x WHERE x.table_id = ?1 AND ",
            live!("x"),
            " ORDER BY x.file_order, x.data_file_id"
        ))
        .map_err(sql("reading data files"))?;
    let rows = stmt
        .query_map(params![table.table_id, at], |r| {
            Ok((
                FileRow::read(r)?,
                r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<i64>>(8)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("reading data files"))?;
    let mut mappings: HashMap<i64, HashMap<i64, String>> = HashMap::new();
    let mut files = Vec::with_capacity(rows.len());
    for (f, bytes, mapping, partial) in rows {
        f.check("data", problems);
        if partial.is_some() {
            problems.push(format!(
                "data file {} is only partly visible (partial_max)",
                f.path
            ));
        }
        let names = match mapping {
            None => None,
            Some(m) => {
                if let std::collections::hash_map::Entry::Vacant(e) = mappings.entry(m) {
                    e.insert(name_mapping(conn, m)?);
                }
                mappings.get(&m).cloned()
            }
        };
        files.push(LiveFile {
            data_file_id: f.data_file_id,
            key: file_key(&dir, &f.path, f.relative, &data_path),
            rows: f.count,
            bytes: bytes.max(0) as u64,
            mapping_id: mapping,
            names,
            deletes: deletes.remove(&f.data_file_id).unwrap_or_default(),
        });
    }
    Ok(files)
}

/// Column id -> source name of a `map_by_name` mapping's top-level columns.
pub(super) fn name_mapping(
    conn: &Db,
    mapping_id: i64,
) -> Result<HashMap<i64, String>, CatalogError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT n.target_field_id, n.source_name FROM ducklake_name_mapping n
             WHERE n.mapping_id = ?1 AND n.parent_column IS NULL",
        )
        .map_err(sql("reading a column mapping"))?;
    stmt.query_map([mapping_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(sql("reading a column mapping"))
}

/// Rows DuckDB inlined into the catalog for `table_id`, live at `at`, and
/// inlined deletions of file rows.
pub(super) fn inlined_rows(conn: &Db, table_id: i64, at: SnapshotId) -> Result<u64, CatalogError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT i.table_name FROM ducklake_inlined_data_tables i WHERE i.table_id = ?1",
        )
        .map_err(sql("reading inlined data"))?;
    let tables: Vec<String> = stmt
        .query_map([table_id], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sql("reading inlined data"))?;
    let mut total = 0u64;
    for t in tables {
        if !conn.has_table(&t).map_err(sql("reading inlined data"))? {
            continue;
        }
        let n: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {} x WHERE ?1 = ?1 AND {}",
                    crate::schema::quote_ident(&t),
                    live!("x")
                ),
                params![0, at],
                |r| r.get(0),
            )
            .map_err(sql("reading inlined data"))?;
        total += n.max(0) as u64;
    }
    let deletes = format!("ducklake_inlined_delete_{table_id}");
    let has_deletes = conn
        .has_table(&deletes)
        .map_err(sql("reading inlined data"))?;
    if has_deletes {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {deletes}"), [], |r| r.get(0))
            .map_err(sql("reading inlined data"))?;
        total += n.max(0) as u64;
    }
    Ok(total)
}

pub(super) fn state_of(
    conn: &Db,
    table: &TableRow,
    at: SnapshotId,
) -> Result<TableState, CatalogError> {
    let main = main_schema(conn, at)?;
    let columns = columns(conn, table.table_id, at)?;
    let mut problems = Vec::new();
    for c in &columns {
        if !c.readable() {
            problems.push(format!(
                "column {} has type {}, which lake cannot read",
                c.name, c.ducklake_type
            ));
        }
    }
    let files = live_files(conn, table, &main, at, &mut problems)?;
    let inlined = inlined_rows(conn, table.table_id, at)?;
    if inlined > 0 {
        problems.push(format!(
            "{inlined} rows are inlined in the catalog (DuckLake data inlining), which lake cannot \
             read yet; in DuckDB run CALL <lake>.flush_inlined_data() or set the option \
             data_inlining_row_limit to 0 before inserting"
        ));
    }
    Ok(TableState {
        name: table.name.clone(),
        table_id: table.table_id,
        snapshot: at,
        columns,
        files,
        problems,
    })
}

pub(super) fn table_state(
    conn: &Db,
    name: &str,
    at: SnapshotId,
) -> Result<Option<TableState>, CatalogError> {
    match find_table(conn, name, at)? {
        Some(table) => state_of(conn, &table, at).map(Some),
        None => Ok(None),
    }
}

pub(super) fn files_without_stats(conn: &Db) -> Result<Vec<(i64, String, Schema)>, CatalogError> {
    let at = last_snapshot(conn)?.id;
    let main = main_schema(conn, at)?;
    let mut stmt = conn
        .prepare(
            "SELECT f.data_file_id, f.table_id, f.path, f.path_is_relative, f.begin_snapshot
             FROM lake_object o JOIN ducklake_data_file f USING (data_file_id)
             WHERE o.stats_recorded = 0",
        )
        .map_err(sql("reading files without statistics"))?;
    let rows: Vec<(i64, i64, String, bool, SnapshotId)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, Option<bool>>(3)? != Some(false),
                r.get(4)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(sql("reading files without statistics"))?;
    let data_path = metadata(conn, "data_path")?.unwrap_or_default();
    let mut out = Vec::new();
    for (file, table, path, relative, begin) in rows {
        let Some(table) = table_by_id(conn, table)? else {
            continue;
        };
        let Ok(schema) = schema_of(&columns(conn, table.table_id, begin)?) else {
            continue;
        };
        if let Ok(key) = file_key(&table.dir(&main), &path, relative, &data_path) {
            out.push((file, key, schema));
        }
    }
    Ok(out)
}
