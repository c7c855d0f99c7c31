//! The one integration-test binary: the real server on a real socket, a fresh database
//! per test, every storage and endpoint test on SQLite and on PostgreSQL.

mod harness;

mod admin;
mod browser;
mod cimd;
mod cli;
mod client_credentials;
mod cross_app_access;
mod federation;
mod net;
mod oauth;
mod ops;
mod storage;
