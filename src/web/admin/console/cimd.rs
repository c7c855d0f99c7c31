//! `/admin/cimd`: clients identified by a metadata document URL (CIMD) as this server
//! has seen them: approve one waiting for an administrator, block or unblock one, read
//! its document; and the host rules (CIMD-28) that decide whose documents are fetched.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::kit::{Checked, Confirm, ConfirmForm, Console, ConsoleForm, ListParams};
use super::{ConsoleChrome, FieldError, encoded, optional, timestamp};
use crate::admin::AdminError;
use crate::admin::cimd::{
    self as cimd_admin, CimdClientPatchBody, CimdClientView, HostRuleView, NewHostRuleBody,
};

/// The console section (the client lists).
const SECTION: &str = "/admin/clients";

/// The host-rule form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HostRuleForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

impl ConsoleForm for HostRuleForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// A CIMD client as a table row.
struct CimdRow {
    client: CimdClientView,
    fetched_at: String,
}

#[derive(Template)]
#[template(path = "console/cimd.html")]
struct CimdPage {
    chrome: ConsoleChrome,
    q: String,
    clients: Vec<CimdRow>,
    next: Option<String>,
    rules: Vec<HostRuleView>,
    require_approval: bool,
    form: HostRuleForm,
    error: Option<FieldError>,
}

super::form_page!(CimdPage);

#[derive(Template)]
#[template(path = "console/cimd_client.html")]
struct CimdClientPage {
    chrome: ConsoleChrome,
    client: CimdClientView,
    /// The document, pretty-printed.
    document: String,
    first_seen_at: String,
    fetched_at: String,
    cache_expires_at: String,
    approved_at: String,
}

impl CimdClientPage {
    /// The client id as a path segment.
    fn path_id(&self) -> String {
        encoded(&self.client.client_id)
    }
}

impl CimdPage {
    /// A client id as a path segment.
    fn path_id(&self, id: &str) -> String {
        encoded(id)
    }
}

async fn cimd_page(
    console: &Console,
    params: ListParams,
    form: HostRuleForm,
    error: Option<FieldError>,
) -> Result<CimdPage, AdminError> {
    let found = cimd_admin::list(console.ctx(), params.query()).await?;
    let rules = cimd_admin::list_host_rules(console.ctx()).await?.items;
    let clients = found
        .items
        .into_iter()
        .map(|client| CimdRow {
            fetched_at: timestamp(client.fetched_at),
            client,
        })
        .collect();
    Ok(CimdPage {
        chrome: console.chrome(SECTION, params.flash.as_deref()),
        q: params.q,
        clients,
        next: found.next_cursor,
        rules,
        require_approval: console.ctx().policy.cimd_require_approval,
        form,
        error,
    })
}

/// `GET /admin/cimd`.
pub(super) async fn list(console: Console, Query(params): Query<ListParams>) -> Response {
    let form = HostRuleForm {
        action: "allow".to_owned(),
        ..HostRuleForm::default()
    };
    let built = cimd_page(&console, params, form, None).await;
    console.show(StatusCode::OK, built)
}

/// `GET /admin/cimd/clients/{client_id}`.
pub(super) async fn show(
    console: Console,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let built = cimd_admin::get(console.ctx(), &id)
        .await
        .map(|client| CimdClientPage {
            chrome: console.chrome(SECTION, params.flash.as_deref()),
            document: serde_json::to_string_pretty(&client.document).unwrap_or_default(),
            first_seen_at: timestamp(client.first_seen_at),
            fetched_at: timestamp(client.fetched_at),
            cache_expires_at: timestamp(client.cache_expires_at),
            approved_at: client.approved_at.map(timestamp).unwrap_or_default(),
            client,
        });
    console.show(StatusCode::OK, built)
}

/// Where a CIMD client's page is, with a flash.
fn client_url(id: &str, flash: &str) -> String {
    format!("/admin/cimd/clients/{}?flash={flash}", encoded(id))
}

/// `POST /admin/cimd/clients/{client_id}/approve`.
pub(super) async fn approve(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let approved = cimd_admin::approve(console.ctx(), &console.actor(), &id).await;
    console.finish(approved, |view| {
        client_url(&view.client_id, "cimd-approved")
    })
}

/// `GET /admin/cimd/clients/{client_id}/block`: blocking stops its tokens from being
/// issued at once, so it is confirmed first.
pub(super) async fn confirm_block(console: Console, Path(id): Path<String>) -> Response {
    let found = cimd_admin::get(console.ctx(), &id).await;
    console.confirm(SECTION, found, |client| Confirm {
        verb: "Block",
        what: "CIMD client",
        name: format!("{} ({})", client.client_name, client.client_id),
        action: format!("/admin/cimd/clients/{}/block", encoded(&client.client_id)),
        back: format!("/admin/cimd/clients/{}", encoded(&client.client_id)),
    })
}

/// `POST /admin/cimd/clients/{client_id}/block`.
pub(super) async fn block(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let body = CimdClientPatchBody { enabled: false };
    let blocked = cimd_admin::set_enabled(console.ctx(), &console.actor(), &id, body).await;
    console.finish(blocked, |view| client_url(&view.client_id, "cimd-blocked"))
}

/// `POST /admin/cimd/clients/{client_id}/unblock`.
pub(super) async fn unblock(
    console: Console,
    Path(id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let body = CimdClientPatchBody { enabled: true };
    let unblocked = cimd_admin::set_enabled(console.ctx(), &console.actor(), &id, body).await;
    console.finish(unblocked, |view| {
        client_url(&view.client_id, "cimd-unblocked")
    })
}

/// `POST /admin/cimd/host-rules`.
pub(super) async fn create_rule(
    console: Console,
    Checked(form): Checked<HostRuleForm>,
) -> Response {
    let body = NewHostRuleBody {
        pattern: form.pattern.trim().to_owned(),
        action: form.action.clone(),
        note: optional(&form.note),
    };
    let created = cimd_admin::create_host_rule(console.ctx(), &console.actor(), body).await;
    console
        .answer(
            created,
            |_| "/admin/cimd?flash=rule-created".to_owned(),
            async |field| cimd_page(&console, ListParams::default(), form, Some(field)).await,
        )
        .await
}

/// `GET /admin/cimd/host-rules/{rule_id}/delete`.
pub(super) async fn confirm_delete_rule(console: Console, Path(rule_id): Path<String>) -> Response {
    // Only rules added here can be deleted here; the file's rules are changed there.
    let found = cimd_admin::list_host_rules(console.ctx())
        .await
        .and_then(|rules| {
            rules
                .items
                .into_iter()
                .find(|r| r.rule_id == rule_id && r.source == "api")
                .ok_or(AdminError::NotFound)
        });
    console.confirm(SECTION, found, |rule| Confirm {
        verb: "Delete",
        what: "host rule",
        name: format!("{} {}", rule.action, rule.pattern),
        action: format!("/admin/cimd/host-rules/{}/delete", encoded(&rule.rule_id)),
        back: "/admin/cimd".to_owned(),
    })
}

/// `POST /admin/cimd/host-rules/{rule_id}/delete`.
pub(super) async fn delete_rule(
    console: Console,
    Path(rule_id): Path<String>,
    Checked(_): Checked<ConfirmForm>,
) -> Response {
    let deleted = cimd_admin::delete_host_rule(console.ctx(), &console.actor(), &rule_id).await;
    console.finish(deleted, |()| "/admin/cimd?flash=rule-deleted".to_owned())
}

impl CimdPage {
    /// What the search box matches.
    fn search_label(&self) -> &'static str {
        "Name or document URL contains"
    }
}
