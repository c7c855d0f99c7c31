//! `/admin/api/v1/users`: local accounts with argon2 password hashes (SEC-13).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, assert_api_error};
use mcp_authz::domain::user::Username;
use mcp_authz::session::password::verify_password;
use secrecy::SecretString;

const USERS: &str = "/admin/api/v1/users";

async fn sec_13_user_password_is_stored_as_argon2(app: TestApp) {
    let body = json!({"username": "Alice", "password": "correct horse battery"});
    let created = app
        .admin_ok(Method::POST, USERS, Some(body), StatusCode::CREATED)
        .await;
    assert_eq!(created["username"], "alice");
    assert!(created["user_id"].as_str().unwrap().starts_with("usr_"));
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    let record = app
        .server()
        .state
        .store
        .find_user_by_username(&Username::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    let hash = record.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(
        verify_password(SecretString::from("correct horse battery"), hash.clone())
            .await
            .unwrap()
    );
    // The audit event carries no password.
    let events = app
        .server()
        .state
        .store
        .list_audit_events(None, 1)
        .await
        .unwrap();
    assert!(!events[0].detail.contains("correct horse"));
    app.finish().await;
}

async fn duplicate_and_invalid_users_are_refused(app: TestApp) {
    app.admin_ok(
        Method::POST,
        USERS,
        Some(json!({"username": "bob", "password": "password1"})),
        StatusCode::CREATED,
    )
    .await;
    let duplicate = app
        .admin(
            Method::POST,
            USERS,
            Some(json!({"username": "BOB", "password": "password2"})),
        )
        .await;
    assert_api_error(
        duplicate,
        StatusCode::CONFLICT,
        "conflict",
        Some("username"),
    )
    .await;
    for (body, field) in [
        (
            json!({"username": "carol", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "no spaces", "password": "password1"}),
            "username",
        ),
        (json!({"username": "carol"}), "password"),
    ] {
        let response = app.admin(Method::POST, USERS, Some(body.clone())).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{body}");
    }
    let list = app.admin_ok(Method::GET, USERS, None, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    app.finish().await;
}

async fn users_are_updated_and_deleted(app: TestApp) {
    let created = app
        .admin_ok(
            Method::POST,
            USERS,
            Some(json!({"username": "dave", "password": "password1"})),
            StatusCode::CREATED,
        )
        .await;
    let id = created["user_id"].as_str().unwrap();
    let updated = app
        .admin_ok(
            Method::PATCH,
            &format!("{USERS}/{id}"),
            Some(json!({"password": "new password", "enabled": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(updated["enabled"], false);
    let record = app
        .server()
        .state
        .store
        .find_user_by_username(&Username::parse("dave").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        verify_password(
            SecretString::from("new password"),
            record.password_hash.unwrap()
        )
        .await
        .unwrap()
    );
    assert_eq!(
        app.admin(Method::DELETE, &format!("{USERS}/{id}"), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.admin(Method::GET, &format!("{USERS}/{id}"), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}

/// The recorded email (what verified-email linking matches): lower-cased, unique,
/// checked, changed and removed through PATCH.
async fn user_email_is_recorded_unique_and_removable(app: TestApp) {
    let created = app
        .admin_ok(
            Method::POST,
            USERS,
            Some(
                json!({"username": "erin", "password": "password1", "email": "Erin@Corp.Example"}),
            ),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(created["email"], "erin@corp.example", "{created}");
    let id = created["user_id"].as_str().unwrap();
    let path = format!("{USERS}/{id}");
    let taken = json!({"username": "erin2", "password": "password1", "email": "ERIN@corp.example"});
    let duplicate = app.admin(Method::POST, USERS, Some(taken)).await;
    assert_api_error(duplicate, StatusCode::CONFLICT, "conflict", Some("email")).await;
    for bad in ["erin", "erin@", "@corp.example", "erin @corp.example"] {
        let body = json!({"username": "frank", "password": "password1", "email": bad});
        let response = app.admin(Method::POST, USERS, Some(body)).await;
        assert_api_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            Some("email"),
        )
        .await;
    }
    let changed = app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"email": "erin.lee@corp.example"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(changed["email"], "erin.lee@corp.example", "{changed}");
    // Her old address is free again.
    let body = json!({"username": "erin2", "password": "password1", "email": "erin@corp.example"});
    app.admin_ok(Method::POST, USERS, Some(body), StatusCode::CREATED)
        .await;
    let removed = app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"email": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(removed["email"], Value::Null, "{removed}");
    // An absent member leaves the address alone.
    let kept = app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"enabled": true})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(kept["email"], Value::Null, "{kept}");
    app.finish().await;
}

/// `?q=` finds users whose username or email contains the term, in any case; LIKE
/// wildcards in the term are plain characters.
async fn users_are_searched_by_name_or_email(app: TestApp) {
    for (username, email) in [
        ("alice", "alice@corp.example"),
        ("bob", "b@home.example"),
        ("carol_1", "c@corp.example"),
    ] {
        let body = json!({"username": username, "password": "password1", "email": email});
        app.admin_ok(Method::POST, USERS, Some(body), StatusCode::CREATED)
            .await;
    }
    let names = |found: &Value| -> Vec<String> {
        found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = |q: &str| {
        let path = format!("{USERS}?q={q}");
        let app = &app;
        async move { app.admin_ok(Method::GET, &path, None, StatusCode::OK).await }
    };
    assert_eq!(names(&search("ALI").await), ["alice"]);
    assert_eq!(names(&search("corp").await), ["alice", "carol_1"]);
    assert_eq!(names(&search("%25").await), Vec::<String>::new());
    assert_eq!(names(&search("_").await), ["carol_1"]);
    assert_eq!(names(&search("").await).len(), 3);
    app.finish().await;
}

both_backends!(
    users_are_searched_by_name_or_email,
    user_email_is_recorded_unique_and_removable,
    sec_13_user_password_is_stored_as_argon2,
    duplicate_and_invalid_users_are_refused,
    users_are_updated_and_deleted,
);
