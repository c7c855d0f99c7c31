//! JWKS and signing keys (META-10, TOK-1).

use std::time::Duration;

use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestApp};

async fn jwks(app: &TestApp) -> (Value, String) {
    let response = app.get("/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.json().await.unwrap(), cache)
}

fn kids(set: &Value) -> Vec<String> {
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Signs a token with the server's current key and checks it against the served JWKS.
async fn assert_verifies_with_jwks(app: &TestApp) -> String {
    let now = app.clock.now();
    let claims = json!({"iss": app.issuer, "sub": "usr_x", "aud": "https://mcp.example", "exp": now + 600, "iat": now});
    let token = app
        .server()
        .state
        .keyring
        .sign("at+jwt", &claims, now)
        .unwrap();
    let header = decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.clone().unwrap();
    let (set, _) = jwks(app).await;
    let set: JwkSet = serde_json::from_value(set).unwrap();
    let jwk = set.find(&kid).expect("signing kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["https://mcp.example"]);
    validation.validate_exp = false;
    decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
    kid
}

use mcp_authz::clock::Clock as _;

async fn meta_10_jwks_lists_public_keys_with_unique_kids(app: TestApp) {
    let (set, cache) = jwks(&app).await;
    assert_eq!(cache, "public, max-age=300");
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    for key in keys {
        // Public members only.
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["use"], "sig");
    }
    assert_verifies_with_jwks(&app).await;
    app.finish().await;
}

async fn meta_10_rotation_publishes_before_signing_and_keeps_old_key(app: TestApp) {
    let first = assert_verifies_with_jwks(&app).await;
    let keyring = &app.server().state.keyring;
    let actor = mcp_authz::audit::Actor::Cli;
    let second = keyring
        .rotate(&actor, app.clock.now())
        .await
        .unwrap()
        .unwrap();
    // A second rotation while one is pending does nothing.
    assert_eq!(keyring.rotate(&actor, app.clock.now()).await.unwrap(), None);
    // Published at once, not yet signing.
    let (set, _) = jwks(&app).await;
    assert_eq!(kids(&set), vec![first.clone(), second.clone()]);
    assert_eq!(assert_verifies_with_jwks(&app).await, first);
    // After publish_ahead (1h by default) the new key signs; the old one stays listed.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(assert_verifies_with_jwks(&app).await, second);
    let (set, _) = jwks(&app).await;
    assert!(kids(&set).contains(&first));
    // After retain_after_retire (1d) the old key leaves the JWKS.
    app.clock.advance(Duration::from_secs(24 * 3600));
    let (set, _) = jwks(&app).await;
    assert_eq!(kids(&set), vec![second.clone()]);
    app.finish().await;
}

async fn meta_10_scheduled_rotation_after_rotate_after(app: TestApp) {
    let keyring = &app.server().state.keyring;
    assert_eq!(keyring.rotate_if_due(app.clock.now()).await.unwrap(), None);
    app.clock.advance(Duration::from_secs(30 * 24 * 3600));
    let next = keyring.rotate_if_due(app.clock.now()).await.unwrap();
    assert!(next.is_some());
    assert_eq!(keyring.rotate_if_due(app.clock.now()).await.unwrap(), None);
    app.finish().await;
}

async fn restart_keeps_signing_keys(mut app: TestApp) {
    let before = kids(&jwks(&app).await.0);
    app.restart().await;
    assert_eq!(kids(&jwks(&app).await.0), before);
    assert_verifies_with_jwks(&app).await;
    app.finish().await;
}

both_backends!(
    meta_10_jwks_lists_public_keys_with_unique_kids,
    meta_10_rotation_publishes_before_signing_and_keeps_old_key,
    meta_10_scheduled_rotation_after_rotate_after,
    restart_keeps_signing_keys,
);

#[tokio::test]
async fn tok_1_eddsa_and_rs256_are_selectable() {
    for (alg, kty) in [("EdDSA", "OKP"), ("RS256", "RSA")] {
        let app = TestApp::spawn_with(
            Backend::Sqlite,
            "",
            &format!("[keys]\nalgorithm = \"{alg}\""),
        )
        .await;
        let (set, _) = jwks(&app).await;
        assert_eq!(set["keys"][0]["alg"], alg);
        assert_eq!(set["keys"][0]["kty"], kty);
        assert_verifies_with_jwks(&app).await;
        app.finish().await;
    }
}
