//! `GET/POST /consent`: the user decides (CORE-4, SCOPE-5, SEC-6, SEC-10, SEC-11).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::login::login_url;
use super::{PageChrome, PageError, PageForm, allow_form_targets, allow_redirect_to, render};
use crate::domain::ids::UserId;
use crate::oauth::consent::{self, ConsentError, ConsentPrompt, NextStep};
use crate::session::Session;
use crate::state::AppState;
use crate::web::responses::see_other;
use crate::web::session::CurrentSession;

#[derive(Template)]
#[template(path = "pages/consent.html")]
struct ConsentPage<'a> {
    chrome: PageChrome,
    request_id: &'a str,
    client_name: &'a str, // from the client's registration: hostile until escaped
    client_host: Option<&'a str>,
    redirect_host: &'a str,
    server_name: &'a str,
    server_resource: &'a str,
    scopes: &'a [(String, String)],
    already_granted: &'a [String],
    identity: &'a [&'static str],
    is_unverified: bool,
    is_loopback_only: bool,
    client_changed: bool,
    /// The signed-in user; `None` before an upstream sign-in (FED-1).
    username: Option<&'a str>,
    /// FED-1: (provider id, name) when approving leads to that provider's sign-in.
    upstream: Option<(&'a str, &'a str)>,
}

/// `?request=` and, before an upstream sign-in, `&provider=` (FED-1).
#[derive(Debug, Deserialize)]
pub(crate) struct ConsentQuery {
    request: String,
    provider: Option<String>,
}

/// The consent form.
#[derive(Debug, Deserialize)]
pub(crate) struct ConsentForm {
    csrf_token: String,
    request: String,
    decision: String,
}

fn signed_in(session: Option<Session>) -> Option<(Session, UserId, i64)> {
    let session = session?;
    let user = session.user()?;
    let auth_time = session
        .record
        .auth_time
        .unwrap_or(session.record.created_at);
    Some((session, user, auth_time))
}

/// Continues a request for the signed-in user: answers the client, or asks.
pub(crate) async fn get(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<ConsentQuery>,
    headers: HeaderMap,
) -> Response {
    let Some((session, user, auth_time)) = signed_in(session.clone()) else {
        return match (session, query.provider.as_deref()) {
            (Some(session), Some(provider)) => {
                before_upstream(&state, &session, &query.request, provider, &headers).await
            }
            _ => see_other(&login_url(&state, &query.request)),
        };
    };
    let request = match state
        .store
        .find_open_authorization_request(&query.request, state.clock.now())
        .await
    {
        Ok(Some(request)) => request,
        Ok(None) => return PageError::expired().render(&state, &headers),
        Err(error) => return PageError::internal(&error).render(&state, &headers),
    };
    match consent::next_step(&state.oauth, &request, &user, auth_time).await {
        Ok(NextStep::Redirect(url)) => see_other(&url),
        Ok(NextStep::Consent(prompt)) => {
            let page = show(&state, &session, &user, &prompt).await;
            allow_redirect_to(page, Some(&request.redirect_uri))
        }
        Err(error) => consent_error(&state, &headers, &error),
    }
}

/// FED-1: the decision for a user not known yet, asked before sending them to the
/// upstream provider; the form posts to the provider sign-in.
async fn before_upstream(
    state: &AppState,
    session: &Session,
    request_id: &str,
    provider: &str,
    headers: &HeaderMap,
) -> Response {
    let Some(provider_name) = state.federation.provider_name(provider) else {
        return see_other(&login_url(state, request_id));
    };
    let request = match state
        .store
        .find_open_authorization_request(request_id, state.clock.now())
        .await
    {
        Ok(Some(request)) => request,
        Ok(None) => return PageError::expired().render(state, headers),
        Err(error) => return PageError::internal(&error).render(state, headers),
    };
    match consent::prompt_before_sign_in(&state.oauth, &request).await {
        Ok(Some(prompt)) => {
            let page = render_prompt(
                state,
                session,
                &prompt,
                None,
                Some((provider, provider_name)),
            );
            let mut targets = vec![request.redirect_uri.clone()];
            targets.extend(state.federation.authorization_origins().await);
            let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
            allow_form_targets(page, &targets)
        }
        // A deferred error goes to the client after sign-in: nothing to decide here.
        Ok(None) => see_other(&login_url(state, request_id)),
        Err(error) => consent_error(state, headers, &error),
    }
}

/// Allow or deny; both answer the client with a 303 (SEC-4).
pub(crate) async fn post(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    PageForm(form): PageForm<ConsentForm>,
) -> Response {
    let Some((session, user, auth_time)) = signed_in(session) else {
        return PageError::bad_form().render(&state, &headers);
    };
    if !state.sessions.csrf_matches(&session, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers); // SEC-6
    }
    let answer = match form.decision.as_str() {
        "allow" => consent::approve(&state.oauth, &form.request, &user, auth_time).await,
        "deny" => consent::deny(&state.oauth, &form.request).await,
        _ => return PageError::bad_form().render(&state, &headers),
    };
    match answer {
        Ok(url) => see_other(&url),
        Err(error) => consent_error(&state, &headers, &error),
    }
}

async fn show(
    state: &AppState,
    session: &Session,
    user: &UserId,
    prompt: &ConsentPrompt,
) -> Response {
    let username = match state.store.find_user(user).await {
        Ok(Some(record)) => record.user.username.as_str().to_owned(),
        _ => user.to_string(),
    };
    render_prompt(state, session, prompt, Some(&username), None)
}

/// The consent page for `prompt`, for the signed-in `username`, or (FED-1) before a
/// sign-in at `upstream` (provider id, name).
pub(super) fn render_prompt(
    state: &AppState,
    session: &Session,
    prompt: &ConsentPrompt,
    username: Option<&str>,
    upstream: Option<(&str, &str)>,
) -> Response {
    let page = ConsentPage {
        chrome: PageChrome::new(state, state.sessions.csrf_token(session)),
        request_id: &prompt.request_id,
        client_name: &prompt.client_name,
        client_host: prompt.client_host.as_deref(),
        redirect_host: &prompt.redirect_host,
        server_name: &prompt.server_name,
        server_resource: &prompt.server_resource,
        scopes: &prompt.scopes,
        already_granted: &prompt.already_granted,
        identity: &prompt.identity,
        is_unverified: prompt.is_unverified,
        is_loopback_only: prompt.is_loopback_only,
        client_changed: prompt.client_changed,
        username,
        upstream,
    };
    render(StatusCode::OK, &page)
}

fn consent_error(state: &AppState, headers: &HeaderMap, error: &ConsentError) -> Response {
    match error {
        ConsentError::RequestGone => PageError::expired().render(state, headers),
        ConsentError::OAuth(error) => PageError::internal(error).render(state, headers),
    }
}
