//! Dynamically registered clients (DCR-2, DCR-3, DCR-9): the client, its secret, its
//! registration facts, the use of an initial access token and the audit event land in
//! one transaction; unused registrations are removed after a while.

use sqlx::FromRow;

use super::audit::insert_audit;
use super::clients::insert_client_rows;
use super::{AuditEvent, NewClientSecret, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::client::Client;

/// What a dynamic registration records beside the client row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DcrRegistration {
    /// The registered client.
    pub client_id: String,
    /// `web` or `native` (DCR-6).
    pub application_type: String,
    /// The initial access token that allowed it (`dcr.mode = "token"`).
    pub initial_access_token_id: Option<String>,
    /// When it registered.
    pub registered_at: i64,
    /// The client address the request came from.
    pub registration_address: Option<String>,
    /// `client_uri`
    pub client_uri: Option<String>,
    /// `logo_uri`
    pub logo_uri: Option<String>,
    /// `tos_uri`
    pub tos_uri: Option<String>,
    /// `policy_uri`
    pub policy_uri: Option<String>,
}

/// DCR-9: one use of a token, only while it is live and below its limit. A single guarded
/// statement, so concurrent registrations cannot exceed `max_registrations`.
const USE_TOKEN: &str = "\
UPDATE initial_access_tokens SET registrations = registrations + 1 \
 WHERE token_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
   AND (max_registrations IS NULL OR registrations < max_registrations)";
const INSERT_REGISTRATION: &str = "\
INSERT INTO dcr_registrations (client_id, application_type, initial_access_token_id, \
    registered_at, registration_address, client_uri, logo_uri, tos_uri, policy_uri) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const FIND_REGISTRATION: &str = "\
SELECT client_id, application_type, initial_access_token_id, registered_at, \
    registration_address, client_uri, logo_uri, tos_uri, policy_uri \
  FROM dcr_registrations WHERE client_id = $1";
/// Registrations made at or before `$1` whose client holds no grant (never got one, or
/// all ended and were cleaned up) and no code about to become one; their rows cascade
/// from `clients`.
const DELETE_UNUSED: &str = "\
DELETE FROM clients WHERE client_id IN ( \
    SELECT r.client_id FROM dcr_registrations r WHERE r.registered_at <= $1 \
       AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = r.client_id) \
       AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.client_id = r.client_id)) \
RETURNING client_id";

impl Store {
    /// Inserts a dynamically registered client with its secret (if any), its registration
    /// row and audit event, and counts one use of its initial access token (if any) in the
    /// same transaction. `Ok(false)`: the token is no longer usable (revoked, expired or
    /// used up meanwhile) and nothing was written.
    pub async fn insert_dynamic_client(
        &self,
        client: &Client,
        secret: Option<&NewClientSecret>,
        registration: &DcrRegistration,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let now = registration.registered_at;
        with_tx!(self, |tx| {
            if let Some(token_id) = &registration.initial_access_token_id {
                let used = sqlx::query(USE_TOKEN)
                    .bind(token_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if used.rows_affected() == 0 {
                    return Ok(false);
                }
            }
            insert_client_rows!(tx, client, secret);
            sqlx::query(INSERT_REGISTRATION)
                .bind(&registration.client_id)
                .bind(&registration.application_type)
                .bind(&registration.initial_access_token_id)
                .bind(now)
                .bind(&registration.registration_address)
                .bind(&registration.client_uri)
                .bind(&registration.logo_uri)
                .bind(&registration.tos_uri)
                .bind(&registration.policy_uri)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, event, now);
        });
        Ok(true)
    }

    /// The registration facts of a dynamically registered client.
    pub async fn find_dcr_registration(
        &self,
        client_id: &str,
    ) -> Result<Option<DcrRegistration>, StoreError> {
        let row = with_pool!(self, |pool| {
            sqlx::query_as(FIND_REGISTRATION)
                .bind(client_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// Deletes dynamically registered clients that registered at or before
    /// `registered_before` and hold no grant, recording `event_for(client_id)`
    /// for each in the same transaction; returns how many were deleted.
    pub async fn delete_unused_dcr_clients(
        &self,
        registered_before: UnixTime,
        now: UnixTime,
        event_for: impl Fn(&str) -> AuditEvent,
    ) -> Result<u64, StoreError> {
        let deleted = with_tx!(self, |tx| {
            let ids: Vec<(String,)> = sqlx::query_as(DELETE_UNUSED)
                .bind(registered_before)
                .fetch_all(&mut *tx)
                .await?;
            for (client_id,) in &ids {
                insert_audit!(tx, &event_for(client_id), now);
            }
            ids.len()
        });
        if deleted > 0 {
            self.cache.forget_all();
        }
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }
}
