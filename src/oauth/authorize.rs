//! The authorization endpoint's decisions (CORE-3..17, PKCE-1..4, RES-1..6, SCOPE-1..5,
//! ISS-1..2, SEC-1..2, SEC-9..11).
//!
//! Until the client and its redirect URI are known to be genuine, an error may only be
//! shown as a page (CORE-15); after that, errors go back to the client by redirect. The
//! *type* [`AuthorizeError`] decides which.

use serde_json::json;

use super::context::OAuthContext;
use super::error::{ErrorCode, OAuthError};
use super::params::OAuthParams;
use super::selection;
use crate::audit::{self, Actor};
use crate::crypto::{random_id, random_token};
use crate::domain::client::{Client, ClientSource, GrantType};
use crate::domain::ids::{ClientId, ServerId, UserId};
use crate::domain::pkce::CodeChallenge;
use crate::domain::redirect_uri::RedirectUri;
use crate::domain::scope::ScopeSet;
use crate::storage::{AuthorizationRequestRecord, CodeRecord, ConsentRecord};

/// Parameters the authorization endpoint reads.
pub const PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

/// Where an error may be delivered.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Client or redirect URI not established: show a page, never redirect (CORE-15).
    NoRedirect(OAuthError),
    /// Send the error to the client's redirect URI (CORE-17).
    Redirect {
        /// The validated redirect URI and state.
        target: Box<RedirectTarget>,
        /// The error.
        error: OAuthError,
    },
}

impl From<crate::storage::StoreError> for AuthorizeError {
    fn from(err: crate::storage::StoreError) -> Self {
        Self::NoRedirect(OAuthError::server_error(err))
    }
}

/// A redirect URI that passed CORE-15 checks, with the request's `state`.
#[derive(Debug, Clone)]
pub struct RedirectTarget {
    /// The client.
    pub client_id: ClientId,
    /// The URI answers go to.
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri` (CORE-18).
    pub redirect_uri_sent: bool,
    /// Echoed unchanged.
    pub state: Option<String>,
    /// Whether we may redirect before the user signed in (SEC-9): a pre-registered
    /// client with a non-loopback redirect URI.
    pub is_trusted: bool,
}

/// Validates an authorization request. `Ok` is a request ready to wait for sign-in and
/// consent; it is not stored yet.
pub async fn validate(
    ctx: &OAuthContext,
    raw: &[u8],
) -> Result<AuthorizationRequestRecord, AuthorizeError> {
    let (params, repeated) =
        OAuthParams::parse_lenient(raw, PARAMS).map_err(AuthorizeError::NoRedirect)?;
    if let Some(name) = repeated
        .iter()
        .find(|n| *n == "client_id" || *n == "redirect_uri")
    {
        return Err(AuthorizeError::NoRedirect(OAuthError::invalid_request(
            format!("{name} is repeated"),
        )));
    }
    let client = find_client(ctx, params.get("client_id")).await?;
    let target = redirect_target(&client, &params)?;
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        target: Box::new(target.clone()),
        error,
    };
    if let Some(name) = repeated.first() {
        return Err(redirect(OAuthError::invalid_request(format!(
            "{name} is repeated"
        ))));
    }
    match params.get("response_type") {
        None => {
            return Err(redirect(OAuthError::invalid_request(
                "response_type is required",
            )));
        }
        Some("code") => {}
        Some(_) => {
            return Err(redirect(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
            )));
        } // CORE-5
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect(OAuthError::new(ErrorCode::UnauthorizedClient)));
    }
    let challenge = CodeChallenge::parse(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )
    .map_err(|e| redirect(OAuthError::invalid_request(e.to_string())))?; // PKCE-1..3
    let selection = selection::select(
        &ctx.store,
        &client,
        params.get("resource"),
        params.get("scope"),
    )
    .await
    .map_err(redirect)?;
    let now = ctx.now();
    Ok(AuthorizationRequestRecord {
        request_id: random_id("req_").map_err(|e| AuthorizeError::NoRedirect(e.into()))?,
        client_id: client.id.to_string(),
        redirect_uri: target.redirect_uri,
        redirect_uri_sent: target.redirect_uri_sent,
        state: target.state,
        code_challenge: Some(challenge.as_str().to_owned()),
        server_id: Some(selection.server.id.to_string()),
        scope: Some(selection.scope.to_string()),
        offline_access: selection.refresh,
        error_code: None,
        error_description: None,
        created_at: now,
        expires_at: now.saturating_add(ctx.policy.request_ttl),
        completed_at: None,
    })
}

/// A stored request that only carries an error, delivered after sign-in (SEC-9).
pub fn deferred_error(
    ctx: &OAuthContext,
    target: &RedirectTarget,
    error: &OAuthError,
) -> Result<AuthorizationRequestRecord, OAuthError> {
    let now = ctx.now();
    Ok(AuthorizationRequestRecord {
        request_id: random_id("req_")?,
        client_id: target.client_id.to_string(),
        redirect_uri: target.redirect_uri.clone(),
        redirect_uri_sent: target.redirect_uri_sent,
        state: target.state.clone(),
        code_challenge: None,
        server_id: None,
        scope: None,
        offline_access: false,
        error_code: Some(error.code.as_str().to_owned()),
        error_description: error.description.clone(),
        created_at: now,
        expires_at: now.saturating_add(ctx.policy.request_ttl),
        completed_at: None,
    })
}

async fn find_client(ctx: &OAuthContext, raw: Option<&str>) -> Result<Client, AuthorizeError> {
    let Some(raw) = raw else {
        return Err(AuthorizeError::NoRedirect(OAuthError::invalid_request(
            "client_id is required",
        )));
    };
    let client = ctx
        .store
        .find_client(&ClientId::from_stored(raw.to_owned()))
        .await?;
    client.filter(|c| c.is_enabled).ok_or_else(|| {
        AuthorizeError::NoRedirect(OAuthError::with_description(
            ErrorCode::InvalidClient,
            "unknown client",
        ))
    })
}

/// CORE-15, CORE-16, SEC-1, SEC-2: the redirect URI must be registered (exact match;
/// loopback on any port); it may be omitted only when exactly one is registered.
fn redirect_target(
    client: &Client,
    params: &OAuthParams,
) -> Result<RedirectTarget, AuthorizeError> {
    let page = |d: &str| AuthorizeError::NoRedirect(OAuthError::invalid_request(d));
    let (registered, uri, sent): (&RedirectUri, String, bool) = match params.get("redirect_uri") {
        Some(sent) => {
            let found = client.redirect_uris.iter().find(|r| r.matches(sent));
            let found =
                found.ok_or_else(|| page("redirect_uri is not registered for this client"))?;
            (found, sent.to_owned(), true)
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only, only.to_string(), false),
            [] => return Err(page("the client has no registered redirect_uri")),
            _ => {
                return Err(page(
                    "redirect_uri is required: the client registered several",
                ));
            }
        },
    };
    Ok(RedirectTarget {
        client_id: client.id.clone(),
        redirect_uri: uri,
        redirect_uri_sent: sent,
        state: params.get("state").map(str::to_owned),
        is_trusted: client.source == ClientSource::Registered && !registered.is_loopback(),
    })
}

/// Appends `params` and `iss` (ISS-1, ISS-2) to `redirect_uri`'s query.
pub fn redirect_url(
    ctx: &OAuthContext,
    redirect_uri: &str,
    params: &[(&str, &str)],
) -> Result<String, OAuthError> {
    let mut url = url::Url::parse(redirect_uri).map_err(|e| {
        OAuthError::server_error(std::io::Error::other(format!("stored redirect_uri: {e}")))
    })?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", ctx.issuer.as_str());
    }
    Ok(url.into())
}

/// The error redirect for `target` (CORE-17: `error`, unchanged `state`, `iss`).
pub fn error_redirect(
    ctx: &OAuthContext,
    target: &RedirectTarget,
    error: &OAuthError,
) -> Result<String, OAuthError> {
    error_redirect_parts(
        ctx,
        &target.redirect_uri,
        target.state.as_deref(),
        error.code.as_str(),
        error.description.as_deref(),
    )
}

fn error_redirect_parts(
    ctx: &OAuthContext,
    redirect_uri: &str,
    state: Option<&str>,
    code: &str,
    description: Option<&str>,
) -> Result<String, OAuthError> {
    let mut params = vec![("error", code)];
    if let Some(description) = description {
        params.push(("error_description", description));
    }
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect_url(ctx, redirect_uri, &params)
}

/// What happens once the user is signed in.
#[derive(Debug)]
pub enum NextStep {
    /// Answer the client now (a code, or a deferred error).
    Redirect(String),
    /// Ask the user.
    Consent(ConsentPrompt),
}

/// What the consent page shows (SEC-11, SCOPE-5, SCOPE-9).
#[derive(Debug, Clone)]
pub struct ConsentPrompt {
    /// The request being decided.
    pub request_id: String,
    /// Client display name (hostile text: escape it).
    pub client_name: String,
    /// Host of the client id when it is a URL.
    pub client_host: Option<String>,
    /// Host of the redirect URI.
    pub redirect_host: String,
    /// MCP server display name.
    pub server_name: String,
    /// Its resource URI.
    pub server_resource: String,
    /// Scopes to decide on now, with descriptions.
    pub scopes: Vec<(String, String)>,
    /// Scopes the user allowed earlier (shown, not asked again).
    pub already_granted: Vec<String>,
    /// Whether the client's identity is not vouched for by an administrator (SEC-11).
    pub is_unverified: bool,
}

/// Why the consent step cannot go on; always shown as a page.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The request is unknown, expired or already answered.
    #[error("this authorization request has expired or was already answered")]
    RequestGone,
    /// Anything else.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

impl From<crate::storage::StoreError> for ConsentError {
    fn from(err: crate::storage::StoreError) -> Self {
        Self::OAuth(err.into())
    }
}

impl From<crate::crypto::CryptoError> for ConsentError {
    fn from(err: crate::crypto::CryptoError) -> Self {
        Self::OAuth(err.into())
    }
}

/// Decides the step after sign-in: deliver a deferred error, approve silently when a
/// pre-registered client already holds consent for every scope (SEC-10), or ask.
pub async fn next_step(
    ctx: &OAuthContext,
    request: &AuthorizationRequestRecord,
    user: &UserId,
    auth_time: i64,
) -> Result<NextStep, ConsentError> {
    if let Some(code) = &request.error_code {
        if !ctx
            .store
            .complete_authorization_request(&request.request_id, ctx.now())
            .await?
        {
            return Err(ConsentError::RequestGone);
        }
        let url = error_redirect_parts(
            ctx,
            &request.redirect_uri,
            request.state.as_deref(),
            code,
            request.error_description.as_deref(),
        )?;
        return Ok(NextStep::Redirect(url));
    }
    let parts = RequestParts::load(ctx, request).await?;
    let consented = parts.consented(ctx, user).await?;
    let missing = parts.scope.difference(&consented);
    let is_verified = parts.client.source == ClientSource::Registered;
    if missing.is_empty() && is_verified {
        return approve(ctx, &request.request_id, user, auth_time)
            .await
            .map(NextStep::Redirect);
    }
    // SCOPE-5: ask only for what is new; unverified clients are asked for all (SEC-10).
    let ask = if is_verified {
        missing
    } else {
        parts.scope.clone()
    };
    let scopes = parts
        .server
        .scopes
        .iter()
        .filter(|s| ask.contains(&s.name))
        .map(|s| (s.name.to_string(), s.description.clone()))
        .collect();
    let already_granted = parts
        .scope
        .intersection(&consented)
        .difference(&ask)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(NextStep::Consent(ConsentPrompt {
        request_id: request.request_id.clone(),
        client_name: parts.client.name.clone(),
        client_host: url::Url::parse(parts.client.id.as_str())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned)),
        redirect_host: url::Url::parse(&request.redirect_uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| request.redirect_uri.clone()),
        server_name: parts.server.name.clone(),
        server_resource: parts.server.resource.to_string(),
        scopes,
        already_granted,
        is_unverified: !is_verified,
    }))
}

/// The pieces of a stored request, loaded.
struct RequestParts {
    client: Client,
    server: crate::domain::server::McpServer,
    scope: ScopeSet,
}

impl RequestParts {
    async fn load(
        ctx: &OAuthContext,
        request: &AuthorizationRequestRecord,
    ) -> Result<Self, ConsentError> {
        let client = ctx
            .store
            .find_client(&ClientId::from_stored(request.client_id.clone()))
            .await?;
        let server_id = request.server_id.clone().ok_or(ConsentError::RequestGone)?;
        let server = ctx
            .store
            .find_server(&ServerId::from_stored(server_id))
            .await?;
        let (Some(client), Some(server)) = (client, server) else {
            return Err(ConsentError::RequestGone);
        };
        if !client.is_enabled || !server.is_enabled {
            return Err(ConsentError::RequestGone);
        }
        let scope = ScopeSet::parse(request.scope.as_deref().unwrap_or(""))
            .map_err(|e| OAuthError::server_error(std::io::Error::other(e.to_string())))?;
        Ok(Self {
            client,
            server,
            scope,
        })
    }

    async fn consented(&self, ctx: &OAuthContext, user: &UserId) -> Result<ScopeSet, ConsentError> {
        let stored = ctx
            .store
            .find_consent(
                user.as_str(),
                self.client.id.as_str(),
                self.server.id.as_str(),
            )
            .await?;
        Ok(stored
            .and_then(|s| ScopeSet::parse(&s).ok())
            .unwrap_or_default())
    }
}

/// The user allowed: remember the consent (the union, SCOPE-5), issue a 256-bit code
/// valid for 60 s (CORE-12), and return the redirect carrying it, `state` and `iss`.
pub async fn approve(
    ctx: &OAuthContext,
    request_id: &str,
    user: &UserId,
    auth_time: i64,
) -> Result<String, ConsentError> {
    let now = ctx.now();
    let request = ctx
        .store
        .find_open_authorization_request(request_id, now)
        .await?
        .ok_or(ConsentError::RequestGone)?;
    let parts = RequestParts::load(ctx, &request).await?;
    let consented = parts.consented(ctx, user).await?;
    let code = random_token()?;
    let record = CodeRecord {
        code_hash: ctx.hasher.hash(&code),
        grant_id: random_id("grt_")?,
        client_id: request.client_id.clone(),
        user_id: user.to_string(),
        server_id: parts.server.id.to_string(),
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_sent: request.redirect_uri_sent,
        code_challenge: request
            .code_challenge
            .clone()
            .ok_or(ConsentError::RequestGone)?,
        scope: parts.scope.to_string(),
        offline_access: request.offline_access,
        auth_time,
        created_at: now,
        expires_at: now.saturating_add(ctx.policy.code_ttl),
        consumed_at: None,
    };
    let consent = ConsentRecord {
        user_id: user.to_string(),
        client_id: request.client_id.clone(),
        server_id: parts.server.id.to_string(),
        scope: consented.union(&parts.scope).to_string(),
    };
    if !ctx
        .store
        .approve_authorization_request(request_id, &consent, &record, now)
        .await?
    {
        return Err(ConsentError::RequestGone);
    }
    let detail = json!({ "client_id": request.client_id, "server_id": consent.server_id, "scope": record.scope });
    let event = audit::event(
        &Actor::User {
            user_id: user.to_string(),
        },
        "consent.granted",
        "client",
        &request.client_id,
        detail,
    );
    ctx.store.insert_audit_event(&event, now).await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = request.state.as_deref() {
        params.push(("state", state));
    }
    Ok(redirect_url(ctx, &request.redirect_uri, &params)?)
}

/// The user refused: `access_denied` by redirect (CORE-17).
pub async fn deny(ctx: &OAuthContext, request_id: &str) -> Result<String, ConsentError> {
    let now = ctx.now();
    let request = ctx
        .store
        .find_open_authorization_request(request_id, now)
        .await?
        .ok_or(ConsentError::RequestGone)?;
    if !ctx
        .store
        .complete_authorization_request(request_id, now)
        .await?
    {
        return Err(ConsentError::RequestGone);
    }
    Ok(error_redirect_parts(
        ctx,
        &request.redirect_uri,
        request.state.as_deref(),
        ErrorCode::AccessDenied.as_str(),
        None,
    )?)
}
