//! PostgreSQL connection options and migrations.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{PoolOptions, StoreError};

/// The PostgreSQL migrations, embedded in the binary.
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Every `(table, column)` of the current schema, migration bookkeeping excluded.
pub(super) const SCHEMA_COLUMNS: &str = "\
SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'";

/// Opens the pool.
pub(super) async fn connect(url: &str, options: PoolOptions) -> Result<PgPool, StoreError> {
    let connect_options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect_options)
        .await?;
    Ok(pool)
}
