//! Admin-API bearer tokens: the configured bootstrap token, or tokens made with
//! `mcp-authz admin create-token` (256-bit, stored as keyed hashes, SEC-13).

use secrecy::ExposeSecret as _;
use serde_json::json;

use super::{Actor, AdminContext, AdminError};
use crate::audit;
use crate::crypto::{constant_time_eq, random_token};
use crate::domain::ids::AdminTokenId;
use crate::storage::AdminTokenRecord;

/// Prefix of generated admin tokens, so leaked ones are recognisable in scanners.
pub const TOKEN_PREFIX: &str = "mcpa_";

/// Who presented `bearer`, or `None` when it is not a live admin token.
pub async fn authenticate(ctx: &AdminContext, bearer: &str) -> Result<Option<Actor>, AdminError> {
    if let Some(bootstrap) = &ctx.policy.bootstrap_token
        && constant_time_eq(bootstrap.expose_secret().as_bytes(), bearer.as_bytes())
    {
        return Ok(Some(Actor::BootstrapToken));
    }
    if !bearer.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = ctx.hasher.hash(bearer);
    let found = ctx
        .store
        .find_live_admin_token(&hash, ctx.clock.now())
        .await?;
    Ok(found.map(|record| Actor::AdminToken {
        token_id: record.token_id,
    }))
}

/// Creates a token named `name`; returns the token (shown once) and its record.
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    name: &str,
    ttl_seconds: Option<i64>,
) -> Result<(String, AdminTokenRecord), AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AdminError::invalid("name", "must be 1-100 characters"));
    }
    let now = ctx.clock.now();
    let token = format!("{TOKEN_PREFIX}{}", random_token()?);
    let record = AdminTokenRecord {
        token_id: AdminTokenId::generate()?.to_string(),
        name: name.to_owned(),
        created_at: now,
        expires_at: ttl_seconds.map(|ttl| now.saturating_add(ttl)),
    };
    let event = audit::event(
        actor,
        "admin_token.created",
        "admin_token",
        &record.token_id,
        json!({ "name": name }),
    );
    ctx.store
        .insert_admin_token(&record, &ctx.hasher.hash(&token), &event)
        .await?;
    Ok((token, record))
}
