//! After sign-in: silent approval, the consent prompt, approval and denial (CORE-4,
//! CORE-12, CORE-17, SCOPE-5, SEC-10, SEC-11).

use serde_json::json;

use super::authorize::{error_redirect_parts, redirect_url};
use super::context::OAuthContext;
use super::error::{ErrorCode, OAuthError};
use crate::audit::{self, Actor};
use crate::crypto::{random_id, random_token};
use crate::domain::client::{Client, ClientSource};
use crate::domain::ids::{ClientId, ServerId, UserId};
use crate::domain::redirect_uri::{RedirectPolicy, RedirectUri};
use crate::domain::scope::ScopeSet;
use crate::storage::{AuthorizationRequestRecord, CodeRecord, ConsentRecord};

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
    /// What the client learns about the user through OpenID (`openid`, `openid email`),
    /// in words for the page.
    pub identity: Vec<&'static str>,
    /// Whether the client's identity is not vouched for by an administrator (SEC-11).
    pub is_unverified: bool,
    /// Every redirect URI of the client is loopback: any local program could be
    /// pretending to be it (CIMD-26).
    pub is_loopback_only: bool,
    /// The client's metadata document changed since the user last consented, so
    /// everything is asked again (CIMD-23).
    pub client_changed: bool,
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
/// pre-registered client already holds consent for every scope and does not ask for
/// the email address (SEC-10), or ask.
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
    let (consented, client_changed) = parts.consented(ctx, user, request).await?;
    let ask = parts.scope.difference(&consented);
    let is_verified = parts.client.source == ClientSource::Registered;
    // SEC-10, RFC 8252 section 8.6: approve silently only when the client's identity is
    // assured: registered by an administrator and answered at a non-loopback URI (any
    // local program can listen on a loopback port). Everyone else sees the page again,
    // which still asks only about new scopes (SCOPE-5).
    let is_assured = is_verified && !is_loopback_uri(&request.redirect_uri);
    // Consent is remembered for resource scopes only: a request for the user's email
    // address (`openid email`) is always shown to the user before it is answered.
    if ask.is_empty() && is_assured && !request.openid_email {
        return approve(ctx, &request.request_id, user, auth_time)
            .await
            .map(NextStep::Redirect);
    }
    Ok(NextStep::Consent(prompt(
        request,
        &parts,
        &ask,
        &consented,
        client_changed,
    )))
}

/// FED-1: the consent prompt for a request whose user is not known yet, shown before
/// sending the browser to an upstream provider; everything is asked. `None` when the
/// request carries a deferred error (it is delivered after sign-in, as usual).
pub async fn prompt_before_sign_in(
    ctx: &OAuthContext,
    request: &AuthorizationRequestRecord,
) -> Result<Option<ConsentPrompt>, ConsentError> {
    if request.error_code.is_some() {
        return Ok(None);
    }
    let parts = RequestParts::load(ctx, request).await?;
    let none = ScopeSet::default();
    Ok(Some(prompt(request, &parts, &parts.scope, &none, false)))
}

/// What the page shows for `request`: `ask` to decide now, `consented` from before.
fn prompt(
    request: &AuthorizationRequestRecord,
    parts: &RequestParts,
    ask: &ScopeSet,
    consented: &ScopeSet,
    client_changed: bool,
) -> ConsentPrompt {
    let scopes = parts
        .server
        .scopes
        .iter()
        .filter(|s| ask.contains(&s.name))
        .map(|s| (s.name.to_string(), s.description.clone()))
        .collect();
    let already_granted = parts
        .scope
        .intersection(consented)
        .iter()
        .map(ToString::to_string)
        .collect();
    // CIMD-22, CIMD-26: judged on the redirect URI pinned to this request, not on a
    // document fetched since.
    let is_loopback_only = is_loopback_uri(&request.redirect_uri);
    ConsentPrompt {
        request_id: request.request_id.clone(),
        // CIMD-22: the name the request was validated with, not a later document's.
        client_name: request
            .client_name
            .clone()
            .unwrap_or_else(|| parts.client.name.clone()),
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
        identity: identity_items(request),
        is_unverified: parts.client.source != ClientSource::Registered,
        is_loopback_only,
        client_changed,
    }
}

/// The OpenID items a request asks for, as the consent page words them.
fn identity_items(request: &AuthorizationRequestRecord) -> Vec<&'static str> {
    let mut items = Vec::new();
    if request.openid {
        items.push("Know who you are: your account id here");
    }
    if request.openid_email {
        items.push("See the email address recorded for your account");
    }
    items
}

/// Whether a stored redirect URI is an http loopback one (SEC-2).
fn is_loopback_uri(raw: &str) -> bool {
    let lenient = RedirectPolicy {
        allow_private_use_schemes: true,
    };
    RedirectUri::parse(raw, lenient).is_ok_and(|uri| uri.is_loopback())
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

    /// What `user` consented to earlier for this client and server, and whether that
    /// consent is void because the client's document changed since (CIMD-23).
    async fn consented(
        &self,
        ctx: &OAuthContext,
        user: &UserId,
        request: &AuthorizationRequestRecord,
    ) -> Result<(ScopeSet, bool), ConsentError> {
        let stored = ctx
            .store
            .find_consent(
                user.as_str(),
                self.client.id.as_str(),
                self.server.id.as_str(),
            )
            .await?;
        let Some(stored) = stored else {
            return Ok((ScopeSet::default(), false));
        };
        if request.client_fingerprint.is_some()
            && stored.client_fingerprint != request.client_fingerprint
        {
            return Ok((ScopeSet::default(), true));
        }
        Ok((ScopeSet::parse(&stored.scope).unwrap_or_default(), false))
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
    let (consented, _) = parts.consented(ctx, user, &request).await?;
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
        client_fingerprint: request.client_fingerprint.clone(),
        openid: request.openid,
        openid_email: request.openid_email,
        nonce: request.nonce.clone(),
    };
    let consent = ConsentRecord {
        user_id: user.to_string(),
        client_id: request.client_id.clone(),
        server_id: parts.server.id.to_string(),
        scope: consented.union(&parts.scope).to_string(),
        client_fingerprint: request.client_fingerprint.clone(),
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
