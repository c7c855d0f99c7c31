//! A restart keeps data and keys.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::harness::TestApp;

async fn restart_keeps_servers_clients_and_users(mut app: TestApp) {
    let server = app
        .create_server("https://mcp.example.com/", &["read"], &["read"])
        .await;
    let client = app
        .admin_ok(
            Method::POST,
            "/admin/api/v1/clients",
            Some(json!({"client_name": "c", "grant_types": ["client_credentials"]})),
            StatusCode::CREATED,
        )
        .await;
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(json!({"username": "erin", "password": "password1"})),
        StatusCode::CREATED,
    )
    .await;
    app.restart().await;
    let path = format!(
        "/admin/api/v1/servers/{}",
        server["server_id"].as_str().unwrap()
    );
    assert_eq!(
        app.admin_ok(Method::GET, &path, None, StatusCode::OK).await,
        server
    );
    let path = format!(
        "/admin/api/v1/clients/{}",
        client["client_id"].as_str().unwrap()
    );
    assert_eq!(
        app.admin_ok(Method::GET, &path, None, StatusCode::OK).await["client_name"],
        "c"
    );
    let users = app
        .admin_ok(Method::GET, "/admin/api/v1/users", None, StatusCode::OK)
        .await;
    assert_eq!(users["items"][0]["username"], "erin");
    app.finish().await;
}

both_backends!(restart_keeps_servers_clients_and_users);
