//! The whole federated sign-in (FED-1, FED-2, FED-4): B's sign-in page offers the
//! provider, B asks its own consent first, A signs the user in, B maps (issuer, sub) to
//! its own user and issues its own tokens.

use reqwest::header::CONTENT_SECURITY_POLICY;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{
    Agent, Federated, PROVIDER_ID, PROVIDER_NAME, assert_error_page, assert_signed_in_at_b,
    assert_signed_out_at_b, at, at_provider, b_login_page, callback_url, choose_provider, redirect,
};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::flow::{
    DESKTOP_REDIRECT, RESOURCE, authorize_path, hidden, jwt_payload, param,
};

/// Runs the federated sign-in for B's desktop client with `agent`: B's consent first
/// (FED-1, before anything goes upstream), then A's sign-in and consent, then straight
/// back to the client; returns the `sub` of the access token B issues.
async fn federated_sub(fed: &Federated, agent: &mut Agent) -> String {
    let b = &fed.b;
    let code = federated_code(fed, agent, &fed.fixture.desktop, DESKTOP_REDIRECT, &[]).await;
    let (status, _, tokens) = b.redeem_desktop(&fed.fixture, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["iss"], b.issuer.as_str());
    access["sub"].as_str().unwrap().to_owned()
}

/// The federated sign-in at B through A for `client` (answered at `redirect_uri`, with
/// `extra` authorization parameters), checked step by step; returns B's code.
pub(super) async fn federated_code(
    fed: &Federated,
    agent: &mut Agent,
    client: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let b = &fed.b;
    let mut params = vec![("resource", RESOURCE)];
    params.extend_from_slice(extra);
    let path = authorize_path(client, redirect_uri, &params);
    let started = agent.get(&at(&b.base, &path)).await;
    let login = redirect(&started, &at(&b.base, &path));
    let request = param(&login, "request").unwrap();

    let (html, _) = b_login_page(agent, b, Some(&request)).await;
    // The local form stays next to the provider button.
    assert!(html.contains("name=\"password\""), "{html}");

    // FED-1: the button leads to B's consent page, not yet upstream.
    let chosen = choose_provider(agent, b, &html).await;
    let consent = redirect(&chosen, &at(&b.base, "/login/federated"));
    assert_eq!(consent.path(), "/consent", "{consent}");
    assert_eq!(param(&consent, "request"), Some(request.clone()));
    assert_eq!(param(&consent, "provider").as_deref(), Some(PROVIDER_ID));
    let page = agent.get(&consent).await;
    assert_eq!(page.status(), StatusCode::OK, "B's consent page");
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    // The 303 upstream (allow) and to the client (deny) are allowed by form-action.
    assert!(csp.contains(&fed.issuer_a()), "form-action lacks A: {csp}");
    let origin = url::Url::parse(redirect_uri)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(csp.contains(&origin), "form-action lacks the client: {csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("Allow and sign in with {PROVIDER_NAME}")),
        "{html}"
    );
    assert!(
        !html.contains("Signed in as"),
        "nobody is signed in yet: {html}"
    );
    let csrf = hidden(&html, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("provider", PROVIDER_ID),
        ("request", request.as_str()),
        ("decision", "allow"),
    ];
    let decided = agent.post(&at(&b.base, "/login/federated"), &form).await;
    let upstream = redirect(&decided, &at(&b.base, "/login/federated"));
    assert!(upstream.as_str().starts_with(&fed.issuer_a()), "{upstream}");
    // FED-2: code flow with PKCE S256, a nonce and a state; our client id at A.
    assert_eq!(param(&upstream, "response_type").as_deref(), Some("code"));
    assert_eq!(
        param(&upstream, "client_id"),
        Some(fed.b_client_at_a.clone())
    );
    assert_eq!(
        param(&upstream, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(param(&upstream, "code_challenge").is_some_and(|c| c.len() == 43));
    assert!(param(&upstream, "nonce").is_some_and(|n| n.len() >= 32));
    assert!(param(&upstream, "state").is_some_and(|s| s.len() >= 32));
    let scope = param(&upstream, "scope").unwrap_or_default();
    assert_eq!(scope.split(' ').next(), Some("openid"), "{upstream}");

    let callback = at_provider(agent, fed, upstream, "allow").await;
    assert_eq!(param(&callback, "iss"), Some(fed.issuer_a()));
    let answered = agent.get(&callback).await;
    // Approved before going upstream: the callback answers the client at once.
    let done = returning_target(answered).await;
    assert!(done.as_str().starts_with(redirect_uri), "{done}");
    param(&done, "code").unwrap_or_else(|| panic!("no code in {done}"))
}

async fn fed_4_upstream_sign_in_maps_to_one_local_user(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let sub = federated_sub(&fed, &mut agent).await;
    // FED-4: B's user, not A's subject (upstream identifiers and tokens stay upstream).
    assert!(sub.starts_with("usr_"), "{sub}");
    assert_ne!(sub, fed.a_user);
    let users = fed
        .b
        .admin_ok(Method::GET, "/admin/api/v1/users", None, StatusCode::OK)
        .await;
    let ids: Vec<&Value> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["user_id"])
        .collect();
    assert!(ids.contains(&&Value::from(sub.clone())), "{users}");
    assert_eq!(
        ids.len(),
        2,
        "the local alice and one provisioned user: {users}"
    );

    // The same upstream user again, from a fresh browser: the same local user, no new
    // account.
    let mut again = fed.agent();
    assert_eq!(federated_sub(&fed, &mut again).await, sub);
    let users = fed
        .b
        .admin_ok(Method::GET, "/admin/api/v1/users", None, StatusCode::OK)
        .await;
    assert_eq!(users["items"].as_array().unwrap().len(), 2, "{users}");
    fed.finish().await;
}

both_backends!(backend: fed_4_upstream_sign_in_maps_to_one_local_user);

async fn fed_4_unknown_identity_without_provisioning_is_refused(backend: Backend) {
    let fed = Federated::start(backend, false).await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let answered = agent.get(&callback).await;
    assert_error_page(
        answered,
        StatusCode::BAD_REQUEST,
        "no account here is linked",
    )
    .await;
    assert_signed_out_at_b(&mut agent, &fed.b).await;
    let users = fed
        .b
        .admin_ok(Method::GET, "/admin/api/v1/users", None, StatusCode::OK)
        .await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1, "{users}");
    fed.finish().await;
}

both_backends!(backend: fed_4_unknown_identity_without_provisioning_is_refused);

/// Patches the user `user_id` at `app` with `body`.
async fn patch_user(app: &crate::harness::TestApp, user_id: &str, body: Value) {
    let path = format!("/admin/api/v1/users/{user_id}");
    app.admin_ok(Method::PATCH, &path, Some(body), StatusCode::OK)
        .await;
}

/// Verified-email linking (XAA-13) through a provider that allows it: A vouches for
/// the address (`email_verified`), and B links the identity to the account whose
/// recorded address matches; a different address links nothing.
async fn fed_4_verified_email_links_the_local_account(backend: Backend) {
    let provider = "jit_provisioning = false\nlink_verified_email = true\n\
                    scopes = [\"openid\", \"email\"]";
    let fed = Federated::start_with(backend, provider, "", "").await;
    let b_users = fed
        .b
        .admin_ok(Method::GET, "/admin/api/v1/users", None, StatusCode::OK)
        .await;
    let b_alice = b_users["items"][0]["user_id"].as_str().unwrap().to_owned();
    patch_user(
        &fed.b,
        &b_alice,
        serde_json::json!({"email": "alice@corp.example"}),
    )
    .await;
    // A's account has another address: nothing to link, and provisioning is off.
    patch_user(
        &fed.a,
        &fed.a_user,
        serde_json::json!({"email": "alice@home.example"}),
    )
    .await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let answered = agent.get(&callback).await;
    assert_error_page(
        answered,
        StatusCode::BAD_REQUEST,
        "no account here is linked",
    )
    .await;

    // The same address (in another case): linked to B's alice, and audited at B.
    patch_user(
        &fed.a,
        &fed.a_user,
        serde_json::json!({"email": "Alice@Corp.example"}),
    )
    .await;
    let mut agent = fed.agent();
    assert_eq!(federated_sub(&fed, &mut agent).await, b_alice);
    let linked = crate::cimd::audit_events(&fed.b, "user.identity_linked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0].target_id, b_alice, "{linked:?}");
    // Once linked, the identity is B's alice even after A's address changes.
    patch_user(&fed.a, &fed.a_user, serde_json::json!({"email": null})).await;
    let mut agent = fed.agent();
    assert_eq!(federated_sub(&fed, &mut agent).await, b_alice);
    fed.finish().await;
}

both_backends!(backend: fed_4_verified_email_links_the_local_account);

async fn fed_2_sign_in_without_a_pending_request_lands_home(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let callback = callback_url(&mut agent, &fed).await;
    let answered = agent.get(&callback).await;
    let home = redirect(&answered, &callback);
    assert_eq!(home.as_str(), format!("{}/", fed.b.base));
    assert_signed_in_at_b(&mut agent, &fed.b).await;
    fed.finish().await;
}

both_backends!(backend: fed_2_sign_in_without_a_pending_request_lands_home);

/// The client URL of B's "returning" page (a fresh navigation, not a 303: see
/// `web::pages::federation::returning`), from its refresh and its link, which agree.
async fn returning_target(response: reqwest::Response) -> url::Url {
    assert_eq!(response.status(), StatusCode::OK, "the returning page");
    let html = response.text().await.unwrap();
    let unescape = |s: &str| s.replace("&amp;", "&").replace("&#x2f;", "/");
    let between = |start: &str, end: char| {
        let from = html
            .find(start)
            .unwrap_or_else(|| panic!("no {start} in {html}"))
            + start.len();
        unescape(&html[from..from + html[from..].find(end).unwrap()])
    };
    let refresh = between("http-equiv=\"refresh\" content=\"0; url=", '"');
    let link = between("<a href=\"", '"');
    assert_eq!(refresh, link);
    url::Url::parse(&refresh).unwrap()
}

/// FED-1: denied on B's consent page, the request ends with `access_denied` at the
/// client and nothing is sent upstream.
async fn fed_1_denial_before_upstream_answers_the_client(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let b = &fed.b;
    let path = authorize_path(
        &fed.fixture.desktop,
        DESKTOP_REDIRECT,
        &[("resource", RESOURCE)],
    );
    let started = agent.get(&at(&b.base, &path)).await;
    let request = param(&redirect(&started, &at(&b.base, &path)), "request").unwrap();
    let (html, _) = b_login_page(&mut agent, b, Some(&request)).await;
    let chosen = choose_provider(&mut agent, b, &html).await;
    let consent = redirect(&chosen, &at(&b.base, "/login/federated"));
    let page = agent.get(&consent).await;
    assert_eq!(page.status(), StatusCode::OK, "{consent}");
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("provider", PROVIDER_ID),
        ("request", request.as_str()),
        ("decision", "deny"),
    ];
    let decided = agent.post(&at(&b.base, "/login/federated"), &form).await;
    let answer = redirect(&decided, &at(&b.base, "/login/federated"));
    assert!(answer.as_str().starts_with(DESKTOP_REDIRECT), "{answer}");
    assert_eq!(param(&answer, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&answer, "state").as_deref(), Some("st-123"));
    // The request is answered: allowing it now is refused, and nothing went upstream.
    let form = [
        ("csrf_token", csrf.as_str()),
        ("provider", PROVIDER_ID),
        ("request", request.as_str()),
        ("decision", "allow"),
    ];
    let late = agent.post(&at(&b.base, "/login/federated"), &form).await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    let html = late.text().await.unwrap();
    assert!(html.contains("This request has expired"), "{html}");
    fed.finish().await;
}

both_backends!(backend: fed_1_denial_before_upstream_answers_the_client);

/// An administrator who signs in to the console through the provider comes back to the
/// console, as one who signs in with a password does (`/login?next=console`).
async fn fed_console_sign_in_through_the_provider_returns_to_the_console(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let b = &fed.b;
    // The first sign-in makes the account at B; the operator gives it the admin role.
    let mut first = fed.agent();
    let callback = callback_url(&mut first, &fed).await;
    first.get(&callback).await;
    let users = b
        .admin_ok(Method::GET, "/admin/api/v1/users", None, StatusCode::OK)
        .await;
    let mut federated = Vec::new();
    for user in users["items"].as_array().unwrap() {
        let id = user["user_id"].as_str().unwrap();
        let path = format!("/admin/api/v1/users/{id}/identities");
        let identities = b.admin_ok(Method::GET, &path, None, StatusCode::OK).await;
        if !identities["items"].as_array().unwrap().is_empty() {
            federated.push(id.to_owned());
        }
    }
    assert_eq!(federated.len(), 1, "{users}");
    let body = serde_json::json!({"admin": true});
    patch_user(b, &federated[0], body).await;

    // Signed out, the console sends the browser to sign in; the provider button there
    // carries the console along, through the provider and back.
    let mut agent = fed.agent();
    let console = at(&b.base, "/admin");
    let login = redirect(&agent.get(&console).await, &console);
    assert_eq!(login.as_str(), format!("{}/login?next=console", b.base));
    let page = agent.get(&login).await;
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("provider", PROVIDER_ID),
        ("next", "console"),
    ];
    let started = agent.post(&at(&b.base, "/login/federated"), &form).await;
    let upstream = redirect(&started, &at(&b.base, "/login/federated"));
    let callback = at_provider(&mut agent, &fed, upstream, "allow").await;
    let answered = agent.get(&callback).await;
    assert_eq!(redirect(&answered, &callback), console);
    let dashboard = agent.get(&console).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert!(dashboard.text().await.unwrap().contains("Dashboard"));

    // A `next` naming anything else is not followed: home, as before.
    let mut elsewhere = fed.agent();
    let (html, _) = b_login_page(&mut elsewhere, b, None).await;
    assert!(!html.contains("name=\"next\""), "{html}");
    let csrf = hidden(&html, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("provider", PROVIDER_ID),
        ("next", "https://evil.example/"),
    ];
    let started = elsewhere
        .post(&at(&b.base, "/login/federated"), &form)
        .await;
    let upstream = redirect(&started, &at(&b.base, "/login/federated"));
    let callback = at_provider(&mut elsewhere, &fed, upstream, "allow").await;
    let answered = elsewhere.get(&callback).await;
    assert_eq!(
        redirect(&answered, &callback).as_str(),
        format!("{}/", b.base)
    );
    fed.finish().await;
}

both_backends!(backend: fed_console_sign_in_through_the_provider_returns_to_the_console);
