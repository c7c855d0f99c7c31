//! The admin console as an operator uses it, in Chromium, on both databases: the console
//! sends the signed-out browser to sign in and back; the operator creates an MCP server
//! with default scopes (a mistake first: the error shows next to the field, the input is
//! kept), reads its Protected Resource Metadata, creates a user and a client, registers
//! a client's keys and a secret that expires, revokes a user's grant, rotates the
//! signing key, adds an ID-JAG audience and a trusted IdP, issues and revokes a
//! registration token, approves and blocks a CIMD client and sets host rules, searches
//! the lists, and finds each change in the audit log. Names with HTML in them are shown
//! as text. A screenshot of each main page is saved to the test output directory
//! (`target/tmp/console-*.png`; `console-postgres-*.png` from the PostgreSQL run).
//!
//! `admin::console` checks the gate (every route, signed out and without the role, and
//! CSRF) over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Browser;
use super::flow::{assert_on_page, save_screenshot, sign_in};
use crate::both_backends;
use crate::cimd::{DOC_PATH, REQUEST_REDIRECT, audit_events, native_document};
use crate::client_credentials::{Assertion, TestKey, assert_issued, cc_with_assertion, jwks};
use crate::harness::flow::{DESKTOP_REDIRECT, RESOURCE, USERNAME, UserAgent, authorize_path};
use crate::harness::tls_fixture::Reply;
use crate::harness::{Backend, TestApp};

const OPERATOR: (&str, &str) = ("operator", "correct horse battery");
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)> Docs";
/// The MCP server the operator creates.
const DOCS: &str = "https://docs.example.com/mcp";
/// A second MCP server, for the search.
const FILES: &str = "https://files.example.com/mcp";

/// Where the screenshots of one run go.
struct Shots(&'static str);

impl Shots {
    fn of(backend: Backend) -> Self {
        Self(match backend {
            Backend::Sqlite => "console",
            Backend::Postgres => "console-postgres",
        })
    }

    async fn save(&self, browser: &Browser, page: &str) {
        let path = format!("{}/{}-{page}.png", env!("CARGO_TARGET_TMPDIR"), self.0);
        save_screenshot(browser, &path).await;
    }
}

/// The operator's account, and a browser signed in to the console with it (through
/// the sign-in page the console sends a signed-out browser to).
async fn operator_console(app: &TestApp) -> Browser {
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(json!({"username": OPERATOR.0, "password": OPERATOR.1, "admin": true})),
        StatusCode::CREATED,
    )
    .await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/admin", app.base)).await;
    assert_on_page(&browser, app, "/login").await;
    assert!(browser.text().await.contains("to the admin console"));
    sign_in(&browser, OPERATOR.0, OPERATOR.1).await;
    assert_on_page(&browser, app, "/admin").await;
    assert!(browser.text().await.contains("Dashboard"));
    browser
}

async fn api_get(app: &TestApp, path: &str) -> Value {
    app.admin_ok(Method::GET, path, None, StatusCode::OK).await
}

/// The item of an API list whose `key` is `value`.
fn item<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

async fn console_operator_runs_the_server_from_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shots = Shots::of(backend);
    let browser = operator_console(&app).await;

    servers(&browser, &app, &shots).await;
    users(&browser, &app, &shots).await;
    clients(&browser, &app, &shots).await;
    grants(&browser, &app, &shots).await;
    keys_and_settings(&browser, &shots).await;
    idps_and_audiences(&browser, &app, &shots).await;
    registration_tokens(&browser, &app, &shots).await;
    deletions(&browser, &app).await;

    // The dashboard: counts, and a client-authentication failure among the recent
    // security events.
    let (status, _, _) = app
        .token(
            &[("grant_type", "client_credentials")],
            Some(("cli_unknown", "guessed-secret")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    browser.navigate("Dashboard").await;
    let text = browser.text().await;
    let security = &text[text.find("Recent security events").unwrap()..];
    assert!(security.contains("client_auth.failed"), "{text}");
    shots.save(&browser, "dashboard").await;

    // Each change is in the audit log, by the operator.
    browser.navigate("Audit log").await;
    let text = browser.text().await;
    for action in [
        "server.created",
        "user.created",
        "user.updated",
        "client.created",
        "client.secret_added",
        "grant.revoked",
        "key.rotated",
        "idp.created",
        "id_jag_audience.created",
        "id_jag_audience.deleted",
        "initial_access_token.created",
        "initial_access_token.revoked",
        "session.ended",
        "user.deleted",
        "server.deleted",
        "client.secret_revoked",
        "client.deleted",
        "idp.deleted",
    ] {
        assert!(text.contains(action), "{action}: {text}");
    }
    // Users who acted are named by their username beside their id.
    let html = browser.html().await;
    assert!(
        html.contains(&format!(
            "<td>{} <span class=\"hint\"><code>user:usr_",
            OPERATOR.0
        )),
        "{html}"
    );
    shots.save(&browser, "audit").await;
    browser.fill_id("kind", "user").await;
    browser.submit("Filter").await;
    let text = browser.text().await;
    assert!(
        text.contains("user.created") && !text.contains("server.created"),
        "{text}"
    );
    browser.close().await;
    app.finish().await;
}

/// An MCP server: first with an http resource URI, refused next to the field; then
/// found by a search.
async fn servers(browser: &Browser, app: &TestApp, shots: &Shots) {
    browser.navigate("MCP servers").await;
    assert_on_page(browser, app, "/admin/servers").await;
    browser
        .fill_id("resource", "http://docs.example.com/mcp")
        .await;
    browser.fill_id("name", HOSTILE_NAME).await;
    browser
        .fill_id(
            "scopes",
            "docs:read Read the docs\ndocs:write Change the docs",
        )
        .await;
    browser.fill_id("default_scopes", "docs:read").await;
    browser.submit("Add MCP server").await;
    let text = browser.text().await;
    assert!(text.contains("Not saved"), "{text}");
    shots.save(browser, "server-error").await;
    browser
        .fill_id("resource", "https://docs.example.com/mcp")
        .await;
    browser.submit("Add MCP server").await;
    let text = browser.text().await;
    assert!(text.contains("MCP server created."), "{text}");
    // The hostile name is text on the page, not markup.
    assert!(text.contains(HOSTILE_NAME), "{text}");
    assert!(
        text.contains("\"scopes_supported\": [\n    \"docs:read\"\n  ]"),
        "{text}"
    );
    shots.save(browser, "server").await;
    // Edited on its page: both scopes by default now.
    browser
        .fill_id("default_scopes", "docs:read docs:write")
        .await;
    browser.submit("Save").await;
    let text = browser.text().await;
    assert!(text.contains("MCP server saved."), "{text}");
    let servers = api_get(app, "/admin/api/v1/servers").await;
    let docs = item(&servers, "resource", "https://docs.example.com/mcp");
    assert_eq!(docs["name"], HOSTILE_NAME);
    assert_eq!(docs["default_scopes"], json!(["docs:read", "docs:write"]));

    // The search finds servers by resource URI, in any case.
    app.create_server(FILES, &["files:read"], &["files:read"])
        .await;
    browser.navigate("MCP servers").await;
    shots.save(browser, "servers").await;
    browser.fill_id("q", "DOCS.example").await;
    browser.submit("Search").await;
    let text = browser.text().await;
    assert!(text.contains("https://docs.example.com/mcp"), "{text}");
    assert!(!text.contains(FILES), "{text}");
}

/// A user with a recorded email and the admin role; found by a search.
async fn users(browser: &Browser, app: &TestApp, shots: &Shots) {
    browser.navigate("Users").await;
    browser.fill_id("username", "dana").await;
    browser.fill_id("password", "a long enough password").await;
    browser.fill_id("email", "dana@corp.example").await;
    browser.submit("Add user").await;
    let text = browser.text().await;
    assert!(text.contains("User created."), "{text}");
    // On her page: the admin role, saved without touching her password.
    browser.toggle("admin").await;
    browser.submit("Save").await;
    assert!(browser.text().await.contains("User saved."));
    shots.save(browser, "user").await;
    browser.navigate("Users").await;
    let text = browser.text().await;
    assert!(text.contains("dana@corp.example"), "{text}");
    shots.save(browser, "users").await;
    browser.fill_id("q", "CORP.example").await;
    browser.submit("Search").await;
    let html = browser.html().await;
    assert!(html.contains(">dana</a>"), "{html}");
    assert!(!html.contains(&format!(">{}</a>", OPERATOR.0)), "{html}");
    let users = api_get(app, "/admin/api/v1/users").await;
    let dana = item(&users, "username", "dana");
    assert_eq!(dana["admin"], true, "{dana}");
    assert_eq!(dana["email"], "dana@corp.example", "{dana}");
}

/// A machine client with a secret shown once, and a second secret that expires; a
/// client whose keys are pasted as a JWK Set, which then signs its way to a token.
async fn clients(browser: &Browser, app: &TestApp, shots: &Shots) {
    browser.navigate("Clients").await;
    browser.fill_id("client_name", "Nightly agent").await;
    // Off with the default authorization_code, on with client_credentials.
    browser
        .click_checkbox_value("grant_types", "authorization_code")
        .await;
    browser
        .click_checkbox_value("grant_types", "client_credentials")
        .await;
    browser.submit("Register client").await;
    let text = browser.text().await;
    assert!(text.contains("Client registered."), "{text}");
    assert!(text.contains("shown only this once"), "{text}");
    shots.save(browser, "client").await;
    // A second secret, for rotation, that expires in 90 days.
    browser.fill_id("expires_in", "90d").await;
    browser.submit("Add a new secret").await;
    let text = browser.text().await;
    assert!(text.contains("New secret added"), "{text}");
    assert!(text.contains("shown only this once"), "{text}");
    // Edited on its page: narrowed to one scope.
    browser.fill_id("scope", "docs:read").await;
    browser.submit("Save").await;
    let text = browser.text().await;
    assert!(text.contains("Client saved."), "{text}");
    let listed = api_get(app, "/admin/api/v1/clients?q=nightly").await;
    let nightly = item(&listed, "client_name", "Nightly agent");
    assert_eq!(nightly["scope"], "docs:read", "{nightly}");
    let nightly_id = nightly["client_id"].as_str().unwrap();
    let secrets = api_get(app, &format!("/admin/api/v1/clients/{nightly_id}/secrets")).await;
    let expiring: Vec<i64> = secrets["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| {
            s["expires_at"]
                .as_i64()
                .map(|at| at - s["created_at"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(expiring, [90 * 86_400], "{secrets}");

    // Keys pasted as a JWK Set, for private_key_jwt.
    let key = TestKey::es256("console-key");
    browser.navigate("Clients").await;
    browser.fill_id("client_name", "Signed agent").await;
    browser
        .click_checkbox_value("grant_types", "authorization_code")
        .await;
    browser
        .click_checkbox_value("grant_types", "client_credentials")
        .await;
    browser
        .choose("token_endpoint_auth_method", "private_key_jwt")
        .await;
    browser.fill_id("jwks", "{not json").await;
    browser.submit("Register client").await;
    let text = browser.text().await;
    assert!(text.contains("is not JSON"), "{text}");
    browser.fill_id("jwks", &jwks(&[&key]).to_string()).await;
    browser.submit("Register client").await;
    let text = browser.text().await;
    assert!(text.contains("Client registered."), "{text}");
    assert!(!text.contains("shown only this once"), "{text}");
    let listed = api_get(app, "/admin/api/v1/clients?q=SIGNED").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let signed = &listed["items"][0];
    assert_eq!(signed["token_endpoint_auth_method"], "private_key_jwt");
    let signed_id = signed["client_id"].as_str().unwrap();
    let jwt = Assertion::new(app, signed_id, &key).jwt();
    let answer = cc_with_assertion(app, &jwt, &[("resource", DOCS)]).await;
    assert_issued(&answer);

    // A client name with HTML in it is text on the page.
    app.create_client(json!({"client_name": HOSTILE_NAME, "grant_types": ["client_credentials"]}))
        .await;
    browser.navigate("Clients").await;
    assert!(browser.text().await.contains(HOSTILE_NAME));
    assert!(!browser.html().await.contains("<img src=x"));

    // The search finds clients by name, in any case.
    browser.navigate("Clients").await;
    shots.save(browser, "clients").await;
    browser.fill_id("q", "NIGHTLY").await;
    browser.submit("Search").await;
    let text = browser.text().await;
    assert!(
        text.contains("Nightly agent") && !text.contains("Signed agent"),
        "{text}"
    );
}

/// A grant of a user, found by user and revoked after a confirmation.
async fn grants(browser: &Browser, app: &TestApp, shots: &Shots) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(app);
    let code = agent
        .code(
            &fixture.desktop,
            DESKTOP_REDIRECT,
            &[("resource", RESOURCE)],
        )
        .await;
    let (status, _, tokens) = app.redeem_desktop(&fixture, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let users = api_get(app, &format!("/admin/api/v1/users?q={USERNAME}")).await;
    let alice = item(&users, "username", USERNAME)["user_id"]
        .as_str()
        .unwrap()
        .to_owned();

    browser.navigate("Grants").await;
    browser.fill_id("user_id", "usr_nobody").await;
    browser.submit("Filter").await;
    assert!(browser.text().await.contains("No grant."));
    browser.fill_id("user_id", &alice).await;
    browser.submit("Filter").await;
    let text = browser.text().await;
    assert!(text.contains(&fixture.desktop), "{text}");
    shots.save(browser, "grants").await;
    browser.click_link("Revoke…").await;
    browser.submit("Revoke").await;
    let text = browser.text().await;
    assert!(text.contains("Grant revoked."), "{text}");
    let left = api_get(app, &format!("/admin/api/v1/grants?user_id={alice}")).await;
    assert!(
        left["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["active"] == false && g["revoked_at"].is_i64()),
        "{left}"
    );

    // The operator's own browser session is listed on their page.
    let users = api_get(app, &format!("/admin/api/v1/users?q={}", OPERATOR.0)).await;
    let operator = item(&users, "username", OPERATOR.0)["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser
        .goto(&format!("{}/admin/users/{operator}", app.base))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("Signed-in browsers") && text.contains("Sign out…"),
        "{text}"
    );
}

/// Signing keys rotated now; the effective settings, secrets redacted.
async fn keys_and_settings(browser: &Browser, shots: &Shots) {
    browser.navigate("Signing keys").await;
    browser.submit("Rotate the signing key").await;
    let text = browser.text().await;
    assert!(text.contains("A new signing key is published"), "{text}");
    assert!(
        text.contains("scheduled") || text.contains("published"),
        "{text}"
    );
    shots.save(browser, "keys").await;

    browser.navigate("Settings").await;
    let text = browser.text().await;
    assert!(text.contains("[server]"), "{text}");
    assert!(
        !text.contains(crate::harness::ADMIN_TOKEN),
        "the bootstrap token is shown"
    );
    shots.save(browser, "settings").await;
}

/// A trusted IdP with its keys at a URL; an ID-JAG audience, added then deleted.
async fn idps_and_audiences(browser: &Browser, app: &TestApp, shots: &Shots) {
    browser.navigate("Cross App Access").await;
    browser
        .fill_id("issuer", "https://login.corp-idp.example")
        .await;
    browser.fill_id("name", "Corp IdP").await;
    browser
        .fill_id("jwks_uri", "https://login.corp-idp.example/keys")
        .await;
    browser.fill_id("scope", "docs:read").await;
    browser.submit("Trust this IdP").await;
    let text = browser.text().await;
    assert!(text.contains("IdP trusted."), "{text}");
    browser.navigate("Cross App Access").await;
    assert!(
        browser
            .text()
            .await
            .contains("https://login.corp-idp.example/keys")
    );
    shots.save(browser, "idps").await;
    browser.fill_id("q", "nobody").await;
    browser.submit("Search").await;
    assert!(browser.text().await.contains("No trusted IdP matches."));
    browser.click_link("Show all").await;
    assert!(browser.text().await.contains("Corp IdP"));
    // Edited on its page: it may also grant docs:write.
    browser.click_link("Corp IdP").await;
    browser.fill_id("scope", "docs:read docs:write").await;
    browser.submit("Save").await;
    let text = browser.text().await;
    assert!(text.contains("IdP saved."), "{text}");
    let idps = api_get(app, "/admin/api/v1/idps").await;
    assert_eq!(idps["items"][0]["scope"], "docs:read docs:write", "{idps}");

    let clients = api_get(app, "/admin/api/v1/clients?q=nightly").await;
    let nightly = clients["items"][0]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.navigate("Cross App Access").await;
    browser.navigate("ID-JAG audiences").await;
    browser
        .fill_id("issuer", "https://auth.tools.example")
        .await;
    browser.fill_id("name", "Tools AS").await;
    browser.fill_id("clients", "cli_unknown").await;
    browser.submit("Add audience").await;
    let text = browser.text().await;
    assert!(text.contains("no such client"), "{text}");
    browser
        .fill_id("clients", &format!("{nightly} agent-at-tools"))
        .await;
    browser
        .fill_id("resources", "https://mcp.tools.example/mcp")
        .await;
    browser.fill_id("scope", "tools:read").await;
    browser.submit("Add audience").await;
    let text = browser.text().await;
    assert!(text.contains("ID-JAG audience added."), "{text}");
    let audiences = api_get(app, "/admin/api/v1/id-jag-audiences").await;
    let tools = item(&audiences, "issuer", "https://auth.tools.example");
    assert_eq!(
        tools["clients"],
        json!([{"client_id": nightly, "client_id_at_audience": "agent-at-tools"}])
    );
    assert_eq!(tools["resources"], json!(["https://mcp.tools.example/mcp"]));
    assert_eq!(tools["scope"], "tools:read");
    browser.navigate("Cross App Access").await;
    browser.navigate("ID-JAG audiences").await;
    shots.save(browser, "audiences").await;
    browser.click_link("Tools AS").await;
    browser.fill_id("name", "Tools AS (staging)").await;
    browser.submit("Save").await;
    let text = browser.text().await;
    assert!(text.contains("ID-JAG audience saved."), "{text}");
    let audiences = api_get(app, "/admin/api/v1/id-jag-audiences").await;
    assert_eq!(audiences["items"][0]["name"], "Tools AS (staging)");
    browser.click_link("Delete this audience…").await;
    browser.submit("Delete").await;
    let text = browser.text().await;
    assert!(text.contains("ID-JAG audience deleted."), "{text}");
    let audiences = api_get(app, "/admin/api/v1/id-jag-audiences").await;
    assert_eq!(audiences["items"], json!([]));
}

/// A registration token (DCR-9's initial access token) issued, shown once, and revoked.
async fn registration_tokens(browser: &Browser, app: &TestApp, shots: &Shots) {
    browser.navigate("Clients").await;
    browser.navigate("Registration tokens").await;
    browser.fill_id("description", "IDE team").await;
    browser.fill_id("expires_in", "forever").await;
    browser.submit("Issue token").await;
    let text = browser.text().await;
    assert!(text.contains("Not issued"), "{text}");
    browser.fill_id("expires_in", "2d").await;
    browser.fill_id("max_registrations", "3").await;
    browser.submit("Issue token").await;
    let text = browser.text().await;
    assert!(text.contains("Registration token issued."), "{text}");
    assert!(text.contains("shown only this once"), "{text}");
    shots.save(browser, "registration").await;
    let tokens = api_get(app, "/admin/api/v1/initial-access-tokens").await;
    let token = item(&tokens, "description", "IDE team");
    assert_eq!(token["max_registrations"], 3, "{token}");
    assert_eq!(
        token["expires_at"].as_i64().unwrap() - token["created_at"].as_i64().unwrap(),
        2 * 86_400
    );
    // Shown once: a reload no longer shows it.
    browser.navigate("Registration tokens").await;
    assert!(!browser.text().await.contains("shown only this once"));
    browser.click_link("Revoke…").await;
    browser.submit("Revoke").await;
    let text = browser.text().await;
    assert!(text.contains("Registration token revoked."), "{text}");
    let tokens = api_get(app, "/admin/api/v1/initial-access-tokens").await;
    assert_eq!(item(&tokens, "description", "IDE team")["state"], "revoked");
}

/// The `href` of the first link on the page whose text is `text`.
async fn first_link(browser: &Browser, text: &str) -> String {
    let html = browser.html().await;
    let Some(end) = html.find(&format!(">{text}</a>")) else {
        let url = browser.current_url().await;
        panic!("no link {text:?} on {url}:\n{html}");
    };
    let start = html[..end].rfind("href=\"").unwrap() + "href=\"".len();
    html[start..end].trim_end_matches('"').replace("&amp;", "&")
}

/// Each destructive action, confirmed first: a user's browser signed out, then the
/// user deleted; an MCP server deleted; a client secret revoked and a client deleted;
/// an IdP no longer trusted.
async fn deletions(browser: &Browser, app: &TestApp) {
    let mut dana = UserAgent::new(app);
    let signed_in = dana
        .sign_in("/login", "dana", "a long enough password")
        .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    browser.navigate("Users").await;
    browser.click_link("dana").await;
    browser.click_link("Sign out…").await;
    browser.submit("End").await;
    let text = browser.text().await;
    assert!(text.contains("Session ended"), "{text}");
    let users = api_get(app, "/admin/api/v1/users?q=dana").await;
    let dana_id = users["items"][0]["user_id"].as_str().unwrap().to_owned();
    let sessions = api_get(app, &format!("/admin/api/v1/users/{dana_id}/sessions")).await;
    assert_eq!(sessions["items"], json!([]), "{sessions}");
    browser.click_link("Delete this user…").await;
    browser.submit("Delete").await;
    assert!(browser.text().await.contains("User deleted"));
    let users = api_get(app, "/admin/api/v1/users?q=dana").await;
    assert_eq!(users["items"], json!([]), "{users}");

    let files = api_get(app, "/admin/api/v1/servers?q=files").await;
    let files_id = files["items"][0]["server_id"].as_str().unwrap().to_owned();
    browser
        .goto(&format!("{}/admin/servers/{files_id}", app.base))
        .await;
    browser.click_link("Delete this MCP server…").await;
    browser.submit("Delete").await;
    assert!(browser.text().await.contains("MCP server deleted."));
    let files = api_get(app, "/admin/api/v1/servers?q=files").await;
    assert_eq!(files["items"], json!([]), "{files}");

    browser.navigate("Clients").await;
    browser.click_link("Nightly agent").await;
    let revoke = first_link(browser, "Revoke…").await;
    browser.goto(&format!("{}{revoke}", app.base)).await;
    browser.submit("Revoke").await;
    assert!(browser.text().await.contains("Secret revoked."));
    let listed = api_get(app, "/admin/api/v1/clients?q=nightly").await;
    let nightly_id = listed["items"][0]["client_id"].as_str().unwrap().to_owned();
    let secrets = api_get(app, &format!("/admin/api/v1/clients/{nightly_id}/secrets")).await;
    let active = secrets["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["active"] == true)
        .count();
    assert_eq!(active, 1, "{secrets}");
    browser.navigate("Clients").await;
    browser.click_link("Signed agent").await;
    browser.click_link("Delete this client…").await;
    browser.submit("Delete").await;
    assert!(browser.text().await.contains("Client deleted."));
    let listed = api_get(app, "/admin/api/v1/clients?q=signed").await;
    assert_eq!(listed["items"], json!([]), "{listed}");

    browser.navigate("Cross App Access").await;
    browser.click_link("Corp IdP").await;
    browser.click_link("Stop trusting this IdP…").await;
    browser.submit("Delete").await;
    assert!(browser.text().await.contains("IdP no longer trusted."));
    let idps = api_get(app, "/admin/api/v1/idps").await;
    assert_eq!(idps["items"], json!([]), "{idps}");
}

both_backends!(backend: console_operator_runs_the_server_from_the_browser);

/// CIMD clients (CIMD-28): one waiting for approval is approved, blocked (after a
/// confirmation) and unblocked; host rules are added and deleted. Each change is audited.
async fn console_operator_approves_and_blocks_cimd_clients(backend: Backend) {
    let (app, docs) = crate::cimd::start(backend, "", "[cimd]\nrequire_approval = true").await;
    app.fixture().await;
    let id = docs.url(DOC_PATH);
    docs.set(
        DOC_PATH,
        Reply::json(&native_document(&id, "Toolkit desktop")),
    );
    // The client's first use: fetched, valid, waiting for an administrator.
    let first = app
        .get(&authorize_path(
            &id,
            REQUEST_REDIRECT,
            &[("resource", RESOURCE)],
        ))
        .await;
    assert_ne!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let shots = Shots::of(backend);
    let browser = operator_console(&app).await;

    browser.navigate("Clients").await;
    browser.navigate("Identified by a URL (CIMD)").await;
    let text = browser.text().await;
    assert!(
        text.contains("Toolkit desktop") && text.contains("pending"),
        "{text}"
    );
    shots.save(&browser, "cimd").await;
    browser.fill_id("q", "nothing like it").await;
    browser.submit("Search").await;
    assert!(browser.text().await.contains("No CIMD client matches."));
    browser.fill_id("q", "TOOLKIT").await;
    browser.submit("Search").await;
    browser.click_link("Toolkit desktop").await;
    assert!(
        browser
            .text()
            .await
            .contains("\"client_name\": \"Toolkit desktop\"")
    );
    browser.submit("Approve this client").await;
    let text = browser.text().await;
    assert!(text.contains("Client approved"), "{text}");
    shots.save(&browser, "cimd-client").await;
    browser.click_link("Block this client…").await;
    browser.submit("Block").await;
    let text = browser.text().await;
    assert!(text.contains("Client blocked"), "{text}");
    let seen = app
        .admin_ok(
            Method::GET,
            &crate::cimd::admin_path(&id),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(seen["standing"], "disabled", "{seen}");
    browser.submit("Unblock this client").await;
    assert!(browser.text().await.contains("Client unblocked."));
    for action in [
        "cimd.client_approved",
        "cimd.client_disabled",
        "cimd.client_enabled",
    ] {
        assert_eq!(audit_events(&app, action).await.len(), 1, "{action}");
    }

    // Host rules: a bad pattern is refused next to the field; a deny rule is added, then
    // deleted after a confirmation.
    browser.click_link("CIMD").await;
    browser.fill_id("pattern", "https://*.evil.example/").await;
    browser.submit("Add rule").await;
    assert!(browser.text().await.contains("Not saved"));
    browser.fill_id("pattern", "*.evil.example").await;
    browser.choose("action", "deny").await;
    browser.fill_id("note", "phishing kit").await;
    browser.submit("Add rule").await;
    let text = browser.text().await;
    assert!(text.contains("Host rule added"), "{text}");
    let rules = app
        .admin_ok(
            Method::GET,
            "/admin/api/v1/cimd/host-rules",
            None,
            StatusCode::OK,
        )
        .await;
    let rule = item(&rules, "pattern", "*.evil.example");
    assert_eq!(rule["action"], "deny", "{rule}");
    assert_eq!(rule["note"], "phishing kit", "{rule}");
    browser.click_link("Delete…").await;
    browser.submit("Delete").await;
    assert!(browser.text().await.contains("Host rule deleted."));
    let rules = app
        .admin_ok(
            Method::GET,
            "/admin/api/v1/cimd/host-rules",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(rules["items"], json!([]));
    browser.close().await;
    app.finish().await;
}

both_backends!(backend: console_operator_approves_and_blocks_cimd_clients);
