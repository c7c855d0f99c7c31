//! Cross-cutting HTTP layers: request ids, tracing, metrics, limits, security headers,
//! CORS for discovery documents (META-4; never on the authorization endpoint, SEC-8).

use std::time::Duration;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower::{Service, ServiceBuilder};
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::state::AppState;
use crate::telemetry;

/// The request-id header, set when absent and echoed on the response.
pub(super) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// CSP for every response: nothing loads but same-origin styles and images; no
/// framing (SEC-5), no inline script.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The CSP of a page whose form answers with a redirect to a client: browsers apply
/// `form-action` to every redirect that follows the submission, so the client's
/// redirect origin (`http://127.0.0.1:5555`, `https://app.example`, or `com.example.app:`
/// for a private-use scheme) joins `'self'`.
pub(super) fn csp_allowing_redirect_to(redirect_uri: &str) -> Option<HeaderValue> {
    csp_allowing_form_targets(&[redirect_uri])
}

/// The CSP of a page whose forms may end, after redirects, at any of `targets` (URLs):
/// each one's origin (or `scheme:` for a private-use scheme) joins `'self'`.
pub(super) fn csp_allowing_form_targets(targets: &[&str]) -> Option<HeaderValue> {
    let mut sources = String::new();
    for target in targets {
        let url = url::Url::parse(target).ok()?;
        let source = match url.origin() {
            url::Origin::Tuple(..) => url.origin().ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", url.scheme()),
        };
        if source.contains([' ', ';', ',']) {
            return None;
        }
        sources.push(' ');
        sources.push_str(&source);
    }
    let csp = CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self'{sources}"),
    );
    HeaderValue::from_str(&csp).ok()
}

/// Our CORS answers never depend on the request's `Origin` or preflight headers (any
/// origin, fixed lists), so they need no `Vary`. (The default list is also a vector
/// cloned with the layer on every request.)
const NO_VARY: [HeaderName; 0] = [];

/// CORS for discovery documents: any origin may read them (META-4).
pub(super) fn discovery(router: Router<AppState>) -> Router<AppState> {
    router.layer(
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET])
            .max_age(Duration::from_secs(3600))
            .vary(NO_VARY),
    )
}

/// CORS for token-type endpoints (browser-based clients call them; SEC-8 allows it).
pub(super) fn protocol(router: Router<AppState>) -> Router<AppState> {
    router.layer(
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(3600))
            .vary(NO_VARY),
    )
}

/// Routes that read a body or do real work get a body limit and a deadline. The
/// discovery documents (GET, answered from memory) skip both: they are the busiest
/// read paths and have nothing to bound (ARCHITECTURE section 10).
pub(super) fn bounded(router: Router<AppState>, settings: &Settings) -> Router<AppState> {
    let server = &settings.raw.server;
    router
        .layer(RequestBodyLimitLayer::new(server.max_body_bytes))
        .layer(super::deadline::DeadlineLayer::new(server.request_timeout))
}

/// Layers every response passes through, outermost first: request id, trace span,
/// security headers; then, inside the router, metrics by route template ([`bounded`]
/// adds the timeout and body limit per router).
///
/// They wrap the finished router as one service rather than going through
/// `Router::layer`, which would clone each layer's state for every request (axum
/// clones the matched route's whole stack per call); this way they are cloned once per
/// connection. Metrics stay inside: only routing knows the matched route template.
pub(super) fn global(
    router: Router,
    settings: &Settings,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static
+ use<> {
    let https = settings.issuer.as_str().starts_with("https://");
    let hsts = https.then(|| HeaderValue::from_static("max-age=31536000"));
    let router = router.layer(middleware::from_fn(record_metrics));
    ServiceBuilder::new()
        .map_response(|response: axum::http::Response<_>| response.map(Body::new))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::new()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .map_response(move |response: Response| security_headers(response, hsts.clone()))
        .service(router)
}

/// Request ids: a random per-process prefix and a counter. Unique across instances
/// and restarts without a random draw (a system call) per request.
#[derive(Clone)]
struct RequestIds {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        let prefix = crate::crypto::random_bytes::<6>()
            .map(|b| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b))
            .unwrap_or_else(|_| format!("{:x}", std::process::id()));
        Self {
            prefix: prefix.into(),
            next: std::sync::Arc::default(),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The strict headers of every response (SEC-5, SEC-7), each only where the handler
/// did not set its own (a page's CSP, a document's `Cache-Control`). One pass over the
/// header map instead of one layer per header.
fn security_headers(mut response: Response, hsts: Option<HeaderValue>) -> Response {
    const FIXED: [(HeaderName, &str); 6] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    let headers = response.headers_mut();
    for (name, value) in FIXED {
        if let header::Entry::Vacant(slot) = headers.entry(name) {
            slot.insert(HeaderValue::from_static(value));
        }
    }
    if let Some(hsts) = hsts
        && let header::Entry::Vacant(slot) = headers.entry(header::STRICT_TRANSPORT_SECURITY)
    {
        slot.insert(hsts);
    }
    response
}

/// The span every line of a request is logged in: method, path (never the query,
/// which may carry codes or state) and request id.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id,
    )
}

/// Counts requests by route template and status and records their latency.
async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    #[expect(
        clippy::disallowed_methods,
        reason = "latency is a duration, not a clock reading"
    )]
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (requests, latency) = telemetry::http_request_metrics(route, response.status().as_u16());
    requests.increment(1);
    latency.record(started.elapsed().as_secs_f64());
    response
}
