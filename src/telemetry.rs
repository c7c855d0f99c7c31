//! Logging set-up (pretty or JSON lines) and metrics.
//!
//! Every request runs inside a span carrying its request id, so each line a request
//! causes names it. Secrets never reach a log: forms and settings that carry them have
//! redacting `Debug` impls, and no handler logs bodies or headers.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global tracing subscriber; later calls are no-ops (tests start many servers).
pub fn init_logging(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .flatten_event(true)
            .try_init(),
    };
}

/// Names of the metrics this server records.
pub mod names {
    /// Counter: requests by route and status.
    pub const HTTP_REQUESTS: &str = "mcp_authz_http_requests_total";
    /// Histogram: request latency in seconds by route.
    pub const HTTP_LATENCY: &str = "mcp_authz_http_request_duration_seconds";
    /// Counter: access tokens issued by grant type.
    pub const TOKENS_ISSUED: &str = "mcp_authz_tokens_issued_total";
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is already global; then ours stays local
            // and /metrics shows what was recorded through it (nothing), not a crash.
            let _ = metrics::set_global_recorder(recorder);
            metrics::describe_counter!(names::HTTP_REQUESTS, "HTTP requests by route and status");
            metrics::describe_histogram!(names::HTTP_LATENCY, "HTTP request latency in seconds");
            metrics::describe_counter!(names::TOKENS_ISSUED, "Access tokens issued by grant type");
            for grant in crate::domain::client::ALL_GRANT_TYPES {
                metrics::counter!(names::TOKENS_ISSUED, "grant_type" => grant.as_str())
                    .increment(0);
            }
            handle
        })
        .clone()
}

/// The counter and histogram of one (route, status) pair of HTTP requests, registered
/// once and reused: looking a labelled metric up per request costs allocations and a
/// registry lookup on every response (ARCHITECTURE section 10).
pub fn http_request_metrics(route: &str, status: u16) -> (metrics::Counter, metrics::Histogram) {
    type Handles = (metrics::Counter, metrics::Histogram);
    static BY_ROUTE: OnceLock<RwLock<HashMap<String, HashMap<u16, Handles>>>> = OnceLock::new();
    let table = BY_ROUTE.get_or_init(RwLock::default);
    if let Ok(read) = table.read()
        && let Some(handles) = read.get(route).and_then(|by_status| by_status.get(&status))
    {
        return handles.clone();
    }
    let handles = (
        metrics::counter!(names::HTTP_REQUESTS, "route" => route.to_owned(), "status" => status.to_string()),
        metrics::histogram!(names::HTTP_LATENCY, "route" => route.to_owned()),
    );
    if let Ok(mut write) = table.write() {
        write
            .entry(route.to_owned())
            .or_default()
            .insert(status, handles.clone());
    }
    handles
}
