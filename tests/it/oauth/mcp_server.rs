//! A real MCP client's journey against a stand-in MCP server that follows
//! docs/resource-server.md: discovery → 401 → authorize → token → call → step-up
//! (RES-8, SCOPE-1, SCOPE-5, SCOPE-6, META-10).

use std::time::Duration;

use mcp_authz::clock::{Clock as _, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{UserAgent, VERIFIER, authorize_path, location, param};
use crate::harness::resource_server;

/// A parameter of a `WWW-Authenticate: Bearer a="b", c="d"` challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = challenge.find(&marker)? + marker.len();
    let end = challenge[start..].find('"')? + start;
    Some(challenge[start..end].to_owned())
}

async fn redeem(app: &TestApp, client_id: &str, redirect: &str, done: &url::Url) -> Value {
    let code = param(done, "code").unwrap_or_else(|| panic!("no code in {done}"));
    let (status, _, tokens) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", client_id),
                ("redirect_uri", redirect),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

async fn res_8_mcp_client_discovers_authorizes_calls_and_steps_up(app: TestApp) {
    // The stand-in checks `exp` against the real clock, so the server's clock follows it.
    app.clock.set(SystemClock.now());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!(
        "http://127.0.0.1:{}/mcp",
        listener.local_addr().unwrap().port()
    );
    let server = app
        .create_server(&resource, &["tools:read", "files:write"], &["tools:read"])
        .await;
    let prm_path = format!(
        "/admin/api/v1/servers/{}/protected-resource-metadata",
        server["server_id"].as_str().unwrap()
    );
    let prm = app
        .admin_ok(Method::GET, &prm_path, None, StatusCode::OK)
        .await;
    assert_eq!(prm["resource"], resource.as_str());
    assert_eq!(prm["authorization_servers"], json!([app.issuer]));
    assert_eq!(prm["scopes_supported"], json!(["tools:read"]));
    assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
    let as_metadata: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    let stand_in =
        resource_server::start(listener, prm, as_metadata["jwks_uri"].as_str().unwrap()).await;
    let client = app
        .create_client(json!({"client_name": "IDE", "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1/callback"], "grant_types": ["authorization_code", "refresh_token"]}))
        .await;
    let client_id = client["client_id"].as_str().unwrap();
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(json!({"username": "alice", "password": "correct horse battery"})),
        StatusCode::CREATED,
    )
    .await;
    #[expect(
        clippy::disallowed_methods,
        reason = "the MCP client is a separate party"
    )]
    let http = reqwest::Client::new();

    // 1. No token: 401 naming the Protected Resource Metadata.
    let (status, challenge) = stand_in.call("read", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let metadata_url = challenge_param(&challenge, "resource_metadata").unwrap();
    let first_scope = challenge_param(&challenge, "scope").unwrap();
    // 2. The metadata names mcp-authz; 3. its metadata names the endpoints.
    let prm: Value = http
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = prm["authorization_servers"][0].as_str().unwrap();
    assert_eq!(issuer, app.issuer);
    let discovered: Value = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovered["authorization_endpoint"],
        format!("{issuer}/oauth2/authorize")
    );
    // 4. Authorize for exactly that resource; 5. call.
    let redirect = "http://127.0.0.1:61000/callback";
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(
        client_id,
        redirect,
        &[
            ("resource", prm["resource"].as_str().unwrap()),
            ("scope", &first_scope),
        ],
    );
    let done = agent.run(&path, "allow").await;
    let tokens = redeem(&app, client_id, redirect, &done).await;
    assert_eq!(tokens["scope"], "tools:read");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(stand_in.call("read", Some(&access)).await.0, StatusCode::OK);
    // 6. A tool needing more: 403 insufficient_scope with every scope needed.
    let (status, challenge) = stand_in.call("write", Some(&access)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let stepped = challenge_param(&challenge, "scope").unwrap();
    assert_eq!(stepped, "tools:read files:write");
    // 7. Step-up: consent asks only for the new scope and grants the union (SCOPE-5).
    let path = authorize_path(
        client_id,
        redirect,
        &[("resource", &stand_in.resource), ("scope", &stepped)],
    );
    let started = agent.authorize(&path).await;
    let consent_at = location(&started);
    assert!(consent_at.starts_with("/consent"), "{consent_at}");
    let page = agent.get(&consent_at).await.text().await.unwrap();
    assert!(page.contains("<li><code>files:write</code>"), "{page}");
    assert!(!page.contains("<li><code>tools:read</code>"), "{page}");
    let decided = agent.decide(&consent_at, "allow").await;
    let done = url::Url::parse(&location(&decided)).unwrap();
    let tokens = redeem(&app, client_id, redirect, &done).await;
    assert_eq!(tokens["scope"], "files:write tools:read");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        stand_in.call("write", Some(&access)).await.0,
        StatusCode::OK
    );
    // 8. Key rotation: a token signed by a new key makes the stand-in refetch the JWKS.
    let fetches = stand_in.jwks_fetches();
    app.server()
        .state
        .keyring
        .rotate(&mcp_authz::audit::Actor::Cli, app.clock.now())
        .await
        .unwrap();
    app.clock.advance(Duration::from_secs(3600));
    let (status, _, refreshed) = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", client_id),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let rotated = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        stand_in.call("write", Some(rotated)).await.0,
        StatusCode::OK
    );
    assert_eq!(stand_in.jwks_fetches(), fetches + 1);
    app.finish().await;
}

both_backends!(res_8_mcp_client_discovers_authorizes_calls_and_steps_up);
