//! CC-4: discovery metadata offers the grant, `private_key_jwt` and the signing
//! algorithms at every endpoint that authenticates clients.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;

fn strings(doc: &Value, member: &str) -> Vec<String> {
    doc[member]
        .as_array()
        .unwrap_or_else(|| panic!("no {member} in {doc}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn cc_4_metadata_lists_client_credentials_private_key_jwt_and_algorithms(app: TestApp) {
    let doc: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        strings(&doc, "grant_types_supported").contains(&"client_credentials".to_owned()),
        "{doc}"
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!([
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        doc["revocation_endpoint_auth_methods_supported"],
        doc["token_endpoint_auth_methods_supported"]
    );
    // INTRO-1: introspection has no public callers.
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    for endpoint in ["token", "revocation", "introspection"] {
        let algs = strings(
            &doc,
            &format!("{endpoint}_endpoint_auth_signing_alg_values_supported"),
        );
        // What the client assertion tests sign with, and RSA for the common libraries.
        for wanted in ["ES256", "EdDSA", "RS256", "PS256"] {
            assert!(algs.iter().any(|a| a == wanted), "{endpoint}: {algs:?}");
        }
        // TOK-7: never none, never a MAC.
        assert!(
            algs.iter()
                .all(|a| !a.eq_ignore_ascii_case("none") && !a.starts_with("HS")),
            "{endpoint}: {algs:?}"
        );
    }
    app.finish().await;
}

both_backends!(cc_4_metadata_lists_client_credentials_private_key_jwt_and_algorithms);
