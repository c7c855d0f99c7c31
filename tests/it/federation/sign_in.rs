//! The whole federated sign-in (FED-1, FED-2, FED-4): B's sign-in page offers the
//! provider, A signs the user in, B maps (issuer, sub) to its own user, asks its own
//! consent, and issues its own tokens.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{
    Agent, Federated, assert_error_page, assert_signed_in_at_b, assert_signed_out_at_b, at,
    at_provider, b_login_page, callback_url, choose_provider, redirect,
};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::flow::{
    DESKTOP_REDIRECT, RESOURCE, authorize_path, hidden, jwt_payload, param,
};

/// Runs the federated sign-in for B's desktop client with `agent`, approving at A and at
/// B (whose consent page must be shown when `must_ask_consent`); returns the `sub` of the
/// access token B issues.
async fn federated_sub(fed: &Federated, agent: &mut Agent, must_ask_consent: bool) -> String {
    let b = &fed.b;
    let path = authorize_path(
        &fed.fixture.desktop,
        DESKTOP_REDIRECT,
        &[("resource", RESOURCE)],
    );
    let started = agent.get(&at(&b.base, &path)).await;
    let login = redirect(&started, &at(&b.base, &path));
    let request = param(&login, "request").unwrap();

    let (html, csp) = b_login_page(agent, b, Some(&request)).await;
    // The local form stays next to the provider button.
    assert!(html.contains("name=\"password\""), "{html}");
    // The 303 upstream is allowed by the page's form-action.
    assert!(csp.contains(&fed.issuer_a()), "form-action lacks A: {csp}");

    let chosen = choose_provider(agent, b, &html).await;
    let upstream = redirect(&chosen, &at(&b.base, "/login/federated"));
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
    assert_eq!(param(&upstream, "scope").as_deref(), Some("openid"));

    let callback = at_provider(agent, fed, upstream, "allow").await;
    assert_eq!(param(&callback, "iss"), Some(fed.issuer_a()));
    let answered = agent.get(&callback).await;
    let next = redirect(&answered, &callback);
    // FED-1: B's own consent for its client follows the upstream sign-in.
    assert_eq!(next.path(), "/consent", "{next}");
    assert_eq!(param(&next, "request"), Some(request.clone()));
    let page = agent.get(&next).await;
    if must_ask_consent {
        assert_eq!(page.status(), StatusCode::OK, "B's consent page");
    }
    let done = if page.status() == StatusCode::OK {
        let html = page.text().await.unwrap();
        assert!(html.contains("Desktop app"), "{html}");
        let csrf = hidden(&html, "csrf_token");
        let form = [
            ("csrf_token", csrf.as_str()),
            ("request", request.as_str()),
            ("decision", "allow"),
        ];
        let decided = agent.post(&at(&b.base, "/consent"), &form).await;
        redirect(&decided, &at(&b.base, "/consent"))
    } else {
        redirect(&page, &next)
    };
    assert!(done.as_str().starts_with(DESKTOP_REDIRECT), "{done}");
    let code = param(&done, "code").unwrap_or_else(|| panic!("no code in {done}"));
    let (status, _, tokens) = b.redeem_desktop(&fed.fixture, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["iss"], b.issuer.as_str());
    access["sub"].as_str().unwrap().to_owned()
}

async fn fed_4_upstream_sign_in_maps_to_one_local_user(backend: Backend) {
    let fed = Federated::start(backend, true).await;
    let mut agent = fed.agent();
    let sub = federated_sub(&fed, &mut agent, true).await;
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
    assert_eq!(federated_sub(&fed, &mut again, false).await, sub);
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
