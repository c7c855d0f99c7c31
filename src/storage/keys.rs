//! Signing keys with publish / activate / retire / expire instants (META-10).
//!
//! Every instance derives the current signer from these rows and the clock, so no
//! leader is needed; inserts are guarded so concurrent instances add one key, not two.

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;

/// A stored signing key; `private_key` is sealed under the key-encryption key.
#[derive(Debug, Clone, FromRow)]
pub struct SigningKeyRecord {
    /// Key id (`kid`), unique.
    pub kid: String,
    /// JWS algorithm name (`ES256`, `EdDSA`, `RS256`).
    pub algorithm: String,
    /// Sealed PKCS#8 private key.
    pub private_key: Vec<u8>,
    /// The public JWK as JSON.
    pub public_jwk: String,
    /// From when the key is listed in the JWKS.
    pub publish_at: i64,
    /// From when it signs.
    pub activate_at: i64,
    /// When it stops signing (`None`: until a successor activates).
    pub retire_at: Option<i64>,
    /// When it leaves the JWKS (`None`: not scheduled).
    pub expire_at: Option<i64>,
    /// When created.
    pub created_at: i64,
}

const KEY_COLUMNS: &str = "kid, algorithm, private_key, public_jwk, publish_at, activate_at, \
    retire_at, expire_at, created_at";
const INSERT_KEY_HEAD: &str = "\
INSERT INTO signing_keys (kid, generation, algorithm, private_key, public_jwk, publish_at, \
    activate_at, retire_at, expire_at, created_at) \
SELECT $1, COALESCE((SELECT MAX(generation) FROM signing_keys), 0) + 1, $2, $3, $4, $5, $6, \
       NULL, NULL, $7 ";
/// First key: only when no key signs now or later.
const FIRST_KEY_GUARD: &str = "\
WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retire_at IS NULL OR retire_at > $8)";
/// Successor: only when no other key is already waiting to activate.
const SUCCESSOR_GUARD: &str =
    "WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE activate_at > $8)";
const RETIRE_PREDECESSORS: &str = "\
UPDATE signing_keys SET retire_at = $2, expire_at = $3 \
 WHERE kid <> $1 AND activate_at <= $2 AND (retire_at IS NULL OR retire_at > $2)";

/// How a new key relates to existing ones.
#[derive(Debug, Clone, Copy)]
pub enum KeyInsert {
    /// The very first key: inserted only when no key signs now or later.
    First,
    /// A successor: inserted only when none is pending; keys active before it retire
    /// at its activation and leave the JWKS at `expire_predecessors_at`.
    Successor {
        /// When keys it replaces leave the JWKS.
        expire_predecessors_at: UnixTime,
    },
}

impl Store {
    /// Inserts `key` under the guard `kind` selects. Returns `false` when another
    /// instance's key came first (the guard, or the unique generation, refused it; nothing
    /// is written then).
    pub async fn insert_signing_key(
        &self,
        key: &SigningKeyRecord,
        kind: KeyInsert,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let guard = match kind {
            KeyInsert::First => FIRST_KEY_GUARD,
            KeyInsert::Successor { .. } => SUCCESSOR_GUARD,
        };
        let sql = format!("{INSERT_KEY_HEAD}{guard}");
        let inserted = with_tx!(self, |tx| {
            let result = sqlx::query(&sql)
                .bind(&key.kid)
                .bind(&key.algorithm)
                .bind(&key.private_key)
                .bind(&key.public_jwk)
                .bind(key.publish_at)
                .bind(key.activate_at)
                .bind(key.created_at)
                .bind(now)
                .execute(&mut *tx)
                .await;
            let inserted = match result.map_err(StoreError::from) {
                Ok(done) => done.rows_affected() == 1,
                // A concurrent instance took this generation: its key stands.
                Err(StoreError::Conflict { .. }) => return Ok(false),
                Err(other) => return Err(other),
            };
            if inserted {
                if let KeyInsert::Successor {
                    expire_predecessors_at,
                } = kind
                {
                    sqlx::query(RETIRE_PREDECESSORS)
                        .bind(&key.kid)
                        .bind(key.activate_at)
                        .bind(expire_predecessors_at)
                        .execute(&mut *tx)
                        .await?;
                }
                insert_audit!(tx, event, now);
            }
            inserted
        });
        Ok(inserted)
    }

    /// Every key not yet past its `expire_at`, oldest activation first.
    pub async fn list_signing_keys(
        &self,
        now: UnixTime,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys WHERE expire_at IS NULL OR expire_at > $1 \
             ORDER BY activate_at, kid"
        );
        let rows = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(now)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }
}
