//! `/admin/servers`: MCP servers (resource URI, scopes with descriptions, default
//! scopes, default resource, token lifetime) and the Protected Resource Metadata each
//! one should publish.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console, ConsoleForm, ListParams};
use super::{ConsoleChrome, FieldError};
use crate::admin::AdminError;
use crate::admin::servers::{
    self as server_admin, NewServerBody, ScopeBody, ServerPatchBody, ServerView,
};
use crate::domain::ids::ServerId;

const SECTION: &str = "/admin/servers";

/// The server form as submitted (create and edit share it).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ServerForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    name: String,
    /// One scope per line: the scope, a space, its description.
    #[serde(default)]
    scopes: String,
    /// Space-separated.
    #[serde(default)]
    default_scopes: String,
    /// Seconds; empty: the global default.
    #[serde(default)]
    access_token_ttl_seconds: String,
    /// Checkboxes: present when ticked.
    enabled: Option<String>,
    default_resource: Option<String>,
}

impl ConsoleForm for ServerForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl ServerForm {
    fn from_view(view: &ServerView) -> Self {
        Self {
            csrf_token: String::new(),
            resource: view.resource.clone(),
            name: view.name.clone(),
            scopes: view
                .scopes
                .iter()
                .map(|s| format!("{} {}", s.name, s.description))
                .collect::<Vec<_>>()
                .join("\n"),
            default_scopes: view.default_scopes.join(" "),
            access_token_ttl_seconds: view
                .access_token_ttl_seconds
                .map(|s| s.to_string())
                .unwrap_or_default(),
            enabled: view.enabled.then(|| "on".to_owned()),
            default_resource: view.default_resource.then(|| "on".to_owned()),
        }
    }

    fn new_default() -> Self {
        Self {
            enabled: Some("on".to_owned()),
            ..Self::default()
        }
    }

    fn parsed_scopes(&self) -> Vec<ScopeBody> {
        self.scopes
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (name, description) =
                    line.split_once(char::is_whitespace).unwrap_or((line, ""));
                ScopeBody {
                    name: name.to_owned(),
                    description: description.trim().to_owned(),
                }
            })
            .collect()
    }

    fn parsed_defaults(&self) -> Vec<String> {
        self.default_scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    fn parsed_ttl(&self) -> Result<Option<i64>, AdminError> {
        let raw = self.access_token_ttl_seconds.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse::<i64>().map(Some).map_err(|_| {
            AdminError::invalid("access_token_ttl_seconds", "must be a number of seconds")
        })
    }
}

#[derive(Template)]
#[template(path = "console/servers.html")]
struct ServersPage {
    chrome: ConsoleChrome,
    servers: Vec<ServerView>,
    next: Option<String>,
    q: String,
    form: ServerForm,
    error: Option<FieldError>,
}

#[derive(Template)]
#[template(path = "console/server.html")]
struct ServerPage {
    chrome: ConsoleChrome,
    server: ServerView,
    form: ServerForm,
    error: Option<FieldError>,
    metadata: String,
}

super::form_page!(ServersPage, true);
super::form_page!(ServerPage, false);

impl ServersPage {
    /// What the search box matches.
    fn search_label(&self) -> &'static str {
        "Name or resource URI contains"
    }
}

async fn servers_page(
    console: &Console,
    params: ListParams,
    form: ServerForm,
    error: Option<FieldError>,
) -> Result<ServersPage, AdminError> {
    let found = server_admin::list(console.ctx(), params.query()).await?;
    Ok(ServersPage {
        chrome: console.chrome(SECTION, params.flash.as_deref()),
        servers: found.items,
        next: found.next_cursor,
        q: params.q,
        form,
        error,
    })
}

pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let built = servers_page(&console, params, ServerForm::new_default(), None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn create(console: Console, Checked(form): Checked<ServerForm>) -> Response {
    let created = async {
        let body = NewServerBody {
            resource: form.resource.trim().to_owned(),
            name: form.name.trim().to_owned(),
            scopes: form.parsed_scopes(),
            default_scopes: form.parsed_defaults(),
            access_token_ttl_seconds: form.parsed_ttl()?,
            enabled: Some(form.enabled.is_some()),
            default_resource: Some(form.default_resource.is_some()),
        };
        server_admin::create(console.ctx(), &console.actor(), body).await
    }
    .await;
    console
        .answer(
            created,
            |view| format!("{SECTION}/{}?flash=server-created", view.server_id),
            async |field| servers_page(&console, ListParams::default(), form, Some(field)).await,
        )
        .await
}

async fn server_page(
    console: &Console,
    id: &ServerId,
    flash: Option<&str>,
    form: Option<ServerForm>,
    error: Option<FieldError>,
) -> Result<ServerPage, AdminError> {
    let server = server_admin::get(console.ctx(), id).await?;
    Ok(ServerPage {
        chrome: console.chrome(SECTION, flash),
        form: form.unwrap_or_else(|| ServerForm::from_view(&server)),
        metadata: metadata_json(console, id).await,
        server,
        error,
    })
}

pub(super) async fn show(
    console: Console,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let id = ServerId::from_stored(id);
    let built = server_page(&console, &id, params.flash.as_deref(), None, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn update(
    console: Console,
    Path(id): Path<String>,
    Checked(form): Checked<ServerForm>,
) -> Response {
    let id = ServerId::from_stored(id);
    let updated = async {
        let patch = ServerPatchBody {
            resource: Some(form.resource.trim().to_owned()),
            name: Some(form.name.trim().to_owned()),
            scopes: Some(form.parsed_scopes()),
            default_scopes: Some(form.parsed_defaults()),
            access_token_ttl_seconds: Some(form.parsed_ttl()?),
            enabled: Some(form.enabled.is_some()),
            default_resource: Some(form.default_resource.is_some()),
        };
        server_admin::update(console.ctx(), &console.actor(), &id, patch).await
    }
    .await;
    console
        .answer(
            updated,
            |view| format!("{SECTION}/{}?flash=server-updated", view.server_id),
            async |field| server_page(&console, &id, None, Some(form), Some(field)).await,
        )
        .await
}

pub(super) async fn confirm_delete(console: Console, Path(id): Path<String>) -> Response {
    let found = server_admin::get(console.ctx(), &ServerId::from_stored(id)).await;
    console.confirm(SECTION, found, |server| Confirm {
        verb: "Delete",
        what: "MCP server",
        name: format!("{} ({})", server.name, server.resource),
        action: format!("{SECTION}/{}/delete", server.server_id),
        back: format!("{SECTION}/{}", server.server_id),
    })
}

pub(super) async fn delete(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let id = ServerId::from_stored(id);
    let deleted = server_admin::delete(console.ctx(), &console.actor(), &id).await;
    console.finish(deleted, |()| format!("{SECTION}?flash=server-deleted"))
}

/// The Protected Resource Metadata to paste into the server, pretty-printed.
async fn metadata_json(console: &Console, id: &ServerId) -> String {
    let issuer = console.state.settings.issuer.as_str();
    match server_admin::protected_resource_metadata(console.ctx(), id, issuer).await {
        Ok(metadata) => serde_json::to_string_pretty(&metadata).unwrap_or_default(),
        Err(_) => String::new(),
    }
}
