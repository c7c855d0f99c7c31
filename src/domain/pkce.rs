//! PKCE (RFC 7636) as OAuth 2.1 requires it: S256 only (PKCE-1..5).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::constant_time_eq;

/// Why a PKCE value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge` on the authorization request (PKCE-1).
    #[error("code_challenge is required")]
    MissingChallenge,
    /// `plain`, unknown, or absent method (absent means plain) (PKCE-2).
    #[error("code_challenge_method must be S256")]
    UnsupportedMethod,
    /// Challenge not 43-128 characters of `[A-Za-z0-9-._~]` (PKCE-3).
    #[error("code_challenge is malformed")]
    MalformedChallenge,
    /// Verifier not 43-128 characters of `[A-Za-z0-9-._~]` (PKCE-3).
    #[error("code_verifier is malformed")]
    MalformedVerifier,
}

fn is_pkce_string(raw: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    (43..=128).contains(&raw.len()) && raw.bytes().all(allowed)
}

/// An S256 code challenge from an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses `code_challenge` with its `code_challenge_method` (PKCE-1..3).
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
        if method != Some("S256") {
            return Err(PkceError::UnsupportedMethod); // PKCE-2: absent means plain
        }
        if !is_pkce_string(challenge) {
            return Err(PkceError::MalformedChallenge);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Wraps a challenge read from storage.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The challenge as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether BASE64URL(SHA256(verifier)) equals this challenge, compared in constant
    /// time (PKCE-5).
    pub fn is_satisfied_by(&self, verifier: &CodeVerifier) -> bool {
        let digest = digest::digest(&digest::SHA256, verifier.0.as_bytes());
        let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
        constant_time_eq(computed.as_bytes(), self.0.as_bytes())
    }
}

/// A PKCE verifier: 43–128 characters from `[A-Za-z0-9-._~]` (PKCE-3).
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier(..)")
    }
}

impl CodeVerifier {
    /// Parses a `code_verifier`.
    pub fn parse(raw: &str) -> Result<Self, PkceError> {
        if is_pkce_string(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(PkceError::MalformedVerifier)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_5_rfc7636_example_verifies() {
        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(challenge.is_satisfied_by(&CodeVerifier::parse(VERIFIER).unwrap()));
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!challenge.is_satisfied_by(&other));
    }

    #[test]
    fn pkce_1_challenge_is_required() {
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(PkceError::MissingChallenge)
        );
    }

    #[test]
    fn pkce_2_rejects_plain_unknown_and_absent_method() {
        for method in [Some("plain"), Some("s256"), Some("S512"), None] {
            assert_eq!(
                CodeChallenge::parse(Some(CHALLENGE), method),
                Err(PkceError::UnsupportedMethod)
            );
        }
    }

    #[test]
    fn pkce_3_lengths_and_characters() {
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(128)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}+", "a".repeat(43))).is_err());
        let bad = format!("{}=", "a".repeat(43));
        assert_eq!(
            CodeChallenge::parse(Some(&bad), Some("S256")),
            Err(PkceError::MalformedChallenge)
        );
    }
}
