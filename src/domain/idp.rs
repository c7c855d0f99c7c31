//! Trusted enterprise IdPs: whose ID-JAGs this server redeems and within which limits
//! (XAA-4, XAA-8..13, XAA-18).

use super::client::ClientKeys;
use super::ids::{ClientId, IdpId, ServerId};
use super::scope::ScopeSet;
use crate::clock::UnixTime;

/// JWS algorithms an IdP may be allowed to sign with (no `none`, no HMAC: TOK-7).
pub const IDP_ALGORITHMS: [&str; 9] = [
    "ES256", "ES384", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
];

/// A local client an IdP may speak for, and the id its ID-JAGs name it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpClient {
    /// The ID-JAG `client_id` value (the local id when the IdP knows it, XAA-22).
    pub idp_client_id: String,
    /// The local client.
    pub client_id: ClientId,
}

/// A trusted IdP as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIdp {
    /// Id.
    pub id: IdpId,
    /// Exactly the `iss` of its ID-JAGs (XAA-4).
    pub issuer: String,
    /// Display name.
    pub name: String,
    /// Where its signing keys come from (never `None`).
    pub keys: ClientKeys,
    /// Allowed JWS algorithms, from [`IDP_ALGORITHMS`].
    pub algorithms: Vec<String>,
    /// When set, ID-JAGs must carry this `tenant`.
    pub tenant: Option<String>,
    /// Scopes its ID-JAGs may grant at most; `None`: no narrowing beyond the servers'.
    pub scope: Option<ScopeSet>,
    /// The MCP servers it may reach; `None`: every enabled server.
    pub allowed_servers: Option<Vec<ServerId>>,
    /// The clients it may speak for (XAA-8).
    pub clients: Vec<IdpClient>,
    /// Public (CIMD) clients may redeem its ID-JAGs (XAA-9); off by default.
    pub allow_public_clients: bool,
    /// Unknown subjects get an account on first use (XAA-13); off by default.
    pub jit_provisioning: bool,
    /// Disabled IdPs are not trusted at all.
    pub is_enabled: bool,
    /// Created.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

impl TrustedIdp {
    /// The local client an ID-JAG `client_id` claim names, if this IdP may speak for it.
    pub fn client_named(&self, claim: &str) -> Option<&ClientId> {
        self.clients
            .iter()
            .find(|c| c.idp_client_id == claim)
            .map(|c| &c.client_id)
    }

    /// Whether its ID-JAGs may reach `server`.
    pub fn allows_server(&self, server: &ServerId) -> bool {
        self.allowed_servers
            .as_ref()
            .is_none_or(|ids| ids.contains(server))
    }
}
