//! Client ID Metadata Documents (CIMD-1..24, CIMD-28).
//!
//! A client whose `client_id` is an https URL is described by the JSON document at that
//! URL. [`CimdResolver::resolve`] is the only entry point: it checks the URL (CIMD-3)
//! and the host rules (CIMD-28), then serves the document from a moka cache keyed by the
//! exact URL, fetching it through the one outbound client (`net`, which owns the SSRF
//! policy) when no fresh entry exists. Concurrent first requests for one URL share one
//! fetch (moka's `get_with`). A valid document lives for its RFC 9111 lifetime clamped
//! to the configured bounds; a failure is remembered only for `cimd.failure_ttl`, and
//! never as a valid document (CIMD-21), so a broken or hostile host is not hammered.
//!
//! Each fetched valid document is written to the database (the client row and
//! `cimd_clients`), so consents, codes and grants can reference the client and the
//! admin API can list it; a changed fingerprint is audited (CIMD-23). Failures are
//! audited under a global budget so an attacker cannot flood the log.

mod json;
pub mod url;
mod validate;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use moka::Expiry;
use moka::future::Cache;
use serde_json::{Value, json};

pub use self::url::{ClientIdUrl, is_document_url};
pub use validate::ValidDocument;

use crate::audit::{self, Actor};
use crate::clock::{SharedClock, UnixTime};
use crate::config::{HostPattern, Settings};
use crate::domain::client::Client;
use crate::domain::ids::ClientId;
use crate::domain::redirect_uri::RedirectPolicy;
use crate::net::OutboundClient;
use crate::storage::{CimdDocumentRecord, CimdRecordOutcome, Store, StoreError};

/// The `Accept` header of every document fetch (CIMD-6).
pub const ACCEPT: &str = "application/cimd+json, application/json";

/// Rejection events written to the audit log per minute, across all clients.
const AUDIT_BUDGET_PER_MINUTE: u32 = 60;

/// Metric names.
mod names {
    /// Counter: resolutions of CIMD client ids, by outcome.
    pub(super) const RESOLUTIONS: &str = "mcp_authz_cimd_resolutions_total";
    /// Counter: document fetches, by result.
    pub(super) const FETCHES: &str = "mcp_authz_cimd_fetches_total";
    /// Histogram: document fetch time in seconds (network and validation).
    pub(super) const FETCH_SECONDS: &str = "mcp_authz_cimd_fetch_duration_seconds";
}

/// `[cimd]`, checked.
#[derive(Debug, Clone)]
pub struct CimdSettings {
    /// `cimd.enabled` (CIMD-1).
    pub enabled: bool,
    /// `cimd.min_cache_ttl` (CIMD-21).
    pub min_cache_ttl: Duration,
    /// `cimd.max_cache_ttl` (CIMD-21).
    pub max_cache_ttl: Duration,
    /// `cimd.failure_ttl` (CIMD-12).
    pub failure_ttl: Duration,
    /// `cimd.max_document_bytes` (CIMD-11).
    pub max_document_bytes: usize,
    /// `cimd.cache_capacity`.
    pub cache_capacity: u64,
    /// `cimd.allow_hosts` (CIMD-28).
    pub allow_hosts: Vec<HostPattern>,
    /// `cimd.deny_hosts` (CIMD-28).
    pub deny_hosts: Vec<HostPattern>,
    /// `cimd.require_approval` (CIMD-28).
    pub require_approval: bool,
    /// Which redirect URIs documents may list (SEC-3).
    pub redirect_policy: RedirectPolicy,
}

impl CimdSettings {
    /// The `[cimd]` section of `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        let cimd = &settings.raw.cimd;
        Self {
            enabled: cimd.enabled,
            min_cache_ttl: cimd.min_cache_ttl,
            max_cache_ttl: cimd.max_cache_ttl,
            failure_ttl: cimd.failure_ttl,
            max_document_bytes: cimd.max_document_bytes,
            cache_capacity: cimd.cache_capacity,
            allow_hosts: settings.cimd_allow_hosts.clone(),
            deny_hosts: settings.cimd_deny_hosts.clone(),
            require_approval: cimd.require_approval,
            redirect_policy: RedirectPolicy::default(),
        }
    }
}

/// A client resolved from its document.
#[derive(Debug, Clone)]
pub struct CimdClient {
    /// The client the document describes.
    pub client: Client,
    /// The document as fetched and validated.
    pub document: Value,
    /// Hash of the security-relevant members; pinned to requests, consents and codes
    /// (CIMD-22, CIMD-23).
    pub fingerprint: String,
    /// The host of the client id (shown on consent, CIMD-25).
    pub host: String,
    /// `logo_uri`, if any.
    pub logo_uri: Option<String>,
    /// `client_uri`, if any.
    pub client_uri: Option<String>,
    /// When fetched.
    pub fetched_at: UnixTime,
    /// When the cache entry lapses.
    pub cache_expires_at: UnixTime,
}

/// Why a CIMD client cannot be used. `Display` is for logs and the audit log; users see
/// [`CimdError::user_message`] only (CIMD-24).
#[derive(Debug, thiserror::Error)]
pub enum CimdError {
    /// CIMD is switched off (`cimd.enabled = false`).
    #[error("client ID metadata documents are disabled")]
    NotEnabled,
    /// The client id breaks CIMD-3.
    #[error("client_id URL refused: {0}")]
    InvalidUrl(String),
    /// The host is denied, or not allowed, by the host rules (CIMD-28).
    #[error("host {0} is not allowed by the CIMD host rules")]
    HostRefused(String),
    /// The fetch failed: address, TLS, status, redirect, size, time (CIMD-6..12).
    #[error("document fetch failed: {0}")]
    Fetch(String),
    /// The document breaks a rule (CIMD-13..20).
    #[error("document invalid: {0}")]
    Invalid(String),
    /// The client waits for an administrator (`cimd.require_approval`).
    #[error("client awaits administrator approval")]
    AwaitingApproval,
    /// An administrator disabled the client.
    #[error("client is disabled")]
    Disabled,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CimdError {
    /// What the user is told. Fetch and document failures share one message
    /// (CIMD-24); the detail goes to the audit log.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::NotEnabled => "unknown client",
            Self::HostRefused(_) => "this server does not accept clients from this host",
            Self::AwaitingApproval => {
                "this client is waiting for approval by an administrator of this server"
            }
            Self::Disabled => "this client has been disabled by an administrator",
            Self::InvalidUrl(_) | Self::Fetch(_) | Self::Invalid(_) | Self::Store(_) => {
                "the client's metadata document could not be retrieved or is not valid"
            }
        }
    }

    /// A short kind for metrics and audit details.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotEnabled => "disabled_feature",
            Self::InvalidUrl(_) => "invalid_url",
            Self::HostRefused(_) => "host_refused",
            Self::Fetch(_) => "fetch_failed",
            Self::Invalid(_) => "invalid_document",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Disabled => "client_disabled",
            Self::Store(_) => "store_error",
        }
    }
}

/// A cache entry: a valid document, or a remembered failure (never served as valid).
#[derive(Clone)]
enum Cached {
    Valid(Arc<CimdClient>, Duration),
    Failed(Arc<CimdError>, Duration),
}

/// Each entry lives as long as its own lifetime says (CIMD-21).
struct PerEntryLifetime;

impl Expiry<String, Cached> for PerEntryLifetime {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Cached,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        match value {
            Cached::Valid(_, ttl) | Cached::Failed(_, ttl) => Some(*ttl),
        }
    }
}

/// Resolves CIMD client ids; cheap to share behind an `Arc`.
pub struct CimdResolver {
    http: OutboundClient,
    store: Store,
    clock: SharedClock,
    settings: CimdSettings,
    cache: Cache<String, Cached>,
    audit_budget: DefaultDirectRateLimiter,
}

impl std::fmt::Debug for CimdResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CimdResolver")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CimdResolver {
    /// A resolver fetching through `http`.
    pub fn new(
        http: OutboundClient,
        store: Store,
        clock: SharedClock,
        settings: CimdSettings,
    ) -> Self {
        let cache = Cache::builder()
            .max_capacity(settings.cache_capacity)
            .expire_after(PerEntryLifetime)
            .build();
        let budget = NonZeroU32::new(AUDIT_BUDGET_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self {
            http,
            store,
            clock,
            settings,
            cache,
            audit_budget: RateLimiter::direct(Quota::per_minute(budget)),
        }
    }

    /// Whether CIMD is on (META-7).
    pub fn is_enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Whether new clients wait for an administrator.
    pub fn requires_approval(&self) -> bool {
        self.settings.require_approval
    }

    /// The client `client_id` names, from its document (CIMD-5: fetched when no fresh
    /// cache entry exists), if its host is allowed, it is enabled and, when required,
    /// approved.
    pub async fn resolve(&self, client_id: &str) -> Result<Arc<CimdClient>, CimdError> {
        let outcome = self.resolve_inner(client_id).await;
        let label = match &outcome {
            Ok(_) => "ok",
            Err(error) => error.kind(),
        };
        metrics::counter!(names::RESOLUTIONS, "outcome" => label).increment(1);
        outcome
    }

    async fn resolve_inner(&self, client_id: &str) -> Result<Arc<CimdClient>, CimdError> {
        if !self.settings.enabled {
            return Err(CimdError::NotEnabled);
        }
        let id = match ClientIdUrl::parse(client_id) {
            Ok(id) => id,
            Err(reason) => {
                let error = CimdError::InvalidUrl(reason);
                self.audit_rejection(client_id, &error).await;
                return Err(error);
            }
        };
        if let Err(error) = self.check_host(id.host()).await {
            self.audit_rejection(client_id, &error).await;
            return Err(error);
        }
        let entry = self
            .cache
            .get_with_by_ref(client_id, self.fetch_and_validate(&id))
            .await;
        let client = match entry {
            Cached::Valid(client, _) => client,
            Cached::Failed(error, _) => return Err(copy_of(&error)),
        };
        self.check_standing(&client).await?;
        Ok(client)
    }

    /// Drops the cached document, so the next use fetches it again.
    pub async fn forget(&self, client_id: &str) {
        self.cache.invalidate(client_id).await;
    }

    /// CIMD-28: denied hosts never; when any allow rule exists, only allowed hosts.
    /// Rules from the admin API are read on every resolution, so a change applies to
    /// the next request on every instance.
    async fn check_host(&self, host: &str) -> Result<(), CimdError> {
        let refused = || CimdError::HostRefused(host.to_owned());
        if self.settings.deny_hosts.iter().any(|p| p.matches(host)) {
            return Err(refused());
        }
        let rules = self.store.list_cimd_host_rules().await?;
        let stored: Vec<(HostPattern, bool)> = rules
            .iter()
            .filter_map(|r| {
                HostPattern::parse(&r.pattern)
                    .ok()
                    .map(|p| (p, r.action == "allow"))
            })
            .collect();
        if stored.iter().any(|(p, allow)| !allow && p.matches(host)) {
            return Err(refused());
        }
        let mut allow = self
            .settings
            .allow_hosts
            .iter()
            .chain(stored.iter().filter(|(_, allow)| *allow).map(|(p, _)| p))
            .peekable();
        if allow.peek().is_some() && !allow.any(|p| p.matches(host)) {
            return Err(refused());
        }
        Ok(())
    }

    /// The client's row: re-recorded if missing (deleted by an administrator, or the
    /// write after the fetch failed), then its enabled switch and approval.
    async fn check_standing(&self, client: &CimdClient) -> Result<(), CimdError> {
        let stored = match self.store.find_cimd_client(&client.client.id).await? {
            Some(stored) => stored,
            None => {
                self.record(client).await?;
                self.store
                    .find_cimd_client(&client.client.id)
                    .await?
                    .ok_or(CimdError::Store(StoreError::NotFound))?
            }
        };
        if !stored.is_enabled {
            return Err(CimdError::Disabled);
        }
        if self.settings.require_approval && stored.approved_at.is_none() {
            return Err(CimdError::AwaitingApproval);
        }
        Ok(())
    }

    /// One fetch of `id`; the result, valid or not, becomes the cache entry.
    async fn fetch_and_validate(&self, id: &ClientIdUrl) -> Cached {
        let started = tokio::time::Instant::now();
        let now = self.clock.now();
        let outcome = self.fetch(id, now).await;
        metrics::histogram!(names::FETCH_SECONDS).record(started.elapsed().as_secs_f64());
        match outcome {
            Ok((client, ttl)) => {
                metrics::counter!(names::FETCHES, "result" => "valid").increment(1);
                let client = Arc::new(client);
                if let Err(error) = self.record(&client).await {
                    // The document is valid; the write is retried on the next use.
                    tracing::warn!(client_id = id.as_str(), %error, "could not record CIMD document");
                }
                Cached::Valid(client, ttl)
            }
            Err(error) => {
                metrics::counter!(names::FETCHES, "result" => error.kind()).increment(1);
                tracing::info!(client_id = id.as_str(), %error, "CIMD document refused");
                let client_id = ClientId::from_stored(id.as_str().to_owned());
                if let Err(store_error) = self
                    .store
                    .record_cimd_failure(&client_id, &error.to_string(), now)
                    .await
                {
                    tracing::warn!(%store_error, "could not record CIMD failure");
                }
                self.audit_rejection(id.as_str(), &error).await;
                Cached::Failed(Arc::new(error), self.settings.failure_ttl)
            }
        }
    }

    async fn fetch(
        &self,
        id: &ClientIdUrl,
        now: UnixTime,
    ) -> Result<(CimdClient, Duration), CimdError> {
        let response = self
            .http
            .get(id.url(), ACCEPT, self.settings.max_document_bytes)
            .await
            .map_err(|e| CimdError::Fetch(e.to_string()))?;
        let valid = validate::validate(
            id,
            response.content_type.as_deref(),
            &response.body,
            self.settings.redirect_policy,
            now,
        )
        .map_err(CimdError::Invalid)?;
        let ttl = crate::net::cache_lifetime(
            id.url(),
            ACCEPT,
            &response.headers,
            now,
            self.settings.min_cache_ttl,
            self.settings.max_cache_ttl,
        );
        let lifetime_secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let client = CimdClient {
            client: valid.client,
            document: valid.document,
            fingerprint: valid.fingerprint,
            host: id.host().to_owned(),
            logo_uri: valid.logo_uri,
            client_uri: valid.client_uri,
            fetched_at: now,
            cache_expires_at: now.saturating_add(lifetime_secs),
        };
        Ok((client, ttl))
    }

    /// Writes the client and its document, auditing first sight and changes (CIMD-23).
    async fn record(&self, client: &CimdClient) -> Result<(), CimdError> {
        let id = client.client.id.as_str();
        let document = client.document.to_string();
        let record = CimdDocumentRecord {
            client: &client.client,
            document: &document,
            fingerprint: &client.fingerprint,
            fetched_at: client.fetched_at,
            cache_expires_at: client.cache_expires_at,
            approve_new: !self.settings.require_approval,
            reapprove_changes: self.settings.require_approval,
        };
        let detail =
            json!({ "client_name": client.client.name, "fingerprint": client.fingerprint });
        let seen = audit::event(
            &Actor::System,
            "cimd.client_seen",
            "client",
            id,
            detail.clone(),
        );
        let changed = audit::event(
            &Actor::System,
            "cimd.document_changed",
            "client",
            id,
            detail,
        );
        let outcome = self
            .store
            .record_cimd_document(&record, &seen, &changed)
            .await?;
        if let CimdRecordOutcome::Changed { previous } = outcome {
            tracing::info!(
                client_id = id,
                previous,
                current = client.fingerprint,
                "CIMD document changed"
            );
        }
        Ok(())
    }

    /// Records a refusal in the audit log, within a global budget (an attacker choosing
    /// URLs must not be able to flood the table).
    async fn audit_rejection(&self, client_id: &str, error: &CimdError) {
        if self.audit_budget.check().is_err() {
            tracing::warn!(client_id, %error, "CIMD refusal not audited: audit budget used up");
            return;
        }
        let detail = json!({ "kind": error.kind(), "reason": error.to_string() });
        let event = audit::event(&Actor::System, "cimd.rejected", "client", client_id, detail);
        if let Err(store_error) = self
            .store
            .insert_audit_event(&event, self.clock.now())
            .await
        {
            tracing::warn!(%store_error, "could not audit a CIMD refusal");
        }
    }
}

/// The cached error, re-created for one caller (errors are not `Clone`).
fn copy_of(error: &CimdError) -> CimdError {
    match error {
        CimdError::NotEnabled => CimdError::NotEnabled,
        CimdError::InvalidUrl(m) => CimdError::InvalidUrl(m.clone()),
        CimdError::HostRefused(h) => CimdError::HostRefused(h.clone()),
        CimdError::Fetch(m) => CimdError::Fetch(m.clone()),
        CimdError::Invalid(m) => CimdError::Invalid(m.clone()),
        CimdError::AwaitingApproval => CimdError::AwaitingApproval,
        CimdError::Disabled => CimdError::Disabled,
        CimdError::Store(e) => CimdError::Fetch(e.to_string()),
    }
}
