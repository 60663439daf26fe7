//! `lake serve`: the lake over HTTP until SIGINT or SIGTERM.

use std::path::Path;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::lake::OpenOptions;
use crate::logging::{self, LogFormat};
use crate::printer::Printer;
use crate::server::{FlightOptions, MetricsAccess, ServeOptions, serve};

pub fn run(
    home: &Path,
    args: ServeArgs,
    open: &OpenOptions,
    printer: Printer,
    log_format: LogFormat,
) -> anyhow::Result<()> {
    let opts = ServeOptions {
        home: home.to_owned(),
        open: open.clone(),
        addr: args.addr,
        token: args.token.filter(|t| !t.is_empty()),
        max_body: args.max_body,
        max_concurrency: args.max_concurrency.max(1),
        query_timeout: Duration::from_secs(args.limits.query_timeout),
        max_rows: args.limits.max_rows,
        max_result_bytes: usize::try_from(args.limits.max_result_bytes).unwrap_or(usize::MAX),
        result_cache: args.result_cache,
        client_timeout: Duration::from_secs(args.client_timeout.max(1)),
        mcp_allow_writes: args.mcp_allow_writes,
        metrics: if args.no_metrics {
            MetricsAccess::Off
        } else if args.metrics_public {
            MetricsAccess::Public
        } else {
            MetricsAccess::Token
        },
        flight: args.flight_addr.map(|addr| FlightOptions {
            addr,
            tls: args.flight_tls_cert.zip(args.flight_tls_key),
        }),
    };
    let tls = opts.flight.as_ref().is_some_and(|f| f.tls.is_some());
    serve(opts, |addr, flight| {
        if !printer.quiet() {
            let url = format!("http://{addr}");
            logging::announce(log_format, &format!("listening on {url}"), &[("url", &url)]);
            if let Some(flight) = flight {
                let url = format!("{}://{flight}", if tls { "grpc+tls" } else { "grpc" });
                logging::announce(
                    log_format,
                    &format!("Flight SQL listening on {url}"),
                    &[("flight_url", &url)],
                );
            }
        }
    })?;
    Ok(())
}
