//! Discovery metadata (META-1..5).

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::harness::{Backend, TestApp};

async fn meta_1_metadata_is_served_with_the_configured_issuer(app: TestApp) {
    let response = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status(), StatusCode::OK);
    // META-4: JSON, CORS allowed.
    assert_eq!(response.headers()["content-type"], "application/json");
    let response = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-authorization-server",
        )
        .header("Origin", "https://client.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    assert_eq!(doc["jwks_uri"], format!("{}/jwks.json", app.issuer));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // Nothing is listed that is not enabled yet, and no empty arrays (META-4).
    assert!(doc.get("registration_endpoint").is_none());
    for (key, value) in doc.as_object().unwrap() {
        assert!(value.as_array().is_none_or(|a| !a.is_empty()), "{key}");
    }
    // META-2: the OpenID discovery alias serves the same document.
    let alias: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(alias, doc);
    app.finish().await;
}

async fn meta_3_issuer_is_never_taken_from_the_host_header(app: TestApp) {
    let doc: Value = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-authorization-server",
        )
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    app.finish().await;
}

both_backends!(
    meta_1_metadata_is_served_with_the_configured_issuer,
    meta_3_issuer_is_never_taken_from_the_host_header
);

#[tokio::test]
async fn meta_1_issuer_path_is_inserted_after_the_well_known_prefix() {
    let app = TestApp::spawn_with(Backend::Sqlite, "/tenant", "").await;
    assert!(app.issuer.ends_with("/tenant"));
    let inserted = app
        .get("/.well-known/oauth-authorization-server/tenant")
        .await;
    assert_eq!(inserted.status(), StatusCode::OK);
    let doc: Value = inserted.json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    assert_eq!(doc["jwks_uri"], format!("{}/jwks.json", app.issuer));
    // The JWKS lives under the issuer path, as the metadata says.
    assert_eq!(app.get("/tenant/jwks.json").await.status(), StatusCode::OK);
    // META-2: OpenID alias in both the inserted and the appended form.
    for path in [
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
    ] {
        let alias: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(alias["issuer"], app.issuer, "{path}");
    }
    // Without the path the document is not this issuer's.
    assert_eq!(
        app.get("/.well-known/oauth-authorization-server")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}
