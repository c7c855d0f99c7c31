//! The configuration file's sections as serde structs, one per `[section]`.
//!
//! These are the raw, operator-facing names (a contract with users' files and
//! scripts). `config::Settings` turns them into checked, typed values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

/// The whole file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// `[server]`
    pub server: ServerSection,
    /// `[dev]`
    pub dev: DevSection,
    /// `[database]`
    pub database: DatabaseSection,
    /// `[keys]`
    pub keys: KeysSection,
    /// `[tokens]`
    pub tokens: TokensSection,
    /// `[sessions]`
    pub sessions: SessionsSection,
    /// `[admin]`
    pub admin: AdminSection,
    /// `[log]`
    pub log: LogSection,
    /// `[outbound]`
    pub outbound: OutboundSection,
    /// `[cimd]`
    pub cimd: CimdSection,
    /// `[dcr]`
    pub dcr: DcrSection,
    /// `[token_exchange]`
    pub token_exchange: TokenExchangeSection,
    /// `[federation]`
    #[serde(default)]
    pub federation: FederationSection,
    /// `[[trusted_idps]]`
    #[serde(default)]
    pub trusted_idps: Vec<TrustedIdpSection>,
}

/// One trusted enterprise IdP declared in the file (XAA-18). At start-up each is
/// created, or brought in line with the file if its issuer is already trusted; IdPs
/// created through the admin API are left alone. Members mirror the admin API's.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIdpSection {
    /// The IdP's issuer, exactly as its ID-JAGs carry it.
    pub issuer: String,
    /// Display name; default: the issuer.
    pub name: Option<String>,
    /// Where its JWK Set is fetched (https).
    pub jwks_uri: Option<String>,
    /// A file holding its public JWK Set (JSON). With neither, the keys are discovered
    /// from the IdP's metadata.
    pub jwks_file: Option<PathBuf>,
    /// Allowed JWS algorithms; default: every asymmetric one.
    pub algorithms: Option<Vec<String>>,
    /// Required `tenant` claim.
    pub tenant: Option<String>,
    /// The most scope its ID-JAGs may grant (space-delimited).
    pub scope: Option<String>,
    /// Resource URIs of the MCP servers it may reach; absent: every enabled server.
    pub allowed_resources: Option<Vec<String>>,
    /// The clients it may speak for.
    #[serde(default)]
    pub clients: Vec<TrustedIdpClientSection>,
    /// Public (CIMD) clients may redeem its ID-JAGs.
    #[serde(default)]
    pub allow_public_clients: bool,
    /// Accounts for first-time subjects.
    #[serde(default)]
    pub jit_provisioning: bool,
    /// Link first-time subjects to accounts by recorded email.
    #[serde(default)]
    pub link_verified_email: bool,
    /// Trusted at all.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

/// `clients = [{ client_id = "…", idp_client_id = "…" }]` of a trusted IdP.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIdpClientSection {
    /// The local client id (or a CIMD client's URL).
    pub client_id: String,
    /// The `client_id` the IdP's ID-JAGs use for it; default: the local id.
    pub idp_client_id: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// `[federation]`: upstream OpenID providers users may sign in with (FED-1..4).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// `[[federation.providers]]`
    #[serde(default)]
    pub providers: Vec<UpstreamProviderSection>,
}

/// One upstream OpenID provider.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamProviderSection {
    /// Short id used in URLs (`a-z`, `0-9`, `-`).
    pub id: String,
    /// Shown on the button: "Sign in with <name>".
    pub name: String,
    /// The provider's issuer; its discovery document must name exactly this (FED-3).
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there.
    #[serde(default, serialize_with = "redacted_option")]
    pub client_secret: Option<SecretString>,
    /// Or a file holding it (Docker secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// How we authenticate at its token endpoint: `client_secret_basic` (the default
    /// when a secret is given) or `private_key_jwt`, signed with this server's own
    /// keys (register our `/jwks.json` there as the client's `jwks_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<String>,
    /// Scopes asked for; `openid` is always included.
    #[serde(default = "default_upstream_scopes")]
    pub scopes: Vec<String>,
    /// Create an account for a first-time identity (FED-4, off by default).
    #[serde(default)]
    pub jit_provisioning: bool,
    /// Link a first-time identity to the account whose recorded email equals the ID
    /// token's `email`, when the provider marks it `email_verified` (off by default).
    #[serde(default)]
    pub link_verified_email: bool,
}

fn default_upstream_scopes() -> Vec<String> {
    vec!["openid".to_owned()]
}

/// `[token_exchange]`: issuing ID-JAGs by RFC 8693 token exchange, as the enterprise
/// IdP (XAA-19..25). Off by default.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchangeSection {
    /// `token_exchange.enabled`
    pub enabled: bool,
    /// `token_exchange.id_jag_ttl`: lifetime of issued ID-JAGs (at most 5 minutes).
    #[serde(with = "humantime_serde")]
    pub id_jag_ttl: Duration,
}

/// `[server]`: the listener and the issuer.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// `server.listen`
    pub listen: SocketAddr,
    /// `server.issuer` (META-3)
    pub issuer: Option<String>,
    /// `server.max_body_bytes`
    pub max_body_bytes: usize,
    /// `server.request_timeout`
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// `server.shutdown_grace`
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// `server.trusted_proxies`: networks whose `X-Forwarded-For` is believed (SEC-17).
    #[serde(default)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `[dev]`: loopback development mode (CORE-2).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DevSection {
    /// `dev.loopback`
    pub loopback: bool,
}

/// `[database]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `database.url`: `sqlite://…` or `postgres://…`
    #[serde(serialize_with = "redacted_url")]
    pub url: String,
    /// `database.max_connections`
    pub max_connections: u32,
    /// `database.acquire_timeout`
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// `database.registry_cache_ttl`: how long clients and MCP servers are served from
    /// memory (changes made on another instance take effect within it).
    #[serde(with = "humantime_serde")]
    pub registry_cache_ttl: Duration,
}

/// Signing algorithm of generated keys (TOK-1: asymmetric only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256 (the default).
    ES256,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
}

impl SigningAlgorithm {
    /// The JWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }
}

/// `[keys]`: signing keys and their protection at rest (META-10).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSection {
    /// `keys.algorithm`
    pub algorithm: SigningAlgorithm,
    /// `keys.encryption_key`
    #[serde(default, serialize_with = "redacted_option")]
    pub encryption_key: Option<SecretString>,
    /// `keys.encryption_key_file`
    pub encryption_key_file: Option<PathBuf>,
    /// `keys.data_dir`
    pub data_dir: PathBuf,
    /// `keys.publish_ahead`
    #[serde(with = "humantime_serde")]
    pub publish_ahead: Duration,
    /// `keys.rotate_after`
    #[serde(with = "humantime_serde")]
    pub rotate_after: Duration,
    /// `keys.retain_after_retire`
    #[serde(with = "humantime_serde")]
    pub retain_after_retire: Duration,
    /// `keys.jwks_max_age`
    #[serde(with = "humantime_serde")]
    pub jwks_max_age: Duration,
}

/// `[tokens]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokensSection {
    /// `tokens.access_token_ttl` (TOK-5)
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// `tokens.authorization_code_ttl` (CORE-12)
    #[serde(with = "humantime_serde")]
    pub authorization_code_ttl: Duration,
    /// `tokens.authorization_request_ttl`
    #[serde(with = "humantime_serde")]
    pub authorization_request_ttl: Duration,
    /// `tokens.refresh_idle_ttl` (REFRESH-6)
    #[serde(with = "humantime_serde")]
    pub refresh_idle_ttl: Duration,
    /// `tokens.refresh_absolute_ttl` (REFRESH-6)
    #[serde(with = "humantime_serde")]
    pub refresh_absolute_ttl: Duration,
}

/// `[sessions]`: browser sign-in.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    /// `sessions.ttl`
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// `sessions.login_attempts_per_username` (SEC-12)
    pub login_attempts_per_username: u32,
    /// `sessions.login_attempts_per_address` (SEC-12)
    pub login_attempts_per_address: u32,
}

/// `[admin]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// `admin.bootstrap_token`
    #[serde(default, serialize_with = "redacted_option")]
    pub bootstrap_token: Option<SecretString>,
    /// `admin.max_page_size`
    pub max_page_size: u32,
    /// `admin.console_idle_timeout`: a console session unused this long must sign in
    /// again.
    #[serde(with = "humantime_serde")]
    pub console_idle_timeout: Duration,
    /// `admin.security_events_per_minute`: failed sign-ins, client-authentication
    /// failures and other refusals written to the audit log per minute at most.
    pub security_events_per_minute: std::num::NonZeroU32,
    /// `admin.audit_retention`: audit events older than this are deleted.
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `log.format`
    pub format: LogFormat,
    /// `log.filter`
    pub filter: String,
}

/// `[outbound]`: the one outbound HTTP client (SEC-19, CIMD-9, CIMD-12).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    /// `outbound.connect_timeout` (CIMD-12)
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// `outbound.total_timeout` (CIMD-12)
    #[serde(with = "humantime_serde")]
    pub total_timeout: Duration,
    /// `outbound.max_concurrent_per_host` (CIMD-12)
    pub max_concurrent_per_host: u32,
    /// `outbound.requests_per_host_per_minute` (CIMD-12)
    pub requests_per_host_per_minute: u32,
    /// `outbound.extra_ca_file`: PEM trust anchors added to the built-in roots.
    pub extra_ca_file: Option<PathBuf>,
    /// `outbound.allow_loopback` (CIMD-9 dev exception; also on under `dev.loopback`)
    pub allow_loopback: bool,
}

/// `[cimd]`: Client ID Metadata Documents (CIMD-1, CIMD-11, CIMD-21, CIMD-28).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CimdSection {
    /// `cimd.enabled` (CIMD-1, META-7)
    pub enabled: bool,
    /// `cimd.min_cache_ttl`: lower bound of a document's cache lifetime (CIMD-21)
    #[serde(with = "humantime_serde")]
    pub min_cache_ttl: Duration,
    /// `cimd.max_cache_ttl`: upper bound of a document's cache lifetime (CIMD-21)
    #[serde(with = "humantime_serde")]
    pub max_cache_ttl: Duration,
    /// `cimd.failure_ttl`: how long a failed fetch is remembered (CIMD-12, CIMD-21)
    #[serde(with = "humantime_serde")]
    pub failure_ttl: Duration,
    /// `cimd.max_document_bytes` (CIMD-11)
    pub max_document_bytes: usize,
    /// `cimd.cache_capacity`: documents kept in memory
    pub cache_capacity: u64,
    /// `cimd.allow_hosts`: when non-empty, only these hosts (CIMD-28)
    pub allow_hosts: Vec<String>,
    /// `cimd.deny_hosts`: never these hosts (CIMD-28)
    pub deny_hosts: Vec<String>,
    /// `cimd.require_approval`: new CIMD clients wait for an administrator (CIMD-28)
    pub require_approval: bool,
}

/// Whether and how clients may register themselves (RFC 7591, DCR-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DcrMode {
    /// No registration endpoint (and none in the metadata, META-8).
    Off,
    /// Anyone may register, rate-limited per client address (DCR-9).
    Open,
    /// A registration needs an initial access token made through the admin API (DCR-9).
    Token,
}

/// `[dcr]`: dynamic client registration (DCR-1..10).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DcrSection {
    /// `dcr.mode`
    pub mode: DcrMode,
    /// `dcr.registrations_per_address_per_hour` (DCR-9)
    pub registrations_per_address_per_hour: u32,
    /// `dcr.unused_client_ttl`
    #[serde(with = "humantime_serde")]
    pub unused_client_ttl: Duration,
    /// `dcr.max_request_bytes` (DCR-3)
    pub max_request_bytes: usize,
}

const REDACTED: &str = "[redacted]";

fn redacted_option<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

/// Prints a database URL with any password replaced, so `config check` output can be shared.
fn redacted_url<S: Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    match url::Url::parse(value) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // set_password only fails for URLs that cannot carry one, excluded by the guard.
            let _ = parsed.set_password(Some(REDACTED));
            s.serialize_str(parsed.as_str())
        }
        _ => s.serialize_str(value),
    }
}
