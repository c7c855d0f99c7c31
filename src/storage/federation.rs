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
}

const INSERT_STATE: &str = "\
INSERT INTO federation_states (state_hash, session_hash, provider_id, request_id, nonce, \
    code_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// Marks the state used and returns it, only if unused, unexpired and presented by the
/// browser session that started it (another browser cannot even spend it): exactly one
/// callback wins, on any instance.
const USE_STATE: &str = "\
UPDATE federation_states SET used_at = $2 \
 WHERE state_hash = $1 AND session_hash = $3 AND used_at IS NULL AND expires_at > $2 \
RETURNING state_hash, session_hash, provider_id, request_id, nonce, code_verifier, \
    created_at, expires_at";

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
}
