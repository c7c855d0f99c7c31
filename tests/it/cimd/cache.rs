//! How often the document host is asked (CIMD-12, CIMD-21): concurrent first uses
//! share one fetch, a valid document is served from the cache for its RFC 9111
//! lifetime within the configured bounds, a failure is remembered for
//! `cimd.failure_ttl` and never served as a valid document.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::task::JoinSet;

use super::{
    DOC_PATH, REQUEST_REDIRECT, USER_MESSAGE, admin_path, assert_error_page,
    assert_goes_to_sign_in, audit_events, native_document, rejections, start,
};
use crate::both_backends;
use crate::harness::flow::{RESOURCE, authorize_path};
use crate::harness::tls_fixture::Reply;
use crate::harness::{Backend, TestApp};

/// `GET /oauth2/authorize` for `client_id` with the standard parameters.
async fn authorize(app: &TestApp, client_id: &str) -> reqwest::Response {
    app.get(&authorize_path(
        client_id,
        REQUEST_REDIRECT,
        &[("resource", RESOURCE)],
    ))
    .await
}

async fn cimd_12_concurrent_first_uses_share_one_fetch(backend: Backend) {
    let (app, docs) = start(backend, "requests_per_host_per_minute = 1000", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    // Slow enough that every request arrives while the first fetch is still running.
    docs.set(
        DOC_PATH,
        Reply::json(&native_document(&id, "Popular")).delay(Duration::from_millis(500)),
    );
    let path = authorize_path(&id, REQUEST_REDIRECT, &[("resource", RESOURCE)]);
    let mut requests = JoinSet::new();
    for _ in 0..50 {
        let (http, url) = (app.http.clone(), format!("{}{path}", app.base));
        requests.spawn(async move { http.get(url).send().await.unwrap() });
    }
    for response in requests.join_all().await {
        assert_goes_to_sign_in(&response, "concurrent first use");
    }
    assert_eq!(
        docs.hits(DOC_PATH),
        1,
        "concurrent first uses were not coalesced"
    );

    // Within the lifetime (the default minimum, 5 min): no further fetch.
    for _ in 0..10 {
        assert_goes_to_sign_in(&authorize(&app, &id).await, "cached");
    }
    assert_eq!(docs.hits(DOC_PATH), 1);
    assert_eq!(audit_events(&app, "cimd.client_seen").await.len(), 1);
    app.finish().await;
}

async fn cimd_21_failing_document_is_fetched_once_and_never_served_as_valid(backend: Backend) {
    // Default outbound limits and failure_ttl (30 s): a failing host is not hammered.
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::status(500));
    for attempt in 0..20 {
        let response = authorize(&app, &id).await;
        assert_error_page(response, USER_MESSAGE, &format!("attempt {attempt}")).await;
    }
    assert_eq!(docs.hits(DOC_PATH), 1, "a failing document was refetched");
    // The document is fixed, but the remembered failure still stands; it is never
    // turned into a valid entry.
    docs.set(DOC_PATH, Reply::json(&native_document(&id, "Fixed")));
    let response = authorize(&app, &id).await;
    assert_error_page(response, USER_MESSAGE, "within failure_ttl").await;
    assert_eq!(docs.hits(DOC_PATH), 1);
    // One fetch, one audited refusal.
    assert_eq!(rejections(&app, &id).await.len(), 1);
    app.finish().await;
}

async fn cimd_21_failure_is_forgotten_after_failure_ttl(backend: Backend) {
    let (app, docs) = start(backend, "", "[cimd]\nfailure_ttl = \"1s\"").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::status(500));
    assert_error_page(authorize(&app, &id).await, USER_MESSAGE, "failing").await;
    docs.set(DOC_PATH, Reply::json(&native_document(&id, "Fixed")));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_goes_to_sign_in(&authorize(&app, &id).await, "after failure_ttl");
    assert_eq!(docs.hits(DOC_PATH), 2);
    app.finish().await;
}

async fn cimd_21_cache_lifetime_follows_cache_control_within_bounds(backend: Backend) {
    let cimd = "[cimd]\nmin_cache_ttl = \"1s\"\nmax_cache_ttl = \"1h\"";
    let (app, docs) = start(backend, "requests_per_host_per_minute = 1000", cimd).await;
    app.fixture().await;
    // (path, Cache-Control, lifetime the admin API must show, refetched after 1.2 s)
    let cases = [
        ("/c/short.json", Some("max-age=1"), 1, true),
        ("/c/hour.json", Some("public, max-age=1800"), 1800, false),
        ("/c/year.json", Some("max-age=31536000"), 3600, false),
        ("/c/no-store.json", Some("no-store"), 1, true),
        ("/c/none.json", None, 1, true),
    ];
    for (path, cache_control, _, _) in cases {
        let id = docs.url(path);
        let mut reply = Reply::json(&native_document(&id, "Cached"));
        if let Some(value) = cache_control {
            reply = reply.header("Cache-Control", value);
        }
        docs.set(path, reply);
        assert_goes_to_sign_in(&authorize(&app, &id).await, path);
    }
    for (path, _, lifetime, _) in cases {
        let view = app
            .admin_ok(
                Method::GET,
                &admin_path(&docs.url(path)),
                None,
                StatusCode::OK,
            )
            .await;
        let stored =
            view["cache_expires_at"].as_i64().unwrap() - view["fetched_at"].as_i64().unwrap();
        assert_eq!(stored, lifetime, "{path}: {view}");
    }
    // The admin list pages through them in client_id order (URLs as cursors).
    let mut listed = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = app
            .admin_ok(
                Method::GET,
                &format!("/admin/api/v1/cimd/clients{query}"),
                None,
                StatusCode::OK,
            )
            .await;
        for item in page["items"].as_array().unwrap() {
            listed.push(item["client_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&after={}", super::encoded(cursor)),
            None => break,
        }
    }
    let mut expected: Vec<String> = cases.iter().map(|c| docs.url(c.0)).collect();
    expected.sort();
    assert_eq!(listed, expected);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    for (path, _, _, refetched) in cases {
        assert_goes_to_sign_in(&authorize(&app, &docs.url(path)).await, path);
        let expected = if refetched { 2 } else { 1 };
        assert_eq!(docs.hits(path), expected, "{path}");
    }
    app.finish().await;
}

async fn cimd_12_document_fetches_are_rate_limited_per_host(backend: Backend) {
    let (app, docs) = start(backend, "requests_per_host_per_minute = 2", "").await;
    app.fixture().await;
    let paths = ["/l/one.json", "/l/two.json", "/l/three.json"];
    for path in paths {
        docs.set(
            path,
            Reply::json(&native_document(&docs.url(path), "Limited")),
        );
    }
    for path in &paths[..2] {
        assert_goes_to_sign_in(&authorize(&app, &docs.url(path)).await, path);
    }
    let third = docs.url(paths[2]);
    assert_error_page(authorize(&app, &third).await, USER_MESSAGE, "third fetch").await;
    assert_eq!(
        docs.hits(paths[2]),
        0,
        "the rate limit let a request through"
    );
    super::assert_rejected(&app, &third, "fetch_failed", "too many outbound requests").await;
    app.finish().await;
}

both_backends!(
    backend: cimd_12_concurrent_first_uses_share_one_fetch,
    cimd_12_document_fetches_are_rate_limited_per_host,
    cimd_21_failing_document_is_fetched_once_and_never_served_as_valid,
    cimd_21_failure_is_forgotten_after_failure_ttl,
    cimd_21_cache_lifetime_follows_cache_control_within_bounds,
);
