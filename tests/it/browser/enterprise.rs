//! The two-instance enterprise chain as it runs for a person (issue point: the whole
//! chain, for real): instance A is the enterprise IdP with token exchange on, instance B
//! is the MCP server's authorization server trusting A. The user signs in at A in
//! Chromium; the client exchanges the ID token at A for an ID-JAG naming B and B's MCP
//! server (XAA-19..23), redeems it at B (XAA-1..14) and calls the MCP server, which
//! checks B's token against B's published keys.
//!
//! SQLite only, like the other browser tests; `oauth::token_exchange` runs the same
//! chain over HTTP on both databases.

use mcp_authz::clock::{Clock as _, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::flow::{assert_on_page, save_screenshot, sign_in};
use super::{Browser, Callback};
use crate::harness::flow::{PASSWORD, USERNAME, VERIFIER, authorize_path, jwt_payload, param};
use crate::harness::resource_server::StandIn;
use crate::harness::{Backend, TestApp};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const A_LOCAL: &str = "https://intranet.example.com/mcp";
const CONSENT_SCREENSHOT: &str = "/tmp/mcp-authz-enterprise-consent.png";

fn id_and_secret(client: &Value) -> (String, String) {
    (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xaa_chain_chromium_sign_in_at_the_idp_reaches_the_mcp_server() {
    let a = TestApp::spawn_with(Backend::Sqlite, "", "[token_exchange]\nenabled = true\n").await;
    let b = TestApp::spawn(Backend::Sqlite).await;
    // The MCP server checks `exp` against the real clock: both instances follow it.
    for clock in [&a.clock, &b.clock] {
        clock.set(SystemClock.now());
    }
    a.create_server(A_LOCAL, &["profile:read"], &[]).await;
    a.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(json!({"username": USERNAME, "password": PASSWORD})),
        StatusCode::CREATED,
    )
    .await;
    let callback = Callback::start().await;
    let (agent, agent_secret) = id_and_secret(
        &a.create_client(json!({
            "client_name": "Enterprise agent", "redirect_uris": [callback.redirect_uri],
            "grant_types": ["authorization_code", TOKEN_EXCHANGE],
        }))
        .await,
    );
    let mcp = StandIn::serve_for(&b, &["tools:read", "files:write"], &["tools:read"]).await;
    let (at_b, at_b_secret) = id_and_secret(
        &b.create_client(json!({"client_name": "Enterprise agent", "grant_types": [JWT_BEARER]}))
            .await,
    );
    // A vouches to B for the agent; B trusts A's published keys.
    a.admin_ok(
        Method::POST,
        "/admin/api/v1/id-jag-audiences",
        Some(json!({
            "issuer": b.issuer, "resources": [mcp.resource], "scope": "tools:read",
            "clients": [{"client_id": agent, "client_id_at_audience": at_b}],
        })),
        StatusCode::CREATED,
    )
    .await;
    let a_jwks: Value = a.get("/jwks.json").await.json().await.unwrap();
    b.admin_ok(
        Method::POST,
        "/admin/api/v1/idps",
        Some(json!({
            "issuer": a.issuer, "name": "Corp IdP", "jwks": a_jwks,
            "clients": [{"client_id": at_b}], "jit_provisioning": true,
        })),
        StatusCode::CREATED,
    )
    .await;

    // The person signs in at A and approves the agent.
    let browser = Browser::start().await;
    let path = authorize_path(
        &agent,
        &callback.redirect_uri,
        &[
            ("scope", "openid"),
            ("resource", A_LOCAL),
            ("nonce", "n-chain-1"),
        ],
    );
    browser.goto(&format!("{}{path}", a.base)).await;
    assert_on_page(&browser, &a, "/login").await;
    sign_in(&browser, USERNAME, PASSWORD).await;
    assert_on_page(&browser, &a, "/consent").await;
    let text = browser.text().await;
    assert!(text.contains("Enterprise agent"), "{text}");
    // `openid`: the page says the agent learns who the person is.
    assert!(text.contains("Know who you are"), "{text}");
    save_screenshot(&browser, CONSENT_SCREENSHOT).await;
    browser.submit("Allow").await;
    let answer = browser
        .wait_for_url(&format!("{}?", callback.redirect_uri))
        .await;
    browser.close().await;
    let code = param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));

    // The client: code → ID token at A → ID-JAG for B at A.
    let (status, _, tokens) = a
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", &callback.redirect_uri),
            ],
            Some((&agent, &agent_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(jwt_payload(id_token)["nonce"], "n-chain-1");
    let (status, _, exchanged) = a
        .token(
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("requested_token_type", ID_JAG),
                ("subject_token_type", ID_TOKEN),
                ("subject_token", id_token),
                ("audience", &b.issuer),
                ("resource", &mcp.resource),
            ],
            Some((&agent, &agent_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{exchanged}");
    assert_eq!(exchanged["issued_token_type"], ID_JAG);
    let id_jag = exchanged["access_token"].as_str().unwrap();

    // At B: the ID-JAG becomes an access token for the MCP server, with no consent.
    let (status, _, at_b_tokens) = b
        .token(
            &[("grant_type", JWT_BEARER), ("assertion", id_jag)],
            Some((&at_b, &at_b_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{at_b_tokens}");
    let access_token = at_b_tokens["access_token"].as_str().unwrap();
    let access = jwt_payload(access_token);
    assert_eq!(access["iss"], b.issuer);
    assert_eq!(access["aud"], mcp.resource);
    assert_eq!(access["scope"], "tools:read");

    // The MCP server: no token is challenged; B's token works for what it grants.
    let (status, challenge) = mcp.call("read", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("resource_metadata"), "{challenge}");
    let (status, challenge) = mcp.call("read", Some(access_token)).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    // A's own ID token or the ID-JAG are no access tokens for it.
    for not_access in [id_token, id_jag] {
        let (status, _) = mcp.call("read", Some(not_access)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    a.finish().await;
    b.finish().await;
}
