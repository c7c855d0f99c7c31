//! Local user accounts and their argon2 password hashes.

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Page, PageRequest, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::user::{Email, User, Username};

#[derive(FromRow)]
struct UserRow {
    user_id: String,
    username: String,
    email: Option<String>,
    password_hash: Option<String>,
    is_enabled: bool,
    is_admin: bool,
    created_at: i64,
    updated_at: i64,
}

/// A user with the PHC-format argon2 hash of their password (`None`: cannot sign in
/// with a password, e.g. federated accounts).
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The account.
    pub user: User,
    /// PHC string of the password hash.
    pub password_hash: Option<String>,
}

const USER_COLUMNS: &str =
    "user_id, username, email, password_hash, is_enabled, is_admin, created_at, updated_at";
const INSERT_USER: &str = "\
INSERT INTO users (user_id, username, email, password_hash, is_enabled, is_admin, created_at, \
                   updated_at) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const UPDATE_USER: &str = "\
UPDATE users SET username = $2, email = $3, password_hash = COALESCE($4, password_hash), \
                 is_enabled = $5, is_admin = $6, updated_at = $7 WHERE user_id = $1";
const DELETE_USER: &str = "DELETE FROM users WHERE user_id = $1";

impl Store {
    /// Inserts a user and the audit event; a taken username is `Conflict { field: "username" }`.
    pub async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(INSERT_USER)
                .bind(user.id.as_str())
                .bind(user.username.as_str())
                .bind(user.email.as_ref().map(Email::as_str))
                .bind(password_hash)
                .bind(user.is_enabled)
                .bind(user.is_admin)
                .bind(user.created_at)
                .bind(user.updated_at)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, event, user.created_at);
        });
        Ok(())
    }

    /// Updates a user; `new_password_hash` replaces the hash when given.
    pub async fn update_user(
        &self,
        user: &User,
        new_password_hash: Option<&str>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            let updated = sqlx::query(UPDATE_USER)
                .bind(user.id.as_str())
                .bind(user.username.as_str())
                .bind(user.email.as_ref().map(Email::as_str))
                .bind(new_password_hash)
                .bind(user.is_enabled)
                .bind(user.is_admin)
                .bind(user.updated_at)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(tx, event, user.updated_at);
        });
        Ok(())
    }

    /// Deletes a user, with the audit event.
    pub async fn delete_user(
        &self,
        id: &UserId,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.delete_audited(DELETE_USER, id.as_str(), event, now)
            .await
    }

    /// The user with this id.
    pub async fn find_user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.find_user_where("user_id", id.as_str()).await
    }

    /// The user with this (lower-cased) username.
    pub async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.find_user_where("username", username.as_str()).await
    }

    /// The user whose recorded address is `email` (already lower-cased by [`Email`]).
    pub async fn find_user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.find_user_where("email", email.as_str()).await
    }

    /// Whether some enabled user has the admin role (else the console has nobody).
    pub async fn has_admin_user(&self) -> Result<bool, StoreError> {
        let (count,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE is_admin = TRUE AND is_enabled = TRUE")
                .fetch_one(pool)
                .await
        })?;
        Ok(count > 0)
    }

    /// A page of users ordered by username; with `search`, only those whose username or
    /// email contains it (case-insensitively: both are stored lower-cased).
    pub async fn list_users(
        &self,
        page: &PageRequest,
        search: Option<&str>,
    ) -> Result<Page<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username > $1 \
               AND ($3 IS NULL OR username LIKE $3 ESCAPE '\\' OR email LIKE $3 ESCAPE '\\') \
             ORDER BY username LIMIT $2"
        );
        let pattern = search.map(super::contains_pattern);
        let rows: Vec<UserRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await
        })?;
        let users = rows.into_iter().map(|row| to_record(row).user).collect();
        Ok(page.page(users, |u: &User| u.username.as_str().to_owned()))
    }

    async fn find_user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        let row: Option<UserRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(value).fetch_optional(pool).await
        })?;
        Ok(row.map(to_record))
    }
}

fn to_record(row: UserRow) -> UserRecord {
    UserRecord {
        user: User {
            id: UserId::from_stored(row.user_id),
            username: Username::from_stored(row.username),
            email: row.email.map(Email::from_stored),
            is_enabled: row.is_enabled,
            is_admin: row.is_admin,
            created_at: row.created_at,
            updated_at: row.updated_at,
        },
        password_hash: row.password_hash,
    }
}
