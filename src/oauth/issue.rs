//! Minting tokens: RFC 9068 JWT access tokens and opaque refresh tokens (TOK-1..5,
//! TOK-8, CORE-7). Nothing is written per access token (ARCHITECTURE section 10); a
//! token's `jti` starts with its grant id, so revoking the grant ends the token.

use serde::Serialize;

use super::context::OAuthContext;
use super::error::OAuthError;
use crate::clock::UnixTime;
use crate::crypto::{random_bytes, random_token};
use crate::domain::client::GrantType;
use crate::domain::scope::ScopeSet;
use crate::domain::server::McpServer;
use crate::domain::user::Email;
use crate::storage::RefreshTokenRecord;
use crate::telemetry::names;

/// JWS `typ` of access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Access-token claims (TOK-2, TOK-4).
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    /// The issuer.
    pub iss: &'a str,
    /// The user, or the client for machine grants (TOK-3).
    pub sub: &'a str,
    /// Exactly one MCP server's canonical URI (RES-5).
    pub aud: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// Granted scopes (SCOPE-6).
    pub scope: String,
    /// Unique id: `<grant id>.<random>` or `<random>`.
    pub jti: String,
    /// Issued at.
    pub iat: UnixTime,
    /// Expires at.
    pub exp: UnixTime,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
}

/// What a token is minted for.
#[derive(Debug)]
pub struct AccessTokenRequest<'a> {
    /// `sub`.
    pub subject: &'a str,
    /// `client_id`.
    pub client_id: &'a str,
    /// The audience server.
    pub server: &'a McpServer,
    /// Scopes.
    pub scope: &'a ScopeSet,
    /// The grant it belongs to, if any.
    pub grant_id: Option<&'a str>,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// For the metrics.
    pub grant_type: GrantType,
}

/// The successful token response (CORE-7; RFC 8693 section 2.2.1 for token exchange).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The JWT (for token exchange: the issued token, e.g. an ID-JAG).
    pub access_token: String,
    /// RFC 8693: what `access_token` is; only for token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// `Bearer`; `N_A` for an ID-JAG (XAA-23).
    pub token_type: &'static str,
    /// Seconds until `exp`.
    pub expires_in: i64,
    /// Granted scopes (SCOPE-4: always sent).
    pub scope: String,
    /// The refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The OpenID ID token, when `openid` was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Signs an access token; returns it with its lifetime in seconds.
pub fn access_token(
    ctx: &OAuthContext,
    request: &AccessTokenRequest<'_>,
    now: UnixTime,
) -> Result<(String, i64), OAuthError> {
    let ttl = request
        .server
        .access_token_ttl
        .unwrap_or(ctx.policy.access_token_ttl);
    let random = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        random_bytes::<12>()?,
    );
    let jti = match request.grant_id {
        Some(grant) => format!("{grant}.{random}"),
        None => random,
    };
    let claims = AccessTokenClaims {
        iss: ctx.issuer.as_str(),
        sub: request.subject,
        aud: request.server.resource.as_str(),
        client_id: request.client_id,
        scope: request.scope.to_string(),
        jti,
        iat: now,
        exp: now.saturating_add(ttl),
        auth_time: request.auth_time,
    };
    let token = ctx.keyring.sign(ACCESS_TOKEN_TYP, &claims, now)?;
    metrics::counter!(names::TOKENS_ISSUED, "grant_type" => request.grant_type.as_str())
        .increment(1);
    Ok((token, ttl))
}

/// Signs the access token for `request` and shapes the token response (CORE-7,
/// SCOPE-4: the scope is always returned).
pub fn token_response(
    ctx: &OAuthContext,
    request: &AccessTokenRequest<'_>,
    refresh_token: Option<String>,
    now: UnixTime,
) -> Result<TokenResponse, OAuthError> {
    let (access_token, expires_in) = access_token(ctx, request, now)?;
    Ok(TokenResponse {
        access_token,
        issued_token_type: None,
        token_type: "Bearer",
        expires_in,
        scope: request.scope.to_string(),
        refresh_token,
        id_token: None,
    })
}

/// JWS `typ` of ID tokens: plain `JWT`, as OpenID Connect clients expect; access tokens
/// (`at+jwt`) and ID-JAGs (`oauth-id-jag+jwt`) can never pass for one.
pub const ID_TOKEN_TYP: &str = "JWT";

/// OpenID Connect ID-token claims (OIDC Core section 2).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct IdTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The client it was issued to.
    pub aud: String,
    /// Expiry.
    pub exp: UnixTime,
    /// Issued at.
    pub iat: UnixTime,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The request's nonce.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    /// The account's recorded address, for `openid email` requests only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Always `true` beside `email`: the operator recorded the address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email_verified: Option<bool>,
}

/// Signs an ID token for `user` at `client`, living as long as an access token.
pub fn id_token(
    ctx: &OAuthContext,
    user: &str,
    client: &str,
    auth_time: UnixTime,
    nonce: Option<String>,
    email: Option<&Email>,
    now: UnixTime,
) -> Result<String, OAuthError> {
    let claims = IdTokenClaims {
        iss: ctx.issuer.as_str().to_owned(),
        sub: user.to_owned(),
        aud: client.to_owned(),
        exp: now.saturating_add(ctx.policy.access_token_ttl),
        iat: now,
        auth_time,
        nonce,
        email: email.map(|e| e.as_str().to_owned()),
        email_verified: email.map(|_| true),
    };
    Ok(ctx.keyring.sign(ID_TOKEN_TYP, &claims, now)?)
}

/// The grant id inside a `jti`, if the token belongs to a grant.
pub fn grant_of_jti(jti: &str) -> Option<&str> {
    jti.split_once('.').map(|(grant, _)| grant)
}

/// A new opaque refresh token (256-bit, TOK-8) and its stored form (hash only).
pub fn refresh_token(
    ctx: &OAuthContext,
    grant_id: &str,
    scope: &ScopeSet,
    grant_expires_at: UnixTime,
    now: UnixTime,
) -> Result<(String, RefreshTokenRecord), OAuthError> {
    let token = random_token()?;
    let record = RefreshTokenRecord {
        token_hash: ctx.hasher.hash(&token),
        grant_id: grant_id.to_owned(),
        scope: scope.to_string(),
        created_at: now,
        expires_at: now
            .saturating_add(ctx.policy.refresh_idle_ttl)
            .min(grant_expires_at),
        rotated_at: None,
        revoked_at: None,
    };
    Ok((token, record))
}
