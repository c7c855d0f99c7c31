//! The session cookie on the wire (SEC-18) and the current-session extractor.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use crate::session::{SESSION_COOKIE, Session, Sessions};

/// The session named by the request's cookie, if it is live.
pub(crate) struct CurrentSession(pub(crate) Option<Session>);

impl<S> FromRequestParts<S> for CurrentSession
where
    S: Send + Sync,
    Sessions: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = cookie_value(&parts.headers) else {
            return Ok(Self(None));
        };
        let sessions = Sessions::from_ref(state);
        match sessions.find(&value).await {
            Ok(found) => Ok(Self(found)),
            Err(error) => {
                // A storage failure must not sign anyone in; the page will ask again.
                tracing::error!(%error, "session lookup failed");
                Ok(Self(None))
            }
        }
    }
}

/// The session cookie's value, if sent.
fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// `Set-Cookie` for a session: `__Host-`, Secure, HttpOnly, SameSite=Lax, path `/`.
/// Browsers accept Secure cookies from `http://127.0.0.1` and `localhost`, so the same
/// cookie works in loopback development mode.
pub(crate) fn set_cookie(session: &Session, max_age: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}",
        session.id
    ))
    .ok()
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-mcp-authz-session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_18_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-mcp-authz-session=xyz; b=2"),
        );
        assert_eq!(cookie_value(&headers).as_deref(), Some("xyz"));
        assert!(clear_cookie().to_str().unwrap().starts_with(SESSION_COOKIE));
    }
}
