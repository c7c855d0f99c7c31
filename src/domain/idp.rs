//! Trusted enterprise IdPs: whose ID-JAGs this server redeems and within which limits
//! (XAA-4, XAA-8..13, XAA-18).

use super::client::ClientKeys;
use super::ids::{ClientId, IdJagAudienceId, IdpId, ServerId};
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
    /// An unknown subject whose `email` claim equals an account's recorded address is
    /// linked to that account (XAA-13); off by default. The IdP is trusted to have
    /// verified the address: an `email_verified: false` claim still refuses the link.
    pub link_verified_email: bool,
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

/// How users are named in the ID-JAGs for an audience (XAA-22: `sub` is the user's id
/// at the resource authorization server, which learned it from us).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectClaim {
    /// Our user id (`usr_…`): stable and never reassigned.
    UserId,
    /// The username: readable, but changes when the account is renamed.
    Username,
}

impl SubjectClaim {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::Username => "username",
        }
    }

    /// Parses the stored and API name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user_id" => Some(Self::UserId),
            "username" => Some(Self::Username),
            _ => None,
        }
    }
}

/// A client that may obtain ID-JAGs for an audience, and its id there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceClient {
    /// The local client.
    pub client_id: ClientId,
    /// The `client_id` the ID-JAG carries (its id at the audience, XAA-22).
    pub client_id_at_audience: String,
}

/// A resource authorization server this server issues ID-JAGs for, acting as the
/// enterprise IdP (XAA-19..22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdJagAudience {
    /// Id.
    pub id: IdJagAudienceId,
    /// Its issuer: the ID-JAG `aud`.
    pub issuer: String,
    /// Other names a client may use as `audience` for it.
    pub aliases: Vec<String>,
    /// Display name.
    pub name: String,
    /// Resource URIs at it that an ID-JAG may name (XAA-21).
    pub resources: Vec<String>,
    /// The most an ID-JAG for it may carry; `None`: what the client asks.
    pub scope: Option<ScopeSet>,
    /// How users are named there.
    pub subject_claim: SubjectClaim,
    /// The clients that may obtain ID-JAGs for it.
    pub clients: Vec<AudienceClient>,
    /// Disabled audiences get nothing.
    pub is_enabled: bool,
    /// XAA-26: the upstream provider (its configured id) that issues this audience's
    /// ID-JAGs, for users who signed in through it; `None`: this server signs them.
    pub via_provider: Option<String>,
    /// Created.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

impl IdJagAudience {
    /// Whether `raw` names this audience (its issuer or an alias).
    pub fn is_named(&self, raw: &str) -> bool {
        self.issuer == raw || self.aliases.iter().any(|a| a == raw)
    }

    /// The client's id at this audience, if it may obtain ID-JAGs for it.
    pub fn client_id_at(&self, client: &ClientId) -> Option<&str> {
        self.clients
            .iter()
            .find(|c| &c.client_id == client)
            .map(|c| c.client_id_at_audience.as_str())
    }
}
