//! Which client a request names (CIMD-2): a client from the store (pre-registered or
//! DCR), or, for an https URL, the client its metadata document describes.

use std::sync::Arc;

use super::context::OAuthContext;
use crate::cimd::{CimdClient, CimdError, is_document_url};
use crate::domain::client::Client;
use crate::domain::ids::ClientId;
use crate::storage::{ClientEntry, StoreError};

/// A client found and usable (enabled; for CIMD, allowed, approved and valid).
#[derive(Debug, Clone)]
pub struct KnownClient {
    /// The client.
    pub client: Client,
    /// Its validated document, for CIMD clients.
    pub document: Option<Arc<CimdClient>>,
    /// The stored row with its unrevoked secrets, for clients from the store.
    pub stored: Option<Arc<ClientEntry>>,
}

impl KnownClient {
    /// The fingerprint to pin to requests, consents and codes (CIMD-22).
    pub fn fingerprint(&self) -> Option<String> {
        self.document.as_ref().map(|d| d.fingerprint.clone())
    }
}

/// Why no usable client was found.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No such client, or it is disabled.
    #[error("unknown client")]
    Unknown,
    /// The CIMD client cannot be used (CIMD-24).
    #[error(transparent)]
    Cimd(CimdError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds the client `client_id` names.
pub async fn find(ctx: &OAuthContext, client_id: &str) -> Result<KnownClient, LookupError> {
    if is_document_url(client_id) {
        return match ctx.cimd.resolve(client_id).await {
            Ok(document) => Ok(KnownClient {
                client: document.client.clone(),
                document: Some(document),
                stored: None,
            }),
            Err(CimdError::NotEnabled) => Err(LookupError::Unknown),
            Err(CimdError::Store(error)) => Err(LookupError::Store(error)),
            Err(error) => Err(LookupError::Cimd(error)),
        };
    }
    // The hot path (every token request): served from the registry cache.
    let entry = ctx
        .store
        .find_client_entry(&ClientId::from_stored(client_id.to_owned()))
        .await?;
    match entry {
        Some(entry) if entry.client.is_enabled => Ok(KnownClient {
            client: entry.client.clone(),
            document: None,
            stored: Some(entry),
        }),
        _ => Err(LookupError::Unknown),
    }
}
