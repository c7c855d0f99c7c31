//! CIMD-20: a CIMD client whose document says `private_key_jwt` and carries `jwks` is
//! confidential: its token and revocation calls authenticate with an assertion signed
//! by a key of the document, and nothing less. It still never gets the client
//! credentials grant (CC-2).

use serde_json::json;

use super::{Assertion, TestKey, assert_refused, assertion_params, cc_with_assertion, jwks};
use crate::both_backends;
use crate::cimd::{DOC_PATH, REQUEST_REDIRECT, native_document, start};
use crate::harness::Backend;
use crate::harness::flow::{RESOURCE, UserAgent, VERIFIER, assert_oauth_error, jwt_payload};
use crate::harness::tls_fixture::Reply;

/// `form` followed by `extra`.
fn plus<'a>(form: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    [form, extra].concat()
}

async fn cimd_20_private_key_jwt_client_redeems_its_code_with_an_assertion(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let fixture = app.fixture().await;
    let id = docs.url(DOC_PATH);
    let key = TestKey::es256("doc-key");
    let mut document = native_document(&id, "Keyed Toolkit");
    document["token_endpoint_auth_method"] = json!("private_key_jwt");
    document["jwks"] = jwks(&[&key]);
    docs.set(DOC_PATH, Reply::json(&document));

    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(&id, REQUEST_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REQUEST_REDIRECT),
    ];

    // Its client_id alone proves nothing, and neither does a key outside the document
    // or an audience other than the issuer. None of these spends the code.
    let answer = app.token(&plus(&redeem, &[("client_id", &id)]), None).await;
    assert_refused(&answer, "client authentication failed");
    let stranger = TestKey::es256("doc-key");
    let forged = Assertion::new(&app, &id, &stranger).jwt();
    let answer = app
        .token(&plus(&redeem, &assertion_params(&forged)), None)
        .await;
    assert_refused(&answer, "signature is not valid");
    let token_endpoint = format!("{}/oauth2/token", app.issuer);
    let misaddressed = Assertion::new(&app, &id, &key)
        .claim("aud", json!(token_endpoint))
        .jwt();
    let answer = app
        .token(&plus(&redeem, &assertion_params(&misaddressed)), None)
        .await;
    assert_refused(&answer, "aud must be this issuer");

    let jwt = Assertion::new(&app, &id, &key).jwt();
    let (status, _, tokens) = app
        .token(&plus(&redeem, &assertion_params(&jwt)), None)
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{tokens}");
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], id.as_str(), "{claims}");
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    assert_ne!(claims["sub"], id.as_str(), "a user's token: {claims}");
    let access = tokens["access_token"].as_str().unwrap();
    assert!(app.is_active_for_server(&fixture, access).await);

    // Revocation authenticates the same way (CIMD-20); a spent assertion is no proof.
    let revoke = |extra: Vec<(&'static str, String)>| {
        let mut form = vec![("token", access.to_owned())];
        form.extend(extra);
        form
    };
    let attempts = [
        revoke(vec![("client_id", id.clone())]),
        revoke(vec![
            ("client_assertion_type", super::ASSERTION_TYPE.to_owned()),
            ("client_assertion", jwt.clone()),
        ]),
    ];
    for form in &attempts {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = app.post_form("/oauth2/revoke", &form, None).await;
        assert_oauth_error(&answer, reqwest::StatusCode::BAD_REQUEST, "invalid_client");
    }
    assert!(app.is_active_for_server(&fixture, access).await);
    let fresh = Assertion::new(&app, &id, &key).jwt();
    let mut form = vec![("token", access)];
    form.extend_from_slice(&assertion_params(&fresh));
    let (status, _, body) = app.post_form("/oauth2/revoke", &form, None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(!app.is_active_for_server(&fixture, access).await);
    assert_eq!(docs.hits(DOC_PATH), 1);
    app.finish().await;
}

async fn cc_2_cimd_client_with_keys_never_gets_client_credentials(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let path = "/clients/agent.json";
    let id = docs.url(path);
    let key = TestKey::es256("agent-key");
    let mut document = native_document(&id, "Self-described agent");
    document["token_endpoint_auth_method"] = json!("private_key_jwt");
    document["jwks"] = jwks(&[&key]);
    document["grant_types"] = json!(["authorization_code", "client_credentials"]);
    docs.set(path, Reply::json(&document));
    let jwt = Assertion::new(&app, &id, &key).jwt();
    let answer = cc_with_assertion(&app, &jwt, &[("resource", RESOURCE)]).await;
    assert_oauth_error(
        &answer,
        reqwest::StatusCode::BAD_REQUEST,
        "unauthorized_client",
    );
    assert_eq!(docs.hits(path), 1, "the document was consulted");
    app.finish().await;
}

both_backends!(
    backend: cimd_20_private_key_jwt_client_redeems_its_code_with_an_assertion,
    cc_2_cimd_client_with_keys_never_gets_client_credentials,
);
