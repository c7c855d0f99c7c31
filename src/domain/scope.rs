//! OAuth scopes: token syntax and scope-set algebra (SCOPE-2, SCOPE-7).
//!
//! Owns [`ScopeToken`], the syntax of one scope (SCOPE-2), and [`ScopeSet`], the parsed
//! space-delimited `scope` parameter with the set operations grants are computed with:
//! intersection (SCOPE-3), union (SCOPE-5), subset (SCOPE-8). It knows nothing about which
//! scopes an MCP server defines or a client may request; the use-cases decide that with these
//! operations. Tokens are case-sensitive and compared byte for byte.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The AS-level scope that asks for a refresh token (SCOPE-7). Never a resource scope: callers
/// take it out of a request before intersecting with a server's scopes.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The OpenID Connect scope: asks for an ID token beside the access token; like
/// [`OFFLINE_ACCESS`] it is the AS's own, never a resource scope.
pub const OPENID: &str = "openid";

/// The OpenID Connect `email` scope: beside [`OPENID`] it asks for the account's address
/// in the ID token. Without `openid` it is an ordinary scope token, so an MCP server
/// may still define its own `email` scope for plain OAuth requests.
pub const EMAIL: &str = "email";

/// Longest scope token accepted, in bytes (PD, SEC-14: inputs are bounded).
pub const MAX_SCOPE_TOKEN_LEN: usize = 128;

/// How much of an over-long token an error message quotes.
const QUOTED_PREFIX_CHARS: usize = 16;

/// One scope token (SCOPE-2): non-empty, chars %x21 / %x23-5B / %x5D-7E, max 128 bytes.
///
/// Printable ASCII without space, `"` and `\`. Case-sensitive: `Files:Read` and `files:read`
/// are different scopes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeToken(String);

impl ScopeToken {
    /// Parses one token (SCOPE-2).
    ///
    /// # Errors
    ///
    /// [`ScopeError`] for an empty or over-long token or a character outside SCOPE-2's set;
    /// the caller answers `invalid_scope`.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        if raw.is_empty() {
            return Err(ScopeError::Empty);
        }
        if raw.len() > MAX_SCOPE_TOKEN_LEN {
            return Err(ScopeError::TooLong {
                start: raw.chars().take(QUOTED_PREFIX_CHARS).collect(),
                len: raw.len(),
            });
        }
        // SCOPE-2: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if let Some(character) = raw.chars().find(|c| !is_scope_char(*c)) {
            return Err(ScopeError::InvalidCharacter {
                token: raw.to_owned(),
                character,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The token as sent and as written into tokens and responses.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is [`OFFLINE_ACCESS`] (SCOPE-7).
    pub fn is_offline_access(&self) -> bool {
        self.0 == OFFLINE_ACCESS
    }
}

impl fmt::Display for ScopeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ScopeToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ScopeToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A set of scope tokens, ordered, no duplicates.
///
/// Printed sorted and joined by single spaces, so equal sets always print the same `scope`
/// string (CORE-7, SCOPE-4, TOK-4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<ScopeToken>);

impl ScopeSet {
    /// Space-delimited list (SCOPE-2). Empty or all-space input → empty set. Runs of several
    /// spaces tolerated; any other whitespace (tab, newline) or an invalid char → error.
    ///
    /// Repeated tokens collapse into one. Whether an empty set means "use the default"
    /// (SCOPE-1) is the caller's decision.
    ///
    /// # Errors
    ///
    /// The [`ScopeError`] of the first invalid token.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        raw.split(' ')
            .filter(|token| !token.is_empty())
            .map(ScopeToken::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// The set of the given tokens, duplicates dropped.
    pub fn from_tokens(tokens: impl IntoIterator<Item = ScopeToken>) -> Self {
        Self(tokens.into_iter().collect())
    }

    /// Whether the set has no tokens.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `token` is in the set (exact, case-sensitive).
    pub fn contains(&self, token: &ScopeToken) -> bool {
        self.0.contains(token)
    }

    /// The tokens in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &ScopeToken> {
        self.0.iter()
    }

    /// Tokens in either set: step-up re-authorization yields old ∪ new (SCOPE-5).
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Tokens in both sets: requested ∩ resource ∩ allowance ∩ policy (SCOPE-3).
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// Tokens in `self` but not in `other`, e.g. scopes not yet consented (SCOPE-5) or unknown
    /// to a server (SCOPE-3).
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.difference(&other.0).cloned().collect())
    }

    /// Whether every token of `self` is in `other`; a refresh's scope must be a subset of the
    /// grant (SCOPE-8). The empty set is a subset of every set.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the set asks for [`OFFLINE_ACCESS`] (SCOPE-7).
    pub fn has_offline_access(&self) -> bool {
        self.0.iter().any(ScopeToken::is_offline_access)
    }

    /// The set without [`OFFLINE_ACCESS`]: the part that names resource scopes (SCOPE-7).
    pub fn without_offline_access(&self) -> ScopeSet {
        self.0
            .iter()
            .filter(|token| !token.is_offline_access())
            .cloned()
            .collect()
    }

    /// Whether the set asks for an ID token ([`OPENID`]).
    pub fn has_openid(&self) -> bool {
        self.0.iter().any(|token| token.as_str() == OPENID)
    }

    /// Whether `openid` and `email` were both asked for: the ID token carries the address.
    pub fn has_openid_email(&self) -> bool {
        self.has_openid() && self.0.iter().any(|token| token.as_str() == EMAIL)
    }

    /// The resource scopes: the set without the AS's own [`OFFLINE_ACCESS`] and [`OPENID`]
    /// (and [`EMAIL`] when it comes with `openid`).
    pub fn resource_scopes(&self) -> ScopeSet {
        let openid = self.has_openid();
        self.0
            .iter()
            .filter(|token| !token.is_offline_access() && token.as_str() != OPENID)
            .filter(|token| !(openid && token.as_str() == EMAIL))
            .cloned()
            .collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tokens = self.0.iter();
        if let Some(first) = tokens.next() {
            f.write_str(first.as_str())?;
        }
        for token in tokens {
            f.write_str(" ")?;
            f.write_str(token.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a ScopeToken;
    type IntoIter = std::collections::btree_set::Iter<'a, ScopeToken>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<ScopeToken> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = ScopeToken>>(tokens: I) -> Self {
        Self(tokens.into_iter().collect())
    }
}

/// Why a `scope` value is malformed (SCOPE-2); every variant maps to `invalid_scope`.
///
/// Messages quote the offending token with Rust escaping, so control characters and quotes
/// from the request cannot forge the text around them (SEC-14).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A zero-length token.
    #[error("scope token is empty")]
    Empty,
    /// A token over [`MAX_SCOPE_TOKEN_LEN`] bytes; only its start is kept.
    #[error(
        "scope token starting {start:?} is {len} bytes long (max {} bytes)",
        MAX_SCOPE_TOKEN_LEN
    )]
    TooLong {
        /// The first few characters of the token.
        start: String,
        /// The token's length in bytes.
        len: usize,
    },
    /// A character outside %x21 / %x23-5B / %x5D-7E: space-like, `"`, `\`, control or
    /// non-ASCII.
    #[error("scope token {token:?} contains {character:?}, which is not allowed in a scope")]
    InvalidCharacter {
        /// The whole offending token (at most [`MAX_SCOPE_TOKEN_LEN`] bytes).
        token: String,
        /// The first character that is not allowed.
        character: char,
    },
}

fn is_scope_char(c: char) -> bool {
    matches!(c, '\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(raw: &str) -> ScopeToken {
        ScopeToken::parse(raw).unwrap()
    }

    fn set(raw: &str) -> ScopeSet {
        ScopeSet::parse(raw).unwrap()
    }

    fn invalid(token: &str, character: char) -> ScopeError {
        ScopeError::InvalidCharacter {
            token: token.to_owned(),
            character,
        }
    }

    #[test]
    fn email_is_an_openid_scope_only_beside_openid() {
        let oidc = set("openid email files:read");
        assert!(oidc.has_openid_email());
        assert_eq!(oidc.resource_scopes(), set("files:read"));
        let plain = set("email files:read");
        assert!(!plain.has_openid_email());
        assert_eq!(plain.resource_scopes(), set("email files:read"));
    }

    #[test]
    fn scope_2_accepts_every_allowed_character() {
        let accepted = [
            "files:read",
            "offline_access",
            "!",
            "#",
            "[",
            "]",
            "~",
            "a/b?c=d&e",
            "urn:example:scope",
            "https://api.example.com/read",
            "ABC{}|^`",
        ];
        for raw in accepted {
            assert_eq!(token(raw).as_str(), raw);
        }
        let every_allowed: String = ('\u{21}'..='\u{7E}')
            .filter(|c| *c != '"' && *c != '\\')
            .collect();
        assert_eq!(every_allowed.len(), 92);
        assert_eq!(token(&every_allowed).as_str(), every_allowed);
    }

    #[test]
    fn scope_2_rejects_backslash_and_quote() {
        let cases = [
            ("files\\read", '\\'),
            ("\"files\"", '"'),
            ("\\", '\\'),
            ("a\"", '"'),
        ];
        for (raw, character) in cases {
            assert_eq!(
                ScopeToken::parse(raw),
                Err(invalid(raw, character)),
                "{raw}"
            );
        }
    }

    #[test]
    fn scope_2_rejects_space_control_and_non_ascii() {
        let cases = [
            ("a b", ' '),
            ("a\tb", '\t'),
            ("a\nb", '\n'),
            ("\u{0}", '\u{0}'),
            ("a\u{7f}", '\u{7f}'),
            ("café", 'é'),
            ("files:read\u{200b}", '\u{200b}'),
        ];
        for (raw, character) in cases {
            assert_eq!(
                ScopeToken::parse(raw),
                Err(invalid(raw, character)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn scope_2_rejects_empty_token() {
        assert_eq!(ScopeToken::parse(""), Err(ScopeError::Empty));
    }

    #[test]
    fn scope_2_limits_token_to_128_bytes() {
        let at_limit = "a".repeat(MAX_SCOPE_TOKEN_LEN);
        assert_eq!(token(&at_limit).as_str(), at_limit);
        let over_limit = "a".repeat(MAX_SCOPE_TOKEN_LEN + 1);
        assert_eq!(
            ScopeToken::parse(&over_limit),
            Err(ScopeError::TooLong {
                start: "a".repeat(16),
                len: 129
            })
        );
    }

    #[test]
    fn scope_2_is_case_sensitive() {
        assert_ne!(token("Files:Read"), token("files:read"));
        assert!(!set("files:read").contains(&token("FILES:READ")));
    }

    #[test]
    fn scope_2_parses_space_delimited_list() {
        // (input, printed set, size)
        let cases = [
            ("", "", 0),
            (" ", "", 0),
            ("    ", "", 0),
            ("files:read", "files:read", 1),
            ("files:write files:read", "files:read files:write", 2),
            ("  files:read   files:write  ", "files:read files:write", 2),
            ("b a b a", "a b", 2),
            ("offline_access files:read", "files:read offline_access", 2),
        ];
        for (raw, printed, len) in cases {
            let parsed = set(raw);
            assert_eq!(parsed.to_string(), printed, "{raw:?}");
            assert_eq!(parsed.len(), len, "{raw:?}");
            assert_eq!(parsed.is_empty(), len == 0, "{raw:?}");
        }
    }

    #[test]
    fn scope_2_list_rejects_other_whitespace_and_invalid_tokens() {
        let cases = [
            (
                "files:read\tfiles:write",
                invalid("files:read\tfiles:write", '\t'),
            ),
            ("files:read\n", invalid("files:read\n", '\n')),
            ("\r\n", invalid("\r\n", '\r')),
            ("a\u{a0}b", invalid("a\u{a0}b", '\u{a0}')),
            ("ok \"quoted\"", invalid("\"quoted\"", '"')),
            ("ok back\\slash", invalid("back\\slash", '\\')),
        ];
        for (raw, expected) in cases {
            assert_eq!(ScopeSet::parse(raw), Err(expected), "{raw:?}");
        }
        let long = format!("ok {}", "x".repeat(200));
        assert!(matches!(
            ScopeSet::parse(&long),
            Err(ScopeError::TooLong { len: 200, .. })
        ));
    }

    #[test]
    fn scope_2_error_messages_name_the_escaped_token() {
        let err = ScopeSet::parse("ok bad\"tok\u{1b}[31m").unwrap_err();
        assert_eq!(
            err.to_string(),
            "scope token \"bad\\\"tok\\u{1b}[31m\" contains '\"', which is not allowed in a scope"
        );
        assert_eq!(ScopeError::Empty.to_string(), "scope token is empty");
        let err = ScopeToken::parse(&"z".repeat(130)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "scope token starting \"zzzzzzzzzzzzzzzz\" is 130 bytes long (max 128 bytes)"
        );
    }

    #[test]
    fn scope_3_intersection_keeps_common_tokens() {
        let cases = [
            ("a b c", "b c d", "b c"),
            ("a b", "c d", ""),
            ("a b", "", ""),
            ("a b", "a b", "a b"),
        ];
        for (left, right, expected) in cases {
            assert_eq!(
                set(left).intersection(&set(right)),
                set(expected),
                "{left} ∩ {right}"
            );
        }
    }

    #[test]
    fn scope_5_union_combines_old_and_new() {
        let cases = [
            ("files:read", "files:write", "files:read files:write"),
            ("a b", "b c", "a b c"),
            ("", "a", "a"),
            ("", "", ""),
        ];
        for (left, right, expected) in cases {
            assert_eq!(
                set(left).union(&set(right)),
                set(expected),
                "{left} ∪ {right}"
            );
        }
    }

    #[test]
    fn scope_5_difference_is_what_still_needs_consent() {
        let cases = [
            ("files:read files:write", "files:read", "files:write"),
            ("a b", "a b c", ""),
            ("a b", "", "a b"),
            ("", "a", ""),
        ];
        for (left, right, expected) in cases {
            assert_eq!(
                set(left).difference(&set(right)),
                set(expected),
                "{left} − {right}"
            );
        }
    }

    #[test]
    fn scope_8_is_subset_of_original_grant() {
        let cases = [
            ("a", "a b", true),
            ("a b", "a b", true),
            ("", "a", true),
            ("", "", true),
            ("a c", "a b", false),
            ("a", "", false),
            ("A", "a", false),
        ];
        for (left, right, expected) in cases {
            assert_eq!(
                set(left).is_subset(&set(right)),
                expected,
                "{left} ⊆ {right}"
            );
        }
    }

    #[test]
    fn scope_7_offline_access_is_separated_from_resource_scopes() {
        let requested = set("files:read offline_access");
        assert!(requested.has_offline_access());
        assert_eq!(requested.without_offline_access(), set("files:read"));
        assert!(!set("files:read Offline_Access").has_offline_access());
        assert!(token(OFFLINE_ACCESS).is_offline_access());
        assert!(!token("offline_access2").is_offline_access());
    }

    #[test]
    fn scope_2_contains_iter_and_collect_agree() {
        let scopes = set("c a b");
        let via_iter: Vec<&str> = scopes.iter().map(ScopeToken::as_str).collect();
        let via_ref: Vec<&str> = (&scopes).into_iter().map(ScopeToken::as_str).collect();
        assert_eq!(via_iter, ["a", "b", "c"]);
        assert_eq!(via_ref, via_iter);
        assert!(scopes.contains(&token("b")));
        assert!(!scopes.contains(&token("d")));
        let collected: ScopeSet = ["b", "a", "b"].into_iter().map(token).collect();
        assert_eq!(collected, set("a b"));
        assert_eq!(ScopeSet::from_tokens([token("x"), token("x")]).len(), 1);
        assert_eq!(ScopeSet::default(), set(""));
    }

    #[test]
    fn scope_2_serde_uses_space_delimited_string() {
        let scopes: ScopeSet = serde_json::from_str("\"files:write  files:read\"").unwrap();
        assert_eq!(
            serde_json::to_string(&scopes).unwrap(),
            "\"files:read files:write\""
        );
        assert_eq!(serde_json::to_string(&ScopeSet::default()).unwrap(), "\"\"");
        let err = serde_json::from_str::<ScopeSet>("\"a\\tb\"").unwrap_err();
        assert!(err.to_string().contains("'\\t'"), "{err}");
        let single: ScopeToken = serde_json::from_str("\"files:read\"").unwrap();
        assert_eq!(serde_json::to_string(&single).unwrap(), "\"files:read\"");
        assert!(serde_json::from_str::<ScopeToken>("\"a b\"").is_err());
        assert!(serde_json::from_str::<ScopeToken>("\"\"").is_err());
    }
}
