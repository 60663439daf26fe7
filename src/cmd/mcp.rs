//! `lake mcp`: the lake to one AI agent over standard input and output
//! (the Model Context Protocol's stdio transport), until the agent hangs up.

use std::path::Path;
use std::time::Duration;

use crate::cli::McpArgs;
use crate::lake::OpenOptions;
use crate::server::{MetricsAccess, ServeOptions, serve_mcp_stdio};

pub fn run(home: &Path, args: McpArgs, open: &OpenOptions) -> anyhow::Result<()> {
    let opts = ServeOptions {
        home: home.to_owned(),
        open: open.clone(),
        // Nothing listens: the address only says "local" to the checks.
        addr: ([127, 0, 0, 1], 0).into(),
        token: None,
        max_body: u64::MAX,
        max_concurrency: 16,
        query_timeout: Duration::from_secs(args.limits.query_timeout),
        max_rows: args.limits.max_rows,
        max_result_bytes: usize::try_from(args.limits.max_result_bytes).unwrap_or(usize::MAX),
        result_cache: 0,
        client_timeout: Duration::from_secs(10),
        mcp_allow_writes: args.allow_writes,
        metrics: MetricsAccess::Off,
        flight: None,
    };
    serve_mcp_stdio(opts)?;
    Ok(())
}
