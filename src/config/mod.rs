//! Configuration: built-in defaults, then `--config FILE`, then `MCP_AUTHZ__SECTION__KEY`.
//!
//! [`Settings::load`] is the only code that reads the environment or config files.
//! Values are checked once, at start (META-3, CORE-2): an invalid value stops the
//! server with a message that names the key. Everything after start takes `&Settings`.

mod host_pattern;
pub mod sections;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format as _, Toml};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use secrecy::{ExposeSecret, SecretString};

pub use host_pattern::HostPattern;
pub use sections::{DcrMode, LogFormat, RawSettings, SigningAlgorithm, TrustedIdpSection};

/// The defaults, compiled in so the binary runs without any file.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "MCP_AUTHZ__";

/// A configuration problem, naming the key it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value failed a rule.
    #[error("invalid configuration: `{key}` {message}")]
    Invalid {
        /// Dotted key, e.g. `server.issuer`.
        key: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file or variable could not be read or did not parse.
    #[error("invalid configuration: {0}")]
    Source(String),
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// The issuer identifier (META-3): the string every URL and `iss` claim is built from.
/// Shared, not copied: request handlers clone it with their context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(std::sync::Arc<str>);

impl Issuer {
    /// Checks the issuer rules: https (or http on loopback in dev mode), a host, no
    /// user information, query or fragment, and no trailing slash.
    pub fn parse(raw: &str, allow_loopback_http: bool) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("is not an absolute URL ({e})"))?;
        let is_loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => return Err("must have a host".to_owned()),
        };
        match url.scheme() {
            "https" => {}
            "http" if allow_loopback_http && is_loopback => {}
            "http" if is_loopback => {
                return Err("may use http only with dev.loopback = true (CORE-2)".to_owned());
            }
            _ => return Err("must be an https URL (CORE-2, META-3)".to_owned()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain user information".to_owned());
        }
        if url.query().is_some() || raw.contains('?') {
            return Err("must not contain a query (META-3)".to_owned());
        }
        if url.fragment().is_some() || raw.contains('#') {
            return Err("must not contain a fragment (META-3)".to_owned());
        }
        if raw.ends_with('/') {
            return Err("must not end with '/' (write https://auth.example.com)".to_owned());
        }
        Ok(Self(std::sync::Arc::from(raw)))
    }

    /// The issuer exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An endpoint URL under the issuer, e.g. `endpoint("/jwks.json")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The issuer's path component ("" for an issuer without a path).
    pub fn path(&self) -> &str {
        self.0
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').and_then(|i| rest.get(i..)))
            .unwrap_or("")
    }

    /// The URL path of a well-known document with the issuer path inserted after it
    /// (RFC 8414 section 3.1): `/.well-known/<name><issuer path>`.
    pub fn well_known_path(&self, name: &str) -> String {
        format!("/.well-known/{name}{}", self.path())
    }
}

/// Which database the URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Where the key-encryption key comes from.
#[derive(Debug, Clone)]
pub enum KekSource {
    /// `keys.encryption_key` or the contents of `keys.encryption_key_file`.
    Configured(SecretString),
    /// Generated on first start into this file (development only; warned about).
    GeneratedFile(PathBuf),
}

/// Checked settings. Fields mirror the file's sections; derived values are added.
#[derive(Debug)]
pub struct Settings {
    /// The values as loaded (and printed, with secrets redacted, by `config check`).
    pub raw: RawSettings,
    /// `server.issuer`, checked (or derived from `server.listen` in dev mode).
    pub issuer: Issuer,
    /// The backend `database.url` selects.
    pub database_kind: DatabaseKind,
    /// Where the key-encryption key comes from.
    pub kek: KekSource,
    /// The certificates of `outbound.extra_ca_file`, read and checked at start.
    pub outbound_extra_roots: Vec<CertificateDer<'static>>,
    /// `cimd.allow_hosts`, parsed (CIMD-28).
    pub cimd_allow_hosts: Vec<HostPattern>,
    /// `cimd.deny_hosts`, parsed (CIMD-28).
    pub cimd_deny_hosts: Vec<HostPattern>,
    /// `[[federation.providers]]`, checked, secrets read.
    pub upstream_providers: Vec<UpstreamProvider>,
}

/// An upstream OpenID provider users may sign in with (FED-1..4).
#[derive(Debug, Clone)]
pub struct UpstreamProvider {
    /// Short id used in URLs.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its issuer (https).
    pub issuer: Issuer,
    /// Our client id there.
    pub client_id: String,
    /// How we authenticate at its token endpoint.
    pub client_auth: UpstreamClientAuth,
    /// Scopes asked for, `openid` first.
    pub scopes: Vec<String>,
    /// Accounts for first-time identities.
    pub jit_provisioning: bool,
    /// Link first-time identities to accounts by verified email (XAA-13).
    pub link_verified_email: bool,
}

/// How this server authenticates at an upstream provider's token endpoint.
#[derive(Clone)]
pub enum UpstreamClientAuth {
    /// `client_secret_basic` with this secret.
    Secret(SecretString),
    /// `private_key_jwt` signed with this server's current signing key (XAA-26 prefers
    /// it: no shared secret to leak or rotate by hand).
    PrivateKeyJwt,
}

impl std::fmt::Debug for UpstreamClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Secret(_) => "client_secret_basic",
            Self::PrivateKeyJwt => "private_key_jwt",
        })
    }
}

impl Settings {
    /// Loads defaults, then `file` if given, then `MCP_AUTHZ__*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            // figment skips missing files silently; an operator who names one means it.
            std::fs::File::open(path).map_err(|e| {
                ConfigError::Source(format!("cannot read config file {}: {e}", path.display()))
            })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        Self::from_figment(&figment)
    }

    /// Defaults overlaid with `toml` only (no environment); for tests and tools.
    pub fn from_toml(toml: &str) -> Result<Self, ConfigError> {
        Self::from_toml_layers(&[toml])
    }

    /// Defaults overlaid with each TOML text in turn (no environment).
    pub fn from_toml_layers(layers: &[&str]) -> Result<Self, ConfigError> {
        let figment = layers.iter().fold(
            Figment::from(Toml::string(DEFAULT_TOML)),
            |figment, layer| figment.merge(Toml::string(layer)),
        );
        Self::from_figment(&figment)
    }

    fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let raw: RawSettings = figment.extract().map_err(describe)?;
        Self::validate(raw)
    }

    fn validate(raw: RawSettings) -> Result<Self, ConfigError> {
        let issuer = resolve_issuer(&raw)?;
        let database_kind = database_kind(&raw.database.url)?;
        check_ranges(&raw)?;
        check_outbound(&raw)?;
        check_cimd(&raw)?;
        let cimd_allow_hosts = host_patterns("cimd.allow_hosts", &raw.cimd.allow_hosts)?;
        let cimd_deny_hosts = host_patterns("cimd.deny_hosts", &raw.cimd.deny_hosts)?;
        check_dcr(&raw)?;
        check_token_exchange(&raw)?;
        let upstream_providers = upstream_providers(&raw)?;
        let outbound_extra_roots = load_extra_roots(&raw)?;
        let kek = resolve_kek(&raw)?;
        if let Some(token) = &raw.admin.bootstrap_token
            && token.expose_secret().len() < 32
        {
            return Err(invalid(
                "admin.bootstrap_token",
                "must be at least 32 characters (use `openssl rand -base64 32`)",
            ));
        }
        if raw
            .log
            .filter
            .parse::<tracing_subscriber::EnvFilter>()
            .is_err()
        {
            return Err(invalid("log.filter", "is not a valid tracing filter"));
        }
        Ok(Self {
            raw,
            issuer,
            database_kind,
            kek,
            outbound_extra_roots,
            cimd_allow_hosts,
            cimd_deny_hosts,
            upstream_providers,
        })
    }

    /// The effective configuration as TOML, secrets redacted (`mcp-authz config check`).
    pub fn to_redacted_toml(&self) -> String {
        let mut text = toml::to_string_pretty(&self.raw).unwrap_or_default();
        if self.raw.server.issuer.is_none() {
            text.push_str(&format!(
                "\n# server.issuer (derived in dev mode) = \"{}\"\n",
                self.issuer.as_str()
            ));
        }
        text
    }

    /// `dev.loopback`
    pub fn dev_loopback(&self) -> bool {
        self.raw.dev.loopback
    }

    /// Whether outbound requests may reach 127.0.0.0/8 and `::1` (CIMD-9's dev
    /// exception): `dev.loopback` or `outbound.allow_loopback`.
    pub fn outbound_allows_loopback(&self) -> bool {
        self.raw.dev.loopback || self.raw.outbound.allow_loopback
    }

    /// `tokens.access_token_ttl`
    pub fn access_token_ttl(&self) -> Duration {
        self.raw.tokens.access_token_ttl
    }

    /// Whether the registration endpoint is served (`dcr.mode` is not `off`; META-8).
    pub fn dcr_enabled(&self) -> bool {
        self.raw.dcr.mode != DcrMode::Off
    }
}

/// Turns figment's errors into one message naming each dotted key and where its value
/// came from (the file, or the `MCP_AUTHZ__…` variable to fix).
fn describe(errors: figment::Error) -> ConfigError {
    let messages: Vec<String> = errors
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let from = match &error.metadata {
                Some(m) if m.name.contains("environment") => {
                    format!(
                        " (from {ENV_PREFIX}{})",
                        error.path.join("__").to_ascii_uppercase()
                    )
                }
                Some(m) => match &m.source {
                    Some(source) => format!(" (from {source})"),
                    None => format!(" (from {})", m.name),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{}{from}", error.kind)
            } else {
                format!("`{key}`: {}{from}", error.kind)
            }
        })
        .collect();
    ConfigError::Source(messages.join("; "))
}

fn resolve_issuer(raw: &RawSettings) -> Result<Issuer, ConfigError> {
    let dev = raw.dev.loopback;
    match &raw.server.issuer {
        Some(configured) => {
            Issuer::parse(configured.trim(), dev).map_err(|m| invalid("server.issuer", m))
        }
        None if dev => {
            let listen = raw.server.listen;
            let host = match listen.ip() {
                ip if ip.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
                ip => ip,
            };
            let derived = SocketAddr::new(host, listen.port());
            Issuer::parse(&format!("http://{derived}"), true)
                .map_err(|m| invalid("server.issuer", m))
        }
        None => Err(invalid(
            "server.issuer",
            "is required (the public https URL of this server, e.g. https://auth.example.com); \
             for local development set dev.loopback = true instead",
        )),
    }
}

fn database_kind(url: &str) -> Result<DatabaseKind, ConfigError> {
    if url.starts_with("sqlite:") {
        Ok(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DatabaseKind::Postgres)
    } else {
        Err(invalid(
            "database.url",
            "must start with sqlite:// or postgres:// (e.g. sqlite://data/mcp-authz.db)",
        ))
    }
}

fn check_ranges(raw: &RawSettings) -> Result<(), ConfigError> {
    let keys = &raw.keys;
    if raw.database.max_connections == 0 {
        return Err(invalid("database.max_connections", "must be at least 1"));
    }
    if raw.server.max_body_bytes < 1024 {
        return Err(invalid("server.max_body_bytes", "must be at least 1024"));
    }
    if raw.server.request_timeout.is_zero() {
        return Err(invalid("server.request_timeout", "must be more than 0s"));
    }
    let ttl = raw.tokens.access_token_ttl;
    if ttl < Duration::from_secs(10) || ttl > Duration::from_secs(24 * 3600) {
        return Err(invalid(
            "tokens.access_token_ttl",
            "must be between 10s and 24h (TOK-5)",
        ));
    }
    if keys.rotate_after <= keys.publish_ahead {
        return Err(invalid(
            "keys.rotate_after",
            "must be longer than keys.publish_ahead",
        ));
    }
    if keys.retain_after_retire < ttl {
        return Err(invalid(
            "keys.retain_after_retire",
            "must be at least tokens.access_token_ttl, so tokens outlive no key (META-10)",
        ));
    }
    let tokens = &raw.tokens;
    if tokens.authorization_code_ttl < Duration::from_secs(5)
        || tokens.authorization_code_ttl > Duration::from_secs(600)
    {
        return Err(invalid(
            "tokens.authorization_code_ttl",
            "must be between 5s and 10m (CORE-12)",
        ));
    }
    if tokens.authorization_request_ttl < Duration::from_secs(60) {
        return Err(invalid(
            "tokens.authorization_request_ttl",
            "must be at least 1m",
        ));
    }
    if tokens.refresh_idle_ttl.is_zero() || tokens.refresh_idle_ttl > tokens.refresh_absolute_ttl {
        return Err(invalid(
            "tokens.refresh_idle_ttl",
            "must be more than 0s and at most tokens.refresh_absolute_ttl",
        ));
    }
    let sessions = &raw.sessions;
    if sessions.ttl < Duration::from_secs(60) {
        return Err(invalid("sessions.ttl", "must be at least 1m"));
    }
    if sessions.login_attempts_per_username == 0 {
        return Err(invalid(
            "sessions.login_attempts_per_username",
            "must be at least 1",
        ));
    }
    if sessions.login_attempts_per_address == 0 {
        return Err(invalid(
            "sessions.login_attempts_per_address",
            "must be at least 1",
        ));
    }
    if raw.admin.max_page_size == 0 || raw.admin.max_page_size > 1000 {
        return Err(invalid("admin.max_page_size", "must be between 1 and 1000"));
    }
    // A disabled client must stop working on every instance within minutes at worst.
    if raw.database.registry_cache_ttl > Duration::from_secs(300) {
        return Err(invalid(
            "database.registry_cache_ttl",
            "must be at most 5m (it bounds how long a change takes on other instances)",
        ));
    }
    Ok(())
}

fn check_outbound(raw: &RawSettings) -> Result<(), ConfigError> {
    let outbound = &raw.outbound;
    // CIMD-12 time-boxes every fetch: connect at most 2 s, the whole request at most 5 s.
    if outbound.connect_timeout.is_zero() || outbound.connect_timeout > Duration::from_secs(2) {
        return Err(invalid(
            "outbound.connect_timeout",
            "must be more than 0s and at most 2s (CIMD-12)",
        ));
    }
    if outbound.total_timeout < outbound.connect_timeout
        || outbound.total_timeout > Duration::from_secs(5)
    {
        return Err(invalid(
            "outbound.total_timeout",
            "must be at least outbound.connect_timeout and at most 5s (CIMD-12)",
        ));
    }
    if outbound.max_concurrent_per_host == 0 {
        return Err(invalid(
            "outbound.max_concurrent_per_host",
            "must be at least 1",
        ));
    }
    if outbound.requests_per_host_per_minute == 0 {
        return Err(invalid(
            "outbound.requests_per_host_per_minute",
            "must be at least 1",
        ));
    }
    Ok(())
}

fn check_cimd(raw: &RawSettings) -> Result<(), ConfigError> {
    let cimd = &raw.cimd;
    if cimd.min_cache_ttl < Duration::from_secs(1) {
        return Err(invalid("cimd.min_cache_ttl", "must be at least 1s"));
    }
    if cimd.max_cache_ttl < cimd.min_cache_ttl
        || cimd.max_cache_ttl > Duration::from_secs(7 * 86_400)
    {
        return Err(invalid(
            "cimd.max_cache_ttl",
            "must be at least cimd.min_cache_ttl and at most 7d",
        ));
    }
    if cimd.failure_ttl < Duration::from_secs(1) || cimd.failure_ttl > Duration::from_secs(3_600) {
        return Err(invalid("cimd.failure_ttl", "must be between 1s and 1h"));
    }
    // CIMD-11 names 5 KB; a little room either way, never an unbounded body.
    if !(1_024..=65_536).contains(&cimd.max_document_bytes) {
        return Err(invalid(
            "cimd.max_document_bytes",
            "must be between 1024 and 65536 (CIMD-11 suggests 5120)",
        ));
    }
    if cimd.cache_capacity == 0 {
        return Err(invalid("cimd.cache_capacity", "must be at least 1"));
    }
    Ok(())
}

fn host_patterns(key: &'static str, raw: &[String]) -> Result<Vec<HostPattern>, ConfigError> {
    raw.iter()
        .map(|p| HostPattern::parse(p).map_err(|m| invalid(key, format!("entry {p:?} {m}"))))
        .collect()
}

fn upstream_providers(raw: &RawSettings) -> Result<Vec<UpstreamProvider>, ConfigError> {
    let mut providers: Vec<UpstreamProvider> = Vec::new();
    for (i, p) in raw.federation.providers.iter().enumerate() {
        let fail = |field: &str, message: &str| {
            invalid("federation.providers", format!("[{i}].{field} {message}"))
        };
        let slug = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if p.id.is_empty() || p.id.len() > 32 || !p.id.chars().all(slug) {
            return Err(fail("id", "must be 1-32 of a-z, 0-9 and -"));
        }
        if providers.iter().any(|q| q.id == p.id) {
            return Err(fail("id", "is used twice"));
        }
        if p.name.trim().is_empty() || p.name.chars().count() > 100 {
            return Err(fail("name", "must be 1-100 characters"));
        }
        // FED-3: the upstream is reached over https only (loopback too).
        let issuer = Issuer::parse(&p.issuer, false).map_err(|e| fail("issuer", &e))?;
        if p.client_id.is_empty() {
            return Err(fail("client_id", "is required"));
        }
        let secret = match (&p.client_secret, &p.client_secret_file) {
            (Some(secret), None) => Some(secret.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| fail("client_secret_file", &format!("cannot be read: {e}")))?;
                Some(SecretString::from(text.trim().to_owned()))
            }
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(fail(
                    "client_secret",
                    "and client_secret_file exclude each other",
                ));
            }
        };
        let client_auth = match (p.client_auth.as_deref(), secret) {
            (None | Some("client_secret_basic"), Some(secret)) => {
                UpstreamClientAuth::Secret(secret)
            }
            (Some("private_key_jwt"), None) => UpstreamClientAuth::PrivateKeyJwt,
            (Some("private_key_jwt"), Some(_)) => {
                return Err(fail(
                    "client_secret",
                    "must be absent with client_auth = \"private_key_jwt\"",
                ));
            }
            (None | Some("client_secret_basic"), None) => {
                return Err(fail(
                    "client_secret",
                    "or client_secret_file is required (or client_auth = \"private_key_jwt\")",
                ));
            }
            (Some(_), _) => {
                return Err(fail(
                    "client_auth",
                    "must be client_secret_basic or private_key_jwt",
                ));
            }
        };
        let mut scopes = vec!["openid".to_owned()];
        for scope in &p.scopes {
            if scope.is_empty() || scope.contains(char::is_whitespace) {
                return Err(fail("scopes", "scopes are single tokens"));
            }
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        providers.push(UpstreamProvider {
            id: p.id.clone(),
            name: p.name.clone(),
            issuer,
            client_id: p.client_id.clone(),
            client_auth,
            scopes,
            jit_provisioning: p.jit_provisioning,
            link_verified_email: p.link_verified_email,
        });
    }
    Ok(providers)
}

fn check_token_exchange(raw: &RawSettings) -> Result<(), ConfigError> {
    let ttl = raw.token_exchange.id_jag_ttl;
    if ttl < Duration::from_secs(10) || ttl > Duration::from_secs(300) {
        return Err(invalid(
            "token_exchange.id_jag_ttl",
            "must be between 10s and 5m (XAA-22)",
        ));
    }
    Ok(())
}

fn check_dcr(raw: &RawSettings) -> Result<(), ConfigError> {
    let dcr = &raw.dcr;
    if dcr.registrations_per_address_per_hour == 0 {
        return Err(invalid(
            "dcr.registrations_per_address_per_hour",
            "must be at least 1 (set dcr.mode = \"off\" to refuse every registration)",
        ));
    }
    if dcr.unused_client_ttl < Duration::from_secs(3600) {
        return Err(invalid("dcr.unused_client_ttl", "must be at least 1h"));
    }
    // Larger bodies would meet the server-wide limit first, which answers without the
    // RFC 7591 error body (DCR-3).
    if dcr.max_request_bytes < 1024 || dcr.max_request_bytes > raw.server.max_body_bytes {
        return Err(invalid(
            "dcr.max_request_bytes",
            "must be at least 1024 and at most server.max_body_bytes",
        ));
    }
    Ok(())
}

/// Reads `outbound.extra_ca_file`: one or more PEM `CERTIFICATE` blocks, each usable as
/// a trust anchor.
fn load_extra_roots(raw: &RawSettings) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    const KEY: &str = "outbound.extra_ca_file";
    let Some(path) = &raw.outbound.extra_ca_file else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(path)
        .map_err(|e| invalid(KEY, format!("cannot read {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(KEY, format!("{} is not valid PEM ({e})", path.display())))?;
    if certs.is_empty() {
        return Err(invalid(
            KEY,
            format!("{} holds no PEM CERTIFICATE block", path.display()),
        ));
    }
    let mut store = rustls::RootCertStore::empty();
    for cert in &certs {
        store.add(cert.clone()).map_err(|e| {
            invalid(
                KEY,
                format!(
                    "{} holds a certificate that is not a usable CA ({e})",
                    path.display()
                ),
            )
        })?;
    }
    Ok(certs)
}

fn resolve_kek(raw: &RawSettings) -> Result<KekSource, ConfigError> {
    let keys = &raw.keys;
    let source = match (&keys.encryption_key, &keys.encryption_key_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "keys.encryption_key",
                "and keys.encryption_key_file are both set; set one",
            ));
        }
        (Some(inline), None) => KekSource::Configured(inline.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "keys.encryption_key_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            KekSource::Configured(SecretString::from(text.trim().to_owned()))
        }
        (None, None) => KekSource::GeneratedFile(keys.data_dir.join("key-encryption-key")),
    };
    if let KekSource::Configured(secret) = &source {
        crate::crypto::KeyEncryptionKey::parse(secret)
            .map_err(|e| invalid("keys.encryption_key", e.to_string()))?;
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_key(toml: &str) -> String {
        match Settings::from_toml(toml) {
            Err(ConfigError::Invalid { key, .. }) => key.to_owned(),
            Err(other) => other.to_string(),
            Ok(_) => "ok".to_owned(),
        }
    }

    #[test]
    fn defaults_need_an_issuer_or_dev_mode() {
        assert_eq!(err_key(""), "server.issuer");
        let dev = Settings::from_toml("[dev]\nloopback = true").unwrap();
        assert_eq!(dev.issuer.as_str(), "http://127.0.0.1:8080");
        assert_eq!(dev.database_kind, DatabaseKind::Sqlite);
    }

    #[test]
    fn meta_3_issuer_rules() {
        let ok =
            Settings::from_toml("[server]\nissuer = \"https://auth.example.com/tenant\"").unwrap();
        assert_eq!(ok.issuer.path(), "/tenant");
        assert_eq!(
            ok.issuer.well_known_path("oauth-authorization-server"),
            "/.well-known/oauth-authorization-server/tenant"
        );
        for bad in [
            "http://auth.example.com",
            "https://auth.example.com/?x=1",
            "https://auth.example.com#f",
            "https://auth.example.com/",
            "https://user@auth.example.com",
            "auth.example.com",
            "http://127.0.0.1:8080",
        ] {
            assert_eq!(
                err_key(&format!("[server]\nissuer = \"{bad}\"")),
                "server.issuer",
                "{bad}"
            );
        }
    }

    #[test]
    fn core_2_http_issuer_only_on_loopback_in_dev_mode() {
        let toml = "[dev]\nloopback = true\n[server]\nissuer = \"http://localhost:9000\"";
        assert!(Settings::from_toml(toml).is_ok());
        let remote = "[dev]\nloopback = true\n[server]\nissuer = \"http://auth.example.com\"";
        assert_eq!(err_key(remote), "server.issuer");
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = "[server]\nissuer = \"https://a.example\"\n";
        assert_eq!(
            err_key(&format!("{base}[database]\nurl = \"mysql://x\"")),
            "database.url"
        );
        assert_eq!(
            err_key(&format!("{base}[admin]\nbootstrap_token = \"short\"")),
            "admin.bootstrap_token"
        );
        assert_eq!(
            err_key(&format!("{base}[keys]\nencryption_key = \"nope\"")),
            "keys.encryption_key"
        );
        assert_eq!(
            err_key(&format!("{base}[tokens]\naccess_token_ttl = \"2d\"")),
            "tokens.access_token_ttl"
        );
        assert_eq!(
            err_key(&format!("{base}[sessions]\nlogin_attempts_per_address = 0")),
            "sessions.login_attempts_per_address"
        );
        let unknown = err_key("[server]\nissuer = \"https://a.example\"\nlisten_typo = 1");
        assert!(unknown.contains("listen_typo"), "{unknown}");
        let listen = err_key("[server]\nlisten = \"nonsense\"\nissuer = \"https://a.example\"");
        assert!(listen.contains("server.listen"), "{listen}");
    }

    #[test]
    fn cimd_12_outbound_bounds_name_their_key() {
        let base = "[server]\nissuer = \"https://a.example\"\n[outbound]\n";
        for (line, key) in [
            ("connect_timeout = \"0s\"", "outbound.connect_timeout"),
            ("connect_timeout = \"3s\"", "outbound.connect_timeout"),
            ("total_timeout = \"6s\"", "outbound.total_timeout"),
            ("total_timeout = \"1s\"", "outbound.total_timeout"),
            (
                "max_concurrent_per_host = 0",
                "outbound.max_concurrent_per_host",
            ),
            (
                "requests_per_host_per_minute = 0",
                "outbound.requests_per_host_per_minute",
            ),
        ] {
            assert_eq!(err_key(&format!("{base}{line}")), key, "{line}");
        }
        let ok = Settings::from_toml(&format!("{base}total_timeout = \"2s\"")).unwrap();
        assert!(ok.outbound_extra_roots.is_empty());
        assert!(!ok.outbound_allows_loopback());
    }

    #[test]
    fn dcr_1_registration_is_off_by_default_and_open_in_the_dev_config() {
        let defaults = Settings::from_toml("[server]\nissuer = \"https://a.example\"").unwrap();
        assert_eq!(defaults.raw.dcr.mode, DcrMode::Off);
        assert!(!defaults.dcr_enabled());
        assert_eq!(defaults.raw.dcr.registrations_per_address_per_hour, 20);
        assert_eq!(defaults.raw.dcr.max_request_bytes, 16384);
        let dev = Settings::from_toml(include_str!("../../config/dev.toml")).unwrap();
        assert_eq!(dev.raw.dcr.mode, DcrMode::Open);
    }

    #[test]
    fn dcr_bounds_name_their_key() {
        let base = "[server]\nissuer = \"https://a.example\"\n[dcr]\n";
        for (line, key) in [
            (
                "registrations_per_address_per_hour = 0",
                "dcr.registrations_per_address_per_hour",
            ),
            ("unused_client_ttl = \"10m\"", "dcr.unused_client_ttl"),
            ("max_request_bytes = 100", "dcr.max_request_bytes"),
            ("max_request_bytes = 100000", "dcr.max_request_bytes"),
        ] {
            assert_eq!(err_key(&format!("{base}{line}")), key, "{line}");
        }
        let mode = err_key(&format!("{base}mode = \"sometimes\""));
        assert!(mode.contains("dcr.mode"), "{mode}");
        let token = Settings::from_toml(&format!("{base}mode = \"token\"")).unwrap();
        assert_eq!(token.raw.dcr.mode, DcrMode::Token);
        assert!(token.dcr_enabled());
    }

    #[test]
    fn cimd_9_outbound_loopback_follows_dev_mode_or_its_own_key() {
        let dev = Settings::from_toml("[dev]\nloopback = true").unwrap();
        assert!(dev.outbound_allows_loopback());
        let own = Settings::from_toml(
            "[server]\nissuer = \"https://a.example\"\n[outbound]\nallow_loopback = true",
        )
        .unwrap();
        assert!(own.outbound_allows_loopback());
    }

    #[test]
    fn outbound_extra_ca_file_must_be_a_readable_pem_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let base = "[server]\nissuer = \"https://a.example\"\n[outbound]\n";
        let missing = dir.path().join("missing.pem");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for path in [&missing, &garbage, &broken] {
            let toml = format!("{base}extra_ca_file = {:?}", path.display().to_string());
            assert_eq!(
                err_key(&toml),
                "outbound.extra_ca_file",
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn config_check_output_redacts_secrets() {
        let toml = "[server]\nissuer = \"https://a.example\"\n\
                    [admin]\nbootstrap_token = \"0123456789abcdef0123456789abcdef\"\n\
                    [database]\nurl = \"postgres://u:hunter2@db/x\"";
        let printed = Settings::from_toml(toml).unwrap().to_redacted_toml();
        assert!(!printed.contains("0123456789abcdef"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }
}
