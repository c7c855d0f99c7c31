//! FED-3: the provider's discovery document must name exactly the configured issuer,
//! and the `iss` of its authorization response (RFC 9207) must be that issuer.

use reqwest::StatusCode;
use serde_json::json;

use super::{Federated, assert_error_page, assert_signed_out_at_b, callback_url, with_param};
use crate::both_backends;
use crate::harness::flow::{hidden, location};
use crate::harness::tls_fixture::{DocServer, Reply};
use crate::harness::{Backend, TestApp};

const UNVERIFIED: &str = "could not be verified";

/// A discovery document for the provider at `base`, naming `issuer`.
fn discovery(base: &str, issuer: &str) -> Reply {
    Reply::json(&json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks.json"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

fn provider_toml(id: &str, issuer: &str) -> String {
    format!(
        "[[federation.providers]]\nid = \"{id}\"\nname = \"{id}\"\nissuer = \"{issuer}\"\n\
         client_id = \"b-at-{id}\"\nclient_secret = \"s3cret-{id}\"\n"
    )
}

async fn fed_3_discovery_naming_another_issuer_is_refused(backend: Backend) {
    let docs = DocServer::start().await;
    let (good, bad) = (docs.url("/good"), docs.url("/bad"));
    docs.set(
        "/good/.well-known/openid-configuration",
        discovery(&good, &good),
    );
    // A mix-up: the document at /bad speaks for /good.
    docs.set(
        "/bad/.well-known/openid-configuration",
        discovery(&bad, &good),
    );
    let toml = format!(
        "{}{}{}",
        provider_toml("good", &good),
        provider_toml("bad", &bad),
        docs.outbound_toml("allow_loopback = true"),
    );
    let b = TestApp::spawn_with(backend, "", &toml).await;
    let mut agent = crate::harness::flow::UserAgent::new(&b);
    let page = agent.get("/login").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    for name in ["Sign in with good", "Sign in with bad"] {
        assert!(html.contains(name), "{html}");
    }

    let chosen = agent
        .post(
            "/login/federated",
            &[("csrf_token", csrf.as_str()), ("provider", "good")],
        )
        .await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert!(location(&chosen).starts_with(&format!("{good}/authorize?")));

    let refused = agent
        .post(
            "/login/federated",
            &[("csrf_token", csrf.as_str()), ("provider", "bad")],
        )
        .await;
    assert!(refused.headers().get("location").is_none());
    assert_error_page(refused, StatusCode::BAD_GATEWAY, UNVERIFIED).await;
    assert!(docs.hits("/bad/.well-known/openid-configuration") >= 1);
    assert_eq!(docs.hits("/bad/authorize"), 0);
    b.finish().await;
}

both_backends!(backend: fed_3_discovery_naming_another_issuer_is_refused);

async fn fed_3_callback_iss_of_another_issuer_is_refused(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let mixed_up = with_param(&callback, "iss", Some("https://idp.example"));
    assert_error_page(
        agent.get(&mixed_up).await,
        StatusCode::BAD_GATEWAY,
        UNVERIFIED,
    )
    .await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;

    // B's own issuer is another issuer too (the issuer differs only by scheme and host).
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let own = with_param(&callback, "iss", Some(&fed.b.issuer));
    assert_error_page(agent.get(&own).await, StatusCode::BAD_GATEWAY, UNVERIFIED).await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;
    fed.finish().await;
}

both_backends!(backend: fed_3_callback_iss_of_another_issuer_is_refused);

async fn fed_3_callback_without_iss_is_refused_when_the_provider_sends_it(backend: Backend) {
    // A advertises `authorization_response_iss_parameter_supported: true` (ISS-3), so a
    // response without `iss` is not A's (RFC 9207 section 2.4).
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let stripped = with_param(&callback, "iss", None);
    assert_error_page(
        agent.get(&stripped).await,
        StatusCode::BAD_GATEWAY,
        UNVERIFIED,
    )
    .await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;
    fed.finish().await;
}

both_backends!(backend: fed_3_callback_without_iss_is_refused_when_the_provider_sends_it);
