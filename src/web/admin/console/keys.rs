//! `/admin/keys`: signing keys with their states and schedule, and rotation.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{
    ConsoleAdmin, ConsoleChrome, FlashQuery, actor, csrf_ok, page, read_failure, timestamp,
};
use crate::admin::keys::{self as key_admin, KeyView};
use crate::state::AppState;
use crate::web::pages::{PageError, PageForm};
use crate::web::responses::see_other;

/// A key as a table row.
struct KeyRow {
    key: KeyView,
    publish_at: String,
    activate_at: String,
    retire_at: String,
    expire_at: String,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    chrome: ConsoleChrome,
    keys: Vec<KeyRow>,
    publish_ahead: String,
    rotate_after: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(flash): Query<FlashQuery>,
) -> Response {
    let optional = |at: Option<i64>| at.map(timestamp).unwrap_or_default();
    let keys = key_admin::list(&state.keyring, state.clock.now())
        .items
        .into_iter()
        .map(|key| KeyRow {
            publish_at: timestamp(key.publish_at),
            activate_at: timestamp(key.activate_at),
            retire_at: optional(key.retire_at),
            expire_at: optional(key.expire_at),
            key,
        })
        .collect();
    let policy = &state.settings.raw.keys;
    let shown = KeysPage {
        chrome: ConsoleChrome::new(&state, &admin, "/admin/keys", flash.flash.as_deref()),
        keys,
        publish_ahead: humantime::format_duration(policy.publish_ahead).to_string(),
        rotate_after: humantime::format_duration(policy.rotate_after).to_string(),
    };
    page(StatusCode::OK, &shown)
}

/// The rotation form: only its CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct RotateForm {
    #[serde(default)]
    csrf_token: String,
}

pub(super) async fn rotate(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    headers: HeaderMap,
    PageForm(form): PageForm<RotateForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    match key_admin::rotate(&state.keyring, &actor(&admin), state.clock.now()).await {
        Ok(rotation) if rotation.kid.is_some() => see_other("/admin/keys?flash=key-rotated"),
        Ok(_) => see_other("/admin/keys?flash=key-pending"),
        Err(error) => read_failure(&state, &headers, error),
    }
}
