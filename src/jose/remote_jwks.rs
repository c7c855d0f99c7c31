//! Key sets of clients (and later trusted IdPs): inline `jwks` parsed once, `jwks_uri`
//! fetched through the one outbound client and cached (CC-9, XAA-4).
//!
//! A fetched set lives for its HTTP cache lifetime clamped to [`MIN_TTL`, `MAX_TTL`];
//! concurrent first uses share one fetch. When a JWS names a `kid` the cached set does
//! not hold (the client rotated its key), the set may be fetched again at once, but at
//! most once per [`REFETCH_PERIOD`] per URL, so a stream of made-up `kid`s cannot turn
//! the token endpoint into a request cannon. Failed fetches are not cached as sets; the
//! outbound client's per-host limits keep a failing host from being hammered.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use moka::Expiry;
use moka::future::Cache;
use serde_json::Value;
use url::Url;

use super::verification_keys::{KeySetError, VerificationKeys};
use crate::clock::SharedClock;
use crate::domain::client::ClientKeys;
use crate::net::{OutboundClient, cache_lifetime};

/// The `Accept` header of key-set fetches (RFC 7517 section 8.5.1).
const ACCEPT: &str = "application/jwk-set+json, application/json";
/// Largest key set accepted.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Shortest time a fetched set is kept, whatever its headers say.
const MIN_TTL: Duration = Duration::from_secs(60);
/// Longest time a fetched set is kept.
const MAX_TTL: Duration = Duration::from_secs(3600);
/// At most one refetch per URL in this period (unknown `kid`).
const REFETCH_PERIOD: Duration = Duration::from_secs(30);
/// Parsed inline sets and fetched URLs remembered.
const CAPACITY: u64 = 10_000;

/// Why a key set could not be obtained.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JwksError {
    /// The URL is not an https URL.
    #[error("jwks_uri is not a valid URL")]
    InvalidUrl,
    /// The fetch failed (address policy, status, size, time).
    #[error("jwks_uri fetch failed: {0}")]
    Fetch(String),
    /// The set is not usable.
    #[error(transparent)]
    KeySet(#[from] KeySetError),
}

#[derive(Clone)]
struct Fetched {
    keys: Arc<VerificationKeys>,
    ttl: Duration,
}

struct FetchedLifetime;

impl Expiry<String, Fetched> for FetchedLifetime {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Fetched,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Key sets by source; cheap to share behind an `Arc`.
pub struct KeySets {
    http: OutboundClient,
    clock: SharedClock,
    fetched: Cache<String, Fetched>,
    inline: moka::sync::Cache<String, Arc<VerificationKeys>>,
    refetches: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for KeySets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySets").finish_non_exhaustive()
    }
}

impl KeySets {
    /// Key sets fetched through `http`.
    pub fn new(http: OutboundClient, clock: SharedClock) -> Self {
        let period = Quota::with_period(REFETCH_PERIOD)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        Self {
            http,
            clock,
            fetched: Cache::builder()
                .max_capacity(CAPACITY)
                .expire_after(FetchedLifetime)
                .build(),
            inline: moka::sync::Cache::builder().max_capacity(CAPACITY).build(),
            refetches: RateLimiter::keyed(period),
        }
    }

    /// The parsed form of an inline `jwks` value, parsed once per distinct value.
    pub fn inline(&self, jwks: &Value) -> Result<Arc<VerificationKeys>, JwksError> {
        let canonical = jwks.to_string();
        if let Some(keys) = self.inline.get(&canonical) {
            return Ok(keys);
        }
        let keys = Arc::new(VerificationKeys::from_json(canonical.as_bytes())?);
        self.inline.insert(canonical, Arc::clone(&keys));
        Ok(keys)
    }

    /// The key set at `uri`, from the cache or fetched (one fetch for concurrent callers).
    pub async fn fetched(&self, uri: &str) -> Result<Arc<VerificationKeys>, JwksError> {
        let entry = self
            .fetched
            .try_get_with_by_ref(uri, self.fetch(uri))
            .await
            .map_err(|e| (*e).clone())?;
        Ok(entry.keys)
    }

    /// Fetches the set at `uri` again because a JWS named a `kid` it lacks; `None` when
    /// a refetch of this URL happened within [`REFETCH_PERIOD`].
    pub async fn refetch(&self, uri: &str) -> Result<Option<Arc<VerificationKeys>>, JwksError> {
        if self.refetches.check_key(&uri.to_owned()).is_err() {
            return Ok(None);
        }
        let fresh = self.fetch(uri).await?;
        let keys = Arc::clone(&fresh.keys);
        self.fetched.insert(uri.to_owned(), fresh).await;
        Ok(Some(keys))
    }

    /// The keys of `source` for a JWS naming `kid`: inline keys as parsed, fetched keys
    /// from the cache, fetched again when `kid` is unknown (the signer may have rotated;
    /// bounded by [`REFETCH_PERIOD`]). `None` when the source has no keys.
    pub async fn for_source(
        &self,
        source: &ClientKeys,
        kid: Option<&str>,
    ) -> Result<Option<Arc<VerificationKeys>>, JwksError> {
        let keys = match source {
            ClientKeys::None => return Ok(None),
            ClientKeys::Jwks(set) => self.inline(set)?,
            ClientKeys::JwksUri(uri) => {
                let keys = self.fetched(uri).await?;
                match kid {
                    Some(kid) if !keys.has_kid(kid) => self.refetch(uri).await?.unwrap_or(keys),
                    _ => keys,
                }
            }
        };
        Ok(Some(keys))
    }

    async fn fetch(&self, uri: &str) -> Result<Fetched, JwksError> {
        let url = Url::parse(uri).map_err(|_| JwksError::InvalidUrl)?;
        let response = self
            .http
            .get(&url, ACCEPT, MAX_JWKS_BYTES)
            .await
            .map_err(|e| JwksError::Fetch(e.to_string()))?;
        let keys = VerificationKeys::from_json(&response.body)?;
        let ttl = cache_lifetime(
            &url,
            ACCEPT,
            &response.headers,
            self.clock.now(),
            MIN_TTL,
            MAX_TTL,
        );
        Ok(Fetched {
            keys: Arc::new(keys),
            ttl,
        })
    }
}
