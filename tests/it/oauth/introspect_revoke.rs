//! Introspection (INTRO-1..5) and revocation (REVOKE-1..4).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{
    Fixture, OAuthAnswer, OTHER_RESOURCE, RESOURCE, UserAgent, VERIFIER, WEB_REDIRECT,
    assert_oauth_error, desktop_tokens, jwt_payload,
};

/// Runs the flow for the confidential `web` client and redeems the code with Basic.
async fn web_tokens(app: &TestApp, fixture: &Fixture) -> Value {
    let mut agent = UserAgent::new(app);
    let code = agent
        .code(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let (status, _, body) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", WEB_REDIRECT),
            ],
            Some((&fixture.web, &fixture.web_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn web_basic(fixture: &Fixture) -> Option<(&str, &str)> {
    Some((fixture.web.as_str(), fixture.web_secret.as_str()))
}

/// Asserts exactly `{"active": false}` (INTRO-3: nothing more), 200 and no-store.
fn assert_inactive(answer: &OAuthAnswer) {
    let (status, headers, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body, &json!({"active": false}));
}

fn assert_unauthorized(answer: &OAuthAnswer) {
    assert_oauth_error(answer, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(answer.1.contains_key("www-authenticate"), "{:?}", answer.1);
}

async fn revoke(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> OAuthAnswer {
    app.post_form("/oauth2/revoke", form, basic).await
}

async fn intro_2_server_sees_every_member_of_an_active_token(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = jwt_payload(access);
    let (status, headers, body) = app.introspect_as_server(&fixture, access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // INTRO-5: no-store.
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["active"], true);
    assert_eq!(body["iss"], app.issuer);
    assert_eq!(body["aud"], RESOURCE);
    assert_eq!(body["sub"], claims["sub"]);
    assert_eq!(body["client_id"], fixture.desktop.as_str());
    assert_eq!(body["scope"], "tools:read");
    for member in ["exp", "iat", "jti"] {
        assert!(!body[member].is_null(), "{member} missing: {body}");
        assert_eq!(body[member], claims[member], "{member}");
    }
    assert_eq!(body["token_type"], "Bearer");
    app.finish().await;
}

async fn intro_4_token_for_another_server_is_only_inactive(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", OTHER_RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(access)["aud"], OTHER_RESOURCE);
    assert_inactive(&app.introspect_as_server(&fixture, access).await);
    app.finish().await;
}

async fn intro_4_client_sees_only_its_own_refresh_tokens(app: TestApp) {
    let fixture = app.fixture().await;
    let web = web_tokens(&app, &fixture).await;
    // Not an MCP server: access tokens, even its own, are not its business.
    let access = web["access_token"].as_str().unwrap();
    let answer = app
        .post_form(
            "/oauth2/introspect",
            &[("token", access)],
            web_basic(&fixture),
        )
        .await;
    assert_inactive(&answer);
    // Its own refresh token is.
    let refresh = web["refresh_token"].as_str().unwrap();
    let (status, headers, body) = app
        .post_form(
            "/oauth2/introspect",
            &[("token", refresh)],
            web_basic(&fixture),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], fixture.web.as_str());
    assert_eq!(body["sub"], jwt_payload(access)["sub"]);
    assert_eq!(body["scope"], "tools:read");
    assert_eq!(body["iss"], app.issuer);
    // Another client's refresh token is not: neither for web nor for the MCP server.
    let desktop = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let foreign = desktop["refresh_token"].as_str().unwrap();
    let answer = app
        .post_form(
            "/oauth2/introspect",
            &[("token", foreign)],
            web_basic(&fixture),
        )
        .await;
    assert_inactive(&answer);
    assert_inactive(&app.introspect_as_server(&fixture, refresh).await);
    app.finish().await;
}

async fn intro_1_caller_must_authenticate(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let path = "/oauth2/introspect";
    assert_unauthorized(&app.post_form(path, &[("token", access)], None).await);
    let wrong = Some((fixture.introspector.as_str(), "not-the-secret"));
    assert_unauthorized(&app.post_form(path, &[("token", access)], wrong).await);
    let form = [
        ("token", access),
        ("client_id", fixture.introspector.as_str()),
        ("client_secret", "not-the-secret"),
    ];
    assert_unauthorized(&app.post_form(path, &form, None).await);
    // A public client proves nothing by naming itself.
    let form = [("token", access), ("client_id", fixture.desktop.as_str())];
    assert_unauthorized(&app.post_form(path, &form, None).await);
    // The same request, authenticated, is answered.
    assert!(app.is_active_for_server(&fixture, access).await);
    app.finish().await;
}

async fn intro_3_garbage_token_is_only_inactive(app: TestApp) {
    let fixture = app.fixture().await;
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        assert_inactive(&app.introspect_as_server(&fixture, token).await);
    }
    app.finish().await;
}

async fn intro_3_expired_token_is_only_inactive(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    app.clock.advance(Duration::from_secs(9 * 60));
    assert!(app.is_active_for_server(&fixture, access).await);
    app.clock.advance(Duration::from_secs(2 * 60));
    assert_inactive(&app.introspect_as_server(&fixture, access).await);
    app.finish().await;
}

async fn revoke_4_revoking_a_refresh_token_ends_the_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert!(app.is_active_for_server(&fixture, access).await);
    let form = [("token", refresh), ("client_id", fixture.desktop.as_str())];
    let (status, _, body) = revoke(&app, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = app.refresh_desktop(&fixture, refresh, &[]).await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_inactive(&app.introspect_as_server(&fixture, access).await);
    app.finish().await;
}

async fn revoke_4_revoking_an_access_token_makes_it_inactive(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert!(app.is_active_for_server(&fixture, access).await);
    let form = [
        ("token", access),
        ("token_type_hint", "access_token"),
        ("client_id", fixture.desktop.as_str()),
    ];
    let (status, _, body) = revoke(&app, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_inactive(&app.introspect_as_server(&fixture, access).await);
    app.finish().await;
}

async fn revoke_1_confidential_client_revokes_its_own_refresh_token(app: TestApp) {
    let fixture = app.fixture().await;
    let web = web_tokens(&app, &fixture).await;
    let refresh = web["refresh_token"].as_str().unwrap();
    let form = [("token", refresh), ("token_type_hint", "refresh_token")];
    let (status, _, body) = revoke(&app, &form, web_basic(&fixture)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            web_basic(&fixture),
        )
        .await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    let answer = app
        .post_form(
            "/oauth2/introspect",
            &[("token", refresh)],
            web_basic(&fixture),
        )
        .await;
    assert_inactive(&answer);
    app.finish().await;
}

async fn revoke_1_a_wrong_hint_does_not_stop_revocation(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let desktop = fixture.desktop.as_str();
    let form = [
        ("token", access),
        ("token_type_hint", "refresh_token"),
        ("client_id", desktop),
    ];
    let (status, _, body) = revoke(&app, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_inactive(&app.introspect_as_server(&fixture, access).await);
    let form = [
        ("token", refresh),
        ("token_type_hint", "access_token"),
        ("client_id", desktop),
    ];
    let (status, _, body) = revoke(&app, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = app.refresh_desktop(&fixture, refresh, &[]).await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn revoke_2_another_clients_token_is_untouched(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    for token in [refresh, access] {
        let (status, _, body) = revoke(&app, &[("token", token)], web_basic(&fixture)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(app.is_active_for_server(&fixture, access).await);
    let (status, _, body) = app.refresh_desktop(&fixture, refresh, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.finish().await;
}

async fn revoke_3_unknown_token_is_200(app: TestApp) {
    let fixture = app.fixture().await;
    let desktop = fixture.desktop.as_str();
    let form = [("token", "never-issued"), ("client_id", desktop)];
    let (status, _, body) = revoke(&app, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = revoke(&app, &[("token", "a.b.c")], web_basic(&fixture)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.finish().await;
}

async fn revoke_3_unsupported_hint_is_unsupported_token_type(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [
        ("token", refresh),
        ("token_type_hint", "foo"),
        ("client_id", fixture.desktop.as_str()),
    ];
    let answer = revoke(&app, &form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unsupported_token_type");
    app.finish().await;
}

async fn revoke_1_caller_must_authenticate(app: TestApp) {
    let fixture = app.fixture().await;
    let web = web_tokens(&app, &fixture).await;
    let refresh = web["refresh_token"].as_str().unwrap();
    let nobody = revoke(&app, &[("token", refresh)], None).await;
    assert_oauth_error(&nobody, StatusCode::BAD_REQUEST, "invalid_client");
    let wrong = Some((fixture.web.as_str(), "not-the-secret"));
    assert_unauthorized(&revoke(&app, &[("token", refresh)], wrong).await);
    let form = [("token", refresh), ("client_id", fixture.web.as_str())];
    let bare = revoke(&app, &form, None).await;
    assert_oauth_error(&bare, StatusCode::BAD_REQUEST, "invalid_client");
    // None of those attempts revoked anything.
    let (status, _, body) = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            web_basic(&fixture),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.finish().await;
}

/// The admin-API id of the MCP server at `resource`.
async fn server_id(app: &TestApp, resource: &str) -> String {
    let page = app
        .admin_ok(Method::GET, "/admin/api/v1/servers", None, StatusCode::OK)
        .await;
    let items = page["items"].as_array().unwrap();
    let server = items.iter().find(|s| s["resource"] == resource).unwrap();
    server["server_id"].as_str().unwrap().to_owned()
}

async fn intro_3_tokens_of_a_disabled_server_or_client_are_only_inactive(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let path = format!("/admin/api/v1/servers/{}", server_id(&app, RESOURCE).await);
    for enabled in [false, true] {
        let body = Some(json!({"enabled": enabled}));
        app.admin_ok(Method::PATCH, &path, body, StatusCode::OK)
            .await;
        assert_eq!(app.is_active_for_server(&fixture, access).await, enabled);
    }
    let path = format!("/admin/api/v1/clients/{}", fixture.desktop);
    let body = Some(json!({"enabled": false}));
    app.admin_ok(Method::PATCH, &path, body, StatusCode::OK)
        .await;
    assert_inactive(&app.introspect_as_server(&fixture, access).await);
    app.finish().await;
}

async fn intro_3_rotated_refresh_token_is_only_inactive(app: TestApp) {
    let fixture = app.fixture().await;
    let web = web_tokens(&app, &fixture).await;
    let first = web["refresh_token"].as_str().unwrap();
    let (status, _, body) = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
            web_basic(&fixture),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["refresh_token"].as_str().unwrap();
    let answer = app
        .post_form(
            "/oauth2/introspect",
            &[("token", first)],
            web_basic(&fixture),
        )
        .await;
    assert_inactive(&answer);
    let (_, _, body) = app
        .post_form(
            "/oauth2/introspect",
            &[("token", second)],
            web_basic(&fixture),
        )
        .await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    app.finish().await;
}

async fn intro_1_missing_token_is_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let basic = Some((
        fixture.introspector.as_str(),
        fixture.introspector_secret.as_str(),
    ));
    let answer = app
        .post_form(
            "/oauth2/introspect",
            &[("token_type_hint", "access_token")],
            basic,
        )
        .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    app.finish().await;
}

both_backends!(
    intro_2_server_sees_every_member_of_an_active_token,
    intro_4_token_for_another_server_is_only_inactive,
    intro_4_client_sees_only_its_own_refresh_tokens,
    intro_1_caller_must_authenticate,
    intro_3_garbage_token_is_only_inactive,
    intro_3_expired_token_is_only_inactive,
    revoke_4_revoking_a_refresh_token_ends_the_grant,
    revoke_4_revoking_an_access_token_makes_it_inactive,
    revoke_1_confidential_client_revokes_its_own_refresh_token,
    revoke_1_a_wrong_hint_does_not_stop_revocation,
    revoke_2_another_clients_token_is_untouched,
    revoke_3_unknown_token_is_200,
    revoke_3_unsupported_hint_is_unsupported_token_type,
    revoke_1_caller_must_authenticate,
    intro_3_tokens_of_a_disabled_server_or_client_are_only_inactive,
    intro_3_rotated_refresh_token_is_only_inactive,
    intro_1_missing_token_is_invalid_request,
);
