//! Admin-API tokens, stored as keyed hashes (SEC-13).

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;

/// A stored admin token (without the token).
#[derive(Debug, Clone, FromRow)]
pub struct AdminTokenRecord {
    /// Public id, shown in the audit log.
    pub token_id: String,
    /// Operator's label.
    pub name: String,
    /// When created.
    pub created_at: i64,
    /// Optional expiry.
    pub expires_at: Option<i64>,
}

const INSERT_TOKEN: &str = "\
INSERT INTO admin_tokens (token_id, name, token_hash, created_at, expires_at) \
VALUES ($1, $2, $3, $4, $5)";
const FIND_LIVE_TOKEN: &str = "\
SELECT token_id, name, created_at, expires_at FROM admin_tokens \
 WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";

impl Store {
    /// Stores a new admin token's hash with its audit event.
    pub async fn insert_admin_token(
        &self,
        record: &AdminTokenRecord,
        token_hash: &[u8],
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(INSERT_TOKEN)
                .bind(&record.token_id)
                .bind(&record.name)
                .bind(token_hash)
                .bind(record.created_at)
                .bind(record.expires_at)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, event, record.created_at);
        });
        Ok(())
    }

    /// The live (not revoked, not expired) token whose hash is `token_hash`.
    pub async fn find_live_admin_token(
        &self,
        token_hash: &[u8],
        now: UnixTime,
    ) -> Result<Option<AdminTokenRecord>, StoreError> {
        let row = with_pool!(self, |pool| {
            sqlx::query_as(FIND_LIVE_TOKEN)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }
}
