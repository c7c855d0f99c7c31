//! Pure OAuth and MCP types and rules: no I/O, no HTTP, no SQL.
//!
//! Every protocol string becomes one of these types at the edge (parse, don't
//! validate), so the layers above never handle a raw scope, resource or redirect URI.

pub mod client;
pub mod idp;
pub mod ids;
pub mod pkce;
pub mod redirect_uri;
pub mod registration;
pub mod resource;
pub mod scope;
pub mod server;
pub mod user;
