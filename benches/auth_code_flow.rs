//! Authorization-code round trips per second on SQLite: authorize → consent page →
//! consent POST → token, by a signed-in user, through the real HTTP server on loopback.
//!
//! Run with `cargo bench --bench auth_code_flow` (release build). Prints one line:
//! `auth_code_round_trips: N in S s = R/s (concurrency C)`. Numbers are only comparable
//! on the same machine; report them as ratios against a baseline run.

use std::sync::Arc;

use mcp_authz::app;
use mcp_authz::clock::{SharedClock, SystemClock};
use mcp_authz::config::Settings;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const TOKEN: &str = "bench-bootstrap-token-0123456789abcdef";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const REDIRECT: &str = "http://127.0.0.1:5555/callback";
const CONCURRENCY: usize = 4;
const WARM_UP: usize = 200;
const MEASURED: usize = 2000;

struct Agent {
    http: reqwest::Client,
    base: String,
    cookie: String,
    client_id: String,
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned()
}

impl Agent {
    /// Signs in once; each round trip then reuses the session, as a browser would.
    async fn sign_in(http: reqwest::Client, base: &str, client_id: &str) -> Self {
        let page = http
            .get(format!("{base}/login"))
            .send()
            .await
            .expect("login page");
        let cookie = page.headers()[SET_COOKIE]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        let csrf = hidden(&page.text().await.expect("html"), "csrf_token");
        let form = [
            ("csrf_token", csrf.as_str()),
            ("username", "alice"),
            ("password", "correct horse battery"),
        ];
        let done = http
            .post(format!("{base}/login"))
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
            .await
            .expect("login");
        let cookie = done.headers()[SET_COOKIE]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        Self {
            http,
            base: base.to_owned(),
            cookie,
            client_id: client_id.to_owned(),
        }
    }

    async fn round_trip(&self) {
        let query = format!(
            "response_type=code&client_id={}&redirect_uri={REDIRECT}&state=s&code_challenge={CHALLENGE}\
             &code_challenge_method=S256&resource={RESOURCE}",
            self.client_id
        );
        let started = self
            .http
            .get(format!("{}/oauth2/authorize?{query}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .expect("authorize");
        let consent_at = location(&started);
        let page = self
            .http
            .get(format!("{}{consent_at}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .expect("consent page");
        let html = page.text().await.expect("html");
        let form = [
            ("csrf_token", hidden(&html, "csrf_token")),
            ("request", hidden(&html, "request")),
            ("decision", "allow".to_owned()),
        ];
        let decided = self
            .http
            .post(format!("{}/consent", self.base))
            .header(COOKIE, &self.cookie)
            .form(&form)
            .send()
            .await
            .expect("consent");
        let redirect = url::Url::parse(&location(&decided)).expect("redirect");
        let code = redirect
            .query_pairs()
            .find(|(k, _)| k == "code")
            .expect("code")
            .1
            .into_owned();
        let token = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", &self.client_id),
            ("redirect_uri", REDIRECT),
        ];
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .form(&token)
            .send()
            .await
            .expect("token");
        assert!(
            response.status().is_success(),
            "token request failed: {}",
            response.text().await.unwrap_or_default()
        );
    }
}

async fn admin(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let response = http
        .post(format!("{base}/admin/api/v1/{path}"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("admin call");
    response.json().await.expect("admin json")
}

async fn run(agents: &Arc<Vec<Agent>>, count: usize) {
    let per_agent = count / agents.len();
    let mut tasks = Vec::new();
    for index in 0..agents.len() {
        let agents = Arc::clone(agents);
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_agent {
                agents[index].round_trip().await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[dev]\nloopback = true\n[database]\nurl = \"sqlite://{}/bench.db\"\n\
         [keys]\ndata_dir = \"{}\"\n[admin]\nbootstrap_token = \"{TOKEN}\"\n[log]\nfilter = \"error\"\n\
         [sessions]\nlogin_attempts_per_username = 100\n",
        dir.path().display(),
        dir.path().display()
    );
    let settings = Settings::from_toml(&toml).expect("settings");
    let clock: SharedClock = Arc::new(SystemClock);
    let server = app::spawn_on(listener, settings, clock)
        .await
        .expect("server");
    let base = format!("http://127.0.0.1:{port}");
    #[expect(
        clippy::disallowed_methods,
        reason = "the benchmark drives the server as an outside client"
    )]
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    admin(&http, &base, "servers", json!({"resource": RESOURCE, "name": "Bench", "scopes": [{"name": "tools:read", "description": "Read"}], "default_scopes": ["tools:read"]})).await;
    let client = admin(&http, &base, "clients", json!({"client_name": "Bench", "token_endpoint_auth_method": "none", "redirect_uris": ["http://127.0.0.1/callback"]})).await;
    admin(
        &http,
        &base,
        "users",
        json!({"username": "alice", "password": "correct horse battery"}),
    )
    .await;
    let client_id = client["client_id"].as_str().expect("client id").to_owned();
    let mut agents = Vec::new();
    for _ in 0..CONCURRENCY {
        agents.push(Agent::sign_in(http.clone(), &base, &client_id).await);
    }
    let agents = Arc::new(agents);
    run(&agents, WARM_UP).await;
    #[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
    let started = std::time::Instant::now();
    run(&agents, MEASURED).await;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "auth_code_round_trips: {MEASURED} in {elapsed:.2} s = {:.0}/s (concurrency {CONCURRENCY})",
        MEASURED as f64 / elapsed
    );
    server.stop().await;
}
