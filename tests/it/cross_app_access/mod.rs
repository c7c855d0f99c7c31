//! Cross App Access through the running server (XAA-1..18, XAA-25, TOK-7): a client
//! redeems an Identity Assertion JWT Authorization Grant (ID-JAG) from a trusted
//! enterprise IdP with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
//!
//! The IdP is played here: its key pairs ([`IdpKey`], ES256 and RS256) are made per test
//! and its ID-JAGs are built by [`Jwt`], whose header and claims are JSON a test may change
//! at will (including `alg` values no library would write), signed with `jsonwebtoken`.
//! [`Xaa`] is the standard setting: two MCP servers, a confidential client listed for the
//! IdP, the IdP trusted through the admin API with an inline JWK Set.

mod accounts;
mod admin;
mod cimd;
mod claims;
mod clients;
mod declared;
mod header;
mod jwks_uri;
mod redemption;
mod replay;
mod resources;
mod scopes;

use std::collections::BTreeSet;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use mcp_authz::clock::Clock as _;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::harness::TestApp;
use crate::harness::flow::{
    OAuthAnswer, OTHER_RESOURCE, RESOURCE, assert_oauth_error, jwt_payload,
};

/// The grant (RFC 7523 section 2.1).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The JWS `typ` of an ID-JAG (XAA-3).
pub(crate) const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// The enterprise IdP of EXAMPLES.md.
pub(crate) const IDP_ISSUER: &str = "https://login.corp-idp.example";
/// The user's subject at the IdP (EXAMPLES.md section 7).
pub(crate) const SUBJECT: &str = "00u9k2lmq4RAS";
/// The only `client_assertion_type` (RFC 7523 section 2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The scopes of [`RESOURCE`] here (default `tools:read`); [`OTHER_RESOURCE`] has
/// `other:read`.
pub(crate) const RESOURCE_SCOPES: [&str; 3] = ["tools:read", "tools:call", "files:write"];

/// An IdP signing key pair made for one test: its `kid`, algorithm, private half for
/// `jsonwebtoken` and public JWK.
pub(crate) struct IdpKey {
    /// The `kid` of its JWK and of the JWTs it signs by default.
    pub(crate) kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    /// Public key bytes (the uncompressed P-256 point, or the RSA key's DER).
    public: Vec<u8>,
}

impl IdpKey {
    /// A fresh P-256 key (ES256).
    pub(crate) fn es256(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap()
                .as_ref()
                .to_vec();
        let public = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        Self::with(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(&pkcs8),
            public,
        )
    }

    /// A fresh 2048-bit RSA key (RS256).
    pub(crate) fn rs256(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let public = pair.public_key().as_ref().to_vec();
        // jsonwebtoken signs RSA from PKCS#1; its PEM reader unwraps PKCS#8 to that.
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        Self::with(kid, Algorithm::RS256, encoding, public)
    }

    fn with(kid: &str, alg: Algorithm, encoding: EncodingKey, public: Vec<u8>) -> Self {
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
            public,
        }
    }

    /// The JWS `alg` name it signs with.
    pub(crate) fn alg_name(&self) -> &'static str {
        match self.alg {
            Algorithm::RS256 => "RS256",
            _ => "ES256",
        }
    }

    /// The public JWK (no private members).
    pub(crate) fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The raw public key bytes, what an HMAC key-confusion attack signs with.
    pub(crate) fn public_bytes(&self) -> &[u8] {
        &self.public
    }
}

/// A JWK Set of the public halves of `keys`.
pub(crate) fn jwks(keys: &[&IdpKey]) -> Value {
    let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
    json!({ "keys": keys })
}

/// A fresh random `jti`.
pub(crate) fn fresh_jti() -> String {
    URL_SAFE_NO_PAD.encode(mcp_authz::crypto::random_bytes::<16>().unwrap())
}

/// The mock clock's reading.
pub(crate) fn now(app: &TestApp) -> i64 {
    app.clock.now()
}

/// A JWT under construction: header and claims as JSON, signed by `key` (with the
/// key's own algorithm, whatever the header says) when turned into a compact JWS.
pub(crate) struct Jwt<'k> {
    key: &'k IdpKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl<'k> Jwt<'k> {
    /// A valid ID-JAG (EXAMPLES.md section 7) of [`IDP_ISSUER`] for `client_id` at `app`,
    /// issued at the mock clock's now for five minutes, for [`RESOURCE`] and `tools:read`.
    pub(crate) fn id_jag(app: &TestApp, key: &'k IdpKey, client_id: &str) -> Self {
        let now = now(app);
        let header = json!({ "typ": ID_JAG_TYP, "alg": key.alg_name(), "kid": key.kid });
        let claims = json!({
            "iss": IDP_ISSUER, "sub": SUBJECT, "aud": app.issuer, "client_id": client_id,
            "jti": fresh_jti(), "iat": now, "exp": now + 300,
            "resource": RESOURCE, "scope": "tools:read",
            "auth_time": now - 100, "amr": ["pwd", "otp"],
        });
        Self::from_json(key, &header, &claims)
    }

    /// A valid `private_key_jwt` client assertion of `client_id` at `app` (CC-5..9).
    pub(crate) fn client_assertion(app: &TestApp, key: &'k IdpKey, client_id: &str) -> Self {
        let now = now(app);
        let header = json!({ "typ": "JWT", "alg": key.alg_name(), "kid": key.kid });
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": app.issuer,
            "jti": fresh_jti(), "iat": now, "exp": now + 300,
        });
        Self::from_json(key, &header, &claims)
    }

    fn from_json(key: &'k IdpKey, header: &Value, claims: &Value) -> Self {
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
    pub(crate) fn signed_by(mut self, key: &'k IdpKey) -> Self {
        self.key = key;
        self
    }

    /// The claim `name` as set now.
    pub(crate) fn claim_value(&self, name: &str) -> Value {
        self.claims.get(name).cloned().unwrap_or(Value::Null)
    }

    /// `base64url(header).base64url(claims)`.
    pub(crate) fn signing_input(&self) -> String {
        let header = serde_json::to_vec(&self.header).unwrap();
        let claims = serde_json::to_vec(&self.claims).unwrap();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    /// The compact JWS signed by the key.
    pub(crate) fn jwt(&self) -> String {
        let input = self.signing_input();
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.key.encoding, self.key.alg).unwrap();
        format!("{input}.{signature}")
    }

    /// The compact JWS with an HMAC-SHA256 signature under `secret` (key confusion).
    pub(crate) fn hs256_jwt(&self, secret: &[u8]) -> String {
        let input = self.signing_input();
        let key = EncodingKey::from_secret(secret);
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).unwrap();
        format!("{input}.{signature}")
    }
}

/// The standard setting: [`RESOURCE`] and [`OTHER_RESOURCE`] registered, a confidential
/// client (`client_secret_basic`, jwt-bearer grant) listed for [`IDP_ISSUER`], which is
/// trusted with the inline JWK Set of `key` and just-in-time accounts.
pub(crate) struct Xaa {
    /// The running server.
    pub(crate) app: TestApp,
    /// The IdP's signing key.
    pub(crate) key: IdpKey,
    /// The IdP's id in the admin API.
    pub(crate) idp_id: String,
    /// The client.
    pub(crate) client_id: String,
    /// Its secret.
    pub(crate) secret: String,
    /// The ids of [`RESOURCE`] and [`OTHER_RESOURCE`].
    pub(crate) server_ids: [String; 2],
}

impl Xaa {
    /// The standard setting on `app`.
    pub(crate) async fn new(app: TestApp) -> Self {
        Self::with_idp(app, json!({})).await
    }

    /// The standard setting, with `members` added to (or replacing those of) the IdP's
    /// creation body.
    pub(crate) async fn with_idp(app: TestApp, members: Value) -> Self {
        let server_ids = servers(&app).await;
        let (client_id, secret) = secret_client(&app, json!({})).await;
        let key = IdpKey::es256("idp-signing-7");
        let mut body = json!({
            "issuer": IDP_ISSUER, "name": "Corp IdP", "jwks": jwks(&[&key]),
            "clients": [{"client_id": client_id}], "jit_provisioning": true,
        });
        for (name, value) in members.as_object().unwrap() {
            body[name] = value.clone();
        }
        let idp = create_idp(&app, body).await;
        Self {
            idp_id: idp["idp_id"].as_str().unwrap().to_owned(),
            app,
            key,
            client_id,
            secret,
            server_ids,
        }
    }

    /// A valid ID-JAG for the client, signed by the IdP's key.
    pub(crate) fn id_jag(&self) -> Jwt<'_> {
        Jwt::id_jag(&self.app, &self.key, &self.client_id)
    }

    /// The jwt-bearer grant with `assertion`, the client authenticated with Basic.
    pub(crate) async fn redeem(&self, assertion: &str) -> OAuthAnswer {
        self.redeem_with(assertion, &[]).await
    }

    /// [`Xaa::redeem`] plus `extra` parameters.
    pub(crate) async fn redeem_with(&self, assertion: &str, extra: &[(&str, &str)]) -> OAuthAnswer {
        let basic = Some((self.client_id.as_str(), self.secret.as_str()));
        redeem(&self.app, assertion, basic, extra).await
    }

    /// `/admin/api/v1/idps/{idp_id}`.
    pub(crate) fn idp_path(&self) -> String {
        format!("/admin/api/v1/idps/{}", self.idp_id)
    }

    /// Changes the IdP through the admin API (200 asserted); returns its view.
    pub(crate) async fn patch_idp(&self, body: Value) -> Value {
        let path = self.idp_path();
        self.app
            .admin_ok(Method::PATCH, &path, Some(body), StatusCode::OK)
            .await
    }

    /// Stops the server and drops its database.
    pub(crate) async fn finish(self) {
        self.app.finish().await;
    }
}

/// Registers [`RESOURCE`] (scopes [`RESOURCE_SCOPES`], default `tools:read`) and
/// [`OTHER_RESOURCE`] (`other:read`); neither is the default resource. Returns their ids.
pub(crate) async fn servers(app: &TestApp) -> [String; 2] {
    let main = app
        .create_server(RESOURCE, &RESOURCE_SCOPES, &["tools:read"])
        .await;
    let other = app
        .create_server(OTHER_RESOURCE, &["other:read"], &["other:read"])
        .await;
    [main, other].map(|s| s["server_id"].as_str().unwrap().to_owned())
}

/// A `client_secret_basic` client with the jwt-bearer grant and `members` added;
/// returns its id and secret.
pub(crate) async fn secret_client(app: &TestApp, members: Value) -> (String, String) {
    let mut body = json!({ "client_name": "Enterprise agent", "grant_types": [JWT_BEARER] });
    for (name, value) in members.as_object().unwrap() {
        body[name] = value.clone();
    }
    let created = app.create_client(body).await;
    (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// Trusts an IdP through the admin API (201 asserted); returns its view.
pub(crate) async fn create_idp(app: &TestApp, body: Value) -> Value {
    app.admin_ok(
        Method::POST,
        "/admin/api/v1/idps",
        Some(body),
        StatusCode::CREATED,
    )
    .await
}

/// `POST /oauth2/token` with the jwt-bearer grant carrying `assertion`, optionally
/// Basic-authenticated, plus `extra`.
pub(crate) async fn redeem(
    app: &TestApp,
    assertion: &str,
    basic: Option<(&str, &str)>,
    extra: &[(&str, &str)],
) -> OAuthAnswer {
    let mut form = vec![("grant_type", JWT_BEARER), ("assertion", assertion)];
    form.extend_from_slice(extra);
    app.token(&form, basic).await
}

/// Asserts a successful redemption (XAA-14: a plain `Bearer` token response with
/// `expires_in` and `scope`, `no-store`, no refresh token); returns the access token's
/// claims.
pub(crate) fn assert_token(answer: &OAuthAnswer) -> Value {
    let (status, headers, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store", "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0), "{body}");
    assert!(body["scope"].is_string(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], body["scope"], "{claims}");
    claims
}

/// Asserts a 400 with `code` whose description mentions `mentions` (so the request was
/// refused for the reason under test, not another one).
pub(crate) fn assert_refused(answer: &OAuthAnswer, code: &str, mentions: &str) {
    assert_oauth_error(answer, StatusCode::BAD_REQUEST, code);
    let description = answer.2["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "{code}: {description:?} does not mention {mentions:?}"
    );
}

/// The scopes of a space-delimited `scope` value, as a set.
pub(crate) fn scope_set(value: &Value) -> BTreeSet<String> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("scope is not a string: {value}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The set of `scopes`.
pub(crate) fn set_of(scopes: &[&str]) -> BTreeSet<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

/// This server's JWK Set, fetched from the `jwks_uri` its metadata names.
pub(crate) async fn own_jwks(app: &TestApp) -> Value {
    let metadata: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    let uri = metadata["jwks_uri"].as_str().unwrap();
    let path = uri.strip_prefix(&app.base).unwrap();
    let set: Value = app.get(path).await.json().await.unwrap();
    assert!(
        set["keys"].as_array().is_some_and(|k| !k.is_empty()),
        "{set}"
    );
    set
}

/// Every user of the admin API (`GET /admin/api/v1/users`).
pub(crate) async fn users(app: &TestApp) -> Vec<Value> {
    let page = app
        .admin_ok(
            Method::GET,
            "/admin/api/v1/users?limit=100",
            None,
            StatusCode::OK,
        )
        .await;
    page["items"].as_array().unwrap().clone()
}
