//! The HTTP adapter: extract, call one use-case, shape the response.
//!
//! Every layer is applied here and nowhere else. Nothing imports `web`.

mod admin;
mod extract;
mod layers;
mod ops;
mod pages;
mod responses;
mod well_known;

use axum::Router;
use axum::routing::get;

use crate::oauth::metadata::JWKS_PATH;
use crate::state::AppState;

/// The whole router: well-known documents, operations, admin API, pages.
pub fn router(state: AppState) -> Router {
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

    let pages = Router::new().route("/", get(pages::home::get));

    let app = Router::new()
        .merge(discovery)
        .merge(operations)
        .merge(pages)
        .nest("/admin/api", admin::api::router())
        .fallback(responses::not_found);
    layers::global(app, &state.settings).with_state(state)
}
