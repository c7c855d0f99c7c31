//! RFC 8414 authorization-server metadata (META-1..10, ISS-3, PKCE-6).
//!
//! Lists exactly what this server has enabled; later capabilities add their members
//! here as they land (CIMD, DCR, client credentials, ID-JAG). Scopes come from the
//! registered MCP servers, so the document is rebuilt when the registry changes.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use serde_json::{Value, json};

use super::client_assertion::SIGNING_ALGORITHMS;
use crate::config::Issuer;
use crate::domain::client::GrantType;
use crate::domain::scope::{EMAIL, OFFLINE_ACCESS, OPENID, ScopeSet};
use crate::domain::server::McpServer;

/// Path of the JWKS document under the issuer.
pub const JWKS_PATH: &str = "/jwks.json";
/// Authorization endpoint path under the issuer.
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
/// Token endpoint path under the issuer.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Introspection endpoint path under the issuer.
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
/// Revocation endpoint path under the issuer.
pub const REVOKE_PATH: &str = "/oauth2/revoke";

/// Optional capabilities the document advertises only when switched on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Features {
    /// `cimd.enabled` (META-7, CIMD-1).
    pub client_id_metadata_documents: bool,
    /// The algorithm ID tokens are signed with, for the OpenID members
    /// (`id_token_signing_alg_values_supported`, `subject_types_supported`).
    pub id_token_signing_alg: Option<&'static str>,
    /// `token_exchange.enabled`: ID-JAGs are issued by token exchange (XAA-24).
    pub token_exchange: bool,
}

/// The metadata document as served: rendered once per registry snapshot and handed
/// out as shared bytes, so a discovery request costs a pointer comparison, not a JSON
/// build (ARCHITECTURE section 10).
#[derive(Debug)]
pub struct MetadataRenderer {
    issuer: Issuer,
    features: Features,
    registration_endpoint: bool,
    rendered: ArcSwapOption<Rendered>,
}

#[derive(Debug)]
struct Rendered {
    servers: Arc<Vec<McpServer>>,
    bytes: Bytes,
}

impl MetadataRenderer {
    /// A renderer for this issuer; `registration_endpoint` while DCR is on (META-8).
    pub fn new(issuer: Issuer, features: Features, registration_endpoint: bool) -> Self {
        Self {
            issuer,
            features,
            registration_endpoint,
            rendered: ArcSwapOption::empty(),
        }
    }

    /// The document for the registry snapshot `servers`.
    pub fn render(&self, servers: &Arc<Vec<McpServer>>) -> Bytes {
        if let Some(rendered) = self.rendered.load().as_ref()
            && Arc::ptr_eq(&rendered.servers, servers)
        {
            return rendered.bytes.clone();
        }
        let mut doc = document(&self.issuer, servers, self.features);
        if self.registration_endpoint {
            add_registration_endpoint(&mut doc, &self.issuer);
        }
        let bytes = Bytes::from(doc.to_string());
        self.rendered.store(Some(Arc::new(Rendered {
            servers: Arc::clone(servers),
            bytes: bytes.clone(),
        })));
        bytes
    }
}

/// META-8: lists the registration endpoint; call only while dynamic registration is on,
/// since clients read the member as an offer to register.
pub fn add_registration_endpoint(doc: &mut Value, issuer: &Issuer) {
    if let Some(object) = doc.as_object_mut() {
        object.insert(
            "registration_endpoint".to_owned(),
            json!(issuer.endpoint(super::register::REGISTER_PATH)),
        );
    }
}

/// The metadata document as JSON, for the enabled `servers`.
pub fn document(issuer: &Issuer, servers: &[McpServer], features: Features) -> Value {
    let enabled: Vec<&McpServer> = servers.iter().filter(|s| s.is_enabled).collect();
    let scopes = enabled
        .iter()
        .fold(ScopeSet::default(), |all, s| all.union(&s.scope_set()));
    let mut scopes_supported: Vec<String> = scopes.iter().map(ToString::to_string).collect();
    scopes_supported.push(OFFLINE_ACCESS.to_owned()); // SCOPE-7: an AS-level scope
    if features.id_token_signing_alg.is_some() {
        scopes_supported.push(OPENID.to_owned());
        if !scopes.iter().any(|token| token.as_str() == EMAIL) {
            scopes_supported.push(EMAIL.to_owned());
        }
    }
    let resources: Vec<&str> = enabled.iter().map(|s| s.resource.as_str()).collect();
    let signing_algs: Vec<String> = SIGNING_ALGORITHMS
        .iter()
        .map(|alg| format!("{alg:?}"))
        .collect();
    let mut doc = json!({
        // META-3: the configured issuer, never derived from request headers.
        "issuer": issuer.as_str(),
        "authorization_endpoint": issuer.endpoint(AUTHORIZE_PATH),
        "token_endpoint": issuer.endpoint(TOKEN_PATH),
        "jwks_uri": issuer.endpoint(JWKS_PATH),
        "introspection_endpoint": issuer.endpoint(INTROSPECT_PATH),
        "revocation_endpoint": issuer.endpoint(REVOKE_PATH),
        "scopes_supported": scopes_supported,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        // CC-4: machine clients look for client_credentials and their auth method here.
        // XAA-2: ID-JAG redemption; the trusted IdPs themselves are never listed.
        "grant_types_supported": [
            "authorization_code", "refresh_token", "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ],
        "authorization_grant_profiles_supported": [super::grants::jwt_bearer::ID_JAG_PROFILE],
        "token_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        // RFC 8414 section 2: required beside private_key_jwt, per endpoint.
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
        "introspection_endpoint_auth_signing_alg_values_supported": signing_algs,
        // PKCE-6, META-5: S256 only; MCP clients stop without this member.
        "code_challenge_methods_supported": ["S256"],
        // ISS-3
        "authorization_response_iss_parameter_supported": true,
    });
    let Some(object) = doc.as_object_mut() else {
        return doc;
    };
    // META-4: empty arrays are omitted.
    if !resources.is_empty() {
        object.insert("protected_resources".to_owned(), json!(resources));
    }
    if let Some(alg) = features.id_token_signing_alg {
        // OpenID Connect Discovery: ID tokens for the `openid` scope (also served at
        // /.well-known/openid-configuration).
        object.insert("subject_types_supported".to_owned(), json!(["public"]));
        object.insert(
            "id_token_signing_alg_values_supported".to_owned(),
            json!([alg]),
        );
        object.insert(
            "claims_supported".to_owned(),
            json!([
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "email",
                "email_verified"
            ]),
        );
    }
    if features.token_exchange {
        // XAA-24: the grant, and that it issues ID-JAGs.
        if let Some(grants) = object
            .get_mut("grant_types_supported")
            .and_then(Value::as_array_mut)
        {
            grants.push(json!(GrantType::TokenExchange.as_str()));
        }
        object.insert(
            "identity_chaining_requested_token_types_supported".to_owned(),
            json!([super::grants::token_exchange::ID_JAG_TOKEN_TYPE]),
        );
    }
    if features.client_id_metadata_documents {
        // META-7: clients look for exactly this member before using a URL client_id.
        object.insert(
            "client_id_metadata_document_supported".to_owned(),
            json!(true),
        );
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_3_issuer_and_endpoints_come_from_configuration() {
        let issuer = Issuer::parse("https://auth.example.com/tenant", false).unwrap();
        let doc = document(&issuer, &[], Features::default());
        assert_eq!(doc["issuer"], "https://auth.example.com/tenant");
        assert_eq!(doc["jwks_uri"], "https://auth.example.com/tenant/jwks.json");
        assert_eq!(
            doc["token_endpoint"],
            "https://auth.example.com/tenant/oauth2/token"
        );
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    }

    #[test]
    fn meta_7_cimd_support_is_advertised_only_when_on() {
        let issuer = Issuer::parse("https://auth.example.com", false).unwrap();
        let off = document(&issuer, &[], Features::default());
        assert!(off.get("client_id_metadata_document_supported").is_none());
        let on = document(
            &issuer,
            &[],
            Features {
                client_id_metadata_documents: true,
                ..Features::default()
            },
        );
        assert_eq!(on["client_id_metadata_document_supported"], true);
    }

    #[test]
    fn meta_8_registration_endpoint_only_when_added() {
        let issuer = Issuer::parse("https://auth.example.com/tenant", false).unwrap();
        let mut doc = document(&issuer, &[], Features::default());
        assert!(doc.get("registration_endpoint").is_none());
        add_registration_endpoint(&mut doc, &issuer);
        assert_eq!(
            doc["registration_endpoint"],
            "https://auth.example.com/tenant/oauth2/register"
        );
    }

    #[test]
    fn cc_4_client_credentials_and_private_key_jwt_are_advertised() {
        let issuer = Issuer::parse("https://auth.example.com", false).unwrap();
        let doc = document(&issuer, &[], Features::default());
        let grants = doc["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&json!("client_credentials")));
        for endpoint in ["token", "revocation", "introspection"] {
            let methods = doc[format!("{endpoint}_endpoint_auth_methods_supported")]
                .as_array()
                .unwrap();
            assert!(methods.contains(&json!("private_key_jwt")), "{endpoint}");
            assert!(
                methods.contains(&json!("client_secret_basic")),
                "{endpoint}"
            );
            let algs = doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")]
                .as_array()
                .unwrap();
            assert!(algs.contains(&json!("ES256")), "{endpoint}");
            assert!(algs.contains(&json!("EdDSA")), "{endpoint}");
            assert!(
                !algs
                    .iter()
                    .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS"))
            );
        }
    }

    #[test]
    fn meta_4_no_empty_arrays() {
        let issuer = Issuer::parse("https://auth.example.com", false).unwrap();
        let doc = document(&issuer, &[], Features::default());
        for (key, value) in doc.as_object().unwrap() {
            if let Some(array) = value.as_array() {
                assert!(!array.is_empty(), "{key} is an empty array");
            }
        }
    }
}
