//! `GET /admin/audit`: the audit log, filtered by actor, kind and day, paged.

use std::collections::HashMap;

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::kit::Console;
use super::{ConsoleChrome, timestamp};
use crate::admin::AdminError;
use crate::admin::audit::{self as audit_log, AuditQuery, AuditView};
use crate::admin::users as user_admin;
use crate::domain::ids::UserId;
use crate::web::pages::render;

/// An event as a table row.
pub(super) struct EventRow {
    pub(super) time: String,
    /// The stored actor label (`user:usr_…`, `cli`, …), what the actor filter takes.
    pub(super) actor: String,
    /// Who that is, for a user: their username.
    pub(super) actor_name: Option<String>,
    pub(super) action: String,
    pub(super) target: String,
    /// One line about the detail: which members changed, or the detail itself when short.
    pub(super) summary: String,
    /// The whole detail, pretty-printed.
    pub(super) detail: String,
    pub(super) client_ip: String,
}

impl From<AuditView> for EventRow {
    fn from(event: AuditView) -> Self {
        Self {
            time: timestamp(event.occurred_at),
            actor: event.actor,
            actor_name: None,
            action: event.action,
            target: format!("{} {}", event.target_type, event.target_id),
            summary: summary(&event.detail),
            detail: serde_json::to_string_pretty(&event.detail).unwrap_or_default(),
            client_ip: event.client_ip.unwrap_or_default(),
        }
    }
}

/// How long a detail may be to be its own summary.
const SHORT: usize = 60;

/// One line about `detail`: for an admin change, what happened to which members; else
/// the detail itself, cut short.
fn summary(detail: &Value) -> String {
    let members = |side: &str| -> Vec<String> {
        detail
            .get(side)
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    match (
        detail.get("before").is_some(),
        detail.get("after").is_some(),
    ) {
        (true, true) => {
            let changed = members("after");
            if changed.is_empty() {
                "no member changed".to_owned()
            } else {
                format!("changed: {}", changed.join(", "))
            }
        }
        (false, true) => "created; its members…".to_owned(),
        (true, false) => "deleted; what it was…".to_owned(),
        (false, false) => {
            let text = detail.to_string();
            if text.chars().count() <= SHORT {
                text
            } else {
                let cut: String = text.chars().take(SHORT).collect();
                format!("{cut}…")
            }
        }
    }
}

/// `events` as table rows, users who acted named by their username (an account deleted
/// since keeps its id only).
pub(super) async fn rows(console: &Console, events: Vec<AuditView>) -> Vec<EventRow> {
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let mut row = EventRow::from(event);
        if let Some(user_id) = row.actor.strip_prefix("user:") {
            if !names.contains_key(user_id) {
                let id = UserId::from_stored(user_id.to_owned());
                let name = user_admin::get(console.ctx(), &id)
                    .await
                    .ok()
                    .map(|u| u.username);
                names.insert(user_id.to_owned(), name);
            }
            row.actor_name = names.get(user_id).cloned().flatten();
        }
        rows.push(row);
    }
    rows
}

/// The filter form (`since`/`until` as `YYYY-MM-DD`, whole UTC days).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditFilterForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: ConsoleChrome,
    filter: AuditFilterForm,
    events: Vec<EventRow>,
    older: Option<String>,
    error: Option<String>,
}

pub(super) async fn list(console: Console, Query(filter): Query<AuditFilterForm>) -> Response {
    let chrome = console.chrome("/admin/audit", None);
    let (since, until) = match (day(&filter.since), day(&filter.until)) {
        (Ok(since), Ok(until)) => (since, until.map(|d| d + 86_400)),
        _ => {
            let shown = AuditPage {
                chrome,
                filter,
                events: Vec::new(),
                older: None,
                error: Some("Dates are written YYYY-MM-DD.".to_owned()),
            };
            return render(StatusCode::BAD_REQUEST, &shown);
        }
    };
    let query = AuditQuery {
        actor: Some(filter.actor.trim().to_owned()),
        kind: Some(filter.kind.trim().to_owned()),
        since,
        until,
        limit: Some(50),
        after: filter.after.clone(),
    };
    match audit_log::list(console.ctx(), query).await {
        Ok(found) => {
            let older = found.next_cursor.map(|cursor| older_link(&filter, &cursor));
            let shown = AuditPage {
                chrome,
                events: rows(&console, found.items).await,
                filter,
                older,
                error: None,
            };
            render(StatusCode::OK, &shown)
        }
        Err(AdminError::Invalid { message, .. }) => {
            let shown = AuditPage {
                chrome,
                filter,
                events: Vec::new(),
                older: None,
                error: Some(message),
            };
            render(StatusCode::BAD_REQUEST, &shown)
        }
        Err(error) => console.failure(error),
    }
}

/// `YYYY-MM-DD` as the Unix time of that day's start (UTC); empty: no bound.
fn day(raw: &str) -> Result<Option<i64>, ()> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let time = humantime::parse_rfc3339(&format!("{raw}T00:00:00Z")).map_err(|_| ())?;
    let seconds = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ())?
        .as_secs();
    i64::try_from(seconds).map(Some).map_err(|_| ())
}

/// The link to the next (older) page with the same filter.
fn older_link(filter: &AuditFilterForm, cursor: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("actor", &filter.actor)
        .append_pair("kind", &filter.kind)
        .append_pair("since", &filter.since)
        .append_pair("until", &filter.until)
        .append_pair("after", cursor)
        .finish();
    format!("/admin/audit?{query}")
}

#[cfg(test)]
mod tests {
    use super::day;

    #[test]
    fn summaries_say_what_changed() {
        use serde_json::json;
        let update = json!({"before": {"name": "a"}, "after": {"name": "b"}});
        assert_eq!(super::summary(&update), "changed: name");
        assert_eq!(
            super::summary(&json!({"after": {"name": "b"}})),
            "created; its members…"
        );
        assert_eq!(super::summary(&json!({"reason": "x"})), r#"{"reason":"x"}"#);
        let long = json!({"reason": "x".repeat(200)});
        assert!(super::summary(&long).ends_with('…'));
    }

    #[test]
    fn days_are_utc_midnights() {
        assert_eq!(day(""), Ok(None));
        assert_eq!(day("2026-01-01"), Ok(Some(1_767_225_600)));
        assert!(day("01/01/2026").is_err());
    }
}
