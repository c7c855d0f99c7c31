//! The outbound client against a real HTTPS server on 127.0.0.1 with a test CA made
//! for each test (`harness::tls_fixture`) (SEC-19, CIMD-6..12, CORE-2). Nothing connects anywhere but 127.0.0.1: other
//! addresses only ever appear in the test resolver, which refuses them before any
//! connection is attempted.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use mcp_authz::config::Settings;
use mcp_authz::net::{NetError, OutboundClient, OutboundPolicy, USER_AGENT};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use url::Url;

use crate::harness::tls_fixture::TestTls;

const ACCEPT: &str = "application/cimd+json, application/json";
const CAP: usize = 5 * 1024;
const DOC: &str = r#"{"client_id":"https://fixture.test/doc.json","client_name":"Fixture"}"#;
const SECRET_BODY: &str = "body-text-that-must-never-appear-in-errors";

/// What the fixture server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// An HTTPS server on 127.0.0.1 whose certificate (for `localhost`, `fixture.test`,
/// 127.0.0.1 and ::1) is issued by a CA generated for this test. Every task it started
/// ends when it is dropped.
struct Fixture {
    addr: SocketAddr,
    seen: Arc<Seen>,
    ca_file: tempfile::NamedTempFile,
    task: JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fixture {
    async fn start() -> Self {
        let tls = TestTls::new(&["localhost", "fixture.test", "127.0.0.1", "::1"]);
        let acceptor = tls.acceptor.clone();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&seen)));
        Self {
            addr,
            seen,
            ca_file: tls.ca_file,
            task,
        }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("https://127.0.0.1:{}{path}", self.addr.port())).unwrap()
    }

    fn named_url(&self, host: &str, path: &str) -> Url {
        Url::parse(&format!("https://{host}:{}{path}", self.addr.port())).unwrap()
    }

    fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    /// A policy from the settings path: the test CA as `outbound.extra_ca_file`,
    /// loopback allowed, plus `extra` lines of `[outbound]`.
    fn policy(&self, extra: &str) -> OutboundPolicy {
        let toml = format!(
            "[server]\nissuer = \"https://as.example\"\n[outbound]\n\
             extra_ca_file = {:?}\nallow_loopback = true\n{extra}",
            self.ca_file.path().display().to_string()
        );
        OutboundPolicy::from_settings(&Settings::from_toml(&toml).unwrap())
    }

    fn client(&self, extra: &str) -> OutboundClient {
        OutboundClient::new(&self.policy(extra)).unwrap()
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, seen: Arc<Seen>) {
    // Connection tasks live in this set, so aborting the accept task ends them too.
    let mut connections = JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        seen.connections.fetch_add(1, Ordering::SeqCst);
        let acceptor = acceptor.clone();
        let seen = Arc::clone(&seen);
        connections.spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                handle(tls, &seen).await;
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn response_head(status: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, seen: &Seen) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    seen.heads.lock().unwrap().push(head);
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _ = respond(&mut stream, &path).await;
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    let _ = stream.shutdown().await;
}

async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, path: &str) -> std::io::Result<()> {
    let length = |n: usize| ("Content-Length", n.to_string());
    let (head, body): (Vec<u8>, Vec<u8>) = match path {
        "/doc.json" => (
            response_head(
                "200 OK",
                &[
                    ("Content-Type", "application/json".to_owned()),
                    ("Cache-Control", "public".to_owned()),
                    ("Cache-Control", "max-age=300".to_owned()),
                    ("ETag", "\"v1\"".to_owned()),
                    ("Expires", "Thu, 01 Jan 2026 00:00:00 GMT".to_owned()),
                    length(DOC.len()),
                ],
            ),
            DOC.as_bytes().to_vec(),
        ),
        "/redirect" => (
            response_head(
                "302 Found",
                &[("Location", "/doc.json".to_owned()), length(0)],
            ),
            Vec::new(),
        ),
        "/missing" => (
            response_head("404 Not Found", &[length(SECRET_BODY.len())]),
            SECRET_BODY.as_bytes().to_vec(),
        ),
        "/exact" => (response_head("200 OK", &[length(CAP)]), vec![b'a'; CAP]),
        "/big" => (
            response_head("200 OK", &[length(CAP + 1)]),
            vec![b'a'; CAP + 1],
        ),
        // No length: the body ends when the connection closes.
        "/big-unsized" => (response_head("200 OK", &[]), vec![b'a'; 64 * 1024]),
        "/bomb" => {
            let compressed = gzip(&vec![0_u8; 16 * 1024 * 1024]);
            assert!(compressed.len() < CAP * 8, "bomb must be small compressed");
            (
                response_head(
                    "200 OK",
                    &[
                        ("Content-Encoding", "gzip".to_owned()),
                        length(compressed.len()),
                    ],
                ),
                compressed,
            )
        }
        "/many-headers" => {
            let many: Vec<(&str, String)> = (0..200).map(|i| ("X-Filler", i.to_string())).collect();
            (response_head("200 OK", &many), Vec::new())
        }
        "/endless-bomb" => return endless_gzip(stream).await,
        "/drip" => return drip(stream).await,
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            (response_head("200 OK", &[length(2)]), b"{}".to_vec())
        }
        _ => (response_head("400 Bad Request", &[length(0)]), Vec::new()),
    };
    stream.write_all(&head).await?;
    stream.write_all(&body).await?;
    stream.flush().await
}

/// A gzip stream of zeros that only ends when the client hangs up (or at 1 GiB).
async fn endless_gzip<S: AsyncWrite + Unpin>(stream: &mut S) -> std::io::Result<()> {
    stream
        .write_all(&response_head(
            "200 OK",
            &[("Content-Encoding", "gzip".to_owned())],
        ))
        .await?;
    let zeros = vec![0_u8; 64 * 1024];
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    for _ in 0..16 * 1024 {
        encoder.write_all(&zeros)?;
        encoder.flush()?;
        let chunk = std::mem::take(encoder.get_mut());
        stream.write_all(&chunk).await?;
        stream.flush().await?;
    }
    Ok(())
}

/// Announces 100 bytes and sends one every 500 ms.
async fn drip<S: AsyncWrite + Unpin>(stream: &mut S) -> std::io::Result<()> {
    stream
        .write_all(&response_head(
            "200 OK",
            &[("Content-Length", "100".to_owned())],
        ))
        .await?;
    stream.flush().await?;
    for _ in 0..100 {
        stream.write_all(b" ").await?;
        stream.flush().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

#[tokio::test]
async fn net_cimd_6_fetches_a_200_json_document_with_a_bare_get() {
    let fixture = Fixture::start().await;
    let client = fixture.client("");
    let response = client
        .get(&fixture.url("/doc.json"), ACCEPT, CAP)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, DOC.as_bytes());
    assert_eq!(response.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        response.cache_control.as_deref(),
        Some("public, max-age=300")
    );
    assert_eq!(response.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        response.expires.as_deref(),
        Some("Thu, 01 Jan 2026 00:00:00 GMT")
    );

    let heads = fixture.seen.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    let head = heads[0].to_ascii_lowercase();
    assert!(head.starts_with("get /doc.json http/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("\r\naccept: {}\r\n", ACCEPT.to_ascii_lowercase())));
    assert!(head.contains(&format!(
        "\r\nuser-agent: {}\r\n",
        USER_AGENT.to_ascii_lowercase()
    )));
    assert!(USER_AGENT.starts_with("mcp-authz/"));
    for absent in [
        "cookie:",
        "authorization:",
        "forwarded:",
        "x-forwarded-",
        "referer:",
    ] {
        assert!(!head.contains(absent), "{absent} sent: {head}");
    }
}

#[tokio::test]
async fn net_cimd_9_default_policy_refuses_loopback_before_connecting() {
    let fixture = Fixture::start().await;
    let settings = Settings::from_toml(&format!(
        "[server]\nissuer = \"https://as.example\"\n[outbound]\nextra_ca_file = {:?}",
        fixture.ca_file.path().display().to_string()
    ))
    .unwrap();
    let client = OutboundClient::new(&OutboundPolicy::from_settings(&settings)).unwrap();
    let literal = client.get(&fixture.url("/doc.json"), ACCEPT, CAP).await;
    assert!(
        matches!(literal, Err(NetError::ForbiddenAddress(ip)) if ip == IpAddr::from([127, 0, 0, 1])),
        "{literal:?}"
    );
    for spelling in [
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "[::ffff:127.0.0.1]",
    ] {
        let url = fixture.named_url(spelling, "/doc.json");
        let result = client.get(&url, ACCEPT, CAP).await;
        assert!(
            matches!(result, Err(NetError::ForbiddenAddress(_))),
            "{url}: {result:?}"
        );
    }
    // A name goes through the guarded resolver (localhost is answered from /etc/hosts).
    let named = client
        .get(&fixture.named_url("localhost", "/doc.json"), ACCEPT, CAP)
        .await;
    assert!(
        matches!(named, Err(NetError::ForbiddenAddress(_))),
        "{named:?}"
    );
    assert_eq!(fixture.connections(), 0, "nothing may connect");
}

#[tokio::test]
async fn net_cimd_9_resolver_refuses_special_use_addresses_before_connecting() {
    let fixture = Fixture::start().await;
    let cases: [(&str, &[&str], &str); 12] = [
        ("private.example", &["10.0.0.1"], "10.0.0.1"),
        ("metadata.example", &["169.254.169.254"], "169.254.169.254"),
        ("cgnat.example", &["100.64.0.1"], "100.64.0.1"),
        ("mapped.example", &["::ffff:127.0.0.1"], "::ffff:127.0.0.1"),
        (
            "mapped-metadata.example",
            &["::ffff:a9fe:a9fe"],
            "::ffff:169.254.169.254",
        ),
        ("nat64.example", &["64:ff9b::a00:1"], "64:ff9b::a00:1"),
        ("ula.example", &["fd00::1"], "fd00::1"),
        ("link-local.example", &["fe80::1"], "fe80::1"),
        ("unspecified.example", &["0.0.0.0"], "0.0.0.0"),
        ("docs.example", &["2001:db8::1"], "2001:db8::1"),
        // One bad address among allowed ones refuses the whole name.
        (
            "mixed.example",
            &["127.0.0.1", "192.168.1.10"],
            "192.168.1.10",
        ),
        ("mixed6.example", &["::1", "fc00::5"], "fc00::5"),
    ];
    let mut table: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for (name, addresses, _) in cases {
        let parsed = addresses.iter().map(|a| a.parse().unwrap()).collect();
        table.insert(name.to_owned(), parsed);
    }
    table.insert(
        "fixture.test".to_owned(),
        vec![IpAddr::from([127, 0, 0, 1])],
    );
    // Loopback allowed: the strictest setting in which the rest must still be refused.
    let client =
        OutboundClient::with_resolver_override(&fixture.policy(""), table.clone()).unwrap();
    for (name, _, refused) in cases {
        let result = client
            .get(&fixture.named_url(name, "/doc.json"), ACCEPT, CAP)
            .await;
        let expected: IpAddr = refused.parse().unwrap();
        assert!(
            matches!(result, Err(NetError::ForbiddenAddress(ip)) if ip == expected),
            "{name}: {result:?}"
        );
    }
    assert_eq!(fixture.connections(), 0, "refused before any connection");

    // Without the loopback allowance, the name of the real fixture is refused too.
    let strict = OutboundPolicy {
        allow_loopback: false,
        ..fixture.policy("")
    };
    let client = OutboundClient::with_resolver_override(&strict, table).unwrap();
    let result = client
        .get(&fixture.named_url("fixture.test", "/doc.json"), ACCEPT, CAP)
        .await;
    assert!(
        matches!(result, Err(NetError::ForbiddenAddress(_))),
        "{result:?}"
    );
    assert_eq!(fixture.connections(), 0);
}

#[tokio::test]
async fn net_cimd_9_resolved_name_connects_to_the_checked_address_with_its_sni() {
    let fixture = Fixture::start().await;
    let table = HashMap::from([(
        "fixture.test".to_owned(),
        vec![IpAddr::from([127, 0, 0, 1])],
    )]);
    let client = OutboundClient::with_resolver_override(&fixture.policy(""), table).unwrap();
    let url = fixture.named_url("fixture.test", "/doc.json");
    let response = client.get(&url, ACCEPT, CAP).await.unwrap();
    assert_eq!(response.body, DOC.as_bytes());
    let head = fixture.seen.heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.contains("\r\nhost: fixture.test:"), "{head}");

    let unknown = client
        .get(&fixture.named_url("unknown.test", "/doc.json"), ACCEPT, CAP)
        .await;
    assert!(matches!(unknown, Err(NetError::Dns(_))), "{unknown:?}");
    assert_eq!(fixture.connections(), 1);
}

#[tokio::test]
async fn net_core_2_http_and_untrusted_certificates_are_refused() {
    let fixture = Fixture::start().await;
    let client = fixture.client("");
    let http = Url::parse(&format!(
        "http://127.0.0.1:{}/doc.json",
        fixture.addr.port()
    ))
    .unwrap();
    let result = client.get(&http, ACCEPT, CAP).await;
    assert!(matches!(result, Err(NetError::NotHttps)), "{result:?}");
    assert_eq!(fixture.connections(), 0);

    // Loopback allowed but the test CA not trusted: the handshake must fail.
    let untrusted = OutboundPolicy {
        extra_roots: Vec::new(),
        ..fixture.policy("")
    };
    let client = OutboundClient::new(&untrusted).unwrap();
    let result = client.get(&fixture.url("/doc.json"), ACCEPT, CAP).await;
    assert!(matches!(result, Err(NetError::Tls(_))), "{result:?}");
}

#[tokio::test]
async fn net_connection_refused_is_a_connect_error() {
    let fixture = Fixture::start().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = Url::parse(&format!("https://127.0.0.1:{port}/doc.json")).unwrap();
    let result = fixture.client("").get(&url, ACCEPT, CAP).await;
    assert!(matches!(result, Err(NetError::Connect(_))), "{result:?}");
}

#[tokio::test]
async fn net_cimd_7_redirect_is_refused_not_followed() {
    let fixture = Fixture::start().await;
    let result = fixture
        .client("")
        .get(&fixture.url("/redirect"), ACCEPT, CAP)
        .await;
    assert!(matches!(result, Err(NetError::Redirect(302))), "{result:?}");
    assert_eq!(
        fixture.seen.heads.lock().unwrap().len(),
        1,
        "no second request"
    );
}

#[tokio::test]
async fn net_cimd_8_other_statuses_are_errors_without_the_body() {
    let fixture = Fixture::start().await;
    let result = fixture
        .client("")
        .get(&fixture.url("/missing"), ACCEPT, CAP)
        .await;
    let Err(error) = result else {
        panic!("404 must fail: {result:?}");
    };
    assert!(matches!(error, NetError::Status(404)), "{error:?}");
    assert!(!error.to_string().contains(SECRET_BODY));
    assert!(!format!("{error:?}").contains(SECRET_BODY));
}

#[tokio::test]
async fn net_cimd_11_body_cap_is_exact() {
    let fixture = Fixture::start().await;
    let client = fixture.client("");
    let exact = client
        .get(&fixture.url("/exact"), ACCEPT, CAP)
        .await
        .unwrap();
    assert_eq!(exact.body.len(), CAP);
    for path in ["/big", "/big-unsized"] {
        let result = client.get(&fixture.url(path), ACCEPT, CAP).await;
        assert!(
            matches!(result, Err(NetError::TooLarge { limit: CAP })),
            "{path}: {result:?}"
        );
    }
}

#[tokio::test]
async fn net_cimd_11_response_headers_are_bounded() {
    let fixture = Fixture::start().await;
    let result = fixture
        .client("")
        .get(&fixture.url("/many-headers"), ACCEPT, CAP)
        .await;
    assert!(matches!(result, Err(NetError::Protocol(_))), "{result:?}");
}

#[tokio::test]
async fn net_cimd_11_gzip_bomb_is_capped_after_decompression() {
    let fixture = Fixture::start().await;
    let client = fixture.client("");
    // 16 MiB of zeros, about 16 KB on the wire: under a 64 KiB cap compressed, far
    // over it decompressed.
    let cap = 64 * 1024;
    let result = client.get(&fixture.url("/bomb"), ACCEPT, cap).await;
    assert!(
        matches!(result, Err(NetError::TooLarge { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn net_cimd_11_endless_gzip_stream_stops_at_the_cap() {
    let fixture = Fixture::start().await;
    let client = fixture.client("");
    let started = Instant::now();
    // Reading it all would never end: only stopping at the cap gives TooLarge.
    let result = client.get(&fixture.url("/endless-bomb"), ACCEPT, CAP).await;
    assert!(
        matches!(result, Err(NetError::TooLarge { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn net_cimd_12_slow_drip_times_out_while_other_requests_are_served() {
    let fixture = Fixture::start().await;
    let client = fixture.client("connect_timeout = \"1s\"\ntotal_timeout = \"1s\"");
    let started = Instant::now();
    let drip_url = fixture.url("/drip");
    let drip = client.get(&drip_url, ACCEPT, CAP);
    let other = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = client.get(&fixture.url("/doc.json"), ACCEPT, CAP).await;
        (response, started.elapsed())
    };
    let (drip, (other, other_elapsed)) = tokio::join!(drip, other);
    let elapsed = started.elapsed();
    assert!(matches!(drip, Err(NetError::Timeout)), "{drip:?}");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(other.unwrap().body, DOC.as_bytes());
    assert!(
        other_elapsed < Duration::from_millis(900),
        "{other_elapsed:?}"
    );
}

#[tokio::test]
async fn net_cimd_12_concurrency_per_host_is_capped() {
    let fixture = Fixture::start().await;
    let client = fixture.client("max_concurrent_per_host = 2\nrequests_per_host_per_minute = 100");
    let mut requests = JoinSet::new();
    for _ in 0..6 {
        let (client, url) = (client.clone(), fixture.url("/slow"));
        requests.spawn(async move { client.get(&url, ACCEPT, CAP).await });
    }
    for result in requests.join_all().await {
        assert_eq!(result.unwrap().body.as_ref(), b"{}");
    }
    assert_eq!(fixture.seen.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn net_cimd_12_rate_per_host_is_limited_before_sending() {
    let fixture = Fixture::start().await;
    let client = fixture.client("requests_per_host_per_minute = 2");
    let url = fixture.url("/doc.json");
    client.get(&url, ACCEPT, CAP).await.unwrap();
    client.get(&url, ACCEPT, CAP).await.unwrap();
    let third = client.get(&url, ACCEPT, CAP).await;
    assert!(matches!(third, Err(NetError::RateLimited)), "{third:?}");
    assert_eq!(fixture.seen.heads.lock().unwrap().len(), 2);
}
