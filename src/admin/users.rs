//! Managing local user accounts (passwords hashed with argon2, SEC-13).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{Actor, AdminContext, AdminError, SearchQuery, double_option};
use crate::audit;
use crate::domain::ids::UserId;
use crate::domain::user::{Email, User, Username, check_password};
use crate::session::password::hash_password;

/// Body of `POST /admin/api/v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Sign-in name: letters, digits and `. _ @ + -`; stored lower-cased.
    #[schema(example = "alice")]
    pub username: String,
    /// 8 to 1024 characters; stored as an argon2id hash.
    #[schema(value_type = String, example = "correct horse battery staple")]
    pub password: SecretString,
    /// The person's address, as you have verified it: an external identity whose IdP
    /// vouches for the same address can be linked to this account (XAA-13).
    #[schema(example = "alice@example.com")]
    pub email: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// May use the admin console. Default false.
    pub admin: Option<bool>,
}

/// Body of `PATCH /admin/api/v1/users/{user_id}`: absent fields stay unchanged.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchBody {
    /// New sign-in name.
    pub username: Option<String>,
    /// New password.
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
    /// New address; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Grant or take away the admin role.
    pub admin: Option<bool>,
}

/// A user as the API returns it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Stable id; the `sub` of the user's tokens.
    pub user_id: String,
    /// Sign-in name.
    pub username: String,
    /// Recorded address (lower-cased).
    pub email: Option<String>,
    /// Whether the user may sign in.
    pub enabled: bool,
    /// Whether the user may use the admin console.
    pub admin: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            user_id: user.id.to_string(),
            username: user.username.as_str().to_owned(),
            email: user.email.map(|e| e.as_str().to_owned()),
            enabled: user.is_enabled,
            admin: user.is_admin,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// Users in username order.
    pub items: Vec<UserView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Creates a user.
pub async fn create(
    ctx: &AdminContext,
    actor: &Actor,
    body: NewUserBody,
) -> Result<UserView, AdminError> {
    let username =
        Username::parse(&body.username).map_err(|e| AdminError::invalid("username", e))?;
    let email = parse_email(body.email.as_deref())?;
    let hash = hashed(body.password).await?;
    let now = ctx.clock.now();
    let user = User {
        id: UserId::generate()?,
        username,
        email,
        is_enabled: body.enabled.unwrap_or(true),
        is_admin: body.admin.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    let view = UserView::from(user.clone());
    let event = audit::event(
        actor,
        "user.created",
        "user",
        user.id.as_str(),
        audit::created(&view),
    );
    ctx.store
        .insert_user(&user, Some(&hash), &event)
        .await
        .map_err(unique_conflict)?;
    Ok(view)
}

/// Applies a partial update.
pub async fn update(
    ctx: &AdminContext,
    actor: &Actor,
    id: &UserId,
    patch: UserPatchBody,
) -> Result<UserView, AdminError> {
    let mut user = ctx
        .store
        .find_user(id)
        .await?
        .ok_or(AdminError::NotFound)?
        .user;
    let before = UserView::from(user.clone());
    if let Some(raw) = &patch.username {
        user.username = Username::parse(raw).map_err(|e| AdminError::invalid("username", e))?;
    }
    if let Some(email) = &patch.email {
        user.email = parse_email(email.as_deref())?;
    }
    let new_hash = match patch.password {
        Some(password) => Some(hashed(password).await?),
        None => None,
    };
    user.is_enabled = patch.enabled.unwrap_or(user.is_enabled);
    user.is_admin = patch.admin.unwrap_or(user.is_admin);
    user.updated_at = ctx.clock.now();
    let view = UserView::from(user.clone());
    let mut detail = audit::updated(&before, &view);
    // Never the password itself: only that it was changed.
    if let Some(members) = detail.as_object_mut() {
        members.insert("password_changed".to_owned(), json!(new_hash.is_some()));
    }
    let event = audit::event(actor, "user.updated", "user", id.as_str(), detail);
    ctx.store
        .update_user(&user, new_hash.as_deref(), &event)
        .await
        .map_err(unique_conflict)?;
    Ok(view)
}

/// Reads one user.
pub async fn get(ctx: &AdminContext, id: &UserId) -> Result<UserView, AdminError> {
    let record = ctx.store.find_user(id).await?.ok_or(AdminError::NotFound)?;
    Ok(record.user.into())
}

/// Lists users, a page at a time.
pub async fn list(ctx: &AdminContext, query: SearchQuery) -> Result<UserPage, AdminError> {
    let (paging, search) = query.split();
    let page = ctx.page_request(paging)?;
    let page = ctx.store.list_users(&page, search.as_deref()).await?;
    Ok(UserPage {
        items: page.items.into_iter().map(UserView::from).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Deletes a user.
pub async fn delete(ctx: &AdminContext, actor: &Actor, id: &UserId) -> Result<(), AdminError> {
    let before = get(ctx, id).await?;
    let event = audit::event(
        actor,
        "user.deleted",
        "user",
        id.as_str(),
        audit::deleted(&before),
    );
    ctx.store.delete_user(id, &event, ctx.clock.now()).await?;
    Ok(())
}

async fn hashed(password: SecretString) -> Result<String, AdminError> {
    use secrecy::ExposeSecret as _;
    check_password(password.expose_secret()).map_err(|e| AdminError::invalid("password", e))?;
    hash_password(password)
        .await
        .map_err(|e| AdminError::Internal(Box::new(e)))
}

fn parse_email(raw: Option<&str>) -> Result<Option<Email>, AdminError> {
    raw.map(Email::parse)
        .transpose()
        .map_err(|e| AdminError::invalid("email", e))
}

fn unique_conflict(err: crate::storage::StoreError) -> AdminError {
    let message = |what: &str| format!("a user with this {what} already exists");
    match AdminError::from(err) {
        AdminError::Conflict { field, .. } if field == "username" => AdminError::Conflict {
            message: message("username"),
            field,
        },
        AdminError::Conflict { field, .. } if field == "email" => AdminError::Conflict {
            message: message("email"),
            field,
        },
        other => other,
    }
}
