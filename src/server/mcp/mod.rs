//! The lake for AI agents: a Model Context Protocol server (the official
//! Rust SDK, `rmcp`). `lake mcp` speaks it on standard input and output;
//! `lake serve` answers its streamable HTTP transport at `/mcp`, behind the
//! same token, permits, sandbox and limits as `/v1/sql`.
//!
//! Tools (`tools.rs`) list, describe, query and (only when writes were
//! allowed) ingest; every dataset is also a resource,
//! `lake://datasets/<name>`, whose subscribers hear when it changes
//! (`changes.rs`).

mod changes;
mod tools;

pub(crate) use changes::Change;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use serde_json::{Value, json};

use super::AppState;
use crate::lake::{Lake, LakeError};

/// The scheme and path of a dataset's resource.
const RESOURCE_PREFIX: &str = "lake://datasets/";

/// MCP sessions `/mcp` keeps at once; a new one beyond is refused (503).
pub(crate) const MAX_SESSIONS: usize = 256;

/// What an agent is told the server is for.
const INSTRUCTIONS: &str = "A data lake: datasets (tables) with versions. Call list_datasets to see what is there, describe_dataset for a dataset's columns and sample rows, then query with read-only DuckDB SQL in which every dataset is a table of its name. dataset_log lists a dataset's snapshots; query's `at` reads the lake as of one.";

/// One MCP session's server: the lake (through the shared server state),
/// its tools, and the resources this session subscribed to.
#[derive(Clone)]
pub(crate) struct LakeMcp {
    state: Arc<AppState>,
    tool_router: ToolRouter<LakeMcp>,
    subscribed: Arc<Mutex<HashSet<String>>>,
    /// Whether this session's notifier runs.
    notifying: Arc<std::sync::atomic::AtomicBool>,
}

impl LakeMcp {
    pub(crate) fn new(state: Arc<AppState>) -> LakeMcp {
        let mut tool_router = Self::tool_router();
        if !state.opts.mcp_allow_writes {
            tool_router.remove_route("ingest");
        }
        LakeMcp {
            state,
            tool_router,
            subscribed: Arc::default(),
            notifying: Arc::default(),
        }
    }

    /// Runs lake work on a blocking thread, under one of the server's
    /// permits; a failure is the message the CLI prints.
    async fn with_lake<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Lake) -> Result<T, LakeError> + Send + 'static,
    ) -> Result<T, String> {
        let permit = super::limits::try_permit(&self.state).map_err(|e| e.message)?;
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            state.lake().and_then(|mut lake| work(&mut lake))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| super::ApiError::from(e).message)
    }
}

/// What a dataset's resource and `describe_dataset` show of
/// [`Lake::describe`]: no object keys or attach statement, and only the
/// newest `versions` versions.
pub(crate) fn dataset_facts(described: &Value, versions: usize) -> Value {
    let mut all: Vec<Value> = described["versions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    all.reverse();
    all.truncate(versions);
    json!({
        "name": described["name"],
        "schema": described["schema"],
        "rows": described["rows"],
        "bytes": described["bytes"],
        "version": described["version"],
        "snapshot": described["snapshot"],
        "objects": described["objects"].as_array().map_or(0, Vec::len),
        "created_at": described["created_at"],
        "updated_at": described["updated_at"],
        "versions": all,
    })
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for LakeMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_resources_subscribe()
                .build(),
        )
        .with_server_info(
            Implementation::new("lake", env!("CARGO_PKG_VERSION"))
                .with_description("A whole lakehouse in one binary"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let datasets = self
            .with_lake(|lake| lake.summaries())
            .await
            .map_err(|e| ErrorData::internal_error(e, None))?;
        let resources = datasets
            .into_iter()
            .map(|d| {
                Resource::new(format!("{RESOURCE_PREFIX}{}", d.name), d.name.clone())
                    .with_description(format!(
                        "Dataset {}: schema and statistics ({} rows, {} columns, version {})",
                        d.name, d.rows, d.columns, d.version
                    ))
                    .with_mime_type("application/json")
            })
            .collect();
        Ok(ListResourcesResult {
            resources,
            ..Default::default()
        })
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let Some(name) = uri.strip_prefix(RESOURCE_PREFIX).map(str::to_owned) else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri}: datasets are {RESOURCE_PREFIX}<name>"),
                None,
            ));
        };
        let described = self
            .with_lake(move |lake| lake.describe(&name))
            .await
            .map_err(|e| ErrorData::resource_not_found(e, Some(json!({ "uri": uri }))))?;
        let facts = dataset_facts(&described, usize::MAX);
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(facts.to_string(), uri).with_mime_type("application/json"),
        ])
        .into())
    }

    #[allow(deprecated)] // the subscription of protocol versions before 2026-07-28
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !request.uri.starts_with(RESOURCE_PREFIX) {
            return Err(ErrorData::invalid_params(
                format!(
                    "no resource {}: datasets are {RESOURCE_PREFIX}<name>",
                    request.uri
                ),
                None,
            ));
        }
        changes::lock(&self.subscribed).insert(request.uri);
        self.start_notifier(context.peer);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        changes::lock(&self.subscribed).remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.clone();
        accepted.tools_list_changed = None;
        accepted.prompts_list_changed = None;
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.listen_for_changes(context).await
    }
}

/// `/mcp`: MCP's streamable HTTP transport on the server's state. Sessions
/// are bounded in number and idle time; bodies in size (as every route).
pub(crate) fn route(state: &Arc<AppState>) -> axum::routing::MethodRouter<Arc<AppState>> {
    let mut config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(usize::try_from(state.opts.max_body).unwrap_or(usize::MAX));
    // Off loopback the token guards the route, and the Host header is
    // whatever name the server is reached by.
    if !state.opts.addr.ip().is_loopback() {
        config = config.disable_allowed_hosts();
    }
    let sessions = Arc::new(LocalSessionManager::default());
    let factory_state = state.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(LakeMcp::new(factory_state.clone())),
        sessions.clone(),
        config,
    );
    axum::routing::any(move |request: axum::extract::Request| {
        let mut mcp = mcp.clone();
        let sessions = sessions.clone();
        async move {
            use axum::response::IntoResponse;
            let opens_session = request.method() == axum::http::Method::POST
                && !request.headers().contains_key("mcp-session-id");
            if opens_session && sessions.sessions.read().await.len() >= MAX_SESSIONS {
                return super::ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!("{MAX_SESSIONS} MCP sessions are open; retry"),
                )
                .into_response();
            }
            let ends_session = request.method() == axum::http::Method::DELETE;
            let mut response = match tower_service::Service::call(&mut mcp, request).await {
                Ok(response) => response.map(axum::body::Body::new),
                Err(never) => match never {},
            };
            // rmcp answers a closed session 202; the official SDKs take
            // only 200 or 204 as done (and warn of a failure otherwise).
            if ends_session && response.status() == axum::http::StatusCode::ACCEPTED {
                *response.status_mut() = axum::http::StatusCode::OK;
            }
            response
        }
    })
}

/// `lake mcp`: serves one agent on standard input and output until it
/// hangs up.
pub(crate) async fn serve_stdio(state: Arc<AppState>) -> Result<(), std::io::Error> {
    use rmcp::ServiceExt;
    let running = LakeMcp::new(state)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
