//! `vector_search(dataset, column, vector, k, ef_search := n)` in SQL: a
//! table macro over the table function `lake_vector_search`, which searches
//! the HNSW index of every data object of the dataset (rows deleted since
//! left out), scans the objects without one, and reads the rows found from
//! their objects (only the pages holding them), with the dataset's columns
//! as its view shows them, plus `distance`, nearest first.
//!
//! The table function is the database's (DuckDB registers functions of its
//! API system-wide); what each connection registered as a dataset is in the
//! [`Searches`] registry, under the connection's number, which its own
//! temporary macro passes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::arrow::{record_batch_to_duckdb_data_chunk, to_duckdb_logical_type};
use duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab};

use super::view::ViewColumn;
use crate::vector::{IndexFile, Metric};

mod rows;

/// The name of the table function the macro calls.
const TABLE_FUNCTION: &str = "lake_vector_search";

/// Index files kept open (mapped) between searches, at most.
const OPEN_INDEXES: usize = 256;

/// Candidates weighed at least, when the query gives no `ef_search`.
pub const DEFAULT_EF_SEARCH: usize = 100;

/// Opens an index object by key: its local path (the store's, or its
/// cache's copy).
pub type IndexOpener = Arc<dyn Fn(&str) -> Result<PathBuf, String> + Send + Sync>;

/// A data file of a dataset, as a search reads it.
#[derive(Clone)]
pub struct SearchFile {
    pub path: PathBuf,
    /// Column id -> its name in the file.
    pub names: HashMap<i64, String>,
    /// Its deletion files.
    pub deletes: Vec<PathBuf>,
    /// Column id -> the key of the file's index object of that column.
    pub indexes: HashMap<i64, String>,
}

/// A dataset as one connection registered it.
#[derive(Clone)]
pub struct SearchTarget {
    pub columns: Vec<ViewColumn>,
    pub files: Vec<SearchFile>,
    /// Column id -> the metric of its index (columns without one: cosine).
    pub metrics: HashMap<i64, Metric>,
    pub open: IndexOpener,
}

/// The registry of one database: each connection's datasets, and the
/// index files open.
#[derive(Default)]
pub struct Searches {
    next: AtomicU64,
    targets: Mutex<HashMap<u64, HashMap<String, Arc<SearchTarget>>>>,
    open: Mutex<HashMap<String, Arc<IndexFile>>>,
}

impl Searches {
    /// A number for a new connection.
    pub fn connection(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers (or replaces) `name` for connection `conn`.
    pub fn register(&self, conn: u64, name: &str, target: SearchTarget) {
        lock(&self.targets)
            .entry(conn)
            .or_default()
            .insert(name.to_lowercase(), Arc::new(target));
    }

    /// Forgets a connection's datasets.
    pub fn close(&self, conn: u64) {
        lock(&self.targets).remove(&conn);
    }

    fn target(&self, conn: u64, name: &str) -> Result<Arc<SearchTarget>, String> {
        lock(&self.targets)
            .get(&conn)
            .and_then(|t| t.get(&name.to_lowercase()))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "vector_search: no dataset {name:?} (name the dataset as a string literal: \
                     vector_search('docs', 'emb', [...], 10))"
                )
            })
    }

    fn index(&self, key: &str, open: &IndexOpener) -> Result<Arc<IndexFile>, String> {
        if let Some(index) = lock(&self.open).get(key) {
            return Ok(index.clone());
        }
        let path = open(key)?;
        let index = Arc::new(IndexFile::open(&path).map_err(|e| format!("index {key}: {e}"))?);
        let mut open = lock(&self.open);
        if open.len() >= OPEN_INDEXES {
            open.clear();
        }
        open.insert(key.to_owned(), index.clone());
        Ok(index)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The statements that give connection `conn` its `vector_search` macro.
pub fn macro_sql(conn: u64) -> String {
    format!(
        "CREATE OR REPLACE TEMP MACRO vector_search(dataset, \"column\", vector, k, ef_search := 0) \
         AS TABLE SELECT * FROM {TABLE_FUNCTION}({conn}, dataset, \"column\", \
         CAST(CAST(vector AS FLOAT[]) AS VARCHAR), k, ef_search);"
    )
}

/// Registers the table function of the database `conn` belongs to.
pub fn register_function(
    conn: &duckdb::Connection,
    searches: &Arc<Searches>,
) -> duckdb::Result<()> {
    conn.register_table_function_with_extra_info::<SearchRows, _>(TABLE_FUNCTION, searches)
}

/// The table function: (connection, dataset, column, vector as text, k,
/// ef_search) -> the rows found. The search runs when DuckDB binds it (its
/// arguments are constants), so that the columns are known.
struct SearchRows;

/// What the search found (at bind: the rows, nearest first).
struct Found {
    target: Arc<SearchTarget>,
    hits: Vec<rows::Hit>,
}

/// The rows found, with the columns the query reads, handed out a
/// vector's worth at a time.
struct Handed {
    batch: RecordBatch,
    offset: AtomicUsize,
}

impl VTab for SearchRows {
    type BindData = Found;
    type InitData = Handed;

    fn bind(bind: &BindInfo) -> Result<Found, Box<dyn std::error::Error>> {
        // SAFETY: registered with an `Arc<Searches>` as its extra info, which
        // DuckDB keeps as long as the function.
        let searches = unsafe { &*bind.get_extra_info::<Arc<Searches>>() };
        let text = |i: u64| bind.get_parameter(i).to_string();
        let request = Request {
            dataset: &text(1),
            column: &text(2),
            vector: parse_vector(&text(3))?,
            k: bind.get_parameter(4).to_int64(),
            ef_search: bind.get_parameter(5).to_int64(),
        };
        let conn = bind.get_parameter(0).to_int64() as u64;
        let (target, hits) = rows::search(searches, conn, &request)?;
        for field in rows::schema(&target.columns).fields() {
            bind.add_result_column(field.name(), to_duckdb_logical_type(field.data_type())?);
        }
        Ok(Found { target, hits })
    }

    fn init(init: &InitInfo) -> Result<Handed, Box<dyn std::error::Error>> {
        // SAFETY: DuckDB hands init the data bind returned.
        let found = unsafe { &*init.get_bind_data::<Found>() };
        let projection: Vec<usize> = init
            .get_column_indices()
            .into_iter()
            .map(|i| i as usize)
            .collect();
        let batch = rows::read(&found.target, &found.hits, &projection)?;
        Ok(Handed {
            batch,
            offset: AtomicUsize::new(0),
        })
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let handed = func.get_init_data();
        let batch = &handed.batch;
        let offset = handed.offset.fetch_add(VECTOR_ROWS, Ordering::Relaxed);
        if offset >= batch.num_rows() {
            output.set_len(0);
            return Ok(());
        }
        let part = batch.slice(offset, VECTOR_ROWS.min(batch.num_rows() - offset));
        if part.num_columns() == 0 {
            output.set_len(part.num_rows());
            return Ok(());
        }
        record_batch_to_duckdb_data_chunk(&part, output)
    }

    fn supports_pushdown() -> bool {
        true
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        let (int, text) = (LogicalTypeId::Bigint, LogicalTypeId::Varchar);
        Some(vec![
            int.into(),
            text.into(),
            text.into(),
            text.into(),
            int.into(),
            int.into(),
        ])
    }
}

/// Rows in one DuckDB vector (its `STANDARD_VECTOR_SIZE`).
const VECTOR_ROWS: usize = 2048;

/// One call of `vector_search`.
pub(crate) struct Request<'a> {
    pub dataset: &'a str,
    pub column: &'a str,
    pub vector: Vec<f32>,
    pub k: i64,
    pub ef_search: i64,
}

/// DuckDB's text of a FLOAT[] (`[0.1, 2.0]`).
fn parse_vector(text: &str) -> Result<Vec<f32>, String> {
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or("vector_search: the vector is not a list of numbers")?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|n| match n.trim().parse::<f32>() {
            Ok(f) if f.is_finite() => Ok(f),
            _ => Err(format!(
                "vector_search: {:?} in the vector is not a finite number",
                n.trim()
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_parse_as_duckdb_prints_them() {
        assert_eq!(parse_vector("[0.5, -1.0, 3e-2]"), Ok(vec![0.5, -1.0, 0.03]));
        assert_eq!(parse_vector("[]"), Ok(vec![]));
        assert!(parse_vector("[1, nan]").is_err());
        assert!(parse_vector("hello").is_err());
    }
}
