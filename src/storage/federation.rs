//! Pending sign-ins at upstream OpenID providers (FED-2).

use sqlx::FromRow;

use super::{Store, StoreError, with_pool};
use crate::clock::UnixTime;

/// A redirect upstream waiting for its callback.
#[derive(Debug, Clone, FromRow)]
pub struct FederationStateRecord {
    /// Keyed hash of the `state` value sent upstream.
    pub state_hash: Vec<u8>,
    /// The browser session that started it (its stored hash).
    pub session_hash: Vec<u8>,
    /// Which provider.
    pub provider_id: String,
    /// The authorization request to continue, if any.
    pub request_id: Option<String>,
    /// The OpenID nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code exchange.
    pub code_verifier: String,
    /// Created.
    pub created_at: UnixTime,
    /// Lapses (at most 10 minutes).
    pub expires_at: UnixTime,
    /// FED-1: the user approved the pending request before going upstream.
    pub consented: bool,
    /// Without a request: continue to the admin console (the sign-in page's
    /// `?next=console`), not home.
    pub to_console: bool,
}

const INSERT_STATE: &str = "\
INSERT INTO federation_states (state_hash, session_hash, provider_id, request_id, nonce, \
    code_verifier, created_at, expires_at, consented, to_console) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
/// Marks the state used and returns it, only if unused, unexpired and presented by the
/// browser session that started it (another browser cannot even spend it): exactly one
/// callback wins, on any instance.
const USE_STATE: &str = "\
UPDATE federation_states SET used_at = $2 \
 WHERE state_hash = $1 AND session_hash = $3 AND used_at IS NULL AND expires_at > $2 \
RETURNING state_hash, session_hash, provider_id, request_id, nonce, code_verifier, \
    created_at, expires_at, consented, to_console";
/// XAA-26: one sealed upstream ID token per (user, provider): the latest sign-in's.
const SAVE_UPSTREAM_ID_TOKEN: &str = "\
INSERT INTO upstream_id_tokens (user_id, provider_id, sealed, expires_at) VALUES ($1, $2, $3, $4) \
ON CONFLICT (user_id, provider_id) DO UPDATE SET sealed = excluded.sealed, \
    expires_at = excluded.expires_at";
const FIND_UPSTREAM_ID_TOKEN: &str = "\
SELECT sealed FROM upstream_id_tokens WHERE user_id = $1 AND provider_id = $2 AND expires_at > $3";

impl Store {
    /// Remembers a redirect upstream.
    pub async fn insert_federation_state(
        &self,
        record: &FederationStateRecord,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(INSERT_STATE)
                .bind(&record.state_hash)
                .bind(&record.session_hash)
                .bind(&record.provider_id)
                .bind(&record.request_id)
                .bind(&record.nonce)
                .bind(&record.code_verifier)
                .bind(record.created_at)
                .bind(record.expires_at)
                .bind(record.consented)
                .bind(record.to_console)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Consumes the state with this hash for the browser session `session_hash` (FED-2:
    /// single use, bound to the session); `None` when unknown, used, expired or another
    /// session's.
    pub async fn use_federation_state(
        &self,
        state_hash: &[u8],
        session_hash: &[u8],
        now: UnixTime,
    ) -> Result<Option<FederationStateRecord>, StoreError> {
        let row = with_pool!(self, |pool| {
            sqlx::query_as(USE_STATE)
                .bind(state_hash)
                .bind(now)
                .bind(session_hash)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// Keeps the sealed upstream ID token of `user_id`'s latest sign-in through
    /// `provider_id` until `expires_at` (XAA-26), replacing an earlier one.
    pub async fn save_upstream_id_token(
        &self,
        user_id: &str,
        provider_id: &str,
        sealed: &[u8],
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(SAVE_UPSTREAM_ID_TOKEN)
                .bind(user_id)
                .bind(provider_id)
                .bind(sealed)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The sealed upstream ID token of `user_id` from `provider_id`, unless expired.
    pub async fn find_upstream_id_token(
        &self,
        user_id: &str,
        provider_id: &str,
        now: UnixTime,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = with_pool!(self, |pool| {
            sqlx::query_as(FIND_UPSTREAM_ID_TOKEN)
                .bind(user_id)
                .bind(provider_id)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(sealed,)| sealed))
    }
}
