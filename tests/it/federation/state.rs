//! FED-2: the upstream `state` is single-use, lives at most 10 minutes, belongs to the
//! browser session that started the sign-in, and only the code issued for that sign-in
//! (PKCE) is redeemed.

use std::time::Duration;

use reqwest::StatusCode;

use super::{
    Federated, assert_error_page, assert_signed_in_at_b, assert_signed_out_at_b, at_provider,
    begin, callback_url, with_param,
};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::flow::{UserAgent, param};

const USED: &str = "expired or was already used";
const UNVERIFIED: &str = "could not be verified";

async fn fed_2_state_is_single_use(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    // A first answer with this state (a forged code) fails upstream and uses it up
    // without touching the session ...
    let forged = with_param(&callback, "code", Some("forged-code"));
    assert_error_page(
        agent.get(&forged).await,
        StatusCode::BAD_GATEWAY,
        UNVERIFIED,
    )
    .await;
    // ... so the genuine answer, in the same session, is refused.
    assert_error_page(agent.get(&callback).await, StatusCode::BAD_REQUEST, USED).await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;

    // A completed sign-in's callback cannot be replayed either.
    let mut other = fed.agent();
    let callback = callback_url(&mut other, &fed).await;
    let answered = other.get(&callback).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_error_page(other.get(&callback).await, StatusCode::BAD_REQUEST, USED).await;
    fed.finish().await;
}

both_backends!(backend: fed_2_state_is_single_use);

async fn fed_2_state_of_another_browser_session_is_refused(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut victim = fed.agent();
    let callback = callback_url(&mut victim, &fed).await;
    // Another browser (its own session at B) is handed the victim's callback.
    let mut attacker = fed.agent();
    assert_signed_out_at_b(&mut attacker, &fed.b).await;
    assert!(attacker.has_cookie(&fed.b.base));
    let answered = attacker.get(&callback).await;
    assert_error_page(answered, StatusCode::BAD_REQUEST, USED).await;
    assert_signed_out_at_b(&mut attacker, &fed.b).await;
    // A browser with no session at B at all.
    let mut stranger = fed.agent();
    let answered = stranger.get(&callback).await;
    assert_error_page(answered, StatusCode::BAD_REQUEST, USED).await;
    assert!(!stranger.has_cookie(&fed.b.base));
    // Neither attempt spent the state: the victim's own callback still signs in.
    let answered = victim.get(&callback).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    fed.finish().await;
}

both_backends!(backend: fed_2_state_of_another_browser_session_is_refused);

async fn fed_2_unknown_or_missing_state_is_refused(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let unknown = with_param(
        &callback,
        "state",
        Some("Zm9yZ2VkLXN0YXRlLXZhbHVlLW5vdC1pc3N1ZWQ"),
    );
    assert_error_page(agent.get(&unknown).await, StatusCode::BAD_REQUEST, USED).await;
    let missing = with_param(&callback, "state", None);
    assert_error_page(agent.get(&missing).await, StatusCode::BAD_REQUEST, USED).await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;
    // Neither attempt used up the real state.
    let answered = agent.get(&callback).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_signed_in_at_b(&mut agent, &fed.b).await;
    fed.finish().await;
}

both_backends!(backend: fed_2_unknown_or_missing_state_is_refused);

/// Begins at B, lets `elapsed` pass on both servers' clocks, then goes through A and
/// answers B's callback; returns B's answer.
async fn answer_after(fed: &Federated, elapsed: Duration) -> reqwest::Response {
    let mut agent = fed.agent();
    let authorize = begin(&mut agent, fed).await;
    fed.a.clock.advance(elapsed);
    fed.b.clock.advance(elapsed);
    let callback = at_provider(&mut agent, fed, authorize, "allow").await;
    agent.get(&callback).await
}

async fn fed_2_state_expires_after_ten_minutes(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let in_time = answer_after(&fed, Duration::from_secs(590)).await;
    assert_eq!(in_time.status(), StatusCode::SEE_OTHER);
    let late = answer_after(&fed, Duration::from_secs(601)).await;
    assert_error_page(late, StatusCode::BAD_REQUEST, USED).await;
    fed.finish().await;
}

both_backends!(backend: fed_2_state_expires_after_ten_minutes);

async fn fed_2_denial_at_the_provider_is_an_error_page(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let authorize = begin(&mut agent, &fed).await;
    let callback = at_provider(&mut agent, &fed, authorize, "deny").await;
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    let answered = agent.get(&callback).await;
    assert_error_page(
        answered,
        StatusCode::BAD_GATEWAY,
        "not completed at the provider",
    )
    .await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;
    fed.finish().await;
}

both_backends!(backend: fed_2_denial_at_the_provider_is_an_error_page);

async fn fed_2_code_of_another_sign_in_is_refused(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    // Two sign-ins of the same upstream user at A: the attacker's code, injected into
    // the victim's callback (valid state, session and iss), fails B's PKCE verifier.
    let mut victim = fed.agent();
    let victim_callback = callback_url(&mut victim, &fed).await;
    let mut attacker = fed.agent();
    let attacker_callback = callback_url(&mut attacker, &fed).await;
    let stolen = param(&attacker_callback, "code").unwrap();
    let injected = with_param(&victim_callback, "code", Some(&stolen));
    assert_error_page(
        victim.get(&injected).await,
        StatusCode::BAD_GATEWAY,
        UNVERIFIED,
    )
    .await;
    assert_signed_out_at_b(&mut victim, &fed.b).await;

    // A code A issued to another of its clients, in a fresh sign-in's callback.
    let a_fixture_desktop = fed
        .a
        .create_client(serde_json::json!({
            "client_name": "A's desktop app", "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1/callback"], "grant_types": ["authorization_code"],
        }))
        .await;
    let desktop = a_fixture_desktop["client_id"].as_str().unwrap();
    let foreign = UserAgent::new(&fed.a)
        .code(
            desktop,
            "http://127.0.0.1:5555/callback",
            &[("scope", "openid"), ("nonce", "n-1")],
        )
        .await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let injected = with_param(&callback, "code", Some(&foreign));
    assert_error_page(
        agent.get(&injected).await,
        StatusCode::BAD_GATEWAY,
        UNVERIFIED,
    )
    .await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;
    fed.finish().await;
}

both_backends!(backend: fed_2_code_of_another_sign_in_is_refused);
