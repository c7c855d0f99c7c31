//! Admin-API authentication: bootstrap token, created tokens, 401 otherwise.

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::harness::{TestApp, assert_api_error};
use mcp_authz::admin::{Actor, tokens};

async fn admin_api_requires_a_valid_bearer_token(app: TestApp) {
    let anonymous = app.get("/admin/api/v1/servers").await;
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Bearer realm=\"mcp-authz admin\""
    );
    assert_api_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    for bad in ["wrong", "mcpa_not-a-real-token", ""] {
        let response = app
            .request(Method::GET, "/admin/api/v1/servers")
            .header("Authorization", format!("Bearer {bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    app.admin_ok(Method::GET, "/admin/api/v1/servers", None, StatusCode::OK)
        .await;
    app.finish().await;
}

async fn created_admin_tokens_work_and_are_stored_hashed(app: TestApp) {
    let ctx = &app.server().state.admin;
    let (token, record) = tokens::create(ctx, &Actor::Cli, "ci", None).await.unwrap();
    assert!(token.starts_with(tokens::TOKEN_PREFIX));
    let response = app
        .request(Method::POST, "/admin/api/v1/users")
        .bearer_auth(&token)
        .json(&serde_json::json!({"username": "bob", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    // The audit log names the token that acted.
    let events = app
        .server()
        .state
        .store
        .list_audit_events(None, 10)
        .await
        .unwrap();
    assert_eq!(events[0].action, "user.created");
    assert_eq!(events[0].actor, format!("admin-token:{}", record.token_id));
    // An expired token stops working.
    let (short, _) = tokens::create(ctx, &Actor::Cli, "short", Some(60))
        .await
        .unwrap();
    app.clock.advance(std::time::Duration::from_secs(61));
    let response = app
        .request(Method::GET, "/admin/api/v1/users")
        .bearer_auth(&short)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

both_backends!(
    admin_api_requires_a_valid_bearer_token,
    created_admin_tokens_work_and_are_stored_hashed
);
