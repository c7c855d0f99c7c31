//! What the protocol use-cases need: storage, time, keys, hashing and the flow policy.

use std::sync::Arc;

use crate::cimd::CimdResolver;
use crate::clock::{SharedClock, UnixTime, seconds};
use crate::config::{Issuer, Settings};
use crate::crypto::SecretHasher;
use crate::jose::{KeyRing, KeySets};
use crate::storage::Store;

/// Lifetimes and switches of the flows, read once from configuration.
#[derive(Debug, Clone)]
pub struct FlowPolicy {
    /// Default access-token lifetime in seconds (TOK-5).
    pub access_token_ttl: i64,
    /// Authorization-code lifetime in seconds (CORE-12).
    pub code_ttl: i64,
    /// How long an authorization request waits for sign-in and consent.
    pub request_ttl: i64,
    /// Refresh-token idle lifetime (REFRESH-6).
    pub refresh_idle_ttl: i64,
    /// Refresh-family absolute lifetime (REFRESH-6).
    pub refresh_absolute_ttl: i64,
    /// `token_exchange.enabled`: ID-JAGs are issued by token exchange (XAA-19).
    pub token_exchange: bool,
    /// Lifetime of issued ID-JAGs in seconds (XAA-22).
    pub id_jag_ttl: i64,
}

impl FlowPolicy {
    /// The policy in `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        let tokens = &settings.raw.tokens;
        Self {
            access_token_ttl: seconds(tokens.access_token_ttl),
            code_ttl: seconds(tokens.authorization_code_ttl),
            request_ttl: seconds(tokens.authorization_request_ttl),
            refresh_idle_ttl: seconds(tokens.refresh_idle_ttl),
            refresh_absolute_ttl: seconds(tokens.refresh_absolute_ttl),
            token_exchange: settings.raw.token_exchange.enabled,
            id_jag_ttl: seconds(settings.raw.token_exchange.id_jag_ttl),
        }
    }
}

/// Shared services of the OAuth endpoints; cheap to clone.
#[derive(Clone)]
pub struct OAuthContext {
    /// The database.
    pub store: Store,
    /// Time source; read once per request.
    pub clock: SharedClock,
    /// The issuer (META-3, ISS-2).
    pub issuer: Issuer,
    /// Keyed hash of codes, refresh tokens and client secrets.
    pub hasher: SecretHasher,
    /// Signing keys.
    pub keyring: Arc<KeyRing>,
    /// Lifetimes.
    pub policy: Arc<FlowPolicy>,
    /// Client ID Metadata Documents (CIMD-1).
    pub cimd: Arc<CimdResolver>,
    /// Clients' public keys for `private_key_jwt` (CC-9).
    pub key_sets: Arc<KeySets>,
    /// Upstream providers: ID-JAGs brokered from them (XAA-26).
    pub federation: Arc<crate::federation::Federation>,
    /// Security events for the audit log (budgeted).
    pub security: crate::audit::SecurityLog,
}

impl OAuthContext {
    /// The current time.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }
}
