//! Domain trust policies (CIMD-28): host allow and deny rules from the configuration
//! and from the admin API, approval of new clients, blocking a client, and the admin
//! routes' authentication.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{
    DOC_PATH, REQUEST_REDIRECT, admin_path, assert_error_page, assert_goes_to_sign_in,
    assert_rejected, audit_events, encoded, native_document, start,
};
use crate::both_backends;
use crate::harness::flow::{RESOURCE, UserAgent, authorize_path, redeem_code};
use crate::harness::tls_fixture::{DocServer, Reply};
use crate::harness::{Backend, TestApp, assert_api_error};

const HOST_REFUSED: &str = "this server does not accept clients from this host";
const RULES: &str = "/admin/api/v1/cimd/host-rules";

async fn authorize(app: &TestApp, client_id: &str) -> reqwest::Response {
    app.get(&authorize_path(
        client_id,
        REQUEST_REDIRECT,
        &[("resource", RESOURCE)],
    ))
    .await
}

/// The standard document on `docs`; returns its client id.
fn serve_document(docs: &DocServer, name: &str) -> String {
    let id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::json(&native_document(&id, name)));
    id
}

async fn cimd_28_configured_deny_rule_refuses_the_host_without_a_fetch(backend: Backend) {
    let (app, docs) = start(backend, "", "[cimd]\ndeny_hosts = [\"localhost\"]").await;
    app.fixture().await;
    let id = serve_document(&docs, "Denied");
    assert_error_page(authorize(&app, &id).await, HOST_REFUSED, "deny_hosts").await;
    assert_eq!(docs.total_hits(), 0);
    assert_rejected(&app, &id, "host_refused", "localhost").await;
    app.finish().await;
}

async fn cimd_28_configured_allow_list_refuses_other_hosts(backend: Backend) {
    let (app, docs) = start(backend, "", "[cimd]\nallow_hosts = [\"*.example.com\"]").await;
    app.fixture().await;
    let id = serve_document(&docs, "Not listed");
    assert_error_page(authorize(&app, &id).await, HOST_REFUSED, "allow_hosts").await;
    assert_eq!(docs.total_hits(), 0);
    assert_rejected(&app, &id, "host_refused", "localhost").await;
    app.finish().await;
}

/// `(pattern, action, source)` of every listed rule.
fn rule_summary(list: &Value) -> Vec<(String, String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let field = |name: &str| r[name].as_str().unwrap_or_default().to_owned();
            (field("pattern"), field("action"), field("source"))
        })
        .collect()
}

async fn cimd_28_host_rules_from_the_admin_api_apply_to_the_next_request(backend: Backend) {
    let (app, docs) = start(backend, "", "[cimd]\ndeny_hosts = [\"evil.example\"]").await;
    app.fixture().await;
    let id = serve_document(&docs, "Ruled");
    assert_goes_to_sign_in(&authorize(&app, &id).await, "no rule");

    // A deny rule applies at once, even to a cached document.
    let rule = app
        .admin_ok(
            Method::POST,
            RULES,
            Some(json!({"pattern": "localhost", "action": "deny", "note": "testing"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(rule["pattern"], "localhost", "{rule}");
    assert_eq!(rule["action"], "deny", "{rule}");
    assert_eq!(rule["source"], "api", "{rule}");
    let rule_id = rule["rule_id"].as_str().unwrap().to_owned();
    assert_error_page(authorize(&app, &id).await, HOST_REFUSED, "api deny").await;
    // The same rule twice is a conflict (patterns are stored lower-case).
    let twice = app
        .admin(
            Method::POST,
            RULES,
            Some(json!({"pattern": "LocalHost", "action": "deny"})),
        )
        .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);

    let list = app.admin_ok(Method::GET, RULES, None, StatusCode::OK).await;
    let summary = rule_summary(&list);
    for wanted in [
        ("evil.example", "deny", "config"),
        ("localhost", "deny", "api"),
    ] {
        let wanted = (
            wanted.0.to_owned(),
            wanted.1.to_owned(),
            wanted.2.to_owned(),
        );
        assert!(summary.contains(&wanted), "{wanted:?} not in {list}");
    }
    assert_eq!(summary.len(), 2, "{list}");

    let deleted = app
        .admin(Method::DELETE, &format!("{RULES}/{rule_id}"), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_goes_to_sign_in(&authorize(&app, &id).await, "rule deleted");
    let again = app
        .admin(Method::DELETE, &format!("{RULES}/{rule_id}"), None)
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // An allow rule for other hosts turns the rules into an allow list.
    let allow = app
        .admin_ok(
            Method::POST,
            RULES,
            Some(json!({"pattern": "*.example.com", "action": "allow"})),
            StatusCode::CREATED,
        )
        .await;
    assert_error_page(authorize(&app, &id).await, HOST_REFUSED, "api allow list").await;
    let allow_id = allow["rule_id"].as_str().unwrap();
    app.admin_ok(
        Method::DELETE,
        &format!("{RULES}/{allow_id}"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_goes_to_sign_in(&authorize(&app, &id).await, "allow rule deleted");

    // Bad rules are refused, and nothing is added.
    for (body, field) in [
        (
            json!({"pattern": "local host", "action": "deny"}),
            "pattern",
        ),
        (
            json!({"pattern": "https://localhost", "action": "deny"}),
            "pattern",
        ),
        (json!({"pattern": "*", "action": "deny"}), "pattern"),
        (json!({"pattern": "", "action": "deny"}), "pattern"),
        (json!({"pattern": "localhost", "action": "block"}), "action"),
    ] {
        let response = app.admin(Method::POST, RULES, Some(body.clone())).await;
        assert_api_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            Some(field),
        )
        .await;
    }
    let list = app.admin_ok(Method::GET, RULES, None, StatusCode::OK).await;
    assert_eq!(rule_summary(&list).len(), 1, "{list}");
    for action in ["cimd.host_rule_created", "cimd.host_rule_deleted"] {
        assert_eq!(audit_events(&app, action).await.len(), 2, "{action}");
    }
    assert_eq!(docs.hits(DOC_PATH), 1);
    app.finish().await;
}

async fn cimd_28_new_clients_wait_for_approval_and_can_be_blocked(backend: Backend) {
    let (app, docs) = start(backend, "", "[cimd]\nrequire_approval = true").await;
    app.fixture().await;
    let id = serve_document(&docs, "Needs approval");
    assert_error_page(
        authorize(&app, &id).await,
        "this client is waiting for approval by an administrator of this server",
        "first use",
    )
    .await;
    let list = app
        .admin_ok(
            Method::GET,
            "/admin/api/v1/cimd/clients",
            None,
            StatusCode::OK,
        )
        .await;
    let listed = &list["items"][0];
    assert_eq!(listed["client_id"], id.as_str(), "{list}");
    assert_eq!(listed["standing"], "pending", "{list}");
    assert_eq!(listed["status"], "valid", "{list}");
    assert_eq!(listed["approved_at"], Value::Null, "{list}");

    let approved = app
        .admin_ok(
            Method::POST,
            &format!("{}/approve", admin_path(&id)),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(approved["standing"], "approved", "{approved}");
    assert!(approved["approved_at"].is_i64(), "{approved}");
    assert!(
        approved["approved_by"]
            .as_str()
            .is_some_and(|by| by != "policy"),
        "{approved}"
    );
    assert_eq!(audit_events(&app, "cimd.client_approved").await.len(), 1);

    // Approved: the flow goes through (the document is still cached: one fetch).
    let mut agent = UserAgent::new(&app);
    let code = agent
        .code(&id, REQUEST_REDIRECT, &[("resource", RESOURCE)])
        .await;
    redeem_code(&app, &id, None, REQUEST_REDIRECT, &code).await;
    assert_eq!(docs.hits(DOC_PATH), 1);

    // Blocked by an administrator.
    let blocked = app
        .admin_ok(
            Method::PATCH,
            &admin_path(&id),
            Some(json!({"enabled": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(blocked["standing"], "disabled", "{blocked}");
    assert_eq!(blocked["enabled"], false, "{blocked}");
    assert_error_page(
        authorize(&app, &id).await,
        "this client has been disabled by an administrator",
        "blocked",
    )
    .await;
    assert_eq!(audit_events(&app, "cimd.client_disabled").await.len(), 1);
    app.admin_ok(
        Method::PATCH,
        &admin_path(&id),
        Some(json!({"enabled": true})),
        StatusCode::OK,
    )
    .await;
    assert_goes_to_sign_in(&authorize(&app, &id).await, "unblocked");

    // The generic client API does not edit a CIMD client: its document describes it.
    let generic = format!("/admin/api/v1/clients/{}", encoded(&id));
    let response = app
        .admin(
            Method::PATCH,
            &generic,
            Some(json!({"client_name": "Renamed"})),
        )
        .await;
    assert_api_error(
        response,
        StatusCode::CONFLICT,
        "conflict",
        Some("client_id"),
    )
    .await;

    // Unknown CIMD clients and non-URL ids are 404.
    let unknown = admin_path(&docs.url("/clients/unknown.json"));
    for (method, path, body) in [
        (Method::POST, format!("{unknown}/approve"), None),
        (
            Method::PATCH,
            unknown.clone(),
            Some(json!({"enabled": false})),
        ),
        (
            Method::POST,
            "/admin/api/v1/cimd/clients/cli_123/approve".to_owned(),
            None,
        ),
    ] {
        let response = app.admin(method.clone(), &path, body).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let bad_patch = app
        .admin(
            Method::PATCH,
            &admin_path(&id),
            Some(json!({"enabled": "no"})),
        )
        .await;
    assert_eq!(bad_patch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.finish().await;
}

async fn cimd_23_changed_document_waits_for_approval_again(backend: Backend) {
    let (app, docs) = start(
        backend,
        "",
        "[cimd]\nrequire_approval = true\nmin_cache_ttl = \"1s\"\nmax_cache_ttl = \"1s\"",
    )
    .await;
    app.fixture().await;
    let id = serve_document(&docs, "First name");
    authorize(&app, &id).await;
    app.admin_ok(
        Method::POST,
        &format!("{}/approve", admin_path(&id)),
        None,
        StatusCode::OK,
    )
    .await;
    assert_goes_to_sign_in(&authorize(&app, &id).await, "approved");

    // Same security-relevant members after the cache lapses: still approved.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_goes_to_sign_in(&authorize(&app, &id).await, "unchanged refetch");
    assert_eq!(docs.hits(DOC_PATH), 2);

    // A new name (a security-relevant member, CIMD-23) puts it back in the queue.
    serve_document(&docs, "Second name");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_error_page(
        authorize(&app, &id).await,
        "this client is waiting for approval by an administrator of this server",
        "changed document",
    )
    .await;
    let view = app
        .admin_ok(Method::GET, &admin_path(&id), None, StatusCode::OK)
        .await;
    assert_eq!(view["standing"], "pending", "{view}");
    assert_eq!(view["client_name"], "Second name", "{view}");
    assert_eq!(audit_events(&app, "cimd.document_changed").await.len(), 1);
    app.finish().await;
}

async fn cimd_28_a_blocked_client_cannot_be_deleted_back_into_use(backend: Backend) {
    let (app, docs) = start(backend, "", "").await;
    app.fixture().await;
    let id = serve_document(&docs, "Blocked");
    assert_goes_to_sign_in(&authorize(&app, &id).await, "first use");
    app.admin_ok(
        Method::PATCH,
        &admin_path(&id),
        Some(json!({"enabled": false})),
        StatusCode::OK,
    )
    .await;
    let generic = format!("/admin/api/v1/clients/{}", encoded(&id));
    let response = app.admin(Method::DELETE, &generic, None).await;
    assert_api_error(
        response,
        StatusCode::CONFLICT,
        "conflict",
        Some("client_id"),
    )
    .await;
    assert_error_page(
        authorize(&app, &id).await,
        "this client has been disabled by an administrator",
        "still blocked",
    )
    .await;
    // An enabled CIMD client may be deleted: it is forgotten and seen again on next use.
    app.admin_ok(
        Method::PATCH,
        &admin_path(&id),
        Some(json!({"enabled": true})),
        StatusCode::OK,
    )
    .await;
    let deleted = app.admin(Method::DELETE, &generic, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_goes_to_sign_in(&authorize(&app, &id).await, "after delete");
    app.finish().await;
}

async fn cimd_28_admin_routes_require_the_admin_token(app: TestApp) {
    let id = "https://toolkit.example/client.json";
    let client = admin_path(id);
    for (method, path) in [
        (Method::GET, "/admin/api/v1/cimd/clients".to_owned()),
        (Method::GET, client.clone()),
        (Method::PATCH, client.clone()),
        (Method::POST, format!("{client}/approve")),
        (Method::GET, RULES.to_owned()),
        (Method::POST, RULES.to_owned()),
        (Method::DELETE, format!("{RULES}/hrl_123")),
    ] {
        let anonymous = app
            .request(method.clone(), &path)
            .json(&json!({"enabled": false, "pattern": "x.example", "action": "deny"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        let wrong = app
            .request(method.clone(), &path)
            .bearer_auth("not-the-admin-token")
            .json(&json!({"enabled": false, "pattern": "x.example", "action": "deny"}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let rules = app.admin_ok(Method::GET, RULES, None, StatusCode::OK).await;
    assert_eq!(rules["items"], json!([]), "nothing was added: {rules}");
    app.finish().await;
}

both_backends!(
    backend: cimd_28_configured_deny_rule_refuses_the_host_without_a_fetch,
    cimd_28_configured_allow_list_refuses_other_hosts,
    cimd_28_host_rules_from_the_admin_api_apply_to_the_next_request,
    cimd_28_new_clients_wait_for_approval_and_can_be_blocked,
    cimd_23_changed_document_waits_for_approval_again,
    cimd_28_a_blocked_client_cannot_be_deleted_back_into_use,
);
both_backends!(cimd_28_admin_routes_require_the_admin_token);
