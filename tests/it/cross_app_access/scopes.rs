//! XAA-11: every scope of the ID-JAG is registered for its MCP server (else
//! `invalid_grant`); the grant is the ID-JAG's scopes ∩ the request's `scope` ∩ the
//! IdP's limit ∩ the client's allowance. Without a scope claim, the server's defaults.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{RESOURCE_SCOPES, Xaa, assert_refused, assert_token, scope_set, set_of};
use crate::both_backends;
use crate::harness::TestApp;

const ALL: &str = "tools:read tools:call files:write";

async fn xaa_11_scope_not_registered_for_the_resource_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for scope in [
        "admin:all",
        "tools:read admin:all",
        // Registered, but for the other server.
        "other:read",
        "tools:read other:read",
        "Tools:Read",
    ] {
        let jwt = xaa.id_jag().claim("scope", json!(scope)).jwt();
        assert_refused(
            &xaa.redeem(&jwt).await,
            "invalid_grant",
            "not registered for this resource",
        );
    }
    let jwt = xaa.id_jag().claim("scope", json!(ALL)).jwt();
    let claims = assert_token(&xaa.redeem(&jwt).await);
    assert_eq!(scope_set(&claims["scope"]), set_of(&RESOURCE_SCOPES));
    xaa.finish().await;
}

async fn xaa_11_request_scope_narrows_the_grant(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let all = || xaa.id_jag().claim("scope", json!(ALL)).jwt();
    for (asked, granted) in [
        ("tools:read files:write", vec!["tools:read", "files:write"]),
        ("files:write offline_access", vec!["files:write"]),
        // A request cannot widen what the IdP granted.
        ("tools:read", vec!["tools:read"]),
    ] {
        let answer = xaa.redeem_with(&all(), &[("scope", asked)]).await;
        let claims = assert_token(&answer);
        assert_eq!(scope_set(&claims["scope"]), set_of(&granted), "{asked}");
    }
    let narrow = xaa.id_jag().claim("scope", json!("tools:read")).jwt();
    let answer = xaa
        .redeem_with(&narrow, &[("scope", "tools:read files:write")])
        .await;
    assert_eq!(
        scope_set(&assert_token(&answer)["scope"]),
        set_of(&["tools:read"])
    );
    // No scope claim: the server's default scopes stand in for it.
    let defaults = xaa.id_jag().without("scope").jwt();
    let claims = assert_token(&xaa.redeem(&defaults).await);
    assert_eq!(claims["scope"], "tools:read", "{claims}");
    xaa.finish().await;
}

async fn xaa_11_idp_scope_limit_narrows_the_grant(app: TestApp) {
    let xaa = Xaa::with_idp(app, json!({"scope": "tools:read tools:call"})).await;
    let all = || xaa.id_jag().claim("scope", json!(ALL)).jwt();
    let claims = assert_token(&xaa.redeem(&all()).await);
    assert_eq!(
        scope_set(&claims["scope"]),
        set_of(&["tools:read", "tools:call"])
    );
    let view = xaa.patch_idp(json!({"scope": "files:write"})).await;
    assert_eq!(view["scope"], "files:write", "{view}");
    let claims = assert_token(&xaa.redeem(&all()).await);
    assert_eq!(claims["scope"], "files:write", "{claims}");
    xaa.patch_idp(json!({"scope": null})).await;
    let claims = assert_token(&xaa.redeem(&all()).await);
    assert_eq!(scope_set(&claims["scope"]), set_of(&RESOURCE_SCOPES));
    xaa.finish().await;
}

async fn xaa_11_client_scope_narrows_the_grant(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let path = format!("/admin/api/v1/clients/{}", xaa.client_id);
    xaa.app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"scope": "tools:read files:write"})),
            StatusCode::OK,
        )
        .await;
    let jwt = xaa.id_jag().claim("scope", json!(ALL)).jwt();
    let claims = assert_token(&xaa.redeem(&jwt).await);
    assert_eq!(
        scope_set(&claims["scope"]),
        set_of(&["tools:read", "files:write"])
    );
    // All three limits together.
    xaa.patch_idp(json!({"scope": "files:write tools:call"}))
        .await;
    let jwt = xaa.id_jag().claim("scope", json!(ALL)).jwt();
    let answer = xaa
        .redeem_with(&jwt, &[("scope", "files:write tools:read")])
        .await;
    assert_eq!(assert_token(&answer)["scope"], "files:write");
    xaa.finish().await;
}

both_backends!(
    xaa_11_scope_not_registered_for_the_resource_is_refused,
    xaa_11_request_scope_narrows_the_grant,
    xaa_11_idp_scope_limit_narrows_the_grant,
    xaa_11_client_scope_narrows_the_grant,
);

async fn scope_3_unknown_request_scope_is_invalid_scope(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for asked in ["admin:all", "tools:read other:read"] {
        let jwt = xaa.id_jag().claim("scope", json!(ALL)).jwt();
        assert_refused(
            &xaa.redeem_with(&jwt, &[("scope", asked)]).await,
            "invalid_scope",
            "unknown scope",
        );
    }
    xaa.finish().await;
}

both_backends!(scope_3_unknown_request_scope_is_invalid_scope);
