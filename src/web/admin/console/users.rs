//! `/admin/users`: local accounts (create, disable, reset a password, the admin role,
//! the recorded email that verified-email linking matches).

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console, ConsoleForm, ListParams};
use super::{ConsoleChrome, FieldError, timestamp};
use crate::admin::users::{self as user_admin, NewUserBody, UserPatchBody, UserView};
use crate::admin::{AdminError, grants};
use crate::domain::ids::UserId;

const SECTION: &str = "/admin/users";

/// The user form (create and edit share it; the password is optional on edit).
#[derive(Default, Deserialize)]
pub(super) struct UserForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    email: String,
    enabled: Option<String>,
    admin: Option<String>,
}

impl ConsoleForm for UserForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl UserForm {
    fn from_view(view: &UserView) -> Self {
        Self {
            username: view.username.clone(),
            email: view.email.clone().unwrap_or_default(),
            enabled: view.enabled.then(|| "on".to_owned()),
            admin: view.admin.then(|| "on".to_owned()),
            ..Self::default()
        }
    }

    fn email(&self) -> Option<String> {
        let email = self.email.trim();
        (!email.is_empty()).then(|| email.to_owned())
    }
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    chrome: ConsoleChrome,
    users: Vec<UserView>,
    next: Option<String>,
    q: String,
    form: UserForm,
    error: Option<FieldError>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    chrome: ConsoleChrome,
    user: UserView,
    form: UserForm,
    error: Option<FieldError>,
    sessions: Vec<SessionRow>,
    identities: Vec<IdentityRow>,
}

/// A live session as a table row.
struct SessionRow {
    session_id: String,
    signed_in: String,
    expires: String,
}

/// A linked identity as a table row.
struct IdentityRow {
    issuer: String,
    tenant: String,
    subject: String,
    linked: String,
}

/// The user's sessions and linked identities, for their page.
async fn extras(
    console: &Console,
    id: &UserId,
) -> Result<(Vec<SessionRow>, Vec<IdentityRow>), AdminError> {
    let sessions = grants::sessions(console.ctx(), id)
        .await?
        .items
        .into_iter()
        .map(|s| SessionRow {
            signed_in: s.auth_time.map(timestamp).unwrap_or_default(),
            expires: timestamp(s.expires_at),
            session_id: s.session_id,
        })
        .collect();
    let identities = grants::identities(console.ctx(), id)
        .await?
        .items
        .into_iter()
        .map(|i| IdentityRow {
            linked: timestamp(i.created_at),
            issuer: i.issuer,
            tenant: i.tenant.unwrap_or_default(),
            subject: i.subject,
        })
        .collect();
    Ok((sessions, identities))
}

super::form_page!(UsersPage, true);
super::form_page!(UserPage, false);

impl UsersPage {
    /// What the search box matches.
    fn search_label(&self) -> &'static str {
        "Username or email contains"
    }

    /// A creation time for the table.
    fn created(&self, at: &i64) -> String {
        super::timestamp(*at)
    }
}

impl UserPage {
    /// The creation time.
    fn created(&self, at: &i64) -> String {
        super::timestamp(*at)
    }
}

async fn users_page(
    console: &Console,
    params: ListParams,
    form: UserForm,
    error: Option<FieldError>,
) -> Result<UsersPage, AdminError> {
    let found = user_admin::list(console.ctx(), params.query()).await?;
    Ok(UsersPage {
        chrome: console.chrome(SECTION, params.flash.as_deref()),
        users: found.items,
        next: found.next_cursor,
        q: params.q,
        form,
        error,
    })
}

pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let form = UserForm {
        enabled: Some("on".to_owned()),
        ..UserForm::default()
    };
    let built = users_page(&console, params, form, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn create(console: Console, Checked(mut form): Checked<UserForm>) -> Response {
    let body = NewUserBody {
        username: form.username.trim().to_owned(),
        password: SecretString::from(std::mem::take(&mut form.password)),
        email: form.email(),
        enabled: Some(form.enabled.is_some()),
        admin: Some(form.admin.is_some()),
    };
    let created = user_admin::create(console.ctx(), &console.actor(), body).await;
    console
        .answer(
            created,
            |view| format!("{SECTION}/{}?flash=user-created", view.user_id),
            async |field| users_page(&console, ListParams::default(), form, Some(field)).await,
        )
        .await
}

async fn user_page(
    console: &Console,
    id: &UserId,
    flash: Option<&str>,
    form: Option<UserForm>,
    error: Option<FieldError>,
) -> Result<UserPage, AdminError> {
    let user = user_admin::get(console.ctx(), id).await?;
    let (sessions, identities) = extras(console, id).await?;
    Ok(UserPage {
        chrome: console.chrome(SECTION, flash),
        form: form.unwrap_or_else(|| UserForm::from_view(&user)),
        user,
        error,
        sessions,
        identities,
    })
}

pub(super) async fn show(
    console: Console,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let id = UserId::from_stored(id);
    let built = user_page(&console, &id, params.flash.as_deref(), None, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn update(
    console: Console,
    Path(id): Path<String>,
    Checked(mut form): Checked<UserForm>,
) -> Response {
    let id = UserId::from_stored(id);
    let updated = if id == console.admin.user.id && (form.admin.is_none() || form.enabled.is_none())
    {
        // Nobody locks themselves out of the console by accident.
        Err(AdminError::invalid(
            "admin",
            "you cannot disable your own account or remove your own admin role here",
        ))
    } else {
        let password = std::mem::take(&mut form.password);
        let patch = UserPatchBody {
            username: Some(form.username.trim().to_owned()),
            password: (!password.is_empty()).then(|| SecretString::from(password)),
            email: Some(form.email()),
            enabled: Some(form.enabled.is_some()),
            admin: Some(form.admin.is_some()),
        };
        user_admin::update(console.ctx(), &console.actor(), &id, patch).await
    };
    console
        .answer(
            updated,
            |view| format!("{SECTION}/{}?flash=user-updated", view.user_id),
            async |field| user_page(&console, &id, None, Some(form), Some(field)).await,
        )
        .await
}

pub(super) async fn confirm_delete(console: Console, Path(id): Path<String>) -> Response {
    let found = user_admin::get(console.ctx(), &UserId::from_stored(id)).await;
    console.confirm(SECTION, found, |user| Confirm {
        verb: "Delete",
        what: "user",
        name: format!(
            "{} ({}), with their grants and sessions",
            user.username, user.user_id
        ),
        action: format!("{SECTION}/{}/delete", user.user_id),
        back: format!("{SECTION}/{}", user.user_id),
    })
}

pub(super) async fn delete(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let id = UserId::from_stored(id);
    let deleted = if id == console.admin.user.id {
        Err(AdminError::invalid(
            "user_id",
            "you cannot delete your own account here",
        ))
    } else {
        user_admin::delete(console.ctx(), &console.actor(), &id).await
    };
    console.finish(deleted, |()| format!("{SECTION}?flash=user-deleted"))
}
