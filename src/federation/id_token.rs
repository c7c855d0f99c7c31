//! Checks of an upstream ID token (OIDC Core section 3.1.3.7, FED-2, TOK-7): signature
//! with the provider's published keys under an asymmetric algorithm, `typ` absent or
//! `JWT`, exact `iss`, our client id in `aud` (and `azp` when there are several),
//! `exp`/`iat` within skew, and the `nonce` of this sign-in.

use serde::Deserialize;

use crate::clock::{UnixTime, numeric_date};
use crate::domain::client::ClientKeys;
use crate::jose::{ASYMMETRIC_ALGORITHMS, KeySets};

/// Clock skew tolerated (TOK-7: at most 60 s).
const SKEW: i64 = 60;

/// What the token must match.
pub(super) struct Expected<'a> {
    pub(super) issuer: &'a str,
    pub(super) client_id: &'a str,
    pub(super) nonce: &'a str,
    pub(super) jwks_uri: &'a str,
}

/// The claims sign-in uses.
#[derive(Debug, Deserialize)]
pub(super) struct IdTokenClaims {
    iss: Option<String>,
    pub(super) sub: String,
    aud: Option<Audience>,
    azp: Option<String>,
    exp: Option<f64>,
    iat: Option<f64>,
    nonce: Option<String>,
    pub(super) email: Option<String>,
    email_verified: Option<serde_json::Value>,
    pub(super) preferred_username: Option<String>,
}

impl IdTokenClaims {
    /// The `email` claim when the provider marks it verified (`true` or `"true"`).
    pub(super) fn verified_email(&self) -> Option<&str> {
        let verified = self.email_verified.as_ref().is_some_and(|value| {
            value == &serde_json::Value::Bool(true) || value.as_str() == Some("true")
        });
        self.email.as_deref().filter(|_| verified)
    }

    /// When the token expires (checked present by [`verify`]).
    pub(super) fn expires_at(&self) -> UnixTime {
        self.exp.map_or(0, numeric_date)
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Verifies `token`; the error says which check failed (for the log, never the user).
pub(super) async fn verify(
    key_sets: &KeySets,
    token: &str,
    expected: &Expected<'_>,
    now: UnixTime,
) -> Result<IdTokenClaims, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("id_token: {e}"))?;
    if !ASYMMETRIC_ALGORITHMS.contains(&header.alg) {
        return Err(format!("id_token alg {:?} is not allowed", header.alg));
    }
    if header
        .typ
        .as_deref()
        .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
    {
        return Err("id_token typ is not JWT".to_owned());
    }
    let kid = header.kid.as_deref();
    let source = ClientKeys::JwksUri(expected.jwks_uri.to_owned());
    let keys = key_sets
        .for_source(&source, kid)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the provider has no keys")?;
    let claims: IdTokenClaims = keys
        .verify(token, header.alg, kid)
        .ok_or_else(|| "id_token signature is not valid".to_owned())?;
    if claims.iss.as_deref() != Some(expected.issuer) {
        return Err("id_token iss is not the provider".to_owned());
    }
    let audiences: Vec<&str> = match &claims.aud {
        Some(Audience::One(aud)) => vec![aud.as_str()],
        Some(Audience::Many(list)) => list.iter().map(String::as_str).collect(),
        None => vec![],
    };
    if !audiences.contains(&expected.client_id) {
        return Err("id_token aud does not name this client".to_owned());
    }
    if audiences.len() > 1 && claims.azp.as_deref() != Some(expected.client_id) {
        return Err("id_token azp is not this client".to_owned());
    }
    let exp = claims.exp.map(numeric_date).ok_or("id_token has no exp")?;
    if exp.saturating_add(SKEW) <= now {
        return Err("id_token has expired".to_owned());
    }
    let iat = claims.iat.map(numeric_date).ok_or("id_token has no iat")?;
    if iat > now.saturating_add(SKEW) {
        return Err("id_token iat is in the future".to_owned());
    }
    if claims.nonce.as_deref() != Some(expected.nonce) {
        return Err("id_token nonce does not match this sign-in".to_owned());
    }
    if claims.sub.is_empty() {
        return Err("id_token has no sub".to_owned());
    }
    Ok(claims)
}
