//! Local user accounts.

use serde::Serialize;

use super::ids::UserId;
use crate::clock::UnixTime;

/// A username: 1–64 characters of `[a-z0-9._@+-]`, stored lower-cased so that
/// sign-in is not case-sensitive and two accounts cannot differ only by case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Username(String);

/// Why a username or password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserInputError {
    /// Username empty, too long or with other characters.
    #[error("must be 1-64 characters of letters, digits and . _ @ + -")]
    BadUsername,
    /// Password outside the length bounds.
    #[error("must be 8 to 1024 characters")]
    BadPassword,
    /// Not an address of the form `local@domain`.
    #[error("must be an email address like name@example.com (at most 254 characters)")]
    BadEmail,
}

impl Username {
    /// Parses and lower-cases a username.
    pub fn parse(raw: &str) -> Result<Self, UserInputError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._@+-".contains(c);
        if (1..=64).contains(&raw.len()) && raw.chars().all(allowed) {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(UserInputError::BadUsername)
        }
    }

    /// Wraps a username read from storage.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address the operator recorded for an account. Only such addresses link an
/// external identity to an existing account (XAA-13), so the operator vouches for them:
/// an address is never taken from a sign-in. Stored lower-cased, so that linking does
/// not depend on how an IdP spells the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@` with something on both sides, a dot-free or dotted
    /// domain, no whitespace or control characters, at most 254 bytes (RFC 5321).
    pub fn parse(raw: &str) -> Result<Self, UserInputError> {
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err(UserInputError::BadEmail);
        };
        let printable = |c: char| !c.is_whitespace() && !c.is_control();
        let valid = raw.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && raw.chars().all(printable);
        if valid {
            Ok(Self(raw.to_lowercase()))
        } else {
            Err(UserInputError::BadEmail)
        }
    }

    /// Wraps an address read from storage.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a new password's length; strength beyond that is the operator's policy.
pub fn check_password(password: &str) -> Result<(), UserInputError> {
    if (8..=1024).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(UserInputError::BadPassword)
    }
}

/// A stored user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id and token subject.
    pub id: UserId,
    /// Sign-in name.
    pub username: Username,
    /// The address the operator recorded, if any: what verified-email linking matches.
    pub email: Option<Email>,
    /// Disabled users cannot sign in and their tokens stop introspecting active.
    pub is_enabled: bool,
    /// May use the admin console.
    pub is_admin: bool,
    /// When created.
    pub created_at: UnixTime,
    /// When last changed.
    pub updated_at: UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_need_both_parts() {
        assert_eq!(
            Email::parse("Alice@Corp.Example").unwrap().as_str(),
            "alice@corp.example"
        );
        for bad in [
            "",
            "alice",
            "@corp.example",
            "alice@",
            "a b@corp",
            "alice@.corp",
            "alice@corp.",
        ] {
            assert_eq!(Email::parse(bad), Err(UserInputError::BadEmail), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@corp.example", "a".repeat(65))).is_err());
    }

    #[test]
    fn usernames_are_lowercased_and_restricted() {
        assert_eq!(
            Username::parse("Alice.B@corp").unwrap().as_str(),
            "alice.b@corp"
        );
        for bad in ["", "a b", "ä", "x/y", &"a".repeat(65)] {
            assert_eq!(
                Username::parse(bad),
                Err(UserInputError::BadUsername),
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_have_length_bounds() {
        assert!(check_password("12345678").is_ok());
        assert!(check_password("1234567").is_err());
        assert!(check_password(&"x".repeat(1025)).is_err());
    }
}
