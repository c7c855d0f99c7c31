//! RFC 7009 token revocation (REVOKE-1..4).
//!
//! A client revokes only its own tokens; another client's token is left untouched and
//! answered like an unknown one, with an audit entry (REVOKE-2). Revoking a refresh
//! token ends its grant, so the grant's access tokens introspect inactive (REVOKE-4);
//! revoking an access token puts its `jti` on the deny-list until it would expire.

use serde_json::json;

use super::context::OAuthContext;
use super::error::{ErrorCode, OAuthError};
use super::introspect::verify_access_token;
use super::params::OAuthParams;
use crate::audit::{self, Actor};
use crate::domain::client::Client;

/// Parameters of the revocation endpoint.
pub const PARAMS: &[&str] = super::params::TOKEN_ENDPOINT_PARAMS;

/// Revokes `token` if it belongs to `caller`; success and unknown tokens look alike.
pub async fn revoke(
    ctx: &OAuthContext,
    caller: &Client,
    params: &OAuthParams,
) -> Result<(), OAuthError> {
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    match params.get("token_type_hint") {
        None | Some("access_token" | "refresh_token") => {}
        Some(_) => return Err(OAuthError::new(ErrorCode::UnsupportedTokenType)), // REVOKE-3
    }
    let now = ctx.now();
    if let Some(record) = ctx
        .store
        .find_refresh_token(&ctx.hasher.hash(token))
        .await?
    {
        let grant = ctx.store.find_grant(&record.grant_id).await?;
        match grant {
            Some(grant) if grant.client_id == caller.id.as_str() => {
                ctx.store.revoke_grant(&grant.grant_id, now).await?;
                let event = audit::event(
                    &client_actor(caller),
                    "grant.revoked",
                    "grant",
                    &grant.grant_id,
                    json!({}),
                );
                ctx.store.insert_audit_event(&event, now).await?;
            }
            Some(grant) => foreign(ctx, caller, &grant.grant_id, now).await?,
            None => {}
        }
        return Ok(());
    }
    if let Some(claims) = verify_access_token(ctx, token, now) {
        if claims.client_id == caller.id.as_str() {
            ctx.store
                .deny_access_token(&claims.jti, claims.exp, now)
                .await?;
        } else {
            foreign(ctx, caller, &claims.jti, now).await?;
        }
    }
    Ok(())
}

fn client_actor(caller: &Client) -> Actor {
    Actor::Client {
        client_id: caller.id.to_string(),
    }
}

/// REVOKE-2: another client's token stays; the attempt is audited.
async fn foreign(
    ctx: &OAuthContext,
    caller: &Client,
    target: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let event = audit::event(
        &client_actor(caller),
        "revocation.refused",
        "token",
        target,
        json!({ "reason": "token of another client" }),
    );
    ctx.store.insert_audit_event(&event, now).await?;
    Ok(())
}
