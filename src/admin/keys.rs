//! Signing keys for operators (the console's page and `/admin/api/v1/keys`): each key
//! with its schedule and state, and rotation on demand. Rotation publishes the new key
//! at once and lets it sign only after `keys.publish_ahead`, so caches of the JWKS hold
//! it before its first token (META-10).

use serde::Serialize;
use utoipa::ToSchema;

use super::{Actor, AdminError};
use crate::clock::UnixTime;
use crate::jose::keyring::KeyRing;

/// A signing key as operators see it (never private material).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm.
    pub algorithm: String,
    /// `signing`, `published` (waiting to sign, or retired and still listed) or `scheduled`.
    pub state: String,
    /// Listed in the JWKS from (Unix seconds).
    pub publish_at: i64,
    /// Signs from.
    pub activate_at: i64,
    /// Stops signing at.
    pub retire_at: Option<i64>,
    /// Leaves the JWKS at.
    pub expire_at: Option<i64>,
}

/// The keys, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Every loaded key.
    pub items: Vec<KeyView>,
}

/// What a rotation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rotation {
    /// The new key's id; absent when a successor was already pending (nothing done).
    pub kid: Option<String>,
    /// When the newest key starts signing.
    pub activates_at: Option<i64>,
}

/// Every key the ring holds, with its state at `now`.
pub fn list(keyring: &KeyRing, now: UnixTime) -> KeyList {
    let mut items: Vec<KeyView> = keyring
        .summaries(now)
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            algorithm: k.algorithm,
            state: k.state.to_owned(),
            publish_at: k.publish_at,
            activate_at: k.activate_at,
            retire_at: k.retire_at,
            expire_at: k.expire_at,
        })
        .collect();
    items.sort_by_key(|k| std::cmp::Reverse(k.activate_at));
    KeyList { items }
}

/// Schedules a successor now (audited as `key.rotated` by `actor`).
pub async fn rotate(
    keyring: &KeyRing,
    actor: &Actor,
    now: UnixTime,
) -> Result<Rotation, AdminError> {
    let kid = keyring
        .rotate(actor, now)
        .await
        .map_err(|e| AdminError::Internal(Box::new(e)))?;
    let activates_at = keyring.summaries(now).iter().map(|k| k.activate_at).max();
    Ok(Rotation { kid, activates_at })
}
