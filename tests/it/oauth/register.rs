//! Dynamic client registration (RFC 7591, DCR-1..10, META-8) through the front door.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::dcr::{OPEN, TOKEN};
use crate::harness::flow::{
    OAuthAnswer, PASSWORD, RESOURCE, USERNAME, UserAgent, WEB_REDIRECT, assert_oauth_error,
    authorize_path, location, redeem_code,
};
use crate::harness::{Backend, TestApp};
use crate::{both_backends, dcr_backends};
use mcp_authz::clock::Clock as _;

/// The loopback redirect a native client registers; the flow answers on any port (SEC-2).
const NATIVE_REDIRECT: &str = "http://127.0.0.1/callback";
const NATIVE_FLOW_REDIRECT: &str = "http://127.0.0.1:5555/callback";

fn native_public() -> Value {
    json!({
        "client_name": "Registered CLI",
        "redirect_uris": [NATIVE_REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    })
}

fn web_confidential() -> Value {
    json!({ "client_name": "Registered web app", "redirect_uris": [WEB_REDIRECT] })
}

/// Asserts a refused registration: status, RFC 7591 `error`, a description containing
/// `mentions`, and `no-store`.
fn assert_refused(answer: &OAuthAnswer, status: StatusCode, code: &str, mentions: &str) {
    assert_oauth_error(answer, status, code);
    let description = answer.2["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "{description:?} does not mention {mentions:?}"
    );
}

/// Every client the admin API lists.
async fn client_ids(app: &TestApp) -> Vec<String> {
    let page = app
        .admin_ok(
            Method::GET,
            "/admin/api/v1/clients?limit=200",
            None,
            StatusCode::OK,
        )
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The admin API's view of a client.
async fn admin_client(app: &TestApp, id: &str) -> Value {
    let path = format!("/admin/api/v1/clients/{id}");
    app.admin_ok(Method::GET, &path, None, StatusCode::OK).await
}

/// Audit actions recorded so far, oldest first.
async fn audit_actions(app: &TestApp) -> Vec<(String, String, String)> {
    let store = &app.server().state.store;
    let mut events = store.list_audit_events(None, 1000).await.unwrap();
    events.reverse();
    events
        .into_iter()
        .map(|e| (e.action, e.actor, e.target_id))
        .collect()
}

async fn dcr_1_off_by_default_answers_404_and_lists_no_registration_endpoint(app: TestApp) {
    for path in ["/oauth2/register", "/register"] {
        let answer = app
            .post_registration(
                path,
                native_public().to_string().into_bytes(),
                Some("application/json"),
                None,
            )
            .await;
        assert_eq!(answer.0, StatusCode::NOT_FOUND, "{path}: {}", answer.2);
    }
    let doc: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert!(doc.get("registration_endpoint").is_none(), "{doc}"); // META-8
    assert!(client_ids(&app).await.is_empty());
    app.finish().await;
}

async fn meta_8_registration_endpoint_is_listed_when_registration_is_on(app: TestApp) {
    let doc: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    let endpoint = format!("{}/oauth2/register", app.issuer);
    assert_eq!(doc["registration_endpoint"], endpoint.as_str(), "{doc}");
    app.finish().await;
}

async fn dcr_2_public_client_registers_and_completes_the_code_flow(app: TestApp) {
    app.fixture().await;
    let (status, headers, body) = app.register(&native_public()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let client_id = body["client_id"].as_str().unwrap();
    assert!(client_id.starts_with("dcr_"), "{body}");
    assert_eq!(body["client_id_issued_at"], crate::harness::START);
    assert_eq!(body["client_name"], "Registered CLI");
    assert_eq!(body["redirect_uris"], json!([NATIVE_REDIRECT]));
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["application_type"], "native");
    assert!(body.get("client_secret").is_none(), "{body}");
    assert!(body.get("client_secret_expires_at").is_none(), "{body}");

    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(client_id, NATIVE_FLOW_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let tokens = redeem_code(&app, client_id, None, NATIVE_FLOW_REDIRECT, &code).await;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
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
    app.finish().await;
}

async fn dcr_2_secret_client_gets_its_secret_once_and_authenticates_with_it(app: TestApp) {
    app.fixture().await;
    let body = app.register_ok(&web_confidential()).await;
    let client_id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256-bit secret (TOK-8)");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["application_type"], "web");
    // Shown once: the admin API never shows it again (SEC-13).
    let view = admin_client(&app, client_id).await;
    assert!(view.get("client_secret").is_none(), "{view}");
    assert_eq!(view["source"], "dcr");
    assert_eq!(view["client_type"], "confidential");
    let events = app
        .server()
        .state
        .store
        .list_audit_events(None, 100)
        .await
        .unwrap();
    assert!(events.iter().all(|e| !e.detail.contains(secret)));

    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(client_id, WEB_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let wrong = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", crate::harness::flow::VERIFIER),
                ("redirect_uri", WEB_REDIRECT),
            ],
            Some((client_id, "not-the-secret")),
        )
        .await;
    assert_oauth_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_client");
    let tokens = redeem_code(&app, client_id, Some(secret), WEB_REDIRECT, &code).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");

    // client_secret_post: the issued secret in the form.
    let mut post = web_confidential();
    post["token_endpoint_auth_method"] = json!("client_secret_post");
    let body = app.register_ok(&post).await;
    let (id, secret) = (
        body["client_id"].as_str().unwrap(),
        body["client_secret"].as_str().unwrap(),
    );
    let code = agent
        .code(id, WEB_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let (status, _, tokens) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", crate::harness::flow::VERIFIER),
                ("redirect_uri", WEB_REDIRECT),
                ("client_id", id),
                ("client_secret", secret),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    app.finish().await;
}

async fn dcr_2_registration_is_audited_with_the_address(app: TestApp) {
    let body = app.register_ok(&native_public()).await;
    let client_id = body["client_id"].as_str().unwrap();
    let store = &app.server().state.store;
    let events = store.list_audit_events(None, 10).await.unwrap();
    let event = events
        .iter()
        .find(|e| e.action == "client.registered")
        .unwrap();
    assert_eq!(event.target_id, client_id);
    assert_eq!(event.actor, format!("client:{client_id}"));
    let detail: Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(detail["address"], "127.0.0.1", "{detail}");
    assert_eq!(detail["application_type"], "native", "{detail}");
    let registration = store.find_dcr_registration(client_id).await.unwrap();
    let registration = registration.unwrap();
    assert_eq!(registration.registered_at, crate::harness::START);
    assert_eq!(registration.application_type, "native");
    assert_eq!(
        registration.registration_address.as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(registration.initial_access_token_id, None);
    app.finish().await;
}

async fn dcr_3_malformed_requests_are_400_invalid_client_metadata_without_writes(app: TestApp) {
    let register = |body: &'static [u8], content_type: Option<&'static str>| {
        app.post_registration("/oauth2/register", body.to_vec(), content_type, None)
    };
    let cases: [(&[u8], Option<&str>, &str); 6] = [
        (
            b"{\"client_name\": ",
            Some("application/json"),
            "not valid JSON",
        ),
        (b"[]", Some("application/json"), "JSON object"),
        (b"", Some("application/json"), "not valid JSON"),
        (b"{}", Some("text/plain"), "Content-Type: application/json"),
        (b"{}", None, "Content-Type: application/json"),
        (
            b"{\"redirect_uris\": \"https://app.example.com/cb\"}",
            Some("application/json; charset=utf-8"),
            "redirect_uris must be an array",
        ),
    ];
    for (body, content_type, mentions) in cases {
        let answer = register(body, content_type).await;
        assert_refused(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            mentions,
        );
    }
    let bad_scope = json!({"redirect_uris": [WEB_REDIRECT], "scope": "tools:read \"quoted\""});
    let answer = app.register(&bad_scope).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "scope",
    );
    let bad_name = json!({"redirect_uris": [WEB_REDIRECT], "client_name": "x".repeat(201)});
    let answer = app.register(&bad_name).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "client_name",
    );
    // No partial writes: no client row, no audit event.
    assert!(client_ids(&app).await.is_empty());
    let actions = audit_actions(&app).await;
    assert!(
        actions
            .iter()
            .all(|(action, _, _)| !action.starts_with("client.")),
        "{actions:?}"
    );
    app.finish().await;
}

async fn dcr_3_oversized_requests_are_413(app: TestApp) {
    let padding = "x".repeat(20_000);
    let mut body = web_confidential();
    body["software_statement"] = json!(padding);
    let answer = app.register(&body).await;
    assert_refused(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_client_metadata",
        "16384 bytes",
    );
    // Past the server-wide body limit the generic 413 answers.
    body["software_statement"] = json!("x".repeat(70_000));
    assert_eq!(app.register(&body).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // A client still sending its too-large registration gets the RFC 7591 answer, not
    // a reset connection: the body is read before the refusal.
    body["software_statement"] = json!("x".repeat(60_000));
    let raw = serde_json::to_vec(&body).unwrap();
    let answer = app
        .post_slowly("/oauth2/register", "application/json", &raw)
        .await
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{answer}"
    );
    assert!(answer.contains("invalid_client_metadata"), "{answer}");
    assert!(client_ids(&app).await.is_empty());
    app.finish().await;
}

async fn dcr_4_redirect_uris_follow_sec_3_and_are_required_for_codes(app: TestApp) {
    let cases = [
        (json!({"client_name": "x"}), "at least one"),
        (json!({"redirect_uris": []}), "at least one"),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "use https",
        ),
        (
            json!({"redirect_uris": [WEB_REDIRECT, "https://app.example.com/cb#x"]}),
            "redirect_uris[1]",
        ),
        (json!({"redirect_uris": ["/callback"]}), "redirect_uris[0]"),
        (
            json!({"redirect_uris": ["com.example.app:/cb"]}),
            "private-use",
        ),
        (
            json!({"redirect_uris": [WEB_REDIRECT, WEB_REDIRECT]}),
            "twice",
        ),
    ];
    for (body, mentions) in cases {
        let answer = app.register(&body).await;
        assert_refused(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            mentions,
        );
    }
    assert!(client_ids(&app).await.is_empty());
    app.finish().await;
}

async fn dcr_5_auth_method_decides_secret_and_keys(app: TestApp) {
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
    let with = |extra: Value| {
        let mut body = web_confidential();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let public = app
        .register_ok(&with(json!({"token_endpoint_auth_method": "none"})))
        .await;
    assert!(public.get("client_secret").is_none(), "{public}");
    let view = admin_client(&app, public["client_id"].as_str().unwrap()).await;
    assert_eq!(view["client_type"], "public");
    let basic = app.register_ok(&web_confidential()).await;
    assert_eq!(basic["token_endpoint_auth_method"], "client_secret_basic");
    assert!(basic["client_secret"].is_string());
    let post = app
        .register_ok(&with(
            json!({"token_endpoint_auth_method": "client_secret_post"}),
        ))
        .await;
    assert!(post["client_secret"].is_string());
    let keyed = app
        .register_ok(&with(
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}),
        ))
        .await;
    assert!(keyed.get("client_secret").is_none(), "{keyed}");
    assert_eq!(keyed["jwks"], jwks);
    let by_url = app
        .register_ok(&with(
            json!({"token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://app.example.com/jwks.json"}),
        ))
        .await;
    assert_eq!(by_url["jwks_uri"], "https://app.example.com/jwks.json");
    let mut private = jwks.clone();
    private["keys"][0]["d"] = json!("secret-part");
    for (extra, mentions) in [
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            "client_secret_jwt",
        ),
        (
            json!({"token_endpoint_auth_method": "magic"}),
            "token_endpoint_auth_method",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "jwks or jwks_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks,
                   "jwks_uri": "https://app.example.com/jwks.json"}),
            "not both",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": private}),
            "private member",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt",
                   "jwks_uri": "http://app.example.com/jwks.json"}),
            "jwks_uri",
        ),
        (json!({"jwks": jwks}), "only for private_key_jwt"),
    ] {
        let answer = app.register(&with(extra)).await;
        assert_refused(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            mentions,
        );
    }
    assert_eq!(client_ids(&app).await.len(), 5);
    app.finish().await;
}

async fn dcr_6_application_type_is_echoed_inferred_and_checked(app: TestApp) {
    let store = app.server().state.store.clone();
    let inferred_native = app.register_ok(&native_public()).await;
    assert_eq!(inferred_native["application_type"], "native");
    let inferred_web = app.register_ok(&web_confidential()).await;
    assert_eq!(inferred_web["application_type"], "web");
    let mut stated = native_public();
    stated["application_type"] = json!("native");
    let native = app.register_ok(&stated).await;
    assert_eq!(native["application_type"], "native");
    let record = store
        .find_dcr_registration(native["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.application_type, "native");
    let mut web = web_confidential();
    web["application_type"] = json!("web");
    assert_eq!(app.register_ok(&web).await["application_type"], "web");
    // A missing value never causes rejection, even for a mixed set (PD).
    let mixed = json!({"redirect_uris": [NATIVE_REDIRECT, WEB_REDIRECT],
        "token_endpoint_auth_method": "none"});
    assert_eq!(app.register_ok(&mixed).await["application_type"], "web");

    let web_loopback = json!({"application_type": "web", "redirect_uris": [NATIVE_REDIRECT]});
    let answer = app.register(&web_loopback).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
        "loopback address, which a web application may not use",
    );
    let native_remote = json!({"application_type": "native", "redirect_uris": [WEB_REDIRECT]});
    let answer = app.register(&native_remote).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
        "remote https URI, which a native application may not use",
    );
    let unknown = json!({"application_type": "desktop", "redirect_uris": [WEB_REDIRECT]});
    let answer = app.register(&unknown).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "application_type",
    );
    app.finish().await;
}

async fn dcr_7_client_chosen_id_and_secret_are_ignored(app: TestApp) {
    app.fixture().await;
    let chosen = json!({
        "client_id": "https://evil.example/client", "client_secret": "chosen-secret",
        "client_id_issued_at": 1, "client_secret_expires_at": 5,
        "client_name": "Chooser", "redirect_uris": [WEB_REDIRECT],
        "token_endpoint_auth_method": "client_secret_post",
    });
    let body = app.register_ok(&chosen).await;
    let id = body["client_id"].as_str().unwrap();
    assert!(id.starts_with("dcr_"), "{body}");
    assert!(
        !id.starts_with("https://") && !id.starts_with("usr_"),
        "{id}"
    ); // CIMD-2, SEC-15
    assert_ne!(body["client_secret"], "chosen-secret");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["client_id_issued_at"], crate::harness::START);
    // The chosen credentials authenticate nothing.
    for (client, secret) in [
        ("https://evil.example/client", "chosen-secret"),
        (id, "chosen-secret"),
    ] {
        let answer = app
            .token(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "x"),
                    ("client_id", client),
                    ("client_secret", secret),
                ],
                None,
            )
            .await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    }
    app.finish().await;
}

async fn dcr_8_grant_and_response_types_must_be_coherent(app: TestApp) {
    let with = |extra: Value| {
        let mut body = web_confidential();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (extra, mentions) in [
        (json!({"grant_types": ["implicit"]}), "implicit"),
        (json!({"grant_types": ["password"]}), "password"),
        (
            json!({"grant_types": ["urn:example:magic"]}),
            "grant_types[0]",
        ),
        (
            json!({"grant_types": ["refresh_token"]}),
            "needs authorization_code",
        ),
        (json!({"grant_types": []}), "must not be empty"),
        (
            json!({"grant_types": ["client_credentials"], "response_types": [],
                   "token_endpoint_auth_method": "none"}),
            "confidential client",
        ),
        (
            json!({"grant_types": ["authorization_code", "client_credentials"]}),
            "registered by an administrator",
        ),
        (json!({"response_types": ["token"]}), "response_types[0]"),
        (
            json!({"response_types": ["code id_token"]}),
            "response_types[0]",
        ),
        (json!({"response_types": []}), "must include \"code\""),
    ] {
        let answer = app.register(&with(extra)).await;
        assert_refused(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            mentions,
        );
    }
    let coherent = app
        .register_ok(&with(
            json!({"grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"]}),
        ))
        .await;
    assert_eq!(
        coherent["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let defaults = app.register_ok(&web_confidential()).await;
    assert_eq!(defaults["grant_types"], json!(["authorization_code"]));
    assert_eq!(defaults["response_types"], json!(["code"]));
    app.finish().await;
}

async fn dcr_scope_and_informational_urls_are_kept_as_registered(app: TestApp) {
    let mut body = web_confidential();
    body["scope"] = json!("tools:read tools:call");
    body["client_uri"] = json!("https://app.example.com");
    body["logo_uri"] = json!("javascript:alert(1)");
    body["tos_uri"] = json!("https://app.example.com/tos");
    body["contacts"] = json!(["ops@app.example.com"]);
    let registered = app.register_ok(&body).await;
    assert_eq!(registered["scope"], "tools:call tools:read");
    assert_eq!(registered["client_uri"], "https://app.example.com");
    assert_eq!(registered["tos_uri"], "https://app.example.com/tos");
    assert!(registered.get("logo_uri").is_none(), "{registered}");
    assert!(registered.get("policy_uri").is_none(), "{registered}");
    let view = admin_client(&app, registered["client_id"].as_str().unwrap()).await;
    assert_eq!(view["scope"], "tools:call tools:read");
    app.finish().await;
}

async fn dcr_9_consent_shows_registered_clients_as_unverified_every_time(app: TestApp) {
    let fixture = app.fixture().await;
    let client = app.register_ok(&native_public()).await;
    let client_id = client["client_id"].as_str().unwrap();
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(client_id, NATIVE_FLOW_REDIRECT, &[("resource", RESOURCE)]);
    let started = agent.authorize(&path).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    // SEC-9: nothing reaches the client's redirect URI before sign-in.
    let login = location(&started);
    assert!(login.starts_with("/login"), "{login}");
    let signed_in = agent.sign_in(&login, USERNAME, PASSWORD).await;
    let consent = location(&signed_in);
    let html = agent.get(&consent).await.text().await.unwrap();
    assert!(
        html.contains("This application is not verified by your administrator"),
        "{html}"
    );
    assert!(html.contains("Registered CLI"), "{html}");
    let decided = agent.decide(&consent, "allow").await;
    assert!(location(&decided).contains("code="));
    // SEC-10: consent is asked again, still marked unverified.
    let again = agent.authorize(&path).await;
    let consent = location(&again);
    assert!(consent.starts_with("/consent"), "{consent}");
    let html = agent.get(&consent).await.text().await.unwrap();
    assert!(
        html.contains("not verified by your administrator"),
        "{html}"
    );
    // An administrator's client is not marked.
    let web = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let consent = location(&agent.authorize(&web).await);
    let html = agent.get(&consent).await.text().await.unwrap();
    assert!(!html.contains("not verified"), "{html}");
    app.finish().await;
}

async fn dcr_9_token_mode_needs_a_usable_initial_access_token(app: TestApp) {
    let store = app.server().state.store.clone();
    for bearer in [None, Some("mcpi_not-a-real-token")] {
        let answer = app.register_with_token(&native_public(), bearer).await;
        assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
        assert_eq!(
            answer.1["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
    }
    // The token is checked before the metadata, which an outsider learns nothing about.
    let answer = app
        .register_with_token(&json!({"grant_types": ["password"]}), None)
        .await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);

    let token = app
        .create_initial_access_token(json!({"description": "CLI team", "max_registrations": 2}))
        .await;
    let (value, token_id) = (
        token["token"].as_str().unwrap(),
        token["id"].as_str().unwrap(),
    );
    // Refused metadata does not use the token up.
    let bad = app
        .register_with_token(
            &json!({"redirect_uris": ["http://x.example/cb"]}),
            Some(value),
        )
        .await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST, "{}", bad.2);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, _, body) = app.register_with_token(&native_public(), Some(value)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["client_id"].as_str().unwrap().to_owned());
    }
    let used_up = app.register_with_token(&native_public(), Some(value)).await;
    assert_oauth_error(&used_up, StatusCode::UNAUTHORIZED, "invalid_token");
    // The registered clients remember the token that let them in.
    for id in &ids {
        let record = store.find_dcr_registration(id).await.unwrap().unwrap();
        assert_eq!(record.initial_access_token_id.as_deref(), Some(token_id));
    }
    let view = app
        .admin_ok(
            Method::GET,
            &format!("/admin/api/v1/initial-access-tokens/{token_id}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (view["registrations"].as_i64(), view["state"].as_str()),
        (Some(2), Some("used_up"))
    );

    // Revoked and expired tokens are refused.
    let revoked = app
        .create_initial_access_token(json!({"description": "revoked"}))
        .await;
    let path = format!(
        "/admin/api/v1/initial-access-tokens/{}",
        revoked["id"].as_str().unwrap()
    );
    app.admin_ok(Method::DELETE, &path, None, StatusCode::NO_CONTENT)
        .await;
    let answer = app
        .register_with_token(&native_public(), revoked["token"].as_str())
        .await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
    let short = app
        .create_initial_access_token(json!({"description": "short", "expires_in": 60}))
        .await;
    let short = short["token"].as_str().unwrap();
    assert_eq!(
        app.register_with_token(&native_public(), Some(short))
            .await
            .0,
        StatusCode::CREATED
    );
    app.clock.advance(Duration::from_secs(61));
    let answer = app.register_with_token(&native_public(), Some(short)).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
    app.finish().await;
}

async fn dcr_9_max_registrations_holds_under_concurrency(app: TestApp) {
    let token = app
        .create_initial_access_token(json!({"description": "race", "max_registrations": 3}))
        .await;
    let value = token["token"].as_str().unwrap();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app
            .request(Method::POST, "/oauth2/register")
            .bearer_auth(value)
            .json(&native_public());
        attempts.spawn(async move { request.send().await.unwrap().status() });
    }
    let mut statuses = attempts.join_all().await;
    statuses.sort();
    let expected = [
        [StatusCode::CREATED; 3].as_slice(),
        &[StatusCode::UNAUTHORIZED; 5],
    ]
    .concat();
    assert_eq!(statuses, expected);
    assert_eq!(client_ids(&app).await.len(), 3);
    app.finish().await;
}

async fn dcr_9_open_registration_is_rate_limited_per_address(app: TestApp) {
    // The refused request counts too.
    let bad = app
        .post_registration(
            "/oauth2/register",
            b"{".to_vec(),
            Some("application/json"),
            None,
        )
        .await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    app.register_ok(&native_public()).await;
    let answer = app.register(&native_public()).await;
    assert_refused(
        &answer,
        StatusCode::TOO_MANY_REQUESTS,
        "slow_down",
        "too many registration requests",
    );
    let retry_after: u64 = answer.1["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1800).contains(&retry_after), "{retry_after}");
    assert_eq!(client_ids(&app).await.len(), 1);
    app.finish().await;
}

async fn dcr_9_token_mode_is_rate_limited_too(app: TestApp) {
    for _ in 0..2 {
        let answer = app
            .register_with_token(&native_public(), Some("mcpi_guess"))
            .await;
        assert_eq!(answer.0, StatusCode::UNAUTHORIZED);
    }
    let answer = app
        .register_with_token(&native_public(), Some("mcpi_guess"))
        .await;
    assert_eq!(answer.0, StatusCode::TOO_MANY_REQUESTS);
    app.finish().await;
}

async fn dcr_10_no_registration_management_is_offered(app: TestApp) {
    let body = app.register_ok(&web_confidential()).await;
    for member in ["registration_access_token", "registration_client_uri"] {
        assert!(body.get(member).is_none(), "{member} in {body}");
    }
    let id = body["client_id"].as_str().unwrap();
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let status = app
            .request(method.clone(), &format!("/oauth2/register/{id}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        let status = app
            .request(method.clone(), "/oauth2/register")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    app.finish().await;
}

async fn core_20_registration_is_served_at_the_root_alias(app: TestApp) {
    let body = native_public().to_string().into_bytes();
    let (status, _, registered) = app
        .post_registration("/register", body, Some("application/json"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert!(
        registered["client_id"]
            .as_str()
            .unwrap()
            .starts_with("dcr_")
    );
    app.finish().await;
}

async fn dcr_unused_registrations_are_deleted_after_the_ttl_but_used_ones_stay(app: TestApp) {
    let fixture = app.fixture().await;
    let unused = app.register_ok(&native_public()).await;
    let used = app.register_ok(&native_public()).await;
    let (unused, used) = (
        unused["client_id"].as_str().unwrap().to_owned(),
        used["client_id"].as_str().unwrap().to_owned(),
    );
    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(&used, NATIVE_FLOW_REDIRECT, &[("resource", RESOURCE)])
        .await;
    redeem_code(&app, &used, None, NATIVE_FLOW_REDIRECT, &code).await;
    let registrar = app.server().state.registrar.clone();
    assert_eq!(
        registrar
            .delete_unused_clients(app.clock.now())
            .await
            .unwrap(),
        0
    );

    app.clock.advance(Duration::from_secs(29 * 24 * 3600));
    let recent = app.register_ok(&native_public()).await;
    let recent = recent["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        registrar
            .delete_unused_clients(app.clock.now())
            .await
            .unwrap(),
        0
    );
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    assert_eq!(
        registrar
            .delete_unused_clients(app.clock.now())
            .await
            .unwrap(),
        1
    );

    let ids = client_ids(&app).await;
    assert!(!ids.contains(&unused), "{ids:?}");
    for kept in [&used, &recent, &fixture.desktop] {
        assert!(ids.contains(kept), "{kept} missing from {ids:?}");
    }
    let store = &app.server().state.store;
    assert!(
        store
            .find_dcr_registration(&unused)
            .await
            .unwrap()
            .is_none()
    );
    let deleted: Vec<_> = audit_actions(&app)
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "client.deleted")
        .collect();
    assert_eq!(
        deleted,
        [(
            "client.deleted".to_owned(),
            "system".to_owned(),
            unused.clone()
        )]
    );
    app.finish().await;
}

both_backends!(dcr_1_off_by_default_answers_404_and_lists_no_registration_endpoint);

dcr_backends!(crate::harness::dcr::OPEN;
    meta_8_registration_endpoint_is_listed_when_registration_is_on,
    dcr_2_public_client_registers_and_completes_the_code_flow,
    dcr_2_secret_client_gets_its_secret_once_and_authenticates_with_it,
    dcr_2_registration_is_audited_with_the_address,
    dcr_3_malformed_requests_are_400_invalid_client_metadata_without_writes,
    dcr_3_oversized_requests_are_413,
    dcr_4_redirect_uris_follow_sec_3_and_are_required_for_codes,
    dcr_5_auth_method_decides_secret_and_keys,
    dcr_6_application_type_is_echoed_inferred_and_checked,
    dcr_7_client_chosen_id_and_secret_are_ignored,
    dcr_8_grant_and_response_types_must_be_coherent,
    dcr_scope_and_informational_urls_are_kept_as_registered,
    dcr_9_consent_shows_registered_clients_as_unverified_every_time,
    dcr_10_no_registration_management_is_offered,
    core_20_registration_is_served_at_the_root_alias,
    dcr_unused_registrations_are_deleted_after_the_ttl_but_used_ones_stay,
);

dcr_backends!(crate::harness::dcr::TOKEN;
    dcr_9_token_mode_needs_a_usable_initial_access_token,
    dcr_9_max_registrations_holds_under_concurrency,
);

/// Two registration requests per address per hour.
const LIMITED_OPEN: &str = "[dcr]\nmode = \"open\"\nregistrations_per_address_per_hour = 2\n";
const LIMITED_TOKEN: &str = "[dcr]\nmode = \"token\"\nregistrations_per_address_per_hour = 2\n";

dcr_backends!(crate::oauth::register::LIMITED_OPEN;
    dcr_9_open_registration_is_rate_limited_per_address,
);
dcr_backends!(crate::oauth::register::LIMITED_TOKEN; dcr_9_token_mode_is_rate_limited_too);

#[tokio::test]
async fn meta_8_registration_endpoint_follows_the_issuer_path() {
    let app = TestApp::spawn_with(Backend::Sqlite, "/tenant", OPEN).await;
    let doc: Value = app
        .get("/.well-known/oauth-authorization-server/tenant")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["registration_endpoint"],
        format!("{}/oauth2/register", app.issuer)
    );
    let body = native_public().to_string().into_bytes();
    let answer = app
        .post_registration(
            "/tenant/oauth2/register",
            body,
            Some("application/json"),
            None,
        )
        .await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.2);
    let token_doc = TestApp::spawn_with(Backend::Sqlite, "", TOKEN).await;
    let doc: Value = token_doc
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert!(doc["registration_endpoint"].is_string(), "{doc}");
    token_doc.finish().await;
    app.finish().await;
}
