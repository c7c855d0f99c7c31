//! What the audit log records of an admin change (issue: the audit log): the object
//! before and after, as the API shows it, only the members that changed, never a secret;
//! on both databases.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::cimd::audit_events;
use crate::harness::TestApp;

/// The detail of the only `action` event, as JSON.
async fn detail_of(app: &TestApp, action: &str) -> Value {
    let events = audit_events(app, action).await;
    assert_eq!(events.len(), 1, "{action}: {events:?}");
    serde_json::from_str(&events[0].detail).unwrap()
}

async fn changes_are_recorded_before_and_after_without_secrets(app: TestApp) {
    let server = app
        .create_server(
            "https://docs.example.com/mcp",
            &["docs:read"],
            &["docs:read"],
        )
        .await;
    let server_id = server["server_id"].as_str().unwrap();
    let created = detail_of(&app, "server.created").await;
    assert!(created.get("before").is_none(), "{created}");
    assert_eq!(created["after"]["resource"], "https://docs.example.com/mcp");
    assert_eq!(created["after"]["default_scopes"], json!(["docs:read"]));

    // An update names what changed, and only that.
    let path = format!("/admin/api/v1/servers/{server_id}");
    let patch = json!({"name": "Docs, renamed", "enabled": false});
    app.admin_ok(Method::PATCH, &path, Some(patch), StatusCode::OK)
        .await;
    let updated = detail_of(&app, "server.updated").await;
    assert_eq!(
        updated,
        json!({
            "before": {"name": "Test MCP", "enabled": true},
            "after": {"name": "Docs, renamed", "enabled": false},
        }),
        "{updated}"
    );
    app.admin_ok(Method::DELETE, &path, None, StatusCode::NO_CONTENT)
        .await;
    let deleted = detail_of(&app, "server.deleted").await;
    assert_eq!(deleted["before"]["name"], "Docs, renamed", "{deleted}");
    assert!(deleted.get("after").is_none(), "{deleted}");

    // A client's secret is in the creation answer, never in its audit record.
    let client = app
        .create_client(
            json!({"client_name": "Nightly agent", "grant_types": ["client_credentials"]}),
        )
        .await;
    let secret = client["client_secret"].as_str().unwrap();
    let created = detail_of(&app, "client.created").await;
    assert_eq!(
        created["after"]["client_name"], "Nightly agent",
        "{created}"
    );
    assert!(!created.to_string().contains(secret), "{created}");
    assert!(created["after"].get("client_secret").is_none(), "{created}");

    // A password change says that it happened, not what the password is.
    let user = app
        .admin_ok(
            Method::POST,
            "/admin/api/v1/users",
            Some(json!({"username": "dana", "password": "correct horse battery"})),
            StatusCode::CREATED,
        )
        .await;
    let path = format!("/admin/api/v1/users/{}", user["user_id"].as_str().unwrap());
    let patch = json!({"password": "battery staple horse", "admin": true});
    app.admin_ok(Method::PATCH, &path, Some(patch), StatusCode::OK)
        .await;
    let updated = detail_of(&app, "user.updated").await;
    assert_eq!(updated["password_changed"], true, "{updated}");
    assert_eq!(updated["before"], json!({"admin": false}), "{updated}");
    assert_eq!(updated["after"], json!({"admin": true}), "{updated}");
    assert!(!updated.to_string().contains("battery staple"), "{updated}");
    app.finish().await;
}

both_backends!(changes_are_recorded_before_and_after_without_secrets);
