//! The one shape every console handler has, written once: who is asking (the
//! [`Console`] extractor), a form whose CSRF token already matched the session's
//! ([`Checked`]), and what a change comes to (a 303 with a flash message, the form
//! shown again with the error next to its field, or an error page).
//!
//! A handler that takes a [`Checked`] form cannot run for a forged POST (SEC-6), and a
//! handler that takes a [`Console`] cannot run outside the admin guard: neither check
//! is left for each handler to remember.

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ConfirmPage, ConsoleAdmin, ConsoleChrome, FieldError};
use crate::admin::{Actor, AdminContext, AdminError, SearchQuery};
use crate::state::AppState;
use crate::web::pages::{PageError, render};
use crate::web::responses::see_other;

/// The request as every console handler sees it: the state, the signed-in
/// administrator the guard found, and the headers error pages are rendered for.
pub(super) struct Console {
    pub(super) state: AppState,
    pub(super) admin: ConsoleAdmin,
    headers: HeaderMap,
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<ConsoleAdmin>() {
            Some(admin) => Ok(Self {
                state: state.clone(),
                admin: admin.clone(),
                headers: parts.headers.clone(),
            }),
            // Only a route mounted outside the guard gets here: refuse, never serve.
            None => Err(forbidden(state, &parts.headers)),
        }
    }
}

fn forbidden(state: &AppState, headers: &HeaderMap) -> Response {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Administrators only",
        "Sign in with an administrator's account to use the console.",
    )
    .render(state, headers)
}

impl Console {
    /// The admin use-cases, shared with the JSON API.
    pub(super) fn ctx(&self) -> &AdminContext {
        &self.state.admin
    }

    /// The actor of a change made here: the signed-in administrator.
    pub(super) fn actor(&self) -> Actor {
        Actor::User {
            user_id: self.admin.user.id.as_str().to_owned(),
        }
    }

    /// The frame of a page in `section`, with the flash message of `flash`, if any.
    pub(super) fn chrome(&self, section: &'static str, flash: Option<&str>) -> ConsoleChrome {
        ConsoleChrome::new(&self.state, &self.admin, section, flash)
    }

    /// Renders the page `built` made with `status`, or the error that stopped it.
    pub(super) fn show(
        &self,
        status: StatusCode,
        built: Result<impl Template, AdminError>,
    ) -> Response {
        match built {
            Ok(shown) => render(status, &shown),
            Err(error) => self.failure(error),
        }
    }

    /// An admin error where no form can show it: a page with the reason.
    pub(super) fn failure(&self, error: AdminError) -> Response {
        match error {
            AdminError::Invalid { field, message } | AdminError::Conflict { field, message } => {
                PageError::new(
                    StatusCode::BAD_REQUEST,
                    "Not done",
                    format!("{field}: {message}"),
                )
                .render(&self.state, &self.headers)
            }
            AdminError::NotFound => self.not_found(),
            AdminError::Internal(source) => {
                PageError::internal(&source).render(&self.state, &self.headers)
            }
        }
    }

    /// The page for an object that does not exist (any more).
    pub(super) fn not_found(&self) -> Response {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such object; it may have been deleted.",
        )
        .render(&self.state, &self.headers)
    }

    /// Keeps a secret just made (a client secret, a registration token) for the next
    /// page of this session, which shows it once; never put in a URL.
    pub(super) async fn reveal_once(&self, secret: Option<&String>) -> Result<(), AdminError> {
        if let Some(secret) = secret {
            self.state
                .sessions
                .keep_reveal(&self.admin.session, secret)
                .await
                .map_err(|e| AdminError::Internal(Box::new(e)))?;
        }
        Ok(())
    }

    /// The secret kept by [`Console::reveal_once`], taken (a reload shows it no more).
    pub(super) async fn revealed(&self) -> Result<Option<String>, AdminError> {
        self.state
            .sessions
            .take_reveal(&self.admin.session)
            .await
            .map_err(|e| AdminError::Internal(Box::new(e)))
    }

    /// What a form's change comes to: done, a 303 to `to(value)`; the input was
    /// refused, the form shown `again` with the error next to its field (422);
    /// anything else, an error page.
    pub(super) async fn answer<T, P: Template>(
        &self,
        result: Result<T, AdminError>,
        to: impl FnOnce(T) -> String,
        again: impl AsyncFnOnce(FieldError) -> Result<P, AdminError>,
    ) -> Response {
        match result {
            Ok(value) => see_other(&to(value)),
            Err(
                AdminError::Invalid { field, message } | AdminError::Conflict { field, message },
            ) => {
                let shown = again(FieldError { field, message }).await;
                self.show(StatusCode::UNPROCESSABLE_ENTITY, shown)
            }
            Err(error) => self.failure(error),
        }
    }

    /// What a confirmed action comes to: a 303 to `to(value)`, or an error page.
    pub(super) fn finish<T>(
        &self,
        result: Result<T, AdminError>,
        to: impl FnOnce(T) -> String,
    ) -> Response {
        match result {
            Ok(value) => see_other(&to(value)),
            Err(error) => self.failure(error),
        }
    }

    /// "Are you sure?" before a destructive action on the object `found` (or the
    /// error that lookup met), asked as `ask` says.
    pub(super) fn confirm<T>(
        &self,
        section: &'static str,
        found: Result<T, AdminError>,
        ask: impl FnOnce(T) -> Confirm,
    ) -> Response {
        let confirm = match found {
            Ok(object) => ask(object),
            Err(error) => return self.failure(error),
        };
        render(
            StatusCode::OK,
            &ConfirmPage {
                chrome: self.chrome(section, None),
                verb: confirm.verb,
                what: confirm.what,
                name: confirm.name,
                action: confirm.action,
                back: confirm.back,
            },
        )
    }
}

impl Console {
    /// "Are you sure?" before an action on an object named only by the URL.
    pub(super) fn ask(&self, section: &'static str, confirm: Confirm) -> Response {
        self.confirm(section, Ok::<(), AdminError>(()), |()| confirm)
    }
}

/// What a confirmation page asks.
pub(super) struct Confirm {
    /// The action, as the title and button say it ("Delete", "Revoke", "End").
    pub(super) verb: &'static str,
    /// What kind of object.
    pub(super) what: &'static str,
    /// Which one.
    pub(super) name: String,
    /// Where the confirmation posts.
    pub(super) action: String,
    /// Where Cancel leads.
    pub(super) back: String,
}

/// A console form: it carries the session's CSRF token, and reads itself from the
/// urlencoded body (a form with repeated keys reads its own way).
pub(super) trait ConsoleForm: DeserializeOwned {
    /// The token the form carried.
    fn csrf_token(&self) -> &str;

    /// The form from its body; `None` when it is not this form.
    fn parse(body: &[u8]) -> Option<Self> {
        serde_urlencoded::from_bytes(body).ok()
    }
}

/// A console form whose CSRF token is the session's (SEC-6). A malformed form, or a
/// missing or foreign token, is answered with the 403 page before the handler runs.
pub(super) struct Checked<T>(pub(super) T);

impl<T: ConsoleForm> FromRequest<AppState> for Checked<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let Some(admin) = request.extensions().get::<ConsoleAdmin>().cloned() else {
            return Err(forbidden(state, &headers));
        };
        let refused = || PageError::bad_form().render(state, &headers);
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| refused())?;
        match T::parse(&body) {
            Some(form)
                if state
                    .sessions
                    .csrf_matches(&admin.session, form.csrf_token()) =>
            {
                Ok(Self(form))
            }
            _ => Err(refused()),
        }
    }
}

/// The form of a confirmation page and of one-button actions: only the token.
#[derive(Debug, Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    csrf_token: String,
}

impl ConsoleForm for ConfirmForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// How many items a console list shows a page.
const PAGE_SIZE: u32 = 50;

/// Paging, search and the flash of a list page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    /// The cursor of the page to show.
    pub(super) after: Option<String>,
    /// The flash code after a 303.
    pub(super) flash: Option<String>,
    /// The search text; empty: everything.
    #[serde(default)]
    pub(super) q: String,
}

impl ListParams {
    /// The admin query for the page these parameters ask for.
    pub(super) fn query(&self) -> SearchQuery {
        SearchQuery {
            limit: Some(PAGE_SIZE),
            after: self.after.clone(),
            q: Some(self.q.clone()),
        }
    }
}
