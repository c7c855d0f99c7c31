//! The client's address (SEC-17): the connecting address, unless that is a configured
//! trusted proxy; then the nearest address in `X-Forwarded-For` that is not itself a
//! trusted proxy. Forwarding headers from anyone else are ignored, so a client cannot
//! choose the address the audit log and the sign-in limits see.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The client address of a request from `peer` with `headers`.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Right to left: each trusted hop appended the address it saw.
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .map(|hop| hop.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        // A malformed header is nobody's word: keep the proxy's address.
        .unwrap_or_default();
    hops.into_iter()
        .rev()
        .find(|hop| !is_trusted(hop))
        .unwrap_or(peer)
}

/// Runs the request with its client address in scope for audit events
/// ([`crate::audit::CLIENT_IP`]).
pub(crate) async fn scope_client_ip(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let trusted = &state.settings.raw.server.trusted_proxies;
    let ip = client_ip(peer.ip(), request.headers(), trusted);
    crate::audit::CLIENT_IP.scope(ip, next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn sec_17_forwarding_headers_count_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let forged = headers("203.0.113.9");
        // Not from a proxy: the header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.7"), &forged, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("198.51.100.7"), &forged, &[]),
            ip("198.51.100.7")
        );
        // From a proxy: the nearest untrusted hop, whatever the client prepended.
        let chain = headers("1.2.3.4, 203.0.113.9, 10.1.1.1");
        assert_eq!(
            client_ip(ip("10.0.0.2"), &chain, &trusted),
            ip("203.0.113.9")
        );
        // A proxy without the header, or with garbage: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers("nonsense"), &trusted),
            ip("10.0.0.2")
        );
    }
}
