//! Randomness, keyed hashing of generated secrets, and encryption at rest.
//!
//! Owns every use of the operating system's random generator (TOK-8) and every
//! symmetric primitive. Generated secrets (client secrets, admin tokens) have 256
//! bits of entropy, so a keyed fast hash is as safe as argon2 for them and keeps the
//! token endpoint fast (SEC-13); human passwords never come here (see `admin::users`).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Length in bytes of generated secrets and identifiers' random part (256 bits, TOK-8).
pub const SECRET_BYTES: usize = 32;

/// Why a cryptographic operation failed. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The operating system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A key-encryption key was not 32 bytes of base64.
    #[error("must be 32 bytes encoded as base64 (for example `head -c32 /dev/urandom | base64`)")]
    BadKeyEncryptionKey,
    /// Ciphertext did not authenticate: wrong key-encryption key or corrupted data.
    #[error("could not decrypt: wrong key-encryption key or corrupted data")]
    Decrypt,
    /// Encryption failed inside the library.
    #[error("encryption failed")]
    Encrypt,
}

/// Fills `N` bytes from the OS random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    rand::generate(&rand::SystemRandom::new())
        .map(|bytes: rand::Random<[u8; N]>| bytes.expose())
        .map_err(|_| CryptoError::Random)
}

/// A 256-bit random secret as unpadded base64url (43 characters, unreserved URL
/// characters only, so clients that skip form-encoding in Basic auth still work).
pub fn random_token() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<SECRET_BYTES>()?))
}

/// A shorter random identifier: 128 bits as base64url, prefixed (for example `srv_`).
pub fn random_id(prefix: &str) -> Result<String, CryptoError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<16>()?)
    ))
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The server's key-encryption key (KEK): 32 bytes from configuration or the data directory.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

impl KeyEncryptionKey {
    /// Parses base64 (standard or URL-safe, padding optional) holding exactly 32 bytes.
    pub fn parse(encoded: &SecretString) -> Result<Self, CryptoError> {
        let text = encoded.expose_secret().trim();
        let decoded = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(text))
            .map_err(|_| CryptoError::BadKeyEncryptionKey)?;
        let bytes: [u8; 32] = decoded
            .try_into()
            .map_err(|_| CryptoError::BadKeyEncryptionKey)?;
        Ok(Self(bytes))
    }

    /// A fresh random key, base64-encoded, for first-start development setups.
    pub fn generate_encoded() -> Result<String, CryptoError> {
        Ok(STANDARD.encode(random_bytes::<32>()?))
    }

    /// Encrypts `plaintext` with AES-256-GCM under a key derived for `purpose`;
    /// the output is `nonce || ciphertext || tag`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self.aead_key(purpose)?;
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(purpose.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| CryptoError::Encrypt)?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Reverses [`Self::seal`]; fails when the key or purpose differ or the data changed.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self.aead_key(purpose)?;
        let (nonce_bytes, ciphertext) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or(CryptoError::Decrypt)?;
        let nonce =
            Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| CryptoError::Decrypt)?;
        let mut in_out = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut in_out)
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(plain.to_vec())
    }

    /// The keyed hasher for generated secrets, derived from this KEK so that one
    /// operator secret protects both.
    pub fn secret_hasher(&self) -> Result<SecretHasher, CryptoError> {
        self.keyed_hasher("secret hash")
    }

    /// A keyed hasher for `purpose` (e.g. CSRF tokens), independent of every other.
    pub fn keyed_hasher(&self, purpose: &str) -> Result<SecretHasher, CryptoError> {
        let mut key = [0u8; 32];
        self.derive(&format!("mcp-authz {purpose} v1"), &mut key)?;
        Ok(SecretHasher(std::sync::Arc::new(hmac::Key::new(
            hmac::HMAC_SHA256,
            &key,
        ))))
    }

    fn aead_key(&self, purpose: &str) -> Result<LessSafeKey, CryptoError> {
        let mut key = [0u8; 32];
        self.derive(&format!("mcp-authz aead v1 {purpose}"), &mut key)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| CryptoError::Encrypt)?;
        Ok(LessSafeKey::new(unbound))
    }

    fn derive(&self, info: &str, out: &mut [u8; 32]) -> Result<(), CryptoError> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"mcp-authz");
        let info_parts = [info.as_bytes()];
        salt.extract(&self.0)
            .expand(&info_parts, hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(out))
            .map_err(|_| CryptoError::Encrypt)
    }
}

/// HMAC-SHA-256 keyed hash of high-entropy generated secrets (SEC-13). The key is
/// shared: copying an HMAC context on every request clone would cost more than hashing.
#[derive(Clone)]
pub struct SecretHasher(std::sync::Arc<hmac::Key>);

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher(..)")
    }
}

impl SecretHasher {
    /// The stored form of `secret`.
    pub fn hash(&self, secret: &str) -> Vec<u8> {
        hmac::sign(&self.0, secret.as_bytes()).as_ref().to_vec()
    }

    /// The hash as unpadded base64url, for tokens derived from a secret (CSRF).
    pub fn hash_encoded(&self, secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.hash(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> KeyEncryptionKey {
        let encoded = KeyEncryptionKey::generate_encoded().unwrap();
        KeyEncryptionKey::parse(&SecretString::from(encoded)).unwrap()
    }

    #[test]
    fn tok_8_random_tokens_are_256_bit_base64url() {
        let token = random_token().unwrap();
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(token, random_token().unwrap());
    }

    #[test]
    fn sealed_data_opens_only_with_same_key_and_purpose() {
        let key = kek();
        let sealed = key.seal("signing-key", b"private").unwrap();
        assert_eq!(key.open("signing-key", &sealed).unwrap(), b"private");
        assert!(key.open("other", &sealed).is_err());
        assert!(kek().open("signing-key", &sealed).is_err());
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key.open("signing-key", &tampered).is_err());
        assert!(key.open("signing-key", &sealed[..4]).is_err());
    }

    #[test]
    fn kek_must_be_32_bytes_of_base64() {
        for bad in ["", "short", "!!!!", &STANDARD.encode([0u8; 31])] {
            assert!(
                KeyEncryptionKey::parse(&SecretString::from(bad.to_owned())).is_err(),
                "{bad}"
            );
        }
        let url_safe = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert!(KeyEncryptionKey::parse(&SecretString::from(url_safe)).is_ok());
    }

    #[test]
    fn sec_13_secret_hash_verifies_only_the_same_secret() {
        let hasher = kek().secret_hasher().unwrap();
        let stored = hasher.hash("s3cret");
        assert!(constant_time_eq(&hasher.hash("s3cret"), &stored));
        assert!(!constant_time_eq(&hasher.hash("s3cret "), &stored));
        let other = kek().secret_hasher().unwrap();
        assert!(!constant_time_eq(&other.hash("s3cret"), &stored));
    }
}
