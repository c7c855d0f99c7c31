//! The browser harness itself: Chromium starts, loads the landing page, takes a screenshot.

use super::Browser;
use crate::harness::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landing_page_renders_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start().await;

    browser.goto(&format!("{}/", app.base)).await;
    let text = browser.text().await;
    assert!(text.contains("mcp-authz"), "{text}");
    assert!(
        text.contains(&app.issuer),
        "issuer {} not shown:\n{text}",
        app.issuer
    );
    assert_eq!(
        browser.current_url().await.as_str(),
        format!("{}/", app.base)
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("landing.png");
    browser.screenshot(&path).await;
    let png = std::fs::read(&path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {} bytes",
        png.len()
    );

    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_find_fields_by_label_and_buttons_by_text() {
    use base64::Engine as _;
    let page = r#"<!doctype html><title>form</title>
        <form onsubmit="event.preventDefault(); out.textContent =
            ['sent', this.user.value, this.pw.value, this.q.value].join(' ')">
          <label for="u">Username</label> <input id="u" name="user" value="old">
          <label>Password <input type="password" name="pw"></label>
          <label for="q">It's "quoted"</label> <input id="q" name="q">
          <button type="button" onclick="out.textContent = 'cancelled'">Cancel</button>
          <input type="submit" value="Sign in">
        </form>
        <p id="out"></p>"#;
    let url = format!(
        "data:text/html;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(page)
    );
    let browser = Browser::start().await;
    browser.goto(&url).await;

    browser.click_button("Cancel").await;
    assert!(browser.text().await.contains("cancelled"));

    browser.fill("Username", "alice").await;
    browser.fill("Password", "s3cret").await;
    browser.fill(r#"It's "quoted""#, "yes").await;
    browser.click_button("Sign in").await;
    let text = browser.text().await;
    assert!(text.contains("sent alice s3cret yes"), "{text}");

    browser.close().await;
}
