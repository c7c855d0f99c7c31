//! `POST /oauth2/register` (and `/register`, CORE-20): RFC 7591 dynamic client
//! registration, served only when `dcr.mode` is not `off` (DCR-1).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::authorization;
use crate::oauth::register::{RegisterError, Registrar};
use crate::state::AppState;
use crate::web::responses::no_store_json;

/// The challenge of a 401 in token mode (RFC 6750 section 3).
const INVALID_TOKEN_CHALLENGE: &str = "Bearer error=\"invalid_token\"";

/// Registers a client: 201 with its id, secret (once) and effective metadata (DCR-2).
/// A refusal is a security event (budgeted), with the requester's address.
pub(crate) async fn post(
    State(registrar): State<Arc<Registrar>>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegisterErrorResponse> {
    // DCR-9 rate limits and the audit count per client address (SEC-17).
    let trusted = &state.settings.raw.server.trusted_proxies;
    let address = crate::web::client_ip::client_ip(peer.ip(), &headers, trusted);
    let result = register(&registrar, address, &headers, body).await;
    if let Err(RegisterErrorResponse(error)) = &result {
        let detail = json!({ "reason": error.to_string() });
        let address = address.to_string();
        state
            .oauth
            .security
            .record("dcr.rejected", "address", &address, detail)
            .await;
    }
    result
}

async fn register(
    registrar: &Registrar,
    address: std::net::IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, RegisterErrorResponse> {
    let headers = headers.clone();
    let bearer = authorization(&headers).and_then(|value| bearer_token(&value));
    let admission = registrar.admit(address, bearer.as_deref()).await?;
    let limit = registrar.max_request_bytes();
    // The whole body is read, however large (the server-wide limit bounds it), before a
    // too-large one is refused (DCR-3): answering with bytes left unread would reset the
    // connection under a client still sending them, and it would never see the 413.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| RegisterError::TooLarge { limit })?;
    if bytes.len() > limit {
        return Err(RegisterError::TooLarge { limit }.into());
    }
    let registered = registrar
        .register(admission, is_json(&headers), &bytes)
        .await?;
    let mut response = no_store_json(&registered);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(value: &str) -> Option<String> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// RFC 7591 section 3.1: the request is `application/json`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A refused registration as RFC 7591 section 3.2.2 answers it (DCR-3): a JSON body with
/// `error` and `error_description`, never cached.
pub(crate) struct RegisterErrorResponse(RegisterError);

impl From<RegisterError> for RegisterErrorResponse {
    fn from(err: RegisterError) -> Self {
        Self(err)
    }
}

impl IntoResponse for RegisterErrorResponse {
    fn into_response(self) -> Response {
        let error = self.0;
        let (status, code, description) = match &error {
            RegisterError::Metadata(e) => (
                StatusCode::BAD_REQUEST,
                e.code(),
                e.description().to_owned(),
            ),
            RegisterError::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_client_metadata",
                error.to_string(),
            ),
            RegisterError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                "too many registration requests from this address; retry later".to_owned(),
            ),
            RegisterError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "registration needs a valid initial access token (Authorization: Bearer …)"
                    .to_owned(),
            ),
            RegisterError::Internal(source) => {
                tracing::error!(error = %source, "registration failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error; the server log has details under this request id".to_owned(),
                )
            }
        };
        if !status.is_server_error() {
            tracing::debug!(%error, "registration refused");
        }
        let body = json!({ "error": code, "error_description": description });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match error {
            RegisterError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(INVALID_TOKEN_CHALLENGE),
                );
            }
            RegisterError::RateLimited { retry_after } => {
                let seconds = retry_after
                    .as_secs()
                    .saturating_add(u64::from(retry_after.subsec_nanos() > 0));
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            RegisterError::Metadata(_)
            | RegisterError::TooLarge { .. }
            | RegisterError::Internal(_) => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer_token("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(bearer_token("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
