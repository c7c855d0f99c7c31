//! `GET /admin/settings`: the effective configuration (file, environment and defaults
//! merged), secrets redacted, as `mcp-authz config check` prints it; and the upstream
//! OpenID providers it configures.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::ConsoleChrome;
use super::kit::Console;
use crate::web::pages::render;

/// An upstream provider, for the table.
struct ProviderRow {
    id: String,
    name: String,
    issuer: String,
    client_id: String,
    jit_provisioning: bool,
    link_verified_email: bool,
}

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    chrome: ConsoleChrome,
    issuer: String,
    database: &'static str,
    providers: Vec<ProviderRow>,
    effective: String,
}

pub(super) async fn get(console: Console) -> Response {
    let state = &console.state;
    let settings = &state.settings;
    let providers = settings
        .upstream_providers
        .iter()
        .map(|p| ProviderRow {
            id: p.id.clone(),
            name: p.name.clone(),
            issuer: p.issuer.as_str().to_owned(),
            client_id: p.client_id.clone(),
            jit_provisioning: p.jit_provisioning,
            link_verified_email: p.link_verified_email,
        })
        .collect();
    let shown = SettingsPage {
        chrome: console.chrome("/admin/settings", None),
        issuer: settings.issuer.as_str().to_owned(),
        database: match state.store.kind() {
            crate::config::DatabaseKind::Sqlite => "SQLite",
            crate::config::DatabaseKind::Postgres => "PostgreSQL",
        },
        providers,
        effective: settings.to_redacted_toml(),
    };
    render(StatusCode::OK, &shown)
}
