//! Expired rows are removed; live ones stay.

use std::time::Duration;

use reqwest::StatusCode;

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{RESOURCE, desktop_tokens};
use mcp_authz::clock::Clock as _;

async fn expired_grants_sessions_and_codes_are_deleted(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let store = &app.server().state.store;
    // Nothing has expired yet, apart from nothing: a fresh flow leaves live rows only.
    assert_eq!(store.delete_expired(app.clock.now()).await.unwrap(), 0);
    // 91 days on, the grant (90 d), the session (12 h), the request and the code are gone.
    app.clock.advance(Duration::from_secs(91 * 24 * 3600));
    let removed = store.delete_expired(app.clock.now()).await.unwrap();
    assert!(removed >= 4, "removed {removed}");
    let (status, _, body) = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", &fixture.desktop),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    app.finish().await;
}

both_backends!(expired_grants_sessions_and_codes_are_deleted);
