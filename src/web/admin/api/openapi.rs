//! The admin API's OpenAPI document, generated from the handlers and types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    audiences, audit, cimd, clients, grants, idps, initial_access_tokens, keys, servers, users,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "mcp-authz admin API", description = "Manage MCP servers, clients, users and initial access tokens."),
    paths(
        servers::post, servers::list, servers::get, servers::patch, servers::delete,
        servers::protected_resource_metadata,
        clients::post, clients::list, clients::get, clients::patch, clients::delete,
        clients::post_secret, clients::list_secrets, clients::delete_secret,
        users::post, users::list, users::get, users::patch, users::delete,
        cimd::list, cimd::get, cimd::patch, cimd::approve,
        cimd::list_rules, cimd::post_rule, cimd::delete_rule,
        initial_access_tokens::post, initial_access_tokens::list, initial_access_tokens::get,
        initial_access_tokens::delete,
        idps::post, idps::list, idps::get, idps::patch, idps::delete,
        audiences::post, audiences::list, audiences::get, audiences::patch, audiences::delete,
        audit::list,
        keys::list, keys::rotate,
        grants::list, grants::revoke, grants::sessions, grants::end_session, grants::identities,
    ),
    modifiers(&AdminTokenScheme),
    tags(
        (name = "servers", description = "MCP servers (protected resources) and their scopes"),
        (name = "clients", description = "Pre-registered OAuth clients"),
        (name = "users", description = "Local user accounts"),
        (name = "cimd", description = "Clients identified by metadata document URLs, and host rules"),
        (name = "idps", description = "Trusted enterprise IdPs whose ID-JAGs are redeemed (Cross App Access)"),
        (name = "id-jag-audiences", description = "Authorization servers this server issues ID-JAGs for (token exchange)"),
        (name = "initial-access-tokens", description = "Tokens that let clients register themselves (RFC 7591)"),
        (name = "grants", description = "What users allowed clients: list by user or client, revoke"),
        (name = "keys", description = "Signing keys: schedule, state and rotation"),
        (name = "audit", description = "The audit log: every admin change and security event"),
    )
)]
struct AdminApiDoc;

struct AdminTokenScheme;

impl Modify for AdminTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /admin/api/openapi.json`
pub(super) async fn get() -> Json<utoipa::openapi::OpenApi> {
    Json(AdminApiDoc::openapi())
}
