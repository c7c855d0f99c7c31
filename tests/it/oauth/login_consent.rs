//! Sign-in, consent and sign-out pages (CORE-4, CORE-17, SCOPE-5, SEC-4..6, SEC-10..12,
//! SEC-14, SEC-18).

use std::time::Duration;

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::harness::flow::{
    PASSWORD, RESOURCE, USERNAME, UserAgent, WEB_REDIRECT, authorize_path, hidden, location, param,
    redeem_code,
};
use crate::harness::{Backend, TestApp};

const SESSION_COOKIE: &str = "__Host-mcp-authz-session";
const DESKTOP_PORT_REDIRECT: &str = "http://127.0.0.1:5555/callback";

/// The session cookie's `Set-Cookie` line in `response`, if any.
fn session_set_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{SESSION_COOKIE}=")))
}

/// Asserts SEC-18 attributes on a session `Set-Cookie` line.
fn assert_cookie_attributes(line: &str) {
    let attributes: Vec<String> = line
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing: {line}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{line}"
    );
}

/// Asserts SEC-5 and SEC-7 headers on a page.
fn assert_page_headers(response: &Response) {
    let headers = response.headers();
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let content_type = headers[CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
}

/// The text of the page's alert, if it has one.
fn alert(html: &str) -> Option<String> {
    let marker = "role=\"alert\">";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find("</div>")? + start;
    Some(html[start..end].to_owned())
}

/// The list of scopes the consent page asks for.
fn asked_scopes(html: &str) -> String {
    let start = html.find("<ul class=\"scopes\">").unwrap_or(html.len());
    let end = html[start..]
        .find("</ul>")
        .map_or(html.len(), |e| e + start);
    html[start..end].to_owned()
}

/// Starts `path`, signs in as alice when asked, and returns the consent location.
async fn to_consent(agent: &mut UserAgent<'_>, path: &str) -> String {
    let started = agent.authorize(path).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{path}");
    let mut next = location(&started);
    if next.starts_with("/login") {
        let signed_in = agent.sign_in(&next, USERNAME, PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        next = location(&signed_in);
    }
    assert!(next.starts_with("/consent?request="), "{next}");
    next
}

/// The consent page at `consent`, asserted 200; returns its HTML.
async fn consent_page(agent: &mut UserAgent<'_>, consent: &str) -> String {
    let page = agent.get(consent).await;
    let status = page.status();
    let html = page.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    html
}

/// The sign-in page's CSRF token, starting a session for `agent`.
async fn login_csrf(agent: &mut UserAgent<'_>) -> String {
    let page = agent.get("/login").await;
    assert_eq!(page.status(), StatusCode::OK);
    hidden(&page.text().await.unwrap(), "csrf_token")
}

/// Whether `agent`'s session is signed in, judged by `/consent`: a signed-in user
/// asking about an unknown request gets the expired page, anyone else the sign-in page.
async fn is_signed_in(agent: &mut UserAgent<'_>) -> bool {
    let answer = agent.get("/consent?request=req_unknown").await;
    match answer.status() {
        StatusCode::BAD_REQUEST => true,
        StatusCode::SEE_OTHER => {
            assert!(location(&answer).starts_with("/login?request="));
            false
        }
        other => panic!("unexpected {other}"),
    }
}

/// Whether `html` shows `<script>x</script>` as text (named or numeric entities).
fn shows_escaped_tag(html: &str) -> bool {
    let named = "&lt;script&gt;x&lt;/script&gt;";
    let numeric = "&#60;script&#62;x&#60;/script&#62;";
    let numeric_slash = "&#60;script&#62;x&#60;&#47;script&#62;";
    [named, numeric, numeric_slash]
        .iter()
        .any(|form| html.contains(form))
}

fn code_of(target: &url::Url) -> String {
    param(target, "code").unwrap_or_else(|| panic!("no code in {target}"))
}

fn scope_words(value: &serde_json::Value) -> Vec<String> {
    let mut words: Vec<String> = value
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    words.sort();
    words
}

async fn core_4_sign_in_page_has_username_password_and_a_sign_in_button(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let started = agent.authorize(&path).await;
    let login = location(&started);
    assert!(login.starts_with("/login?request=req_"), "{login}");
    let page = agent.get(&login).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_page_headers(&page);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<label for=\"username\">Username</label>"),
        "{html}"
    );
    assert!(
        html.contains("<label for=\"password\">Password</label>"),
        "{html}"
    );
    assert!(
        html.contains("type=\"password\" id=\"password\" name=\"password\""),
        "{html}"
    );
    assert!(
        html.contains("<button type=\"submit\">Sign in</button>"),
        "{html}"
    );
    assert!(
        html.contains("<form method=\"post\" action=\"/login\">"),
        "{html}"
    );
    assert!(hidden(&html, "csrf_token").len() >= 32, "{html}");
    let request = login.trim_start_matches("/login?request=");
    assert_eq!(hidden(&html, "request"), request);
    // It names the application asking.
    assert!(html.contains("<strong>Web app</strong>"), "{html}");
    app.finish().await;
}

async fn sec_12_wrong_password_and_unknown_user_get_the_same_answer(app: TestApp) {
    app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let csrf = login_csrf(&mut agent).await;
    let mut answers = Vec::new();
    for (username, password) in [(USERNAME, "wrong password"), ("nobody", PASSWORD)] {
        let form = [
            ("csrf_token", csrf.as_str()),
            ("username", username),
            ("password", password),
        ];
        let response = agent.post("/login", &form).await;
        assert!(
            session_set_cookie(&response).is_none(),
            "a failed sign-in set a cookie"
        );
        let status = response.status();
        let message = alert(&response.text().await.unwrap());
        answers.push((status, message));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert!(
        answers[0].1.as_deref().is_some_and(|m| !m.is_empty()),
        "{answers:?}"
    );
    assert!(!is_signed_in(&mut agent).await);
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    assert_eq!(
        agent.post("/login", &form).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(is_signed_in(&mut agent).await);
    app.finish().await;
}

async fn sec_18_session_cookie_is_host_prefixed_secure_http_only_and_lax(app: TestApp) {
    app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let page = agent.get("/login").await;
    let anonymous = session_set_cookie(&page).expect("the sign-in page starts a session");
    assert_cookie_attributes(&anonymous);
    let csrf = hidden(&page.text().await.unwrap(), "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    let signed_in = agent.post("/login", &form).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = session_set_cookie(&signed_in).expect("sign-in sets the session cookie");
    assert_cookie_attributes(&cookie);
    app.finish().await;
}

async fn sec_18_session_id_changes_at_sign_in(app: TestApp) {
    app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let csrf = login_csrf(&mut agent).await;
    let before = agent.cookie.clone().expect("anonymous session cookie");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    let signed_in = agent.post("/login", &form).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let after = agent.cookie.clone().expect("signed-in session cookie");
    assert_ne!(before, after);
    assert!(is_signed_in(&mut agent).await);
    // The id the browser had before signing in grants nothing (no session fixation).
    agent.cookie = Some(before);
    assert!(!is_signed_in(&mut agent).await);
    app.finish().await;
}

async fn sec_6_login_post_with_a_wrong_or_foreign_csrf_token_is_refused(app: TestApp) {
    app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let csrf = login_csrf(&mut agent).await;
    let mut other = UserAgent::new(&app);
    let foreign = login_csrf(&mut other).await;
    assert_ne!(csrf, foreign);
    for token in ["wrong", "", foreign.as_str()] {
        let form = [
            ("csrf_token", token),
            ("username", USERNAME),
            ("password", PASSWORD),
        ];
        let response = agent.post("/login", &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert_page_headers(&response);
        assert!(session_set_cookie(&response).is_none());
        assert!(!is_signed_in(&mut agent).await);
    }
    // A valid token without the session it belongs to.
    let mut cookieless = UserAgent::new(&app);
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    assert_eq!(
        cookieless.post("/login", &form).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        agent.post("/login", &form).await.status(),
        StatusCode::SEE_OTHER
    );
    app.finish().await;
}

async fn sec_6_posts_without_a_csrf_token_are_refused_with_a_page(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let started = agent.authorize(&path).await;
    let login = location(&started);
    let page = agent.get(&login).await.text().await.unwrap();
    let request = hidden(&page, "request");
    let mut answers = Vec::new();
    let form = [
        ("request", request.as_str()),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    let response = agent.post("/login", &form).await;
    answers.push(("login", response.status(), response.headers().clone()));
    assert!(!is_signed_in(&mut agent).await);
    let consent = to_consent(&mut agent, &path).await;
    consent_page(&mut agent, &consent).await;
    let form = [("request", request.as_str()), ("decision", "allow")];
    let response = agent.post("/consent", &form).await;
    answers.push(("consent", response.status(), response.headers().clone()));
    let response = agent.post("/logout", &[]).await;
    answers.push(("logout", response.status(), response.headers().clone()));
    assert!(is_signed_in(&mut agent).await);
    for (form, status, headers) in &answers {
        let content_type = headers.get(CONTENT_TYPE).map(|v| v.to_str().unwrap());
        assert_eq!(
            (
                *status,
                content_type.is_some_and(|t| t.starts_with("text/html"))
            ),
            (StatusCode::FORBIDDEN, true),
            "{form}: {answers:?}"
        );
    }
    app.finish().await;
}

/// Sends `allowed + 1` wrong passwords at once: the limiter is consulted before the
/// (slow) password check, so exactly one is refused with 429 however long hashing takes.
/// As soon as that answer arrives, even the right password is refused.
async fn assert_throttled_after(app: &TestApp, allowed: usize) {
    let mut agent = UserAgent::new(app);
    let csrf = login_csrf(&mut agent).await;
    let cookie = agent.cookie.clone().unwrap();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..=allowed {
        let request = app
            .http
            .post(format!("{}/login", app.base))
            .header("Cookie", &cookie)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("username", USERNAME),
                ("password", "nope"),
            ]);
        attempts.spawn(async move { request.send().await.unwrap().status() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = attempts.join_next().await {
        let status = status.unwrap();
        if status == StatusCode::TOO_MANY_REQUESTS && !statuses.contains(&status) {
            let right = [
                ("csrf_token", csrf.as_str()),
                ("username", USERNAME),
                ("password", PASSWORD),
            ];
            let response = agent.post("/login", &right).await;
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert!(session_set_cookie(&response).is_none());
            let message = alert(&response.text().await.unwrap());
            assert!(message.is_some_and(|m| m.contains("Too many")));
        }
        statuses.push(status);
    }
    statuses.sort();
    let mut expected = vec![StatusCode::UNAUTHORIZED; allowed];
    expected.push(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(statuses, expected);
    assert!(!is_signed_in(&mut agent).await);
}

async fn sec_12_sign_in_is_throttled_after_five_attempts_per_username(app: TestApp) {
    app.fixture().await;
    assert_throttled_after(&app, 5).await;
    // Per username: another user still signs in from the same address.
    let bob = json!({"username": "bob", "password": "another good passphrase"});
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/users",
        Some(bob),
        StatusCode::CREATED,
    )
    .await;
    let mut agent = UserAgent::new(&app);
    let csrf = login_csrf(&mut agent).await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", "bob"),
        ("password", "another good passphrase"),
    ];
    assert_eq!(
        agent.post("/login", &form).await.status(),
        StatusCode::SEE_OTHER
    );
    app.finish().await;
}

async fn sec_12_throttle_follows_the_configured_attempts(backend: Backend) {
    let toml = "[sessions]\nlogin_attempts_per_username = 2\n";
    let app = TestApp::spawn_with(backend, "", toml).await;
    app.fixture().await;
    assert_throttled_after(&app, 2).await;
    app.finish().await;
}

mod sec_12_throttle_follows_the_configured_attempts {
    use crate::harness::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::sec_12_throttle_follows_the_configured_attempts(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::sec_12_throttle_follows_the_configured_attempts(Backend::Postgres).await;
    }
}

async fn sec_5_pages_forbid_framing_and_send_no_referrer(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    assert_page_headers(&agent.get("/login").await);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let consent = to_consent(&mut agent, &path).await;
    let page = agent.get(&consent).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_page_headers(&page);
    let error = agent
        .get(&authorize_path("cl_nobody", WEB_REDIRECT, &[]))
        .await;
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    assert_page_headers(&error);
    let expired = agent.get("/consent?request=req_unknown").await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    assert_page_headers(&expired);
    assert_page_headers(&agent.get("/signed-out").await);
    app.finish().await;
}

async fn sec_4_successful_posts_answer_303(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let started = agent.authorize(&path).await;
    let signed_in = agent.sign_in(&location(&started), USERNAME, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let consent = location(&signed_in);
    let html = consent_page(&mut agent, &consent).await;
    let csrf = hidden(&html, "csrf_token");
    let allowed = agent.decide(&consent, "allow").await;
    assert_eq!(allowed.status(), StatusCode::SEE_OTHER);
    assert!(location(&allowed).starts_with(WEB_REDIRECT));
    let new_scope = [("resource", RESOURCE), ("scope", "tools:call")];
    let consent = to_consent(
        &mut agent,
        &authorize_path(&fixture.web, WEB_REDIRECT, &new_scope),
    )
    .await;
    let denied = agent.decide(&consent, "deny").await;
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    let signed_out = agent.post("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_out), "/signed-out");
    app.finish().await;
}

async fn sec_11_consent_page_shows_client_redirect_host_server_and_scopes(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let extra = [("resource", RESOURCE), ("scope", "tools:read tools:call")];
    let consent = to_consent(
        &mut agent,
        &authorize_path(&fixture.web, WEB_REDIRECT, &extra),
    )
    .await;
    let html = consent_page(&mut agent, &consent).await;
    assert!(html.contains("Web app"), "{html}");
    assert!(
        html.contains("<dd><strong>app.example.com</strong></dd>"),
        "{html}"
    );
    assert!(html.contains("Test MCP"), "{html}");
    assert!(html.contains(RESOURCE), "{html}");
    let asked = asked_scopes(&html);
    assert!(
        asked.contains("<code>tools:read</code><br>Allows tools:read"),
        "{html}"
    );
    assert!(
        asked.contains("<code>tools:call</code><br>Allows tools:call"),
        "{html}"
    );
    assert!(!html.contains("files:write"), "{html}");
    assert!(html.contains("value=\"allow\">Allow</button>"), "{html}");
    assert!(
        html.contains("value=\"deny\" class=\"secondary\">Deny</button>"),
        "{html}"
    );
    assert!(html.contains(USERNAME), "{html}");
    app.finish().await;
}

async fn sec_14_client_name_is_escaped_on_sign_in_and_consent(app: TestApp) {
    app.fixture().await;
    let hostile = app
        .create_client(json!({
            "client_name": "<script>x</script>",
            "redirect_uris": ["https://evil-app.example/cb"],
        }))
        .await;
    let hostile = hostile["client_id"].as_str().unwrap();
    let path = authorize_path(
        hostile,
        "https://evil-app.example/cb",
        &[("resource", RESOURCE)],
    );
    let mut agent = UserAgent::new(&app);
    let started = agent.authorize(&path).await;
    let login = agent.get(&location(&started)).await.text().await.unwrap();
    assert!(!login.contains("<script>x</script>"), "{login}");
    assert!(shows_escaped_tag(&login), "{login}");
    let consent = to_consent(&mut agent, &path).await;
    let html = consent_page(&mut agent, &consent).await;
    assert!(!html.contains("<script>"), "{html}");
    assert!(shows_escaped_tag(&html), "{html}");
    assert!(html.contains("evil-app.example"), "{html}");
    app.finish().await;
}

async fn core_17_deny_redirects_with_access_denied_state_and_iss(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let done = agent.run(&path, "deny").await;
    assert!(
        done.as_str().starts_with(&format!("{WEB_REDIRECT}?")),
        "{done}"
    );
    assert_eq!(param(&done, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&done, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&done, "iss").as_deref(), Some(app.issuer.as_str()));
    assert_eq!(param(&done, "code"), None);
    // A denial records no consent: the next request asks again.
    let consent = to_consent(&mut agent, &path).await;
    consent_page(&mut agent, &consent).await;
    app.finish().await;
}

async fn scope_5_consent_asks_only_for_new_scopes_and_grants_the_union(app: TestApp) {
    let fixture = app.fixture().await;
    let secret = Some(fixture.web_secret.as_str());
    let mut agent = UserAgent::new(&app);
    let first = [("resource", RESOURCE), ("scope", "tools:read")];
    let done = agent
        .run(&authorize_path(&fixture.web, WEB_REDIRECT, &first), "allow")
        .await;
    let tokens = redeem_code(&app, &fixture.web, secret, WEB_REDIRECT, &code_of(&done)).await;
    assert_eq!(tokens["scope"], "tools:read");

    let union = [("resource", RESOURCE), ("scope", "tools:read tools:call")];
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &union);
    let consent = to_consent(&mut agent, &path).await;
    let html = consent_page(&mut agent, &consent).await;
    let asked = asked_scopes(&html);
    assert!(asked.contains("<code>tools:call</code>"), "{html}");
    assert!(!asked.contains("tools:read"), "{html}");
    let decided = agent.decide(&consent, "allow").await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    let done = url::Url::parse(&location(&decided)).unwrap();
    let tokens = redeem_code(&app, &fixture.web, secret, WEB_REDIRECT, &code_of(&done)).await;
    assert_eq!(scope_words(&tokens["scope"]), ["tools:call", "tools:read"]);
    app.finish().await;
}

async fn sec_10_pre_registered_web_client_is_re_approved_silently(app: TestApp) {
    let fixture = app.fixture().await;
    let secret = Some(fixture.web_secret.as_str());
    let mut agent = UserAgent::new(&app);
    let extra = [("resource", RESOURCE), ("scope", "tools:read tools:call")];
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &extra);
    agent.run(&path, "allow").await;
    let consent = to_consent(&mut agent, &path).await;
    let answer = agent.get(&consent).await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "consent was asked again"
    );
    let target = url::Url::parse(&location(&answer)).unwrap();
    assert!(target.as_str().starts_with(WEB_REDIRECT), "{target}");
    assert_eq!(param(&target, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&target, "iss").as_deref(), Some(app.issuer.as_str()));
    let tokens = redeem_code(&app, &fixture.web, secret, WEB_REDIRECT, &code_of(&target)).await;
    assert_eq!(scope_words(&tokens["scope"]), ["tools:call", "tools:read"]);
    // Asking for more than was allowed is not silent.
    let more = [("resource", RESOURCE), ("scope", "tools:read files:write")];
    let consent = to_consent(
        &mut agent,
        &authorize_path(&fixture.web, WEB_REDIRECT, &more),
    )
    .await;
    let html = consent_page(&mut agent, &consent).await;
    assert!(asked_scopes(&html).contains("files:write"), "{html}");
    // Nor is a first request for the email address, though every resource scope in it
    // was allowed: the page says what the client would see.
    let email = [("resource", RESOURCE), ("scope", "openid email tools:read")];
    let consent = to_consent(
        &mut agent,
        &authorize_path(&fixture.web, WEB_REDIRECT, &email),
    )
    .await;
    let html = consent_page(&mut agent, &consent).await;
    assert!(html.contains("See the email address"), "{html}");
    app.finish().await;
}

/// O21 §7.3.1: a loopback public client's identity cannot be assured, so an earlier
/// approval must not be reused silently.
async fn sec_10_loopback_public_client_is_asked_again(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(
        &fixture.desktop,
        DESKTOP_PORT_REDIRECT,
        &[("resource", RESOURCE)],
    );
    let done = agent.run(&path, "allow").await;
    code_of(&done);
    let consent = to_consent(&mut agent, &path).await;
    let answer = agent.get(&consent).await;
    let status = answer.status();
    let target = answer.headers().get("location").cloned();
    assert_eq!(status, StatusCode::OK, "approved silently: {target:?}");
    app.finish().await;
}

async fn core_4_an_answered_request_shows_the_expired_page(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    // Each round asks for a scope not yet allowed, so the consent page is shown.
    let rounds = [
        ("tools:read", "allow", "allow"),
        ("tools:call", "deny", "allow"),
        ("tools:call", "allow", "deny"),
    ];
    for (scope, first, second) in rounds {
        let extra = [("resource", RESOURCE), ("scope", scope)];
        let consent = to_consent(
            &mut agent,
            &authorize_path(&fixture.web, WEB_REDIRECT, &extra),
        )
        .await;
        let html = consent_page(&mut agent, &consent).await;
        let csrf = hidden(&html, "csrf_token");
        let request = hidden(&html, "request");
        let form = |decision| {
            [
                ("csrf_token", csrf.as_str()),
                ("request", request.as_str()),
                ("decision", decision),
            ]
        };
        let answered = agent.post("/consent", &form(first)).await;
        assert_eq!(answered.status(), StatusCode::SEE_OTHER);
        let again = agent.post("/consent", &form(second)).await;
        assert_eq!(
            again.status(),
            StatusCode::BAD_REQUEST,
            "{first} then {second}"
        );
        assert_page_headers(&again);
        let html = again.text().await.unwrap();
        assert!(html.contains("This request has expired"), "{html}");
        assert_eq!(agent.get(&consent).await.status(), StatusCode::BAD_REQUEST);
    }
    app.finish().await;
}

async fn core_4_a_request_past_its_lifetime_shows_the_expired_page(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let consent = to_consent(&mut agent, &path).await;
    let html = consent_page(&mut agent, &consent).await;
    app.clock.advance(Duration::from_secs(11 * 60));
    let page = agent.get(&consent).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let csrf = hidden(&html, "csrf_token");
    let request = hidden(&html, "request");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("request", &request),
        ("decision", "allow"),
    ];
    let answer = agent.post("/consent", &form).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("This request has expired")
    );
    app.finish().await;
}

async fn sec_6_consent_post_with_a_wrong_csrf_token_is_refused(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let consent = to_consent(&mut agent, &path).await;
    let html = consent_page(&mut agent, &consent).await;
    let request = hidden(&html, "request");
    let mut other = UserAgent::new(&app);
    let foreign = login_csrf(&mut other).await;
    for token in ["wrong", foreign.as_str()] {
        let form = [
            ("csrf_token", token),
            ("request", &request),
            ("decision", "allow"),
        ];
        let refused = agent.post("/consent", &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert_page_headers(&refused);
    }
    // Nothing was decided: the real form still works.
    let allowed = agent.decide(&consent, "allow").await;
    assert_eq!(allowed.status(), StatusCode::SEE_OTHER);
    assert!(location(&allowed).starts_with(&format!("{WEB_REDIRECT}?code=")));
    app.finish().await;
}

async fn sec_6_sign_out_clears_the_cookie_and_ends_the_session(app: TestApp) {
    let fixture = app.fixture().await;
    let mut agent = UserAgent::new(&app);
    let path = authorize_path(&fixture.web, WEB_REDIRECT, &[("resource", RESOURCE)]);
    let consent = to_consent(&mut agent, &path).await;
    let html = consent_page(&mut agent, &consent).await;
    let csrf = hidden(&html, "csrf_token");
    let signed_in_cookie = agent.cookie.clone().unwrap();
    let refused = agent.post("/logout", &[("csrf_token", "wrong")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(is_signed_in(&mut agent).await);
    let signed_out = agent.post("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    let cleared = session_set_cookie(&signed_out).expect("sign-out clears the cookie");
    assert!(
        cleared.starts_with(&format!("{SESSION_COOKIE}=;")),
        "{cleared}"
    );
    assert!(
        cleared.to_ascii_lowercase().contains("max-age=0"),
        "{cleared}"
    );
    assert_cookie_attributes(&cleared);
    assert_eq!(agent.cookie, None);
    let again = agent.get(&consent).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert!(location(&again).starts_with("/login?request="));
    // The old cookie is dead on the server too.
    agent.cookie = Some(signed_in_cookie);
    let replayed = agent.get(&consent).await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert!(location(&replayed).starts_with("/login?request="));
    app.finish().await;
}

both_backends!(
    core_4_sign_in_page_has_username_password_and_a_sign_in_button,
    sec_12_wrong_password_and_unknown_user_get_the_same_answer,
    sec_18_session_cookie_is_host_prefixed_secure_http_only_and_lax,
    sec_18_session_id_changes_at_sign_in,
    sec_6_login_post_with_a_wrong_or_foreign_csrf_token_is_refused,
    sec_6_posts_without_a_csrf_token_are_refused_with_a_page,
    sec_12_sign_in_is_throttled_after_five_attempts_per_username,
    sec_5_pages_forbid_framing_and_send_no_referrer,
    sec_4_successful_posts_answer_303,
    sec_11_consent_page_shows_client_redirect_host_server_and_scopes,
    sec_14_client_name_is_escaped_on_sign_in_and_consent,
    core_17_deny_redirects_with_access_denied_state_and_iss,
    scope_5_consent_asks_only_for_new_scopes_and_grants_the_union,
    sec_10_pre_registered_web_client_is_re_approved_silently,
    sec_10_loopback_public_client_is_asked_again,
    core_4_an_answered_request_shows_the_expired_page,
    core_4_a_request_past_its_lifetime_shows_the_expired_page,
    sec_6_consent_post_with_a_wrong_csrf_token_is_refused,
    sec_6_sign_out_clears_the_cookie_and_ends_the_session,
);
