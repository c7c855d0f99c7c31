//! Managing trusted enterprise IdPs (XAA-18): whose ID-JAGs are redeemed, for which
//! clients, MCP servers and scopes. Changes apply on the next request.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::clients::resolve_resources;
use super::idp_keys;
use super::{Actor, AdminContext, AdminError, SearchQuery, double_option};
use crate::audit;
use crate::cimd::ClientIdUrl;
use crate::config::TrustedIdpSection;
use crate::domain::client::ClientKeys;
use crate::domain::idp::{IDP_ALGORITHMS, IdpClient, TrustedIdp};
use crate::domain::ids::{ClientId, IdpId};
use crate::domain::scope::ScopeSet;
use crate::domain::server::check_display_name;

/// A client an IdP may speak for.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpClientBody {
    /// The local client id (or a CIMD client's URL).
    pub client_id: String,
    /// The `client_id` the IdP's ID-JAGs use for it; default: the local id.
    pub idp_client_id: Option<String>,
}

/// Body of `POST /admin/api/v1/idps`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdpBody {
    /// The IdP's issuer, exactly as its ID-JAGs carry it in `iss`.
    #[schema(example = "https://login.corp-idp.example")]
    pub issuer: String,
    /// Display name; default: the issuer.
    pub name: Option<String>,
    /// Its public JWK Set.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Or where to fetch it (https). With neither, the `jwks_uri` of the IdP's
    /// metadata (RFC 8414, else OpenID discovery) is looked up once and stored.
    pub jwks_uri: Option<String>,
    /// Allowed JWS algorithms; default: every asymmetric one.
    pub algorithms: Option<Vec<String>>,
    /// Required `tenant` claim, if the IdP is multi-tenant.
    pub tenant: Option<String>,
    /// Scopes its ID-JAGs may grant at most (space-delimited); absent: no narrowing.
    pub scope: Option<String>,
    /// Resource URIs of the MCP servers it may reach; absent: every enabled server.
    pub allowed_resources: Option<Vec<String>>,
    /// The clients it may speak for (XAA-8).
    #[serde(default)]
    pub clients: Vec<IdpClientBody>,
    /// Let public (CIMD) clients redeem its ID-JAGs (XAA-9). Default false.
    pub allow_public_clients: Option<bool>,
    /// Create an account for an unknown subject on first use (XAA-13). Default false.
    pub jit_provisioning: Option<bool>,
    /// Link an unknown subject to the account whose recorded email equals the ID-JAG's
    /// `email` claim (XAA-13). Default false.
    pub link_verified_email: Option<bool>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Body of `PATCH /admin/api/v1/idps/{idp_id}`: absent fields stay unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpPatchBody {
    /// New display name.
    pub name: Option<String>,
    /// Replaces the keys with this JWK Set.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Replaces the keys with this URL.
    pub jwks_uri: Option<String>,
    /// Replaces the algorithms.
    pub algorithms: Option<Vec<String>>,
    /// Replaces the tenant; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub tenant: Option<Option<String>>,
    /// Replaces the scope limit; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scope: Option<Option<String>>,
    /// Replaces the servers; `null`: every enabled server.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_resources: Option<Option<Vec<String>>>,
    /// Replaces the clients.
    pub clients: Option<Vec<IdpClientBody>>,
    /// Public clients allowed or not.
    pub allow_public_clients: Option<bool>,
    /// Just-in-time accounts or not.
    pub jit_provisioning: Option<bool>,
    /// Verified-email linking or not.
    pub link_verified_email: Option<bool>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// A trusted IdP as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpView {
    /// Id.
    pub idp_id: String,
    /// Issuer.
    pub issuer: String,
    /// Name.
    pub name: String,
    /// Inline JWK Set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// JWK Set URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Allowed algorithms.
    pub algorithms: Vec<String>,
    /// Required tenant.
    pub tenant: Option<String>,
    /// Scope limit.
    pub scope: Option<String>,
    /// Allowed servers; `null`: all.
    pub allowed_resources: Option<Vec<String>>,
    /// Clients it speaks for.
    pub clients: Vec<IdpClientBody>,
    /// Public clients allowed.
    pub allow_public_clients: bool,
    /// Just-in-time accounts.
    pub jit_provisioning: bool,
    /// Verified-email linking.
    pub link_verified_email: bool,
    /// Enabled.
    pub enabled: bool,
    /// Created (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

/// A page of IdPs.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpPage {
    /// IdPs in id order.
    pub items: Vec<IdpView>,
    /// Pass as `after` for the next page.
    pub next_cursor: Option<String>,
}

/// Trusts a new IdP.
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    body: NewIdpBody,
) -> Result<IdpView, AdminError> {
    let now = ctx.clock.now();
    let issuer = check_issuer(ctx, &body.issuer)?;
    let name = body.name.unwrap_or_else(|| issuer.clone());
    check_display_name(&name).map_err(|e| AdminError::invalid("name", e))?;
    let keys = match idp_keys::parse(ctx, body.jwks, body.jwks_uri)? {
        Some(keys) => keys,
        None => idp_keys::discover(ctx, &issuer).await?,
    };
    let idp = TrustedIdp {
        id: IdpId::generate()?,
        issuer,
        name,
        keys,
        algorithms: parse_algorithms(body.algorithms.as_deref())?,
        tenant: body.tenant,
        scope: parse_scope(body.scope.as_deref())?,
        allowed_servers: resolve_resources(ctx, body.allowed_resources.as_deref()).await?,
        clients: parse_clients(ctx, &body.clients).await?,
        allow_public_clients: body.allow_public_clients.unwrap_or(false),
        jit_provisioning: body.jit_provisioning.unwrap_or(false),
        link_verified_email: body.link_verified_email.unwrap_or(false),
        is_enabled: body.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    let after = view(ctx, idp.clone()).await?;
    let detail = audit::created(&after);
    let event = audit::event(actor, "idp.created", "idp", idp.id.as_str(), detail);
    ctx.store.insert_idp(&idp, &event).await?;
    Ok(after)
}

/// Changes an IdP.
pub async fn update(
    ctx: &AdminContext,
    actor: &Actor,
    id: &IdpId,
    patch: IdpPatchBody,
) -> Result<IdpView, AdminError> {
    let mut idp = ctx.store.find_idp(id).await?.ok_or(AdminError::NotFound)?;
    let before = idp.clone();
    if let Some(name) = patch.name {
        check_display_name(&name).map_err(|e| AdminError::invalid("name", e))?;
        idp.name = name;
    }
    if let Some(keys) = idp_keys::parse(ctx, patch.jwks, patch.jwks_uri)? {
        idp.keys = keys;
    }
    if let Some(algorithms) = &patch.algorithms {
        idp.algorithms = parse_algorithms(Some(algorithms))?;
    }
    if let Some(tenant) = patch.tenant {
        idp.tenant = tenant;
    }
    if let Some(scope) = patch.scope {
        idp.scope = parse_scope(scope.as_deref())?;
    }
    if let Some(resources) = patch.allowed_resources {
        idp.allowed_servers = resolve_resources(ctx, resources.as_deref()).await?;
    }
    if let Some(clients) = &patch.clients {
        idp.clients = parse_clients(ctx, clients).await?;
    }
    idp.allow_public_clients = patch
        .allow_public_clients
        .unwrap_or(idp.allow_public_clients);
    idp.jit_provisioning = patch.jit_provisioning.unwrap_or(idp.jit_provisioning);
    idp.link_verified_email = patch.link_verified_email.unwrap_or(idp.link_verified_email);
    idp.is_enabled = patch.enabled.unwrap_or(idp.is_enabled);
    if !differs(&idp, &before) {
        // Nothing changed: no write, no audit event (start-up re-applies the file).
        return view(ctx, idp).await;
    }
    idp.updated_at = ctx.clock.now();
    let after = view(ctx, idp.clone()).await?;
    let detail = audit::updated(&view(ctx, before).await?, &after);
    let event = audit::event(actor, "idp.updated", "idp", id.as_str(), detail);
    ctx.store.update_idp(&idp, &event).await?;
    Ok(after)
}

/// Applies the IdPs the configuration file declares (XAA-18): each is created, or,
/// when its issuer is already trusted, brought in line with the file. Unchanged IdPs
/// are not written. IdPs the file does not name are left as the admin API made them.
pub async fn apply_declared(
    ctx: &AdminContext,
    declared: &[TrustedIdpSection],
) -> Result<(), AdminError> {
    for (index, section) in declared.iter().enumerate() {
        apply_one(ctx, section).await.map_err(|error| match error {
            AdminError::Invalid { field, message } | AdminError::Conflict { field, message } => {
                AdminError::Invalid {
                    field: format!("trusted_idps[{index}].{field}"),
                    message,
                }
            }
            other => other,
        })?;
    }
    Ok(())
}

async fn apply_one(ctx: &AdminContext, section: &TrustedIdpSection) -> Result<(), AdminError> {
    let issuer = check_issuer(ctx, &section.issuer)?;
    let jwks = match &section.jwks_file {
        Some(path) => Some(read_jwks_file(path)?),
        None => None,
    };
    let clients: Vec<IdpClientBody> = section
        .clients
        .iter()
        .map(|c| IdpClientBody {
            client_id: c.client_id.clone(),
            idp_client_id: c.idp_client_id.clone(),
        })
        .collect();
    let Some(existing) = ctx.store.find_idp_by_issuer(&issuer).await? else {
        let body = NewIdpBody {
            issuer,
            name: section.name.clone(),
            jwks,
            jwks_uri: section.jwks_uri.clone(),
            algorithms: section.algorithms.clone(),
            tenant: section.tenant.clone(),
            scope: section.scope.clone(),
            allowed_resources: section.allowed_resources.clone(),
            clients,
            allow_public_clients: Some(section.allow_public_clients),
            jit_provisioning: Some(section.jit_provisioning),
            link_verified_email: Some(section.link_verified_email),
            enabled: Some(section.enabled),
        };
        return match create(ctx, &Actor::Config, body).await {
            Ok(created) => {
                tracing::info!(idp = %created.idp_id, issuer = %created.issuer, "trusted IdP created from the configuration");
                Ok(())
            }
            // Another instance starting at the same time created it first: it applied
            // the same file, so there is nothing left to do.
            Err(AdminError::Conflict { field, .. }) if field == "issuer" => Ok(()),
            Err(error) => Err(error),
        };
    };
    let default_algorithms = || IDP_ALGORITHMS.iter().map(|a| (*a).to_owned()).collect();
    let patch = IdpPatchBody {
        name: Some(section.name.clone().unwrap_or_else(|| issuer.clone())),
        // Neither given: keep the keys found by discovery when the IdP was created.
        jwks,
        jwks_uri: section.jwks_uri.clone(),
        algorithms: Some(
            section
                .algorithms
                .clone()
                .unwrap_or_else(default_algorithms),
        ),
        tenant: Some(section.tenant.clone()),
        scope: Some(section.scope.clone()),
        allowed_resources: Some(section.allowed_resources.clone()),
        clients: Some(clients),
        allow_public_clients: Some(section.allow_public_clients),
        jit_provisioning: Some(section.jit_provisioning),
        link_verified_email: Some(section.link_verified_email),
        enabled: Some(section.enabled),
    };
    update(ctx, &Actor::Config, &existing.id, patch).await?;
    Ok(())
}

fn read_jwks_file(path: &std::path::Path) -> Result<Value, AdminError> {
    let unreadable =
        |why: String| AdminError::invalid("jwks_file", format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| unreadable(format!("not JSON: {e}")))
}

/// Reads one IdP.
pub async fn get(ctx: &AdminContext, id: &IdpId) -> Result<IdpView, AdminError> {
    let idp = ctx.store.find_idp(id).await?.ok_or(AdminError::NotFound)?;
    view(ctx, idp).await
}

/// Lists IdPs, a page at a time.
pub async fn list(ctx: &AdminContext, query: SearchQuery) -> Result<IdpPage, AdminError> {
    let (paging, search) = query.split();
    let page = ctx.page_request(paging)?;
    let page = ctx.store.list_idps(&page, search.as_deref()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for idp in page.items {
        items.push(view(ctx, idp).await?);
    }
    Ok(IdpPage {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Stops trusting an IdP; accounts it created stay.
pub async fn delete(ctx: &AdminContext, actor: &Actor, id: &IdpId) -> Result<(), AdminError> {
    let before = get(ctx, id).await?;
    let detail = audit::deleted(&before);
    let event = audit::event(actor, "idp.deleted", "idp", id.as_str(), detail);
    ctx.store.delete_idp(id, &event, ctx.clock.now()).await?;
    Ok(())
}

/// https (http only on loopback in dev), no query or fragment, and never ourselves.
fn check_issuer(ctx: &AdminContext, raw: &str) -> Result<String, AdminError> {
    let issuer = crate::config::Issuer::parse(raw, ctx.policy.allow_loopback_http)
        .map_err(|e| AdminError::invalid("issuer", e))?;
    if issuer == ctx.policy.issuer {
        return Err(AdminError::invalid(
            "issuer",
            "is this server's own issuer; it never redeems its own ID-JAGs (XAA-25)",
        ));
    }
    Ok(issuer.as_str().to_owned())
}

fn parse_algorithms(raw: Option<&[String]>) -> Result<Vec<String>, AdminError> {
    let Some(raw) = raw else {
        return Ok(IDP_ALGORITHMS.iter().map(|a| (*a).to_owned()).collect());
    };
    if raw.is_empty() {
        return Err(AdminError::invalid("algorithms", "must not be empty"));
    }
    let mut algorithms: Vec<String> = Vec::with_capacity(raw.len());
    for (i, alg) in raw.iter().enumerate() {
        if !IDP_ALGORITHMS.contains(&alg.as_str()) {
            return Err(AdminError::invalid(
                format!("algorithms[{i}]"),
                format!("must be one of {}", IDP_ALGORITHMS.join(", ")),
            ));
        }
        if !algorithms.contains(alg) {
            algorithms.push(alg.clone());
        }
    }
    Ok(algorithms)
}

fn parse_scope(raw: Option<&str>) -> Result<Option<ScopeSet>, AdminError> {
    raw.map(|s| ScopeSet::parse(s).map_err(|e| AdminError::invalid("scope", e)))
        .transpose()
}

/// Each client must exist, or be a valid CIMD URL (seen or not yet).
async fn parse_clients(
    ctx: &AdminContext,
    bodies: &[IdpClientBody],
) -> Result<Vec<IdpClient>, AdminError> {
    let mut clients: Vec<IdpClient> = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let id = ClientId::from_stored(body.client_id.clone());
        let known = ctx.store.find_client(&id).await?.is_some()
            || ClientIdUrl::parse(&body.client_id).is_ok();
        if !known {
            return Err(AdminError::invalid(
                format!("clients[{i}].client_id"),
                "no such client (and not a client metadata document URL)",
            ));
        }
        let idp_client_id = body
            .idp_client_id
            .clone()
            .unwrap_or_else(|| body.client_id.clone());
        if idp_client_id.is_empty() {
            return Err(AdminError::invalid(
                format!("clients[{i}].idp_client_id"),
                "must not be empty",
            ));
        }
        if clients.iter().any(|c| c.idp_client_id == idp_client_id) {
            return Err(AdminError::invalid(
                format!("clients[{i}].idp_client_id"),
                "is listed twice",
            ));
        }
        clients.push(IdpClient {
            idp_client_id,
            client_id: id,
        });
    }
    // The order storage reads them back in.
    clients.sort_by(|a, b| a.idp_client_id.cmp(&b.idp_client_id));
    Ok(clients)
}

/// Whether two states of an IdP differ in anything stored (list order aside).
fn differs(a: &TrustedIdp, b: &TrustedIdp) -> bool {
    let sorted = |idp: &TrustedIdp| {
        let mut idp = idp.clone();
        if let Some(ids) = &mut idp.allowed_servers {
            ids.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        }
        idp
    };
    sorted(a) != sorted(b)
}

async fn view(ctx: &AdminContext, idp: TrustedIdp) -> Result<IdpView, AdminError> {
    let allowed_resources = match &idp.allowed_servers {
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
    let (jwks, jwks_uri) = match idp.keys {
        ClientKeys::None => (None, None),
        ClientKeys::Jwks(set) => (Some(set), None),
        ClientKeys::JwksUri(uri) => (None, Some(uri)),
    };
    Ok(IdpView {
        idp_id: idp.id.to_string(),
        issuer: idp.issuer,
        name: idp.name,
        jwks,
        jwks_uri,
        algorithms: idp.algorithms,
        tenant: idp.tenant,
        scope: idp.scope.as_ref().map(ToString::to_string),
        allowed_resources,
        clients: idp
            .clients
            .into_iter()
            .map(|c| IdpClientBody {
                client_id: c.client_id.to_string(),
                idp_client_id: Some(c.idp_client_id),
            })
            .collect(),
        allow_public_clients: idp.allow_public_clients,
        jit_provisioning: idp.jit_provisioning,
        link_verified_email: idp.link_verified_email,
        enabled: idp.is_enabled,
        created_at: idp.created_at,
        updated_at: idp.updated_at,
    })
}
