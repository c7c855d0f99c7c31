//! The authorization-code flow as a person goes through it in Chromium: the sign-in page,
//! the consent page, the answer at the client's redirect URI, and the error page.
//!
//! SQLite only: what is checked here is the pages and the browser's handling of them
//! (the `__Host-` Secure session cookie on `http://127.0.0.1`, SEC-18); the HTTP-level
//! tests in `oauth::login_consent` already run the same flow on both databases.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

use super::{Browser, Callback};
use crate::harness::flow::{
    Fixture, PASSWORD, RESOURCE, USERNAME, VERIFIER, authorize_path, param,
};
use crate::harness::{Backend, TestApp};

/// The name `TestApp::create_server` gives every MCP server.
const SERVER_NAME: &str = "Test MCP";
/// The fixture's public loopback client.
const DESKTOP_NAME: &str = "Desktop app";

/// Opens the authorization request of the `desktop` client, answered at `callback`.
async fn open_authorization(
    browser: &Browser,
    app: &TestApp,
    fixture: &Fixture,
    callback: &Callback,
    extra: &[(&str, &str)],
) {
    let path = authorize_path(&fixture.desktop, &callback.redirect_uri, extra);
    browser.goto(&format!("{}{path}", app.base)).await;
}

/// Fills in the sign-in form the browser shows and submits it.
pub(super) async fn sign_in(browser: &Browser, username: &str, password: &str) {
    browser.fill("Username", username).await;
    browser.fill("Password", password).await;
    browser.submit("Sign in").await;
}

/// Asserts the browser arrives (within the navigation wait) on the server's page at `path`.
pub(super) async fn assert_on_page(browser: &Browser, app: &TestApp, path: &str) {
    let url = browser.wait_for_url(&format!("{}{path}", app.base)).await;
    assert_eq!(
        (url.origin().ascii_serialization(), url.path()),
        (app.base.clone(), path),
        "expected {path} on the server; page text:\n{}",
        browser.text().await
    );
}

/// Saves a screenshot to `path` (for people to look at) and checks it is a PNG.
pub(super) async fn save_screenshot(browser: &Browser, path: &str) {
    let path = Path::new(path);
    browser.screenshot(path).await;
    let png = std::fs::read(path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG: {} bytes",
        path.display(),
        png.len()
    );
}

/// Clicks `decision` on the consent page; returns the address the client was sent to.
pub(super) async fn decide(browser: &Browser, callback: &Callback, decision: &str) -> url::Url {
    browser.submit(decision).await;
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
    answer
}

/// Redeems the `desktop` client's `code` from `answer`; asserts 200, returns the JSON.
async fn redeem(app: &TestApp, fixture: &Fixture, callback: &Callback, answer: &url::Url) -> Value {
    let code = param(answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));
    let (status, _, body) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", &fixture.desktop),
                ("redirect_uri", &callback.redirect_uri),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The words of a token response's `scope`, sorted (their order carries no meaning).
fn scope_words(tokens: &Value) -> Vec<&str> {
    let scope = tokens["scope"]
        .as_str()
        .unwrap_or_else(|| panic!("no scope in {tokens}"));
    let mut words: Vec<&str> = scope.split(' ').collect();
    words.sort_unstable();
    words
}

/// The part of the consent page's text listing what the client asks for now.
fn asked_part(page: &str) -> &str {
    let start = page
        .find("It asks to:")
        .unwrap_or_else(|| panic!("no \"It asks to:\" on the consent page:\n{page}"));
    let rest = &page[start..];
    let end = rest.find("You allowed earlier").unwrap_or(rest.len());
    &rest[..end]
}

/// The line of the consent page's text that starts "You allowed earlier".
fn earlier_line(page: &str) -> &str {
    page.lines()
        .find(|line| line.trim_start().starts_with("You allowed earlier"))
        .unwrap_or_else(|| panic!("no \"You allowed earlier\" on the consent page:\n{page}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_4_person_signs_in_and_allows_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let fixture = app.fixture().await;
    let callback = Callback::start().await;
    let browser = Browser::start().await;

    open_authorization(
        &browser,
        &app,
        &fixture,
        &callback,
        &[("resource", RESOURCE)],
    )
    .await;
    assert_on_page(&browser, &app, "/login").await;
    let login = browser.text().await;
    assert!(login.contains("Sign in"), "{login}");
    assert!(
        login.contains(&format!("to continue to {DESKTOP_NAME}")),
        "{login}"
    );
    save_screenshot(&browser, "/tmp/mcp-authz-login.png").await;

    // Signing in only gets to the consent page if Chromium kept the `__Host-` Secure
    // session cookie set over http://127.0.0.1 (SEC-18 in dev mode): without it the
    // form's CSRF token matches no session.
    sign_in(&browser, USERNAME, PASSWORD).await;
    assert_on_page(&browser, &app, "/consent").await;
    let consent = browser.text().await;
    assert!(
        consent.contains(&format!("Allow {DESKTOP_NAME} to use {SERVER_NAME}?")),
        "{consent}"
    );
    assert!(consent.contains(RESOURCE), "{consent}");
    assert!(
        asked_part(&consent).contains("Allows tools:read"),
        "{consent}"
    );
    let buttons = browser.buttons().await;
    for wanted in ["Allow", "Deny"] {
        assert!(
            buttons.iter().any(|b| b == wanted),
            "no {wanted} button among {buttons:?}"
        );
    }
    save_screenshot(&browser, "/tmp/mcp-authz-consent.png").await;

    let answer = decide(&browser, &callback, "Allow").await;
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
    assert_eq!(param(&answer, "error"), None, "{answer}");
    let tokens = redeem(&app, &fixture, &callback, &answer).await;
    assert_eq!(scope_words(&tokens), ["tools:read"], "{tokens}");

    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_17_deny_returns_access_denied_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let fixture = app.fixture().await;
    let callback = Callback::start().await;
    let browser = Browser::start().await;

    open_authorization(
        &browser,
        &app,
        &fixture,
        &callback,
        &[("resource", RESOURCE)],
    )
    .await;
    sign_in(&browser, USERNAME, PASSWORD).await;
    assert_on_page(&browser, &app, "/consent").await;
    let answer = decide(&browser, &callback, "Deny").await;

    assert_eq!(
        param(&answer, "error").as_deref(),
        Some("access_denied"),
        "{answer}"
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
    assert_eq!(param(&answer, "code"), None, "{answer}");

    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec_12_wrong_password_shows_one_message_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let fixture = app.fixture().await;
    let callback = Callback::start().await;
    let browser = Browser::start().await;
    open_authorization(
        &browser,
        &app,
        &fixture,
        &callback,
        &[("resource", RESOURCE)],
    )
    .await;

    sign_in(&browser, USERNAME, "not the password").await;
    assert_on_page(&browser, &app, "/login").await;
    let wrong_password = browser.text().await;
    assert!(
        wrong_password.contains("Invalid username or password"),
        "{wrong_password}"
    );

    sign_in(&browser, "mallory", PASSWORD).await;
    assert_on_page(&browser, &app, "/login").await;
    let unknown_user = browser.text().await;
    // The whole page reads the same: nothing tells a guesser which of the two was wrong.
    assert_eq!(unknown_user, wrong_password);

    sign_in(&browser, USERNAME, PASSWORD).await;
    assert_on_page(&browser, &app, "/consent").await;
    let consent = browser.text().await;
    assert!(
        consent.contains(&format!("Allow {DESKTOP_NAME} to use {SERVER_NAME}?")),
        "{consent}"
    );
    assert!(!consent.contains("Invalid username"), "{consent}");

    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_5_step_up_asks_only_for_new_scopes_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let fixture = app.fixture().await;
    let callback = Callback::start().await;
    let browser = Browser::start().await;

    let first = [("resource", RESOURCE), ("scope", "tools:read")];
    open_authorization(&browser, &app, &fixture, &callback, &first).await;
    sign_in(&browser, USERNAME, PASSWORD).await;
    let answer = decide(&browser, &callback, "Allow").await;
    let tokens = redeem(&app, &fixture, &callback, &answer).await;
    assert_eq!(scope_words(&tokens), ["tools:read"], "{tokens}");

    // Still signed in: the step-up request goes straight to the consent page.
    let union = [("resource", RESOURCE), ("scope", "tools:read tools:call")];
    open_authorization(&browser, &app, &fixture, &callback, &union).await;
    assert_on_page(&browser, &app, "/consent").await;
    let consent = browser.text().await;
    let asked = asked_part(&consent);
    assert!(asked.contains("Allows tools:call"), "{consent}");
    assert!(!asked.contains("tools:read"), "{consent}");
    let earlier = earlier_line(&consent);
    assert!(earlier.contains("tools:read"), "{consent}");
    assert!(!earlier.contains("tools:call"), "{consent}");

    let answer = decide(&browser, &callback, "Allow").await;
    let tokens = redeem(&app, &fixture, &callback, &answer).await;
    assert_eq!(
        scope_words(&tokens),
        ["tools:call", "tools:read"],
        "{tokens}"
    );

    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_15_error_page_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.fixture().await;
    // A listener at the redirect URI, so a wrong redirect would land somewhere visible.
    let callback = Callback::start().await;
    let browser = Browser::start().await;

    let path = authorize_path(
        "no-such-client",
        &callback.redirect_uri,
        &[("resource", RESOURCE)],
    );
    browser.goto(&format!("{}{path}", app.base)).await;

    assert_on_page(&browser, &app, "/oauth2/authorize").await;
    assert!(
        browser
            .title()
            .await
            .starts_with("This request cannot be completed"),
        "title: {}",
        browser.title().await
    );
    let text = browser.text().await;
    assert!(
        text.lines()
            .next()
            .is_some_and(|h| h.trim() == "This request cannot be completed"),
        "{text}"
    );
    assert!(!text.contains("The application got the answer."), "{text}");
    // The reference for the administrator is the request id: this process's random
    // prefix (8 base64url characters), a dash, and the request's sequence number.
    let reference = text
        .split("this reference:")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no reference on the error page:\n{text}"));
    let is_request_id = reference.split_at_checked(8).is_some_and(|(prefix, rest)| {
        prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && rest
                .strip_prefix('-')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    assert!(
        is_request_id,
        "reference {reference:?} is not a request id:\n{text}"
    );

    browser.close().await;
    app.finish().await;
}
