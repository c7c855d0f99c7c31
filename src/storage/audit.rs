//! The audit log table: append-only, written in the same transaction as the change.

use sqlx::FromRow;

use super::{Store, StoreError, with_pool};
use crate::clock::UnixTime;

/// An event to append. Built by `crate::audit`; never carries secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who acted: `admin-token:<id>`, `bootstrap-token`, `cli`, `system`.
    pub actor: String,
    /// What happened, e.g. `server.created`.
    pub action: &'static str,
    /// The kind of object, e.g. `server`.
    pub target_type: &'static str,
    /// The object's id.
    pub target_id: String,
    /// Non-secret details as JSON.
    pub detail: serde_json::Value,
    /// Where the request came from, when a request made the change.
    pub client_ip: Option<String>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AuditRecord {
    /// Increasing id.
    pub event_id: i64,
    /// When it happened.
    pub occurred_at: i64,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Kind of object.
    pub target_type: String,
    /// Object id.
    pub target_id: String,
    /// JSON details.
    pub detail: String,
    /// Client address, if known.
    pub client_ip: Option<String>,
}

pub(super) const INSERT_AUDIT: &str = "\
INSERT INTO audit_events (occurred_at, actor, action, target_type, target_id, detail, client_ip) \
VALUES ($1, $2, $3, $4, $5, $6, $7)";

const LIST_AUDIT: &str = "\
SELECT event_id, occurred_at, actor, action, target_type, target_id, detail, client_ip \
  FROM audit_events WHERE event_id < $1 ORDER BY event_id DESC LIMIT $2";

/// `{security}` is replaced by the quoted [`crate::audit::SECURITY_ACTIONS`] (constants,
/// never input).
const SEARCH_AUDIT: &str = "\
SELECT event_id, occurred_at, actor, action, target_type, target_id, detail, client_ip \
  FROM audit_events \
 WHERE event_id < $1 \
   AND ($2 IS NULL OR actor = $2) \
   AND ($3 IS NULL OR action = $3 OR action LIKE $4 ESCAPE '\\') \
   AND ($5 IS NULL OR occurred_at >= $5) \
   AND ($6 IS NULL OR occurred_at < $6) \
   AND ($8 = FALSE OR action IN ({security})) \
 ORDER BY event_id DESC LIMIT $7";

/// [`SEARCH_AUDIT`] with the security actions filled in, built once.
static SEARCH_AUDIT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let quoted: Vec<String> = crate::audit::SECURITY_ACTIONS
        .iter()
        .map(|action| format!("'{action}'"))
        .collect();
    SEARCH_AUDIT.replace("{security}", &quoted.join(", "))
});

/// Which audit events to list; every member narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exactly this actor label (`user:usr_…`, `admin-token:…`, `cli`, `system`, …).
    pub actor: Option<String>,
    /// An action (`user.created`) or a kind of actions (`user`: every `user.*`).
    pub kind: Option<String>,
    /// At or after (Unix seconds).
    pub since: Option<i64>,
    /// Before (Unix seconds).
    pub until: Option<i64>,
    /// Only security events ([`crate::audit::SECURITY_ACTIONS`]).
    pub security_only: bool,
}

/// `kind` as a LIKE pattern for its actions: `user` → `user.%`, wildcards escaped.
fn kind_pattern(kind: &str) -> String {
    format!("{}.%", super::like_escaped(kind))
}

/// Appends `$event` at `$now` inside the open transaction `$tx`.
macro_rules! insert_audit {
    ($tx:ident, $event:expr, $now:expr) => {{
        let event: &$crate::storage::AuditEvent = $event;
        sqlx::query($crate::storage::audit::INSERT_AUDIT)
            .bind($now)
            .bind(&event.actor)
            .bind(event.action)
            .bind(event.target_type)
            .bind(&event.target_id)
            .bind(event.detail.to_string())
            .bind(&event.client_ip)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use insert_audit;

impl Store {
    /// Appends an event on its own (for actions with no other write, e.g. a failed sign-in).
    pub async fn insert_audit_event(
        &self,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        super::with_tx!(self, |tx| insert_audit!(tx, event, now));
        Ok(())
    }

    /// Runs `delete_sql` (one `$1` placeholder, the id) and records `event` in the same
    /// transaction; `NotFound` when no row matched, and then nothing is recorded.
    pub(super) async fn delete_audited(
        &self,
        delete_sql: &str,
        id: &str,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        super::with_tx!(self, |tx| {
            let deleted = sqlx::query(delete_sql).bind(id).execute(&mut *tx).await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(tx, event, now);
        });
        Ok(())
    }

    /// Deletes events that happened before `cutoff` (`admin.audit_retention`).
    pub async fn delete_audit_events_before(&self, cutoff: UnixTime) -> Result<u64, StoreError> {
        let removed = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM audit_events WHERE occurred_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(removed)
    }

    /// Newest events matching `filter` first, older than `before` (exclusive).
    pub async fn search_audit_events(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let pattern = filter.kind.as_deref().map(kind_pattern);
        let rows = with_pool!(self, |pool| {
            sqlx::query_as(SEARCH_AUDIT_SQL.as_str())
                .bind(before.unwrap_or(i64::MAX))
                .bind(&filter.actor)
                .bind(&filter.kind)
                .bind(&pattern)
                .bind(filter.since)
                .bind(filter.until)
                .bind(i64::from(limit))
                .bind(filter.security_only)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }

    /// Newest events first, older than `before` (exclusive; `None` = from the newest).
    pub async fn list_audit_events(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as(LIST_AUDIT)
                .bind(before.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }
}
