//! A CIMD client through the whole flow: authorize, sign in, consent, code, tokens,
//! refresh (CIMD-5, CIMD-14/15/18, CIMD-22, CIMD-25/26, SEC-2, SEC-11), and what the
//! admin API and the audit log then know about it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{
    DOC_PATH, REQUEST_REDIRECT, admin_path, assert_error_page, assert_goes_to_sign_in,
    audit_events, native_document, start, unescape,
};
use crate::both_backends;
use crate::harness::flow::{
    PASSWORD, RESOURCE, USERNAME, UserAgent, VERIFIER, authorize_path, jwt_payload, location,
    param, redeem_code,
};
use crate::harness::tls_fixture::Reply;
use crate::harness::{Backend, START};

async fn cimd_5_native_client_completes_the_flow_and_refreshes(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    let document = native_document(&id, "Toolkit Desktop");
    docs.set(
        DOC_PATH,
        Reply::json(&document).header("Cache-Control", "max-age=3600"),
    );

    // The request names the document URL; its redirect URI is the document's loopback
    // one on another port (SEC-2).
    let mut agent = UserAgent::new(&app);
    let started = agent
        .authorize(&authorize_path(
            &id,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_goes_to_sign_in(&started, "first use");
    // SEC-9: nothing went to the client before sign-in.
    let login = location(&started);
    let login_page = unescape(&agent.get(&login).await.text().await.unwrap());
    assert!(
        login_page.contains("to continue to <strong>Toolkit Desktop</strong>"),
        "{login_page}"
    );
    let signed_in = agent.sign_in(&login, USERNAME, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let consent = location(&signed_in);
    assert!(consent.starts_with("/consent?request="), "{consent}");

    // CIMD-25/26, SEC-11: name, client id host, redirect host, unverified, loopback.
    let page = agent.get(&consent).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = unescape(&page.text().await.unwrap());
    for wanted in [
        "<h1>Allow Toolkit Desktop to use Test MCP?</h1>",
        "<dt>Application</dt><dd>Toolkit Desktop</dd>",
        "<dt>Identified by</dt><dd><strong>localhost</strong></dd>",
        "<dt>Returns to</dt><dd><strong>127.0.0.1</strong></dd>",
        "This application is not verified by your administrator. It is described by \
         <strong>localhost</strong>.",
        "This application receives the answer on a local address of your computer \
         (<strong>127.0.0.1</strong>)",
        RESOURCE,
        "<code>tools:read</code>",
    ] {
        assert!(
            html.contains(wanted),
            "consent page lacks {wanted:?}:\n{html}"
        );
    }
    assert!(!html.contains("details changed"), "{html}");

    let decided = agent.decide(&consent, "allow").await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    let answer = url::Url::parse(&location(&decided)).unwrap();
    assert!(
        answer.as_str().starts_with(&format!("{REQUEST_REDIRECT}?")),
        "{answer}"
    );
    assert_eq!(param(&answer, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&answer, "iss").as_deref(), Some(app.issuer.as_str()));
    let code = param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));

    // A public client: client_id is the URL, no secret.
    let tokens = redeem_code(&app, &id, None, REQUEST_REDIRECT, &code).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "tools:read");
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], id.as_str(), "{claims}");
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    assert_eq!(claims["iss"], app.issuer, "{claims}");
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {tokens}"));

    let (status, _, refreshed) = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", &id),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let claims = jwt_payload(refreshed["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], id.as_str(), "{claims}");
    assert_eq!(claims["aud"], RESOURCE, "{claims}");

    // The client revokes its (rotated) refresh token, identified by its URL.
    let rotated = refreshed["refresh_token"].as_str().unwrap_or(refresh);
    let (status, _, body) = app
        .post_form(
            "/oauth2/revoke",
            &[("token", rotated), ("client_id", &id)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rotated),
                ("client_id", &id),
            ],
            None,
        )
        .await;
    crate::harness::flow::assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");

    // One fetch served authorize, token and refresh (CIMD-21), as a bare GET (CIMD-6).
    assert_eq!(docs.hits(DOC_PATH), 1);
    let head = docs.heads()[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /clients/desktop.json http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\naccept: application/cimd+json, application/json\r\n"),
        "{head}"
    );
    for absent in ["cookie:", "authorization:", "forwarded:", "x-forwarded-"] {
        assert!(!head.contains(absent), "{absent} sent: {head}");
    }

    // The admin API lists the client with its document.
    let list = app
        .admin_ok(
            Method::GET,
            "/admin/api/v1/cimd/clients",
            None,
            StatusCode::OK,
        )
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let listed = &items[0];
    assert_eq!(listed["client_id"], id.as_str(), "{listed}");
    assert_eq!(listed["client_name"], "Toolkit Desktop", "{listed}");
    assert_eq!(listed["status"], "valid", "{listed}");
    assert_eq!(listed["standing"], "approved", "{listed}");
    assert_eq!(listed["enabled"], true, "{listed}");
    assert_eq!(listed["approved_by"], "policy", "{listed}");
    assert_eq!(listed["last_error"], Value::Null, "{listed}");
    assert_eq!(listed["document"], document, "{listed}");
    assert_eq!(listed["fetched_at"], START, "{listed}");
    // CIMD-21: max-age=3600 is within the default 5 min..24 h bounds.
    assert_eq!(listed["cache_expires_at"], START + 3600, "{listed}");
    assert!(
        listed["fingerprint"]
            .as_str()
            .is_some_and(|f| !f.is_empty())
    );

    let one = app
        .admin_ok(Method::GET, &admin_path(&id), None, StatusCode::OK)
        .await;
    assert_eq!(&one, listed);
    for unknown in [
        admin_path(&docs.url("/clients/other.json")),
        "/admin/api/v1/cimd/clients/not-a-url".to_owned(),
    ] {
        let response = app.admin(Method::GET, &unknown, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{unknown}");
    }

    // First sight is audited, once.
    let seen = audit_events(&app, "cimd.client_seen").await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].target_id, id);
    let detail: Value = serde_json::from_str(&seen[0].detail).unwrap();
    assert_eq!(detail["client_name"], "Toolkit Desktop", "{detail}");
    assert_eq!(detail["fingerprint"], listed["fingerprint"], "{detail}");
    assert!(audit_events(&app, "cimd.rejected").await.is_empty());
    app.finish().await;
}

async fn cimd_18_redirect_uri_missing_from_the_document_gets_an_error_page(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    let mut document = native_document(&id, "Toolkit Desktop");
    document["redirect_uris"] = json!([
        "http://127.0.0.1/callback",
        "https://app.toolkit.example/oauth/cb"
    ]);
    docs.set(DOC_PATH, Reply::json(&document));
    for unlisted in [
        "http://127.0.0.1:5555/other",
        "http://localhost:5555/callback",
        "https://app.toolkit.example/oauth/cb/",
        "https://attacker.example/oauth/cb",
    ] {
        let response = app
            .get(&authorize_path(&id, unlisted, &[("resource", RESOURCE)]))
            .await;
        assert_error_page(
            response,
            "redirect_uri is not registered for this client",
            unlisted,
        )
        .await;
    }
    // Listed ones are accepted: exactly, and the loopback one on any port.
    for listed in [
        "https://app.toolkit.example/oauth/cb",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:49152/callback",
    ] {
        let response = app
            .get(&authorize_path(&id, listed, &[("resource", RESOURCE)]))
            .await;
        assert_goes_to_sign_in(&response, listed);
    }
    // Two redirect URIs listed: the request must name one (CORE-16).
    let without = crate::harness::flow::authorize_query(&[
        ("response_type", "code"),
        ("client_id", &id),
        ("code_challenge", crate::harness::flow::CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    assert_error_page(
        app.get(&without).await,
        "redirect_uri is required",
        "no redirect_uri",
    )
    .await;
    assert_eq!(docs.hits(DOC_PATH), 1);
    app.finish().await;
}

async fn cimd_16_auth_methods_supported_none_makes_a_public_client(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    let mut document = native_document(&id, "Supported-list client");
    let members = document.as_object_mut().unwrap();
    members.remove("token_endpoint_auth_method");
    members.insert(
        "token_endpoint_auth_methods_supported".to_owned(),
        json!(["none"]),
    );
    docs.set(DOC_PATH, Reply::json(&document));
    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(&id, REQUEST_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let (status, _, body) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", &id),
                ("redirect_uri", REQUEST_REDIRECT),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], id.as_str());
    app.finish().await;
}

async fn sec_9_errors_for_a_cimd_client_wait_for_sign_in(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    let web_redirect = "https://app.toolkit.example/oauth/cb";
    let mut document = native_document(&id, "Web tool");
    document["redirect_uris"] = json!([web_redirect]);
    document["application_type"] = json!("web");
    docs.set(DOC_PATH, Reply::json(&document));
    // No PKCE: an error for the client, but a CIMD client's redirect URI is not trusted
    // even when it is https, so the user signs in first.
    let path = crate::harness::flow::authorize_query(&[
        ("response_type", "code"),
        ("client_id", &id),
        ("redirect_uri", web_redirect),
        ("state", "st-9"),
        ("resource", RESOURCE),
    ]);
    let mut agent = UserAgent::new(&app);
    let started = agent.authorize(&path).await;
    assert_goes_to_sign_in(&started, "missing PKCE");
    let signed_in = agent.sign_in(&location(&started), USERNAME, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let mut next = location(&signed_in);
    if next.starts_with("/consent") {
        let page = agent.get(&next).await;
        assert_eq!(
            page.status(),
            StatusCode::SEE_OTHER,
            "no consent for an error"
        );
        next = location(&page);
    }
    let answer = url::Url::parse(&next).unwrap();
    assert!(
        answer.as_str().starts_with(&format!("{web_redirect}?")),
        "{answer}"
    );
    assert_eq!(param(&answer, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&answer, "state").as_deref(), Some("st-9"));
    assert_eq!(param(&answer, "iss").as_deref(), Some(app.issuer.as_str()));
    app.finish().await;
}

async fn sec_11_hostile_client_name_is_shown_as_text(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    let name = "Evil <img src=x onerror=alert(1)> & \"friends\"";
    docs.set(DOC_PATH, Reply::json(&native_document(&id, name)));
    let mut agent = UserAgent::new(&app);
    let started = agent
        .authorize(&authorize_path(
            &id,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_goes_to_sign_in(&started, "hostile name");
    let login = location(&started);
    let login_html = agent.get(&login).await.text().await.unwrap();
    let signed_in = agent.sign_in(&login, USERNAME, PASSWORD).await;
    let consent_html = agent.get(&location(&signed_in)).await.text().await.unwrap();
    for (page, html) in [("login", &login_html), ("consent", &consent_html)] {
        assert!(
            !html.contains("<img"),
            "{page} page carries markup:\n{html}"
        );
        assert!(unescape(html).contains(name), "{page}:\n{html}");
    }
    app.finish().await;
}

async fn cimd_13_compressed_cimd_json_document_is_accepted(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    let document = native_document(&id, "Compressed");
    docs.set(
        DOC_PATH,
        Reply::json(&document)
            .content_type("application/cimd+json; charset=utf-8")
            .gzip(),
    );
    let response = app
        .get(&authorize_path(
            &id,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_goes_to_sign_in(&response, "gzip, application/cimd+json");
    let view = app
        .admin_ok(Method::GET, &admin_path(&id), None, StatusCode::OK)
        .await;
    assert_eq!(view["document"], document, "{view}");
    app.finish().await;
}

async fn cimd_19_grants_default_to_authorization_code_only(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    let mut document = native_document(&id, "Code only");
    document.as_object_mut().unwrap().remove("grant_types");
    docs.set(DOC_PATH, Reply::json(&document));
    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(&id, REQUEST_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let tokens = redeem_code(&app, &id, None, REQUEST_REDIRECT, &code).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert!(
        tokens.get("refresh_token").is_none(),
        "refresh token issued: {tokens}"
    );
    for grant in ["refresh_token", "client_credentials"] {
        let answer = app
            .token(
                &[
                    ("grant_type", grant),
                    ("refresh_token", "whatever"),
                    ("client_id", &id),
                ],
                None,
            )
            .await;
        crate::harness::flow::assert_oauth_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        );
    }
    app.finish().await;
}

both_backends!(
    backend: cimd_5_native_client_completes_the_flow_and_refreshes,
    cimd_19_grants_default_to_authorization_code_only,
    sec_9_errors_for_a_cimd_client_wait_for_sign_in,
    sec_11_hostile_client_name_is_shown_as_text,
    cimd_13_compressed_cimd_json_document_is_accepted,
    cimd_18_redirect_uri_missing_from_the_document_gets_an_error_page,
    cimd_16_auth_methods_supported_none_makes_a_public_client,
);
