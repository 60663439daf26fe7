//! What the process counts, for `GET /metrics`: one registry of Prometheus
//! counters, gauges and histograms (the `prometheus` crate writes the text
//! exposition format). The counters are atomics the code bumps where the
//! thing happens (a request ends, a store operation, a cache lookup); the
//! gauges that mirror state (snapshot id, cache bytes) are set at a scrape.

use std::cell::RefCell;
use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Latency buckets, in seconds: from a cached answer (sub-millisecond) to a
/// query at its timeout.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// The request counter of one route and status, and the route's latency
/// histogram.
type RouteCounts = (IntCounter, Histogram);

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route (the route's pattern, never the raw path) and
    /// status.
    pub requests: IntCounterVec,
    /// Seconds from a request's arrival to the end of its answer, by route.
    pub request_seconds: HistogramVec,
    /// Requests being answered now.
    pub in_flight: IntGauge,
    /// SQL queries by outcome (ok, error, cached).
    pub queries: IntCounterVec,
    /// Seconds a query took, by outcome.
    pub query_seconds: HistogramVec,
    /// Rows of query answers returned.
    pub rows_returned: IntCounter,
    /// Bytes of answers returned (every route).
    pub bytes_returned: IntCounter,
    /// Ingests by status (created, updated, unchanged, failed).
    pub ingests: IntCounterVec,
    /// Bytes of input ingested.
    pub bytes_ingested: IntCounter,
    /// Store operations by operation (get, put, delete, list).
    pub store_operations: IntCounterVec,
    /// Bytes moved by store operations, by operation.
    pub store_bytes: IntCounterVec,
    /// Cache lookups that found the object (or answer), by cache.
    pub cache_hits: IntCounterVec,
    /// Cache lookups that did not, by cache.
    pub cache_misses: IntCounterVec,
    /// Entries a cache dropped to stay in its bound, by cache.
    pub cache_evictions: IntCounterVec,
    /// Bytes a cache holds, by cache (set at a scrape).
    pub cache_bytes: prometheus::IntGaugeVec,
    /// The catalog's newest snapshot id (set at a scrape).
    pub snapshot_id: IntGauge,
    /// Log lines dropped because standard error did not take them in time.
    pub log_lines_dropped: IntCounter,
}

/// Registers `metric` (its name is known once) and hands it back.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("a metric registered once");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(
        registry,
        IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric"),
    )
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(SECONDS.to_vec());
    registered(
        registry,
        HistogramVec::new(opts, labels).expect("a valid metric"),
    )
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    registered(registry, IntGauge::new(name, help).expect("a valid metric"))
}

fn total(registry: &Registry, name: &str, help: &str) -> IntCounter {
    registered(
        registry,
        IntCounter::new(name, help).expect("a valid metric"),
    )
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new_custom(Some("lake".into()), None).expect("a valid prefix");
        let cache_bytes = registered(
            &r,
            prometheus::IntGaugeVec::new(
                Opts::new("cache_bytes", "Bytes a cache holds now."),
                &["cache"],
            )
            .expect("a valid metric"),
        );
        Metrics {
            requests: counter(
                &r,
                "http_requests_total",
                "HTTP requests answered, by route and status.",
                &["route", "status"],
            ),
            request_seconds: histogram(
                &r,
                "http_request_duration_seconds",
                "Seconds from a request's arrival to the end of its answer.",
                &["route"],
            ),
            in_flight: gauge(
                &r,
                "http_requests_in_flight",
                "HTTP requests being answered now.",
            ),
            queries: counter(
                &r,
                "queries_total",
                "SQL queries, by outcome (ok, error, cached).",
                &["outcome"],
            ),
            query_seconds: histogram(
                &r,
                "query_duration_seconds",
                "Seconds a SQL query took, by outcome.",
                &["outcome"],
            ),
            rows_returned: total(
                &r,
                "query_rows_returned_total",
                "Rows of query answers returned.",
            ),
            bytes_returned: total(
                &r,
                "http_response_bytes_total",
                "Bytes of HTTP answers sent.",
            ),
            ingests: counter(
                &r,
                "ingests_total",
                "Ingests, by status (created, updated, unchanged, failed).",
                &["status"],
            ),
            bytes_ingested: total(&r, "ingested_bytes_total", "Bytes of input files ingested."),
            store_operations: counter(
                &r,
                "store_operations_total",
                "Operations on the object store, by operation.",
                &["operation"],
            ),
            store_bytes: counter(
                &r,
                "store_bytes_total",
                "Bytes moved to or from the object store, by operation.",
                &["operation"],
            ),
            cache_hits: counter(
                &r,
                "cache_hits_total",
                "Cache lookups that found what they sought, by cache.",
                &["cache"],
            ),
            cache_misses: counter(
                &r,
                "cache_misses_total",
                "Cache lookups that did not, by cache.",
                &["cache"],
            ),
            cache_evictions: counter(
                &r,
                "cache_evictions_total",
                "Entries a cache dropped to stay within its bound, by cache.",
                &["cache"],
            ),
            cache_bytes,
            snapshot_id: gauge(
                &r,
                "catalog_snapshot_id",
                "The newest snapshot of the catalog.",
            ),
            log_lines_dropped: total(
                &r,
                "log_lines_dropped_total",
                "Log lines dropped because standard error did not take them in time.",
            ),
            registry: r,
        }
    }

    /// Counts one query: its outcome (`ok`, `cached`, `error`), its time
    /// since `started` and the rows it returned.
    pub fn query_done(&self, outcome: &str, started: std::time::Instant, rows: u64) {
        self.queries.with_label_values(&[outcome]).inc();
        self.query_seconds
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());
        self.rows_returned.inc_by(rows);
    }

    /// Counts one answered request: its route and status, its time and
    /// the bytes of its answer. The counter and histogram of the route
    /// this thread counted last are kept: a busy server answers one route
    /// over and over, and finding them by label costs more than the rest.
    pub fn request_done(&self, route: &'static str, status: &str, seconds: f64, bytes: u64) {
        thread_local! {
            static LAST: RefCell<Option<(&'static str, String, RouteCounts)>> =
                const { RefCell::new(None) };
        }
        let found = || {
            (
                self.requests.with_label_values(&[route, status]),
                self.request_seconds.with_label_values(&[route]),
            )
        };
        let count = |(requests, histogram): &RouteCounts| {
            requests.inc();
            histogram.observe(seconds);
        };
        let counted = LAST.try_with(|last| {
            let mut last = last.borrow_mut();
            match &*last {
                Some((r, s, pair)) if *r == route && s == status => count(pair),
                _ => {
                    let pair = found();
                    count(&pair);
                    *last = Some((route, status.to_string(), pair));
                }
            }
        });
        if counted.is_err() {
            count(&found());
        }
        self.bytes_returned.inc_by(bytes);
    }

    /// Everything, in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of valid metrics");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The `cache` label of the store's cache of remote objects.
pub const OBJECT_CACHE: &str = "objects";
/// The `cache` label of `serve`'s cache of query answers.
pub const ANSWER_CACHE: &str = "answers";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_every_family_with_the_prefix() {
        let m = metrics();
        m.requests.with_label_values(&["/v1/sql", "200"]).inc();
        m.request_seconds
            .with_label_values(&["/v1/sql"])
            .observe(0.003);
        let text = m.render();
        assert!(text.contains("# TYPE lake_http_requests_total counter"));
        assert!(text.contains("lake_http_requests_total{route=\"/v1/sql\",status=\"200\"}"));
        assert!(
            text.contains(
                "lake_http_request_duration_seconds_bucket{route=\"/v1/sql\",le=\"0.005\"}"
            )
        );
        assert!(text.contains("# TYPE lake_catalog_snapshot_id gauge"));
    }
}
