//! Discovery documents: RFC 8414 metadata (META-1..5) and the JWKS (META-10).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::oauth::metadata;
use crate::state::AppState;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `GET /.well-known/oauth-authorization-server[/issuer-path]` and its OpenID alias.
pub(super) async fn metadata(State(state): State<AppState>) -> Response {
    let servers = match state.store.list_all_servers().await {
        Ok(servers) => servers,
        Err(error) => {
            tracing::error!(%error, "metadata: cannot read the registry");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let features = metadata::Features {
        client_id_metadata_documents: state.oauth.cimd.is_enabled(),
    };
    let mut document = metadata::document(&state.settings.issuer, &servers, features);
    if state.settings.dcr_enabled() {
        metadata::add_registration_endpoint(&mut document, &state.settings.issuer); // META-8
    }
    let cache = HeaderValue::from_static("public, max-age=300");
    (
        [(header::CONTENT_TYPE, JSON), (header::CACHE_CONTROL, cache)],
        document.to_string(),
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
