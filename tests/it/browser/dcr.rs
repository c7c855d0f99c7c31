//! A dynamically registered client (RFC 7591) as a person meets it in Chromium: the
//! sign-in page, a consent page that marks the client unverified (DCR-9, SEC-11), and
//! the answer at the client's loopback redirect URI.
//!
//! SQLite only, like the other browser tests; `oauth::register` runs the same flow over
//! HTTP on both databases.

use serde_json::json;

use super::flow::{assert_on_page, decide, save_screenshot, sign_in};
use super::{Browser, Callback};
use crate::harness::dcr::OPEN;
use crate::harness::flow::{PASSWORD, RESOURCE, USERNAME, authorize_path, param, redeem_code};
use crate::harness::{Backend, TestApp};

const CLIENT_NAME: &str = "Registered CLI";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcr_9_registered_client_is_shown_unverified_in_chromium() {
    let app = TestApp::spawn_with(Backend::Sqlite, "", OPEN).await;
    app.fixture().await;
    let callback = Callback::start().await;
    let registered = app
        .register_ok(&json!({
            "client_name": CLIENT_NAME,
            "redirect_uris": [callback.redirect_uri],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        }))
        .await;
    let client_id = registered["client_id"].as_str().unwrap();
    let browser = Browser::start().await;

    let path = authorize_path(client_id, &callback.redirect_uri, &[("resource", RESOURCE)]);
    browser.goto(&format!("{}{path}", app.base)).await;
    // SEC-9: an unverified client's redirect URI is reached only after sign-in.
    assert_on_page(&browser, &app, "/login").await;
    sign_in(&browser, USERNAME, PASSWORD).await;
    assert_on_page(&browser, &app, "/consent").await;
    let consent = browser.text().await;
    assert!(
        consent.contains(&format!("Allow {CLIENT_NAME} to use Test MCP?")),
        "{consent}"
    );
    assert!(
        consent.contains("This application is not verified by your administrator"),
        "{consent}"
    );
    assert!(consent.contains("127.0.0.1"), "{consent}"); // the redirect host (SEC-11)
    save_screenshot(&browser, "/tmp/mcp-authz-dcr-consent.png").await;

    let answer = decide(&browser, &callback, "Allow").await;
    assert_eq!(param(&answer, "error"), None, "{answer}");
    assert_eq!(
        param(&answer, "state").as_deref(),
        Some("st-123"),
        "{answer}"
    );
    let code = param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));
    let tokens = redeem_code(&app, client_id, None, &callback.redirect_uri, &code).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");

    browser.close().await;
    app.finish().await;
}
