//! SQL over the lake: DuckDB in this process, each dataset a view over the
//! Parquet files of its current version.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use thiserror::Error;

pub mod search;
pub mod view;

use search::{SearchFile, SearchTarget, Searches};
use view::{FileColumns, ViewColumn, ViewFile, view_query};

/// Errors from a query.
#[derive(Debug, Error)]
pub enum QueryError {
    #[error("{0}")]
    Sql(String),
    #[error("starting DuckDB: {0}")]
    Open(String),
    #[error("dataset {name}: {reason}")]
    Dataset { name: String, reason: String },
    #[error("the query was stopped")]
    Interrupted,
    #[error("writing the result")]
    Output(#[source] anyhow::Error),
}

/// The lower-cased words of a SQL text that could name a dataset: runs of
/// letters, digits and `_`, and the insides of double-quoted identifiers.
/// Only datasets named here are registered, so a catalog of thousands of
/// datasets costs a query nothing it does not use.
pub fn referenced_names(sql: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut word = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            let mut quoted = String::new();
            while let Some(q) = chars.next() {
                if q == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        quoted.push('"');
                        continue;
                    }
                    break;
                }
                quoted.push(q);
            }
            names.insert(quoted.to_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c.to_ascii_lowercase());
            continue;
        }
        if !word.is_empty() {
            names.insert(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        names.insert(word);
    }
    names
}

/// Wraps untrusted SQL so that DuckDB's parser accepts exactly one SELECT
/// (or WITH ... SELECT) statement, whatever the text looks like: COPY,
/// ATTACH, INSTALL, LOAD, SET, DDL and several statements are refused.
pub fn read_only(sql: &str) -> String {
    format!(
        "SELECT * FROM query({})",
        quote_literal(sql.trim().trim_end_matches(';'))
    )
}

pub use crate::schema::{quote_ident, quote_literal};

/// An in-memory DuckDB with the lake's datasets as views.
pub struct QueryEngine {
    conn: Connection,
    /// The database's `vector_search` registry, and this connection's
    /// number in it.
    searches: std::sync::Arc<Searches>,
    id: u64,
}

impl Drop for QueryEngine {
    fn drop(&mut self) {
        self.searches.close(self.id);
    }
}

impl QueryEngine {
    /// A fresh in-memory database.
    pub fn open() -> Result<QueryEngine, QueryError> {
        let conn = Connection::open_in_memory().map_err(|e| QueryError::Open(e.to_string()))?;
        // Extensions are never downloaded: the parquet reader is built in, and
        // a machine behind a firewall must behave like any other.
        // Objects never change once written (their names are their
        // hashes), so their Parquet footers can be kept between queries.
        conn.execute_batch(
            "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false; \
             SET parquet_metadata_cache = true;",
        )
        .map_err(|e| QueryError::Open(e.to_string()))?;
        let searches = std::sync::Arc::new(Searches::default());
        search::register_function(&conn, &searches).map_err(|e| QueryError::Open(e.to_string()))?;
        QueryEngine::with_search(conn, searches)
    }

    /// A connection with its `vector_search` macro.
    fn with_search(
        conn: Connection,
        searches: std::sync::Arc<Searches>,
    ) -> Result<QueryEngine, QueryError> {
        let id = searches.connection();
        conn.execute_batch(&search::macro_sql(id))
            .map_err(|e| QueryError::Open(e.to_string()))?;
        Ok(QueryEngine { conn, searches, id })
    }

    /// Another connection to the same database: its own temporary views,
    /// the database's settings and threads. Much cheaper than [`Self::open`].
    pub fn connect(&self) -> Result<QueryEngine, QueryError> {
        let conn = self
            .conn
            .try_clone()
            .map_err(|e| QueryError::Open(e.to_string()))?;
        QueryEngine::with_search(conn, self.searches.clone())
    }

    /// Makes `name` a view over `columns` of the Parquet `files`. If DuckDB
    /// cannot read them, returns the reason (the caller then registers a
    /// view that fails with it, so that only queries of this dataset fail).
    pub fn register(
        &self,
        name: &str,
        columns: &[ViewColumn],
        files: &[ViewFile],
    ) -> Result<(), QueryError> {
        let dataset_error = |reason: String| QueryError::Dataset {
            name: name.to_owned(),
            reason,
        };
        let query =
            view_query(columns, files, &|path| self.field_names(path)).map_err(dataset_error)?;
        let sql = format!(
            "CREATE OR REPLACE TEMP VIEW {} AS {query}",
            quote_ident(name)
        );
        self.conn
            .execute_batch(&sql)
            .map_err(|e| dataset_error(format!("cannot read its objects: {e}")))
    }

    /// Makes dataset `name` searchable by `vector_search` on this
    /// connection: `files` as its view reads them, each with its index
    /// objects (column id -> key).
    pub fn register_search(
        &self,
        name: &str,
        columns: &[ViewColumn],
        files: &[(ViewFile, HashMap<i64, String>)],
        metrics: HashMap<i64, crate::vector::Metric>,
        open: search::IndexOpener,
    ) -> Result<(), QueryError> {
        let files = files
            .iter()
            .map(|(f, indexes)| {
                let names = match &f.columns {
                    FileColumns::ByName { names, .. } => names.clone(),
                    FileColumns::ByFieldId => {
                        self.field_names(&f.path)
                            .map_err(|reason| QueryError::Dataset {
                                name: name.to_owned(),
                                reason,
                            })?
                    }
                };
                Ok(SearchFile {
                    path: f.path.clone(),
                    names,
                    deletes: f.deletes.clone(),
                    indexes: indexes.clone(),
                })
            })
            .collect::<Result<_, QueryError>>()?;
        let target = SearchTarget {
            columns: columns.to_vec(),
            files,
            metrics,
            open,
        };
        self.searches.register(self.id, name, target);
        Ok(())
    }

    /// Field id -> column name of a Parquet file written with field ids.
    fn field_names(&self, path: &std::path::Path) -> Result<HashMap<i64, String>, String> {
        let mut stmt = self
            .conn
            .prepare("SELECT field_id, name FROM parquet_schema(?) WHERE field_id IS NOT NULL")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([path.to_string_lossy().as_ref()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    }

    /// Makes `name` a view with the dataset's `columns` (name, SQL type)
    /// that raises `reason` as soon as a query reads it.
    pub fn register_broken(
        &self,
        name: &str,
        columns: &[(String, String)],
        reason: &str,
    ) -> Result<(), QueryError> {
        let message = format!("dataset {name}: {reason}");
        let columns = if columns.is_empty() {
            "NULL AS \"_\"".to_owned()
        } else {
            columns
                .iter()
                .map(|(n, t)| format!("NULL::{t} AS {}", quote_ident(n)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "CREATE OR REPLACE TEMP VIEW {} AS SELECT {columns} FROM range(1) WHERE error({}) IS NULL",
            quote_ident(name),
            quote_literal(&message)
        );
        self.conn
            .execute_batch(&sql)
            .map_err(|e| QueryError::Sql(e.to_string()))
    }

    /// Runs statements that return nothing (trusted SQL only).
    pub fn execute(&self, sql: &str) -> Result<(), QueryError> {
        self.conn
            .execute_batch(sql)
            .map_err(|e| QueryError::Sql(e.to_string()))
    }

    /// Locks the database down for untrusted SQL: no file outside `allowed`
    /// (the lake's own objects), no extension, no setting changed after.
    pub fn sandbox(&self, allowed: &[PathBuf]) -> Result<(), QueryError> {
        let dirs = allowed
            .iter()
            .map(|p| quote_literal(&p.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(", ");
        self.conn
            .execute_batch(&format!(
                "SET allowed_directories = [{dirs}]; SET enable_external_access = false; \
                 SET lock_configuration = true;"
            ))
            .map_err(|e| QueryError::Open(e.to_string()))
    }

    /// A handle that stops the running query from another thread.
    pub fn interrupt_handle(&self) -> std::sync::Arc<duckdb::InterruptHandle> {
        self.conn.interrupt_handle()
    }

    /// Runs untrusted SQL (see [`read_only`]): exactly one SELECT. A query
    /// stopped by [`Self::interrupt_handle`] fails with
    /// [`QueryError::Interrupted`].
    pub fn run_read_only(
        &self,
        sql: &str,
        sink: &mut dyn FnMut(&SchemaRef, &RecordBatch) -> anyhow::Result<ControlFlow<()>>,
    ) -> Result<SchemaRef, QueryError> {
        self.run(&read_only(sql), sink).map_err(|e| match e {
            QueryError::Sql(msg) if msg.contains("Expected a single SELECT statement") => {
                QueryError::Sql("only one SELECT statement is allowed".to_owned())
            }
            QueryError::Sql(msg) if msg.contains("INTERRUPT") || msg.contains("nterrupted") => {
                QueryError::Interrupted
            }
            // DuckDB points at the wrapper, not at the user's text: drop
            // that context, keep the message.
            QueryError::Sql(msg) => match msg.split_once("\n\nLINE 1: SELECT * FROM query(") {
                Some((message, _)) => QueryError::Sql(message.to_owned()),
                None => QueryError::Sql(msg),
            },
            other => other,
        })
    }

    /// Runs one statement, handing each result batch to `sink` until it says
    /// stop; returns the result's schema (known even when there are no rows).
    pub fn run(
        &self,
        sql: &str,
        sink: &mut dyn FnMut(&SchemaRef, &RecordBatch) -> anyhow::Result<ControlFlow<()>>,
    ) -> Result<SchemaRef, QueryError> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| QueryError::Sql(e.to_string()))?;
        let stream = stmt
            .stream_arrow([])
            .map_err(|e| QueryError::Sql(e.to_string()))?;
        let schema = stream.get_schema();
        for batch in stream {
            let batch = batch.map_err(|e| QueryError::Sql(e.to_string()))?;
            if sink(&schema, &batch)
                .map_err(QueryError::Output)?
                .is_break()
            {
                break;
            }
        }
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_words_and_quoted_identifiers() {
        let names = referenced_names(r#"SELECT a.x FROM People a JOIN "Odd ""Name""" USING (id)"#);
        for n in [
            "select",
            "a",
            "x",
            "from",
            "people",
            "join",
            "odd \"name\"",
            "using",
            "id",
        ] {
            assert!(names.contains(n), "{n} missing from {names:?}");
        }
    }
}
