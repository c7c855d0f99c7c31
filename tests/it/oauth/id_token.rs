//! OpenID ID tokens in the code flow: asked for with `openid`, bound to the client and
//! the nonce, signed with our published keys, and never an access token.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{RESOURCE, desktop_tokens, jwt_payload};

fn header_of(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

async fn openid_scope_brings_an_id_token_with_the_nonce(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(
        &app,
        &fixture,
        &[
            ("resource", RESOURCE),
            ("scope", "openid tools:read"),
            ("nonce", "n-0S6_WzA2Mj"),
        ],
    )
    .await;
    // `openid` is the AS's own scope: the access token carries only resource scopes.
    assert_eq!(tokens["scope"], "tools:read");
    let access = jwt_payload(tokens["access_token"].as_str().unwrap());
    let id_token = tokens["id_token"].as_str().expect("an id_token");
    assert_eq!(header_of(id_token)["typ"], "JWT");
    let claims = jwt_payload(id_token);
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], fixture.desktop.as_str());
    assert_eq!(claims["sub"], access["sub"]);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert!(claims["auth_time"].as_i64().is_some());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    // Signed by a key in our JWKS.
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    let kid = header_of(id_token)["kid"].as_str().unwrap().to_owned();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str())
    );
    app.finish().await;
}

both_backends!(openid_scope_brings_an_id_token_with_the_nonce);

async fn without_openid_there_is_no_id_token(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    assert!(tokens.get("id_token").is_none(), "{tokens}");
    app.finish().await;
}

both_backends!(without_openid_there_is_no_id_token);

/// `openid email` puts the account's recorded address in the ID token, marked verified;
/// `openid` alone does not, and `email` is no resource scope beside `openid`.
async fn openid_email_scope_adds_the_recorded_address(app: TestApp) {
    let fixture = app.fixture().await;
    let users = app
        .admin_ok(
            reqwest::Method::GET,
            "/admin/api/v1/users",
            None,
            StatusCode::OK,
        )
        .await;
    let user = users["items"][0]["user_id"].as_str().unwrap().to_owned();
    app.admin_ok(
        reqwest::Method::PATCH,
        &format!("/admin/api/v1/users/{user}"),
        Some(serde_json::json!({"email": "Alice@Example.com"})),
        StatusCode::OK,
    )
    .await;
    let scope = [("resource", RESOURCE), ("scope", "openid email tools:read")];
    let tokens = desktop_tokens(&app, &fixture, &scope).await;
    assert_eq!(tokens["scope"], "tools:read", "{tokens}");
    let claims = jwt_payload(tokens["id_token"].as_str().expect("an id_token"));
    assert_eq!(claims["email"], "alice@example.com", "{claims}");
    assert_eq!(claims["email_verified"], true, "{claims}");
    let without = [("resource", RESOURCE), ("scope", "openid tools:read")];
    let tokens = desktop_tokens(&app, &fixture, &without).await;
    let claims = jwt_payload(tokens["id_token"].as_str().expect("an id_token"));
    assert!(claims.get("email").is_none(), "{claims}");
    assert!(claims.get("email_verified").is_none(), "{claims}");
    app.finish().await;
}

both_backends!(openid_email_scope_adds_the_recorded_address);

async fn openid_is_advertised_and_reserved(app: TestApp) {
    let doc: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("openid"))
    );
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("email"))
    );
    let claims = doc["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&Value::from("email_verified")), "{doc}");
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    // A server cannot define `openid` as one of its scopes.
    let response = app
        .admin(
            reqwest::Method::POST,
            "/admin/api/v1/servers",
            Some(serde_json::json!({
                "resource": "https://mcp.example.com/openid", "name": "Bad",
                "scopes": [{"name": "openid", "description": "x"}], "default_scopes": []
            })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.finish().await;
}

both_backends!(openid_is_advertised_and_reserved);
