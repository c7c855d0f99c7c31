//! Initial access tokens for dynamic registration (DCR-9): an operator hands one to a
//! client developer, whose client presents it as `Authorization: Bearer` when it
//! registers in `dcr.mode = "token"`. 256-bit, shown once, stored as a keyed hash (SEC-13).

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{Actor, AdminContext, AdminError, SearchQuery};
use crate::audit;
use crate::clock::UnixTime;
use crate::crypto::random_token;
use crate::domain::ids::InitialAccessTokenId;
use crate::storage::InitialAccessTokenRecord;

/// Prefix of initial access tokens, so leaked ones are recognisable in scanners.
pub const TOKEN_PREFIX: &str = "mcpi_";
/// Lifetime of a token created without `expires_in`: 7 days.
pub const DEFAULT_LIFETIME: i64 = 7 * 24 * 3600;
/// Longest lifetime: 365 days.
pub const MAX_LIFETIME: i64 = 365 * 24 * 3600;

/// Body of `POST /admin/api/v1/initial-access-tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInitialAccessTokenBody {
    /// Whom or what it is for (1-200 characters).
    #[schema(example = "Acme IDE team, staging")]
    pub description: String,
    /// Seconds until it stops working: default 604800 (7 days), at most 31536000 (365 days).
    pub expires_in: Option<i64>,
    /// How many clients it may register (at least 1); absent or `null`: no limit.
    pub max_registrations: Option<i64>,
}

/// A token as the API shows it; the token itself only in the creation response.
#[derive(Serialize, ToSchema)]
pub struct InitialAccessTokenView {
    /// Public id (`iat_…`).
    pub id: String,
    /// Only in the creation response: the token, shown once and stored hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Whom or what it is for.
    pub description: String,
    /// `active`, `expired`, `revoked` or `used_up`.
    pub state: &'static str,
    /// Clients it registered so far.
    pub registrations: i64,
    /// How many clients it may register; `null`: no limit.
    pub max_registrations: Option<i64>,
    /// When created (Unix seconds).
    pub created_at: i64,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
    /// When revoked (Unix seconds), if it was.
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for InitialAccessTokenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialAccessTokenView")
            .field("id", &self.id)
            .field("state", &self.state)
            .finish_non_exhaustive() // the token is never printed (SEC-13)
    }
}

/// A page of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct InitialAccessTokenPage {
    /// Tokens in id order.
    pub items: Vec<InitialAccessTokenView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Creates a token; the answer is the only place its value appears.
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    body: NewInitialAccessTokenBody,
) -> Result<InitialAccessTokenView, AdminError> {
    let description = body.description.trim();
    let length_ok = (1..=200).contains(&description.chars().count());
    if !length_ok || description.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "description",
            "must be 1-200 characters without control characters",
        ));
    }
    let lifetime = body.expires_in.unwrap_or(DEFAULT_LIFETIME);
    if !(1..=MAX_LIFETIME).contains(&lifetime) {
        return Err(AdminError::invalid(
            "expires_in",
            format!("must be between 1 and {MAX_LIFETIME} seconds (365 days)"),
        ));
    }
    if body.max_registrations.is_some_and(|max| max < 1) {
        return Err(AdminError::invalid(
            "max_registrations",
            "must be at least 1 (leave it out for no limit)",
        ));
    }
    let now = ctx.clock.now();
    let token = format!("{TOKEN_PREFIX}{}", random_token()?);
    let record = InitialAccessTokenRecord {
        token_id: InitialAccessTokenId::generate()?.to_string(),
        description: description.to_owned(),
        max_registrations: body.max_registrations,
        registrations: 0,
        created_at: now,
        expires_at: now.saturating_add(lifetime),
        revoked_at: None,
    };
    let detail = json!({
        "description": record.description,
        "expires_at": record.expires_at,
        "max_registrations": record.max_registrations,
    });
    let event = audit::event(
        actor,
        "initial_access_token.created",
        "initial_access_token",
        &record.token_id,
        detail,
    );
    ctx.store
        .insert_initial_access_token(&record, &ctx.hasher.hash(&token), &event)
        .await?;
    let mut view = view(record, now);
    view.token = Some(token);
    Ok(view)
}

/// Reads one token (never its value).
pub async fn get(ctx: &AdminContext, id: &str) -> Result<InitialAccessTokenView, AdminError> {
    let record = ctx
        .store
        .find_initial_access_token(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(view(record, ctx.clock.now()))
}

/// Lists tokens, a page at a time.
pub async fn list(
    ctx: &AdminContext,
    query: SearchQuery,
) -> Result<InitialAccessTokenPage, AdminError> {
    let (paging, search) = query.split();
    let page = ctx.page_request(paging)?;
    let page = ctx
        .store
        .list_initial_access_tokens(&page, search.as_deref())
        .await?;
    let now = ctx.clock.now();
    Ok(InitialAccessTokenPage {
        items: page.items.into_iter().map(|r| view(r, now)).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Revokes a token: it registers no more clients; those it registered stay. Revoking a
/// revoked token changes nothing.
pub async fn revoke(ctx: &AdminContext, actor: &Actor, id: &str) -> Result<(), AdminError> {
    let event = audit::event(
        actor,
        "initial_access_token.revoked",
        "initial_access_token",
        id,
        json!({}),
    );
    ctx.store
        .revoke_initial_access_token(id, &event, ctx.clock.now())
        .await?;
    Ok(())
}

fn state(record: &InitialAccessTokenRecord, now: UnixTime) -> &'static str {
    if record.revoked_at.is_some() {
        "revoked"
    } else if now >= record.expires_at {
        "expired"
    } else if record
        .max_registrations
        .is_some_and(|max| record.registrations >= max)
    {
        "used_up"
    } else {
        "active"
    }
}

fn view(record: InitialAccessTokenRecord, now: UnixTime) -> InitialAccessTokenView {
    InitialAccessTokenView {
        state: state(&record, now),
        id: record.token_id,
        token: None,
        description: record.description,
        registrations: record.registrations,
        max_registrations: record.max_registrations,
        created_at: record.created_at,
        expires_at: record.expires_at,
        revoked_at: record.revoked_at,
    }
}
