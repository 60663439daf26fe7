//! MCP's tools: what an agent can do with the lake. Each runs the same
//! library call as the CLI (and `/v1/...`), under the server's permits,
//! sandbox and limits; a failure is a tool error with the CLI's message.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{ErrorData, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::LakeMcp;
use crate::catalog::WriteMode;
use crate::ingest::csv::dialect::DialectFlags;
use crate::ingest::progress::NoProgress;
use crate::ingest::source::{Content, Source};
use crate::lake::{IngestRequest, LakeError};
use crate::server::queries::{QueryRequest, json_answer};
use crate::server::sql::on_connection;
use crate::server::{ApiError, limits};

/// Rows a query tool call returns unless it asks for more: an agent reads
/// every one of them.
const DEFAULT_ROWS: usize = 100;
/// Rows of a dataset `describe_dataset` shows.
const SAMPLE_ROWS: usize = 5;
/// Versions `describe_dataset` lists, newest first.
const VERSIONS_SHOWN: usize = 20;
/// Rows the text rendering of an answer shows (the structured content has
/// them all).
const TEXT_ROWS: usize = 20;

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct DatasetInput {
    /// The dataset's name, as `list_datasets` gives it.
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct QueryInput {
    /// One read-only SQL statement in DuckDB's dialect. Every dataset is a
    /// table of its name: `SELECT count(*) FROM trips`.
    pub sql: String,
    /// Read the lake as of this snapshot: an id from `dataset_log`, or a
    /// time like `2026-11-20T10:00:00Z`. Default: now.
    #[serde(default)]
    pub at: Option<String>,
    /// The most rows to return (default 100; the server's limit caps it).
    #[serde(default)]
    pub max_rows: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SearchInput {
    /// The dataset's name.
    pub dataset: String,
    /// Its FLOAT[N] column of embeddings.
    pub column: String,
    /// The query embedding: N numbers, made by the same model as the
    /// column's (lake holds no embedding model: text is refused).
    pub vector: Value,
    /// How many nearest rows to return (default 10).
    #[serde(default)]
    pub k: Option<usize>,
    /// Candidates the index weighs (default 100; more finds more of the
    /// true nearest rows, more slowly).
    #[serde(default)]
    pub ef_search: Option<usize>,
    /// Read the lake as of this snapshot (an id or a time). Default: now.
    #[serde(default)]
    pub at: Option<String>,
}

/// The SQL of a `search` call, or why its vector is not one.
pub(crate) fn search_sql(input: &SearchInput) -> Result<String, String> {
    let numbers = match &input.vector {
        Value::Array(items) => items
            .iter()
            .map(|v| match v.as_f64() {
                Some(f) if f.is_finite() => Ok(f.to_string()),
                _ => Err(format!("the vector holds {v}, not a number")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::String(_) => {
            return Err(
                "lake holds no embedding model: pass `vector` as the query's \
                 embedding (a list of numbers from the model that made the column), not text"
                    .into(),
            );
        }
        other => return Err(format!("`vector` must be a list of numbers, not {other}")),
    };
    let k = input.k.unwrap_or(10).max(1);
    let ef = input
        .ef_search
        .map_or(String::new(), |ef| format!(", ef_search := {ef}"));
    Ok(format!(
        "SELECT * FROM vector_search({}, {}, [{}], {k}{ef})",
        crate::schema::quote_literal(&input.dataset),
        crate::schema::quote_literal(&input.column),
        numbers.join(", ")
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct LogInput {
    /// The dataset's name.
    pub name: String,
    /// The most snapshots to list, newest first (default 50).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct IngestInput {
    /// The dataset to write (created if new).
    pub name: String,
    /// The data itself: CSV with a header row, JSON Lines, or a JSON array
    /// of objects.
    pub data: String,
    /// `csv` or `json`; default: told from the data.
    #[serde(default)]
    pub format: Option<String>,
    /// `overwrite` (default: a new version with the same columns),
    /// `append` (rows added to the current version) or `replace` (any
    /// schema).
    #[serde(default)]
    pub mode: Option<String>,
}

/// A tool error carrying `message`, as the CLI would print it.
fn failed(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// A tool result: `value` as structured content, `text` for reading.
fn answer(value: Value, text: String) -> CallToolResult {
    let mut result = CallToolResult::structured(value);
    result.content = vec![ContentBlock::text(text)];
    result
}

/// The message of a failed lake call, as the CLI prints it (credentials
/// redacted).
fn message(err: LakeError) -> String {
    ApiError::from(err).message
}

/// An answer's rows as a few lines of text: a header, then up to
/// [`TEXT_ROWS`] rows separated by ` | `.
pub(crate) fn render_rows(answer: &Value) -> String {
    let mut text = String::new();
    let columns: Vec<&str> = answer["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let _ = writeln!(text, "{}", columns.join(" | "));
    let rows = answer["rows"].as_array().map_or(&[][..], Vec::as_slice);
    for row in rows.iter().take(TEXT_ROWS) {
        let cells: Vec<String> = row
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Null => "NULL".to_owned(),
                other => other.to_string(),
            })
            .collect();
        let _ = writeln!(text, "{}", cells.join(" | "));
    }
    let shown = rows.len().min(TEXT_ROWS);
    let _ = write!(text, "({} rows", rows.len());
    if shown < rows.len() {
        let _ = write!(text, ", {shown} shown");
    }
    if answer["truncated"].as_bool() == Some(true) {
        text.push_str(", truncated at the row or byte limit");
    }
    text.push(')');
    text
}

impl LakeMcp {
    /// Runs `work` on a query connection: the sandboxed database of
    /// `/v1/sql`, its timeout and its permits. The answer is JSON:
    /// `{"columns", "rows", "row_count", "truncated"}`.
    async fn run_query(
        &self,
        sql: String,
        at: Option<String>,
        max_rows: usize,
    ) -> Result<Value, String> {
        let permit = limits::try_permit(&self.state).map_err(|e| e.message)?;
        let current = self
            .state
            .queries
            .current_unless(at.as_deref())
            .map_err(message)?;
        tracing::debug!(%sql, ?at, "mcp query");
        let request = QueryRequest {
            sql,
            at,
            max_rows: max_rows.min(self.state.opts.max_rows),
            max_bytes: self.state.opts.max_result_bytes,
        };
        let started = Instant::now();
        let m = crate::metrics::metrics();
        let (body, rows) = on_connection(&self.state, permit, move |state, conn, lakes| {
            let _held = state.queries.ready(conn, &request, current, lakes)?;
            json_answer(
                &conn.engine,
                &request.sql,
                request.max_rows,
                request.max_bytes,
            )
        })
        .await
        .map_err(|e| {
            m.query_done("error", started, 0);
            e.message
        })?;
        m.query_done("ok", started, rows);
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }
}

#[tool_router(vis = "pub(crate)")]
impl LakeMcp {
    #[tool(
        description = "List every dataset in the lake: its name, rows, columns, bytes, version and when it last changed. Start here to learn what can be queried.",
        annotations(read_only_hint = true)
    )]
    async fn list_datasets(&self) -> Result<CallToolResult, ErrorData> {
        let datasets = match self.with_lake(|lake| lake.summaries()).await {
            Ok(d) => d,
            Err(e) => return Ok(failed(e)),
        };
        let mut text = String::new();
        for d in &datasets {
            let _ = writeln!(
                text,
                "{}: {} rows, {} columns, version {}",
                d.name, d.rows, d.columns, d.version
            );
        }
        if datasets.is_empty() {
            text.push_str("The lake has no datasets yet.");
        }
        Ok(answer(json!({ "datasets": datasets }), text))
    }

    #[tool(
        description = "Describe one dataset: its columns and their SQL types, rows, bytes, its versions (snapshots, newest first) and a few sample rows. Use before writing SQL against it.",
        annotations(read_only_hint = true)
    )]
    async fn describe_dataset(
        &self,
        Parameters(input): Parameters<DatasetInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let name = input.name;
        let described = match self
            .with_lake({
                let name = name.clone();
                move |lake| lake.describe(&name)
            })
            .await
        {
            Ok(d) => d,
            Err(e) => return Ok(failed(e)),
        };
        let mut value = super::dataset_facts(&described, VERSIONS_SHOWN);
        let table = crate::query::quote_ident(described["name"].as_str().unwrap_or(name.as_str()));
        let sample = self
            .run_query(
                format!("SELECT * FROM {table} LIMIT {SAMPLE_ROWS}"),
                None,
                SAMPLE_ROWS,
            )
            .await;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{}: {} rows, version {}, snapshot {}",
            value["name"].as_str().unwrap_or_default(),
            value["rows"],
            value["version"],
            value["snapshot"]
        );
        for column in value["schema"].as_array().into_iter().flatten() {
            let _ = writeln!(
                text,
                "  {} {}",
                column["name"].as_str().unwrap_or_default(),
                column["type"].as_str().unwrap_or_default()
            );
        }
        match sample {
            Ok(rows) => {
                let _ = write!(text, "sample:\n{}", render_rows(&rows));
                value["sample"] = rows;
            }
            // The description stands without its sample (an object that
            // cannot be read says so).
            Err(e) => {
                let _ = write!(text, "sample unavailable: {e}");
                value["sample_error"] = Value::from(e);
            }
        }
        Ok(answer(value, text))
    }

    #[tool(
        description = "Run one read-only SQL statement (DuckDB dialect) over the lake; every dataset is a table of its name. Returns columns (name, type), rows as arrays, row_count and truncated (true when cut at max_rows or the byte limit). Optional `at` reads the lake as of a snapshot id or time. Files, extensions, settings and writes are refused.",
        annotations(read_only_hint = true)
    )]
    async fn query(
        &self,
        Parameters(input): Parameters<QueryInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let max_rows = input.max_rows.unwrap_or(DEFAULT_ROWS);
        match self.run_query(input.sql, input.at, max_rows).await {
            Ok(rows) => {
                let text = render_rows(&rows);
                Ok(answer(rows, text))
            }
            Err(e) => Ok(failed(e)),
        }
    }

    #[tool(
        description = "Find the k rows of a dataset whose embedding (a FLOAT[N] column) is nearest a query embedding, nearest first: the dataset's columns plus `distance` (the column's index metric, cosine by default). Uses the column's HNSW index where it has one. `vector` must be N numbers from the same embedding model; lake has no model, so text is refused. Same answer shape as `query`; in SQL: SELECT * FROM vector_search('dataset', 'column', [...], k).",
        annotations(read_only_hint = true)
    )]
    async fn search(
        &self,
        Parameters(input): Parameters<SearchInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let sql = match search_sql(&input) {
            Ok(sql) => sql,
            Err(e) => return Ok(failed(e)),
        };
        let k = input.k.unwrap_or(10).max(1);
        match self.run_query(sql, input.at, k).await {
            Ok(rows) => {
                let text = render_rows(&rows);
                Ok(answer(rows, text))
            }
            Err(e) => Ok(failed(e)),
        }
    }

    #[tool(
        description = "List a dataset's history, newest first: each snapshot's id, time, change (created, new version, appended, removed...) and rows after it. A snapshot id can be given to `query` as `at` to read the data as it was.",
        annotations(read_only_hint = true)
    )]
    async fn dataset_log(
        &self,
        Parameters(input): Parameters<LogInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let limit = input.limit.unwrap_or(50);
        let name = input.name;
        let mut entries = match self.with_lake(move |lake| lake.log(Some(&name))).await {
            Ok(e) => e,
            Err(e) => return Ok(failed(e)),
        };
        entries.truncate(limit);
        let mut text = String::new();
        for e in &entries {
            let _ = writeln!(
                text,
                "snapshot {} at {}: {}{}",
                e.snapshot,
                e.time,
                e.change,
                e.rows.map(|r| format!(" ({r} rows)")).unwrap_or_default()
            );
        }
        Ok(answer(json!({ "snapshots": entries }), text))
    }

    #[tool(
        description = "Write data into a dataset as a new version (a new snapshot; earlier ones stay readable). `data` is CSV with a header row, JSON Lines or a JSON array of objects; types are inferred. Mode `overwrite` (default) needs the same columns as the current version, `append` adds rows, `replace` accepts any schema.",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn ingest(
        &self,
        Parameters(input): Parameters<IngestInput>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.ingest_data(input).await {
            Ok(report) => {
                let text = format!(
                    "{} {}: version {}, {} rows, snapshot {}",
                    report["name"].as_str().unwrap_or_default(),
                    report["status"].as_str().unwrap_or_default(),
                    report["version"],
                    report["rows"],
                    report["snapshot"]
                );
                Ok(answer(report, text))
            }
            Err(e) => Ok(failed(e)),
        }
    }
}

impl LakeMcp {
    async fn ingest_data(&self, input: IngestInput) -> Result<Value, String> {
        let mode = match input.mode.as_deref() {
            None | Some("overwrite") => WriteMode::Overwrite,
            Some("append") => WriteMode::Append,
            Some("replace") => WriteMode::Replace,
            Some(other) => {
                return Err(format!(
                    "mode {other:?}: expected overwrite, append or replace"
                ));
            }
        };
        let content = match input.format.as_deref() {
            None => None,
            Some("csv") => Some(Content::Csv),
            Some("json") => Some(Content::Json),
            Some(other) => return Err(format!("format {other:?}: expected csv or json")),
        };
        let name = input.name;
        let data = input.data;
        let report = self
            .with_lake(move |lake| {
                let label = format!("the data given to ingest {name}");
                let io = |source| crate::store::StoreError::Io {
                    action: "spooling ingest data",
                    key: label.clone(),
                    source,
                };
                let mut file = tempfile::NamedTempFile::new_in(lake.tmp_dir()).map_err(io)?;
                file.write_all(data.as_bytes()).map_err(io)?;
                let source = Source::temp(file.into_temp_path(), &label).map_err(io)?;
                let request = IngestRequest {
                    name: Some(name),
                    mode,
                    evolve: false,
                    dialect: DialectFlags {
                        content,
                        ..DialectFlags::default()
                    },
                    types: Vec::new(),
                };
                lake.ingest(&source, &request, &NoProgress)
            })
            .await?;
        Ok(json!(report))
    }
}
