//! `/admin/api/v1/clients` (CORE-10, CORE-19, SEC-1..3, SEC-13, SEC-16).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;
use mcp_authz::domain::ids::ClientId;

const CLIENTS: &str = "/admin/api/v1/clients";

fn unreserved(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

async fn sec_13_confidential_client_secret_is_shown_once_and_stored_hashed(app: TestApp) {
    app.create_server(
        "https://mcp.example.com/mcp",
        &["tools:read"],
        &["tools:read"],
    )
    .await;
    let body = json!({
        "client_name": "Nightly agent",
        "grant_types": ["client_credentials"],
        "allowed_resources": ["https://mcp.example.com/mcp"],
        "scope": "tools:read",
    });
    let created = app
        .admin_ok(Method::POST, CLIENTS, Some(body), StatusCode::CREATED)
        .await;
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(created["client_secret_expires_at"], 0);
    assert_eq!(created["client_type"], "confidential");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        created["allowed_resources"],
        json!(["https://mcp.example.com/mcp"])
    );
    // 256-bit secret; ids and secrets use unreserved URL characters only.
    assert_eq!(secret.len(), 43);
    assert!(unreserved(client_id) && unreserved(secret));
    // Never shown again.
    let read = app
        .admin_ok(
            Method::GET,
            &format!("{CLIENTS}/{client_id}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert!(read.get("client_secret").is_none());
    let list = app
        .admin_ok(Method::GET, CLIENTS, None, StatusCode::OK)
        .await;
    assert!(!list.to_string().contains(secret));
    // Stored as a keyed hash that verifies the secret, not the secret itself.
    let state = &app.server().state;
    let id = ClientId::from_stored(client_id.to_owned());
    let stored = state
        .store
        .list_active_client_secrets(&id, app.clock.now())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].secret_hash, secret.as_bytes());
    assert_eq!(state.admin.hasher.hash(secret), stored[0].secret_hash);
    assert_ne!(state.admin.hasher.hash("guess"), stored[0].secret_hash);
    app.finish().await;
}

use mcp_authz::clock::Clock as _;

async fn core_10_public_client_gets_no_secret(app: TestApp) {
    let body = json!({
        "client_name": "Desktop app",
        "token_endpoint_auth_method": "none",
        "redirect_uris": ["http://127.0.0.1/callback", "https://app.example.com/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
    });
    let created = app
        .admin_ok(Method::POST, CLIENTS, Some(body), StatusCode::CREATED)
        .await;
    assert!(created.get("client_secret").is_none());
    assert_eq!(created["client_type"], "public");
    assert_eq!(created["allowed_resources"], Value::Null);
    assert_eq!(
        created["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(created["source"], "registered");
    app.finish().await;
}

async fn invalid_client_input_names_the_field_and_writes_nothing(app: TestApp) {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"client_name": "", "redirect_uris": ["https://a.example/cb"]}),
            "client_name",
        ),
        (json!({"client_name": "x"}), "redirect_uris"),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb", "javascript:alert(1)"]}),
            "redirect_uris[1]",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["http://evil.example/cb"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb#frag"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"client_name": "x", "grant_types": ["implicit"]}),
            "grant_types[0]",
        ),
        (
            json!({"client_name": "x", "grant_types": ["password"]}),
            "grant_types[0]",
        ),
        (
            json!({"client_name": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "grant_types",
        ),
        (
            json!({"client_name": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "magic"}),
            "token_endpoint_auth_method",
        ),
        (
            json!({"client_name": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}),
            "jwks",
        ),
        (
            json!({"client_name": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"}]}}),
            "jwks",
        ),
        (
            json!({"client_name": "x", "grant_types": ["client_credentials"], "allowed_resources": ["https://unknown.example/"]}),
            "allowed_resources[0]",
        ),
        (
            json!({"client_name": "x", "grant_types": ["client_credentials"], "scope": "a\\b"}),
            "scope",
        ),
    ];
    for (body, field) in cases {
        let response = app.admin(Method::POST, CLIENTS, Some(body.clone())).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{body} -> {error}");
    }
    let list = app
        .admin_ok(Method::GET, CLIENTS, None, StatusCode::OK)
        .await;
    assert_eq!(list["items"], json!([]));
    let events = app
        .server()
        .state
        .store
        .list_audit_events(None, 100)
        .await
        .unwrap();
    assert!(
        events.iter().all(|e| !e.action.starts_with("client.")),
        "{events:?}"
    );
    app.finish().await;
}

async fn clients_are_updated_listed_and_deleted(app: TestApp) {
    app.create_server("https://a.example/", &["read"], &[])
        .await;
    let body = json!({"client_name": "Agent", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                      "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "k1"}]}});
    let created = app
        .admin_ok(Method::POST, CLIENTS, Some(body), StatusCode::CREATED)
        .await;
    assert!(created.get("client_secret").is_none());
    assert_eq!(created["jwks"]["keys"][0]["kid"], "k1");
    let id = created["client_id"].as_str().unwrap();
    let patch = json!({"client_name": "Agent 2", "allowed_resources": ["https://a.example/"], "enabled": false});
    let updated = app
        .admin_ok(
            Method::PATCH,
            &format!("{CLIENTS}/{id}"),
            Some(patch),
            StatusCode::OK,
        )
        .await;
    assert_eq!(updated["client_name"], "Agent 2");
    assert_eq!(updated["allowed_resources"], json!(["https://a.example/"]));
    assert_eq!(updated["enabled"], false);
    let reset = app
        .admin_ok(
            Method::PATCH,
            &format!("{CLIENTS}/{id}"),
            Some(json!({"allowed_resources": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(reset["allowed_resources"], Value::Null);
    let bad = app
        .admin(
            Method::PATCH,
            &format!("{CLIENTS}/{id}"),
            Some(json!({"grant_types": ["implicit"]})),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.admin(Method::DELETE, &format!("{CLIENTS}/{id}"), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.admin(Method::GET, &format!("{CLIENTS}/{id}"), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}

both_backends!(
    sec_13_confidential_client_secret_is_shown_once_and_stored_hashed,
    core_10_public_client_gets_no_secret,
    invalid_client_input_names_the_field_and_writes_nothing,
    clients_are_updated_listed_and_deleted,
);
