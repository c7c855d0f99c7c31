//! Admin use-cases shared by the JSON API (and later the console): validate, write,
//! audit. Each change and its audit event are written in one transaction, so the two
//! skins over these functions cannot diverge in validation or auditing.

pub mod audiences;
pub mod audit;
pub mod cimd;
pub mod client_secrets;
pub mod clients;
pub mod grants;
pub mod idp_keys;
pub mod idps;
pub mod initial_access_tokens;
pub mod keys;
pub mod servers;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::crypto::{CryptoError, SecretHasher};
use crate::storage::{PageRequest, Store, StoreError};

pub use crate::audit::Actor;

/// What the admin use-cases need from the server.
#[derive(Clone)]
pub struct AdminContext {
    /// The database.
    pub store: Store,
    /// Keyed hash for generated secrets and admin tokens.
    pub hasher: SecretHasher,
    /// Time source.
    pub clock: SharedClock,
    /// Policy knobs from configuration.
    pub policy: Arc<AdminPolicy>,
    /// The guarded outbound client, for discovering a trusted IdP's keys from its
    /// metadata; absent in one-shot CLI commands, which never need it.
    pub outbound: Option<crate::net::OutboundClient>,
}

/// Configuration the admin use-cases apply.
#[derive(Debug, Clone)]
pub struct AdminPolicy {
    /// `dev.loopback`: allows http loopback resource URIs and redirect URIs.
    pub allow_loopback_http: bool,
    /// Largest page of a list.
    pub max_page_size: u32,
    /// The configured bootstrap token, if any.
    pub bootstrap_token: Option<secrecy::SecretString>,
    /// `cimd.require_approval`.
    pub cimd_require_approval: bool,
    /// `cimd.allow_hosts`, listed read-only beside the API's rules.
    pub cimd_allow_hosts: Vec<crate::config::HostPattern>,
    /// `cimd.deny_hosts`, likewise.
    pub cimd_deny_hosts: Vec<crate::config::HostPattern>,
    /// This server's issuer: never a trusted IdP of itself (XAA-25).
    pub issuer: crate::config::Issuer,
    /// Ids of the configured upstream providers (an audience may be served through one,
    /// XAA-26).
    pub upstream_provider_ids: Vec<String>,
}

/// Why an admin request failed; the web layer maps each to a status code.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Input broke a rule; `field` is a JSON path such as `scopes[1].name`.
    #[error("{field}: {message}")]
    Invalid {
        /// Which input.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No such object.
    #[error("not found")]
    NotFound,
    /// The value collides with an existing object.
    #[error("{field}: {message}")]
    Conflict {
        /// Which input.
        field: String,
        /// What it collides with.
        message: String,
    },
    /// A server-side failure; never the caller's fault.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AdminError {
    /// An `Invalid` error for `field`.
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict { field } => Self::Conflict {
                field: field.to_owned(),
                message: "is already in use".to_owned(),
            },
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<CryptoError> for AdminError {
    fn from(err: CryptoError) -> Self {
        Self::Internal(Box::new(err))
    }
}

/// Paging parameters as callers send them.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Items per page (default 50, at most `admin.max_page_size`).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// Paging and search parameters of the lists that can be searched (users, servers,
/// clients).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Items per page (default 50, at most `admin.max_page_size`).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// Only items that contain this, in any case: users by username or email, servers
    /// by name or resource URI, clients by name or client id.
    pub q: Option<String>,
}

impl SearchQuery {
    /// The paging part, and the search text when there is one.
    pub fn split(self) -> (ListQuery, Option<String>) {
        let search = self
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        let paging = ListQuery {
            limit: self.limit,
            after: self.after,
        };
        (paging, search)
    }
}

impl AdminContext {
    /// Clamps a list query to the configured bounds.
    pub fn page_request(&self, query: ListQuery) -> Result<PageRequest, AdminError> {
        let limit = query.limit.unwrap_or(50);
        if limit == 0 || limit > self.policy.max_page_size {
            return Err(AdminError::invalid(
                "limit",
                format!("must be between 1 and {}", self.policy.max_page_size),
            ));
        }
        Ok(PageRequest {
            after: query.after,
            limit,
        })
    }
}

/// Deserialises a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}
