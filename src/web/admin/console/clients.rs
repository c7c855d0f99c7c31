//! `/admin/clients`: pre-registered and dynamically registered clients (create, edit,
//! disable, delete, keys, secrets: add one shown once with an optional expiry, revoke).
//! CIMD clients and registration tokens have pages of their own in this section.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console, ConsoleForm, ListParams};
use super::{
    ConsoleChrome, FieldError, encoded, jwk_set, jwk_set_text, lines, optional, parse_lifetime,
    timestamp,
};
use crate::admin::AdminError;
use crate::admin::client_secrets::{self, NewSecretBody, SecretView};
use crate::admin::clients::{self as client_admin, ClientPatchBody, ClientView, NewClientBody};
use crate::domain::ids::ClientId;

const SECTION: &str = "/admin/clients";

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
    /// An inline JWK Set (JSON), instead of a URL.
    #[serde(default)]
    jwks: String,
    #[serde(default)]
    scope: String,
    /// One per line; empty: every enabled server.
    #[serde(default)]
    allowed_resources: String,
    allow_introspection: Option<String>,
    /// The legacy switch (CC-6): the token endpoint URL as an assertion `aud`.
    accept_token_endpoint_audience: Option<String>,
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
            jwks: jwk_set_text(view.jwks.as_ref()),
            scope: view.scope.clone().unwrap_or_default(),
            allowed_resources: view
                .allowed_resources
                .as_ref()
                .map(|r| r.join("\n"))
                .unwrap_or_default(),
            allow_introspection: view.allow_introspection.then(|| "on".to_owned()),
            accept_token_endpoint_audience: view
                .accept_token_endpoint_audience
                .then(|| "on".to_owned()),
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

impl ConsoleForm for ClientForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// `serde_urlencoded` cannot read repeated keys into a `Vec`: the pairs are read
    /// one by one, keeping every `grant_types`.
    fn parse(body: &[u8]) -> Option<Self> {
        let mut form = Self::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            let value = value.into_owned();
            match name.as_ref() {
                "csrf_token" => form.csrf_token = value,
                "client_name" => form.client_name = value,
                "redirect_uris" => form.redirect_uris = value,
                "grant_types" => form.grant_types.push(value),
                "token_endpoint_auth_method" => form.token_endpoint_auth_method = value,
                "jwks_uri" => form.jwks_uri = value,
                "jwks" => form.jwks = value,
                "scope" => form.scope = value,
                "allowed_resources" => form.allowed_resources = value,
                "allow_introspection" => form.allow_introspection = Some(value),
                "accept_token_endpoint_audience" => {
                    form.accept_token_endpoint_audience = Some(value);
                }
                "enabled" => form.enabled = Some(value),
                _ => {}
            }
        }
        Some(form)
    }
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage {
    chrome: ConsoleChrome,
    clients: Vec<ClientView>,
    next: Option<String>,
    q: String,
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

impl ClientsPage {
    /// What the search box matches.
    fn search_label(&self) -> &'static str {
        "Name or client id contains"
    }
}

async fn clients_page(
    console: &Console,
    params: ListParams,
    form: ClientForm,
    error: Option<FieldError>,
) -> Result<ClientsPage, AdminError> {
    let found = client_admin::list(console.ctx(), params.query()).await?;
    Ok(ClientsPage {
        chrome: console.chrome(SECTION, params.flash.as_deref()),
        clients: found.items,
        next: found.next_cursor,
        q: params.q,
        form,
        error,
        grants: &GRANTS,
        methods: &AUTH_METHODS,
    })
}

pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let form = ClientForm {
        grant_types: vec!["authorization_code".to_owned()],
        token_endpoint_auth_method: "client_secret_basic".to_owned(),
        enabled: Some("on".to_owned()),
        ..ClientForm::default()
    };
    let built = clients_page(&console, params, form, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn create(console: Console, Checked(form): Checked<ClientForm>) -> Response {
    let created = async {
        let body = NewClientBody {
            client_name: form.client_name.trim().to_owned(),
            redirect_uris: lines(&form.redirect_uris),
            grant_types: Some(form.grant_types.clone()),
            token_endpoint_auth_method: optional(&form.token_endpoint_auth_method),
            jwks: jwk_set(&form.jwks)?,
            jwks_uri: optional(&form.jwks_uri),
            scope: optional(&form.scope),
            allowed_resources: form.allowed_resources(),
            allow_introspection: Some(form.allow_introspection.is_some()),
            accept_token_endpoint_audience: Some(form.accept_token_endpoint_audience.is_some()),
            enabled: Some(form.enabled.is_some()),
        };
        let view = client_admin::create(console.ctx(), &console.actor(), body).await?;
        console.reveal_once(view.client_secret.as_ref()).await?;
        Ok(view)
    }
    .await;
    console
        .answer(
            created,
            |view| {
                format!(
                    "{SECTION}/{}?flash=client-created",
                    encoded(&view.client_id)
                )
            },
            async |field| clients_page(&console, ListParams::default(), form, Some(field)).await,
        )
        .await
}

async fn client_page(
    console: &Console,
    id: &ClientId,
    flash: Option<&str>,
    form: Option<ClientForm>,
    error: Option<FieldError>,
) -> Result<ClientPage, AdminError> {
    let client = client_admin::get(console.ctx(), id).await?;
    let secrets = if client
        .token_endpoint_auth_method
        .starts_with("client_secret")
    {
        client_secrets::list(console.ctx(), id).await?.items
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
    let revealed = console.revealed().await?;
    Ok(ClientPage {
        chrome: console.chrome(SECTION, flash),
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
    console: Console,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let id = ClientId::from_stored(id);
    let built = client_page(&console, &id, params.flash.as_deref(), None, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn update(
    console: Console,
    Path(id): Path<String>,
    Checked(form): Checked<ClientForm>,
) -> Response {
    let id = ClientId::from_stored(id);
    let updated = async {
        let patch = ClientPatchBody {
            client_name: Some(form.client_name.trim().to_owned()),
            redirect_uris: Some(lines(&form.redirect_uris)),
            grant_types: Some(form.grant_types.clone()),
            scope: Some(optional(&form.scope)),
            allowed_resources: Some(form.allowed_resources()),
            allow_introspection: Some(form.allow_introspection.is_some()),
            jwks: jwk_set(&form.jwks)?,
            jwks_uri: optional(&form.jwks_uri),
            accept_token_endpoint_audience: Some(form.accept_token_endpoint_audience.is_some()),
            enabled: Some(form.enabled.is_some()),
        };
        client_admin::update(console.ctx(), &console.actor(), &id, patch).await
    }
    .await;
    console
        .answer(
            updated,
            |view| {
                format!(
                    "{SECTION}/{}?flash=client-updated",
                    encoded(&view.client_id)
                )
            },
            async |field| client_page(&console, &id, None, Some(form), Some(field)).await,
        )
        .await
}

/// The form that adds a secret: its lifetime.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SecretForm {
    #[serde(default)]
    csrf_token: String,
    /// A duration (`90d`) or seconds; empty: never expires.
    #[serde(default)]
    expires_in: String,
}

impl ConsoleForm for SecretForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /admin/clients/{id}/secrets`: a new secret, shown once on the client's page.
pub(super) async fn add_secret(
    console: Console,
    Path(id): Path<String>,
    Checked(form): Checked<SecretForm>,
) -> Response {
    let id = ClientId::from_stored(id);
    let added = async {
        let expires_in = parse_lifetime("expires_in", &form.expires_in)?
            .map(|seconds| u64::try_from(seconds).unwrap_or(0));
        let body = NewSecretBody { expires_in };
        let created = client_secrets::create(console.ctx(), &console.actor(), &id, body).await?;
        console.reveal_once(created.client_secret.as_ref()).await
    }
    .await;
    console
        .answer(
            added,
            |()| format!("{SECTION}/{}?flash=secret-added", encoded(id.as_str())),
            async |field| client_page(&console, &id, None, None, Some(field)).await,
        )
        .await
}

pub(super) async fn confirm_revoke_secret(
    console: Console,
    Path((id, secret_id)): Path<(String, String)>,
) -> Response {
    console.ask(
        SECTION,
        Confirm {
            verb: "Revoke",
            what: "client secret",
            name: format!("{secret_id} of {id}"),
            action: format!(
                "{SECTION}/{}/secrets/{}/revoke",
                encoded(&id),
                encoded(&secret_id)
            ),
            back: format!("{SECTION}/{}", encoded(&id)),
        },
    )
}

pub(super) async fn revoke_secret(
    console: Console,
    Path((id, secret_id)): Path<(String, String)>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let id = ClientId::from_stored(id);
    let revoked = client_secrets::revoke(console.ctx(), &console.actor(), &id, &secret_id).await;
    console.finish(revoked, |()| {
        format!("{SECTION}/{}?flash=secret-revoked", encoded(id.as_str()))
    })
}

pub(super) async fn confirm_delete(console: Console, Path(id): Path<String>) -> Response {
    let found = client_admin::get(console.ctx(), &ClientId::from_stored(id)).await;
    console.confirm(SECTION, found, |client| Confirm {
        verb: "Delete",
        what: "client",
        name: format!("{} ({})", client.client_name, client.client_id),
        action: format!("{SECTION}/{}/delete", encoded(&client.client_id)),
        back: format!("{SECTION}/{}", encoded(&client.client_id)),
    })
}

pub(super) async fn delete(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let id = ClientId::from_stored(id);
    let deleted = client_admin::delete(console.ctx(), &console.actor(), &id).await;
    console.finish(deleted, |()| format!("{SECTION}?flash=client-deleted"))
}
