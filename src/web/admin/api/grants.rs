//! `/admin/api/v1/grants` and a user's sessions and linked identities.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::grants::{GrantPage, GrantQuery, GrantView, IdentityList, SessionList};
use crate::admin::{AdminContext, grants};
use crate::domain::ids::UserId;
use crate::web::extract::AdminCaller;
use crate::web::responses::{ApiError, ApiErrorBody};

/// List grants, by user and/or client.
#[utoipa::path(get, path = "/admin/api/v1/grants", tag = "grants", operation_id = "list_grants", params(GrantQuery),
    responses((status = 200, body = GrantPage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<GrantQuery>,
) -> Result<Json<GrantPage>, ApiError> {
    Ok(Json(grants::list(&ctx, query).await?))
}

/// Revoke a grant: its refresh tokens stop and its access tokens introspect inactive.
#[utoipa::path(post, path = "/admin/api/v1/grants/{grant_id}/revoke", tag = "grants", operation_id = "revoke_grant",
    params(("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn revoke(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(grant_id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    Ok(Json(grants::revoke(&ctx, &actor, &grant_id).await?))
}

/// A user's live browser sessions.
#[utoipa::path(get, path = "/admin/api/v1/users/{user_id}/sessions", tag = "users", operation_id = "list_user_sessions",
    params(("user_id" = String, Path)),
    responses((status = 200, body = SessionList), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn sessions(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<SessionList>, ApiError> {
    Ok(Json(
        grants::sessions(&ctx, &UserId::from_stored(user_id)).await?,
    ))
}

/// End one of a user's sessions (sign that browser out).
#[utoipa::path(delete, path = "/admin/api/v1/users/{user_id}/sessions/{session_id}", tag = "users", operation_id = "end_user_session",
    params(("user_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn end_session(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path((user_id, session_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    grants::end_session(&ctx, &actor, &UserId::from_stored(user_id), &session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The external identities linked to a user.
#[utoipa::path(get, path = "/admin/api/v1/users/{user_id}/identities", tag = "users", operation_id = "list_user_identities",
    params(("user_id" = String, Path)),
    responses((status = 200, body = IdentityList), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn identities(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<IdentityList>, ApiError> {
    Ok(Json(
        grants::identities(&ctx, &UserId::from_stored(user_id)).await?,
    ))
}
