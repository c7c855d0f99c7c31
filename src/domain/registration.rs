//! RFC 7591 client metadata: what a dynamic registration asks for, checked (DCR-4..8,
//! SEC-3, SEC-16).
//!
//! Owns turning a registration request body into [`ClientMetadata`], the effective values
//! a dynamically registered client gets, and every rule on single fields and on their
//! combination. Unknown members are ignored (RFC 7591 section 2), and so are the
//! identifiers and secrets a client proposes (DCR-7); `null` counts as absent. Every
//! error names the member at fault. No I/O: `oauth::register` stores the result.

use std::fmt;

use serde_json::{Map, Value};

use super::client::{AuthMethod, ClientKeys, GrantType, check_public_jwks};
use super::redirect_uri::{RedirectPolicy, RedirectUri};
use super::resource::{ResourceUri, is_loopback_host};
use super::scope::ScopeSet;
use super::server::check_display_name;

/// The name a client gets when it sends none (RFC 7591 makes `client_name` optional).
pub const UNNAMED_CLIENT: &str = "Unnamed application";
/// Most redirect URIs one registration may list (SEC-14: every input is bounded).
pub const MAX_REDIRECT_URIS: usize = 20;

/// OpenID Connect Registration section 2 `application_type` (DCR-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    /// A web application: https redirect URIs on a real host.
    Web,
    /// A native application: loopback (or private-use scheme) redirect URIs.
    Native,
}

impl ApplicationType {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "web" => Some(Self::Web),
            "native" => Some(Self::Native),
            _ => None,
        }
    }
}

impl fmt::Display for ApplicationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Informational URLs a client may register; kept only when they are https URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientLinks {
    /// `client_uri`: the client's home page.
    pub client_uri: Option<String>,
    /// `logo_uri`
    pub logo_uri: Option<String>,
    /// `tos_uri`
    pub tos_uri: Option<String>,
    /// `policy_uri`
    pub policy_uri: Option<String>,
}

/// The effective metadata of a dynamically registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    /// `client_name`, or [`UNNAMED_CLIENT`].
    pub client_name: String,
    /// `redirect_uris` (DCR-4).
    pub redirect_uris: Vec<RedirectUri>,
    /// `grant_types` (DCR-8).
    pub grant_types: Vec<GrantType>,
    /// `token_endpoint_auth_method` (DCR-5).
    pub auth_method: AuthMethod,
    /// `application_type`, as sent or inferred (DCR-6).
    pub application_type: ApplicationType,
    /// `scope`: the scopes the client may be granted.
    pub scope: Option<ScopeSet>,
    /// `jwks` or `jwks_uri` for `private_key_jwt` (DCR-5).
    pub keys: ClientKeys,
    /// `client_uri`, `logo_uri`, `tos_uri`, `policy_uri`.
    pub links: ClientLinks,
}

impl ClientMetadata {
    /// `response_types`: always `["code"]` (DCR-8, CORE-5).
    pub fn response_types(&self) -> &'static [&'static str] {
        &["code"]
    }
}

/// Why a registration request is refused (DCR-3): the RFC 7591 error code and a
/// description naming the member at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// `invalid_redirect_uri`
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata`
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
}

impl MetadataError {
    /// The RFC 7591 section 3.2.2 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRedirectUri(text) | Self::InvalidClientMetadata(text) => text,
        }
    }
}

fn metadata(description: impl Into<String>) -> MetadataError {
    MetadataError::InvalidClientMetadata(description.into())
}

fn redirect(description: impl Into<String>) -> MetadataError {
    MetadataError::InvalidRedirectUri(description.into())
}

/// Parses and checks a registration request body (DCR-2..8).
pub fn parse(body: &[u8]) -> Result<ClientMetadata, MetadataError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| metadata(format!("the body is not valid JSON ({e})")))?;
    let Value::Object(object) = value else {
        return Err(metadata(
            "the body must be a JSON object of client metadata",
        ));
    };
    let fields = Fields(&object);
    // DCR-7: `client_id`, `client_secret` and the other server-assigned members are
    // never read, whatever the client proposes.
    let client_name = match fields.string("client_name")? {
        Some(name) => {
            check_display_name(name).map_err(|e| metadata(format!("client_name {e}")))?;
            name.to_owned()
        }
        None => UNNAMED_CLIENT.to_owned(),
    };
    let auth_method = parse_auth_method(fields.string("token_endpoint_auth_method")?)?;
    let grant_types = parse_grant_types(fields.strings("grant_types")?.as_deref())?;
    check_response_types(fields.strings("response_types")?.as_deref(), &grant_types)?;
    check_grants_for_client(&grant_types, auth_method)?;
    let redirect_uris = parse_redirect_uris(fields.strings("redirect_uris")?.as_deref())?;
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        // DCR-4
        return Err(redirect(
            "redirect_uris must list at least one URI for the authorization_code grant",
        ));
    }
    let application_type = match fields.string("application_type")? {
        Some(raw) => {
            let stated = ApplicationType::parse(raw).ok_or_else(|| {
                metadata(format!(
                    "application_type {raw:?} is not \"web\" or \"native\""
                ))
            })?;
            check_application_type(stated, &redirect_uris)?;
            stated
        }
        // DCR-6 (PD): a missing value never causes rejection; it is inferred and echoed.
        None => infer_application_type(&redirect_uris),
    };
    let scope = fields
        .string("scope")?
        .map(|raw| ScopeSet::parse(raw).map_err(|e| metadata(format!("scope: {e}"))))
        .transpose()?;
    let keys = parse_keys(auth_method, fields.get("jwks"), fields.string("jwks_uri")?)?;
    let links = ClientLinks {
        client_uri: fields.https_url("client_uri"),
        logo_uri: fields.https_url("logo_uri"),
        tos_uri: fields.https_url("tos_uri"),
        policy_uri: fields.https_url("policy_uri"),
    };
    Ok(ClientMetadata {
        client_name,
        redirect_uris,
        grant_types,
        auth_method,
        application_type,
        scope,
        keys,
        links,
    })
}

/// Typed access to the request's members, with errors that name them.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<&str>, MetadataError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(metadata(format!("{name} must be a string"))),
        }
    }

    fn strings(&self, name: &str) -> Result<Option<Vec<&str>>, MetadataError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let Some(items) = value.as_array() else {
            return Err(metadata(format!("{name} must be an array of strings")));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| metadata(format!("{name}[{i}] must be a string")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An informational URL: kept when it is an https URL without fragment or user
    /// information, dropped otherwise. RFC 7591 section 3.2.1 lets the server replace
    /// requested values; the response shows what was kept, and a cosmetic member never
    /// costs a client its registration.
    fn https_url(&self, name: &str) -> Option<String> {
        let raw = self.get(name)?.as_str()?;
        ResourceUri::parse(raw)
            .ok()
            .filter(ResourceUri::is_https)
            .map(|_| raw.to_owned())
    }
}

/// DCR-5: absent means `client_secret_basic` (RFC 7591 section 2).
fn parse_auth_method(raw: Option<&str>) -> Result<AuthMethod, MetadataError> {
    match raw.unwrap_or("client_secret_basic") {
        "none" => Ok(AuthMethod::None),
        "client_secret_basic" => Ok(AuthMethod::ClientSecretBasic),
        "client_secret_post" => Ok(AuthMethod::ClientSecretPost),
        "private_key_jwt" => Ok(AuthMethod::PrivateKeyJwt),
        other => Err(metadata(format!(
            "token_endpoint_auth_method {other:?} is not supported; use none, \
             client_secret_basic, client_secret_post or private_key_jwt"
        ))),
    }
}

/// DCR-8: default `["authorization_code"]`; only the grants this server offers to
/// dynamically registered clients; `refresh_token` only beside `authorization_code`.
fn parse_grant_types(raw: Option<&[&str]>) -> Result<Vec<GrantType>, MetadataError> {
    let Some(raw) = raw else {
        return Ok(vec![GrantType::AuthorizationCode]);
    };
    if raw.is_empty() {
        return Err(metadata(
            "grant_types must not be empty (leave it out for [\"authorization_code\"])",
        ));
    }
    let mut grants = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let grant: GrantType = name
            .parse()
            .map_err(|e: String| metadata(format!("grant_types[{i}]: {e}")))?;
        if grant == GrantType::JwtBearer {
            return Err(metadata(format!(
                "grant_types[{i}]: {name:?} is not available to dynamically registered clients"
            )));
        }
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    let has_code = grants.contains(&GrantType::AuthorizationCode);
    if grants.contains(&GrantType::RefreshToken) && !has_code {
        return Err(metadata(
            "grant_types: refresh_token needs authorization_code (refresh tokens come from codes)",
        ));
    }
    Ok(grants)
}

/// DCR-8: `response_types` default `["code"]`, which is the only one; it goes with
/// the `authorization_code` grant and nothing else.
fn check_response_types(raw: Option<&[&str]>, grants: &[GrantType]) -> Result<(), MetadataError> {
    let has_code_grant = grants.contains(&GrantType::AuthorizationCode);
    let Some(raw) = raw else {
        return Ok(());
    };
    if let Some((i, other)) = raw.iter().enumerate().find(|(_, r)| **r != "code") {
        return Err(metadata(format!(
            "response_types[{i}] {other:?} is not supported; the only response type is \"code\""
        )));
    }
    match (raw.is_empty(), has_code_grant) {
        (true, true) => Err(metadata(
            "response_types must include \"code\" for the authorization_code grant",
        )),
        (false, false) => Err(metadata(
            "response_types \"code\" needs the authorization_code grant in grant_types",
        )),
        _ => Ok(()),
    }
}

/// DCR-8, SEC-16, CC-2: no machine grant for public clients, nor for any client that
/// registered itself (client credentials are for pre-registered clients only).
fn check_grants_for_client(grants: &[GrantType], method: AuthMethod) -> Result<(), MetadataError> {
    if !grants.contains(&GrantType::ClientCredentials) {
        return Ok(());
    }
    Err(metadata(if method == AuthMethod::None {
        "grant_types: client_credentials needs a confidential client (SEC-16), and is \
         only for clients registered by an administrator (CC-2)"
    } else {
        "grant_types: client_credentials is only for clients registered by an \
         administrator (CC-2)"
    }))
}

/// DCR-4: each URI satisfies SEC-3, none twice, at most [`MAX_REDIRECT_URIS`].
fn parse_redirect_uris(raw: Option<&[&str]>) -> Result<Vec<RedirectUri>, MetadataError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_REDIRECT_URIS {
        return Err(redirect(format!(
            "redirect_uris may list at most {MAX_REDIRECT_URIS} URIs"
        )));
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw.len());
    for (i, uri) in raw.iter().enumerate() {
        let parsed = RedirectUri::parse(uri, RedirectPolicy::default())
            .map_err(|e| redirect(format!("redirect_uris[{i}] {e}")))?; // SEC-3
        if uris.contains(&parsed) {
            return Err(redirect(format!("redirect_uris[{i}] is listed twice")));
        }
        uris.push(parsed);
    }
    Ok(uris)
}

/// Whether the URI's host is a loopback one, whatever its scheme.
fn has_loopback_host(uri: &RedirectUri) -> bool {
    uri.host().is_some_and(is_loopback_host)
}

fn is_https(uri: &RedirectUri) -> bool {
    uri.as_str()
        .get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https:"))
}

/// DCR-6: all redirect URIs loopback `http` → `native`, otherwise `web`.
fn infer_application_type(uris: &[RedirectUri]) -> ApplicationType {
    if !uris.is_empty() && uris.iter().all(RedirectUri::is_loopback) {
        ApplicationType::Native
    } else {
        ApplicationType::Web
    }
}

/// DCR-6, OpenID Connect Registration section 2: a `web` client uses https on a real
/// host; a `native` client answers on loopback (or a private-use scheme), never on a
/// remote https host.
fn check_application_type(
    stated: ApplicationType,
    uris: &[RedirectUri],
) -> Result<(), MetadataError> {
    for (i, uri) in uris.iter().enumerate() {
        match stated {
            ApplicationType::Web if has_loopback_host(uri) => {
                return Err(redirect(format!(
                    "redirect_uris[{i}] is a loopback address, which a web application may \
                     not use; register it with application_type \"native\""
                )));
            }
            ApplicationType::Web if !is_https(uri) => {
                return Err(redirect(format!(
                    "redirect_uris[{i}] must be an https URI for application_type \"web\""
                )));
            }
            ApplicationType::Native if is_https(uri) && !has_loopback_host(uri) => {
                return Err(redirect(format!(
                    "redirect_uris[{i}] is a remote https URI, which a native application \
                     may not use; native applications answer on http://127.0.0.1, \
                     http://[::1] or http://localhost (or register with application_type \"web\")"
                )));
            }
            ApplicationType::Web | ApplicationType::Native => {}
        }
    }
    Ok(())
}

/// DCR-5: `private_key_jwt` needs exactly one of `jwks` (public keys only) and
/// `jwks_uri` (https); no other method carries keys.
fn parse_keys(
    method: AuthMethod,
    jwks: Option<&Value>,
    jwks_uri: Option<&str>,
) -> Result<ClientKeys, MetadataError> {
    let keys = match (jwks, jwks_uri) {
        (Some(_), Some(_)) => {
            return Err(metadata("give jwks or jwks_uri, not both"));
        }
        (Some(set), None) => {
            check_public_jwks(set).map_err(|e| metadata(format!("jwks {e}")))?;
            ClientKeys::Jwks(set.clone())
        }
        (None, Some(uri)) => {
            let is_https = ResourceUri::parse(uri).is_ok_and(|u| u.is_https());
            if !is_https {
                return Err(metadata(
                    "jwks_uri must be an https URL without fragment or user information",
                ));
            }
            ClientKeys::JwksUri(uri.to_owned())
        }
        (None, None) => ClientKeys::None,
    };
    match (method, &keys) {
        (AuthMethod::PrivateKeyJwt, ClientKeys::None) => Err(metadata(
            "token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri",
        )),
        (AuthMethod::PrivateKeyJwt, _) | (_, ClientKeys::None) => Ok(keys),
        (other, _) => Err(metadata(format!(
            "jwks and jwks_uri are only for private_key_jwt, not {}",
            other.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(body: &Value) -> Result<ClientMetadata, MetadataError> {
        parse(body.to_string().as_bytes())
    }

    fn refused(body: &Value) -> MetadataError {
        parsed(body).unwrap_err()
    }

    #[test]
    fn dcr_2_defaults_follow_rfc_7591() {
        let meta = parsed(&json!({"redirect_uris": ["https://app.example.com/cb"]})).unwrap();
        assert_eq!(meta.client_name, UNNAMED_CLIENT);
        assert_eq!(meta.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(meta.grant_types, [GrantType::AuthorizationCode]);
        assert_eq!(meta.response_types(), ["code"]);
        assert_eq!(meta.application_type, ApplicationType::Web);
        assert_eq!(meta.keys, ClientKeys::None);
        assert_eq!(meta.scope, None);
    }

    #[test]
    fn dcr_3_body_must_be_a_json_object() {
        for body in [&b"{"[..], b"[]", b"\"x\"", b""] {
            assert_eq!(parse(body).unwrap_err().code(), "invalid_client_metadata");
        }
        let error = refused(&json!({"client_name": 7}));
        assert!(error.description().contains("client_name"), "{error}");
        let error = refused(&json!({"redirect_uris": ["https://a.example/cb", 3]}));
        assert!(error.description().contains("redirect_uris[1]"), "{error}");
    }

    #[test]
    fn dcr_4_redirect_uris_follow_sec_3() {
        for bad in [
            "javascript:alert(1)",
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "/relative",
            "com.example.app:/cb",
        ] {
            let error = refused(&json!({"redirect_uris": [bad]}));
            assert_eq!(error.code(), "invalid_redirect_uri", "{bad}");
            assert!(error.description().contains("redirect_uris[0]"), "{error}");
        }
        let missing = refused(&json!({"client_name": "x"}));
        assert_eq!(missing.code(), "invalid_redirect_uri");
        let twice =
            refused(&json!({"redirect_uris": ["https://a.example/cb", "https://a.example/cb"]}));
        assert!(twice.description().contains("twice"), "{twice}");
    }

    #[test]
    fn dcr_5_auth_methods() {
        let uris = json!(["https://app.example.com/cb"]);
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]});
        let none = parsed(&json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"}));
        assert_eq!(none.unwrap().auth_method, AuthMethod::None);
        let jwt = parsed(&json!({"redirect_uris": uris,
            "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}))
        .unwrap();
        assert_eq!(jwt.keys, ClientKeys::Jwks(jwks.clone()));
        for body in [
            json!({"redirect_uris": uris, "token_endpoint_auth_method": "client_secret_jwt"}),
            json!({"redirect_uris": uris, "token_endpoint_auth_method": "tls_client_auth"}),
            json!({"redirect_uris": uris, "token_endpoint_auth_method": "private_key_jwt"}),
            json!({"redirect_uris": uris, "token_endpoint_auth_method": "private_key_jwt",
                   "jwks": jwks, "jwks_uri": "https://app.example.com/jwks"}),
            json!({"redirect_uris": uris, "token_endpoint_auth_method": "private_key_jwt",
                   "jwks_uri": "http://app.example.com/jwks"}),
            json!({"redirect_uris": uris, "jwks": jwks}),
        ] {
            assert_eq!(refused(&body).code(), "invalid_client_metadata", "{body}");
        }
    }

    #[test]
    fn dcr_6_application_type_is_inferred_and_checked() {
        let native = parsed(&json!({"redirect_uris": ["http://127.0.0.1/cb", "http://[::1]/cb"]}));
        assert_eq!(native.unwrap().application_type, ApplicationType::Native);
        let mixed =
            parsed(&json!({"redirect_uris": ["http://127.0.0.1/cb", "https://a.example/cb"]}));
        assert_eq!(mixed.unwrap().application_type, ApplicationType::Web);
        let web_loopback = refused(&json!({"application_type": "web",
            "redirect_uris": ["http://localhost:3000/cb"]}));
        assert_eq!(web_loopback.code(), "invalid_redirect_uri");
        assert!(
            web_loopback.description().contains("native"),
            "{web_loopback}"
        );
        let native_remote = refused(&json!({"application_type": "native",
            "redirect_uris": ["https://app.example.com/cb"]}));
        assert_eq!(native_remote.code(), "invalid_redirect_uri");
        let other = refused(&json!({"application_type": "desktop",
            "redirect_uris": ["https://app.example.com/cb"]}));
        assert_eq!(other.code(), "invalid_client_metadata");
    }

    #[test]
    fn dcr_8_grant_and_response_types_must_be_coherent() {
        let uris = json!(["https://app.example.com/cb"]);
        for body in [
            json!({"redirect_uris": uris, "grant_types": ["implicit"]}),
            json!({"redirect_uris": uris, "grant_types": ["password"]}),
            json!({"redirect_uris": uris, "grant_types": ["urn:example:custom"]}),
            json!({"redirect_uris": uris, "grant_types": ["refresh_token"]}),
            json!({"redirect_uris": uris, "grant_types": []}),
            json!({"redirect_uris": uris, "grant_types": ["client_credentials"],
                   "token_endpoint_auth_method": "none", "response_types": []}),
            json!({"redirect_uris": uris, "response_types": ["token"]}),
            json!({"redirect_uris": uris, "response_types": ["code id_token"]}),
            json!({"redirect_uris": uris, "response_types": []}),
        ] {
            assert_eq!(refused(&body).code(), "invalid_client_metadata", "{body}");
        }
        let both = parsed(&json!({"redirect_uris": uris,
            "grant_types": ["authorization_code", "refresh_token", "authorization_code"],
            "response_types": ["code"]}))
        .unwrap();
        assert_eq!(
            both.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
    }

    #[test]
    fn informational_urls_are_kept_only_when_https() {
        let meta = parsed(&json!({"redirect_uris": ["https://app.example.com/cb"],
            "client_uri": "https://app.example.com", "logo_uri": "javascript:alert(1)",
            "tos_uri": "http://app.example.com/tos", "policy_uri": null}))
        .unwrap();
        assert_eq!(
            meta.links,
            ClientLinks {
                client_uri: Some("https://app.example.com".to_owned()),
                ..ClientLinks::default()
            }
        );
    }
}
