//! Sign-in through an upstream OpenID provider (FED-1..4), end to end: the provider is
//! another mcp-authz ("A") behind a TLS-terminating proxy at `https://localhost:PORT`,
//! the server under test ("B") listens on `http://127.0.0.1:PORT` and trusts the proxy's
//! test CA. A user agent with one cookie jar per origin follows every 303 by hand.

mod broker;
mod browser;
mod config;
mod id_token;
mod issuer;
mod sign_in;
mod state;

use std::collections::HashMap;

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use url::Url;

use crate::harness::flow::{Fixture, PASSWORD, RESOURCE, USERNAME, hidden};
use crate::harness::tls_fixture::TlsProxy;
use crate::harness::{Backend, TestApp};

/// The provider's id and name in B's configuration.
pub(super) const PROVIDER_ID: &str = "instance-a";
pub(super) const PROVIDER_NAME: &str = "Instance A";
/// The button on B's sign-in page.
pub(super) const BUTTON: &str = "Sign in with Instance A";

/// Two servers: A, the upstream OpenID provider, and B, which users sign in to through A.
pub(super) struct Federated {
    /// The upstream provider (reached at [`Federated::issuer_a`] through the proxy).
    pub(super) a: TestApp,
    /// The server under test.
    pub(super) b: TestApp,
    /// B's standard fixture (MCP servers, clients, a local user).
    pub(super) fixture: Fixture,
    /// The id of A's user `alice`: the upstream `sub`.
    pub(super) a_user: String,
    /// B's client id at A.
    pub(super) b_client_at_a: String,
    proxy: TlsProxy,
    /// TLS in front of B, through which A fetches B's keys when B authenticates with
    /// `private_key_jwt`.
    _b_proxy: Option<TlsProxy>,
}

impl Federated {
    /// Starts A behind the proxy (one MCP server, user `alice`, a confidential client
    /// whose redirect URI is B's callback), then B with A as provider [`PROVIDER_ID`].
    pub(super) async fn start(backend: Backend, jit_provisioning: bool) -> Self {
        let provider = format!("jit_provisioning = {jit_provisioning}");
        Self::start_with(backend, &provider, "", "").await
    }

    /// [`Federated::start`] with extra configuration for A and for B.
    pub(super) async fn start_with(
        backend: Backend,
        provider_toml: &str,
        a_toml: &str,
        b_toml: &str,
    ) -> Self {
        let mut proxy = TlsProxy::bind().await;
        // With `private_key_jwt` B has no secret at A: A fetches B's public keys from
        // B's JWKS, over TLS, as it would in production.
        let key_auth = provider_toml.contains("private_key_jwt");
        let mut b_proxy = if key_auth {
            Some(TlsProxy::bind().await)
        } else {
            None
        };
        let a_toml = match &b_proxy {
            Some(b_proxy) => format!("{a_toml}\n{}", b_proxy.outbound_toml("")),
            None => a_toml.to_owned(),
        };
        let a_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a_port = a_listener.local_addr().unwrap().port();
        let a = TestApp::spawn_on(backend, a_listener, Some(&proxy.issuer()), &a_toml).await;
        proxy.forward_to(a_port);
        a.create_server(RESOURCE, &["tools:read"], &["tools:read"])
            .await;
        let user = a
            .admin_ok(
                Method::POST,
                "/admin/api/v1/users",
                Some(json!({"username": USERNAME, "password": PASSWORD})),
                StatusCode::CREATED,
            )
            .await;

        let b_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b_port = b_listener.local_addr().unwrap().port();
        let mut registration = json!({
            "client_name": "Server B",
            "redirect_uris": [format!("http://127.0.0.1:{b_port}/login/callback")],
            "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"],
        });
        if let Some(b_proxy) = &b_proxy {
            registration["token_endpoint_auth_method"] = json!("private_key_jwt");
            registration["jwks_uri"] =
                json!(format!("https://127.0.0.1:{}/jwks.json", b_proxy.port()));
        }
        let client = a.create_client(registration).await;
        let client_id = client["client_id"].as_str().unwrap().to_owned();
        let secret_line = match client["client_secret"].as_str() {
            Some(secret) => format!("client_secret = \"{secret}\"\n"),
            None => String::new(),
        };
        let toml = format!(
            "[[federation.providers]]\nid = \"{PROVIDER_ID}\"\nname = \"{PROVIDER_NAME}\"\n\
             issuer = \"{issuer}\"\nclient_id = \"{client_id}\"\n{secret_line}\
             {provider_toml}\n{outbound}\n{b_toml}",
            issuer = proxy.issuer(),
            outbound = proxy.outbound_toml(""),
        );
        let b = TestApp::spawn_on(backend, b_listener, None, &toml).await;
        if let Some(b_proxy) = &mut b_proxy {
            b_proxy.forward_to(b_port);
        }
        let fixture = b.fixture().await;
        Self {
            a,
            b,
            fixture,
            a_user: user["user_id"].as_str().unwrap().to_owned(),
            b_client_at_a: client_id,
            proxy,
            _b_proxy: b_proxy,
        }
    }

    /// A's issuer: `https://localhost:PROXY_PORT`.
    pub(super) fn issuer_a(&self) -> String {
        self.proxy.issuer()
    }

    /// A fresh user agent: empty cookie jars, trusting the proxy's CA.
    pub(super) fn agent(&self) -> Agent {
        Agent::new(&self.proxy)
    }

    /// Stops both servers and drops their databases.
    pub(super) async fn finish(self) {
        self.b.finish().await;
        self.a.finish().await;
    }
}

/// A user agent without JavaScript: one session cookie per origin, redirects followed
/// by the test.
pub(super) struct Agent {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Agent {
    fn new(proxy: &TlsProxy) -> Self {
        let root = reqwest::Certificate::from_pem(&proxy.ca_pem()).unwrap();
        let localhost = std::net::SocketAddr::from(([127, 0, 0, 1], proxy.port()));
        #[expect(
            clippy::disallowed_methods,
            reason = "a test user agent that trusts the test CA of the TLS proxy"
        )]
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(root)
            .resolve("localhost", localhost)
            .build()
            .unwrap();
        Self {
            http,
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, url: &Url, request: reqwest::RequestBuilder) -> Response {
        let origin = url.origin().ascii_serialization();
        let request = match self.cookies.get(&origin) {
            Some(cookie) => request.header("Cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap().trim();
            if pair.ends_with('=') {
                self.cookies.remove(&origin);
            } else {
                self.cookies.insert(origin.clone(), pair.to_owned());
            }
        }
        response
    }

    /// GET `url` with the cookie of its origin.
    pub(super) async fn get(&mut self, url: &Url) -> Response {
        let request = self.http.get(url.clone());
        self.send(url, request).await
    }

    /// POST `form` to `url` with the cookie of its origin.
    pub(super) async fn post(&mut self, url: &Url, form: &[(&str, &str)]) -> Response {
        let request = self.http.post(url.clone()).form(form);
        self.send(url, request).await
    }

    /// Whether this agent holds a session cookie for `base`'s origin.
    pub(super) fn has_cookie(&self, base: &str) -> bool {
        let origin = Url::parse(base).unwrap().origin().ascii_serialization();
        self.cookies.contains_key(&origin)
    }
}

/// `path` on the server at `base`.
pub(super) fn at(base: &str, path: &str) -> Url {
    Url::parse(&format!("{base}{path}")).unwrap()
}

/// Where a 303 sends the user agent, resolved against the address it came from.
pub(super) fn redirect(response: &Response, from: &Url) -> Url {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "from {from}");
    from.join(response.headers()[LOCATION].to_str().unwrap())
        .unwrap()
}

/// Opens B's sign-in page (for `request`, if any), asserts it offers [`BUTTON`] and
/// returns its HTML and its CSP.
pub(super) async fn b_login_page(
    agent: &mut Agent,
    b: &TestApp,
    request: Option<&str>,
) -> (String, String) {
    let path = match request {
        Some(id) => format!("/login?request={id}"),
        None => "/login".to_owned(),
    };
    let page = agent.get(&at(&b.base, &path)).await;
    assert_eq!(page.status(), StatusCode::OK, "{path}");
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains(BUTTON), "no provider button:\n{html}");
    (html, csp)
}

/// Presses the provider button of B's sign-in page `html`; returns the answer.
pub(super) async fn choose_provider(agent: &mut Agent, b: &TestApp, html: &str) -> Response {
    let csrf = hidden(html, "csrf_token");
    let mut form = vec![("csrf_token", csrf.as_str()), ("provider", PROVIDER_ID)];
    let request = request_of(html);
    if let Some(request) = &request {
        form.push(("request", request.as_str()));
    }
    agent.post(&at(&b.base, "/login/federated"), &form).await
}

fn request_of(html: &str) -> Option<String> {
    html.contains("name=\"request\"")
        .then(|| hidden(html, "request"))
}

/// Starts a sign-in at B through A without an authorization request; returns the
/// upstream authorization URL B sent the agent to.
pub(super) async fn begin(agent: &mut Agent, fed: &Federated) -> Url {
    let (html, _) = b_login_page(agent, &fed.b, None).await;
    let started = choose_provider(agent, &fed.b, &html).await;
    redirect(&started, &at(&fed.b.base, "/login/federated"))
}

/// At A: follows `authorize` and signs in as `alice` and answers A's consent with
/// `decision` wherever A asks; returns the address A sends the agent back to at B.
pub(super) async fn at_provider(
    agent: &mut Agent,
    fed: &Federated,
    authorize: Url,
    decision: &str,
) -> Url {
    let a_origin = authorize.origin();
    let mut current = authorize;
    let mut response = agent.get(&current).await;
    loop {
        let next = redirect(&response, &current);
        if next.origin() != a_origin {
            return next;
        }
        let page = agent.get(&next).await;
        if page.status() == StatusCode::SEE_OTHER {
            (current, response) = (next, page);
            continue;
        }
        assert_eq!(page.status(), StatusCode::OK, "{next}");
        let html = page.text().await.unwrap();
        let csrf = hidden(&html, "csrf_token");
        let mut form = vec![("csrf_token", csrf.as_str())];
        let request = request_of(&html);
        if let Some(request) = &request {
            form.push(("request", request.as_str()));
        }
        current = match next.path() {
            "/login" => {
                form.extend([("username", USERNAME), ("password", PASSWORD)]);
                at(&fed.issuer_a(), "/login")
            }
            "/consent" => {
                form.push(("decision", decision));
                at(&fed.issuer_a(), "/consent")
            }
            other => panic!("unexpected page at the provider: {other}"),
        };
        response = agent.post(&current, &form).await;
    }
}

/// Begins at B and goes through A (approving); returns B's callback URL with A's answer.
pub(super) async fn callback_url(agent: &mut Agent, fed: &Federated) -> Url {
    let authorize = begin(agent, fed).await;
    let callback = at_provider(agent, fed, authorize, "allow").await;
    assert!(
        callback
            .as_str()
            .starts_with(&format!("{}/login/callback?", fed.b.base)),
        "{callback}"
    );
    callback
}

/// `url` with query parameter `name` set to `value` (or removed when `None`).
pub(super) fn with_param(url: &Url, name: &str, value: Option<&str>) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut changed = url.clone();
    {
        let mut query = changed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    changed
}

/// Asserts `response` is B's error page with `status` and a message containing `says`.
pub(super) async fn assert_error_page(response: Response, status: StatusCode, says: &str) {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get(SET_COOKIE).is_none(),
        "an error page changed the session"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign-in failed"), "{html}");
    assert!(html.contains(says), "expected {says:?} in:\n{html}");
}

/// Asserts the agent is not signed in at B: B's sign-in page shows the form (a
/// signed-in session would be sent on with a 303).
pub(super) async fn assert_signed_out_at_b(agent: &mut Agent, b: &TestApp) {
    let page = agent.get(&at(&b.base, "/login")).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the session is signed in at B"
    );
}

/// Asserts the agent is signed in at B (the sign-in page sends it on).
pub(super) async fn assert_signed_in_at_b(agent: &mut Agent, b: &TestApp) {
    let page = agent.get(&at(&b.base, "/login")).await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER, "not signed in at B");
}
