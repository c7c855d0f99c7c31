//! Token exchange for ID-JAGs (XAA-19..25) and the two-server chain: instance A is the
//! enterprise IdP (users sign in there, token exchange on), instance B is the MCP
//! server's authorization server trusting A. A client signs the user in at A, exchanges
//! its ID token for an ID-JAG naming B, and redeems it at B.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::flow::{PASSWORD, USERNAME, UserAgent, VERIFIER, WEB_REDIRECT, jwt_payload};
use crate::harness::resource_server::StandIn;
use crate::harness::{Backend, TestApp};
use mcp_authz::clock::{Clock as _, SystemClock};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
const MCP_AT_B: &str = "https://files.example.com/mcp";
const ENABLED: &str = "[token_exchange]\nenabled = true\n";

fn header_of(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

/// Instance A with a user, a confidential client that signs users in and may exchange,
/// and an ID token for that user and client.
struct IdpSide {
    app: TestApp,
    client_id: String,
    secret: String,
    id_token: String,
    access_token: String,
    refresh_token: String,
}

async fn idp_side(backend: Backend) -> IdpSide {
    let app = TestApp::spawn_with(backend, "", ENABLED).await;
    // The MCP-server stand-in of the chain checks `exp` against the real clock.
    app.clock.set(SystemClock.now());
    app.create_server("https://idp-local.example.com/mcp", &["profile:read"], &[])
        .await;
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(json!({"username": USERNAME, "password": PASSWORD})),
        StatusCode::CREATED,
    )
    .await;
    let client = app
        .create_client(json!({
            "client_name": "Agent", "redirect_uris": [WEB_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token", TOKEN_EXCHANGE, JWT_BEARER],
        }))
        .await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(
            &client_id,
            WEB_REDIRECT,
            &[("scope", "openid offline_access")],
        )
        .await;
    let (status, _, tokens) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", WEB_REDIRECT),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    IdpSide {
        id_token: tokens["id_token"].as_str().unwrap().to_owned(),
        access_token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        app,
        client_id,
        secret,
    }
}

/// Registers B (issuer `b_issuer`) at A as an audience for A's client, named `at_b` there.
async fn add_audience(a: &IdpSide, b_issuer: &str, at_b: &str) -> Value {
    add_audience_for(a, b_issuer, at_b, &[MCP_AT_B]).await
}

/// [`add_audience`] with the audience's `resources`.
async fn add_audience_for(a: &IdpSide, b_issuer: &str, at_b: &str, resources: &[&str]) -> Value {
    a.app
        .admin_ok(
            Method::POST,
            "/admin/api/v1/id-jag-audiences",
            Some(json!({
                "issuer": b_issuer, "aliases": ["files-as"], "resources": resources,
                "scope": "files:read files:write",
                "clients": [{"client_id": a.client_id, "client_id_at_audience": at_b}],
            })),
            StatusCode::CREATED,
        )
        .await
}

async fn exchange(a: &IdpSide, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", ID_JAG),
        ("subject_token_type", ID_TOKEN),
        ("subject_token", a.id_token.as_str()),
    ];
    for (name, value) in extra {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    let (status, _, body) = a.app.token(&form, Some((&a.client_id, &a.secret))).await;
    (status, body)
}

async fn xaa_19_to_25_the_chain_from_idp_to_mcp_server(backend: Backend) {
    let a = idp_side(backend).await;
    let b = TestApp::spawn(backend).await;
    b.clock.set(SystemClock.now());
    b.create_server(MCP_AT_B, &["files:read", "files:write"], &["files:read"])
        .await;
    // B's second MCP server: the stand-in that checks B's tokens as the guide says.
    let stand_in = StandIn::serve_for(&b, &["tools:read", "files:write"], &["tools:read"]).await;
    let at_b = b
        .create_client(json!({"client_name": "Agent at B", "grant_types": [JWT_BEARER]}))
        .await;
    let b_client = at_b["client_id"].as_str().unwrap();
    let b_secret = at_b["client_secret"].as_str().unwrap();
    add_audience_for(&a, &b.issuer, b_client, &[MCP_AT_B, &stand_in.resource]).await;

    // At A: the ID token becomes an ID-JAG for B.
    let (status, answer) = exchange(
        &a,
        &[
            ("audience", &b.issuer),
            ("resource", MCP_AT_B),
            ("scope", "files:read admin:all"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["issued_token_type"], ID_JAG); // XAA-23
    assert_eq!(answer["token_type"], "N_A");
    assert!(answer.get("refresh_token").is_none());
    assert_eq!(answer["scope"], "files:read"); // XAA-21: narrowed by policy
    let id_jag = answer["access_token"].as_str().unwrap();
    assert_eq!(header_of(id_jag)["typ"], "oauth-id-jag+jwt"); // XAA-22
    let claims = jwt_payload(id_jag);
    assert_eq!(claims["iss"], a.app.issuer);
    assert_eq!(claims["aud"], b.issuer);
    assert_eq!(claims["client_id"], b_client);
    assert_eq!(claims["resource"], MCP_AT_B);
    assert!(claims["sub"].as_str().unwrap().starts_with("usr_"));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(lifetime <= 300, "{lifetime}");
    assert!(answer["expires_in"].as_i64().unwrap() <= 300);

    // XAA-25: A never accepts its own ID-JAG.
    let (status, _, body) = a
        .app
        .token(
            &[("grant_type", JWT_BEARER), ("assertion", id_jag)],
            Some((&a.client_id, &a.secret)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");

    // At B: trust A (its published keys) and redeem.
    let a_jwks: Value = a.app.get("/jwks.json").await.json().await.unwrap();
    b.admin_ok(
        Method::POST,
        "/admin/api/v1/idps",
        Some(json!({
            "issuer": a.app.issuer, "name": "Corp IdP", "jwks": a_jwks,
            "clients": [{"client_id": b_client}], "jit_provisioning": true,
        })),
        StatusCode::CREATED,
    )
    .await;
    let (status, _, tokens) = b
        .token(
            &[("grant_type", JWT_BEARER), ("assertion", id_jag)],
            Some((b_client, b_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["iss"], b.issuer);
    assert_eq!(access["aud"], MCP_AT_B);
    assert_eq!(access["client_id"], b_client);
    assert_eq!(access["scope"], "files:read");
    assert!(access["sub"].as_str().unwrap().starts_with("usr_"));
    assert!(tokens.get("refresh_token").is_none());
    // XAA-12: the same ID-JAG twice is a replay.
    let (status, _, again) = b
        .token(
            &[("grant_type", JWT_BEARER), ("assertion", id_jag)],
            Some((b_client, b_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");

    // The client calls the MCP server behind B with a token obtained the same way.
    let (status, answer) = exchange(
        &a,
        &[
            ("audience", &b.issuer),
            ("resource", &stand_in.resource),
            ("scope", "tools:read"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _, tokens) = b
        .token(
            &[
                ("grant_type", JWT_BEARER),
                ("assertion", answer["access_token"].as_str().unwrap()),
            ],
            Some((b_client, b_secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str();
    let (status, challenge) = stand_in.call("read", token).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let (status, challenge) = stand_in.call("write", token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{challenge}");

    // The alias names B too.
    let (status, body) = exchange(&a, &[("audience", "files-as")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    a.app.finish().await;
    b.finish().await;
}

both_backends!(backend: xaa_19_to_25_the_chain_from_idp_to_mcp_server);

async fn xaa_20_21_exchange_refusals(backend: Backend) {
    let a = idp_side(backend).await;
    let b_issuer = "https://as.files.example.com";
    add_audience(&a, b_issuer, "agent-at-b").await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        // XAA-20: the subject must be an ID token: an access token is not one.
        (
            vec![("audience", b_issuer), ("subject_token", &a.access_token)],
            "invalid_grant",
        ),
        (
            vec![("audience", b_issuer), ("subject_token", "not-a-jwt")],
            "invalid_grant",
        ),
        // XAA-21: unknown audience, resource not at that audience.
        (
            vec![("audience", "https://elsewhere.example")],
            "invalid_target",
        ),
        (
            vec![
                ("audience", b_issuer),
                ("resource", "https://other.example/mcp"),
            ],
            "invalid_target",
        ),
        // XAA-19: the parameters that make it an ID-JAG request.
        (vec![], "invalid_request"),
        (
            vec![
                ("audience", b_issuer),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("audience", b_issuer),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:saml2",
                ),
            ],
            "invalid_request",
        ),
        // An ID token is no refresh token.
        (
            vec![
                ("audience", b_issuer),
                ("subject_token_type", REFRESH_TOKEN),
            ],
            "invalid_grant",
        ),
    ];
    for (extra, code) in cases {
        let (status, body) = exchange(&a, &extra).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}: {body}");
        assert_eq!(body["error"], code, "{extra:?}: {body}");
    }
    // A client not listed for the audience may not ask.
    let other = a
        .app
        .create_client(json!({"client_name": "Other", "grant_types": [TOKEN_EXCHANGE]}))
        .await;
    let (status, _, body) = a
        .app
        .token(
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("requested_token_type", ID_JAG),
                ("subject_token_type", ID_TOKEN),
                ("subject_token", &a.id_token),
                ("audience", b_issuer),
            ],
            Some((
                other["client_id"].as_str().unwrap(),
                other["client_secret"].as_str().unwrap(),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The ID token was issued to another client: refused before any policy applies.
    assert_eq!(body["error"], "invalid_grant");
    a.app.finish().await;
}

both_backends!(backend: xaa_20_21_exchange_refusals);

/// XAA-19, XAA-20: a refresh token may be the subject, but only the client's own and
/// only while active; the exchange neither spends nor rotates it.
async fn xaa_20_refresh_token_subject_is_the_clients_own_and_active(backend: Backend) {
    let a = idp_side(backend).await;
    let b_issuer = "https://as.files.example.com";
    add_audience(&a, b_issuer, "agent-at-b").await;
    let by_refresh = |token: &str| {
        vec![
            ("audience", b_issuer.to_owned()),
            ("subject_token_type", REFRESH_TOKEN.to_owned()),
            ("subject_token", token.to_owned()),
        ]
    };
    let run = |extra: Vec<(&'static str, String)>| {
        let a = &a;
        async move {
            let pairs: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
            exchange(a, &pairs).await
        }
    };
    let (status, answer) = run(by_refresh(&a.refresh_token)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let claims = jwt_payload(answer["access_token"].as_str().unwrap());
    let id_claims = jwt_payload(&a.id_token);
    assert_eq!(claims["sub"], id_claims["sub"], "the refresh token's user");
    assert_eq!(claims["client_id"], "agent-at-b");
    // Not spent: it still refreshes, once; then the rotated one is no subject.
    let (status, _, refreshed) = a
        .app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &a.refresh_token),
            ],
            Some((&a.client_id, &a.secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (status, body) = run(by_refresh(&a.refresh_token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let current = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(run(by_refresh(&current)).await.0, StatusCode::OK);
    // Another client's refresh token: refused, even when that client may exchange.
    let other = a
        .app
        .create_client(json!({"client_name": "Other", "grant_types": [TOKEN_EXCHANGE]}))
        .await;
    let other_id = other["client_id"].as_str().unwrap();
    let (status, _, body) = a
        .app
        .token(
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("requested_token_type", ID_JAG),
                ("subject_token_type", REFRESH_TOKEN),
                ("subject_token", &current),
                ("audience", b_issuer),
            ],
            Some((other_id, other["client_secret"].as_str().unwrap())),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // Revoked (RFC 7009 by its client): no longer a subject.
    let revoked = a
        .app
        .http
        .post(format!("{}/oauth2/revoke", a.app.base))
        .basic_auth(&a.client_id, Some(&a.secret))
        .form(&[("token", current.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let (status, body) = run(by_refresh(&current)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    a.app.finish().await;
}

both_backends!(backend: xaa_20_refresh_token_subject_is_the_clients_own_and_active);

async fn xaa_24_token_exchange_is_off_by_default_and_advertised_when_on(backend: Backend) {
    let off = TestApp::spawn(backend).await;
    let doc: Value = off
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(!grants.contains(&json!(TOKEN_EXCHANGE)));
    assert!(
        doc.get("identity_chaining_requested_token_types_supported")
            .is_none()
    );
    let client = off
        .create_client(json!({"client_name": "X", "grant_types": [TOKEN_EXCHANGE]}))
        .await;
    let (status, _, body) = off
        .token(
            &[("grant_type", TOKEN_EXCHANGE)],
            Some((
                client["client_id"].as_str().unwrap(),
                client["client_secret"].as_str().unwrap(),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    off.finish().await;

    let on = TestApp::spawn_with(backend, "", ENABLED).await;
    let doc: Value = on
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!(TOKEN_EXCHANGE)));
    assert!(grants.contains(&json!(JWT_BEARER)));
    assert_eq!(
        doc["identity_chaining_requested_token_types_supported"],
        json!([ID_JAG])
    );
    assert_eq!(
        doc["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    // The admin API refuses this server itself as an audience (XAA-25).
    let response = on
        .admin(
            Method::POST,
            "/admin/api/v1/id-jag-audiences",
            Some(json!({"issuer": on.issuer})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    on.finish().await;
}

both_backends!(backend: xaa_24_token_exchange_is_off_by_default_and_advertised_when_on);
