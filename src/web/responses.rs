//! Error responses: the admin API's JSON errors and the plain 404.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::AdminError;
use crate::oauth::error::{ErrorCode, OAuthError};

/// The admin API's error body: a stable `error` code, the `field` at fault when one
/// is, and a sentence for people.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiErrorBody {
    /// `invalid_request`, `invalid_json`, `unauthorized`, `not_found`, `conflict`, `server_error`.
    pub(crate) error: &'static str,
    /// JSON path of the input at fault, e.g. `scopes[0].name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    /// What went wrong.
    pub(crate) message: String,
}

/// An admin-API error response.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ApiErrorBody,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            body: ApiErrorBody {
                error,
                field,
                message: message.into(),
            },
        }
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
            "a valid admin token is required (Authorization: Bearer …)",
        )
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Invalid { field, message } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                Some(field),
                message,
            ),
            AdminError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, "not_found", None, "no such object")
            }
            AdminError::Conflict { field, message } => {
                Self::new(StatusCode::CONFLICT, "conflict", Some(field), message)
            }
            AdminError::Internal(source) => {
                tracing::error!(error = %source, "admin request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    None,
                    "internal error; the server log has details under this request id",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mcp-authz admin\""),
            );
        }
        response
    }
}

/// The fallback for unknown paths.
pub(super) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", None, "no such endpoint")
}

/// An OAuth JSON error (RFC 6749 section 5.2) with the status the spec asks for.
pub(crate) struct OAuthErrorResponse(pub(crate) OAuthError);

impl From<OAuthError> for OAuthErrorResponse {
    fn from(err: OAuthError) -> Self {
        Self(err)
    }
}

impl IntoResponse for OAuthErrorResponse {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = match error.code {
            ErrorCode::InvalidClient if error.challenge.is_some() => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        if status.is_server_error() {
            let source = error
                .source
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::error!(error = %error, %source, "request failed");
        } else {
            tracing::debug!(error = %error, "request refused");
        }
        let body = match &error.description {
            Some(description) => {
                serde_json::json!({ "error": error.code.as_str(), "error_description": description })
            }
            None => serde_json::json!({ "error": error.code.as_str() }),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = error.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A JSON success answer that carries tokens: `Cache-Control: no-store` (CORE-7).
pub(crate) fn no_store_json<T: Serialize>(value: &T) -> Response {
    let mut response = Json(value).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A 303 See Other to `location` (SEC-4: never 307 after a POST).
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => {
            tracing::error!("redirect location is not a valid header value");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
