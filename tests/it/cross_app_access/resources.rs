//! XAA-10: the token is for an MCP server the ID-JAG names, registered here, enabled,
//! and allowed for the IdP and the client; the request's `resource` only picks among
//! those named. Without a `resource` claim: the IdP's only server, else the default
//! server, else `invalid_grant`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Xaa, assert_refused, assert_token};
use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{OTHER_RESOURCE, RESOURCE};

async fn patch_server(xaa: &Xaa, index: usize, body: serde_json::Value) {
    let path = format!("/admin/api/v1/servers/{}", xaa.server_ids[index]);
    xaa.app
        .admin_ok(Method::PATCH, &path, Some(body), StatusCode::OK)
        .await;
}

async fn xaa_10_resource_claim_binds_the_token(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for resource in [json!(OTHER_RESOURCE), json!([OTHER_RESOURCE])] {
        let jwt = xaa
            .id_jag()
            .claim("resource", resource)
            .claim("scope", json!("other:read"))
            .jwt();
        let claims = assert_token(&xaa.redeem(&jwt).await);
        assert_eq!(claims["aud"], OTHER_RESOURCE, "{claims}");
        assert_eq!(claims["scope"], "other:read", "{claims}");
    }
    // The request may repeat the one resource named; it may not name another.
    let jwt = xaa.id_jag().jwt();
    let claims = assert_token(&xaa.redeem_with(&jwt, &[("resource", RESOURCE)]).await);
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    let jwt = xaa.id_jag().jwt();
    let answer = xaa.redeem_with(&jwt, &[("resource", OTHER_RESOURCE)]).await;
    assert_refused(&answer, "invalid_target", "resource");
    xaa.finish().await;
}

async fn xaa_10_unregistered_or_disabled_resource_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for resource in [
        json!("https://unknown.example/mcp"),
        json!(format!("{RESOURCE}/sub")),
        json!("not a uri"),
        json!("https://mcp.example.com/mcp#frag"),
        json!([]),
    ] {
        let jwt = xaa
            .id_jag()
            .claim("resource", resource.clone())
            .without("scope")
            .jwt();
        let answer = xaa.redeem(&jwt).await;
        assert_eq!(
            answer.2["error"], "invalid_grant",
            "{resource}: {}",
            answer.2
        );
    }
    let jwt = xaa
        .id_jag()
        .claim("resource", json!("https://unknown.example/mcp"))
        .jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "not allowed here");

    patch_server(&xaa, 0, json!({"enabled": false})).await;
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "not allowed here",
    );
    patch_server(&xaa, 0, json!({"enabled": true})).await;
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.finish().await;
}

async fn xaa_10_resource_not_allowed_for_the_idp_or_client_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let view = xaa
        .patch_idp(json!({"allowed_resources": [RESOURCE]}))
        .await;
    assert_eq!(view["allowed_resources"], json!([RESOURCE]), "{view}");
    let to_other = || {
        xaa.id_jag()
            .claim("resource", json!(OTHER_RESOURCE))
            .claim("scope", json!("other:read"))
            .jwt()
    };
    assert_refused(
        &xaa.redeem(&to_other()).await,
        "invalid_grant",
        "not allowed here",
    );
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);

    // The client's own server list limits it too.
    xaa.patch_idp(json!({"allowed_resources": null})).await;
    assert_token(&xaa.redeem(&to_other()).await);
    let path = format!("/admin/api/v1/clients/{}", xaa.client_id);
    xaa.app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"allowed_resources": [RESOURCE]})),
            StatusCode::OK,
        )
        .await;
    assert_refused(
        &xaa.redeem(&to_other()).await,
        "invalid_grant",
        "not allowed here",
    );
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.finish().await;
}

async fn xaa_10_several_resources_need_a_request_resource(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let both = || {
        xaa.id_jag()
            .claim("resource", json!([RESOURCE, OTHER_RESOURCE]))
            .without("scope")
    };
    assert_refused(
        &xaa.redeem(&both().jwt()).await,
        "invalid_target",
        "several resources",
    );
    for (pick, scope) in [(OTHER_RESOURCE, "other:read"), (RESOURCE, "tools:read")] {
        let answer = xaa.redeem_with(&both().jwt(), &[("resource", pick)]).await;
        let claims = assert_token(&answer);
        assert_eq!(claims["aud"], pick, "{claims}");
        assert_eq!(claims["scope"], scope, "{claims}");
    }
    let answer = xaa
        .redeem_with(&both().jwt(), &[("resource", "https://third.example/mcp")])
        .await;
    assert_refused(&answer, "invalid_target", "resource");
    xaa.finish().await;
}

async fn xaa_10_without_resource_claim_the_only_or_default_server_is_used(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let unnamed = || xaa.id_jag().without("resource").without("scope").jwt();
    assert_refused(&xaa.redeem(&unnamed()).await, "invalid_grant", "no default");
    // The IdP's only server.
    xaa.patch_idp(json!({"allowed_resources": [OTHER_RESOURCE]}))
        .await;
    let claims = assert_token(&xaa.redeem(&unnamed()).await);
    assert_eq!(claims["aud"], OTHER_RESOURCE, "{claims}");
    assert_eq!(claims["scope"], "other:read", "{claims}");
    // The default server.
    xaa.patch_idp(json!({"allowed_resources": null})).await;
    patch_server(&xaa, 0, json!({"default_resource": true})).await;
    let claims = assert_token(&xaa.redeem(&unnamed()).await);
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    assert_eq!(claims["scope"], "tools:read", "{claims}");
    xaa.finish().await;
}

/// RES-1, RES-3 with XAA-10: when the ID-JAG names no resource, a request `resource`
/// is never silently replaced by the default: the token is for the requested server,
/// or the request is `invalid_target`.
async fn xaa_10_request_resource_is_never_ignored(app: TestApp) {
    let xaa = Xaa::new(app).await;
    patch_server(&xaa, 0, json!({"default_resource": true})).await;
    let unnamed = || xaa.id_jag().without("resource").without("scope").jwt();
    let claims = assert_token(&xaa.redeem_with(&unnamed(), &[("resource", RESOURCE)]).await);
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    let answer = xaa
        .redeem_with(&unnamed(), &[("resource", OTHER_RESOURCE)])
        .await;
    if answer.0 == StatusCode::OK {
        assert_eq!(assert_token(&answer)["aud"], OTHER_RESOURCE, "{}", answer.2);
    } else {
        assert_refused(&answer, "invalid_target", "resource");
    }
    for asked in ["https://unknown.example/mcp", "not a uri"] {
        let answer = xaa.redeem_with(&unnamed(), &[("resource", asked)]).await;
        assert_refused(&answer, "invalid_target", "resource");
    }
    // Not allowed for the IdP: not reachable by naming it either.
    xaa.patch_idp(json!({"allowed_resources": [RESOURCE]}))
        .await;
    let answer = xaa
        .redeem_with(&unnamed(), &[("resource", OTHER_RESOURCE)])
        .await;
    assert_refused(&answer, "invalid_target", "resource");
    xaa.finish().await;
}

/// RES-2 with XAA-10: resources compare as canonical URIs (scheme and host
/// lower-cased), in the claim and in the request alike.
async fn xaa_10_resources_match_canonically(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let shouted = "HTTPS://MCP.Example.COM/mcp";
    let jwt = xaa.id_jag().claim("resource", json!(shouted)).jwt();
    let claims = assert_token(&xaa.redeem(&jwt).await);
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    let both = || {
        xaa.id_jag()
            .claim("resource", json!([shouted, OTHER_RESOURCE]))
            .without("scope")
            .jwt()
    };
    for asked in [RESOURCE, shouted] {
        let claims = assert_token(&xaa.redeem_with(&both(), &[("resource", asked)]).await);
        assert_eq!(claims["aud"], RESOURCE, "{asked}: {claims}");
    }
    // The path stays case-sensitive.
    let answer = xaa
        .redeem_with(&both(), &[("resource", "https://mcp.example.com/MCP")])
        .await;
    assert_refused(&answer, "invalid_target", "resource");
    xaa.finish().await;
}

both_backends!(
    xaa_10_resource_claim_binds_the_token,
    xaa_10_unregistered_or_disabled_resource_is_refused,
    xaa_10_resource_not_allowed_for_the_idp_or_client_is_refused,
    xaa_10_several_resources_need_a_request_resource,
    xaa_10_without_resource_claim_the_only_or_default_server_is_used,
    xaa_10_request_resource_is_never_ignored,
    xaa_10_resources_match_canonically,
);
