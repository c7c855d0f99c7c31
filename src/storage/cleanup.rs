//! Removal of rows whose purpose has passed, run periodically by every instance.

use super::{Store, StoreError, with_tx};
use crate::clock::UnixTime;

/// Codes and requests are kept a day past expiry, so replays still find them (CORE-14).
const GRACE: i64 = 24 * 3600;

/// Each statement with whether it keeps rows for [`GRACE`] past expiry.
const STATEMENTS: [(&str, bool); 9] = [
    ("DELETE FROM sessions WHERE expires_at <= $1", false),
    (
        "DELETE FROM authorization_requests WHERE expires_at <= $1",
        true,
    ),
    (
        "DELETE FROM authorization_codes WHERE expires_at <= $1",
        true,
    ),
    (
        "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
        false,
    ),
    ("DELETE FROM grants WHERE expires_at <= $1", true),
    (
        "DELETE FROM client_assertion_jtis WHERE expires_at <= $1",
        false,
    ),
    ("DELETE FROM id_jag_jtis WHERE expires_at <= $1", false),
    (
        "DELETE FROM federation_states WHERE expires_at <= $1",
        false,
    ),
    (
        "DELETE FROM upstream_id_tokens WHERE expires_at <= $1",
        false,
    ),
];

impl Store {
    /// Deletes expired sessions, requests, codes, deny-list entries and grants (with
    /// their refresh tokens); returns the number of rows removed.
    pub async fn delete_expired(&self, now: UnixTime) -> Result<u64, StoreError> {
        let removed = with_tx!(self, |tx| {
            let mut removed = 0;
            for (sql, keeps_grace) in STATEMENTS {
                let cutoff = if keeps_grace {
                    now.saturating_sub(GRACE)
                } else {
                    now
                };
                removed += sqlx::query(sql)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            removed
        });
        Ok(removed)
    }
}
