//! XAA-12: an ID-JAG's `jti` is single-use per issuer, whoever presents it again,
//! however quickly, and at whichever instance sharing the database.

use std::sync::Arc;

use mcp_authz::app::{self, RunningServer};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use super::{IdpKey, JWT_BEARER, Jwt, Xaa, assert_refused, assert_token, create_idp, jwks};
use crate::both_backends;
use crate::harness::flow::OAuthAnswer;
use crate::harness::{Backend, TestApp};

async fn xaa_12_replayed_jti_is_refused(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let jag = xaa.id_jag();
    let jti = jag.claim_value("jti");
    assert_token(&xaa.redeem(&jag.jwt()).await);
    assert_refused(
        &xaa.redeem(&jag.jwt()).await,
        "invalid_grant",
        "already used",
    );
    // Re-signed with other claims, the same jti is still spent.
    let again = xaa
        .id_jag()
        .claim("jti", jti.clone())
        .claim("scope", json!("tools:call"));
    assert_refused(
        &xaa.redeem(&again.jwt()).await,
        "invalid_grant",
        "already used",
    );
    // A new jti for the same user and client is a new grant.
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);

    // The same jti from another IdP is another ID-JAG (per issuer).
    let other_key = IdpKey::es256("other-idp-key");
    create_idp(
        app,
        json!({
            "issuer": "https://login.other-idp.example", "jwks": jwks(&[&other_key]),
            "clients": [{"client_id": xaa.client_id}], "jit_provisioning": true,
        }),
    )
    .await;
    let from_other = Jwt::id_jag(app, &other_key, &xaa.client_id)
        .claim("iss", json!("https://login.other-idp.example"))
        .claim("jti", jti);
    assert_token(&xaa.redeem(&from_other.jwt()).await);
    assert_refused(
        &xaa.redeem(&from_other.jwt()).await,
        "invalid_grant",
        "already used",
    );
    xaa.finish().await;
}

/// The jwt-bearer grant at the server at `base` with `assertion`, Basic-authenticated.
async fn redeem_at(app: &TestApp, base: &str, basic: (&str, &str), assertion: &str) -> OAuthAnswer {
    let response = app
        .http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(basic.0, Some(basic.1))
        .form(&[("grant_type", JWT_BEARER), ("assertion", assertion)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or_default();
    (status, headers, body)
}

/// Sends `assertion` from 8 tasks released together, spread over `bases`; asserts that
/// exactly one gets a token and every other one `invalid_grant`.
async fn race(xaa: &Xaa, bases: &[&str], assertion: &str) {
    let tasks = 8;
    let barrier = Arc::new(Barrier::new(tasks));
    let mut set = JoinSet::new();
    for i in 0..tasks {
        let barrier = Arc::clone(&barrier);
        let request = xaa
            .app
            .http
            .post(format!("{}/oauth2/token", bases[i % bases.len()]))
            .basic_auth(&xaa.client_id, Some(&xaa.secret))
            .form(&[("grant_type", JWT_BEARER), ("assertion", assertion)]);
        set.spawn(async move {
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        });
    }
    let answers = set.join_all().await;
    let winners = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(winners, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{body}"
        );
    }
}

async fn xaa_12_concurrent_redemptions_have_one_winner(app: TestApp) {
    let xaa = Xaa::new(app).await;
    // The first use provisions the account, so the race is about the jti alone.
    assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    let base = xaa.app.base.clone();
    for _ in 0..3 {
        race(&xaa, &[&base], &xaa.id_jag().jwt()).await;
    }
    xaa.finish().await;
}

both_backends!(
    xaa_12_replayed_jti_is_refused,
    xaa_12_concurrent_redemptions_have_one_winner,
);

/// A second server on `app`'s database and clock, with `app`'s issuer (as behind one
/// load balancer); returns it and its base URL.
async fn second_instance(app: &TestApp) -> (RunningServer, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = app.settings(port);
    settings.issuer = app.server().state.settings.issuer.clone();
    let server = app::spawn_on(listener, settings, app.clock.clone())
        .await
        .unwrap();
    (server, format!("http://127.0.0.1:{port}"))
}

/// XAA-12 across instances: two servers with one issuer on one PostgreSQL database
/// share the `jti` record (SQLite is a single-instance deployment).
mod xaa_12_replayed_jti_is_refused_across_two_instances {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let app = TestApp::spawn(Backend::Postgres).await;
        let xaa = Xaa::new(app).await;
        let (second, second_base) = second_instance(&xaa.app).await;
        let basic = (xaa.client_id.as_str(), xaa.secret.as_str());
        let first_base = xaa.app.base.clone();

        // Each instance redeems a fresh ID-JAG, for the same account.
        let mut subjects = Vec::new();
        for base in [first_base.as_str(), &second_base] {
            let answer = redeem_at(&xaa.app, base, basic, &xaa.id_jag().jwt()).await;
            subjects.push(assert_token(&answer)["sub"].clone());
        }
        assert_eq!(subjects[0], subjects[1]);
        // Used at one, refused at the other, both ways round.
        for (used, replayed) in [(&first_base, &second_base), (&second_base, &first_base)] {
            let jwt = xaa.id_jag().jwt();
            assert_token(&redeem_at(&xaa.app, used, basic, &jwt).await);
            let answer = redeem_at(&xaa.app, replayed, basic, &jwt).await;
            assert_refused(&answer, "invalid_grant", "already used");
        }
        // Raced at both instances together: exactly one use wins.
        race(&xaa, &[&first_base, &second_base], &xaa.id_jag().jwt()).await;

        second.stop().await;
        xaa.finish().await;
    }
}
