//! Server-rendered HTML pages (askama templates in `templates/`): sign-in, consent,
//! sign-out and errors. Every page is framed by the global strict headers (SEC-5, SEC-7);
//! every form carries a session-bound CSRF token (SEC-6); a successful POST answers 303.

pub(super) mod consent;
pub(super) mod federation;
pub(super) mod home;
pub(super) mod login;
pub(super) mod logout;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::layers::REQUEST_ID;
use crate::state::AppState;

/// What every page's frame needs.
pub(crate) struct PageChrome {
    /// Path prefix of our own URLs (the issuer's path).
    pub(crate) static_base: String,
    /// The CSRF token for forms on this page.
    pub(crate) csrf_token: String,
}

impl PageChrome {
    pub(crate) fn new(state: &AppState, csrf_token: String) -> Self {
        Self {
            static_base: state.settings.issuer.path().to_owned(),
            csrf_token,
        }
    }
}

/// Renders `page` with `status` as HTML.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let html_type = HeaderValue::from_static("text/html; charset=utf-8");
            (status, [(header::CONTENT_TYPE, html_type)], html).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    chrome: PageChrome,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// An error shown as a page (CORE-15), with the request id for support.
pub(crate) struct PageError {
    pub(crate) status: StatusCode,
    pub(crate) title: &'static str,
    pub(crate) message: String,
}

impl PageError {
    pub(crate) fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }

    pub(crate) fn internal(source: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %source, "page failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete this request. Please try again.",
        )
    }

    pub(crate) fn expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "This request has expired",
            "This sign-in request has expired or was already answered. Go back to the application and start again.",
        )
    }

    pub(crate) fn bad_form() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Please try again",
            "The form was out of date or incomplete. Go back to the application and start again.",
        )
    }

    /// Renders the page for `state`, naming the request id from `headers`.
    pub(crate) fn render(&self, state: &AppState, headers: &HeaderMap) -> Response {
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let page = ErrorPage {
            chrome: PageChrome::new(state, String::new()),
            title: self.title,
            message: &self.message,
            request_id,
        };
        render(self.status, &page)
    }
}

/// A submitted page form. A malformed or incomplete form is answered like a wrong
/// CSRF token: the 403 page (SEC-6), never a bare 422.
pub(crate) struct PageForm<T>(pub(crate) T);

impl<T> axum::extract::FromRequest<AppState> for PageForm<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Response> {
        let headers = request.headers().clone();
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(form)) => Ok(Self(form)),
            Err(_) => Err(PageError::bad_form().render(state, &headers)),
        }
    }
}

/// Lets `response`'s form answer with a redirect to `redirect_uri` (see
/// [`super::layers::csp_allowing_redirect_to`]).
pub(crate) fn allow_redirect_to(mut response: Response, redirect_uri: Option<&str>) -> Response {
    if let Some(csp) = redirect_uri.and_then(super::layers::csp_allowing_redirect_to) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Like [`allow_redirect_to`], for several possible form targets (the client's redirect
/// URI and upstream providers' authorization endpoints).
pub(crate) fn allow_form_targets(mut response: Response, targets: &[&str]) -> Response {
    if targets.is_empty() {
        return response;
    }
    if let Some(csp) = super::layers::csp_allowing_form_targets(targets) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// The stylesheet, compiled in and served by us (no third-party assets, SEC-7).
pub(super) async fn stylesheet() -> Response {
    const CSS: &str = include_str!("../../../templates/static/mcp-authz.css");
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        ),
    ];
    (headers, CSS).into_response()
}
