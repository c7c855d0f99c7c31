//! A signing key parsed once, and the JWS compact serialization it signs (RFC 7515
//! section 7.1).
//!
//! Why not `jsonwebtoken::encode`: it rebuilds the key pair from its DER bytes on every
//! call (for ES256 that parse recomputes the public point, about 30 % of the instructions
//! of a whole client-credentials request; for RS256 it re-validates the RSA key), and the
//! crate has no way to keep a prepared signer. Every token we issue goes through here, so
//! the key pair is built once when the key is loaded (ARCHITECTURE section 10: build the
//! signing key once) and the same aws-lc primitives jsonwebtoken uses sign with it.
//! Verification stays with jsonwebtoken, which is how the tests check what this writes.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde::Serialize;

use crate::config::SigningAlgorithm;

use super::KeyError;

/// A private key ready to sign, for the algorithm it was generated for.
pub(super) enum PreparedKey {
    /// ECDSA P-256 with SHA-256, signatures as the fixed-width `R || S` JWS expects.
    Es256(EcdsaKeyPair),
    /// Ed25519.
    EdDsa(Ed25519KeyPair),
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256(RsaKeyPair),
}

impl PreparedKey {
    /// Parses the PKCS#8 document a key is stored as.
    pub(super) fn from_pkcs8(algorithm: SigningAlgorithm, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let prepared = match algorithm {
            SigningAlgorithm::ES256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map(Self::Es256)
            }
            SigningAlgorithm::EdDSA => Ed25519KeyPair::from_pkcs8(pkcs8).map(Self::EdDsa),
            SigningAlgorithm::RS256 => RsaKeyPair::from_pkcs8(pkcs8).map(Self::Rs256),
        };
        prepared.map_err(|_| KeyError::Generate)
    }

    /// `BASE64URL(header) . BASE64URL(claims) . BASE64URL(signature)`.
    pub(super) fn sign_compact<T: Serialize>(
        &self,
        header: &Header,
        claims: &T,
    ) -> Result<String, KeyError> {
        let mut jws = String::with_capacity(768);
        append_base64_json(&mut jws, header)?;
        jws.push('.');
        append_base64_json(&mut jws, claims)?;
        let signature = self.signature(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }

    fn signature(&self, signing_input: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Es256(pair) => pair
                .sign(&SystemRandom::new(), signing_input)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            Self::EdDsa(pair) => Ok(pair.sign(signing_input).as_ref().to_vec()),
            Self::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    signing_input,
                    &mut signature,
                )
                .map_err(|_| KeyError::Signing)?;
                Ok(signature)
            }
        }
    }
}

fn append_base64_json<T: Serialize>(out: &mut String, value: &T) -> Result<(), KeyError> {
    let json = serde_json::to_vec(value).map_err(|_| KeyError::Signing)?;
    URL_SAFE_NO_PAD.encode_string(json, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use serde_json::{Value, json};

    use super::*;
    use crate::jose::generate;

    /// TOK-1: each algorithm's compact JWS (ES256, EdDSA, and RS256, which must be
    /// supported) verifies with jsonwebtoken (an independent reader) under the public JWK
    /// we publish, and carries the header as given (`typ: at+jwt`, `kid`).
    #[test]
    fn tok_1_signed_compact_jws_verifies_with_jsonwebtoken()
    -> Result<(), Box<dyn std::error::Error>> {
        for algorithm in [
            SigningAlgorithm::ES256,
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::RS256,
        ] {
            let pkcs8 = generate::generate_pkcs8(algorithm)?;
            let encoding = generate::encoding_key(algorithm, &pkcs8)?;
            let public = generate::public_jwk(algorithm, &pkcs8, &encoding, "k1")?;
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(public)?;
            let jws_algorithm = generate::jws_algorithm(algorithm);
            let mut header = Header::new(jws_algorithm);
            header.typ = Some("at+jwt".to_owned());
            header.kid = Some("k1".to_owned());
            let claims =
                json!({"sub": "client-1", "exp": 4_102_444_800_u64, "note": "ü \"quoted\""});

            let token =
                PreparedKey::from_pkcs8(algorithm, &pkcs8)?.sign_compact(&header, &claims)?;

            let mut validation = Validation::new(jws_algorithm);
            validation.validate_aud = false;
            let decoded =
                jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(&jwk)?, &validation)?;
            assert_eq!(decoded.claims, claims, "{algorithm:?}");
            assert_eq!(decoded.header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(decoded.header.kid.as_deref(), Some("k1"));
            assert_eq!(decoded.header.alg, jws_algorithm);
        }
        Ok(())
    }

    /// A signature made by one key does not verify under another key's JWK.
    #[test]
    fn a_token_does_not_verify_under_another_key() -> Result<(), Box<dyn std::error::Error>> {
        let signing = generate::generate_pkcs8(SigningAlgorithm::ES256)?;
        let other = generate::generate_pkcs8(SigningAlgorithm::ES256)?;
        let other_encoding = generate::encoding_key(SigningAlgorithm::ES256, &other)?;
        let other_jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(generate::public_jwk(
            SigningAlgorithm::ES256,
            &other,
            &other_encoding,
            "k2",
        )?)?;
        let token = PreparedKey::from_pkcs8(SigningAlgorithm::ES256, &signing)?.sign_compact(
            &Header::new(Algorithm::ES256),
            &json!({"exp": 4_102_444_800_u64}),
        )?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_aud = false;
        let outcome =
            jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(&other_jwk)?, &validation);
        assert!(matches!(
            outcome.map_err(|e| e.into_kind()),
            Err(jsonwebtoken::errors::ErrorKind::InvalidSignature)
        ));
        Ok(())
    }

    /// A PKCS#8 document of another algorithm is refused when the key is loaded, not at
    /// the first token.
    #[test]
    fn a_key_of_another_algorithm_is_refused_at_load() -> Result<(), Box<dyn std::error::Error>> {
        let ed25519 = generate::generate_pkcs8(SigningAlgorithm::EdDSA)?;
        assert!(PreparedKey::from_pkcs8(SigningAlgorithm::ES256, &ed25519).is_err());
        assert!(PreparedKey::from_pkcs8(SigningAlgorithm::RS256, &ed25519).is_err());
        Ok(())
    }
}
