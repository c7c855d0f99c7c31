//! Fresh databases per test on both backends, and `both_backends!`.
//!
//! PostgreSQL tests need `DATABASE_URL` pointing at a server where the user may create
//! databases (`scripts/test.sh` starts one). Without it they fail; they never skip.

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the PostgreSQL server named by `DATABASE_URL`.
    Postgres,
}

/// A database created for one test.
pub(crate) struct TestDatabase {
    /// The URL the server connects to.
    pub(crate) url: String,
    /// Scratch directory (SQLite file, data dir).
    pub(crate) dir: TempDir,
    pg_name: Option<String>,
}

/// The PostgreSQL server URL; panics with instructions when unset.
#[expect(
    clippy::disallowed_methods,
    reason = "the test harness reads DATABASE_URL"
)]
pub(crate) fn postgres_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: PostgreSQL tests need a server. \
             Run scripts/test.sh, which starts a throwaway PostgreSQL and sets it."
        )
    })
}

/// `url` with its database name replaced by `name`.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("DATABASE_URL is a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

impl TestDatabase {
    /// Creates a fresh, empty database.
    pub(crate) async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/mcp-authz.db", dir.path().display());
                Self {
                    url,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_url();
                let suffix: String = mcp_authz::crypto::random_bytes::<8>()
                    .unwrap()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let name = format!("mcpauthz_test_{suffix}");
                let mut conn = PgConnection::connect(&admin_url).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let url = with_database(&admin_url, &name);
                Self {
                    url,
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// Drops the PostgreSQL database (SQLite files go with the temp dir).
    pub(crate) async fn drop_database(&self) {
        if let Some(name) = &self.pg_name {
            let mut conn = PgConnection::connect(&postgres_url()).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// Runs `async fn $name(app: TestApp)` once on SQLite and once on PostgreSQL.
///
/// `both_backends!(backend: $name, ...)` runs `async fn $name(backend: Backend)`
/// instead, for tests that start their own server (a fixture first, then a server
/// configured to use it).
#[macro_export]
macro_rules! both_backends {
    (backend: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::Backend::Postgres).await;
            }
        }
    )+};
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Sqlite).await;
                super::$name(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Postgres).await;
                super::$name(app).await;
            }
        }
    )+};
}
