//! Admin-API authentication: bootstrap token, created tokens, 401 otherwise.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::flow::{DESKTOP_REDIRECT, RESOURCE, UserAgent};
use crate::harness::{TestApp, assert_api_error};
use mcp_authz::admin::{Actor, tokens};

/// The route paths a router in `file` (under `src/`) declares, with `prefix` put in
/// front and every `{parameter}` written `{}`.
pub(crate) fn routes_in_source(file: &str, prefix: &str) -> Vec<String> {
    let path = format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap();
    let mut routes: Vec<String> = source
        .split(".route(")
        .skip(1)
        .map(|rest| {
            let start = rest.find('"').unwrap() + 1;
            let end = start + rest[start..].find('"').unwrap();
            generic(&format!("{prefix}{}", &rest[start..end]))
        })
        .collect();
    routes.sort();
    routes.dedup();
    routes
}

/// `path` with every `{parameter}` written `{}`.
pub(crate) fn generic(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out.trim_end_matches('/').to_owned()
}

/// Every route of the admin API, as its OpenAPI document lists them (which must be every
/// route its router declares), refuses callers without an admin token before any work:
/// no credentials, a user's OAuth access token, and an administrator's console session.
async fn every_admin_api_route_refuses_callers_without_an_admin_token(app: TestApp) {
    let doc: Value = app
        .get("/admin/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<String> = paths.keys().map(|p| generic(p)).collect();
    documented.sort();
    let mut declared = routes_in_source("web/admin/api/mod.rs", "/admin/api");
    declared.retain(|p| p != "/admin/api/openapi.json");
    assert_eq!(documented, declared, "the OpenAPI document misses routes");
    let mut routes = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let concrete = path
                .split('/')
                .map(|part| if part.starts_with('{') { "x_1" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            routes.push((method, concrete));
        }
    }
    assert!(routes.len() >= 40, "{routes:?}");

    // A user's access token, and a console session of a user with the admin role.
    let fixture = app.fixture().await;
    let mut user = UserAgent::new(&app);
    let code = user
        .code(
            &fixture.desktop,
            DESKTOP_REDIRECT,
            &[("resource", RESOURCE)],
        )
        .await;
    let (_, _, tokens) = app.redeem_desktop(&fixture, &code).await;
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let admin = json!({"username": "root", "password": "correct horse battery", "admin": true});
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(admin),
        StatusCode::CREATED,
    )
    .await;
    let mut console = UserAgent::new(&app);
    let signed_in = console
        .sign_in("/login?next=console", "root", "correct horse battery")
        .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = console.cookie.clone().unwrap();
    let before = app.audit_count().await;

    for (method, path) in &routes {
        let callers = [
            ("no credentials", None, None),
            ("a user's access token", Some(access_token.as_str()), None),
            ("a console session", None, Some(cookie.as_str())),
        ];
        for (who, bearer, cookie) in callers {
            let mut request = app.request(method.clone(), path).json(&json!({}));
            if let Some(bearer) = bearer {
                request = request.bearer_auth(bearer);
            }
            if let Some(cookie) = cookie {
                request = request.header("Cookie", cookie);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {who}"
            );
        }
    }
    let after = app.audit_count().await;
    assert_eq!(after, before, "a refused call changed something");
    app.finish().await;
}

async fn admin_api_requires_a_valid_bearer_token(app: TestApp) {
    let anonymous = app.get("/admin/api/v1/servers").await;
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Bearer realm=\"mcp-authz admin\""
    );
    assert_api_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    for bad in ["wrong", "mcpa_not-a-real-token", ""] {
        let response = app
            .request(Method::GET, "/admin/api/v1/servers")
            .header("Authorization", format!("Bearer {bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    app.admin_ok(Method::GET, "/admin/api/v1/servers", None, StatusCode::OK)
        .await;
    app.finish().await;
}

async fn created_admin_tokens_work_and_are_stored_hashed(app: TestApp) {
    let ctx = &app.server().state.admin;
    let (token, record) = tokens::create(ctx, &Actor::Cli, "ci", None).await.unwrap();
    assert!(token.starts_with(tokens::TOKEN_PREFIX));
    let response = app
        .request(Method::POST, "/admin/api/v1/users")
        .bearer_auth(&token)
        .json(&serde_json::json!({"username": "bob", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    // The audit log names the token that acted.
    let events = app
        .server()
        .state
        .store
        .list_audit_events(None, 10)
        .await
        .unwrap();
    assert_eq!(events[0].action, "user.created");
    assert_eq!(events[0].actor, format!("admin-token:{}", record.token_id));
    // An expired token stops working.
    let (short, _) = tokens::create(ctx, &Actor::Cli, "short", Some(60))
        .await
        .unwrap();
    app.clock.advance(std::time::Duration::from_secs(61));
    let response = app
        .request(Method::GET, "/admin/api/v1/users")
        .bearer_auth(&short)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

both_backends!(
    admin_api_requires_a_valid_bearer_token,
    created_admin_tokens_work_and_are_stored_hashed,
    every_admin_api_route_refuses_callers_without_an_admin_token
);
