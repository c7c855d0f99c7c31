//! The refresh-token grant: rotation, reuse detection, scope and resource rules,
//! ownership and expiry (REFRESH-1..6, SCOPE-8, RES-7).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{
    DESKTOP_REDIRECT, Fixture, OAuthAnswer, OTHER_RESOURCE, RESOURCE, UserAgent,
    assert_oauth_error, desktop_tokens, jwt_payload,
};

const DAY: u64 = 24 * 3600;

fn scopes(raw: &serde_json::Value) -> BTreeSet<String> {
    raw.as_str()
        .unwrap_or_else(|| panic!("scope is not a string: {raw}"))
        .split(' ')
        .map(str::to_owned)
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Asserts a successful refresh and returns the new refresh token.
fn successor(answer: &OAuthAnswer) -> String {
    let (status, headers, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].is_string(), "{body}");
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("REFRESH-3: no successor in {body}"))
        .to_owned()
}

async fn tokens_with(app: &TestApp, fixture: &Fixture, scope: &str) -> serde_json::Value {
    desktop_tokens(app, fixture, &[("resource", RESOURCE), ("scope", scope)]).await
}

async fn refresh_3_rotation_returns_a_new_token_and_retires_the_old(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let answer = app.refresh_desktop(&fixture, first, &[]).await;
    let second = successor(&answer);
    assert_ne!(second, first);
    // The new access token is for the same grant: same user, client, server, scope.
    let before = jwt_payload(tokens["access_token"].as_str().unwrap());
    let after = jwt_payload(answer.2["access_token"].as_str().unwrap());
    for claim in ["iss", "sub", "aud", "client_id", "scope"] {
        assert_eq!(after[claim], before[claim], "{claim}");
    }
    assert_ne!(after["jti"], before["jti"]);
    assert_eq!(answer.2["expires_in"], 600);
    assert_eq!(answer.2["scope"], "tools:read");
    let old = app.refresh_desktop(&fixture, first, &[]).await;
    assert_oauth_error(&old, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn refresh_3_successor_can_itself_be_rotated(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let mut current = tokens["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        current = successor(&app.refresh_desktop(&fixture, &current, &[]).await);
    }
    app.finish().await;
}

async fn refresh_4_reuse_of_rotated_token_revokes_the_family(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let answer = app.refresh_desktop(&fixture, first, &[]).await;
    let second = successor(&answer);
    let newest_access = answer.2["access_token"].as_str().unwrap().to_owned();
    assert!(app.is_active_for_server(&fixture, &newest_access).await);
    let reused = app.refresh_desktop(&fixture, first, &[]).await;
    assert_oauth_error(&reused, StatusCode::BAD_REQUEST, "invalid_grant");
    // The family's newest token and the grant's access tokens are gone too.
    let newest = app.refresh_desktop(&fixture, &second, &[]).await;
    assert_oauth_error(&newest, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!app.is_active_for_server(&fixture, &newest_access).await);
    let original_access = tokens["access_token"].as_str().unwrap();
    assert!(!app.is_active_for_server(&fixture, original_access).await);
    app.finish().await;
}

async fn refresh_4_reuse_leaves_other_grants_alone(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let mut grants = Vec::new();
    for _ in 0..2 {
        let code = agent
            .code(
                &fixture.desktop,
                DESKTOP_REDIRECT,
                &[("resource", RESOURCE)],
            )
            .await;
        let (status, _, body) = app.redeem_desktop(&fixture, &code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        grants.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successor(&app.refresh_desktop(&fixture, &grants[0], &[]).await);
    let reused = app.refresh_desktop(&fixture, &grants[0], &[]).await;
    assert_oauth_error(&reused, StatusCode::BAD_REQUEST, "invalid_grant");
    successor(&app.refresh_desktop(&fixture, &grants[1], &[]).await);
    app.finish().await;
}

async fn refresh_6_down_scoped_refresh_keeps_the_full_scope_for_the_next(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = tokens_with(&app, &fixture, "tools:read tools:call").await;
    assert_eq!(scopes(&tokens["scope"]), set(&["tools:read", "tools:call"]));
    let first = tokens["refresh_token"].as_str().unwrap();
    // SCOPE-8: a narrower scope may be asked for.
    let narrow = app
        .refresh_desktop(&fixture, first, &[("scope", "tools:read")])
        .await;
    let second = successor(&narrow);
    assert_eq!(narrow.2["scope"], "tools:read");
    let claims = jwt_payload(narrow.2["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "tools:read");
    // REFRESH-6: the successor still carries the whole grant; absent scope = original.
    let full = app.refresh_desktop(&fixture, &second, &[]).await;
    successor(&full);
    assert_eq!(scopes(&full.2["scope"]), set(&["tools:read", "tools:call"]));
    let claims = jwt_payload(full.2["access_token"].as_str().unwrap());
    assert_eq!(scopes(&claims["scope"]), set(&["tools:read", "tools:call"]));
    app.finish().await;
}

async fn scope_8_widening_on_refresh_is_invalid_scope(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = tokens_with(&app, &fixture, "tools:read").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    for asked in ["tools:read files:write", "files:write", "other:read"] {
        let wider = app
            .refresh_desktop(&fixture, first, &[("scope", asked)])
            .await;
        assert_oauth_error(&wider, StatusCode::BAD_REQUEST, "invalid_scope");
    }
    app.finish().await;
}

async fn res_7_refresh_naming_another_server_is_invalid_target(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let other = app
        .refresh_desktop(&fixture, first, &[("resource", OTHER_RESOURCE)])
        .await;
    assert_oauth_error(&other, StatusCode::BAD_REQUEST, "invalid_target");
    // Naming the grant's own server is fine, and the token is for it.
    let same = app
        .refresh_desktop(&fixture, first, &[("resource", RESOURCE)])
        .await;
    successor(&same);
    let claims = jwt_payload(same.2["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], RESOURCE);
    app.finish().await;
}

async fn refresh_5_another_client_presenting_the_token_is_invalid_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let stolen = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
            Some((&fixture.web, &fixture.web_secret)),
        )
        .await;
    assert_oauth_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant");
    // The attempt changed nothing for the owner.
    successor(&app.refresh_desktop(&fixture, first, &[]).await);
    app.finish().await;
}

async fn refresh_6_token_unused_for_31_days_is_invalid_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let mut current = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Used within the idle limit, the family lives on (past 30 days in total).
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(29 * DAY));
        current = successor(&app.refresh_desktop(&fixture, &current, &[]).await);
    }
    app.clock.advance(Duration::from_secs(31 * DAY));
    let idle = app.refresh_desktop(&fixture, &current, &[]).await;
    assert_oauth_error(&idle, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn refresh_6_family_ends_after_90_days_however_often_used(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let mut current = tokens["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(29 * DAY));
        current = successor(&app.refresh_desktop(&fixture, &current, &[]).await);
    }
    // Day 87 was fine; day 91 is past the absolute limit.
    app.clock.advance(Duration::from_secs(4 * DAY));
    let ended = app.refresh_desktop(&fixture, &current, &[]).await;
    assert_oauth_error(&ended, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn refresh_5_disabled_user_is_invalid_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let user = jwt_payload(access)["sub"].as_str().unwrap().to_owned();
    let view = app
        .admin_ok(
            Method::PATCH,
            &format!("/admin/api/v1/users/{user}"),
            Some(json!({"enabled": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(view["enabled"], false);
    let refused = app.refresh_desktop(&fixture, first, &[]).await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    // INTRO-3: the user's access tokens are inactive as well.
    assert!(!app.is_active_for_server(&fixture, access).await);
    app.finish().await;
}

async fn core_8_refresh_without_token_is_invalid_request_unknown_is_invalid_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let missing = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &fixture.desktop),
            ],
            None,
        )
        .await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = app
        .refresh_desktop(&fixture, "not-a-refresh-token", &[])
        .await;
    assert_oauth_error(&unknown, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

both_backends!(
    refresh_3_rotation_returns_a_new_token_and_retires_the_old,
    refresh_3_successor_can_itself_be_rotated,
    refresh_4_reuse_of_rotated_token_revokes_the_family,
    refresh_4_reuse_leaves_other_grants_alone,
    refresh_6_down_scoped_refresh_keeps_the_full_scope_for_the_next,
    scope_8_widening_on_refresh_is_invalid_scope,
    res_7_refresh_naming_another_server_is_invalid_target,
    refresh_5_another_client_presenting_the_token_is_invalid_grant,
    refresh_6_token_unused_for_31_days_is_invalid_grant,
    refresh_6_family_ends_after_90_days_however_often_used,
    refresh_5_disabled_user_is_invalid_grant,
    core_8_refresh_without_token_is_invalid_request_unknown_is_invalid_grant,
);
