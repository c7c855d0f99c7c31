//! `/admin/api/v1/id-jag-audiences`: authorization servers we issue ID-JAGs for (XAA-21).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::audiences::{AudiencePage, AudiencePatchBody, AudienceView, NewAudienceBody};
use crate::admin::{AdminContext, SearchQuery, audiences};
use crate::domain::ids::IdJagAudienceId;
use crate::web::extract::{AdminCaller, ApiJson};
use crate::web::responses::{ApiError, ApiErrorBody};

/// Add an authorization server to issue ID-JAGs for.
#[utoipa::path(post, path = "/admin/api/v1/id-jag-audiences", tag = "id-jag-audiences", operation_id = "create_id_jag_audience", request_body = NewAudienceBody,
    responses((status = 201, body = AudienceView), (status = 401, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    ApiJson(body): ApiJson<NewAudienceBody>,
) -> Result<(StatusCode, Json<AudienceView>), ApiError> {
    let view = audiences::create(&ctx, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List ID-JAG audiences.
#[utoipa::path(get, path = "/admin/api/v1/id-jag-audiences", tag = "id-jag-audiences", operation_id = "list_id_jag_audiences", params(SearchQuery),
    responses((status = 200, body = AudiencePage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<AudiencePage>, ApiError> {
    Ok(Json(audiences::list(&ctx, query).await?))
}

/// Read an ID-JAG audience.
#[utoipa::path(get, path = "/admin/api/v1/id-jag-audiences/{audience_id}", tag = "id-jag-audiences", operation_id = "get_id_jag_audience",
    params(("audience_id" = String, Path)),
    responses((status = 200, body = AudienceView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn get(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<AudienceView>, ApiError> {
    Ok(Json(
        audiences::get(&ctx, &IdJagAudienceId::from_stored(id)).await?,
    ))
}

/// Change an ID-JAG audience.
#[utoipa::path(patch, path = "/admin/api/v1/id-jag-audiences/{audience_id}", tag = "id-jag-audiences", operation_id = "update_id_jag_audience",
    params(("audience_id" = String, Path)), request_body = AudiencePatchBody,
    responses((status = 200, body = AudienceView), (status = 404, body = ApiErrorBody),
              (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn patch(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AudiencePatchBody>,
) -> Result<Json<AudienceView>, ApiError> {
    Ok(Json(
        audiences::update(&ctx, &actor, &IdJagAudienceId::from_stored(id), body).await?,
    ))
}

/// Remove an ID-JAG audience.
#[utoipa::path(delete, path = "/admin/api/v1/id-jag-audiences/{audience_id}", tag = "id-jag-audiences", operation_id = "delete_id_jag_audience",
    params(("audience_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    audiences::delete(&ctx, &actor, &IdJagAudienceId::from_stored(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
