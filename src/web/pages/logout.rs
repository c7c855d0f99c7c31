//! `POST /logout`: ends the session (CSRF-checked, SEC-6).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::{PageChrome, PageError, PageForm, render};
use crate::state::AppState;
use crate::web::responses::see_other;
use crate::web::session::{CurrentSession, clear_cookie};

#[derive(Template)]
#[template(path = "pages/signed_out.html")]
struct SignedOutPage {
    chrome: PageChrome,
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub(crate) struct LogoutForm {
    csrf_token: String,
}

/// `GET /signed-out`: the page after signing out.
pub(crate) async fn signed_out(State(state): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &SignedOutPage {
            chrome: PageChrome::new(&state, String::new()),
        },
    )
}

/// Ends the session, clears the cookie and answers 303 (SEC-4).
pub(crate) async fn post(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    PageForm(form): PageForm<LogoutForm>,
) -> Response {
    let Some(session) = session.filter(|s| state.sessions.csrf_matches(s, &form.csrf_token)) else {
        return PageError::bad_form().render(&state, &headers);
    };
    if let Err(error) = state.sessions.sign_out(&session).await {
        return PageError::internal(&error).render(&state, &headers);
    }
    let mut response = see_other(&format!("{}/signed-out", state.settings.issuer.path()));
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie());
    response
}
