//! `/admin/api/v1/initial-access-tokens`: tokens for dynamic registration in token mode
//! (DCR-9), shown once and stored as keyed hashes (SEC-13).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{START, TestApp, assert_api_error};

const TOKENS: &str = "/admin/api/v1/initial-access-tokens";

fn path(id: &Value) -> String {
    format!("{TOKENS}/{}", id.as_str().unwrap())
}

async fn dcr_9_initial_access_token_is_shown_once_and_stored_hashed(app: TestApp) {
    let created = app
        .create_initial_access_token(json!({"description": "Acme IDE team"}))
        .await;
    let token = created["token"].as_str().unwrap();
    assert!(
        token.starts_with("mcpi_") && token.len() == 5 + 43,
        "{token}"
    );
    assert!(created["id"].as_str().unwrap().starts_with("iat_"));
    assert_eq!(created["description"], "Acme IDE team");
    assert_eq!(created["state"], "active");
    assert_eq!(created["registrations"], 0);
    assert_eq!(created["max_registrations"], Value::Null);
    assert_eq!(created["created_at"], START);
    assert_eq!(created["expires_at"], START + 7 * 24 * 3600); // the default lifetime
    assert_eq!(created["revoked_at"], Value::Null);

    let read = app
        .admin_ok(Method::GET, &path(&created["id"]), None, StatusCode::OK)
        .await;
    assert!(read.get("token").is_none(), "{read}");
    assert_eq!(read["id"], created["id"]);
    let listed = app
        .admin_ok(Method::GET, TOKENS, None, StatusCode::OK)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0].get("token").is_none(), "{listed}");
    // Neither the database nor the audit log holds the token itself.
    let store = &app.server().state.store;
    let hash = app.server().state.admin.hasher.hash(token);
    let record = store
        .find_initial_access_token_by_hash(&hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.token_id, created["id"].as_str().unwrap());
    let events = store.list_audit_events(None, 10).await.unwrap();
    let event = events
        .iter()
        .find(|e| e.action == "initial_access_token.created")
        .unwrap();
    assert_eq!(event.actor, "bootstrap-token");
    assert!(!event.detail.contains(token), "{}", event.detail);
    app.finish().await;
}

async fn dcr_9_initial_access_token_limits_are_checked(app: TestApp) {
    let limited = app
        .create_initial_access_token(json!({
            "description": "one day, two clients", "expires_in": 86_400, "max_registrations": 2,
        }))
        .await;
    assert_eq!(limited["expires_at"], START + 86_400);
    assert_eq!(limited["max_registrations"], 2);
    let longest = app
        .create_initial_access_token(json!({"description": "a year", "expires_in": 31_536_000}))
        .await;
    assert_eq!(longest["expires_at"], START + 31_536_000);
    for (body, field) in [
        (json!({}), "description"),
        (json!({"description": "  "}), "description"),
        (json!({"description": "x".repeat(201)}), "description"),
        (json!({"description": "x", "expires_in": 0}), "expires_in"),
        (
            json!({"description": "x", "expires_in": 31_536_001}),
            "expires_in",
        ),
        (
            json!({"description": "x", "max_registrations": 0}),
            "max_registrations",
        ),
        (json!({"description": "x", "scope": "everything"}), "scope"),
    ] {
        let response = app.admin(Method::POST, TOKENS, Some(body.clone())).await;
        assert_api_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            Some(field),
        )
        .await;
    }
    let unauthenticated = app
        .request(Method::POST, TOKENS)
        .json(&json!({"description": "x"}))
        .send()
        .await
        .unwrap();
    assert_api_error(
        unauthenticated,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    )
    .await;
    let listed = app
        .admin_ok(Method::GET, TOKENS, None, StatusCode::OK)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    app.finish().await;
}

async fn dcr_9_initial_access_tokens_are_paged_and_revoked(app: TestApp) {
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = app
            .create_initial_access_token(json!({"description": format!("token {n}")}))
            .await;
        ids.push(created["id"].clone());
    }
    let first = app
        .admin_ok(
            Method::GET,
            &format!("{TOKENS}?limit=2"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .admin_ok(
            Method::GET,
            &format!("{TOKENS}?limit=2&after={cursor}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);

    let revoked = &ids[0];
    app.admin_ok(Method::DELETE, &path(revoked), None, StatusCode::NO_CONTENT)
        .await;
    let read = app
        .admin_ok(Method::GET, &path(revoked), None, StatusCode::OK)
        .await;
    assert_eq!(read["state"], "revoked");
    assert_eq!(read["revoked_at"], START);
    // Revoking again changes nothing and records nothing more.
    app.admin_ok(Method::DELETE, &path(revoked), None, StatusCode::NO_CONTENT)
        .await;
    let store = &app.server().state.store;
    let events = store.list_audit_events(None, 50).await.unwrap();
    let revocations = events
        .iter()
        .filter(|e| e.action == "initial_access_token.revoked")
        .count();
    assert_eq!(revocations, 1);
    for method in [Method::GET, Method::DELETE] {
        let response = app
            .admin(method, &format!("{TOKENS}/iat_nothing"), None)
            .await;
        assert_api_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    }
    // Expiry shows in the state.
    app.clock
        .advance(std::time::Duration::from_secs(7 * 24 * 3600));
    let expired = app
        .admin_ok(Method::GET, &path(&ids[1]), None, StatusCode::OK)
        .await;
    assert_eq!(expired["state"], "expired");
    app.finish().await;
}

async fn initial_access_tokens_are_in_the_openapi_document(app: TestApp) {
    let doc: Value = app
        .get("/admin/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let paths = &doc["paths"];
    assert!(paths[TOKENS]["post"].is_object(), "{paths}");
    assert!(paths[TOKENS]["get"].is_object(), "{paths}");
    let one = format!("{TOKENS}/{{id}}");
    assert!(paths[&one]["get"].is_object(), "{paths}");
    assert!(paths[&one]["delete"].is_object(), "{paths}");
    app.finish().await;
}

both_backends!(
    dcr_9_initial_access_token_is_shown_once_and_stored_hashed,
    dcr_9_initial_access_token_limits_are_checked,
    dcr_9_initial_access_tokens_are_paged_and_revoked,
    initial_access_tokens_are_in_the_openapi_document,
);
