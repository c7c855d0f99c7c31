//! Single use of client-assertion `jti`s (CC-8), shared by every instance.

use super::{Store, StoreError, with_pool};
use crate::clock::UnixTime;

/// Inserts the pair, or takes over a row whose expiry has passed (cleanup may not have
/// run yet); a live row makes the statement change nothing.
const CLAIM_JTI: &str = "\
INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) \
ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = $3 \
 WHERE client_assertion_jtis.expires_at <= $4";

impl Store {
    /// Records that `client_id` used `jti`, remembered until `expires_at`. `false` when
    /// the pair was already used and has not expired: a replay (CC-8). One statement,
    /// so exactly one of two concurrent uses wins, on one instance or many.
    pub async fn claim_assertion_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let claimed = with_pool!(self, |pool| {
            sqlx::query(CLAIM_JTI)
                .bind(client_id)
                .bind(jti)
                .bind(expires_at)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(claimed == 1)
    }
}
