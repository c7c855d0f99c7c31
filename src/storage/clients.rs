//! Clients, the MCP servers each may use, and their hashed secrets.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::FromRow;

use super::audit::insert_audit;
use super::cache::ClientEntry;
use super::{AuditEvent, Page, PageRequest, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::client::{AuthMethod, Client, ClientKeys, ClientSource, GrantType};
use crate::domain::ids::{ClientId, ServerId};
use crate::domain::redirect_uri::{RedirectPolicy, RedirectUri};
use crate::domain::scope::ScopeSet;

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    client_name: String,
    token_endpoint_auth_method: String,
    redirect_uris: String,
    grant_types: String,
    scope: Option<String>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    allows_all_servers: bool,
    source: String,
    may_introspect: bool,
    accept_token_endpoint_audience: bool,
    is_enabled: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(FromRow)]
struct LinkRow {
    client_id: String,
    server_id: String,
}

/// A new secret to store: only its keyed hash (SEC-13).
#[derive(Debug, Clone)]
pub struct NewClientSecret {
    /// Id of the secret (for rotation and revocation).
    pub secret_id: String,
    /// HMAC of the secret.
    pub secret_hash: Vec<u8>,
    /// Optional expiry.
    pub expires_at: Option<UnixTime>,
}

/// A stored secret hash.
#[derive(Debug, Clone, FromRow)]
pub struct ClientSecretRecord {
    /// Id of the secret.
    pub secret_id: String,
    /// HMAC of the secret.
    pub secret_hash: Vec<u8>,
    /// When created.
    pub created_at: i64,
    /// Optional expiry.
    pub expires_at: Option<i64>,
}

/// What the admin API shows of a secret: never the hash.
#[derive(Debug, Clone, FromRow)]
pub struct ClientSecretInfo {
    /// Id of the secret.
    pub secret_id: String,
    /// When created.
    pub created_at: i64,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

const CLIENT_COLUMNS: &str = "client_id, client_name, token_endpoint_auth_method, redirect_uris, \
    grant_types, scope, jwks, jwks_uri, allows_all_servers, source, may_introspect, \
    accept_token_endpoint_audience, is_enabled, created_at, updated_at";
pub(super) const INSERT_CLIENT: &str = "\
INSERT INTO clients (client_id, client_name, token_endpoint_auth_method, redirect_uris, \
    grant_types, scope, jwks, jwks_uri, allows_all_servers, source, may_introspect, is_enabled, \
    created_at, updated_at, accept_token_endpoint_audience) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const UPDATE_CLIENT: &str = "\
UPDATE clients SET client_name = $2, token_endpoint_auth_method = $3, redirect_uris = $4, \
    grant_types = $5, scope = $6, jwks = $7, jwks_uri = $8, allows_all_servers = $9, \
    is_enabled = $10, updated_at = $11, may_introspect = $12, \
    accept_token_endpoint_audience = $13 WHERE client_id = $1";
const DELETE_CLIENT: &str = "DELETE FROM clients WHERE client_id = $1";
pub(super) const INSERT_LINK: &str =
    "INSERT INTO client_servers (client_id, server_id) VALUES ($1, $2)";
const DELETE_LINKS: &str = "DELETE FROM client_servers WHERE client_id = $1";
const LINKS_OF_CLIENT: &str =
    "SELECT client_id, server_id FROM client_servers WHERE client_id = $1 ORDER BY server_id";
/// The clients of one page: after the cursor `$1`, at most `$2`, matching the search
/// pattern `$3` (NULL: all). The page's server links are read with the same condition.
const PAGE_CONDITION: &str = "client_id > $1 \
 AND ($3 IS NULL OR LOWER(client_name) LIKE $3 ESCAPE '\\' OR LOWER(client_id) LIKE $3 ESCAPE '\\')";
const LINKS_OF_PAGE: &str = "\
SELECT client_id, server_id FROM client_servers WHERE client_id IN \
    (SELECT client_id FROM clients WHERE {page} ORDER BY client_id LIMIT $2) \
 ORDER BY client_id, server_id";
pub(super) const INSERT_SECRET: &str = "\
INSERT INTO client_secrets (secret_id, client_id, secret_hash, created_at, expires_at) \
VALUES ($1, $2, $3, $4, $5)";
const UNREVOKED_SECRETS: &str = "\
SELECT secret_id, secret_hash, created_at, expires_at FROM client_secrets \
 WHERE client_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC";
const ALL_SECRETS: &str = "\
SELECT secret_id, created_at, expires_at, revoked_at FROM client_secrets \
 WHERE client_id = $1 ORDER BY created_at DESC, secret_id";
const REVOKE_SECRET: &str = "\
UPDATE client_secrets SET revoked_at = $3 \
 WHERE client_id = $1 AND secret_id = $2 AND revoked_at IS NULL";
const ACTIVE_SECRETS: &str = "\
SELECT secret_id, secret_hash, created_at, expires_at FROM client_secrets \
 WHERE client_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) \
 ORDER BY created_at DESC";

/// Inserts the client–server links of `$client` inside transaction `$tx`.
macro_rules! insert_links {
    ($tx:ident, $client:expr) => {{
        let client: &$crate::domain::client::Client = $client;
        for server in client.allowed_servers.iter().flatten() {
            sqlx::query($crate::storage::clients::INSERT_LINK)
                .bind(client.id.as_str())
                .bind(server.as_str())
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

pub(super) use insert_links;

/// Inserts `$client`, its server links and its first secret (an `Option<&NewClientSecret>`)
/// inside transaction `$tx`; shared by administrator and dynamic registration.
macro_rules! insert_client_rows {
    ($tx:ident, $client:expr, $secret:expr) => {{
        let client: &$crate::domain::client::Client = $client;
        let secret: Option<&$crate::storage::NewClientSecret> = $secret;
        let columns = $crate::storage::clients::ClientColumns::of(client);
        sqlx::query($crate::storage::clients::INSERT_CLIENT)
            .bind(client.id.as_str())
            .bind(&client.name)
            .bind(client.auth_method.as_str())
            .bind(&columns.redirect_uris)
            .bind(&columns.grant_types)
            .bind(&columns.scope)
            .bind(&columns.jwks)
            .bind(&columns.jwks_uri)
            .bind(client.allowed_servers.is_none())
            .bind($crate::storage::clients::source_name(client.source))
            .bind(client.may_introspect)
            .bind(client.is_enabled)
            .bind(client.created_at)
            .bind(client.updated_at)
            .bind(client.accept_token_endpoint_audience)
            .execute(&mut *$tx)
            .await?;
        $crate::storage::clients::insert_links!($tx, client);
        if let Some(secret) = secret {
            sqlx::query($crate::storage::clients::INSERT_SECRET)
                .bind(&secret.secret_id)
                .bind(client.id.as_str())
                .bind(&secret.secret_hash)
                .bind(client.created_at)
                .bind(secret.expires_at)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(super) use insert_client_rows;

/// Serialised column values of a client.
pub(super) struct ClientColumns {
    pub(super) redirect_uris: String,
    pub(super) grant_types: String,
    pub(super) scope: Option<String>,
    pub(super) jwks: Option<String>,
    pub(super) jwks_uri: Option<String>,
}

impl ClientColumns {
    pub(super) fn of(client: &Client) -> Self {
        let redirect_uris: Vec<&str> = client
            .redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect();
        let grant_types: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        let (jwks, jwks_uri) = match &client.keys {
            ClientKeys::None => (None, None),
            ClientKeys::Jwks(set) => (Some(set.to_string()), None),
            ClientKeys::JwksUri(uri) => (None, Some(uri.clone())),
        };
        Self {
            redirect_uris: serde_json::Value::from(redirect_uris).to_string(),
            grant_types: serde_json::Value::from(grant_types).to_string(),
            scope: client.scope.as_ref().map(ToString::to_string),
            jwks,
            jwks_uri,
        }
    }
}

impl Store {
    /// Inserts a client, its server links, its first secret (if any) and the audit
    /// event in one transaction.
    pub async fn insert_client(
        &self,
        client: &Client,
        secret: Option<&NewClientSecret>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            insert_client_rows!(tx, client, secret);
            insert_audit!(tx, event, client.created_at);
        });
        self.cache.forget_client(client.id.as_str());
        Ok(())
    }

    /// Replaces a client's row and server links, with its audit event.
    pub async fn update_client(
        &self,
        client: &Client,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let columns = ClientColumns::of(client);
        let now = client.updated_at;
        with_tx!(self, |tx| {
            let updated = sqlx::query(UPDATE_CLIENT)
                .bind(client.id.as_str())
                .bind(&client.name)
                .bind(client.auth_method.as_str())
                .bind(&columns.redirect_uris)
                .bind(&columns.grant_types)
                .bind(&columns.scope)
                .bind(&columns.jwks)
                .bind(&columns.jwks_uri)
                .bind(client.allowed_servers.is_none())
                .bind(client.is_enabled)
                .bind(client.updated_at)
                .bind(client.may_introspect)
                .bind(client.accept_token_endpoint_audience)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(DELETE_LINKS)
                .bind(client.id.as_str())
                .execute(&mut *tx)
                .await?;
            insert_links!(tx, client);
            insert_audit!(tx, event, now);
        });
        self.cache.forget_client(client.id.as_str());
        Ok(())
    }

    /// Deletes a client (links and secrets cascade), with its audit event.
    pub async fn delete_client(
        &self,
        id: &ClientId,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let deleted = self
            .delete_audited(DELETE_CLIENT, id.as_str(), event, now)
            .await;
        self.cache.forget_client(id.as_str());
        deleted
    }

    /// The client and its unrevoked secrets, as the token endpoint needs them: from this
    /// instance's memory when read within `database.registry_cache_ttl`, else from the
    /// database (ARCHITECTURE section 10). Unknown ids are not remembered.
    pub async fn find_client_entry(
        &self,
        id: &ClientId,
    ) -> Result<Option<Arc<ClientEntry>>, StoreError> {
        if let Some(entry) = self.cache.client(id.as_str()) {
            return Ok(Some(entry));
        }
        let generation = self.cache.generation();
        let Some(client) = self.find_client(id).await? else {
            return Ok(None);
        };
        let secrets = with_pool!(self, |pool| {
            sqlx::query_as(UNREVOKED_SECRETS)
                .bind(id.as_str())
                .fetch_all(pool)
                .await
        })?;
        let entry = Arc::new(ClientEntry { client, secrets });
        self.cache.put_client(generation, Arc::clone(&entry));
        Ok(Some(entry))
    }

    /// The client with this id.
    pub async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1");
        let found: Option<(ClientRow, Vec<LinkRow>)> = with_pool!(self, |pool| {
            let row: Option<ClientRow> = sqlx::query_as(&sql)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            match row {
                None => None,
                Some(row) => {
                    let links = sqlx::query_as(LINKS_OF_CLIENT)
                        .bind(id.as_str())
                        .fetch_all(pool)
                        .await?;
                    Some((row, links))
                }
            }
        });
        found.map(|(row, links)| to_client(row, links)).transpose()
    }

    /// A page of clients ordered by id; with `search`, only those whose name or id
    /// contains it, in any case.
    pub async fn list_clients(
        &self,
        page: &PageRequest,
        search: Option<&str>,
    ) -> Result<Page<Client>, StoreError> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE {PAGE_CONDITION} \
             ORDER BY client_id LIMIT $2"
        );
        let links_sql = LINKS_OF_PAGE.replace("{page}", PAGE_CONDITION);
        let pattern = search.map(super::contains_pattern);
        let (rows, link_rows): (Vec<ClientRow>, Vec<LinkRow>) = with_pool!(self, |pool| {
            let rows = sqlx::query_as(&sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await?;
            let links = sqlx::query_as(&links_sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await?;
            (rows, links)
        });
        let mut by_client: HashMap<String, Vec<LinkRow>> = HashMap::new();
        for link in link_rows {
            by_client
                .entry(link.client_id.clone())
                .or_default()
                .push(link);
        }
        let clients = rows
            .into_iter()
            .map(|row| {
                let links = by_client.remove(&row.client_id).unwrap_or_default();
                to_client(row, links)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.page(clients, |c| c.id.to_string()))
    }

    /// The client's secrets that are neither revoked nor expired at `now`, newest first.
    pub async fn list_active_client_secrets(
        &self,
        id: &ClientId,
        now: UnixTime,
    ) -> Result<Vec<ClientSecretRecord>, StoreError> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as(ACTIVE_SECRETS)
                .bind(id.as_str())
                .bind(now)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }
}

pub(super) fn source_name(source: ClientSource) -> &'static str {
    match source {
        ClientSource::Registered => "registered",
        ClientSource::Dcr => "dcr",
        ClientSource::Cimd => "cimd",
    }
}

fn to_client(row: ClientRow, links: Vec<LinkRow>) -> Result<Client, StoreError> {
    let id = row.client_id;
    let corrupt = |what: &str| StoreError::Corrupt(format!("client {id} has a bad {what}"));
    let auth_method: AuthMethod = serde_json::from_value(serde_json::Value::from(
        row.token_endpoint_auth_method.as_str(),
    ))
    .map_err(|_| corrupt("token_endpoint_auth_method"))?;
    let uris: Vec<String> =
        serde_json::from_str(&row.redirect_uris).map_err(|_| corrupt("redirect_uris"))?;
    let lenient = RedirectPolicy {
        allow_private_use_schemes: true,
    };
    let redirect_uris = uris
        .iter()
        .map(|uri| RedirectUri::parse(uri, lenient))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| corrupt("redirect_uri"))?;
    let grants: Vec<String> =
        serde_json::from_str(&row.grant_types).map_err(|_| corrupt("grant_types"))?;
    let grant_types = grants
        .iter()
        .map(|g| g.parse::<GrantType>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| corrupt("grant_type"))?;
    let scope = row
        .scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|_| corrupt("scope"))?;
    let keys = match (row.jwks, row.jwks_uri) {
        (Some(jwks), _) => {
            ClientKeys::Jwks(serde_json::from_str(&jwks).map_err(|_| corrupt("jwks"))?)
        }
        (None, Some(uri)) => ClientKeys::JwksUri(uri),
        (None, None) => ClientKeys::None,
    };
    let source = match row.source.as_str() {
        "registered" => ClientSource::Registered,
        "dcr" => ClientSource::Dcr,
        "cimd" => ClientSource::Cimd,
        _ => return Err(corrupt("source")),
    };
    let allowed_servers = (!row.allows_all_servers).then(|| {
        links
            .into_iter()
            .map(|l| ServerId::from_stored(l.server_id))
            .collect()
    });
    Ok(Client {
        id: ClientId::from_stored(id),
        name: row.client_name,
        auth_method,
        redirect_uris,
        grant_types,
        scope,
        keys,
        allowed_servers,
        source,
        may_introspect: row.may_introspect,
        accept_token_endpoint_audience: row.accept_token_endpoint_audience,
        is_enabled: row.is_enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

impl Store {
    /// Adds a secret to a client (rotation: the old ones keep working until revoked or
    /// expired, CC-12), with its audit event, atomically.
    pub async fn add_client_secret(
        &self,
        id: &ClientId,
        secret: &NewClientSecret,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(INSERT_SECRET)
                .bind(&secret.secret_id)
                .bind(id.as_str())
                .bind(&secret.secret_hash)
                .bind(now)
                .bind(secret.expires_at)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, event, now);
        });
        self.cache.forget_client(id.as_str());
        Ok(())
    }

    /// Every secret of a client, newest first, revoked and expired ones included.
    pub async fn list_client_secrets(
        &self,
        id: &ClientId,
    ) -> Result<Vec<ClientSecretInfo>, StoreError> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as(ALL_SECRETS)
                .bind(id.as_str())
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }

    /// Revokes one secret, with its audit event; `NotFound` when the client has no such
    /// unrevoked secret.
    pub async fn revoke_client_secret(
        &self,
        id: &ClientId,
        secret_id: &str,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            let revoked = sqlx::query(REVOKE_SECRET)
                .bind(id.as_str())
                .bind(secret_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if revoked.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(tx, event, now);
        });
        self.cache.forget_client(id.as_str());
        Ok(())
    }
}
