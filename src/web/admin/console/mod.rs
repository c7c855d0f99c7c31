//! The admin console under `/admin`: server-rendered pages over the same admin
//! use-cases as the JSON API (`crate::admin`), so validation and auditing cannot
//! differ between the two. Every route sits behind [`guard::require_admin`]; every
//! form carries the session's CSRF token; every successful POST answers 303 with a
//! flash message.

mod audiences;
mod audit;
mod cimd;
mod clients;
mod dashboard;
mod grants;
mod guard;
mod idps;
mod keys;
mod kit;
mod registration;
mod servers;
mod settings;
mod users;

use askama::Template;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

pub(crate) use guard::ConsoleAdmin;

use crate::admin::AdminError;
use crate::state::AppState;
use crate::web::pages::login::encoded;

/// Routes relative to `/admin`, each behind the admin guard.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::get))
        .route("/servers", get(servers::list).post(servers::create))
        .route(
            "/servers/{server_id}",
            get(servers::show).post(servers::update),
        )
        .route(
            "/servers/{server_id}/delete",
            get(servers::confirm_delete).post(servers::delete),
        )
        .route("/clients", get(clients::list).post(clients::create))
        .route(
            "/clients/{client_id}",
            get(clients::show).post(clients::update),
        )
        .route(
            "/clients/{client_id}/delete",
            get(clients::confirm_delete).post(clients::delete),
        )
        .route("/clients/{client_id}/secrets", post(clients::add_secret))
        .route(
            "/clients/{client_id}/secrets/{secret_id}/revoke",
            get(clients::confirm_revoke_secret).post(clients::revoke_secret),
        )
        .route("/users", get(users::list).post(users::create))
        .route("/users/{user_id}", get(users::show).post(users::update))
        .route(
            "/users/{user_id}/delete",
            get(users::confirm_delete).post(users::delete),
        )
        .route("/idps", get(idps::list).post(idps::create))
        .route("/idps/{idp_id}", get(idps::show).post(idps::update))
        .route(
            "/idps/{idp_id}/delete",
            get(idps::confirm_delete).post(idps::delete),
        )
        .route("/grants", get(grants::list))
        .route(
            "/grants/{grant_id}/revoke",
            get(grants::confirm_revoke).post(grants::revoke),
        )
        .route(
            "/users/{user_id}/sessions/{session_id}/end",
            get(grants::confirm_end_session).post(grants::end_session),
        )
        .route("/cimd", get(cimd::list))
        .route("/cimd/clients/{client_id}", get(cimd::show))
        .route("/cimd/clients/{client_id}/approve", post(cimd::approve))
        .route(
            "/cimd/clients/{client_id}/block",
            get(cimd::confirm_block).post(cimd::block),
        )
        .route("/cimd/clients/{client_id}/unblock", post(cimd::unblock))
        .route("/cimd/host-rules", post(cimd::create_rule))
        .route(
            "/cimd/host-rules/{rule_id}/delete",
            get(cimd::confirm_delete_rule).post(cimd::delete_rule),
        )
        .route(
            "/registration",
            get(registration::list).post(registration::create),
        )
        .route(
            "/registration/{id}/revoke",
            get(registration::confirm_revoke).post(registration::revoke),
        )
        .route("/audiences", get(audiences::list).post(audiences::create))
        .route(
            "/audiences/{audience_id}",
            get(audiences::show).post(audiences::update),
        )
        .route(
            "/audiences/{audience_id}/delete",
            get(audiences::confirm_delete).post(audiences::delete),
        )
        .route("/keys", get(keys::list))
        .route("/keys/rotate", post(keys::rotate))
        .route("/settings", get(settings::get))
        .route("/audit", get(audit::list))
        .route_layer(from_fn_with_state(state.clone(), guard::require_admin))
}

/// The sections of the console's navigation, in order: (path, label).
const SECTIONS: [(&str, &str); 9] = [
    ("/admin", "Dashboard"),
    ("/admin/servers", "MCP servers"),
    ("/admin/clients", "Clients"),
    ("/admin/users", "Users"),
    ("/admin/grants", "Grants"),
    ("/admin/idps", "Cross App Access"),
    ("/admin/keys", "Signing keys"),
    ("/admin/audit", "Audit log"),
    ("/admin/settings", "Settings"),
];

/// What every console page's frame needs.
pub(crate) struct ConsoleChrome {
    /// Path prefix of our own URLs (stylesheet, sign-out).
    pub(crate) static_base: String,
    /// The CSRF token of the admin's session.
    pub(crate) csrf_token: String,
    /// Who is signed in.
    pub(crate) username: String,
    /// The current section's path (highlighted in the navigation).
    pub(crate) section: &'static str,
    /// The navigation.
    pub(crate) sections: &'static [(&'static str, &'static str)],
    /// The message of the action just done, if any.
    pub(crate) flash: Option<&'static str>,
}

impl ConsoleChrome {
    fn new(
        state: &AppState,
        admin: &ConsoleAdmin,
        section: &'static str,
        flash: Option<&str>,
    ) -> Self {
        Self {
            static_base: state.settings.issuer.path().to_owned(),
            csrf_token: state.sessions.csrf_token(&admin.session),
            username: admin.user.username.as_str().to_owned(),
            section,
            sections: &SECTIONS,
            flash: flash.and_then(flash_message),
        }
    }
}

/// `?flash=` after a 303 is a fixed code, shown as a fixed sentence, so nothing from
/// the URL is ever echoed into the page.
fn flash_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "server-created" => "MCP server created.",
        "server-updated" => "MCP server saved.",
        "server-deleted" => "MCP server deleted.",
        "user-created" => "User created.",
        "user-updated" => "User saved.",
        "user-deleted" => "User deleted, with their grants and sessions.",
        "client-created" => "Client registered.",
        "client-updated" => "Client saved.",
        "client-deleted" => "Client deleted.",
        "secret-added" => "New secret added; the older ones stay active until revoked.",
        "secret-revoked" => "Secret revoked.",
        "idp-created" => "IdP trusted.",
        "idp-updated" => "IdP saved.",
        "idp-deleted" => "IdP no longer trusted.",
        "grant-revoked" => "Grant revoked.",
        "session-ended" => "Session ended: that browser is signed out.",
        "key-rotated" => "A new signing key is published; it signs once caches have it.",
        "key-pending" => "A new signing key was already waiting; nothing changed.",
        "audience-created" => "ID-JAG audience added.",
        "audience-updated" => "ID-JAG audience saved.",
        "audience-deleted" => "ID-JAG audience deleted.",
        "cimd-approved" => "Client approved: users can now sign in to it.",
        "cimd-blocked" => "Client blocked: it gets no new tokens until unblocked.",
        "cimd-unblocked" => "Client unblocked.",
        "rule-created" => "Host rule added; it applies from the next request on.",
        "rule-deleted" => "Host rule deleted.",
        "token-issued" => "Registration token issued.",
        "token-revoked" => "Registration token revoked.",
        _ => return None,
    })
}

/// A field error shown next to its input.
pub(crate) struct FieldError {
    /// The API field path (`resource`, `scopes[1].name`).
    pub(crate) field: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl FieldError {
    /// Whether the error belongs to the input named `name` (or one of its items).
    pub(crate) fn is_for(&self, name: &str) -> bool {
        self.field == name
            || self
                .field
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
    }
}

/// What the form templates ask of their page: which input the error is about, its
/// message, and (for forms that both create and edit) whether the form creates.
macro_rules! form_page {
    ($page:ty) => {
        impl $page {
            /// Whether the form's error is about the input `name`.
            fn has_error(&self, name: &str) -> bool {
                self.error.as_ref().is_some_and(|e| e.is_for(name))
            }
            /// The form's error message.
            fn error_message(&self) -> &str {
                self.error.as_ref().map_or("", |e| e.message.as_str())
            }
        }
    };
    ($page:ty, $is_new:expr) => {
        super::form_page!($page);
        impl $page {
            /// Whether the form creates (else it edits).
            fn is_new(&self) -> bool {
                $is_new
            }
        }
    };
}
pub(crate) use form_page;

/// "Are you sure?" before a destructive action: one page for every kind of object.
#[derive(Template)]
#[template(path = "console/confirm_delete.html")]
struct ConfirmPage {
    chrome: ConsoleChrome,
    /// The action, as the title and button say it ("Delete", "Revoke", "End").
    verb: &'static str,
    /// What kind of object.
    what: &'static str,
    /// Which one.
    name: String,
    /// Where the confirmation posts.
    action: String,
    /// Where Cancel leads.
    back: String,
}

/// A textarea's non-empty lines, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A text input's value, `None` when blank.
fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A lifetime typed as a duration (`90d`, `12h 30m`) or a number of seconds; blank:
/// `None`.
fn parse_lifetime(field: &str, raw: &str) -> Result<Option<i64>, AdminError> {
    let Some(raw) = optional(raw) else {
        return Ok(None);
    };
    let seconds = match raw.parse::<u64>() {
        Ok(seconds) => seconds,
        Err(_) => humantime::parse_duration(&raw)
            .map_err(|_| AdminError::invalid(field, "must be a duration such as 90d or 12h"))?
            .as_secs(),
    };
    i64::try_from(seconds)
        .map(Some)
        .map_err(|_| AdminError::invalid(field, "is too long"))
}

/// A JWK Set typed into a textarea: `None` when blank, else its JSON (checked as a
/// JWK Set by the admin use-case).
fn jwk_set(text: &str) -> Result<Option<serde_json::Value>, AdminError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| AdminError::invalid("jwks", format!("is not JSON: {e}")))
}

/// A stored JWK Set as the textarea shows it.
fn jwk_set_text(jwks: Option<&serde_json::Value>) -> String {
    jwks.and_then(|set| serde_json::to_string_pretty(set).ok())
        .unwrap_or_default()
}

/// Unix seconds as an RFC 3339 UTC time (`2026-01-01T00:00:00Z`) for tables.
pub(crate) fn timestamp(seconds: i64) -> String {
    let since_epoch = std::time::Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + since_epoch).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_times() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_767_225_600), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn lifetimes_are_durations_or_seconds() {
        assert_eq!(parse_lifetime("f", "").ok(), Some(None));
        assert_eq!(parse_lifetime("f", "3600").ok(), Some(Some(3600)));
        assert_eq!(parse_lifetime("f", "7d").ok(), Some(Some(604_800)));
        assert_eq!(parse_lifetime("f", "1h 30m").ok(), Some(Some(5400)));
        assert!(parse_lifetime("f", "soon").is_err());
    }

    #[test]
    fn typed_jwk_sets_are_json_or_nothing() {
        assert_eq!(jwk_set("  ").ok(), Some(None));
        let set = jwk_set(r#"{"keys": []}"#).ok().flatten();
        assert_eq!(set, Some(serde_json::json!({"keys": []})));
        assert!(
            matches!(jwk_set("{keys"), Err(AdminError::Invalid { field, .. }) if field == "jwks")
        );
    }

    #[test]
    fn unknown_flash_codes_show_nothing() {
        assert_eq!(flash_message("server-created"), Some("MCP server created."));
        assert_eq!(flash_message("<script>"), None);
    }
}
