//! `TestApp`: the real server on 127.0.0.1, a fresh database, a mock clock, and an HTTP
//! client that keeps no cookies and follows no redirects.

pub(crate) mod backends;
pub(crate) mod dcr;
pub(crate) mod flow;
pub(crate) mod resource_server;
pub(crate) mod tls_fixture;

use std::sync::Arc;

use mcp_authz::app::{self, RunningServer};
use mcp_authz::clock::MockClock;
use mcp_authz::config::Settings;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

pub(crate) use backends::{Backend, TestDatabase};

/// The bootstrap admin token every test server accepts.
pub(crate) const ADMIN_TOKEN: &str = "test-bootstrap-token-0123456789abcdef";
/// A fixed key-encryption key (32 bytes, base64).
pub(crate) const KEK: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Where the mock clock starts: 2026-01-01T00:00:00Z.
pub(crate) const START: i64 = 1_767_225_600;

/// A running server plus what tests need to drive it.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub(crate) base: String,
    /// The issuer the server was configured with.
    pub(crate) issuer: String,
    /// Moves only when a test says so.
    pub(crate) clock: Arc<MockClock>,
    /// The server (for direct access to its store and key ring).
    pub(crate) server: Option<RunningServer>,
    /// The database (kept across restarts).
    pub(crate) database: TestDatabase,
    /// Plain HTTP client.
    pub(crate) http: reqwest::Client,
    /// Extra TOML appended to the test configuration.
    extra_toml: String,
    issuer_path: String,
    /// An issuer to use instead of the one derived from the port (see [`TestApp::spawn_on`]).
    issuer_override: Option<String>,
}

impl TestApp {
    /// Starts a server on a fresh database of `backend`.
    pub(crate) async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, "", "").await
    }

    /// Starts a server with an issuer path (e.g. `/tenant`) and extra configuration.
    pub(crate) async fn spawn_with(backend: Backend, issuer_path: &str, extra_toml: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::launch(backend, listener, issuer_path, None, extra_toml).await
    }

    /// Starts a server on `listener`, which the test bound first so that its port is
    /// known before the server starts (another server's configuration may name it), with
    /// `issuer` instead of `http://127.0.0.1:PORT` when given (e.g. the `https://` address
    /// of a TLS proxy in front of this server).
    pub(crate) async fn spawn_on(
        backend: Backend,
        listener: tokio::net::TcpListener,
        issuer: Option<&str>,
        extra_toml: &str,
    ) -> Self {
        Self::launch(backend, listener, "", issuer, extra_toml).await
    }

    async fn launch(
        backend: Backend,
        listener: tokio::net::TcpListener,
        issuer_path: &str,
        issuer: Option<&str>,
        extra_toml: &str,
    ) -> Self {
        let database = TestDatabase::create(backend).await;
        #[expect(
            clippy::disallowed_methods,
            reason = "the test client talks to our own server"
        )]
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut app = Self {
            base: String::new(),
            issuer: String::new(),
            clock: Arc::new(MockClock::new(START)),
            server: None,
            database,
            http,
            extra_toml: extra_toml.to_owned(),
            issuer_path: issuer_path.to_owned(),
            issuer_override: issuer.map(str::to_owned),
        };
        app.start_on(listener).await;
        app
    }

    /// The settings a test server runs with.
    pub(crate) fn settings(&self, port: u16) -> Settings {
        let issuer = self
            .issuer_override
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}{}", self.issuer_path));
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
issuer = "{issuer}"
[dev]
loopback = true
[database]
url = "{url}"
max_connections = 5
[keys]
encryption_key = "{KEK}"
data_dir = "{data}"
[admin]
bootstrap_token = "{ADMIN_TOKEN}"
[log]
filter = "warn"
"#,
            url = self.database.url,
            data = self.database.dir.path().display(),
        );
        Settings::from_toml_layers(&[&toml, &self.extra_toml]).unwrap()
    }

    async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.start_on(listener).await;
    }

    async fn start_on(&mut self, listener: tokio::net::TcpListener) {
        let port = listener.local_addr().unwrap().port();
        let settings = self.settings(port);
        self.issuer = settings.issuer.as_str().to_owned();
        self.base = format!("http://127.0.0.1:{port}");
        let server = app::spawn_on(listener, settings, self.clock.clone())
            .await
            .unwrap();
        self.server = Some(server);
    }

    /// Replaces the extra configuration the next [`TestApp::restart`] starts with.
    pub(crate) fn set_extra_toml(&mut self, toml: &str) {
        self.extra_toml = toml.to_owned();
    }

    /// [`TestApp::restart`] that returns the start-up error instead of panicking; the
    /// app is then stopped until the next successful restart.
    pub(crate) async fn try_restart(&mut self) -> Result<(), mcp_authz::app::StartError> {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let settings = self.settings(port);
        self.base = format!("http://127.0.0.1:{port}");
        self.server = Some(app::spawn_on(listener, settings, self.clock.clone()).await?);
        Ok(())
    }

    /// Stops the server and starts a new one on the same database (a restart).
    pub(crate) async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.start().await;
    }

    /// The running server.
    pub(crate) fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    /// A request to `path` on this server.
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// How many audit events are stored (to prove a refused request changed nothing).
    pub(crate) async fn audit_count(&self) -> usize {
        self.server()
            .state
            .store
            .list_audit_events(None, 10_000)
            .await
            .unwrap()
            .len()
    }

    /// A GET of `path`.
    pub(crate) async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// POSTs `body` on a raw connection in three parts with pauses between them, as a
    /// slow client would, then reads the whole answer. `Err` carries the I/O error a
    /// client would have seen (a reset connection, say) instead of an answer.
    pub(crate) async fn post_slowly(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<String, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let address = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| format!("send the head: {e}"))?;
        for (number, part) in body.chunks(body.len().div_ceil(3)).enumerate() {
            stream
                .write_all(part)
                .await
                .map_err(|e| format!("send part {} of the body: {e}", number + 1))?;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let mut answer = Vec::new();
        // The guard only stops a broken server from hanging the suite.
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            stream.read_to_end(&mut answer),
        )
        .await
        .map_err(|_| "no answer within 60 s".to_owned())?
        .map_err(|e| format!("read the answer: {e}"))?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }

    /// An admin-API call with the bootstrap token and an optional JSON body.
    pub(crate) async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.request(method, path).bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// An admin-API call that must answer `expected`; returns the JSON body.
    pub(crate) async fn admin_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Value {
        let response = self.admin(method, path, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Registers an MCP server through the admin API and returns its JSON.
    pub(crate) async fn create_server(
        &self,
        resource: &str,
        scopes: &[&str],
        defaults: &[&str],
    ) -> Value {
        let scopes: Vec<Value> = scopes
            .iter()
            .map(|s| serde_json::json!({"name": s, "description": format!("Allows {s}")}))
            .collect();
        let body = serde_json::json!({
            "resource": resource, "name": "Test MCP", "scopes": scopes, "default_scopes": defaults,
        });
        self.admin_ok(
            Method::POST,
            "/admin/api/v1/servers",
            Some(body),
            StatusCode::CREATED,
        )
        .await
    }

    /// Stops the server and drops its database.
    pub(crate) async fn finish(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.database.drop_database().await;
    }
}

/// Asserts an admin-API error: status, `error` code and `field`.
pub(crate) async fn assert_api_error(
    response: Response,
    status: StatusCode,
    error: &str,
    field: Option<&str>,
) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    if let Some(field) = field {
        assert_eq!(body["field"], field, "{body}");
    }
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}
