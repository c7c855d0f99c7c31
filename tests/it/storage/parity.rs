//! The two migration sets describe the same schema.

use mcp_authz::config::DatabaseKind;
use mcp_authz::storage::{POSTGRES_MIGRATOR, PoolOptions, SQLITE_MIGRATOR, Store};

use crate::harness::{Backend, TestDatabase};

fn options() -> PoolOptions {
    PoolOptions {
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(5),
        registry_cache_ttl: std::time::Duration::from_secs(5),
    }
}

#[test]
fn migrations_have_the_same_versions_and_names_on_both_backends() {
    let list = |m: &sqlx::migrate::Migrator| -> Vec<(i64, String)> {
        m.iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect()
    };
    let sqlite = list(&SQLITE_MIGRATOR);
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, list(&POSTGRES_MIGRATOR));
}

#[tokio::test]
async fn schemas_have_the_same_tables_and_columns_on_both_backends() {
    let sqlite_db = TestDatabase::create(Backend::Sqlite).await;
    let postgres_db = TestDatabase::create(Backend::Postgres).await;
    let sqlite = Store::connect(DatabaseKind::Sqlite, &sqlite_db.url, options())
        .await
        .unwrap();
    let postgres = Store::connect(DatabaseKind::Postgres, &postgres_db.url, options())
        .await
        .unwrap();
    sqlite.migrate().await.unwrap();
    postgres.migrate().await.unwrap();
    let sqlite_columns = sqlite.schema_columns().await.unwrap();
    let postgres_columns = postgres.schema_columns().await.unwrap();
    assert!(
        sqlite_columns
            .iter()
            .any(|(t, c)| t == "servers" && c == "resource")
    );
    assert_eq!(sqlite_columns, postgres_columns);
    // Migrating again is a no-op.
    sqlite.migrate().await.unwrap();
    postgres.migrate().await.unwrap();
    postgres.close().await;
    postgres_db.drop_database().await;
}
