//! What every request passes first: the bearer token (or the web UI's
//! session cookie), the body size from
//! Content-Length (413 before any byte is read) and the concurrency limit,
//! whose permit the request's work holds until it ends.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::OwnedSemaphorePermit;

use super::secret::constant_time_eq;
use super::{ApiError, AppState};

pub(crate) async fn guard(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let public = path == "/healthz"
        || super::ui::is_public(path)
        || (path == "/metrics" && state.opts.metrics == super::MetricsAccess::Public);
    if public {
        return next.run(request).await;
    }
    // MCP's streams live as long as a session: its tool calls take their
    // permits themselves (`try_permit`).
    let takes_permit = path != "/mcp";
    if let Some(token) = &state.opts.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let by_bearer = given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes()));
        // The web UI's session cookie (`/ui/login`) stands for the token.
        if !by_bearer
            && !super::ui::authorised_by_cookie(request.method(), request.headers(), token)
        {
            discard_small_body(request).await;
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token",
            )
            .into_response();
        }
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.opts.max_body) {
        return ApiError::too_large(state.opts.max_body).into_response();
    }
    if !takes_permit {
        return next.run(request).await;
    }
    let permit = match try_permit(&state) {
        Ok(permit) => permit,
        Err(busy) => return busy.into_response(),
    };
    // The work a request starts holds the permit until it really ends: a
    // blocking query or ingest, a download still streaming.
    let mut request = request;
    request.extensions_mut().insert(permit);
    next.run(request).await
}

/// Bodies up to this size are read and dropped before a refusal, so that
/// the client, still sending, gets the answer rather than a reset.
const DISCARD_LIMIT: usize = 64 * 1024;

/// Reads and drops a small body (for at most a second): a connection closed
/// with unread bytes is reset, and a reset can beat the answer to the
/// client. A larger body is left: the connection closes after the answer.
async fn discard_small_body(request: Request) {
    use futures::StreamExt;
    let mut body = request.into_body().into_data_stream();
    let mut seen = 0usize;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        while let Some(Ok(chunk)) = body.next().await {
            seen += chunk.len();
            if seen > DISCARD_LIMIT {
                break;
            }
        }
    })
    .await;
}

/// One of the server's permits, or 503 when all are taken.
pub(crate) fn try_permit(state: &AppState) -> Result<Permit, ApiError> {
    match state.permits.clone().try_acquire_owned() {
        Ok(permit) => Ok(Permit(Arc::new(permit))),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many requests at once; retry",
        )),
    }
}

/// One of the server's concurrency permits, shared by everything a request
/// started; released when the last holder drops it.
#[derive(Clone)]
pub(crate) struct Permit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);
