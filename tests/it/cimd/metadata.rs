//! CIMD support is advertised when on (META-7, CIMD-1), and an https client id is just
//! an unknown client when it is off.

use reqwest::StatusCode;
use serde_json::Value;

use super::{DOC_PATH, REQUEST_REDIRECT, assert_error_page, native_document, start};
use crate::both_backends;
use crate::harness::flow::{RESOURCE, assert_oauth_error, authorize_path};
use crate::harness::tls_fixture::Reply;
use crate::harness::{Backend, TestApp};

const METADATA: &str = "/.well-known/oauth-authorization-server";

async fn metadata(app: &TestApp) -> Value {
    let response = app.get(METADATA).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn meta_7_cimd_support_is_advertised_by_default(app: TestApp) {
    let document = metadata(&app).await;
    assert_eq!(
        document["client_id_metadata_document_supported"], true,
        "{document}"
    );
    app.finish().await;
}

async fn cimd_1_switched_off_cimd_is_not_advertised_and_url_ids_are_unknown(backend: Backend) {
    let (app, docs) = start(backend, "", "[cimd]\nenabled = false").await;
    app.fixture().await;
    let document = metadata(&app).await;
    assert!(
        document
            .get("client_id_metadata_document_supported")
            .is_none(),
        "{document}"
    );

    // A document that would be valid is never fetched: the id is an unknown client.
    let id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::json(&native_document(&id, "Off")));
    let response = app
        .get(&authorize_path(
            &id,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    let page = assert_error_page(response, "unknown client", "cimd off").await;
    assert!(!page.contains("metadata document"), "{page}");
    let answer = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", "whatever"),
                ("code_verifier", crate::harness::flow::VERIFIER),
                ("client_id", &id),
                ("redirect_uri", REQUEST_REDIRECT),
            ],
            None,
        )
        .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
    assert_eq!(docs.total_hits(), 0);
    app.finish().await;
}

both_backends!(meta_7_cimd_support_is_advertised_by_default);
both_backends!(backend: cimd_1_switched_off_cimd_is_not_advertised_and_url_ids_are_unknown);
