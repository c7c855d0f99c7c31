//! `private_key_jwt`: a client proves itself with a JWT it signed (RFC 7523 section 2.2
//! and 3, CC-5..10, TOK-7, CIMD-20).
//!
//! The checks, in order: the assertion type; the header (`alg` on the allow-list, no
//! `none` or HMAC, `typ` absent, `JWT` or `client-authentication+jwt`; `jku`, `x5u` and
//! `jwk` are never looked at); the client named by `sub` uses `private_key_jwt`; the
//! signature under one of its keys allowed for that `alg`; then the claims against our
//! clock (`iss` = `sub` = client, `aud` = our issuer alone, `exp` required and at most
//! [`MAX_LIFETIME`] ahead, `iat`/`nbf` within [`SKEW`]); last, single use of the `jti`
//! through one guarded insert shared by every instance. Every failure is
//! `invalid_client` with a description that names the rule, never the assertion.

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::clients::{self, KnownClient, LookupError};
use super::context::OAuthContext;
use super::error::{ErrorCode, OAuthError};
use super::metadata::TOKEN_PATH;
use crate::clock::{UnixTime, numeric_date};
use crate::domain::client::AuthMethod;

/// The only `client_assertion_type` (RFC 7523 section 2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The signature algorithms accepted (advertised as `…_signing_alg_values_supported`).
pub const SIGNING_ALGORITHMS: [Algorithm; 9] = crate::jose::ASYMMETRIC_ALGORITHMS;
/// `typ` values accepted (CC-9, RFC 7523bis): absent, `JWT`, or the explicit type.
const ACCEPTED_TYPES: [&str; 2] = ["JWT", "client-authentication+jwt"];
/// Longest accepted assertion lifetime in seconds (CC-7, PD: 10 minutes).
pub const MAX_LIFETIME: i64 = 600;
/// Clock skew tolerated on `exp`, `iat` and `nbf` in seconds (TOK-7: at most 60).
pub const SKEW: i64 = 60;
/// Longest accepted `jti`.
const MAX_JTI_BYTES: usize = 256;
/// Longest accepted assertion.
const MAX_ASSERTION_BYTES: usize = 16 * 1024;

/// The claims read from an assertion; every one optional so that a missing claim gets
/// its own precise error.
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<f64>,
    iat: Option<f64>,
    nbf: Option<f64>,
    jti: Option<String>,
}

/// `aud` as a string or an array (RFC 7519 section 4.1.3).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

fn rejected(description: &str) -> OAuthError {
    OAuthError::with_description(ErrorCode::InvalidClient, description)
}

/// Authenticates the client that signed `assertion`. `body_client_id` is the form's
/// `client_id`, which must name the same client when present (CC-5).
pub async fn authenticate(
    ctx: &OAuthContext,
    assertion: &str,
    assertion_type: Option<&str>,
    body_client_id: Option<&str>,
) -> Result<KnownClient, OAuthError> {
    if assertion_type != Some(ASSERTION_TYPE) {
        return Err(rejected(
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
    }
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(rejected("client_assertion is too large"));
    }
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| rejected("client_assertion is not a signed JWT"))?;
    if !SIGNING_ALGORITHMS.contains(&header.alg) {
        return Err(rejected("client_assertion alg is not allowed"));
    }
    if header
        .typ
        .as_deref()
        .is_some_and(|typ| !ACCEPTED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ)))
    {
        return Err(rejected("client_assertion typ is not accepted"));
    }
    // Only `sub` is read before the signature is checked, to know whose keys to use.
    let unverified = jsonwebtoken::dangerous::insecure_decode::<AssertionClaims>(assertion)
        .map_err(|_| rejected("client_assertion claims are malformed"))?;
    let client_id = unverified
        .claims
        .sub
        .ok_or_else(|| rejected("client_assertion has no sub"))?;
    if body_client_id.is_some_and(|id| id != client_id) {
        return Err(rejected("client_id differs from the client_assertion sub"));
    }
    let known = match clients::find(ctx, &client_id).await {
        Ok(known) => known,
        Err(LookupError::Store(error)) => return Err(error.into()),
        Err(LookupError::Unknown | LookupError::Cimd(_)) => {
            return Err(rejected("client authentication failed"));
        }
    };
    if known.client.auth_method != AuthMethod::PrivateKeyJwt {
        return Err(rejected("client authentication failed"));
    }
    let claims = verify_signature(ctx, &known, assertion, header.alg, header.kid.as_deref())
        .await?
        .ok_or_else(|| rejected("client_assertion signature is not valid"))?;
    let now = ctx.now();
    let (jti, exp) = check_claims(ctx, &known, &client_id, &claims, now)?;
    // CC-8: one guarded insert; a second use before `exp` (plus skew) finds the row.
    let remember_until = exp.saturating_add(SKEW);
    if !ctx
        .store
        .claim_assertion_jti(&client_id, jti, remember_until, now)
        .await?
    {
        tracing::info!(client_id = %client_id, "client assertion replayed");
        return Err(rejected("client_assertion was already used"));
    }
    Ok(known)
}

/// The verified claims, or `None` when no key of the client verifies the signature.
async fn verify_signature(
    ctx: &OAuthContext,
    known: &KnownClient,
    assertion: &str,
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<Option<AssertionClaims>, OAuthError> {
    // CC-9: an unknown `kid` refetches a `jwks_uri` (the client may have rotated).
    let keys = match ctx.key_sets.for_source(&known.client.keys, kid).await {
        Ok(Some(keys)) => keys,
        Ok(None) => return Err(rejected("client authentication failed")),
        Err(error) => {
            tracing::info!(client_id = %known.client.id, %error, "client keys unusable");
            return Err(rejected("the client's keys cannot be used"));
        }
    };
    Ok(keys.verify(assertion, alg, kid))
}

/// CC-6, CC-7: issuer, audience, lifetime and `jti`; returns the `jti` and `exp`.
fn check_claims<'c>(
    ctx: &OAuthContext,
    known: &KnownClient,
    client_id: &str,
    claims: &'c AssertionClaims,
    now: UnixTime,
) -> Result<(&'c str, UnixTime), OAuthError> {
    if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
        return Err(rejected(
            "client_assertion iss and sub must both be the client_id",
        ));
    }
    let audience = match &claims.aud {
        Some(Audience::One(aud)) => aud.as_str(),
        Some(Audience::Many(list)) => match list.as_slice() {
            [only] => only.as_str(),
            _ => return Err(rejected("client_assertion aud must name only this issuer")),
        },
        None => return Err(rejected("client_assertion has no aud")),
    };
    let token_endpoint = ctx.issuer.endpoint(TOKEN_PATH);
    let audience_ok = audience == ctx.issuer.as_str()
        || (known.client.accept_token_endpoint_audience && audience == token_endpoint);
    if !audience_ok {
        return Err(rejected("client_assertion aud must be this issuer"));
    }
    let exp = claims
        .exp
        .map(numeric_date)
        .ok_or_else(|| rejected("client_assertion has no exp"))?;
    if exp.saturating_add(SKEW) <= now {
        return Err(rejected("client_assertion has expired"));
    }
    if exp.saturating_sub(now) > MAX_LIFETIME.saturating_add(SKEW) {
        return Err(rejected("client_assertion lives longer than 10 minutes"));
    }
    if let Some(iat) = claims.iat.map(numeric_date) {
        if iat > now.saturating_add(SKEW) {
            return Err(rejected("client_assertion iat is in the future"));
        }
        if exp.saturating_sub(iat) > MAX_LIFETIME {
            return Err(rejected("client_assertion lives longer than 10 minutes"));
        }
    }
    if claims
        .nbf
        .map(numeric_date)
        .is_some_and(|nbf| nbf > now.saturating_add(SKEW))
    {
        return Err(rejected("client_assertion is not valid yet"));
    }
    let jti = claims
        .jti
        .as_deref()
        .filter(|jti| !jti.is_empty())
        .ok_or_else(|| rejected("client_assertion has no jti"))?;
    if jti.len() > MAX_JTI_BYTES {
        return Err(rejected("client_assertion jti is too long"));
    }
    Ok((jti, exp))
}
