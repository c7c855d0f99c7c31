//! `POST /oauth2/token`, `/oauth2/introspect`, `/oauth2/revoke` (CORE-6..8, INTRO, REVOKE).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{authorization, require_form};
use crate::domain::client::ClientType;
use crate::oauth::client_auth::{self, ClientCredentials};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::OAuthParams;
use crate::oauth::{grants, introspect, revoke};
use crate::state::AppState;
use crate::web::responses::{OAuthErrorResponse, no_store_json};

/// `POST /oauth2/token` (RFC 6749 section 3.2).
pub(crate) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthErrorResponse> {
    let ctx = &state.oauth;
    require_form(&headers)?;
    let params = OAuthParams::parse(&body, grants::PARAMS)?;
    let credentials = ClientCredentials::from_parts(authorization(&headers), &params);
    let client = client_auth::authenticate(ctx, &credentials).await?;
    let response = grants::exchange(ctx, &client, &params).await?;
    Ok(no_store_json(&response))
}

/// `POST /oauth2/introspect` (RFC 7662): confidential callers only (INTRO-1).
pub(crate) async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthErrorResponse> {
    let ctx = &state.oauth;
    require_form(&headers)?;
    let params = OAuthParams::parse(&body, introspect::PARAMS)?;
    let credentials = ClientCredentials::from_parts(authorization(&headers), &params);
    let caller = client_auth::authenticate(ctx, &credentials)
        .await
        .map_err(as_unauthorized)?;
    if caller.client_type() != ClientType::Confidential {
        return Err(as_unauthorized(OAuthError::with_description(
            ErrorCode::InvalidClient,
            "introspection needs client authentication",
        ))
        .into());
    }
    let answer = introspect::introspect(ctx, &caller, &params).await?;
    Ok(no_store_json(&answer))
}

/// `POST /oauth2/revoke` (RFC 7009): 200 for revoked and unknown tokens alike.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthErrorResponse> {
    let ctx = &state.oauth;
    require_form(&headers)?;
    let params = OAuthParams::parse(&body, revoke::PARAMS)?;
    let credentials = ClientCredentials::from_parts(authorization(&headers), &params);
    let caller = client_auth::authenticate(ctx, &credentials).await?;
    revoke::revoke(ctx, &caller, &params).await?;
    Ok(StatusCode::OK.into_response())
}

/// INTRO-1: failed authentication at introspection is always a 401.
fn as_unauthorized(error: OAuthError) -> OAuthError {
    if error.code == ErrorCode::InvalidClient && error.challenge.is_none() {
        error.with_challenge(client_auth::BASIC_CHALLENGE)
    } else {
        error
    }
}
