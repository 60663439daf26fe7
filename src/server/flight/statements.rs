//! Statements over Flight SQL. A statement (its SQL, the snapshot it
//! reads and, once bound, its parameters as SQL literals) travels in its
//! handle, so the server keeps nothing between calls and a handle outlives
//! no state. Answers stream as Arrow record batches from a pooled DuckDB
//! connection, bounded as `/v1/sql`'s: a few batches in flight, the query
//! timeout, the row and byte limits (past them the stream ends with
//! RESOURCE_EXHAUSTED), and a client that hangs up stops its query.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{ActionCreatePreparedStatementResult, DoPutPreparedStatementResult};
use arrow_flight::{IpcMessage, SchemaAsIpc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tonic::{Response, Status};

use super::{DoGetStream, lake_status, status};
use crate::lake::LakeError;
use crate::query::QueryError;
use crate::schema::quote_literal;
use crate::server::AppState;
use crate::server::limits::try_permit;
use crate::server::queries::{QueryRequest, Snapshot};
use crate::server::sql::{on_connection, turn};

/// A statement as its handle holds it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Statement {
    sql: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    /// The bound parameters, as SQL literals, one per `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<Vec<String>>,
}

impl Statement {
    pub(super) fn new(sql: String, at: Option<String>) -> Statement {
        Statement {
            sql,
            at,
            params: None,
        }
    }

    pub(super) fn handle(&self) -> Result<bytes::Bytes, Status> {
        serde_json::to_vec(self)
            .map(Into::into)
            .map_err(|e| Status::internal(e.to_string()))
    }

    pub(super) fn from_handle(handle: &[u8]) -> Result<Statement, Status> {
        serde_json::from_slice(handle)
            .map_err(|_| Status::invalid_argument("not a statement handle of this server"))
    }

    /// The SQL to run: the bound parameters in place of the `?`s, or NULL
    /// for each while none are bound (to learn the answer's schema).
    fn text(&self, nulls: bool) -> Result<String, Status> {
        let (pieces, marks) = placeholders(&self.sql);
        if marks == 0 {
            return Ok(self.sql.clone());
        }
        let params = match &self.params {
            Some(params) if params.len() == marks => params.clone(),
            Some(params) => {
                return Err(Status::invalid_argument(format!(
                    "the statement has {marks} parameters (?), {} were bound",
                    params.len()
                )));
            }
            None if nulls => vec!["NULL".to_owned(); marks],
            None => {
                return Err(Status::invalid_argument(format!(
                    "the statement has {marks} parameters (?) and none were bound"
                )));
            }
        };
        let mut sql = String::with_capacity(self.sql.len());
        for (i, piece) in pieces.iter().enumerate() {
            sql.push_str(piece);
            if let Some(param) = params.get(i) {
                sql.push_str(param);
            }
        }
        Ok(sql)
    }

    fn request(&self, sql: String, state: &AppState) -> QueryRequest {
        QueryRequest {
            sql,
            at: self.at.clone(),
            max_rows: state.opts.max_rows,
            max_bytes: state.opts.max_result_bytes,
        }
    }
}

/// The SQL around its `?` placeholders, and how many there are: a `?`
/// inside a string, a quoted name or a comment is text.
fn placeholders(sql: &str) -> (Vec<&str>, usize) {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == q {
                        // A doubled quote stays inside.
                        if bytes.get(i + 1) == Some(&q) {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b'?' => {
                pieces.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let marks = pieces.len();
    pieces.push(&sql[start.min(sql.len())..]);
    (pieces, marks)
}

/// The newest snapshot when the statement names none.
pub(super) fn current(state: &AppState, at: Option<&str>) -> Result<Option<Snapshot>, Status> {
    state
        .queries
        .current_unless(at)
        .map_err(|e| lake_status(e, state.opts.query_timeout))
}

/// The schema of the statement's answer, from DuckDB, without its rows.
pub(super) async fn schema(
    state: &Arc<AppState>,
    statement: &Statement,
) -> Result<SchemaRef, Status> {
    let sql = statement.text(true)?;
    let wrapped = format!(
        "SELECT * FROM (\n{}\n) AS lake_flight LIMIT 0",
        sql.trim().trim_end_matches(';')
    );
    let request = statement.request(wrapped, state);
    let current = current(state, request.at.as_deref())?;
    let permit = try_permit(state).map_err(status)?;
    on_connection(state, permit, move |state, conn, lakes| {
        let _held = state.queries.ready(conn, &request, current, lakes)?;
        Ok(conn
            .engine
            .run_read_only(&request.sql, &mut |_, _| Ok(ControlFlow::Break(())))?)
    })
    .await
    .map_err(status)
}

/// A prepared statement: its handle, the schema of its answer and one
/// parameter (of any type) per `?`.
pub(super) async fn prepare(
    state: &Arc<AppState>,
    statement: Statement,
) -> Result<ActionCreatePreparedStatementResult, Status> {
    let answer = schema(state, &statement).await?;
    let (_, marks) = placeholders(&statement.sql);
    let parameters = Schema::new(
        (1..=marks)
            .map(|i| Field::new(format!("parameter_{i}"), DataType::Null, true))
            .collect::<Vec<_>>(),
    );
    Ok(ActionCreatePreparedStatementResult {
        prepared_statement_handle: statement.handle()?,
        dataset_schema: ipc_schema(&answer)?,
        parameter_schema: ipc_schema(&parameters)?,
    })
}

fn ipc_schema(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &Default::default())
        .try_into()
        .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
    Ok(bytes)
}

/// Binds one row of parameters: the handle returned holds them.
pub(super) async fn bind(
    mut statement: Statement,
    stream: PeekableFlightDataStream,
) -> Result<DoPutPreparedStatementResult, Status> {
    let batches: Vec<RecordBatch> =
        FlightRecordBatchStream::new_from_flight_data(stream.map_err(FlightError::from))
            .try_collect()
            .await
            .map_err(|e| Status::invalid_argument(format!("reading the parameters: {e}")))?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows > 1 {
        return Err(Status::invalid_argument(format!(
            "{rows} rows of parameters: lake binds one row at a time"
        )));
    }
    let params = match batches.iter().find(|b| b.num_rows() == 1) {
        Some(batch) => batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, column)| literal(column.as_ref(), i + 1))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    statement.params = Some(params);
    Ok(DoPutPreparedStatementResult {
        prepared_statement_handle: Some(statement.handle()?),
    })
}

/// The first value of `column` as a SQL literal of its type.
fn literal(column: &dyn Array, n: usize) -> Result<String, Status> {
    if column.is_null(0) {
        return Ok("NULL".to_owned());
    }
    let text = ArrayFormatter::try_new(column, &FormatOptions::default())
        .map_err(|e| Status::invalid_argument(format!("parameter {n}: {e}")))?
        .value(0)
        .to_string();
    let cast = |t: &str| format!("CAST({} AS {t})", quote_literal(&text));
    Ok(match column.data_type() {
        DataType::Boolean => if text == "true" { "TRUE" } else { "FALSE" }.to_owned(),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => text,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => cast("DOUBLE"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => quote_literal(&text),
        DataType::Date32 | DataType::Date64 => cast("DATE"),
        DataType::Timestamp(_, None) => cast("TIMESTAMP"),
        DataType::Timestamp(_, Some(_)) => cast("TIMESTAMPTZ"),
        DataType::Time32(_) | DataType::Time64(_) => cast("TIME"),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            cast(&format!("DECIMAL({p},{s})"))
        }
        other => {
            return Err(Status::invalid_argument(format!(
                "parameter {n}: lake does not bind values of type {other}"
            )));
        }
    })
}

/// Rows gathered into one message of the answer, at least (measured: 2K
/// rows per message 1.24x the time of HTTP Arrow, 16K 1.07x with 5 MiB more
/// at peak, 64K 1.07x with 16 MiB more, 256K slower again).
const SEND_ROWS: usize = 16 * 1024;

/// Sends the batches gathered as one; whether the client is still there.
fn send(tx: &mpsc::Sender<Part>, pending: &mut Vec<RecordBatch>) -> bool {
    let Some(first) = pending.first() else {
        return true;
    };
    let joined = match pending.len() {
        1 => Ok(first.clone()),
        _ => arrow::compute::concat_batches(&first.schema(), pending.iter()),
    };
    let batch = match joined {
        Ok(batch) => batch,
        Err(e) => {
            let _ = tx.blocking_send(Part::Failed(LakeError::Query(QueryError::Sql(
                e.to_string(),
            ))));
            return false;
        }
    };
    pending.clear();
    tx.blocking_send(Part::Batch(batch)).is_ok()
}

/// What the query's thread hands the stream.
enum Part {
    Schema(SchemaRef),
    Batch(RecordBatch),
    /// The answer went past a limit: the stream ends with this.
    Limit(String),
    Failed(LakeError),
}

/// Runs the statement and streams its answer; its log line, when it ends,
/// carries the call's request id.
pub(super) async fn run(
    state: &Arc<AppState>,
    statement: Statement,
    id: Arc<str>,
) -> Result<Response<DoGetStream>, Status> {
    let request = statement.request(statement.text(false)?, state);
    let current = current(state, request.at.as_deref())?;
    let permit = try_permit(state).map_err(status)?;
    let (slot, mut conn, cancel, on_drop) = turn(state).await.map_err(status)?;
    let timeout = state.opts.query_timeout;
    let (tx, mut rx) = mpsc::channel::<Part>(4);
    let shared = state.clone();
    let finished = cancel.clone();
    let started = Instant::now();
    tokio::task::spawn_blocking(move || {
        let (_permit, _slot) = (permit, slot);
        let lakes = || shared.lake();
        let (max_rows, max_bytes) = (request.max_rows, request.max_bytes);
        let (mut rows, mut bytes, mut sent_schema) = (0usize, 0usize, false);
        let (mut pending, mut pending_rows) = (Vec::new(), 0usize);
        let mut limit = None;
        let result = shared
            .queries
            .ready(&mut conn, &request, current, &lakes)
            .and_then(|_held| {
                Ok(conn
                    .engine
                    .run_read_only(&request.sql, &mut |schema, batch| {
                        if !sent_schema {
                            sent_schema = true;
                            if tx.blocking_send(Part::Schema(schema.clone())).is_err() {
                                return Ok(ControlFlow::Break(()));
                            }
                        }
                        if rows + batch.num_rows() > max_rows || bytes >= max_bytes {
                            limit = Some(format!(
                                "the answer is over {max_rows} rows or {max_bytes} bytes \
                                 (the server's --max-rows / --max-result-bytes)"
                            ));
                            return Ok(ControlFlow::Break(()));
                        }
                        rows += batch.num_rows();
                        bytes += batch.get_array_memory_size();
                        // DuckDB's batches (2,048 rows) are sent a few
                        // together: fewer messages, the same rows.
                        pending_rows += batch.num_rows();
                        pending.push(batch.clone());
                        if pending_rows < SEND_ROWS {
                            return Ok(ControlFlow::Continue(()));
                        }
                        pending_rows = 0;
                        // A client gone: the send fails, and the query stops.
                        Ok(match send(&tx, &mut pending) {
                            true => ControlFlow::Continue(()),
                            false => ControlFlow::Break(()),
                        })
                    })?)
            });
        if result.is_ok() && limit.is_none() {
            send(&tx, &mut pending);
        }
        if finished.finish() {
            conn.discard(); // an interrupt may still be pending on it
        }
        let m = crate::metrics::metrics();
        let (outcome, last) = match result {
            Ok(_) if limit.is_some() => ("limit", limit.map(Part::Limit)),
            Ok(schema) => ("ok", (!sent_schema).then_some(Part::Schema(schema))),
            Err(e) => ("error", Some(Part::Failed(e))),
        };
        m.query_done(
            if outcome == "ok" { "ok" } else { "error" },
            started,
            rows as u64,
        );
        tracing::info!(
            message = "flight statement",
            request_id = &*id,
            outcome,
            rows = rows as u64,
            duration_us = started.elapsed().as_micros() as u64,
        );
        if let Some(last) = last {
            let _ = tx.blocking_send(last);
        }
    });
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        stopper.interrupt(); // nothing if it finished
    });
    // Until the schema, a failure is the call's error.
    let schema = match rx.recv().await {
        Some(Part::Schema(schema)) => schema,
        Some(Part::Failed(e)) => return Err(lake_status(e, timeout)),
        Some(Part::Limit(message)) => return Err(Status::resource_exhausted(message)),
        _ => return Err(Status::internal("the query ended without an answer")),
    };
    let batches = futures::stream::unfold((rx, on_drop), move |(mut rx, on_drop)| async move {
        let item = match rx.recv().await? {
            Part::Batch(batch) => Ok(batch),
            Part::Schema(_) => return None,
            Part::Limit(message) => Err(FlightError::Tonic(Box::new(Status::resource_exhausted(
                message,
            )))),
            Part::Failed(e) => Err(FlightError::Tonic(Box::new(lake_status(e, timeout)))),
        };
        Some((item, (rx, on_drop)))
    });
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(batches)
        .map_err(Status::from)
        .boxed();
    Ok(Response::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_strings_names_and_comments() {
        let sql = "SELECT ?, '?', \"a?\", 'it''s ?' -- ?\n, /* ? */ ? FROM t WHERE x = ?";
        let (pieces, marks) = placeholders(sql);
        assert_eq!(marks, 3);
        assert_eq!(pieces[0], "SELECT ");
        assert_eq!(pieces[3], "");
        let statement = Statement {
            sql: sql.to_owned(),
            at: None,
            params: Some(vec!["1".into(), "'b'".into(), "NULL".into()]),
        };
        assert_eq!(
            statement.text(false).unwrap(),
            "SELECT 1, '?', \"a?\", 'it''s ?' -- ?\n, /* ? */ 'b' FROM t WHERE x = NULL"
        );
    }

    #[test]
    fn a_statement_without_its_parameters_is_refused() {
        let statement = Statement::new("SELECT ?".into(), None);
        assert!(statement.text(false).is_err());
        assert_eq!(statement.text(true).unwrap(), "SELECT NULL");
    }

    #[test]
    fn literals_keep_their_types() {
        use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
        let s = StringArray::from(vec!["it's"]);
        assert_eq!(literal(&s, 1).unwrap(), "'it''s'");
        assert_eq!(literal(&Int64Array::from(vec![-3]), 1).unwrap(), "-3");
        assert_eq!(
            literal(&Float64Array::from(vec![f64::NAN]), 1).unwrap(),
            "CAST('NaN' AS DOUBLE)"
        );
        assert_eq!(literal(&BooleanArray::from(vec![true]), 1).unwrap(), "TRUE");
        assert_eq!(
            literal(&Int64Array::from(vec![None::<i64>]), 1).unwrap(),
            "NULL"
        );
    }
}
