//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an Identity Assertion
//! JWT Authorization Grant (ID-JAG) from a trusted enterprise IdP (XAA-1..18, TOK-7).
//!
//! The IdP, not a consent screen, decided that this client may act for this user at this
//! MCP server; this server checks that the decision is genuine, meant for it, fresh, used
//! once, and within what the administrator trusts that IdP with. Assertion problems are
//! `invalid_grant`; the assertion itself is never logged (XAA-15, XAA-17).

use crate::clock::numeric_date;
use crate::domain::client::{Client, ClientType, GrantType};
use crate::domain::idp::TrustedIdp;
use crate::domain::ids::UserId;
use crate::domain::resource::ResourceUri;
use crate::domain::scope::ScopeSet;
use crate::domain::server::McpServer;
use crate::federation::accounts::{self, AccountError, Provisioning};
use crate::oauth::client_assertion::{MAX_LIFETIME, SIGNING_ALGORITHMS, SKEW};
use crate::oauth::context::OAuthContext;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issue::{self, AccessTokenRequest, TokenResponse};
use crate::oauth::params::OAuthParams;
use crate::storage::ExternalIdentity;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

/// The JWS `typ` of an ID-JAG (XAA-3).
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// The grant profile advertised in metadata (XAA-2).
pub const ID_JAG_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// Longest accepted assertion.
const MAX_ASSERTION_BYTES: usize = 16 * 1024;

/// The claims of an ID-JAG (XAA-6); optional here so each missing one is named.
#[derive(Debug, Deserialize)]
struct IdJagClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<OneOrMany>,
    client_id: Option<String>,
    jti: Option<String>,
    exp: Option<f64>,
    iat: Option<f64>,
    nbf: Option<f64>,
    resource: Option<OneOrMany>,
    scope: Option<String>,
    tenant: Option<String>,
    auth_time: Option<f64>,
    email: Option<String>,
    email_verified: Option<serde_json::Value>,
    cnf: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn values(&self) -> Vec<&str> {
        match self {
            Self::One(one) => vec![one.as_str()],
            Self::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::with_description(ErrorCode::InvalidGrant, description)
}

/// Redeems an ID-JAG for an access token for the authenticated `client`; a refused
/// assertion is a security event (the reason, never the assertion, XAA-17).
pub(super) async fn exchange(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    let result = redeem(ctx, client, params).await;
    if let Err(error) = &result
        && error.code == ErrorCode::InvalidGrant
    {
        let reason = error.description.as_deref().unwrap_or("invalid_grant");
        let detail = serde_json::json!({ "reason": reason });
        ctx.security
            .record("id_jag.rejected", "client", client.id.as_str(), detail)
            .await;
    }
    result
}

async fn redeem(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    let assertion = params
        .get("assertion")
        .ok_or_else(|| OAuthError::invalid_request("assertion is required"))?;
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(invalid_grant("assertion is too large"));
    }
    // XAA-17: JWE (five parts) is not supported; only a JWS can be checked here.
    if assertion.split('.').count() != 3 {
        return Err(invalid_grant("assertion must be a signed JWT (JWS)"));
    }
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| invalid_grant("assertion is malformed"))?;
    // XAA-3: only a JWT typed as an ID-JAG is one; no other kind is ever accepted as one.
    if !header.typ.as_deref().is_some_and(is_id_jag_type) {
        return Err(invalid_grant("assertion typ must be oauth-id-jag+jwt"));
    }
    let unverified = jsonwebtoken::dangerous::insecure_decode::<IdJagClaims>(assertion)
        .map_err(|_| invalid_grant("assertion claims are malformed"))?;
    let issuer = unverified
        .claims
        .iss
        .ok_or_else(|| invalid_grant("assertion has no iss"))?;
    // XAA-25: our own ID-JAGs are for other servers, never for us.
    if issuer == ctx.issuer.as_str() {
        return Err(invalid_grant("assertion issuer is not trusted"));
    }
    // XAA-4: exactly an enabled trusted IdP; metadata never lists them (XAA-2).
    let idp = match ctx.store.find_idp_by_issuer_cached(&issuer).await? {
        Some(idp) if idp.is_enabled => idp,
        _ => return Err(invalid_grant("assertion issuer is not trusted")),
    };
    let claims = verify(ctx, &idp, assertion, header.alg, header.kid.as_deref()).await?;
    let now = ctx.now();
    let checked = check_claims(ctx, &idp, client, &claims, now)?;
    let server = select_server(ctx, &idp, client, &claims, params).await?;
    let scope = grant_scope(&idp, client, &server, &claims, params)?;
    // XAA-12: single use per issuer until `exp`, one guarded insert across instances.
    let remember_until = checked.exp.saturating_add(SKEW);
    if !ctx
        .store
        .claim_id_jag_jti(&idp.issuer, checked.jti, remember_until, now)
        .await?
    {
        tracing::info!(idp = %idp.id, client_id = %client.id, "ID-JAG replayed");
        return Err(invalid_grant("assertion was already used"));
    }
    let user = account_for(ctx, &idp, checked.subject, &claims, now).await?;
    let request = AccessTokenRequest {
        subject: user.as_str(),
        client_id: client.id.as_str(),
        server: &server,
        scope: &scope,
        grant_id: None,
        auth_time: claims.auth_time.map(numeric_date),
        grant_type: GrantType::JwtBearer,
    };
    // XAA-14: a plain token response, no refresh token, no user interaction.
    issue::token_response(ctx, &request, None, now)
}

/// `oauth-id-jag+jwt`, case-insensitive, with or without `application/` (XAA-3).
pub fn is_id_jag_type(typ: &str) -> bool {
    let lower = typ.to_ascii_lowercase();
    lower == ID_JAG_TYP || lower.strip_prefix("application/") == Some(ID_JAG_TYP)
}

/// The claims, once the signature verifies under one of the IdP's keys for `alg`.
async fn verify(
    ctx: &OAuthContext,
    idp: &TrustedIdp,
    assertion: &str,
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<IdJagClaims, OAuthError> {
    let alg_name = format!("{alg:?}");
    if !SIGNING_ALGORITHMS.contains(&alg) || !idp.algorithms.contains(&alg_name) {
        return Err(invalid_grant(
            "assertion alg is not allowed for this issuer",
        ));
    }
    let keys = match ctx.key_sets.for_source(&idp.keys, kid).await {
        Ok(Some(keys)) => keys,
        Ok(None) => return Err(invalid_grant("the issuer has no keys")),
        Err(error) => {
            tracing::warn!(idp = %idp.id, %error, "trusted IdP keys unusable");
            return Err(invalid_grant("the issuer's keys cannot be used"));
        }
    };
    keys.verify(assertion, alg, kid)
        .ok_or_else(|| invalid_grant("assertion signature is not valid"))
}

struct Checked<'c> {
    subject: &'c str,
    jti: &'c str,
    exp: i64,
}

/// XAA-5..9, XAA-16: audience, required claims, time window, client, tenant, `cnf`.
fn check_claims<'c>(
    ctx: &OAuthContext,
    idp: &TrustedIdp,
    client: &Client,
    claims: &'c IdJagClaims,
    now: i64,
) -> Result<Checked<'c>, OAuthError> {
    match claims.aud.as_ref().map(OneOrMany::values).as_deref() {
        Some([only]) if *only == ctx.issuer.as_str() => {}
        _ => return Err(invalid_grant("assertion aud must be this issuer alone")),
    }
    let subject = claims
        .sub
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_grant("assertion has no sub"))?;
    let jti = claims
        .jti
        .as_deref()
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid_grant("assertion needs a jti of at most 256 bytes"))?;
    let exp = claims
        .exp
        .map(numeric_date)
        .ok_or_else(|| invalid_grant("assertion has no exp"))?;
    let iat = claims
        .iat
        .map(numeric_date)
        .ok_or_else(|| invalid_grant("assertion has no iat"))?;
    if exp.saturating_add(SKEW) <= now {
        return Err(invalid_grant("assertion has expired"));
    }
    if iat > now.saturating_add(SKEW)
        || claims
            .nbf
            .map(numeric_date)
            .is_some_and(|nbf| nbf > now.saturating_add(SKEW))
    {
        return Err(invalid_grant("assertion is not valid yet"));
    }
    if exp.saturating_sub(iat) > MAX_LIFETIME {
        return Err(invalid_grant("assertion lives longer than 10 minutes"));
    }
    // XAA-8: the ID-JAG was issued to the client presenting it, and the IdP may speak
    // for that client.
    let named = claims
        .client_id
        .as_deref()
        .ok_or_else(|| invalid_grant("assertion has no client_id"))?;
    if idp.client_named(named) != Some(&client.id) {
        return Err(invalid_grant(
            "assertion client_id is not the authenticated client",
        ));
    }
    // XAA-9: confidential clients; public ones only where the IdP allows them.
    if client.client_type() == ClientType::Public && !idp.allow_public_clients {
        return Err(OAuthError::with_description(
            ErrorCode::UnauthorizedClient,
            "this issuer's assertions need a confidential client",
        ));
    }
    if let Some(tenant) = &idp.tenant
        && claims.tenant.as_deref() != Some(tenant.as_str())
    {
        return Err(invalid_grant("assertion tenant is not the trusted one"));
    }
    // XAA-16: a sender-constrained ID-JAG needs DPoP, which this server does not offer.
    if claims.cnf.is_some() {
        return Err(invalid_grant(
            "sender-constrained assertions (cnf) are not supported",
        ));
    }
    Ok(Checked { subject, jti, exp })
}

/// XAA-10: the MCP server the token is for: a `resource` of the ID-JAG (the request's
/// `resource` picks among several), registered, enabled, allowed for the IdP and the
/// client; without any, the IdP's only server or the default server.
async fn select_server(
    ctx: &OAuthContext,
    idp: &TrustedIdp,
    client: &Client,
    claims: &IdJagClaims,
    params: &OAuthParams,
) -> Result<McpServer, OAuthError> {
    let registry = ctx.store.server_registry().await?;
    let usable = |s: &&McpServer| {
        s.is_enabled
            && idp.allows_server(&s.id)
            && client
                .allowed_servers
                .as_ref()
                .is_none_or(|ids| ids.contains(&s.id))
    };
    let find = |raw: &str| -> Result<McpServer, OAuthError> {
        let uri = ResourceUri::parse(raw)
            .map_err(|_| invalid_grant("assertion resource is not a valid resource URI"))?;
        registry
            .iter()
            .filter(usable)
            .find(|s| s.resource == uri)
            .cloned()
            .ok_or_else(|| invalid_grant("assertion resource is not allowed here"))
    };
    let listed = claims.resource.as_ref().map(OneOrMany::values);
    let asked = params.get("resource");
    match (listed.as_deref(), asked) {
        (Some([]), _) => Err(invalid_grant("assertion resource is empty")),
        (Some(list), Some(asked)) => {
            // RES-2: compared as canonical URIs, as registered servers are.
            let canonical = |raw: &str| ResourceUri::parse(raw).ok();
            let wanted = canonical(asked);
            if wanted.is_none() || !list.iter().any(|named| canonical(named) == wanted) {
                return Err(OAuthError::with_description(
                    ErrorCode::InvalidTarget,
                    "resource is not one the assertion names",
                ));
            }
            find(asked)
        }
        (Some([only]), None) => find(only),
        (Some(_), None) => Err(OAuthError::with_description(
            ErrorCode::InvalidTarget,
            "the assertion names several resources: pick one with resource",
        )),
        // RES-1, RES-3: a request `resource` is never ignored; without a claim it picks
        // one of the servers the IdP and the client may reach.
        (None, Some(asked)) => {
            let uri = ResourceUri::parse(asked).map_err(|_| {
                OAuthError::with_description(ErrorCode::InvalidTarget, "resource is malformed")
            })?;
            registry
                .iter()
                .filter(usable)
                .find(|s| s.resource == uri)
                .cloned()
                .ok_or_else(|| {
                    OAuthError::with_description(
                        ErrorCode::InvalidTarget,
                        "resource is not one this assertion may reach",
                    )
                })
        }
        (None, None) => {
            let usable: Vec<&McpServer> = registry.iter().filter(usable).collect();
            let chosen = match usable.as_slice() {
                [only] => Some(*only),
                _ => usable.iter().find(|s| s.is_default).copied(),
            };
            chosen
                .cloned()
                .ok_or_else(|| invalid_grant("assertion names no resource and no default applies"))
        }
    }
}

/// XAA-11: every ID-JAG scope registered for the server; granted = ID-JAG scopes ∩ the
/// request's `scope` (if any) ∩ the IdP's and the client's allowance. Without a scope
/// claim, the server's default scopes stand in for it.
fn grant_scope(
    idp: &TrustedIdp,
    client: &Client,
    server: &McpServer,
    claims: &IdJagClaims,
    params: &OAuthParams,
) -> Result<ScopeSet, OAuthError> {
    let own = server.scope_set();
    let granted_by_idp = match &claims.scope {
        Some(raw) => {
            let scope =
                ScopeSet::parse(raw).map_err(|_| invalid_grant("assertion scope is malformed"))?;
            if !scope.is_subset(&own) {
                return Err(invalid_grant(
                    "assertion scope is not registered for this resource",
                ));
            }
            scope
        }
        None => server.default_scopes.clone(),
    };
    let mut scope = granted_by_idp;
    if let Some(raw) = params.get("scope") {
        let asked = ScopeSet::parse(raw)
            .map_err(|e| OAuthError::with_description(ErrorCode::InvalidScope, e.to_string()))?;
        // SCOPE-3: a scope the server does not define is refused, as for every grant
        // (the AS's own `offline_access` and `openid` aside: they simply grant nothing).
        if let Some(unknown) = asked.resource_scopes().iter().find(|t| !own.contains(t)) {
            return Err(OAuthError::with_description(
                ErrorCode::InvalidScope,
                format!("unknown scope {:?}", unknown.as_str()),
            ));
        }
        scope = scope.intersection(&asked);
    }
    if let Some(allowed) = &idp.scope {
        scope = scope.intersection(allowed);
    }
    if let Some(allowed) = &client.scope {
        scope = scope.intersection(allowed);
    }
    Ok(scope)
}

/// XAA-13: the account of (`iss`, `tenant`, `sub`); created on first use only when the
/// IdP allows just-in-time provisioning. Disabled accounts get nothing.
async fn account_for(
    ctx: &OAuthContext,
    idp: &TrustedIdp,
    subject: &str,
    claims: &IdJagClaims,
    now: i64,
) -> Result<UserId, OAuthError> {
    let identity = ExternalIdentity {
        issuer: &idp.issuer,
        tenant: claims.tenant.as_deref().unwrap_or(""),
        subject,
    };
    let provisioning = Provisioning {
        enabled: idp.jit_provisioning,
        preferred_username: claims.email.as_deref(),
        // The IdP vouches for its `email` claim unless it says otherwise.
        linkable_email: claims
            .email
            .as_deref()
            .filter(|_| idp.link_verified_email)
            .filter(|_| !claims.email_verified.as_ref().is_some_and(is_false)),
        source: idp.id.as_str(),
    };
    accounts::account_for(&ctx.store, &identity, provisioning, now)
        .await
        .map_err(|error| match error {
            AccountError::NotLinked => invalid_grant("no account is linked to this subject"),
            AccountError::Disabled => invalid_grant("the account is disabled"),
            AccountError::Crypto(error) => error.into(),
            AccountError::Store(error) => error.into(),
        })
}

/// `false` or `"false"` (some IdPs send booleans as strings).
fn is_false(value: &serde_json::Value) -> bool {
    value == &serde_json::Value::Bool(false) || value.as_str() == Some("false")
}

#[cfg(test)]
mod tests {
    use super::is_id_jag_type;

    #[test]
    fn xaa_3_only_the_id_jag_type_is_an_id_jag() {
        assert!(is_id_jag_type("oauth-id-jag+jwt"));
        assert!(is_id_jag_type("OAuth-ID-JAG+JWT"));
        assert!(is_id_jag_type("application/oauth-id-jag+jwt"));
        assert!(!is_id_jag_type("JWT"));
        assert!(!is_id_jag_type("at+jwt"));
        assert!(!is_id_jag_type("client-authentication+jwt"));
        assert!(!is_id_jag_type("text/oauth-id-jag+jwt"));
    }
}
