//! Identifiers of stored objects.
//!
//! Generated identifiers carry a type prefix, which keeps the subject spaces of users
//! and clients disjoint (TOK-3, SEC-15): a user id always starts with `usr_`, a
//! generated client id with `cli_` (pre-registered) or `dcr_` (dynamically registered),
//! and a CIMD client id is an https URL.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, random_id};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every generated id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id (128 random bits after the prefix).
            pub fn generate() -> Result<Self, CryptoError> {
                random_id($prefix).map(Self)
            }

            /// Wraps an id read from storage or a request path.
            pub fn from_stored(raw: String) -> Self {
                Self(raw)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies a registered MCP server (a protected resource).
    ServerId,
    "srv_"
);
id_type!(
    /// Identifies a client: generated for registered and DCR clients, the URL for CIMD.
    ClientId,
    "cli_"
);
impl ClientId {
    /// The prefix of ids given to dynamically registered clients.
    pub const DCR_PREFIX: &'static str = "dcr_";

    /// A fresh id for a dynamically registered client (DCR-7, SEC-15, CIMD-2): it never
    /// starts with `https://` nor with a user id's prefix, whatever the client asked for.
    pub fn generate_dynamic() -> Result<Self, CryptoError> {
        random_id(Self::DCR_PREFIX).map(Self)
    }
}

id_type!(
    /// Identifies a local user account; also the `sub` of user tokens (TOK-3).
    UserId,
    "usr_"
);
id_type!(
    /// Identifies an admin-API token (not secret; the token itself is).
    AdminTokenId,
    "adm_"
);

id_type!(
    /// Identifies an initial access token for dynamic registration (not secret; the
    /// token itself is).
    InitialAccessTokenId,
    "iat_"
);

id_type!(
    /// Identifies a trusted enterprise IdP (XAA-18).
    IdpId,
    "idp_"
);

id_type!(
    /// Identifies an authorization server we issue ID-JAGs for (XAA-21).
    IdJagAudienceId,
    "aud_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_15_user_and_client_ids_never_collide() {
        let user = UserId::generate().unwrap();
        let client = ClientId::generate().unwrap();
        assert!(user.as_str().starts_with("usr_"));
        assert!(client.as_str().starts_with("cli_"));
        assert_ne!(user.as_str(), client.as_str());
        assert_eq!(client.as_str().len(), 4 + 22);
    }

    #[test]
    fn dcr_7_dynamic_client_ids_are_neither_urls_nor_user_ids() {
        let id = ClientId::generate_dynamic().unwrap();
        assert!(id.as_str().starts_with("dcr_"), "{id}");
        assert!(!id.as_str().starts_with("https://"));
        assert!(!id.as_str().starts_with(UserId::PREFIX));
        assert_ne!(id, ClientId::generate_dynamic().unwrap());
    }
}
