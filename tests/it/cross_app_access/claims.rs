//! The claims of a genuine ID-JAG (XAA-5..7, XAA-13, XAA-16): meant for this server
//! alone, complete, fresh, of the configured tenant, and not sender-constrained. The
//! time rules are probed at their edges on the mock clock (skew 60 s, lifetime 600 s).

use std::time::Duration;

use serde_json::json;

use super::{Xaa, assert_refused, assert_token, now};
use crate::both_backends;
use crate::harness::TestApp;

/// XAA-5: `aud` is this issuer, as a string or a one-element array; nothing else.
async fn xaa_5_aud_must_be_this_issuer_alone(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let issuer = xaa.app.issuer.clone();
    for aud in [
        json!("https://other-as.example"),
        json!([issuer, "https://other.example"]),
        json!(["https://other.example", issuer]),
        json!([issuer, issuer]),
        json!([]),
        json!(format!("{issuer}/")),
        json!(format!("{issuer}/oauth2/token")),
        json!(crate::harness::flow::RESOURCE),
        json!(super::IDP_ISSUER),
    ] {
        let jwt = xaa.id_jag().claim("aud", aud.clone()).jwt();
        assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "aud");
    }
    let jwt = xaa.id_jag().without("aud").jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "aud");
    for aud in [json!(issuer), json!([issuer])] {
        let jwt = xaa.id_jag().claim("aud", aud).jwt();
        assert_token(&xaa.redeem(&jwt).await);
    }
    xaa.finish().await;
}

/// XAA-6: `sub`, `jti`, `exp`, `iat` and `client_id` are required (as are `iss` and
/// `aud`, refused in their own tests); empty ones count as missing.
async fn xaa_6_missing_required_claims_are_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for (claim, mentions) in [
        ("sub", "no sub"),
        ("jti", "jti"),
        ("exp", "no exp"),
        ("iat", "no iat"),
        ("client_id", "no client_id"),
    ] {
        let jwt = xaa.id_jag().without(claim).jwt();
        assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", mentions);
    }
    for (claim, value) in [
        ("sub", json!("")),
        ("jti", json!("")),
        ("jti", json!("j".repeat(257))),
        ("client_id", json!("")),
        ("sub", json!(42)),
        ("exp", json!("soon")),
        ("iat", json!(null)),
    ] {
        let jwt = xaa.id_jag().claim(claim, value.clone()).jwt();
        let answer = xaa.redeem(&jwt).await;
        assert_eq!(
            answer.2["error"], "invalid_grant",
            "{claim}={value}: {}",
            answer.2
        );
    }
    // The optional claims of XAA-6 do not disturb a redemption.
    let at = now(&xaa.app);
    let jwt = xaa
        .id_jag()
        .claim("email", json!("dana.ito@corp.example"))
        .claim("acr", json!("urn:mace:incommon:iap:silver"))
        .claim("aud_sub", json!("dana"))
        .claim("authorization_details", json!([{"type": "files"}]))
        .claim("act", json!({"sub": "agent"}))
        .claim("nbf", json!(at))
        .jwt();
    assert_token(&xaa.redeem(&jwt).await);
    xaa.finish().await;
}

/// XAA-7: expired is `exp` + 60 s at or before now; the mock clock moving past an
/// ID-JAG's end refuses it too.
async fn xaa_7_expired_id_jag_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let at = now(&xaa.app);
    let expired = xaa
        .id_jag()
        .claim("iat", json!(at - 300))
        .claim("exp", json!(at - 60))
        .jwt();
    assert_refused(&xaa.redeem(&expired).await, "invalid_grant", "expired");
    let within_skew = xaa
        .id_jag()
        .claim("iat", json!(at - 300))
        .claim("exp", json!(at - 59))
        .jwt();
    assert_token(&xaa.redeem(&within_skew).await);

    let later = xaa.id_jag().jwt();
    xaa.app.clock.advance(Duration::from_secs(300 + 60));
    assert_refused(&xaa.redeem(&later).await, "invalid_grant", "expired");
    xaa.finish().await;
}

/// XAA-7: `iat` (and `nbf`) at most 60 s ahead of now.
async fn xaa_7_id_jag_from_the_future_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let at = now(&xaa.app);
    let issued = |iat: i64| {
        xaa.id_jag()
            .claim("iat", json!(iat))
            .claim("exp", json!(iat + 300))
            .jwt()
    };
    assert_refused(
        &xaa.redeem(&issued(at + 61)).await,
        "invalid_grant",
        "not valid yet",
    );
    assert_refused(
        &xaa.redeem(&issued(at + 3600)).await,
        "invalid_grant",
        "not valid yet",
    );
    assert_token(&xaa.redeem(&issued(at + 60)).await);
    let not_before = |nbf: i64| xaa.id_jag().claim("nbf", json!(nbf)).jwt();
    assert_refused(
        &xaa.redeem(&not_before(at + 61)).await,
        "invalid_grant",
        "not valid yet",
    );
    assert_token(&xaa.redeem(&not_before(at + 60)).await);
    // Once the clock catches up, the same ID-JAG is good.
    let early = issued(at + 120);
    assert_refused(&xaa.redeem(&early).await, "invalid_grant", "not valid yet");
    xaa.app.clock.advance(Duration::from_secs(60));
    assert_token(&xaa.redeem(&early).await);
    xaa.finish().await;
}

/// XAA-7 (PD): `exp` − `iat` at most 10 minutes.
async fn xaa_7_lifetime_over_ten_minutes_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let at = now(&xaa.app);
    let living = |iat: i64, exp: i64| {
        xaa.id_jag()
            .claim("iat", json!(iat))
            .claim("exp", json!(exp))
            .jwt()
    };
    for (iat, exp) in [(at, at + 601), (at - 1000, at + 100), (at, at + 86_400)] {
        assert_refused(
            &xaa.redeem(&living(iat, exp)).await,
            "invalid_grant",
            "longer than 10 minutes",
        );
    }
    assert_token(&xaa.redeem(&living(at, at + 600)).await);
    assert_token(&xaa.redeem(&living(at - 500, at + 100)).await);
    xaa.finish().await;
}

/// XAA-16: a sender-constrained ID-JAG (`cnf`) needs DPoP, which this server does not
/// support, so it is refused.
async fn xaa_16_cnf_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    for cnf in [
        json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({}),
    ] {
        let jwt = xaa.id_jag().claim("cnf", cnf).jwt();
        assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "cnf");
    }
    xaa.finish().await;
}

/// XAA-13, XAA-18: an IdP configured with a tenant vouches only through ID-JAGs of that
/// tenant.
async fn xaa_13_tenant_must_be_the_configured_one(app: TestApp) {
    let xaa = Xaa::with_idp(app, json!({"tenant": "acme"})).await;
    for tenant in [json!("other"), json!("ACME"), json!("")] {
        let jwt = xaa.id_jag().claim("tenant", tenant).jwt();
        assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "tenant");
    }
    let jwt = xaa.id_jag().without("tenant").jwt();
    assert_refused(&xaa.redeem(&jwt).await, "invalid_grant", "tenant");
    let jwt = xaa.id_jag().claim("tenant", json!("acme")).jwt();
    assert_token(&xaa.redeem(&jwt).await);
    // Removing the tenant requirement applies on the next request.
    xaa.patch_idp(json!({"tenant": null})).await;
    let jwt = xaa.id_jag().claim("tenant", json!("other")).jwt();
    assert_token(&xaa.redeem(&jwt).await);
    xaa.finish().await;
}

both_backends!(
    xaa_5_aud_must_be_this_issuer_alone,
    xaa_6_missing_required_claims_are_refused,
    xaa_7_expired_id_jag_is_refused,
    xaa_7_id_jag_from_the_future_is_refused,
    xaa_7_lifetime_over_ten_minutes_is_refused,
    xaa_16_cnf_is_refused,
    xaa_13_tenant_must_be_the_configured_one,
);
