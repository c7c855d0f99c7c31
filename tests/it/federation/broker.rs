//! XAA-26, the three-instance chain: A is the enterprise IdP (token exchange on), B
//! signs its users in through A and brokers ID-JAGs from A for its clients, C is an MCP
//! server's authorization server that trusts A. A client of B that cannot talk to A
//! gets an ID-JAG for C from B (issued by A), redeems it at C, and calls C's MCP
//! server (the resource-server stand-in, which checks C's token against C's keys).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::sign_in::federated_code;
use super::{Federated, PROVIDER_ID};
use crate::both_backends;
use crate::harness::flow::{RESOURCE, UserAgent, VERIFIER, WEB_REDIRECT, jwt_payload};
use crate::harness::resource_server::StandIn;
use crate::harness::{Backend, TestApp};
use mcp_authz::clock::{Clock as _, SystemClock};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const NOT_AT_A: &str = "https://reports.example.com/mcp";
const ENABLED: &str = "[token_exchange]\nenabled = true\n";

/// The three instances, with B's agent client and C's client for the same agent.
struct Chain {
    fed: Federated,
    c: TestApp,
    /// C's MCP server.
    mcp_at_c: StandIn,
    agent_at_b: (String, String),
    agent_at_c: (String, String),
}

fn id_and_secret(client: &Value) -> (String, String) {
    (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn chain(backend: Backend) -> Chain {
    chain_with(backend, "jit_provisioning = true").await
}

/// [`chain`] with `provider_toml` for B's provider entry.
async fn chain_with(backend: Backend, provider_toml: &str) -> Chain {
    let fed = Federated::start_with(backend, provider_toml, ENABLED, ENABLED).await;
    let c = TestApp::spawn(backend).await;
    // The stand-in checks `exp` against the real clock: every instance follows it.
    for clock in [&fed.a.clock, &fed.b.clock, &c.clock] {
        clock.set(SystemClock.now());
    }
    let mcp_at_c = StandIn::serve_for(&c, &["tools:read", "files:write"], &["tools:read"]).await;
    let agent_at_c = id_and_secret(
        &c.create_client(json!({"client_name": "Agent at C", "grant_types": [JWT_BEARER]}))
            .await,
    );
    // A vouches to C for B's client there, naming it as C knows the agent.
    fed.a
        .admin_ok(
            Method::POST,
            "/admin/api/v1/id-jag-audiences",
            Some(json!({
                "issuer": c.issuer, "resources": [mcp_at_c.resource], "scope": "tools:read",
                "clients": [{"client_id": fed.b_client_at_a, "client_id_at_audience": agent_at_c.0}],
            })),
            StatusCode::CREATED,
        )
        .await;
    // C trusts A.
    let a_jwks: Value = fed.a.get("/jwks.json").await.json().await.unwrap();
    c.admin_ok(
        Method::POST,
        "/admin/api/v1/idps",
        Some(json!({
            "issuer": fed.issuer_a(), "name": "Corp IdP", "jwks": a_jwks,
            "clients": [{"client_id": agent_at_c.0}], "jit_provisioning": true,
        })),
        StatusCode::CREATED,
    )
    .await;
    // B: an agent that signs users in with `openid` and may ask for C, served via A.
    let agent_at_b = id_and_secret(
        &fed.b
            .create_client(json!({
                "client_name": "Agent", "redirect_uris": [WEB_REDIRECT],
                "grant_types": ["authorization_code", TOKEN_EXCHANGE],
            }))
            .await,
    );
    fed.b
        .admin_ok(
            Method::POST,
            "/admin/api/v1/id-jag-audiences",
            Some(json!({
                "issuer": c.issuer, "resources": [mcp_at_c.resource, NOT_AT_A],
                "clients": [{"client_id": agent_at_b.0}], "via_provider": PROVIDER_ID,
            })),
            StatusCode::CREATED,
        )
        .await;
    Chain {
        fed,
        c,
        mcp_at_c,
        agent_at_b,
        agent_at_c,
    }
}

/// The agent's ID token at B for a user who signed in through A.
async fn federated_id_token(chain: &Chain) -> String {
    let fed = &chain.fed;
    let mut agent = fed.agent();
    let (id, secret) = &chain.agent_at_b;
    let code = federated_code(fed, &mut agent, id, WEB_REDIRECT, &[("scope", "openid")]).await;
    id_token_for(&fed.b, &code, id, secret).await
}

/// Redeems the agent's `code` at B; returns the ID token.
async fn id_token_for(b: &TestApp, code: &str, id: &str, secret: &str) -> String {
    let (status, _, tokens) = b
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", WEB_REDIRECT),
            ],
            Some((id, secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// The agent's token exchange at B for C.
async fn exchange_at_b(chain: &Chain, id_token: &str, resource: &str) -> (StatusCode, Value) {
    let (id, secret) = &chain.agent_at_b;
    let (status, _, body) = chain
        .fed
        .b
        .token(
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("requested_token_type", ID_JAG),
                ("subject_token_type", ID_TOKEN),
                ("subject_token", id_token),
                ("audience", &chain.c.issuer),
                ("resource", resource),
            ],
            Some((id, secret)),
        )
        .await;
    (status, body)
}

async fn xaa_26_b_brokers_an_id_jag_from_a_for_c(backend: Backend) {
    let chain = chain(backend).await;
    let id_token = federated_id_token(&chain).await;

    let (status, answer) = exchange_at_b(&chain, &id_token, &chain.mcp_at_c.resource).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // XAA-26: the answer is checked and handed on: an ID-JAG, N_A, no refresh token.
    assert_eq!(answer["issued_token_type"], ID_JAG);
    assert_eq!(answer["token_type"], "N_A");
    assert!(answer.get("refresh_token").is_none(), "{answer}");
    assert!(
        answer["expires_in"]
            .as_i64()
            .is_some_and(|s| s > 0 && s <= 300)
    );
    let id_jag = answer["access_token"].as_str().unwrap();
    let claims = jwt_payload(id_jag);
    assert_eq!(claims["iss"], chain.fed.issuer_a(), "issued by A, not B");
    assert_eq!(claims["aud"], chain.c.issuer);
    assert_eq!(claims["client_id"], chain.agent_at_c.0);
    assert_eq!(claims["sub"], chain.fed.a_user, "A names its own user");

    // At C: redeemed for an access token to C's MCP server.
    let (id, secret) = &chain.agent_at_c;
    let (status, _, tokens) = chain
        .c
        .token(
            &[("grant_type", JWT_BEARER), ("assertion", id_jag)],
            Some((id, secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["iss"], chain.c.issuer);
    assert_eq!(access["aud"], chain.mcp_at_c.resource);
    assert_eq!(access["scope"], "tools:read");
    // C's MCP server accepts it for what it grants, and asks for more for the rest.
    let token = tokens["access_token"].as_str();
    let (status, challenge) = chain.mcp_at_c.call("read", token).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let (status, challenge) = chain.mcp_at_c.call("write", token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    assert_eq!(chain.mcp_at_c.jwks_fetches(), 1);

    // A refuses what its own policy does not allow; B says so and hands on nothing.
    let (status, refused) = exchange_at_b(&chain, &id_token, NOT_AT_A).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"], "invalid_grant");
    let text = refused["error_description"].as_str().unwrap_or_default();
    assert!(text.contains("upstream IdP refused"), "{text}");
    assert!(refused.get("access_token").is_none());
    chain.fed.finish().await;
    chain.c.finish().await;
}

both_backends!(backend: xaa_26_b_brokers_an_id_jag_from_a_for_c);

/// XAA-26 with B's preferred client authentication at A: `private_key_jwt`, signed
/// with B's own keys, which A fetches from B's JWKS. B has no secret at A, and both the
/// sign-in (code redemption) and the brokered exchange authenticate this way.
async fn xaa_26_b_authenticates_at_a_with_private_key_jwt(backend: Backend) {
    let provider = "jit_provisioning = true\nclient_auth = \"private_key_jwt\"";
    let chain = chain_with(backend, provider).await;
    let path = format!("/admin/api/v1/clients/{}", chain.fed.b_client_at_a);
    let at_a = chain
        .fed
        .a
        .admin_ok(Method::GET, &path, None, StatusCode::OK)
        .await;
    assert_eq!(
        at_a["token_endpoint_auth_method"], "private_key_jwt",
        "{at_a}"
    );
    let id_token = federated_id_token(&chain).await;
    let (status, answer) = exchange_at_b(&chain, &id_token, &chain.mcp_at_c.resource).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id_jag = answer["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(id_jag)["iss"], chain.fed.issuer_a());
    let (id, secret) = &chain.agent_at_c;
    let (status, _, tokens) = chain
        .c
        .token(
            &[("grant_type", JWT_BEARER), ("assertion", id_jag)],
            Some((id, secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    chain.fed.finish().await;
    chain.c.finish().await;
}

both_backends!(backend: xaa_26_b_authenticates_at_a_with_private_key_jwt);

/// A user who signed in at B with a local password has no upstream ID token: nothing
/// can be brokered for them, and B says to sign in through the provider.
async fn xaa_26_local_sign_in_has_nothing_to_broker(backend: Backend) {
    let chain = chain(backend).await;
    let (id, secret) = chain.agent_at_b.clone();
    let b = &chain.fed.b;
    let code = UserAgent::new(b)
        .code(
            &id,
            WEB_REDIRECT,
            &[("scope", "openid"), ("resource", RESOURCE)],
        )
        .await;
    let id_token = id_token_for(b, &code, &id, &secret).await;
    let (status, body) = exchange_at_b(&chain, &id_token, &chain.mcp_at_c.resource).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let text = body["error_description"].as_str().unwrap_or_default();
    assert!(text.contains("sign in again"), "{text}");
    chain.fed.finish().await;
    chain.c.finish().await;
}

both_backends!(backend: xaa_26_local_sign_in_has_nothing_to_broker);
