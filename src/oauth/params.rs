//! Form and query parameters of OAuth requests (CORE-3, CORE-6).
//!
//! Unknown parameters are ignored, empty values count as absent, and a protocol
//! parameter sent twice is `invalid_request`.

use std::collections::HashMap;

use super::error::OAuthError;

/// Parameters of the introspection and revocation endpoints: the token, its type hint,
/// and client authentication.
pub const TOKEN_ENDPOINT_PARAMS: &[&str] = &[
    "token",
    "token_type_hint",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// Longest accepted parameter value; longer ones are refused rather than stored (SEC-14).
pub const MAX_VALUE_LEN: usize = 4096;

/// Signed JWTs (client assertions, ID-JAGs, subject tokens) may carry certificate chains
/// and many claims: they get a larger bound, checked again by their own rules.
pub const MAX_JWT_VALUE_LEN: usize = 16 * 1024;

/// Parameters whose values are JWTs.
const JWT_PARAMS: [&str; 4] = [
    "client_assertion",
    "assertion",
    "subject_token",
    "actor_token",
];

fn max_len(name: &str) -> usize {
    if JWT_PARAMS.contains(&name) {
        MAX_JWT_VALUE_LEN
    } else {
        MAX_VALUE_LEN
    }
}

/// Parsed parameters, one value per name.
#[derive(Clone, Default)]
pub struct OAuthParams(HashMap<String, String>);

impl std::fmt::Debug for OAuthParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be codes, verifiers or secrets: only names are printed.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl OAuthParams {
    /// Parses `application/x-www-form-urlencoded` bytes; `protocol` lists the names
    /// whose repetition is an error.
    pub fn parse(raw: &[u8], protocol: &[&str]) -> Result<Self, OAuthError> {
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(raw) {
            if value.is_empty() {
                continue; // CORE-3: empty = absent
            }
            if !protocol.contains(&name.as_ref()) {
                continue; // unknown parameters are ignored
            }
            if value.len() > max_len(&name) {
                return Err(OAuthError::invalid_request(format!("{name} is too long")));
            }
            if params
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(format!("{name} is repeated")));
            }
        }
        Ok(Self(params))
    }

    /// Like [`Self::parse`], but keeps the first value of a repeated parameter and
    /// reports the repeated names, so the caller can decide how to answer (the
    /// authorization endpoint must not redirect while `client_id` is in doubt).
    pub fn parse_lenient(raw: &[u8], protocol: &[&str]) -> Result<(Self, Vec<String>), OAuthError> {
        let mut params: HashMap<String, String> = HashMap::new();
        let mut repeated = Vec::new();
        for (name, value) in url::form_urlencoded::parse(raw) {
            if value.is_empty() || !protocol.contains(&name.as_ref()) {
                continue;
            }
            if value.len() > max_len(&name) {
                return Err(OAuthError::invalid_request(format!("{name} is too long")));
            }
            if params.contains_key(name.as_ref()) {
                repeated.push(name.into_owned());
            } else {
                params.insert(name.into_owned(), value.into_owned());
            }
        }
        Ok((Self(params), repeated))
    }

    /// The value of `name`, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether `name` was sent.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["client_id", "state", "scope"];

    #[test]
    fn core_3_repeated_protocol_parameters_are_invalid_request() {
        let err = OAuthParams::parse(b"client_id=a&client_id=b", NAMES).unwrap_err();
        assert_eq!(err.code, super::super::error::ErrorCode::InvalidRequest);
        assert!(OAuthParams::parse(b"other=a&other=b&state=x", NAMES).is_ok());
    }

    #[test]
    fn core_3_empty_values_are_absent_and_unknown_names_ignored() {
        let params = OAuthParams::parse(b"state=&scope=a%20b&junk=1", NAMES).unwrap();
        assert!(!params.has("state"));
        assert_eq!(params.get("scope"), Some("a b"));
        assert!(!params.has("junk"));
        // An empty value next to a real one is not a repetition.
        let params = OAuthParams::parse(b"state=&state=s", NAMES).unwrap();
        assert_eq!(params.get("state"), Some("s"));
    }

    #[test]
    fn sec_14_overlong_values_are_refused() {
        let long = format!("state={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(OAuthParams::parse(long.as_bytes(), NAMES).is_err());
    }
}
