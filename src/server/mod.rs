//! `lake serve`: the lake over HTTP. Handlers call the same library functions
//! as the subcommands, on the same catalog and store, so what one writes the
//! other reads at once.

mod connections;
mod error;
mod flight;
mod formats;
mod history;
mod limits;
mod mcp;
mod observe;
mod pool;
mod queries;
pub(crate) mod result_cache;
mod routes;
mod secret;
mod sql;
mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::lake::{Lake, LakeError, OpenOptions};

pub use error::ApiError;

/// Errors starting the server.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {addr} without --token (or LAKE_TOKEN): only loopback addresses may go without"
    )]
    NeedsToken { addr: SocketAddr },
    #[error("listening on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("server")]
    Io(#[from] std::io::Error),
    #[error("Flight SQL: {0}")]
    Flight(String),
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub home: PathBuf,
    pub open: OpenOptions,
    pub addr: SocketAddr,
    /// Required as `Authorization: Bearer TOKEN` when set.
    pub token: Option<String>,
    /// The largest request body, decided from Content-Length when given.
    pub max_body: u64,
    /// Requests handled at once; more get 503 with Retry-After.
    pub max_concurrency: usize,
    /// A query running longer is stopped.
    pub query_timeout: Duration,
    /// Rows a query returns at most (`"truncated": true` beyond).
    pub max_rows: usize,
    /// Bytes of rows a query answer holds at most (truncated beyond).
    pub max_result_bytes: usize,
    /// Memory for answers kept for repeated queries.
    pub result_cache: u64,
    /// How long a client may take to send a request head, or the next part
    /// of a body; idle connections close after it.
    pub client_timeout: Duration,
    /// Whether MCP's `ingest` tool is offered.
    pub mcp_allow_writes: bool,
    /// Who may read `/metrics`, and whether requests are counted at all.
    pub metrics: MetricsAccess,
    /// Where Arrow Flight SQL is spoken, if anywhere, and its TLS
    /// certificate and key (PEM files).
    pub flight: Option<FlightOptions>,
}

/// Arrow Flight SQL beside the HTTP API.
#[derive(Debug, Clone)]
pub struct FlightOptions {
    pub addr: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Who may read `GET /metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// No route, and requests are not counted.
    Off,
    /// Behind the token, as every route.
    Token,
    /// Open to anyone who reaches the server.
    Public,
}

/// What every handler shares.
pub(crate) struct AppState {
    pub opts: ServeOptions,
    pub permits: Arc<Semaphore>,
    /// The lake opened once; [`AppState::lake`] hands out handles on it.
    root: Mutex<Lake>,
    lakes: Arc<pool::Pool<Lake>>,
    pub queries: queries::Queries,
    /// What MCP's subscribers are told when the catalog changes.
    changes: tokio::sync::broadcast::Sender<mcp::Change>,
    /// Whether the watcher of the catalog for them runs.
    watching: std::sync::atomic::AtomicBool,
    /// Whether each request is logged: the log's level is set before the
    /// server starts and does not change, so it is asked once.
    pub logs_requests: bool,
}

impl AppState {
    /// A handle on the lake for one request: a catalog connection of its
    /// own, the server's one store.
    pub fn lake(&self) -> Result<pool::Pooled<Lake>, LakeError> {
        self.lakes.take(|| {
            self.root
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .reopen()
        })
    }
}

/// The routes of the Go gateway, in one process.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/", get(ui::index))
        .route("/ui/login", post(ui::login))
        .route("/ui/logout", post(ui::logout))
        .route("/ui/{file}", get(ui::asset))
        .route("/v1/storage", get(routes::list_objects))
        .route(
            "/v1/storage/{*key}",
            get(routes::get_object)
                .put(routes::put_object)
                .delete(routes::delete_object),
        )
        .route("/v1/catalog/list", get(routes::list_datasets))
        .route(
            "/v1/catalog/{name}",
            get(routes::show_dataset).delete(routes::remove_dataset),
        )
        .route("/v1/gc", post(routes::gc))
        .route("/v1/doctor", get(routes::doctor))
        .route("/v1/catalog/{name}/log", get(history::dataset_log))
        .route("/v1/catalog/{name}/restore", post(history::restore))
        .route("/v1/log", get(history::lake_log))
        .route("/v1/ingest", post(routes::ingest))
        .route("/v1/sql", post(sql::sql))
        .route("/metrics", get(routes::metrics))
        .route("/mcp", mcp::route(&state))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // Bodies read whole (the SQL request) stop at the limit whatever
        // the framing; streamed ones (uploads) count their own bytes.
        .layer(DefaultBodyLimit::max(
            usize::try_from(state.opts.max_body).unwrap_or(usize::MAX),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}

/// Opens the lake for serving: creates the home, checks the store and
/// locks the database down before the first request.
fn open_state(opts: ServeOptions) -> Result<AppState, ServeError> {
    let lake = Lake::open_with(&opts.home, &opts.open)?;
    // A lake from before this check whose store holds its home: serving it
    // would hand out the catalog.
    if let Some(root) = lake.store().local_root() {
        crate::lake::check_store_outside_home(root, &opts.home)?;
    }
    let queries = queries::Queries::open(&lake, opts.result_cache)?;
    Ok(AppState {
        permits: Arc::new(Semaphore::new(opts.max_concurrency)),
        lakes: pool::Pool::new(opts.max_concurrency.min(32)),
        root: Mutex::new(lake),
        queries,
        changes: tokio::sync::broadcast::channel(64).0,
        watching: Default::default(),
        logs_requests: observe::logs_requests(),
        opts,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Serves until SIGINT or SIGTERM; requests in flight finish first.
/// `ready` is told the address once listening.
pub fn serve(
    opts: ServeOptions,
    ready: impl FnOnce(SocketAddr, Option<SocketAddr>),
) -> Result<(), ServeError> {
    if opts.token.is_none() && !opts.addr.ip().is_loopback() {
        return Err(ServeError::NeedsToken { addr: opts.addr });
    }
    if let Some(flight) = &opts.flight
        && opts.token.is_none()
        && !flight.addr.ip().is_loopback()
    {
        return Err(ServeError::NeedsToken { addr: flight.addr });
    }
    let tls = match opts.flight.as_ref().and_then(|f| f.tls.clone()) {
        Some((cert, key)) => Some(flight::Tls::read(&cert, &key)?),
        None => None,
    };
    let state = open_state(opts)?;
    // Requests in flight get their query timeout, and ten seconds more, to
    // finish after SIGTERM; then the server stops whatever they (or
    // standard error) do.
    let drain = state.opts.query_timeout + STOP_GRACE;
    let runtime = runtime()?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(state.opts.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: state.opts.addr,
                source,
            })?;
        let addr = listener.local_addr()?;
        let flight_listener = match &state.opts.flight {
            Some(flight) => Some(tokio::net::TcpListener::bind(flight.addr).await.map_err(
                |source| ServeError::Bind {
                    addr: flight.addr,
                    source,
                },
            )?),
            None => None,
        };
        let flight_addr = flight_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()?;
        // SIGINT and SIGTERM are caught from before the address is told:
        // a signal sent as soon as the server answers must stop it
        // cleanly, not kill it.
        let http_stop = shutdown_signal();
        let flight_stop = shutdown_signal();
        ready(addr, flight_addr);
        tracing::info!(%addr, "listening");
        let state = Arc::new(state);
        keep_up(&state);
        let client_timeout = state.opts.client_timeout;
        let flight = async {
            match flight_listener {
                Some(listener) => flight::serve(state.clone(), listener, tls, flight_stop).await,
                None => Ok(()),
            }
        };
        let http = connections::serve(
            listener,
            router(state.clone()),
            client_timeout,
            http_stop,
            drain,
        );
        let ((), flight) = tokio::join!(http, flight);
        flight
    });
    // Work still running on blocking threads (a query past its client)
    // is not waited for.
    runtime.shutdown_timeout(STOP_GRACE);
    served
}

/// Looks at the catalog every few seconds even when no query comes: the
/// server holds the newest snapshot it saw from gc, and an idle server
/// would otherwise keep holding an old one.
fn keep_up(state: &Arc<AppState>) {
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let Some(state) = state.upgrade() else { return };
            let _ = tokio::task::spawn_blocking(move || state.queries.current()).await;
        }
    });
}

/// How long past its requests' own limits a stopping server waits.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// `lake mcp`: serves one agent over standard input and output, with the
/// query machinery and limits of `serve`, until the agent hangs up.
pub fn serve_mcp_stdio(opts: ServeOptions) -> Result<(), ServeError> {
    let state = Arc::new(open_state(opts)?);
    runtime()?.block_on(async move {
        keep_up(&state);
        mcp::serve_stdio(state).await
    })?;
    Ok(())
}

/// Completes at SIGINT or SIGTERM. The handlers are installed when this is
/// called (inside the runtime), not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {},
            () = wait(terminate) => {},
        }
    }
}
