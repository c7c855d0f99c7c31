//! Drives the authorization-code flow through the front door, as a browser without
//! JavaScript would: a cookie-keeping user agent, forms found in the HTML, 303s followed
//! by hand so each step can be checked.

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::TestApp;

/// RFC 7636 appendix B verifier and its S256 challenge.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// The MCP server every flow test uses.
pub(crate) const RESOURCE: &str = "https://mcp.example.com/mcp";
/// A second MCP server.
pub(crate) const OTHER_RESOURCE: &str = "https://other.example.com/mcp";
/// The native app's registered loopback redirect URI.
pub(crate) const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";
/// The web app's registered https redirect URI.
pub(crate) const WEB_REDIRECT: &str = "https://app.example.com/cb";
/// The user's credentials.
pub(crate) const USERNAME: &str = "alice";
pub(crate) const PASSWORD: &str = "correct horse battery";

/// What the standard fixture registered.
pub(crate) struct Fixture {
    /// Public native client (loopback redirect, refresh tokens).
    pub(crate) desktop: String,
    /// Confidential web client (https redirect, refresh tokens).
    pub(crate) web: String,
    /// Its secret.
    pub(crate) web_secret: String,
    /// Confidential client registered for the MCP server, allowed to introspect.
    pub(crate) introspector: String,
    /// Its secret.
    pub(crate) introspector_secret: String,
}

impl TestApp {
    /// Two MCP servers, three clients and one user.
    pub(crate) async fn fixture(&self) -> Fixture {
        self.create_server(
            RESOURCE,
            &["tools:read", "tools:call", "files:write"],
            &["tools:read"],
        )
        .await;
        self.create_server(OTHER_RESOURCE, &["other:read"], &["other:read"])
            .await;
        let desktop = self
            .create_client(json!({
                "client_name": "Desktop app", "token_endpoint_auth_method": "none",
                "redirect_uris": [LOOPBACK_REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
            }))
            .await;
        let web = self
            .create_client(json!({
                "client_name": "Web app", "redirect_uris": [WEB_REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .await;
        let introspector = self
            .create_client(json!({
                "client_name": "Docs MCP server", "grant_types": [], "allow_introspection": true,
                "allowed_resources": [RESOURCE],
            }))
            .await;
        self.admin_ok(
            Method::POST,
            "/admin/api/v1/users",
            Some(json!({"username": USERNAME, "password": PASSWORD})),
            StatusCode::CREATED,
        )
        .await;
        Fixture {
            desktop: desktop["client_id"].as_str().unwrap().to_owned(),
            web: web["client_id"].as_str().unwrap().to_owned(),
            web_secret: web["client_secret"].as_str().unwrap().to_owned(),
            introspector: introspector["client_id"].as_str().unwrap().to_owned(),
            introspector_secret: introspector["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// Registers a client through the admin API; returns its JSON (with any secret).
    pub(crate) async fn create_client(&self, body: Value) -> Value {
        self.admin_ok(
            Method::POST,
            "/admin/api/v1/clients",
            Some(body),
            StatusCode::CREATED,
        )
        .await
    }

    /// A POST to the token-type endpoint `path` with `form`, optionally Basic-authenticated.
    pub(crate) async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self.request(Method::POST, path).form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
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

    /// `POST /oauth2/token`.
    pub(crate) async fn token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, HeaderMap, Value) {
        self.post_form("/oauth2/token", form, basic).await
    }
}

/// The query of an authorization request with PKCE S256 and `state=st-123`, plus `extra`.
pub(crate) fn authorize_path(
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("response_type", "code");
    query.append_pair("client_id", client_id);
    query.append_pair("redirect_uri", redirect_uri);
    query.append_pair("state", "st-123");
    query.append_pair("code_challenge", CHALLENGE);
    query.append_pair("code_challenge_method", "S256");
    for (name, value) in extra {
        query.append_pair(name, value);
    }
    format!("/oauth2/authorize?{}", query.finish())
}

/// A cookie-keeping user agent that follows nothing by itself.
pub(crate) struct UserAgent<'a> {
    app: &'a TestApp,
    /// The session cookie (`name=value`).
    pub(crate) cookie: Option<String>,
}

impl<'a> UserAgent<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self { app, cookie: None }
    }

    fn absorb(&mut self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap().trim().to_owned();
            if pair.ends_with('=') {
                self.cookie = None;
            } else {
                self.cookie = Some(pair);
            }
        }
    }

    /// GET `target` (a path on the server or an absolute URL).
    pub(crate) async fn get(&mut self, target: &str) -> Response {
        let url = if target.starts_with("http") {
            target.to_owned()
        } else {
            format!("{}{target}", self.app.base)
        };
        let mut request = self.app.http.get(url);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.absorb(&response);
        response
    }

    /// POST a form to `path`.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let mut request = self
            .app
            .http
            .post(format!("{}{path}", self.app.base))
            .form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.absorb(&response);
        response
    }

    /// Starts an authorization; returns the response to `GET path`.
    pub(crate) async fn authorize(&mut self, path: &str) -> Response {
        self.get(path).await
    }

    /// Signs in through the page at `login_location`; returns the 303 target.
    pub(crate) async fn sign_in(
        &mut self,
        login_location: &str,
        username: &str,
        password: &str,
    ) -> Response {
        let page = self.get(login_location).await;
        assert_eq!(page.status(), StatusCode::OK, "{login_location}");
        let html = page.text().await.unwrap();
        let csrf = hidden(&html, "csrf_token");
        let request = hidden_opt(&html, "request").unwrap_or_default();
        let mut form = vec![
            ("csrf_token", csrf.as_str()),
            ("username", username),
            ("password", password),
        ];
        if !request.is_empty() {
            form.push(("request", request.as_str()));
        }
        let next = hidden_opt(&html, "next").unwrap_or_default();
        if !next.is_empty() {
            form.push(("next", next.as_str()));
        }
        self.post("/login", &form).await
    }

    /// Answers the consent page at `consent_location` with `decision`; returns the 303.
    pub(crate) async fn decide(&mut self, consent_location: &str, decision: &str) -> Response {
        let page = self.get(consent_location).await;
        assert_eq!(page.status(), StatusCode::OK, "{consent_location}");
        let html = page.text().await.unwrap();
        let csrf = hidden(&html, "csrf_token");
        let request = hidden(&html, "request");
        self.post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("request", &request),
                ("decision", decision),
            ],
        )
        .await
    }

    /// The whole interactive flow: authorize, sign in, decide. Returns the final
    /// redirect to the client (a URL with `code` or `error`).
    pub(crate) async fn run(&mut self, path: &str, decision: &str) -> url::Url {
        let started = self.authorize(path).await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER, "{path}");
        let mut next = location(&started);
        if next.starts_with("/login") {
            let signed_in = self.sign_in(&next, USERNAME, PASSWORD).await;
            assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
            next = location(&signed_in);
        }
        if next.starts_with("/consent") {
            let page = self.get(&next).await;
            if page.status() == StatusCode::SEE_OTHER {
                next = location(&page);
            } else {
                let decided = self.decide(&next, decision).await;
                assert_eq!(decided.status(), StatusCode::SEE_OTHER);
                next = location(&decided);
            }
        }
        url::Url::parse(&next)
            .unwrap_or_else(|_| panic!("expected a redirect to the client, got {next}"))
    }
}

/// The `Location` header.
pub(crate) fn location(response: &Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// A query parameter of `url`.
pub(crate) fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn hidden_opt(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The value of hidden input `name` in `html`.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    hidden_opt(html, name).unwrap_or_else(|| panic!("no hidden {name} in page:\n{html}"))
}

/// Decodes a JWT's payload without verifying (tests verify separately).
pub(crate) fn jwt_payload(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Runs the flow for the desktop client and redeems the code; returns the token JSON.
pub(crate) async fn desktop_tokens(
    app: &TestApp,
    fixture: &Fixture,
    extra: &[(&str, &str)],
) -> Value {
    let redirect = "http://127.0.0.1:5555/callback";
    let mut agent = UserAgent::new(app);
    let done = agent
        .run(&authorize_path(&fixture.desktop, redirect, extra), "allow")
        .await;
    let code = param(&done, "code").unwrap_or_else(|| panic!("no code in {done}"));
    let (status, _, body) = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", &fixture.desktop),
                ("redirect_uri", redirect),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The loopback redirect (any port, SEC-2) the token-endpoint tests use for `desktop`.
pub(crate) const DESKTOP_REDIRECT: &str = "http://127.0.0.1:5555/callback";

/// What an OAuth endpoint answered: status, headers, JSON body.
pub(crate) type OAuthAnswer = (StatusCode, HeaderMap, Value);

impl UserAgent<'_> {
    /// Runs the approving flow for `client_id` (signing in only the first time, so a
    /// test stays under the sign-in rate limit) and returns the code.
    pub(crate) async fn code(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let done = self
            .run(&authorize_path(client_id, redirect_uri, extra), "allow")
            .await;
        param(&done, "code").unwrap_or_else(|| panic!("no code in {done}"))
    }
}

impl TestApp {
    /// Redeems a `desktop` code obtained with [`DESKTOP_REDIRECT`] and the standard verifier.
    pub(crate) async fn redeem_desktop(&self, fixture: &Fixture, code: &str) -> OAuthAnswer {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", VERIFIER),
                ("client_id", &fixture.desktop),
                ("redirect_uri", DESKTOP_REDIRECT),
            ],
            None,
        )
        .await
    }

    /// A refresh by the public `desktop` client, plus `extra` parameters.
    pub(crate) async fn refresh_desktop(
        &self,
        fixture: &Fixture,
        refresh_token: &str,
        extra: &[(&str, &str)],
    ) -> OAuthAnswer {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &fixture.desktop),
        ];
        form.extend_from_slice(extra);
        self.token(&form, None).await
    }

    /// `POST /oauth2/introspect` of `token` as the introspecting MCP server.
    pub(crate) async fn introspect_as_server(&self, fixture: &Fixture, token: &str) -> OAuthAnswer {
        let basic = Some((
            fixture.introspector.as_str(),
            fixture.introspector_secret.as_str(),
        ));
        self.post_form("/oauth2/introspect", &[("token", token)], basic)
            .await
    }

    /// Whether the introspecting MCP server sees `token` as active (asserting a 200).
    pub(crate) async fn is_active_for_server(&self, fixture: &Fixture, token: &str) -> bool {
        let (status, _, body) = self.introspect_as_server(fixture, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["active"]
            .as_bool()
            .unwrap_or_else(|| panic!("no active member in {body}"))
    }
}

/// Asserts an RFC 6749 section 5.2 error: `status`, `{"error": code}`, JSON, `no-store`.
pub(crate) fn assert_oauth_error(answer: &OAuthAnswer, status: StatusCode, code: &str) {
    let (got, headers, body) = answer;
    assert_eq!(
        (*got, body["error"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    assert_eq!(headers["cache-control"], "no-store", "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

/// The authorization-endpoint path with exactly `pairs` as its query, in order: for
/// requests that leave out or repeat what [`authorize_path`] always sends.
pub(crate) fn authorize_query(pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    format!("/oauth2/authorize?{}", query.finish())
}

/// Redeems `code` of `client_id` obtained at `redirect_uri` with the standard verifier;
/// a confidential client authenticates with Basic `secret`. Asserts 200; returns the JSON.
pub(crate) async fn redeem_code(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    redirect_uri: &str,
    code: &str,
) -> Value {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("redirect_uri", redirect_uri),
    ];
    if secret.is_none() {
        form.push(("client_id", client_id));
    }
    let basic = secret.map(|s| (client_id, s));
    let (status, _, body) = app.token(&form, basic).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}
