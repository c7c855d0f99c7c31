//! Host patterns for the CIMD allow- and deny-lists (CIMD-28).
//!
//! Lives in `config` because both the configuration file and the admin API take them,
//! and `config` is the leaf every layer may use. Two forms only, so an operator can read
//! a list at a glance: `example.com` (that host exactly) and `*.example.com` (any host
//! below `example.com`, not the apex itself). Matching is case-insensitive, as DNS is.

use std::fmt;

/// A checked host pattern, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPattern {
    /// The pattern as normalised (lower-case).
    text: String,
    /// For `*.example.com`: `.example.com`; `None` for an exact host.
    suffix: Option<String>,
}

impl HostPattern {
    /// Parses `example.com` or `*.example.com`.
    ///
    /// # Errors
    ///
    /// A message fit to follow the key or field name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim().to_ascii_lowercase();
        let (host, wildcard) = match text.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (text.as_str(), false),
        };
        check_host(host)?;
        let suffix = wildcard.then(|| format!(".{host}"));
        Ok(Self { text, suffix })
    }

    /// Whether `host` (as in a parsed URL) is covered.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match &self.suffix {
            Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
            None => host == self.text,
        }
    }

    /// The pattern, lower-case.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A DNS name of letter-digit-hyphen labels (or an IPv4 literal), at most 253 bytes.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > 253 {
        return Err("must be a host name such as example.com or *.example.com".to_owned());
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err(format!(
                "{host:?} is not a host name; use example.com or *.example.com (a wildcard only as the whole first label)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::HostPattern;

    #[test]
    fn cimd_28_exact_and_wildcard_patterns() {
        let exact = HostPattern::parse("Example.COM").unwrap();
        assert!(exact.matches("example.com"));
        assert!(exact.matches("EXAMPLE.com"));
        assert!(!exact.matches("www.example.com"));
        assert!(!exact.matches("example.com.evil"));

        let any = HostPattern::parse("*.example.com").unwrap();
        assert!(any.matches("a.example.com"));
        assert!(any.matches("a.b.example.com"));
        assert!(!any.matches("example.com"));
        assert!(!any.matches("badexample.com"));
        assert_eq!(any.as_str(), "*.example.com");
    }

    #[test]
    fn cimd_28_malformed_patterns_are_refused() {
        for bad in [
            "",
            "*",
            "*.",
            "a.*.com",
            "ex ample.com",
            "-a.com",
            "a..com",
            "https://a.com",
            "*example.com",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
