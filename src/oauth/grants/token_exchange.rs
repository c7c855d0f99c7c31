//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` issuing ID-JAGs: this
//! server acts as the enterprise IdP, vouching to another authorization server that its
//! user may use this client there (XAA-19..25, RFC 8693).
//!
//! The subject token is an ID token this server issued to the same client; the policy
//! (`/admin/api/v1/id-jag-audiences`) says which clients may get ID-JAGs for which
//! authorization servers, resources and scopes, and how client and user are named
//! there. Nothing is stored: the ID-JAG lives a few minutes and is single use at the
//! receiving side.
//!
//! An audience served `via_provider` gets its ID-JAGs from that upstream IdP instead
//! (XAA-26): the same checks run here, then the user's kept upstream ID token is
//! exchanged there and the answer handed on (`crate::federation::broker`).

use serde::Serialize;

use crate::crypto::random_id;
use crate::domain::client::{Client, ClientType};
use crate::domain::idp::{IdJagAudience, SubjectClaim};
use crate::domain::ids::UserId;
use crate::domain::scope::ScopeSet;
use crate::federation::broker::{BrokerError, BrokerRequest};
use crate::oauth::client_assertion::SKEW;
use crate::oauth::context::OAuthContext;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::grants::jwt_bearer::ID_JAG_TYP;
use crate::oauth::issue::{ID_TOKEN_TYP, IdTokenClaims, TokenResponse};
use crate::oauth::params::OAuthParams;

/// `requested_token_type` and `issued_token_type` of an ID-JAG.
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// `subject_token_type` of an OpenID ID token.
pub const ID_TOKEN_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// `subject_token_type` of a refresh token (XAA-19: accepted, MAY).
pub const REFRESH_TOKEN_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";

/// Who the subject token names, and when they authenticated.
struct Subject {
    user_id: String,
    auth_time: i64,
}

/// The claims of an issued ID-JAG (XAA-22): no more personal data than the audience
/// needs to name the user.
#[derive(Debug, Serialize)]
struct IdJagClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    jti: String,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    auth_time: i64,
}

fn invalid_target(description: &str) -> OAuthError {
    OAuthError::with_description(ErrorCode::InvalidTarget, description)
}

/// Exchanges the client's ID token for an ID-JAG naming another authorization server.
pub(super) async fn exchange(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    if !ctx.policy.token_exchange {
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType));
    }
    // XAA-20: the client must really authenticate; a public client proves nothing.
    if client.client_type() != ClientType::Confidential {
        return Err(OAuthError::with_description(
            ErrorCode::UnauthorizedClient,
            "token exchange needs an authenticated (confidential) client",
        ));
    }
    let required = |name: &str| {
        params
            .get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    };
    if required("requested_token_type")? != ID_JAG_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(
            "requested_token_type must be urn:ietf:params:oauth:token-type:id-jag",
        ));
    }
    let subject_type = required("subject_token_type")?;
    if subject_type != ID_TOKEN_TOKEN_TYPE && subject_type != REFRESH_TOKEN_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(
            "subject_token_type must be urn:ietf:params:oauth:token-type:id_token \
             or urn:ietf:params:oauth:token-type:refresh_token",
        ));
    }
    if params.get("actor_token").is_some() {
        return Err(OAuthError::invalid_request("actor_token is not supported"));
    }
    let now = ctx.now();
    let subject_token = required("subject_token")?;
    let subject = if subject_type == ID_TOKEN_TOKEN_TYPE {
        let claims = id_token_subject(ctx, client, subject_token, now)?;
        Subject {
            user_id: claims.sub,
            auth_time: claims.auth_time,
        }
    } else {
        refresh_token_subject(ctx, client, subject_token, now).await?
    };
    let audience = audience_named(ctx, required("audience")?).await?;
    // XAA-21: only clients allowed for that audience, named as it knows them.
    let client_there = audience.client_id_at(&client.id).ok_or_else(|| {
        OAuthError::with_description(
            ErrorCode::UnauthorizedClient,
            "this client may not obtain assertions for that audience",
        )
    })?;
    let resource = match params.get("resource") {
        Some(raw) if audience.resources.iter().any(|r| r == raw) => Some(raw),
        Some(_) => return Err(invalid_target("resource is not served by that audience")),
        None => None,
    };
    let scope = granted_scope(&audience, params.get("scope"))?;
    let user = ctx
        .store
        .find_user(&UserId::from_stored(subject.user_id.clone()))
        .await?
        .filter(|u| u.user.is_enabled)
        .ok_or_else(|| {
            OAuthError::with_description(ErrorCode::InvalidGrant, "the user is unknown or disabled")
        })?;
    if let Some(provider_id) = &audience.via_provider {
        let asked = (!scope.is_empty()).then(|| scope.to_string());
        let request = BrokerRequest {
            provider_id,
            user_id: user.user.id.as_str(),
            audience: &audience.issuer,
            resource,
            scope: asked.as_deref(),
        };
        return brokered(ctx, client, &request, &scope).await;
    }
    let sub = match audience.subject_claim {
        SubjectClaim::UserId => user.user.id.as_str(),
        SubjectClaim::Username => user.user.username.as_str(),
    };
    let ttl = ctx.policy.id_jag_ttl;
    let claims = IdJagClaims {
        iss: ctx.issuer.as_str(),
        sub,
        aud: &audience.issuer,
        client_id: client_there,
        jti: random_id("jag_")?,
        iat: now,
        exp: now.saturating_add(ttl),
        resource,
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        auth_time: subject.auth_time,
    };
    let id_jag = ctx.keyring.sign(ID_JAG_TYP, &claims, now)?;
    tracing::info!(client_id = %client.id, audience = %audience.id, "issued an ID-JAG");
    Ok(TokenResponse {
        access_token: id_jag,
        issued_token_type: Some(ID_JAG_TOKEN_TYPE),
        token_type: "N_A", // XAA-23: not a token the client can use itself
        expires_in: ttl,
        scope: scope.to_string(),
        refresh_token: None,
        id_token: None,
    })
}

/// XAA-26: the upstream IdP's ID-JAG for `request`, passed on unchanged.
async fn brokered(
    ctx: &OAuthContext,
    client: &Client,
    request: &BrokerRequest<'_>,
    scope: &ScopeSet,
) -> Result<TokenResponse, OAuthError> {
    let brokered = ctx
        .federation
        .broker_id_jag(request)
        .await
        .map_err(|error| match error {
            BrokerError::NoUpstreamSignIn => OAuthError::with_description(
                ErrorCode::InvalidGrant,
                "the user's sign-in through the upstream IdP has expired; sign in again",
            ),
            BrokerError::Refused(reason) => OAuthError::with_description(
                ErrorCode::InvalidGrant,
                format!("the upstream IdP refused: {reason}"),
            ),
            BrokerError::Upstream(detail) => {
                tracing::warn!(%detail, provider = request.provider_id, "ID-JAG brokering failed");
                OAuthError::with_description(
                    ErrorCode::TemporarilyUnavailable,
                    "the upstream IdP could not be reached or gave no ID-JAG",
                )
            }
            BrokerError::Crypto(error) => OAuthError::server_error(error),
            BrokerError::Store(error) => error.into(),
        })?;
    tracing::info!(client_id = %client.id, provider = request.provider_id, "brokered an ID-JAG");
    Ok(TokenResponse {
        access_token: brokered.id_jag,
        issued_token_type: Some(ID_JAG_TOKEN_TYPE),
        token_type: "N_A",
        expires_in: brokered.expires_in,
        scope: brokered.scope.unwrap_or_else(|| scope.to_string()),
        refresh_token: None,
        id_token: None,
    })
}

/// XAA-20: a refresh token of this very client, active (neither rotated, revoked nor
/// expired, and its grant live). It is only read: the exchange neither rotates nor
/// spends it.
async fn refresh_token_subject(
    ctx: &OAuthContext,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<Subject, OAuthError> {
    let invalid = || {
        OAuthError::with_description(
            ErrorCode::InvalidGrant,
            "subject_token is not an active refresh token of this client",
        )
    };
    let record = ctx
        .store
        .find_refresh_token(&ctx.hasher.hash(token))
        .await?
        .filter(|r| r.rotated_at.is_none() && r.revoked_at.is_none() && now < r.expires_at)
        .ok_or_else(invalid)?;
    let grant = ctx
        .store
        .find_grant(&record.grant_id)
        .await?
        .filter(|g| g.is_live(now) && g.client_id == client.id.as_str())
        .ok_or_else(invalid)?;
    Ok(Subject {
        user_id: grant.user_id,
        auth_time: grant.auth_time,
    })
}

/// XAA-20: an ID token we issued, to this very client, still valid.
fn id_token_subject(
    ctx: &OAuthContext,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<IdTokenClaims, OAuthError> {
    let invalid = || {
        OAuthError::with_description(
            ErrorCode::InvalidGrant,
            "subject_token is not a valid ID token issued to this client",
        )
    };
    let claims: IdTokenClaims = ctx
        .keyring
        .verify(token, ID_TOKEN_TYP, now)
        .ok_or_else(invalid)?;
    let fresh = now < claims.exp && claims.iat <= now.saturating_add(SKEW);
    if claims.iss != ctx.issuer.as_str() || claims.aud != client.id.as_str() || !fresh {
        return Err(invalid());
    }
    Ok(claims)
}

/// The enabled audience `raw` names (issuer or alias), else `invalid_target`.
async fn audience_named(ctx: &OAuthContext, raw: &str) -> Result<IdJagAudience, OAuthError> {
    ctx.store
        .list_all_audiences()
        .await?
        .into_iter()
        .find(|a| a.is_enabled && a.is_named(raw))
        .ok_or_else(|| invalid_target("audience is not an authorization server we vouch to"))
}

/// The requested scope narrowed by the audience's limit; absent: the limit itself.
fn granted_scope(audience: &IdJagAudience, asked: Option<&str>) -> Result<ScopeSet, OAuthError> {
    let asked = asked
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::with_description(ErrorCode::InvalidScope, e.to_string()))?;
    Ok(match (asked, &audience.scope) {
        (Some(asked), Some(limit)) => asked.intersection(limit),
        (Some(asked), None) => asked,
        (None, Some(limit)) => limit.clone(),
        (None, None) => ScopeSet::default(),
    })
}
