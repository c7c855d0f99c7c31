//! `/admin/api/v1/cimd`: CIMD clients seen and the host rules (CIMD-28).
//!
//! A CIMD client's id is a URL: percent-encode it as one path segment
//! (`https%3A%2F%2Ftoolkit.example%2Fclient.json`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::cimd::{
    self, CimdClientPage, CimdClientPatchBody, CimdClientView, HostRuleList, HostRuleView,
    NewHostRuleBody,
};
use crate::admin::{AdminContext, SearchQuery};
use crate::web::extract::{AdminCaller, ApiJson};
use crate::web::responses::{ApiError, ApiErrorBody};

/// List the CIMD clients seen, with fetch state, approval and last valid document.
#[utoipa::path(get, path = "/admin/api/v1/cimd/clients", tag = "cimd", operation_id = "list_cimd_clients", params(SearchQuery),
    responses((status = 200, body = CimdClientPage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<CimdClientPage>, ApiError> {
    Ok(Json(cimd::list(&ctx, query).await?))
}

/// Read one CIMD client (the id percent-encoded).
#[utoipa::path(get, path = "/admin/api/v1/cimd/clients/{client_id}", tag = "cimd", operation_id = "get_cimd_client",
    params(("client_id" = String, Path, description = "The document URL, percent-encoded")),
    responses((status = 200, body = CimdClientView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn get(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<CimdClientView>, ApiError> {
    Ok(Json(cimd::get(&ctx, &id).await?))
}

/// Block or unblock a CIMD client.
#[utoipa::path(patch, path = "/admin/api/v1/cimd/clients/{client_id}", tag = "cimd", operation_id = "update_cimd_client",
    params(("client_id" = String, Path, description = "The document URL, percent-encoded")), request_body = CimdClientPatchBody,
    responses((status = 200, body = CimdClientView), (status = 404, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn patch(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CimdClientPatchBody>,
) -> Result<Json<CimdClientView>, ApiError> {
    Ok(Json(cimd::set_enabled(&ctx, &actor, &id, body).await?))
}

/// Approve a CIMD client waiting for an administrator (`cimd.require_approval`).
#[utoipa::path(post, path = "/admin/api/v1/cimd/clients/{client_id}/approve", tag = "cimd", operation_id = "approve_cimd_client",
    params(("client_id" = String, Path, description = "The document URL, percent-encoded")),
    responses((status = 200, body = CimdClientView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn approve(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<CimdClientView>, ApiError> {
    Ok(Json(cimd::approve(&ctx, &actor, &id).await?))
}

/// List the host rules: `cimd.allow_hosts` / `cimd.deny_hosts` and those added here.
#[utoipa::path(get, path = "/admin/api/v1/cimd/host-rules", tag = "cimd", operation_id = "list_cimd_host_rules",
    responses((status = 200, body = HostRuleList), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list_rules(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
) -> Result<Json<HostRuleList>, ApiError> {
    Ok(Json(cimd::list_host_rules(&ctx).await?))
}

/// Add an allow or deny rule for CIMD hosts; it applies to the next request.
#[utoipa::path(post, path = "/admin/api/v1/cimd/host-rules", tag = "cimd", operation_id = "create_cimd_host_rule", request_body = NewHostRuleBody,
    responses((status = 201, body = HostRuleView), (status = 401, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post_rule(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    ApiJson(body): ApiJson<NewHostRuleBody>,
) -> Result<(StatusCode, Json<HostRuleView>), ApiError> {
    let rule = cimd::create_host_rule(&ctx, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Remove a host rule added through the API.
#[utoipa::path(delete, path = "/admin/api/v1/cimd/host-rules/{rule_id}", tag = "cimd", operation_id = "delete_cimd_host_rule",
    params(("rule_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete_rule(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    cimd::delete_host_rule(&ctx, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
