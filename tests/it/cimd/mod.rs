//! Client ID Metadata Documents through the running server (CIMD-1..28, META-7, SEC-2,
//! SEC-9..11): documents served over real TLS by [`DocServer`] on 127.0.0.1, fetched by
//! the server's outbound client (which trusts the fixture's test CA and, in the test
//! configuration's dev mode, loopback targets).
//!
//! The rule logic itself is unit-tested in `src/cimd`; these tests check what a client,
//! a user and an administrator see: pages, redirects, tokens, the admin API, the audit
//! log, and how often the document host is asked.

mod cache;
mod flow;
mod metadata;
mod pinning;
mod policy;
mod refusals;
mod ssrf;

use mcp_authz::storage::AuditRecord;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::tls_fixture::DocServer;
use crate::harness::{Backend, TestApp};

/// Where the standard document lives on the fixture.
pub(crate) const DOC_PATH: &str = "/clients/desktop.json";
/// The loopback redirect URI documents list (SEC-2: any port matches).
pub(crate) const DOC_REDIRECT: &str = "http://127.0.0.1/callback";
/// The redirect URI requests use: [`DOC_REDIRECT`] on some port.
pub(crate) const REQUEST_REDIRECT: &str = "http://127.0.0.1:5555/callback";
/// The one message users see for every fetch or document failure (CIMD-24).
pub(crate) const USER_MESSAGE: &str =
    "the client's metadata document could not be retrieved or is not valid";

/// Starts the document server, then a server trusting its CA with `extra` TOML appended
/// (a `[cimd]` section, say). `outbound` holds extra `[outbound]` lines.
pub(crate) async fn start(backend: Backend, outbound: &str, extra: &str) -> (TestApp, DocServer) {
    let docs = DocServer::start().await;
    let toml = format!("{}\n{extra}", docs.outbound_toml(outbound));
    let app = TestApp::spawn_with(backend, "", &toml).await;
    (app, docs)
}

/// A public native client's document (EXAMPLES.md section 3) for `client_id`.
pub(crate) fn native_document(client_id: &str, name: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": name,
        "client_uri": "https://toolkit.example",
        "redirect_uris": [DOC_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    })
}

/// `html` with the entities askama writes turned back into characters.
pub(crate) fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// Asserts an error page (CORE-15, CIMD-24): 400, HTML, no redirect, the standard
/// heading and `message`. Returns the page, unescaped.
pub(crate) async fn assert_error_page(response: Response, message: &str, what: &str) -> String {
    let status = response.status();
    let headers = response.headers().clone();
    let html = unescape(&response.text().await.unwrap());
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {html}");
    assert!(
        headers.get(LOCATION).is_none(),
        "{what}: redirected: {headers:?}"
    );
    let content_type = headers[CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("text/html"),
        "{what}: {content_type}"
    );
    assert!(
        html.contains("<h1>This request cannot be completed</h1>"),
        "{what}: {html}"
    );
    assert!(
        html.contains(message),
        "{what}: page does not say {message:?}:\n{html}"
    );
    html
}

/// Asserts the request was accepted: a 303 to the sign-in page.
pub(crate) fn assert_goes_to_sign_in(response: &Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
    let next = crate::harness::flow::location(response);
    assert!(next.starts_with("/login?request=req_"), "{what}: {next}");
}

/// Every audit event with `action`, oldest first.
pub(crate) async fn audit_events(app: &TestApp, action: &str) -> Vec<AuditRecord> {
    let mut events: Vec<AuditRecord> = app
        .server()
        .state
        .store
        .list_audit_events(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .collect();
    events.reverse();
    events
}

/// The details of the `cimd.rejected` events about `client_id`.
pub(crate) async fn rejections(app: &TestApp, client_id: &str) -> Vec<Value> {
    audit_events(app, "cimd.rejected")
        .await
        .into_iter()
        .filter(|e| e.target_id == client_id)
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect()
}

/// Asserts exactly one `cimd.rejected` event about `client_id`, of `kind`, whose reason
/// mentions `reason`.
pub(crate) async fn assert_rejected(app: &TestApp, client_id: &str, kind: &str, reason: &str) {
    let found = rejections(app, client_id).await;
    assert_eq!(found.len(), 1, "{client_id}: {found:?}");
    assert_eq!(found[0]["kind"], kind, "{client_id}: {}", found[0]);
    let text = found[0]["reason"].as_str().unwrap_or_default();
    assert!(
        text.contains(reason),
        "{client_id}: audited reason {text:?} does not mention {reason:?}"
    );
}

/// `client_id` as one percent-encoded path segment of the admin API.
pub(crate) fn encoded(client_id: &str) -> String {
    url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect()
}

/// `/admin/api/v1/cimd/clients/{client_id}`.
pub(crate) fn admin_path(client_id: &str) -> String {
    format!("/admin/api/v1/cimd/clients/{}", encoded(client_id))
}
