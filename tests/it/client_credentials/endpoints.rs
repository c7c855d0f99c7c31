//! Client credentials tokens at the introspection and revocation endpoints, with every
//! party authenticating by `private_key_jwt` (CC-3, INTRO-2/4, REVOKE-1/2, TOK-3).

use reqwest::StatusCode;
use serde_json::json;

use super::{
    Assertion, TestKey, assert_issued, assert_refused, assertion_params, cc_with_assertion, jwks,
    key_client,
};
use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{OAuthAnswer, RESOURCE, assert_oauth_error};

const INTROSPECT: &str = "/oauth2/introspect";
const REVOKE: &str = "/oauth2/revoke";

/// POSTs `token` to `path` (introspect or revoke) authenticated by the assertion `jwt`.
async fn with_assertion(app: &TestApp, path: &str, token: &str, jwt: &str) -> OAuthAnswer {
    let mut form = vec![("token", token)];
    form.extend_from_slice(&assertion_params(jwt));
    app.post_form(path, &form, None).await
}

/// INTRO-1: a failed authentication at introspection is always a 401 with a challenge.
fn assert_unauthorized(answer: &OAuthAnswer, mentions: &str) {
    assert_oauth_error(answer, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(answer.1.contains_key("www-authenticate"), "{:?}", answer.1);
    let description = answer.2["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "{description:?} lacks {mentions:?}"
    );
}

async fn cc_3_introspection_and_revocation_authenticate_with_private_key_jwt(app: TestApp) {
    app.fixture().await;
    let agent_key = TestKey::es256("agent");
    let agent = key_client(&app, &[&agent_key]).await;
    // The MCP server, registered as an introspecting confidential client with keys.
    let server_key = TestKey::es256("mcp");
    let server = app
        .create_client(json!({
            "client_name": "Docs MCP server (keys)", "grant_types": [],
            "allow_introspection": true, "allowed_resources": [RESOURCE],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&[&server_key]),
        }))
        .await;
    let server = server["client_id"].as_str().unwrap().to_owned();
    let issued =
        cc_with_assertion(&app, &Assertion::new(&app, &agent, &agent_key).jwt(), &[]).await;
    assert_issued(&issued);
    let token = issued.2["access_token"].as_str().unwrap();

    let as_server = || Assertion::new(&app, &server, &server_key).jwt();
    let (status, headers, body) = with_assertion(&app, INTROSPECT, token, &as_server()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["sub"], agent.as_str(), "{body}");
    assert_eq!(body["client_id"], agent.as_str(), "{body}");
    assert_eq!(body["aud"], RESOURCE, "{body}");
    assert_eq!(body["scope"], "tools:read", "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["iss"], app.issuer, "{body}");

    // The introspecting server's assertions are checked like any other.
    let spent = as_server();
    let answer = with_assertion(&app, INTROSPECT, token, &spent).await;
    assert_eq!(answer.0, StatusCode::OK);
    let answer = with_assertion(&app, INTROSPECT, token, &spent).await;
    assert_unauthorized(&answer, "already used");
    let forged = Assertion::new(&app, &server, &agent_key).jwt();
    let answer = with_assertion(&app, INTROSPECT, token, &forged).await;
    assert_unauthorized(&answer, "signature is not valid");
    let answer = app
        .post_form(
            INTROSPECT,
            &[("token", token), ("client_id", &server)],
            None,
        )
        .await;
    assert_unauthorized(&answer, "client authentication failed");
    // INTRO-4: the agent (not an introspecting server) learns nothing.
    let answer = with_assertion(
        &app,
        INTROSPECT,
        token,
        &Assertion::new(&app, &agent, &agent_key).jwt(),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK, "{:?}", answer.2);
    assert_eq!(answer.2, json!({"active": false}));

    // REVOKE-2: the server cannot revoke the agent's token; an unauthenticated
    // revocation is refused; the agent revokes it with an assertion (REVOKE-1).
    let answer = with_assertion(
        &app,
        REVOKE,
        token,
        &Assertion::new(&app, &server, &server_key).jwt(),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK, "{:?}", answer.2);
    let answer = app
        .post_form(REVOKE, &[("token", token), ("client_id", &agent)], None)
        .await;
    assert_refused(&answer, "client authentication failed");
    let still = with_assertion(&app, INTROSPECT, token, &as_server()).await;
    assert_eq!(still.2["active"], true, "{:?}", still.2);

    let answer = with_assertion(
        &app,
        REVOKE,
        token,
        &Assertion::new(&app, &agent, &agent_key).jwt(),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK, "{:?}", answer.2);
    let after = with_assertion(&app, INTROSPECT, token, &as_server()).await;
    assert_eq!(after.0, StatusCode::OK);
    assert_eq!(after.2, json!({"active": false}));
    app.finish().await;
}

both_backends!(cc_3_introspection_and_revocation_authenticate_with_private_key_jwt);
