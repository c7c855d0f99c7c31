//! Resource indicators: the canonical URI of an MCP server (RES-1, RES-2).
//!
//! Owns [`ResourceUri`], the one form in which a `resource` parameter, a token's `aud` and a
//! registered MCP server are compared, and the RFC 3986 absolute-URI splitter that
//! `redirect_uri` shares, so resource and redirect URIs are read by one parser.
//!
//! Canonicalisation lower-cases the scheme and the host and nothing else (RES-2): ports, paths,
//! trailing slashes, queries and percent-encoding are kept byte for byte. That is why this
//! module does not use the `url` crate, which normalises paths and default ports. Mapping a
//! canonical URI to a registered server, and admin aliases, belong to the use-cases. No I/O, no
//! DNS.

use std::fmt;
use std::net::Ipv6Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest URI accepted, in bytes (SEC-14: every input is bounded).
pub const MAX_URI_LEN: usize = 2048;

/// Hosts that count as loopback for plain `http` (SEC-2, SEC-3, CORE-2 dev mode). Compared
/// ASCII case-insensitively; nothing else is loopback (no `127.0.0.2`, no `localhost.`).
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// Canonical resource URI of an MCP server (RES-1, RES-2).
///
/// Invariant: an absolute `https` or `http` URI with a non-empty host, no user information, no
/// fragment, at most [`MAX_URI_LEN`] bytes, whose scheme and host are lower-case. Two values name
/// the same server exactly when their strings are equal, so `https://example.com`,
/// `https://example.com/` and `https://example.com:443` are three different resources.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceUri(String);

impl ResourceUri {
    /// Parses a `resource` value (RES-1) into its canonical form (RES-2).
    ///
    /// # Errors
    ///
    /// [`ResourceError`] when the value is not a well-formed absolute `https`/`http` URI with a
    /// host, or carries a fragment or user information. The caller answers `invalid_target`.
    pub fn parse(raw: &str) -> Result<Self, ResourceError> {
        let parts = UriParts::split(raw)?; // RES-1: absolute, no fragment, well-formed
        let is_web_scheme =
            parts.scheme.eq_ignore_ascii_case("https") || parts.scheme.eq_ignore_ascii_case("http");
        if !is_web_scheme {
            return Err(ResourceError::UnsupportedScheme);
        }
        if parts.host().is_none() {
            return Err(UriSyntaxError::MissingHost.into());
        }
        Ok(Self(parts.with_lowercase_scheme_and_host())) // RES-2
    }

    /// The canonical URI, as it appears in `aud` and Protected Resource Metadata.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https:")
    }

    /// True for `http://127.0.0.1…`, `http://[::1]…` and `http://localhost…`, the only plain-HTTP
    /// resources a loopback dev mode may accept (CORE-2).
    pub fn is_loopback_http(&self) -> bool {
        self.0.starts_with("http:") && is_loopback_host(self.host())
    }

    /// The lower-case host, without port; IPv6 literals keep their brackets.
    pub fn host(&self) -> &str {
        UriParts::split(&self.0)
            .ok()
            .and_then(|parts| parts.host())
            .unwrap_or_default()
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ResourceUri {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceUri {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw)
            .map_err(|err| serde::de::Error::custom(format_args!("resource URI {err}")))
    }
}

/// Why a value is not a [`ResourceUri`]. Every variant maps to `invalid_target` (RES-1, RES-3).
///
/// Messages are predicates meant to follow the parameter name: `format!("resource {err}")`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// Not a well-formed absolute URI of the accepted shape.
    #[error(transparent)]
    Syntax(#[from] UriSyntaxError),
    /// A scheme other than `https` or `http`.
    #[error("scheme must be https or http")]
    UnsupportedScheme,
}

/// Why a string is not an absolute URI this server accepts, whatever it names.
///
/// Shared by resource and redirect URIs. Messages are predicates meant to follow the
/// parameter name, as in `format!("redirect_uri {err}")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriSyntaxError {
    /// Longer than [`MAX_URI_LEN`] bytes (SEC-14).
    #[error("is too long (max {} bytes)", MAX_URI_LEN)]
    TooLong,
    /// Contains a space, tab, line break or other control character.
    #[error("contains whitespace or control characters")]
    WhitespaceOrControl,
    /// Contains `#` (RES-1, SEC-3).
    #[error("must not contain a fragment")]
    Fragment,
    /// No valid `scheme:` prefix (RFC 3986 §3.1), e.g. a relative reference.
    #[error("must be an absolute URI")]
    NotAbsolute,
    /// A character RFC 3986 does not allow (non-ASCII, `<`, `"`, `\`, …), or a bracket outside an
    /// IPv6 host.
    #[error("contains {0:?}, which is not allowed in a URI")]
    InvalidCharacter(char),
    /// A `%` not followed by two hexadecimal digits.
    #[error("contains a '%' that is not followed by two hex digits")]
    InvalidPercentEncoding,
    /// An `@` in the authority: user information hides the real host (RES-1, SEC-3).
    #[error("must not contain user information")]
    UserInfo,
    /// No authority, or an empty host where the scheme needs one.
    #[error("must have a host")]
    MissingHost,
    /// A host that is neither a DNS name, an IPv4 address nor a bracketed IPv6 address.
    #[error("must have a host that is a DNS name, an IPv4 address or a bracketed IPv6 address")]
    InvalidHost,
    /// A port that is empty, not all digits, or above 65535.
    #[error("must have a port of digits between 0 and 65535")]
    InvalidPort,
}

/// The components of an absolute URI, borrowed from the input (RFC 3986 §3).
///
/// [`UriParts::split`] succeeds only for well-formed absolute URIs without fragment or user
/// information, so joining the parts with their delimiters gives back the input byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UriParts<'a> {
    /// The scheme as written (any case).
    pub(crate) scheme: &'a str,
    /// Present exactly when the scheme is followed by `//`.
    pub(crate) authority: Option<Authority<'a>>,
    /// Everything after the authority up to `?`; may be empty.
    pub(crate) path: &'a str,
    /// Everything after the first `?`, if there is one.
    pub(crate) query: Option<&'a str>,
}

/// Host and optional port of a URI without user information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Authority<'a> {
    /// A DNS name, IPv4 address or bracketed IPv6 literal, as written; empty in `file:///x`.
    pub(crate) host: &'a str,
    /// The digits after `:`, as written (leading zeros kept).
    pub(crate) port: Option<&'a str>,
}

impl<'a> UriParts<'a> {
    /// Splits `raw` after checking its length and characters (SEC-14).
    pub(crate) fn split(raw: &'a str) -> Result<Self, UriSyntaxError> {
        check_characters(raw)?;
        let (scheme, rest) = raw
            .split_once(':')
            .filter(|(scheme, _)| is_scheme(scheme))
            .ok_or(UriSyntaxError::NotAbsolute)?;
        let (authority, path_and_query) = match rest.strip_prefix("//") {
            Some(after_slashes) => {
                let end = after_slashes
                    .find(['/', '?'])
                    .unwrap_or(after_slashes.len());
                let (authority, tail) = after_slashes
                    .split_at_checked(end)
                    .unwrap_or((after_slashes, ""));
                (Some(Authority::parse(authority)?), tail)
            }
            None => (None, rest),
        };
        // RFC 3986 §3.2.2: brackets only delimit an IP literal host.
        if let Some(bracket) = path_and_query.chars().find(|c| matches!(c, '[' | ']')) {
            return Err(UriSyntaxError::InvalidCharacter(bracket));
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        Ok(Self {
            scheme,
            authority,
            path,
            query,
        })
    }

    /// The host as written, if there is a non-empty one.
    pub(crate) fn host(&self) -> Option<&'a str> {
        self.authority
            .map(|authority| authority.host)
            .filter(|host| !host.is_empty())
    }

    /// The URI with scheme and host lower-cased and every other byte kept (RES-2).
    pub(crate) fn with_lowercase_scheme_and_host(&self) -> String {
        let mut out = self.scheme.to_ascii_lowercase();
        out.push(':');
        if let Some(authority) = self.authority {
            out.push_str("//");
            out.push_str(&authority.host.to_ascii_lowercase());
            if let Some(port) = authority.port {
                out.push(':');
                out.push_str(port);
            }
        }
        out.push_str(self.path);
        if let Some(query) = self.query {
            out.push('?');
            out.push_str(query);
        }
        out
    }
}

impl<'a> Authority<'a> {
    fn parse(authority: &'a str) -> Result<Self, UriSyntaxError> {
        if authority.contains('@') {
            return Err(UriSyntaxError::UserInfo); // RES-1, SEC-3
        }
        let (host, port) = split_host_port(authority)?;
        if !is_valid_host(host) {
            return Err(UriSyntaxError::InvalidHost);
        }
        if port.is_some_and(|port| !is_valid_port(port)) {
            return Err(UriSyntaxError::InvalidPort);
        }
        Ok(Self { host, port })
    }
}

/// Whether `host` is one of the loopback hosts allowed plain `http` (SEC-2, SEC-3).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    LOOPBACK_HOSTS
        .iter()
        .any(|loopback| loopback.eq_ignore_ascii_case(host))
}

fn check_characters(raw: &str) -> Result<(), UriSyntaxError> {
    if raw.len() > MAX_URI_LEN {
        return Err(UriSyntaxError::TooLong); // SEC-14
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UriSyntaxError::WhitespaceOrControl);
    }
    if raw.contains('#') {
        return Err(UriSyntaxError::Fragment); // RES-1, SEC-3
    }
    if let Some(invalid) = raw.chars().find(|c| !is_uri_char(*c)) {
        return Err(UriSyntaxError::InvalidCharacter(invalid));
    }
    let is_well_encoded = raw.split('%').skip(1).all(|after_percent| {
        after_percent
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !is_well_encoded {
        return Err(UriSyntaxError::InvalidPercentEncoding);
    }
    Ok(())
}

/// RFC 3986 §2: unreserved, reserved and `%`.
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UriSyntaxError> {
    if !authority.starts_with('[') {
        return Ok(match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        });
    }
    let (literal, after) = authority
        .split_once(']')
        .ok_or(UriSyntaxError::InvalidHost)?;
    let host = authority
        .get(..=literal.len())
        .ok_or(UriSyntaxError::InvalidHost)?;
    match after {
        "" => Ok((host, None)),
        _ => match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None => Err(UriSyntaxError::InvalidHost),
        },
    }
}

fn is_valid_host(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(literal) => literal.parse::<Ipv6Addr>().is_ok(),
        None => host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')),
    }
}

fn is_valid_port(port: &str) -> bool {
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(err: UriSyntaxError) -> Result<ResourceUri, ResourceError> {
        Err(ResourceError::Syntax(err))
    }

    #[test]
    fn res_1_accepts_absolute_https_and_http_uris() {
        let accepted = [
            "https://mcp.example.com",
            "https://mcp.example.com/",
            "https://mcp.example.com/mcp",
            "https://mcp.example.com:8443/mcp",
            "https://mcp.example.com/mcp?tenant=a&x=%2F",
            "https://mcp.example.com?tenant=a",
            "https://10.0.0.7/mcp",
            "https://[2001:db8::1]:8443/mcp",
            "https://mcp_internal.example/mcp",
            "http://127.0.0.1:3000/mcp",
            "http://mcp.example.com/mcp",
        ];
        for raw in accepted {
            let parsed = ResourceUri::parse(raw);
            assert_eq!(parsed.map(|r| r.0), Ok(raw.to_owned()), "{raw}");
        }
    }

    #[test]
    fn res_1_rejects_fragment() {
        for raw in [
            "https://mcp.example.com/mcp#",
            "https://mcp.example.com/mcp#section",
            "https://mcp.example.com#/mcp",
            "https://mcp.example.com/mcp?q=1#x",
        ] {
            assert_eq!(
                ResourceUri::parse(raw),
                syntax(UriSyntaxError::Fragment),
                "{raw}"
            );
        }
    }

    #[test]
    fn res_1_rejects_relative_and_malformed_uris() {
        let cases = [
            ("", UriSyntaxError::NotAbsolute),
            ("mcp.example.com/mcp", UriSyntaxError::NotAbsolute),
            ("//mcp.example.com/mcp", UriSyntaxError::NotAbsolute),
            ("/mcp", UriSyntaxError::NotAbsolute),
            (":mcp", UriSyntaxError::NotAbsolute),
            ("1https://mcp.example.com", UriSyntaxError::NotAbsolute),
            ("https://", UriSyntaxError::MissingHost),
            ("https:///mcp", UriSyntaxError::MissingHost),
            ("https://:443/mcp", UriSyntaxError::MissingHost),
            ("https:mcp.example.com/mcp", UriSyntaxError::MissingHost),
            ("https:/mcp", UriSyntaxError::MissingHost),
            (
                "https://mcp.example.com/a%2",
                UriSyntaxError::InvalidPercentEncoding,
            ),
            (
                "https://mcp.example.com/a%zz",
                UriSyntaxError::InvalidPercentEncoding,
            ),
            (
                "https://mcp.example.com/%",
                UriSyntaxError::InvalidPercentEncoding,
            ),
            (
                "https://mcp.example.com/a<b",
                UriSyntaxError::InvalidCharacter('<'),
            ),
            (
                "https://mcp.example.com/a\\b",
                UriSyntaxError::InvalidCharacter('\\'),
            ),
            (
                "https://mcp.example.com/é",
                UriSyntaxError::InvalidCharacter('é'),
            ),
            (
                "https://mcp.example.com/a[1]",
                UriSyntaxError::InvalidCharacter('['),
            ),
            (
                "https://mcp.example.com/?a]",
                UriSyntaxError::InvalidCharacter(']'),
            ),
            ("https://mcp.ex%41mple.com/", UriSyntaxError::InvalidHost),
            ("https://mcp.example.com!/", UriSyntaxError::InvalidHost),
            ("https://[::1/mcp", UriSyntaxError::InvalidHost),
            ("https://[not-ipv6]/mcp", UriSyntaxError::InvalidHost),
            ("https://[::1]x/mcp", UriSyntaxError::InvalidHost),
            ("https://::1/mcp", UriSyntaxError::InvalidPort),
            ("https://a]b/mcp", UriSyntaxError::InvalidHost),
        ];
        for (raw, expected) in cases {
            assert_eq!(ResourceUri::parse(raw), syntax(expected), "{raw:?}");
        }
    }

    #[test]
    fn res_1_rejects_malformed_ports() {
        for raw in [
            "https://mcp.example.com:/mcp",
            "https://mcp.example.com:https/mcp",
            "https://mcp.example.com:+443/mcp",
            "https://mcp.example.com:65536/mcp",
            "https://mcp.example.com:443:1/mcp",
            "https://[::1]:/mcp",
        ] {
            assert_eq!(
                ResourceUri::parse(raw),
                syntax(UriSyntaxError::InvalidPort),
                "{raw}"
            );
        }
    }

    #[test]
    fn res_1_rejects_user_information() {
        for raw in [
            "https://user@mcp.example.com/mcp",
            "https://user:pass@mcp.example.com/mcp",
            "https://mcp.example.com@evil.example/mcp",
            "https://@mcp.example.com/mcp",
        ] {
            assert_eq!(
                ResourceUri::parse(raw),
                syntax(UriSyntaxError::UserInfo),
                "{raw}"
            );
        }
    }

    #[test]
    fn res_1_at_sign_in_path_is_not_user_information() {
        let parsed = ResourceUri::parse("https://mcp.example.com/@team/mcp").unwrap();
        assert_eq!(parsed.host(), "mcp.example.com");
    }

    #[test]
    fn res_1_rejects_schemes_other_than_https_and_http() {
        for raw in [
            "ftp://mcp.example.com/mcp",
            "wss://mcp.example.com/mcp",
            "urn:example:mcp",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "httpss://mcp.example.com",
        ] {
            assert_eq!(
                ResourceUri::parse(raw),
                Err(ResourceError::UnsupportedScheme),
                "{raw}"
            );
        }
    }

    #[test]
    fn res_1_rejects_whitespace_and_control_characters() {
        for raw in [
            " https://mcp.example.com/mcp",
            "https://mcp.example.com/mcp ",
            "https://mcp.example.com/m cp",
            "https://mcp.example.com/mcp\n",
            "https://mcp.example.com/\tmcp",
            "https://mcp.example.com/\u{0}",
            "https://mcp.example.com/\u{7f}",
            "https://mcp.example.com/\u{a0}",
        ] {
            assert_eq!(
                ResourceUri::parse(raw),
                syntax(UriSyntaxError::WhitespaceOrControl),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn res_1_rejects_uris_longer_than_2048_bytes() {
        let prefix = "https://mcp.example.com/";
        let at_limit = format!("{prefix}{}", "a".repeat(MAX_URI_LEN - prefix.len()));
        let over_limit = format!("{at_limit}a");
        assert!(ResourceUri::parse(&at_limit).is_ok());
        assert_eq!(
            ResourceUri::parse(&over_limit),
            syntax(UriSyntaxError::TooLong)
        );
    }

    #[test]
    fn res_2_lowercases_scheme_and_host_only() {
        let cases = [
            (
                "HTTPS://MCP.Example.COM/Path/",
                "https://mcp.example.com/Path/",
            ),
            ("Https://Mcp.Example.com", "https://mcp.example.com"),
            ("HTTP://LOCALHOST:8080/MCP", "http://localhost:8080/MCP"),
            (
                "https://[2001:DB8::A]:8443/X",
                "https://[2001:db8::a]:8443/X",
            ),
            (
                "https://EXAMPLE.com/a%2fB?Q=%2F",
                "https://example.com/a%2fB?Q=%2F",
            ),
            ("https://example.com:0443/", "https://example.com:0443/"),
            (
                "https://example.com/a/../b/./c",
                "https://example.com/a/../b/./c",
            ),
            (
                "https://example.com?Tenant=A",
                "https://example.com?Tenant=A",
            ),
        ];
        for (raw, canonical) in cases {
            assert_eq!(
                ResourceUri::parse(raw).unwrap().as_str(),
                canonical,
                "{raw}"
            );
        }
    }

    #[test]
    fn res_2_keeps_trailing_slash_and_port_distinct() {
        let variants = [
            "https://example.com",
            "https://example.com/",
            "https://example.com:443",
            "https://example.com:443/",
        ];
        let parsed: Vec<ResourceUri> = variants
            .iter()
            .map(|raw| ResourceUri::parse(raw).unwrap())
            .collect();
        for (i, a) in parsed.iter().enumerate() {
            for (j, b) in parsed.iter().enumerate() {
                assert_eq!(a == b, i == j, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn res_2_case_variants_of_scheme_and_host_are_equal() {
        let a = ResourceUri::parse("HTTPS://Files.ACME-mcp.example/mcp").unwrap();
        let b = ResourceUri::parse("https://files.acme-mcp.example/mcp").unwrap();
        let c = ResourceUri::parse("https://files.acme-mcp.example/MCP").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn res_2_split_and_rejoin_is_byte_exact() {
        for raw in [
            "https://example.com",
            "https://example.com:8443/a/b/?x=1&y=%20",
            "https://[::1]:1/",
            "https://example.com?",
            "com.example.app:/cb?x",
        ] {
            let parts = UriParts::split(raw).unwrap();
            assert_eq!(parts.with_lowercase_scheme_and_host(), raw);
        }
    }

    #[test]
    fn res_1_reports_host_scheme_and_loopback() {
        // (uri, host, is_https, is_loopback_http)
        let cases = [
            (
                "https://MCP.example.com:8443/mcp",
                "mcp.example.com",
                true,
                false,
            ),
            ("https://127.0.0.1/mcp", "127.0.0.1", true, false),
            ("http://127.0.0.1:3000/mcp", "127.0.0.1", false, true),
            ("http://[::1]/mcp", "[::1]", false, true),
            ("HTTP://LocalHost/mcp", "localhost", false, true),
            ("http://localhost", "localhost", false, true),
            (
                "http://127.0.0.1.evil.example/mcp",
                "127.0.0.1.evil.example",
                false,
                false,
            ),
            (
                "http://localhost.evil.example/mcp",
                "localhost.evil.example",
                false,
                false,
            ),
            ("http://127.0.0.2/mcp", "127.0.0.2", false, false),
            (
                "http://mcp.example.com/mcp",
                "mcp.example.com",
                false,
                false,
            ),
        ];
        for (raw, host, is_https, is_loopback_http) in cases {
            let resource = ResourceUri::parse(raw).unwrap();
            assert_eq!(resource.host(), host, "{raw}");
            assert_eq!(resource.is_https(), is_https, "{raw}");
            assert_eq!(resource.is_loopback_http(), is_loopback_http, "{raw}");
        }
    }

    #[test]
    fn res_2_serde_round_trips_canonical_form() {
        let resource: ResourceUri = serde_json::from_str("\"HTTPS://Files.Example/mcp\"").unwrap();
        assert_eq!(resource.as_str(), "https://files.example/mcp");
        assert_eq!(resource.to_string(), "https://files.example/mcp");
        assert_eq!(
            serde_json::to_string(&resource).unwrap(),
            "\"https://files.example/mcp\""
        );
    }

    #[test]
    fn res_1_deserialize_reports_the_reason() {
        let err = serde_json::from_str::<ResourceUri>("\"https://x.example/#frag\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("resource URI must not contain a fragment"),
            "{err}"
        );
        let err = serde_json::from_str::<ResourceUri>("\"ftp://x.example/\"").unwrap_err();
        assert!(
            err.to_string().contains("scheme must be https or http"),
            "{err}"
        );
    }

    #[test]
    fn res_1_error_messages_read_after_the_parameter_name() {
        let cases = [
            (
                ResourceError::from(UriSyntaxError::NotAbsolute),
                "must be an absolute URI",
            ),
            (
                UriSyntaxError::Fragment.into(),
                "must not contain a fragment",
            ),
            (
                ResourceError::UnsupportedScheme,
                "scheme must be https or http",
            ),
            (UriSyntaxError::MissingHost.into(), "must have a host"),
            (
                UriSyntaxError::UserInfo.into(),
                "must not contain user information",
            ),
            (
                UriSyntaxError::TooLong.into(),
                "is too long (max 2048 bytes)",
            ),
            (
                UriSyntaxError::WhitespaceOrControl.into(),
                "contains whitespace or control characters",
            ),
            (
                UriSyntaxError::InvalidCharacter('"').into(),
                "contains '\"', which is not allowed in a URI",
            ),
        ];
        for (err, message) in cases {
            assert_eq!(err.to_string(), message);
        }
    }
}
