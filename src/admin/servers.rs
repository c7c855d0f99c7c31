//! Managing MCP servers (RES-1, RES-2, RES-6, SCOPE-1..3, SCOPE-9).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Actor, AdminContext, AdminError, SearchQuery, double_option};
use crate::audit;
use crate::domain::ids::ServerId;
use crate::domain::resource::ResourceUri;
use crate::domain::scope::{ScopeSet, ScopeToken};
use crate::domain::server::{McpServer, ScopeDefinition, check_display_name, check_scopes};
use crate::storage::Page;

/// Longest access-token lifetime an MCP server may set (one day).
const MAX_TOKEN_TTL_SECONDS: i64 = 24 * 3600;

/// A scope as the API shows and accepts it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    /// The scope token (SCOPE-2 syntax).
    #[schema(example = "tools:read")]
    pub name: String,
    /// Shown on the consent page (SCOPE-9).
    #[schema(example = "Read the list of tools")]
    pub description: String,
}

/// Body of `POST /admin/api/v1/servers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServerBody {
    /// Canonical resource URI of the MCP server (RES-2): https, no fragment.
    #[schema(example = "https://mcp.example.com/mcp")]
    pub resource: String,
    /// Display name.
    #[schema(example = "Docs MCP")]
    pub name: String,
    /// Scopes it defines.
    #[serde(default)]
    pub scopes: Vec<ScopeBody>,
    /// Scopes granted when a request names none (SCOPE-1).
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Access-token lifetime in seconds (default: `tokens.access_token_ttl`).
    pub access_token_ttl_seconds: Option<i64>,
    /// Whether tokens are issued for it (default true).
    pub enabled: Option<bool>,
    /// Use it for requests without `resource` (RES-6; default false).
    pub default_resource: Option<bool>,
}

/// Body of `PATCH /admin/api/v1/servers/{server_id}`: absent fields stay unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerPatchBody {
    /// New resource URI.
    pub resource: Option<String>,
    /// New display name.
    pub name: Option<String>,
    /// Replaces the scope list.
    pub scopes: Option<Vec<ScopeBody>>,
    /// Replaces the default scopes.
    pub default_scopes: Option<Vec<String>>,
    /// New lifetime in seconds; `null` returns to the global default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub access_token_ttl_seconds: Option<Option<i64>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Make it (or stop it being) the default resource.
    pub default_resource: Option<bool>,
}

/// An MCP server as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerView {
    /// Stable id.
    pub server_id: String,
    /// Canonical resource URI; the `aud` of its tokens.
    pub resource: String,
    /// Display name.
    pub name: String,
    /// Scopes it defines.
    pub scopes: Vec<ScopeBody>,
    /// Default scopes.
    pub default_scopes: Vec<String>,
    /// Lifetime override in seconds.
    pub access_token_ttl_seconds: Option<i64>,
    /// Whether tokens are issued for it.
    pub enabled: bool,
    /// Whether it is the default resource.
    pub default_resource: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

impl From<McpServer> for ServerView {
    fn from(server: McpServer) -> Self {
        Self {
            server_id: server.id.to_string(),
            resource: server.resource.to_string(),
            name: server.name,
            scopes: server
                .scopes
                .into_iter()
                .map(|s| ScopeBody {
                    name: s.name.to_string(),
                    description: s.description,
                })
                .collect(),
            default_scopes: server
                .default_scopes
                .iter()
                .map(ToString::to_string)
                .collect(),
            access_token_ttl_seconds: server.access_token_ttl,
            enabled: server.is_enabled,
            default_resource: server.is_default,
            created_at: server.created_at,
            updated_at: server.updated_at,
        }
    }
}

/// A page of servers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerPage {
    /// Servers in id order.
    pub items: Vec<ServerView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<Page<McpServer>> for ServerPage {
    fn from(page: Page<McpServer>) -> Self {
        Self {
            items: page.items.into_iter().map(ServerView::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Registers an MCP server.
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    body: NewServerBody,
) -> Result<ServerView, AdminError> {
    let now = ctx.clock.now();
    let resource = parse_resource(ctx, &body.resource)?;
    check_display_name(&body.name).map_err(|e| AdminError::invalid("name", e))?;
    let scopes = parse_scope_bodies(&body.scopes)?;
    let default_scopes = parse_defaults(&body.default_scopes)?;
    check_scopes(&scopes, &default_scopes).map_err(|e| AdminError::invalid("scopes", e))?;
    let server = McpServer {
        id: ServerId::generate()?,
        resource,
        name: body.name,
        scopes,
        default_scopes,
        access_token_ttl: check_ttl(body.access_token_ttl_seconds)?,
        is_enabled: body.enabled.unwrap_or(true),
        is_default: body.default_resource.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    let view = ServerView::from(server.clone());
    let detail = audit::created(&view);
    let event = audit::event(
        actor,
        "server.created",
        "server",
        server.id.as_str(),
        detail,
    );
    ctx.store
        .insert_server(&server, &event)
        .await
        .map_err(resource_conflict)?;
    Ok(view)
}

/// Applies a partial update.
pub async fn update(
    ctx: &AdminContext,
    actor: &Actor,
    id: &ServerId,
    patch: ServerPatchBody,
) -> Result<ServerView, AdminError> {
    let mut server = ctx
        .store
        .find_server(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let before = ServerView::from(server.clone());
    if let Some(raw) = &patch.resource {
        server.resource = parse_resource(ctx, raw)?;
    }
    if let Some(name) = patch.name {
        check_display_name(&name).map_err(|e| AdminError::invalid("name", e))?;
        server.name = name;
    }
    if let Some(scopes) = &patch.scopes {
        server.scopes = parse_scope_bodies(scopes)?;
    }
    if let Some(defaults) = &patch.default_scopes {
        server.default_scopes = parse_defaults(defaults)?;
    } else if patch.scopes.is_some() {
        // Defaults that the new scope list dropped are dropped with it.
        server.default_scopes = server.default_scopes.intersection(&server.scope_set());
    }
    check_scopes(&server.scopes, &server.default_scopes)
        .map_err(|e| AdminError::invalid("scopes", e))?;
    if let Some(ttl) = patch.access_token_ttl_seconds {
        server.access_token_ttl = check_ttl(ttl)?;
    }
    server.is_enabled = patch.enabled.unwrap_or(server.is_enabled);
    server.is_default = patch.default_resource.unwrap_or(server.is_default);
    server.updated_at = ctx.clock.now();
    let view = ServerView::from(server.clone());
    let detail = audit::updated(&before, &view);
    let event = audit::event(actor, "server.updated", "server", id.as_str(), detail);
    ctx.store
        .update_server(&server, &event)
        .await
        .map_err(resource_conflict)?;
    Ok(view)
}

/// Reads one server.
pub async fn get(ctx: &AdminContext, id: &ServerId) -> Result<ServerView, AdminError> {
    let server = ctx
        .store
        .find_server(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(server.into())
}

/// Lists servers, a page at a time.
pub async fn list(ctx: &AdminContext, query: SearchQuery) -> Result<ServerPage, AdminError> {
    let (paging, search) = query.split();
    let page = ctx.page_request(paging)?;
    Ok(ctx
        .store
        .list_servers(&page, search.as_deref())
        .await?
        .into())
}

/// RFC 9728 Protected Resource Metadata for a registered server (RES-8): the document
/// the MCP server itself must serve at `/.well-known/oauth-protected-resource[path]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProtectedResourceMetadata {
    /// The server's canonical resource URI.
    pub resource: String,
    /// This authorization server's issuer.
    pub authorization_servers: Vec<String>,
    /// The default scopes: what clients ask for first. Further scopes are obtained by
    /// step-up after a 403 `insufficient_scope` challenge (SCOPE-5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// Tokens travel in the `Authorization` header only (TOK-6).
    pub bearer_methods_supported: Vec<String>,
    /// Display name.
    pub resource_name: String,
}

/// The Protected Resource Metadata `server` should publish, naming `issuer`.
pub async fn protected_resource_metadata(
    ctx: &AdminContext,
    id: &ServerId,
    issuer: &str,
) -> Result<ProtectedResourceMetadata, AdminError> {
    let server = ctx
        .store
        .find_server(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(ProtectedResourceMetadata {
        resource: server.resource.to_string(),
        authorization_servers: vec![issuer.to_owned()],
        scopes_supported: server
            .default_scopes
            .iter()
            .map(ToString::to_string)
            .collect(),
        bearer_methods_supported: vec!["header".to_owned()],
        resource_name: server.name,
    })
}

/// Deletes a server; clients lose their link to it.
pub async fn delete(ctx: &AdminContext, actor: &Actor, id: &ServerId) -> Result<(), AdminError> {
    let before = get(ctx, id).await?;
    let detail = audit::deleted(&before);
    let event = audit::event(actor, "server.deleted", "server", id.as_str(), detail);
    ctx.store.delete_server(id, &event, ctx.clock.now()).await?;
    Ok(())
}

/// Parses a resource URI and applies the https rule (CORE-2; loopback http in dev mode).
pub(super) fn parse_resource(ctx: &AdminContext, raw: &str) -> Result<ResourceUri, AdminError> {
    let resource = ResourceUri::parse(raw).map_err(|e| AdminError::invalid("resource", e))?;
    let allowed =
        resource.is_https() || (ctx.policy.allow_loopback_http && resource.is_loopback_http());
    if allowed {
        Ok(resource)
    } else {
        Err(AdminError::invalid(
            "resource",
            "must be an https URI (http is allowed only for loopback hosts with dev.loopback)",
        ))
    }
}

fn parse_scope_bodies(bodies: &[ScopeBody]) -> Result<Vec<ScopeDefinition>, AdminError> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let name = ScopeToken::parse(&body.name)
                .map_err(|e| AdminError::invalid(format!("scopes[{i}].name"), e))?;
            Ok(ScopeDefinition {
                name,
                description: body.description.trim().to_owned(),
            })
        })
        .collect()
}

fn parse_defaults(raw: &[String]) -> Result<ScopeSet, AdminError> {
    raw.iter()
        .enumerate()
        .map(|(i, token)| {
            ScopeToken::parse(token)
                .map_err(|e| AdminError::invalid(format!("default_scopes[{i}]"), e))
        })
        .collect()
}

fn check_ttl(ttl: Option<i64>) -> Result<Option<i64>, AdminError> {
    match ttl {
        Some(seconds) if !(10..=MAX_TOKEN_TTL_SECONDS).contains(&seconds) => Err(
            AdminError::invalid("access_token_ttl_seconds", "must be between 10 and 86400"),
        ),
        other => Ok(other),
    }
}

fn resource_conflict(err: crate::storage::StoreError) -> AdminError {
    match AdminError::from(err) {
        AdminError::Conflict { field, .. } if field == "resource" => AdminError::Conflict {
            field,
            message: "an MCP server with this resource URI already exists".to_owned(),
        },
        other => other,
    }
}
