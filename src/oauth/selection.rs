//! Which MCP server a token is for, and which scopes it carries (RES-1..6, SCOPE-1..3,
//! SCOPE-7, REFRESH-1). Shared by every grant.

use crate::domain::client::{Client, GrantType};
use crate::domain::resource::ResourceUri;
use crate::domain::scope::ScopeSet;
use crate::domain::server::McpServer;
use crate::storage::Store;

use super::error::{ErrorCode, OAuthError};

/// The outcome: one server, the scopes to grant, and whether a refresh token is issued.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The audience (RES-5).
    pub server: McpServer,
    /// Granted scopes.
    pub scope: ScopeSet,
    /// Whether to issue a refresh token (REFRESH-1, SCOPE-7).
    pub refresh: bool,
    /// Whether `openid` was asked for: an ID token comes with the tokens.
    pub openid: bool,
    /// Whether `openid email` was asked for: the ID token carries the address.
    pub openid_email: bool,
}

fn invalid_target(description: &str) -> OAuthError {
    OAuthError::with_description(ErrorCode::InvalidTarget, description)
}

/// Selects the server and scopes for `client` from the raw `resource` and `scope`.
pub async fn select(
    store: &Store,
    client: &Client,
    resource: Option<&str>,
    scope: Option<&str>,
) -> Result<Selection, OAuthError> {
    let requested = ScopeSet::parse(scope.unwrap_or(""))
        .map_err(|e| OAuthError::with_description(ErrorCode::InvalidScope, e.to_string()))?;
    // SCOPE-7: offline_access asks the AS for a refresh token; it is no resource scope.
    // `openid` asks for an ID token; neither is a resource scope.
    let tokens = requested.resource_scopes();
    let servers = store.server_registry().await?;
    let permitted: Vec<&McpServer> = servers
        .iter()
        .filter(|s| s.is_enabled)
        .filter(|s| {
            client
                .allowed_servers
                .as_ref()
                .is_none_or(|ids| ids.contains(&s.id))
        })
        .collect();
    let server = match resource {
        Some(raw) => {
            let uri =
                ResourceUri::parse(raw).map_err(|e| invalid_target(&format!("resource {e}")))?;
            // RES-2, RES-3: exact match on the canonical URI, among permitted servers.
            let found = permitted.iter().find(|s| s.resource == uri);
            *found.ok_or_else(|| {
                invalid_target("resource is not served by this authorization server")
            })?
        }
        None => default_server(&permitted, &tokens)?,
    };
    let granted = grant_scopes(server, &servers, client, &tokens)?;
    Ok(Selection {
        server: server.clone(),
        scope: granted,
        refresh: client.allows_grant(GrantType::RefreshToken),
        openid: requested.has_openid(),
        openid_email: requested.has_openid_email(),
    })
}

/// RES-6: the client's only server, else the one server defining every requested
/// scope, else the configured default, else `invalid_target`.
fn default_server<'a>(
    permitted: &[&'a McpServer],
    tokens: &ScopeSet,
) -> Result<&'a McpServer, OAuthError> {
    if let [only] = permitted {
        return Ok(only);
    }
    if !tokens.is_empty() {
        let owners: Vec<&&McpServer> = permitted
            .iter()
            .filter(|s| tokens.is_subset(&s.scope_set()))
            .collect();
        if let [owner] = owners.as_slice() {
            return Ok(owner);
        }
    }
    permitted
        .iter()
        .find(|s| s.is_default)
        .copied()
        .ok_or_else(|| invalid_target("resource is missing and no default MCP server applies"))
}

/// SCOPE-1, SCOPE-3: defaults when none asked; scopes of other servers dropped; unknown
/// scopes refused; never more than the client is allowed.
fn grant_scopes(
    server: &McpServer,
    all: &[McpServer],
    client: &Client,
    tokens: &ScopeSet,
) -> Result<ScopeSet, OAuthError> {
    let own = server.scope_set();
    let requested = if tokens.is_empty() {
        server.default_scopes.clone()
    } else {
        if let Some(unknown) = tokens
            .iter()
            .find(|t| !all.iter().any(|s| s.scope_set().contains(t)))
        {
            return Err(OAuthError::with_description(
                ErrorCode::InvalidScope,
                format!("unknown scope {:?}", unknown.as_str()),
            ));
        }
        tokens.intersection(&own)
    };
    Ok(match &client.scope {
        Some(allowed) => requested.intersection(allowed),
        None => requested,
    })
}
