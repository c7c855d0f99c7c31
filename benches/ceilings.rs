//! Ceilings for `scripts/load.sh`: a minimal axum server that does only each measured
//! case's unavoidable work, so the script can report mcp-authz as a ratio of what the
//! hardware allows in the same run.
//!
//! - `POST /token`: sign one ES256 JWT with `jsonwebtoken::encode` and answer JSON (the
//!   `EncodingKey` is built once, but `encode` parses it into a key pair on every call,
//!   which the server under test does not: its ratio on this case can pass 1);
//! - `POST /assertion`: read the form, verify one ES256 assertion (`client_assertion`
//!   or an ID-JAG in `assertion`), insert its `jti` into the same kind of database the
//!   server under test uses;
//! - `POST /introspect`: read the form, verify one ES256 JWT, answer `{"active":true}`;
//! - `GET /fixed`, `/fixed/jwks`, `/fixed/metadata`: answer fixed bytes (the JWKS and
//!   metadata ceilings; the last two serve the very documents the server under test
//!   answers, read from files at start, so both sides write the same bytes).
//!
//! It is also the script's tool for test material:
//!
//! ```text
//! ceilings serve ADDR DATABASE_URL KEY_PEM [JWKS_FILE METADATA_FILE]   run the ceiling server
//! ceilings keygen DIR                          write DIR/client.pem and DIR/client.jwks.json
//! ceilings assertions KEY_PEM CLIENT_ID AUD COUNT TAG   print COUNT assertions, one per line
//! ceilings id-jags KEY_PEM ISSUER AUD CLIENT_ID RESOURCE COUNT TAG   print COUNT ID-JAGs
//! ceilings token KEY_PEM                       print one JWT the ceiling can verify
//! ```
//!
//! `cargo bench` without arguments runs nothing here: the ceilings only mean something
//! beside the server, under the script.

use std::io::Write as _;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mcp_authz::clock::{Clock as _, SystemClock};
use serde::{Deserialize, Serialize};
use serde_json::json;

const ISSUER: &str = "http://127.0.0.1/ceiling";
const AUDIENCE: &str = "https://mcp.example.com/mcp";

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    jti: String,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct AssertionClaims {
    jti: String,
    exp: u64,
}

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

struct Ceiling {
    signing: EncodingKey,
    verifying: DecodingKey,
    validation: Validation,
    fixed: Bytes,
    jwks: Bytes,
    metadata: Bytes,
    pool: Pool,
}

fn now() -> u64 {
    u64::try_from(SystemClock.now()).unwrap_or(0)
}

fn random_id() -> String {
    let mut bytes = [0u8; 12];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn form_value<'a>(body: &'a [u8], name: &str) -> Option<std::borrow::Cow<'a, str>> {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

async fn token(State(ceiling): State<Arc<Ceiling>>, _body: Bytes) -> Response {
    let iat = now();
    let claims = Claims {
        iss: ISSUER.to_owned(),
        sub: "cli_ceiling".to_owned(),
        aud: AUDIENCE.to_owned(),
        client_id: "cli_ceiling".to_owned(),
        scope: "files:read".to_owned(),
        jti: random_id(),
        iat,
        exp: iat + 600,
    };
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".to_owned());
    match jsonwebtoken::encode(&header, &claims, &ceiling.signing) {
        Ok(jwt) => axum::Json(json!({
            "access_token": jwt, "token_type": "Bearer", "expires_in": 600, "scope": "files:read"
        }))
        .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn assertion(State(ceiling): State<Arc<Ceiling>>, body: Bytes) -> Response {
    let Some(jwt) =
        form_value(&body, "client_assertion").or_else(|| form_value(&body, "assertion"))
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(data) = jsonwebtoken::decode::<AssertionClaims>(
        jwt.as_ref(),
        &ceiling.verifying,
        &ceiling.validation,
    ) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let sql = "INSERT INTO ceiling_jtis (jti, expires_at) VALUES ($1, $2)";
    let exp = i64::try_from(data.claims.exp).unwrap_or(i64::MAX);
    let inserted = match &ceiling.pool {
        Pool::Sqlite(pool) => sqlx::query(sql)
            .bind(&data.claims.jti)
            .bind(exp)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Pool::Postgres(pool) => sqlx::query(sql)
            .bind(&data.claims.jti)
            .bind(exp)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    };
    match inserted {
        Ok(1) => axum::Json(json!({ "ok": true })).into_response(),
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn introspect(State(ceiling): State<Arc<Ceiling>>, body: Bytes) -> Response {
    let Some(jwt) = form_value(&body, "token") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match jsonwebtoken::decode::<Claims>(jwt.as_ref(), &ceiling.verifying, &ceiling.validation) {
        Ok(_) => axum::Json(json!({ "active": true })).into_response(),
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn fixed_bytes(State(ceiling): State<Arc<Ceiling>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ceiling.fixed.clone(),
    )
        .into_response()
}

async fn fixed_jwks(State(ceiling): State<Arc<Ceiling>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/jwk-set+json")],
        ceiling.jwks.clone(),
    )
        .into_response()
}

async fn fixed_metadata(State(ceiling): State<Arc<Ceiling>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ceiling.metadata.clone(),
    )
        .into_response()
}

async fn connect(url: &str) -> Result<Pool, Failure> {
    let create = "CREATE TABLE IF NOT EXISTS ceiling_jtis (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)";
    if url.starts_with("postgres") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await?;
        sqlx::query("DROP TABLE IF EXISTS ceiling_jtis")
            .execute(&pool)
            .await?;
        sqlx::query(create).execute(&pool).await?;
        Ok(Pool::Postgres(pool))
    } else {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
        let options = options
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await?;
        sqlx::query("DROP TABLE IF EXISTS ceiling_jtis")
            .execute(&pool)
            .await?;
        sqlx::query(create).execute(&pool).await?;
        Ok(Pool::Sqlite(pool))
    }
}

/// The public key of a PKCS#8 P-256 PEM, as (x, y) base64url.
fn public_xy(pem: &[u8]) -> Result<(String, String), Failure> {
    let der = pem_body(pem)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)?;
    let point = pair.public_key().as_ref(); // 0x04 || x || y
    if point.len() != 65 {
        return Err("unexpected public key encoding".into());
    }
    Ok((
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..]),
    ))
}

fn pem_body(pem: &[u8]) -> Result<Vec<u8>, Failure> {
    let text = std::str::from_utf8(pem)?;
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    Ok(base64::engine::general_purpose::STANDARD.decode(body)?)
}

fn pem_of(der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

fn keygen(dir: &str) -> Result<(), Failure> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())?;
    let pem = pem_of(pkcs8.as_ref());
    std::fs::write(format!("{dir}/client.pem"), &pem)?;
    let (x, y) = public_xy(pem.as_bytes())?;
    let jwks = json!({ "keys": [{ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "load-1", "alg": "ES256", "use": "sig" }] });
    std::fs::write(format!("{dir}/client.jwks.json"), jwks.to_string())?;
    Ok(())
}

fn keys_of(pem: &[u8]) -> Result<(EncodingKey, DecodingKey), Failure> {
    let (x, y) = public_xy(pem)?;
    Ok((
        EncodingKey::from_ec_pem(pem)?,
        DecodingKey::from_ec_components(&x, &y)?,
    ))
}

fn assertions(
    pem: &[u8],
    client_id: &str,
    aud: &str,
    count: usize,
    tag: &str,
) -> Result<(), Failure> {
    let (signing, _) = keys_of(pem)?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("load-1".to_owned());
    let iat = now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for i in 0..count {
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": aud,
            "jti": format!("{tag}-{i}"), "iat": iat, "exp": iat + 590,
        });
        writeln!(out, "{}", jsonwebtoken::encode(&header, &claims, &signing)?)?;
    }
    out.flush()?;
    Ok(())
}

/// ID-JAGs (header `typ` `oauth-id-jag+jwt`) from the IdP `issuer` for `client_id`.
fn id_jags(pem: &[u8], claims: [&str; 4], count: usize, tag: &str) -> Result<(), Failure> {
    let [issuer, aud, client_id, resource] = claims;
    let (signing, _) = keys_of(pem)?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("load-1".to_owned());
    header.typ = Some("oauth-id-jag+jwt".to_owned());
    let iat = now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for i in 0..count {
        let claims = json!({
            "iss": issuer, "sub": "load-user", "aud": aud, "client_id": client_id,
            "resource": resource, "scope": "files:read",
            "jti": format!("{tag}-{i}"), "iat": iat, "exp": iat + 590,
        });
        writeln!(out, "{}", jsonwebtoken::encode(&header, &claims, &signing)?)?;
    }
    out.flush()?;
    Ok(())
}

fn sample_token(pem: &[u8]) -> Result<(), Failure> {
    let (signing, _) = keys_of(pem)?;
    let iat = now();
    let claims = Claims {
        iss: ISSUER.to_owned(),
        sub: "cli_ceiling".to_owned(),
        aud: AUDIENCE.to_owned(),
        client_id: "cli_ceiling".to_owned(),
        scope: "files:read".to_owned(),
        jti: random_id(),
        iat,
        exp: iat + 3600,
    };
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".to_owned());
    println!("{}", jsonwebtoken::encode(&header, &claims, &signing)?);
    Ok(())
}

async fn serve(
    addr: &str,
    database_url: &str,
    pem: &[u8],
    documents: [Option<Vec<u8>>; 2],
) -> Result<(), Failure> {
    let (signing, verifying) = keys_of(pem)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    // A JWKS-sized fixed answer.
    let fixed = Bytes::from(
        json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "ceiling", "alg": "ES256", "use": "sig",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] })
        .to_string(),
    );
    let [jwks, metadata] = documents;
    let ceiling = Arc::new(Ceiling {
        signing,
        verifying,
        validation,
        jwks: jwks.map_or_else(|| fixed.clone(), Bytes::from),
        metadata: metadata.map_or_else(|| fixed.clone(), Bytes::from),
        fixed,
        pool: connect(database_url).await?,
    });
    let router = Router::new()
        .route("/token", post(token))
        .route("/assertion", post(assertion))
        .route("/introspect", post(introspect))
        .route("/fixed", get(fixed_bytes))
        .route("/fixed/jwks", get(fixed_jwks))
        .route("/fixed/metadata", get(fixed_metadata))
        .with_state(ceiling);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

fn main() -> Result<(), Failure> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match arg(0) {
        "serve" => {
            let optional = |i: usize| -> Result<Option<Vec<u8>>, Failure> {
                match args.get(i) {
                    Some(path) => Ok(Some(std::fs::read(path)?)),
                    None => Ok(None),
                }
            };
            let documents = [optional(4)?, optional(5)?];
            tokio::runtime::Runtime::new()?.block_on(serve(
                arg(1),
                arg(2),
                &std::fs::read(arg(3))?,
                documents,
            ))
        }
        "keygen" => keygen(arg(1)),
        "assertions" => assertions(
            &std::fs::read(arg(1))?,
            arg(2),
            arg(3),
            arg(4).parse()?,
            arg(5),
        ),
        "id-jags" => id_jags(
            &std::fs::read(arg(1))?,
            [arg(2), arg(3), arg(4), arg(5)],
            arg(6).parse()?,
            arg(7),
        ),
        "token" => sample_token(&std::fs::read(arg(1))?),
        _ => {
            println!("ceilings: run by scripts/load.sh (see README, \"Load benchmark\")");
            Ok(())
        }
    }
}
