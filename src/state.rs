//! `AppState`: the single list of services shared by every request.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::admin::AdminContext;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::jose::KeyRing;
use crate::net::OutboundClient;
use crate::oauth::OAuthContext;
use crate::oauth::metadata::MetadataRenderer;
use crate::oauth::register::Registrar;
use crate::session::Sessions;
use crate::session::login::LoginGuard;
use crate::storage::Store;

/// Shared services; cheap to clone (handles and `Arc`s only).
#[derive(Clone, FromRef)]
pub struct AppState {
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
}
