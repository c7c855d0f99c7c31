//! `grant_type=authorization_code` (CORE-12..14, CORE-18, PKCE-5, RES-4, REFRESH-1).

use serde_json::json;

use super::{check_resource, live_server_and_user};
use crate::audit::{self, Actor};
use crate::domain::client::{Client, GrantType};
use crate::domain::pkce::{CodeChallenge, CodeVerifier};
use crate::domain::scope::ScopeSet;
use crate::domain::user::User;
use crate::oauth::context::OAuthContext;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issue::{self, AccessTokenRequest, TokenResponse};
use crate::oauth::params::OAuthParams;
use crate::storage::CodeRecord;

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::with_description(ErrorCode::InvalidGrant, description)
}

/// Redeems a code for an access token (and a refresh token when the grant allows).
pub(super) async fn exchange(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let now = ctx.now();
    let hash = ctx.hasher.hash(code);
    let grant_expires_at = now.saturating_add(ctx.policy.refresh_absolute_ttl);
    let Some(record) = ctx.store.redeem_code(&hash, now, grant_expires_at).await? else {
        replayed(ctx, client, params, &hash, now).await?;
        // CORE-13/14: unknown, expired and used codes look the same to the client.
        return Err(invalid_grant(
            "the code is invalid, expired or already used",
        ));
    };
    let (server, user) = match checked(ctx, &record, client, params).await {
        Ok(live) => live,
        Err(error) => {
            // The code is spent either way; its grant never issued a token.
            ctx.store.revoke_grant(&record.grant_id, now).await?;
            return Err(error);
        }
    };
    let scope = ScopeSet::parse(&record.scope)
        .map_err(|e| OAuthError::server_error(std::io::Error::other(e.to_string())))?;
    let refresh = if record.offline_access {
        let issued = issue::refresh_token(ctx, &record.grant_id, &scope, grant_expires_at, now)?;
        ctx.store.insert_refresh_token(&issued.1).await?;
        Some(issued.0)
    } else {
        None
    };
    let request = AccessTokenRequest {
        subject: &record.user_id,
        client_id: &record.client_id,
        server: &server,
        scope: &scope,
        grant_id: Some(&record.grant_id),
        auth_time: Some(record.auth_time),
        grant_type: GrantType::AuthorizationCode,
    };
    let mut response = issue::token_response(ctx, &request, refresh, now)?;
    if record.openid {
        response.id_token = Some(issue::id_token(
            ctx,
            &record.user_id,
            &record.client_id,
            record.auth_time,
            record.nonce.clone(),
            user.email.as_ref().filter(|_| record.openid_email),
            now,
        )?);
    }
    Ok(response)
}

/// Every check of a redeemed code; returns the live server it is for.
async fn checked(
    ctx: &OAuthContext,
    record: &CodeRecord,
    client: &Client,
    params: &OAuthParams,
) -> Result<(crate::domain::server::McpServer, User), OAuthError> {
    check_binding(record, client, params)?;
    let (server, user) = live_server_and_user(ctx, &record.server_id, &record.user_id).await?;
    check_resource(params, &server)?;
    Ok((server, user))
}

/// CORE-13, CORE-18, PKCE-5: the code belongs to this client, the redirect URI is the
/// one the authorization used, and the verifier matches the bound challenge.
fn check_binding(
    record: &CodeRecord,
    client: &Client,
    params: &OAuthParams,
) -> Result<(), OAuthError> {
    if record.client_id != client.id.as_str() {
        return Err(invalid_grant("the code was issued to another client"));
    }
    match params.get("redirect_uri") {
        Some(sent) if sent != record.redirect_uri => {
            return Err(invalid_grant(
                "redirect_uri differs from the authorization request",
            ));
        }
        None if record.redirect_uri_sent => {
            return Err(invalid_grant(
                "redirect_uri is required: the authorization request sent one",
            ));
        }
        _ => {}
    }
    let Some(raw_verifier) = params.get("code_verifier") else {
        return Err(invalid_grant("code_verifier is required"));
    };
    let verifier = CodeVerifier::parse(raw_verifier)
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    if !CodeChallenge::from_stored(record.code_challenge.clone()).is_satisfied_by(&verifier) {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

/// CORE-14: a second redemption that would otherwise have been valid (same client,
/// redirect URI and PKCE verifier) revokes what the first one issued. One without the
/// verifier proves nothing and changes nothing.
async fn replayed(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
    hash: &[u8],
    now: i64,
) -> Result<(), OAuthError> {
    let Some(used) = ctx.store.find_consumed_code(hash).await? else {
        return Ok(());
    };
    if check_binding(&used, client, params).is_err() {
        return Ok(());
    }
    ctx.store.revoke_grant(&used.grant_id, now).await?;
    let event = audit::event(
        &Actor::System,
        "code.replayed",
        "grant",
        &used.grant_id,
        json!({ "client_id": used.client_id }),
    );
    ctx.store.insert_audit_event(&event, now).await?;
    tracing::warn!(grant_id = %used.grant_id, "authorization code replayed; grant revoked");
    Ok(())
}
