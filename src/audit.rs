//! Audit events: who changed what. The only builder of audit records; storage writes
//! them in the same transaction as the change they describe. Never carries secrets.

use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;

use crate::clock::SharedClock;
use crate::storage::{AuditEvent, Store};

/// Who performs an administrative action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The `admin.bootstrap_token` from configuration.
    BootstrapToken,
    /// An admin token created with `mcp-authz admin create-token`.
    AdminToken {
        /// The token's public id.
        token_id: String,
    },
    /// The command line on the server host.
    Cli,
    /// The server itself (scheduled key rotation, first start).
    System,
    /// The configuration file, applied at start-up (declared trusted IdPs).
    Config,
    /// A signed-in user (consent, revocation of their grants).
    User {
        /// The user's id.
        user_id: String,
    },
    /// An OAuth client acting at a protocol endpoint (revocation).
    Client {
        /// The client's id.
        client_id: String,
    },
}

impl Actor {
    /// The text stored in the `actor` column.
    pub fn label(&self) -> String {
        match self {
            Self::BootstrapToken => "bootstrap-token".to_owned(),
            Self::AdminToken { token_id } => format!("admin-token:{token_id}"),
            Self::Cli => "cli".to_owned(),
            Self::System => "system".to_owned(),
            Self::Config => "config".to_owned(),
            Self::User { user_id } => format!("user:{user_id}"),
            Self::Client { client_id } => format!("client:{client_id}"),
        }
    }
}

/// The security events (not admin changes): failed and throttled sign-ins, client
/// authentication failures, refused registrations, CIMD documents and ID-JAGs, refresh
/// token reuse and code replay. The audit log's kind `security` lists these.
pub const SECURITY_ACTIONS: [&str; 8] = [
    "login.failed",
    "login.throttled",
    "client_auth.failed",
    "dcr.rejected",
    "cimd.rejected",
    "id_jag.rejected",
    "refresh_token.reused",
    "code.replayed",
];

tokio::task_local! {
    /// The client address of the request being served (SEC-17: through trusted proxies
    /// only), set by the web layer around admin and sign-in requests, so that every
    /// event those requests write says where the change came from.
    pub static CLIENT_IP: std::net::IpAddr;
}

/// Members that hold a secret in some view (a client secret, an initial access token,
/// a password): never copied into an audit record, whatever view is passed.
const SECRET_MEMBERS: [&str; 3] = ["client_secret", "token", "password"];

/// Members that change on every write and say nothing about what changed.
const NOISE_MEMBERS: [&str; 1] = ["updated_at"];

/// The `detail` of an admin change: the object as it was (`before`, absent when it is
/// created) and as it is (`after`, absent when it is deleted), each as the API shows it,
/// without secrets. For an update only the members that changed are kept, so a row says
/// what the change was.
pub fn changes(
    before: Option<&impl serde::Serialize>,
    after: Option<&impl serde::Serialize>,
) -> Value {
    let mut before = before.map(snapshot);
    let mut after = after.map(snapshot);
    if let (Some(old), Some(new)) = (&mut before, &mut after) {
        let same: Vec<String> = old
            .iter()
            .filter(|(name, value)| {
                NOISE_MEMBERS.contains(&name.as_str()) || new.get(name.as_str()) == Some(value)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in same {
            old.remove(&name);
            new.remove(&name);
        }
    }
    let mut detail = serde_json::Map::new();
    if let Some(old) = before {
        detail.insert("before".to_owned(), Value::Object(old));
    }
    if let Some(new) = after {
        detail.insert("after".to_owned(), Value::Object(new));
    }
    Value::Object(detail)
}

/// The detail of a creation: the new object.
pub fn created(after: &impl serde::Serialize) -> Value {
    changes(None::<&Value>, Some(after))
}

/// The detail of an update: what changed, before and after.
pub fn updated(before: &impl serde::Serialize, after: &impl serde::Serialize) -> Value {
    changes(Some(before), Some(after))
}

/// The detail of a deletion: the object as it was.
pub fn deleted(before: &impl serde::Serialize) -> Value {
    changes(Some(before), None::<&Value>)
}

/// `view`'s members without secrets.
fn snapshot(view: &impl serde::Serialize) -> serde_json::Map<String, Value> {
    let mut members = match serde_json::to_value(view) {
        Ok(Value::Object(members)) => members,
        _ => serde_json::Map::new(),
    };
    for secret in SECRET_MEMBERS {
        members.remove(secret);
    }
    members
}

/// An event with `action` (e.g. `server.created`) on `target_type`/`target_id`; it
/// carries the client address when written while serving a request.
pub fn event(
    actor: &Actor,
    action: &'static str,
    target_type: &'static str,
    target_id: &str,
    detail: Value,
) -> AuditEvent {
    AuditEvent {
        actor: actor.label(),
        action,
        target_type,
        target_id: target_id.to_owned(),
        detail,
        client_ip: CLIENT_IP.try_with(ToString::to_string).ok(),
    }
}

/// Security events (failed sign-ins and lockouts, client-authentication failures,
/// rejected registrations and ID-JAGs) written to the audit log on a budget: an attacker
/// who can cause them at will must not be able to flood the table, so beyond
/// `per_minute` they only reach the log file. Writing is best effort: a failed write
/// never fails the request it describes.
#[derive(Clone)]
pub struct SecurityLog {
    store: Store,
    clock: SharedClock,
    budget: Arc<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for SecurityLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityLog").finish_non_exhaustive()
    }
}

impl SecurityLog {
    /// A log writing at most `per_minute` events a minute (bursts up to that many).
    pub fn new(store: Store, clock: SharedClock, per_minute: std::num::NonZeroU32) -> Self {
        Self {
            store,
            clock,
            budget: Arc::new(RateLimiter::direct(Quota::per_minute(per_minute))),
        }
    }

    /// Records `action` about `target_type`/`target_id` by the system.
    pub async fn record(
        &self,
        action: &'static str,
        target_type: &'static str,
        target_id: &str,
        detail: Value,
    ) {
        if self.budget.check().is_err() {
            tracing::warn!(
                action,
                target_id,
                "security event not audited: budget used up"
            );
            return;
        }
        let event = event(&Actor::System, action, target_type, target_id, detail);
        if let Err(error) = self
            .store
            .insert_audit_event(&event, self.clock.now())
            .await
        {
            tracing::warn!(%error, action, "could not audit a security event");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{created, deleted, updated};

    #[test]
    fn updates_keep_only_what_changed() {
        let before = json!({"name": "Docs", "enabled": true, "updated_at": 1, "scopes": ["a"]});
        let after = json!({"name": "Docs", "enabled": false, "updated_at": 2, "scopes": ["a"]});
        assert_eq!(
            updated(&before, &after),
            json!({"before": {"enabled": true}, "after": {"enabled": false}})
        );
    }

    #[test]
    fn secrets_never_reach_the_record() {
        let view = json!({"client_id": "cli_1", "client_secret": "s3cret", "token": "t0k"});
        assert_eq!(created(&view), json!({"after": {"client_id": "cli_1"}}));
        assert_eq!(deleted(&view), json!({"before": {"client_id": "cli_1"}}));
    }
}
