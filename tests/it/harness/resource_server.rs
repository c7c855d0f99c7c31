//! A stand-in MCP server that protects itself exactly as docs/resource-server.md says:
//! it publishes Protected Resource Metadata, challenges with `WWW-Authenticate`, and
//! verifies access tokens locally against the authorization server's JWKS, refetching
//! the JWKS when a token names a `kid` it has not seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

/// Scopes each tool of the stand-in needs.
pub(crate) const TOOLS: &[(&str, &str)] = &[("read", "tools:read"), ("write", "files:write")];

#[derive(Clone)]
struct Guard {
    resource: String,
    issuer: String,
    jwks_uri: String,
    metadata: Value,
    metadata_url: String,
    keys: Arc<Mutex<HashMap<String, DecodingKey>>>,
    jwks_fetches: Arc<Mutex<u32>>,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Claims {
    scope: String,
}

/// A running stand-in.
pub(crate) struct StandIn {
    /// Its resource URI (`http://127.0.0.1:PORT/mcp`).
    pub(crate) resource: String,
    /// How often it fetched the JWKS.
    jwks_fetches: Arc<Mutex<u32>>,
}

impl StandIn {
    /// How many times the JWKS was fetched.
    pub(crate) fn jwks_fetches(&self) -> u32 {
        *self.jwks_fetches.lock().unwrap()
    }

    /// Registers a new stand-in at `app` as an MCP server with `scopes` (`defaults` by
    /// default) and starts it with the metadata the admin API gives for it.
    pub(crate) async fn serve_for(
        app: &super::TestApp,
        scopes: &[&str],
        defaults: &[&str],
    ) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let resource = format!("http://127.0.0.1:{port}/mcp");
        let server = app.create_server(&resource, scopes, defaults).await;
        let path = format!(
            "/admin/api/v1/servers/{}/protected-resource-metadata",
            server["server_id"].as_str().unwrap()
        );
        let prm = app
            .admin_ok(reqwest::Method::GET, &path, None, reqwest::StatusCode::OK)
            .await;
        let jwks_uri = format!("{}/jwks.json", app.base);
        start(listener, prm, &jwks_uri).await
    }

    /// `POST /mcp {"tool": tool}`, with `token` as bearer when given: the status and the
    /// `WWW-Authenticate` challenge (empty when none).
    pub(crate) async fn call(
        &self,
        tool: &str,
        token: Option<&str>,
    ) -> (reqwest::StatusCode, String) {
        #[expect(
            clippy::disallowed_methods,
            reason = "the MCP client is a separate party"
        )]
        let http = reqwest::Client::new();
        let mut request = http.post(&self.resource).json(&json!({ "tool": tool }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (response.status(), challenge)
    }
}

/// Starts the stand-in on 127.0.0.1. `metadata` is the Protected Resource Metadata the
/// admin API produced for it (`/admin/api/v1/servers/{id}/protected-resource-metadata`).
pub(crate) async fn start(
    listener: tokio::net::TcpListener,
    metadata: Value,
    jwks_uri: &str,
) -> StandIn {
    let port = listener.local_addr().unwrap().port();
    #[expect(
        clippy::disallowed_methods,
        reason = "the stand-in is a separate party with its own client"
    )]
    let http = reqwest::Client::new();
    let guard = Guard {
        resource: metadata["resource"].as_str().unwrap().to_owned(),
        issuer: metadata["authorization_servers"][0]
            .as_str()
            .unwrap()
            .to_owned(),
        jwks_uri: jwks_uri.to_owned(),
        metadata_url: format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"),
        metadata,
        keys: Arc::default(),
        jwks_fetches: Arc::default(),
        http,
    };
    let jwks_fetches = Arc::clone(&guard.jwks_fetches);
    let resource = guard.resource.clone();
    let app = Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(metadata_document),
        )
        .route("/mcp", post(call_tool))
        .with_state(guard);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StandIn {
        resource,
        jwks_fetches,
    }
}

async fn metadata_document(State(guard): State<Guard>) -> Json<Value> {
    Json(guard.metadata)
}

/// `POST /mcp {"tool": "read"|"write"}`.
async fn call_tool(
    State(guard): State<Guard>,
    headers: HeaderMap,
    Json(call): Json<Value>,
) -> Response {
    let tool = call["tool"].as_str().unwrap_or_default();
    let Some(needed) = TOOLS
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, scope)| *scope)
    else {
        return (StatusCode::BAD_REQUEST, "unknown tool").into_response();
    };
    let defaults: Vec<&str> = guard.metadata["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        // Step 1 of discovery: no token → 401 naming the metadata and the default scopes.
        let challenge = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            guard.metadata_url,
            defaults.join(" ")
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    };
    let Some(claims) = guard.verify(token).await else {
        let challenge = format!(
            "Bearer error=\"invalid_token\", resource_metadata=\"{}\"",
            guard.metadata_url
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    };
    let granted: Vec<&str> = claims.scope.split(' ').collect();
    if !granted.contains(&needed) {
        // Step-up: name every scope needed, the granted ones included (SCOPE-5).
        let mut wanted = granted.clone();
        wanted.push(needed);
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\"",
            wanted.join(" "),
            guard.metadata_url
        );
        return (
            StatusCode::FORBIDDEN,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    Json(json!({ "result": format!("{tool} done") })).into_response()
}

impl Guard {
    /// Verifies signature (key by `kid`, refetching the JWKS once on an unknown one),
    /// `typ` at+jwt, the algorithm of the key, `iss`, `aud` and `exp`.
    async fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some("at+jwt")
            || !matches!(
                header.alg,
                Algorithm::ES256 | Algorithm::EdDSA | Algorithm::RS256
            )
        {
            return None;
        }
        let kid = header.kid?;
        if !self.keys.lock().unwrap().contains_key(&kid) {
            self.refresh_keys().await;
        }
        let key = self.keys.lock().unwrap().get(&kid)?.clone();
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.resource]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    async fn refresh_keys(&self) {
        *self.jwks_fetches.lock().unwrap() += 1;
        let Ok(response) = self.http.get(&self.jwks_uri).send().await else {
            return;
        };
        let Ok(set) = response.json::<JwkSet>().await else {
            return;
        };
        let mut keys = self.keys.lock().unwrap();
        for jwk in &set.keys {
            if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
                keys.insert(kid.clone(), key);
            }
        }
    }
}
