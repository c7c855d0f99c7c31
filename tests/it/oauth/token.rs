//! The token endpoint: responses, code redemption errors and client authentication
//! (CORE-6..14, CORE-18, PKCE-5, RES-4, TOK-1, TOK-2, REFRESH-1).

use std::time::Duration;

use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use mcp_authz::clock::Clock as _;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{
    DESKTOP_REDIRECT, Fixture, OAuthAnswer, OTHER_RESOURCE, RESOURCE, UserAgent, VERIFIER,
    WEB_REDIRECT, assert_oauth_error, desktop_tokens, jwt_payload,
};

/// A verifier that is well formed (PKCE-3) but not the one the challenge was made from.
const WRONG_VERIFIER: &str = "wrongwrongwrongwrongwrongwrongwrongwrong-123";

/// A fresh `desktop` code for [`RESOURCE`].
async fn desktop_code(agent: &mut UserAgent<'_>, fixture: &Fixture) -> String {
    let extra = [("resource", RESOURCE)];
    agent.code(&fixture.desktop, DESKTOP_REDIRECT, &extra).await
}

/// A fresh `web` code for [`RESOURCE`].
async fn web_code(agent: &mut UserAgent<'_>, fixture: &Fixture) -> String {
    let extra = [("resource", RESOURCE)];
    agent.code(&fixture.web, WEB_REDIRECT, &extra).await
}

/// The standard `desktop` redemption of `code`; each of `changes` replaces the value
/// of its name or, if the name is new, is added.
fn desktop_form<'a>(
    fixture: &'a Fixture,
    code: &'a str,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("client_id", fixture.desktop.as_str()),
        ("redirect_uri", DESKTOP_REDIRECT),
    ];
    for &(name, value) in changes {
        match form.iter_mut().find(|(n, _)| *n == name) {
            Some(pair) => pair.1 = value,
            None => form.push((name, value)),
        }
    }
    form
}

/// The `web` redemption of `code` without client authentication, plus `extra`.
fn web_form<'a>(code: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("redirect_uri", WEB_REDIRECT),
    ];
    form.extend_from_slice(extra);
    form
}

fn web_basic(fixture: &Fixture) -> Option<(&str, &str)> {
    Some((fixture.web.as_str(), fixture.web_secret.as_str()))
}

/// Sends a request `post_form` cannot express.
async fn send(request: RequestBuilder) -> OAuthAnswer {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn assert_ok(answer: &OAuthAnswer) {
    let (status, headers, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(body["access_token"].is_string(), "{body}");
}

async fn core_7_token_response_is_no_store_json_with_bearer_expiry_and_scope(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let extra = [("resource", RESOURCE), ("scope", "tools:read tools:call")];
    let code = agent.code(&fixture.desktop, DESKTOP_REDIRECT, &extra).await;
    let (status, headers, body) = app.redeem_desktop(&fixture, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let content_type = headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "tools:call tools:read");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    app.finish().await;
}

async fn tok_1_access_token_verifies_against_jwks_with_at_jwt_and_kid(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let token = tokens["access_token"].as_str().unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.clone().expect("TOK-1: kid in the header");
    let set: JwkSet = app.get("/jwks.json").await.json().await.unwrap();
    let key = DecodingKey::from_jwk(set.find(&kid).expect("the kid is published")).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[RESOURCE]);
    validation.set_issuer(&[app.issuer.as_str()]);
    // The mock clock is not the wall clock: `exp` is checked against it below.
    validation.validate_exp = false;
    let claims = decode::<Value>(token, &key, &validation).unwrap().claims;
    // TOK-2: every required claim, with the right values.
    let now = app.clock.now();
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["client_id"], fixture.desktop.as_str());
    assert!(
        claims["sub"]
            .as_str()
            .is_some_and(|s| s.starts_with("usr_"))
    );
    assert_eq!(claims["iat"].as_i64(), Some(now));
    assert_eq!(claims["exp"].as_i64(), Some(now + 600));
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(claims["scope"], "tools:read");
    // Another token's payload under this signature does not verify.
    let other = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    let other_payload = other["access_token"].as_str().unwrap().split('.').nth(1);
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[1] = other_payload.unwrap();
    assert!(decode::<Value>(&parts.join("."), &key, &validation).is_err());
    app.finish().await;
}

async fn tok_2_each_token_has_its_own_jti(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let mut jtis = Vec::new();
    for _ in 0..2 {
        let code = desktop_code(&mut agent, &fixture).await;
        let (_, _, body) = app.redeem_desktop(&fixture, &code).await;
        let claims = jwt_payload(body["access_token"].as_str().unwrap());
        jtis.push(claims["jti"].as_str().unwrap().to_owned());
    }
    assert_ne!(jtis[0], jtis[1]);
    app.finish().await;
}

async fn pkce_5_wrong_or_missing_verifier_is_invalid_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let form = desktop_form(&fixture, &code, &[("code_verifier", WRONG_VERIFIER)]);
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    let code = desktop_code(&mut agent, &fixture).await;
    let mut form = desktop_form(&fixture, &code, &[]);
    form.retain(|(name, _)| *name != "code_verifier");
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn core_12_code_expires_after_60_seconds(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    app.clock.advance(Duration::from_secs(59));
    assert_ok(&app.redeem_desktop(&fixture, &code).await);
    let code = desktop_code(&mut agent, &fixture).await;
    app.clock.advance(Duration::from_secs(61));
    let answer = app.redeem_desktop(&fixture, &code).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn core_18_redirect_uri_differing_from_authorization_is_invalid_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    // Registered (any loopback port matches, SEC-2) but not the one the code was for.
    let other = [("redirect_uri", "http://127.0.0.1:5556/callback")];
    let answer = app
        .token(&desktop_form(&fixture, &code, &other), None)
        .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn core_13_code_redeemed_by_another_client_is_invalid_grant(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let mut form = desktop_form(&fixture, &code, &[]);
    form.retain(|(name, _)| *name != "client_id");
    let answer = app.token(&form, web_basic(&fixture)).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn res_4_token_request_naming_another_server_is_invalid_target(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let form = desktop_form(&fixture, &code, &[("resource", OTHER_RESOURCE)]);
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_target");
    app.finish().await;
}

async fn res_4_token_request_naming_the_bound_server_is_accepted(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let form = desktop_form(&fixture, &code, &[("resource", RESOURCE)]);
    let answer = app.token(&form, None).await;
    assert_ok(&answer);
    assert_eq!(
        jwt_payload(answer.2["access_token"].as_str().unwrap())["aud"],
        RESOURCE
    );
    app.finish().await;
}

async fn core_14_replayed_code_is_invalid_grant_and_revokes_the_first_tokens(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let first = app.redeem_desktop(&fixture, &code).await;
    assert_ok(&first);
    let access = first.2["access_token"].as_str().unwrap();
    let refresh = first.2["refresh_token"].as_str().unwrap();
    assert!(app.is_active_for_server(&fixture, access).await);
    let replay = app.redeem_desktop(&fixture, &code).await;
    assert_oauth_error(&replay, StatusCode::BAD_REQUEST, "invalid_grant");
    let refreshed = app.refresh_desktop(&fixture, refresh, &[]).await;
    assert_oauth_error(&refreshed, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!app.is_active_for_server(&fixture, access).await);
    app.finish().await;
}

/// CORE-14 revokes only when the replay was otherwise valid: someone who saw the code
/// but not the verifier cannot end the rightful client's grant.
async fn core_14_replay_with_wrong_verifier_does_not_revoke_the_first_tokens(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let first = app.redeem_desktop(&fixture, &code).await;
    assert_ok(&first);
    let form = desktop_form(&fixture, &code, &[("code_verifier", WRONG_VERIFIER)]);
    let replay = app.token(&form, None).await;
    assert_oauth_error(&replay, StatusCode::BAD_REQUEST, "invalid_grant");
    let access = first.2["access_token"].as_str().unwrap();
    assert!(app.is_active_for_server(&fixture, access).await);
    let refresh = first.2["refresh_token"].as_str().unwrap();
    assert_ok(&app.refresh_desktop(&fixture, refresh, &[]).await);
    app.finish().await;
}

async fn core_11_web_client_authenticates_with_basic(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = web_code(&mut agent, &fixture).await;
    let answer = app.token(&web_form(&code, &[]), web_basic(&fixture)).await;
    assert_ok(&answer);
    let claims = jwt_payload(answer.2["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], fixture.web.as_str());
    app.finish().await;
}

async fn core_11_web_client_authenticates_with_client_secret_post(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = web_code(&mut agent, &fixture).await;
    let credentials = [
        ("client_id", fixture.web.as_str()),
        ("client_secret", fixture.web_secret.as_str()),
    ];
    assert_ok(&app.token(&web_form(&code, &credentials), None).await);
    app.finish().await;
}

async fn core_8_wrong_secret_in_basic_is_401_with_www_authenticate(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = web_code(&mut agent, &fixture).await;
    let wrong = Some((fixture.web.as_str(), "not-the-secret"));
    let answer = app.token(&web_form(&code, &[]), wrong).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    let challenge = answer.1["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.to_ascii_lowercase().starts_with("basic"),
        "{challenge}"
    );
    // An unauthenticated request changed nothing: the code still works.
    assert_ok(&app.token(&web_form(&code, &[]), web_basic(&fixture)).await);
    app.finish().await;
}

async fn core_8_wrong_secret_in_body_is_invalid_client(app: TestApp) {
    let fixture = app.fixture().await;
    let credentials = [
        ("client_id", fixture.web.as_str()),
        ("client_secret", "not-the-secret"),
    ];
    let answer = app
        .token(&web_form("no-such-code", &credentials), None)
        .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    app.finish().await;
}

async fn core_8_unknown_client_is_invalid_client(app: TestApp) {
    app.fixture().await;
    let form = web_form("no-such-code", &[("client_id", "cli_nobody")]);
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    let form = web_form("no-such-code", &[]);
    let answer = app.token(&form, Some(("cli_nobody", "secret"))).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    app.finish().await;
}

async fn core_8_malformed_basic_header_is_401(app: TestApp) {
    app.fixture().await;
    // Not base64; no colon inside; another scheme.
    for header in ["Basic !!!", "Basic bm8tY29sb24=", "Bearer abc"] {
        let request = app
            .request(Method::POST, "/oauth2/token")
            .header("Authorization", header)
            .form(&[("grant_type", "authorization_code"), ("code", "x")]);
        let answer = send(request).await;
        assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(answer.1.contains_key("www-authenticate"), "{header}");
    }
    app.finish().await;
}

async fn core_10_basic_plus_secret_in_body_is_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = web_code(&mut agent, &fixture).await;
    let form = web_form(&code, &[("client_secret", &fixture.web_secret)]);
    let answer = app.token(&form, web_basic(&fixture)).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    app.finish().await;
}

async fn core_10_basic_plus_same_client_id_in_body_is_accepted(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = web_code(&mut agent, &fixture).await;
    let form = web_form(&code, &[("client_id", &fixture.web)]);
    assert_ok(&app.token(&form, web_basic(&fixture)).await);
    app.finish().await;
}

async fn core_10_confidential_client_sending_only_client_id_is_invalid_client(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = web_code(&mut agent, &fixture).await;
    let form = web_form(&code, &[("client_id", &fixture.web)]);
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    app.finish().await;
}

async fn core_10_public_client_sending_a_secret_is_invalid_client(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    // SEC-16: a secret embedded in a native app proves nothing.
    let form = desktop_form(&fixture, &code, &[("client_secret", "embedded-in-the-app")]);
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    app.finish().await;
}

async fn core_9_unknown_grant_type_is_unsupported_grant_type(app: TestApp) {
    let fixture = app.fixture().await;
    for grant in ["password", "implicit", "urn:example:made-up"] {
        let form = [
            ("grant_type", grant),
            ("client_id", fixture.desktop.as_str()),
        ];
        let answer = app.token(&form, None).await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    app.finish().await;
}

async fn core_9_grant_not_allowed_for_the_client_is_unauthorized_client(app: TestApp) {
    let fixture = app.fixture().await;
    // The introspector is registered with no grants at all.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "no-such-code"),
    ];
    let basic = Some((
        fixture.introspector.as_str(),
        fixture.introspector_secret.as_str(),
    ));
    let answer = app.token(&form, basic).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    // The desktop app may redeem codes and refresh, nothing else.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", fixture.desktop.as_str()),
    ];
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    app.finish().await;
}

async fn core_6_missing_grant_type_is_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let form = [("code", "abc"), ("client_id", fixture.desktop.as_str())];
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    app.finish().await;
}

async fn core_6_json_body_is_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let body = json!({
        "grant_type": "authorization_code", "code": code, "code_verifier": VERIFIER,
        "client_id": fixture.desktop, "redirect_uri": DESKTOP_REDIRECT,
    });
    let answer = send(app.request(Method::POST, "/oauth2/token").json(&body)).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    app.finish().await;
}

async fn core_6_repeated_parameter_is_invalid_request(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let mut form = desktop_form(&fixture, &code, &[]);
    form.push(("code", &code));
    let answer = app.token(&form, None).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    app.finish().await;
}

async fn core_6_unknown_parameters_are_ignored(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let code = desktop_code(&mut agent, &fixture).await;
    let mut form = desktop_form(&fixture, &code, &[]);
    form.extend([("x_extension", "1"), ("x_extension", "2")]);
    assert_ok(&app.token(&form, None).await);
    app.finish().await;
}

async fn refresh_1_client_without_the_refresh_grant_gets_no_refresh_token(app: TestApp) {
    app.fixture().await;
    let client = app
        .create_client(json!({
            "client_name": "CLI", "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1/callback"], "grant_types": ["authorization_code"],
        }))
        .await;
    let client_id = client["client_id"].as_str().unwrap();
    let mut agent = UserAgent::new(&app);
    let extra = [("resource", RESOURCE)];
    let code = agent.code(client_id, DESKTOP_REDIRECT, &extra).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", client_id),
        ("redirect_uri", DESKTOP_REDIRECT),
    ];
    let answer = app.token(&form, None).await;
    assert_ok(&answer);
    assert!(answer.2.get("refresh_token").is_none(), "{}", answer.2);
    app.finish().await;
}

both_backends!(
    core_7_token_response_is_no_store_json_with_bearer_expiry_and_scope,
    tok_1_access_token_verifies_against_jwks_with_at_jwt_and_kid,
    tok_2_each_token_has_its_own_jti,
    pkce_5_wrong_or_missing_verifier_is_invalid_grant,
    core_12_code_expires_after_60_seconds,
    core_18_redirect_uri_differing_from_authorization_is_invalid_grant,
    core_13_code_redeemed_by_another_client_is_invalid_grant,
    res_4_token_request_naming_another_server_is_invalid_target,
    res_4_token_request_naming_the_bound_server_is_accepted,
    core_14_replayed_code_is_invalid_grant_and_revokes_the_first_tokens,
    core_14_replay_with_wrong_verifier_does_not_revoke_the_first_tokens,
    core_11_web_client_authenticates_with_basic,
    core_11_web_client_authenticates_with_client_secret_post,
    core_8_wrong_secret_in_basic_is_401_with_www_authenticate,
    core_8_wrong_secret_in_body_is_invalid_client,
    core_8_unknown_client_is_invalid_client,
    core_8_malformed_basic_header_is_401,
    core_10_basic_plus_secret_in_body_is_invalid_request,
    core_10_basic_plus_same_client_id_in_body_is_accepted,
    core_10_confidential_client_sending_only_client_id_is_invalid_client,
    core_10_public_client_sending_a_secret_is_invalid_client,
    core_9_unknown_grant_type_is_unsupported_grant_type,
    core_9_grant_not_allowed_for_the_client_is_unauthorized_client,
    core_6_missing_grant_type_is_invalid_request,
    core_6_json_body_is_invalid_request,
    core_6_repeated_parameter_is_invalid_request,
    core_6_unknown_parameters_are_ignored,
    refresh_1_client_without_the_refresh_grant_gets_no_refresh_token,
);
