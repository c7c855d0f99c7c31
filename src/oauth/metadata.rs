//! RFC 8414 authorization-server metadata (META-1..10).
//!
//! Lists exactly what this server has enabled: later capabilities add their members
//! here as they land (authorization and token endpoints, grant types, CIMD, DCR…).
//! The document depends only on configuration, so it is rendered once at start.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::config::Issuer;

/// Path of the JWKS document under the issuer.
pub const JWKS_PATH: &str = "/jwks.json";

/// The metadata document as JSON.
pub fn document(issuer: &Issuer) -> Value {
    json!({
        // META-3: the configured issuer, never derived from request headers.
        "issuer": issuer.as_str(),
        // META-10: public signing keys.
        "jwks_uri": issuer.endpoint(JWKS_PATH),
        // PKCE-6, META-5: S256 only; MCP clients stop without this member.
        "code_challenge_methods_supported": ["S256"],
    })
}

/// The metadata document pre-rendered for serving.
pub fn render(issuer: &Issuer) -> Bytes {
    Bytes::from(document(issuer).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_3_issuer_and_endpoints_come_from_configuration() {
        let issuer = Issuer::parse("https://auth.example.com/tenant", false).unwrap();
        let doc = document(&issuer);
        assert_eq!(doc["issuer"], "https://auth.example.com/tenant");
        assert_eq!(doc["jwks_uri"], "https://auth.example.com/tenant/jwks.json");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    }

    #[test]
    fn meta_4_no_empty_arrays() {
        let issuer = Issuer::parse("https://auth.example.com", false).unwrap();
        let doc = document(&issuer);
        for (key, value) in doc.as_object().unwrap() {
            if let Some(array) = value.as_array() {
                assert!(!array.is_empty(), "{key} is an empty array");
            }
        }
    }
}
