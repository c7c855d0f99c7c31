//! `/admin/keys`: signing keys with their states and schedule, and rotation.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;

use super::kit::{Checked, ConfirmForm, Console, ListParams};
use super::{ConsoleChrome, timestamp};
use crate::admin::keys::{self as key_admin, KeyView};
use crate::web::pages::render;

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

pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let state = &console.state;
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
        chrome: console.chrome("/admin/keys", params.flash.as_deref()),
        keys,
        publish_ahead: humantime::format_duration(policy.publish_ahead).to_string(),
        rotate_after: humantime::format_duration(policy.rotate_after).to_string(),
    };
    render(StatusCode::OK, &shown)
}

/// `POST /admin/keys/rotate`: a new key, published now, signing once caches have it.
pub(super) async fn rotate(console: Console, Checked(_): Checked<ConfirmForm>) -> Response {
    let state = &console.state;
    let rotated = key_admin::rotate(&state.keyring, &console.actor(), state.clock.now()).await;
    console.finish(rotated, |rotation| {
        let flash = if rotation.kid.is_some() {
            "key-rotated"
        } else {
            "key-pending"
        };
        format!("/admin/keys?flash={flash}")
    })
}
