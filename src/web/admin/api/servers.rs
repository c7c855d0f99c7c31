//! `/admin/api/v1/servers`: MCP servers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::servers::{
    NewServerBody, ProtectedResourceMetadata, ServerPage, ServerPatchBody, ServerView,
};
use crate::admin::{AdminContext, SearchQuery, servers};
use crate::domain::ids::ServerId;
use crate::state::AppState;
use crate::web::extract::{AdminCaller, ApiJson};
use crate::web::responses::{ApiError, ApiErrorBody};

/// Register an MCP server.
#[utoipa::path(post, path = "/admin/api/v1/servers", tag = "servers", operation_id = "create_server", request_body = NewServerBody,
    responses((status = 201, body = ServerView), (status = 401, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    ApiJson(body): ApiJson<NewServerBody>,
) -> Result<(StatusCode, Json<ServerView>), ApiError> {
    let view = servers::create(&ctx, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List MCP servers.
#[utoipa::path(get, path = "/admin/api/v1/servers", tag = "servers", operation_id = "list_servers", params(SearchQuery),
    responses((status = 200, body = ServerPage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<ServerPage>, ApiError> {
    Ok(Json(servers::list(&ctx, query).await?))
}

/// Read an MCP server.
#[utoipa::path(get, path = "/admin/api/v1/servers/{server_id}", tag = "servers", operation_id = "get_server",
    params(("server_id" = String, Path)),
    responses((status = 200, body = ServerView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn get(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<ServerView>, ApiError> {
    Ok(Json(servers::get(&ctx, &ServerId::from_stored(id)).await?))
}

/// Change an MCP server.
#[utoipa::path(patch, path = "/admin/api/v1/servers/{server_id}", tag = "servers", operation_id = "update_server",
    params(("server_id" = String, Path)), request_body = ServerPatchBody,
    responses((status = 200, body = ServerView), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn patch(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ServerPatchBody>,
) -> Result<Json<ServerView>, ApiError> {
    Ok(Json(
        servers::update(&ctx, &actor, &ServerId::from_stored(id), body).await?,
    ))
}

/// Delete an MCP server.
#[utoipa::path(delete, path = "/admin/api/v1/servers/{server_id}", tag = "servers", operation_id = "delete_server",
    params(("server_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    servers::delete(&ctx, &actor, &ServerId::from_stored(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The Protected Resource Metadata this MCP server must publish (RES-8).
#[utoipa::path(get, path = "/admin/api/v1/servers/{server_id}/protected-resource-metadata", tag = "servers",
    operation_id = "get_protected_resource_metadata",
    params(("server_id" = String, Path)),
    responses((status = 200, body = ProtectedResourceMetadata), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn protected_resource_metadata(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<ProtectedResourceMetadata>, ApiError> {
    let issuer = state.settings.issuer.as_str();
    let id = ServerId::from_stored(id);
    Ok(Json(
        servers::protected_resource_metadata(&state.admin, &id, issuer).await?,
    ))
}
