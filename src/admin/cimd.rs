//! CIMD clients seen and the host rules (CIMD-28): list, approve, block; allow and deny
//! host patterns at run time.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Actor, AdminContext, AdminError, SearchQuery};
use crate::audit;
use crate::cimd::is_document_url;
use crate::config::HostPattern;
use crate::crypto::random_id;
use crate::domain::ids::ClientId;
use crate::storage::{CimdClientRecord, CimdHostRuleRecord};

/// A CIMD client as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CimdClientView {
    /// The document URL, which is the `client_id`.
    pub client_id: String,
    /// `client_name` from the last valid document.
    pub client_name: String,
    /// `valid`, or `failing` when the last refetch failed (see `last_error`).
    pub status: String,
    /// Why the last refetch failed.
    pub last_error: Option<String>,
    /// `approved`, `pending` (waiting for an administrator) or `disabled`.
    pub standing: String,
    /// Whether the client may be used at all.
    pub enabled: bool,
    /// First successful fetch (Unix seconds).
    pub first_seen_at: i64,
    /// Last successful fetch (Unix seconds).
    pub fetched_at: i64,
    /// Last fetch attempt (Unix seconds).
    pub last_checked_at: i64,
    /// When the cached document lapses (Unix seconds).
    pub cache_expires_at: i64,
    /// When and by whom it was approved.
    pub approved_at: Option<i64>,
    /// `policy` when approved automatically (`cimd.require_approval` off).
    pub approved_by: Option<String>,
    /// Hash of the security-relevant members (CIMD-23).
    pub fingerprint: String,
    /// The last valid document.
    #[schema(value_type = Object)]
    pub document: Value,
}

impl CimdClientView {
    fn of(record: CimdClientRecord, require_approval: bool) -> Self {
        let standing = if !record.is_enabled {
            "disabled"
        } else if require_approval && record.approved_at.is_none() {
            "pending"
        } else {
            "approved"
        };
        Self {
            document: serde_json::from_str(&record.document).unwrap_or(Value::Null),
            client_id: record.client_id,
            client_name: record.client_name,
            status: record.status,
            last_error: record.last_error,
            standing: standing.to_owned(),
            enabled: record.is_enabled,
            first_seen_at: record.first_seen_at,
            fetched_at: record.fetched_at,
            last_checked_at: record.last_checked_at,
            cache_expires_at: record.cache_expires_at,
            approved_at: record.approved_at,
            approved_by: record.approved_by,
            fingerprint: record.fingerprint,
        }
    }
}

/// A page of CIMD clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct CimdClientPage {
    /// Clients in `client_id` order.
    pub items: Vec<CimdClientView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `PATCH /admin/api/v1/cimd/clients/{client_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CimdClientPatchBody {
    /// Block (`false`) or unblock (`true`) the client.
    pub enabled: bool,
}

/// Body of `POST /admin/api/v1/cimd/host-rules`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHostRuleBody {
    /// `example.com` (that host) or `*.example.com` (any host below it).
    #[schema(example = "*.toolkit.example")]
    pub pattern: String,
    /// `allow` or `deny`. Deny always wins; once any allow rule exists (here or in
    /// `cimd.allow_hosts`), only allowed hosts are accepted.
    #[schema(example = "allow")]
    pub action: String,
    /// Why the rule exists.
    pub note: Option<String>,
}

/// A host rule as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostRuleView {
    /// Id, for deletion.
    pub rule_id: String,
    /// The pattern, lower-case.
    pub pattern: String,
    /// `allow` or `deny`.
    pub action: String,
    /// Why the rule exists.
    pub note: Option<String>,
    /// When added (Unix seconds).
    pub created_at: i64,
    /// `api` for rules added here, `config` for `cimd.allow_hosts` / `cimd.deny_hosts`
    /// (read-only).
    pub source: String,
}

impl From<CimdHostRuleRecord> for HostRuleView {
    fn from(rule: CimdHostRuleRecord) -> Self {
        Self {
            rule_id: rule.rule_id,
            pattern: rule.pattern,
            action: rule.action,
            note: rule.note,
            created_at: rule.created_at,
            source: "api".to_owned(),
        }
    }
}

/// Every host rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostRuleList {
    /// Rules from the configuration file first, then those added through the API.
    pub items: Vec<HostRuleView>,
}

fn cimd_id(raw: &str) -> Result<ClientId, AdminError> {
    if is_document_url(raw) {
        Ok(ClientId::from_stored(raw.to_owned()))
    } else {
        Err(AdminError::NotFound)
    }
}

/// Lists CIMD clients seen, a page at a time.
pub async fn list(ctx: &AdminContext, query: SearchQuery) -> Result<CimdClientPage, AdminError> {
    let (paging, search) = query.split();
    let page = ctx
        .store
        .list_cimd_clients(&ctx.page_request(paging)?, search.as_deref())
        .await?;
    let require = ctx.policy.cimd_require_approval;
    Ok(CimdClientPage {
        items: page
            .items
            .into_iter()
            .map(|r| CimdClientView::of(r, require))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// Reads one CIMD client.
pub async fn get(ctx: &AdminContext, raw_id: &str) -> Result<CimdClientView, AdminError> {
    let record = ctx
        .store
        .find_cimd_client(&cimd_id(raw_id)?)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(CimdClientView::of(record, ctx.policy.cimd_require_approval))
}

/// Approves a CIMD client waiting for an administrator.
pub async fn approve(
    ctx: &AdminContext,
    actor: &Actor,
    raw_id: &str,
) -> Result<CimdClientView, AdminError> {
    let id = cimd_id(raw_id)?;
    let event = audit::event(
        actor,
        "cimd.client_approved",
        "client",
        id.as_str(),
        json!({}),
    );
    ctx.store
        .approve_cimd_client(&id, &actor.label(), &event, ctx.clock.now())
        .await?;
    get(ctx, raw_id).await
}

/// Blocks or unblocks a CIMD client.
pub async fn set_enabled(
    ctx: &AdminContext,
    actor: &Actor,
    raw_id: &str,
    body: CimdClientPatchBody,
) -> Result<CimdClientView, AdminError> {
    let id = cimd_id(raw_id)?;
    let action = if body.enabled {
        "cimd.client_enabled"
    } else {
        "cimd.client_disabled"
    };
    let event = audit::event(actor, action, "client", id.as_str(), json!({}));
    ctx.store
        .set_cimd_client_enabled(&id, body.enabled, &event, ctx.clock.now())
        .await?;
    get(ctx, raw_id).await
}

/// The rules from configuration and from the API.
pub async fn list_host_rules(ctx: &AdminContext) -> Result<HostRuleList, AdminError> {
    let configured = |patterns: &[HostPattern], action: &str| {
        patterns
            .iter()
            .map(|p| HostRuleView {
                rule_id: format!("config:{action}:{p}"),
                pattern: p.to_string(),
                action: action.to_owned(),
                note: None,
                created_at: 0,
                source: "config".to_owned(),
            })
            .collect::<Vec<_>>()
    };
    let mut items = configured(&ctx.policy.cimd_allow_hosts, "allow");
    items.extend(configured(&ctx.policy.cimd_deny_hosts, "deny"));
    let stored = ctx.store.list_cimd_host_rules().await?;
    items.extend(stored.into_iter().map(HostRuleView::from));
    Ok(HostRuleList { items })
}

/// Adds a host rule; it applies from the next authorization request on.
pub async fn create_host_rule(
    ctx: &AdminContext,
    actor: &Actor,
    body: NewHostRuleBody,
) -> Result<HostRuleView, AdminError> {
    let pattern =
        HostPattern::parse(&body.pattern).map_err(|e| AdminError::invalid("pattern", e))?;
    if body.action != "allow" && body.action != "deny" {
        return Err(AdminError::invalid(
            "action",
            "must be \"allow\" or \"deny\"",
        ));
    }
    let note = body
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(AdminError::invalid(
            "note",
            "must be at most 500 characters",
        ));
    }
    let rule = CimdHostRuleRecord {
        rule_id: random_id("hrl_")?,
        pattern: pattern.to_string(),
        action: body.action,
        note,
        created_at: ctx.clock.now(),
    };
    let detail = json!({ "pattern": rule.pattern, "action": rule.action });
    let event = audit::event(
        actor,
        "cimd.host_rule_created",
        "cimd_host_rule",
        &rule.rule_id,
        detail,
    );
    ctx.store.insert_cimd_host_rule(&rule, &event).await?;
    Ok(rule.into())
}

/// Removes a host rule added through the API.
pub async fn delete_host_rule(
    ctx: &AdminContext,
    actor: &Actor,
    rule_id: &str,
) -> Result<(), AdminError> {
    let event = audit::event(
        actor,
        "cimd.host_rule_deleted",
        "cimd_host_rule",
        rule_id,
        json!({}),
    );
    ctx.store
        .delete_cimd_host_rule(rule_id, &event, ctx.clock.now())
        .await?;
    Ok(())
}
