//! Revoked access-token ids (RFC 7009), mirrored in memory on PostgreSQL so that
//! introspecting a JWT reads no row (ARCHITECTURE section 10), while a revocation made
//! by any instance reaches every instance.
//!
//! Each revocation is written to `revoked_access_tokens` and announced with
//! `pg_notify` in the same transaction, so the announcement leaves only on commit.
//! Every serving instance LISTENs on a dedicated connection; once listening, it loads
//! the live rows and then applies each announcement. Until that load has finished, and
//! whenever the connection is lost, lookups read the table: a gap in the feed can
//! never let a revoked token pass. SQLite always reads the table (local and cheap; its
//! instances do not share a server to announce through).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::{Backend, Store, StoreError};
use crate::clock::{SharedClock, UnixTime};

/// The notification channel (per database, so deployments never hear each other).
pub(super) const CHANNEL: &str = "mcp_authz_revoked_access_tokens";
/// Wait between attempts to (re)establish the feed.
const RETRY: Duration = Duration::from_secs(1);

pub(super) const ANNOUNCE: &str = "SELECT pg_notify($1, $2)";
const LIVE_ROWS: &str = "SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > $1";

/// The in-memory copy. `synced` is true only while the feed is known to be complete.
#[derive(Debug, Default)]
pub(super) struct RevokedMirror {
    state: RwLock<MirrorState>,
}

#[derive(Debug, Default)]
struct MirrorState {
    synced: bool,
    jtis: HashMap<String, UnixTime>,
    /// Size after the last prune: the next prune waits until the map doubles.
    pruned_len: usize,
}

impl RevokedMirror {
    /// `Some(revoked)` when the mirror can answer, `None` when the table must.
    pub(super) fn lookup(&self, jti: &str) -> Option<bool> {
        let state = self.state.read().ok()?;
        state.synced.then(|| state.jtis.contains_key(jti))
    }

    /// Records a revocation (this instance's own at once; others' from the feed).
    pub(super) fn insert(&self, jti: &str, expires_at: UnixTime, now: UnixTime) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        state.jtis.insert(jti.to_owned(), expires_at);
        if state.jtis.len() > state.pruned_len.saturating_mul(2).max(1024) {
            state.jtis.retain(|_, exp| *exp > now);
            state.pruned_len = state.jtis.len();
        }
    }

    fn replace(&self, rows: Vec<(String, UnixTime)>) {
        if let Ok(mut state) = self.state.write() {
            state.jtis = rows.into_iter().collect();
            state.pruned_len = state.jtis.len();
            state.synced = true;
        }
    }

    fn unsync(&self) {
        if let Ok(mut state) = self.state.write() {
            state.synced = false;
        }
    }
}

/// The announcement payload: `"<expires_at> <jti>"`.
pub(super) fn payload(jti: &str, expires_at: UnixTime) -> String {
    format!("{expires_at} {jti}")
}

fn parse_payload(payload: &str) -> Option<(&str, UnixTime)> {
    let (exp, jti) = payload.split_once(' ')?;
    Some((jti, exp.parse().ok()?))
}

impl Store {
    /// Keeps this instance's revocation mirror in step with the database until
    /// `shutdown` (PostgreSQL only; without it every lookup reads the table).
    pub fn spawn_revocation_feed(&self, clock: SharedClock, shutdown: CancellationToken) {
        let Backend::Postgres(pool) = &self.backend else {
            return;
        };
        let pool = pool.clone();
        let mirror = std::sync::Arc::clone(&self.revoked);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    outcome = follow(&pool, &mirror, &clock) => {
                        mirror.unsync();
                        if let Err(error) = outcome {
                            tracing::warn!(%error, "revocation feed interrupted; reading the table meanwhile");
                        }
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
            mirror.unsync();
        });
    }
}

/// Listens, loads, then applies announcements until the connection ends.
async fn follow(
    pool: &PgPool,
    mirror: &RevokedMirror,
    clock: &SharedClock,
) -> Result<(), StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    let rows: Vec<(String, UnixTime)> = sqlx::query_as(LIVE_ROWS)
        .bind(clock.now())
        .fetch_all(pool)
        .await?;
    mirror.replace(rows);
    // `try_recv` answers `None` when the connection is gone: resynchronise from scratch.
    while let Some(notification) = listener.try_recv().await? {
        if let Some((jti, expires_at)) = parse_payload(notification.payload()) {
            mirror.insert(jti, expires_at, clock.now());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_even_with_spaces_in_the_id() {
        let text = payload("a b", 1_700_000_000);
        assert_eq!(parse_payload(&text), Some(("a b", 1_700_000_000)));
        assert_eq!(parse_payload("garbage"), None);
    }

    #[test]
    fn mirror_answers_only_while_synced() {
        let mirror = RevokedMirror::default();
        mirror.insert("j1", 100, 0);
        assert_eq!(
            mirror.lookup("j1"),
            None,
            "not yet synced: the table answers"
        );
        mirror.replace(vec![("j2".to_owned(), 100)]);
        assert_eq!(mirror.lookup("j2"), Some(true));
        assert_eq!(
            mirror.lookup("j1"),
            Some(false),
            "a resync replaces the copy"
        );
        mirror.insert("j3", 100, 0);
        assert_eq!(mirror.lookup("j3"), Some(true));
        mirror.unsync();
        assert_eq!(mirror.lookup("j3"), None);
    }
}
