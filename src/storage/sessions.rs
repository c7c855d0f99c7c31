//! Browser sessions, keyed by the hash of the cookie value (SEC-18).

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::ids::UserId;

/// A stored session.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRecord {
    /// Keyed hash of the cookie value.
    pub session_hash: Vec<u8>,
    /// The signed-in user, if any.
    pub user_id: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// When created.
    pub created_at: i64,
    /// When it ends.
    pub expires_at: i64,
    /// When the admin console last served it (`None`: never).
    #[sqlx(default)]
    pub last_seen_at: Option<i64>,
}

impl SessionRecord {
    /// The signed-in user.
    pub fn user(&self) -> Option<UserId> {
        self.user_id.clone().map(UserId::from_stored)
    }
}

const INSERT_SESSION: &str = "\
INSERT INTO sessions (session_hash, user_id, auth_time, created_at, expires_at) \
VALUES ($1, $2, $3, $4, $5)";
const FIND_SESSION: &str = "\
SELECT session_hash, user_id, auth_time, created_at, expires_at, last_seen_at FROM sessions \
 WHERE session_hash = $1 AND expires_at > $2";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE session_hash = $1";
const TOUCH_SESSION: &str = "UPDATE sessions SET last_seen_at = $2 WHERE session_hash = $1";
const LIST_USER_SESSIONS: &str = "\
SELECT session_hash, user_id, auth_time, created_at, expires_at, last_seen_at FROM sessions \
 WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC LIMIT 100";
const DELETE_USER_SESSION: &str = "DELETE FROM sessions WHERE session_hash = $1 AND user_id = $2";
const SET_REVEAL: &str = "UPDATE sessions SET reveal = $2 WHERE session_hash = $1";
const GET_REVEAL: &str = "SELECT reveal FROM sessions WHERE session_hash = $1";

impl Store {
    /// Stores a new session.
    pub async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(INSERT_SESSION)
                .bind(&session.session_hash)
                .bind(&session.user_id)
                .bind(session.auth_time)
                .bind(session.created_at)
                .bind(session.expires_at)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Replaces session `old` by `new` in one transaction: the id rotates at sign-in (SEC-18).
    pub async fn rotate_session(
        &self,
        old: Option<&[u8]>,
        new: &SessionRecord,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            if let Some(old) = old {
                sqlx::query(DELETE_SESSION)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(INSERT_SESSION)
                .bind(&new.session_hash)
                .bind(&new.user_id)
                .bind(new.auth_time)
                .bind(new.created_at)
                .bind(new.expires_at)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// The live session with this hash.
    pub async fn find_session(
        &self,
        hash: &[u8],
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = with_pool!(self, |pool| {
            sqlx::query_as(FIND_SESSION)
                .bind(hash)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// Notes that the admin console served the session at `now` (its idle timeout).
    pub async fn touch_session(&self, hash: &[u8], now: UnixTime) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query(TOUCH_SESSION)
            .bind(hash)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Keeps `sealed` for the session's next page ([`Store::take_reveal`]).
    pub async fn set_reveal(&self, hash: &[u8], sealed: &[u8]) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query(SET_REVEAL)
            .bind(hash)
            .bind(sealed)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The session's kept secret, cleared in the same transaction: shown once.
    pub async fn take_reveal(&self, hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let sealed = with_tx!(self, |tx| {
            let found: Option<(Option<Vec<u8>>,)> = sqlx::query_as(GET_REVEAL)
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await?;
            let sealed = found.and_then(|(sealed,)| sealed);
            if sealed.is_some() {
                sqlx::query(SET_REVEAL)
                    .bind(hash)
                    .bind(None::<Vec<u8>>)
                    .execute(&mut *tx)
                    .await?;
            }
            sealed
        });
        Ok(sealed)
    }

    /// The live sessions of a user, newest first (at most 100).
    pub async fn list_user_sessions(
        &self,
        user_id: &str,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = with_pool!(self, |pool| sqlx::query_as(LIST_USER_SESSIONS)
            .bind(user_id)
            .bind(now)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Ends one session of `user_id` by an administrator, with its audit event;
    /// `NotFound` when the user has no such session.
    pub async fn end_user_session(
        &self,
        user_id: &str,
        hash: &[u8],
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            let ended = sqlx::query(DELETE_USER_SESSION)
                .bind(hash)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if ended.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(tx, event, now);
        });
        Ok(())
    }

    /// Ends a session (logout).
    pub async fn delete_session(&self, hash: &[u8]) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query(DELETE_SESSION)
            .bind(hash)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
