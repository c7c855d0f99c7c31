//! `/admin/api/v1/keys`: signing keys and rotation.

use axum::Json;
use axum::extract::State;

use crate::admin::keys::{self, KeyList, Rotation};
use crate::state::AppState;
use crate::web::extract::AdminCaller;
use crate::web::responses::{ApiError, ApiErrorBody};

/// List signing keys with their schedule and state.
#[utoipa::path(get, path = "/admin/api/v1/keys", tag = "keys", operation_id = "list_keys",
    responses((status = 200, body = KeyList), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn list(State(state): State<AppState>, _admin: AdminCaller) -> Json<KeyList> {
    Json(keys::list(&state.keyring, state.clock.now()))
}

/// Publish a new signing key now; it signs after `keys.publish_ahead`.
#[utoipa::path(post, path = "/admin/api/v1/keys/rotate", tag = "keys", operation_id = "rotate_key",
    responses((status = 200, body = Rotation), (status = 401, body = ApiErrorBody)),
    security(("admin_token" = [])))]
pub(super) async fn rotate(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
) -> Result<Json<Rotation>, ApiError> {
    Ok(Json(
        keys::rotate(&state.keyring, &actor, state.clock.now()).await?,
    ))
}
