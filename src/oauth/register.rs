//! RFC 7591 dynamic client registration (DCR-1..10, SEC-13, SEC-15).
//!
//! Owns the registration endpoint's decisions: the per-address rate limit, the initial
//! access token of `dcr.mode = "token"`, the effective metadata (checked by
//! `domain::registration`), and the one transaction that writes the client, its secret,
//! its registration facts, the token's use and the audit event. Also removes registered
//! clients that hold no grant. Offers no RFC 7592 management (DCR-10): answers
//! carry no registration access token and no client configuration URL. No HTTP types.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{self, Actor};
use crate::clock::{SharedClock, UnixTime, seconds};
use crate::config::{DcrMode, Settings};
use crate::crypto::{CryptoError, SecretHasher, random_id, random_token};
use crate::domain::client::{Client, ClientKeys, ClientSource};
use crate::domain::ids::ClientId;
use crate::domain::registration::{self, ClientMetadata, MetadataError};
use crate::storage::{
    DcrRegistration, InitialAccessTokenRecord, NewClientSecret, Store, StoreError,
};

/// Path of the registration endpoint under the issuer (META-8).
pub const REGISTER_PATH: &str = "/oauth2/register";

/// `[dcr]`, read once from configuration.
#[derive(Debug, Clone)]
pub struct DcrPolicy {
    /// Off, open, or with initial access tokens.
    pub mode: DcrMode,
    /// Largest request body (DCR-3).
    pub max_request_bytes: usize,
    /// Registration requests per client address per hour (DCR-9).
    pub registrations_per_address_per_hour: u32,
    /// Seconds after which a registration whose client holds no grant is deleted.
    pub unused_client_ttl: i64,
}

impl DcrPolicy {
    /// The policy in `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        let dcr = &settings.raw.dcr;
        Self {
            mode: dcr.mode,
            max_request_bytes: dcr.max_request_bytes,
            registrations_per_address_per_hour: dcr.registrations_per_address_per_hour,
            unused_client_ttl: seconds(dcr.unused_client_ttl),
        }
    }
}

/// Why a registration was refused; the web layer picks the status (DCR-3).
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// 400 `invalid_redirect_uri` or `invalid_client_metadata`.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// 413: the body is larger than `dcr.max_request_bytes`.
    #[error("the registration request is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 429: too many registrations from this address (DCR-9).
    #[error("too many registration requests from this address")]
    RateLimited {
        /// When the next request may succeed.
        retry_after: Duration,
    },
    /// 401 `invalid_token`: the initial access token is missing, unknown, expired,
    /// revoked or used up (DCR-9).
    #[error("a valid initial access token is required")]
    InvalidToken,
    /// A failure on our side; never the client's fault.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for RegisterError {
    fn from(err: StoreError) -> Self {
        Self::Internal(Box::new(err))
    }
}

impl From<CryptoError> for RegisterError {
    fn from(err: CryptoError) -> Self {
        Self::Internal(Box::new(err))
    }
}

/// A request that passed the rate limit and, in token mode, presented a usable token.
#[derive(Debug)]
pub struct Admission {
    address: IpAddr,
    token: Option<InitialAccessTokenRecord>,
}

/// The 201 answer (RFC 7591 section 3.2.1): the client id, the secret once, and the
/// effective metadata.
#[derive(Serialize)]
pub struct RegistrationResponse {
    /// The generated `client_id` (DCR-7).
    pub client_id: String,
    /// The secret of a `client_secret_*` client: shown here only, stored hashed (SEC-13).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// When the id was issued.
    pub client_id_issued_at: i64,
    /// `0` (the secret does not expire); only beside `client_secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// Display name.
    pub client_name: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<&'static str>,
    /// Always `["code"]`.
    pub response_types: &'static [&'static str],
    /// The authentication method.
    pub token_endpoint_auth_method: &'static str,
    /// `web` or `native`, as sent or inferred (DCR-6).
    pub application_type: &'static str,
    /// Scopes the client may be granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Inline public keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Key set URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// Logo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Terms of service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Privacy policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
}

impl fmt::Debug for RegistrationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationResponse")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive() // the secret is never printed (SEC-13)
    }
}

/// The registration service: shared by every request of this instance.
pub struct Registrar {
    store: Store,
    clock: SharedClock,
    hasher: SecretHasher,
    policy: DcrPolicy,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl fmt::Debug for Registrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Registrar {
    /// A registrar applying `policy`; secrets and tokens are hashed with `hasher`.
    pub fn new(store: Store, clock: SharedClock, hasher: SecretHasher, policy: DcrPolicy) -> Self {
        let per_hour =
            NonZeroU32::new(policy.registrations_per_address_per_hour).unwrap_or(NonZeroU32::MIN);
        Self {
            store,
            clock,
            hasher,
            by_address: RateLimiter::keyed(Quota::per_hour(per_hour)),
            policy,
        }
    }

    /// The largest body [`Registrar::register`] accepts (DCR-3).
    pub fn max_request_bytes(&self) -> usize {
        self.policy.max_request_bytes
    }

    /// DCR-9: counts the request against `address` (refused ones too), then, in token
    /// mode, checks the bearer initial access token.
    pub async fn admit(
        &self,
        address: IpAddr,
        bearer: Option<&str>,
    ) -> Result<Admission, RegisterError> {
        if let Err(not_until) = self.by_address.check_key(&address) {
            let wait = not_until.wait_time_from(self.by_address.clock().now());
            return Err(RegisterError::RateLimited {
                retry_after: wait.max(Duration::from_secs(1)),
            });
        }
        let token = match self.policy.mode {
            DcrMode::Token => {
                let bearer = bearer.ok_or(RegisterError::InvalidToken)?;
                let found = self
                    .store
                    .find_initial_access_token_by_hash(&self.hasher.hash(bearer))
                    .await?;
                let now = self.clock.now();
                Some(
                    found
                        .filter(|token| token.is_usable(now))
                        .ok_or(RegisterError::InvalidToken)?,
                )
            }
            DcrMode::Open | DcrMode::Off => None,
        };
        Ok(Admission { address, token })
    }

    /// Registers the client described by `body` (DCR-2..8): an `application/json` body
    /// (`is_json`) holding RFC 7591 metadata. Client-chosen ids and secrets are ignored
    /// (DCR-7); a secret client gets a 256-bit secret that only this answer shows.
    pub async fn register(
        &self,
        admission: Admission,
        is_json: bool,
        body: &[u8],
    ) -> Result<RegistrationResponse, RegisterError> {
        if !is_json {
            return Err(MetadataError::InvalidClientMetadata(
                "send the registration as a JSON object with Content-Type: application/json"
                    .to_owned(),
            )
            .into());
        }
        if body.len() > self.policy.max_request_bytes {
            return Err(RegisterError::TooLarge {
                limit: self.policy.max_request_bytes,
            });
        }
        let metadata = registration::parse(body)?;
        let now = self.clock.now();
        let client = client_of(&metadata, ClientId::generate_dynamic()?, now);
        let (secret, stored_secret) = self.new_secret(&metadata)?;
        let token_id = admission.token.as_ref().map(|t| t.token_id.clone());
        let record = registration_record(&client, &metadata, &admission, now);
        let event = registered_event(&client, &metadata, &record);
        let inserted = self
            .store
            .insert_dynamic_client(&client, stored_secret.as_ref(), &record, &event)
            .await?;
        if !inserted {
            // The token was revoked, expired or used up since `admit` (DCR-9).
            return Err(RegisterError::InvalidToken);
        }
        tracing::info!(
            client_id = client.id.as_str(),
            application_type = record.application_type,
            initial_access_token = token_id.as_deref(),
            "client registered"
        );
        Ok(response(client, &metadata, secret))
    }

    /// DCR-5: a `client_secret_*` client gets a 256-bit secret (TOK-8), returned for the
    /// answer and stored only as its keyed hash (SEC-13).
    fn new_secret(
        &self,
        metadata: &ClientMetadata,
    ) -> Result<(Option<String>, Option<NewClientSecret>), RegisterError> {
        if !metadata.auth_method.uses_secret() {
            return Ok((None, None));
        }
        let secret = random_token()?;
        let stored = NewClientSecret {
            secret_id: random_id("sec_")?,
            secret_hash: self.hasher.hash(&secret),
            expires_at: None,
        };
        Ok((Some(secret), Some(stored)))
    }

    /// Deletes registered clients older than `dcr.unused_client_ttl` that hold no grant
    /// (they never obtained one, or all of them ended and were cleaned up), each with a
    /// `client.deleted` audit event by the system.
    pub async fn delete_unused_clients(&self, now: UnixTime) -> Result<u64, StoreError> {
        let ttl = self.policy.unused_client_ttl;
        let detail =
            json!({ "reason": "unused dynamic registration", "unused_client_ttl_seconds": ttl });
        let event_for = |client_id: &str| {
            audit::event(
                &Actor::System,
                "client.deleted",
                "client",
                client_id,
                detail.clone(),
            )
        };
        self.store
            .delete_unused_dcr_clients(now.saturating_sub(ttl), now, event_for)
            .await
    }
}

/// The stored client: every enabled MCP server, no introspection, unverified (DCR-9).
fn client_of(metadata: &ClientMetadata, id: ClientId, now: UnixTime) -> Client {
    Client {
        id,
        name: metadata.client_name.clone(),
        auth_method: metadata.auth_method,
        redirect_uris: metadata.redirect_uris.clone(),
        grant_types: metadata.grant_types.clone(),
        scope: metadata.scope.clone(),
        keys: metadata.keys.clone(),
        allowed_servers: None,
        source: ClientSource::Dcr, // shown as unverified on consent (DCR-9, SEC-11)
        may_introspect: false,
        accept_token_endpoint_audience: false,
        is_enabled: true,
        created_at: now,
        updated_at: now,
    }
}

/// The facts a registration adds to the client row.
fn registration_record(
    client: &Client,
    metadata: &ClientMetadata,
    admission: &Admission,
    now: UnixTime,
) -> DcrRegistration {
    let links = metadata.links.clone();
    DcrRegistration {
        client_id: client.id.to_string(),
        application_type: metadata.application_type.as_str().to_owned(),
        initial_access_token_id: admission.token.as_ref().map(|t| t.token_id.clone()),
        registered_at: now,
        registration_address: Some(admission.address.to_string()),
        client_uri: links.client_uri,
        logo_uri: links.logo_uri,
        tos_uri: links.tos_uri,
        policy_uri: links.policy_uri,
    }
}

/// `client.registered`, by the client itself; never carries the secret.
fn registered_event(
    client: &Client,
    metadata: &ClientMetadata,
    record: &DcrRegistration,
) -> crate::storage::AuditEvent {
    let detail = json!({
        "client_name": client.name,
        "auth_method": client.auth_method.as_str(),
        "application_type": record.application_type,
        "redirect_uris": metadata.redirect_uris,
        "initial_access_token_id": record.initial_access_token_id,
        "address": record.registration_address,
    });
    audit::event(
        &Actor::Client {
            client_id: client.id.to_string(),
        },
        "client.registered",
        "client",
        client.id.as_str(),
        detail,
    )
}

fn response(
    client: Client,
    metadata: &ClientMetadata,
    secret: Option<String>,
) -> RegistrationResponse {
    let (jwks, jwks_uri) = match client.keys {
        ClientKeys::None => (None, None),
        ClientKeys::Jwks(set) => (Some(set), None),
        ClientKeys::JwksUri(uri) => (None, Some(uri)),
    };
    let links = metadata.links.clone();
    RegistrationResponse {
        client_id: client.id.to_string(),
        client_secret_expires_at: secret.is_some().then_some(0),
        client_secret: secret,
        client_id_issued_at: client.created_at,
        client_name: client.name,
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(ToString::to_string)
            .collect(),
        grant_types: client.grant_types.iter().map(|g| g.as_str()).collect(),
        response_types: metadata.response_types(),
        token_endpoint_auth_method: client.auth_method.as_str(),
        application_type: metadata.application_type.as_str(),
        scope: client.scope.as_ref().map(ToString::to_string),
        jwks,
        jwks_uri,
        client_uri: links.client_uri,
        logo_uri: links.logo_uri,
        tos_uri: links.tos_uri,
        policy_uri: links.policy_uri,
    }
}
