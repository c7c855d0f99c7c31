//! `/admin/api/v1/audit`: the audit log.

use axum::Json;
use axum::extract::{Query, State};

use crate::admin::audit::{AuditPage, AuditQuery};
use crate::admin::{AdminContext, audit};
use crate::web::extract::AdminCaller;
use crate::web::responses::{ApiError, ApiErrorBody};

/// List audit events, newest first.
#[utoipa::path(get, path = "/admin/api/v1/audit", tag = "audit", operation_id = "list_audit_events", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = ApiErrorBody),
              (status = 422, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(
    State(ctx): State<AdminContext>,
    _admin: AdminCaller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(audit::list(&ctx, query).await?))
}
