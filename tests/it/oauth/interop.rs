//! Interoperability: the `oauth2` crate, a widely used independent OAuth client, runs the
//! flow against mcp-authz (PKCE S256, resource indicator, Basic with form-encoding,
//! refresh rotation), with none of our own client code in the token requests.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    RefreshToken, Scope, TokenResponse as _, TokenUrl,
};
use reqwest::StatusCode;

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{RESOURCE, UserAgent, WEB_REDIRECT, jwt_payload, param};

async fn core_1_oauth2_crate_completes_the_flow_and_refreshes(app: TestApp) {
    let fixture = app.fixture().await;
    let client = BasicClient::new(ClientId::new(fixture.web.clone()))
        .set_client_secret(ClientSecret::new(fixture.web_secret.clone()))
        .set_auth_uri(AuthUrl::new(format!("{}/oauth2/authorize", app.issuer)).unwrap())
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", app.issuer)).unwrap())
        .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("tools:call".to_owned()))
        .add_extra_param("resource", RESOURCE)
        .set_pkce_challenge(challenge)
        .url();
    let path = format!(
        "{}?{}",
        authorize_url.path(),
        authorize_url.query().unwrap()
    );
    let done = UserAgent::new(&app).run(&path, "allow").await;
    assert_eq!(
        param(&done, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(param(&done, "iss").as_deref(), Some(app.issuer.as_str()));
    let code = param(&done, "code").unwrap();

    #[expect(
        clippy::disallowed_methods,
        reason = "the interop client brings its own HTTP client"
    )]
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .add_extra_param("resource", RESOURCE)
        .request_async(&http)
        .await
        .unwrap();
    let claims = jwt_payload(tokens.access_token().secret());
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["scope"], "tools:call");
    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, vec!["tools:call"]);

    let refresh = tokens.refresh_token().unwrap().clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret()
    );
    // The rotated token is spent: the library surfaces our invalid_grant.
    let reused = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await;
    let message = format!("{:?}", reused.unwrap_err());
    assert!(message.contains("invalid_grant"), "{message}");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.finish().await;
}

both_backends!(core_1_oauth2_crate_completes_the_flow_and_refreshes);
