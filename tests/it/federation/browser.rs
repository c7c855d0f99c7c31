//! The federated sign-in as a person goes through it in Chromium: B's sign-in page with
//! the provider button next to the local form, B's consent page (FED-1: before going
//! upstream), A's sign-in and consent pages, and the answer at the client.
//!
//! SQLite only, like the other browser tests: the HTTP-level tests in this module run
//! the same flow on both databases. Chromium cannot be given the test CA without a
//! system trust store change, so this one browser is started with
//! `--ignore-certificate-errors` for A's proxy certificate.

use reqwest::StatusCode;

use super::{BUTTON, Federated, PROVIDER_NAME};
use crate::browser::{Browser, Callback};
use crate::harness::Backend;
use crate::harness::flow::{PASSWORD, RESOURCE, USERNAME, authorize_path, jwt_payload, param};

const SCREENSHOT: &str = "/tmp/mcp-authz-federated-login.png";
const CONSENT_SCREENSHOT: &str = "/tmp/mcp-authz-federated-consent.png";

/// Asserts the browser arrives on the page at `base` + `path`.
async fn assert_on(browser: &Browser, base: &str, path: &str) {
    let url = browser.wait_for_url(&format!("{base}{path}")).await;
    assert_eq!(url.path(), path, "{}", browser.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fed_1_chromium_signs_in_through_the_provider() {
    let fed = Federated::start(Backend::Sqlite, true).await;
    let callback = Callback::start().await;
    let browser = Browser::start_with(&["--ignore-certificate-errors"]).await;
    let path = authorize_path(
        &fed.fixture.desktop,
        &callback.redirect_uri,
        &[("resource", RESOURCE)],
    );
    browser.goto(&format!("{}{path}", fed.b.base)).await;
    assert_on(&browser, &fed.b.base, "/login").await;
    let buttons = browser.buttons().await;
    assert_eq!(
        buttons,
        ["Sign in", BUTTON],
        "the local form, then the provider"
    );
    browser.screenshot(std::path::Path::new(SCREENSHOT)).await;
    let png = std::fs::read(SCREENSHOT).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{SCREENSHOT} is no PNG"
    );

    browser.submit(BUTTON).await;
    // FED-1: B asks first, naming the provider the user will sign in with.
    assert_on(&browser, &fed.b.base, "/consent").await;
    let text = browser.text().await;
    assert!(text.contains("Desktop app"), "{text}");
    assert!(!text.contains("Signed in as"), "{text}");
    let allow = format!("Allow and sign in with {PROVIDER_NAME}");
    assert_eq!(browser.buttons().await, [allow.as_str(), "Deny"]);
    browser
        .screenshot(std::path::Path::new(CONSENT_SCREENSHOT))
        .await;
    browser.submit(&allow).await;
    assert_on(&browser, &fed.issuer_a(), "/login").await;
    browser.fill("Username", USERNAME).await;
    browser.fill("Password", PASSWORD).await;
    browser.submit("Sign in").await;
    assert_on(&browser, &fed.issuer_a(), "/consent").await;
    assert!(browser.text().await.contains("Server B"));
    browser.submit("Allow").await;

    // Back at B, signed in and already approved: straight to the client.
    let answer = browser
        .wait_for_url(&format!("{}?", callback.redirect_uri))
        .await;
    let code = param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));
    let (status, _, tokens) = fed
        .b
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", crate::harness::flow::VERIFIER),
                ("client_id", &fed.fixture.desktop),
                ("redirect_uri", &callback.redirect_uri),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let sub = jwt_payload(tokens["access_token"].as_str().unwrap())["sub"].clone();
    assert!(sub.as_str().is_some_and(|s| s.starts_with("usr_")), "{sub}");
    assert_ne!(sub, fed.a_user.as_str());
    browser.close().await;
    fed.finish().await;
}
