//! `GET /`: what this server is and where its documents are.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{PageChrome, render};
use crate::oauth::metadata::JWKS_PATH;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage<'a> {
    chrome: PageChrome,
    issuer: &'a str,
    metadata_url: String,
    jwks_url: String,
}

/// Renders the landing page.
pub(crate) async fn get(State(state): State<AppState>) -> Response {
    let issuer = &state.settings.issuer;
    let origin_end = issuer.as_str().len() - issuer.path().len();
    let origin = issuer.as_str().get(..origin_end).unwrap_or(issuer.as_str());
    let page = HomePage {
        chrome: PageChrome::new(&state, String::new()),
        issuer: issuer.as_str(),
        metadata_url: format!(
            "{origin}{}",
            issuer.well_known_path("oauth-authorization-server")
        ),
        jwks_url: issuer.endpoint(JWKS_PATH),
    };
    render(StatusCode::OK, &page)
}
