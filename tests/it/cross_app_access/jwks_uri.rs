//! The IdP's keys fetched from its `jwks_uri` (XAA-4) over real TLS from [`DocServer`]:
//! fetched on first use through the guarded outbound client, which validates TLS;
//! cached; fetched again when a new `kid` appears (key rotation) but not for every
//! unknown `kid`. Keys and key URLs carried in the JWS header are never used (TOK-7).

use serde_json::json;

use super::{IdpKey, Xaa, assert_refused, assert_token, jwks};
use crate::both_backends;
use crate::cimd::start;
use crate::harness::tls_fixture::{DocServer, Reply};
use crate::harness::{Backend, TestApp};

const JWKS_PATH: &str = "/idp/keys.jwks";

/// The standard setting with the IdP's keys at [`JWKS_PATH`] on `docs` (served: the
/// IdP's current key).
async fn uri_idp(app: TestApp, docs: &DocServer) -> Xaa {
    let members = json!({"jwks": null, "jwks_uri": docs.url(JWKS_PATH)});
    let xaa = Xaa::with_idp(app, members).await;
    docs.set(JWKS_PATH, Reply::json(&jwks(&[&xaa.key])));
    xaa
}

async fn xaa_4_jwks_uri_is_cached_and_refetched_for_a_rotated_key(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let xaa = uri_idp(app, &docs).await;
    let view = xaa
        .app
        .admin_ok(
            reqwest::Method::GET,
            &xaa.idp_path(),
            None,
            reqwest::StatusCode::OK,
        )
        .await;
    assert_eq!(view["jwks_uri"], docs.url(JWKS_PATH), "{view}");
    assert!(view.get("jwks").is_none(), "{view}");
    assert_eq!(docs.hits(JWKS_PATH), 0, "fetched before first use");
    for _ in 0..3 {
        assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    }
    assert_eq!(docs.hits(JWKS_PATH), 1, "one fetch serves every use");
    let head = docs.heads()[0].to_ascii_lowercase();
    assert!(
        head.starts_with(&format!("get {JWKS_PATH} http/1.1\r\n")),
        "{head}"
    );
    assert!(
        head.contains("\r\naccept: application/jwk-set+json"),
        "{head}"
    );

    // The IdP rotates: its set now holds only the new key.
    let rotated = IdpKey::es256("idp-signing-8");
    docs.set(JWKS_PATH, Reply::json(&jwks(&[&rotated])));
    let by_new = || super::Jwt::id_jag(&xaa.app, &rotated, &xaa.client_id).jwt();
    assert_token(&xaa.redeem(&by_new()).await);
    assert_eq!(docs.hits(JWKS_PATH), 2, "the new kid caused one refetch");
    assert_token(&xaa.redeem(&by_new()).await);
    assert_eq!(docs.hits(JWKS_PATH), 2);

    // The retired key went with the old set; neither it nor a made-up kid makes the
    // server fetch again within the refetch period.
    let made_up = IdpKey::es256("made-up");
    for jwt in [
        xaa.id_jag().jwt(),
        super::Jwt::id_jag(&xaa.app, &made_up, &xaa.client_id).jwt(),
    ] {
        assert_refused(
            &xaa.redeem(&jwt).await,
            "invalid_grant",
            "signature is not valid",
        );
    }
    assert_eq!(docs.hits(JWKS_PATH), 2, "refetches are rate limited");
    xaa.finish().await;
}

/// XAA-4: validated TLS. Without the test CA the server cannot fetch the keys, so
/// nothing verifies; the document server never sees a request.
async fn xaa_4_jwks_uri_needs_a_trusted_certificate(backend: Backend) {
    let docs = DocServer::start().await;
    let app = TestApp::spawn_with(backend, "", "").await;
    let xaa = uri_idp(app, &docs).await;
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "keys cannot be used",
    );
    assert_eq!(docs.total_hits(), 0);
    xaa.finish().await;
}

/// XAA-4: a key set that cannot be fetched or used verifies nothing.
async fn xaa_4_unusable_jwks_uri_is_refused(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let xaa = uri_idp(app, &docs).await;
    for reply in [
        Reply::status(404),
        Reply::json(&json!({"keys": []})),
        Reply::raw("not json").content_type("application/json"),
    ] {
        docs.set(JWKS_PATH, reply);
        assert_refused(
            &xaa.redeem(&xaa.id_jag().jwt()).await,
            "invalid_grant",
            "keys cannot be used",
        );
    }
    docs.set(JWKS_PATH, Reply::json(&jwks(&[&xaa.key])));
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.finish().await;
}

/// TOK-7: `jwk`, `jku` and `x5u` in the header are ignored: an attacker's key, embedded
/// or pointed at, verifies nothing, and the pointed-at URLs are never fetched.
async fn tok_7_embedded_keys_and_key_urls_are_ignored(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let xaa = Xaa::new(app).await;
    let attacker = IdpKey::es256("attacker");
    docs.set("/attacker.jwks", Reply::json(&jwks(&[&attacker])));
    for kid in ["attacker", xaa.key.kid.as_str()] {
        let jwt = xaa
            .id_jag()
            .signed_by(&attacker)
            .header("kid", json!(kid))
            .header("jwk", attacker.jwk())
            .header("jku", json!(docs.url("/attacker.jwks")))
            .header("x5u", json!(docs.url("/attacker.pem")))
            .jwt();
        assert_refused(
            &xaa.redeem(&jwt).await,
            "invalid_grant",
            "signature is not valid",
        );
    }
    assert_eq!(docs.total_hits(), 0, "a header URL was fetched");
    // The same members on a genuine ID-JAG change nothing.
    let jwt = xaa
        .id_jag()
        .header("jwk", attacker.jwk())
        .header("jku", json!(docs.url("/attacker.jwks")))
        .jwt();
    assert_token(&xaa.redeem(&jwt).await);
    assert_eq!(docs.total_hits(), 0);
    xaa.finish().await;
}

/// XAA-4, XAA-18: an IdP created with neither `jwks` nor `jwks_uri` gets the
/// `jwks_uri` its metadata names: RFC 8414's well-known URI first, then OpenID
/// discovery; a document naming another issuer, or none at all, is refused.
async fn xaa_18_keys_are_discovered_from_the_idp_metadata(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    let issuer = docs.url("/idp");
    let openid = "/idp/.well-known/openid-configuration";
    docs.set(
        openid,
        Reply::json(&json!({"issuer": issuer, "jwks_uri": docs.url(JWKS_PATH)})),
    );
    let xaa = Xaa::with_idp(app, json!({"issuer": issuer, "jwks": null})).await;
    docs.set(JWKS_PATH, Reply::json(&jwks(&[&xaa.key])));
    let view = xaa.patch_idp(json!({})).await;
    assert_eq!(view["jwks_uri"], docs.url(JWKS_PATH), "{view}");
    assert_eq!(docs.hits("/.well-known/oauth-authorization-server/idp"), 1);
    assert_eq!(docs.hits(openid), 1);
    let jwt = xaa.id_jag().claim("iss", json!(issuer)).jwt();
    assert_token(&xaa.redeem(&jwt).await);

    // RFC 8414 metadata naming another issuer: a mix-up, refused.
    let other = docs.url("/other");
    docs.set(
        "/.well-known/oauth-authorization-server/other",
        Reply::json(&json!({"issuer": "https://evil.example", "jwks_uri": docs.url(JWKS_PATH)})),
    );
    // No metadata anywhere.
    let missing = docs.url("/missing");
    for (issuer, says) in [
        (&other, "names issuer"),
        (&missing, "could not be discovered"),
    ] {
        let body = json!({"issuer": issuer, "clients": [{"client_id": xaa.client_id}]});
        let response = xaa
            .app
            .admin(reqwest::Method::POST, "/admin/api/v1/idps", Some(body))
            .await;
        assert_eq!(response.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["field"], "jwks_uri", "{error}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    xaa.finish().await;
}

both_backends!(
    backend: xaa_18_keys_are_discovered_from_the_idp_metadata,
    xaa_4_jwks_uri_is_cached_and_refetched_for_a_rotated_key,
    xaa_4_jwks_uri_needs_a_trusted_certificate,
    xaa_4_unusable_jwks_uri_is_refused,
    tok_7_embedded_keys_and_key_urls_are_ignored,
);
