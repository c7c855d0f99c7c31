//! The one outbound HTTP client (SEC-19; CIMD-6..12; CORE-2).
//!
//! Owns every request this server makes to another host: CIMD documents, JWKS, logos,
//! upstream identity providers. [`OutboundClient`] resolves names itself and refuses
//! special-use addresses before connecting (CIMD-9), speaks HTTPS only with verified
//! certificates, follows no redirects (CIMD-7), accepts only 200 (CIMD-8), caps the
//! body after decompression (CIMD-11), bounds time and per-host load (CIMD-12), and
//! sends a bare GET: no cookies, credentials, proxies or forwarded headers (CIMD-6).
//! Nothing else may build a `reqwest::Client` (clippy.toml). Error messages never
//! carry response bodies.

mod address;
mod lifetime;
mod limits;
mod resolver;
mod tls;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, StatusCode};
use rustls::pki_types::CertificateDer;
use url::Url;

pub use address::{is_allowed, is_forbidden};
pub use lifetime::cache_lifetime;
use limits::HostLimits;
use resolver::{GuardedResolver, Lookup, Refused, Unresolved};

use crate::config::Settings;

/// The `User-Agent` of every outbound request.
pub const USER_AGENT: &str = concat!("mcp-authz/", env!("CARGO_PKG_VERSION"));

/// What the outbound client enforces; from `[outbound]` and `dev.loopback`.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// Longest time to resolve, connect and finish the TLS handshake (CIMD-12).
    pub connect_timeout: Duration,
    /// Longest time for a whole request, including waiting for a per-host slot and
    /// reading the body (CIMD-12).
    pub total_timeout: Duration,
    /// Concurrent requests allowed to one host (CIMD-12).
    pub max_concurrent_per_host: NonZeroU32,
    /// Requests allowed to one host per minute (CIMD-12).
    pub requests_per_host_per_minute: NonZeroU32,
    /// Trust anchors added to the compiled-in roots (`outbound.extra_ca_file`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Allow 127.0.0.0/8 and `::1` (dev mode only; CIMD-9's one exception).
    pub allow_loopback: bool,
}

impl OutboundPolicy {
    /// The policy the settings describe. `allow_loopback` is on when either
    /// `dev.loopback` or `outbound.allow_loopback` is.
    pub fn from_settings(settings: &Settings) -> Self {
        let outbound = &settings.raw.outbound;
        Self {
            connect_timeout: outbound.connect_timeout,
            total_timeout: outbound.total_timeout,
            max_concurrent_per_host: NonZeroU32::new(outbound.max_concurrent_per_host)
                .unwrap_or(NonZeroU32::MIN),
            requests_per_host_per_minute: NonZeroU32::new(outbound.requests_per_host_per_minute)
                .unwrap_or(NonZeroU32::MIN),
            extra_roots: settings.outbound_extra_roots.clone(),
            allow_loopback: settings.outbound_allows_loopback(),
        }
    }
}

/// Why an outbound request failed. Kinds, not texts: callers choose their own
/// user-facing message; `Display` never includes a response body.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The URL is not `https` (CORE-2).
    #[error("outbound URL is not https")]
    NotHttps,
    /// The URL has no host or carries user information (CIMD-6).
    #[error("outbound URL {0}")]
    InvalidUrl(&'static str),
    /// The `Accept` value given is not a valid header value.
    #[error("invalid Accept header value")]
    InvalidAccept,
    /// The host is, or resolves to, a special-use address (CIMD-9). Nothing was sent.
    #[error("outbound host is or resolves to forbidden address {0}")]
    ForbiddenAddress(IpAddr),
    /// The host's request rate is used up (CIMD-12). Nothing was sent.
    #[error("too many outbound requests to this host")]
    RateLimited,
    /// The host answered with a redirect; redirects are never followed (CIMD-7).
    #[error("outbound request was redirected (status {0})")]
    Redirect(u16),
    /// The host answered with a status other than 200 (CIMD-8).
    #[error("outbound request answered status {0}")]
    Status(u16),
    /// The body, after decompression, is longer than allowed (CIMD-11).
    #[error("outbound response body exceeds {limit} bytes")]
    TooLarge {
        /// The cap that was exceeded.
        limit: usize,
    },
    /// Connecting or the whole request took too long (CIMD-12).
    #[error("outbound request timed out")]
    Timeout,
    /// The host name did not resolve.
    #[error("outbound host does not resolve")]
    Dns(#[source] reqwest::Error),
    /// The TCP connection failed.
    #[error("outbound connection failed")]
    Connect(#[source] reqwest::Error),
    /// The TLS handshake or certificate verification failed (CORE-2).
    #[error("outbound TLS handshake failed")]
    Tls(#[source] reqwest::Error),
    /// The response was malformed or broke off (bad headers, bad encoding, reset).
    #[error("outbound response could not be read")]
    Protocol(#[source] reqwest::Error),
    /// The client could not be built (start-up only).
    #[error("outbound client: {0}")]
    Build(String),
}

/// A successful (200) response: the headers later stages need and the whole body.
#[derive(Debug, Clone)]
pub struct FetchedResponse {
    /// Always 200; kept so callers can log it.
    pub status: u16,
    /// `Content-Type`, if present exactly once.
    pub content_type: Option<String>,
    /// `Cache-Control`, all field lines joined with ", ".
    pub cache_control: Option<String>,
    /// `Expires`, if present exactly once.
    pub expires: Option<String>,
    /// `ETag`, if present exactly once.
    pub etag: Option<String>,
    /// Every response header, for cache-lifetime rules (RFC 9111).
    pub headers: HeaderMap,
    /// The body after decompression, at most the cap given to `get`.
    pub body: Bytes,
}

/// The guarded client. Cheap to clone; clones share connections and per-host limits.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    limits: HostLimits,
    allow_loopback: bool,
    total_timeout: Duration,
}

impl OutboundClient {
    /// Builds the client; names resolve through the operating system.
    pub fn new(policy: &OutboundPolicy) -> Result<Self, NetError> {
        Self::build(policy, Lookup::System)
    }

    /// For tests: names resolve only through `table` (lower-case host names), and
    /// names missing from it fail with [`NetError::Dns`]. The address policy applies
    /// unchanged, so a table entry pointing at 10.0.0.1 is refused before connecting
    /// and no query or connection leaves the machine.
    pub fn with_resolver_override(
        policy: &OutboundPolicy,
        table: HashMap<String, Vec<IpAddr>>,
    ) -> Result<Self, NetError> {
        Self::build(policy, Lookup::Fixed(table))
    }

    fn build(policy: &OutboundPolicy, lookup: Lookup) -> Result<Self, NetError> {
        let resolver = Arc::new(GuardedResolver::new(lookup, policy.allow_loopback));
        let http = reqwest_client(policy, resolver)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                limits: HostLimits::new(
                    policy.max_concurrent_per_host,
                    policy.requests_per_host_per_minute,
                ),
                allow_loopback: policy.allow_loopback,
                total_timeout: policy.total_timeout,
            }),
        })
    }

    /// GETs `url` with `Accept: accept` and returns the response if it is a 200 whose
    /// decompressed body is at most `max_body` bytes. Everything else is an error kind:
    /// refused before sending (URL shape, address, rate), refused answers (redirect,
    /// status, size) and transport failures (timeout, DNS, connect, TLS).
    pub async fn get(
        &self,
        url: &Url,
        accept: &str,
        max_body: usize,
    ) -> Result<FetchedResponse, NetError> {
        address::check_url(url, self.inner.allow_loopback)?;
        let accept = HeaderValue::from_str(accept).map_err(|_| NetError::InvalidAccept)?;
        let host = url.host_str().unwrap_or_default();
        if !self.inner.limits.allow_request(host) {
            return Err(NetError::RateLimited); // CIMD-12
        }
        // CIMD-12: one deadline over the wait for a slot, the exchange and the body.
        tokio::time::timeout(
            self.inner.total_timeout,
            self.fetch(url, host, accept, max_body),
        )
        .await
        .map_err(|_| NetError::Timeout)?
    }

    /// Sends `request` as it is (method, headers, body) under the same rules as `get`
    /// (URL and address policy, per-host limits, deadline, no redirects followed) and
    /// returns whatever status the peer answered, with a body of at most `max_body`
    /// bytes. For protocol clients (the `oauth2` crate's token requests upstream) that
    /// read error bodies themselves.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> Result<http::Response<Vec<u8>>, NetError> {
        let url = Url::parse(&request.uri().to_string())
            .map_err(|_| NetError::InvalidUrl("is not an absolute URL"))?;
        address::check_url(&url, self.inner.allow_loopback)?;
        let host = url.host_str().unwrap_or_default().to_owned();
        if !self.inner.limits.allow_request(&host) {
            return Err(NetError::RateLimited);
        }
        tokio::time::timeout(self.inner.total_timeout, async {
            let _slot = self.inner.limits.acquire(&host).await;
            let (parts, body) = request.into_parts();
            let response = self
                .inner
                .http
                .request(parts.method, url.clone())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(classify)?;
            if let Some(peer) = response.remote_addr()
                && !is_allowed(peer.ip(), self.inner.allow_loopback)
            {
                return Err(NetError::ForbiddenAddress(peer.ip()));
            }
            let status = response.status();
            let headers = response.headers().clone();
            let body = read_capped(response, max_body).await?;
            let mut answer = http::Response::new(body.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
        .await
        .map_err(|_| NetError::Timeout)?
    }

    async fn fetch(
        &self,
        url: &Url,
        host: &str,
        accept: HeaderValue,
        max_body: usize,
    ) -> Result<FetchedResponse, NetError> {
        let _slot = self.inner.limits.acquire(host).await;
        let response = self
            .inner
            .http
            .get(url.clone())
            .header(header::ACCEPT, accept)
            .send()
            .await
            .map_err(classify)?;
        // The resolver already refused forbidden addresses; this double-checks the peer.
        if let Some(peer) = response.remote_addr()
            && !is_allowed(peer.ip(), self.inner.allow_loopback)
        {
            return Err(NetError::ForbiddenAddress(peer.ip()));
        }
        let status = response.status();
        if status.is_redirection() {
            return Err(NetError::Redirect(status.as_u16())); // CIMD-7
        }
        if status != StatusCode::OK {
            return Err(NetError::Status(status.as_u16())); // CIMD-8
        }
        let headers = response.headers();
        let content_type = single(headers, &header::CONTENT_TYPE);
        let cache_control = joined(headers, &header::CACHE_CONTROL);
        let expires = single(headers, &header::EXPIRES);
        let etag = single(headers, &header::ETAG);
        let headers = headers.clone();
        let body = read_capped(response, max_body).await?;
        Ok(FetchedResponse {
            status: status.as_u16(),
            content_type,
            cache_control,
            expires,
            etag,
            headers,
            body,
        })
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the one sanctioned reqwest builder: every outbound request goes through here (SEC-19)"
)]
fn reqwest_client(
    policy: &OutboundPolicy,
    resolver: Arc<GuardedResolver>,
) -> Result<reqwest::Client, NetError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls::client_config(&policy.extra_roots)?)
        .dns_resolver(resolver)
        .https_only(true)
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .referer(false)
        .user_agent(USER_AGENT)
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.total_timeout)
        .gzip(true)
        .build()
        .map_err(|e| NetError::Build(e.to_string()))
}

/// Reads the body chunk by chunk as it is decompressed and stops as soon as it would
/// pass `max_body` (CIMD-11), so a gzip bomb costs at most the cap plus one chunk.
async fn read_capped(mut response: Response, max_body: usize) -> Result<Bytes, NetError> {
    let too_large = NetError::TooLarge { limit: max_body };
    if response
        .content_length()
        .is_some_and(|length| u64::try_from(max_body).is_ok_and(|max| length > max))
    {
        return Err(too_large);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len().saturating_add(chunk.len()) > max_body {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The header's value if it appears exactly once and is visible ASCII.
fn single(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().map(str::to_owned),
        _ => None,
    }
}

/// A list-valued header's field lines joined with ", " (RFC 9110 section 5.3).
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Chooses the error kind from reqwest's error and the errors it wraps.
fn classify(error: reqwest::Error) -> NetError {
    if let Some(Refused(address)) = find_cause::<Refused>(&error) {
        return NetError::ForbiddenAddress(*address);
    }
    if error.is_timeout() {
        NetError::Timeout
    } else if find_cause::<Unresolved>(&error).is_some() {
        NetError::Dns(error)
    } else if find_cause::<rustls::Error>(&error).is_some() {
        NetError::Tls(error)
    } else if error.is_connect() {
        NetError::Connect(error)
    } else {
        NetError::Protocol(error)
    }
}

/// The first error of type `T` in `error`'s source chain, stepping into the error an
/// `io::Error` wraps (its `source` skips that error; TLS failures arrive that way).
fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = match error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner),
            None => error.source(),
        };
    }
    None
}
