//! `/admin/audiences`: the authorization servers this server issues ID-JAGs for, as
//! the enterprise IdP (XAA-21, XAA-22): which clients may ask, for which resources and
//! scopes, how the user is named there, and whether an upstream provider signs them.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console, ConsoleForm, ListParams};
use super::{ConsoleChrome, FieldError, lines, optional};
use crate::admin::AdminError;
use crate::admin::audiences::{
    self as audience_admin, AudienceClientBody, AudiencePatchBody, AudienceView, NewAudienceBody,
};
use crate::domain::ids::IdJagAudienceId;

/// Where the audiences are.
const SECTION: &str = "/admin/audiences";
/// The console section they belong to (Cross App Access, with the trusted IdPs).
const NAV: &str = "/admin/idps";

/// How the ID-JAG names the user at the audience: (value, label).
const SUBJECT_CLAIMS: [(&str, &str); 2] =
    [("user_id", "Our user id"), ("username", "The username")];

/// The audience form (create and edit share it).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AudienceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    name: String,
    /// One per line.
    #[serde(default)]
    aliases: String,
    /// Resource URIs, one per line.
    #[serde(default)]
    resources: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    subject_claim: String,
    /// One per line: the local client id, then its id at the audience if different.
    #[serde(default)]
    clients: String,
    /// An upstream provider id; empty: this server signs.
    #[serde(default)]
    via_provider: String,
    enabled: Option<String>,
}

impl ConsoleForm for AudienceForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl AudienceForm {
    fn new_default() -> Self {
        Self {
            subject_claim: "user_id".to_owned(),
            enabled: Some("on".to_owned()),
            ..Self::default()
        }
    }

    fn from_view(view: &AudienceView) -> Self {
        Self {
            csrf_token: String::new(),
            issuer: view.issuer.clone(),
            name: view.name.clone(),
            aliases: view.aliases.join("\n"),
            resources: view.resources.join("\n"),
            scope: view.scope.clone().unwrap_or_default(),
            subject_claim: view.subject_claim.clone(),
            clients: view
                .clients
                .iter()
                .map(|c| match &c.client_id_at_audience {
                    Some(there) if there != &c.client_id => format!("{} {there}", c.client_id),
                    _ => c.client_id.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            via_provider: view.via_provider.clone().unwrap_or_default(),
            enabled: view.enabled.then(|| "on".to_owned()),
        }
    }

    fn clients(&self) -> Vec<AudienceClientBody> {
        lines(&self.clients)
            .iter()
            .map(|line| {
                let mut parts = line.split_whitespace();
                AudienceClientBody {
                    client_id: parts.next().unwrap_or_default().to_owned(),
                    client_id_at_audience: parts.next().map(str::to_owned),
                }
            })
            .collect()
    }

    fn subject_claim(&self) -> Option<String> {
        optional(&self.subject_claim)
    }
}

#[derive(Template)]
#[template(path = "console/audiences.html")]
struct AudiencesPage {
    chrome: ConsoleChrome,
    q: String,
    audiences: Vec<AudienceView>,
    next: Option<String>,
    form: AudienceForm,
    error: Option<FieldError>,
    subject_claims: &'static [(&'static str, &'static str)],
    providers: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/audience.html")]
struct AudiencePage {
    chrome: ConsoleChrome,
    audience: AudienceView,
    form: AudienceForm,
    error: Option<FieldError>,
    subject_claims: &'static [(&'static str, &'static str)],
    providers: Vec<String>,
}

super::form_page!(AudiencesPage, true);
super::form_page!(AudiencePage, false);

/// The upstream providers an audience may be signed through.
fn providers(console: &Console) -> Vec<String> {
    console
        .state
        .settings
        .upstream_providers
        .iter()
        .map(|p| p.id.clone())
        .collect()
}

async fn audiences_page(
    console: &Console,
    params: ListParams,
    form: AudienceForm,
    error: Option<FieldError>,
) -> Result<AudiencesPage, AdminError> {
    let found = audience_admin::list(console.ctx(), params.query()).await?;
    Ok(AudiencesPage {
        chrome: console.chrome(NAV, params.flash.as_deref()),
        q: params.q,
        audiences: found.items,
        next: found.next_cursor,
        form,
        error,
        subject_claims: &SUBJECT_CLAIMS,
        providers: providers(console),
    })
}

pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let built = audiences_page(&console, params, AudienceForm::new_default(), None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn create(console: Console, Checked(form): Checked<AudienceForm>) -> Response {
    let body = NewAudienceBody {
        issuer: form.issuer.trim().to_owned(),
        name: optional(&form.name),
        aliases: lines(&form.aliases),
        resources: lines(&form.resources),
        scope: optional(&form.scope),
        subject_claim: form.subject_claim(),
        clients: form.clients(),
        enabled: Some(form.enabled.is_some()),
        via_provider: optional(&form.via_provider),
    };
    let created = audience_admin::create(console.ctx(), &console.actor(), body).await;
    console
        .answer(
            created,
            |view| format!("{SECTION}/{}?flash=audience-created", view.audience_id),
            async |field| audiences_page(&console, ListParams::default(), form, Some(field)).await,
        )
        .await
}

async fn audience_page(
    console: &Console,
    id: &IdJagAudienceId,
    flash: Option<&str>,
    form: Option<AudienceForm>,
    error: Option<FieldError>,
) -> Result<AudiencePage, AdminError> {
    let audience = audience_admin::get(console.ctx(), id).await?;
    Ok(AudiencePage {
        chrome: console.chrome(NAV, flash),
        form: form.unwrap_or_else(|| AudienceForm::from_view(&audience)),
        audience,
        error,
        subject_claims: &SUBJECT_CLAIMS,
        providers: providers(console),
    })
}

pub(super) async fn show(
    console: Console,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let id = IdJagAudienceId::from_stored(id);
    let built = audience_page(&console, &id, params.flash.as_deref(), None, None).await;
    console.show(StatusCode::OK, built)
}

pub(super) async fn update(
    console: Console,
    Path(id): Path<String>,
    Checked(form): Checked<AudienceForm>,
) -> Response {
    let id = IdJagAudienceId::from_stored(id);
    let patch = AudiencePatchBody {
        name: Some(form.name.trim().to_owned()),
        aliases: Some(lines(&form.aliases)),
        resources: Some(lines(&form.resources)),
        scope: Some(optional(&form.scope)),
        subject_claim: form.subject_claim(),
        clients: Some(form.clients()),
        enabled: Some(form.enabled.is_some()),
        via_provider: Some(optional(&form.via_provider)),
    };
    let updated = audience_admin::update(console.ctx(), &console.actor(), &id, patch).await;
    console
        .answer(
            updated,
            |view| format!("{SECTION}/{}?flash=audience-updated", view.audience_id),
            async |field| audience_page(&console, &id, None, Some(form), Some(field)).await,
        )
        .await
}

pub(super) async fn confirm_delete(console: Console, Path(id): Path<String>) -> Response {
    let found = audience_admin::get(console.ctx(), &IdJagAudienceId::from_stored(id)).await;
    console.confirm(NAV, found, |audience| Confirm {
        verb: "Delete",
        what: "ID-JAG audience",
        name: format!("{} ({})", audience.name, audience.issuer),
        action: format!("{SECTION}/{}/delete", audience.audience_id),
        back: format!("{SECTION}/{}", audience.audience_id),
    })
}

pub(super) async fn delete(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let id = IdJagAudienceId::from_stored(id);
    let deleted = audience_admin::delete(console.ctx(), &console.actor(), &id).await;
    console.finish(deleted, |()| format!("{SECTION}?flash=audience-deleted"))
}

impl AudiencesPage {
    /// What the search box matches.
    fn search_label(&self) -> &'static str {
        "Name or issuer contains"
    }
}
