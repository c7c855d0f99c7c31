//! A short-lived, per-instance memory of the rows every token request reads: clients
//! with their active secrets, the MCP server registry and the trusted IdPs
//! (ARCHITECTURE section 10).
//!
//! The token endpoint must not pay a database round trip to learn what rarely changes.
//! Every write through this `Store` forgets what it touched at once, so a change made on
//! this instance applies to the next request; a change made on another instance applies
//! within the configured TTL (`database.registry_cache_ttl`). Only data that may be
//! stale that long lives here; nothing that decides single use (codes, jtis, refresh
//! tokens) ever does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use super::ClientSecretRecord;
use crate::clock::UnixTime;
use crate::domain::client::Client;
use crate::domain::idp::TrustedIdp;
use crate::domain::server::McpServer;

/// Bound on remembered clients; beyond it the least used are dropped.
const CLIENT_CAPACITY: u64 = 10_000;

/// A client as the token endpoint needs it: the row and its unrevoked secrets.
#[derive(Debug, Clone)]
pub struct ClientEntry {
    /// The client.
    pub client: Client,
    /// Secrets not revoked when read; [`ClientEntry::secret_hashes_at`] drops expired ones.
    pub secrets: Vec<ClientSecretRecord>,
}

impl ClientEntry {
    /// Hashes of the secrets that are still valid at `now`, newest first.
    pub fn secret_hashes_at(&self, now: UnixTime) -> impl Iterator<Item = &[u8]> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|at| at > now))
            .map(|s| s.secret_hash.as_slice())
    }
}

/// The caches and the counter that keeps a slow read from re-inserting what a write
/// has just forgotten.
#[derive(Debug)]
pub(super) struct RegistryCache {
    clients: Cache<String, Arc<ClientEntry>>,
    servers: Cache<(), Arc<Vec<McpServer>>>,
    idps: Cache<String, Arc<TrustedIdp>>,
    generation: AtomicU64,
}

impl RegistryCache {
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            clients: Cache::builder()
                .max_capacity(CLIENT_CAPACITY)
                .time_to_live(ttl)
                .build(),
            servers: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            idps: Cache::builder()
                .max_capacity(CLIENT_CAPACITY)
                .time_to_live(ttl)
                .build(),
            generation: AtomicU64::new(0),
        }
    }

    /// The generation a read starts in; pass it back to `put_*`.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn client(&self, id: &str) -> Option<Arc<ClientEntry>> {
        self.clients.get(id)
    }

    pub(super) fn servers(&self) -> Option<Arc<Vec<McpServer>>> {
        self.servers.get(&())
    }

    pub(super) fn idp(&self, issuer: &str) -> Option<Arc<TrustedIdp>> {
        self.idps.get(issuer)
    }

    /// Remembers a trusted IdP read in `generation` (see [`Self::put_client`]).
    pub(super) fn put_idp(&self, generation: u64, idp: Arc<TrustedIdp>) {
        if self.generation() == generation {
            let key = idp.issuer.clone();
            self.idps.insert(key.clone(), idp);
            if self.generation() != generation {
                self.idps.invalidate(&key);
            }
        }
    }

    /// Remembers a client read that started in `generation`, unless a write has
    /// happened since (the read may predate it).
    pub(super) fn put_client(&self, generation: u64, entry: Arc<ClientEntry>) {
        if self.generation() == generation {
            let key = entry.client.id.to_string();
            self.clients.insert(key.clone(), entry);
            // A write between the check and the insert: drop what may predate it.
            if self.generation() != generation {
                self.clients.invalidate(&key);
            }
        }
    }

    /// Remembers the server list read in `generation` (see [`Self::put_client`]).
    pub(super) fn put_servers(&self, generation: u64, servers: Arc<Vec<McpServer>>) {
        if self.generation() == generation {
            self.servers.insert((), servers);
            if self.generation() != generation {
                self.servers.invalidate(&());
            }
        }
    }

    /// Forgets one client after a write to it.
    pub(super) fn forget_client(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.clients.invalidate(id);
    }

    /// Forgets everything: server changes reach into clients' allowed servers, and
    /// bulk deletes touch many clients.
    pub(super) fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.clients.invalidate_all();
        self.servers.invalidate_all();
        self.idps.invalidate_all();
    }
}
