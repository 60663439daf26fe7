//! The lake's history over HTTP: the snapshot log of the whole lake or of
//! a dataset, and restoring a dataset to an earlier snapshot (as `lake
//! log`, `lake restore`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::limits::Permit;
use super::routes::blocking;
use super::{ApiError, AppState};

/// A snapshot named in a JSON body (`"at"`, `"to"`): an id, or a time as
/// text, as `--at` takes it.
pub(crate) fn snapshot_spec(field: &str, value: Value) -> Result<String, ApiError> {
    match value {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s),
        other => Err(ApiError::bad_request(format!(
            "\"{field}\" must be a snapshot id or a time, not {other}"
        ))),
    }
}

/// `GET /v1/log`: every snapshot, newest first.
pub(crate) async fn lake_log(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
) -> Result<Json<Value>, ApiError> {
    let entries = blocking(&state, permit, move |lake| lake.log(None)).await?;
    Ok(Json(json!({ "snapshots": entries })))
}

/// `GET /v1/catalog/{name}/log`: the dataset's snapshots, newest first.
pub(crate) async fn dataset_log(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let entries = blocking(&state, permit, move |lake| lake.log(Some(&name))).await?;
    Ok(Json(json!({ "snapshots": entries })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreRequest {
    /// A snapshot id, or a time as text.
    to: Value,
}

/// `POST /v1/catalog/{name}/restore` with `{"to": SNAPSHOT}`: a new snapshot
/// whose data is that snapshot's.
pub(crate) async fn restore(
    State(state): State<Arc<AppState>>,
    Extension(permit): Extension<Permit>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: RestoreRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("expected {{\"to\": SNAPSHOT}}: {e}")))?;
    let to = snapshot_spec("to", request.to)?;
    let (to, committed) = blocking(&state, permit, move |lake| {
        let to = lake.resolve_snapshot(&to)?;
        Ok((to, lake.restore(&name, to)?))
    })
    .await?;
    let v = &committed.version;
    Ok(Json(json!({
        "name": committed.name,
        "restored_from": to,
        "version": v.version,
        "snapshot": v.snapshot,
        "rows": v.rows,
        "fingerprint": v.fingerprint,
        "status": committed.status.to_string(),
    })))
}
