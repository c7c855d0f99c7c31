//! Figures for the admin console's dashboard.

use super::{Store, StoreError, with_pool};

/// How many objects of each kind exist.
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub struct ObjectCounts {
    /// MCP servers.
    pub servers: i64,
    /// Clients of every source (pre-registered, DCR, CIMD).
    pub clients: i64,
    /// User accounts.
    pub users: i64,
    /// Trusted enterprise IdPs.
    pub idps: i64,
}

const COUNT_OBJECTS: &str = "\
SELECT (SELECT COUNT(*) FROM servers) AS servers, (SELECT COUNT(*) FROM clients) AS clients, \
       (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM trusted_idps) AS idps";

impl Store {
    /// The dashboard's object counts, in one round trip.
    pub async fn count_objects(&self) -> Result<ObjectCounts, StoreError> {
        let counts = with_pool!(self, |pool| sqlx::query_as(COUNT_OBJECTS)
            .fetch_one(pool)
            .await)?;
        Ok(counts)
    }
}
