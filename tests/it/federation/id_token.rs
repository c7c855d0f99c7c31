//! FED-2 and TOK-7 on the upstream ID token: a scripted provider (discovery, token
//! endpoint, JWKS on the TLS [`DocServer`]) answers B's code exchange with a crafted ID
//! token; only a token signed by a published key under an asymmetric algorithm, with
//! the provider's `iss`, B's client id as `aud`, a live `exp` and this sign-in's `nonce`
//! signs the user in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::assert_error_page;
use crate::both_backends;
use crate::client_credentials::{TestKey, jwks};
use crate::harness::flow::{UserAgent, hidden, location, param};
use crate::harness::tls_fixture::{DocServer, Reply};
use crate::harness::{Backend, START, TestApp};

const CLIENT_ID: &str = "b-at-op";
const TOKEN_PATH: &str = "/op/token";

/// A JWS over `header` and `claims`: signed by `key`, or with an empty signature.
fn jws(header: &Value, claims: &Value, key: Option<&TestKey>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.map(|k| k.sign(input.as_bytes())).unwrap_or_default();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Starts a sign-in at B (at `base`) with the scripted provider; returns B's callback
/// for it (a code, the state, the provider's `iss`) and the nonce B sent.
async fn begin(agent: &mut UserAgent<'_>, base: &str, issuer: &str) -> (String, String) {
    let page = agent.get("/login").await;
    assert_eq!(page.status(), StatusCode::OK, "signed in at B");
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let form = [("csrf_token", csrf.as_str()), ("provider", "op")];
    let started = agent.post("/login/federated", &form).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let upstream = url::Url::parse(&location(&started)).unwrap();
    let mut callback = url::Url::parse(&format!("{base}/login/callback")).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("code", "upstream-code")
        .append_pair("state", &param(&upstream, "state").unwrap())
        .append_pair("iss", issuer);
    (callback.to_string(), param(&upstream, "nonce").unwrap())
}

/// How a case's token is signed.
#[derive(Clone, Copy)]
enum Signer {
    /// The provider's published key.
    Published,
    /// A key of the same `kid` that the provider never published.
    Unpublished,
    /// No signature at all.
    Unsigned,
    /// HMAC with the client secret (a symmetric key where a public one is expected).
    ClientSecret,
}

/// A refused case: the header, one claim changed (or none), and the signer.
struct Case {
    name: &'static str,
    header: Value,
    claim: Option<(&'static str, Value)>,
    signer: Signer,
}

async fn tok_7_upstream_id_token_is_checked(backend: Backend) {
    let docs = DocServer::start().await;
    let issuer = docs.url("/op");
    let key = TestKey::es256("op-key");
    let unpublished = TestKey::es256("op-key");
    docs.set(
        "/op/.well-known/openid-configuration",
        Reply::json(&json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": docs.url(TOKEN_PATH),
            "jwks_uri": format!("{issuer}/jwks.json"),
        })),
    );
    docs.set("/op/jwks.json", Reply::json(&jwks(&[&key])));
    let toml = format!(
        "[[federation.providers]]\nid = \"op\"\nname = \"OP\"\nissuer = \"{issuer}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret = \"s3cret\"\njit_provisioning = true\n{}",
        docs.outbound_toml("allow_loopback = true")
    );
    let b = TestApp::spawn_with(backend, "", &toml).await;

    let es256 = json!({"alg": "ES256", "kid": "op-key", "typ": "JWT"});
    let craft = |case: &Case, nonce: &str| {
        let mut claims = json!({
            "iss": issuer, "sub": "upstream-user-1", "aud": CLIENT_ID, "nonce": nonce,
            "iat": START, "exp": START + 300,
        });
        if let Some((name, value)) = &case.claim {
            claims[*name] = value.clone();
        }
        match case.signer {
            Signer::Published => jws(&case.header, &claims, Some(&key)),
            Signer::Unpublished => jws(&case.header, &claims, Some(&unpublished)),
            Signer::Unsigned => jws(&case.header, &claims, None),
            Signer::ClientSecret => {
                let secret = jsonwebtoken::EncodingKey::from_secret(b"s3cret");
                let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
                jsonwebtoken::encode(&header, &claims, &secret).unwrap()
            }
        }
    };
    let claim = |name: &'static str, value: Value| Case {
        name,
        header: es256.clone(),
        claim: Some((name, value)),
        signer: Signer::Published,
    };
    let signed = |name: &'static str, header: Value, signer: Signer| Case {
        name,
        header,
        claim: None,
        signer,
    };
    let refused = [
        claim("nonce", json!("not-this-sign-in")),
        claim("aud", json!("someone-else")),
        claim("aud", json!([CLIENT_ID, "other"])),
        claim("iss", json!("https://idp.example")),
        claim("exp", json!(START - 61)),
        claim("iat", json!(START + 61)),
        signed(
            "alg none",
            json!({"alg": "none", "typ": "JWT"}),
            Signer::Unsigned,
        ),
        signed(
            "typ",
            json!({"alg": "ES256", "kid": "op-key", "typ": "at+jwt"}),
            Signer::Published,
        ),
        signed("unpublished key", es256.clone(), Signer::Unpublished),
        signed("HS256", json!({}), Signer::ClientSecret),
    ];
    let mut agent = UserAgent::new(&b);
    for case in &refused {
        let (callback, nonce) = begin(&mut agent, &b.base, &issuer).await;
        let id_token = craft(case, &nonce);
        let answer = json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token});
        docs.set(TOKEN_PATH, Reply::json(&answer));
        let response = agent.get(&callback).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{}", case.name);
        assert_error_page(response, StatusCode::BAD_GATEWAY, "could not be verified").await;
    }
    // A token answer without an ID token.
    let (callback, _) = begin(&mut agent, &b.base, &issuer).await;
    docs.set(
        TOKEN_PATH,
        Reply::json(&json!({"access_token": "at", "token_type": "Bearer"})),
    );
    let response = agent.get(&callback).await;
    assert_error_page(response, StatusCode::BAD_GATEWAY, "could not be verified").await;

    // The well-formed token signs in, so each refusal above had its one reason.
    let (callback, nonce) = begin(&mut agent, &b.base, &issuer).await;
    let good = signed("good", es256.clone(), Signer::Published);
    let answer =
        json!({"access_token": "at", "token_type": "Bearer", "id_token": craft(&good, &nonce)});
    docs.set(TOKEN_PATH, Reply::json(&answer));
    let response = agent.get(&callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(docs.hits(TOKEN_PATH) >= refused.len() + 2);
    b.finish().await;
}

both_backends!(backend: tok_7_upstream_id_token_is_checked);
