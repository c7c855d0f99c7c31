//! `/admin/api/v1/initial-access-tokens`: tokens that let clients register themselves
//! in `dcr.mode = "token"` (DCR-9).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::initial_access_tokens::{
    InitialAccessTokenPage, InitialAccessTokenView, NewInitialAccessTokenBody,
};
use crate::admin::{AdminContext, SearchQuery, initial_access_tokens};
use crate::web::extract::{AdminCaller, ApiJson};
use crate::web::responses::{ApiError, ApiErrorBody};

/// Create an initial access token; its value is in this response only.
#[utoipa::path(post, path = "/admin/api/v1/initial-access-tokens", tag = "initial-access-tokens",
    operation_id = "create_initial_access_token", request_body = NewInitialAccessTokenBody,
    responses((status = 201, body = InitialAccessTokenView), (status = 401, body = ApiErrorBody),
              (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    ApiJson(body): ApiJson<NewInitialAccessTokenBody>,
) -> Result<(StatusCode, Json<InitialAccessTokenView>), ApiError> {
    let view = initial_access_tokens::create(&ctx, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List initial access tokens (never their values).
#[utoipa::path(get, path = "/admin/api/v1/initial-access-tokens", tag = "initial-access-tokens",
    operation_id = "list_initial_access_tokens", params(SearchQuery),
    responses((status = 200, body = InitialAccessTokenPage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<InitialAccessTokenPage>, ApiError> {
    Ok(Json(initial_access_tokens::list(&ctx, query).await?))
}

/// Read an initial access token (never its value).
#[utoipa::path(get, path = "/admin/api/v1/initial-access-tokens/{id}", tag = "initial-access-tokens",
    operation_id = "get_initial_access_token", params(("id" = String, Path)),
    responses((status = 200, body = InitialAccessTokenView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn get(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<InitialAccessTokenView>, ApiError> {
    Ok(Json(initial_access_tokens::get(&ctx, &id).await?))
}

/// Revoke an initial access token; clients it registered stay.
#[utoipa::path(delete, path = "/admin/api/v1/initial-access-tokens/{id}", tag = "initial-access-tokens",
    operation_id = "revoke_initial_access_token", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    initial_access_tokens::revoke(&ctx, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
