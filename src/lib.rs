//! mcp-authz: an OAuth 2.1 authorization server for MCP (Model Context Protocol) servers.
//!
//! Map of the crate (one-way dependencies, top to bottom; see ARCHITECTURE in the docs):
//!
//! - [`cli`] parses commands; [`app`] builds the shared services and serves HTTP.
//! - [`config`], [`clock`], [`telemetry`], [`crypto`]: leaves any layer may use.
//! - [`domain`]: pure OAuth/MCP types and rules (no I/O).
//! - [`storage`]: the one `Store` over SQLite or PostgreSQL; the only place that speaks SQL.
//! - [`jose`]: signing keys, key rotation and the public JWKS.
//! - [`net`]: the one outbound HTTP client, guarded against server-side request forgery.
//! - [`oauth`], [`admin`]: use-cases (protocol decisions, admin changes with audit events).
//! - [`web`]: the HTTP adapter; nothing imports it.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable
)]

pub mod admin;
pub mod app;
pub mod audit;
pub mod cimd;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod federation;
pub mod jose;
pub mod net;
pub mod oauth;
pub mod session;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod web;
