//! `/admin/registration`: the initial access tokens that open Dynamic Client
//! Registration (RFC 7591 section 3) when `dcr.mode` is `token`:
//! issue one (shown once), see how often each was used, revoke one.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console, ConsoleForm, ListParams};
use super::{ConsoleChrome, FieldError, encoded, optional, parse_lifetime, timestamp};
use crate::admin::AdminError;
use crate::admin::initial_access_tokens::{
    self as token_admin, InitialAccessTokenView, NewInitialAccessTokenBody,
};
use crate::config::DcrMode;

/// The console section (the client lists).
const SECTION: &str = "/admin/clients";

/// The form that issues a token.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    description: String,
    /// A duration (`7d`, `12h`); empty: 7 days.
    #[serde(default)]
    expires_in: String,
    /// A number; empty: no limit.
    #[serde(default)]
    max_registrations: String,
}

impl ConsoleForm for TokenForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl TokenForm {
    fn body(&self) -> Result<NewInitialAccessTokenBody, AdminError> {
        Ok(NewInitialAccessTokenBody {
            description: self.description.trim().to_owned(),
            expires_in: parse_lifetime("expires_in", &self.expires_in)?,
            max_registrations: optional(&self.max_registrations)
                .map(|raw| {
                    raw.parse::<i64>().map_err(|_| {
                        AdminError::invalid("max_registrations", "must be a whole number")
                    })
                })
                .transpose()?,
        })
    }
}

/// A token as a table row.
struct TokenRow {
    token: InitialAccessTokenView,
    created_at: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "console/registration.html")]
struct RegistrationPage {
    chrome: ConsoleChrome,
    q: String,
    tokens: Vec<TokenRow>,
    next: Option<String>,
    /// A token just issued, shown this once.
    revealed: Option<String>,
    /// `dcr.mode`: `token` (registration needs one of these), `open` or `off`.
    mode: &'static str,
    form: TokenForm,
    error: Option<FieldError>,
}

super::form_page!(RegistrationPage);

impl RegistrationPage {
    /// What the search box matches.
    fn search_label(&self) -> &'static str {
        "Description or id contains"
    }
}

async fn registration_page(
    console: &Console,
    params: ListParams,
    form: TokenForm,
    error: Option<FieldError>,
) -> Result<RegistrationPage, AdminError> {
    let found = token_admin::list(console.ctx(), params.query()).await?;
    let revealed = console.revealed().await?;
    let tokens = found
        .items
        .into_iter()
        .map(|token| TokenRow {
            created_at: timestamp(token.created_at),
            expires_at: timestamp(token.expires_at),
            token,
        })
        .collect();
    Ok(RegistrationPage {
        chrome: console.chrome(SECTION, params.flash.as_deref()),
        q: params.q,
        tokens,
        next: found.next_cursor,
        revealed,
        mode: match console.state.settings.raw.dcr.mode {
            DcrMode::Token => "token",
            DcrMode::Open => "open",
            DcrMode::Off => "off",
        },
        form,
        error,
    })
}

/// `GET /admin/registration`.
pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let built = registration_page(&console, params, TokenForm::default(), None).await;
    console.show(StatusCode::OK, built)
}

/// `POST /admin/registration`: issues a token, shown once on the page after the 303.
pub(super) async fn create(console: Console, Checked(form): Checked<TokenForm>) -> Response {
    let created = async {
        let view = token_admin::create(console.ctx(), &console.actor(), form.body()?).await?;
        console.reveal_once(view.token.as_ref()).await?;
        Ok(view)
    }
    .await;
    console
        .answer(
            created,
            |_| "/admin/registration?flash=token-issued".to_owned(),
            async |field| {
                registration_page(&console, ListParams::default(), form, Some(field)).await
            },
        )
        .await
}

/// `GET /admin/registration/{id}/revoke`.
pub(super) async fn confirm_revoke(console: Console, Path(id): Path<String>) -> Response {
    let found = token_admin::get(console.ctx(), &id).await;
    console.confirm(SECTION, found, |token| Confirm {
        verb: "Revoke",
        what: "initial access token",
        name: format!("{} ({})", token.description, token.id),
        action: format!("/admin/registration/{}/revoke", encoded(&token.id)),
        back: "/admin/registration".to_owned(),
    })
}

/// `POST /admin/registration/{id}/revoke`.
pub(super) async fn revoke(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let revoked = token_admin::revoke(console.ctx(), &console.actor(), &id).await;
    console.finish(revoked, |()| {
        "/admin/registration?flash=token-revoked".to_owned()
    })
}
