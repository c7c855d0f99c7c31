//! Extractors: JSON bodies that fail as API errors, and the admin bearer guard.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::responses::ApiError;
use crate::admin::{Actor, AdminContext, tokens};

/// A JSON body whose failures answer as [`ApiError`]: 400 for malformed JSON, 422
/// naming the field for well-formed JSON of the wrong shape, 415 without a JSON type.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            let located = std::iter::successors(std::error::Error::source(err), |e| e.source())
                .find_map(|e| e.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>());
            let (path, message) = match located {
                Some(e) => (e.path().to_string(), e.inner().to_string()),
                None => (".".to_owned(), err.body_text()),
            };
            let field = field_of(&path, &message);
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                field,
                message,
            )
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_json",
            None,
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_json",
            None,
            "the body could not be read (too large?)",
        ),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
            other.body_text(),
        ),
    }
}

/// The field a serde error is about: its JSON path, extended by the member that
/// "missing field `x`" / "unknown field `x`" names.
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"));
    match (path, named) {
        (".", Some(name)) => Some(name.to_owned()),
        (".", None) => None,
        // An unknown member is already the last segment of its path.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            Some(path.to_owned())
        }
        (path, Some(name)) => Some(format!("{path}.{name}")),
        (path, None) => Some(path.to_owned()),
    }
}

/// The authenticated caller of an admin-API route.
pub(crate) struct AdminCaller(pub(crate) Actor);

impl<S> FromRequestParts<S> for AdminCaller
where
    S: Send + Sync,
    AdminContext: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let ctx = AdminContext::from_ref(state);
        match tokens::authenticate(&ctx, bearer).await {
            Ok(Some(actor)) => Ok(Self(actor)),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn serde_errors_name_their_field() {
        assert_eq!(
            field_of(".", "missing field `resource` at line 1").as_deref(),
            Some("resource")
        );
        assert_eq!(
            field_of("scopes[0]", "missing field `name` at line 1").as_deref(),
            Some("scopes[0].name")
        );
        assert_eq!(
            field_of("enabled", "invalid type: string \"x\"").as_deref(),
            Some("enabled")
        );
        assert_eq!(field_of(".", "invalid type: map, expected a string"), None);
        assert_eq!(
            field_of("surprise", "unknown field `surprise`").as_deref(),
            Some("surprise")
        );
        assert_eq!(
            field_of("scopes[0].extra", "unknown field `extra`").as_deref(),
            Some("scopes[0].extra")
        );
    }
}
