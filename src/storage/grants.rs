//! Grants (one per code redemption: the refresh-token family), refresh tokens and the
//! deny-list of revoked JWT access tokens (REFRESH-*, REVOKE-4).

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{
    AuditEvent, Backend, Page, PageRequest, Store, StoreError, revoked, with_pool, with_tx,
};
use crate::clock::UnixTime;

/// A grant: what a user allowed a client at one MCP server.
#[derive(Debug, Clone, FromRow)]
pub struct GrantRecord {
    /// Id; also the prefix of its access tokens' `jti`.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The MCP server (RES-7: refreshes stay bound to it).
    pub server_id: String,
    /// Granted scopes.
    pub scope: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// When created.
    pub created_at: i64,
    /// Absolute end of the family (REFRESH-6).
    pub expires_at: i64,
    /// When revoked (reuse, revocation, admin).
    pub revoked_at: Option<i64>,
}

impl GrantRecord {
    /// Whether the grant may still issue tokens at `now`.
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A refresh token as stored (only its keyed hash).
#[derive(Debug, Clone, FromRow)]
pub struct RefreshTokenRecord {
    /// Keyed hash of the token.
    pub token_hash: Vec<u8>,
    /// Its family.
    pub grant_id: String,
    /// Scopes it carries (the grant's, REFRESH-6).
    pub scope: String,
    /// When issued.
    pub created_at: i64,
    /// Idle expiry (REFRESH-6).
    pub expires_at: i64,
    /// When it was exchanged for its successor.
    pub rotated_at: Option<i64>,
    /// When revoked.
    pub revoked_at: Option<i64>,
}

const GRANT_COLUMNS: &str =
    "grant_id, client_id, user_id, server_id, scope, auth_time, created_at, expires_at, revoked_at";
pub(super) const INSERT_GRANT: &str = "\
INSERT INTO grants (grant_id, client_id, user_id, server_id, scope, auth_time, created_at, \
    expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const REFRESH_COLUMNS: &str =
    "token_hash, grant_id, scope, created_at, expires_at, rotated_at, revoked_at";
const INSERT_REFRESH: &str = "\
INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at) \
VALUES ($1, $2, $3, $4, $5)";
/// REFRESH-3, REFRESH-8: the guard is in the WHERE clause, so one caller wins.
const ROTATE_REFRESH: &str = "\
UPDATE refresh_tokens SET rotated_at = $2 \
 WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2";
const LIST_GRANTS: &str = "\
SELECT grant_id, client_id, user_id, server_id, scope, auth_time, created_at, expires_at, revoked_at \
  FROM grants WHERE grant_id > $1 AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR client_id = $3) \
 ORDER BY grant_id LIMIT $4";
const REVOKE_GRANT: &str =
    "UPDATE grants SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL";
const REVOKE_FAMILY: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL";
const DENY_JTI: &str = "\
INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
const FIND_DENIED_JTI: &str = "SELECT jti FROM revoked_access_tokens WHERE jti = $1";

/// Inserts refresh token `$token` inside transaction `$tx`.
macro_rules! insert_refresh {
    ($tx:ident, $token:expr) => {{
        let token: &RefreshTokenRecord = $token;
        sqlx::query(INSERT_REFRESH)
            .bind(&token.token_hash)
            .bind(&token.grant_id)
            .bind(&token.scope)
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(&mut *$tx)
            .await?;
    }};
}

impl Store {
    /// Stores a grant's first refresh token.
    pub async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        with_tx!(self, |tx| insert_refresh!(tx, token));
        Ok(())
    }

    /// The grant with this id.
    pub async fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = $1");
        let row = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(grant_id)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// A page of grants (live, expired or revoked), of one user and/or one client.
    pub async fn list_grants(
        &self,
        user_id: Option<&str>,
        client_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<GrantRecord>, StoreError> {
        let rows: Vec<GrantRecord> = with_pool!(self, |pool| sqlx::query_as(LIST_GRANTS)
            .bind(page.after_key())
            .bind(user_id)
            .bind(client_id)
            .bind(page.fetch_limit())
            .fetch_all(pool)
            .await)?;
        Ok(page.page(rows, |g: &GrantRecord| g.grant_id.clone()))
    }

    /// [`Store::revoke_grant`] by an administrator, with the audit event in the same
    /// transaction; `false` (nothing written) when the grant was already revoked.
    pub async fn revoke_grant_audited(
        &self,
        grant_id: &str,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let revoked = with_tx!(self, |tx| {
            let revoked = sqlx::query(REVOKE_GRANT)
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if revoked == 1 {
                sqlx::query(REVOKE_FAMILY)
                    .bind(grant_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                insert_audit!(tx, event, now);
            }
            revoked == 1
        });
        Ok(revoked)
    }

    /// Revokes a grant and every refresh token of its family (REFRESH-4, REVOKE-4);
    /// its access tokens then introspect inactive. Idempotent.
    pub async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(REVOKE_GRANT)
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(REVOKE_FAMILY)
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// The refresh token with this hash, whatever its state.
    pub async fn find_refresh_token(
        &self,
        hash: &[u8],
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
        let row = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(hash)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Rotates `old` into `successor` atomically. `false` when `old` was already rotated,
    /// revoked or expired (then nothing is written): exactly one concurrent caller wins.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &[u8],
        successor: &RefreshTokenRecord,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let rotated = with_tx!(self, |tx| {
            let done = sqlx::query(ROTATE_REFRESH)
                .bind(old_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            insert_refresh!(tx, successor);
            true
        });
        Ok(rotated)
    }

    /// Puts a JWT access token's `jti` on the deny-list until it would expire anyway;
    /// on PostgreSQL every instance hears of it on commit (see `revoked`).
    pub async fn deny_access_token(
        &self,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query(DENY_JTI)
                    .bind(jti)
                    .bind(expires_at)
                    .execute(pool)
                    .await?;
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(DENY_JTI)
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(revoked::ANNOUNCE)
                    .bind(revoked::CHANNEL)
                    .bind(revoked::payload(jti, expires_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        self.revoked.insert(jti, expires_at, now);
        Ok(())
    }

    /// Whether a `jti` was revoked: from the in-memory mirror while it is in sync,
    /// otherwise from the table.
    pub async fn is_access_token_denied(&self, jti: &str) -> Result<bool, StoreError> {
        if let Some(denied) = self.revoked.lookup(jti) {
            return Ok(denied);
        }
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as(FIND_DENIED_JTI)
                .bind(jti)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.is_some())
    }
}
