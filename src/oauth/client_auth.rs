//! Client authentication at the token, introspection and revocation endpoints
//! (CORE-10, CORE-11, SEC-16, CC-3): `none`, `client_secret_basic`, `client_secret_post`
//! and `private_key_jwt` (in [`super::client_assertion`]).
//!
//! Generated secrets are checked against their keyed hashes in constant time (never
//! argon2 here), reading the client and its secrets from the registry cache, so a
//! secret-authenticated request touches the database only on a cache miss
//! (ARCHITECTURE section 10).
//!
//! Every failure is `invalid_client`; when the `Authorization` header was used it is a
//! 401 with a `WWW-Authenticate` challenge (CORE-8). Two methods at once are
//! `invalid_request`, but a bare `client_id` in the body naming the same client as the
//! Basic header is not a second method (several SDKs send both).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use super::client_assertion;
use super::clients::{self, LookupError};
use super::context::OAuthContext;
use super::error::{ErrorCode, OAuthError};
use super::params::OAuthParams;
use crate::crypto::constant_time_eq;
use crate::domain::client::{AuthMethod, Client};

/// The challenge sent with a 401.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"mcp-authz\"";

/// Credentials as presented, before checking.
#[derive(Default)]
pub struct ClientCredentials {
    /// The raw `Authorization` header, if any.
    pub authorization: Option<String>,
    /// `client_id` from the body.
    pub client_id: Option<String>,
    /// `client_secret` from the body.
    pub client_secret: Option<String>,
    /// `client_assertion` from the body (RFC 7523).
    pub client_assertion: Option<String>,
    /// `client_assertion_type` from the body (RFC 7521).
    pub client_assertion_type: Option<String>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive() // secrets and assertions are never printed (SEC-13)
    }
}

impl ClientCredentials {
    /// Credentials from the `Authorization` header and the form parameters.
    pub fn from_parts(authorization: Option<String>, params: &OAuthParams) -> Self {
        Self {
            authorization,
            client_id: params.get("client_id").map(str::to_owned),
            client_secret: params.get("client_secret").map(str::to_owned),
            client_assertion: params.get("client_assertion").map(str::to_owned),
            client_assertion_type: params.get("client_assertion_type").map(str::to_owned),
        }
    }
}

/// The parameters client authentication reads from a form.
pub const PARAMS: &[&str] = &[
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

fn invalid_client(used_header: bool, description: &str) -> OAuthError {
    let error = OAuthError::with_description(ErrorCode::InvalidClient, description);
    if used_header {
        error.with_challenge(BASIC_CHALLENGE)
    } else {
        error
    }
}

/// RFC 6749 section 2.3.1: Basic carries the form-urlencoded id and secret.
fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Authenticates the caller; returns the client it proved to be.
pub async fn authenticate(
    ctx: &OAuthContext,
    credentials: &ClientCredentials,
) -> Result<Client, OAuthError> {
    let result = authenticate_once(ctx, credentials).await;
    if let Err(error) = &result
        && error.code == ErrorCode::InvalidClient
    {
        // Security event (budgeted): who was claimed, and why it failed.
        let claimed = match &credentials.authorization {
            Some(header) => decode_basic(header).map(|(id, _)| id),
            None => credentials.client_id.clone(),
        };
        let detail = serde_json::json!({
            "reason": error.description.as_deref().unwrap_or("invalid_client"),
            "assertion": credentials.client_assertion.is_some(),
        });
        let claimed = claimed.as_deref().unwrap_or("(none)");
        ctx.security
            .record("client_auth.failed", "client", claimed, detail)
            .await;
    }
    result
}

async fn authenticate_once(
    ctx: &OAuthContext,
    credentials: &ClientCredentials,
) -> Result<Client, OAuthError> {
    let used_header = credentials.authorization.is_some();
    let basic = match &credentials.authorization {
        Some(header) => Some(
            decode_basic(header)
                .ok_or_else(|| invalid_client(true, "malformed Basic credentials"))?,
        ),
        None => None,
    };
    let methods = usize::from(basic.is_some())
        + usize::from(credentials.client_secret.is_some())
        + usize::from(credentials.client_assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method (CORE-10)",
        ));
    }
    if let (Some((id, _)), Some(body_id)) = (&basic, &credentials.client_id)
        && id != body_id
    {
        return Err(OAuthError::invalid_request(
            "client_id differs from the Basic credentials",
        ));
    }
    if let Some(assertion) = &credentials.client_assertion {
        let known = client_assertion::authenticate(
            ctx,
            assertion,
            credentials.client_assertion_type.as_deref(),
            credentials.client_id.as_deref(),
        )
        .await?;
        return Ok(known.client);
    }
    let (client_id, secret) = match (&basic, &credentials.client_id) {
        (Some((id, secret)), _) => (id.clone(), Some(secret.clone())),
        (None, Some(id)) => (id.clone(), credentials.client_secret.clone()),
        (None, None) => return Err(invalid_client(false, "client authentication is required")),
    };
    // CIMD-24: a document that cannot be used is `invalid_client` here.
    let known = match clients::find(ctx, &client_id).await {
        Ok(known) => known,
        Err(LookupError::Store(error)) => return Err(error.into()),
        Err(LookupError::Unknown | LookupError::Cimd(_)) => {
            return Err(invalid_client(used_header, "client authentication failed"));
        }
    };
    match (known.client.auth_method, secret, &known.stored) {
        // A public client proves nothing but its id; an embedded secret is no proof (SEC-16).
        (AuthMethod::None, None, _) => Ok(known.client),
        // Either secret method is accepted for a secret client (CORE-11); every active
        // secret is tried, so rotation needs no flag day (CC-12).
        (
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost,
            Some(secret),
            Some(stored),
        ) => {
            // One keyed hash, compared in constant time with each active secret's.
            let presented = ctx.hasher.hash(&secret);
            if stored
                .secret_hashes_at(ctx.now())
                .any(|hash| constant_time_eq(&presented, hash))
            {
                Ok(known.client)
            } else {
                Err(invalid_client(used_header, "client authentication failed"))
            }
        }
        _ => Err(invalid_client(used_header, "client authentication failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::decode_basic;

    #[test]
    fn core_11_basic_credentials_are_form_urlencoded() {
        // "cli%3Aone:s%2Bcr+t" → id "cli:one", secret "s+cr t"
        let header = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                "cli%3Aone:s%2Bcr+t"
            )
        );
        assert_eq!(
            decode_basic(&header),
            Some(("cli:one".to_owned(), "s+cr t".to_owned()))
        );
        assert_eq!(decode_basic("Bearer abc"), None);
        assert_eq!(decode_basic("Basic !!!"), None);
    }
}
