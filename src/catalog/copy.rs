//! Copying a whole catalog into a new one, on the same kind of database or
//! the other (`lake catalog migrate`): every row of DuckLake's tables and
//! lake's own, all snapshots, in one transaction on the target, so a
//! failure leaves the target as new as it was.

use serde::Serialize;

use super::db::{Db, Value, ValueRef};
use super::{Catalog, CatalogError, sql};

/// Rows inserted by one statement.
const BATCH: usize = 500;

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Copied {
    pub tables: u64,
    pub rows: u64,
    pub snapshots: u64,
}

/// Where the copy's objects are, when the target must name them otherwise
/// than the source (a shared catalog names an absolute data path).
#[derive(Debug, Clone, Default)]
pub struct Relocation<'a> {
    /// DuckLake's `data_path`.
    pub data_path: Option<&'a str>,
    /// lake's `store` setting.
    pub store: Option<&'a str>,
}

/// Whether a table is part of a catalog (DuckLake's or lake's own), and
/// not the version of lake's tables (each database keeps its own).
fn copied(table: &str) -> bool {
    (table.starts_with("ducklake_") || table.starts_with("lake_") || table == "settings")
        && table != "lake_version"
}

/// Copies `source` into `target`, which must be new (only snapshot 0),
/// holding the source's write lock throughout: what is copied is one
/// moment of it, and no writer commits to it meanwhile.
pub(super) fn copy(
    source: &mut Catalog,
    target: &mut Catalog,
    relocation: &Relocation<'_>,
) -> Result<Copied, CatalogError> {
    let snapshots: i64 = target
        .conn
        .query_row("SELECT count(*) FROM ducklake_snapshot", [], |r| r.get(0))
        .map_err(sql("reading the target catalog"))?;
    let tables: i64 = target
        .conn
        .query_row("SELECT count(*) FROM ducklake_table", [], |r| r.get(0))
        .map_err(sql("reading the target catalog"))?;
    if snapshots > 1 || tables > 0 {
        return Err(CatalogError::Invalid(format!(
            "the target catalog is not new ({snapshots} snapshots, {tables} table rows): \
             migrate into an empty database"
        )));
    }
    let from = source
        .conn
        .write_transaction()
        .map_err(sql("locking the source catalog"))?;
    let names = from.tables().map_err(sql("listing the catalog's tables"))?;
    let tx = target
        .conn
        .write_transaction()
        .map_err(sql("starting the copy"))?;
    let mut out = Copied::default();
    for table in names.iter().filter(|t| copied(t)) {
        let rows: i64 = from
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(sql("counting a table's rows"))?;
        let columns = tx
            .columns(table)
            .map_err(sql("reading the target's columns"))?;
        if columns.is_empty() {
            if rows == 0 {
                continue;
            }
            return Err(CatalogError::Invalid(format!(
                "{table} ({rows} rows) has no table in the target: DuckDB's inlined data \
                 cannot be migrated; flush it first (CALL ducklake_flush_inlined_data)"
            )));
        }
        tx.execute(&format!("DELETE FROM {table}"), [])
            .map_err(sql("emptying a target table"))?;
        copy_table(&from, &tx, table, &columns)?;
        out.tables += 1;
        out.rows += rows.max(0) as u64;
    }
    if let Some(path) = relocation.data_path {
        tx.execute(
            "UPDATE ducklake_metadata SET value = ?1 WHERE key = 'data_path' AND scope IS NULL",
            [path],
        )
        .map_err(sql("recording the data path"))?;
    }
    if let Some(store) = relocation.store {
        tx.execute(
            "UPDATE settings SET value = ?1 WHERE key = 'store'",
            [store],
        )
        .map_err(sql("recording the store"))?;
    }
    out.snapshots = tx
        .query_row("SELECT count(*) FROM ducklake_snapshot", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(sql("counting the snapshots copied"))?
        .max(0) as u64;
    tx.commit().map_err(sql("committing the copy"))?;
    from.rollback()
        .map_err(sql("unlocking the source catalog"))?;
    Ok(out)
}

/// Copies one table's rows, each value made what the target's column
/// holds (booleans are integers in SQLite and `t`/`f` as PostgreSQL's text).
fn copy_table(
    from: &Db,
    to: &Db,
    table: &str,
    columns: &[(String, String)],
) -> Result<(), CatalogError> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut select = from
        .prepare(&format!("SELECT {list} FROM {table}"))
        .map_err(sql("reading a table to copy"))?;
    let mut rows = select.query([]).map_err(sql("reading a table to copy"))?;
    let mut batch: Vec<Value> = Vec::new();
    let mut count = 0;
    let flush = |batch: &mut Vec<Value>, count: &mut usize| -> Result<(), CatalogError> {
        if *count == 0 {
            return Ok(());
        }
        let one = format!("({})", vec!["?"; columns.len()].join(", "));
        let sql_text = format!(
            "INSERT INTO {table} ({list}) VALUES {}",
            vec![one; *count].join(", ")
        );
        to.execute(&sql_text, std::mem::take(batch))
            .map_err(sql("writing a copied table"))?;
        *count = 0;
        Ok(())
    };
    while let Some(row) = rows.next().map_err(sql("reading a table to copy"))? {
        for (i, (_, kind)) in columns.iter().enumerate() {
            let v = row.value(i).map_err(sql("reading a table to copy"))?;
            batch.push(as_column(v, kind));
        }
        count += 1;
        if count == BATCH {
            flush(&mut batch, &mut count)?;
        }
    }
    flush(&mut batch, &mut count)
}

/// A value as a column of type `kind` holds it.
fn as_column(v: ValueRef<'_>, kind: &str) -> Value {
    match (v, kind) {
        (ValueRef::Int(i), "BOOLEAN") => Value::Bool(i != 0),
        (ValueRef::Text("t"), k) if k != "BOOLEAN" && !k.contains("CHAR") && k != "TEXT" => {
            Value::Int(1)
        }
        (ValueRef::Text("f"), k) if k != "BOOLEAN" && !k.contains("CHAR") && k != "TEXT" => {
            Value::Int(0)
        }
        (v, _) => v.to_value(),
    }
}
