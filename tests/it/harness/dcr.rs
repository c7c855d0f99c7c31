//! Dynamic registration (RFC 7591) helpers: servers with `[dcr]` switched on, and
//! registering through the front door.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::TestApp;
use super::flow::OAuthAnswer;

/// Open registration; a generous rate limit so tests that register often stay under it.
pub(crate) const OPEN: &str = "[dcr]\nmode = \"open\"\nregistrations_per_address_per_hour = 1000\n";
/// Registration with initial access tokens.
pub(crate) const TOKEN: &str =
    "[dcr]\nmode = \"token\"\nregistrations_per_address_per_hour = 1000\n";

/// Runs `async fn $name(app: TestApp)` on SQLite and on PostgreSQL, with the extra
/// configuration `$toml` (a path from the crate root, e.g. `crate::harness::dcr::OPEN`).
#[macro_export]
macro_rules! dcr_backends {
    ($toml:expr; $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let backend = $crate::harness::Backend::Sqlite;
                let app = $crate::harness::TestApp::spawn_with(backend, "", $toml).await;
                super::$name(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let backend = $crate::harness::Backend::Postgres;
                let app = $crate::harness::TestApp::spawn_with(backend, "", $toml).await;
                super::$name(app).await;
            }
        }
    )+};
}

impl TestApp {
    /// `POST path` with a raw body, an optional content type and bearer token.
    pub(crate) async fn post_registration(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
        bearer: Option<&str>,
    ) -> OAuthAnswer {
        let mut request = self.request(Method::POST, path).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// `POST /oauth2/register` with `metadata` as JSON.
    pub(crate) async fn register(&self, metadata: &Value) -> OAuthAnswer {
        self.register_with_token(metadata, None).await
    }

    /// `POST /oauth2/register` with `metadata` and an optional initial access token.
    pub(crate) async fn register_with_token(
        &self,
        metadata: &Value,
        bearer: Option<&str>,
    ) -> OAuthAnswer {
        let body = serde_json::to_vec(metadata).unwrap();
        self.post_registration("/oauth2/register", body, Some("application/json"), bearer)
            .await
    }

    /// Registers `metadata`, asserting 201; returns the answer's JSON.
    pub(crate) async fn register_ok(&self, metadata: &Value) -> Value {
        let (status, _, body) = self.register(metadata).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Creates an initial access token through the admin API; returns its JSON.
    pub(crate) async fn create_initial_access_token(&self, body: Value) -> Value {
        self.admin_ok(
            Method::POST,
            "/admin/api/v1/initial-access-tokens",
            Some(body),
            StatusCode::CREATED,
        )
        .await
    }
}
