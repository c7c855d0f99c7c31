//! Rotating a client's secrets (CC-12, SEC-13): add a new secret while the old ones
//! keep working, then revoke the old one once every caller has switched.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{Actor, AdminContext, AdminError};
use crate::audit;
use crate::clock::UnixTime;
use crate::crypto::{random_id, random_token};
use crate::domain::client::{Client, ClientSource};
use crate::domain::ids::ClientId;
use crate::storage::{ClientSecretInfo, NewClientSecret};

/// Longest accepted `expires_in`: ten years.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

/// Body of `POST /admin/api/v1/clients/{client_id}/secrets`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSecretBody {
    /// Seconds until the new secret stops working; absent: it does not expire.
    pub expires_in: Option<u64>,
}

/// A secret as the API shows it: never the hash; the secret itself only once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    /// Id, for revocation.
    pub secret_id: String,
    /// Only in the response that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; absent: never expires.
    pub expires_at: Option<i64>,
    /// Unix seconds; absent: not revoked.
    pub revoked_at: Option<i64>,
    /// Whether it authenticates now.
    pub active: bool,
}

/// The secrets of one client.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    /// Newest first.
    pub items: Vec<SecretView>,
}

fn view(info: ClientSecretInfo, now: UnixTime) -> SecretView {
    let active = info.revoked_at.is_none() && info.expires_at.is_none_or(|at| at > now);
    SecretView {
        secret_id: info.secret_id,
        client_secret: None,
        created_at: info.created_at,
        expires_at: info.expires_at,
        revoked_at: info.revoked_at,
        active,
    }
}

async fn secret_client(ctx: &AdminContext, id: &ClientId) -> Result<Client, AdminError> {
    let client = ctx
        .store
        .find_client(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    if client.source == ClientSource::Cimd || !client.auth_method.uses_secret() {
        return Err(AdminError::Conflict {
            field: "client_id".to_owned(),
            message: format!(
                "authenticates with {}, not a client secret",
                client.auth_method.as_str()
            ),
        });
    }
    Ok(client)
}

/// Adds a new 256-bit secret, shown in this response only; earlier secrets keep working
/// until revoked or expired.
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    id: &ClientId,
    body: NewSecretBody,
) -> Result<SecretView, AdminError> {
    secret_client(ctx, id).await?;
    let now = ctx.clock.now();
    let expires_at = match body.expires_in {
        None => None,
        Some(0) => return Err(AdminError::invalid("expires_in", "must be at least 1")),
        Some(secs) if secs > MAX_EXPIRES_IN => {
            return Err(AdminError::invalid(
                "expires_in",
                "must be at most ten years",
            ));
        }
        Some(secs) => Some(now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))),
    };
    let secret = random_token()?;
    let stored = NewClientSecret {
        secret_id: random_id("sec_")?,
        secret_hash: ctx.hasher.hash(&secret),
        expires_at,
    };
    let detail = json!({ "secret_id": stored.secret_id, "expires_at": expires_at });
    let event = audit::event(actor, "client.secret_added", "client", id.as_str(), detail);
    ctx.store
        .add_client_secret(id, &stored, &event, now)
        .await?;
    Ok(SecretView {
        secret_id: stored.secret_id,
        client_secret: Some(secret),
        created_at: now,
        expires_at,
        revoked_at: None,
        active: true,
    })
}

/// Lists a client's secrets, revoked and expired ones included.
pub async fn list(ctx: &AdminContext, id: &ClientId) -> Result<SecretList, AdminError> {
    secret_client(ctx, id).await?;
    let now = ctx.clock.now();
    let items = ctx
        .store
        .list_client_secrets(id)
        .await?
        .into_iter()
        .map(|info| view(info, now))
        .collect();
    Ok(SecretList { items })
}

/// Revokes one secret at once.
pub async fn revoke(
    ctx: &AdminContext,
    actor: &Actor,
    id: &ClientId,
    secret_id: &str,
) -> Result<(), AdminError> {
    secret_client(ctx, id).await?;
    let detail = json!({ "secret_id": secret_id });
    let event = audit::event(
        actor,
        "client.secret_revoked",
        "client",
        id.as_str(),
        detail,
    );
    ctx.store
        .revoke_client_secret(id, secret_id, &event, ctx.clock.now())
        .await?;
    Ok(())
}
