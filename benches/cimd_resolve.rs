//! CIMD document fetch latency and cache behaviour through the real server.
//!
//! Starts a document server (HTTPS on 127.0.0.1 with a throwaway CA, one connection per
//! request, `Cache-Control: max-age=3600`) and mcp-authz on SQLite trusting that CA,
//! then sends unauthenticated authorization requests (validate, store the request, 303
//! to sign-in):
//!
//! 1. **cold**: one request for each of `COLD` distinct document URLs, one at a time, so
//!    every request fetches (TLS handshake, GET, validation, database write);
//! 2. **warm**: `WARM` requests from `CONCURRENCY` workers over those same URLs, all
//!    served from the cache;
//! 3. **baseline**: the same warm load for a pre-registered client (no CIMD at all).
//!
//! Prints latency percentiles, the warm/baseline throughput ratio, and the server's own
//! CIMD metrics (fetches, resolutions, cache hit ratio, mean fetch time).
//! Run with `cargo bench --bench cimd_resolve`.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mcp_authz::app;
use mcp_authz::clock::{SharedClock, SystemClock};
use mcp_authz::config::Settings;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const TOKEN: &str = "bench-bootstrap-token-0123456789abcdef";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const REDIRECT: &str = "http://127.0.0.1:5555/callback";
const COLD: usize = 300;
const WARM: usize = 20_000;
const CONCURRENCY: usize = 32;

/// A TLS acceptor for `localhost`/127.0.0.1 and the PEM of the CA that signed it.
fn tls() -> (TlsAcceptor, String) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params");
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![
                leaf_cert.der().clone(),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (TlsAcceptor::from(Arc::new(config)), ca_cert.pem())
}

/// Serves `/c/<n>.json` documents for `https://localhost:<port>/c/<n>.json`.
async fn document_server(listener: TcpListener, acceptor: TlsAcceptor, fetches: Arc<AtomicUsize>) {
    let port = listener.local_addr().expect("addr").port();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let fetches = Arc::clone(&fetches);
        tokio::spawn(async move {
            let Ok(mut stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut head = Vec::new();
            let mut buffer = [0_u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            fetches.fetch_add(1, Ordering::SeqCst);
            let body = json!({
                "client_id": format!("https://localhost:{port}{path}"),
                "client_name": "Bench CIMD client",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none"
            })
            .to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: max-age=3600\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

fn authorize_url(base: &str, client_id: &str) -> String {
    let mut url = url::Url::parse(&format!("{base}/oauth2/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "s")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", RESOURCE);
    url.into()
}

/// One authorization request; its latency. Anything but a 303 to sign-in aborts the run.
async fn authorize(http: &reqwest::Client, url: &str) -> Duration {
    let started = tokio::time::Instant::now();
    let response = http.get(url).send().await.expect("authorize");
    let elapsed = started.elapsed();
    assert_eq!(
        response.status(),
        303,
        "{}",
        response.text().await.unwrap_or_default()
    );
    elapsed
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(name: &str, mut latencies: Vec<Duration>, wall: Duration) -> f64 {
    latencies.sort();
    let rate = latencies.len() as f64 / wall.as_secs_f64();
    println!(
        "{name}: {} requests in {:.2} s = {rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        wall.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    rate
}

async fn warm_load(http: &reqwest::Client, urls: Arc<Vec<String>>) -> (Vec<Duration>, Duration) {
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let http = http.clone();
        let urls = Arc::clone(&urls);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in 0..WARM / CONCURRENCY {
                let url = &urls[(worker * 7919 + i) % urls.len()];
                latencies.push(authorize(&http, url).await);
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("worker"));
    }
    (all, started.elapsed())
}

/// The value of a Prometheus series (sum over label sets matching `filter`).
fn metric(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (acceptor, ca_pem) = tls();
    let ca_path = dir.path().join("ca.pem");
    std::fs::File::create(&ca_path)
        .and_then(|mut f| f.write_all(ca_pem.as_bytes()))
        .expect("ca file");
    let documents = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let doc_port = documents.local_addr().expect("addr").port();
    let fetches = Arc::new(AtomicUsize::new(0));
    tokio::spawn(document_server(documents, acceptor, Arc::clone(&fetches)));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[dev]\nloopback = true\n[database]\nurl = \"sqlite://{dir}/bench.db\"\n\
         [keys]\ndata_dir = \"{dir}\"\n[admin]\nbootstrap_token = \"{TOKEN}\"\n[log]\nfilter = \"error\"\n\
         [outbound]\nextra_ca_file = \"{ca}\"\nrequests_per_host_per_minute = 1000000\n",
        dir = dir.path().display(),
        ca = ca_path.display(),
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
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let admin = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}/admin/api/v1/{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    admin("servers", json!({"resource": RESOURCE, "name": "Bench", "scopes": [{"name": "tools:read", "description": "Read"}], "default_scopes": ["tools:read"]}))
        .await
        .expect("server");
    let registered: serde_json::Value = admin("clients", json!({"client_name": "Registered", "token_endpoint_auth_method": "none", "redirect_uris": ["http://127.0.0.1/callback"]}))
        .await
        .expect("client")
        .json()
        .await
        .expect("client json");
    let registered_id = registered["client_id"].as_str().expect("id").to_owned();

    let urls: Vec<String> = (0..COLD)
        .map(|n| authorize_url(&base, &format!("https://localhost:{doc_port}/c/{n}.json")))
        .collect();
    let cold_started = tokio::time::Instant::now();
    let mut cold = Vec::new();
    for url in &urls {
        cold.push(authorize(&http, url).await);
    }
    report(
        "cold (fetch + validate + record)",
        cold,
        cold_started.elapsed(),
    );

    let (warm, warm_wall) = warm_load(&http, Arc::new(urls)).await;
    let warm_rate = report("warm (cache hit), CIMD client", warm, warm_wall);
    let baseline_urls = Arc::new(vec![authorize_url(&base, &registered_id)]);
    let (baseline, baseline_wall) = warm_load(&http, baseline_urls).await;
    let baseline_rate = report("baseline, registered client", baseline, baseline_wall);
    println!(
        "warm CIMD / registered throughput ratio: {:.2}",
        warm_rate / baseline_rate
    );

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let resolutions = metric(
        &metrics,
        "mcp_authz_cimd_resolutions_total",
        "outcome=\"ok\"",
    );
    let fetched = metric(&metrics, "mcp_authz_cimd_fetches_total", "");
    let fetch_sum = metric(&metrics, "mcp_authz_cimd_fetch_duration_seconds_sum", "");
    let fetch_count = metric(&metrics, "mcp_authz_cimd_fetch_duration_seconds_count", "");
    println!(
        "server metrics: {resolutions:.0} resolutions, {fetched:.0} fetches (document server saw {}), \
         cache hit ratio {:.4}, mean fetch {:.2} ms",
        fetches.load(Ordering::SeqCst),
        1.0 - fetched / resolutions.max(1.0),
        1000.0 * fetch_sum / fetch_count.max(1.0)
    );
    server.stop().await;
}
