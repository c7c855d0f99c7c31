//! A CIMD client in Chromium (CIMD-5, CIMD-25, CIMD-26, SEC-11): the document is served
//! over TLS by the test document server, the redirect URI is the browser harness's
//! loopback callback on whatever port it got (SEC-2). A person signs in, reads the
//! consent page (who the client is, where the answer goes, both warnings) and allows.

use std::path::Path;

use reqwest::StatusCode;

use super::{Browser, Callback};
use crate::both_backends;
use crate::cimd::{DOC_PATH, DOC_REDIRECT, native_document, start};
use crate::harness::Backend;
use crate::harness::flow::{PASSWORD, RESOURCE, USERNAME, VERIFIER, authorize_path, param};
use crate::harness::tls_fixture::Reply;

const CLIENT_NAME: &str = "Toolkit Desktop";

async fn cimd_25_person_allows_a_cimd_client_in_chromium(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    docs.set(
        DOC_PATH,
        Reply::json(&native_document(&id, CLIENT_NAME)).header("Cache-Control", "max-age=3600"),
    );
    let callback = Callback::start().await;
    assert!(
        callback.redirect_uri.starts_with("http://127.0.0.1:")
            && callback.redirect_uri.ends_with("/callback"),
        "the document lists {DOC_REDIRECT}; the callback must be it on some port"
    );
    let browser = Browser::start().await;

    let path = authorize_path(&id, &callback.redirect_uri, &[("resource", RESOURCE)]);
    browser.goto(&format!("{}{path}", app.base)).await;
    let login = browser.wait_for_url(&format!("{}/login", app.base)).await;
    assert_eq!(login.path(), "/login");
    let text = browser.text().await;
    assert!(
        text.contains(&format!("to continue to {CLIENT_NAME}")),
        "{text}"
    );

    browser.fill("Username", USERNAME).await;
    browser.fill("Password", PASSWORD).await;
    browser.submit("Sign in").await;
    let consent = browser.wait_for_url(&format!("{}/consent", app.base)).await;
    assert_eq!(consent.path(), "/consent");
    let text = browser.text().await;
    for wanted in [
        format!("Allow {CLIENT_NAME} to use Test MCP?"),
        "This application is not verified by your administrator. It is described by localhost."
            .to_owned(),
        "Allow it only if you trust localhost.".to_owned(),
        "This application receives the answer on a local address of your computer (127.0.0.1)."
            .to_owned(),
        "Identified by\nlocalhost".to_owned(),
        "Returns to\n127.0.0.1".to_owned(),
        RESOURCE.to_owned(),
    ] {
        assert!(
            text.contains(&wanted),
            "consent page lacks {wanted:?}:\n{text}"
        );
    }
    let shot = format!(
        "/tmp/mcp-authz-cimd-consent-{}.png",
        format!("{backend:?}").to_ascii_lowercase()
    );
    browser.screenshot(Path::new(&shot)).await;
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot} is not a PNG");

    browser.submit("Allow").await;
    let answer = browser
        .wait_for_url(&format!("{}?", callback.redirect_uri))
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("The application got the answer."),
        "the callback page did not load at {answer}"
    );
    assert_eq!(
        param(&answer, "state").as_deref(),
        Some("st-123"),
        "{answer}"
    );
    assert_eq!(
        param(&answer, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "{answer}"
    );
    let code = param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));
    let (status, _, tokens) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", &id),
                ("redirect_uri", &callback.redirect_uri),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(docs.hits(DOC_PATH), 1);

    browser.close().await;
    app.finish().await;
}

both_backends!(backend: cimd_25_person_allows_a_cimd_client_in_chromium);
