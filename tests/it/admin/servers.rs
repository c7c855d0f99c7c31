//! `/admin/api/v1/servers` (RES-1, RES-2, RES-6, SCOPE-1..3, SCOPE-7, SCOPE-9).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, assert_api_error};

const SERVERS: &str = "/admin/api/v1/servers";

async fn scope_1_server_is_created_with_default_scopes(app: TestApp) {
    let created = app
        .create_server(
            "HTTPS://MCP.Example.com/mcp",
            &["tools:read", "tools:call"],
            &["tools:read"],
        )
        .await;
    // RES-2: scheme and host lower-cased, the rest kept.
    assert_eq!(created["resource"], "https://mcp.example.com/mcp");
    assert_eq!(created["default_scopes"], json!(["tools:read"]));
    assert_eq!(
        created["scopes"][1],
        json!({"name": "tools:call", "description": "Allows tools:call"})
    );
    assert_eq!(created["enabled"], true);
    assert_eq!(created["default_resource"], false);
    let id = created["server_id"].as_str().unwrap();
    let read = app
        .admin_ok(
            Method::GET,
            &format!("{SERVERS}/{id}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(read, created);
    // The change is audited.
    let events = app
        .server()
        .state
        .store
        .list_audit_events(None, 10)
        .await
        .unwrap();
    assert_eq!(
        (events[0].action.as_str(), events[0].target_id.as_str()),
        ("server.created", id)
    );
    assert_eq!(events[0].actor, "bootstrap-token");
    app.finish().await;
}

async fn res_2_duplicate_resource_is_a_conflict_and_writes_nothing(app: TestApp) {
    app.create_server("https://mcp.example.com/mcp", &[], &[])
        .await;
    let events_before = app
        .server()
        .state
        .store
        .list_audit_events(None, 100)
        .await
        .unwrap()
        .len();
    let duplicate = json!({"resource": "https://MCP.EXAMPLE.COM/mcp", "name": "again"});
    let response = app.admin(Method::POST, SERVERS, Some(duplicate)).await;
    assert_api_error(response, StatusCode::CONFLICT, "conflict", Some("resource")).await;
    // A different path is a different resource (exact match, RES-2).
    app.create_server("https://mcp.example.com/mcp/", &[], &[])
        .await;
    let events_after = app
        .server()
        .state
        .store
        .list_audit_events(None, 100)
        .await
        .unwrap()
        .len();
    assert_eq!(events_after, events_before + 1);
    app.finish().await;
}

async fn invalid_server_input_names_the_field(app: TestApp) {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"resource": "https://x.example/#frag", "name": "n"}),
            "resource",
        ),
        (
            json!({"resource": "ftp://x.example/", "name": "n"}),
            "resource",
        ),
        (
            json!({"resource": "http://mcp.example.com/", "name": "n"}),
            "resource",
        ),
        (json!({"resource": "/relative", "name": "n"}), "resource"),
        (
            json!({"resource": "https://x.example/", "name": ""}),
            "name",
        ),
        (
            json!({"resource": "https://x.example/", "name": "n", "scopes": [{"name": "bad\"scope", "description": "d"}]}),
            "scopes[0].name",
        ),
        (
            json!({"resource": "https://x.example/", "name": "n", "scopes": [{"name": "a", "description": "d"}], "default_scopes": ["b"]}),
            "scopes",
        ),
        (
            json!({"resource": "https://x.example/", "name": "n", "scopes": [{"name": "offline_access", "description": "d"}]}),
            "scopes",
        ),
        (
            json!({"resource": "https://x.example/", "name": "n", "access_token_ttl_seconds": 5}),
            "access_token_ttl_seconds",
        ),
        (
            json!({"resource": "https://x.example/", "name": "n", "surprise": 1}),
            "surprise",
        ),
        (json!({"name": "n"}), "resource"),
        (
            json!({"resource": "https://x.example/", "name": "n", "scopes": [{"description": "d"}]}),
            "scopes[0].name",
        ),
        (
            json!({"resource": "https://x.example/", "name": "n", "enabled": "yes"}),
            "enabled",
        ),
    ];
    for (body, field) in cases {
        let response = app.admin(Method::POST, SERVERS, Some(body.clone())).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{body} -> {error}");
    }
    // Malformed JSON is a 400; a non-JSON body a 415.
    let response = app
        .request(Method::POST, SERVERS)
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_api_error(response, StatusCode::BAD_REQUEST, "invalid_json", None).await;
    let response = app
        .request(Method::POST, SERVERS)
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .body("resource=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing was written.
    let list = app
        .admin_ok(Method::GET, SERVERS, None, StatusCode::OK)
        .await;
    assert_eq!(list["items"], json!([]));
    app.finish().await;
}

async fn servers_are_listed_in_pages_updated_and_deleted(app: TestApp) {
    for i in 0..5 {
        app.create_server(&format!("https://mcp{i}.example.com/"), &["read"], &[])
            .await;
    }
    let first = app
        .admin_ok(
            Method::GET,
            &format!("{SERVERS}?limit=2"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let mut seen: Vec<String> = Vec::new();
    let mut page = first;
    loop {
        for item in page["items"].as_array().unwrap() {
            seen.push(item["server_id"].as_str().unwrap().to_owned());
            assert_eq!(item["scopes"][0]["name"], "read");
        }
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        page = app
            .admin_ok(
                Method::GET,
                &format!("{SERVERS}?limit=2&after={cursor}"),
                None,
                StatusCode::OK,
            )
            .await;
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen);

    let id = &seen[0];
    let patch = json!({"name": "Renamed", "default_scopes": ["read"], "access_token_ttl_seconds": 300, "enabled": false});
    let updated = app
        .admin_ok(
            Method::PATCH,
            &format!("{SERVERS}/{id}"),
            Some(patch),
            StatusCode::OK,
        )
        .await;
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["default_scopes"], json!(["read"]));
    assert_eq!(updated["access_token_ttl_seconds"], 300);
    assert_eq!(updated["enabled"], false);
    let cleared = app
        .admin_ok(
            Method::PATCH,
            &format!("{SERVERS}/{id}"),
            Some(json!({"access_token_ttl_seconds": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(cleared["access_token_ttl_seconds"], Value::Null);
    assert_eq!(cleared["name"], "Renamed");

    let response = app
        .admin(Method::DELETE, &format!("{SERVERS}/{id}"), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let gone = app
        .admin(Method::GET, &format!("{SERVERS}/{id}"), None)
        .await;
    assert_api_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;
    let again = app
        .admin(Method::DELETE, &format!("{SERVERS}/{id}"), None)
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let missing = app
        .admin(
            Method::PATCH,
            &format!("{SERVERS}/srv_nope"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

async fn res_6_only_one_server_is_the_default_resource(app: TestApp) {
    let body = |r: &str| json!({"resource": r, "name": "n", "default_resource": true});
    let a = app
        .admin_ok(
            Method::POST,
            SERVERS,
            Some(body("https://a.example/")),
            StatusCode::CREATED,
        )
        .await;
    let b = app
        .admin_ok(
            Method::POST,
            SERVERS,
            Some(body("https://b.example/")),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(b["default_resource"], true);
    let a_now = app
        .admin_ok(
            Method::GET,
            &format!("{SERVERS}/{}", a["server_id"].as_str().unwrap()),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(a_now["default_resource"], false);
    let default = app
        .server()
        .state
        .store
        .find_default_server()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(default.id.as_str(), b["server_id"].as_str().unwrap());
    app.finish().await;
}

both_backends!(
    scope_1_server_is_created_with_default_scopes,
    res_2_duplicate_resource_is_a_conflict_and_writes_nothing,
    invalid_server_input_names_the_field,
    servers_are_listed_in_pages_updated_and_deleted,
    res_6_only_one_server_is_the_default_resource,
);

/// `?q=` narrows the servers and clients lists (as it does the users list): by name or
/// resource URI, by name or client id, in any case, with LIKE wildcards taken
/// literally; each listed server still carries its scopes, each client its servers, and
/// paging keeps the search.
async fn server_and_client_lists_are_searchable(app: TestApp) {
    for (resource, name) in [
        ("https://docs.example.com/mcp", "Docs"),
        ("https://files.example.com/mcp", "Files_100%"),
        ("https://tools.example.com/mcp", "Tools"),
    ] {
        let body = json!({
            "resource": resource, "name": name,
            "scopes": [{"name": "read", "description": "Read"}], "default_scopes": ["read"],
        });
        app.admin_ok(Method::POST, SERVERS, Some(body), StatusCode::CREATED)
            .await;
    }
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["name"]
                    .as_str()
                    .or(i["client_name"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let api = &app;
    let get =
        |path: String| async move { api.admin_ok(Method::GET, &path, None, StatusCode::OK).await };
    let found = get(format!("{SERVERS}?q=FILES")).await;
    assert_eq!(names(&found), ["Files_100%"]);
    assert_eq!(found["items"][0]["scopes"][0]["name"], "read", "{found}");
    assert_eq!(
        names(&get(format!("{SERVERS}?q=tools.example")).await),
        ["Tools"]
    );
    // `%` and `_` are themselves, not wildcards.
    assert_eq!(
        names(&get(format!("{SERVERS}?q=0%25")).await),
        ["Files_100%"]
    );
    assert!(names(&get(format!("{SERVERS}?q=d_c")).await).is_empty());
    assert!(names(&get(format!("{SERVERS}?q=s%25c")).await).is_empty());
    // A blank search lists everything.
    assert_eq!(names(&get(format!("{SERVERS}?q=%20")).await).len(), 3);
    // Paging keeps the search: two matches, one a page.
    let first = get(format!("{SERVERS}?q=example.com&limit=2")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(format!("{SERVERS}?q=example.com&limit=2&after={cursor}")).await;
    assert_eq!(names(&first).len() + names(&second).len(), 3);
    assert!(second["next_cursor"].is_null(), "{second}");

    for name in ["Nightly agent", "Docs indexer"] {
        app.create_client(json!({
            "client_name": name, "grant_types": ["client_credentials"],
            "allowed_resources": ["https://docs.example.com/mcp"],
        }))
        .await;
    }
    let found = get("/admin/api/v1/clients?q=NIGHTLY".to_owned()).await;
    assert_eq!(names(&found), ["Nightly agent"]);
    assert_eq!(
        found["items"][0]["allowed_resources"],
        json!(["https://docs.example.com/mcp"]),
        "{found}"
    );
    let id = found["items"][0]["client_id"].as_str().unwrap().to_owned();
    let by_id = get(format!("/admin/api/v1/clients?q={}", &id[..id.len() - 2])).await;
    assert_eq!(names(&by_id), ["Nightly agent"]);
    // The other lists an operator searches: ID-JAG audiences by name or issuer,
    // registration tokens by description.
    for issuer in ["https://auth.tools.example", "https://auth.files.example"] {
        let body = json!({"issuer": issuer});
        app.admin_ok(
            Method::POST,
            "/admin/api/v1/id-jag-audiences",
            Some(body),
            StatusCode::CREATED,
        )
        .await;
    }
    let found = get("/admin/api/v1/id-jag-audiences?q=TOOLS".to_owned()).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["issuer"], "https://auth.tools.example");
    for description in ["IDE team", "Build farm"] {
        let body = json!({"description": description});
        app.admin_ok(
            Method::POST,
            "/admin/api/v1/initial-access-tokens",
            Some(body),
            StatusCode::CREATED,
        )
        .await;
    }
    let found = get("/admin/api/v1/initial-access-tokens?q=farm".to_owned()).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["description"], "Build farm");

    // Unknown parameters are still refused.
    let refused = app
        .admin(Method::GET, &format!("{SERVERS}?search=docs"), None)
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    app.finish().await;
}

both_backends!(server_and_client_lists_are_searchable);
