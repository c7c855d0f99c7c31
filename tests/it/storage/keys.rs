//! Signing-key storage under concurrency: instances agree on one key.

use std::sync::Arc;

use mcp_authz::clock::{Clock as _, MockClock};
use mcp_authz::config::SigningAlgorithm;
use mcp_authz::crypto::KeyEncryptionKey;
use mcp_authz::jose::{KeyPolicy, KeyRing};
use mcp_authz::storage::{PoolOptions, Store};
use secrecy::SecretString;

use crate::harness::{Backend, KEK, START, TestDatabase};

async fn concurrent_first_starts_create_exactly_one_key(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let kind = match backend {
        Backend::Sqlite => mcp_authz::config::DatabaseKind::Sqlite,
        Backend::Postgres => mcp_authz::config::DatabaseKind::Postgres,
    };
    let options = PoolOptions {
        max_connections: 8,
        acquire_timeout: std::time::Duration::from_secs(10),
        registry_cache_ttl: std::time::Duration::from_secs(5),
    };
    let store = Store::connect(kind, &database.url, options).await.unwrap();
    store.migrate().await.unwrap();
    let kek = KeyEncryptionKey::parse(&SecretString::from(KEK)).unwrap();
    let policy = KeyPolicy {
        algorithm: SigningAlgorithm::ES256,
        publish_ahead: std::time::Duration::from_secs(3600),
        rotate_after: std::time::Duration::from_secs(86_400),
        retain_after_retire: std::time::Duration::from_secs(86_400),
        jwks_max_age: std::time::Duration::from_secs(300),
    };
    let clock = Arc::new(MockClock::new(START));
    // Eight "instances" start at the same moment on an empty database.
    let mut starts = Vec::new();
    for _ in 0..8 {
        let (store, kek, now) = (store.clone(), kek.clone(), clock.now());
        starts.push(tokio::spawn(async move {
            KeyRing::load(store, kek, policy, now).await
        }));
    }
    let mut kids = Vec::new();
    for start in starts {
        let ring = start.await.unwrap().unwrap();
        kids.push(ring.current_kid(clock.now()).unwrap());
    }
    kids.dedup();
    assert_eq!(kids.len(), 1, "every instance signs with the same key");
    assert_eq!(store.list_signing_keys(clock.now()).await.unwrap().len(), 1);
    // Concurrent rotations add exactly one successor.
    let mut rotations = Vec::new();
    for _ in 0..4 {
        let (store, kek, now) = (store.clone(), kek.clone(), clock.now());
        rotations.push(tokio::spawn(async move {
            let ring = KeyRing::load(store, kek, policy, now).await.unwrap();
            ring.rotate(&mcp_authz::audit::Actor::System, now)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for rotation in rotations {
        winners += usize::from(rotation.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
    assert_eq!(store.list_signing_keys(clock.now()).await.unwrap().len(), 2);
    // A wrong key-encryption key cannot load the stored keys.
    let wrong = KeyEncryptionKey::parse(&SecretString::from(
        KeyEncryptionKey::generate_encoded().unwrap(),
    ))
    .unwrap();
    assert!(
        KeyRing::load(store.clone(), wrong, policy, clock.now())
            .await
            .is_err()
    );
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn meta_10_concurrent_first_starts_agree_on_one_key_sqlite() {
    concurrent_first_starts_create_exactly_one_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn meta_10_concurrent_first_starts_agree_on_one_key_postgres() {
    concurrent_first_starts_create_exactly_one_key(Backend::Postgres).await;
}
