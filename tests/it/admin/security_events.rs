//! Security events in the audit log: failed sign-ins and lockouts (with the client's
//! address), client-authentication failures, refused registrations and refused ID-JAGs,
//! all within a budget so that an attacker cannot flood the table; and retention.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::cimd::audit_events;
use crate::cross_app_access::Xaa;
use crate::harness::flow::{UserAgent, hidden};
use crate::harness::{Backend, TestApp};

/// Tries to sign in as `username` with a wrong password.
async fn wrong_password(app: &TestApp, username: &str) -> StatusCode {
    let mut agent = UserAgent::new(app);
    let page = agent.get("/login").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", username),
        ("password", "not the password"),
    ];
    agent.post("/login", &form).await.status()
}

async fn security_events_are_audited(backend: Backend) {
    let app = TestApp::spawn_with(backend, "", "[dcr]\nmode = \"open\"\n").await;
    // Failed sign-ins, then the lockout (after `sessions.login_attempts_per_username`).
    for _ in 0..5 {
        assert_eq!(
            wrong_password(&app, "Mallory").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        wrong_password(&app, "mallory").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let failed = audit_events(&app, "login.failed").await;
    assert_eq!(failed.len(), 5, "{failed:?}");
    assert_eq!(failed[0].target_id, "mallory");
    assert_eq!(failed[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert!(!failed[0].detail.contains("not the password"));
    assert_eq!(audit_events(&app, "login.throttled").await.len(), 1);

    // A client-authentication failure names the claimed client, never the secret.
    let (status, _, _) = app
        .token(
            &[("grant_type", "client_credentials")],
            Some(("cli_unknown", "guessed-secret")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refused = audit_events(&app, "client_auth.failed").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].target_id, "cli_unknown");
    assert_eq!(refused[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert!(!refused[0].detail.contains("guessed-secret"));

    // A refused registration.
    let response = app
        .http
        .post(format!("{}/oauth2/register", app.base))
        .json(&json!({"redirect_uris": ["javascript:alert(1)"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let rejected = audit_events(&app, "dcr.rejected").await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].target_id, "127.0.0.1");

    // A refused ID-JAG: the reason, never the assertion.
    let xaa = Xaa::new(app).await;
    let expired = xaa.id_jag().claim("exp", json!(1)).jwt();
    xaa.redeem(&expired).await;
    let rejected = audit_events(&xaa.app, "id_jag.rejected").await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(rejected[0].target_id, xaa.client_id);
    assert!(
        !rejected[0].detail.contains(&expired),
        "the assertion was stored"
    );

    // The kind `security` lists these, and none of the admin changes around them.
    let listed = xaa
        .app
        .admin_ok(
            reqwest::Method::GET,
            "/admin/api/v1/audit?kind=security&limit=100",
            None,
            StatusCode::OK,
        )
        .await;
    let mut actions: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions.sort_unstable();
    actions.dedup();
    assert_eq!(
        actions,
        [
            "client_auth.failed",
            "dcr.rejected",
            "id_jag.rejected",
            "login.failed",
            "login.throttled"
        ],
        "{listed}"
    );
    assert_eq!(listed["items"].as_array().unwrap().len(), 9, "{listed}");
    xaa.finish().await;
}

both_backends!(backend: security_events_are_audited);

/// Beyond `admin.security_events_per_minute`, refusals reach only the log file.
async fn security_events_are_budgeted(backend: Backend) {
    let app = TestApp::spawn_with(backend, "", "[admin]\nsecurity_events_per_minute = 3\n").await;
    for _ in 0..8 {
        app.token(
            &[("grant_type", "client_credentials")],
            Some(("cli_unknown", "guessed-secret")),
        )
        .await;
    }
    assert_eq!(audit_events(&app, "client_auth.failed").await.len(), 3);
    app.finish().await;
}

both_backends!(backend: security_events_are_budgeted);

/// `admin.audit_retention`: events older than the cutoff go, newer ones stay.
async fn audit_events_past_retention_are_deleted(app: TestApp) {
    let store = &app.server().state.store;
    let before = store.list_audit_events(None, 100).await.unwrap();
    assert!(!before.is_empty(), "the first key's creation is audited");
    let oldest = before.iter().map(|e| e.occurred_at).min().unwrap();
    let removed = store.delete_audit_events_before(oldest).await.unwrap();
    assert_eq!(removed, 0);
    let removed = store.delete_audit_events_before(oldest + 1).await.unwrap();
    assert_eq!(removed as usize, before.len());
    assert!(store.list_audit_events(None, 100).await.unwrap().is_empty());
    app.finish().await;
}

both_backends!(audit_events_past_retention_are_deleted);
