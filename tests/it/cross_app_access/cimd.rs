//! EXAMPLES.md section 8: a CIMD client (its `client_id` is the URL of its metadata
//! document, served by [`DocServer`](crate::harness::tls_fixture::DocServer)) redeems an
//! ID-JAG naming that URL, authenticating with `private_key_jwt` under a key of its
//! document (XAA-1, XAA-8); a public CIMD client only where the IdP allows it (XAA-9).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    ASSERTION_TYPE, IdpKey, JWT_BEARER, Jwt, Xaa, assert_refused, assert_token, jwks, redeem,
};
use crate::both_backends;
use crate::cimd::{DOC_PATH, native_document, start};
use crate::harness::Backend;
use crate::harness::flow::{RESOURCE, assert_oauth_error};

/// A CIMD document at `client_id` using `method`, with the jwt-bearer grant.
fn agent_document(client_id: &str, method: &str) -> Value {
    let mut document = native_document(client_id, "Enterprise agent");
    document["token_endpoint_auth_method"] = json!(method);
    document["grant_types"] = json!(["authorization_code", JWT_BEARER]);
    document
}

async fn xaa_1_cimd_client_redeems_with_a_client_assertion(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let url = docs.url(DOC_PATH);
    let client_key = IdpKey::es256("agent-key-1");
    let mut document = agent_document(&url, "private_key_jwt");
    document["jwks"] = jwks(&[&client_key]);
    docs.set(
        DOC_PATH,
        crate::harness::tls_fixture::Reply::json(&document),
    );
    // The IdP speaks for the CIMD client by its URL (not yet seen here).
    xaa.patch_idp(json!({"clients": [{"client_id": xaa.client_id}, {"client_id": url}]}))
        .await;

    let id_jag = || Jwt::id_jag(app, &xaa.key, &url);
    let authenticated = |jwt: String| {
        [
            ("client_id", url.clone()),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", jwt),
        ]
    };
    let send = |assertion: String, auth: [(&'static str, String); 3]| async move {
        let extra: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        redeem(app, &assertion, None, &extra).await
    };

    // Its client_id alone proves nothing; an assertion under a stranger's key neither.
    let answer = redeem(app, &id_jag().jwt(), None, &[("client_id", &url)]).await;
    assert_eq!(answer.2["error"], "invalid_client", "{}", answer.2);
    let stranger = IdpKey::es256("agent-key-1");
    let forged = Jwt::client_assertion(app, &stranger, &url).jwt();
    let answer = send(id_jag().jwt(), authenticated(forged)).await;
    assert_eq!(answer.2["error"], "invalid_client", "{}", answer.2);

    let jag = id_jag();
    let proof = Jwt::client_assertion(app, &client_key, &url).jwt();
    let answer = send(jag.jwt(), authenticated(proof.clone())).await;
    let claims = assert_token(&answer);
    assert_eq!(claims["client_id"], url.as_str(), "{claims}");
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    assert!(
        claims["sub"].as_str().unwrap().starts_with("usr_"),
        "{claims}"
    );

    // The client assertion is single-use too (CC-8), and the ID-JAG is spent (XAA-12).
    let answer = send(id_jag().jwt(), authenticated(proof)).await;
    assert_eq!(answer.2["error"], "invalid_client", "{}", answer.2);
    let fresh = Jwt::client_assertion(app, &client_key, &url).jwt();
    let answer = send(jag.jwt(), authenticated(fresh)).await;
    assert_refused(&answer, "invalid_grant", "already used");
    // An ID-JAG issued to the pre-registered client is not the CIMD client's.
    let fresh = Jwt::client_assertion(app, &client_key, &url).jwt();
    let answer = send(xaa.id_jag().jwt(), authenticated(fresh)).await;
    assert_refused(&answer, "invalid_grant", "not the authenticated client");
    assert_eq!(docs.hits(DOC_PATH), 1, "the document is cached");
    xaa.finish().await;
}

/// XAA-15: a CIMD document without the jwt-bearer grant does not get it.
async fn xaa_15_cimd_client_without_the_grant_is_unauthorized_client(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let url = docs.url(DOC_PATH);
    let client_key = IdpKey::es256("agent-key-1");
    let mut document = agent_document(&url, "private_key_jwt");
    document["jwks"] = jwks(&[&client_key]);
    document["grant_types"] = json!(["authorization_code"]);
    docs.set(
        DOC_PATH,
        crate::harness::tls_fixture::Reply::json(&document),
    );
    xaa.patch_idp(json!({"clients": [{"client_id": url}]}))
        .await;
    let proof = Jwt::client_assertion(app, &client_key, &url).jwt();
    let jwt = Jwt::id_jag(app, &xaa.key, &url).jwt();
    let extra = [
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", proof.as_str()),
    ];
    let answer = redeem(app, &jwt, None, &extra).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    xaa.finish().await;
}

/// XAA-9: a public CIMD client (`none`) only where the IdP allows public clients.
async fn xaa_9_public_cimd_client_needs_allow_public_clients(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let url = docs.url(DOC_PATH);
    docs.set(
        DOC_PATH,
        crate::harness::tls_fixture::Reply::json(&agent_document(&url, "none")),
    );
    xaa.patch_idp(json!({"clients": [{"client_id": url}]}))
        .await;
    let jwt = Jwt::id_jag(app, &xaa.key, &url).jwt();
    let answer = redeem(app, &jwt, None, &[("client_id", &url)]).await;
    assert_refused(&answer, "unauthorized_client", "confidential client");
    xaa.patch_idp(json!({"allow_public_clients": true})).await;
    let claims = assert_token(&redeem(app, &jwt, None, &[("client_id", &url)]).await);
    assert_eq!(claims["client_id"], url.as_str(), "{claims}");
    xaa.finish().await;
}

both_backends!(
    backend: xaa_1_cimd_client_redeems_with_a_client_assertion,
    xaa_15_cimd_client_without_the_grant_is_unauthorized_client,
    xaa_9_public_cimd_client_needs_allow_public_clients,
);
