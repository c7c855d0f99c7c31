//! `/admin/clients`: pre-registered and dynamically registered clients (create, edit,
//! disable, delete, secrets: add one shown once, revoke) and the CIMD clients seen.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::servers::{ConfirmForm, ListParams};
use super::{
    ConfirmPage, ConsoleAdmin, ConsoleChrome, FieldError, FlashQuery, FormFailure, actor, csrf_ok,
    encoded, form_failure, lines, optional, page, read_failure, timestamp,
};
use crate::admin::cimd::{self as cimd_admin};
use crate::admin::client_secrets::{self, NewSecretBody, SecretView};
use crate::admin::clients::{self as client_admin, ClientPatchBody, ClientView, NewClientBody};
use crate::admin::{AdminError, ListQuery};
use crate::domain::ids::ClientId;
use crate::state::AppState;
use crate::web::pages::{PageError, PageForm};
use crate::web::responses::see_other;

/// The grant types the form offers, with how the form names them.
const GRANTS: [(&str, &str); 5] = [
    ("authorization_code", "Authorization code (users sign in)"),
    ("refresh_token", "Refresh tokens"),
    ("client_credentials", "Client credentials (machine client)"),
    (
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "ID-JAG redemption (jwt-bearer)",
    ),
    (
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "Token exchange (obtain ID-JAGs)",
    ),
];

/// The authentication methods the form offers.
const AUTH_METHODS: [(&str, &str); 4] = [
    ("client_secret_basic", "Client secret (HTTP Basic)"),
    ("client_secret_post", "Client secret (form body)"),
    ("private_key_jwt", "Signed JWT (private_key_jwt)"),
    ("none", "None: a public client (PKCE only)"),
];

/// The client form (create and edit share it). Repeated `grant_types` come as a list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ClientForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    client_name: String,
    /// One per line.
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: String,
    #[serde(default)]
    jwks_uri: String,
    #[serde(default)]
    scope: String,
    /// One per line; empty: every enabled server.
    #[serde(default)]
    allowed_resources: String,
    allow_introspection: Option<String>,
    enabled: Option<String>,
}

impl ClientForm {
    fn from_view(view: &ClientView) -> Self {
        Self {
            csrf_token: String::new(),
            client_name: view.client_name.clone(),
            redirect_uris: view.redirect_uris.join("\n"),
            grant_types: view.grant_types.clone(),
            token_endpoint_auth_method: view.token_endpoint_auth_method.clone(),
            jwks_uri: view.jwks_uri.clone().unwrap_or_default(),
            scope: view.scope.clone().unwrap_or_default(),
            allowed_resources: view
                .allowed_resources
                .as_ref()
                .map(|r| r.join("\n"))
                .unwrap_or_default(),
            allow_introspection: view.allow_introspection.then(|| "on".to_owned()),
            enabled: view.enabled.then(|| "on".to_owned()),
        }
    }

    fn allowed_resources(&self) -> Option<Vec<String>> {
        let resources = lines(&self.allowed_resources);
        (!resources.is_empty()).then_some(resources)
    }

    fn has_grant(&self, grant: &&str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

/// The form's body as `serde_urlencoded` cannot read repeated keys into a `Vec`: parse
/// the pairs by hand, keeping every `grant_types`.
pub(super) struct ClientFormBody(ClientForm);

impl axum::extract::FromRequest<AppState> for ClientFormBody {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| PageError::bad_form().render(state, &headers))?;
        let mut form = ClientForm::default();
        for (name, value) in url::form_urlencoded::parse(&bytes) {
            let value = value.into_owned();
            match name.as_ref() {
                "csrf_token" => form.csrf_token = value,
                "client_name" => form.client_name = value,
                "redirect_uris" => form.redirect_uris = value,
                "grant_types" => form.grant_types.push(value),
                "token_endpoint_auth_method" => form.token_endpoint_auth_method = value,
                "jwks_uri" => form.jwks_uri = value,
                "scope" => form.scope = value,
                "allowed_resources" => form.allowed_resources = value,
                "allow_introspection" => form.allow_introspection = Some(value),
                "enabled" => form.enabled = Some(value),
                _ => {}
            }
        }
        Ok(Self(form))
    }
}

/// A CIMD client seen, for the table.
struct CimdRow {
    client_id: String,
    name: String,
    state: String,
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage {
    chrome: ConsoleChrome,
    clients: Vec<ClientView>,
    next: Option<String>,
    cimd: Vec<CimdRow>,
    form: ClientForm,
    error: Option<FieldError>,
    grants: &'static [(&'static str, &'static str)],
    methods: &'static [(&'static str, &'static str)],
}

/// A secret as a table row.
struct SecretRow {
    secret: SecretView,
    created_at: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "console/client.html")]
struct ClientPage {
    chrome: ConsoleChrome,
    client: ClientView,
    secrets: Vec<SecretRow>,
    revealed: Option<String>,
    form: ClientForm,
    error: Option<FieldError>,
    grants: &'static [(&'static str, &'static str)],
    methods: &'static [(&'static str, &'static str)],
}

super::form_page!(ClientsPage, true);
super::form_page!(ClientPage, false);

async fn clients_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    after: Option<String>,
    flash: Option<&str>,
    form: ClientForm,
    error: Option<FieldError>,
) -> Result<ClientsPage, AdminError> {
    let query = ListQuery {
        limit: Some(50),
        after,
    };
    let found = client_admin::list(&state.admin, query).await?;
    let seen = cimd_admin::list(&state.admin, ListQuery::default()).await?;
    let cimd = seen
        .items
        .into_iter()
        .map(|c| CimdRow {
            state: c.standing,
            name: c.client_name,
            client_id: c.client_id,
        })
        .collect();
    Ok(ClientsPage {
        chrome: ConsoleChrome::new(state, admin, "/admin/clients", flash),
        clients: found.items,
        next: found.next_cursor,
        cimd,
        form,
        error,
        grants: &GRANTS,
        methods: &AUTH_METHODS,
    })
}

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Response {
    let form = ClientForm {
        grant_types: vec!["authorization_code".to_owned()],
        token_endpoint_auth_method: "client_secret_basic".to_owned(),
        enabled: Some("on".to_owned()),
        ..ClientForm::default()
    };
    match clients_page(
        &state,
        &admin,
        params.after,
        params.flash.as_deref(),
        form,
        None,
    )
    .await
    {
        Ok(shown) => page(StatusCode::OK, &shown),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    headers: HeaderMap,
    ClientFormBody(form): ClientFormBody,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let body = NewClientBody {
        client_name: form.client_name.trim().to_owned(),
        redirect_uris: lines(&form.redirect_uris),
        grant_types: Some(form.grant_types.clone()),
        token_endpoint_auth_method: optional(&form.token_endpoint_auth_method),
        jwks: None,
        jwks_uri: optional(&form.jwks_uri),
        scope: optional(&form.scope),
        allowed_resources: form.allowed_resources(),
        allow_introspection: Some(form.allow_introspection.is_some()),
        accept_token_endpoint_audience: None,
        enabled: Some(form.enabled.is_some()),
    };
    match client_admin::create(&state.admin, &actor(&admin), body).await {
        Ok(view) => {
            if let Some(secret) = &view.client_secret
                && let Err(error) = state.sessions.keep_reveal(&admin.session, secret).await
            {
                return PageError::internal(&error).render(&state, &headers);
            }
            see_other(&format!(
                "/admin/clients/{}?flash=client-created",
                encoded(&view.client_id)
            ))
        }
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => {
                match clients_page(&state, &admin, None, None, form, Some(field)).await {
                    Ok(shown) => page(StatusCode::UNPROCESSABLE_ENTITY, &shown),
                    Err(error) => read_failure(&state, &headers, error),
                }
            }
        },
    }
}

async fn client_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    id: &ClientId,
    flash: Option<&str>,
    form: Option<ClientForm>,
    error: Option<FieldError>,
) -> Result<ClientPage, AdminError> {
    let client = client_admin::get(&state.admin, id).await?;
    let secrets = if client
        .token_endpoint_auth_method
        .starts_with("client_secret")
    {
        client_secrets::list(&state.admin, id).await?.items
    } else {
        Vec::new()
    };
    let secrets = secrets
        .into_iter()
        .map(|secret| SecretRow {
            created_at: timestamp(secret.created_at),
            expires_at: secret
                .expires_at
                .map(timestamp)
                .unwrap_or_else(|| "never".to_owned()),
            secret,
        })
        .collect();
    let revealed = state
        .sessions
        .take_reveal(&admin.session)
        .await
        .map_err(|e| AdminError::Internal(Box::new(e)))?;
    Ok(ClientPage {
        chrome: ConsoleChrome::new(state, admin, "/admin/clients", flash),
        form: form.unwrap_or_else(|| ClientForm::from_view(&client)),
        client,
        secrets,
        revealed,
        error,
        grants: &GRANTS,
        methods: &AUTH_METHODS,
    })
}

pub(super) async fn show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Query(flash): Query<FlashQuery>,
    headers: HeaderMap,
) -> Response {
    let id = ClientId::from_stored(id);
    match client_page(&state, &admin, &id, flash.flash.as_deref(), None, None).await {
        Ok(shown) => page(StatusCode::OK, &shown),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn update(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ClientFormBody(form): ClientFormBody,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let id = ClientId::from_stored(id);
    let patch = ClientPatchBody {
        client_name: Some(form.client_name.trim().to_owned()),
        redirect_uris: Some(lines(&form.redirect_uris)),
        grant_types: Some(form.grant_types.clone()),
        scope: Some(optional(&form.scope)),
        allowed_resources: Some(form.allowed_resources()),
        allow_introspection: Some(form.allow_introspection.is_some()),
        jwks: None,
        jwks_uri: optional(&form.jwks_uri),
        accept_token_endpoint_audience: None,
        enabled: Some(form.enabled.is_some()),
    };
    match client_admin::update(&state.admin, &actor(&admin), &id, patch).await {
        Ok(view) => see_other(&format!(
            "/admin/clients/{}?flash=client-updated",
            encoded(&view.client_id)
        )),
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => {
                match client_page(&state, &admin, &id, None, Some(form), Some(field)).await {
                    Ok(shown) => page(StatusCode::UNPROCESSABLE_ENTITY, &shown),
                    Err(error) => read_failure(&state, &headers, error),
                }
            }
        },
    }
}

/// `POST /admin/clients/{id}/secrets`: a new secret, shown once on the client's page.
pub(super) async fn add_secret(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConfirmForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let id = ClientId::from_stored(id);
    let body = NewSecretBody { expires_in: None };
    match client_secrets::create(&state.admin, &actor(&admin), &id, body).await {
        Ok(created) => {
            if let Some(secret) = &created.client_secret
                && let Err(error) = state.sessions.keep_reveal(&admin.session, secret).await
            {
                return PageError::internal(&error).render(&state, &headers);
            }
            see_other(&format!(
                "/admin/clients/{}?flash=secret-added",
                encoded(id.as_str())
            ))
        }
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn confirm_revoke_secret(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((id, secret_id)): Path<(String, String)>,
) -> Response {
    let confirm = ConfirmPage {
        chrome: ConsoleChrome::new(&state, &admin, "/admin/clients", None),
        verb: "Revoke",
        what: "client secret".to_owned(),
        name: format!("{secret_id} of {id}"),
        action: format!(
            "/admin/clients/{}/secrets/{}/revoke",
            encoded(&id),
            encoded(&secret_id)
        ),
        back: format!("/admin/clients/{}", encoded(&id)),
    };
    page(StatusCode::OK, &confirm)
}

pub(super) async fn revoke_secret(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((id, secret_id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConfirmForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let id = ClientId::from_stored(id);
    match client_secrets::revoke(&state.admin, &actor(&admin), &id, &secret_id).await {
        Ok(()) => see_other(&format!(
            "/admin/clients/{}?flash=secret-revoked",
            encoded(id.as_str())
        )),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let client = match client_admin::get(&state.admin, &ClientId::from_stored(id)).await {
        Ok(client) => client,
        Err(error) => return read_failure(&state, &headers, error),
    };
    let confirm = ConfirmPage {
        chrome: ConsoleChrome::new(&state, &admin, "/admin/clients", None),
        verb: "Delete",
        what: "client".to_owned(),
        name: format!("{} ({})", client.client_name, client.client_id),
        action: format!("/admin/clients/{}/delete", encoded(&client.client_id)),
        back: format!("/admin/clients/{}", encoded(&client.client_id)),
    };
    page(StatusCode::OK, &confirm)
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
    match client_admin::delete(&state.admin, &actor(&admin), &ClientId::from_stored(id)).await {
        Ok(()) => see_other("/admin/clients?flash=client-deleted"),
        Err(error) => read_failure(&state, &headers, error),
    }
}
