//! argon2id password hashing for human passwords, always on the blocking pool.
//!
//! An argon2 verification costs tens of milliseconds of CPU; running it on the async
//! workers would stall every other request on that thread. Generated secrets never
//! come here (they use `crypto::SecretHasher`).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use secrecy::{ExposeSecret, SecretString};

/// Hashing failed (the blocking pool shut down or argon2 refused its input).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct PasswordError;

/// The PHC string of an argon2id hash of `password` (default parameters, random salt).
pub async fn hash_password(password: SecretString) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| PasswordError)
    })
    .await
    .map_err(|_| PasswordError)?
}

/// Whether `password` matches the PHC string `stored`. A malformed stored hash counts
/// as a mismatch.
pub async fn verify_password(
    password: SecretString,
    stored: String,
) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|_| PasswordError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2_hash_verifies_only_the_same_password() {
        let hash = hash_password(SecretString::from("correct horse"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password(SecretString::from("correct horse"), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(SecretString::from("wrong"), hash)
                .await
                .unwrap()
        );
        assert!(
            !verify_password(SecretString::from("x"), "garbage".to_owned())
                .await
                .unwrap()
        );
    }
}
