//! The database: one [`Store`] over SQLite or PostgreSQL (ARCHITECTURE section 6).
//!
//! Owns every SQL statement; `sqlx` appears nowhere else. Methods speak domain types.
//! SQL is written once and run on whichever backend is live through [`with_pool!`];
//! state changes are single guarded statements, and changes that must land together
//! (an admin change and its audit event) share one short transaction.

mod admin_tokens;
mod assertions;
mod audiences;
mod audit;
mod authorizations;
mod cache;
mod cimd;
mod cleanup;
mod clients;
mod console;
mod dcr;
mod federation;
mod grants;
mod idps;
mod initial_access_tokens;
mod keys;
mod postgres;
mod revoked;
mod servers;
mod sessions;
mod sqlite;
mod users;

use std::time::Duration;

use sqlx::{PgPool, SqlitePool};

pub use admin_tokens::AdminTokenRecord;
pub use audit::{AuditEvent, AuditFilter, AuditRecord};
pub use authorizations::{AuthorizationRequestRecord, CodeRecord, ConsentRecord, StoredConsent};
pub use cache::ClientEntry;
pub use cimd::{CimdClientRecord, CimdDocumentRecord, CimdHostRuleRecord, CimdRecordOutcome};
pub use clients::{ClientSecretInfo, ClientSecretRecord, NewClientSecret};
pub use console::ObjectCounts;
pub use dcr::DcrRegistration;
pub use federation::FederationStateRecord;
pub use grants::{GrantRecord, RefreshTokenRecord};
pub use idps::{ExternalIdentity, IdentityRecord};
pub use initial_access_tokens::InitialAccessTokenRecord;
pub use keys::{KeyInsert, SigningKeyRecord};
pub use postgres::POSTGRES_MIGRATOR;
pub use sessions::SessionRecord;
pub use sqlite::SQLITE_MIGRATOR;
pub use users::UserRecord;

use crate::config::DatabaseKind;

/// A storage failure, classified so callers can answer callers precisely.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule was violated; `field` names the input at fault.
    #[error("conflicts with an existing {field}")]
    Conflict {
        /// The API field whose value collides (e.g. `resource`, `username`).
        field: &'static str,
    },
    /// A stored value no longer parses (a bug or a manual edit of the database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Constraint names (PostgreSQL) and `table.column` (SQLite messages) → API field.
const CONFLICT_FIELDS: [(&str, &str, &str); 10] = [
    (
        "cimd_host_rules_unique",
        "cimd_host_rules.pattern",
        "pattern",
    ),
    (
        "signing_keys_generation_unique",
        "signing_keys.generation",
        "generation",
    ),
    ("servers_resource_unique", "servers.resource", "resource"),
    ("servers_single_default", "servers.is_default", "is_default"),
    ("users_username_unique", "users.username", "username"),
    ("users_email_unique", "users.email", "email"),
    (
        "trusted_idps_issuer_unique",
        "trusted_idps.issuer",
        "issuer",
    ),
    (
        "id_jag_audiences_issuer_unique",
        "id_jag_audiences.issuer",
        "issuer",
    ),
    (
        "admin_tokens_hash_unique",
        "admin_tokens.token_hash",
        "token",
    ),
    (
        "initial_access_tokens_hash_unique",
        "initial_access_tokens.token_hash",
        "token",
    ),
];

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let constraint = db.constraint().unwrap_or_default();
                let message = db.message();
                let field = CONFLICT_FIELDS
                    .iter()
                    .find(|(pg, lite, _)| constraint == *pg || message.contains(lite))
                    .map_or("value", |(_, _, field)| *field);
                StoreError::Conflict { field }
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Conflict { field: "reference" }
            }
            _ => StoreError::Database(err),
        }
    }
}

/// The live connection pool.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// Embedded SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// The database handle: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    cache: std::sync::Arc<cache::RegistryCache>,
    revoked: std::sync::Arc<revoked::RevokedMirror>,
}

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend is live.
/// Each expansion is type-checked against its own driver.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::storage::Backend::Sqlite($pool) => $body,
            $crate::storage::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside one short write transaction bound to `$tx` and commits it; an
/// early `?` drops the transaction, which rolls it back. SQLite starts it with
/// `BEGIN IMMEDIATE` so a read lock is never upgraded into a busy error.
macro_rules! with_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.backend {
            $crate::storage::Backend::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::storage::Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

pub(crate) use {with_pool, with_tx};

/// `%term%` for a case-insensitive "contains" (`LOWER(column) LIKE`), lower-cased, with
/// the wildcards of `term` escaped.
pub(crate) fn contains_pattern(term: &str) -> String {
    format!("%{}%", like_escaped(&term.to_lowercase()))
}

/// `text` for a `LIKE … ESCAPE '\\'` pattern: its `%`, `_` and `\\` match themselves.
pub(crate) fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Pool options shared by both backends.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Upper bound of connections.
    pub max_connections: u32,
    /// How long to wait for a connection (and, on SQLite, for a lock).
    pub acquire_timeout: Duration,
    /// How long clients and MCP servers may be served from this instance's memory
    /// (`database.registry_cache_ttl`).
    pub registry_cache_ttl: Duration,
}

impl Store {
    /// Connects to `url` (`sqlite://…` creates the file and its folder if missing).
    pub async fn connect(
        kind: DatabaseKind,
        url: &str,
        options: PoolOptions,
    ) -> Result<Self, StoreError> {
        let backend = match kind {
            DatabaseKind::Sqlite => Backend::Sqlite(sqlite::connect(url, options).await?),
            DatabaseKind::Postgres => Backend::Postgres(postgres::connect(url, options).await?),
        };
        Ok(Self {
            backend,
            cache: std::sync::Arc::new(cache::RegistryCache::new(options.registry_cache_ttl)),
            revoked: std::sync::Arc::default(),
        })
    }

    /// Applies pending migrations of the live backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Which backend is live.
    pub fn kind(&self) -> DatabaseKind {
        match &self.backend {
            Backend::Sqlite(_) => DatabaseKind::Sqlite,
            Backend::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Columns of every table as `(table, column)`, sorted; the schema-parity test
    /// compares the two backends with it.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut columns: Vec<(String, String)> = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_as(sqlite::SCHEMA_COLUMNS)
                    .fetch_all(pool)
                    .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(postgres::SCHEMA_COLUMNS)
                    .fetch_all(pool)
                    .await?
            }
        };
        columns.sort();
        Ok(columns)
    }

    /// Closes the pool, waiting for connections to return.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await);
    }
}

/// A page of a list: items plus the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Items in key order.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page.
    pub next_cursor: Option<String>,
}

/// Keyset paging request: items after `after` (exclusive), at most `limit`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// The cursor returned by the previous page.
    pub after: Option<String>,
    /// Page size (already clamped by the caller).
    pub limit: u32,
}

impl PageRequest {
    /// The lower bound for `key > $n` comparisons ("" sorts before every key).
    pub(crate) fn after_key(&self) -> &str {
        self.after.as_deref().unwrap_or("")
    }

    /// One more than the page size, to learn whether a next page exists.
    pub(crate) fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Cuts the over-fetched rows to a page and derives the next cursor from `key`.
    pub(crate) fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if has_more { rows.last().map(key) } else { None };
        Page {
            items: rows,
            next_cursor,
        }
    }
}
