//! `/admin/grants`: grants by user or client, revoked after a confirmation; and the
//! user page's sessions, ended after a confirmation.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console};
use super::{ConsoleChrome, encoded, timestamp};
use crate::admin::grants::{self as grant_admin, GrantQuery, GrantView};
use crate::domain::ids::UserId;

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

pub(super) async fn list(console: Console, Query(filter): Query<GrantFilter>) -> Response {
    let query = GrantQuery {
        user_id: Some(filter.user_id.trim().to_owned()),
        client_id: Some(filter.client_id.trim().to_owned()),
        limit: Some(50),
        after: filter.after.clone(),
    };
    let built = grant_admin::list(console.ctx(), query).await.map(|found| {
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
        GrantsPage {
            chrome: console.chrome("/admin/grants", filter.flash.as_deref()),
            user_id: filter.user_id,
            client_id: filter.client_id,
            grants,
            next,
        }
    });
    console.show(StatusCode::OK, built)
}

pub(super) async fn confirm_revoke(console: Console, Path(grant_id): Path<String>) -> Response {
    console.ask(
        "/admin/grants",
        Confirm {
            verb: "Revoke",
            what: "grant",
            name: grant_id.clone(),
            action: format!("/admin/grants/{}/revoke", encoded(&grant_id)),
            back: "/admin/grants".to_owned(),
        },
    )
}

pub(super) async fn revoke(
    console: Console,
    Path(grant_id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let revoked = grant_admin::revoke(console.ctx(), &console.actor(), &grant_id).await;
    console.finish(revoked, |grant| {
        format!(
            "/admin/grants?user_id={}&flash=grant-revoked",
            encoded(&grant.user_id)
        )
    })
}

pub(super) async fn confirm_end_session(
    console: Console,
    Path((user_id, session_id)): Path<(String, String)>,
) -> Response {
    console.ask(
        "/admin/users",
        Confirm {
            verb: "End",
            what: "session (sign that browser out)",
            name: session_id.clone(),
            action: format!(
                "/admin/users/{}/sessions/{}/end",
                encoded(&user_id),
                encoded(&session_id)
            ),
            back: format!("/admin/users/{}", encoded(&user_id)),
        },
    )
}

pub(super) async fn end_session(
    console: Console,
    Path((user_id, session_id)): Path<(String, String)>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let user = UserId::from_stored(user_id);
    let ended = grant_admin::end_session(console.ctx(), &console.actor(), &user, &session_id).await;
    console.finish(ended, |()| {
        format!(
            "/admin/users/{}?flash=session-ended",
            encoded(user.as_str())
        )
    })
}
