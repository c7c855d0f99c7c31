//! Who may redeem an ID-JAG (XAA-8, XAA-9, XAA-15): the client it was issued to, as
//! the IdP names it, authenticated as registered, holding the jwt-bearer grant, and
//! confidential unless the IdP lets public clients in. Client authentication problems
//! are `invalid_client`, a grant the client may not use is `unauthorized_client`,
//! everything about the assertion is `invalid_grant`.

use reqwest::StatusCode;
use serde_json::json;

use super::{JWT_BEARER, Jwt, Xaa, assert_refused, assert_token, redeem, secret_client};
use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::assert_oauth_error;

/// XAA-8: the `client_id` claim names the authenticated client.
async fn xaa_8_client_id_claim_of_another_client_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let (other, other_secret) = secret_client(app, json!({"client_name": "Other agent"})).await;
    xaa.patch_idp(json!({"clients": [{"client_id": xaa.client_id}, {"client_id": other}]}))
        .await;
    let for_other = Jwt::id_jag(app, &xaa.key, &other).jwt();
    assert_refused(
        &xaa.redeem(&for_other).await,
        "invalid_grant",
        "not the authenticated client",
    );
    let for_us = xaa.id_jag().jwt();
    let answer = redeem(app, &for_us, Some((&other, &other_secret)), &[]).await;
    assert_refused(&answer, "invalid_grant", "not the authenticated client");
    // Each with its own ID-JAG is fine (neither refusal spent the jti).
    let claims = assert_token(&redeem(app, &for_other, Some((&other, &other_secret)), &[]).await);
    assert_eq!(claims["client_id"], other.as_str());
    let claims = assert_token(&xaa.redeem(&for_us).await);
    assert_eq!(claims["client_id"], xaa.client_id.as_str());
    xaa.finish().await;
}

/// XAA-8, XAA-18: an IdP speaks only for the clients it is configured with; adding one
/// applies on the next request.
async fn xaa_8_client_not_listed_for_the_idp_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let (unlisted, secret) = secret_client(app, json!({"client_name": "Unlisted agent"})).await;
    let jwt = Jwt::id_jag(app, &xaa.key, &unlisted).jwt();
    let answer = redeem(app, &jwt, Some((&unlisted, &secret)), &[]).await;
    assert_refused(&answer, "invalid_grant", "client_id");

    xaa.patch_idp(json!({"clients": [{"client_id": xaa.client_id}, {"client_id": unlisted}]}))
        .await;
    assert_token(&redeem(app, &jwt, Some((&unlisted, &secret)), &[]).await);
    xaa.patch_idp(json!({"clients": [{"client_id": unlisted}]}))
        .await;
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "client_id",
    );
    xaa.finish().await;
}

/// XAA-8: the IdP may know the client by its own id; the mapping turns it into ours.
async fn xaa_8_idp_client_id_maps_to_the_local_client(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let view = xaa
        .patch_idp(
            json!({"clients": [{"client_id": xaa.client_id, "idp_client_id": "0oa5agent7xq"}]}),
        )
        .await;
    assert_eq!(
        view["clients"][0]["idp_client_id"], "0oa5agent7xq",
        "{view}"
    );
    let jwt = xaa.id_jag().claim("client_id", json!("0oa5agent7xq")).jwt();
    let claims = assert_token(&xaa.redeem(&jwt).await);
    assert_eq!(claims["client_id"], xaa.client_id.as_str(), "{claims}");
    let jwt = xaa
        .id_jag()
        .claim("client_id", json!("0oa5otheragent"))
        .jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "client_id");
    xaa.finish().await;
}

/// XAA-9: a public client gets nothing from an IdP that does not allow public clients;
/// allowing them applies on the next request.
async fn xaa_9_public_client_needs_allow_public_clients(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let public = app
        .create_client(json!({
            "client_name": "Public agent", "token_endpoint_auth_method": "none",
            "grant_types": [JWT_BEARER],
        }))
        .await;
    let public = public["client_id"].as_str().unwrap();
    xaa.patch_idp(json!({"clients": [{"client_id": xaa.client_id}, {"client_id": public}]}))
        .await;
    let jwt = Jwt::id_jag(app, &xaa.key, public).jwt();
    let answer = redeem(app, &jwt, None, &[("client_id", public)]).await;
    assert_refused(&answer, "unauthorized_client", "confidential client");

    let view = xaa.patch_idp(json!({"allow_public_clients": true})).await;
    assert_eq!(view["allow_public_clients"], true, "{view}");
    let claims = assert_token(&redeem(app, &jwt, None, &[("client_id", public)]).await);
    assert_eq!(claims["client_id"], public, "{claims}");
    xaa.finish().await;
}

/// XAA-15: a client registered without the jwt-bearer grant is `unauthorized_client`,
/// even when the IdP lists it.
async fn xaa_15_client_without_the_grant_is_unauthorized_client(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let (machine, secret) = secret_client(
        app,
        json!({"client_name": "Machine", "grant_types": ["client_credentials"]}),
    )
    .await;
    xaa.patch_idp(json!({"clients": [{"client_id": xaa.client_id}, {"client_id": machine}]}))
        .await;
    let jwt = Jwt::id_jag(app, &xaa.key, &machine).jwt();
    let answer = redeem(app, &jwt, Some((&machine, &secret)), &[]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    xaa.finish().await;
}

/// XAA-1, XAA-15: the client authenticates as registered, else `invalid_client`, and a
/// failed authentication does not spend the ID-JAG.
async fn xaa_15_bad_client_authentication_is_invalid_client(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let jwt = xaa.id_jag().jwt();

    let answer = redeem(app, &jwt, Some((&xaa.client_id, "not-the-secret")), &[]).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(answer.1.contains_key("www-authenticate"), "{:?}", answer.1);
    let answer = redeem(
        app,
        &jwt,
        None,
        &[
            ("client_id", &xaa.client_id),
            ("client_secret", "not-the-secret"),
        ],
    )
    .await;
    assert_eq!(answer.2["error"], "invalid_client", "{}", answer.2);
    // The secret client presenting only its id is not authenticated.
    let answer = redeem(app, &jwt, None, &[("client_id", &xaa.client_id)]).await;
    assert_eq!(answer.2["error"], "invalid_client", "{}", answer.2);
    let answer = redeem(app, &jwt, None, &[]).await;
    assert_eq!(answer.2["error"], "invalid_client", "{}", answer.2);
    let answer = redeem(app, &jwt, Some(("cli_unknown", "whatever")), &[]).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");

    let claims = assert_token(&xaa.redeem(&jwt).await);
    assert_eq!(claims["client_id"], xaa.client_id.as_str());

    // A disabled client authenticates no more.
    let path = format!("/admin/api/v1/clients/{}", xaa.client_id);
    app.admin_ok(
        reqwest::Method::PATCH,
        &path,
        Some(json!({"enabled": false})),
        StatusCode::OK,
    )
    .await;
    let answer = xaa.redeem(&xaa.id_jag().jwt()).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    xaa.finish().await;
}

both_backends!(
    xaa_8_client_id_claim_of_another_client_is_refused,
    xaa_8_client_not_listed_for_the_idp_is_refused,
    xaa_8_idp_client_id_maps_to_the_local_client,
    xaa_9_public_client_needs_allow_public_clients,
    xaa_15_client_without_the_grant_is_unauthorized_client,
    xaa_15_bad_client_authentication_is_invalid_client,
);
