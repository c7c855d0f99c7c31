//! HTTPS fixtures on 127.0.0.1: a test CA made here (rcgen) and a TLS acceptor for a
//! certificate it issued ([`TestTls`]), and [`DocServer`], a small HTTP/1.1 server over
//! real TLS and real TCP whose answers each test programs per path (status, headers,
//! body, gzip, a slow drip, a delay) and which counts the requests it gets per path.
//!
//! The outbound client trusts the CA through `outbound.extra_ca_file`
//! ([`DocServer::outbound_toml`]); nothing here ever connects anywhere.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A CA generated for one test, and a TLS acceptor presenting a leaf certificate it
/// issued for `names` (DNS names or IP addresses).
pub(crate) struct TestTls {
    /// Accepts TLS with the leaf certificate (ALPN `http/1.1`).
    pub(crate) acceptor: TlsAcceptor,
    /// The CA certificate as a PEM file (for `outbound.extra_ca_file`).
    pub(crate) ca_file: tempfile::NamedTempFile,
}

impl TestTls {
    /// A fresh CA and a leaf certificate for `names`.
    pub(crate) fn new(names: &[&str]) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf_params = CertificateParams::new(names).unwrap();
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(ca_cert.pem().as_bytes()).unwrap();

        // One explicit provider: the test binary links both ring and aws-lc-rs.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![
                    leaf_cert.der().clone(),
                    CertificateDer::from(ca_cert.der().to_vec()),
                ],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_file,
        }
    }

    /// The CA file's path as a TOML string literal.
    pub(crate) fn ca_path_literal(&self) -> String {
        format!("{:?}", self.ca_file.path().display().to_string())
    }
}

/// What [`DocServer`] answers on one path.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    drip: Option<Duration>,
    delay: Option<Duration>,
}

impl Reply {
    /// `200` with `Content-Type: application/json` and `document` as the body.
    pub(crate) fn json(document: &Value) -> Self {
        Self::raw(document.to_string()).content_type("application/json")
    }

    /// `200` with `body` and no `Content-Type`.
    pub(crate) fn raw(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            drip: None,
            delay: None,
        }
    }

    /// `status` with an empty body.
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::raw(Vec::new())
        }
    }

    /// Another status, same headers and body.
    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header line (names may repeat).
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets `Content-Type`, replacing any earlier one.
    pub(crate) fn content_type(mut self, value: &str) -> Self {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        self.header("Content-Type", value)
    }

    /// Compresses the body with gzip and says so in `Content-Encoding`.
    pub(crate) fn gzip(mut self) -> Self {
        self.body = gzip(&self.body);
        self.header("Content-Encoding", "gzip")
    }

    /// Sends the body one byte every `every` after the head (announced length).
    pub(crate) fn drip(mut self, every: Duration) -> Self {
        self.drip = Some(every);
        self
    }

    /// Waits `delay` before answering at all.
    pub(crate) fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The body as it goes on the wire.
    pub(crate) fn wire_body(&self) -> &[u8] {
        &self.body
    }
}

/// gzip of `data` at the best compression.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// What the server was told to answer and what it saw.
#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Reply>>,
    hits: Mutex<HashMap<String, usize>>,
    heads: Mutex<Vec<String>>,
}

/// An HTTPS server on 127.0.0.1 (certificate for `localhost` and `127.0.0.1`) answering
/// each path as programmed with [`DocServer::set`]; unknown paths get a 404. Every
/// request is counted under its path before it is answered. Stops when dropped.
pub(crate) struct DocServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tls: TestTls,
    task: JoinHandle<()>,
}

impl Drop for DocServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DocServer {
    /// Listens on a free port of 127.0.0.1.
    pub(crate) async fn start() -> Self {
        let tls = TestTls::new(&["localhost", "127.0.0.1"]);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(serve(listener, tls.acceptor.clone(), Arc::clone(&shared)));
        Self {
            addr,
            shared,
            tls,
            task,
        }
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://localhost:PORT{path}`: a client id in URL-normal form.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port())
    }

    /// The `[outbound]` section trusting this server's CA, plus `extra` lines of it.
    pub(crate) fn outbound_toml(&self, extra: &str) -> String {
        format!(
            "[outbound]\nextra_ca_file = {}\n{extra}\n",
            self.tls.ca_path_literal()
        )
    }

    /// Answers `path` with `reply` from now on.
    pub(crate) fn set(&self, path: &str, reply: Reply) {
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), reply);
    }

    /// Requests received for `path`.
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.shared
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received for any path.
    pub(crate) fn total_hits(&self) -> usize {
        self.shared.hits.lock().unwrap().values().sum()
    }

    /// The request heads received, in order (request line and header lines).
    pub(crate) fn heads(&self) -> Vec<String> {
        self.shared.heads.lock().unwrap().clone()
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    // Connection tasks live in this set, so aborting the accept task ends them too.
    let mut connections = JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                handle(tls, &shared).await;
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

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: &Shared) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_owned();
    *shared.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    shared.heads.lock().unwrap().push(head);
    let reply = shared
        .routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Reply::status(404));
    let _ = respond(&mut stream, &reply).await;
    let _ = stream.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, reply: &Reply) -> std::io::Result<()> {
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        reply.status,
        reason(reply.status),
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;
    match reply.drip {
        None => stream.write_all(&reply.body).await?,
        Some(every) => {
            for byte in &reply.body {
                tokio::time::sleep(every).await;
                stream.write_all(&[*byte]).await?;
                stream.flush().await?;
            }
        }
    }
    stream.flush().await
}

/// A TLS-terminating proxy on 127.0.0.1 (certificate for `localhost` and `127.0.0.1`,
/// issued by its own test CA) that forwards every connection's bytes to a plain-HTTP
/// port: puts a test server behind an `https://` issuer, as an upstream OpenID provider
/// must be. Bind it first ([`TlsProxy::bind`]) to know the address, start the server
/// with that issuer, then [`TlsProxy::forward_to`] its port. Stops when dropped.
pub(crate) struct TlsProxy {
    listener: Option<TcpListener>,
    port: u16,
    tls: TestTls,
    task: Option<JoinHandle<()>>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl TlsProxy {
    /// Listens on a free port of 127.0.0.1; forwards nothing yet.
    pub(crate) async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        Self {
            listener: Some(listener),
            port,
            tls: TestTls::new(&["localhost", "127.0.0.1"]),
            task: None,
        }
    }

    /// `https://localhost:PORT`: an issuer on another host than the servers on
    /// `127.0.0.1`, so a browser keeps their cookies apart (cookies ignore ports).
    pub(crate) fn issuer(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The test CA's certificate (PEM), for clients that must trust the proxy.
    pub(crate) fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.tls.ca_file.path()).unwrap()
    }

    /// The `[outbound]` section trusting the proxy's CA and allowing loopback, plus
    /// `extra` lines of it.
    pub(crate) fn outbound_toml(&self, extra: &str) -> String {
        format!(
            "[outbound]\nextra_ca_file = {}\nallow_loopback = true\n{extra}\n",
            self.tls.ca_path_literal()
        )
    }

    /// Starts forwarding each accepted TLS connection to `127.0.0.1:target`.
    pub(crate) fn forward_to(&mut self, target: u16) {
        let listener = self.listener.take().expect("forward_to is called once");
        let acceptor = self.tls.acceptor.clone();
        self.task = Some(tokio::spawn(forward(listener, acceptor, target)));
    }
}

async fn forward(listener: TcpListener, acceptor: TlsAcceptor, target: u16) {
    // Connection tasks live in this set, so aborting the accept task ends them too.
    let mut connections = JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
        });
        while connections.try_join_next().is_some() {}
    }
}
