//! `/admin/idps`: trusted enterprise IdPs whose ID-JAGs are redeemed (XAA-18): issuer,
//! keys (a JWK Set URL, or discovered from the IdP's metadata), the clients it speaks
//! for, the servers and scope it may grant, tenant, account policy, enabled.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console, ConsoleForm, ListParams};
use super::{ConsoleChrome, FieldError, jwk_set, jwk_set_text, lines, optional};
use crate::admin::AdminError;
use crate::admin::idps::{self as idp_admin, IdpClientBody, IdpPatchBody, IdpView, NewIdpBody};
use crate::domain::ids::IdpId;

const SECTION: &str = "/admin/idps";

/// The IdP form (create and edit share it).
#[derive(Debug, Default, Deserialize)]
pub(super) struct IdpForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    name: String,
    /// Empty on creation (with `jwks` empty too): discovered from the IdP's metadata.
    #[serde(default)]
    jwks_uri: String,
    /// An inline JWK Set (JSON), instead of a URL.
    #[serde(default)]
    jwks: String,
    /// Allowed JWS algorithms, space-separated; empty: every asymmetric one.
    #[serde(default)]
    algorithms: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    scope: String,
    /// Resource URIs, one per line; empty: every enabled server.
    #[serde(default)]
    allowed_resources: String,
    /// One per line: the local client id, then optionally the IdP's id for it.
    #[serde(default)]
    clients: String,
    allow_public_clients: Option<String>,
    jit_provisioning: Option<String>,
    link_verified_email: Option<String>,
    enabled: Option<String>,
}

fn on(flag: bool) -> Option<String> {
    flag.then(|| "on".to_owned())
}

impl ConsoleForm for IdpForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl IdpForm {
    fn from_view(view: &IdpView) -> Self {
        Self {
            csrf_token: String::new(),
            issuer: view.issuer.clone(),
            name: view.name.clone(),
            jwks_uri: view.jwks_uri.clone().unwrap_or_default(),
            jwks: jwk_set_text(view.jwks.as_ref()),
            algorithms: view.algorithms.join(" "),
            tenant: view.tenant.clone().unwrap_or_default(),
            scope: view.scope.clone().unwrap_or_default(),
            allowed_resources: view
                .allowed_resources
                .as_ref()
                .map(|r| r.join("\n"))
                .unwrap_or_default(),
            clients: view
                .clients
                .iter()
                .map(|c| match &c.idp_client_id {
                    Some(theirs) if theirs != &c.client_id => format!("{} {theirs}", c.client_id),
                    _ => c.client_id.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            allow_public_clients: on(view.allow_public_clients),
            jit_provisioning: on(view.jit_provisioning),
            link_verified_email: on(view.link_verified_email),
            enabled: on(view.enabled),
        }
    }

    fn clients(&self) -> Vec<IdpClientBody> {
        lines(&self.clients)
            .iter()
            .map(|line| {
                let mut parts = line.split_whitespace();
                IdpClientBody {
                    client_id: parts.next().unwrap_or_default().to_owned(),
                    idp_client_id: parts.next().map(str::to_owned),
                }
            })
            .collect()
    }

    fn algorithms(&self) -> Option<Vec<String>> {
        let algorithms: Vec<String> = self
            .algorithms
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        (!algorithms.is_empty()).then_some(algorithms)
    }

    fn allowed_resources(&self) -> Option<Vec<String>> {
        let resources = lines(&self.allowed_resources);
        (!resources.is_empty()).then_some(resources)
    }
}

#[derive(Template)]
#[template(path = "console/idps.html")]
struct IdpsPage {
    chrome: ConsoleChrome,
    q: String,
    idps: Vec<IdpView>,
    next: Option<String>,
    form: IdpForm,
    error: Option<FieldError>,
}

#[derive(Template)]
#[template(path = "console/idp.html")]
struct IdpPage {
    chrome: ConsoleChrome,
    idp: IdpView,
    form: IdpForm,
    error: Option<FieldError>,
}

super::form_page!(IdpsPage, true);
super::form_page!(IdpPage, false);

async fn idps_page(
    console: &Console,
    params: ListParams,
    form: IdpForm,
    error: Option<FieldError>,
) -> Result<IdpsPage, AdminError> {
    let found = idp_admin::list(console.ctx(), params.query()).await?;
    Ok(IdpsPage {
        chrome: console.chrome(SECTION, params.flash.as_deref()),
        q: params.q,
        idps: found.items,
        next: found.next_cursor,
        form,
        error,
    })
}

pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let form = IdpForm {
        enabled: on(true),
        ..IdpForm::default()
    };
    let built = idps_page(&console, params, form, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn create(console: Console, Checked(form): Checked<IdpForm>) -> Response {
    let created = async {
        let body = NewIdpBody {
            issuer: form.issuer.trim().to_owned(),
            name: optional(&form.name),
            jwks: jwk_set(&form.jwks)?,
            jwks_uri: optional(&form.jwks_uri),
            algorithms: form.algorithms(),
            tenant: optional(&form.tenant),
            scope: optional(&form.scope),
            allowed_resources: form.allowed_resources(),
            clients: form.clients(),
            allow_public_clients: Some(form.allow_public_clients.is_some()),
            jit_provisioning: Some(form.jit_provisioning.is_some()),
            link_verified_email: Some(form.link_verified_email.is_some()),
            enabled: Some(form.enabled.is_some()),
        };
        idp_admin::create(console.ctx(), &console.actor(), body).await
    }
    .await;
    console
        .answer(
            created,
            |view| format!("{SECTION}/{}?flash=idp-created", view.idp_id),
            async |field| idps_page(&console, ListParams::default(), form, Some(field)).await,
        )
        .await
}

async fn idp_page(
    console: &Console,
    id: &IdpId,
    flash: Option<&str>,
    form: Option<IdpForm>,
    error: Option<FieldError>,
) -> Result<IdpPage, AdminError> {
    let idp = idp_admin::get(console.ctx(), id).await?;
    Ok(IdpPage {
        chrome: console.chrome(SECTION, flash),
        form: form.unwrap_or_else(|| IdpForm::from_view(&idp)),
        idp,
        error,
    })
}

pub(super) async fn show(
    console: Console,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let id = IdpId::from_stored(id);
    let built = idp_page(&console, &id, params.flash.as_deref(), None, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn update(
    console: Console,
    Path(id): Path<String>,
    Checked(form): Checked<IdpForm>,
) -> Response {
    let id = IdpId::from_stored(id);
    let updated = async {
        let patch = IdpPatchBody {
            name: optional(&form.name),
            jwks: jwk_set(&form.jwks)?,
            jwks_uri: optional(&form.jwks_uri),
            algorithms: form.algorithms(),
            tenant: Some(optional(&form.tenant)),
            scope: Some(optional(&form.scope)),
            allowed_resources: Some(form.allowed_resources()),
            clients: Some(form.clients()),
            allow_public_clients: Some(form.allow_public_clients.is_some()),
            jit_provisioning: Some(form.jit_provisioning.is_some()),
            link_verified_email: Some(form.link_verified_email.is_some()),
            enabled: Some(form.enabled.is_some()),
        };
        idp_admin::update(console.ctx(), &console.actor(), &id, patch).await
    }
    .await;
    console
        .answer(
            updated,
            |view| format!("{SECTION}/{}?flash=idp-updated", view.idp_id),
            async |field| idp_page(&console, &id, None, Some(form), Some(field)).await,
        )
        .await
}

pub(super) async fn confirm_delete(console: Console, Path(id): Path<String>) -> Response {
    let found = idp_admin::get(console.ctx(), &IdpId::from_stored(id)).await;
    console.confirm(SECTION, found, |idp| Confirm {
        verb: "Delete",
        what: "trusted IdP",
        name: format!("{} ({})", idp.name, idp.issuer),
        action: format!("{SECTION}/{}/delete", idp.idp_id),
        back: format!("{SECTION}/{}", idp.idp_id),
    })
}

pub(super) async fn delete(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let id = IdpId::from_stored(id);
    let deleted = idp_admin::delete(console.ctx(), &console.actor(), &id).await;
    console.finish(deleted, |()| format!("{SECTION}?flash=idp-deleted"))
}

impl IdpsPage {
    /// What the search box matches.
    fn search_label(&self) -> &'static str {
        "Name or issuer contains"
    }
}
