//! ID-JAGs obtained from an upstream IdP on a client's behalf (XAA-26).
//!
//! When a user signed in here through an upstream provider that issues ID-JAGs (an
//! enterprise IdP, or another mcp-authz), the provider's ID token from that sign-in is
//! kept sealed with the key-encryption key until it expires. A client allowed for an
//! audience served "via" that provider then sends us an ordinary token exchange; we
//! repeat it at the provider's token endpoint with the kept ID token as the subject,
//! authenticated as ourselves (`private_key_jwt` signed with our keys, or the client
//! secret), check that the answer really is an ID-JAG (`issued_token_type`,
//! `token_type: N_A`), and hand it on without storing it.

use http::{Method, Request, header};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use url::form_urlencoded;

use super::{Federation, UpstreamProvider};
use crate::config::UpstreamClientAuth;
use crate::crypto::{CryptoError, random_id};
use crate::domain::client::GrantType;
pub(super) use crate::oauth::client_assertion::ASSERTION_TYPE as JWT_BEARER_ASSERTION;
use crate::oauth::grants::token_exchange::{
    ID_JAG_TOKEN_TYPE as ID_JAG, ID_TOKEN_TOKEN_TYPE as ID_TOKEN,
};
use crate::storage::StoreError;

/// Seal purpose of kept upstream ID tokens.
pub(super) const SEAL_PURPOSE: &str = "upstream id token";
/// Lifetime of our client assertion at the provider.
const ASSERTION_TTL: i64 = 60;
/// Largest answer accepted from the provider.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What to ask the provider for.
#[derive(Debug)]
pub struct BrokerRequest<'a> {
    /// The configured provider id (the audience's `via_provider`).
    pub provider_id: &'a str,
    /// The local user the client's subject token names.
    pub user_id: &'a str,
    /// The downstream authorization server's issuer.
    pub audience: &'a str,
    /// A resource there, if the client named one.
    pub resource: Option<&'a str>,
    /// Scopes asked (already narrowed by our policy).
    pub scope: Option<&'a str>,
}

/// The provider's ID-JAG, passed through untouched.
#[derive(Debug)]
pub struct BrokeredIdJag {
    /// The ID-JAG.
    pub id_jag: String,
    /// Seconds it stays valid: as the provider stated, else from its `exp`.
    pub expires_in: i64,
    /// The scope the provider granted, when it said.
    pub scope: Option<String>,
}

/// Why no ID-JAG could be brokered.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The user has no unexpired sign-in through that provider: they must sign in
    /// there again.
    #[error("the user has no current sign-in through the upstream provider")]
    NoUpstreamSignIn,
    /// The provider refused (its OAuth error code and description).
    #[error("the upstream provider refused: {0}")]
    Refused(String),
    /// The provider could not be reached or answered something that is not an ID-JAG.
    #[error("the upstream provider failed: {0}")]
    Upstream(String),
    /// Sealing or signing failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// RFC 8693 section 2.2.1 success response (the members we check or pass on).
#[derive(Debug, Deserialize)]
struct ExchangeResponse {
    access_token: String,
    issued_token_type: Option<String>,
    token_type: Option<String>,
    expires_in: Option<i64>,
    scope: Option<String>,
}

/// RFC 6749 section 5.2 error response.
#[derive(Debug, Deserialize)]
struct ErrorResponse {
    error: String,
    error_description: Option<String>,
}

/// Our client assertion at the provider (RFC 7523, CC-6 at the other side).
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: i64,
    exp: i64,
}

impl Federation {
    /// Keeps `id_token` from `provider_id` for `user_id`, sealed, until `expires_at`.
    pub(super) async fn keep_id_token(
        &self,
        user_id: &str,
        provider_id: &str,
        id_token: &str,
        expires_at: i64,
    ) -> Result<(), BrokerError> {
        let sealed = self.kek.seal(SEAL_PURPOSE, id_token.as_bytes())?;
        self.store
            .save_upstream_id_token(user_id, provider_id, &sealed, expires_at)
            .await?;
        Ok(())
    }

    /// Exchanges the user's kept upstream ID token for an ID-JAG at the provider.
    pub async fn broker_id_jag(
        &self,
        request: &BrokerRequest<'_>,
    ) -> Result<BrokeredIdJag, BrokerError> {
        let provider = self
            .provider(request.provider_id)
            .map_err(|_| BrokerError::Upstream(format!("no provider {:?}", request.provider_id)))?;
        let now = self.clock.now();
        let sealed = self
            .store
            .find_upstream_id_token(request.user_id, &provider.id, now)
            .await?
            .ok_or(BrokerError::NoUpstreamSignIn)?;
        let id_token = String::from_utf8(self.kek.open(SEAL_PURPOSE, &sealed)?)
            .map_err(|_| BrokerError::NoUpstreamSignIn)?;
        let found = self
            .discovery
            .get(&provider.issuer)
            .await
            .map_err(BrokerError::Upstream)?;
        let mut form = vec![
            ("grant_type", GrantType::TokenExchange.as_str().to_owned()),
            ("requested_token_type", ID_JAG.to_owned()),
            ("audience", request.audience.to_owned()),
            ("subject_token", id_token),
            ("subject_token_type", ID_TOKEN.to_owned()),
        ];
        if let Some(resource) = request.resource {
            form.push(("resource", resource.to_owned()));
        }
        if let Some(scope) = request.scope.filter(|s| !s.is_empty()) {
            form.push(("scope", scope.to_owned()));
        }
        let http_request = self.authenticated_post(provider, &found.token_endpoint, form, now)?;
        let response = self
            .http
            .send(http_request, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| BrokerError::Upstream(format!("token exchange: {e}")))?;
        let answer = read_answer(response.status(), response.body())?;
        let expires_in = answer
            .expires_in
            .or_else(|| jwt_exp(&answer.access_token).map(|exp| exp.saturating_sub(now)))
            .unwrap_or(0)
            .max(0);
        Ok(BrokeredIdJag {
            id_jag: answer.access_token,
            expires_in,
            scope: answer.scope,
        })
    }

    /// A form POST to `endpoint` carrying `form` and our client authentication.
    fn authenticated_post(
        &self,
        provider: &UpstreamProvider,
        endpoint: &str,
        mut form: Vec<(&'static str, String)>,
        now: i64,
    ) -> Result<Request<Vec<u8>>, BrokerError> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(endpoint)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        match &provider.client_auth {
            UpstreamClientAuth::Secret(secret) => {
                builder = builder.header(
                    header::AUTHORIZATION,
                    basic_credentials(&provider.client_id, secret.expose_secret()),
                );
            }
            UpstreamClientAuth::PrivateKeyJwt => {
                let assertion = self.client_assertion(provider, now)?;
                form.push(("client_id", provider.client_id.clone()));
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()));
                form.push(("client_assertion", assertion));
            }
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        builder
            .body(body.into_bytes())
            .map_err(|e| BrokerError::Upstream(format!("request: {e}")))
    }

    /// A fresh `private_key_jwt` assertion naming the provider's issuer as audience.
    pub(super) fn client_assertion(
        &self,
        provider: &UpstreamProvider,
        now: i64,
    ) -> Result<String, BrokerError> {
        let claims = AssertionClaims {
            iss: &provider.client_id,
            sub: &provider.client_id,
            aud: provider.issuer.as_str(),
            jti: random_id("cas_")?,
            iat: now,
            exp: now.saturating_add(ASSERTION_TTL),
        };
        self.keyring
            .sign("JWT", &claims, now)
            .map_err(|e| BrokerError::Upstream(format!("cannot sign a client assertion: {e}")))
    }
}

/// RFC 6749 section 2.3.1: id and secret are form-urlencoded before Basic encoding.
fn basic_credentials(client_id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The `exp` of a JWT, read without verification: only to state `expires_in` when the
/// provider did not (the receiving server verifies the token).
fn jwt_exp(jwt: &str) -> Option<i64> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()
}

/// XAA-26: only a 200 carrying an ID-JAG, typed as one and with `token_type` `N_A`.
fn read_answer(status: http::StatusCode, body: &[u8]) -> Result<ExchangeResponse, BrokerError> {
    if !status.is_success() {
        return Err(match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(error) => BrokerError::Refused(match error.error_description {
                Some(description) => format!("{} ({description})", error.error),
                None => error.error,
            }),
            Err(_) => BrokerError::Upstream(format!("token exchange answered {status}")),
        });
    }
    let answer: ExchangeResponse = serde_json::from_slice(body)
        .map_err(|e| BrokerError::Upstream(format!("token exchange answer: {e}")))?;
    if answer.issued_token_type.as_deref() != Some(ID_JAG) {
        return Err(BrokerError::Upstream(
            "the answer's issued_token_type is not an ID-JAG".to_owned(),
        ));
    }
    if !answer
        .token_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("N_A"))
    {
        return Err(BrokerError::Upstream(
            "the answer's token_type is not N_A".to_owned(),
        ));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        // "a:b" and "p w" must survive the colon split at the other side.
        let value = basic_credentials("a:b", "p w");
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim_start_matches("Basic "))
            .unwrap_or_default();
        assert_eq!(decoded, b"a%3Ab:p+w");
    }

    #[test]
    fn only_an_id_jag_typed_n_a_is_accepted() {
        let ok = br#"{"access_token":"x.y.z","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","token_type":"N_A","expires_in":300}"#;
        assert!(read_answer(http::StatusCode::OK, ok).is_ok());
        let bearer = br#"{"access_token":"x","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","token_type":"Bearer"}"#;
        assert!(matches!(
            read_answer(http::StatusCode::OK, bearer),
            Err(BrokerError::Upstream(_))
        ));
        let access = br#"{"access_token":"x","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"N_A"}"#;
        assert!(matches!(
            read_answer(http::StatusCode::OK, access),
            Err(BrokerError::Upstream(_))
        ));
        let refused = br#"{"error":"invalid_target","error_description":"no"}"#;
        assert!(matches!(
            read_answer(http::StatusCode::BAD_REQUEST, refused),
            Err(BrokerError::Refused(text)) if text.contains("invalid_target")
        ));
    }
}
