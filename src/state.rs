//! `AppState`: the single list of services shared by every request.

use std::sync::Arc;

use std::ops::Deref;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::admin::AdminContext;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::federation::Federation;
use crate::jose::KeyRing;
use crate::net::OutboundClient;
use crate::oauth::OAuthContext;
use crate::oauth::metadata::MetadataRenderer;
use crate::oauth::register::Registrar;
use crate::session::Sessions;
use crate::session::login::LoginGuard;
use crate::storage::Store;

/// Shared services behind one `Arc`: axum clones the state for every request, so a
/// clone must be one reference-count increment, not one per service
/// (ARCHITECTURE section 10).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// Wraps the services.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl FromRef<AppState> for AdminContext {
    fn from_ref(state: &AppState) -> Self {
        state.admin.clone()
    }
}

impl FromRef<AppState> for OAuthContext {
    fn from_ref(state: &AppState) -> Self {
        state.oauth.clone()
    }
}

impl FromRef<AppState> for Sessions {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}

impl FromRef<AppState> for Arc<Registrar> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.registrar)
    }
}

/// The services every request may use; built once at start-up.
pub struct Services {
    /// Checked configuration.
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Store,
    /// Signing keys and the JWKS.
    pub keyring: Arc<KeyRing>,
    /// Time source.
    pub clock: SharedClock,
    /// What the admin use-cases need.
    pub admin: AdminContext,
    /// What the protocol use-cases need.
    pub oauth: OAuthContext,
    /// Browser sessions and CSRF tokens.
    pub sessions: Sessions,
    /// Sign-in attempt limits.
    pub login_guard: Arc<LoginGuard>,
    /// Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// The one outbound HTTP client (SEC-19).
    pub outbound: OutboundClient,
    /// Dynamic client registration (DCR-*).
    pub registrar: Arc<Registrar>,
    /// The authorization-server metadata document (META-*).
    pub metadata: Arc<MetadataRenderer>,
    /// Sign-in through upstream OpenID providers (FED-*).
    pub federation: Arc<Federation>,
}
