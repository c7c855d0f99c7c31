//! `GET/POST /login`: sign-in of local users (SEC-6, SEC-12, SEC-18).

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;

use super::{PageChrome, PageError, PageForm, allow_form_targets, render};
use crate::session::Session;
use crate::session::login::LoginOutcome;
use crate::state::AppState;
use crate::web::responses::see_other;
use crate::web::session::{CurrentSession, set_cookie};

#[derive(Template)]
#[template(path = "pages/login.html")]
struct LoginPage<'a> {
    chrome: PageChrome,
    request_id: Option<&'a str>,
    client_name: Option<String>,
    username: &'a str,
    error: Option<&'a str>,
    providers: Vec<ProviderButton>,
    /// Signing in continues to the admin console.
    to_console: bool,
}

/// A "Sign in with <name>" button (FED).
struct ProviderButton {
    id: String,
    name: String,
}

fn provider_buttons(state: &AppState) -> Vec<ProviderButton> {
    state
        .federation
        .providers()
        .map(|(id, name)| ProviderButton {
            id: id.to_owned(),
            name: name.to_owned(),
        })
        .collect()
}

/// The page's CSP form targets: the client's redirect URI (silent approval) and the
/// providers' authorization endpoints (the 303 after a provider button).
async fn form_targets(state: &AppState, redirect_uri: Option<&str>) -> Vec<String> {
    let mut targets: Vec<String> = redirect_uri.map(str::to_owned).into_iter().collect();
    targets.extend(state.federation.authorization_origins().await);
    targets
}

/// `?request=` (an authorization request) or `?next=console` on the sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    request: Option<String>,
    next: Option<String>,
}

/// The only `next` honoured: a fixed name, never a URL, so sign-in cannot be made to
/// redirect anywhere else.
const NEXT_CONSOLE: &str = "console";

/// The sign-in form.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    csrf_token: String,
    request: Option<String>,
    username: String,
    password: SecretString,
    next: Option<String>,
}

/// `value` for a URL path segment or query value.
pub(crate) fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Where to continue after sign-in: the consent step of `request`, or the home page.
pub(crate) fn continue_url(state: &AppState, request: Option<&str>) -> String {
    let base = state.settings.issuer.path();
    match request {
        Some(id) => format!("{base}/consent?request={}", encoded(id)),
        None => format!("{base}/"),
    }
}

/// Whether a `next` names the console, the only `next` honoured.
pub(crate) fn is_console(next: Option<&str>) -> bool {
    next == Some(NEXT_CONSOLE)
}

/// Where sign-in continues: the request's consent step, else the console when asked
/// for, else home.
pub(crate) fn after_sign_in(state: &AppState, request: Option<&str>, to_console: bool) -> String {
    match request {
        None if to_console => "/admin".to_owned(),
        _ => continue_url(state, request),
    }
}

/// The sign-in page that continues to the admin console.
pub(crate) fn console_login_url(state: &AppState) -> String {
    format!("{}/login?next={NEXT_CONSOLE}", state.settings.issuer.path())
}

/// The sign-in page for `request`.
pub(crate) fn login_url(state: &AppState, request: &str) -> String {
    format!(
        "{}/login?request={}",
        state.settings.issuer.path(),
        encoded(request)
    )
}

/// Shows the form, starting an anonymous session to bind its CSRF token to.
pub(crate) async fn get(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let to_console = is_console(query.next.as_deref());
    if session.as_ref().is_some_and(|s| s.user().is_some()) {
        return see_other(&after_sign_in(&state, query.request.as_deref(), to_console));
    }
    let (session, fresh) = match session {
        Some(session) => (session, false),
        None => match state.sessions.start_anonymous().await {
            Ok(session) => (session, true),
            Err(error) => return PageError::internal(&error).render(&state, &headers),
        },
    };
    let client = request_client(&state, query.request.as_deref()).await;
    let page = LoginPage {
        chrome: PageChrome::new(&state, state.sessions.csrf_token(&session)),
        request_id: query.request.as_deref(),
        client_name: client.as_ref().map(|(name, _)| name.clone()),
        username: "",
        error: None,
        providers: provider_buttons(&state),
        to_console,
    };
    // Signing in may answer the client at once (silent approval), so the form may
    // lead there; a provider button leads upstream.
    let targets = form_targets(&state, client.as_ref().map(|(_, uri)| uri.as_str())).await;
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let response = allow_form_targets(render(StatusCode::OK, &page), &targets);
    with_cookie(response, fresh.then_some(&session), &state)
}

/// Checks the credentials; on success rotates the session and continues (303).
pub(crate) async fn post(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    PageForm(form): PageForm<LoginForm>,
) -> Response {
    let Some(session) = session.filter(|s| state.sessions.csrf_matches(s, &form.csrf_token)) else {
        return PageError::bad_form().render(&state, &headers); // SEC-6
    };
    let to_console = is_console(form.next.as_deref());
    // SEC-12 limits count per client address, through trusted proxies only (SEC-17).
    let trusted = &state.settings.raw.server.trusted_proxies;
    let address = crate::web::client_ip::client_ip(peer.ip(), &headers, trusted);
    let outcome = state
        .login_guard
        .attempt(&state.store, &form.username, form.password, address)
        .await;
    // Security events (budgeted): failed sign-ins and lockouts, by name and address.
    let refused = match &outcome {
        Ok(LoginOutcome::Invalid) => Some("login.failed"),
        Ok(LoginOutcome::Throttled) => Some("login.throttled"),
        _ => None,
    };
    if let Some(action) = refused {
        // Bounded: whatever was typed is stored, at most 64 characters of it.
        let username: String = form
            .username
            .trim()
            .to_ascii_lowercase()
            .chars()
            .take(64)
            .collect();
        let detail = serde_json::json!({});
        state
            .oauth
            .security
            .record(action, "username", &username, detail)
            .await;
    }
    let (status, message) = match outcome {
        Ok(LoginOutcome::Success(user)) => {
            return match state.sessions.sign_in(Some(&session), &user).await {
                Ok(new_session) => {
                    let target = after_sign_in(&state, form.request.as_deref(), to_console);
                    with_cookie(see_other(&target), Some(&new_session), &state)
                }
                Err(error) => PageError::internal(&error).render(&state, &headers),
            };
        }
        // One answer for unknown users and wrong passwords (SEC-12).
        Ok(LoginOutcome::Invalid) => (StatusCode::UNAUTHORIZED, "Invalid username or password."),
        Ok(LoginOutcome::Throttled) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Wait a minute and try again.",
        ),
        Err(error) => return PageError::internal(&error).render(&state, &headers),
    };
    let client = request_client(&state, form.request.as_deref()).await;
    let page = LoginPage {
        chrome: PageChrome::new(&state, state.sessions.csrf_token(&session)),
        request_id: form.request.as_deref(),
        client_name: client.as_ref().map(|(name, _)| name.clone()),
        username: &form.username,
        error: Some(message),
        providers: provider_buttons(&state),
        to_console,
    };
    let targets = form_targets(&state, client.as_ref().map(|(_, uri)| uri.as_str())).await;
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    allow_form_targets(render(status, &page), &targets)
}

/// The client's name and redirect URI of an open authorization request.
async fn request_client(state: &AppState, request: Option<&str>) -> Option<(String, String)> {
    let request = state
        .store
        .find_open_authorization_request(request?, state.clock.now())
        .await
        .ok()??;
    // CIMD-22: the name the request was validated with.
    let name = match request.client_name {
        Some(name) => name,
        None => {
            let id = crate::domain::ids::ClientId::from_stored(request.client_id);
            state.store.find_client(&id).await.ok()??.name
        }
    };
    Some((name, request.redirect_uri))
}

/// Adds the session cookie to `response` when a session was started or rotated.
pub(crate) fn with_cookie(
    mut response: Response,
    session: Option<&Session>,
    state: &AppState,
) -> Response {
    if let Some(cookie) = session.and_then(|s| set_cookie(s, state.sessions.max_age())) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
