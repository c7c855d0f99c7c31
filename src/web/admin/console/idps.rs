//! `/admin/idps`: trusted enterprise IdPs whose ID-JAGs are redeemed (XAA-18): issuer,
//! keys (a JWK Set URL, or discovered from the IdP's metadata), the clients it speaks
//! for, the servers and scope it may grant, tenant, account policy, enabled.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::servers::{ConfirmForm, ListParams};
use super::{
    ConfirmPage, ConsoleAdmin, ConsoleChrome, FieldError, FlashQuery, FormFailure, actor, csrf_ok,
    form_failure, lines, optional, page, read_failure,
};
use crate::admin::idps::{self as idp_admin, IdpClientBody, IdpPatchBody, IdpView, NewIdpBody};
use crate::admin::{AdminError, ListQuery};
use crate::domain::ids::IdpId;
use crate::state::AppState;
use crate::web::pages::{PageError, PageForm};
use crate::web::responses::see_other;

/// The IdP form (create and edit share it).
#[derive(Debug, Default, Deserialize)]
pub(super) struct IdpForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    name: String,
    /// Empty on creation: discovered from the IdP's metadata.
    #[serde(default)]
    jwks_uri: String,
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

impl IdpForm {
    fn from_view(view: &IdpView) -> Self {
        Self {
            csrf_token: String::new(),
            issuer: view.issuer.clone(),
            name: view.name.clone(),
            jwks_uri: view.jwks_uri.clone().unwrap_or_default(),
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

    fn allowed_resources(&self) -> Option<Vec<String>> {
        let resources = lines(&self.allowed_resources);
        (!resources.is_empty()).then_some(resources)
    }
}

#[derive(Template)]
#[template(path = "console/idps.html")]
struct IdpsPage {
    chrome: ConsoleChrome,
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
    state: &AppState,
    admin: &ConsoleAdmin,
    after: Option<String>,
    flash: Option<&str>,
    form: IdpForm,
    error: Option<FieldError>,
) -> Result<IdpsPage, AdminError> {
    let query = ListQuery {
        limit: Some(50),
        after,
    };
    let found = idp_admin::list(&state.admin, query).await?;
    Ok(IdpsPage {
        chrome: ConsoleChrome::new(state, admin, "/admin/idps", flash),
        idps: found.items,
        next: found.next_cursor,
        form,
        error,
    })
}

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Response {
    let form = IdpForm {
        enabled: on(true),
        ..IdpForm::default()
    };
    match idps_page(
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
    PageForm(form): PageForm<IdpForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let body = NewIdpBody {
        issuer: form.issuer.trim().to_owned(),
        name: optional(&form.name),
        jwks: None,
        jwks_uri: optional(&form.jwks_uri),
        algorithms: None,
        tenant: optional(&form.tenant),
        scope: optional(&form.scope),
        allowed_resources: form.allowed_resources(),
        clients: form.clients(),
        allow_public_clients: Some(form.allow_public_clients.is_some()),
        jit_provisioning: Some(form.jit_provisioning.is_some()),
        link_verified_email: Some(form.link_verified_email.is_some()),
        enabled: Some(form.enabled.is_some()),
    };
    match idp_admin::create(&state.admin, &actor(&admin), body).await {
        Ok(view) => see_other(&format!("/admin/idps/{}?flash=idp-created", view.idp_id)),
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => {
                match idps_page(&state, &admin, None, None, form, Some(field)).await {
                    Ok(shown) => page(StatusCode::UNPROCESSABLE_ENTITY, &shown),
                    Err(error) => read_failure(&state, &headers, error),
                }
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
    match idp_admin::get(&state.admin, &IdpId::from_stored(id)).await {
        Ok(idp) => page(
            StatusCode::OK,
            &IdpPage {
                chrome: ConsoleChrome::new(&state, &admin, "/admin/idps", flash.flash.as_deref()),
                form: IdpForm::from_view(&idp),
                idp,
                error: None,
            },
        ),
        Err(error) => read_failure(&state, &headers, error),
    }
}

pub(super) async fn update(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<IdpForm>,
) -> Response {
    if !csrf_ok(&state, &admin, &form.csrf_token) {
        return PageError::bad_form().render(&state, &headers);
    }
    let id = IdpId::from_stored(id);
    let patch = IdpPatchBody {
        name: optional(&form.name),
        jwks: None,
        jwks_uri: optional(&form.jwks_uri),
        algorithms: None,
        tenant: Some(optional(&form.tenant)),
        scope: Some(optional(&form.scope)),
        allowed_resources: Some(form.allowed_resources()),
        clients: Some(form.clients()),
        allow_public_clients: Some(form.allow_public_clients.is_some()),
        jit_provisioning: Some(form.jit_provisioning.is_some()),
        link_verified_email: Some(form.link_verified_email.is_some()),
        enabled: Some(form.enabled.is_some()),
    };
    match idp_admin::update(&state.admin, &actor(&admin), &id, patch).await {
        Ok(view) => see_other(&format!("/admin/idps/{}?flash=idp-updated", view.idp_id)),
        Err(error) => match form_failure(&state, &headers, error) {
            FormFailure::Page(response) => response,
            FormFailure::Field(field) => match idp_admin::get(&state.admin, &id).await {
                Ok(idp) => page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &IdpPage {
                        chrome: ConsoleChrome::new(&state, &admin, "/admin/idps", None),
                        idp,
                        form,
                        error: Some(field),
                    },
                ),
                Err(error) => read_failure(&state, &headers, error),
            },
        },
    }
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match idp_admin::get(&state.admin, &IdpId::from_stored(id)).await {
        Ok(idp) => page(
            StatusCode::OK,
            &ConfirmPage {
                chrome: ConsoleChrome::new(&state, &admin, "/admin/idps", None),
                verb: "Delete",
                what: "trusted IdP".to_owned(),
                name: format!("{} ({})", idp.name, idp.issuer),
                action: format!("/admin/idps/{}/delete", idp.idp_id),
                back: format!("/admin/idps/{}", idp.idp_id),
            },
        ),
        Err(error) => read_failure(&state, &headers, error),
    }
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
    match idp_admin::delete(&state.admin, &actor(&admin), &IdpId::from_stored(id)).await {
        Ok(()) => see_other("/admin/idps?flash=idp-deleted"),
        Err(error) => read_failure(&state, &headers, error),
    }
}
