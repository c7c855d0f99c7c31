//! Builds the shared services from settings and serves HTTP with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admin::{AdminContext, AdminPolicy};
use crate::cimd::{CimdResolver, CimdSettings};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::{CryptoError, SecretHasher};
use crate::federation::{CALLBACK_PATH, Federation, FederationServices};
use crate::jose::{self, KeyError, KeyPolicy, KeyRing, KeySets};
use crate::net::{NetError, OutboundClient, OutboundPolicy};
use crate::oauth::metadata::{Features, MetadataRenderer};
use crate::oauth::register::{DcrPolicy, Registrar};
use crate::oauth::{FlowPolicy, OAuthContext};
use crate::session::Sessions;
use crate::session::login::LoginGuard;
use crate::state::{AppState, Services};
use crate::storage::{PoolOptions, Store, StoreError};
use crate::telemetry;

/// How often every instance re-reads keys, checks whether rotation is due, and
/// removes expired rows.
const KEY_SCHEDULE_INTERVAL: Duration = Duration::from_secs(60);
/// How often the metrics recorder folds the latency samples it holds into its
/// histograms (the interval the Prometheus exporter's own upkeep task uses).
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Signing keys could not be loaded or created.
    #[error("{0}")]
    Keys(#[from] KeyError),
    /// The key-encryption key is unusable.
    #[error("{0}")]
    Crypto(#[from] CryptoError),
    /// The outbound HTTP client could not be built.
    #[error("{0}")]
    Outbound(#[from] NetError),
    /// A declared trusted IdP could not be applied.
    #[error("configuration: {0}")]
    Declared(#[from] crate::admin::AdminError),
    /// The listen address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
}

/// Connects to the configured database with the configured pool bounds.
pub async fn connect_store(settings: &Settings) -> Result<Store, StoreError> {
    let database = &settings.raw.database;
    let options = PoolOptions {
        max_connections: database.max_connections,
        acquire_timeout: database.acquire_timeout,
        registry_cache_ttl: database.registry_cache_ttl,
    };
    Store::connect(settings.database_kind, &database.url, options).await
}

/// The admin use-cases' context for these settings.
pub fn admin_context(
    settings: &Settings,
    store: Store,
    hasher: SecretHasher,
    clock: SharedClock,
    outbound: Option<OutboundClient>,
) -> AdminContext {
    AdminContext {
        store,
        hasher,
        clock,
        outbound,
        policy: Arc::new(AdminPolicy {
            allow_loopback_http: settings.dev_loopback(),
            max_page_size: settings.raw.admin.max_page_size,
            bootstrap_token: settings.raw.admin.bootstrap_token.clone(),
            cimd_require_approval: settings.raw.cimd.require_approval,
            cimd_allow_hosts: settings.cimd_allow_hosts.clone(),
            cimd_deny_hosts: settings.cimd_deny_hosts.clone(),
            issuer: settings.issuer.clone(),
            upstream_provider_ids: settings
                .upstream_providers
                .iter()
                .map(|p| p.id.clone())
                .collect(),
        }),
    }
}

/// Connects, migrates, loads keys and assembles the state every request shares.
pub async fn build_state(settings: Settings, clock: SharedClock) -> Result<AppState, StartError> {
    let outbound = OutboundClient::new(&OutboundPolicy::from_settings(&settings))?;
    let store = connect_store(&settings).await?;
    store.migrate().await?;
    let kek = jose::load_key_encryption_key(&settings)?;
    let hasher = kek.secret_hasher()?;
    let federation_state_hasher = kek.keyed_hasher("federation state")?;
    let sessions = Sessions::new(
        store.clone(),
        kek.keyed_hasher("session id")?,
        kek.keyed_hasher("csrf")?,
        clock.clone(),
        settings.raw.sessions.ttl,
        kek.clone(),
    );
    let keyring = KeyRing::load(
        store.clone(),
        kek.clone(),
        KeyPolicy::from_settings(&settings),
        clock.now(),
    )
    .await?;
    let keyring = Arc::new(keyring);
    let admin = admin_context(
        &settings,
        store.clone(),
        hasher.clone(),
        clock.clone(),
        Some(outbound.clone()),
    );
    crate::admin::idps::apply_declared(&admin, &settings.raw.trusted_idps).await?;
    let registrar = Arc::new(Registrar::new(
        store.clone(),
        clock.clone(),
        hasher.clone(),
        DcrPolicy::from_settings(&settings),
    ));
    let key_sets = Arc::new(KeySets::new(outbound.clone(), clock.clone()));
    let federation = Arc::new(Federation::new(
        settings.upstream_providers.clone(),
        FederationServices {
            http: outbound.clone(),
            key_sets: Arc::clone(&key_sets),
            store: store.clone(),
            state_hasher: federation_state_hasher,
            clock: clock.clone(),
            kek,
            keyring: Arc::clone(&keyring),
        },
        settings.issuer.endpoint(CALLBACK_PATH),
    ));
    let oauth = OAuthContext {
        store: store.clone(),
        clock: clock.clone(),
        issuer: settings.issuer.clone(),
        hasher,
        keyring: Arc::clone(&keyring),
        policy: Arc::new(FlowPolicy::from_settings(&settings)),
        cimd: Arc::new(CimdResolver::new(
            outbound.clone(),
            store.clone(),
            clock.clone(),
            CimdSettings::from_settings(&settings),
        )),
        key_sets,
        federation: Arc::clone(&federation),
        security: crate::audit::SecurityLog::new(
            store.clone(),
            clock.clone(),
            settings.raw.admin.security_events_per_minute,
        ),
    };
    let limits = &settings.raw.sessions;
    let login_guard = Arc::new(LoginGuard::new(
        limits.login_attempts_per_username,
        limits.login_attempts_per_address,
    ));
    let metadata = Arc::new(MetadataRenderer::new(
        settings.issuer.clone(),
        Features {
            client_id_metadata_documents: oauth.cimd.is_enabled(),
            id_token_signing_alg: Some(settings.raw.keys.algorithm.as_str()),
            token_exchange: settings.raw.token_exchange.enabled,
        },
        settings.dcr_enabled(),
    ));
    Ok(AppState::new(Services {
        federation,
        metadata,
        settings: Arc::new(settings),
        store,
        keyring,
        clock,
        admin,
        oauth,
        sessions,
        login_guard,
        metrics: telemetry::metrics_handle(),
        outbound,
        registrar,
    }))
}

/// A server running in the background (tests, embedding).
pub struct RunningServer {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The shared state, for inspection.
    pub state: AppState,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, closes the pool.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
        self.state.store.close().await;
    }
}

/// Binds `server.listen`, builds the state and serves until `stop`.
pub async fn spawn(settings: Settings, clock: SharedClock) -> Result<RunningServer, StartError> {
    let listen = settings.raw.server.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| StartError::Bind(listen, e))?;
    spawn_on(listener, settings, clock).await
}

/// Builds the state and serves on an already bound `listener` until `stop` (tests bind
/// port 0 first so that the issuer can name the real port).
pub async fn spawn_on(
    listener: TcpListener,
    settings: Settings,
    clock: SharedClock,
) -> Result<RunningServer, StartError> {
    let listen = settings.raw.server.listen;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(listen, e))?;
    let state = build_state(settings, clock).await?;
    let shutdown = CancellationToken::new();
    spawn_key_schedule(&state, shutdown.clone());
    spawn_metrics_upkeep(&state, shutdown.clone());
    state
        .store
        .spawn_revocation_feed(state.clock.clone(), shutdown.clone());
    let router = crate::web::router(state.clone());
    let stopped = shutdown.clone();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(router),
        )
        .with_graceful_shutdown(async move { stopped.cancelled().await })
        .await
    });
    Ok(RunningServer {
        addr,
        state,
        shutdown,
        task,
    })
}

/// Serves until SIGTERM or Ctrl-C, then drains within `server.shutdown_grace`.
pub async fn serve(settings: Settings, clock: SharedClock) -> Result<(), StartError> {
    let grace = settings.raw.server.shutdown_grace;
    let server = spawn(settings, clock).await?;
    tracing::info!(
        addr = %server.addr,
        issuer = server.state.settings.issuer.as_str(),
        database = ?server.state.store.kind(),
        "mcp-authz is listening"
    );
    if server.state.settings.dev_loopback() {
        tracing::warn!(
            "dev.loopback is on: http issuer and loopback targets allowed; never run this in production"
        );
        tracing::info!(
            "admin API token: run `mcp-authz admin create-token` with the same --config \
             (from a checkout: cargo run -- --config config/dev.toml admin create-token)"
        );
    }
    // The console's first-run path: say how to make the first administrator.
    if let Ok(false) = server.state.store.has_admin_user().await {
        tracing::info!(
            console = %format!("http://{}/admin", server.addr),
            "admin console: no administrator yet; create one with \
             `mcp-authz users create --username NAME --admin` and the same --config \
             (from a checkout: cargo run -- --config config/dev.toml users create --username admin --admin)"
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    if tokio::time::timeout(grace, server.stop()).await.is_err() {
        tracing::warn!("requests still running after the shutdown grace period; exiting");
    }
    Ok(())
}

fn spawn_key_schedule(state: &AppState, shutdown: CancellationToken) {
    let keyring = Arc::clone(&state.keyring);
    let store = state.store.clone();
    let clock = state.clock.clone();
    let registrar = Arc::clone(&state.registrar);
    let retention = crate::clock::seconds(state.settings.raw.admin.audit_retention);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(KEY_SCHEDULE_INTERVAL);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {
                    match keyring.rotate_if_due(clock.now()).await {
                        Ok(Some(kid)) => tracing::info!(%kid, "scheduled a new signing key"),
                        Ok(None) => {}
                        Err(error) => tracing::error!(%error, "key schedule failed"),
                    }
                    match store.delete_expired(clock.now()).await {
                        Ok(0) => {}
                        Ok(removed) => tracing::debug!(removed, "removed expired rows"),
                        Err(error) => tracing::warn!(%error, "cleanup failed"),
                    }
                    let cutoff = clock.now().saturating_sub(retention);
                    match store.delete_audit_events_before(cutoff).await {
                        Ok(0) => {}
                        Ok(removed) => tracing::info!(removed, "removed audit events past retention"),
                        Err(error) => tracing::warn!(%error, "audit retention failed"),
                    }
                    match registrar.delete_unused_clients(clock.now()).await {
                        Ok(0) => {}
                        Ok(removed) => tracing::info!(removed, "removed unused registered clients"),
                        Err(error) => tracing::warn!(%error, "cleanup of registered clients failed"),
                    }
                }
            }
        }
    });
}

/// The Prometheus recorder keeps every latency sample until something drains it: a
/// scrape of `/metrics` does, and so does this task, so that a server nobody scrapes
/// does not grow by one sample per request.
fn spawn_metrics_upkeep(state: &AppState, shutdown: CancellationToken) {
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => metrics.run_upkeep(),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
