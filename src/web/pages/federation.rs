//! `POST /login/federated` and `GET /login/callback`: sign-in through an upstream
//! OpenID provider (FED-1..4). The protocol work is in `crate::federation`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use askama::Template;

use super::login::{after_sign_in, is_console, with_cookie};
use super::{PageChrome, PageError, PageForm, render};
use crate::federation::{Callback, FederationError};
use crate::oauth::consent::{self, ConsentError};
use crate::session::Session;
use crate::state::AppState;
use crate::web::responses::see_other;
use crate::web::session::CurrentSession;

/// The provider button's form, and the pre-sign-in consent form (with `decision`).
#[derive(Deserialize)]
pub(crate) struct FederatedForm {
    csrf_token: String,
    provider: String,
    request: Option<String>,
    decision: Option<String>,
    /// `console` from the console's sign-in page.
    next: Option<String>,
}

/// Starts a sign-in upstream: 303 to the provider's authorization endpoint. When the
/// sign-in continues an authorization request, the user first decides on our consent
/// page (FED-1): a button press without a decision is sent there.
pub(crate) async fn start(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    PageForm(form): PageForm<FederatedForm>,
) -> Response {
    let Some(session) = session.filter(|s| state.sessions.csrf_matches(s, &form.csrf_token)) else {
        return PageError::bad_form().render(&state, &headers); // SEC-6
    };
    if state.federation.provider_name(&form.provider).is_none() {
        return failure(&state, &headers, &FederationError::UnknownProvider);
    }
    let consented = match form.request.as_deref() {
        None => false,
        Some(request) => {
            let open = match state
                .store
                .find_open_authorization_request(request, state.clock.now())
                .await
            {
                Ok(Some(open)) => open,
                Ok(None) => return PageError::expired().render(&state, &headers),
                Err(error) => return PageError::internal(&error).render(&state, &headers),
            };
            match form.decision.as_deref() {
                // A deferred error reaches the client after sign-in: nothing to approve.
                None if open.error_code.is_some() => false,
                None => return see_other(&pre_consent_url(&state, request, &form.provider)),
                Some("allow") => true,
                Some("deny") => {
                    return match consent::deny(&state.oauth, request).await {
                        Ok(url) => see_other(&url),
                        Err(ConsentError::RequestGone) => {
                            PageError::expired().render(&state, &headers)
                        }
                        Err(ConsentError::OAuth(error)) => {
                            PageError::internal(&error).render(&state, &headers)
                        }
                    };
                }
                Some(_) => return PageError::bad_form().render(&state, &headers),
            }
        }
    };
    match state
        .federation
        .begin(
            &form.provider,
            &session.record.session_hash,
            form.request.as_deref(),
            consented,
            is_console(form.next.as_deref()),
        )
        .await
    {
        Ok(url) => see_other(&url),
        Err(error) => failure(&state, &headers, &error),
    }
}

/// The page that sends the browser on to the client with its answer. Not a 303: this
/// callback is itself the end of a redirect chain that started with a form at the
/// provider, and browsers hold every hop of that chain to the provider's CSP
/// `form-action`, which cannot name our clients. A fresh page starts a new navigation.
fn returning(state: &AppState, session: &Session, client_name: &str, target: &str) -> Response {
    let page = ReturningPage {
        chrome: PageChrome::new(state, state.sessions.csrf_token(session)),
        client_name,
        target,
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "pages/returning.html")]
struct ReturningPage<'a> {
    chrome: PageChrome,
    client_name: &'a str, // hostile until escaped
    target: &'a str,
}

/// The consent page of `request` before signing in at `provider` (FED-1).
fn pre_consent_url(state: &AppState, request: &str, provider: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("request", request)
        .append_pair("provider", provider)
        .finish();
    format!("{}/consent?{query}", state.settings.issuer.path())
}

/// The provider's answer: signs the session in as the linked account and answers the
/// client of the pending request, which the user approved before going upstream
/// (FED-1); a sign-in without a request goes home.
pub(crate) async fn callback(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(session) = session else {
        return failure(&state, &headers, &FederationError::BadState);
    };
    match state
        .federation
        .complete(&callback, &session.record.session_hash)
        .await
    {
        Ok(signed_in) => match state
            .sessions
            .sign_in(Some(&session), &signed_in.user)
            .await
        {
            Ok(new_session) => {
                let target = match (signed_in.consented, signed_in.request_id.as_deref()) {
                    // FED-1: approved before going upstream; answer the client now.
                    (true, Some(request)) => {
                        let auth_time = new_session
                            .record
                            .auth_time
                            .unwrap_or(new_session.record.created_at);
                        let client_name = match state
                            .store
                            .find_open_authorization_request(request, state.clock.now())
                            .await
                        {
                            Ok(Some(open)) => open.client_name.unwrap_or(open.client_id),
                            _ => "the application".to_owned(),
                        };
                        match consent::approve(&state.oauth, request, &signed_in.user, auth_time)
                            .await
                        {
                            Ok(url) => {
                                let page = returning(&state, &new_session, &client_name, &url);
                                return with_cookie(page, Some(&new_session), &state);
                            }
                            Err(ConsentError::RequestGone) => {
                                let page = PageError::expired().render(&state, &headers);
                                return with_cookie(page, Some(&new_session), &state);
                            }
                            Err(ConsentError::OAuth(error)) => {
                                return PageError::internal(&error).render(&state, &headers);
                            }
                        }
                    }
                    (_, request) => after_sign_in(&state, request, signed_in.to_console),
                };
                with_cookie(see_other(&target), Some(&new_session), &state)
            }
            Err(error) => PageError::internal(&error).render(&state, &headers),
        },
        Err(error) => failure(&state, &headers, &error),
    }
}

fn failure(state: &AppState, headers: &HeaderMap, error: &FederationError) -> Response {
    match error {
        FederationError::Crypto(_) | FederationError::Store(_) => {
            PageError::internal(error).render(state, headers)
        }
        FederationError::Upstream(detail) | FederationError::Denied(detail) => {
            tracing::warn!(%detail, "upstream sign-in failed");
            PageError::new(StatusCode::BAD_GATEWAY, "Sign-in failed", error.to_string())
                .render(state, headers)
        }
        _ => PageError::new(StatusCode::BAD_REQUEST, "Sign-in failed", error.to_string())
            .render(state, headers),
    }
}
