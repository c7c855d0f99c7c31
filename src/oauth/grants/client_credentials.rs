//! `grant_type=client_credentials` for machine clients (CC-2, CC-11, TOK-3).
//!
//! The hottest path of the server: the client and the MCP server registry come from
//! the registry cache, nothing is written (secret clients; a `private_key_jwt` client
//! costs one `jti` insert during authentication), and the work left is signing.

use crate::domain::client::{Client, ClientSource, ClientType, GrantType};
use crate::oauth::context::OAuthContext;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issue::{self, AccessTokenRequest, TokenResponse};
use crate::oauth::params::OAuthParams;
use crate::oauth::selection;

/// Issues an access token to the authenticated `client` itself.
pub(super) async fn exchange(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    // CC-2: confidential clients an administrator registered; never DCR or CIMD clients,
    // whose grant types nobody reviewed.
    if client.client_type() != ClientType::Confidential || client.source != ClientSource::Registered
    {
        return Err(OAuthError::with_description(
            ErrorCode::UnauthorizedClient,
            "client_credentials is only for confidential pre-registered clients",
        ));
    }
    // CC-11: `resource` and `scope` as for every grant; absent scope → the server's defaults.
    let selection = selection::select(
        &ctx.store,
        client,
        params.get("resource"),
        params.get("scope"),
    )
    .await?;
    let request = AccessTokenRequest {
        // TOK-3: the client is the subject; client ids never collide with user ids.
        subject: client.id.as_str(),
        client_id: client.id.as_str(),
        server: &selection.server,
        scope: &selection.scope,
        grant_id: None,
        auth_time: None,
        grant_type: GrantType::ClientCredentials,
    };
    // CC-11: no refresh token (the client can always authenticate again).
    issue::token_response(ctx, &request, None, ctx.now())
}
