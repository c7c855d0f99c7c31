//! `/admin/servers`: MCP servers (resource URI, scopes with descriptions, default
//! scopes, default resource, token lifetime) and the Protected Resource Metadata each
//! one should publish.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{
    ConfirmPage, ConsoleAdmin, ConsoleChrome, FieldError, FlashQuery, FormFailure, actor, csrf_ok,
    form_failure, page, read_failure,
};
use crate::admin::servers::{
    self as server_admin, NewServerBody, ScopeBody, ServerPatchBody, ServerView,
};
use crate::admin::{AdminError, ListQuery};
use crate::domain::ids::ServerId;
use crate::state::AppState;
use crate::web::pages::{PageError, PageForm};
use crate::web::responses::see_other;

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

/// `?after=` paging plus the flash.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    pub(super) after: Option<String>,
    pub(super) flash: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Response {
    let chrome = ConsoleChrome::new(&state, &admin, "/admin/servers", params.flash.as_deref());
    let query = ListQuery {
        limit: Some(50),
        after: params.after,
    };
    match server_admin::list(&state.admin, query).await {
        Ok(found) => page(
            StatusCode::OK,
            &ServersPage {
                chrome,
                servers: found.items,
                next: found.next_cursor,
                form: ServerForm::new_default(),
                error: None,
            },
        ),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    headers: HeaderMap,
    PageForm(form): PageForm<ServerForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
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
        server_admin::create(&state.admin, &actor(&admin), body).await
    }
    .await;
    match created {
        Ok(view) => see_other(&format!(
            "/admin/servers/{}?flash=server-created",
            view.server_id
        )),
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => {
                let servers = server_admin::list(&state.admin, ListQuery::default())
                    .await
                    .map(|p| p.items)
                    .unwrap_or_default();
                page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &ServersPage {
                        chrome: ConsoleChrome::new(&state, &admin, "/admin/servers", None),
                        servers,
                        next: None,
                        form,
                        error: Some(field),
                    },
                )
            }
        },
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Query(flash): Query<FlashQuery>,
    headers: HeaderMap,
) -> Response {
    let id = ServerId::from_stored(id);
    let server = match server_admin::get(&state.admin, &id).await {
        Ok(server) => server,
        Err(error) => return read_failure(&state, &headers, error),
    };
    let shown = ServerPage {
        chrome: ConsoleChrome::new(&state, &admin, "/admin/servers", flash.flash.as_deref()),
        form: ServerForm::from_view(&server),
        metadata: metadata_json(&state, &id).await,
        server,
        error: None,
    };
    page(StatusCode::OK, &shown)
}

pub(super) async fn update(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<ServerForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
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
        server_admin::update(&state.admin, &actor(&admin), &id, patch).await
    }
    .await;
    match updated {
        Ok(view) => see_other(&format!(
            "/admin/servers/{}?flash=server-updated",
            view.server_id
        )),
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => {
                let server = match server_admin::get(&state.admin, &id).await {
                    Ok(server) => server,
                    Err(error) => return read_failure(&state, &headers, error),
                };
                let shown = ServerPage {
                    chrome: ConsoleChrome::new(&state, &admin, "/admin/servers", None),
                    metadata: metadata_json(&state, &id).await,
                    server,
                    form,
                    error: Some(field),
                };
                page(StatusCode::UNPROCESSABLE_ENTITY, &shown)
            }
        },
    }
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let server = match server_admin::get(&state.admin, &ServerId::from_stored(id)).await {
        Ok(server) => server,
        Err(error) => return read_failure(&state, &headers, error),
    };
    let confirm = ConfirmPage {
        chrome: ConsoleChrome::new(&state, &admin, "/admin/servers", None),
        verb: "Delete",
        what: "MCP server".to_owned(),
        name: format!("{} ({})", server.name, server.resource),
        action: format!("/admin/servers/{}/delete", server.server_id),
        back: format!("/admin/servers/{}", server.server_id),
    };
    page(StatusCode::OK, &confirm)
}

/// The confirmation form: only its CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    pub(super) csrf_token: String,
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConfirmForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    match server_admin::delete(&state.admin, &actor(&admin), &ServerId::from_stored(id)).await {
        Ok(()) => see_other("/admin/servers?flash=server-deleted"),
        Err(error) => read_failure(&state, &headers, error),
    }
}

/// The Protected Resource Metadata to paste into the server, pretty-printed.
async fn metadata_json(state: &AppState, id: &ServerId) -> String {
    let issuer = state.settings.issuer.as_str();
    match server_admin::protected_resource_metadata(&state.admin, id, issuer).await {
        Ok(metadata) => serde_json::to_string_pretty(&metadata).unwrap_or_default(),
        Err(_) => String::new(),
    }
}
