//! The admin console as an operator uses it, in Chromium: the console sends the
//! signed-out browser to sign in and back; the operator creates an MCP server with
//! default scopes (a mistake first: the error shows next to the field, the input is
//! kept), reads its Protected Resource Metadata, creates a user, and finds each change
//! in the audit log. Names with HTML in them are shown as text. A screenshot of each
//! main page is saved to the test output directory (`target/tmp/console-*.png`).
//!
//! SQLite only, like the other browser tests; `admin::console` checks the gate and the
//! auditing over HTTP on both databases.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::Browser;
use super::flow::{assert_on_page, save_screenshot, sign_in};
use crate::harness::{Backend, TestApp};

const OPERATOR: (&str, &str) = ("operator", "correct horse battery");
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)> Docs";

fn screenshot_path(page: &str) -> String {
    format!("{}/console-{page}.png", env!("CARGO_TARGET_TMPDIR"))
}

/// The link to the operator's own page in the users list.
async fn operator_page(browser: &Browser) -> String {
    let html = browser.html().await;
    let marker = format!(">{}</a>", OPERATOR.0);
    let end = html.find(&marker).expect("the operator is listed");
    let start = html[..end].rfind("href=\"").expect("a link") + "href=\"".len();
    html[start..end].trim_end_matches('"').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_operator_manages_servers_and_users_and_reads_the_audit_log() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(json!({"username": OPERATOR.0, "password": OPERATOR.1, "admin": true})),
        StatusCode::CREATED,
    )
    .await;
    let browser = Browser::start().await;

    // Signed out: the console sends the browser to sign in, then back.
    browser.goto(&format!("{}/admin", app.base)).await;
    assert_on_page(&browser, &app, "/login").await;
    assert!(browser.text().await.contains("to the admin console"));
    sign_in(&browser, OPERATOR.0, OPERATOR.1).await;
    assert_on_page(&browser, &app, "/admin").await;
    assert!(browser.text().await.contains("Dashboard"));
    save_screenshot(&browser, &screenshot_path("dashboard")).await;

    // An MCP server: first with an http resource URI, refused next to the field.
    browser.navigate("MCP servers").await;
    assert_on_page(&browser, &app, "/admin/servers").await;
    browser
        .fill_id("resource", "http://docs.example.com/mcp")
        .await;
    browser.fill_id("name", HOSTILE_NAME).await;
    browser
        .fill_id(
            "scopes",
            "docs:read Read the docs\ndocs:write Change the docs",
        )
        .await;
    browser.fill_id("default_scopes", "docs:read").await;
    browser.submit("Add MCP server").await;
    let text = browser.text().await;
    assert!(text.contains("Not saved"), "{text}");
    save_screenshot(&browser, &screenshot_path("server-error")).await;
    browser
        .fill_id("resource", "https://docs.example.com/mcp")
        .await;
    browser.submit("Add MCP server").await;
    let text = browser.text().await;
    assert!(text.contains("MCP server created."), "{text}");
    // The hostile name is text on the page, not markup.
    assert!(text.contains(HOSTILE_NAME), "{text}");
    assert!(
        text.contains("\"scopes_supported\": [\n    \"docs:read\"\n  ]"),
        "{text}"
    );
    save_screenshot(&browser, &screenshot_path("server")).await;
    let servers = app
        .admin_ok(Method::GET, "/admin/api/v1/servers", None, StatusCode::OK)
        .await;
    assert_eq!(servers["items"][0]["name"], HOSTILE_NAME);
    assert_eq!(servers["items"][0]["default_scopes"], json!(["docs:read"]));
    browser.navigate("MCP servers").await;
    save_screenshot(&browser, &screenshot_path("servers")).await;

    // A user with a recorded email.
    browser.navigate("Users").await;
    browser.fill_id("username", "dana").await;
    browser.fill_id("password", "a long enough password").await;
    browser.fill_id("email", "dana@corp.example").await;
    browser.submit("Add user").await;
    let text = browser.text().await;
    assert!(text.contains("User created."), "{text}");
    // On her page: the admin role, saved without touching her password.
    browser.toggle("admin").await;
    browser.submit("Save").await;
    assert!(browser.text().await.contains("User saved."));
    save_screenshot(&browser, &screenshot_path("user")).await;
    browser.navigate("Users").await;
    let text = browser.text().await;
    assert!(text.contains("dana@corp.example"), "{text}");
    save_screenshot(&browser, &screenshot_path("users")).await;
    browser.fill_id("q", "CORP.example").await;
    browser.submit("Search").await;
    let html = browser.html().await;
    assert!(html.contains(">dana</a>"), "{html}");
    assert!(!html.contains(&format!(">{}</a>", OPERATOR.0)), "{html}");
    let users = app
        .admin_ok(Method::GET, "/admin/api/v1/users", None, StatusCode::OK)
        .await;
    let dana = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "dana")
        .unwrap();
    assert_eq!(dana["admin"], true, "{dana}");
    assert_eq!(dana["email"], "dana@corp.example", "{dana}");

    // A machine client: its secret is shown once, on the page the form leads to.
    browser.navigate("Clients").await;
    browser.fill_id("client_name", "Nightly agent").await;
    // Off with the default authorization_code, on with client_credentials.
    browser
        .click_checkbox_value("grant_types", "authorization_code")
        .await;
    browser
        .click_checkbox_value("grant_types", "client_credentials")
        .await;
    browser.submit("Register client").await;
    let text = browser.text().await;
    assert!(text.contains("Client registered."), "{text}");
    assert!(text.contains("shown only this once"), "{text}");
    save_screenshot(&browser, &screenshot_path("client")).await;
    browser.navigate("Clients").await;
    save_screenshot(&browser, &screenshot_path("clients")).await;

    // Signing keys: rotate now.
    browser.navigate("Signing keys").await;
    browser.submit("Rotate the signing key").await;
    let text = browser.text().await;
    assert!(text.contains("A new signing key is published"), "{text}");
    assert!(
        text.contains("scheduled") || text.contains("published"),
        "{text}"
    );
    save_screenshot(&browser, &screenshot_path("keys")).await;

    // A trusted IdP, its keys at a JWK Set URL.
    browser.navigate("Trusted IdPs").await;
    browser
        .fill_id("issuer", "https://login.corp-idp.example")
        .await;
    browser.fill_id("name", "Corp IdP").await;
    browser
        .fill_id("jwks_uri", "https://login.corp-idp.example/keys")
        .await;
    browser.fill_id("scope", "docs:read").await;
    browser.submit("Trust this IdP").await;
    let text = browser.text().await;
    assert!(text.contains("IdP trusted."), "{text}");
    browser.navigate("Trusted IdPs").await;
    assert!(
        browser
            .text()
            .await
            .contains("https://login.corp-idp.example/keys")
    );
    save_screenshot(&browser, &screenshot_path("idps")).await;

    // Grants, filtered by user (none yet), and the operator's own browser session.
    browser.navigate("Grants").await;
    browser.fill_id("user_id", "usr_nobody").await;
    browser.submit("Filter").await;
    assert!(browser.text().await.contains("No grant."));
    save_screenshot(&browser, &screenshot_path("grants")).await;
    browser.navigate("Users").await;
    browser
        .goto(&format!("{}{}", app.base, operator_page(&browser).await))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("Signed-in browsers") && text.contains("Sign out…"),
        "{text}"
    );

    // Settings: the effective configuration, secrets redacted.
    browser.navigate("Settings").await;
    let text = browser.text().await;
    assert!(text.contains("[server]"), "{text}");
    assert!(
        !text.contains(crate::harness::ADMIN_TOKEN),
        "the bootstrap token is shown"
    );
    save_screenshot(&browser, &screenshot_path("settings")).await;

    // Each change is in the audit log, by the operator.
    browser.navigate("Audit log").await;
    let text = browser.text().await;
    for action in [
        "server.created",
        "user.created",
        "user.updated",
        "client.created",
        "key.rotated",
    ] {
        assert!(text.contains(action), "{action}: {text}");
    }
    save_screenshot(&browser, &screenshot_path("audit")).await;
    browser.fill_id("kind", "user").await;
    browser.submit("Filter").await;
    let text = browser.text().await;
    assert!(
        text.contains("user.created") && !text.contains("server.created"),
        "{text}"
    );
    browser.close().await;
    app.finish().await;
}
