//! MCP servers: the protected resources tokens are issued for (RES-*, SCOPE-*).

use super::ids::ServerId;
use super::resource::ResourceUri;
use super::scope::{OFFLINE_ACCESS, OPENID, ScopeSet, ScopeToken};
use crate::clock::UnixTime;

/// One scope an MCP server defines, with the text the consent page shows (SCOPE-9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDefinition {
    /// The scope token.
    pub name: ScopeToken,
    /// A sentence for people deciding whether to allow it.
    pub description: String,
}

/// A registered MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    /// Stable id.
    pub id: ServerId,
    /// Canonical resource URI: the `aud` of its tokens (RES-2, RES-5).
    pub resource: ResourceUri,
    /// Display name on consent pages.
    pub name: String,
    /// Scopes it defines, in display order.
    pub scopes: Vec<ScopeDefinition>,
    /// Granted when a request names no scope (SCOPE-1); a subset of `scopes`.
    pub default_scopes: ScopeSet,
    /// Access-token lifetime for this server in seconds, overriding the global one (TOK-5).
    pub access_token_ttl: Option<i64>,
    /// Disabled servers get no tokens, and their tokens introspect inactive.
    pub is_enabled: bool,
    /// The server chosen for requests without `resource` (RES-6); at most one.
    pub is_default: bool,
    /// When created.
    pub created_at: UnixTime,
    /// When last changed.
    pub updated_at: UnixTime,
}

/// Why a server's scope list is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerRuleError {
    /// The same scope name twice.
    #[error("scope {0:?} is listed twice")]
    DuplicateScope(String),
    /// `offline_access` is the AS's refresh-token request, not a resource scope (SCOPE-7).
    #[error(
        "`offline_access` and `openid` are the authorization server's own scopes and cannot be a server scope"
    )]
    ReservedScope,
    /// A default scope that the server does not define.
    #[error("default scope {0:?} is not one of the server's scopes")]
    UnknownDefault(String),
    /// A display name that is empty or too long.
    #[error("must be 1-200 characters")]
    BadName,
    /// A scope description that is empty or too long.
    #[error("description of {0:?} must be 1-500 characters")]
    BadDescription(String),
}

/// Checks a server's scope list and defaults (SCOPE-1, SCOPE-7).
pub fn check_scopes(
    scopes: &[ScopeDefinition],
    defaults: &ScopeSet,
) -> Result<(), ServerRuleError> {
    let mut seen = ScopeSet::default();
    for scope in scopes {
        if scope.name.as_str() == OFFLINE_ACCESS || scope.name.as_str() == OPENID {
            return Err(ServerRuleError::ReservedScope);
        }
        if seen.contains(&scope.name) {
            return Err(ServerRuleError::DuplicateScope(scope.name.to_string()));
        }
        if !(1..=500).contains(&scope.description.chars().count()) {
            return Err(ServerRuleError::BadDescription(scope.name.to_string()));
        }
        seen = seen.union(&ScopeSet::from_tokens([scope.name.clone()]));
    }
    if let Some(unknown) = defaults.iter().find(|d| !seen.contains(d)) {
        return Err(ServerRuleError::UnknownDefault(unknown.to_string()));
    }
    Ok(())
}

/// Checks a display name (server or client): 1–200 characters, no control characters.
pub fn check_display_name(name: &str) -> Result<(), ServerRuleError> {
    let length_ok = (1..=200).contains(&name.chars().count());
    if length_ok && !name.chars().any(char::is_control) && !name.trim().is_empty() {
        Ok(())
    } else {
        Err(ServerRuleError::BadName)
    }
}

impl McpServer {
    /// Every scope this server defines.
    pub fn scope_set(&self) -> ScopeSet {
        self.scopes.iter().map(|s| s.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str) -> ScopeDefinition {
        ScopeDefinition {
            name: ScopeToken::parse(name).unwrap(),
            description: format!("Lets the client {name}"),
        }
    }

    #[test]
    fn scope_1_defaults_must_be_defined_scopes() {
        let scopes = [def("tools:read"), def("tools:call")];
        assert!(check_scopes(&scopes, &ScopeSet::parse("tools:read").unwrap()).is_ok());
        assert_eq!(
            check_scopes(&scopes, &ScopeSet::parse("admin").unwrap()),
            Err(ServerRuleError::UnknownDefault("admin".to_owned()))
        );
    }

    #[test]
    fn scope_7_offline_access_is_not_a_server_scope() {
        assert_eq!(
            check_scopes(&[def("offline_access")], &ScopeSet::default()),
            Err(ServerRuleError::ReservedScope)
        );
    }

    #[test]
    fn duplicate_scopes_and_empty_descriptions_are_refused() {
        let dup = [def("a"), def("a")];
        assert!(matches!(
            check_scopes(&dup, &ScopeSet::default()),
            Err(ServerRuleError::DuplicateScope(_))
        ));
        let mut empty = def("a");
        empty.description.clear();
        assert!(matches!(
            check_scopes(&[empty], &ScopeSet::default()),
            Err(ServerRuleError::BadDescription(_))
        ));
    }

    #[test]
    fn display_names_are_bounded() {
        assert!(check_display_name("Docs MCP").is_ok());
        assert!(check_display_name("").is_err());
        assert!(check_display_name("   ").is_err());
        assert!(check_display_name("a\u{0}b").is_err());
        assert!(check_display_name(&"x".repeat(201)).is_err());
    }
}
