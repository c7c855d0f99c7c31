//! `private_key_jwt` with a `jwks_uri` served over real TLS by [`DocServer`] (CC-9,
//! CC-12): fetched once and cached, fetched again when a new `kid` appears (key
//! rotation), but at most once per 30 s, so made-up `kid`s cannot make the server
//! fetch on every request.
//!
//! [`DocServer`]: crate::harness::tls_fixture::DocServer

use serde_json::json;

use super::{
    Assertion, TestKey, assert_issued, assert_machine_token, assert_refused, cc_with_assertion,
    jwks, machine_client,
};
use crate::both_backends;
use crate::cimd::start;
use crate::harness::flow::RESOURCE;
use crate::harness::tls_fixture::{DocServer, Reply};
use crate::harness::{Backend, TestApp};

const JWKS_PATH: &str = "/keys/agent.jwks";

/// A `private_key_jwt` machine client whose keys live at `JWKS_PATH` on `docs`.
async fn uri_client(app: &TestApp, docs: &DocServer) -> String {
    let created = machine_client(
        app,
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": docs.url(JWKS_PATH)}),
    )
    .await;
    assert_eq!(created["jwks_uri"], docs.url(JWKS_PATH), "{created}");
    created["client_id"].as_str().unwrap().to_owned()
}

async fn cc_9_jwks_uri_is_cached_and_refetched_once_for_a_rotated_key(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let old = TestKey::es256("2026-01");
    docs.set(JWKS_PATH, Reply::json(&jwks(&[&old])));
    let id = uri_client(&app, &docs).await;
    assert_eq!(docs.hits(JWKS_PATH), 0, "fetched before first use");

    for _ in 0..3 {
        let jwt = Assertion::new(&app, &id, &old).jwt();
        let claims = assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
        assert_machine_token(&claims, &id, RESOURCE);
    }
    assert_eq!(docs.hits(JWKS_PATH), 1, "one fetch serves every use");

    // The client rotates: its set now holds only the new key.
    let new = TestKey::es256("2026-02");
    docs.set(JWKS_PATH, Reply::json(&jwks(&[&new])));
    let jwt = Assertion::new(&app, &id, &new).jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    assert_eq!(
        docs.hits(JWKS_PATH),
        2,
        "the unknown kid caused one refetch"
    );
    let jwt = Assertion::new(&app, &id, &new).jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    let jwt = Assertion::new(&app, &id, &new).without_header("kid").jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    assert_eq!(docs.hits(JWKS_PATH), 2);

    // The retired key is gone with the old set, and neither it nor a made-up kid
    // triggers another fetch within the refetch period.
    for kid_of in [&old, &TestKey::es256("made-up")] {
        let jwt = Assertion::new(&app, &id, kid_of).jwt();
        let answer = cc_with_assertion(&app, &jwt, &[]).await;
        assert_refused(&answer, "signature is not valid");
    }
    assert_eq!(docs.hits(JWKS_PATH), 2, "refetches are rate limited");
    // What was fetched was a GET for a JWK Set.
    let head = docs.heads()[0].to_ascii_lowercase();
    assert!(
        head.starts_with(&format!("get {JWKS_PATH} http/1.1\r\n")),
        "{head}"
    );
    assert!(
        head.contains("\r\naccept: application/jwk-set+json"),
        "{head}"
    );
    app.finish().await;
}

async fn cc_9_unusable_jwks_uri_is_invalid_client_until_it_serves_keys(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let key = TestKey::es256("k1");
    let id = uri_client(&app, &docs).await;
    let unusable = [
        Reply::status(404),
        Reply::status(500),
        Reply::raw("not json").content_type("application/json"),
        // A symmetric key is never a verification key (TOK-7).
        Reply::json(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]})),
        Reply::json(&json!({"keys": []})),
    ];
    for (served, reply) in unusable.into_iter().enumerate() {
        docs.set(JWKS_PATH, reply);
        let jwt = Assertion::new(&app, &id, &key).jwt();
        let answer = cc_with_assertion(&app, &jwt, &[]).await;
        assert_refused(&answer, "keys cannot be used");
        // Failures are not cached as sets: each use asks again.
        assert!(docs.hits(JWKS_PATH) > served, "{served}");
    }
    docs.set(JWKS_PATH, Reply::json(&jwks(&[&key])));
    let jwt = Assertion::new(&app, &id, &key).jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    app.finish().await;
}

both_backends!(
    backend: cc_9_jwks_uri_is_cached_and_refetched_once_for_a_rotated_key,
    cc_9_unusable_jwks_uri_is_invalid_client_until_it_serves_keys,
);
