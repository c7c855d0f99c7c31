//! CC-8 across instances: two servers with one issuer on one PostgreSQL database share
//! the `jti` store, so an assertion used at one is refused at the other. (SQLite is a
//! single-instance deployment, so this runs on PostgreSQL only.)

use mcp_authz::app::{self, RunningServer};

use super::{
    Assertion, TestKey, assert_issued, assert_one_winner, assert_refused, assertion_params,
    key_client, race,
};
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
