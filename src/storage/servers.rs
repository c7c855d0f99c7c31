//! MCP servers and their scopes.

use std::collections::HashMap;

use std::sync::Arc;

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Page, PageRequest, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::ids::ServerId;
use crate::domain::resource::ResourceUri;
use crate::domain::scope::{ScopeSet, ScopeToken};
use crate::domain::server::{McpServer, ScopeDefinition};

#[derive(FromRow)]
struct ServerRow {
    server_id: String,
    resource: String,
    name: String,
    access_token_ttl: Option<i64>,
    is_enabled: bool,
    is_default: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(FromRow)]
struct ScopeRow {
    server_id: String,
    name: String,
    description: String,
    is_default: bool,
}

const SERVER_COLUMNS: &str =
    "server_id, resource, name, access_token_ttl, is_enabled, is_default, created_at, updated_at";

const INSERT_SERVER: &str = "\
INSERT INTO servers (server_id, resource, name, access_token_ttl, is_enabled, is_default, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const UPDATE_SERVER: &str = "\
UPDATE servers SET resource = $2, name = $3, access_token_ttl = $4, is_enabled = $5, \
                   is_default = $6, updated_at = $7 WHERE server_id = $1";
const CLEAR_OTHER_DEFAULT: &str =
    "UPDATE servers SET is_default = FALSE WHERE is_default AND server_id <> $1";
const DELETE_SERVER: &str = "DELETE FROM servers WHERE server_id = $1";
const INSERT_SCOPE: &str = "\
INSERT INTO server_scopes (server_id, name, description, is_default, position) \
VALUES ($1, $2, $3, $4, $5)";
const DELETE_SCOPES: &str = "DELETE FROM server_scopes WHERE server_id = $1";
/// The servers of one page: after the cursor `$1`, at most `$2`, matching the search
/// pattern `$3` (NULL: all). The page's scopes are read with the same condition.
const PAGE_CONDITION: &str = "server_id > $1 \
 AND ($3 IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\' OR LOWER(resource) LIKE $3 ESCAPE '\\')";
const SCOPES_OF_PAGE: &str = "\
SELECT server_id, name, description, is_default FROM server_scopes \
 WHERE server_id IN (SELECT server_id FROM servers WHERE {page} \
                      ORDER BY server_id LIMIT $2) \
 ORDER BY server_id, position";
const SCOPES_OF_SERVER: &str = "\
SELECT server_id, name, description, is_default FROM server_scopes \
 WHERE server_id = $1 ORDER BY position";

/// Inserts the scope rows of `$server` inside transaction `$tx`.
macro_rules! insert_scopes {
    ($tx:ident, $server:expr) => {{
        let server: &McpServer = $server;
        for (position, scope) in (0_i64..).zip(&server.scopes) {
            sqlx::query(INSERT_SCOPE)
                .bind(server.id.as_str())
                .bind(scope.name.as_str())
                .bind(&scope.description)
                .bind(server.default_scopes.contains(&scope.name))
                .bind(position)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

impl Store {
    /// Inserts a server with its scopes and the audit event, atomically.
    /// A duplicate resource is `Conflict { field: "resource" }`.
    pub async fn insert_server(
        &self,
        server: &McpServer,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let now = server.created_at;
        with_tx!(self, |tx| {
            if server.is_default {
                sqlx::query(CLEAR_OTHER_DEFAULT)
                    .bind(server.id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(INSERT_SERVER)
                .bind(server.id.as_str())
                .bind(server.resource.as_str())
                .bind(&server.name)
                .bind(server.access_token_ttl)
                .bind(server.is_enabled)
                .bind(server.is_default)
                .bind(server.created_at)
                .bind(server.updated_at)
                .execute(&mut *tx)
                .await?;
            insert_scopes!(tx, server);
            insert_audit!(tx, event, now);
        });
        self.cache.forget_all();
        Ok(())
    }

    /// Replaces a server's row and scopes, atomically with its audit event.
    pub async fn update_server(
        &self,
        server: &McpServer,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let now = server.updated_at;
        with_tx!(self, |tx| {
            if server.is_default {
                sqlx::query(CLEAR_OTHER_DEFAULT)
                    .bind(server.id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let updated = sqlx::query(UPDATE_SERVER)
                .bind(server.id.as_str())
                .bind(server.resource.as_str())
                .bind(&server.name)
                .bind(server.access_token_ttl)
                .bind(server.is_enabled)
                .bind(server.is_default)
                .bind(server.updated_at)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(DELETE_SCOPES)
                .bind(server.id.as_str())
                .execute(&mut *tx)
                .await?;
            insert_scopes!(tx, server);
            insert_audit!(tx, event, now);
        });
        self.cache.forget_all();
        Ok(())
    }

    /// Deletes a server (its scopes and client links cascade), with its audit event.
    pub async fn delete_server(
        &self,
        id: &ServerId,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let deleted = self
            .delete_audited(DELETE_SERVER, id.as_str(), event, now)
            .await;
        self.cache.forget_all();
        deleted
    }

    /// Every server, as the token endpoint reads them: from this instance's memory when
    /// read within `database.registry_cache_ttl` (ARCHITECTURE section 10).
    pub async fn server_registry(&self) -> Result<Arc<Vec<McpServer>>, StoreError> {
        if let Some(servers) = self.cache.servers() {
            return Ok(servers);
        }
        let generation = self.cache.generation();
        let servers = Arc::new(self.list_all_servers().await?);
        self.cache.put_servers(generation, Arc::clone(&servers));
        Ok(servers)
    }

    /// The server with this id.
    pub async fn find_server(&self, id: &ServerId) -> Result<Option<McpServer>, StoreError> {
        self.find_server_where("server_id", id.as_str()).await
    }

    /// The server registered for this canonical resource URI (RES-2).
    pub async fn find_server_by_resource(
        &self,
        resource: &ResourceUri,
    ) -> Result<Option<McpServer>, StoreError> {
        self.find_server_where("resource", resource.as_str()).await
    }

    /// The server marked as default resource (RES-6), if any.
    pub async fn find_default_server(&self) -> Result<Option<McpServer>, StoreError> {
        let sql = format!("SELECT {SERVER_COLUMNS} FROM servers WHERE is_default");
        let row: Option<ServerRow> =
            with_pool!(self, |pool| sqlx::query_as(&sql).fetch_optional(pool).await)?;
        self.with_scopes(row).await
    }

    /// Every server with its scopes (the registry is small: tens, not thousands).
    pub async fn list_all_servers(&self) -> Result<Vec<McpServer>, StoreError> {
        let page = PageRequest {
            after: None,
            limit: u32::MAX - 1,
        };
        Ok(self.list_servers(&page, None).await?.items)
    }

    /// A page of servers ordered by id; with `search`, only those whose name or
    /// resource URI contains it, in any case.
    pub async fn list_servers(
        &self,
        page: &PageRequest,
        search: Option<&str>,
    ) -> Result<Page<McpServer>, StoreError> {
        let sql = format!(
            "SELECT {SERVER_COLUMNS} FROM servers WHERE {PAGE_CONDITION} \
             ORDER BY server_id LIMIT $2"
        );
        let scopes_sql = SCOPES_OF_PAGE.replace("{page}", PAGE_CONDITION);
        let pattern = search.map(super::contains_pattern);
        let (rows, scope_rows): (Vec<ServerRow>, Vec<ScopeRow>) = with_pool!(self, |pool| {
            let rows = sqlx::query_as(&sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await?;
            let scopes = sqlx::query_as(&scopes_sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await?;
            Ok::<_, sqlx::Error>((rows, scopes))
        })?;
        let mut by_server: HashMap<String, Vec<ScopeRow>> = HashMap::new();
        for scope in scope_rows {
            by_server
                .entry(scope.server_id.clone())
                .or_default()
                .push(scope);
        }
        let servers = rows
            .into_iter()
            .map(|row| {
                let scopes = by_server.remove(&row.server_id).unwrap_or_default();
                to_server(row, scopes)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.page(servers, |s| s.id.to_string()))
    }

    async fn find_server_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<McpServer>, StoreError> {
        let sql = format!("SELECT {SERVER_COLUMNS} FROM servers WHERE {column} = $1");
        let row: Option<ServerRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(value).fetch_optional(pool).await
        })?;
        self.with_scopes(row).await
    }

    async fn with_scopes(&self, row: Option<ServerRow>) -> Result<Option<McpServer>, StoreError> {
        let Some(row) = row else { return Ok(None) };
        let scopes: Vec<ScopeRow> = with_pool!(self, |pool| {
            sqlx::query_as(SCOPES_OF_SERVER)
                .bind(&row.server_id)
                .fetch_all(pool)
                .await
        })?;
        to_server(row, scopes).map(Some)
    }
}

fn to_server(row: ServerRow, scope_rows: Vec<ScopeRow>) -> Result<McpServer, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("server {} {what}: {e}", row.server_id))
    };
    let resource = ResourceUri::parse(&row.resource).map_err(|e| corrupt("resource", &e))?;
    let mut scopes = Vec::with_capacity(scope_rows.len());
    let mut defaults = Vec::new();
    for scope in scope_rows {
        let name = ScopeToken::parse(&scope.name).map_err(|e| corrupt("scope", &e))?;
        if scope.is_default {
            defaults.push(name.clone());
        }
        scopes.push(ScopeDefinition {
            name,
            description: scope.description,
        });
    }
    Ok(McpServer {
        id: ServerId::from_stored(row.server_id),
        resource,
        name: row.name,
        scopes,
        default_scopes: ScopeSet::from_tokens(defaults),
        access_token_ttl: row.access_token_ttl,
        is_enabled: row.is_enabled,
        is_default: row.is_default,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
