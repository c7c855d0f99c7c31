//! What makes an assertion an ID-JAG of a trusted IdP at all (XAA-3, XAA-4, XAA-17,
//! XAA-18, XAA-25, TOK-7): its type, its issuer, its algorithm and its signature.
//! Every refusal is `invalid_grant` (XAA-15), and each test shows the same setting
//! accepting a correct ID-JAG, so the refusals are the rule's doing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_authz::audit::{self, Actor};
use mcp_authz::domain::client::ClientKeys;
use mcp_authz::domain::ids::IdpId;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;

use super::{IDP_ISSUER, IdpKey, Xaa, assert_refused, assert_token, jwks};
use crate::both_backends;
use crate::harness::TestApp;

async fn xaa_3_only_the_id_jag_type_is_accepted(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for typ in [
        json!("JWT"),
        json!("at+jwt"),
        json!("client-authentication+jwt"),
        json!("dpop+jwt"),
        json!("text/oauth-id-jag+jwt"),
        json!("oauth-id-jag"),
        json!(""),
        json!(["oauth-id-jag+jwt"]),
    ] {
        let jwt = xaa.id_jag().header("typ", typ.clone()).jwt();
        let answer = xaa.redeem(&jwt).await;
        assert_eq!(
            answer.2["error"], "invalid_grant",
            "typ {typ}: {}",
            answer.2
        );
    }
    let jwt = xaa.id_jag().without_header("typ").jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "typ");
    let jwt = xaa.id_jag().header("typ", json!("JWT")).jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "typ");

    // Case-insensitive, with or without the media-type prefix.
    for typ in [
        "oauth-id-jag+jwt",
        "OAuth-ID-JAG+JWT",
        "application/oauth-id-jag+jwt",
        "Application/OAUTH-ID-JAG+JWT",
    ] {
        let jwt = xaa.id_jag().header("typ", json!(typ)).jwt();
        assert_token(&xaa.redeem(&jwt).await);
    }
    xaa.finish().await;
}

/// TOK-7: one kind of JWT is never accepted as another. Our own access token, which
/// carries every claim an ID-JAG needs except the right `typ` and issuer, is refused.
async fn xaa_3_an_access_token_is_never_an_id_jag(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let answer = xaa.redeem(&xaa.id_jag().jwt()).await;
    assert_token(&answer);
    let access = answer.2["access_token"].as_str().unwrap();
    assert_refused(&xaa.redeem(access).await, "invalid_grant", "typ");
    xaa.finish().await;
}

/// TOK-7: no `none` algorithm, whatever follows the second dot.
async fn tok_7_alg_none_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for alg in ["none", "None", "NONE"] {
        let unsigned = xaa.id_jag().header("alg", json!(alg)).without_header("kid");
        let input = unsigned.signing_input();
        for jwt in [format!("{input}."), unsigned.jwt()] {
            let answer = xaa.redeem(&jwt).await;
            assert_eq!(
                answer.2["error"], "invalid_grant",
                "alg {alg}: {}",
                answer.2
            );
        }
    }
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.finish().await;
}

/// TOK-7: no HMAC with a public key. An attacker who knows the IdP's public key (ES256
/// point, RSA key, or the published JWK) signs with HS256 under it.
async fn tok_7_hmac_signed_with_the_public_key_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let rsa = IdpKey::rs256("idp-rsa-1");
    xaa.patch_idp(json!({"jwks": jwks(&[&xaa.key, &rsa])}))
        .await;
    let secrets: Vec<Vec<u8>> = vec![
        xaa.key.public_bytes().to_vec(),
        rsa.public_bytes().to_vec(),
        xaa.key.jwk().to_string().into_bytes(),
        jwks(&[&xaa.key, &rsa]).to_string().into_bytes(),
    ];
    for (i, secret) in secrets.iter().enumerate() {
        for kid in [&xaa.key.kid, &rsa.kid] {
            for alg in ["HS256", "HS384", "HS512"] {
                let jwt = xaa
                    .id_jag()
                    .header("alg", json!(alg))
                    .header("kid", json!(kid))
                    .hs256_jwt(secret);
                let answer = xaa.redeem(&jwt).await;
                assert_eq!(
                    answer.2["error"], "invalid_grant",
                    "secret {i}, {alg}, kid {kid}: {}",
                    answer.2
                );
            }
        }
    }
    let jwt = xaa
        .id_jag()
        .header("alg", json!("HS256"))
        .hs256_jwt(xaa.key.public_bytes());
    assert_refused(
        &xaa.redeem(&jwt).await,
        "invalid_grant",
        "alg is not allowed",
    );
    for key in [&xaa.key, &rsa] {
        let jwt = super::Jwt::id_jag(&xaa.app, key, &xaa.client_id).jwt();
        assert_token(&xaa.redeem(&jwt).await);
    }
    xaa.finish().await;
}

/// XAA-4, XAA-18: the IdP's algorithm allow-list, changed on the fly.
async fn xaa_4_alg_outside_the_idp_allow_list_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let rsa = IdpKey::rs256("idp-rsa-1");
    xaa.patch_idp(json!({"jwks": jwks(&[&xaa.key, &rsa]), "algorithms": ["RS256"]}))
        .await;
    let es256 = || xaa.id_jag().jwt();
    let rs256 = || super::Jwt::id_jag(&xaa.app, &rsa, &xaa.client_id).jwt();
    assert_refused(
        &xaa.redeem(&es256()).await,
        "invalid_grant",
        "alg is not allowed",
    );
    assert_token(&xaa.redeem(&rs256()).await);

    xaa.patch_idp(json!({"algorithms": ["ES256"]})).await;
    assert_refused(
        &xaa.redeem(&rs256()).await,
        "invalid_grant",
        "alg is not allowed",
    );
    assert_token(&xaa.redeem(&es256()).await);

    // An RSA key is not used with another RSA algorithm than the IdP allows either.
    xaa.patch_idp(json!({"algorithms": ["RS256"]})).await;
    let ps256 = super::Jwt::id_jag(&xaa.app, &rsa, &xaa.client_id)
        .header("alg", json!("PS256"))
        .jwt();
    assert_refused(
        &xaa.redeem(&ps256).await,
        "invalid_grant",
        "alg is not allowed",
    );
    xaa.finish().await;
}

/// XAA-4: a `kid` the IdP's (inline) set does not hold names no key.
async fn xaa_4_unknown_kid_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let stranger = IdpKey::es256("not-published");
    for jwt in [
        xaa.id_jag().header("kid", json!("not-published")).jwt(),
        xaa.id_jag()
            .signed_by(&stranger)
            .header("kid", json!("not-published"))
            .jwt(),
    ] {
        assert_refused(
            &xaa.redeem(&jwt).await,
            "invalid_grant",
            "signature is not valid",
        );
    }
    // Without a kid, each key of the set is tried: the IdP's own key verifies.
    assert_token(&xaa.redeem(&xaa.id_jag().without_header("kid").jwt()).await);
    let jwt = xaa
        .id_jag()
        .signed_by(&stranger)
        .without_header("kid")
        .jwt();
    assert_refused(
        &xaa.redeem(&jwt).await,
        "invalid_grant",
        "signature is not valid",
    );
    xaa.finish().await;
}

/// XAA-4: the signature must be the IdP's, over exactly these header and claims.
async fn xaa_4_bad_signature_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let impostor = IdpKey::es256(&xaa.key.kid);
    let rsa = IdpKey::rs256("idp-rsa-1");
    let genuine = xaa.id_jag().jwt();
    let parts: Vec<&str> = genuine.split('.').collect();
    let other_sub = xaa.id_jag().claim("sub", json!("someone-else"));
    let other_payload = other_sub.signing_input();
    let other_payload = other_payload.split('.').nth(1).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let mut flipped = signature.clone();
    flipped[10] ^= 0x01;
    let forgeries = [
        // Another key under the IdP's kid.
        xaa.id_jag().signed_by(&impostor).jwt(),
        // The IdP's signature over other claims.
        format!("{}.{other_payload}.{}", parts[0], parts[2]),
        // A flipped bit, a truncated signature, none at all.
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(&flipped)
        ),
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(&signature[..32])
        ),
        format!("{}.{}.", parts[0], parts[1]),
        // An RSA signature claimed as ES256 under the EC key's kid.
        xaa.id_jag().signed_by(&rsa).jwt(),
    ];
    for (i, jwt) in forgeries.iter().enumerate() {
        let answer = xaa.redeem(jwt).await;
        assert_eq!(
            answer.2["error"], "invalid_grant",
            "forgery {i}: {}",
            answer.2
        );
    }
    assert_refused(
        &xaa.redeem(&forgeries[0]).await,
        "invalid_grant",
        "signature is not valid",
    );
    assert_token(&xaa.redeem(&genuine).await);
    xaa.finish().await;
}

/// XAA-4: `iss` exactly equal to a trusted IdP's issuer; nothing close is.
async fn xaa_4_untrusted_issuer_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for iss in [
        json!("https://evil.example"),
        json!(format!("{IDP_ISSUER}/")),
        json!("https://LOGIN.corp-idp.example"),
        json!("http://login.corp-idp.example"),
        json!(format!("{IDP_ISSUER}/tenant")),
        json!([IDP_ISSUER]),
    ] {
        let jwt = xaa.id_jag().claim("iss", iss.clone()).jwt();
        let answer = xaa.redeem(&jwt).await;
        assert_eq!(
            answer.2["error"], "invalid_grant",
            "iss {iss}: {}",
            answer.2
        );
    }
    let jwt = xaa
        .id_jag()
        .claim("iss", json!("https://evil.example"))
        .jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "not trusted");
    let jwt = xaa.id_jag().without("iss").jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "iss");
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.finish().await;
}

/// XAA-4, XAA-18: a disabled or deleted IdP is trusted by nobody, from the next request.
async fn xaa_18_disabled_idp_is_refused_on_the_next_request(app: TestApp) {
    let xaa = Xaa::new(app).await;
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    let view = xaa.patch_idp(json!({"enabled": false})).await;
    assert_eq!(view["enabled"], false, "{view}");
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "not trusted",
    );
    xaa.patch_idp(json!({"enabled": true})).await;
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.app
        .admin_ok(
            Method::DELETE,
            &xaa.idp_path(),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "not trusted",
    );
    xaa.finish().await;
}

#[derive(Serialize)]
struct OwnIdJag<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    jti: String,
    iat: i64,
    exp: i64,
    resource: &'a str,
    scope: &'a str,
}

/// XAA-25: this server never redeems an ID-JAG issued under its own issuer, not even
/// one it signed itself with a trusted-IdP row (written past the admin API, which
/// refuses it) pointing at its own keys.
async fn xaa_25_own_issuer_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let jwt = xaa.id_jag().claim("iss", json!(app.issuer)).jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "not trusted");

    let state = &app.server().state;
    let id = IdpId::from_stored(xaa.idp_id.clone());
    let mut idp = state.store.find_idp(&id).await.unwrap().unwrap();
    idp.keys = ClientKeys::Jwks(super::own_jwks(app).await);
    let now = state.clock.now();
    let signed_as = |iss: &str| {
        let claims = OwnIdJag {
            iss,
            sub: super::SUBJECT,
            aud: &app.issuer,
            client_id: &xaa.client_id,
            jti: super::fresh_jti(),
            iat: now,
            exp: now + 300,
            resource: crate::harness::flow::RESOURCE,
            scope: "tools:read",
        };
        state.keyring.sign(super::ID_JAG_TYP, &claims, now).unwrap()
    };
    // Control: with our keys as a trusted IdP's, an ID-JAG we sign under that IdP's
    // issuer passes every check.
    let event = audit::event(&Actor::System, "idp.updated", "idp", id.as_str(), json!({}));
    state.store.update_idp(&idp, &event).await.unwrap();
    assert_token(&xaa.redeem(&signed_as(IDP_ISSUER)).await);
    // The same under our own issuer, trusted by a row written past the admin API: no.
    idp.issuer = app.issuer.clone();
    state.store.update_idp(&idp, &event).await.unwrap();
    assert_refused(
        &xaa.redeem(&signed_as(&app.issuer)).await,
        "invalid_grant",
        "not trusted",
    );
    xaa.finish().await;
}

/// XAA-17: an encrypted ID-JAG (JWE, five parts) is not supported.
async fn xaa_17_jwe_assertion_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let header = json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "typ": "oauth-id-jag+jwt", "kid": xaa.key.kid});
    let part = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        part(header.to_string().as_bytes()),
        part(&[7; 256]),
        part(&[1; 12]),
        part(xaa.id_jag().signing_input().as_bytes()),
        part(&[2; 16]),
    );
    assert_refused(&xaa.redeem(&jwe).await, "invalid_grant", "JWS");
    // A signed ID-JAG wrapped as a JWE payload does not get through either.
    let nested = format!("{}.{}", xaa.id_jag().jwt(), part(&[2; 16]));
    assert_eq!(nested.split('.').count(), 4);
    let answer = xaa.redeem(&nested).await;
    assert_eq!(answer.2["error"], "invalid_grant", "{}", answer.2);
    // Oversized: refused (by the form's size limit) before any parsing.
    let padded = xaa
        .id_jag()
        .claim("padding", json!("x".repeat(20 * 1024)))
        .jwt();
    let answer = xaa.redeem(&padded).await;
    assert_eq!(answer.0, reqwest::StatusCode::BAD_REQUEST, "{}", answer.2);
    let error = answer.2["error"].as_str().unwrap_or_default();
    assert!(
        ["invalid_request", "invalid_grant"].contains(&error),
        "{}",
        answer.2
    );
    for garbage in ["not-a-jwt", "a.b.c", "..", "e30.e30.e30"] {
        let answer = xaa.redeem(garbage).await;
        assert_eq!(
            answer.2["error"], "invalid_grant",
            "{garbage}: {}",
            answer.2
        );
    }
    xaa.finish().await;
}

both_backends!(
    xaa_3_only_the_id_jag_type_is_accepted,
    xaa_3_an_access_token_is_never_an_id_jag,
    tok_7_alg_none_is_refused,
    tok_7_hmac_signed_with_the_public_key_is_refused,
    xaa_4_alg_outside_the_idp_allow_list_is_refused,
    xaa_4_unknown_kid_is_refused,
    xaa_4_bad_signature_is_refused,
    xaa_4_untrusted_issuer_is_refused,
    xaa_18_disabled_idp_is_refused_on_the_next_request,
    xaa_25_own_issuer_is_refused,
    xaa_17_jwe_assertion_is_refused,
);
