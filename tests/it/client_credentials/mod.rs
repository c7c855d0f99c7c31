//! The client credentials grant (CC-1..12) and `private_key_jwt` client authentication
//! (CC-5..10, TOK-7, CIMD-20) through the running server, on both databases.
//!
//! Client assertions are built here by hand ([`Assertion`]): header and claims as JSON,
//! signed with aws-lc-rs under keys made per test ([`TestKey`]), so a test can put any
//! `alg`, `typ` or claim in them, including ones no JWT library would produce. One test
//! also signs with `jsonwebtoken` to show a library's output is accepted as is.

mod assertions;
mod cimd;
mod endpoints;
mod grant;
mod interop;
mod jwks_uri;
mod metadata;
mod replay;
mod secrets;

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::harness::TestApp;
use crate::harness::flow::{OAuthAnswer, RESOURCE, assert_oauth_error, jwt_payload};

/// The only `client_assertion_type` (RFC 7523 section 2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What a [`TestKey`] signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// P-256, ES256.
    Es256,
    /// Ed25519, EdDSA.
    Ed25519,
}

/// A private key made for one test, its `kid` and its public JWK.
pub(crate) struct TestKey {
    kind: KeyKind,
    /// The `kid` of its JWK and of the assertions it signs by default.
    pub(crate) kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl TestKey {
    /// A fresh key of `kind` named `kid`.
    pub(crate) fn new(kind: KeyKind, kid: &str) -> Self {
        let rng = SystemRandom::new();
        let (pkcs8, public) = match kind {
            KeyKind::Es256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .unwrap()
                    .as_ref()
                    .to_vec();
                let pair =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
                let public = pair.public_key().as_ref().to_vec();
                (pkcs8, public)
            }
            KeyKind::Ed25519 => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
                    .unwrap()
                    .as_ref()
                    .to_vec();
                let public = Ed25519KeyPair::from_pkcs8(&pkcs8)
                    .unwrap()
                    .public_key()
                    .as_ref()
                    .to_vec();
                (pkcs8, public)
            }
        };
        Self {
            kind,
            kid: kid.to_owned(),
            pkcs8,
            public,
        }
    }

    /// A P-256 key.
    pub(crate) fn es256(kid: &str) -> Self {
        Self::new(KeyKind::Es256, kid)
    }

    /// The JWS `alg` this key signs with.
    pub(crate) fn alg(&self) -> &'static str {
        match self.kind {
            KeyKind::Es256 => "ES256",
            KeyKind::Ed25519 => "EdDSA",
        }
    }

    /// The public key as raw bytes (an uncompressed point, or the Ed25519 key).
    pub(crate) fn public_bytes(&self) -> &[u8] {
        &self.public
    }

    /// The PKCS#8 document, for `jsonwebtoken::EncodingKey`.
    pub(crate) fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public JWK (no private members), with `kid` and `use: sig`.
    pub(crate) fn jwk(&self) -> Value {
        match self.kind {
            KeyKind::Es256 => {
                let (x, y) = self.public[1..].split_at(32);
                json!({
                    "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                    "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
            KeyKind::Ed25519 => json!({
                "kty": "OKP", "crv": "Ed25519", "kid": self.kid, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&self.public),
            }),
        }
    }

    /// The signature of `input` with this key (JWS form: fixed-size for ECDSA).
    pub(crate) fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self.kind {
            KeyKind::Es256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8)
                    .unwrap()
                    .sign(&SystemRandom::new(), input)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
            KeyKind::Ed25519 => Ed25519KeyPair::from_pkcs8(&self.pkcs8)
                .unwrap()
                .sign(input)
                .as_ref()
                .to_vec(),
        }
    }
}

/// A JWK Set of the public halves of `keys`.
pub(crate) fn jwks(keys: &[&TestKey]) -> Value {
    let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
    json!({ "keys": keys })
}

/// A fresh random `jti`.
pub(crate) fn fresh_jti() -> String {
    URL_SAFE_NO_PAD.encode(mcp_authz::crypto::random_bytes::<16>().unwrap())
}

/// A client assertion under construction: a JOSE header and claims as JSON, signed by
/// `key` when turned into a JWT. Starts valid: `alg` and `kid` of the key, `typ: JWT`,
/// `iss` = `sub` = the client, `aud` = the issuer, `iat` = now, `exp` = now + 5 min, a
/// fresh `jti`.
pub(crate) struct Assertion<'k> {
    key: &'k TestKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl<'k> Assertion<'k> {
    /// A valid assertion of `client_id` for `app`, at the app's (mock) now.
    pub(crate) fn new(app: &TestApp, client_id: &str, key: &'k TestKey) -> Self {
        let now = app.clock_now();
        let header = json!({ "alg": key.alg(), "typ": "JWT", "kid": key.kid });
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": app.issuer,
            "iat": now, "exp": now + 300, "jti": fresh_jti(),
        });
        Self {
            key,
            header: header.as_object().unwrap().clone(),
            claims: claims.as_object().unwrap().clone(),
        }
    }

    /// Sets claim `name`.
    pub(crate) fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Leaves claim `name` out.
    pub(crate) fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets header member `name`.
    pub(crate) fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.to_owned(), value);
        self
    }

    /// Leaves header member `name` out.
    pub(crate) fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Signs with `key` instead, header unchanged.
    pub(crate) fn signed_by(mut self, key: &'k TestKey) -> Self {
        self.key = key;
        self
    }

    /// The signing input `base64url(header).base64url(claims)`.
    pub(crate) fn signing_input(&self) -> String {
        let header = serde_json::to_vec(&self.header).unwrap();
        let claims = serde_json::to_vec(&self.claims).unwrap();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    /// The compact JWS.
    pub(crate) fn jwt(&self) -> String {
        let input = self.signing_input();
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

impl TestApp {
    /// The mock clock's reading.
    pub(crate) fn clock_now(&self) -> i64 {
        use mcp_authz::clock::Clock as _;
        self.clock.now()
    }
}

/// A machine client (`client_credentials` only, for [`RESOURCE`]) registered through
/// the admin API with `members` added; returns its JSON (with any secret).
pub(crate) async fn machine_client(app: &TestApp, members: Value) -> Value {
    let mut body = json!({
        "client_name": "Nightly agent", "grant_types": ["client_credentials"],
        "allowed_resources": [RESOURCE],
    });
    for (name, value) in members.as_object().unwrap() {
        body[name] = value.clone();
    }
    app.create_client(body).await
}

/// A `private_key_jwt` machine client whose inline `jwks` holds `keys`; returns its id.
pub(crate) async fn key_client(app: &TestApp, keys: &[&TestKey]) -> String {
    let created = machine_client(
        app,
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(keys)}),
    )
    .await;
    assert!(created.get("client_secret").is_none(), "{created}");
    created["client_id"].as_str().unwrap().to_owned()
}

/// `client_assertion_type` and `client_assertion` carrying `jwt`.
pub(crate) fn assertion_params(jwt: &str) -> [(&'static str, &str); 2] {
    [
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt),
    ]
}

/// `grant_type=client_credentials` authenticated by the assertion `jwt`, plus `extra`.
pub(crate) async fn cc_with_assertion(
    app: &TestApp,
    jwt: &str,
    extra: &[(&str, &str)],
) -> OAuthAnswer {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(&assertion_params(jwt));
    form.extend_from_slice(extra);
    app.token(&form, None).await
}

/// Asserts a 200 token response of the client credentials grant (CC-11: Bearer, no
/// refresh token, `scope` present); returns the access token's claims.
pub(crate) fn assert_issued(answer: &OAuthAnswer) -> Value {
    let (status, headers, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store", "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0), "{body}");
    assert!(body["scope"].is_string(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    jwt_payload(body["access_token"].as_str().unwrap())
}

/// Asserts the `sub`, `client_id` and `aud` of a client credentials token (TOK-3).
pub(crate) fn assert_machine_token(claims: &Value, client_id: &str, audience: &str) {
    assert_eq!(claims["sub"], client_id, "{claims}");
    assert_eq!(claims["client_id"], client_id, "{claims}");
    assert_eq!(claims["aud"], audience, "{claims}");
}

/// CC-10: `400 invalid_client` without a challenge (no `Authorization` header was
/// sent), and a description mentioning `mentions`, so the test knows which check
/// refused.
pub(crate) fn assert_refused(answer: &OAuthAnswer, mentions: &str) {
    assert_oauth_error(answer, StatusCode::BAD_REQUEST, "invalid_client");
    assert!(
        !answer.1.contains_key("www-authenticate"),
        "{mentions}: {:?}",
        answer.1
    );
    let description = answer.2["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "{description:?} does not mention {mentions:?}"
    );
}

/// Sends one client credentials request carrying `jwt` from each of 12 tasks released
/// together, spread over the servers at `bases`; returns each status and JSON body.
pub(crate) async fn race(app: &TestApp, bases: &[&str], jwt: &str) -> Vec<(StatusCode, Value)> {
    const RACERS: usize = 12;
    let start = Arc::new(Barrier::new(RACERS));
    let mut tasks = JoinSet::new();
    for racer in 0..RACERS {
        let base = bases[racer % bases.len()];
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(&assertion_params(jwt));
        let request = app.http.post(format!("{base}/oauth2/token")).form(&form);
        let start = Arc::clone(&start);
        tasks.spawn(async move {
            start.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json().await.unwrap_or(Value::Null))
        });
    }
    tasks.join_all().await
}

/// CC-8: exactly one 200; every other answer is `400 invalid_client` for the replay.
pub(crate) fn assert_one_winner(answers: &[(StatusCode, Value)]) {
    let summary: Vec<(StatusCode, &Value)> =
        answers.iter().map(|(s, b)| (*s, &b["error"])).collect();
    let winners = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(winners, 1, "{summary:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_client")),
            "{summary:?}"
        );
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains("already used"), "{body}");
    }
}
