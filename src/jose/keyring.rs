//! The key ring: signing keys loaded from storage, the current signer, the JWKS.
//!
//! Every instance computes the same current signer from the stored publish / activate /
//! retire / expire instants and the clock (META-10, ARCHITECTURE section 4): a key is
//! listed in the JWKS from `publish_at` until `expire_at`, signs from `activate_at`
//! until `retire_at`, and among keys that may sign, the latest activation wins.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use jsonwebtoken::{DecodingKey, Header, Validation};
use serde::Serialize;
use serde_json::Value;

use super::generate;
use super::signer::PreparedKey;
use crate::audit::{self, Actor};
use crate::clock::{UnixTime, seconds};
use crate::config::{Settings, SigningAlgorithm};
use crate::crypto::{CryptoError, KeyEncryptionKey, random_bytes};
use crate::storage::{KeyInsert, SigningKeyRecord, Store, StoreError};

/// AEAD purpose label binding sealed private keys to their use.
const SEAL_PURPOSE: &str = "signing-key";

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing, unsealing or randomness failed (a wrong key-encryption key shows here).
    #[error("signing keys: {0}")]
    Crypto(CryptoError),
    /// Key generation or conversion failed.
    #[error("could not generate or load a signing key")]
    Generate,
    /// No key may sign at this instant.
    #[error("no active signing key")]
    NoActiveKey,
    /// Signing failed.
    #[error("signing failed")]
    Signing,
    /// A stored key names an unknown algorithm.
    #[error("stored key {0} has an unknown algorithm")]
    UnknownAlgorithm(String),
    /// The key-encryption-key file could not be read or written.
    #[error("cannot access {0}: {1}")]
    Io(std::path::PathBuf, #[source] std::io::Error),
}

/// The rotation schedule from configuration.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// Algorithm of new keys.
    pub algorithm: SigningAlgorithm,
    /// A new key is published this long before it signs.
    pub publish_ahead: Duration,
    /// How long a key signs before the next takes over.
    pub rotate_after: Duration,
    /// How long a retired key stays in the JWKS.
    pub retain_after_retire: Duration,
    /// JWKS `Cache-Control` max-age.
    pub jwks_max_age: Duration,
}

impl KeyPolicy {
    /// The policy in `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        let keys = &settings.raw.keys;
        Self {
            algorithm: keys.algorithm,
            publish_ahead: keys.publish_ahead,
            rotate_after: keys.rotate_after,
            retain_after_retire: keys.retain_after_retire,
            jwks_max_age: keys.jwks_max_age,
        }
    }
}

/// A key ready to sign.
struct LoadedKey {
    kid: String,
    algorithm: SigningAlgorithm,
    signer: PreparedKey,
    decoding: DecodingKey,
    public_jwk: Value,
    publish_at: UnixTime,
    activate_at: UnixTime,
    retire_at: Option<UnixTime>,
    expire_at: Option<UnixTime>,
}

impl LoadedKey {
    fn may_sign_at(&self, now: UnixTime) -> bool {
        self.activate_at <= now && self.retire_at.is_none_or(|r| now < r)
    }

    fn is_published_at(&self, now: UnixTime) -> bool {
        self.publish_at <= now && self.expire_at.is_none_or(|e| now < e)
    }
}

/// The JWKS document rendered for an interval in which the published set is constant.
struct RenderedJwks {
    bytes: Bytes,
    from: UnixTime,
    until: UnixTime,
}

/// An immutable snapshot of the keys.
struct KeySet {
    keys: Arc<Vec<LoadedKey>>,
    jwks: RenderedJwks,
}

impl KeySet {
    fn new(keys: Arc<Vec<LoadedKey>>, now: UnixTime) -> Self {
        let jwks = render_jwks(&keys, now);
        Self { keys, jwks }
    }

    fn current_signer(&self, now: UnixTime) -> Option<&LoadedKey> {
        self.keys
            .iter()
            .filter(|k| k.may_sign_at(now))
            .max_by(|a, b| (a.activate_at, &a.kid).cmp(&(b.activate_at, &b.kid)))
    }
}

fn render_jwks(keys: &[LoadedKey], now: UnixTime) -> RenderedJwks {
    let published: Vec<&Value> = keys
        .iter()
        .filter(|k| k.is_published_at(now))
        .map(|k| &k.public_jwk)
        .collect();
    let until = keys
        .iter()
        .flat_map(|k| [Some(k.publish_at), k.expire_at])
        .flatten()
        .filter(|t| *t > now)
        .min()
        .unwrap_or(UnixTime::MAX);
    let document = serde_json::json!({ "keys": published });
    RenderedJwks {
        bytes: Bytes::from(document.to_string()),
        from: now,
        until,
    }
}

/// One key as `mcp-authz keys list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: String,
    /// Listed in the JWKS from.
    pub publish_at: UnixTime,
    /// Signs from.
    pub activate_at: UnixTime,
    /// Stops signing at.
    pub retire_at: Option<UnixTime>,
    /// Leaves the JWKS at.
    pub expire_at: Option<UnixTime>,
    /// `signing`, `published` (waiting or retired) or `scheduled`.
    pub state: &'static str,
}

/// Signing keys shared by every request; cheap to read, swapped atomically on change.
pub struct KeyRing {
    store: Store,
    kek: KeyEncryptionKey,
    policy: KeyPolicy,
    current: ArcSwap<KeySet>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the keys, creating the first one when the database has none that signs.
    pub async fn load(
        store: Store,
        kek: KeyEncryptionKey,
        policy: KeyPolicy,
        now: UnixTime,
    ) -> Result<Self, KeyError> {
        let ring = Self {
            store,
            kek,
            policy,
            current: ArcSwap::from_pointee(KeySet::new(Arc::new(Vec::new()), now)),
        };
        ring.reload(now).await?;
        if ring.current.load().current_signer(now).is_none() {
            let first = ring.new_record(now, now, now)?;
            let event = audit::event(
                &Actor::System,
                "key.created",
                "signing_key",
                &first.kid,
                Value::Null,
            );
            ring.store
                .insert_signing_key(&first, KeyInsert::First, &event, now)
                .await?;
            ring.reload(now).await?;
        }
        Ok(ring)
    }

    /// Re-reads the keys from storage (other instances may have rotated).
    pub async fn reload(&self, now: UnixTime) -> Result<(), KeyError> {
        let records = self.store.list_signing_keys(now).await?;
        let keys = records
            .iter()
            .map(|record| self.unseal(record))
            .collect::<Result<Vec<_>, _>>()?;
        self.current
            .store(Arc::new(KeySet::new(Arc::new(keys), now)));
        Ok(())
    }

    /// Schedules a successor: published now, signing after `publish_ahead`, so every
    /// cached JWKS holds it before its first token (META-10). Returns its `kid`, or
    /// `None` when another successor is already pending.
    pub async fn rotate(&self, actor: &Actor, now: UnixTime) -> Result<Option<String>, KeyError> {
        let activate_at = now.saturating_add(seconds(self.policy.publish_ahead));
        let record = self.new_record(now, now, activate_at)?;
        let expire_predecessors_at =
            activate_at.saturating_add(seconds(self.policy.retain_after_retire));
        let detail = serde_json::json!({ "activate_at": activate_at });
        let event = audit::event(actor, "key.rotated", "signing_key", &record.kid, detail);
        let kind = KeyInsert::Successor {
            expire_predecessors_at,
        };
        let inserted = self
            .store
            .insert_signing_key(&record, kind, &event, now)
            .await?;
        self.reload(now).await?;
        Ok(inserted.then_some(record.kid))
    }

    /// Rotates when the current signer has signed for `rotate_after` and no successor
    /// is pending; run periodically by every instance (inserts are guarded).
    pub async fn rotate_if_due(&self, now: UnixTime) -> Result<Option<String>, KeyError> {
        self.reload(now).await?;
        let due = {
            let set = self.current.load();
            let pending = set.keys.iter().any(|k| k.activate_at > now);
            let signer_due = set.current_signer(now).is_none_or(|k| {
                now.saturating_sub(k.activate_at) >= seconds(self.policy.rotate_after)
            });
            !pending && signer_due
        };
        if due {
            self.rotate(&Actor::System, now).await
        } else {
            Ok(None)
        }
    }

    /// Signs `claims` as a JWS with header `typ` and the current key's `kid` (TOK-1).
    pub fn sign<T: Serialize>(
        &self,
        typ: &str,
        claims: &T,
        now: UnixTime,
    ) -> Result<String, KeyError> {
        let set = self.current.load();
        let key = set.current_signer(now).ok_or(KeyError::NoActiveKey)?;
        let mut header = Header::new(generate::jws_algorithm(key.algorithm));
        header.typ = Some(typ.to_owned());
        header.kid = Some(key.kid.clone());
        key.signer.sign_compact(&header, claims)
    }

    /// Verifies a JWS signed by one of our keys that is still published at `now`, with
    /// header `typ` equal to `typ` (TOK-7: explicit type, the key's own algorithm only).
    /// Time claims are *not* checked here: callers compare them with the injected clock.
    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        now: UnixTime,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some(typ) {
            return None;
        }
        let set = self.current.load();
        let kid = header.kid?;
        let key = set
            .keys
            .iter()
            .find(|k| k.kid == kid && k.is_published_at(now))?;
        let mut validation = Validation::new(generate::jws_algorithm(key.algorithm));
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The JWKS document at `now`: public keys only, rendered once per change.
    pub fn jwks(&self, now: UnixTime) -> Bytes {
        let set = self.current.load();
        if (set.jwks.from..set.jwks.until).contains(&now) {
            return set.jwks.bytes.clone();
        }
        // The published set changed since the last rendering (a key's publish or
        // expire instant passed): render again and keep it for the new interval.
        let fresh = KeySet::new(Arc::clone(&set.keys), now);
        let bytes = fresh.jwks.bytes.clone();
        self.current.store(Arc::new(fresh));
        bytes
    }

    /// JWKS cache lifetime for `Cache-Control`.
    pub fn jwks_max_age(&self) -> Duration {
        self.policy.jwks_max_age
    }

    /// The `kid` that signs at `now`.
    pub fn current_kid(&self, now: UnixTime) -> Option<String> {
        self.current
            .load()
            .current_signer(now)
            .map(|k| k.kid.clone())
    }

    /// Every loaded key with its state at `now`.
    pub fn summaries(&self, now: UnixTime) -> Vec<KeySummary> {
        let set = self.current.load();
        let signer = set.current_signer(now).map(|k| k.kid.as_str());
        set.keys
            .iter()
            .map(|k| KeySummary {
                kid: k.kid.clone(),
                algorithm: generate::algorithm_name(k.algorithm).to_owned(),
                publish_at: k.publish_at,
                activate_at: k.activate_at,
                retire_at: k.retire_at,
                expire_at: k.expire_at,
                state: if Some(k.kid.as_str()) == signer {
                    "signing"
                } else if k.is_published_at(now) {
                    "published"
                } else {
                    "scheduled"
                },
            })
            .collect()
    }

    fn new_record(
        &self,
        now: UnixTime,
        publish_at: UnixTime,
        activate_at: UnixTime,
    ) -> Result<SigningKeyRecord, KeyError> {
        use base64::Engine as _;
        let algorithm = self.policy.algorithm;
        let kid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<12>()?);
        let pkcs8 = generate::generate_pkcs8(algorithm)?;
        let encoding = generate::encoding_key(algorithm, &pkcs8)?;
        let jwk = generate::public_jwk(algorithm, &pkcs8, &encoding, &kid)?;
        Ok(SigningKeyRecord {
            private_key: self.kek.seal(SEAL_PURPOSE, &pkcs8)?,
            kid,
            algorithm: generate::algorithm_name(algorithm).to_owned(),
            public_jwk: jwk.to_string(),
            publish_at,
            activate_at,
            retire_at: None,
            expire_at: None,
            created_at: now,
        })
    }

    fn unseal(&self, record: &SigningKeyRecord) -> Result<LoadedKey, KeyError> {
        let algorithm = generate::parse_algorithm(&record.algorithm)
            .ok_or_else(|| KeyError::UnknownAlgorithm(record.kid.clone()))?;
        let pkcs8 = self.kek.open(SEAL_PURPOSE, &record.private_key)?;
        let public_jwk: Value =
            serde_json::from_str(&record.public_jwk).map_err(|_| KeyError::Generate)?;
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(public_jwk.clone()).map_err(|_| KeyError::Generate)?;
        Ok(LoadedKey {
            kid: record.kid.clone(),
            algorithm,
            signer: PreparedKey::from_pkcs8(algorithm, &pkcs8)?,
            decoding: DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Generate)?,
            public_jwk,
            publish_at: record.publish_at,
            activate_at: record.activate_at,
            retire_at: record.retire_at,
            expire_at: record.expire_at,
        })
    }
}
