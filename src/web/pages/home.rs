//! `GET /`: what this server is and where its documents are.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::oauth::metadata::JWKS_PATH;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage<'a> {
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
        issuer: issuer.as_str(),
        metadata_url: format!(
            "{origin}{}",
            issuer.well_known_path("oauth-authorization-server")
        ),
        jwks_url: issuer.endpoint(JWKS_PATH),
    };
    match page.render() {
        Ok(html) => {
            let html_type = HeaderValue::from_static("text/html; charset=utf-8");
            ([(header::CONTENT_TYPE, html_type)], html).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
