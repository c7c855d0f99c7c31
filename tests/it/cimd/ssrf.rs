//! The resolver never fetches from special-use addresses (CIMD-9, CIMD-10): names are
//! resolved by the guarded resolver and refused when any address is loopback, private,
//! link-local (the cloud metadata address), CGNAT, ULA or an IPv4-mapped form of one,
//! before any connection. Loopback is allowed only in dev mode, which the default
//! configuration is not.
//!
//! No packet leaves the machine: other addresses exist only in the test resolver's
//! table, and the one real server here (on 127.0.0.1) must never be asked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use mcp_authz::cimd::{CimdError, CimdResolver, CimdSettings};
use mcp_authz::clock::{MockClock, SharedClock};
use mcp_authz::config::Settings;
use mcp_authz::net::{OutboundClient, OutboundPolicy};
use serde_json::Value;

use super::{
    DOC_PATH, REQUEST_REDIRECT, USER_MESSAGE, assert_error_page, assert_rejected, native_document,
};
use crate::both_backends;
use crate::harness::flow::{RESOURCE, authorize_path};
use crate::harness::tls_fixture::{DocServer, Reply};
use crate::harness::{Backend, START, TestApp, TestDatabase};

async fn cimd_9_resolver_refuses_special_use_addresses_before_connecting(backend: Backend) {
    let docs = DocServer::start().await;
    let port = docs.port();
    let database = TestDatabase::create(backend).await;
    // The default configuration: no dev mode, no outbound.allow_loopback.
    let toml = format!(
        "[server]\nissuer = \"https://as.example\"\n[database]\nurl = \"{}\"\n{}",
        database.url,
        docs.outbound_toml("connect_timeout = \"1s\"\ntotal_timeout = \"2s\"")
    );
    let settings = Settings::from_toml(&toml).unwrap();
    assert!(!settings.outbound_allows_loopback());
    let store = mcp_authz::app::connect_store(&settings).await.unwrap();
    store.migrate().await.unwrap();

    let address = |text: &str| -> IpAddr { text.parse().unwrap() };
    let table = HashMap::from([
        ("metadata.test".to_owned(), vec![address("169.254.169.254")]),
        ("private.test".to_owned(), vec![address("10.0.0.7")]),
        ("mapped.test".to_owned(), vec![address("::ffff:10.0.0.7")]),
        ("ula.test".to_owned(), vec![address("fd00::1")]),
        ("cgnat.test".to_owned(), vec![address("100.64.0.9")]),
        (
            "mixed.test".to_owned(),
            vec![address("93.184.215.14"), address("192.168.1.10")],
        ),
        // The real document server, under its own name and under another.
        ("localhost".to_owned(), vec![address("127.0.0.1")]),
        ("loopback.test".to_owned(), vec![address("127.0.0.1")]),
    ]);
    let http =
        OutboundClient::with_resolver_override(&OutboundPolicy::from_settings(&settings), table)
            .unwrap();
    let clock: SharedClock = Arc::new(MockClock::new(START));
    let resolver = CimdResolver::new(
        http,
        store.clone(),
        clock,
        CimdSettings::from_settings(&settings),
    );

    let local_id = docs.url(DOC_PATH);
    docs.set(DOC_PATH, Reply::json(&native_document(&local_id, "Local")));
    let cases = [
        (
            "https://metadata.test/client.json".to_owned(),
            "169.254.169.254",
        ),
        ("https://private.test/client.json".to_owned(), "10.0.0.7"),
        (
            "https://mapped.test/client.json".to_owned(),
            "::ffff:10.0.0.7",
        ),
        ("https://ula.test/client.json".to_owned(), "fd00::1"),
        ("https://cgnat.test/client.json".to_owned(), "100.64.0.9"),
        ("https://mixed.test/client.json".to_owned(), "192.168.1.10"),
        (
            "https://169.254.169.254/client.json".to_owned(),
            "169.254.169.254",
        ),
        ("https://10.0.0.7/client.json".to_owned(), "10.0.0.7"),
        ("https://[fd00::1]/client.json".to_owned(), "fd00::1"),
        (local_id.clone(), "127.0.0.1"),
        (
            format!("https://loopback.test:{port}{DOC_PATH}"),
            "127.0.0.1",
        ),
        (format!("https://127.0.0.1:{port}{DOC_PATH}"), "127.0.0.1"),
    ];
    for (id, forbidden) in &cases {
        let error = resolver.resolve(id).await.unwrap_err();
        let expected = format!("forbidden address {forbidden}");
        assert!(
            matches!(&error, CimdError::Fetch(message) if message.contains(&expected)),
            "{id}: {error:?} does not name {forbidden}"
        );
        assert_eq!(error.user_message(), USER_MESSAGE, "{id}");
    }
    assert_eq!(docs.total_hits(), 0, "the document server was contacted");

    let events = store.list_audit_events(None, 100).await.unwrap();
    for (id, forbidden) in &cases {
        let details: Vec<Value> = events
            .iter()
            .filter(|e| e.action == "cimd.rejected" && &e.target_id == id)
            .map(|e| serde_json::from_str(&e.detail).unwrap())
            .collect();
        assert_eq!(details.len(), 1, "{id}: {details:?}");
        assert_eq!(details[0]["kind"], "fetch_failed", "{id}");
        assert!(
            details[0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains(forbidden)),
            "{id}: {}",
            details[0]
        );
    }
    store.close().await;
    database.drop_database().await;
}

async fn cimd_9_default_configuration_refuses_loopback_documents(backend: Backend) {
    let docs = DocServer::start().await;
    // The harness's dev mode switched off; an https issuer, as production requires.
    let toml = format!(
        "[server]\nissuer = \"https://auth.test\"\n[dev]\nloopback = false\n{}",
        docs.outbound_toml("")
    );
    let app = TestApp::spawn_with(backend, "", &toml).await;
    app.create_server(RESOURCE, &["tools:read"], &["tools:read"])
        .await;
    let literal_path = "/c.json";
    let ids = [
        docs.url(DOC_PATH),
        format!("https://127.0.0.1:{}{literal_path}", docs.port()),
    ];
    docs.set(DOC_PATH, Reply::json(&native_document(&ids[0], "Named")));
    docs.set(
        literal_path,
        Reply::json(&native_document(&ids[1], "Literal")),
    );
    for id in &ids {
        let response = app
            .get(&authorize_path(
                id,
                REQUEST_REDIRECT,
                &[("resource", RESOURCE)],
            ))
            .await;
        assert_error_page(response, USER_MESSAGE, id).await;
        assert_rejected(&app, id, "fetch_failed", "forbidden address 127.0.0.1").await;
    }
    assert_eq!(docs.total_hits(), 0, "the document server was contacted");
    app.finish().await;
}

both_backends!(
    backend: cimd_9_resolver_refuses_special_use_addresses_before_connecting,
    cimd_9_default_configuration_refuses_loopback_documents,
);
