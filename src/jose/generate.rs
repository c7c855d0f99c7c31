//! Generation of signing key pairs and their public JWKs (TOK-1: asymmetric only).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::config::SigningAlgorithm;

use super::KeyError;

/// A fresh PKCS#8 private key for `algorithm`.
pub(super) fn generate_pkcs8(algorithm: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    let generated = match algorithm {
        SigningAlgorithm::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map(|doc| doc.as_ref().to_vec())
        }
        SigningAlgorithm::EdDSA => {
            Ed25519KeyPair::generate_pkcs8(&rng).map(|doc| doc.as_ref().to_vec())
        }
        SigningAlgorithm::RS256 => {
            use aws_lc_rs::encoding::AsDer as _;
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map(|der| der.as_ref().to_vec())
        }
    };
    generated.map_err(|_| KeyError::Generate)
}

/// The jsonwebtoken algorithm for a configured one.
pub(super) fn jws_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        SigningAlgorithm::RS256 => Algorithm::RS256,
    }
}

/// Parses a stored algorithm name.
pub(super) fn parse_algorithm(name: &str) -> Option<SigningAlgorithm> {
    match name {
        "ES256" => Some(SigningAlgorithm::ES256),
        "EdDSA" => Some(SigningAlgorithm::EdDSA),
        "RS256" => Some(SigningAlgorithm::RS256),
        _ => None,
    }
}

/// The stored name of an algorithm.
pub(super) fn algorithm_name(algorithm: SigningAlgorithm) -> &'static str {
    match algorithm {
        SigningAlgorithm::ES256 => "ES256",
        SigningAlgorithm::EdDSA => "EdDSA",
        SigningAlgorithm::RS256 => "RS256",
    }
}

/// jsonwebtoken's form of a private key, from which it derives the public JWK (signing
/// uses the key prepared once in `signer`).
pub(super) fn encoding_key(
    algorithm: SigningAlgorithm,
    pkcs8: &[u8],
) -> Result<EncodingKey, KeyError> {
    match algorithm {
        SigningAlgorithm::ES256 => Ok(EncodingKey::from_ec_der(pkcs8)),
        SigningAlgorithm::EdDSA => Ok(EncodingKey::from_ed_der(pkcs8)),
        // jsonwebtoken signs RSA from PKCS#1; its PEM reader unwraps PKCS#8 to that.
        SigningAlgorithm::RS256 => {
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                STANDARD.encode(pkcs8)
            );
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| KeyError::Generate)
        }
    }
}

/// The public JWK of a key: public members only, with `kid`, `alg` and `use` (META-10).
pub(super) fn public_jwk(
    algorithm: SigningAlgorithm,
    pkcs8: &[u8],
    encoding: &EncodingKey,
    kid: &str,
) -> Result<Value, KeyError> {
    let mut jwk = match algorithm {
        SigningAlgorithm::EdDSA => {
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Generate)?;
            json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())})
        }
        SigningAlgorithm::ES256 | SigningAlgorithm::RS256 => {
            let jwk = Jwk::from_encoding_key(encoding, jws_algorithm(algorithm))
                .map_err(|_| KeyError::Generate)?;
            serde_json::to_value(jwk).map_err(|_| KeyError::Generate)?
        }
    };
    if let Some(object) = jwk.as_object_mut() {
        object.insert("kid".to_owned(), Value::from(kid));
        object.insert("alg".to_owned(), Value::from(algorithm_name(algorithm)));
        object.insert("use".to_owned(), Value::from("sig"));
    }
    Ok(jwk)
}
