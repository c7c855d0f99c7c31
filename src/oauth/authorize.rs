//! The authorization endpoint's decisions (CORE-3..17, PKCE-1..4, RES-1..6, SCOPE-1..3,
//! ISS-1..2, SEC-1..2, SEC-9). What follows sign-in lives in `oauth::consent`.
//!
//! Until the client and its redirect URI are known to be genuine, an error may only be
//! shown as a page (CORE-15); after that, errors go back to the client by redirect. The
//! *type* [`AuthorizeError`] decides which.

use super::clients::{self, KnownClient, LookupError};
use super::context::OAuthContext;
use super::error::{ErrorCode, OAuthError};
use super::params::OAuthParams;
use super::selection;
use crate::crypto::random_id;
use crate::domain::client::{Client, ClientSource, GrantType};
use crate::domain::ids::ClientId;
use crate::domain::pkce::CodeChallenge;
use crate::domain::redirect_uri::RedirectUri;
use crate::storage::AuthorizationRequestRecord;

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
    "nonce",
];

/// Longest accepted OpenID `nonce`.
const MAX_NONCE_BYTES: usize = 512;

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
    /// The client's name as validated (CIMD-22).
    pub client_name: String,
    /// The CIMD document fingerprint, for CIMD clients (CIMD-22).
    pub client_fingerprint: Option<String>,
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
    let known = find_client(ctx, params.get("client_id")).await?;
    let client = &known.client;
    let mut target = redirect_target(client, &params)?;
    target.client_fingerprint = known.fingerprint();
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
        client,
        params.get("resource"),
        params.get("scope"),
    )
    .await
    .map_err(redirect)?;
    let nonce = params.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE_BYTES) {
        return Err(redirect(OAuthError::invalid_request("nonce is too long")));
    }
    let now = ctx.now();
    Ok(AuthorizationRequestRecord {
        openid: selection.openid,
        openid_email: selection.openid_email,
        nonce,
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
        client_name: Some(target.client_name),
        client_fingerprint: target.client_fingerprint,
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
        openid: false,
        openid_email: false,
        nonce: None,
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
        client_name: Some(target.client_name.clone()),
        client_fingerprint: target.client_fingerprint.clone(),
    })
}

async fn find_client(ctx: &OAuthContext, raw: Option<&str>) -> Result<KnownClient, AuthorizeError> {
    let Some(raw) = raw else {
        return Err(AuthorizeError::NoRedirect(OAuthError::invalid_request(
            "client_id is required",
        )));
    };
    clients::find(ctx, raw).await.map_err(|error| {
        AuthorizeError::NoRedirect(match error {
            LookupError::Unknown => {
                OAuthError::with_description(ErrorCode::InvalidClient, "unknown client")
            }
            // CIMD-24: a page, never a redirect; one message, the detail is audited.
            LookupError::Cimd(error) => {
                OAuthError::with_description(ErrorCode::InvalidClient, error.user_message())
            }
            LookupError::Store(error) => OAuthError::server_error(error),
        })
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
        client_name: client.name.clone(),
        client_fingerprint: None,
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

pub(crate) fn error_redirect_parts(
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
