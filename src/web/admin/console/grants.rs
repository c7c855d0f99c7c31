//! `/admin/grants`: grants by user or client, revoked after a confirmation; and the
//! user page's sessions, ended after a confirmation.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::servers::ConfirmForm;
use super::{
    ConfirmPage, ConsoleAdmin, ConsoleChrome, actor, csrf_ok, encoded, page, read_failure,
    timestamp,
};
use crate::admin::grants::{self as grant_admin, GrantQuery, GrantView};
use crate::domain::ids::UserId;
use crate::state::AppState;
use crate::web::pages::{PageError, PageForm};
use crate::web::responses::see_other;

/// The filter (and paging) of the grants list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct GrantFilter {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    client_id: String,
    after: Option<String>,
    flash: Option<String>,
}

/// A grant as a table row.
struct GrantRow {
    grant: GrantView,
    created_at: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "console/grants.html")]
struct GrantsPage {
    chrome: ConsoleChrome,
    user_id: String,
    client_id: String,
    grants: Vec<GrantRow>,
    next: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(filter): Query<GrantFilter>,
    headers: HeaderMap,
) -> Response {
    let query = GrantQuery {
        user_id: Some(filter.user_id.trim().to_owned()),
        client_id: Some(filter.client_id.trim().to_owned()),
        limit: Some(50),
        after: filter.after.clone(),
    };
    match grant_admin::list(&state.admin, query).await {
        Ok(found) => {
            let next = found.next_cursor.map(|cursor| {
                format!(
                    "/admin/grants?user_id={}&client_id={}&after={}",
                    encoded(&filter.user_id),
                    encoded(&filter.client_id),
                    encoded(&cursor)
                )
            });
            let grants = found
                .items
                .into_iter()
                .map(|grant| GrantRow {
                    created_at: timestamp(grant.created_at),
                    expires_at: timestamp(grant.expires_at),
                    grant,
                })
                .collect();
            let shown = GrantsPage {
                chrome: ConsoleChrome::new(
                    &state,
                    &admin,
                    "/admin/grants",
                    filter.flash.as_deref(),
                ),
                user_id: filter.user_id,
                client_id: filter.client_id,
                grants,
                next,
            };
            page(StatusCode::OK, &shown)
        }
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn confirm_revoke(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(grant_id): Path<String>,
) -> Response {
    let confirm = ConfirmPage {
        chrome: ConsoleChrome::new(&state, &admin, "/admin/grants", None),
        verb: "Revoke",
        what: "grant".to_owned(),
        name: grant_id.clone(),
        action: format!("/admin/grants/{}/revoke", encoded(&grant_id)),
        back: "/admin/grants".to_owned(),
    };
    page(StatusCode::OK, &confirm)
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(grant_id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConfirmForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    match grant_admin::revoke(&state.admin, &actor(&admin), &grant_id).await {
        Ok(grant) => see_other(&format!(
            "/admin/grants?user_id={}&flash=grant-revoked",
            encoded(&grant.user_id)
        )),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn confirm_end_session(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((user_id, session_id)): Path<(String, String)>,
) -> Response {
    let confirm = ConfirmPage {
        chrome: ConsoleChrome::new(&state, &admin, "/admin/users", None),
        verb: "End",
        what: "session (sign that browser out)".to_owned(),
        name: session_id.clone(),
        action: format!(
            "/admin/users/{}/sessions/{}/end",
            encoded(&user_id),
            encoded(&session_id)
        ),
        back: format!("/admin/users/{}", encoded(&user_id)),
    };
    page(StatusCode::OK, &confirm)
}

pub(super) async fn end_session(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((user_id, session_id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConfirmForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let user = UserId::from_stored(user_id);
    match grant_admin::end_session(&state.admin, &actor(&admin), &user, &session_id).await {
        Ok(()) => see_other(&format!(
            "/admin/users/{}?flash=session-ended",
            encoded(user.as_str())
        )),
        Err(error) => read_failure(&state, &headers, error),
    }
}
