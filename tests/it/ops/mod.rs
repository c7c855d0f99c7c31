//! Operations endpoints and cross-cutting HTTP behaviour.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::both_backends;
use crate::harness::{Backend, TestApp};

async fn health_readiness_and_metrics(app: TestApp) {
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let ready: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    app.get("/jwks.json").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("mcp_authz_http_requests_total{route=\"/jwks.json\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mcp_authz_http_request_duration_seconds"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mcp_authz_tokens_issued_total{grant_type=\"client_credentials\"}"),
        "{metrics}"
    );
    // With the database gone, the server is alive but not ready.
    app.server().state.store.close().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.finish().await;
}

async fn sec_5_every_response_carries_security_headers_and_a_request_id(app: TestApp) {
    for path in [
        "/",
        "/healthz",
        "/jwks.json",
        "/admin/api/v1/servers",
        "/nope",
    ] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert!(!headers["x-request-id"].is_empty(), "{path}");
    }
    let echoed = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let missing = app.get("/no/such/path").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    app.finish().await;
}

async fn oversized_bodies_are_refused_without_a_500(app: TestApp) {
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(70_000));
    let response = app
        .request(Method::POST, "/admin/api/v1/servers")
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.finish().await;
}

/// A body over `server.max_body_bytes` is read before the `413` goes out, so a client
/// still sending it gets the answer rather than a reset connection.
async fn an_oversized_body_still_being_sent_gets_its_413(app: TestApp) {
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(200_000));
    let answer = app
        .post_slowly("/admin/api/v1/servers", "application/json", huge.as_bytes())
        .await
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{answer}"
    );
    assert!(answer.contains("(65536 bytes)"), "{answer}");
    app.finish().await;
}

/// A client that sends its headers and then stops sending the body it announced gets
/// `408 Request Timeout` after `server.request_timeout`, on a real socket. The guard
/// around the read only stops a broken server from hanging the suite.
async fn a_request_whose_body_never_arrives_is_answered_408(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn_with(backend, "", "[server]\nrequest_timeout = \"1s\"\n").await;
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
         grant_type=client_cre"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "no answer to a stalled request");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    // The connection is still fine for the next client.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.finish().await;
}

async fn home_page_links_the_discovery_documents(app: TestApp) {
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("{}/jwks.json", app.issuer)));
    assert!(html.contains("/.well-known/oauth-authorization-server"));
    app.finish().await;
}

async fn openapi_document_describes_the_admin_api(app: TestApp) {
    let doc: Value = app
        .get("/admin/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/admin/api/v1/servers",
        "/admin/api/v1/clients/{client_id}",
        "/admin/api/v1/users",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    assert!(doc["components"]["schemas"].get("NewServerBody").is_some());
    assert!(
        doc["components"]["securitySchemes"]
            .get("admin_token")
            .is_some()
    );
    app.finish().await;
}

both_backends!(
    health_readiness_and_metrics,
    sec_5_every_response_carries_security_headers_and_a_request_id,
    oversized_bodies_are_refused_without_a_500,
    an_oversized_body_still_being_sent_gets_its_413,
    home_page_links_the_discovery_documents,
    openapi_document_describes_the_admin_api,
);

both_backends!(backend: a_request_whose_body_never_arrives_is_answered_408);
