//! Protocol use-cases: validate, decide, issue. No HTTP types here.

pub mod authorize;
pub mod client_assertion;
pub mod client_auth;
pub mod clients;
pub mod consent;
pub mod context;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod issue;
pub mod metadata;
pub mod params;
pub mod register;
pub mod revoke;
pub mod selection;

pub use context::{FlowPolicy, OAuthContext};
