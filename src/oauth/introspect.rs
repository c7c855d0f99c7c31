//! RFC 7662 token introspection (INTRO-1..5).
//!
//! Only confidential clients may ask. Access tokens are answered only to an MCP server
//! registered as an introspecting client for the token's audience, refresh tokens only
//! to the client they belong to (INTRO-4). Anything else, and every token that is
//! expired, revoked, unknown, malformed or of a disabled user, client or server, is
//! `{"active": false}` and nothing more (INTRO-3).

use serde::{Deserialize, Serialize};

use super::context::OAuthContext;
use super::error::OAuthError;
use super::issue::{ACCESS_TOKEN_TYP, grant_of_jti};
use super::params::OAuthParams;
use crate::clock::UnixTime;
use crate::domain::client::Client;
use crate::domain::ids::{ClientId, UserId};
use crate::domain::resource::ResourceUri;
use crate::storage::StoreError;

/// Largest tolerated clock skew for `iat` (TOK-7).
const SKEW: i64 = 60;

/// Parameters of the introspection endpoint.
pub const PARAMS: &[&str] = super::params::TOKEN_ENDPOINT_PARAMS;

/// The introspection answer.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Scopes (SCOPE-6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<UnixTime>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<UnixTime>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `Bearer` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

impl Introspection {
    fn inactive() -> Self {
        Self::default()
    }
}

/// Claims read back from one of our access tokens.
#[derive(Debug, Deserialize)]
pub struct IssuedClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Client.
    pub client_id: String,
    /// Scopes.
    pub scope: String,
    /// Token id.
    pub jti: String,
    /// Issued at.
    pub iat: UnixTime,
    /// Expiry.
    pub exp: UnixTime,
}

/// Verifies one of our access tokens: signature by a published key, `typ`, `iss`, and
/// time (with the injected clock). `None` for anything else.
pub fn verify_access_token(ctx: &OAuthContext, token: &str, now: UnixTime) -> Option<IssuedClaims> {
    let claims: IssuedClaims = ctx.keyring.verify(token, ACCESS_TOKEN_TYP, now)?;
    let fresh = now < claims.exp && claims.iat <= now.saturating_add(SKEW);
    (claims.iss == ctx.issuer.as_str() && fresh).then_some(claims)
}

/// Answers an introspection request from the authenticated `caller`.
pub async fn introspect(
    ctx: &OAuthContext,
    caller: &Client,
    params: &OAuthParams,
) -> Result<Introspection, OAuthError> {
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let now = ctx.now();
    if let Some(claims) = verify_access_token(ctx, token, now) {
        return Ok(access_token(ctx, caller, claims, now).await?);
    }
    Ok(refresh_token(ctx, caller, token, now).await?)
}

async fn access_token(
    ctx: &OAuthContext,
    caller: &Client,
    claims: IssuedClaims,
    now: UnixTime,
) -> Result<Introspection, StoreError> {
    let Ok(resource) = ResourceUri::parse(&claims.aud) else {
        return Ok(Introspection::inactive());
    };
    let registry = ctx.store.server_registry().await?;
    let Some(server) = registry.iter().find(|s| s.resource == resource) else {
        return Ok(Introspection::inactive());
    };
    // INTRO-4: only an MCP server allowed to introspect, for its own resources.
    let caller_serves = caller.may_introspect
        && caller
            .allowed_servers
            .as_ref()
            .is_none_or(|ids| ids.contains(&server.id));
    if !caller_serves || !server.is_enabled || ctx.store.is_access_token_denied(&claims.jti).await?
    {
        return Ok(Introspection::inactive());
    }
    if let Some(grant_id) = grant_of_jti(&claims.jti) {
        let live = ctx
            .store
            .find_grant(grant_id)
            .await?
            .is_some_and(|g| g.is_live(now));
        if !live {
            return Ok(Introspection::inactive());
        }
    }
    if !parties_enabled(ctx, &claims.client_id, &claims.sub).await? {
        return Ok(Introspection::inactive());
    }
    Ok(Introspection {
        active: true,
        iss: Some(claims.iss),
        aud: Some(claims.aud),
        sub: Some(claims.sub),
        client_id: Some(claims.client_id),
        scope: Some(claims.scope),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        jti: Some(claims.jti),
        token_type: Some("Bearer"),
    })
}

/// The client and, for user tokens, the user still exist and are enabled.
async fn parties_enabled(
    ctx: &OAuthContext,
    client_id: &str,
    subject: &str,
) -> Result<bool, StoreError> {
    let client = ctx
        .store
        .find_client_entry(&ClientId::from_stored(client_id.to_owned()))
        .await?;
    if !client.is_some_and(|c| c.client.is_enabled) {
        return Ok(false);
    }
    if subject.starts_with(UserId::PREFIX) {
        let user = ctx
            .store
            .find_user(&UserId::from_stored(subject.to_owned()))
            .await?;
        return Ok(user.is_some_and(|u| u.user.is_enabled));
    }
    Ok(true)
}

async fn refresh_token(
    ctx: &OAuthContext,
    caller: &Client,
    token: &str,
    now: UnixTime,
) -> Result<Introspection, StoreError> {
    let Some(record) = ctx
        .store
        .find_refresh_token(&ctx.hasher.hash(token))
        .await?
    else {
        return Ok(Introspection::inactive());
    };
    let Some(grant) = ctx.store.find_grant(&record.grant_id).await? else {
        return Ok(Introspection::inactive());
    };
    let usable =
        record.rotated_at.is_none() && record.revoked_at.is_none() && now < record.expires_at;
    let own = grant.client_id == caller.id.as_str();
    if !own
        || !usable
        || !grant.is_live(now)
        || !parties_enabled(ctx, &grant.client_id, &grant.user_id).await?
    {
        return Ok(Introspection::inactive());
    }
    let server = ctx
        .store
        .find_server(&crate::domain::ids::ServerId::from_stored(
            grant.server_id.clone(),
        ))
        .await?;
    Ok(Introspection {
        active: true,
        iss: Some(ctx.issuer.as_str().to_owned()),
        aud: server.map(|s| s.resource.to_string()),
        sub: Some(grant.user_id),
        client_id: Some(grant.client_id),
        scope: Some(record.scope),
        exp: Some(record.expires_at),
        iat: Some(record.created_at),
        jti: None,
        token_type: Some("refresh_token"),
    })
}
