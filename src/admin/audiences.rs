//! Managing the authorization servers this server issues ID-JAGs for, as the enterprise
//! IdP (XAA-21, XAA-22): which clients may ask, for which resources and scopes, and how
//! client and user are named there.

use serde::{Deserialize, Serialize};

use utoipa::ToSchema;

use super::{Actor, AdminContext, AdminError, SearchQuery, double_option};
use crate::audit;
use crate::domain::idp::{AudienceClient, IdJagAudience, SubjectClaim};
use crate::domain::ids::{ClientId, IdJagAudienceId};
use crate::domain::resource::ResourceUri;
use crate::domain::scope::ScopeSet;
use crate::domain::server::check_display_name;

/// A client that may obtain ID-JAGs for the audience.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceClientBody {
    /// The local client id.
    pub client_id: String,
    /// Its client id at the audience (the ID-JAG `client_id`); default: the local id.
    pub client_id_at_audience: Option<String>,
}

/// Body of `POST /admin/api/v1/id-jag-audiences`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAudienceBody {
    /// The authorization server's issuer: the ID-JAG `aud`.
    #[schema(example = "https://auth.acme-mcp.example")]
    pub issuer: String,
    /// Display name; default: the issuer.
    pub name: Option<String>,
    /// Other values a client may send as `audience` for it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Resource URIs at that server an ID-JAG may name.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The most an ID-JAG may carry (space-delimited); absent: what the client asks.
    pub scope: Option<String>,
    /// `user_id` (default) or `username`: the ID-JAG `sub`.
    pub subject_claim: Option<String>,
    /// Clients that may obtain ID-JAGs for it.
    #[serde(default)]
    pub clients: Vec<AudienceClientBody>,
    /// Default true.
    pub enabled: Option<bool>,
    /// XAA-26: the id of a configured upstream provider that issues this audience's
    /// ID-JAGs (for users who signed in through it); absent: this server signs them.
    pub via_provider: Option<String>,
}

/// Body of `PATCH /admin/api/v1/id-jag-audiences/{audience_id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudiencePatchBody {
    /// New display name.
    pub name: Option<String>,
    /// Replaces the aliases.
    pub aliases: Option<Vec<String>>,
    /// Replaces the resources.
    pub resources: Option<Vec<String>>,
    /// Replaces the scope limit; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scope: Option<Option<String>>,
    /// `user_id` or `username`.
    pub subject_claim: Option<String>,
    /// Replaces the clients.
    pub clients: Option<Vec<AudienceClientBody>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Sets the upstream provider; `null`: sign here.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub via_provider: Option<Option<String>>,
}

/// An audience as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AudienceView {
    /// Id.
    pub audience_id: String,
    /// Issuer.
    pub issuer: String,
    /// Name.
    pub name: String,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Resources.
    pub resources: Vec<String>,
    /// Scope limit.
    pub scope: Option<String>,
    /// `user_id` or `username`.
    pub subject_claim: String,
    /// Clients.
    pub clients: Vec<AudienceClientBody>,
    /// Enabled.
    pub enabled: bool,
    /// The upstream provider that issues its ID-JAGs, if any.
    pub via_provider: Option<String>,
    /// Created (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

/// A page of audiences.
#[derive(Debug, Serialize, ToSchema)]
pub struct AudiencePage {
    /// In id order.
    pub items: Vec<AudienceView>,
    /// Pass as `after` for the next page.
    pub next_cursor: Option<String>,
}

/// Adds an authorization server to vouch to.
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    body: NewAudienceBody,
) -> Result<AudienceView, AdminError> {
    let now = ctx.clock.now();
    let issuer = crate::config::Issuer::parse(&body.issuer, ctx.policy.allow_loopback_http)
        .map_err(|e| AdminError::invalid("issuer", e))?;
    if issuer == ctx.policy.issuer {
        return Err(AdminError::invalid(
            "issuer",
            "is this server itself; ID-JAGs are for other authorization servers (XAA-25)",
        ));
    }
    let name = body.name.unwrap_or_else(|| issuer.as_str().to_owned());
    check_display_name(&name).map_err(|e| AdminError::invalid("name", e))?;
    let audience = IdJagAudience {
        id: IdJagAudienceId::generate()?,
        issuer: issuer.as_str().to_owned(),
        aliases: check_words("aliases", &body.aliases)?,
        name,
        resources: check_resources(&body.resources)?,
        scope: parse_scope(body.scope.as_deref())?,
        subject_claim: parse_subject_claim(body.subject_claim.as_deref())?,
        clients: parse_clients(ctx, &body.clients).await?,
        is_enabled: body.enabled.unwrap_or(true),
        via_provider: check_provider(ctx, body.via_provider)?,
        created_at: now,
        updated_at: now,
    };
    let detail = audit::created(&view(audience.clone()));
    let event = audit::event(
        actor,
        "id_jag_audience.created",
        "id_jag_audience",
        audience.id.as_str(),
        detail,
    );
    ctx.store.insert_audience(&audience, &event).await?;
    Ok(view(audience))
}

/// Changes an audience.
pub async fn update(
    ctx: &AdminContext,
    actor: &Actor,
    id: &IdJagAudienceId,
    patch: AudiencePatchBody,
) -> Result<AudienceView, AdminError> {
    let mut audience = ctx
        .store
        .find_audience(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let before = view(audience.clone());
    if let Some(name) = patch.name {
        check_display_name(&name).map_err(|e| AdminError::invalid("name", e))?;
        audience.name = name;
    }
    if let Some(aliases) = &patch.aliases {
        audience.aliases = check_words("aliases", aliases)?;
    }
    if let Some(resources) = &patch.resources {
        audience.resources = check_resources(resources)?;
    }
    if let Some(scope) = patch.scope {
        audience.scope = parse_scope(scope.as_deref())?;
    }
    if let Some(claim) = patch.subject_claim.as_deref() {
        audience.subject_claim = parse_subject_claim(Some(claim))?;
    }
    if let Some(clients) = &patch.clients {
        audience.clients = parse_clients(ctx, clients).await?;
    }
    if let Some(via) = patch.via_provider {
        audience.via_provider = check_provider(ctx, via)?;
    }
    audience.is_enabled = patch.enabled.unwrap_or(audience.is_enabled);
    audience.updated_at = ctx.clock.now();
    let detail = audit::updated(&before, &view(audience.clone()));
    let event = audit::event(
        actor,
        "id_jag_audience.updated",
        "id_jag_audience",
        id.as_str(),
        detail,
    );
    ctx.store.update_audience(&audience, &event).await?;
    Ok(view(audience))
}

/// Reads one audience.
pub async fn get(ctx: &AdminContext, id: &IdJagAudienceId) -> Result<AudienceView, AdminError> {
    let audience = ctx
        .store
        .find_audience(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(view(audience))
}

/// Lists audiences.
pub async fn list(ctx: &AdminContext, query: SearchQuery) -> Result<AudiencePage, AdminError> {
    let (paging, search) = query.split();
    let page = ctx.page_request(paging)?;
    let page = ctx.store.list_audiences(&page, search.as_deref()).await?;
    Ok(AudiencePage {
        items: page.items.into_iter().map(view).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Removes an audience.
pub async fn delete(
    ctx: &AdminContext,
    actor: &Actor,
    id: &IdJagAudienceId,
) -> Result<(), AdminError> {
    let event = audit::event(
        actor,
        "id_jag_audience.deleted",
        "id_jag_audience",
        id.as_str(),
        audit::deleted(&get(ctx, id).await?),
    );
    ctx.store
        .delete_audience(id, &event, ctx.clock.now())
        .await?;
    Ok(())
}

/// An upstream provider id must name a configured provider.
fn check_provider(ctx: &AdminContext, raw: Option<String>) -> Result<Option<String>, AdminError> {
    match raw {
        Some(id) if !ctx.policy.upstream_provider_ids.contains(&id) => Err(AdminError::invalid(
            "via_provider",
            "is not the id of a configured upstream provider ([[federation.providers]])",
        )),
        other => Ok(other),
    }
}

fn check_words(field: &str, raw: &[String]) -> Result<Vec<String>, AdminError> {
    for (i, word) in raw.iter().enumerate() {
        if word.is_empty() || word.chars().any(char::is_whitespace) || word.len() > 2048 {
            return Err(AdminError::invalid(
                format!("{field}[{i}]"),
                "must be a non-empty value without spaces",
            ));
        }
    }
    Ok(raw.to_vec())
}

fn check_resources(raw: &[String]) -> Result<Vec<String>, AdminError> {
    for (i, uri) in raw.iter().enumerate() {
        ResourceUri::parse(uri).map_err(|e| AdminError::invalid(format!("resources[{i}]"), e))?;
    }
    check_words("resources", raw)
}

fn parse_scope(raw: Option<&str>) -> Result<Option<ScopeSet>, AdminError> {
    raw.map(|s| ScopeSet::parse(s).map_err(|e| AdminError::invalid("scope", e)))
        .transpose()
}

fn parse_subject_claim(raw: Option<&str>) -> Result<SubjectClaim, AdminError> {
    match raw {
        None => Ok(SubjectClaim::UserId),
        Some(raw) => SubjectClaim::parse(raw)
            .ok_or_else(|| AdminError::invalid("subject_claim", "must be user_id or username")),
    }
}

async fn parse_clients(
    ctx: &AdminContext,
    bodies: &[AudienceClientBody],
) -> Result<Vec<AudienceClient>, AdminError> {
    let mut clients: Vec<AudienceClient> = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let id = ClientId::from_stored(body.client_id.clone());
        if ctx.store.find_client(&id).await?.is_none() {
            return Err(AdminError::invalid(
                format!("clients[{i}].client_id"),
                "no such client",
            ));
        }
        if clients.iter().any(|c| c.client_id == id) {
            return Err(AdminError::invalid(
                format!("clients[{i}].client_id"),
                "is listed twice",
            ));
        }
        let there = body
            .client_id_at_audience
            .clone()
            .unwrap_or_else(|| body.client_id.clone());
        if there.is_empty() {
            return Err(AdminError::invalid(
                format!("clients[{i}].client_id_at_audience"),
                "must not be empty",
            ));
        }
        clients.push(AudienceClient {
            client_id: id,
            client_id_at_audience: there,
        });
    }
    Ok(clients)
}

fn view(audience: IdJagAudience) -> AudienceView {
    AudienceView {
        audience_id: audience.id.to_string(),
        issuer: audience.issuer,
        name: audience.name,
        aliases: audience.aliases,
        resources: audience.resources,
        scope: audience.scope.as_ref().map(ToString::to_string),
        subject_claim: audience.subject_claim.as_str().to_owned(),
        clients: audience
            .clients
            .into_iter()
            .map(|c| AudienceClientBody {
                client_id: c.client_id.to_string(),
                client_id_at_audience: Some(c.client_id_at_audience),
            })
            .collect(),
        enabled: audience.is_enabled,
        via_provider: audience.via_provider,
        created_at: audience.created_at,
        updated_at: audience.updated_at,
    }
}
