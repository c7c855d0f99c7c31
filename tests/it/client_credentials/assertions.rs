//! `private_key_jwt` with an inline `jwks`: what is accepted (CC-3, CC-5, CC-9) and
//! each way an assertion is refused (CC-5..10, TOK-7). Every refusal is checked beside
//! an assertion that differs only in the defect and is accepted.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{
    Assertion, KeyKind, TestKey, assert_issued, assert_machine_token, assert_one_winner,
    assert_refused, assertion_params, cc_with_assertion, fresh_jti, jwks, key_client, race,
};
use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{RESOURCE, assert_oauth_error};

/// The fixture, and a `private_key_jwt` machine client holding `key` alone.
async fn with_key_client(app: &TestApp, key: &TestKey) -> String {
    app.fixture().await;
    key_client(app, &[key]).await
}

async fn cc_3_private_key_jwt_with_es256_and_eddsa_gets_a_token(app: TestApp) {
    app.fixture().await;
    let es = TestKey::new(KeyKind::Es256, "es-1");
    let ed = TestKey::new(KeyKind::Ed25519, "ed-1");
    let id = key_client(&app, &[&es, &ed]).await;
    for key in [&es, &ed] {
        let jwt = Assertion::new(&app, &id, key).jwt();
        let answer = cc_with_assertion(&app, &jwt, &[("scope", "tools:call")]).await;
        let claims = assert_issued(&answer);
        assert_machine_token(&claims, &id, RESOURCE);
        assert_eq!(claims["scope"], "tools:call", "{claims}");
    }
    // CC-9: typ absent, JWT or the explicit type; no kid (every key is tried); aud as a
    // one-element array (CC-6); client_id in the body naming the same client (CC-5).
    for jwt in [
        Assertion::new(&app, &id, &es).without_header("typ").jwt(),
        Assertion::new(&app, &id, &ed)
            .header("typ", json!("client-authentication+jwt"))
            .jwt(),
        Assertion::new(&app, &id, &es).without_header("kid").jwt(),
        Assertion::new(&app, &id, &ed)
            .claim("aud", json!([app.issuer]))
            .jwt(),
    ] {
        assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    }
    let jwt = Assertion::new(&app, &id, &es).jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[("client_id", &id)]).await);
    app.finish().await;
}

async fn cc_5_assertion_type_and_body_client_id_must_match(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let jwt = Assertion::new(&app, &id, &key).jwt();
    for assertion_type in [
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "jwt-bearer",
        "",
    ] {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", assertion_type),
            ("client_assertion", &jwt),
        ];
        assert_refused(&app.token(&form, None).await, "client_assertion_type");
    }
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion", jwt.as_str()),
    ];
    assert_refused(&app.token(&form, None).await, "client_assertion_type");
    let other = with_other_key_client(&app).await;
    let answer = cc_with_assertion(&app, &jwt, &[("client_id", &other)]).await;
    assert_refused(&answer, "client_id differs");
    // None of these used up the jti: the same assertion still works.
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    // CORE-10: an assertion and a Basic secret at once are two methods.
    let secret_client = super::machine_client(&app, json!({})).await;
    let mut form = vec![("grant_type", "client_credentials")];
    let jwt = Assertion::new(&app, &id, &key).jwt();
    form.extend_from_slice(&assertion_params(&jwt));
    let basic = Some((
        secret_client["client_id"].as_str().unwrap(),
        secret_client["client_secret"].as_str().unwrap(),
    ));
    let answer = app.token(&form, basic).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    app.finish().await;
}

async fn with_other_key_client(app: &TestApp) -> String {
    key_client(app, &[&TestKey::es256("other")]).await
}

async fn cc_6_iss_and_sub_must_both_be_the_client(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let other = with_other_key_client(&app).await;
    let mismatched = [
        Assertion::new(&app, &id, &key).claim("iss", json!(other)),
        Assertion::new(&app, &id, &key).claim("iss", json!("https://client.example")),
        Assertion::new(&app, &id, &key).without("iss"),
    ];
    for assertion in mismatched {
        let answer = cc_with_assertion(&app, &assertion.jwt(), &[]).await;
        assert_refused(&answer, "iss and sub must both be the client_id");
    }
    // `sub` names whose keys verify: another client's id under our key fails the
    // signature, and a secret client cannot be named at all.
    let as_other = Assertion::new(&app, &other, &key);
    let answer = cc_with_assertion(&app, &as_other.jwt(), &[]).await;
    assert_refused(&answer, "signature is not valid");
    let secret_client = super::machine_client(&app, json!({})).await;
    let secret_id = secret_client["client_id"].as_str().unwrap();
    let jwt = Assertion::new(&app, secret_id, &key).jwt();
    assert_refused(
        &cc_with_assertion(&app, &jwt, &[]).await,
        "client authentication failed",
    );
    let jwt = Assertion::new(&app, &id, &key).without("sub").jwt();
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "no sub");
    app.finish().await;
}

async fn cc_6_aud_is_the_issuer_alone_unless_the_legacy_switch_is_on(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let token_endpoint = format!("{}/oauth2/token", app.issuer);
    let refused = |aud| Assertion::new(&app, &id, &key).claim("aud", aud).jwt();
    for aud in [
        json!(token_endpoint),
        json!([token_endpoint]),
        json!(format!("{}/", app.issuer)),
        json!("https://other-as.example"),
    ] {
        let answer = cc_with_assertion(&app, &refused(aud.clone()), &[]).await;
        assert_refused(&answer, "aud must be this issuer");
    }
    for aud in [
        json!([app.issuer, token_endpoint]),
        json!([app.issuer, app.issuer]),
        json!([]),
    ] {
        let answer = cc_with_assertion(&app, &refused(aud.clone()), &[]).await;
        assert_refused(&answer, "aud must name only this issuer");
    }
    let jwt = Assertion::new(&app, &id, &key).without("aud").jwt();
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "no aud");

    let path = format!("/admin/api/v1/clients/{id}");
    let patched = app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"accept_token_endpoint_audience": true})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(patched["accept_token_endpoint_audience"], true);
    // With the switch the token endpoint is accepted as the only value; the issuer
    // still is; two values still are not.
    for aud in [
        json!(token_endpoint),
        json!([token_endpoint]),
        json!(app.issuer),
    ] {
        let jwt = Assertion::new(&app, &id, &key).claim("aud", aud).jwt();
        assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    }
    let jwt = refused(json!([app.issuer, token_endpoint]));
    assert_refused(
        &cc_with_assertion(&app, &jwt, &[]).await,
        "aud must name only this issuer",
    );
    // Another client does not inherit the switch.
    let other_key = TestKey::es256("o1");
    let other = key_client(&app, &[&other_key]).await;
    let jwt = Assertion::new(&app, &other, &other_key)
        .claim("aud", json!(token_endpoint))
        .jwt();
    assert_refused(
        &cc_with_assertion(&app, &jwt, &[]).await,
        "aud must be this issuer",
    );
    app.finish().await;
}

async fn cc_7_exp_is_required_and_lifetime_and_skew_are_bounded(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let now = app.clock_now();
    let at = |claims: &[(&str, i64)]| {
        claims
            .iter()
            .fold(Assertion::new(&app, &id, &key), |a, (name, value)| {
                a.claim(name, json!(value))
            })
            .jwt()
    };
    for (jwt, mentions) in [
        (
            Assertion::new(&app, &id, &key).without("exp").jwt(),
            "no exp",
        ),
        (at(&[("iat", now - 300), ("exp", now - 61)]), "expired"),
        (
            at(&[("iat", now), ("exp", now + 601)]),
            "longer than 10 minutes",
        ),
        (
            at(&[("iat", now - 100), ("exp", now + 520)]),
            "longer than 10 minutes",
        ),
        (
            Assertion::new(&app, &id, &key)
                .without("iat")
                .claim("exp", json!(now + 661))
                .jwt(),
            "longer than 10 minutes",
        ),
        (
            at(&[("iat", now + 61), ("exp", now + 300)]),
            "iat is in the future",
        ),
        (at(&[("nbf", now + 61)]), "not valid yet"),
    ] {
        assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, mentions);
    }
    // The bounds themselves are accepted: exactly 10 minutes, 60 s of skew each way.
    for jwt in [
        at(&[("iat", now), ("exp", now + 600)]),
        at(&[("iat", now - 300), ("exp", now - 59)]),
        at(&[("iat", now + 60), ("exp", now + 300)]),
        at(&[("nbf", now + 60)]),
        Assertion::new(&app, &id, &key).without("iat").jwt(),
    ] {
        assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    }
    // An assertion made now is refused once the clock passes its exp and the skew.
    let jwt = at(&[("exp", now + 60)]);
    app.clock.advance(Duration::from_secs(121));
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "expired");
    app.finish().await;
}

async fn cc_8_jti_is_required_and_single_use(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let jwt = Assertion::new(&app, &id, &key).without("jti").jwt();
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "no jti");
    let jwt = Assertion::new(&app, &id, &key)
        .claim("jti", json!(""))
        .jwt();
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "no jti");
    let jwt = Assertion::new(&app, &id, &key)
        .claim("jti", json!("j".repeat(257)))
        .jwt();
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "jti is too long");
    let jwt = Assertion::new(&app, &id, &key)
        .claim("jti", json!("j".repeat(256)))
        .jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);

    let jwt = Assertion::new(&app, &id, &key).jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    let replayed = cc_with_assertion(&app, &jwt, &[]).await;
    assert_refused(&replayed, "already used");
    // The jti, not the exact JWT, is what is remembered: a new assertion with the same
    // jti and another exp is a replay too, until exp has passed.
    let jti = fresh_jti();
    let first = Assertion::new(&app, &id, &key)
        .claim("jti", json!(jti))
        .jwt();
    assert_issued(&cc_with_assertion(&app, &first, &[]).await);
    let now = app.clock_now();
    let again = Assertion::new(&app, &id, &key)
        .claim("jti", json!(jti))
        .claim("exp", json!(now + 200))
        .jwt();
    assert_refused(&cc_with_assertion(&app, &again, &[]).await, "already used");
    // A failed use does not spend the jti: a refused assertion's jti is still free.
    let jti = fresh_jti();
    let refused = Assertion::new(&app, &id, &key)
        .claim("jti", json!(jti))
        .claim("aud", json!("https://other-as.example"))
        .jwt();
    assert_refused(&cc_with_assertion(&app, &refused, &[]).await, "aud");
    let fine = Assertion::new(&app, &id, &key)
        .claim("jti", json!(jti))
        .jwt();
    assert_issued(&cc_with_assertion(&app, &fine, &[]).await);

    // Remembered as long as the assertion could be accepted: up to the last second of
    // the skew after exp it is a replay, then it is simply expired.
    let exp = app.clock_now() + 60;
    let jwt = Assertion::new(&app, &id, &key)
        .claim("exp", json!(exp))
        .jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    app.clock.set(exp + 59);
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "already used");
    app.clock.set(exp + 60);
    assert_refused(&cc_with_assertion(&app, &jwt, &[]).await, "expired");
    app.finish().await;
}

async fn cc_12_inline_keys_rotate_through_the_admin_api(app: TestApp) {
    let old = TestKey::es256("2026-01");
    let id = with_key_client(&app, &old).await;
    let new = TestKey::new(KeyKind::Ed25519, "2026-02");
    let path = format!("/admin/api/v1/clients/{id}");
    let patch = |keys: &[&TestKey]| Some(json!({"jwks": jwks(keys)}));
    // Before the rotation the new key is unknown.
    let jwt = Assertion::new(&app, &id, &new).jwt();
    assert_refused(
        &cc_with_assertion(&app, &jwt, &[]).await,
        "signature is not valid",
    );
    // Both keys during the rotation, then the new one alone, each at once.
    app.admin_ok(Method::PATCH, &path, patch(&[&old, &new]), StatusCode::OK)
        .await;
    for key in [&old, &new] {
        let jwt = Assertion::new(&app, &id, key).jwt();
        assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    }
    app.admin_ok(Method::PATCH, &path, patch(&[&new]), StatusCode::OK)
        .await;
    let jwt = Assertion::new(&app, &id, &old).jwt();
    assert_refused(
        &cc_with_assertion(&app, &jwt, &[]).await,
        "signature is not valid",
    );
    let jwt = Assertion::new(&app, &id, &new).jwt();
    assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
    app.finish().await;
}

async fn cc_8_concurrent_uses_of_one_assertion_let_exactly_one_through(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let jwt = Assertion::new(&app, &id, &key).jwt();
    let answers = race(&app, &[&app.base], &jwt).await;
    assert_one_winner(&answers);
    app.finish().await;
}

async fn cc_9_only_the_clients_keys_under_their_own_algorithm_verify(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let stranger = TestKey::es256("stranger");
    let ed = TestKey::new(KeyKind::Ed25519, "k1");
    for (assertion, mentions) in [
        // A kid the client never registered (inline keys: nothing to refetch).
        (
            Assertion::new(&app, &id, &key).header("kid", json!("k2")),
            "signature is not valid",
        ),
        // Its kid, someone else's key.
        (
            Assertion::new(&app, &id, &key).signed_by(&stranger),
            "signature is not valid",
        ),
        (
            Assertion::new(&app, &id, &stranger).without_header("kid"),
            "signature is not valid",
        ),
        // The P-256 key cannot verify ES384 or EdDSA, whatever the signature.
        (
            Assertion::new(&app, &id, &key).header("alg", json!("ES384")),
            "signature is not valid",
        ),
        (Assertion::new(&app, &id, &ed), "signature is not valid"),
        (
            Assertion::new(&app, &id, &key).header("alg", json!("RS256")),
            "signature is not valid",
        ),
        // TOK-7: jku, x5u and jwk in the header are never followed.
        (
            Assertion::new(&app, &id, &stranger)
                .without_header("kid")
                .header("jwk", stranger.jwk())
                .header("jku", json!("https://attacker.example/jwks.json"))
                .header("x5u", json!("https://attacker.example/cert.pem")),
            "signature is not valid",
        ),
    ] {
        assert_refused(
            &cc_with_assertion(&app, &assertion.jwt(), &[]).await,
            mentions,
        );
    }
    // A tampered payload under a genuine signature.
    let genuine = Assertion::new(&app, &id, &key).jwt();
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let forged_claims = Assertion::new(&app, &id, &key)
        .claim("exp", json!(app.clock_now() + 400))
        .signing_input();
    let forged_payload = forged_claims.split('.').nth(1).unwrap().to_owned();
    parts[1] = &forged_payload;
    assert_refused(
        &cc_with_assertion(&app, &parts.join("."), &[]).await,
        "signature is not valid",
    );
    assert_issued(&cc_with_assertion(&app, &genuine, &[]).await);
    app.finish().await;
}

async fn cc_9_alg_none_and_hmac_with_the_public_key_are_refused(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    let unsigned = |alg: &str| {
        let input = Assertion::new(&app, &id, &key)
            .header("alg", json!(alg))
            .signing_input();
        format!("{input}.")
    };
    for jwt in [unsigned("none"), unsigned("None"), unsigned("")] {
        assert_refused(
            &cc_with_assertion(&app, &jwt, &[]).await,
            "not a signed JWT",
        );
    }
    // HS256 keyed with what an attacker knows: the public key, raw or as the JWK text.
    for secret in [
        key.public_bytes().to_vec(),
        key.jwk().to_string().into_bytes(),
    ] {
        let input = Assertion::new(&app, &id, &key)
            .header("alg", json!("HS256"))
            .signing_input();
        let mac = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        let jwt = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        assert_refused(
            &cc_with_assertion(&app, &jwt, &[]).await,
            "alg is not allowed",
        );
    }
    for malformed in ["", "abc", "a.b.c", "a.b", &"x.y.z".repeat(800)] {
        let answer = cc_with_assertion(&app, malformed, &[]).await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    }
    app.finish().await;
}

async fn cc_9_other_token_types_are_refused(app: TestApp) {
    let key = TestKey::es256("k1");
    let id = with_key_client(&app, &key).await;
    for typ in ["at+jwt", "JWT+at", "id_token+jwt", "secevent+jwt", "JOSE"] {
        let jwt = Assertion::new(&app, &id, &key)
            .header("typ", json!(typ))
            .jwt();
        assert_refused(
            &cc_with_assertion(&app, &jwt, &[]).await,
            "typ is not accepted",
        );
    }
    // TOK-7: one of our own access tokens is not a client assertion.
    let issued = cc_with_assertion(&app, &Assertion::new(&app, &id, &key).jwt(), &[]).await;
    let access_token = assert_issued(&issued);
    assert_eq!(access_token["client_id"], id.as_str());
    let ours = issued.2["access_token"].as_str().unwrap();
    let answer = cc_with_assertion(&app, ours, &[]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    app.finish().await;
}

both_backends!(
    cc_3_private_key_jwt_with_es256_and_eddsa_gets_a_token,
    cc_5_assertion_type_and_body_client_id_must_match,
    cc_6_iss_and_sub_must_both_be_the_client,
    cc_6_aud_is_the_issuer_alone_unless_the_legacy_switch_is_on,
    cc_7_exp_is_required_and_lifetime_and_skew_are_bounded,
    cc_8_jti_is_required_and_single_use,
    cc_12_inline_keys_rotate_through_the_admin_api,
    cc_8_concurrent_uses_of_one_assertion_let_exactly_one_through,
    cc_9_only_the_clients_keys_under_their_own_algorithm_verify,
    cc_9_alg_none_and_hmac_with_the_public_key_are_refused,
    cc_9_other_token_types_are_refused,
);
