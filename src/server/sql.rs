//! `POST /v1/sql`: read the request, answer from the kept answers when it
//! can, else run the query on a pooled connection, in the format asked for.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

use super::formats::{ChunkSender, Format, Part, parquet_answer, stream_answer};
use super::limits::Permit;
use super::observe::Rows;
use super::pool::Pooled;
use super::queries::{Cancel, CancelOnDrop, QueryRequest, Snapshot, ViewConnection};
use super::result_cache::{Answer, etag_of};
use super::routes::{internal, next_chunk};
use super::{ApiError, AppState};
use crate::lake::LakeError;
use crate::query::QueryError;

/// The trailer that says a streamed answer was cut at a limit.
const TRUNCATED: &str = "lake-truncated";

#[derive(Deserialize)]
struct SqlRequest {
    sql: String,
    /// A snapshot id, or a time as text: query every dataset as of then.
    #[serde(default)]
    at: Option<Value>,
}

#[derive(Deserialize)]
pub(crate) struct SqlQuery {
    /// The answer's format, over the `Accept` header.
    format: Option<String>,
}

pub(crate) async fn sql(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    query: Result<Query<SqlQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(super::routes::bad_query)?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format =
        Format::negotiate(query.format.as_deref(), accept).map_err(ApiError::bad_request)?;
    // Read here, not by an extractor: bounded in bytes whatever the
    // framing, and in time between parts.
    let mut stream = body.into_data_stream();
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(&state, &mut stream).await? {
        if (body.len() + chunk.len()) as u64 > state.opts.max_body {
            return Err(ApiError::too_large(state.opts.max_body));
        }
        body.extend_from_slice(&chunk);
    }
    let request: SqlRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("expected {{\"sql\": \"...\"}}: {e}")))?;
    let at = match request.at {
        None | Some(Value::Null) => None,
        Some(at) => Some(super::history::snapshot_spec("at", at)?),
    };
    let request = QueryRequest {
        sql: request.sql,
        at,
        max_rows: state.opts.max_rows,
        max_bytes: state.opts.max_result_bytes,
    };
    // The newest snapshot, from the change counter: no catalog read unless
    // the catalog moved.
    let current = state.queries.current_unless(request.at.as_deref())?;
    tracing::debug!(sql = %request.sql, at = ?request.at, "query");
    let started = Instant::now();
    let m = crate::metrics::metrics();
    match format {
        Format::Json => {
            // Answers kept for the newest snapshot need no DuckDB at all.
            if let Some((hold, _)) = &current
                && let Some(answer) = state.queries.cached(&request.sql, hold.snapshot())
            {
                m.query_done("cached", started, answer.rows);
                return respond(&answer, &headers);
            }
            let answer = on_connection(&state, permit, move |state, conn, lakes| {
                state.queries.answer(conn, &request, current, lakes)
            })
            .await
            .inspect_err(|_| m.query_done("error", started, 0))?;
            m.query_done("ok", started, answer.rows);
            respond(&answer, &headers)
        }
        Format::Parquet => {
            let (body, rows) = on_connection(&state, permit, move |state, conn, lakes| {
                let _held = state.queries.ready(conn, &request, current, lakes)?;
                parquet_answer(&conn.engine, &request.sql, request.max_rows, request.max_bytes)
            })
            .await
            .inspect_err(|_| m.query_done("error", started, 0))?
            .ok_or_else(|| {
                m.query_done("error", started, 0);
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!(
                        "the answer is over {} rows or {} bytes, and Parquet cannot be cut short: ask for ndjson, csv or arrow, which stream",
                        state.opts.max_rows, state.opts.max_result_bytes
                    ),
                )
            })?;
            m.query_done("ok", started, rows);
            let etag = etag_of(&body);
            respond(
                &Answer {
                    body,
                    content_type: format.content_type(),
                    etag,
                    rows,
                },
                &headers,
            )
        }
        Format::Ndjson | Format::Csv | Format::Arrow => {
            streamed(&state, permit, request, current, format).await
        }
    }
}

/// What a query that was stopped says.
pub(crate) fn query_error(e: LakeError, timeout: Duration) -> ApiError {
    match e {
        LakeError::Query(QueryError::Interrupted) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "sql_error",
            format!("query took longer than {timeout:?} and was stopped"),
        ),
        other => ApiError::from(other),
    }
}

/// A turn of DuckDB's, a pooled connection, and what stops its query: the
/// guard interrupts it when dropped (with the handler's future when the
/// client hangs up) unless disarmed.
pub(crate) async fn turn(
    state: &AppState,
) -> Result<
    (
        tokio::sync::OwnedSemaphorePermit,
        Pooled<ViewConnection>,
        Cancel,
        CancelOnDrop,
    ),
    ApiError,
> {
    let slot = state
        .queries
        .slots
        .clone()
        .acquire_owned()
        .await
        .map_err(internal)?;
    let conn = state.queries.connection()?;
    let cancel = Cancel::new(conn.interrupt_handle());
    let on_drop = CancelOnDrop(Some(cancel.clone()));
    Ok((slot, conn, cancel, on_drop))
}

pub(crate) type Lakes<'a> =
    &'a dyn Fn() -> Result<super::pool::Pooled<crate::lake::Lake>, LakeError>;

/// Runs `work` on a pooled connection on a blocking thread, when DuckDB has
/// a turn free; stopped at the query timeout or when the client hangs up
/// (this future dropped). The permit is held until the work ends.
pub(crate) async fn on_connection<T: Send + 'static>(
    state: &Arc<AppState>,
    permit: Permit,
    work: impl FnOnce(&AppState, &mut ViewConnection, Lakes) -> Result<T, LakeError> + Send + 'static,
) -> Result<T, ApiError> {
    let (slot, mut conn, cancel, on_drop) = turn(state).await?;
    let shared = state.clone();
    let finished = cancel.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        let (_permit, _slot) = (permit, slot);
        let lakes = || shared.lake();
        let result = work(&shared, &mut conn, &lakes);
        if finished.finish() {
            conn.discard(); // an interrupt may still be pending on it
        }
        result
    });
    let timeout = state.opts.query_timeout;
    let joined = match tokio::time::timeout(timeout, &mut task).await {
        Ok(joined) => joined,
        Err(_) => {
            cancel.interrupt();
            task.await
        }
    };
    on_drop.disarm();
    joined
        .map_err(internal)?
        .map_err(|e| query_error(e, timeout))
}

/// An answer streamed as it is made: NDJSON, CSV or Arrow. Memory holds a
/// few chunks; a client that goes away stops the query, and one that reads
/// too slowly is cut off at the query timeout. An answer cut at a limit
/// ends with the trailer `lake-truncated: true`.
async fn streamed(
    state: &Arc<AppState>,
    permit: Permit,
    request: QueryRequest,
    current: Option<Snapshot>,
    format: Format,
) -> Result<Response, ApiError> {
    let (slot, mut conn, cancel, on_drop) = turn(state).await?;
    let timeout = state.opts.query_timeout;
    let (tx, mut rx) = mpsc::channel::<Part>(4);
    let shared = state.clone();
    let finished = cancel.clone();
    let rows = Rows::default();
    let sent = rows.0.clone();
    let started = Instant::now();
    tokio::task::spawn_blocking(move || {
        let (_permit, _slot) = (permit, slot);
        let lakes = || shared.lake();
        let mut out = ChunkSender::new(tx, Instant::now() + timeout);
        let result = shared
            .queries
            .ready(&mut conn, &request, current, &lakes)
            .and_then(|_held| {
                stream_answer(
                    &conn.engine,
                    &request.sql,
                    format,
                    request.max_rows,
                    request.max_bytes,
                    &mut out,
                )
            });
        if finished.finish() {
            conn.discard();
        }
        let m = crate::metrics::metrics();
        let _ = match result {
            Ok((truncated, n)) => out.flush().and_then(|()| {
                sent.store(n, std::sync::atomic::Ordering::Relaxed);
                m.query_done("ok", started, n);
                if truncated {
                    let mut trailers = HeaderMap::new();
                    trailers.insert(TRUNCATED, HeaderValue::from_static("true"));
                    out.send(Part::Trailers(trailers))
                } else {
                    Ok(())
                }
            }),
            Err(e) => {
                m.query_done("error", started, 0);
                out.send(Part::Failed(e))
            }
        };
    });
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        stopper.interrupt(); // nothing if it finished
    });
    // Until the first part, a failure is still an error answer.
    let first = match rx.recv().await {
        Some(Part::Failed(e)) => return Err(query_error(e, timeout)),
        Some(part) => part,
        None => return Err(internal("the query ended without an answer")),
    };
    let frames = futures::stream::unfold(
        (Some(first), rx, on_drop),
        |(first, mut rx, on_drop)| async move {
            let part = match first {
                Some(part) => part,
                None => rx.recv().await?,
            };
            let frame = match part {
                Part::Data(bytes) => Ok(http_body::Frame::data(bytes)),
                Part::Trailers(trailers) => Ok(http_body::Frame::trailers(trailers)),
                // Too late for an error answer: the body breaks off.
                Part::Failed(e) => Err(std::io::Error::other(e.to_string())),
            };
            Some((frame, (None, rx, on_drop)))
        },
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::TRAILER, HeaderValue::from_static(TRUNCATED)),
        ],
        Extension(rows),
        Body::new(http_body_util::StreamBody::new(frames)),
    )
        .into_response())
}

/// An answer, or 304 when the client holds it already (`If-None-Match`).
fn respond(answer: &Answer, headers: &HeaderMap) -> Result<Response, ApiError> {
    let etag = HeaderValue::from_str(&answer.etag).map_err(internal)?;
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == answer.etag || t.trim() == "*")
        });
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let rows = Rows::of(answer.rows);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(answer.content_type),
            ),
            (header::ETAG, etag),
        ],
        Extension(rows),
        answer.body.clone(),
    )
        .into_response())
}
