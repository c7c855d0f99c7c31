//! Everything JWS/JWK: signing keys, their rotation schedule and the public JWKS, and
//! the public keys of others that sign what we verify.

mod generate;
pub mod keyring;
mod remote_jwks;
mod signer;
mod verification_keys;

pub use keyring::{KeyError, KeyPolicy, KeyRing, KeySummary};
pub use remote_jwks::{JwksError, KeySets};
pub use verification_keys::{ASYMMETRIC_ALGORITHMS, KeySetError, VerificationKeys};

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use secrecy::SecretString;

use crate::config::{KekSource, Settings};
use crate::crypto::{CryptoError, KeyEncryptionKey};

/// Loads the key-encryption key, generating the development one on first start.
///
/// A generated key is written with mode 0600 into the data directory, and a warning
/// says so: production deployments set `keys.encryption_key_file` instead.
pub fn load_key_encryption_key(settings: &Settings) -> Result<KeyEncryptionKey, KeyError> {
    match &settings.kek {
        KekSource::Configured(secret) => Ok(KeyEncryptionKey::parse(secret)?),
        KekSource::GeneratedFile(path) => {
            if let Ok(existing) = std::fs::read_to_string(path) {
                return Ok(KeyEncryptionKey::parse(&SecretString::from(
                    existing.trim().to_owned(),
                ))?);
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| KeyError::Io(path.clone(), e))?;
            }
            let encoded = KeyEncryptionKey::generate_encoded()?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| KeyError::Io(path.clone(), e))?;
            file.write_all(encoded.as_bytes())
                .map_err(|e| KeyError::Io(path.clone(), e))?;
            tracing::warn!(
                path = %path.display(),
                "generated a development key-encryption key; set keys.encryption_key_file in production"
            );
            Ok(KeyEncryptionKey::parse(&SecretString::from(encoded))?)
        }
    }
}

impl From<CryptoError> for KeyError {
    fn from(err: CryptoError) -> Self {
        KeyError::Crypto(err)
    }
}
