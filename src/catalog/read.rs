//! Reading the DuckLake rows: what was live at a snapshot.
//!
//! A row is live at snapshot S when `begin_snapshot <= S` and
//! (`end_snapshot` is NULL or `S < end_snapshot`).

use std::collections::HashMap;

use super::db::{Db, DbResult, OptionalExtension, Row, params};
use serde::Serialize;

use super::{CatalogError, CatalogInfo, Dataset, ObjectRef, SnapshotId, Version, sql};
use crate::schema::{self, Column, ColumnType, Schema};

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

fn snapshot_time(conn: &Db, id: SnapshotId) -> Result<String, CatalogError> {
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

/// A column of a table at some snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableColumn {
    /// DuckLake's column id: the field id its files use.
    pub column_id: i64,
    pub name: String,
    /// The type as DuckLake spells it (`int64`, `varchar`, ...).
    pub ducklake_type: String,
    /// What files written before the column existed read as (NULL if none).
    pub initial_default: Option<String>,
    /// The fields of a STRUCT, the element of a LIST, the key and value of
    /// a MAP, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TableColumn>,
}

impl TableColumn {
    /// The type as DuckDB names it (`int32` is `INTEGER`, a STRUCT's field
    /// names quoted); a type DuckDB's name is not known for, as DuckLake
    /// spells it, upper-cased.
    pub fn sql_type(&self) -> String {
        let children = || self.children.iter().map(TableColumn::sql_type);
        match self.nested() {
            Some(Nested::Struct) => {
                let fields = self
                    .children
                    .iter()
                    .map(|c| format!("{} {}", schema::quote_ident(&c.name), c.sql_type()))
                    .collect::<Vec<_>>();
                format!("STRUCT({})", fields.join(", "))
            }
            Some(Nested::List) => format!("{}[]", children().collect::<String>()),
            Some(Nested::Map) => format!("MAP({})", children().collect::<Vec<_>>().join(", ")),
            None => schema::duckdb_type(&self.ducklake_type)
                .unwrap_or_else(|| self.ducklake_type.to_ascii_uppercase()),
        }
    }

    /// Whether lake can read the column.
    pub fn readable(&self) -> bool {
        match self.nested() {
            Some(_) => self.children.iter().all(TableColumn::readable),
            None => self.children.is_empty() && schema::duckdb_type(&self.ducklake_type).is_some(),
        }
    }

    /// The lake type of the column, if lake ingests that type.
    pub fn column_type(&self) -> Option<ColumnType> {
        match self.nested() {
            Some(Nested::Struct) => self
                .children
                .iter()
                .map(|c| {
                    Some(Column {
                        name: c.name.clone(),
                        column_type: c.column_type()?,
                    })
                })
                .collect::<Option<_>>()
                .map(ColumnType::Struct),
            Some(Nested::List) => Some(ColumnType::List(Box::new(self.children[0].column_type()?))),
            Some(Nested::Map) => None,
            None if self.children.is_empty() => ColumnType::from_ducklake(&self.ducklake_type),
            None => None,
        }
    }

    /// The nested type the column is, with as many children as it needs.
    fn nested(&self) -> Option<Nested> {
        let (nested, children) = match self.ducklake_type.to_ascii_lowercase().as_str() {
            "struct" => (Nested::Struct, self.children.len().max(1)),
            "list" => (Nested::List, 1),
            "map" => (Nested::Map, 2),
            _ => return None,
        };
        (self.children.len() == children).then_some(nested)
    }

    /// The column's id and its children's, and theirs.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids = vec![self.column_id];
        for c in &self.children {
            ids.extend(c.ids());
        }
        ids
    }
}

/// The nested types DuckLake has.
enum Nested {
    Struct,
    List,
    Map,
}

pub(super) fn columns(
    conn: &Db,
    table_id: i64,
    at: SnapshotId,
) -> Result<Vec<TableColumn>, CatalogError> {
    // Every column, children too, in one query: a lookup per column is
    // quadratic on wide tables.
    let mut stmt = conn
        .prepare_cached(concat!(
            "SELECT x.column_id, x.column_name, x.column_type, x.initial_default, x.parent_column
             FROM ducklake_column x
             WHERE x.table_id = ?1 AND ",
            live!("x"),
            " ORDER BY x.column_order, x.column_id"
        ))
        .map_err(sql("reading columns"))?;
    let mut by_parent: HashMap<Option<i64>, Vec<TableColumn>> = HashMap::new();
    let rows = stmt
        .query_map(params![table_id, at], |r| {
            let column = TableColumn {
                column_id: r.get(0)?,
                name: r.get(1)?,
                ducklake_type: r.get(2)?,
                initial_default: r.get(3)?,
                children: Vec::new(),
            };
            Ok((r.get::<_, Option<i64>>(4)?, column))
        })
        .map_err(sql("reading columns"))?;
    for row in rows {
        let (parent, column) = row.map_err(sql("reading columns"))?;
        by_parent.entry(parent).or_default().push(column);
    }
    /// Gives each column its children, and them theirs.
    fn adopt(columns: &mut [TableColumn], by_parent: &mut HashMap<Option<i64>, Vec<TableColumn>>) {
        for c in columns {
            if let Some(mut children) = by_parent.remove(&Some(c.column_id)) {
                adopt(&mut children, by_parent);
                c.children = children;
            }
        }
    }
    let mut top = by_parent.remove(&None).unwrap_or_default();
    adopt(&mut top, &mut by_parent);
    Ok(top)
}

/// The lake schema of `columns`, or the columns whose types lake does not
/// ingest.
pub(super) fn schema_of(columns: &[TableColumn]) -> Result<Schema, String> {
    let mut out = Vec::new();
    let mut foreign = Vec::new();
    for c in columns {
        match c.column_type() {
            Some(t) => out.push(Column {
                name: c.name.clone(),
                column_type: t,
            }),
            None => foreign.push(format!("{} {}", c.name, c.sql_type())),
        }
    }
    if foreign.is_empty() {
        Ok(Schema { columns: out })
    } else {
        Err(foreign.join(", "))
    }
}

/// The fingerprint of `columns`: the lake schema's, with DuckDB's type
/// names for types lake does not ingest.
fn fingerprint(columns: &[TableColumn]) -> String {
    schema::fingerprint_of(columns.iter().map(|c| (c.name.clone(), c.sql_type())))
}

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
fn file_key(
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

fn live_files(
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
fn name_mapping(conn: &Db, mapping_id: i64) -> Result<HashMap<i64, String>, CatalogError> {
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
fn inlined_rows(conn: &Db, table_id: i64, at: SnapshotId) -> Result<u64, CatalogError> {
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
                    crate::query::quote_ident(&t),
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

/// The snapshots that changed table `id`, up to `at`, oldest first.
fn change_snapshots(conn: &Db, id: i64, at: SnapshotId) -> Result<Vec<SnapshotId>, CatalogError> {
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

fn version_of(
    conn: &Db,
    table: &TableRow,
    at: SnapshotId,
    number: u64,
) -> Result<Version, CatalogError> {
    let state = state_of(conn, table, at)?;
    Ok(version_from_state(&state, number, snapshot_time(conn, at)?))
}

fn version_from_state(state: &TableState, number: u64, created_at: String) -> Version {
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

fn dataset_id(conn: &Db, table: &TableRow) -> Result<String, CatalogError> {
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
