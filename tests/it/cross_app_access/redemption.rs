//! XAA-1, XAA-14: an ID-JAG plus the client's own authentication buys a plain access
//! token for the user the IdP vouched for, at the MCP server it named, and nothing more.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{JWT_BEARER, Xaa, assert_token, secret_client, users};
use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{RESOURCE, WEB_REDIRECT, assert_oauth_error};

/// Verifies `token` as an MCP server would: our JWKS, `typ` `at+jwt`, our issuer,
/// audience `resource`. Returns its claims.
async fn verify_access_token(app: &TestApp, token: &str, resource: &str) -> Value {
    let set: JwkSet = serde_json::from_value(super::own_jwks(app).await).unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[resource]);
    validation.set_issuer(&[&app.issuer]);
    // The mock clock is not the wall clock; the time claims are checked below.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

async fn xaa_1_id_jag_is_redeemed_for_a_user_access_token(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let mcp = app
        .create_client(json!({
            "client_name": "Files MCP server", "grant_types": [], "allow_introspection": true,
            "allowed_resources": [RESOURCE],
        }))
        .await;

    // The grant without an assertion is a malformed request, not a bad grant.
    let basic = Some((xaa.client_id.as_str(), xaa.secret.as_str()));
    let answer = app.token(&[("grant_type", JWT_BEARER)], basic).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    // CORE-6: two assertions are a malformed request too.
    let (one, two) = (xaa.id_jag().jwt(), xaa.id_jag().jwt());
    let form = [
        ("grant_type", JWT_BEARER),
        ("assertion", one.as_str()),
        ("assertion", two.as_str()),
    ];
    let answer = app.token(&form, basic).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");

    let jag = xaa.id_jag();
    let answer = xaa.redeem(&jag.jwt()).await;
    let claims = assert_token(&answer);
    let body = &answer.2;
    assert_eq!(body["scope"], "tools:read", "{body}");
    let access = body["access_token"].as_str().unwrap();
    let verified = verify_access_token(app, access, RESOURCE).await;
    assert_eq!(verified, claims);
    let user = claims["sub"].as_str().unwrap();
    assert!(user.starts_with("usr_"), "{claims}");
    assert_ne!(user, super::SUBJECT, "the IdP's subject is not our user id");
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    assert_eq!(claims["client_id"], xaa.client_id.as_str(), "{claims}");
    assert_eq!(claims["iss"], app.issuer.as_str(), "{claims}");
    assert_eq!(claims["iat"], super::now(app), "{claims}");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        body["expires_in"].as_i64().unwrap(),
        "{claims}"
    );
    assert_eq!(
        claims["auth_time"],
        jag.claim_value("auth_time"),
        "{claims}"
    );

    // The MCP server sees an active token of that user, and the user exists.
    let mcp_id = mcp["client_id"].as_str().unwrap();
    let mcp_secret = mcp["client_secret"].as_str().unwrap();
    let (status, _, introspected) = app
        .post_form(
            "/oauth2/introspect",
            &[("token", access)],
            Some((mcp_id, mcp_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{introspected}");
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["sub"], user, "{introspected}");
    assert_eq!(
        introspected["client_id"],
        xaa.client_id.as_str(),
        "{introspected}"
    );
    let listed = users(app).await;
    assert!(
        listed.iter().any(|u| u["user_id"] == user),
        "{user} not in {listed:?}"
    );
    xaa.finish().await;
}

async fn xaa_14_no_refresh_token_even_for_a_refresh_capable_client(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let (client_id, secret) = secret_client(
        app,
        json!({
            "redirect_uris": [WEB_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token", JWT_BEARER],
        }),
    )
    .await;
    xaa.patch_idp(json!({"clients": [{"client_id": client_id}]}))
        .await;
    let jwt = super::Jwt::id_jag(app, &xaa.key, &client_id)
        .claim("scope", json!("tools:read tools:call"))
        .jwt();
    let answer = super::redeem(
        app,
        &jwt,
        Some((&client_id, &secret)),
        &[("scope", "tools:read tools:call offline_access")],
    )
    .await;
    let claims = assert_token(&answer);
    assert_eq!(
        super::scope_set(&claims["scope"]),
        super::set_of(&["tools:read", "tools:call"])
    );
    xaa.finish().await;
}

both_backends!(
    xaa_1_id_jag_is_redeemed_for_a_user_access_token,
    xaa_14_no_refresh_token_even_for_a_refresh_capable_client,
);
