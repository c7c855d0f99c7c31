//! The authorization endpoint: which mistakes are shown as a page, which go back to the
//! client by redirect, and when (CORE-3, CORE-5, CORE-15..17, PKCE-1/2, RES-1/3/6,
//! SCOPE-3, ISS-1/2, SEC-1/2/9).

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{
    CHALLENGE, LOOPBACK_REDIRECT, OTHER_RESOURCE, PASSWORD, RESOURCE, USERNAME, UserAgent,
    WEB_REDIRECT, authorize_path, authorize_query, desktop_tokens, jwt_payload, location, param,
    redeem_code,
};

const DESKTOP_PORT_REDIRECT: &str = "http://127.0.0.1:5555/callback";

/// Asserts a CORE-15 error page: 400, HTML, no `Location`, a readable explanation that
/// mentions `topic`.
async fn assert_error_page(response: Response, topic: &str) {
    let status = response.status();
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(headers.get(LOCATION).is_none(), "redirected: {headers:?}");
    let content_type = headers[CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        html.contains("<h1>This request cannot be completed</h1>"),
        "{html}"
    );
    assert!(
        html.contains(topic),
        "page does not mention {topic}:\n{html}"
    );
}

/// Asserts a 303 to `redirect_uri` carrying `error`, `state` (unchanged) and `iss` equal
/// to the issuer (CORE-17, ISS-1, ISS-2), and no code. Returns the target.
fn assert_error_redirect(
    app: &TestApp,
    response: &Response,
    redirect_uri: &str,
    error: &str,
    state: Option<&str>,
) -> url::Url {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let raw = location(response);
    let target = url::Url::parse(&raw).unwrap_or_else(|_| panic!("not to the client: {raw}"));
    assert_eq!(raw.split('?').next(), Some(redirect_uri), "{raw}");
    assert_eq!(param(&target, "error").as_deref(), Some(error), "{raw}");
    assert_eq!(param(&target, "state").as_deref(), state, "{raw}");
    assert_eq!(
        param(&target, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "{raw}"
    );
    assert_eq!(param(&target, "code"), None, "{raw}");
    target
}

/// Asserts the request was accepted: a 303 to the sign-in page, not to the client.
fn assert_goes_to_sign_in(response: &Response) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let next = location(response);
    assert!(next.starts_with("/login?request=req_"), "{next}");
}

/// The web client's request with PKCE and `state=st-123`, plus `extra`.
fn web_path(web: &str, extra: &[(&str, &str)]) -> String {
    authorize_path(web, WEB_REDIRECT, extra)
}

async fn core_15_unknown_client_gets_an_error_page(app: TestApp) {
    let fixture = app.fixture().await;
    let known = app
        .get(&authorize_path(&fixture.desktop, LOOPBACK_REDIRECT, &[]))
        .await;
    assert_goes_to_sign_in(&known);
    let response = app
        .get(&authorize_path("cl_nobody", LOOPBACK_REDIRECT, &[]))
        .await;
    assert_error_page(response, "client").await;
    app.finish().await;
}

async fn core_15_disabled_client_gets_an_error_page(app: TestApp) {
    let fixture = app.fixture().await;
    let path = web_path(&fixture.web, &[("resource", RESOURCE)]);
    assert_goes_to_sign_in(&app.get(&path).await);
    let disable = json!({"enabled": false});
    let client_path = format!("/admin/api/v1/clients/{}", fixture.web);
    app.admin_ok(Method::PATCH, &client_path, Some(disable), StatusCode::OK)
        .await;
    assert_error_page(app.get(&path).await, "client").await;
    // An otherwise faulty request must not be redirected either.
    let faulty = web_path(&fixture.web, &[("scope", "no:such")]);
    assert_error_page(app.get(&faulty).await, "client").await;
    app.finish().await;
}

async fn core_15_missing_client_id_gets_an_error_page(app: TestApp) {
    app.fixture().await;
    let path = authorize_query(&[
        ("response_type", "code"),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "st-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    assert_error_page(app.get(&path).await, "client_id").await;
    // CORE-3: an empty value counts as absent.
    let empty = authorize_path("", WEB_REDIRECT, &[]);
    assert_error_page(app.get(&empty).await, "client_id").await;
    app.finish().await;
}

async fn core_15_unregistered_redirect_uri_gets_an_error_page(app: TestApp) {
    let fixture = app.fixture().await;
    let path = authorize_path(&fixture.web, "https://evil.example/cb", &[]);
    assert_error_page(app.get(&path).await, "redirect_uri").await;
    // Even when the request has a further fault that would otherwise be redirected.
    let faulty = authorize_path(
        &fixture.web,
        "https://evil.example/cb",
        &[("response_type", "token")],
    );
    assert_error_page(app.get(&faulty).await, "redirect_uri").await;
    app.finish().await;
}

async fn core_16_redirect_uri_is_required_when_several_are_registered(app: TestApp) {
    let fixture = app.fixture().await;
    let two = app
        .create_client(json!({
            "client_name": "Two redirects",
            "redirect_uris": ["https://app.example.com/a", "https://app.example.com/b"],
        }))
        .await;
    let two = two["client_id"].as_str().unwrap();
    let without = |client: &str| {
        authorize_query(&[
            ("response_type", "code"),
            ("client_id", client),
            ("state", "st-123"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("resource", RESOURCE),
        ])
    };
    assert_error_page(app.get(&without(two)).await, "redirect_uri").await;
    // With one registered it may be left out.
    assert_goes_to_sign_in(&app.get(&without(&fixture.web)).await);
    // And each registered one is accepted when sent.
    let sent = authorize_path(two, "https://app.example.com/b", &[("resource", RESOURCE)]);
    assert_goes_to_sign_in(&app.get(&sent).await);
    app.finish().await;
}

async fn core_3_repeated_client_id_or_redirect_uri_gets_an_error_page(app: TestApp) {
    let fixture = app.fixture().await;
    let same_twice = web_path(&fixture.web, &[("client_id", &fixture.web)]);
    assert_error_page(app.get(&same_twice).await, "client_id").await;
    let other_second = web_path(&fixture.web, &[("client_id", &fixture.desktop)]);
    assert_error_page(app.get(&other_second).await, "client_id").await;
    let redirect_twice = web_path(&fixture.web, &[("redirect_uri", WEB_REDIRECT)]);
    assert_error_page(app.get(&redirect_twice).await, "redirect_uri").await;
    app.finish().await;
}

async fn pkce_1_missing_code_challenge_is_redirected_as_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let path = authorize_query(&[
        ("response_type", "code"),
        ("client_id", &fixture.web),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "st-123"),
        ("code_challenge_method", "S256"),
    ]);
    let response = app.get(&path).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_request",
        Some("st-123"),
    );
    app.finish().await;
}

async fn pkce_2_plain_method_is_redirected_as_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let path = authorize_query(&[
        ("response_type", "code"),
        ("client_id", &fixture.web),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "st-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "plain"),
    ]);
    let response = app.get(&path).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_request",
        Some("st-123"),
    );
    app.finish().await;
}

async fn pkce_2_absent_method_is_redirected_as_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let path = authorize_query(&[
        ("response_type", "code"),
        ("client_id", &fixture.web),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "st-123"),
        ("code_challenge", CHALLENGE),
    ]);
    let response = app.get(&path).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_request",
        Some("st-123"),
    );
    app.finish().await;
}

async fn core_5_missing_response_type_is_redirected_as_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let path = authorize_query(&[
        ("client_id", &fixture.web),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "st-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let response = app.get(&path).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_request",
        Some("st-123"),
    );
    app.finish().await;
}

async fn core_5_response_type_token_is_unsupported_response_type(app: TestApp) {
    let fixture = app.fixture().await;
    let path = authorize_query(&[
        ("response_type", "token"),
        ("client_id", &fixture.web),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "st-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let response = app.get(&path).await;
    let error = "unsupported_response_type";
    assert_error_redirect(&app, &response, WEB_REDIRECT, error, Some("st-123"));
    app.finish().await;
}

async fn scope_3_unknown_scope_is_redirected_as_invalid_scope(app: TestApp) {
    let fixture = app.fixture().await;
    let path = web_path(
        &fixture.web,
        &[("resource", RESOURCE), ("scope", "tools:read no:such")],
    );
    let response = app.get(&path).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_scope",
        Some("st-123"),
    );
    app.finish().await;
}

async fn res_3_unknown_resource_is_redirected_as_invalid_target(app: TestApp) {
    let fixture = app.fixture().await;
    let unknown = web_path(
        &fixture.web,
        &[("resource", "https://unknown.example.com/mcp")],
    );
    let response = app.get(&unknown).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_target",
        Some("st-123"),
    );
    // RES-2: a trailing slash names a different resource.
    let variant = web_path(
        &fixture.web,
        &[("resource", "https://mcp.example.com/mcp/")],
    );
    let response = app.get(&variant).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_target",
        Some("st-123"),
    );
    app.finish().await;
}

async fn res_1_malformed_resource_is_redirected_as_invalid_target(app: TestApp) {
    let fixture = app.fixture().await;
    for resource in [
        "mcp.example.com/mcp",
        "https://mcp.example.com/mcp#frag",
        "not a uri",
    ] {
        let path = web_path(&fixture.web, &[("resource", resource)]);
        let response = app.get(&path).await;
        assert_error_redirect(
            &app,
            &response,
            WEB_REDIRECT,
            "invalid_target",
            Some("st-123"),
        );
    }
    app.finish().await;
}

async fn core_3_repeated_state_is_redirected_as_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let path = web_path(&fixture.web, &[("state", "st-456")]);
    let response = app.get(&path).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let target = url::Url::parse(&location(&response)).unwrap();
    assert!(target.as_str().starts_with(WEB_REDIRECT), "{target}");
    assert_eq!(param(&target, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&target, "iss").as_deref(), Some(app.issuer.as_str()));
    assert_eq!(param(&target, "code"), None);
    app.finish().await;
}

async fn core_3_repeated_scope_is_redirected_as_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let path = web_path(
        &fixture.web,
        &[("scope", "tools:read"), ("scope", "tools:call")],
    );
    let response = app.get(&path).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_request",
        Some("st-123"),
    );
    app.finish().await;
}

async fn core_17_state_comes_back_unchanged_and_absent_state_stays_absent(app: TestApp) {
    let fixture = app.fixture().await;
    let state = "a b&c=d/é+%20;\"<>";
    let with_state = |state: Option<&str>| {
        let mut pairs = vec![
            ("response_type", "token"),
            ("client_id", fixture.web.as_str()),
            ("redirect_uri", WEB_REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        if let Some(state) = state {
            pairs.push(("state", state));
        }
        authorize_query(&pairs)
    };
    let response = app.get(&with_state(Some(state))).await;
    let error = "unsupported_response_type";
    assert_error_redirect(&app, &response, WEB_REDIRECT, error, Some(state));
    let response = app.get(&with_state(None)).await;
    assert_error_redirect(&app, &response, WEB_REDIRECT, error, None);
    app.finish().await;
}

async fn iss_2_iss_is_the_issuer_form_urlencoded(app: TestApp) {
    let fixture = app.fixture().await;
    let response = app
        .get(&web_path(&fixture.web, &[("resource", "nope")]))
        .await;
    let raw = location(&response);
    let encoded: String = url::form_urlencoded::byte_serialize(app.issuer.as_bytes()).collect();
    assert!(raw.contains(&format!("iss={encoded}")), "{raw}");
    let metadata: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    let target = url::Url::parse(&raw).unwrap();
    assert_eq!(
        param(&target, "iss").as_deref(),
        metadata["issuer"].as_str()
    );
    app.finish().await;
}

async fn sec_9_error_for_a_loopback_client_waits_for_sign_in(app: TestApp) {
    let fixture = app.fixture().await;
    let path = authorize_query(&[
        ("response_type", "code"),
        ("client_id", &fixture.desktop),
        ("redirect_uri", DESKTOP_PORT_REDIRECT),
        ("state", "st-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "plain"),
    ]);
    let mut agent = UserAgent::new(&app);
    let started = agent.authorize(&path).await;
    assert_goes_to_sign_in(&started);
    let signed_in = agent.sign_in(&location(&started), USERNAME, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let consent = location(&signed_in);
    assert!(consent.starts_with("/consent?request="), "{consent}");
    let delivered = agent.get(&consent).await;
    let error = "invalid_request";
    assert_error_redirect(
        &app,
        &delivered,
        DESKTOP_PORT_REDIRECT,
        error,
        Some("st-123"),
    );
    // Delivered once: the request is spent.
    assert_eq!(agent.get(&consent).await.status(), StatusCode::BAD_REQUEST);
    // Once signed in, the user is known: the next error goes straight back.
    let again = agent.authorize(&path).await;
    assert_error_redirect(&app, &again, DESKTOP_PORT_REDIRECT, error, Some("st-123"));
    app.finish().await;
}

async fn sec_9_error_for_a_trusted_client_is_redirected_at_once(app: TestApp) {
    let fixture = app.fixture().await;
    let unknown_scope = [("resource", RESOURCE), ("scope", "no:such")];
    let response = app.get(&web_path(&fixture.web, &unknown_scope)).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_scope",
        Some("st-123"),
    );
    let loopback = authorize_path(&fixture.desktop, LOOPBACK_REDIRECT, &unknown_scope);
    assert_goes_to_sign_in(&app.get(&loopback).await);
    app.finish().await;
}

async fn sec_2_loopback_redirect_matches_on_any_port(app: TestApp) {
    let fixture = app.fixture().await;
    for redirect in [
        LOOPBACK_REDIRECT,
        DESKTOP_PORT_REDIRECT,
        "http://127.0.0.1:80/callback",
        "http://127.0.0.1:65535/callback",
    ] {
        let response = app
            .get(&authorize_path(&fixture.desktop, redirect, &[]))
            .await;
        assert_goes_to_sign_in(&response);
    }
    // The answer goes to the port the client sent.
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(
        &fixture.desktop,
        DESKTOP_PORT_REDIRECT,
        &[("resource", RESOURCE)],
    );
    let done = agent.run(&path, "allow").await;
    assert_eq!(done.port(), Some(5555));
    assert_eq!(done.path(), "/callback");
    assert!(param(&done, "code").is_some(), "{done}");
    app.finish().await;
}

async fn sec_1_lookalike_redirect_uris_get_an_error_page(app: TestApp) {
    let fixture = app.fixture().await;
    for redirect in [
        "http://127.0.0.1.evil.example/callback",
        "http://127.0.0.1:5555@evil.example/callback",
        "http://127.0.0.1:5555/other",
        "http://127.0.0.1:5555/callback/",
        "http://127.0.0.1:5555/Callback",
        "http://127.0.0.1:5555/callback?x=1",
        "http://localhost:5555/callback",
        "https://127.0.0.1/callback",
    ] {
        let response = app
            .get(&authorize_path(&fixture.desktop, redirect, &[]))
            .await;
        assert_error_page(response, "redirect_uri").await;
    }
    // SEC-1: no port relaxation or normalisation for https.
    for redirect in [
        "https://app.example.com:8443/cb",
        "https://app.example.com:443/cb",
        "https://APP.example.com/cb",
        "https://app.example.com/cb/",
        "https://app.example.com/cb?x=1",
        "https://app.example.com.evil.example/cb",
    ] {
        let response = app.get(&authorize_path(&fixture.web, redirect, &[])).await;
        assert_error_page(response, "redirect_uri").await;
    }
    app.finish().await;
}

async fn res_6_client_allowed_one_server_gets_it_without_resource(app: TestApp) {
    app.fixture().await;
    let single = app
        .create_client(json!({
            "client_name": "Other only", "token_endpoint_auth_method": "none",
            "redirect_uris": [LOOPBACK_REDIRECT], "allowed_resources": [OTHER_RESOURCE],
        }))
        .await;
    let single = single["client_id"].as_str().unwrap();
    let mut agent = UserAgent::new(&app);
    let done = agent
        .run(&authorize_path(single, DESKTOP_PORT_REDIRECT, &[]), "allow")
        .await;
    let code = param(&done, "code").unwrap_or_else(|| panic!("no code in {done}"));
    let tokens = redeem_code(&app, single, None, DESKTOP_PORT_REDIRECT, &code).await;
    assert_eq!(tokens["scope"], "other:read");
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], OTHER_RESOURCE);
    app.finish().await;
}

async fn res_6_the_server_owning_every_requested_scope_is_chosen(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("scope", "other:read")]).await;
    assert_eq!(tokens["scope"], "other:read");
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], OTHER_RESOURCE);
    let tokens = desktop_tokens(&app, &fixture, &[("scope", "tools:call")]).await;
    assert_eq!(tokens["scope"], "tools:call");
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], RESOURCE);
    app.finish().await;
}

async fn res_6_two_servers_and_no_default_is_invalid_target(app: TestApp) {
    let fixture = app.fixture().await;
    let bare = web_path(&fixture.web, &[]);
    let response = app.get(&bare).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_target",
        Some("st-123"),
    );
    // Scopes of both servers: no single owner.
    let mixed = web_path(&fixture.web, &[("scope", "tools:call other:read")]);
    let response = app.get(&mixed).await;
    assert_error_redirect(
        &app,
        &response,
        WEB_REDIRECT,
        "invalid_target",
        Some("st-123"),
    );
    // A configured default resolves it.
    let servers = app
        .admin_ok(Method::GET, "/admin/api/v1/servers", None, StatusCode::OK)
        .await;
    let other = servers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["resource"] == OTHER_RESOURCE)
        .unwrap();
    let path = format!(
        "/admin/api/v1/servers/{}",
        other["server_id"].as_str().unwrap()
    );
    let body = json!({"default_resource": true});
    app.admin_ok(Method::PATCH, &path, Some(body), StatusCode::OK)
        .await;
    let mut agent = UserAgent::new(&app);
    let done = agent.run(&bare, "allow").await;
    let code = param(&done, "code").unwrap_or_else(|| panic!("no code in {done}"));
    let secret = Some(fixture.web_secret.as_str());
    let tokens = redeem_code(&app, &fixture.web, secret, WEB_REDIRECT, &code).await;
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], OTHER_RESOURCE);
    assert_eq!(tokens["scope"], "other:read");
    app.finish().await;
}

async fn scope_3_scopes_of_another_server_are_dropped_not_refused(app: TestApp) {
    let fixture = app.fixture().await;
    let extra = [("resource", RESOURCE), ("scope", "tools:call other:read")];
    let tokens = desktop_tokens(&app, &fixture, &extra).await;
    assert_eq!(tokens["scope"], "tools:call");
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["scope"], "tools:call");
    app.finish().await;
}

both_backends!(
    core_15_unknown_client_gets_an_error_page,
    core_15_disabled_client_gets_an_error_page,
    core_15_missing_client_id_gets_an_error_page,
    core_15_unregistered_redirect_uri_gets_an_error_page,
    core_16_redirect_uri_is_required_when_several_are_registered,
    core_3_repeated_client_id_or_redirect_uri_gets_an_error_page,
    pkce_1_missing_code_challenge_is_redirected_as_invalid_request,
    pkce_2_plain_method_is_redirected_as_invalid_request,
    pkce_2_absent_method_is_redirected_as_invalid_request,
    core_5_missing_response_type_is_redirected_as_invalid_request,
    core_5_response_type_token_is_unsupported_response_type,
    scope_3_unknown_scope_is_redirected_as_invalid_scope,
    res_3_unknown_resource_is_redirected_as_invalid_target,
    res_1_malformed_resource_is_redirected_as_invalid_target,
    core_3_repeated_state_is_redirected_as_invalid_request,
    core_3_repeated_scope_is_redirected_as_invalid_request,
    core_17_state_comes_back_unchanged_and_absent_state_stays_absent,
    iss_2_iss_is_the_issuer_form_urlencoded,
    sec_9_error_for_a_loopback_client_waits_for_sign_in,
    sec_9_error_for_a_trusted_client_is_redirected_at_once,
    sec_2_loopback_redirect_matches_on_any_port,
    sec_1_lookalike_redirect_uris_get_an_error_page,
    res_6_client_allowed_one_server_gets_it_without_resource,
    res_6_the_server_owning_every_requested_scope_is_chosen,
    res_6_two_servers_and_no_default_is_invalid_target,
    scope_3_scopes_of_another_server_are_dropped_not_refused,
);
