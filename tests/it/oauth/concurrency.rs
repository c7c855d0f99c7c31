//! Exactly one of many concurrent uses wins: code redemption (CORE-14) and refresh
//! rotation (REFRESH-8), on both backends.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{
    DESKTOP_REDIRECT, Fixture, RESOURCE, UserAgent, VERIFIER, assert_oauth_error, desktop_tokens,
};

const RACERS: usize = 20;

/// Posts `form` to the token endpoint from `RACERS` tasks released together; returns
/// each answer's status and JSON body.
async fn race(app: &TestApp, form: &[(&str, &str)]) -> Vec<(StatusCode, Value)> {
    let url = format!("{}/oauth2/token", app.base);
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let start = Arc::new(Barrier::new(RACERS));
    let mut tasks = JoinSet::new();
    for _ in 0..RACERS {
        let request = app.http.post(&url).form(&form);
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json().await.unwrap_or(Value::Null))
        });
    }
    tasks.join_all().await
}

/// Exactly one 200; every other answer is a 400 `invalid_grant` (never a 500).
/// Returns the winner's body.
fn one_winner(answers: &[(StatusCode, Value)]) -> Value {
    let summary: Vec<(StatusCode, &Value)> =
        answers.iter().map(|(s, b)| (*s, &b["error"])).collect();
    let mut winners = answers.iter().filter(|(s, _)| *s == StatusCode::OK);
    let winner = winners.next().expect("one request wins");
    assert!(winners.next().is_none(), "{summary:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{summary:?}"
        );
    }
    winner.1.clone()
}

async fn race_one_code(app: &TestApp, fixture: &Fixture) -> Vec<(StatusCode, Value)> {
    let mut agent = UserAgent::new(app);
    let code = agent
        .code(
            &fixture.desktop,
            DESKTOP_REDIRECT,
            &[("resource", RESOURCE)],
        )
        .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", fixture.desktop.as_str()),
        ("redirect_uri", DESKTOP_REDIRECT),
    ];
    race(app, &form).await
}

async fn race_one_refresh_token(app: &TestApp, fixture: &Fixture) -> Vec<(StatusCode, Value)> {
    let tokens = desktop_tokens(app, fixture, &[("resource", RESOURCE)]).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", fixture.desktop.as_str()),
    ];
    race(app, &form).await
}

async fn core_14_parallel_redemptions_of_one_code_have_one_winner(app: TestApp) {
    let fixture = app.fixture().await;
    one_winner(&race_one_code(&app, &fixture).await);
    app.finish().await;
}

/// The losers replayed the code with everything else right, so CORE-14 revokes what
/// the winner got, however the requests interleaved.
async fn core_14_parallel_replays_revoke_the_winners_tokens(app: TestApp) {
    let fixture = app.fixture().await;
    let winner = one_winner(&race_one_code(&app, &fixture).await);
    let access = winner["access_token"].as_str().unwrap();
    assert!(!app.is_active_for_server(&fixture, access).await);
    let refresh = winner["refresh_token"].as_str().unwrap();
    let answer = app.refresh_desktop(&fixture, refresh, &[]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    app.finish().await;
}

async fn refresh_8_parallel_refreshes_of_one_token_have_one_winner(app: TestApp) {
    let fixture = app.fixture().await;
    one_winner(&race_one_refresh_token(&app, &fixture).await);
    app.finish().await;
}

/// Every loser used a token that had just been rotated: a reuse, which revokes the
/// family including the winner's successor (REFRESH-4).
async fn refresh_4_parallel_losers_revoke_the_family(app: TestApp) {
    let fixture = app.fixture().await;
    let winner = one_winner(&race_one_refresh_token(&app, &fixture).await);
    let successor = winner["refresh_token"].as_str().unwrap();
    let answer = app.refresh_desktop(&fixture, successor, &[]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    let access = winner["access_token"].as_str().unwrap();
    assert!(!app.is_active_for_server(&fixture, access).await);
    app.finish().await;
}

both_backends!(
    core_14_parallel_redemptions_of_one_code_have_one_winner,
    core_14_parallel_replays_revoke_the_winners_tokens,
    refresh_8_parallel_refreshes_of_one_token_have_one_winner,
    refresh_4_parallel_losers_revoke_the_family,
);
