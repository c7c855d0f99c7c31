//! `/admin/users`: local accounts (create, disable, reset a password, the admin role,
//! the recorded email that verified-email linking matches).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;

use super::servers::ConfirmForm;
use super::{
    ConfirmPage, ConsoleAdmin, ConsoleChrome, FieldError, FlashQuery, FormFailure, actor, csrf_ok,
    form_failure, page, read_failure, timestamp,
};
use crate::admin::users::{self as user_admin, NewUserBody, UserPatchBody, UserQuery, UserView};
use crate::admin::{AdminError, grants};
use crate::domain::ids::UserId;
use crate::state::AppState;
use crate::web::pages::{PageError, PageForm};
use crate::web::responses::see_other;

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
    state: &AppState,
    id: &UserId,
) -> Result<(Vec<SessionRow>, Vec<IdentityRow>), AdminError> {
    let sessions = grants::sessions(&state.admin, id)
        .await?
        .items
        .into_iter()
        .map(|s| SessionRow {
            signed_in: s.auth_time.map(timestamp).unwrap_or_default(),
            expires: timestamp(s.expires_at),
            session_id: s.session_id,
        })
        .collect();
    let identities = grants::identities(&state.admin, id)
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

/// Paging, search and the flash of the users list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct UserListParams {
    after: Option<String>,
    flash: Option<String>,
    #[serde(default)]
    q: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(params): Query<UserListParams>,
    headers: HeaderMap,
) -> Response {
    let query = UserQuery {
        limit: Some(50),
        after: params.after,
        q: Some(params.q.clone()),
    };
    match user_admin::list(&state.admin, query).await {
        Ok(found) => page(
            StatusCode::OK,
            &UsersPage {
                chrome: ConsoleChrome::new(&state, &admin, "/admin/users", params.flash.as_deref()),
                users: found.items,
                next: found.next_cursor,
                q: params.q,
                form: UserForm {
                    enabled: Some("on".to_owned()),
                    ..UserForm::default()
                },
                error: None,
            },
        ),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    headers: HeaderMap,
    PageForm(mut form): PageForm<UserForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let body = NewUserBody {
        username: form.username.trim().to_owned(),
        password: SecretString::from(std::mem::take(&mut form.password)),
        email: form.email(),
        enabled: Some(form.enabled.is_some()),
        admin: Some(form.admin.is_some()),
    };
    match user_admin::create(&state.admin, &actor(&admin), body).await {
        Ok(view) => see_other(&format!("/admin/users/{}?flash=user-created", view.user_id)),
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => {
                let users = user_admin::list(&state.admin, UserQuery::default())
                    .await
                    .map(|p| p.items)
                    .unwrap_or_default();
                page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &UsersPage {
                        chrome: ConsoleChrome::new(&state, &admin, "/admin/users", None),
                        users,
                        next: None,
                        q: String::new(),
                        form,
                        error: Some(field),
                    },
                )
            }
        },
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Query(flash): Query<FlashQuery>,
    headers: HeaderMap,
) -> Response {
    let id = UserId::from_stored(id);
    let found = async {
        let user = user_admin::get(&state.admin, &id).await?;
        let (sessions, identities) = extras(&state, &id).await?;
        Ok::<_, AdminError>((user, sessions, identities))
    }
    .await;
    match found {
        Ok((user, sessions, identities)) => page(
            StatusCode::OK,
            &UserPage {
                chrome: ConsoleChrome::new(&state, &admin, "/admin/users", flash.flash.as_deref()),
                form: UserForm::from_view(&user),
                user,
                error: None,
                sessions,
                identities,
            },
        ),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn update(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(mut form): PageForm<UserForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let id = UserId::from_stored(id);
    let is_self = id == admin.user.id;
    if is_self && (form.admin.is_none() || form.enabled.is_none()) {
        // Nobody locks themselves out of the console by accident.
        let field = FieldError {
            field: "admin".to_owned(),
            message: "you cannot disable your own account or remove your own admin role here"
                .to_owned(),
        };
        return shown_again(&state, &admin, &headers, &id, form, field).await;
    }
    let password = std::mem::take(&mut form.password);
    let patch = UserPatchBody {
        username: Some(form.username.trim().to_owned()),
        password: (!password.is_empty()).then(|| SecretString::from(password)),
        email: Some(form.email()),
        enabled: Some(form.enabled.is_some()),
        admin: Some(form.admin.is_some()),
    };
    match user_admin::update(&state.admin, &actor(&admin), &id, patch).await {
        Ok(view) => see_other(&format!("/admin/users/{}?flash=user-updated", view.user_id)),
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => {
                shown_again(&state, &admin, &headers, &id, form, field).await
            }
        },
    }
}

async fn shown_again(
    state: &AppState,
    admin: &ConsoleAdmin,
    headers: &HeaderMap,
    id: &UserId,
    form: UserForm,
    error: FieldError,
) -> Response {
    let found = async {
        let user = user_admin::get(&state.admin, id).await?;
        let (sessions, identities) = extras(state, id).await?;
        Ok::<_, AdminError>((user, sessions, identities))
    }
    .await;
    match found {
        Ok((user, sessions, identities)) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &UserPage {
                chrome: ConsoleChrome::new(state, admin, "/admin/users", None),
                user,
                form,
                error: Some(error),
                sessions,
                identities,
            },
        ),
        Err(error) => read_failure(state, headers, error),
    }
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match user_admin::get(&state.admin, &UserId::from_stored(id)).await {
        Ok(user) => page(
            StatusCode::OK,
            &ConfirmPage {
                chrome: ConsoleChrome::new(&state, &admin, "/admin/users", None),
                verb: "Delete",
                what: "user".to_owned(),
                name: format!(
                    "{} ({}), with their grants and sessions",
                    user.username, user.user_id
                ),
                action: format!("/admin/users/{}/delete", user.user_id),
                back: format!("/admin/users/{}", user.user_id),
            },
        ),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConfirmForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let id = UserId::from_stored(id);
    if id == admin.user.id {
        return PageError::new(
            StatusCode::BAD_REQUEST,
            "Not deleted",
            "You cannot delete your own account here.",
        )
        .render(&state, &headers);
    }
    match user_admin::delete(&state.admin, &actor(&admin), &id).await {
        Ok(()) => see_other("/admin/users?flash=user-deleted"),
        Err(error) => read_failure(&state, &headers, error),
    }
}
