//! The admin JSON API under `/admin/api/v1`, and its OpenAPI document.

mod audiences;
mod audit;
mod cimd;
mod clients;
mod grants;
mod idps;
mod initial_access_tokens;
mod keys;
mod openapi;
mod servers;
mod users;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::AppState;

/// Routes relative to `/admin/api`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi::get))
        .route("/v1/servers", get(servers::list).post(servers::post))
        .route(
            "/v1/servers/{server_id}",
            get(servers::get)
                .patch(servers::patch)
                .delete(servers::delete),
        )
        .route(
            "/v1/servers/{server_id}/protected-resource-metadata",
            get(servers::protected_resource_metadata),
        )
        .route("/v1/clients", get(clients::list).post(clients::post))
        .route(
            "/v1/clients/{client_id}",
            get(clients::get)
                .patch(clients::patch)
                .delete(clients::delete),
        )
        .route(
            "/v1/clients/{client_id}/secrets",
            get(clients::list_secrets).post(clients::post_secret),
        )
        .route(
            "/v1/clients/{client_id}/secrets/{secret_id}",
            delete(clients::delete_secret),
        )
        .route("/v1/cimd/clients", get(cimd::list))
        .route(
            "/v1/cimd/clients/{client_id}",
            get(cimd::get).patch(cimd::patch),
        )
        .route("/v1/cimd/clients/{client_id}/approve", post(cimd::approve))
        .route(
            "/v1/cimd/host-rules",
            get(cimd::list_rules).post(cimd::post_rule),
        )
        .route("/v1/cimd/host-rules/{rule_id}", delete(cimd::delete_rule))
        .route(
            "/v1/initial-access-tokens",
            get(initial_access_tokens::list).post(initial_access_tokens::post),
        )
        .route(
            "/v1/initial-access-tokens/{id}",
            get(initial_access_tokens::get).delete(initial_access_tokens::delete),
        )
        .route(
            "/v1/id-jag-audiences",
            get(audiences::list).post(audiences::post),
        )
        .route(
            "/v1/id-jag-audiences/{audience_id}",
            get(audiences::get)
                .patch(audiences::patch)
                .delete(audiences::delete),
        )
        .route("/v1/idps", get(idps::list).post(idps::post))
        .route(
            "/v1/idps/{idp_id}",
            get(idps::get).patch(idps::patch).delete(idps::delete),
        )
        .route("/v1/audit", get(audit::list))
        .route("/v1/grants", get(grants::list))
        .route("/v1/grants/{grant_id}/revoke", post(grants::revoke))
        .route("/v1/users/{user_id}/sessions", get(grants::sessions))
        .route(
            "/v1/users/{user_id}/sessions/{session_id}",
            delete(grants::end_session),
        )
        .route("/v1/users/{user_id}/identities", get(grants::identities))
        .route("/v1/keys", get(keys::list))
        .route("/v1/keys/rotate", post(keys::rotate))
        .route("/v1/users", get(users::list).post(users::post))
        .route(
            "/v1/users/{user_id}",
            get(users::get).patch(users::patch).delete(users::delete),
        )
}
