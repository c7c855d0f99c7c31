//! `/admin/api/v1/idps`: trusted enterprise IdPs whose ID-JAGs are redeemed (XAA-18).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::admin::idps::{IdpPage, IdpPatchBody, IdpView, NewIdpBody};
use crate::admin::{AdminContext, SearchQuery, idps};
use crate::domain::ids::IdpId;
use crate::web::extract::{AdminCaller, ApiJson};
use crate::web::responses::{ApiError, ApiErrorBody};

/// Trust an IdP.
#[utoipa::path(post, path = "/admin/api/v1/idps", tag = "idps", operation_id = "create_idp", request_body = NewIdpBody,
    responses((status = 201, body = IdpView), (status = 401, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn post(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    ApiJson(body): ApiJson<NewIdpBody>,
) -> Result<(StatusCode, Json<IdpView>), ApiError> {
    let view = idps::create(&ctx, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List trusted IdPs.
#[utoipa::path(get, path = "/admin/api/v1/idps", tag = "idps", operation_id = "list_idps", params(SearchQuery),
    responses((status = 200, body = IdpPage), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<IdpPage>, ApiError> {
    Ok(Json(idps::list(&ctx, query).await?))
}

/// Read a trusted IdP.
#[utoipa::path(get, path = "/admin/api/v1/idps/{idp_id}", tag = "idps", operation_id = "get_idp",
    params(("idp_id" = String, Path)),
    responses((status = 200, body = IdpView), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn get(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<IdpView>, ApiError> {
    Ok(Json(idps::get(&ctx, &IdpId::from_stored(id)).await?))
}

/// Change a trusted IdP.
#[utoipa::path(patch, path = "/admin/api/v1/idps/{idp_id}", tag = "idps", operation_id = "update_idp",
    params(("idp_id" = String, Path)), request_body = IdpPatchBody,
    responses((status = 200, body = IdpView), (status = 404, body = ApiErrorBody),
              (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn patch(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IdpPatchBody>,
) -> Result<Json<IdpView>, ApiError> {
    Ok(Json(
        idps::update(&ctx, &actor, &IdpId::from_stored(id), body).await?,
    ))
}

/// Stop trusting an IdP.
#[utoipa::path(delete, path = "/admin/api/v1/idps/{idp_id}", tag = "idps", operation_id = "delete_idp",
    params(("idp_id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn delete(
    State(ctx): State<AdminContext>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    idps::delete(&ctx, &actor, &IdpId::from_stored(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
