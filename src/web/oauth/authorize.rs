//! `GET/POST /oauth2/authorize` (CORE-3..17, SEC-9).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::oauth::authorize::{self, AuthorizeError};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::session::Session;
use crate::state::AppState;
use crate::web::pages::PageError;
use crate::web::pages::login::{continue_url, login_url};
use crate::web::responses::see_other;
use crate::web::session::CurrentSession;

/// GET: parameters in the query.
pub(crate) async fn get(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    handle(
        &state,
        session,
        query.unwrap_or_default().as_bytes(),
        &headers,
    )
    .await
}

/// POST: parameters in the form body (CORE-3 allows it).
pub(crate) async fn post(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, session, &body, &headers).await
}

async fn handle(
    state: &AppState,
    session: Option<Session>,
    raw: &[u8],
    headers: &HeaderMap,
) -> Response {
    let signed_in = session.as_ref().is_some_and(|s| s.user().is_some());
    let record = match authorize::validate(&state.oauth, raw).await {
        Ok(record) => record,
        Err(AuthorizeError::NoRedirect(error)) => return error_page(state, headers, &error),
        Err(AuthorizeError::Redirect { target, error }) => {
            // SEC-9: errors reach untrusted redirect URIs only after sign-in.
            if target.is_trusted || signed_in {
                return match authorize::error_redirect(&state.oauth, &target, &error) {
                    Ok(url) => see_other(&url),
                    Err(error) => error_page(state, headers, &error),
                };
            }
            match authorize::deferred_error(&state.oauth, &target, &error) {
                Ok(record) => record,
                Err(error) => return error_page(state, headers, &error),
            }
        }
    };
    if let Err(error) = state.store.insert_authorization_request(&record).await {
        return PageError::internal(&error).render(state, headers);
    }
    let next = if signed_in {
        continue_url(state, Some(&record.request_id))
    } else {
        login_url(state, &record.request_id)
    };
    see_other(&next)
}

/// CORE-15: a readable page, never a redirect.
fn error_page(state: &AppState, headers: &HeaderMap, error: &OAuthError) -> Response {
    if error.code == ErrorCode::ServerError {
        return PageError::internal(error).render(state, headers);
    }
    let message = match &error.description {
        Some(description) => format!("The application sent an invalid request: {description}."),
        None => "The application sent an invalid request.".to_owned(),
    };
    PageError::new(
        StatusCode::BAD_REQUEST,
        "This request cannot be completed",
        message,
    )
    .render(state, headers)
}
