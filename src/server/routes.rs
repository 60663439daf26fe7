//! The handlers: parse the request, do the lake's work on a blocking thread
//! with the same library calls the CLI makes, answer JSON.

use std::io::{Read, Write};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::limits::Permit;
use super::{ApiError, AppState};
use crate::catalog::{CommitStatus, WriteMode};
use crate::ingest::csv::dialect;
use crate::ingest::csv::dialect::DialectFlags;
use crate::ingest::progress::NoProgress;
use crate::ingest::source::{Content, Source};
use crate::lake::{GcOptions, IngestRequest, Lake, LakeError, name_for_file, parse_duration};
use crate::store::chunks::ChunkReader;
use crate::store::key;

/// Most keys one listing returns.
const MAX_LIST: usize = 1000;

/// Runs lake work off the async threads, holding the request's permit
/// until the work ends (even if the client has gone).
pub(crate) async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    permit: Permit,
    work: impl FnOnce(&mut Lake) -> Result<T, LakeError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&mut *state.lake()?)
    })
    .await
    .map_err(internal)?
    .map_err(ApiError::from)
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

/// The next part of a request body; a client silent for longer than the
/// server's client timeout is answered 408.
pub(crate) async fn next_chunk<E: std::fmt::Display>(
    state: &AppState,
    stream: &mut (impl futures::Stream<Item = Result<Bytes, E>> + Unpin),
) -> Result<Option<Bytes>, ApiError> {
    let timeout = state.opts.client_timeout;
    match tokio::time::timeout(timeout, stream.next()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the client sent no part of the body for {timeout:?}"),
        )),
        Ok(None) => Ok(None),
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        Ok(Some(Err(e))) => Err(ApiError::bad_request(format!("reading the body: {e}"))),
    }
}

/// Writes a request body to a temporary file in the lake's scratch folder,
/// refusing it past `max` bytes.
async fn spool(
    state: &AppState,
    mut stream: impl futures::Stream<Item = Result<Bytes, impl std::fmt::Display>> + Unpin,
) -> Result<tempfile::NamedTempFile, ApiError> {
    let internal = |e: std::io::Error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    };
    let dir = state.opts.home.join(crate::lake::TMP_DIR);
    std::fs::create_dir_all(&dir).map_err(internal)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(internal)?;
    let mut total = 0u64;
    while let Some(chunk) = next_chunk(state, &mut stream).await? {
        total += chunk.len() as u64;
        if total > state.opts.max_body {
            return Err(ApiError::too_large(state.opts.max_body));
        }
        file.write_all(&chunk).map_err(internal)?;
    }
    Ok(file)
}

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// A method the route does not take: 405 with a JSON body, like every error.
pub(crate) async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on this route"),
    )
}

/// A query string that does not parse, as a JSON 400 naming the problem.
pub(crate) fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("query string: {}", rejection.body_text()))
}

pub(crate) async fn put_object(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    Path(key): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    // Refused before the body is read.
    key::validate_writable(&key).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The body streams straight into the store, which publishes the object
    // only if every byte arrived: a refused or broken body leaves nothing.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let shared = state.clone();
    let stored_key = key.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<u64, LakeError> {
        let _permit = permit;
        let mut rx = rx;
        let mut reader = ChunkReader::new(|| rx.blocking_recv());
        Ok(shared.lake()?.store().put(&stored_key, &mut reader)?)
    });
    let mut refused = None;
    let mut total = 0u64;
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match next_chunk(&state, &mut stream).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                refused = Some(e);
                break;
            }
        };
        total += chunk.len() as u64;
        if total > state.opts.max_body {
            refused = Some(ApiError::too_large(state.opts.max_body));
            break;
        }
        if tx.send(Ok(chunk)).await.is_err() {
            break; // the store gave up; its error is the answer
        }
    }
    if refused.is_some() {
        let _ = tx
            .send(Err(std::io::Error::other("request body refused")))
            .await;
    }
    drop(tx);
    let stored = work.await.map_err(internal)?;
    if let Some(refused) = refused {
        return Err(refused);
    }
    let bytes = stored?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"key": key, "bytes": bytes})),
    )
        .into_response())
}

pub(crate) async fn get_object(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let reader = blocking(&state, permit.clone(), move |lake| {
        Ok(lake.store().get(&key)?)
    })
    .await?;
    // Stream in chunks from a blocking reader: memory stays bounded, and
    // the download holds its permit until the last byte is sent.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut reader = reader;
        loop {
            let mut buf = vec![0u8; 256 * 1024];
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

pub(crate) async fn delete_object(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state, permit, move |lake| Ok(lake.store().delete(&key)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    prefix: String,
    start_after: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn list_objects(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let limit = q.limit.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
    let mut objects = blocking(&state, permit, move |lake| {
        Ok(lake
            .store()
            .list(&q.prefix, q.start_after.as_deref(), limit + 1)?)
    })
    .await?;
    let truncated = objects.len() > limit;
    objects.truncate(limit);
    let next = truncated
        .then(|| objects.last().map(|o| o.key.clone()))
        .flatten();
    let objects: Vec<Value> = objects
        .into_iter()
        .map(|o| json!({"key": o.key, "size": o.size}))
        .collect();
    Ok(Json(
        json!({"objects": objects, "truncated": truncated, "next_start_after": next}),
    ))
}

/// `GET /metrics`: every metric in Prometheus' text format, with the
/// catalog's newest snapshot read now.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    if state.opts.metrics == super::MetricsAccess::Off {
        return Err(not_found().await);
    }
    let m = crate::metrics::metrics();
    let shared = state.clone();
    let (snapshot, _) = tokio::task::spawn_blocking(move || shared.queries.current())
        .await
        .map_err(internal)??;
    m.snapshot_id.set(snapshot.snapshot());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
        .into_response())
}

/// `?at=SNAPSHOT|TIME`: the catalog as of then.
#[derive(Deserialize)]
pub(crate) struct AtQuery {
    at: Option<String>,
}

impl AtQuery {
    /// The snapshot asked for, resolved in the catalog (None: now).
    fn resolve(&self, lake: &Lake) -> Result<Option<crate::catalog::SnapshotId>, LakeError> {
        self.at
            .as_deref()
            .map(|at| lake.resolve_snapshot(at))
            .transpose()
    }
}

pub(crate) async fn list_datasets(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let datasets = blocking(&state, permit, move |lake| {
        lake.summaries_at(q.resolve(lake)?)
    })
    .await?;
    Ok(Json(json!({"datasets": datasets})))
}

pub(crate) async fn show_dataset(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    Path(name): Path<String>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    Ok(Json(
        blocking(&state, permit, move |lake| {
            lake.describe_at(&name, q.resolve(lake)?)
        })
        .await?,
    ))
}

pub(crate) async fn remove_dataset(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let snapshot = blocking(&state, permit, {
        let name = name.clone();
        move |lake| lake.remove(&name)
    })
    .await?;
    Ok(Json(
        json!({"name": name, "snapshot": snapshot, "status": "removed"}),
    ))
}

/// `POST /v1/gc`: the options of `lake gc`, as JSON.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct GcRequest {
    keep: Option<u64>,
    older_than: Option<String>,
    grace: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

pub(crate) async fn gc(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: GcRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GcRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("gc options: {e}"),
            )
        })?
    };
    let opts = GcOptions::from_flags(
        request.keep,
        request.older_than.as_deref(),
        request.grace.as_deref().unwrap_or("1h"),
        request.dry_run,
    )?;
    let shared = state.clone();
    let report = blocking(&state, permit, move |lake| {
        // The server's own hold moves to the newest snapshot first, so that
        // it keeps only what its queries still read.
        shared.queries.current()?;
        lake.gc(&opts, &mut |_, _| {})
    })
    .await?;
    Ok(Json(json!(report)))
}

#[derive(Deserialize)]
pub(crate) struct DoctorQuery {
    #[serde(default)]
    deep: bool,
    grace: Option<String>,
}

/// `GET /v1/doctor`: the report of `lake doctor`, with `healthy`.
pub(crate) async fn doctor(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    q: Result<Query<DoctorQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let grace = parse_duration(q.grace.as_deref().unwrap_or("1h"))
        .map_err(|e| LakeError::Usage(format!("grace: {e}")))?;
    let report = blocking(&state, permit, move |lake| {
        lake.doctor(q.deep, grace, &mut |_| {})
    })
    .await?;
    let mut answer = json!(report);
    answer["healthy"] = Value::from(report.problems.is_empty());
    Ok(Json(answer))
}

#[derive(Deserialize)]
pub(crate) struct IngestQuery {
    name: Option<String>,
    mode: Option<String>,
    /// Accept added, removed and widened columns, as `lake ingest --evolve`.
    #[serde(default)]
    evolve: bool,
    /// The dialect, as `lake ingest`'s flags; what is not given is sniffed.
    delimiter: Option<String>,
    quote: Option<String>,
    escape: Option<String>,
    comment: Option<String>,
    skip: Option<u64>,
    header: Option<bool>,
    #[serde(default)]
    null_padding: bool,
    /// Set unreadable rows aside in `<name>_rejects`, as `--rejects`.
    #[serde(default)]
    rejects: bool,
    /// `csv`, `json` or `parquet`, as `--input-format`; else told by the
    /// content.
    input_format: Option<String>,
    date_format: Option<String>,
    timestamp_format: Option<String>,
}

impl IngestQuery {
    fn dialect(&self) -> Result<DialectFlags, ApiError> {
        let one = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| dialect::parse_char(name, v).map_err(ApiError::bad_request))
                .transpose()
        };
        Ok(DialectFlags {
            delimiter: one("delimiter", &self.delimiter)?,
            quote: one("quote", &self.quote)?,
            escape: one("escape", &self.escape)?,
            comment: one("comment", &self.comment)?,
            skip: self.skip,
            header: self.header,
            null_padding: self.null_padding,
            rejects: self.rejects,
            content: match self.input_format.as_deref() {
                None => None,
                Some("csv") => Some(Content::Csv),
                Some("json") => Some(Content::Json),
                Some("parquet") => Some(Content::Parquet),
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "input_format {other:?}: expected csv, json or parquet"
                    )));
                }
            },
            nulls: Vec::new(),
            date_format: self.date_format.clone(),
            timestamp_format: self.timestamp_format.clone(),
        })
    }
}

pub(crate) async fn ingest(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    q: Result<Query<IngestQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let mode = match q.mode.as_deref() {
        None | Some("overwrite") => WriteMode::Overwrite,
        Some("append") => WriteMode::Append,
        Some("replace") => WriteMode::Replace,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mode {other:?}: expected append or replace"
            )));
        }
    };
    let evolve = q.evolve;
    let dialect = q.dialect()?;
    if evolve && mode == WriteMode::Replace {
        return Err(ApiError::bad_request(
            "evolve and mode=replace exclude each other: replace accepts any schema",
        ));
    }
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (file, file_name) = if multipart {
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request(e.to_string()))?
                .ok_or_else(|| ApiError::bad_request("multipart body has no field named file"))?;
            if field.name() == Some("file") {
                let file_name = field.file_name().map(str::to_owned);
                break (spool(&state, field).await?, file_name);
            }
        }
    } else {
        (
            spool(&state, request.into_body().into_data_stream()).await?,
            None,
        )
    };
    let name = q
        .name
        .or_else(|| file_name.as_deref().map(name_for_file))
        .ok_or_else(|| ApiError::bad_request("name the dataset: /v1/ingest?name=N"))?;
    let label = file_name
        .clone()
        .unwrap_or_else(|| "request body".to_owned());
    let report = blocking(&state, permit, move |lake| {
        let source = Source::temp(file.into_temp_path(), &label).map_err(|source| {
            crate::store::StoreError::Io {
                action: "reading upload",
                key: label.clone(),
                source,
            }
        })?;
        let request = IngestRequest {
            name: Some(name),
            mode,
            evolve,
            dialect,
            types: Vec::new(),
        };
        lake.ingest(&source, &request, &NoProgress)
    })
    .await?;
    let status = if report.status == CommitStatus::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!(report))).into_response())
}
