//! OAuth error responses (RFC 6749 section 4.1.2.1 and 5.2, RFC 8707, RFC 7009).
//!
//! The RFC code is chosen in one place per module error (`From` impls); internal text
//! never reaches a response body, only the optional safe description.

use std::fmt;

/// The `error` codes this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed or repeated parameters.
    InvalidRequest,
    /// Client authentication failed (401 at the token endpoint).
    InvalidClient,
    /// Code or refresh token invalid, expired, used, or for another client.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// Unknown `grant_type`.
    UnsupportedGrantType,
    /// Unknown `response_type`.
    UnsupportedResponseType,
    /// Malformed or unknown scope.
    InvalidScope,
    /// Unknown or not permitted resource (RFC 8707).
    InvalidTarget,
    /// The resource owner said no.
    AccessDenied,
    /// `token_type_hint` not supported (RFC 7009).
    UnsupportedTokenType,
    /// Too many attempts.
    SlowDown,
    /// A failure on our side.
    ServerError,
    /// Temporarily overloaded.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The registered code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::SlowDown => "slow_down",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: a code, an optional description safe to show the client, and an
/// optional internal source kept for the log only.
#[derive(Debug)]
pub struct OAuthError {
    /// The RFC code.
    pub code: ErrorCode,
    /// `error_description`: plain ASCII, never internal detail.
    pub description: Option<String>,
    /// Logged, never sent.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// `WWW-Authenticate` challenge: set when the client authenticated with the
    /// `Authorization` header and failed, which makes the answer a 401 (CORE-8).
    pub challenge: Option<&'static str>,
}

impl OAuthError {
    /// An error with only a code.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            description: None,
            source: None,
            challenge: None,
        }
    }

    /// An error with a description for the client.
    pub fn with_description(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            source: None,
            challenge: None,
        }
    }

    /// Marks the error as answering a failed `Authorization` header (CORE-8).
    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// Attaches an internal cause for the log.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// A server-side failure; the cause is logged, the client sees only `server_error`.
    pub fn server_error(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(ErrorCode::ServerError).with_source(source)
    }

    /// Shorthand for `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::with_description(ErrorCode::InvalidRequest, description)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(description) => write!(f, "{}: {description}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl std::error::Error for OAuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<crate::storage::StoreError> for OAuthError {
    fn from(err: crate::storage::StoreError) -> Self {
        Self::server_error(err)
    }
}

impl From<crate::jose::KeyError> for OAuthError {
    fn from(err: crate::jose::KeyError) -> Self {
        Self::server_error(err)
    }
}

impl From<crate::crypto::CryptoError> for OAuthError {
    fn from(err: crate::crypto::CryptoError) -> Self {
        Self::server_error(err)
    }
}
