//! The resolver behind every outbound connection (CIMD-9).
//!
//! reqwest connects only to the addresses a resolver returns, so refusing here means
//! the address checked is the address connected to: no window for DNS rebinding.
//! A name is refused if any of its addresses is forbidden, not filtered down to the
//! allowed ones, so a host cannot smuggle an internal address in among public ones.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::address::is_allowed;

/// Where addresses come from.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The operating system's resolver (`getaddrinfo` on the blocking pool).
    System,
    /// A fixed table; names not in it fail to resolve. For tests: no query leaves the
    /// machine.
    Fixed(HashMap<String, Vec<IpAddr>>),
}

/// Resolves a name, then refuses it unless every address is allowed.
#[derive(Debug)]
pub(crate) struct GuardedResolver {
    lookup: Lookup,
    allow_loopback: bool,
}

/// The name resolved to an address the policy forbids; carried through reqwest's
/// error chain so the caller sees `NetError::ForbiddenAddress`.
#[derive(Debug, thiserror::Error)]
#[error("host resolves to forbidden address {0}")]
pub(crate) struct Refused(pub(crate) IpAddr);

/// The name did not resolve to any address.
#[derive(Debug, thiserror::Error)]
#[error("host does not resolve")]
pub(crate) struct Unresolved(#[source] pub(crate) Option<std::io::Error>);

impl GuardedResolver {
    pub(crate) fn new(lookup: Lookup, allow_loopback: bool) -> Self {
        Self {
            lookup,
            allow_loopback,
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let fixed = match &self.lookup {
            Lookup::System => None,
            Lookup::Fixed(table) => Some(table.get(&host).cloned().unwrap_or_default()),
        };
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addresses: Vec<IpAddr> = match fixed {
                Some(addresses) => addresses,
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|e| Unresolved(Some(e)))?
                    .map(|socket| socket.ip())
                    .collect(),
            };
            if addresses.is_empty() {
                return Err(Unresolved(None).into());
            }
            // CIMD-9: every resolved address is checked with a real IP parser's value.
            if let Some(&forbidden) = addresses
                .iter()
                .find(|&&ip| !is_allowed(ip, allow_loopback))
            {
                return Err(Refused(forbidden).into());
            }
            let addrs: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
