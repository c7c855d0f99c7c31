//! Cross-cutting HTTP layers: request ids, tracing, metrics, limits, security headers,
//! CORS for discovery documents (META-4; never on the authorization endpoint, SEC-8).

use std::time::Duration;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
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

/// Routes that read a body or do real work get a body limit and a deadline (which
/// also bounds reading an oversized body before its `413`). The
/// discovery documents (GET, answered from memory) skip both: they are the busiest
/// read paths and have nothing to bound (ARCHITECTURE section 10).
pub(super) fn bounded(router: Router<AppState>, settings: &Settings) -> Router<AppState> {
    let server = &settings.raw.server;
    router
        .layer(RequestBodyLimitLayer::new(server.max_body_bytes))
        .layer(super::oversized::OversizedLayer::new(server.max_body_bytes))
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
    let router = router.layer(super::request_metrics::RequestMetricsLayer);
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
        // Written by hand rather than with `format!`: this runs on every request, and
        // the formatting machinery cost several times the rest of it.
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n);
        let mut id = String::with_capacity(self.prefix.len() + 1 + digits.len());
        id.push_str(&self.prefix);
        id.push('-');
        id.push_str(digits);
        HeaderValue::from_maybe_shared(bytes::Bytes::from(id))
            .ok()
            .map(RequestId::new)
    }
}

/// The strict headers of every response (SEC-5, SEC-7), each only where the handler
/// did not set its own (a page's CSP, a document's `Cache-Control`). One pass over the
/// header map instead of one layer per header.
fn security_headers(mut response: Response, hsts: Option<HeaderValue>) -> Response {
    // A `const`, so the values are checked once, at compile time: `from_static` called
    // at run time checks every byte of the CSP again on every response.
    const FIXED: [(HeaderName, HeaderValue); 6] = [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    let headers = response.headers_mut();
    // Room for all of them at once rather than growing the map twice on the way.
    headers.reserve(FIXED.len() + 1);
    for (name, value) in FIXED {
        if let header::Entry::Vacant(slot) = headers.entry(name) {
            slot.insert(value);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id_of(ids: &mut RequestIds) -> String {
        let request = axum::http::Request::new(());
        let id = ids
            .make_request_id(&request)
            .map(|id| id.into_header_value());
        id.and_then(|value| value.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }

    #[test]
    fn request_ids_are_the_process_prefix_and_a_counter() {
        let mut ids = RequestIds::new();
        let first = id_of(&mut ids);
        let second = id_of(&mut ids);
        assert_eq!(first, format!("{}-0", ids.prefix));
        assert_eq!(second, format!("{}-1", ids.prefix));
        let mut other_process = RequestIds::new();
        assert_ne!(id_of(&mut other_process), first);
    }

    #[test]
    fn sec_5_security_headers_fill_only_what_the_handler_left_unset() {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        let hsts = HeaderValue::from_static("max-age=31536000");
        let response = security_headers(response, Some(hsts));
        let headers = response.headers();
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=60");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
        assert_eq!(
            headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );
    }
}
