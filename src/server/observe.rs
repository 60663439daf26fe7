//! What every request leaves behind: an id (the client's `x-request-id`
//! when it sent a sane one, else a new one, echoed in the answer), one log
//! line when its answer has been sent (method, route, status, duration,
//! rows, bytes) and the request metrics. The line and the counts come when
//! the body ends, so a streamed answer is measured whole.

use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

use super::AppState;
use crate::metrics::metrics;

/// The header that carries a request's id, both ways.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// The longest id taken from a client.
const MAX_ID: usize = 128;

/// Rows an answer holds, set by the handler (or, for a streamed answer, by
/// the query as it runs): a response extension the log line reads at the end.
#[derive(Clone, Default)]
pub(crate) struct Rows(pub Arc<AtomicU64>);

impl Rows {
    pub fn of(n: u64) -> Rows {
        Rows(Arc::new(AtomicU64::new(n)))
    }
}

/// The client's id if it is printable ASCII of a sane length, else a new
/// one: 16 hex digits from the process's random hasher state and a counter.
fn request_id(request: &Request) -> Arc<str> {
    id_or_new(
        request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok()),
    )
}

/// `given` if it is a sane id, else a new one (see [`request_id`]); Flight
/// SQL calls take theirs from the same `x-request-id` header.
pub(crate) fn id_or_new(given: Option<&str>) -> Arc<str> {
    let given = given
        .filter(|v| !v.is_empty() && v.len() <= MAX_ID && v.bytes().all(|b| b.is_ascii_graphic()));
    match given {
        Some(id) => id.into(),
        None => {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            static SEED: std::sync::LazyLock<std::hash::RandomState> =
                std::sync::LazyLock::new(std::hash::RandomState::new);
            let mut h = SEED.build_hasher();
            h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
            let mut n = h.finish();
            let mut hex = [0u8; 16];
            for digit in hex.iter_mut().rev() {
                *digit = b"0123456789abcdef"[(n & 15) as usize];
                n >>= 4;
            }
            std::str::from_utf8(&hex).unwrap_or_default().into()
        }
    }
}

/// The route a path belongs to: the router's pattern, so that metrics have
/// a handful of label values whatever paths clients send.
pub(crate) fn route_of(path: &str) -> &'static str {
    let mut parts = path.trim_start_matches('/').splitn(4, '/');
    let mut next = || parts.next();
    match (next(), next(), next(), next()) {
        (Some("healthz"), None, ..) => "/healthz",
        (Some("metrics"), None, ..) => "/metrics",
        (Some("mcp"), ..) => "/mcp",
        (Some("v1"), Some("sql"), None, _) => "/v1/sql",
        (Some("v1"), Some("ingest"), None, _) => "/v1/ingest",
        (Some("v1"), Some("gc"), None, _) => "/v1/gc",
        (Some("v1"), Some("doctor"), None, _) => "/v1/doctor",
        (Some("v1"), Some("storage"), None, _) => "/v1/storage",
        (Some("v1"), Some("storage"), Some(_), _) => "/v1/storage/{key}",
        (Some("v1"), Some("catalog"), Some("list"), None) => "/v1/catalog/list",
        (Some("v1"), Some("catalog"), Some(_), None) => "/v1/catalog/{name}",
        (Some("v1"), Some("catalog"), Some(_), Some("log")) => "/v1/catalog/{name}/log",
        _ => "other",
    }
}

/// Whether the log takes the line of each request (its level lets this
/// module's info through).
pub(crate) fn logs_requests() -> bool {
    tracing::enabled!(tracing::Level::INFO)
}

/// The outermost layer: ids every request, and logs and counts its answer.
pub(crate) async fn observe(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let id = request_id(&request);
    let counting = state.opts.metrics != super::MetricsAccess::Off;
    let done = Done {
        id: id.clone(),
        method: request.method().clone(),
        route: route_of(request.uri().path()),
        started: Instant::now(),
        counting,
        status: StatusCode::OK,
        rows: None,
        bytes: 0,
    };
    let logging = state.logs_requests;
    if counting {
        metrics().in_flight.inc();
    }
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(&id) {
        parts.headers.insert(REQUEST_ID, value);
    }
    if !counting && !logging {
        return Response::from_parts(parts, body);
    }
    let done = Done {
        status: parts.status,
        rows: parts.extensions.get::<Rows>().map(|r| r.0.clone()),
        ..done
    };
    // An answer made whole (most are) is reported now: its size is known
    // and its bytes are on their way. Only a streamed one is followed to
    // its end.
    if let Some(bytes) = http_body::Body::size_hint(&body).exact() {
        done.finish_with(bytes, true);
        return Response::from_parts(parts, body);
    }
    Response::from_parts(
        parts,
        Body::new(Observed {
            inner: body,
            done: Some(done),
        }),
    )
}

/// What is known of a request until its answer ends.
struct Done {
    id: Arc<str>,
    method: Method,
    route: &'static str,
    started: Instant,
    counting: bool,
    status: StatusCode,
    rows: Option<Arc<AtomicU64>>,
    bytes: u64,
}

impl Done {
    fn finish_with(mut self, bytes: u64, complete: bool) {
        self.bytes = bytes;
        self.finish(complete);
    }

    /// Logs and counts the request; `complete` is false when the answer
    /// broke off (an error mid-stream, or the client went away).
    fn finish(self, complete: bool) {
        let elapsed = self.started.elapsed();
        let rows = self.rows.map(|r| r.load(Ordering::Relaxed));
        if self.counting {
            let m = metrics();
            m.in_flight.dec();
            m.request_done(
                self.route,
                self.status.as_str(),
                elapsed.as_secs_f64(),
                self.bytes,
            );
        }
        tracing::info!(
            // A message as a value, not a format string: written as it is,
            // without `core::fmt` (a tenth of the line's cost).
            message = "request",
            request_id = &*self.id,
            method = self.method.as_str(),
            route = self.route,
            status = self.status.as_u16(),
            duration_us = elapsed.as_micros() as u64,
            rows,
            bytes = self.bytes,
            complete,
        );
    }
}

/// An answer's body that counts its bytes and reports the request when it
/// ends or is dropped.
struct Observed {
    inner: Body,
    done: Option<Done>,
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(done)) = (frame.data_ref(), self.done.as_mut()) {
                    done.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(done) = self.done.take() {
                    done.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(done) = self.done.take() {
                    done.finish(false);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            // A body hyper never polled to its end: empty (it read
            // is_end_stream) or cut off.
            let complete = http_body::Body::is_end_stream(&self.inner);
            done.finish(complete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::route_of;

    #[test]
    fn routes_are_patterns_not_paths() {
        assert_eq!(route_of("/v1/storage/a/b/c.csv"), "/v1/storage/{key}");
        assert_eq!(route_of("/v1/catalog/trips"), "/v1/catalog/{name}");
        assert_eq!(route_of("/v1/catalog/trips/log"), "/v1/catalog/{name}/log");
        assert_eq!(route_of("/v1/catalog/list"), "/v1/catalog/list");
        assert_eq!(route_of("/v1/sql"), "/v1/sql");
        assert_eq!(route_of("/nope/x"), "other");
        assert_eq!(route_of("/mcp"), "/mcp");
        assert_eq!(route_of("/healthz/x"), "other");
        assert_eq!(route_of("/v1/catalog/a/b/c"), "other");
    }
}
