//! Error responses: the admin API's JSON errors and the plain 404.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::AdminError;

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
