//! Initial access tokens for dynamic registration (DCR-9), stored as keyed hashes (SEC-13).

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Page, PageRequest, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;

/// A stored initial access token (without the token).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InitialAccessTokenRecord {
    /// Public id, shown in lists and the audit log.
    pub token_id: String,
    /// The operator's note on whom it is for.
    pub description: String,
    /// How many clients it may register; `None`: no limit.
    pub max_registrations: Option<i64>,
    /// How many clients it registered.
    pub registrations: i64,
    /// When created.
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl InitialAccessTokenRecord {
    /// Whether it may register one more client at `now`.
    pub fn is_usable(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none()
            && now < self.expires_at
            && self
                .max_registrations
                .is_none_or(|max| self.registrations < max)
    }
}

const COLUMNS: &str = "token_id, description, max_registrations, registrations, created_at, \
    expires_at, revoked_at";
const INSERT: &str = "\
INSERT INTO initial_access_tokens (token_id, token_hash, description, max_registrations, \
    registrations, created_at, expires_at) VALUES ($1, $2, $3, $4, 0, $5, $6)";
const REVOKE: &str = "\
UPDATE initial_access_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL";

impl Store {
    /// Stores a new token's hash with its audit event.
    pub async fn insert_initial_access_token(
        &self,
        record: &InitialAccessTokenRecord,
        token_hash: &[u8],
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(INSERT)
                .bind(&record.token_id)
                .bind(token_hash)
                .bind(&record.description)
                .bind(record.max_registrations)
                .bind(record.created_at)
                .bind(record.expires_at)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, event, record.created_at);
        });
        Ok(())
    }

    /// The token with this id, whatever its state.
    pub async fn find_initial_access_token(
        &self,
        token_id: &str,
    ) -> Result<Option<InitialAccessTokenRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM initial_access_tokens WHERE token_id = $1");
        let row = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(token_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// The token whose hash is `token_hash`, whatever its state.
    pub async fn find_initial_access_token_by_hash(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<InitialAccessTokenRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM initial_access_tokens WHERE token_hash = $1");
        let row = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// A page of tokens ordered by id.
    pub async fn list_initial_access_tokens(
        &self,
        page: &PageRequest,
        search: Option<&str>,
    ) -> Result<Page<InitialAccessTokenRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM initial_access_tokens WHERE token_id > $1 \
               AND ($3 IS NULL OR LOWER(description) LIKE $3 ESCAPE '\\' OR LOWER(token_id) LIKE $3 ESCAPE '\\') \
             ORDER BY token_id LIMIT $2"
        );
        let pattern = search.map(super::contains_pattern);
        let rows: Vec<InitialAccessTokenRecord> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await
        })?;
        Ok(page.page(rows, |r| r.token_id.clone()))
    }

    /// Revokes a token with its audit event: `true` when it was live, `false` when it was
    /// already revoked (nothing is recorded then), `NotFound` when there is no such token.
    pub async fn revoke_initial_access_token(
        &self,
        token_id: &str,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let revoked = with_tx!(self, |tx| {
            let updated = sqlx::query(REVOKE)
                .bind(now)
                .bind(token_id)
                .execute(&mut *tx)
                .await?;
            let revoked = updated.rows_affected() > 0;
            if revoked {
                insert_audit!(tx, event, now);
            }
            revoked
        });
        if !revoked && self.find_initial_access_token(token_id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(revoked)
    }
}
