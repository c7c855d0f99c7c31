//! `grant_type=refresh_token` (REFRESH-2..8, SCOPE-8, RES-7).

use serde_json::json;

use super::{check_resource, live_server_and_user};
use crate::audit::{self, Actor};
use crate::domain::client::{Client, GrantType};
use crate::domain::scope::ScopeSet;
use crate::oauth::context::OAuthContext;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issue::{self, AccessTokenRequest, TokenResponse};
use crate::oauth::params::OAuthParams;

fn invalid_grant() -> OAuthError {
    OAuthError::with_description(
        ErrorCode::InvalidGrant,
        "the refresh token is invalid, expired or revoked",
    )
}

/// Rotates a refresh token and issues an access token.
pub(super) async fn exchange(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = ctx.now();
    let hash = ctx.hasher.hash(token);
    let record = ctx
        .store
        .find_refresh_token(&hash)
        .await?
        .ok_or_else(invalid_grant)?;
    let grant = ctx
        .store
        .find_grant(&record.grant_id)
        .await?
        .ok_or_else(invalid_grant)?;
    // REFRESH-5: only its own client may use it; another client's attempt changes nothing.
    if grant.client_id != client.id.as_str() {
        return Err(invalid_grant());
    }
    if record.rotated_at.is_some() {
        return Err(reused(ctx, &grant.grant_id, now).await?);
    }
    if record.revoked_at.is_some() || record.expires_at <= now || !grant.is_live(now) {
        return Err(invalid_grant());
    }
    let (server, _) = live_server_and_user(ctx, &grant.server_id, &grant.user_id).await?;
    check_resource(params, &server)?;
    let held = ScopeSet::parse(&record.scope)
        .map_err(|e| OAuthError::server_error(std::io::Error::other(e.to_string())))?;
    // SCOPE-8: a narrower scope may be asked for; absent means the original.
    let scope = match params.get("scope") {
        None => held.clone(),
        Some(raw) => {
            let asked = ScopeSet::parse(raw).map_err(|e| {
                OAuthError::with_description(ErrorCode::InvalidScope, e.to_string())
            })?;
            if !asked.is_subset(&held) {
                return Err(OAuthError::with_description(
                    ErrorCode::InvalidScope,
                    "scope exceeds the grant",
                ));
            }
            asked
        }
    };
    // REFRESH-6: the successor keeps the grant's exact scope, whatever this request asked.
    let (successor, successor_record) =
        issue::refresh_token(ctx, &grant.grant_id, &held, grant.expires_at, now)?;
    if !ctx
        .store
        .rotate_refresh_token(&hash, &successor_record, now)
        .await?
    {
        // Another request rotated it first: this use is a reuse (REFRESH-4, REFRESH-8).
        return Err(reused(ctx, &grant.grant_id, now).await?);
    }
    let request = AccessTokenRequest {
        subject: &grant.user_id,
        client_id: &grant.client_id,
        server: &server,
        scope: &scope,
        grant_id: Some(&grant.grant_id),
        auth_time: Some(grant.auth_time),
        grant_type: GrantType::RefreshToken,
    };
    issue::token_response(ctx, &request, Some(successor), now)
}

/// REFRESH-4: reuse of a rotated token revokes the family and the grant's access tokens.
async fn reused(ctx: &OAuthContext, grant_id: &str, now: i64) -> Result<OAuthError, OAuthError> {
    ctx.store.revoke_grant(grant_id, now).await?;
    let event = audit::event(
        &Actor::System,
        "refresh_token.reused",
        "grant",
        grant_id,
        json!({}),
    );
    ctx.store.insert_audit_event(&event, now).await?;
    tracing::warn!(%grant_id, "rotated refresh token reused; grant revoked");
    Ok(invalid_grant())
}
