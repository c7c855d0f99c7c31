//! Across instances: two servers with one issuer on one PostgreSQL database share the
//! `jti` store, so an assertion used at one is refused at the other (CC-8), and a token
//! revoked at one is inactive at the other (REVOKE-4, INTRO-3), even after the feed
//! that carries revocations between them was cut. (SQLite is a single-instance
//! deployment, so this runs on PostgreSQL only.)

use std::time::Duration;

use mcp_authz::app::{self, RunningServer};
use serde_json::Value;

use super::{
    Assertion, TestKey, assert_issued, assert_one_winner, assert_refused, assertion_params,
    key_client, race,
};
use crate::harness::flow::Fixture;
use crate::harness::flow::OAuthAnswer;
use crate::harness::{Backend, TestApp};

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

/// The client credentials grant at the server at `base`, authenticated by `jwt`.
async fn cc_at(app: &TestApp, base: &str, jwt: &str) -> OAuthAnswer {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(&assertion_params(jwt));
    let response = app
        .http
        .post(format!("{base}/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or_default();
    (status, headers, body)
}

mod cc_8_replayed_jti_is_refused_across_two_instances {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let app = TestApp::spawn(Backend::Postgres).await;
        app.fixture().await;
        let key = TestKey::es256("k1");
        let id = key_client(&app, &[&key]).await;
        let (second, second_base) = second_instance(&app).await;

        // Each instance accepts a fresh assertion on its own.
        for base in [app.base.as_str(), &second_base] {
            let jwt = Assertion::new(&app, &id, &key).jwt();
            assert_issued(&cc_at(&app, base, &jwt).await);
        }
        // Used at one, refused at the other, both ways round.
        let jwt = Assertion::new(&app, &id, &key).jwt();
        assert_issued(&cc_at(&app, &app.base, &jwt).await);
        assert_refused(&cc_at(&app, &second_base, &jwt).await, "already used");
        let jwt = Assertion::new(&app, &id, &key).jwt();
        assert_issued(&cc_at(&app, &second_base, &jwt).await);
        assert_refused(&cc_at(&app, &app.base, &jwt).await, "already used");
        // Raced at both instances together: exactly one use wins.
        let jwt = Assertion::new(&app, &id, &key).jwt();
        let answers = race(&app, &[&app.base, &second_base], &jwt).await;
        assert_one_winner(&answers);

        second.stop().await;
        app.finish().await;
    }
}

/// Introspects `token` at the server at `base` as the fixture's MCP server; the body.
async fn introspect_at(app: &TestApp, base: &str, fixture: &Fixture, token: &str) -> Value {
    let response = app
        .http
        .post(format!("{base}/oauth2/introspect"))
        .basic_auth(&fixture.introspector, Some(&fixture.introspector_secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.json().await.unwrap()
}

/// Revokes `token` at this app's own instance as `client`, authenticated by `key`.
async fn revoke_here(app: &TestApp, client: &str, key: &TestKey, token: &str) {
    let jwt = Assertion::new(app, client, key).jwt();
    let mut form = vec![("token", token)];
    form.extend_from_slice(&assertion_params(&jwt));
    let (status, _, body) = app.post_form("/oauth2/revoke", &form, None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
}

/// Polls introspection at `base` until `token` reads inactive; panics after 15 s.
/// (Revocations travel between instances asynchronously, in milliseconds.)
async fn until_inactive(app: &TestApp, base: &str, fixture: &Fixture, token: &str) {
    for _ in 0..150 {
        if introspect_at(app, base, fixture, token).await["active"] == false {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} still reports a revoked token active");
}

mod revoke_4_revocation_reaches_every_instance {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let app = TestApp::spawn(Backend::Postgres).await;
        let fixture = app.fixture().await;
        let key = TestKey::es256("k1");
        let id = key_client(&app, &[&key]).await;
        let (second, second_base) = second_instance(&app).await;
        let token = || async {
            let jwt = Assertion::new(&app, &id, &key).jwt();
            let answer = cc_at(&app, &app.base, &jwt).await;
            assert_issued(&answer);
            answer.2["access_token"].as_str().unwrap().to_owned()
        };

        // Revoked at the first instance: inactive there at once, and at the second soon.
        let first = token().await;
        assert_eq!(
            introspect_at(&app, &second_base, &fixture, &first).await["active"],
            true
        );
        revoke_here(&app, &id, &key, &first).await;
        assert_eq!(
            introspect_at(&app, &app.base, &fixture, &first).await["active"],
            false
        );
        until_inactive(&app, &second_base, &fixture, &first).await;

        // Cut every feed connection: a revocation made while the second instance is
        // deaf still reaches it (it reads the table until it has resynchronised).
        let second_token = token().await;
        assert_eq!(
            introspect_at(&app, &second_base, &fixture, &second_token).await["active"],
            true
        );
        let pool = sqlx::PgPool::connect(&app.database.url).await.unwrap();
        let cut: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(!cut.is_empty(), "no feed connection to cut");
        revoke_here(&app, &id, &key, &second_token).await;
        until_inactive(&app, &second_base, &fixture, &second_token).await;
        // The feed comes back: later revocations reach the second instance again.
        let third = token().await;
        revoke_here(&app, &id, &key, &third).await;
        until_inactive(&app, &second_base, &fixture, &third).await;

        pool.close().await;
        second.stop().await;
        app.finish().await;
    }
}
