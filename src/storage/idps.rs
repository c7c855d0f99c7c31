//! Trusted IdPs (XAA-18), external identities of users (XAA-13, FED-4) and the single
//! use of ID-JAG `jti`s (XAA-12).

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Page, PageRequest, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::client::ClientKeys;
use crate::domain::idp::{IdpClient, TrustedIdp};
use crate::domain::ids::{ClientId, IdpId, ServerId, UserId};
use crate::domain::scope::ScopeSet;
use crate::domain::user::User;

#[derive(FromRow)]
struct IdpRow {
    idp_id: String,
    issuer: String,
    name: String,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    algorithms: String,
    tenant: Option<String>,
    scope: Option<String>,
    allows_all_servers: bool,
    allow_public_clients: bool,
    jit_provisioning: bool,
    link_verified_email: bool,
    is_enabled: bool,
    created_at: i64,
    updated_at: i64,
}

const IDP_COLUMNS: &str = "idp_id, issuer, name, jwks, jwks_uri, algorithms, tenant, scope, \
    allows_all_servers, allow_public_clients, jit_provisioning, is_enabled, created_at, updated_at, \
    link_verified_email";
const INSERT_IDP: &str = "\
INSERT INTO trusted_idps (idp_id, issuer, name, jwks, jwks_uri, algorithms, tenant, scope, \
    allows_all_servers, allow_public_clients, jit_provisioning, is_enabled, created_at, updated_at, \
    link_verified_email) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const UPDATE_IDP: &str = "\
UPDATE trusted_idps SET issuer = $2, name = $3, jwks = $4, jwks_uri = $5, algorithms = $6, \
    tenant = $7, scope = $8, allows_all_servers = $9, allow_public_clients = $10, \
    jit_provisioning = $11, is_enabled = $12, updated_at = $13, link_verified_email = $14 \
 WHERE idp_id = $1";
const IDP_VERSION: &str = "SELECT updated_at, is_enabled FROM trusted_idps WHERE issuer = $1";
const DELETE_IDP: &str = "DELETE FROM trusted_idps WHERE idp_id = $1";
const INSERT_IDP_CLIENT: &str =
    "INSERT INTO trusted_idp_clients (idp_id, idp_client_id, client_id) VALUES ($1, $2, $3)";
const INSERT_IDP_SERVER: &str =
    "INSERT INTO trusted_idp_servers (idp_id, server_id) VALUES ($1, $2)";
const DELETE_IDP_CLIENTS: &str = "DELETE FROM trusted_idp_clients WHERE idp_id = $1";
const DELETE_IDP_SERVERS: &str = "DELETE FROM trusted_idp_servers WHERE idp_id = $1";
const CLIENTS_OF_IDP: &str = "SELECT idp_client_id, client_id FROM trusted_idp_clients \
    WHERE idp_id = $1 ORDER BY idp_client_id";
const SERVERS_OF_IDP: &str =
    "SELECT server_id FROM trusted_idp_servers WHERE idp_id = $1 ORDER BY server_id";
const FIND_IDENTITY: &str = "\
SELECT i.user_id, i.last_seen_at, u.is_enabled FROM user_identities i \
  JOIN users u ON u.user_id = i.user_id \
 WHERE i.issuer = $1 AND i.tenant = $2 AND i.subject = $3";
/// `last_seen_at` is refreshed at most this often, so a busy identity costs no write
/// per token.
const LAST_SEEN_RESOLUTION: i64 = 3600;
const TOUCH_IDENTITY: &str = "UPDATE user_identities SET last_seen_at = $4 \
    WHERE issuer = $1 AND tenant = $2 AND subject = $3";
const INSERT_IDENTITY: &str = "\
INSERT INTO user_identities (issuer, tenant, subject, user_id, created_at, last_seen_at) \
VALUES ($1, $2, $3, $4, $5, $5)";
const LIST_USER_IDENTITIES: &str = "\
SELECT issuer, tenant, subject, created_at, last_seen_at FROM user_identities \
 WHERE user_id = $1 ORDER BY issuer, tenant, subject";

/// An external identity linked to a user, as stored.
#[derive(Debug, Clone, FromRow)]
pub struct IdentityRecord {
    /// The IdP's or provider's issuer.
    pub issuer: String,
    /// Its tenant ('' when none).
    pub tenant: String,
    /// The subject there.
    pub subject: String,
    /// When linked.
    pub created_at: i64,
    /// When last used (hourly resolution).
    pub last_seen_at: i64,
}

/// Links only while the account has no identity from the same issuer and tenant: one
/// person, one subject per IdP.
const LINK_IDENTITY: &str = "\
INSERT INTO user_identities (issuer, tenant, subject, user_id, created_at, last_seen_at) \
SELECT $1, $2, $3, $4, $5, $5 WHERE NOT EXISTS (\
  SELECT 1 FROM user_identities WHERE user_id = $4 AND issuer = $1 AND tenant = $2)";
const INSERT_JIT_USER: &str = "\
INSERT INTO users (user_id, username, password_hash, is_enabled, created_at, updated_at) \
VALUES ($1, $2, NULL, $3, $4, $5)";
const CLAIM_ID_JAG_JTI: &str = "\
INSERT INTO id_jag_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) \
ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = $3 \
 WHERE id_jag_jtis.expires_at <= $4";

/// An external identity: who an IdP says the user is.
#[derive(Debug, Clone)]
pub struct ExternalIdentity<'a> {
    /// The IdP's issuer.
    pub issuer: &'a str,
    /// Its tenant, `""` when it has none.
    pub tenant: &'a str,
    /// Its `sub`.
    pub subject: &'a str,
}

impl Store {
    /// Inserts an IdP with its client and server lists and the audit event, atomically.
    pub async fn insert_idp(&self, idp: &TrustedIdp, event: &AuditEvent) -> Result<(), StoreError> {
        let (jwks, jwks_uri) = key_columns(&idp.keys);
        with_tx!(self, |tx| {
            sqlx::query(INSERT_IDP)
                .bind(idp.id.as_str())
                .bind(&idp.issuer)
                .bind(&idp.name)
                .bind(&jwks)
                .bind(&jwks_uri)
                .bind(idp.algorithms.join(" "))
                .bind(&idp.tenant)
                .bind(idp.scope.as_ref().map(ToString::to_string))
                .bind(idp.allowed_servers.is_none())
                .bind(idp.allow_public_clients)
                .bind(idp.jit_provisioning)
                .bind(idp.is_enabled)
                .bind(idp.created_at)
                .bind(idp.updated_at)
                .bind(idp.link_verified_email)
                .execute(&mut *tx)
                .await?;
            insert_idp_links!(tx, idp);
            insert_audit!(tx, event, idp.created_at);
        });
        self.cache.forget_all();
        Ok(())
    }

    /// Replaces an IdP's row and lists, with its audit event.
    pub async fn update_idp(&self, idp: &TrustedIdp, event: &AuditEvent) -> Result<(), StoreError> {
        let (jwks, jwks_uri) = key_columns(&idp.keys);
        with_tx!(self, |tx| {
            let updated = sqlx::query(UPDATE_IDP)
                .bind(idp.id.as_str())
                .bind(&idp.issuer)
                .bind(&idp.name)
                .bind(&jwks)
                .bind(&jwks_uri)
                .bind(idp.algorithms.join(" "))
                .bind(&idp.tenant)
                .bind(idp.scope.as_ref().map(ToString::to_string))
                .bind(idp.allowed_servers.is_none())
                .bind(idp.allow_public_clients)
                .bind(idp.jit_provisioning)
                .bind(idp.is_enabled)
                .bind(idp.updated_at)
                .bind(idp.link_verified_email)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            for sql in [DELETE_IDP_CLIENTS, DELETE_IDP_SERVERS] {
                sqlx::query(sql)
                    .bind(idp.id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            insert_idp_links!(tx, idp);
            insert_audit!(tx, event, idp.updated_at);
        });
        self.cache.forget_all();
        Ok(())
    }

    /// Deletes an IdP (its lists cascade; identities stay with their users).
    pub async fn delete_idp(
        &self,
        id: &IdpId,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let deleted = self
            .delete_audited(DELETE_IDP, id.as_str(), event, now)
            .await;
        self.cache.forget_all();
        deleted
    }

    /// The IdP with exactly this issuer, as ID-JAG redemption reads it. XAA-18 wants a
    /// change effective on the next request on every instance, so one indexed read of
    /// the row's `updated_at` and `is_enabled` confirms the remembered copy (the full
    /// IdP with its lists costs three reads). Unknown issuers are not remembered.
    pub async fn find_idp_by_issuer_cached(
        &self,
        issuer: &str,
    ) -> Result<Option<std::sync::Arc<TrustedIdp>>, StoreError> {
        if let Some(idp) = self.cache.idp(issuer) {
            let current: Option<(i64, bool)> = with_pool!(self, |pool| {
                sqlx::query_as(IDP_VERSION)
                    .bind(issuer)
                    .fetch_optional(pool)
                    .await
            })?;
            match current {
                None => return Ok(None),
                Some((updated_at, enabled))
                    if updated_at == idp.updated_at && enabled == idp.is_enabled =>
                {
                    return Ok(Some(idp));
                }
                Some(_) => {}
            }
        }
        let generation = self.cache.generation();
        let Some(idp) = self.find_idp_by_issuer(issuer).await? else {
            return Ok(None);
        };
        let idp = std::sync::Arc::new(idp);
        self.cache.put_idp(generation, std::sync::Arc::clone(&idp));
        Ok(Some(idp))
    }

    /// The IdP with this id.
    pub async fn find_idp(&self, id: &IdpId) -> Result<Option<TrustedIdp>, StoreError> {
        self.find_idp_where("idp_id", id.as_str()).await
    }

    /// The IdP whose issuer is exactly `issuer` (XAA-4), enabled or not.
    pub async fn find_idp_by_issuer(&self, issuer: &str) -> Result<Option<TrustedIdp>, StoreError> {
        self.find_idp_where("issuer", issuer).await
    }

    async fn find_idp_where(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<TrustedIdp>, StoreError> {
        let sql = format!("SELECT {IDP_COLUMNS} FROM trusted_idps WHERE {column} = $1");
        let row: Option<IdpRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(value).fetch_optional(pool).await
        })?;
        match row {
            Some(row) => Ok(Some(self.with_idp_links(row).await?)),
            None => Ok(None),
        }
    }

    /// A page of IdPs ordered by id.
    pub async fn list_idps(
        &self,
        page: &PageRequest,
        search: Option<&str>,
    ) -> Result<Page<TrustedIdp>, StoreError> {
        let sql = format!(
            "SELECT {IDP_COLUMNS} FROM trusted_idps WHERE idp_id > $1 \
               AND ($3 IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\' OR LOWER(issuer) LIKE $3 ESCAPE '\\') \
             ORDER BY idp_id LIMIT $2"
        );
        let pattern = search.map(super::contains_pattern);
        let rows: Vec<IdpRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await
        })?;
        let mut idps = Vec::with_capacity(rows.len());
        for row in rows {
            idps.push(self.with_idp_links(row).await?);
        }
        Ok(page.page(idps, |idp| idp.id.to_string()))
    }

    async fn with_idp_links(&self, row: IdpRow) -> Result<TrustedIdp, StoreError> {
        let (clients, servers): (Vec<(String, String)>, Vec<(String,)>) =
            with_pool!(self, |pool| {
                let clients = sqlx::query_as(CLIENTS_OF_IDP)
                    .bind(&row.idp_id)
                    .fetch_all(pool)
                    .await?;
                let servers = sqlx::query_as(SERVERS_OF_IDP)
                    .bind(&row.idp_id)
                    .fetch_all(pool)
                    .await?;
                Ok::<_, sqlx::Error>((clients, servers))
            })?;
        to_idp(row, clients, servers)
    }

    /// The user an external identity belongs to and whether that account is enabled,
    /// noting (hourly) when it was seen; one read on the hot path of ID-JAG redemption.
    pub async fn find_identity_user(
        &self,
        identity: &ExternalIdentity<'_>,
        now: UnixTime,
    ) -> Result<Option<(UserId, bool)>, StoreError> {
        let found: Option<(String, i64, bool)> = with_pool!(self, |pool| {
            let found: Option<(String, i64, bool)> = sqlx::query_as(FIND_IDENTITY)
                .bind(identity.issuer)
                .bind(identity.tenant)
                .bind(identity.subject)
                .fetch_optional(pool)
                .await?;
            if found
                .as_ref()
                .is_some_and(|(_, seen, _)| now.saturating_sub(*seen) >= LAST_SEEN_RESOLUTION)
            {
                sqlx::query(TOUCH_IDENTITY)
                    .bind(identity.issuer)
                    .bind(identity.tenant)
                    .bind(identity.subject)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
            Ok::<_, sqlx::Error>(found)
        })?;
        Ok(found.map(|(id, _, enabled)| (UserId::from_stored(id), enabled)))
    }

    /// Creates an account without a password for an external identity (just-in-time
    /// provisioning, XAA-13), with the identity row and audit event, atomically. Two
    /// instances provisioning the same identity at once: one wins, the other gets
    /// `Conflict` and reads the winner's account.
    pub async fn insert_provisioned_user(
        &self,
        user: &User,
        identity: &ExternalIdentity<'_>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(INSERT_JIT_USER)
                .bind(user.id.as_str())
                .bind(user.username.as_str())
                .bind(user.is_enabled)
                .bind(user.created_at)
                .bind(user.updated_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_IDENTITY)
                .bind(identity.issuer)
                .bind(identity.tenant)
                .bind(identity.subject)
                .bind(user.id.as_str())
                .bind(user.created_at)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, event, user.created_at);
        });
        Ok(())
    }

    /// The external identities linked to a user.
    pub async fn list_user_identities(
        &self,
        user_id: &str,
    ) -> Result<Vec<IdentityRecord>, StoreError> {
        let rows = with_pool!(self, |pool| sqlx::query_as(LIST_USER_IDENTITIES)
            .bind(user_id)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Links an external identity to an existing account (verified-email linking,
    /// XAA-13), with the audit event, atomically. `false` when the account already has
    /// an identity from this issuer and tenant; `Conflict` when another request linked
    /// the identity first.
    pub async fn link_identity(
        &self,
        identity: &ExternalIdentity<'_>,
        user: &UserId,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let linked = with_tx!(self, |tx| {
            let inserted = sqlx::query(LINK_IDENTITY)
                .bind(identity.issuer)
                .bind(identity.tenant)
                .bind(identity.subject)
                .bind(user.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 1 {
                insert_audit!(tx, event, now);
            }
            inserted == 1
        });
        Ok(linked)
    }

    /// Records that `issuer` used `jti` until `expires_at`; `false` on a replay (XAA-12).
    /// One guarded statement: exactly one of concurrent uses wins, on any instance.
    pub async fn claim_id_jag_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let claimed = with_pool!(self, |pool| {
            sqlx::query(CLAIM_ID_JAG_JTI)
                .bind(issuer)
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

/// Inserts the client and server lists of `$idp` inside transaction `$tx`.
macro_rules! insert_idp_links {
    ($tx:ident, $idp:expr) => {{
        let idp: &TrustedIdp = $idp;
        for client in &idp.clients {
            sqlx::query(INSERT_IDP_CLIENT)
                .bind(idp.id.as_str())
                .bind(&client.idp_client_id)
                .bind(client.client_id.as_str())
                .execute(&mut *$tx)
                .await?;
        }
        for server in idp.allowed_servers.iter().flatten() {
            sqlx::query(INSERT_IDP_SERVER)
                .bind(idp.id.as_str())
                .bind(server.as_str())
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
use insert_idp_links;

fn key_columns(keys: &ClientKeys) -> (Option<String>, Option<String>) {
    match keys {
        ClientKeys::None => (None, None),
        ClientKeys::Jwks(set) => (Some(set.to_string()), None),
        ClientKeys::JwksUri(uri) => (None, Some(uri.clone())),
    }
}

fn to_idp(
    row: IdpRow,
    clients: Vec<(String, String)>,
    servers: Vec<(String,)>,
) -> Result<TrustedIdp, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("trusted IdP {}: {what}", row.idp_id));
    let keys = match (&row.jwks, &row.jwks_uri) {
        (Some(set), _) => ClientKeys::Jwks(serde_json::from_str(set).map_err(|_| corrupt("jwks"))?),
        (None, Some(uri)) => ClientKeys::JwksUri(uri.clone()),
        (None, None) => ClientKeys::None,
    };
    let scope = row
        .scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|_| corrupt("scope"))?;
    Ok(TrustedIdp {
        id: IdpId::from_stored(row.idp_id.clone()),
        issuer: row.issuer,
        name: row.name,
        keys,
        algorithms: row
            .algorithms
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        tenant: row.tenant,
        scope,
        allowed_servers: (!row.allows_all_servers).then(|| {
            servers
                .into_iter()
                .map(|(id,)| ServerId::from_stored(id))
                .collect()
        }),
        clients: clients
            .into_iter()
            .map(|(idp_client_id, client_id)| IdpClient {
                idp_client_id,
                client_id: ClientId::from_stored(client_id),
            })
            .collect(),
        allow_public_clients: row.allow_public_clients,
        jit_provisioning: row.jit_provisioning,
        link_verified_email: row.link_verified_email,
        is_enabled: row.is_enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
