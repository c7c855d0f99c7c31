//! The admin console's gate over HTTP, on both databases: every console route refuses
//! signed-out browsers (to the sign-in page, which returns to the console) and users
//! without the admin role (403) before any work; every form refuses a missing or
//! foreign CSRF token; an idle console session must sign in again; the JSON API never
//! takes a console session for credentials; changes made here are audited with the
//! admin as actor and the client's address.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::cimd::audit_events;
use crate::harness::TestApp;
use crate::harness::flow::{UserAgent, hidden, location};

const ADMIN: (&str, &str) = ("root", "correct horse battery");
const PLAIN: (&str, &str) = ("bob", "battery staple horse");

/// Every console route: (method, path). `{server}`, `{user}` and `{client}` are filled in.
const ROUTES: [(&str, &str); 56] = [
    ("GET", "/admin"),
    ("GET", "/admin/servers"),
    ("POST", "/admin/servers"),
    ("GET", "/admin/servers/{server}"),
    ("POST", "/admin/servers/{server}"),
    ("GET", "/admin/servers/{server}/delete"),
    ("POST", "/admin/servers/{server}/delete"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("GET", "/admin/users/{user}"),
    ("POST", "/admin/users/{user}"),
    ("GET", "/admin/users/{user}/delete"),
    ("POST", "/admin/users/{user}/delete"),
    ("GET", "/admin/clients"),
    ("POST", "/admin/clients"),
    ("GET", "/admin/clients/{client}"),
    ("POST", "/admin/clients/{client}"),
    ("GET", "/admin/clients/{client}/delete"),
    ("POST", "/admin/clients/{client}/delete"),
    ("POST", "/admin/clients/{client}/secrets"),
    ("GET", "/admin/clients/{client}/secrets/{secret}/revoke"),
    ("POST", "/admin/clients/{client}/secrets/{secret}/revoke"),
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys/rotate"),
    ("GET", "/admin/settings"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/idps"),
    ("POST", "/admin/idps"),
    ("GET", "/admin/idps/{idp}"),
    ("POST", "/admin/idps/{idp}"),
    ("GET", "/admin/idps/{idp}/delete"),
    ("POST", "/admin/idps/{idp}/delete"),
    ("GET", "/admin/grants"),
    ("GET", "/admin/grants/{grant}/revoke"),
    ("POST", "/admin/grants/{grant}/revoke"),
    ("GET", "/admin/users/{user}/sessions/{session}/end"),
    ("POST", "/admin/users/{user}/sessions/{session}/end"),
    ("GET", "/admin/cimd"),
    ("GET", "/admin/cimd/clients/{cimd}"),
    ("POST", "/admin/cimd/clients/{cimd}/approve"),
    ("GET", "/admin/cimd/clients/{cimd}/block"),
    ("POST", "/admin/cimd/clients/{cimd}/block"),
    ("POST", "/admin/cimd/clients/{cimd}/unblock"),
    ("POST", "/admin/cimd/host-rules"),
    ("GET", "/admin/cimd/host-rules/{rule}/delete"),
    ("POST", "/admin/cimd/host-rules/{rule}/delete"),
    ("GET", "/admin/registration"),
    ("POST", "/admin/registration"),
    ("GET", "/admin/registration/{token}/revoke"),
    ("POST", "/admin/registration/{token}/revoke"),
    ("GET", "/admin/audiences"),
    ("POST", "/admin/audiences"),
    ("GET", "/admin/audiences/{audience}"),
    ("POST", "/admin/audiences/{audience}"),
    ("GET", "/admin/audiences/{audience}/delete"),
    ("POST", "/admin/audiences/{audience}/delete"),
];

async fn create_user(app: &TestApp, (username, password): (&str, &str), admin: bool) -> String {
    let body = json!({"username": username, "password": password, "admin": admin});
    let created = app
        .admin_ok(
            Method::POST,
            "/admin/api/v1/users",
            Some(body),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(created["admin"], admin, "{created}");
    created["user_id"].as_str().unwrap().to_owned()
}

/// An agent signed in as `who` through the console's sign-in redirect.
async fn signed_in<'a>(app: &'a TestApp, (username, password): (&str, &str)) -> UserAgent<'a> {
    let mut agent = UserAgent::new(app);
    let gate = agent.get("/admin").await;
    assert_eq!(gate.status(), StatusCode::SEE_OTHER);
    let login = location(&gate);
    assert_eq!(login, "/login?next=console");
    let done = agent.sign_in(&login, username, password).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    agent
}

/// The objects the routes name.
struct Ids {
    server: String,
    user: String,
    client: String,
    secret: String,
}

fn path_of(template: &str, ids: &Ids) -> String {
    template
        .replace("{server}", &ids.server)
        .replace("{user}", &ids.user)
        .replace("{client}", &ids.client)
        .replace("{secret}", &ids.secret)
        .replace("{grant}", "grt_x")
        .replace("{idp}", "idp_x")
        .replace("{session}", "c2Vzc2lvbg")
        .replace("{cimd}", "https%3A%2F%2Fapp.example%2Fclient.json")
        .replace("{rule}", "hrl_x")
        .replace("{token}", "iat_x")
        .replace("{audience}", "aud_x")
}

/// Sends `method path` with the agent's cookie and a form carrying `csrf` (if any).
async fn send(
    agent: &mut UserAgent<'_>,
    method: &str,
    path: &str,
    csrf: Option<&str>,
) -> reqwest::Response {
    if method == "GET" {
        return agent.get(path).await;
    }
    let mut form = vec![("name", "changed"), ("username", "changed")];
    if let Some(csrf) = csrf {
        form.push(("csrf_token", csrf));
    }
    agent.post(path, &form).await
}

/// The matrix covers every route the console's router declares.
#[test]
fn the_matrix_names_every_console_route() {
    let declared = crate::admin::auth::routes_in_source("web/admin/console/mod.rs", "/admin");
    let mut listed: Vec<String> = ROUTES
        .iter()
        .map(|(_, path)| crate::admin::auth::generic(path))
        .collect();
    listed.sort();
    listed.dedup();
    let declared: Vec<String> = declared
        .into_iter()
        .map(|p| if p.is_empty() { "/admin".to_owned() } else { p })
        .collect();
    assert_eq!(listed, declared);
}

async fn console_refuses_signed_out_and_non_admin_callers(app: TestApp) {
    let server = app
        .create_server(
            "https://mcp.example.com/mcp",
            &["tools:read"],
            &["tools:read"],
        )
        .await;
    let admin_id = create_user(&app, ADMIN, true).await;
    create_user(&app, PLAIN, false).await;
    let client = app
        .create_client(json!({"client_name": "Agent", "grant_types": ["client_credentials"]}))
        .await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let secrets = app
        .admin_ok(
            Method::GET,
            &format!("/admin/api/v1/clients/{client_id}/secrets"),
            None,
            StatusCode::OK,
        )
        .await;
    let ids = Ids {
        server: server["server_id"].as_str().unwrap().to_owned(),
        user: admin_id.clone(),
        client: client_id,
        secret: secrets["items"][0]["secret_id"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let before = app.audit_count().await;

    for (method, template) in ROUTES {
        let path = path_of(template, &ids);
        // Signed out: to the sign-in page that returns to the console.
        let mut anonymous = UserAgent::new(&app);
        let answer = send(&mut anonymous, method, &path, None).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{method} {path}");
        assert_eq!(location(&answer), "/login?next=console", "{method} {path}");
    }
    let mut plain = signed_in(&app, PLAIN).await;
    // A non-admin lands home after sign-in, and every console route answers 403.
    for (method, template) in ROUTES {
        let path = path_of(template, &ids);
        let answer = send(&mut plain, method, &path, None).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let html = answer.text().await.unwrap();
        assert!(
            html.contains("Administrators only"),
            "{method} {path}: {html}"
        );
    }
    // An admin without the CSRF token, or with another session's: refused, nothing done.
    let mut admin = signed_in(&app, ADMIN).await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status(), StatusCode::OK);
    let plain_page = UserAgent::new(&app)
        .get("/login")
        .await
        .text()
        .await
        .unwrap();
    let foreign = hidden(&plain_page, "csrf_token");
    for (method, template) in ROUTES.iter().filter(|(m, _)| *m == "POST") {
        let path = path_of(template, &ids);
        for csrf in [None, Some(foreign.as_str())] {
            let answer = send(&mut admin, method, &path, csrf).await;
            assert_eq!(
                answer.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} {csrf:?}"
            );
        }
    }
    let after = app.audit_count().await;
    assert_eq!(after, before, "a refused request changed something");
    // The console session is no credential for the JSON API.
    let api = app
        .http
        .get(format!("{}/admin/api/v1/users", app.base))
        .header("Cookie", admin.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn console_session_expires_after_inactivity(app: TestApp) {
    create_user(&app, ADMIN, true).await;
    let mut admin = signed_in(&app, ADMIN).await;
    assert_eq!(admin.get("/admin").await.status(), StatusCode::OK);
    // Used within the idle timeout (30 minutes by default): still in.
    app.clock.advance(std::time::Duration::from_secs(25 * 60));
    assert_eq!(admin.get("/admin/servers").await.status(), StatusCode::OK);
    app.clock.advance(std::time::Duration::from_secs(25 * 60));
    assert_eq!(admin.get("/admin/users").await.status(), StatusCode::OK);
    // Then idle for longer: signed out, back through the sign-in page.
    app.clock.advance(std::time::Duration::from_secs(31 * 60));
    let gate = admin.get("/admin").await;
    assert_eq!(gate.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&gate), "/login?next=console");
    assert!(admin.cookie.is_none(), "the session cookie was not cleared");
    app.finish().await;
}

/// A change made in the console goes through the same use-case as the API: same
/// validation (errors next to the field), audited with the admin as actor and the
/// client's address.
async fn console_changes_are_validated_and_audited(app: TestApp) {
    let admin_id = create_user(&app, ADMIN, true).await;
    let mut admin = signed_in(&app, ADMIN).await;
    let page = admin.get("/admin/servers").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf_token");
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("resource", "http://mcp.example.com/mcp"),
        ("name", "Docs"),
        ("scopes", "docs:read Read the docs"),
        ("default_scopes", "docs:read"),
        ("enabled", "on"),
    ];
    let refused = admin.post("/admin/servers", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    assert!(
        html.contains("value=\"http://mcp.example.com/mcp\""),
        "the input was lost: {html}"
    );
    let mut good = bad;
    good[1] = ("resource", "https://mcp.example.com/mcp");
    let created = admin.post("/admin/servers", &good).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let target = location(&created);
    assert!(target.ends_with("?flash=server-created"), "{target}");
    let shown = admin.get(&target).await.text().await.unwrap();
    assert!(shown.contains("MCP server created."), "{shown}");
    assert!(shown.contains("scopes_supported"), "no metadata: {shown}");
    let servers = app
        .admin_ok(Method::GET, "/admin/api/v1/servers", None, StatusCode::OK)
        .await;
    assert_eq!(servers["items"][0]["default_scopes"], json!(["docs:read"]));
    let events = audit_events(&app, "server.created").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].actor, format!("user:{admin_id}"));
    assert_eq!(events[0].client_ip.as_deref(), Some("127.0.0.1"));
    // The audit log API shows it too, filtered by kind and actor.
    let path = format!("/admin/api/v1/audit?kind=server&actor=user:{admin_id}");
    let listed: Value = app.admin_ok(Method::GET, &path, None, StatusCode::OK).await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["action"], "server.created");
    assert_eq!(items[0]["client_ip"], "127.0.0.1");
    app.finish().await;
}

/// A client registered in the console: its secret is on the page the 303 leads to, once
/// (never in a URL), works at the token endpoint, and a second secret can be added and
/// the first revoked after a confirmation.
async fn console_client_secret_is_shown_once(app: TestApp) {
    app.create_server(
        "https://mcp.example.com/mcp",
        &["tools:read"],
        &["tools:read"],
    )
    .await;
    create_user(&app, ADMIN, true).await;
    let mut admin = signed_in(&app, ADMIN).await;
    let page = admin.get("/admin/clients").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("client_name", "Nightly agent"),
        ("grant_types", "client_credentials"),
        ("token_endpoint_auth_method", "client_secret_basic"),
        ("enabled", "on"),
    ];
    let created = admin.post("/admin/clients", &form).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let target = location(&created);
    assert!(!target.contains("secret="), "{target}");
    let shown = admin.get(&target).await.text().await.unwrap();
    assert!(shown.contains("Client registered."), "{shown}");
    let secret = shown
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no secret shown: {shown}"))
        .to_owned();
    let client_id = target
        .trim_start_matches("/admin/clients/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    // Shown once: the same page again has no secret.
    let again = admin.get(&target).await.text().await.unwrap();
    assert!(!again.contains("class=\"secret\""), "shown twice");
    // It is the client's secret.
    let (status, _, tokens) = app
        .token(
            &[("grant_type", "client_credentials")],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // A second secret, then the first revoked (after confirming).
    let secrets_path = format!("/admin/api/v1/clients/{client_id}/secrets");
    let listed = app
        .admin_ok(Method::GET, &secrets_path, None, StatusCode::OK)
        .await;
    let first = listed["items"][0]["secret_id"].as_str().unwrap().to_owned();
    let add = admin
        .post(
            &format!("/admin/clients/{client_id}/secrets"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(
        location(&add),
        format!("/admin/clients/{client_id}?flash=secret-added")
    );
    let page = admin.get(&location(&add)).await.text().await.unwrap();
    assert!(page.contains("class=\"secret\""), "{page}");
    let revoke = format!("/admin/clients/{client_id}/secrets/{first}/revoke");
    let confirm = admin.get(&revoke).await.text().await.unwrap();
    assert!(confirm.contains("cannot be undone"), "{confirm}");
    let done = admin.post(&revoke, &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (status, _, _) = app
        .token(
            &[("grant_type", "client_credentials")],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the revoked secret still works"
    );
    let revoked = audit_events(&app, "client.secret_revoked").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    app.finish().await;
}

both_backends!(
    console_client_secret_is_shown_once,
    console_refuses_signed_out_and_non_admin_callers,
    console_session_expires_after_inactivity,
    console_changes_are_validated_and_audited,
);
