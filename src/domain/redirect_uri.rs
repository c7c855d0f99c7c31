//! Redirect URIs: what a client may register, and when a request's `redirect_uri` matches
//! (SEC-1, SEC-2, SEC-3).
//!
//! Owns the registration rules (SEC-3, applied by DCR-4, CIMD-18 and pre-registration) and the
//! request-time comparison (SEC-1, SEC-2; used for CORE-15, CORE-16, CORE-18). A registered URI
//! is kept exactly as given and never normalised: matching is byte equality, and the one
//! relaxation is the port of an `http` loopback URI. URIs are split by the parser in
//! `resource`, so both kinds of URI follow the same syntax rules. No I/O.

use std::fmt;

use serde::{Serialize, Serializer};

use super::resource::{UriParts, UriSyntaxError, is_loopback_host};

/// Schemes refused whatever the policy (SEC-3, BCP §2.6): they run code or read local data.
const FORBIDDEN_SCHEMES: [&str; 4] = ["javascript", "data", "file", "vbscript"];

/// A redirect URI a client may register (SEC-3).
///
/// Invariant: an absolute URI without fragment or user information, at most 2048 bytes, whose
/// scheme is `https` with a host, `http` with a loopback host (`127.0.0.1`, `[::1]`,
/// `localhost`), or a reverse-domain private-use scheme allowed by [`RedirectPolicy`]. Stored
/// byte for byte as registered (SEC-1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

/// Which redirect URIs this deployment lets clients register (SEC-3 PD).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Allow reverse-domain private-use schemes such as `com.example.app:/cb` (RFC 8252 §7.1).
    /// Off by default: MCP allows only `https` and loopback `http`.
    pub allow_private_use_schemes: bool,
}

impl RedirectUri {
    /// Checks a URI a client wants to register (SEC-3).
    ///
    /// The scheme is compared case-insensitively for classification, but the URI is stored as
    /// written.
    ///
    /// # Errors
    ///
    /// [`RedirectUriError`] names the first rule broken; DCR answers `invalid_redirect_uri`,
    /// CIMD and pre-registration refuse the client.
    pub fn parse(raw: &str, policy: RedirectPolicy) -> Result<Self, RedirectUriError> {
        let parts = UriParts::split(raw)?; // SEC-3: absolute, no fragment, no userinfo, bounded
        check_scheme(&parts, policy)?;
        Ok(Self(raw.to_owned())) // SEC-1: never normalised
    }

    /// The URI exactly as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `http` loopback (`127.0.0.1`, `[::1]`, `localhost`) redirect URIs (SEC-2).
    ///
    /// Such URIs match any port and deserve an impersonation warning on consent (CIMD-26).
    pub fn is_loopback(&self) -> bool {
        UriParts::split(&self.0).is_ok_and(|parts| is_http_loopback(&parts))
    }

    /// The host as written, for display on consent (SEC-11, CIMD-25); `None` for a
    /// private-use URI without one.
    pub fn host(&self) -> Option<&str> {
        UriParts::split(&self.0).ok().and_then(|parts| parts.host())
    }

    /// SEC-1 exact string equality; SEC-2: an http loopback registration also matches a request
    /// that differs only in the port (any port, incl. none).
    ///
    /// For loopback the request must itself be a well-formed URI whose scheme, host, path and
    /// query equal the registration's byte for byte, so `http://127.0.0.1.evil.com/cb` and
    /// `http://localhost@evil/cb` never match.
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true; // SEC-1
        }
        let (Ok(registered), Ok(requested)) =
            (UriParts::split(&self.0), UriParts::split(requested))
        else {
            return false;
        };
        is_http_loopback(&registered) && equal_except_port(&registered, &requested) // SEC-2
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RedirectUri {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Why a URI cannot be registered as a redirect URI (SEC-3).
///
/// Messages are predicates meant to follow the parameter name:
/// `format!("redirect_uri {err}")`. Schemes are quoted with Rust escaping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    /// Not a well-formed absolute URI without fragment or user information.
    #[error(transparent)]
    Syntax(#[from] UriSyntaxError),
    /// `javascript:`, `data:`, `file:` or `vbscript:`, refused whatever the policy.
    #[error("must not use the {0:?} scheme")]
    ForbiddenScheme(String),
    /// `http` with a host other than `127.0.0.1`, `[::1]` or `localhost`.
    #[error("may use http only with host 127.0.0.1, [::1] or localhost; use https")]
    HttpNotLoopback,
    /// A private-use scheme while [`RedirectPolicy::allow_private_use_schemes`] is off.
    #[error("uses the private-use scheme {0:?}, which this server does not accept")]
    PrivateUseSchemeNotAllowed(String),
    /// A private-use scheme without a `.`, so not in reverse-domain form (RFC 8252 §7.1).
    #[error(
        "uses the private-use scheme {0:?}, which must be a reverse domain name such as \"com.example.app\""
    )]
    PrivateUseSchemeNotReverseDomain(String),
}

fn check_scheme(parts: &UriParts<'_>, policy: RedirectPolicy) -> Result<(), RedirectUriError> {
    let scheme = parts.scheme.to_ascii_lowercase();
    let host = parts.host();
    match (scheme.as_str(), host) {
        ("https" | "http", None) => Err(UriSyntaxError::MissingHost.into()),
        ("https", Some(_)) => Ok(()),
        ("http", Some(host)) if is_loopback_host(host) => Ok(()), // SEC-3
        ("http", Some(_)) => Err(RedirectUriError::HttpNotLoopback), // SEC-3
        (other, _) if FORBIDDEN_SCHEMES.contains(&other) => {
            Err(RedirectUriError::ForbiddenScheme(parts.scheme.to_owned())) // SEC-3
        }
        _ if !policy.allow_private_use_schemes => {
            Err(RedirectUriError::PrivateUseSchemeNotAllowed(
                parts.scheme.to_owned(),
            )) // SEC-3 PD
        }
        (other, _) if !other.contains('.') => {
            Err(RedirectUriError::PrivateUseSchemeNotReverseDomain(
                parts.scheme.to_owned(),
            )) // RFC 8252 §7.1
        }
        _ => Ok(()),
    }
}

/// SEC-2: plain `http` to one of the loopback hosts.
fn is_http_loopback(parts: &UriParts<'_>) -> bool {
    parts.scheme.eq_ignore_ascii_case("http") && parts.host().is_some_and(is_loopback_host)
}

/// SEC-2: everything but the port is compared byte for byte.
fn equal_except_port(registered: &UriParts<'_>, requested: &UriParts<'_>) -> bool {
    registered.scheme == requested.scheme
        && registered.host() == requested.host()
        && registered.path == requested.path
        && registered.query == requested.query
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: RedirectPolicy = RedirectPolicy {
        allow_private_use_schemes: false,
    };
    const NATIVE: RedirectPolicy = RedirectPolicy {
        allow_private_use_schemes: true,
    };

    fn uri(raw: &str) -> RedirectUri {
        RedirectUri::parse(raw, STRICT).unwrap()
    }

    fn refused_scheme(
        reason: fn(String) -> RedirectUriError,
        scheme: &str,
    ) -> Result<RedirectUri, RedirectUriError> {
        Err(reason(scheme.to_owned()))
    }

    #[test]
    fn sec_3_accepts_https_and_loopback_http_as_written() {
        let accepted = [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "https://APP.example.com/CB",
            "HTTPS://app.example.com/cb",
            "https://127.0.0.1/cb",
            "https://[2001:db8::1]/cb",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53117/callback",
            "http://[::1]/callback",
            "http://[::1]:8080/callback",
            "http://localhost/callback",
            "http://LOCALHOST:3000/callback",
            "http://localhost",
        ];
        for raw in accepted {
            assert_eq!(
                RedirectUri::parse(raw, STRICT).map(|r| r.0),
                Ok(raw.to_owned()),
                "{raw}"
            );
        }
    }

    #[test]
    fn sec_3_refuses_http_for_non_loopback_hosts() {
        for raw in [
            "http://app.example.com/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/cb",
            "http://localhost./cb",
            "http://127.0.0.2/cb",
            "http://10.0.0.1/cb",
            "http://0.0.0.0/cb",
            "http://[::2]/cb",
            "http://[0:0:0:0:0:0:0:1]/cb",
        ] {
            assert_eq!(
                RedirectUri::parse(raw, NATIVE),
                Err(RedirectUriError::HttpNotLoopback),
                "{raw}"
            );
        }
    }

    #[test]
    fn sec_3_refuses_javascript_scheme() {
        let cases = [
            ("javascript:alert(1)", "javascript"),
            ("JavaScript:alert(document.cookie)", "JavaScript"),
            ("javascript://example.com/%0Aalert(1)", "javascript"),
        ];
        for (raw, scheme) in cases {
            for policy in [STRICT, NATIVE] {
                assert_eq!(
                    RedirectUri::parse(raw, policy),
                    refused_scheme(RedirectUriError::ForbiddenScheme, scheme),
                    "{raw}"
                );
            }
        }
    }

    #[test]
    fn sec_3_refuses_data_file_and_vbscript_schemes() {
        let cases = [
            ("data:text/html;base64,PHNjcmlwdD4=", "data"),
            ("DATA:,x", "DATA"),
            ("file:///etc/passwd", "file"),
            ("file://host/share", "file"),
            ("vbscript:msgbox(1)", "vbscript"),
            ("VBScript:msgbox(1)", "VBScript"),
        ];
        for (raw, scheme) in cases {
            for policy in [STRICT, NATIVE] {
                assert_eq!(
                    RedirectUri::parse(raw, policy),
                    refused_scheme(RedirectUriError::ForbiddenScheme, scheme),
                    "{raw}"
                );
            }
        }
    }

    #[test]
    fn sec_3_refuses_private_use_schemes_by_default() {
        for (raw, scheme) in [
            ("com.example.app:/callback", "com.example.app"),
            ("com.example.app://callback", "com.example.app"),
            ("myapp:/cb", "myapp"),
            ("ftp://files.example.com/cb", "ftp"),
        ] {
            assert_eq!(
                RedirectUri::parse(raw, RedirectPolicy::default()),
                refused_scheme(RedirectUriError::PrivateUseSchemeNotAllowed, scheme),
                "{raw}"
            );
        }
    }

    #[test]
    fn sec_3_private_use_schemes_need_policy_and_reverse_domain() {
        for raw in [
            "com.example.app:/oauth2redirect/example-provider",
            "com.example.app://callback",
            "com.example.app:/cb?x=1",
        ] {
            assert_eq!(
                RedirectUri::parse(raw, NATIVE).map(|r| r.0),
                Ok(raw.to_owned())
            );
        }
        for (raw, scheme) in [
            ("myapp:/cb", "myapp"),
            ("ftp://files.example.com/cb", "ftp"),
        ] {
            assert_eq!(
                RedirectUri::parse(raw, NATIVE),
                refused_scheme(RedirectUriError::PrivateUseSchemeNotReverseDomain, scheme),
                "{raw}"
            );
        }
    }

    #[test]
    fn sec_3_refuses_malformed_uris() {
        let cases = [
            ("", UriSyntaxError::NotAbsolute),
            ("/callback", UriSyntaxError::NotAbsolute),
            ("//app.example.com/cb", UriSyntaxError::NotAbsolute),
            ("https://app.example.com/cb#frag", UriSyntaxError::Fragment),
            ("https://app.example.com/cb#", UriSyntaxError::Fragment),
            ("http://localhost@evil.example/cb", UriSyntaxError::UserInfo),
            (
                "https://user:pw@app.example.com/cb",
                UriSyntaxError::UserInfo,
            ),
            (
                "https://app.example.com/c b",
                UriSyntaxError::WhitespaceOrControl,
            ),
            (
                "https://app.example.com/cb\r\nX: y",
                UriSyntaxError::WhitespaceOrControl,
            ),
            (
                "https://app.example.com/<script>",
                UriSyntaxError::InvalidCharacter('<'),
            ),
            (
                "https://app.example.com:99999/cb",
                UriSyntaxError::InvalidPort,
            ),
            ("https:///cb", UriSyntaxError::MissingHost),
            ("https:/cb", UriSyntaxError::MissingHost),
            ("http:cb", UriSyntaxError::MissingHost),
            ("com.example.app:/cb#x", UriSyntaxError::Fragment),
        ];
        for (raw, expected) in cases {
            for policy in [STRICT, NATIVE] {
                assert_eq!(
                    RedirectUri::parse(raw, policy),
                    Err(RedirectUriError::Syntax(expected)),
                    "{raw:?}"
                );
            }
        }
    }

    #[test]
    fn sec_3_limits_length_to_2048_bytes() {
        let prefix = "https://app.example.com/";
        let at_limit = format!("{prefix}{}", "a".repeat(2048 - prefix.len()));
        assert!(RedirectUri::parse(&at_limit, STRICT).is_ok());
        assert_eq!(
            RedirectUri::parse(&format!("{at_limit}a"), STRICT),
            Err(RedirectUriError::Syntax(UriSyntaxError::TooLong))
        );
    }

    #[test]
    fn sec_1_matches_only_exact_strings() {
        let registered = uri("https://app.example.com/callback");
        let cases = [
            ("https://app.example.com/callback", true),
            ("https://app.example.com/callback/", false),
            ("https://app.example.com/Callback", false),
            ("https://APP.example.com/callback", false),
            ("HTTPS://app.example.com/callback", false),
            ("https://app.example.com:443/callback", false),
            ("https://app.example.com:8443/callback", false),
            ("https://app.example.com/callback?x=1", false),
            ("https://app.example.com/callback#x", false),
            ("https://app.example.com/%63allback", false),
            ("https://app.example.com/callback/../callback", false),
            ("https://app.example.com.evil.example/callback", false),
            ("http://app.example.com/callback", false),
            ("", false),
        ];
        for (requested, expected) in cases {
            assert_eq!(registered.matches(requested), expected, "{requested}");
        }
    }

    #[test]
    fn sec_2_loopback_matches_any_port() {
        for registered in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:8080/callback",
        ] {
            let registered = uri(registered);
            for requested in [
                "http://127.0.0.1/callback",
                "http://127.0.0.1:8080/callback",
                "http://127.0.0.1:53117/callback",
                "http://127.0.0.1:1/callback",
                "http://127.0.0.1:65535/callback",
            ] {
                assert!(registered.matches(requested), "{registered} vs {requested}");
            }
        }
        let ipv6 = uri("http://[::1]/cb?app=x");
        assert!(ipv6.matches("http://[::1]:4000/cb?app=x"));
        let localhost = uri("http://localhost:3000/cb");
        assert!(localhost.matches("http://localhost:49152/cb"));
        assert!(localhost.matches("http://localhost/cb"));
    }

    #[test]
    fn sec_2_loopback_compares_everything_but_the_port() {
        let registered = uri("http://127.0.0.1/callback?x=1");
        let cases = [
            "http://127.0.0.1.evil.example:80/callback?x=1",
            "http://127.0.0.1.evil.example/callback?x=1",
            "http://localhost@evil.example/callback?x=1",
            "http://127.0.0.1:80@evil.example/callback?x=1",
            "http://evil.example/callback?x=1#@127.0.0.1",
            "http://127.0.0.1:5000/callback?x=1#frag",
            "http://127.0.0.1:5000/callback?x=2",
            "http://127.0.0.1:5000/callback",
            "http://127.0.0.1:5000/callback/?x=1",
            "http://127.0.0.1:5000/Callback?x=1",
            "http://127.0.0.1:5000/other?x=1",
            "http://localhost:5000/callback?x=1",
            "http://[::1]:5000/callback?x=1",
            "https://127.0.0.1:5000/callback?x=1",
            "HTTP://127.0.0.1:5000/callback?x=1",
            "http://127.0.0.1:/callback?x=1",
            "http://127.0.0.1:abc/callback?x=1",
            "http://127.0.0.1:99999/callback?x=1",
            "http://127.0.0.1:5000 /callback?x=1",
            "http://127.0.0.1:5000/callback?x=1\n",
        ];
        for requested in cases {
            assert!(!registered.matches(requested), "{requested:?}");
        }
    }

    #[test]
    fn sec_2_port_relaxation_is_only_for_http_loopback() {
        let cases = [
            ("https://localhost/cb", "https://localhost:8443/cb"),
            ("https://127.0.0.1/cb", "https://127.0.0.1:8443/cb"),
            (
                "https://app.example.com/cb",
                "https://app.example.com:8443/cb",
            ),
            (
                "https://app.example.com:8443/cb",
                "https://app.example.com/cb",
            ),
        ];
        for (registered, requested) in cases {
            assert!(
                !uri(registered).matches(requested),
                "{registered} vs {requested}"
            );
        }
        let native = RedirectUri::parse("com.example.app://localhost/cb", NATIVE).unwrap();
        assert!(!native.matches("com.example.app://localhost:1/cb"));
        assert!(native.matches("com.example.app://localhost/cb"));
    }

    #[test]
    fn sec_2_reports_loopback_and_host() {
        // (uri, is_loopback, host)
        let cases = [
            ("http://127.0.0.1:8080/cb", true, Some("127.0.0.1")),
            ("http://[::1]/cb", true, Some("[::1]")),
            ("http://LocalHost/cb", true, Some("LocalHost")),
            ("https://localhost/cb", false, Some("localhost")),
            (
                "https://App.Example.com:8443/cb",
                false,
                Some("App.Example.com"),
            ),
            ("com.example.app:/cb", false, None),
            ("com.example.app:///cb", false, None),
            ("com.example.app://cb.host/x", false, Some("cb.host")),
        ];
        for (raw, is_loopback, host) in cases {
            let parsed = RedirectUri::parse(raw, NATIVE).unwrap();
            assert_eq!(parsed.is_loopback(), is_loopback, "{raw}");
            assert_eq!(parsed.host(), host, "{raw}");
        }
    }

    #[test]
    fn sec_3_display_and_serialize_keep_the_registered_bytes() {
        let registered = uri("https://App.Example.com/CB?x=%2f");
        assert_eq!(registered.as_str(), "https://App.Example.com/CB?x=%2f");
        assert_eq!(registered.to_string(), "https://App.Example.com/CB?x=%2f");
        assert_eq!(
            serde_json::to_string(&registered).unwrap(),
            "\"https://App.Example.com/CB?x=%2f\""
        );
    }

    #[test]
    fn sec_3_error_messages_read_after_the_parameter_name() {
        let cases = [
            (
                RedirectUriError::from(UriSyntaxError::Fragment),
                "must not contain a fragment",
            ),
            (
                RedirectUriError::ForbiddenScheme("javascript".to_owned()),
                "must not use the \"javascript\" scheme",
            ),
            (
                RedirectUriError::HttpNotLoopback,
                "may use http only with host 127.0.0.1, [::1] or localhost; use https",
            ),
            (
                RedirectUriError::PrivateUseSchemeNotAllowed("com.example.app".to_owned()),
                "uses the private-use scheme \"com.example.app\", which this server does not accept",
            ),
        ];
        for (err, message) in cases {
            assert_eq!(err.to_string(), message);
        }
    }
}
