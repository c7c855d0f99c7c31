//! Every way a document can be refused ends the same way for the user: an error page,
//! never a redirect to the client, with one message; the reason goes to the audit log
//! (CIMD-3, CIMD-7, CIMD-8, CIMD-11..17, CIMD-24). At the token endpoint it is
//! `invalid_client`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    DOC_PATH, REQUEST_REDIRECT, USER_MESSAGE, admin_path, assert_error_page,
    assert_goes_to_sign_in, assert_rejected, encoded, native_document, rejections, start,
};
use crate::both_backends;
use crate::harness::flow::{
    LOOPBACK_REDIRECT, RESOURCE, UserAgent, VERIFIER, assert_oauth_error, authorize_path,
    redeem_code,
};
use crate::harness::tls_fixture::Reply;
use crate::harness::{Backend, TestApp};

/// A document refused for one reason, and what the audit log must say about it.
struct Case {
    path: &'static str,
    reply: Reply,
    kind: &'static str,
    reason: &'static str,
}

/// The standard document for `path` on `docs`, changed by `edit`.
fn edited(
    docs: &crate::harness::tls_fixture::DocServer,
    path: &str,
    edit: impl FnOnce(&mut Value),
) -> Value {
    let mut document = native_document(&docs.url(path), "Refused client");
    edit(&mut document);
    document
}

fn cases(docs: &crate::harness::tls_fixture::DocServer) -> Vec<Case> {
    let members = |v: &mut Value| v.as_object_mut().unwrap().clone();
    let private_jwk = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
    }]});
    let public_jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }]});
    // A valid document followed by 2 MiB of JSON whitespace: about 2 KB gzipped, far
    // over the cap once decompressed.
    let bomb_text = format!(
        "{}{}",
        native_document(&docs.url("/r/bomb.json"), "Bomb"),
        " ".repeat(2 << 20)
    );
    let bomb = Reply::raw(bomb_text)
        .content_type("application/json")
        .gzip();
    assert!(
        bomb.wire_body().len() < 5120,
        "the bomb must fit the cap compressed"
    );
    let duplicate_id = docs.url("/r/duplicate.json");
    let duplicate = format!(
        r#"{{"client_id": "{duplicate_id}", "client_name": "One", "client_name": "Two",
            "redirect_uris": ["http://127.0.0.1/callback"]}}"#
    );
    let mut padded = edited(docs, "/r/large.json", |_| {});
    padded["description"] = json!("x".repeat(6 * 1024));
    vec![
        // EXAMPLES.md section 3: the trailing slash (CIMD-14).
        Case {
            path: "/r/trailing-slash.json",
            reply: Reply::json(&edited(docs, "/r/trailing-slash.json", |d| {
                d["client_id"] = json!(format!("{}/", docs.url("/r/trailing-slash.json")));
            })),
            kind: "invalid_document",
            reason: "client_id in the document differs from the URL",
        },
        Case {
            path: "/r/no-name.json",
            reply: Reply::json(&edited(docs, "/r/no-name.json", |d| {
                let mut m = members(d);
                m.remove("client_name");
                *d = Value::Object(m);
            })),
            kind: "invalid_document",
            reason: "client_name is missing",
        },
        Case {
            path: "/r/no-redirects.json",
            reply: Reply::json(&edited(docs, "/r/no-redirects.json", |d| {
                d["redirect_uris"] = json!([]);
            })),
            kind: "invalid_document",
            reason: "redirect_uris is missing or empty",
        },
        Case {
            path: "/r/secret-basic.json",
            reply: Reply::json(&edited(docs, "/r/secret-basic.json", |d| {
                d["token_endpoint_auth_method"] = json!("client_secret_basic");
            })),
            kind: "invalid_document",
            reason: "client_secret_basic needs a shared secret",
        },
        Case {
            path: "/r/client-secret.json",
            reply: Reply::json(&edited(docs, "/r/client-secret.json", |d| {
                d["client_secret"] = json!("s3cr3t-in-a-public-document");
            })),
            kind: "invalid_document",
            reason: "must not contain client_secret",
        },
        Case {
            path: "/r/private-jwk.json",
            reply: Reply::json(&edited(docs, "/r/private-jwk.json", |d| {
                d["token_endpoint_auth_method"] = json!("private_key_jwt");
                d["jwks"] = private_jwk.clone();
            })),
            kind: "invalid_document",
            reason: "private member \"d\"",
        },
        Case {
            path: "/r/jwks-and-uri.json",
            reply: Reply::json(&edited(docs, "/r/jwks-and-uri.json", |d| {
                d["token_endpoint_auth_method"] = json!("private_key_jwt");
                d["jwks"] = public_jwks.clone();
                d["jwks_uri"] = json!("https://toolkit.example/jwks.json");
            })),
            kind: "invalid_document",
            reason: "jwks and jwks_uri must not both be given",
        },
        Case {
            path: "/r/html.json",
            reply: Reply::json(&edited(docs, "/r/html.json", |_| {})).content_type("text/html"),
            kind: "invalid_document",
            reason: "Content-Type \"text/html\" is not JSON",
        },
        Case {
            path: "/r/large.json",
            reply: Reply::json(&padded),
            kind: "fetch_failed",
            reason: "exceeds 5120 bytes",
        },
        Case {
            path: "/r/bomb.json",
            reply: bomb,
            kind: "fetch_failed",
            reason: "exceeds 5120 bytes",
        },
        Case {
            path: "/r/duplicate.json",
            reply: Reply::raw(duplicate).content_type("application/json"),
            kind: "invalid_document",
            reason: "duplicate member \"client_name\"",
        },
        Case {
            path: "/r/array.json",
            reply: Reply::raw(json!([docs.url("/r/array.json")]).to_string())
                .content_type("application/json"),
            kind: "invalid_document",
            reason: "not a JSON object",
        },
        // CIMD-7: a redirect, even to a valid document on the same host, is a failure.
        Case {
            path: "/r/redirect.json",
            reply: Reply::status(302).header("Location", "/r/target.json"),
            kind: "fetch_failed",
            reason: "redirected (status 302)",
        },
        // CIMD-8: only 200 is success.
        Case {
            path: "/r/missing.json",
            reply: Reply::status(404),
            kind: "fetch_failed",
            reason: "status 404",
        },
        Case {
            path: "/r/broken.json",
            reply: Reply::json(&edited(docs, "/r/broken.json", |_| {})).with_status(500),
            kind: "fetch_failed",
            reason: "status 500",
        },
    ]
}

async fn cimd_24_every_refused_document_gets_one_error_page_and_an_audited_reason(
    backend: Backend,
) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    docs.set(
        "/r/target.json",
        Reply::json(&native_document(&docs.url("/r/redirect.json"), "Target")),
    );
    let cases = cases(&docs);
    for case in &cases {
        docs.set(case.path, case.reply.clone());
    }
    for case in &cases {
        let id = docs.url(case.path);
        let response = app
            .get(&authorize_path(
                &id,
                REQUEST_REDIRECT,
                &[("resource", RESOURCE)],
            ))
            .await;
        let page = assert_error_page(response, USER_MESSAGE, case.path).await;
        // CIMD-24: the detail is for the audit log only.
        assert!(!page.contains(case.reason), "{}: {page}", case.path);
        assert_eq!(docs.hits(case.path), 1, "{}", case.path);
        assert_rejected(&app, &id, case.kind, case.reason).await;
    }
    assert_eq!(
        docs.hits("/r/target.json"),
        0,
        "CIMD-7: the redirect was followed"
    );
    // Nothing refused is remembered as a client (EXAMPLES.md section 3: nothing cached).
    let list = app
        .admin_ok(
            Method::GET,
            "/admin/api/v1/cimd/clients",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(list["items"], json!([]), "{list}");
    assert!(
        super::audit_events(&app, "cimd.client_seen")
            .await
            .is_empty()
    );
    app.finish().await;
}

async fn cimd_3_malformed_client_ids_are_refused_without_a_fetch(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let port = docs.port();
    let good = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::json(&native_document(&good, "Good")));
    let long = format!("https://localhost:{port}/{}.json", "a".repeat(2048));
    let cimd_refused = [
        format!("{good}?v=1"),
        format!("{good}#fragment"),
        format!("https://localhost:{port}/clients/../clients/desktop.json"),
        format!("https://localhost:{port}/clients/./desktop.json"),
        format!("https://localhost:{port}/clients/%2e%2e/clients/desktop.json"),
        format!("https://user@localhost:{port}/clients/desktop.json"),
        format!("https://user:pw@localhost:{port}/clients/desktop.json"),
        format!("https://LOCALHOST:{port}/clients/desktop.json"),
        format!("https://Localhost:{port}/clients/desktop.json"),
        format!("https://localhost:{port}"),
        format!("https://localhost:{port}/"),
        "https://localhost:443/clients/desktop.json".to_owned(),
        long,
    ];
    for id in &cimd_refused {
        let response = app
            .get(&authorize_path(
                id,
                REQUEST_REDIRECT,
                &[("resource", RESOURCE)],
            ))
            .await;
        assert_error_page(response, USER_MESSAGE, id).await;
        assert_rejected(&app, id, "invalid_url", "client_id").await;
    }
    // Not https://: not a document URL at all (CIMD-2), so an unknown client.
    for id in [
        format!("http://localhost:{port}/clients/desktop.json"),
        format!("HTTPS://localhost:{port}/clients/desktop.json"),
    ] {
        let response = app
            .get(&authorize_path(
                &id,
                REQUEST_REDIRECT,
                &[("resource", RESOURCE)],
            ))
            .await;
        assert_error_page(response, "unknown client", &id).await;
        assert!(rejections(&app, &id).await.is_empty(), "{id}");
    }
    assert_eq!(docs.total_hits(), 0, "a refused URL was fetched");

    // The fixture was there all along: the normal form of the same id works.
    let response = app
        .get(&authorize_path(
            &good,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_goes_to_sign_in(&response, &good);
    assert_eq!(docs.total_hits(), 1);
    app.finish().await;
}

/// GET `path` on `app` with a fresh client; returns the status and how long it took.
async fn timed_get(http: &reqwest::Client, url: String) -> (StatusCode, Duration) {
    let started = Instant::now();
    let response = http.get(url).send().await.unwrap();
    let status = response.status();
    let _ = response.bytes().await.unwrap();
    (status, started.elapsed())
}

async fn cimd_12_slow_document_times_out_while_the_server_keeps_answering(backend: Backend) {
    let (app, docs) = start(
        backend,
        "connect_timeout = \"1s\"\ntotal_timeout = \"2s\"",
        "",
    )
    .await;
    let fixture = app.fixture().await;
    let id = docs.url("/clients/slow.json");
    // About 200 bytes at one byte per 100 ms: 20 s if nothing stopped it.
    docs.set(
        "/clients/slow.json",
        Reply::json(&native_document(&id, "Slow")).drip(Duration::from_millis(100)),
    );
    let slow_path = authorize_path(&id, REQUEST_REDIRECT, &[("resource", RESOURCE)]);
    let slow = {
        let (http, url) = (app.http.clone(), format!("{}{slow_path}", app.base));
        tokio::spawn(async move {
            let started = Instant::now();
            let response = http.get(url).send().await.unwrap();
            (response, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Meanwhile the server answers other requests at once.
    let (status, health) = timed_get(&app.http, format!("{}/healthz", app.base)).await;
    assert_eq!(status, StatusCode::OK);
    let registered = authorize_path(
        &fixture.desktop,
        LOOPBACK_REDIRECT,
        &[("resource", RESOURCE)],
    );
    let (status, authorize) = timed_get(&app.http, format!("{}{registered}", app.base)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        health < Duration::from_millis(1000),
        "/healthz took {health:?}"
    );
    assert!(
        authorize < Duration::from_millis(1000),
        "a registered client's authorize took {authorize:?}"
    );

    let (response, elapsed) = slow.await.unwrap();
    assert_error_page(response, USER_MESSAGE, "slow document").await;
    assert!(
        elapsed >= Duration::from_millis(1900),
        "gave up after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(4500),
        "not refused within the 2 s total timeout: {elapsed:?}"
    );
    assert_rejected(&app, &id, "fetch_failed", "timed out").await;
    app.finish().await;
}

/// A token request naming `client_id` as a public client.
async fn token_as(app: &TestApp, client_id: &str) -> crate::harness::flow::OAuthAnswer {
    app.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
            ("redirect_uri", REQUEST_REDIRECT),
        ],
        None,
    )
    .await
}

async fn cimd_24_token_endpoint_answers_invalid_client_when_the_document_fails(backend: Backend) {
    let cimd = "[cimd]\nmin_cache_ttl = \"1s\"\nmax_cache_ttl = \"1s\"";
    let (app, docs) = start(backend, "", cimd).await;
    app.fixture().await;

    // A client id whose document was never valid.
    let broken = docs.url("/clients/broken.json");
    docs.set("/clients/broken.json", Reply::status(500));
    assert_oauth_error(
        &token_as(&app, &broken).await,
        StatusCode::BAD_REQUEST,
        "invalid_client",
    );
    let basic_id = encoded(&broken);
    let answer = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", "no-such-code"),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REQUEST_REDIRECT),
            ],
            Some((&basic_id, "a-secret")),
        )
        .await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(answer.1.get("www-authenticate").is_some(), "{:?}", answer.1);
    assert_eq!(
        docs.hits("/clients/broken.json"),
        1,
        "failure not remembered"
    );

    // A client that worked, whose document then fails once the cache lapses.
    let id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::json(&native_document(&id, "Soon broken")));
    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(&id, REQUEST_REDIRECT, &[("resource", RESOURCE)])
        .await;
    let tokens = redeem_code(&app, &id, None, REQUEST_REDIRECT, &code).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    docs.set(DOC_PATH, Reply::status(500));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let answer = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &id),
            ],
            None,
        )
        .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    assert_rejected(&app, &id, "fetch_failed", "status 500").await;
    // The admin API shows the client as failing, with the reason.
    let view = app
        .admin_ok(Method::GET, &admin_path(&id), None, StatusCode::OK)
        .await;
    assert_eq!(view["status"], "failing", "{view}");
    assert!(
        view["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{view}"
    );
    assert_eq!(view["client_name"], "Soon broken", "{view}");
    // And the authorization endpoint refuses it with the page.
    let response = app
        .get(&authorize_path(
            &id,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_error_page(response, USER_MESSAGE, "failing client").await;
    app.finish().await;
}

both_backends!(
    backend: cimd_24_every_refused_document_gets_one_error_page_and_an_audited_reason,
    cimd_3_malformed_client_ids_are_refused_without_a_fetch,
    cimd_12_slow_document_times_out_while_the_server_keeps_answering,
    cimd_24_token_endpoint_answers_invalid_client_when_the_document_fails,
);
