//! The token endpoint's grants: one `match`, one file per grant (CORE-9).

mod authorization_code;
mod client_credentials;
pub mod jwt_bearer;
mod refresh_token;
pub mod token_exchange;

use super::context::OAuthContext;
use super::error::{ErrorCode, OAuthError};
use super::issue::TokenResponse;
use super::params::OAuthParams;
use crate::domain::client::{Client, GrantType};
use crate::domain::ids::{ServerId, UserId};
use crate::domain::server::McpServer;
use crate::domain::user::User;

/// Every parameter the token endpoint reads (CORE-6: repeats are `invalid_request`).
pub const PARAMS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "resource",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "assertion",
    "requested_token_type",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "audience",
];

/// Runs the grant named by `grant_type` for an authenticated `client`.
pub async fn exchange(
    ctx: &OAuthContext,
    client: &Client,
    params: &OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    let grant = match params.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some(raw) => raw
            .parse::<GrantType>()
            .map_err(|_| OAuthError::new(ErrorCode::UnsupportedGrantType))?,
    };
    if !client.allows_grant(grant) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient));
    }
    match grant {
        GrantType::AuthorizationCode => authorization_code::exchange(ctx, client, params).await,
        GrantType::RefreshToken => refresh_token::exchange(ctx, client, params).await,
        GrantType::ClientCredentials => client_credentials::exchange(ctx, client, params).await,
        GrantType::JwtBearer => jwt_bearer::exchange(ctx, client, params).await,
        GrantType::TokenExchange => token_exchange::exchange(ctx, client, params).await,
    }
}

/// The server and user a grant names, if both still exist and are enabled (REFRESH-5).
async fn live_server_and_user(
    ctx: &OAuthContext,
    server_id: &str,
    user_id: &str,
) -> Result<(McpServer, User), OAuthError> {
    let server = ctx
        .store
        .find_server(&ServerId::from_stored(server_id.to_owned()))
        .await?;
    let user = ctx
        .store
        .find_user(&UserId::from_stored(user_id.to_owned()))
        .await?;
    match (server, user) {
        (Some(server), Some(user)) if server.is_enabled && user.user.is_enabled => {
            Ok((server, user.user))
        }
        _ => Err(OAuthError::with_description(
            ErrorCode::InvalidGrant,
            "the grant is no longer valid",
        )),
    }
}

/// RES-4, RES-7: a `resource` on a token request must name the grant's server.
fn check_resource(params: &OAuthParams, server: &McpServer) -> Result<(), OAuthError> {
    match params.get("resource") {
        Some(raw)
            if crate::domain::resource::ResourceUri::parse(raw)
                .ok()
                .as_ref()
                != Some(&server.resource) =>
        {
            Err(OAuthError::with_description(
                ErrorCode::InvalidTarget,
                "resource is not part of this grant",
            ))
        }
        _ => Ok(()),
    }
}
