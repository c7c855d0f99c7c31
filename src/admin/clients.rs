//! Managing pre-registered clients (CORE-10, CORE-19, SEC-1..3, SEC-13, SEC-16).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::servers::parse_resource;
use super::{Actor, AdminContext, AdminError, SearchQuery, double_option};
use crate::audit;
use crate::crypto::{random_id, random_token};
use crate::domain::client::{
    AuthMethod, Client, ClientKeys, ClientSource, ClientType, GrantType, check_public_jwks,
};
use crate::domain::ids::{ClientId, ServerId};
use crate::domain::redirect_uri::{RedirectPolicy, RedirectUri};
use crate::domain::scope::ScopeSet;
use crate::domain::server::check_display_name;
use crate::storage::NewClientSecret;

/// Body of `POST /admin/api/v1/clients` (RFC 7591 metadata names).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    /// Display name.
    #[schema(example = "Acme IDE")]
    pub client_name: String,
    /// Exact redirect URIs (SEC-1); required with `authorization_code`.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Default `["authorization_code"]` (RFC 7591); `[]` for a client that only
    /// introspects or revokes.
    pub grant_types: Option<Vec<String>>,
    /// `none` (public), `client_secret_basic` (default), `client_secret_post`, `private_key_jwt`.
    pub token_endpoint_auth_method: Option<String>,
    /// Inline public JWK Set for `private_key_jwt`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// JWK Set URL for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// Scopes it may be granted (space-delimited); absent: any scope of its MCP servers.
    pub scope: Option<String>,
    /// Resource URIs of the MCP servers it may use; absent: every enabled server.
    pub allowed_resources: Option<Vec<String>>,
    /// An MCP server registered as a confidential client may introspect tokens issued
    /// for its `allowed_resources` (default false).
    pub allow_introspection: Option<bool>,
    /// Legacy switch (CC-6): also accept client assertions whose `aud` is the token
    /// endpoint URL instead of the issuer. Default false.
    pub accept_token_endpoint_audience: Option<bool>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Body of `PATCH /admin/api/v1/clients/{client_id}`: absent fields stay unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatchBody {
    /// New display name.
    pub client_name: Option<String>,
    /// Replaces the redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces the grant types.
    pub grant_types: Option<Vec<String>>,
    /// Replaces the allowed scopes; `null`: any scope of its servers.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scope: Option<Option<String>>,
    /// Replaces the allowed servers; `null`: every enabled server.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_resources: Option<Option<Vec<String>>>,
    /// Allow or forbid token introspection.
    pub allow_introspection: Option<bool>,
    /// Replaces the inline JWK Set of a `private_key_jwt` client (key rotation, CC-12);
    /// clears `jwks_uri`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Replaces the JWK Set URL of a `private_key_jwt` client; clears `jwks`.
    pub jwks_uri: Option<String>,
    /// Legacy switch (CC-6): accept the token endpoint URL as assertion `aud`.
    pub accept_token_endpoint_audience: Option<bool>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// A client as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// The `client_id`.
    pub client_id: String,
    /// Only in the creation response: the secret, shown once and stored hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// `0`: the secret does not expire (RFC 7591); only beside `client_secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// Display name.
    pub client_name: String,
    /// `public` or `confidential`.
    #[schema(value_type = String)]
    pub client_type: ClientType,
    /// Authentication method.
    pub token_endpoint_auth_method: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<String>,
    /// Allowed scopes, if restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Inline JWK Set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// JWK Set URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Resource URIs of allowed MCP servers; `null`: every enabled server.
    pub allowed_resources: Option<Vec<String>>,
    /// `registered`, `dcr` or `cimd`.
    #[schema(value_type = String)]
    pub source: ClientSource,
    /// Whether it may call the introspection endpoint.
    pub allow_introspection: bool,
    /// Whether client assertions may name the token endpoint as `aud` (CC-6 legacy).
    pub accept_token_endpoint_audience: bool,
    /// Whether it may authenticate and get tokens.
    pub enabled: bool,
    /// RFC 7591 `client_id_issued_at`.
    pub client_id_issued_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

/// A page of clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientPage {
    /// Clients in id order.
    pub items: Vec<ClientView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Registers a client; a confidential secret-based client gets a 256-bit secret that
/// this response shows once and the database keeps only as a keyed hash (SEC-13).
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    body: NewClientBody,
) -> Result<ClientView, AdminError> {
    let now = ctx.clock.now();
    check_display_name(&body.client_name).map_err(|e| AdminError::invalid("client_name", e))?;
    let auth_method = parse_auth_method(body.token_endpoint_auth_method.as_deref())?;
    let grant_types = parse_grant_types(body.grant_types.as_deref())?;
    let keys = parse_keys(ctx, auth_method, body.jwks, body.jwks_uri)?;
    let client = Client {
        id: ClientId::generate()?,
        name: body.client_name,
        auth_method,
        redirect_uris: parse_redirect_uris(&body.redirect_uris)?,
        grant_types,
        scope: parse_scope(body.scope.as_deref())?,
        keys,
        allowed_servers: resolve_resources(ctx, body.allowed_resources.as_deref()).await?,
        source: ClientSource::Registered,
        may_introspect: body.allow_introspection.unwrap_or(false),
        accept_token_endpoint_audience: body.accept_token_endpoint_audience.unwrap_or(false),
        is_enabled: body.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    check_combination(&client)?;
    let secret = auth_method.uses_secret().then(random_token).transpose()?;
    let stored_secret = match &secret {
        Some(secret) => Some(NewClientSecret {
            secret_id: random_id("sec_")?,
            secret_hash: ctx.hasher.hash(secret),
            expires_at: None,
        }),
        None => None,
    };
    let mut view = view(ctx, client.clone()).await?;
    let event = audit::event(
        actor,
        "client.created",
        "client",
        client.id.as_str(),
        audit::created(&view),
    );
    ctx.store
        .insert_client(&client, stored_secret.as_ref(), &event)
        .await?;
    view.client_secret_expires_at = secret.is_some().then_some(0);
    view.client_secret = secret;
    Ok(view)
}

/// Applies a partial update. The authentication method cannot change: it fixes the
/// client type (CORE-10); register a new client instead.
pub async fn update(
    ctx: &AdminContext,
    actor: &Actor,
    id: &ClientId,
    patch: ClientPatchBody,
) -> Result<ClientView, AdminError> {
    let mut client = ctx
        .store
        .find_client(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    if client.source == ClientSource::Cimd {
        return Err(AdminError::Conflict {
            field: "client_id".to_owned(),
            message: "is a CIMD client, described by its own document; enable, disable or \
                      approve it at /admin/api/v1/cimd/clients/{client_id}"
                .to_owned(),
        });
    }
    let before = view(ctx, client.clone()).await?;
    if let Some(name) = patch.client_name {
        check_display_name(&name).map_err(|e| AdminError::invalid("client_name", e))?;
        client.name = name;
    }
    if let Some(uris) = &patch.redirect_uris {
        client.redirect_uris = parse_redirect_uris(uris)?;
    }
    if let Some(grants) = &patch.grant_types {
        client.grant_types = parse_grant_types(Some(grants))?;
    }
    if let Some(scope) = patch.scope {
        client.scope = parse_scope(scope.as_deref())?;
    }
    if let Some(resources) = patch.allowed_resources {
        client.allowed_servers = resolve_resources(ctx, resources.as_deref()).await?;
    }
    if patch.jwks.is_some() || patch.jwks_uri.is_some() {
        client.keys = parse_keys(ctx, client.auth_method, patch.jwks, patch.jwks_uri)?;
    }
    client.accept_token_endpoint_audience = patch
        .accept_token_endpoint_audience
        .unwrap_or(client.accept_token_endpoint_audience);
    client.is_enabled = patch.enabled.unwrap_or(client.is_enabled);
    client.may_introspect = patch.allow_introspection.unwrap_or(client.may_introspect);
    check_combination(&client)?;
    client.updated_at = ctx.clock.now();
    let after = view(ctx, client.clone()).await?;
    let detail = audit::updated(&before, &after);
    let event = audit::event(actor, "client.updated", "client", id.as_str(), detail);
    ctx.store.update_client(&client, &event).await?;
    Ok(after)
}

/// Reads one client.
pub async fn get(ctx: &AdminContext, id: &ClientId) -> Result<ClientView, AdminError> {
    let client = ctx
        .store
        .find_client(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    view(ctx, client).await
}

/// Lists clients, a page at a time.
pub async fn list(ctx: &AdminContext, query: SearchQuery) -> Result<ClientPage, AdminError> {
    let (paging, search) = query.split();
    let page = ctx.page_request(paging)?;
    let page = ctx.store.list_clients(&page, search.as_deref()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for client in page.items {
        items.push(view(ctx, client).await?);
    }
    Ok(ClientPage {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Deletes a client and its secrets.
pub async fn delete(ctx: &AdminContext, actor: &Actor, id: &ClientId) -> Result<(), AdminError> {
    // A CIMD client comes back, enabled, on its next use: deleting a blocked one would
    // lift the block. Block hosts with a deny rule, or unblock before deleting.
    let client = ctx
        .store
        .find_client(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    if client.source == ClientSource::Cimd && !client.is_enabled {
        return Err(AdminError::Conflict {
            field: "client_id".to_owned(),
            message: "is a blocked CIMD client; deleting it would lift the block (it would be \
                      fetched again on next use). Keep it blocked, or add a deny host rule"
                .to_owned(),
        });
    }
    let before = view(ctx, client).await?;
    let detail = audit::deleted(&before);
    let event = audit::event(actor, "client.deleted", "client", id.as_str(), detail);
    ctx.store.delete_client(id, &event, ctx.clock.now()).await?;
    Ok(())
}

async fn view(ctx: &AdminContext, client: Client) -> Result<ClientView, AdminError> {
    let allowed_resources = match &client.allowed_servers {
        None => None,
        Some(ids) => {
            let mut resources = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(server) = ctx.store.find_server(id).await? {
                    resources.push(server.resource.to_string());
                }
            }
            Some(resources)
        }
    };
    let client_type = client.client_type();
    let (jwks, jwks_uri) = match client.keys {
        ClientKeys::None => (None, None),
        ClientKeys::Jwks(set) => (Some(set), None),
        ClientKeys::JwksUri(uri) => (None, Some(uri)),
    };
    Ok(ClientView {
        client_type,
        client_id: client.id.to_string(),
        client_secret: None,
        client_secret_expires_at: None,
        client_name: client.name,
        token_endpoint_auth_method: client.auth_method.as_str().to_owned(),
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(ToString::to_string)
            .collect(),
        grant_types: client.grant_types.iter().map(ToString::to_string).collect(),
        scope: client.scope.as_ref().map(ToString::to_string),
        jwks,
        jwks_uri,
        allowed_resources,
        source: client.source,
        allow_introspection: client.may_introspect,
        accept_token_endpoint_audience: client.accept_token_endpoint_audience,
        enabled: client.is_enabled,
        client_id_issued_at: client.created_at,
        updated_at: client.updated_at,
    })
}

fn parse_auth_method(raw: Option<&str>) -> Result<AuthMethod, AdminError> {
    match raw.unwrap_or("client_secret_basic") {
        "none" => Ok(AuthMethod::None),
        "client_secret_basic" => Ok(AuthMethod::ClientSecretBasic),
        "client_secret_post" => Ok(AuthMethod::ClientSecretPost),
        "private_key_jwt" => Ok(AuthMethod::PrivateKeyJwt),
        other => Err(AdminError::invalid(
            "token_endpoint_auth_method",
            format!(
                "{other:?} is not one of none, client_secret_basic, client_secret_post, \
                 private_key_jwt"
            ),
        )),
    }
}

fn parse_grant_types(raw: Option<&[String]>) -> Result<Vec<GrantType>, AdminError> {
    let Some(raw) = raw else {
        return Ok(vec![GrantType::AuthorizationCode]);
    };
    let mut grants = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let grant: GrantType = name
            .parse()
            .map_err(|e: String| AdminError::invalid(format!("grant_types[{i}]"), e))?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    Ok(grants)
}

fn parse_redirect_uris(raw: &[String]) -> Result<Vec<RedirectUri>, AdminError> {
    let policy = RedirectPolicy::default();
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw.len());
    for (i, uri) in raw.iter().enumerate() {
        let field = format!("redirect_uris[{i}]");
        let parsed = RedirectUri::parse(uri, policy).map_err(|e| AdminError::invalid(&field, e))?;
        if uris.contains(&parsed) {
            return Err(AdminError::invalid(field, "is listed twice"));
        }
        uris.push(parsed);
    }
    Ok(uris)
}

fn parse_scope(raw: Option<&str>) -> Result<Option<ScopeSet>, AdminError> {
    raw.map(|s| ScopeSet::parse(s).map_err(|e| AdminError::invalid("scope", e)))
        .transpose()
}

fn parse_keys(
    ctx: &AdminContext,
    method: AuthMethod,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
) -> Result<ClientKeys, AdminError> {
    let keys = match (jwks, jwks_uri) {
        (Some(_), Some(_)) => {
            return Err(AdminError::invalid(
                "jwks",
                "give jwks or jwks_uri, not both",
            ));
        }
        (Some(set), None) => {
            check_public_jwks(&set).map_err(|e| AdminError::invalid("jwks", e))?;
            ClientKeys::Jwks(set)
        }
        (None, Some(uri)) => {
            parse_resource(ctx, &uri).map_err(|_| {
                AdminError::invalid("jwks_uri", "must be an https URL without a fragment")
            })?;
            ClientKeys::JwksUri(uri)
        }
        (None, None) => ClientKeys::None,
    };
    match (method, &keys) {
        (AuthMethod::PrivateKeyJwt, ClientKeys::None) => Err(AdminError::invalid(
            "jwks",
            "private_key_jwt needs jwks or jwks_uri",
        )),
        (AuthMethod::PrivateKeyJwt, _) | (_, ClientKeys::None) => Ok(keys),
        _ => Err(AdminError::invalid(
            "jwks",
            "only private_key_jwt clients have keys",
        )),
    }
}

/// Rules that concern several fields at once.
fn check_combination(client: &Client) -> Result<(), AdminError> {
    if client.allows_grant(GrantType::AuthorizationCode) && client.redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "redirect_uris",
            "at least one is required with the authorization_code grant",
        ));
    }
    if client.may_introspect && client.allowed_servers.is_none() {
        return Err(AdminError::invalid(
            "allowed_resources",
            "name the MCP servers whose tokens this client may introspect (INTRO-4)",
        ));
    }
    if client.may_introspect && client.client_type() == ClientType::Public {
        return Err(AdminError::invalid(
            "allow_introspection",
            "introspection needs a confidential client (INTRO-1)",
        ));
    }
    let machine_grant = client.allows_grant(GrantType::ClientCredentials);
    if machine_grant && client.client_type() == ClientType::Public {
        return Err(AdminError::invalid(
            "grant_types",
            "client_credentials needs a confidential client (SEC-16)",
        ));
    }
    Ok(())
}

pub(super) async fn resolve_resources(
    ctx: &AdminContext,
    raw: Option<&[String]>,
) -> Result<Option<Vec<ServerId>>, AdminError> {
    let Some(raw) = raw else { return Ok(None) };
    let mut seen: HashSet<ServerId> = HashSet::new();
    let mut ordered = Vec::with_capacity(raw.len());
    for (i, uri) in raw.iter().enumerate() {
        let field = format!("allowed_resources[{i}]");
        let resource = parse_resource(ctx, uri).map_err(|e| match e {
            AdminError::Invalid { message, .. } => AdminError::invalid(&field, message),
            other => other,
        })?;
        let server = ctx
            .store
            .find_server_by_resource(&resource)
            .await?
            .ok_or_else(|| AdminError::invalid(&field, "no MCP server has this resource URI"))?;
        if seen.insert(server.id.clone()) {
            ordered.push(server.id);
        }
    }
    Ok(Some(ordered))
}
