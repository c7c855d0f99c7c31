//! SQLite connection options and migrations.

use std::str::FromStr;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{PoolOptions, StoreError};

/// The SQLite migrations, embedded in the binary.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Every `(table, column)` of the schema, migration bookkeeping excluded.
pub(super) const SCHEMA_COLUMNS: &str = "\
SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'";

/// Opens the pool with WAL, a busy timeout and enforced foreign keys.
pub(super) async fn connect(url: &str, options: PoolOptions) -> Result<SqlitePool, StoreError> {
    let connect_options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(options.acquire_timeout)
        .foreign_keys(true);
    if let Some(parent) = connect_options.get_filename().parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect_options)
        .await?;
    Ok(pool)
}
