//! The client identifier URL (CIMD-2, CIMD-3, CIMD-4).
//!
//! The identifier is kept byte for byte as the client sent it and compared as a string
//! (CIMD-4). Because the fetch goes to the *parsed* URL, a URL that a parser would
//! rewrite (upper-case host, default port, `.` segments) is refused: otherwise the
//! document fetched would live at a different string than the client id. Escapes the
//! parser keeps as written (`%64`) are fetched as written, and the document's
//! `client_id` must still equal the id byte for byte.

use url::Url;

/// Longest identifier accepted (CIMD-3, PD).
pub const MAX_LENGTH: usize = 2048;

/// Whether `client_id` names a metadata document rather than a registered client
/// (CIMD-2). Ids this server issues never start this way.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// A client identifier that passed CIMD-3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdUrl {
    raw: String,
    url: Url,
}

impl ClientIdUrl {
    /// Checks CIMD-3: `https`, a host, a path other than `/`, no `.`/`..` segments,
    /// fragment, user information or query, at most 2048 bytes, and written the way a
    /// URL parser writes it.
    ///
    /// # Errors
    ///
    /// A sentence naming the rule broken (for the audit log, never shown to the user).
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_LENGTH {
            return Err(format!("client_id is longer than {MAX_LENGTH} bytes"));
        }
        if !is_document_url(raw) {
            return Err("client_id must start with https://".to_owned());
        }
        if raw.contains('#') {
            return Err("client_id must not have a fragment".to_owned());
        }
        if raw.contains('?') {
            return Err("client_id must not have a query".to_owned());
        }
        let url = Url::parse(raw).map_err(|e| format!("client_id is not a valid URL ({e})"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("client_id must not carry user information".to_owned());
        }
        if url.host().is_none() {
            return Err("client_id must have a host".to_owned());
        }
        let path = raw
            .strip_prefix("https://")
            .and_then(|rest| rest.find('/').map(|at| &rest[at..]))
            .unwrap_or("");
        if path.is_empty() || path == "/" {
            return Err("client_id must have a path".to_owned());
        }
        if path.split('/').any(is_dot_segment) {
            return Err("client_id must not contain . or .. path segments".to_owned());
        }
        if url.as_str() != raw {
            return Err(format!(
                "client_id must be written in normal form (lower-case host, no default port): {}",
                url.as_str()
            ));
        }
        Ok(Self {
            raw: raw.to_owned(),
            url,
        })
    }

    /// The identifier exactly as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed URL to fetch.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host, lower-case (shown on consent, CIMD-25; matched by host rules, CIMD-28).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }
}

/// `.` and `..`, also when percent-encoded.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

#[cfg(test)]
mod tests {
    use super::ClientIdUrl;

    #[test]
    fn cimd_3_accepts_https_urls_with_a_path() {
        for good in [
            "https://toolkit.example/oauth/desktop-client.json",
            "https://toolkit.example:8443/client",
            "https://127.0.0.1:9999/client.json",
            "https://toolkit.example/a/",
        ] {
            let id = ClientIdUrl::parse(good).unwrap();
            assert_eq!(id.as_str(), good);
        }
    }

    #[test]
    fn cimd_3_refuses_malformed_identifiers() {
        for bad in [
            "http://toolkit.example/client.json",
            "HTTPS://toolkit.example/client.json",
            "https://toolkit.example",
            "https://toolkit.example/",
            "https://toolkit.example/a/../client.json",
            "https://toolkit.example/a/./client.json",
            "https://toolkit.example/a/%2e%2E/client.json",
            "https://toolkit.example/client.json#frag",
            "https://toolkit.example/client.json?v=1",
            "https://user@toolkit.example/client.json",
            "https://user:pw@toolkit.example/client.json",
            "https://Toolkit.Example/client.json",
            "https://toolkit.example:443/client.json",
            "https:///client.json",
        ] {
            assert!(ClientIdUrl::parse(bad).is_err(), "{bad} accepted");
        }
        let long = format!("https://toolkit.example/{}", "a".repeat(2048));
        assert!(ClientIdUrl::parse(&long).is_err());
    }
}
