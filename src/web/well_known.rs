//! Discovery documents: RFC 8414 metadata (META-1..5) and the JWKS (META-10).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `GET /.well-known/oauth-authorization-server[/issuer-path]` and its OpenID alias.
pub(super) async fn metadata(State(state): State<AppState>) -> Response {
    let servers = match state.store.server_registry().await {
        Ok(servers) => servers,
        Err(error) => {
            tracing::error!(%error, "metadata: cannot read the registry");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let cache = HeaderValue::from_static("public, max-age=300");
    (
        [(header::CONTENT_TYPE, JSON), (header::CACHE_CONTROL, cache)],
        state.metadata.render(&servers),
    )
        .into_response()
}

/// `GET /jwks.json`: public keys only, pre-rendered, cacheable for `keys.jwks_max_age`.
pub(super) async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.keyring.jwks(state.clock.now());
    let max_age = state.keyring.jwks_max_age().as_secs();
    let cache = HeaderValue::from_str(&format!("public, max-age={max_age}"))
        .unwrap_or(HeaderValue::from_static("no-cache"));
    let content_type = HeaderValue::from_static("application/jwk-set+json");
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}
