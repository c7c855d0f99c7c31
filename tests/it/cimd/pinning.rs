//! A request, consent and code keep the document they were validated with (CIMD-22);
//! a changed document is a security event: consent is asked again in full and the
//! change is audited (CIMD-23, SEC-10).
//!
//! The cache lifetime is bounded to 1 s here, so a changed document is fetched again
//! after a short real-time wait.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    DOC_PATH, REQUEST_REDIRECT, assert_goes_to_sign_in, audit_events, native_document, start,
    unescape,
};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::flow::{
    PASSWORD, RESOURCE, USERNAME, UserAgent, authorize_path, location, param, redeem_code,
};
use crate::harness::tls_fixture::Reply;

const ONE_SECOND_CACHE: &str = "[cimd]\nmin_cache_ttl = \"1s\"\nmax_cache_ttl = \"1s\"";
/// Where document B sends codes.
const BETA_REDIRECT: &str = "https://beta.example/oauth/cb";

/// Lets the 1 s cache entry lapse.
async fn let_cache_lapse() {
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

/// The consent page at `location`, unescaped.
async fn consent_page(agent: &mut UserAgent<'_>, location: &str) -> String {
    let page = agent.get(location).await;
    assert_eq!(page.status(), StatusCode::OK, "{location}");
    unescape(&page.text().await.unwrap())
}

/// Starts an authorization with the signed-in `agent`; returns the consent location.
async fn to_consent(agent: &mut UserAgent<'_>, path: &str) -> String {
    let started = agent.authorize(path).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{path}");
    let next = location(&started);
    assert!(next.starts_with("/consent?request="), "{next}");
    next
}

async fn cimd_22_pending_request_keeps_the_document_it_was_validated_with(backend: Backend) {
    let (app, docs) = start(backend, "", ONE_SECOND_CACHE).await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::json(&native_document(&id, "Alpha")));

    let mut agent = UserAgent::new(&app);
    let started = agent
        .authorize(&authorize_path(
            &id,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_goes_to_sign_in(&started, "document A");
    let login = location(&started);

    // The document changes: another name, codes to an https URI instead.
    let mut beta = native_document(&id, "Beta");
    beta["redirect_uris"] = json!([BETA_REDIRECT]);
    docs.set(DOC_PATH, Reply::json(&beta));
    let_cache_lapse().await;
    // Someone else's request fetches B (the server now knows the new document).
    let other = app
        .get(&authorize_path(
            &id,
            BETA_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_goes_to_sign_in(&other, "document B");
    assert_eq!(docs.hits(DOC_PATH), 2);
    assert_eq!(audit_events(&app, "cimd.document_changed").await.len(), 1);

    // The pending request still shows A, everywhere.
    let login_page = unescape(&agent.get(&login).await.text().await.unwrap());
    assert!(
        login_page.contains("to continue to <strong>Alpha</strong>"),
        "{login_page}"
    );
    let signed_in = agent.sign_in(&login, USERNAME, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let consent = location(&signed_in);
    let html = consent_page(&mut agent, &consent).await;
    assert!(
        html.contains("<h1>Allow Alpha to use Test MCP?</h1>"),
        "{html}"
    );
    assert!(!html.contains("Beta"), "{html}");
    assert!(!html.contains("beta.example"), "{html}");
    assert!(
        html.contains("<dt>Returns to</dt><dd><strong>127.0.0.1</strong></dd>"),
        "{html}"
    );

    let decided = agent.decide(&consent, "allow").await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    let answer = url::Url::parse(&location(&decided)).unwrap();
    assert!(
        answer.as_str().starts_with(&format!("{REQUEST_REDIRECT}?")),
        "the code went to {answer}"
    );
    let code = param(&answer, "code").unwrap();
    let tokens = redeem_code(&app, &id, None, REQUEST_REDIRECT, &code).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    app.finish().await;

    // The code went to a loopback address: the warning belongs to this request,
    // whatever the client's current document lists (CIMD-22, CIMD-26).
    assert!(
        html.contains("receives the answer on a local address of your computer"),
        "the pending request's code goes to {REQUEST_REDIRECT}, so its consent page \
         warns about loopback even though the current document lists https only:\n{html}"
    );
}

/// The part of a consent page listing the scopes asked for now.
fn asked(html: &str) -> &str {
    let Some(start) = html.find("<p>It asks to:</p>") else {
        return "";
    };
    let rest = &html[start..];
    &rest[..rest.find("</ul>").unwrap_or(rest.len())]
}

/// A new authorization for both scopes by the signed-in `agent`: the consent location
/// and page.
async fn consent_again(agent: &mut UserAgent<'_>, id: &str) -> (String, String) {
    let path = authorize_path(
        id,
        REQUEST_REDIRECT,
        &[("resource", RESOURCE), ("scope", "tools:read tools:call")],
    );
    let consent = to_consent(agent, &path).await;
    let html = consent_page(agent, &consent).await;
    (consent, html)
}

async fn cimd_23_changed_document_asks_for_every_scope_again(backend: Backend) {
    let (app, docs) = start(backend, "", ONE_SECOND_CACHE).await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::json(&native_document(&id, "Alpha")));

    // First consent, with document A.
    let mut agent = UserAgent::new(&app);
    let scoped = authorize_path(
        &id,
        REQUEST_REDIRECT,
        &[("resource", RESOURCE), ("scope", "tools:read tools:call")],
    );
    let done = agent.run(&scoped, "allow").await;
    assert!(param(&done, "code").is_some(), "{done}");

    // Same document: the page comes again (SEC-10: a CIMD client is never approved
    // silently) but asks for nothing new.
    let (_, html) = consent_again(&mut agent, &id).await;
    assert!(asked(&html).is_empty(), "asked again:\n{html}");
    assert!(html.contains("You allowed earlier"), "{html}");
    assert!(!html.contains("details changed"), "{html}");

    // The document changes.
    let mut changed = native_document(&id, "Alpha 2");
    changed["redirect_uris"] = json!([super::DOC_REDIRECT, "http://[::1]/callback"]);
    docs.set(DOC_PATH, Reply::json(&changed));
    let_cache_lapse().await;
    let (consent, html) = consent_again(&mut agent, &id).await;
    assert!(
        html.contains("This application's details changed since you last allowed it"),
        "{html}"
    );
    let asked_now = asked(&html);
    for scope in ["tools:read", "tools:call"] {
        assert!(
            asked_now.contains(&format!("<code>{scope}</code>")),
            "{scope} not asked again:\n{html}"
        );
    }
    assert!(!html.contains("You allowed earlier"), "{html}");

    let changes = audit_events(&app, "cimd.document_changed").await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].target_id, id);
    let detail: Value = serde_json::from_str(&changes[0].detail).unwrap();
    assert_eq!(detail["client_name"], "Alpha 2", "{detail}");

    // Allowing records consent for the new document: the next page asks nothing new.
    let decided = agent.decide(&consent, "allow").await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    let (_, html) = consent_again(&mut agent, &id).await;
    assert!(asked(&html).is_empty(), "{html}");
    assert!(!html.contains("details changed"), "{html}");
    app.finish().await;
}

both_backends!(
    backend: cimd_22_pending_request_keeps_the_document_it_was_validated_with,
    cimd_23_changed_document_asks_for_every_scope_again,
);
