//! Grants (what a user allowed a client at one MCP server) and browser sessions, for
//! operators: listed by user or client, revoked or ended, each change audited.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{Actor, AdminContext, AdminError, ListQuery};
use crate::audit;
use crate::domain::ids::UserId;
use crate::storage::{GrantRecord, IdentityRecord, SessionRecord};

/// Which grants to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantQuery {
    /// Only this user's grants.
    pub user_id: Option<String>,
    /// Only this client's grants.
    pub client_id: Option<String>,
    /// Items per page (default 50, at most `admin.max_page_size`).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// A grant as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    /// Id (the prefix of its access tokens' `jti`).
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The MCP server.
    pub server_id: String,
    /// Granted scopes.
    pub scope: String,
    /// Created (Unix seconds).
    pub created_at: i64,
    /// Its refresh tokens end at the latest then.
    pub expires_at: i64,
    /// When revoked.
    pub revoked_at: Option<i64>,
    /// Neither revoked nor expired.
    pub active: bool,
}

/// A page of grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantPage {
    /// Grants in id order.
    pub items: Vec<GrantView>,
    /// Pass as `after` for the next page.
    pub next_cursor: Option<String>,
}

/// A live browser session of a user (never its cookie).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Names the session here: derived from the stored hash, useless as a cookie.
    pub session_id: String,
    /// Signed in at.
    pub auth_time: Option<i64>,
    /// Created.
    pub created_at: i64,
    /// Ends at.
    pub expires_at: i64,
    /// Last used in the admin console.
    pub last_seen_at: Option<i64>,
}

/// A user's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub items: Vec<SessionView>,
}

/// An external identity linked to a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    /// The IdP's or provider's issuer.
    pub issuer: String,
    /// Its tenant, if any.
    pub tenant: Option<String>,
    /// The subject there.
    pub subject: String,
    /// When linked.
    pub created_at: i64,
    /// Last used (hourly resolution).
    pub last_seen_at: i64,
}

/// A user's linked identities.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityList {
    /// In issuer order.
    pub items: Vec<IdentityView>,
}

fn grant_view(grant: GrantRecord, now: i64) -> GrantView {
    GrantView {
        active: grant.is_live(now),
        grant_id: grant.grant_id,
        client_id: grant.client_id,
        user_id: grant.user_id,
        server_id: grant.server_id,
        scope: grant.scope,
        created_at: grant.created_at,
        expires_at: grant.expires_at,
        revoked_at: grant.revoked_at,
    }
}

/// A page of grants matching `query`.
pub async fn list(ctx: &AdminContext, query: GrantQuery) -> Result<GrantPage, AdminError> {
    let page = ctx.page_request(ListQuery {
        limit: query.limit,
        after: query.after,
    })?;
    let non_empty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let user = non_empty(query.user_id);
    let client = non_empty(query.client_id);
    let found = ctx
        .store
        .list_grants(user.as_deref(), client.as_deref(), &page)
        .await?;
    let now = ctx.clock.now();
    Ok(GrantPage {
        items: found
            .items
            .into_iter()
            .map(|g| grant_view(g, now))
            .collect(),
        next_cursor: found.next_cursor,
    })
}

/// Revokes a grant: its refresh tokens stop working and its access tokens introspect
/// inactive. Revoking a revoked grant changes nothing.
pub async fn revoke(
    ctx: &AdminContext,
    actor: &Actor,
    grant_id: &str,
) -> Result<GrantView, AdminError> {
    let grant = ctx
        .store
        .find_grant(grant_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let now = ctx.clock.now();
    let detail = json!({ "client_id": grant.client_id, "user_id": grant.user_id });
    let event = audit::event(actor, "grant.revoked", "grant", grant_id, detail);
    ctx.store
        .revoke_grant_audited(grant_id, &event, now)
        .await?;
    let grant = ctx
        .store
        .find_grant(grant_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(grant_view(grant, now))
}

fn session_id(record: &SessionRecord) -> String {
    URL_SAFE_NO_PAD.encode(&record.session_hash)
}

/// The live sessions of a user.
pub async fn sessions(ctx: &AdminContext, user: &UserId) -> Result<SessionList, AdminError> {
    ctx.store
        .find_user(user)
        .await?
        .ok_or(AdminError::NotFound)?;
    let records = ctx
        .store
        .list_user_sessions(user.as_str(), ctx.clock.now())
        .await?;
    Ok(SessionList {
        items: records
            .iter()
            .map(|r| SessionView {
                session_id: session_id(r),
                auth_time: r.auth_time,
                created_at: r.created_at,
                expires_at: r.expires_at,
                last_seen_at: r.last_seen_at,
            })
            .collect(),
    })
}

/// Ends one session of a user (signs that browser out).
pub async fn end_session(
    ctx: &AdminContext,
    actor: &Actor,
    user: &UserId,
    session: &str,
) -> Result<(), AdminError> {
    let hash = URL_SAFE_NO_PAD
        .decode(session)
        .map_err(|_| AdminError::NotFound)?;
    let event = audit::event(actor, "session.ended", "user", user.as_str(), json!({}));
    ctx.store
        .end_user_session(user.as_str(), &hash, &event, ctx.clock.now())
        .await?;
    Ok(())
}

/// The external identities linked to a user (XAA-13, FED-4).
pub async fn identities(ctx: &AdminContext, user: &UserId) -> Result<IdentityList, AdminError> {
    ctx.store
        .find_user(user)
        .await?
        .ok_or(AdminError::NotFound)?;
    let records: Vec<IdentityRecord> = ctx.store.list_user_identities(user.as_str()).await?;
    Ok(IdentityList {
        items: records
            .into_iter()
            .map(|r| IdentityView {
                tenant: (!r.tenant.is_empty()).then_some(r.tenant),
                issuer: r.issuer,
                subject: r.subject,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
            })
            .collect(),
    })
}
