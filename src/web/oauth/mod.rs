//! OAuth endpoints: authorization, token, introspection, revocation, registration.

pub(super) mod authorize;
pub(super) mod register;
pub(super) mod token;

use axum::http::{HeaderMap, header};

use crate::oauth::error::OAuthError;

/// CORE-6: token-type endpoints take `application/x-www-form-urlencoded` bodies.
pub(crate) fn require_form(headers: &HeaderMap) -> Result<(), OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if is_form {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "send the request as application/x-www-form-urlencoded",
        ))
    }
}

/// The raw `Authorization` header, if any.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
