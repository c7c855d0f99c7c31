//! Reading the audit log (the console's page and `GET /admin/api/v1/audit`): newest
//! first, filtered by actor, kind and time, a page at a time.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{AdminContext, AdminError};
use crate::storage::{AuditFilter, AuditRecord};

/// The kind that lists every security event ([`crate::audit::SECURITY_ACTIONS`]).
pub const SECURITY_KIND: &str = "security";

/// Filters and paging of the audit log.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Exactly this actor (`user:usr_…`, `admin-token:…`, `bootstrap-token`, `cli`,
    /// `config`, `system`, `client:…`).
    pub actor: Option<String>,
    /// An action (`user.created`), a kind of actions (`user`), or `security` (every
    /// security event: failed sign-ins, client authentication failures, rejections,
    /// token reuse and replay).
    pub kind: Option<String>,
    /// At or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Before this time (Unix seconds).
    pub until: Option<i64>,
    /// Items per page (default 50, at most `admin.max_page_size`).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Increasing id.
    pub event_id: i64,
    /// When (Unix seconds).
    pub occurred_at: i64,
    /// Who acted.
    pub actor: String,
    /// What happened, e.g. `server.created`.
    pub action: String,
    /// The kind of object.
    pub target_type: String,
    /// The object's id.
    pub target_id: String,
    /// Details (never secrets).
    #[schema(value_type = Object)]
    pub detail: Value,
    /// The client's address, when a request made the change.
    pub client_ip: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(record: AuditRecord) -> Self {
        Self {
            detail: serde_json::from_str(&record.detail).unwrap_or(Value::String(record.detail)),
            event_id: record.event_id,
            occurred_at: record.occurred_at,
            actor: record.actor,
            action: record.action,
            target_type: record.target_type,
            target_id: record.target_id,
            client_ip: record.client_ip,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditView>,
    /// Pass as `after` for the next (older) page.
    pub next_cursor: Option<String>,
}

/// A page of events matching `query`.
pub async fn list(ctx: &AdminContext, query: AuditQuery) -> Result<AuditPage, AdminError> {
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > ctx.policy.max_page_size {
        return Err(AdminError::invalid(
            "limit",
            format!("must be between 1 and {}", ctx.policy.max_page_size),
        ));
    }
    let before = match query.after.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| AdminError::invalid("after", "is not a cursor of this list"))?,
        ),
    };
    let kind = query.kind.filter(|k| !k.is_empty());
    if let Some(kind) = &kind {
        let allowed = |c: char| c.is_ascii_lowercase() || c == '.' || c == '_';
        if kind.len() > 64 || !kind.chars().all(allowed) {
            return Err(AdminError::invalid(
                "kind",
                "is an action like user.created or a kind like user",
            ));
        }
    }
    // `security` is the kind of every security event, whatever its action.
    let security_only = kind.as_deref() == Some(SECURITY_KIND);
    let filter = AuditFilter {
        actor: query.actor.filter(|a| !a.is_empty()),
        kind: kind.filter(|_| !security_only),
        since: query.since,
        until: query.until,
        security_only,
    };
    let mut rows = ctx
        .store
        .search_audit_events(&filter, before, limit.saturating_add(1))
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| r.event_id.to_string()))
        .flatten();
    Ok(AuditPage {
        items: rows.into_iter().map(AuditView::from).collect(),
        next_cursor,
    })
}
