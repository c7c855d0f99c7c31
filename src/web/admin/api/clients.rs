//! `/admin/api/v1/clients`: OAuth clients registered by an administrator.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::client_secrets::{NewSecretBody, SecretList, SecretView};
use crate::admin::clients::{ClientPage, ClientPatchBody, ClientView, NewClientBody};
use crate::admin::{AdminContext, SearchQuery, client_secrets, clients};
use crate::domain::ids::ClientId;
use crate::web::extract::{AdminCaller, ApiJson};
use crate::web::responses::{ApiError, ApiErrorBody};

/// Register a client; a confidential client's secret is in this response only.
#[utoipa::path(post, path = "/admin/api/v1/clients", tag = "clients", operation_id = "create_client", request_body = NewClientBody,
    responses((status = 201, body = ClientView), (status = 401, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    ApiJson(body): ApiJson<NewClientBody>,
) -> Result<(StatusCode, Json<ClientView>), ApiError> {
    let view = clients::create(&ctx, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List Clients.
#[utoipa::path(get, path = "/admin/api/v1/clients", tag = "clients", operation_id = "list_clients", params(SearchQuery),
    responses((status = 200, body = ClientPage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<ClientPage>, ApiError> {
    Ok(Json(clients::list(&ctx, query).await?))
}

/// Read a client.
#[utoipa::path(get, path = "/admin/api/v1/clients/{client_id}", tag = "clients", operation_id = "get_client",
    params(("client_id" = String, Path)),
    responses((status = 200, body = ClientView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn get(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<ClientView>, ApiError> {
    Ok(Json(clients::get(&ctx, &ClientId::from_stored(id)).await?))
}

/// Change a client.
#[utoipa::path(patch, path = "/admin/api/v1/clients/{client_id}", tag = "clients", operation_id = "update_client",
    params(("client_id" = String, Path)), request_body = ClientPatchBody,
    responses((status = 200, body = ClientView), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn patch(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClientPatchBody>,
) -> Result<Json<ClientView>, ApiError> {
    Ok(Json(
        clients::update(&ctx, &actor, &ClientId::from_stored(id), body).await?,
    ))
}

/// Delete a client.
#[utoipa::path(delete, path = "/admin/api/v1/clients/{client_id}", tag = "clients", operation_id = "delete_client",
    params(("client_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    clients::delete(&ctx, &actor, &ClientId::from_stored(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a secret to a client (rotation); the secret is in this response only.
#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/secrets", tag = "clients", operation_id = "create_client_secret",
    params(("client_id" = String, Path)), request_body = NewSecretBody,
    responses((status = 201, body = SecretView), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post_secret(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewSecretBody>,
) -> Result<(StatusCode, Json<SecretView>), ApiError> {
    let view = client_secrets::create(&ctx, &actor, &ClientId::from_stored(id), body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List a client's secrets (ids and dates, never the secrets).
#[utoipa::path(get, path = "/admin/api/v1/clients/{client_id}/secrets", tag = "clients", operation_id = "list_client_secrets",
    params(("client_id" = String, Path)),
    responses((status = 200, body = SecretList), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list_secrets(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<SecretList>, ApiError> {
    Ok(Json(
        client_secrets::list(&ctx, &ClientId::from_stored(id)).await?,
    ))
}

/// Revoke one secret of a client.
#[utoipa::path(delete, path = "/admin/api/v1/clients/{client_id}/secrets/{secret_id}", tag = "clients", operation_id = "revoke_client_secret",
    params(("client_id" = String, Path), ("secret_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete_secret(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path((id, secret_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    client_secrets::revoke(&ctx, &actor, &ClientId::from_stored(id), &secret_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
