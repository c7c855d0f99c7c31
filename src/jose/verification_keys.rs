//! Other parties' public keys (a client's `jwks`, later a trusted IdP's), parsed once
//! into verifying keys, each bound to the algorithms its type allows (TOK-7, CC-9).
//!
//! The algorithm of an inbound JWS must be one its key may use: a P-256 key only
//! verifies ES256, an RSA key only RS*/PS*, an Ed25519 key only EdDSA; a JWK's own
//! `alg` narrows that to one. Symmetric (`oct`) keys, encryption keys and curves the
//! signature library does not verify are left out, so `none` and HMAC-with-a-public-key
//! confusions have nothing to match.

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};

/// The JWS algorithms accepted from others: asymmetric only (no `none`, no HMAC).
pub const ASYMMETRIC_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// RSA keys shorter than this are refused (RFC 7518 section 3.3 minimum).
const MIN_RSA_MODULUS_BITS: usize = 2048;

/// Why a key set cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeySetError {
    /// Not a JWK Set.
    #[error("not a JWK Set: {0}")]
    Malformed(String),
    /// No key in it can verify a signature here.
    #[error("the JWK Set has no usable signature verification key")]
    NoUsableKey,
}

/// One verifying key and what it may verify.
struct VerificationKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// A parsed key set; cheap to share behind an `Arc`.
pub struct VerificationKeys {
    keys: Vec<VerificationKey>,
}

impl std::fmt::Debug for VerificationKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<Option<&str>> = self.keys.iter().map(|k| k.kid.as_deref()).collect();
        f.debug_struct("VerificationKeys")
            .field("kids", &kids)
            .finish()
    }
}

impl VerificationKeys {
    /// Parses a JWK Set, keeping the keys that can verify signatures.
    pub fn from_json(raw: &[u8]) -> Result<Self, KeySetError> {
        let set: JwkSet =
            serde_json::from_slice(raw).map_err(|e| KeySetError::Malformed(e.to_string()))?;
        Self::from_set(&set)
    }

    /// Keeps the keys of `set` that can verify signatures.
    pub fn from_set(set: &JwkSet) -> Result<Self, KeySetError> {
        let keys: Vec<VerificationKey> = set.keys.iter().filter_map(verification_key).collect();
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// Whether a key with this `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys that may verify a JWS with header `alg` and `kid`: those with that
    /// `kid`, or every key when the JWS names none (CC-9: try each), and only keys
    /// allowed to use `alg`.
    pub fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &DecodingKey> {
        self.keys
            .iter()
            .filter(move |k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
            .filter(move |k| k.algorithms.contains(&alg))
            .map(|k| &k.key)
    }
}

impl VerificationKeys {
    /// The claims of `token` (header `alg`, `kid` already read by the caller) if one of
    /// the candidate keys verifies its signature. Only the signature is checked: time,
    /// audience and issuer are each caller's rules, against its own clock.
    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Option<T> {
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        self.candidates(kid, alg)
            .find_map(|key| jsonwebtoken::decode::<T>(token, key, &validation).ok())
            .map(|data| data.claims)
    }
}

/// The algorithms a JWS may use with this key type (the allow-list: no `none`, no HS*).
fn algorithms_for(jwk: &Jwk) -> Vec<Algorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            EllipticCurve::P521 | EllipticCurve::Ed25519 => vec![],
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            EllipticCurve::P256 | EllipticCurve::P384 | EllipticCurve::P521 => vec![],
        },
        AlgorithmParameters::RSA(rsa) if rsa_modulus_bits(&rsa.n) >= MIN_RSA_MODULUS_BITS => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::RSA(_) | AlgorithmParameters::OctetKey(_) => vec![],
    }
}

fn rsa_modulus_bits(n: &str) -> usize {
    use base64::Engine as _;
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(n) else {
        return 0;
    };
    let significant = bytes.iter().skip_while(|b| **b == 0).count();
    match bytes.iter().find(|b| **b != 0) {
        Some(first) => significant * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn key_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

fn verification_key(jwk: &Jwk) -> Option<VerificationKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let mut algorithms = algorithms_for(jwk);
    // A JWK that names its `alg` may be used with that algorithm only.
    if let Some(named) = jwk.common.key_algorithm {
        let named = key_algorithm(named)?;
        algorithms.retain(|a| *a == named);
    }
    if algorithms.is_empty() {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerificationKey {
        kid: jwk.common.key_id.clone(),
        algorithms,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &serde_json::Value) -> Result<VerificationKeys, KeySetError> {
        VerificationKeys::from_json(serde_json::json!({ "keys": keys }).to_string().as_bytes())
    }

    const P256: (&str, &str) = (
        "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    );

    #[test]
    fn tok_7_ec_key_verifies_its_curve_algorithm_only() {
        let keys = set(&serde_json::json!([
            { "kty": "EC", "crv": "P-256", "x": P256.0, "y": P256.1, "kid": "a" }
        ]))
        .unwrap();
        assert_eq!(keys.candidates(Some("a"), Algorithm::ES256).count(), 1);
        assert_eq!(keys.candidates(None, Algorithm::ES256).count(), 1);
        assert_eq!(keys.candidates(Some("b"), Algorithm::ES256).count(), 0);
        assert_eq!(keys.candidates(Some("a"), Algorithm::ES384).count(), 0);
        assert_eq!(keys.candidates(Some("a"), Algorithm::HS256).count(), 0);
        assert_eq!(keys.candidates(Some("a"), Algorithm::RS256).count(), 0);
    }

    #[test]
    fn cc_9_symmetric_and_encryption_keys_are_never_used() {
        assert!(matches!(
            set(&serde_json::json!([{ "kty": "oct", "k": "c2VjcmV0" }])),
            Err(KeySetError::NoUsableKey)
        ));
        assert!(matches!(
            set(&serde_json::json!([
                { "kty": "EC", "crv": "P-256", "x": P256.0, "y": P256.1, "use": "enc" }
            ])),
            Err(KeySetError::NoUsableKey)
        ));
    }

    #[test]
    fn tok_7_a_jwk_alg_narrows_the_allowed_algorithms() {
        let keys = set(&serde_json::json!([
            { "kty": "EC", "crv": "P-256", "x": P256.0, "y": P256.1, "alg": "ES384" }
        ]));
        assert!(matches!(keys, Err(KeySetError::NoUsableKey)));
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        // 512-bit modulus
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let short = &n[..86];
        assert!(matches!(
            set(&serde_json::json!([{ "kty": "RSA", "n": short, "e": "AQAB" }])),
            Err(KeySetError::NoUsableKey)
        ));
        let keys = set(&serde_json::json!([{ "kty": "RSA", "n": n, "e": "AQAB" }])).unwrap();
        assert_eq!(keys.candidates(None, Algorithm::PS256).count(), 1);
        assert_eq!(keys.candidates(None, Algorithm::ES256).count(), 0);
    }
}
