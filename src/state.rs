//! `AppState`: the single list of services shared by every request.

use std::sync::Arc;

use axum::extract::FromRef;
use bytes::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::admin::AdminContext;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::jose::KeyRing;
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
    /// Pre-rendered RFC 8414 metadata.
    pub metadata: MetadataDocument,
    /// Prometheus exposition.
    pub metrics: PrometheusHandle,
}

/// The metadata document bytes, rendered once at start.
#[derive(Clone, Debug)]
pub struct MetadataDocument(pub Bytes);
