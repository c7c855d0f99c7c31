//! `/admin/api/v1/grants` and a user's sessions and identities: grants listed by user
//! and client and revoked (refresh tokens stop, the access token introspects
//! inactive); sessions listed and ended (that browser is signed out); each audited.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::cimd::audit_events;
use crate::harness::TestApp;
use crate::harness::flow::{PASSWORD, RESOURCE, USERNAME, UserAgent, desktop_tokens, jwt_payload};

async fn admin_get(app: &TestApp, path: &str) -> Value {
    app.admin_ok(Method::GET, path, None, StatusCode::OK).await
}

async fn grants_are_listed_and_revoked(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(
        &app,
        &fixture,
        &[
            ("resource", RESOURCE),
            ("scope", "tools:read offline_access"),
        ],
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let user = jwt_payload(&access)["sub"].as_str().unwrap().to_owned();

    let by_user = admin_get(&app, &format!("/admin/api/v1/grants?user_id={user}")).await;
    let items = by_user["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{by_user}");
    assert_eq!(items[0]["client_id"], fixture.desktop.as_str());
    assert_eq!(items[0]["active"], true);
    let by_client = admin_get(
        &app,
        &format!("/admin/api/v1/grants?client_id={}", fixture.web),
    )
    .await;
    assert_eq!(by_client["items"], json!([]), "another client's grants");
    let grant_id = items[0]["grant_id"].as_str().unwrap().to_owned();

    let revoked = app
        .admin_ok(
            Method::POST,
            &format!("/admin/api/v1/grants/{grant_id}/revoke"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(revoked["active"], false, "{revoked}");
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    // Its refresh token stops, its access token introspects inactive.
    let (status, _, _) = app
        .refresh_desktop(&fixture, tokens["refresh_token"].as_str().unwrap(), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!app.is_active_for_server(&fixture, &access).await);
    let events = audit_events(&app, "grant.revoked").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].target_id, grant_id);
    // Again: nothing more happens; an unknown grant is 404.
    app.admin_ok(
        Method::POST,
        &format!("/admin/api/v1/grants/{grant_id}/revoke"),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(audit_events(&app, "grant.revoked").await.len(), 1);
    let unknown = app
        .admin(
            Method::POST,
            "/admin/api/v1/grants/grt_unknown/revoke",
            None,
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

async fn sessions_are_listed_and_ended(app: TestApp) {
    let _fixture = app.fixture().await;
    let users = admin_get(&app, "/admin/api/v1/users").await;
    let user = users["items"][0]["user_id"].as_str().unwrap().to_owned();
    let mut browser = UserAgent::new(&app);
    let signed_in = browser.sign_in("/login", USERNAME, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/login").await.status(), StatusCode::SEE_OTHER);

    let sessions = admin_get(&app, &format!("/admin/api/v1/users/{user}/sessions")).await;
    let items = sessions["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{sessions}");
    let session_id = items[0]["session_id"].as_str().unwrap();
    // The listed id is not the cookie.
    let cookie = browser.cookie.clone().unwrap();
    assert!(!cookie.contains(session_id), "{cookie}");
    let path = format!("/admin/api/v1/users/{user}/sessions/{session_id}");
    assert_eq!(
        app.admin(Method::DELETE, &path, None).await.status(),
        StatusCode::NO_CONTENT
    );
    // That browser is signed out: the sign-in page shows the form again.
    assert_eq!(browser.get("/login").await.status(), StatusCode::OK);
    assert_eq!(
        app.admin(Method::DELETE, &path, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(audit_events(&app, "session.ended").await.len(), 1);
    // A local account has no linked identity.
    let identities = admin_get(&app, &format!("/admin/api/v1/users/{user}/identities")).await;
    assert_eq!(identities["items"], json!([]));
    app.finish().await;
}

both_backends!(grants_are_listed_and_revoked, sessions_are_listed_and_ended);
