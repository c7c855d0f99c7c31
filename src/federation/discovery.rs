//! OpenID provider discovery (OIDC Discovery 1.0), through the guarded outbound client
//! and cached for an hour; the document must name exactly the configured issuer (FED-3).

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use serde::Deserialize;

use crate::config::Issuer;
use crate::net::OutboundClient;

/// How long a discovered document is used before it is fetched again.
const TTL: Duration = Duration::from_secs(3600);
/// Largest accepted discovery document.
const MAX_BYTES: usize = 64 * 1024;

/// What sign-in needs from a provider's discovery document.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Discovered {
    pub(super) issuer: String,
    pub(super) authorization_endpoint: String,
    pub(super) token_endpoint: String,
    pub(super) jwks_uri: String,
    /// RFC 9207: the provider puts `iss` in every authorization response.
    #[serde(default)]
    pub(super) authorization_response_iss_parameter_supported: bool,
}

/// Discovered documents by issuer; failures are not cached.
pub(super) struct Discovery {
    http: OutboundClient,
    cache: Cache<String, Arc<Discovered>>,
}

impl Discovery {
    pub(super) fn new(http: OutboundClient) -> Self {
        Self {
            http,
            cache: Cache::builder().max_capacity(64).time_to_live(TTL).build(),
        }
    }

    /// The provider's endpoints (one fetch for concurrent first uses).
    pub(super) async fn get(&self, issuer: &Issuer) -> Result<Arc<Discovered>, String> {
        self.cache
            .try_get_with_by_ref(issuer.as_str(), self.fetch(issuer))
            .await
            .map_err(|e| (*e).clone())
    }

    /// The document if one is cached; never fetches.
    pub(super) async fn cached(&self, issuer: &Issuer) -> Option<Arc<Discovered>> {
        self.cache.get(issuer.as_str()).await
    }

    async fn fetch(&self, issuer: &Issuer) -> Result<Arc<Discovered>, String> {
        let url = issuer.endpoint("/.well-known/openid-configuration");
        let url = url::Url::parse(&url).map_err(|e| format!("discovery URL: {e}"))?;
        let response = self
            .http
            .get(&url, "application/json", MAX_BYTES)
            .await
            .map_err(|e| format!("discovery of {} failed: {e}", issuer.as_str()))?;
        let found: Discovered = serde_json::from_slice(&response.body)
            .map_err(|e| format!("discovery document of {}: {e}", issuer.as_str()))?;
        // FED-3: a document for another issuer is a mix-up, never used.
        if found.issuer != issuer.as_str() {
            return Err(format!(
                "discovery document names issuer {:?}, not {:?}",
                found.issuer,
                issuer.as_str()
            ));
        }
        Ok(Arc::new(found))
    }
}
