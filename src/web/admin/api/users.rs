//! `/admin/api/v1/users`: local user accounts.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::users::{NewUserBody, UserPage, UserPatchBody, UserView};
use crate::admin::{AdminContext, SearchQuery, users};
use crate::domain::ids::UserId;
use crate::web::extract::{AdminCaller, ApiJson};
use crate::web::responses::{ApiError, ApiErrorBody};

/// Create a local user.
#[utoipa::path(post, path = "/admin/api/v1/users", tag = "users", operation_id = "create_user", request_body = NewUserBody,
    responses((status = 201, body = UserView), (status = 401, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let view = users::create(&ctx, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List users.
#[utoipa::path(get, path = "/admin/api/v1/users", tag = "users", operation_id = "list_users", params(SearchQuery),
    responses((status = 200, body = UserPage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<UserPage>, ApiError> {
    Ok(Json(users::list(&ctx, query).await?))
}

/// Read a user.
#[utoipa::path(get, path = "/admin/api/v1/users/{user_id}", tag = "users", operation_id = "get_user",
    params(("user_id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn get(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(users::get(&ctx, &UserId::from_stored(id)).await?))
}

/// Change a user.
#[utoipa::path(patch, path = "/admin/api/v1/users/{user_id}", tag = "users", operation_id = "update_user",
    params(("user_id" = String, Path)), request_body = UserPatchBody,
    responses((status = 200, body = UserView), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn patch(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserPatchBody>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        users::update(&ctx, &actor, &UserId::from_stored(id), body).await?,
    ))
}

/// Delete a user.
#[utoipa::path(delete, path = "/admin/api/v1/users/{user_id}", tag = "users", operation_id = "delete_user",
    params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::delete(&ctx, &actor, &UserId::from_stored(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
