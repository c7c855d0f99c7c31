//! OAuth clients: how they authenticate, what they may ask for (CORE-10, CORE-19).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ids::{ClientId, ServerId};
use super::redirect_uri::RedirectUri;
use super::scope::ScopeSet;
use crate::clock::UnixTime;

/// Public or confidential (CORE-10): derived from the authentication method, one per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// Cannot keep a secret (native apps, CLIs); authenticates with nothing but PKCE.
    Public,
    /// Holds a secret or a private key.
    Confidential,
}

impl ClientType {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
        }
    }
}

/// Token-endpoint authentication method (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Public client.
    None,
    /// Secret in HTTP Basic (CORE-11).
    ClientSecretBasic,
    /// Secret in the form body (CORE-11).
    ClientSecretPost,
    /// RFC 7523 client assertion signed with the client's key.
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The client type this method implies.
    pub fn client_type(self) -> ClientType {
        match self {
            Self::None => ClientType::Public,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::PrivateKeyJwt => {
                ClientType::Confidential
            }
        }
    }

    /// Whether clients using it hold a generated secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }

    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// Grant types a client may use (CORE-9). Implicit and password do not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GrantType {
    /// `authorization_code`
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    /// `refresh_token`
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// `client_credentials`
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (ID-JAG redemption)
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (ID-JAG issuance, RFC 8693)
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

/// Every grant type, in a fixed order.
pub const ALL_GRANT_TYPES: [GrantType; 5] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::JwtBearer,
    GrantType::TokenExchange,
];

impl GrantType {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }
}

impl FromStr for GrantType {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => Ok(Self::JwtBearer),
            "urn:ietf:params:oauth:grant-type:token-exchange" => Ok(Self::TokenExchange),
            "implicit" | "password" => Err(format!("{raw:?} is not supported (OAuth 2.1, CORE-9)")),
            other => Err(format!("{other:?} is not a supported grant type")),
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the client came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    /// Created by an administrator (CORE-19).
    Registered,
    /// RFC 7591 dynamic registration.
    Dcr,
    /// Client ID Metadata Document.
    Cimd,
}

impl ClientSource {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Dcr => "dcr",
            Self::Cimd => "cimd",
        }
    }
}

/// Where a client's public keys come from (private_key_jwt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// No keys (secret or public client).
    None,
    /// An inline JWK Set (public members only).
    Jwks(serde_json::Value),
    /// A URL the JWK Set is fetched from.
    JwksUri(String),
}

/// A client as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The `client_id`.
    pub id: ClientId,
    /// Display name.
    pub name: String,
    /// Token-endpoint authentication method; fixes the client type.
    pub auth_method: AuthMethod,
    /// Registered redirect URIs (exact match, SEC-1).
    pub redirect_uris: Vec<RedirectUri>,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may be granted; `None` means whatever its MCP servers define.
    pub scope: Option<ScopeSet>,
    /// Public keys for `private_key_jwt`.
    pub keys: ClientKeys,
    /// MCP servers it may get tokens for; `None` means every enabled server.
    pub allowed_servers: Option<Vec<ServerId>>,
    /// Registered, DCR or CIMD.
    pub source: ClientSource,
    /// An MCP server registered as a client may introspect tokens for its resources (INTRO-4).
    pub may_introspect: bool,
    /// Accept this server's token endpoint URL as the sole `aud` of the client's
    /// assertions, for clients written before the issuer became the audience (CC-6).
    pub accept_token_endpoint_audience: bool,
    /// Disabled clients cannot authenticate or get tokens.
    pub is_enabled: bool,
    /// When created.
    pub created_at: UnixTime,
    /// When last changed.
    pub updated_at: UnixTime,
}

impl Client {
    /// Public or confidential (CORE-10).
    pub fn client_type(&self) -> ClientType {
        self.auth_method.client_type()
    }

    /// Whether it may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// JWK members that only private keys carry (RFC 7517/7518).
const PRIVATE_JWK_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// Checks an inline JWK Set: an object with a non-empty `keys` array of objects, each
/// with `kty`, none with private or symmetric members (TOK-7: no HMAC with public keys).
pub fn check_public_jwks(jwks: &serde_json::Value) -> Result<(), String> {
    let Some(keys) = jwks.get("keys").and_then(serde_json::Value::as_array) else {
        return Err("must be a JWK Set: an object with a \"keys\" array".to_owned());
    };
    if keys.is_empty() {
        return Err("\"keys\" must not be empty".to_owned());
    }
    for (index, key) in keys.iter().enumerate() {
        let Some(object) = key.as_object() else {
            return Err(format!("keys[{index}] must be an object"));
        };
        match object.get("kty").and_then(serde_json::Value::as_str) {
            Some("EC" | "RSA" | "OKP") => {}
            Some("oct") => return Err(format!("keys[{index}] is a symmetric key")),
            _ => return Err(format!("keys[{index}] needs kty EC, RSA or OKP")),
        }
        if let Some(member) = PRIVATE_JWK_MEMBERS
            .iter()
            .find(|m| object.contains_key(**m))
        {
            return Err(format!("keys[{index}] contains private member {member:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_10_client_type_follows_auth_method() {
        assert_eq!(AuthMethod::None.client_type(), ClientType::Public);
        assert_eq!(
            AuthMethod::ClientSecretPost.client_type(),
            ClientType::Confidential
        );
        assert_eq!(
            AuthMethod::PrivateKeyJwt.client_type(),
            ClientType::Confidential
        );
    }

    #[test]
    fn core_9_implicit_and_password_grants_do_not_exist() {
        assert!("implicit".parse::<GrantType>().is_err());
        assert!("password".parse::<GrantType>().is_err());
        assert_eq!(
            "client_credentials".parse(),
            Ok(GrantType::ClientCredentials)
        );
        let urn = "urn:ietf:params:oauth:grant-type:jwt-bearer";
        assert_eq!(urn.parse::<GrantType>().unwrap().as_str(), urn);
    }

    #[test]
    fn tok_7_jwks_must_hold_public_asymmetric_keys_only() {
        let public = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]});
        assert!(check_public_jwks(&public).is_ok());
        let private =
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]});
        assert!(check_public_jwks(&private).unwrap_err().contains("\"d\""));
        assert!(check_public_jwks(&json!({"keys": [{"kty": "oct", "k": "x"}]})).is_err());
        assert!(check_public_jwks(&json!({"keys": []})).is_err());
        assert!(check_public_jwks(&json!([1])).is_err());
    }
}
