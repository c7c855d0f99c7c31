//! The grant itself: who may use it (CC-2), what the token says (CC-11, TOK-3), and
//! both secret methods (CC-3, CORE-11).

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{assert_issued, assert_machine_token, machine_client};
use crate::harness::TestApp;
use crate::harness::flow::{
    OAuthAnswer, OTHER_RESOURCE, RESOURCE, WEB_REDIRECT, assert_oauth_error,
};
use crate::{both_backends, dcr_backends};

const CC: (&str, &str) = ("grant_type", "client_credentials");

fn scope_of(answer: &OAuthAnswer) -> serde_json::Value {
    assert_issued(answer)["scope"].clone()
}

async fn cc_3_client_secret_basic_and_post_each_get_a_token(app: TestApp) {
    app.fixture().await;
    let basic = machine_client(&app, json!({})).await;
    assert_eq!(basic["token_endpoint_auth_method"], "client_secret_basic");
    let (basic_id, basic_secret) = (
        basic["client_id"].as_str().unwrap(),
        basic["client_secret"].as_str().unwrap(),
    );
    let post = machine_client(
        &app,
        json!({"token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let (post_id, post_secret) = (
        post["client_id"].as_str().unwrap(),
        post["client_secret"].as_str().unwrap(),
    );

    let answer = app.token(&[CC], Some((basic_id, basic_secret))).await;
    let claims = assert_issued(&answer);
    assert_machine_token(&claims, basic_id, RESOURCE);
    assert_eq!(claims["iss"], app.issuer, "{claims}");
    // CC-11, SCOPE-1: no scope asked, the server's defaults.
    assert_eq!(claims["scope"], "tools:read", "{claims}");
    assert_eq!(answer.2["scope"], "tools:read");

    let form = [CC, ("client_id", post_id), ("client_secret", post_secret)];
    let claims = assert_issued(&app.token(&form, None).await);
    assert_machine_token(&claims, post_id, RESOURCE);
    assert_eq!(claims["scope"], "tools:read", "{claims}");

    // CORE-11: either secret method is accepted from a secret client.
    let claims = assert_issued(&app.token(&[CC], Some((post_id, post_secret))).await);
    assert_machine_token(&claims, post_id, RESOURCE);
    let form = [CC, ("client_id", basic_id), ("client_secret", basic_secret)];
    assert_machine_token(
        &assert_issued(&app.token(&form, None).await),
        basic_id,
        RESOURCE,
    );
    app.finish().await;
}

async fn cc_11_scope_and_resource_shape_the_token(app: TestApp) {
    app.fixture().await;
    let client = machine_client(&app, json!({"scope": "tools:read tools:call"})).await;
    let basic = Some((
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    ));

    assert_eq!(
        scope_of(&app.token(&[CC, ("scope", "tools:call")], basic).await),
        "tools:call"
    );
    // SCOPE-3: known but not allowed to this client → dropped.
    let answer = app
        .token(&[CC, ("scope", "tools:call files:write")], basic)
        .await;
    assert_eq!(scope_of(&answer), "tools:call");
    assert_eq!(answer.2["scope"], "tools:call");
    let claims = assert_issued(
        &app.token(
            &[CC, ("resource", RESOURCE), ("scope", "tools:read")],
            basic,
        )
        .await,
    );
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["scope"], "tools:read");

    let answer = app.token(&[CC, ("scope", "tools:delete")], basic).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_scope");
    // RES-3: a server this client may not use, and one nobody registered.
    for resource in [OTHER_RESOURCE, "https://unknown.example/mcp"] {
        let answer = app.token(&[CC, ("resource", resource)], basic).await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_target");
    }
    app.finish().await;
}

async fn cc_11_no_refresh_token_even_when_asked_for(app: TestApp) {
    app.fixture().await;
    let client = machine_client(
        &app,
        json!({"grant_types": ["client_credentials", "refresh_token"]}),
    )
    .await;
    let basic = Some((
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    ));
    let answer = app
        .token(&[CC, ("scope", "tools:call offline_access")], basic)
        .await;
    let claims = assert_issued(&answer);
    assert_eq!(claims["scope"], "tools:call", "{claims}");
    app.finish().await;
}

async fn cc_2_public_clients_and_clients_without_the_grant_are_unauthorized(app: TestApp) {
    let fixture = app.fixture().await;
    // A public client, which may not even be given the grant (SEC-16).
    let answer = app
        .token(&[CC, ("client_id", &fixture.desktop)], None)
        .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    let refused = app
        .admin(
            Method::PATCH,
            &format!("/admin/api/v1/clients/{}", fixture.desktop),
            Some(json!({"grant_types": ["authorization_code", "client_credentials"]})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A confidential client registered for the code flow only.
    let answer = app
        .token(&[CC], Some((&fixture.web, &fixture.web_secret)))
        .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    // Once an administrator grants it, the same client gets a token.
    app.admin_ok(
        Method::PATCH,
        &format!("/admin/api/v1/clients/{}", fixture.web),
        Some(json!({"grant_types": ["authorization_code", "client_credentials"]})),
        StatusCode::OK,
    )
    .await;
    // (It may use both MCP servers, so it names one: RES-6.)
    let answer = app
        .token(
            &[CC, ("resource", RESOURCE)],
            Some((&fixture.web, &fixture.web_secret)),
        )
        .await;
    assert_machine_token(&assert_issued(&answer), &fixture.web, RESOURCE);
    app.finish().await;
}

async fn cc_2_dynamically_registered_clients_never_get_the_grant(app: TestApp) {
    app.fixture().await;
    let metadata = json!({
        "client_name": "Self-registered agent", "redirect_uris": [WEB_REDIRECT],
        "grant_types": ["authorization_code", "client_credentials"],
    });
    let (status, _, body) = app.register(&metadata).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_credentials is only for clients registered by an administrator"),
        "{body}"
    );

    // A confidential DCR client asking anyway is refused; even when an administrator
    // later adds the grant, the client stays self-registered and refused.
    let registered = app
        .register_ok(&json!({
            "client_name": "Self-registered web app", "redirect_uris": [WEB_REDIRECT],
        }))
        .await;
    let id = registered["client_id"].as_str().unwrap();
    let basic = Some((id, registered["client_secret"].as_str().unwrap()));
    let form = [CC, ("resource", RESOURCE)];
    let answer = app.token(&form, basic).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    let patched = app
        .admin_ok(
            Method::PATCH,
            &format!("/admin/api/v1/clients/{id}"),
            Some(json!({"grant_types": ["authorization_code", "client_credentials"]})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(patched["source"], "dcr", "{patched}");
    let answer = app.token(&form, basic).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    app.finish().await;
}

both_backends!(
    cc_3_client_secret_basic_and_post_each_get_a_token,
    cc_11_scope_and_resource_shape_the_token,
    cc_11_no_refresh_token_even_when_asked_for,
    cc_2_public_clients_and_clients_without_the_grant_are_unauthorized,
);
dcr_backends!(crate::harness::dcr::OPEN; cc_2_dynamically_registered_clients_never_get_the_grant);
