//! `POST /login/federated` and `GET /login/callback`: sign-in through an upstream
//! OpenID provider (FED-1..4). The protocol work is in `crate::federation`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::login::{continue_url, with_cookie};
use super::{PageError, PageForm};
use crate::federation::{Callback, FederationError};
use crate::state::AppState;
use crate::web::responses::see_other;
use crate::web::session::CurrentSession;

/// The provider button's form.
#[derive(Deserialize)]
pub(crate) struct FederatedForm {
    csrf_token: String,
    provider: String,
    request: Option<String>,
}

/// Starts a sign-in upstream: 303 to the provider's authorization endpoint.
pub(crate) async fn start(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    PageForm(form): PageForm<FederatedForm>,
) -> Response {
    let Some(session) = session.filter(|s| state.sessions.csrf_matches(s, &form.csrf_token)) else {
        return PageError::bad_form().render(&state, &headers); // SEC-6
    };
    match state
        .federation
        .begin(
            &form.provider,
            &session.record.session_hash,
            form.request.as_deref(),
        )
        .await
    {
        Ok(url) => see_other(&url),
        Err(error) => failure(&state, &headers, &error),
    }
}

/// The provider's answer: signs the session in as the linked account and continues
/// to the consent step of the pending request (FED-1: our own consent still applies).
pub(crate) async fn callback(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(session) = session else {
        return failure(&state, &headers, &FederationError::BadState);
    };
    match state
        .federation
        .complete(&callback, &session.record.session_hash)
        .await
    {
        Ok(signed_in) => match state
            .sessions
            .sign_in(Some(&session), &signed_in.user)
            .await
        {
            Ok(new_session) => {
                let target = continue_url(&state, signed_in.request_id.as_deref());
                with_cookie(see_other(&target), Some(&new_session), &state)
            }
            Err(error) => PageError::internal(&error).render(&state, &headers),
        },
        Err(error) => failure(&state, &headers, &error),
    }
}

fn failure(state: &AppState, headers: &HeaderMap, error: &FederationError) -> Response {
    match error {
        FederationError::Crypto(_) | FederationError::Store(_) => {
            PageError::internal(error).render(state, headers)
        }
        FederationError::Upstream(detail) | FederationError::Denied(detail) => {
            tracing::warn!(%detail, "upstream sign-in failed");
            PageError::new(StatusCode::BAD_GATEWAY, "Sign-in failed", error.to_string())
                .render(state, headers)
        }
        _ => PageError::new(StatusCode::BAD_REQUEST, "Sign-in failed", error.to_string())
            .render(state, headers),
    }
}
