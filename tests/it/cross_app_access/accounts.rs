//! XAA-13: the user of an ID-JAG is the local account of (`iss`, `tenant`, `sub`),
//! created just in time only where the IdP allows it, linked to an existing account by
//! its recorded email only where the IdP allows that, never merged with another IdP's
//! account; a disabled account gets nothing.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use super::{IdpKey, JWT_BEARER, Jwt, Xaa, assert_refused, assert_token, create_idp, jwks, users};
use crate::both_backends;
use crate::harness::TestApp;

/// The local user id an access token was issued for.
fn user_of(claims: &Value) -> String {
    let user = claims["sub"].as_str().unwrap().to_owned();
    assert!(user.starts_with("usr_"), "{claims}");
    user
}

async fn xaa_13_without_jit_an_unknown_subject_is_refused(app: TestApp) {
    let xaa = Xaa::with_idp(app, json!({"jit_provisioning": false})).await;
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "no account",
    );
    assert_eq!(users(&xaa.app).await, Vec::<Value>::new());
    // Turning provisioning on applies on the next request.
    let view = xaa.patch_idp(json!({"jit_provisioning": true})).await;
    assert_eq!(view["jit_provisioning"], true, "{view}");
    let user = user_of(&assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await));
    // Turned off again, the linked account keeps working; unknown subjects do not.
    xaa.patch_idp(json!({"jit_provisioning": false})).await;
    assert_eq!(
        user_of(&assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await)),
        user
    );
    let stranger = xaa.id_jag().claim("sub", json!("00u-someone-else")).jwt();
    assert_refused(&xaa.redeem(&stranger).await, "invalid_grant", "no account");
    assert_eq!(users(&xaa.app).await.len(), 1);
    xaa.finish().await;
}

async fn xaa_13_jit_account_is_created_once_and_reused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let jwt = xaa
        .id_jag()
        .claim("email", json!("dana.ito@corp.example"))
        .jwt();
    let user = user_of(&assert_token(&xaa.redeem(&jwt).await));
    let listed = users(&xaa.app).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["user_id"], user.as_str(), "{listed:?}");
    assert_eq!(listed[0]["enabled"], true, "{listed:?}");
    let path = format!("/admin/api/v1/users/{user}");
    let shown = xaa
        .app
        .admin_ok(Method::GET, &path, None, StatusCode::OK)
        .await;
    assert_eq!(shown["user_id"], user.as_str(), "{shown}");

    // The same subject again, with other claims: the same account.
    let again = xaa
        .id_jag()
        .claim("email", json!("dana@elsewhere.example"))
        .claim("scope", json!("tools:call"))
        .jwt();
    assert_eq!(user_of(&assert_token(&xaa.redeem(&again).await)), user);
    // Another subject: another account.
    let other = xaa.id_jag().claim("sub", json!("00u-kim")).jwt();
    let other_user = user_of(&assert_token(&xaa.redeem(&other).await));
    assert_ne!(other_user, user);
    assert_eq!(users(&xaa.app).await.len(), 2);
    xaa.finish().await;
}

/// No implicit merges: not across IdPs, not across tenants, not with a local account
/// whose username is the ID-JAG's email.
async fn xaa_13_accounts_are_never_merged(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let local = app
        .admin_ok(
            Method::POST,
            "/admin/api/v1/users",
            Some(json!({"username": "dana.ito@corp.example", "password": "correct horse battery"})),
            StatusCode::CREATED,
        )
        .await;
    let local = local["user_id"].as_str().unwrap();
    let jwt = xaa
        .id_jag()
        .claim("email", json!("dana.ito@corp.example"))
        .jwt();
    let first = user_of(&assert_token(&xaa.redeem(&jwt).await));
    assert_ne!(first, local, "linked to a local account by email");

    let other_key = IdpKey::es256("other-idp-key");
    let other_issuer = "https://login.other-idp.example";
    create_idp(
        app,
        json!({
            "issuer": other_issuer, "jwks": jwks(&[&other_key]),
            "clients": [{"client_id": xaa.client_id}], "jit_provisioning": true,
        }),
    )
    .await;
    let jwt = Jwt::id_jag(app, &other_key, &xaa.client_id)
        .claim("iss", json!(other_issuer))
        .claim("email", json!("dana.ito@corp.example"))
        .jwt();
    let second = user_of(&assert_token(&xaa.redeem(&jwt).await));
    assert_ne!(second, first, "merged across IdPs");
    assert_ne!(second, local);

    let in_tenant = |tenant: &str| xaa.id_jag().claim("tenant", json!(tenant)).jwt();
    let tenant_a = user_of(&assert_token(&xaa.redeem(&in_tenant("a")).await));
    let tenant_b = user_of(&assert_token(&xaa.redeem(&in_tenant("b")).await));
    assert_ne!(tenant_a, tenant_b, "merged across tenants");
    assert_ne!(tenant_a, first);
    assert_eq!(
        user_of(&assert_token(&xaa.redeem(&in_tenant("a")).await)),
        tenant_a
    );
    assert_eq!(users(app).await.len(), 5);
    xaa.finish().await;
}

async fn xaa_13_disabled_user_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let user = user_of(&assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await));
    let path = format!("/admin/api/v1/users/{user}");
    let patch = |enabled: bool| {
        xaa.app.admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"enabled": enabled})),
            StatusCode::OK,
        )
    };
    patch(false).await;
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "disabled",
    );
    assert_eq!(
        users(&xaa.app).await.len(),
        1,
        "a disabled user is not replaced"
    );
    patch(true).await;
    assert_eq!(
        user_of(&assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await)),
        user
    );
    xaa.finish().await;
}

/// Creates a local user with a recorded email; returns its id.
async fn user_with_email(app: &TestApp, username: &str, email: &str) -> String {
    let created = app
        .admin_ok(
            Method::POST,
            "/admin/api/v1/users",
            Some(json!({
                "username": username, "password": "correct horse battery", "email": email,
            })),
            StatusCode::CREATED,
        )
        .await;
    created["user_id"].as_str().unwrap().to_owned()
}

/// Verified-email linking: only with the IdP's `link_verified_email`, only onto the
/// account whose recorded address matches (case aside), never when the IdP says the
/// address is unverified, never onto a disabled account or one that already has a
/// subject at this IdP; the link is audited and then used like any identity.
async fn xaa_13_verified_email_links_only_by_policy(app: TestApp) {
    let xaa = Xaa::with_idp(app, json!({"jit_provisioning": false})).await;
    let app = &xaa.app;
    let dana = user_with_email(app, "dana", "dana.ito@corp.example").await;
    let with_email = |sub: &str, email: &str| {
        xaa.id_jag()
            .claim("sub", json!(sub))
            .claim("email", json!(email))
    };
    // Policy off: the matching account is not linked.
    let jwt = with_email("00u-dana", "Dana.Ito@corp.example").jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "no account");

    let view = xaa.patch_idp(json!({"link_verified_email": true})).await;
    assert_eq!(view["link_verified_email"], true, "{view}");
    // The IdP says the address is unverified: no link.
    let unverified = with_email("00u-dana", "dana.ito@corp.example")
        .claim("email_verified", json!(false))
        .jwt();
    assert_refused(
        &xaa.redeem(&unverified).await,
        "invalid_grant",
        "no account",
    );
    // No account has the address: no link, and nothing is created.
    let stranger = with_email("00u-lee", "lee@corp.example").jwt();
    assert_refused(&xaa.redeem(&stranger).await, "invalid_grant", "no account");
    // The address matches (case-insensitively): linked, and audited.
    let jwt = with_email("00u-dana", "Dana.Ito@corp.example").jwt();
    assert_eq!(user_of(&assert_token(&xaa.redeem(&jwt).await)), dana);
    let linked = crate::cimd::audit_events(app, "user.identity_linked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0].target_id, dana, "{linked:?}");
    assert!(
        linked[0].detail.contains("dana.ito@corp.example"),
        "{linked:?}"
    );
    // Linked, the identity works without its email and after the policy is off.
    xaa.patch_idp(json!({"link_verified_email": false})).await;
    let plain = xaa.id_jag().claim("sub", json!("00u-dana")).jwt();
    assert_eq!(user_of(&assert_token(&xaa.redeem(&plain).await)), dana);
    xaa.patch_idp(json!({"link_verified_email": true})).await;
    // A second subject of the same IdP with Dana's address is not linked to her.
    let impostor = with_email("00u-other-dana", "dana.ito@corp.example").jwt();
    assert_refused(&xaa.redeem(&impostor).await, "invalid_grant", "no account");
    // A disabled matching account refuses, and no fresh account replaces it even
    // with just-in-time provisioning on.
    let kim = user_with_email(app, "kim", "kim@corp.example").await;
    let path = format!("/admin/api/v1/users/{kim}");
    let disable = json!({"enabled": false});
    app.admin_ok(Method::PATCH, &path, Some(disable), StatusCode::OK)
        .await;
    xaa.patch_idp(json!({"jit_provisioning": true})).await;
    let jwt = with_email("00u-kim", "kim@corp.example").jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "disabled");
    assert_eq!(users(app).await.len(), 2, "{:?}", users(app).await);
    xaa.finish().await;
}

/// Concurrent first uses of one new subject (distinct ID-JAGs) share one account.
async fn xaa_13_concurrent_first_use_provisions_one_account(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let tasks = 6;
    let barrier = Arc::new(Barrier::new(tasks));
    let mut set = JoinSet::new();
    for _ in 0..tasks {
        let barrier = Arc::clone(&barrier);
        let request = xaa
            .app
            .http
            .post(format!("{}/oauth2/token", xaa.app.base))
            .basic_auth(&xaa.client_id, Some(&xaa.secret))
            .form(&[
                ("grant_type", JWT_BEARER),
                ("assertion", &xaa.id_jag().jwt()),
            ]);
        set.spawn(async move {
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        });
    }
    let mut subjects = Vec::new();
    for (status, body) in set.join_all().await {
        assert_eq!(status, StatusCode::OK, "{body}");
        let claims = crate::harness::flow::jwt_payload(body["access_token"].as_str().unwrap());
        subjects.push(user_of(&claims));
    }
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert_eq!(users(&xaa.app).await.len(), 1);
    xaa.finish().await;
}

both_backends!(
    xaa_13_without_jit_an_unknown_subject_is_refused,
    xaa_13_jit_account_is_created_once_and_reused,
    xaa_13_accounts_are_never_merged,
    xaa_13_disabled_user_is_refused,
    xaa_13_verified_email_links_only_by_policy,
    xaa_13_concurrent_first_use_provisions_one_account,
);
