//! The authorization-code flow end to end (CORE, PKCE, RES, SCOPE, TOK, ISS).

use reqwest::StatusCode;

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{RESOURCE, desktop_tokens, jwt_payload};

async fn core_1_desktop_client_gets_a_resource_bound_token_with_default_scopes(app: TestApp) {
    let fixture = app.fixture().await;
    let tokens = desktop_tokens(&app, &fixture, &[("resource", RESOURCE)]).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    // SCOPE-1: no scope asked, the server's defaults granted; SCOPE-4: always returned.
    assert_eq!(tokens["scope"], "tools:read");
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() == 43)
    );
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["client_id"], fixture.desktop.as_str());
    assert_eq!(claims["scope"], "tools:read");
    assert!(claims["sub"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!(claims["jti"].as_str().is_some() && claims["auth_time"].as_i64().is_some());
    let status = app.get("/healthz").await.status();
    assert_eq!(status, StatusCode::OK);
    app.finish().await;
}

both_backends!(core_1_desktop_client_gets_a_resource_bound_token_with_default_scopes);
