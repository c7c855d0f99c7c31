//! The HTTP adapter: extract, call one use-case, shape the response.
//!
//! Every layer is applied here and nowhere else. Nothing imports `web`.

mod admin;
mod client_ip;
mod deadline;
mod extract;
mod layers;
mod oauth;
mod ops;
mod oversized;
mod pages;
mod request_metrics;
mod responses;
mod session;
mod well_known;

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{get, post};
use tower::Service;

use crate::oauth::metadata::JWKS_PATH;
use crate::oauth::register::REGISTER_PATH;
use crate::state::AppState;

/// The whole application: well-known documents, operations, admin API, pages, behind
/// the global layers.
pub fn router(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    let issuer = &state.settings.issuer;
    let metadata_path = issuer.well_known_path("oauth-authorization-server");
    let openid_inserted = issuer.well_known_path("openid-configuration");
    let openid_appended = format!("{}/.well-known/openid-configuration", issuer.path());
    let jwks_path = format!("{}{JWKS_PATH}", issuer.path());

    let mut discovery = Router::new()
        .route(&metadata_path, get(well_known::metadata))
        .route(&openid_inserted, get(well_known::metadata))
        .route(&jwks_path, get(well_known::jwks));
    if openid_appended != openid_inserted {
        discovery = discovery.route(&openid_appended, get(well_known::metadata));
    }
    let discovery = layers::discovery(discovery);

    let operations = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics));

    let p = issuer.path();
    let protocol = Router::new()
        .route(&format!("{p}/oauth2/token"), post(oauth::token::post))
        .route(
            &format!("{p}/oauth2/introspect"),
            post(oauth::token::introspect),
        )
        .route(&format!("{p}/oauth2/revoke"), post(oauth::token::revoke))
        // CORE-20: 2025-03-26 clients fall back to the root paths.
        .route(&format!("{p}/token"), post(oauth::token::post));
    // DCR-1: the registration endpoint exists only while registration is on.
    let protocol = if state.settings.dcr_enabled() {
        protocol
            .route(&format!("{p}{REGISTER_PATH}"), post(oauth::register::post))
            .route(&format!("{p}/register"), post(oauth::register::post)) // CORE-20
    } else {
        protocol
    };
    let protocol = layers::protocol(protocol);

    // No CORS here: the authorization endpoint and pages are for browsers navigating (SEC-8).
    let pages = Router::new()
        .route("/", get(pages::home::get))
        .route(
            &format!("{p}/oauth2/authorize"),
            get(oauth::authorize::get).post(oauth::authorize::post),
        )
        .route(
            &format!("{p}/authorize"),
            get(oauth::authorize::get).post(oauth::authorize::post),
        )
        .route(
            &format!("{p}/login"),
            get(pages::login::get).post(pages::login::post),
        )
        .route(
            &format!("{p}/consent"),
            get(pages::consent::get).post(pages::consent::post),
        )
        .route(
            &format!("{p}/login/federated"),
            post(pages::federation::start),
        )
        .route(
            &format!("{p}{}", crate::federation::CALLBACK_PATH),
            get(pages::federation::callback),
        )
        .route(&format!("{p}/logout"), post(pages::logout::post))
        .route(&format!("{p}/signed-out"), get(pages::logout::signed_out))
        .route(&format!("{p}/static/mcp-authz.css"), get(pages::stylesheet));

    // Admin changes and security events (a failed client authentication at the token
    // endpoint, say) are audited with the client's address (SEC-17).
    let with_client_ip =
        axum::middleware::from_fn_with_state(state.clone(), client_ip::scope_client_ip);
    let admin_api = admin::api::router().layer(with_client_ip.clone());
    let console = admin::console::router(&state).layer(with_client_ip.clone());
    let protocol = protocol.layer(with_client_ip.clone());
    let pages = pages.layer(with_client_ip);

    let settings = &state.settings;
    let app = Router::new()
        .merge(discovery)
        .merge(layers::bounded(protocol, settings))
        .merge(layers::bounded(operations, settings))
        .merge(layers::bounded(pages, settings))
        .nest("/admin/api", layers::bounded(admin_api, settings))
        .nest("/admin", layers::bounded(console, settings))
        .fallback(responses::not_found);
    let settings = state.settings.clone();
    layers::global(app.with_state(state), &settings)
}
