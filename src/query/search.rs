//! `vector_search(dataset, column, vector, k, ef_search := n)` in SQL: a
//! table macro over `query(lake_vector_search_sql(...))`. The scalar
//! function searches the HNSW index of every data object of the dataset
//! (rows deleted since left out), scans the objects without one exactly,
//! and returns the SQL that reads those rows with their distances, nearest
//! first; DuckDB then reads them as the dataset's view would (casts,
//! renamed columns, defaults).
//!
//! The scalar function is the database's (DuckDB registers functions of
//! its API system-wide); what each connection registered as a dataset is
//! in the [`Searches`] registry, under the connection's number, which its
//! own temporary macro passes.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use duckdb::core::{DataChunkHandle, Inserter, LogicalTypeId};
use duckdb::ffi::duckdb_string_t;
use duckdb::types::DuckString;
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::view::{ViewColumn, path_list, projection};
use crate::schema::{quote_ident, quote_literal};
use crate::vector::{Hit, IndexFile, Metric};

/// The name of the scalar function the macro calls.
const SQL_FUNCTION: &str = "lake_vector_search_sql";

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
         AS TABLE SELECT * FROM query({SQL_FUNCTION}({conn}, dataset, \"column\", \
         CAST(CAST(vector AS FLOAT[]) AS VARCHAR), k, ef_search));"
    )
}

/// Registers the scalar function of the database `conn` belongs to.
pub fn register_function(
    conn: &duckdb::Connection,
    searches: &Arc<Searches>,
) -> duckdb::Result<()> {
    conn.register_scalar_function_with_state::<SearchSql>(SQL_FUNCTION, searches)
}

/// The scalar function: (connection, dataset, column, vector as text, k,
/// ef_search) -> the SQL of the answer.
struct SearchSql;

impl VScalar for SearchSql {
    type State = Arc<Searches>;

    fn invoke(
        state: &Self::State,
        input: &mut DataChunkHandle,
        output: &mut dyn WritableVector,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let rows = input.len();
        let ints = |i: usize| -> Vec<i64> {
            let v = input.flat_vector(i);
            // SAFETY: the signature makes these columns BIGINT.
            unsafe { v.as_slice_with_len::<i64>(rows) }.to_vec()
        };
        let texts = |i: usize| -> Vec<String> {
            let v = input.flat_vector(i);
            // SAFETY: the signature makes these columns VARCHAR.
            unsafe { v.as_slice_with_len::<duckdb_string_t>(rows) }
                .iter()
                .map(|s| DuckString::new(&mut { *s }).as_str().into_owned())
                .collect()
        };
        let (conns, names, columns, vectors, ks, efs) =
            (ints(0), texts(1), texts(2), texts(3), ints(4), ints(5));
        let out = output.flat_vector();
        for row in 0..rows {
            let request = Request {
                dataset: &names[row],
                column: &columns[row],
                vector: parse_vector(&vectors[row])?,
                k: ks[row],
                ef_search: efs[row],
            };
            let sql = search_sql(state, conns[row] as u64, &request)?;
            out.insert(row, sql.as_str());
        }
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        let (int, text) = (LogicalTypeId::Bigint, LogicalTypeId::Varchar);
        vec![ScalarFunctionSignature::exact(
            vec![
                int.into(),
                text.into(),
                text.into(),
                text.into(),
                int.into(),
                int.into(),
            ],
            text.into(),
        )]
    }
}

/// One call of `vector_search`.
struct Request<'a> {
    dataset: &'a str,
    column: &'a str,
    vector: Vec<f32>,
    k: i64,
    ef_search: i64,
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

/// The SQL of the `k` rows nearest the request's vector.
fn search_sql(searches: &Searches, conn: u64, r: &Request<'_>) -> Result<String, String> {
    let target = searches.target(conn, r.dataset)?;
    let column = target
        .columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(r.column))
        .ok_or_else(|| format!("vector_search: {} has no column {:?}", r.dataset, r.column))?;
    let dim = vector_length(&column.sql_type).ok_or_else(|| {
        format!(
            "vector_search: {}.{} is {}, not FLOAT[N]",
            r.dataset, column.name, column.sql_type
        )
    })?;
    if r.vector.len() != dim {
        return Err(format!(
            "vector_search: the vector has {} numbers; {}.{} is FLOAT[{dim}]",
            r.vector.len(),
            r.dataset,
            column.name
        ));
    }
    if r.k < 1 {
        return Err("vector_search: k must be at least 1".into());
    }
    let k = r.k as usize;
    let ef = if r.ef_search > 0 {
        r.ef_search as usize
    } else {
        DEFAULT_EF_SEARCH
    }
    .max(k);
    let metric = target
        .metrics
        .get(&column.column_id)
        .copied()
        .unwrap_or(Metric::Cosine);
    let literal = vector_literal(&r.vector, dim);
    let mut parts = Vec::new();
    for file in &target.files {
        let select = projection(&target.columns, &file.names);
        let path = quote_literal(&file.path.to_string_lossy());
        let deletes: Vec<&PathBuf> = file.deletes.iter().collect();
        let Some(key) = file.indexes.get(&column.column_id) else {
            // No index: DuckDB's exact distance over the file.
            let source = match file.names.get(&column.column_id) {
                Some(name) => format!("CAST({} AS FLOAT[{dim}])", quote_ident(name)),
                None => continue,
            };
            let filter = if deletes.is_empty() {
                String::new()
            } else {
                format!(
                    " WHERE file_row_number NOT IN (SELECT pos FROM read_parquet({}))",
                    path_list(&deletes)
                )
            };
            parts.push(format!(
                "(SELECT {select}, {}({source}, {literal}) AS distance \
                 FROM read_parquet({path}, file_row_number = true){filter} \
                 ORDER BY distance LIMIT {k})",
                metric.sql_function()
            ));
            continue;
        };
        let index = searches.index(key, &target.open)?;
        let deleted = deleted_rows(&deletes)?;
        let hits: Vec<Hit> = index
            .search(&r.vector, k, ef, &|row| !deleted.contains(&(row as i64)))
            .map_err(|e| format!("vector_search: {e}"))?;
        if hits.is_empty() {
            continue;
        }
        let values = hits
            .iter()
            .map(|h| format!("({}, CAST({:?} AS FLOAT))", h.row, h.distance))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(format!(
            "(SELECT {select}, __lake_distance AS distance \
             FROM read_parquet({path}, file_row_number = true) \
             JOIN (VALUES {values}) AS __lake_hit(__lake_row, __lake_distance) \
             ON file_row_number = __lake_row)"
        ));
    }
    if parts.is_empty() {
        return Ok(format!(
            "SELECT {}, CAST(NULL AS FLOAT) AS distance WHERE false",
            projection(&target.columns, &HashMap::new())
        ));
    }
    Ok(format!(
        "SELECT * FROM ({}) ORDER BY distance LIMIT {k}",
        parts.join(" UNION ALL ")
    ))
}

/// N of a `FLOAT[N]` SQL type.
fn vector_length(sql_type: &str) -> Option<usize> {
    sql_type
        .strip_prefix("FLOAT[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The vector as a SQL `FLOAT[N]` literal.
fn vector_literal(v: &[f32], dim: usize) -> String {
    let numbers = v
        .iter()
        .map(|f| format!("{f:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("CAST([{numbers}] AS FLOAT[{dim}])")
}

/// The row positions DuckLake deletion files (`file_path`, `pos`) name.
fn deleted_rows(files: &[&PathBuf]) -> Result<HashSet<i64>, String> {
    let mut rows = HashSet::new();
    for path in files {
        read_positions(path, &mut rows).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(rows)
}

fn read_positions(path: &Path, rows: &mut HashSet<i64>) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let position = builder
        .schema()
        .fields()
        .iter()
        .position(|f| f.name() == "pos")
        .ok_or("a deletion file without `pos`")?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [position]);
    for batch in builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?
    {
        let batch = batch.map_err(|e| e.to_string())?;
        let pos = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Int64)
            .map_err(|e| e.to_string())?;
        rows.extend(pos.as_primitive::<Int64Type>().iter().flatten());
    }
    Ok(())
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
        assert_eq!(vector_length("FLOAT[384]"), Some(384));
        assert_eq!(vector_length("FLOAT[]"), None);
        assert_eq!(
            vector_literal(&[1.0, 0.5], 2),
            "CAST([1.0, 0.5] AS FLOAT[2])"
        );
    }
}
