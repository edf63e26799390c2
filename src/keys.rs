//! Signing and verification keys: loading from secrets, PEM and JWK, strength
//! checks, the key set that makes rotation work, and the published JWK Set.
//!
//! Each key carries its own algorithm. A token is verified only with the key
//! its `kid` names, and only if the token's `alg` equals that key's algorithm,
//! so a token can never choose its algorithm or try several keys.

use std::collections::HashMap;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, DecodingKeyKind, EncodingKey};
use serde_json::{json, Map, Value};

use crate::algorithm::Algorithm;
use crate::jws::{self, JwsError, Verified};

/// The smallest RSA modulus accepted, in bits (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus accepted, in bits, because the backend's
/// verification algorithms (`RSA_*_2048_8192_*`) reject longer keys.
const MAX_RSA_BITS: usize = 8192;

/// JWK members that describe a public key; every other member is dropped
/// before a key is published, so private parts never leave the server.
const PUBLIC_MEMBERS: [&str; 6] = ["kty", "crv", "x", "y", "n", "e"];

/// A key that cannot be used, with the reason.
///
/// ```
/// use rocket_jwt_router::{Algorithm, VerificationKey};
///
/// let error = VerificationKey::from_secret(Algorithm::HS256, b"short").unwrap_err();
/// assert!(error.to_string().contains("at least 32 bytes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

impl KeyError {
    fn new(message: impl Into<String>) -> Self {
        KeyError(message.into())
    }
}

/// A key that verifies signatures with one algorithm.
///
/// ```
/// use rocket_jwt_router::{Algorithm, VerificationKey};
///
/// let key = VerificationKey::from_jwk(r#"{"kty":"oct","alg":"HS256","kid":"a",
///     "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#).unwrap();
/// assert_eq!(key.algorithm(), Algorithm::HS256);
/// assert_eq!(key.kid(), Some("a"));
/// ```
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    algorithm: Algorithm,
    /// The key prepared for verification once, at load time.
    verifier: Verifier,
    /// The public JWK, or `None` for HMAC secrets, which are never published.
    public_jwk: Option<Map<String, Value>>,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// Creates an HMAC key from secret bytes.
    ///
    /// # Errors
    ///
    /// If `algorithm` is not HMAC, or the secret is shorter than the hash
    /// output (RFC 7518 section 3.2).
    ///
    /// ```
    /// use rocket_jwt_router::{Algorithm, VerificationKey};
    ///
    /// assert!(VerificationKey::from_secret(Algorithm::HS384, &[1; 48]).is_ok());
    /// assert!(VerificationKey::from_secret(Algorithm::RS256, &[1; 48]).is_err());
    /// ```
    pub fn from_secret(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        check_secret(algorithm, secret)?;
        let decoding = DecodingKey::from_secret(secret).map_err(|error| KeyError::new(error.to_string()))?;

        let verifier = Verifier::new(algorithm, &decoding)?;
        Ok(VerificationKey { kid: None, algorithm, verifier, public_jwk: None })
    }

    /// Creates a public key from PEM: `PUBLIC KEY` or `RSA PUBLIC KEY` for RSA,
    /// `PUBLIC KEY` for EC and Ed25519.
    ///
    /// # Errors
    ///
    /// If the PEM does not hold a public key of `algorithm`'s type and curve,
    /// or an RSA modulus is shorter than 2048 or longer than 8192 bits.
    ///
    /// ```
    /// use rocket_jwt_router::{Algorithm, VerificationKey};
    ///
    /// let pem = b"-----BEGIN PUBLIC KEY-----\n\
    ///     MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
    ///     -----END PUBLIC KEY-----\n";
    /// let key = VerificationKey::from_pem(Algorithm::EdDSA, pem).unwrap();
    /// assert_eq!(key.public_jwk().unwrap()["crv"], "Ed25519");
    /// ```
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let invalid = |error: jsonwebtoken::errors::Error| {
            KeyError::new(format!("the PEM is not a {} public key: {error}", algorithm.key_type()))
        };

        let decoding = match algorithm.family() {
            Family::Hmac => return Err(KeyError::new("HMAC keys are secrets, not PEM")),
            Family::Rsa => DecodingKey::from_rsa_pem(pem).map_err(invalid)?,
            Family::Ec => DecodingKey::from_ec_pem(pem).map_err(invalid)?,
            Family::Ed => DecodingKey::from_ed_pem(pem).map_err(invalid)?,
        };

        let public_jwk = public_jwk_of(algorithm, &decoding)?;
        let verifier = Verifier::new(algorithm, &decoding)?;
        Ok(VerificationKey { kid: None, algorithm, verifier, public_jwk: Some(public_jwk) })
    }

    /// Creates a key from a JSON Web Key (RFC 7517). The JWK must name its
    /// algorithm in `alg`; `use`, if present, must be `sig`, and `key_ops`, if
    /// present, must contain `verify`. Its `kid` becomes the key's id.
    ///
    /// # Errors
    ///
    /// If the JWK is malformed, is meant for encryption, names an unsupported
    /// algorithm or a curve that does not fit it, or is too weak.
    ///
    /// See [`VerificationKey`] for an example.
    pub fn from_jwk(json: &str) -> Result<Self, KeyError> {
        let value: Value = serde_json::from_str(json).map_err(|error| KeyError::new(format!("the JWK is not JSON: {error}")))?;
        let Value::Object(members) = &value else {
            return Err(KeyError::new("the JWK is not a JSON object"));
        };

        check_key_usage(members)?;
        let algorithm = members
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError::new("the JWK has no `alg`; name the algorithm it is for"))
            .and_then(|name| Algorithm::from_name(name).ok_or_else(|| KeyError::new(format!("the JWK's algorithm `{name}` is not supported"))))?;

        let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|error| KeyError::new(format!("the JWK is invalid: {error}")))?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|error| KeyError::new(format!("the JWK is invalid: {error}")))?;
        if decoding.family() != algorithm.to_jsonwebtoken().family() {
            return Err(KeyError::new(format!("the JWK's key type does not fit its algorithm {}", algorithm.name())));
        }

        let public_jwk = match algorithm.family() {
            Family::Hmac => {
                let DecodingKeyKind::SecretOrDer(secret) = decoding.kind() else {
                    return Err(KeyError::new("the JWK's key type does not fit its algorithm"));
                };
                check_secret(algorithm, secret)?;
                None
            }
            _ => Some(public_jwk_of(algorithm, &decoding)?),
        };

        let kid = members.get("kid").and_then(Value::as_str).map(str::to_owned);
        let verifier = Verifier::new(algorithm, &decoding)?;
        Ok(VerificationKey { kid, algorithm, verifier, public_jwk })
    }

    /// Returns the key with `kid` as its id.
    ///
    /// ```
    /// use rocket_jwt_router::{Algorithm, VerificationKey};
    ///
    /// let key = VerificationKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap().with_kid("2026-12");
    /// assert_eq!(key.kid(), Some("2026-12"));
    /// ```
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Returns the key id, if it has one.
    ///
    /// See [`VerificationKey`] for an example.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Returns the one algorithm this key verifies.
    ///
    /// See [`VerificationKey`] for an example.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Returns the public JWK of an asymmetric key, without private members,
    /// or `None` for an HMAC secret.
    ///
    /// See [`VerificationKey::from_pem`] for an example.
    pub fn public_jwk(&self) -> Option<&Map<String, Value>> {
        self.public_jwk.as_ref()
    }

    /// Verifies the decoded `signature` over `message`.
    pub(crate) fn verify_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.verifier {
            // Compares the tag in constant time.
            Verifier::Hmac(key) => aws_lc_rs::hmac::verify(key, message, signature).is_ok(),
            Verifier::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

/// A verification key in the backend's parsed form.
///
/// jsonwebtoken 12 builds the HMAC key and parses the public key again on
/// every verification. Keeping them parsed removes that work from each
/// request (see BENCHMARKS.md).
#[derive(Clone)]
enum Verifier {
    Hmac(Box<aws_lc_rs::hmac::Key>),
    Public(aws_lc_rs::signature::ParsedPublicKey),
}

/// The backend algorithm of a key. RSA keys given as JWK components need the
/// RSA parameters themselves, not only the verification algorithm.
enum BackendAlgorithm {
    Hmac(aws_lc_rs::hmac::Algorithm),
    Rsa(&'static aws_lc_rs::signature::RsaParameters),
    Other(&'static dyn aws_lc_rs::signature::VerificationAlgorithm),
}

impl Verifier {
    /// Prepares `decoding` for `algorithm`, with the same backend algorithms
    /// that jsonwebtoken's own verification uses.
    fn new(algorithm: Algorithm, decoding: &DecodingKey) -> Result<Self, KeyError> {
        use aws_lc_rs::{hmac, signature};
        use BackendAlgorithm::{Hmac, Other, Rsa};

        let backend = match algorithm {
            Algorithm::HS256 => Hmac(hmac::HMAC_SHA256),
            Algorithm::HS384 => Hmac(hmac::HMAC_SHA384),
            Algorithm::HS512 => Hmac(hmac::HMAC_SHA512),
            Algorithm::RS256 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::RS384 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::RS512 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
            Algorithm::PS256 => Rsa(&signature::RSA_PSS_2048_8192_SHA256),
            Algorithm::PS384 => Rsa(&signature::RSA_PSS_2048_8192_SHA384),
            Algorithm::PS512 => Rsa(&signature::RSA_PSS_2048_8192_SHA512),
            Algorithm::ES256 => Other(&signature::ECDSA_P256_SHA256_FIXED),
            Algorithm::ES384 => Other(&signature::ECDSA_P384_SHA384_FIXED),
            Algorithm::EdDSA => Other(&signature::ED25519),
        };

        let parsed = match (backend, decoding.kind()) {
            (Hmac(hmac_algorithm), DecodingKeyKind::SecretOrDer(secret)) => {
                return Ok(Verifier::Hmac(Box::new(hmac::Key::new(hmac_algorithm, secret))));
            }
            (Rsa(parameters), DecodingKeyKind::SecretOrDer(der)) => signature::ParsedPublicKey::new(parameters, der),
            (Other(verification), DecodingKeyKind::SecretOrDer(bytes)) => signature::ParsedPublicKey::new(verification, bytes),
            (Rsa(parameters), DecodingKeyKind::RsaModulusExponent { n, e }) => {
                signature::RsaPublicKeyComponents { n, e }.to_parsed_public_key(parameters)
            }
            (Hmac(_) | Other(_), DecodingKeyKind::RsaModulusExponent { .. }) => {
                return Err(KeyError::new(format!("an RSA key cannot verify {}", algorithm.name())));
            }
        };

        let parsed = parsed.map_err(|error| KeyError::new(format!("the {} public key is invalid: {error}", algorithm.key_type())))?;
        Ok(Verifier::Public(parsed))
    }
}

/// The key families, which decide how a key is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

fn check_secret(algorithm: Algorithm, secret: &[u8]) -> Result<(), KeyError> {
    let Some(min) = algorithm.min_secret_length() else {
        return Err(KeyError::new(format!("{} is not an HMAC algorithm; a secret cannot be its key", algorithm.name())));
    };

    if secret.len() < min {
        return Err(KeyError::new(format!(
            "the secret is {} bytes long but {} needs at least {min} bytes; generate one with `openssl rand -base64 {min}`",
            secret.len(),
            algorithm.name()
        )));
    }

    Ok(())
}

fn check_key_usage(members: &Map<String, Value>) -> Result<(), KeyError> {
    if let Some(usage) = members.get("use") {
        if usage.as_str() != Some("sig") {
            return Err(KeyError::new("the JWK's `use` is not `sig`; it is not a signature key"));
        }
    }

    if let Some(operations) = members.get("key_ops") {
        let verifies = operations.as_array().is_some_and(|list| list.iter().any(|operation| operation.as_str() == Some("verify")));
        if !verifies {
            return Err(KeyError::new("the JWK's `key_ops` does not contain `verify`"));
        }
    }

    Ok(())
}

/// Builds the public JWK of an asymmetric decoding key and checks its size
/// and curve against `algorithm`.
fn public_jwk_of(algorithm: Algorithm, decoding: &DecodingKey) -> Result<Map<String, Value>, KeyError> {
    let encode = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };

    let value = match (algorithm.family(), decoding.kind()) {
        (Family::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => rsa_jwk(n.as_slice(), e.as_slice(), &encode)?,
        (Family::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
            let (n, e) = parse_rsa_public_key(der.as_slice()).ok_or_else(|| KeyError::new("the RSA public key is malformed"))?;
            rsa_jwk(&n, &e, &encode)?
        }
        (Family::Ec, DecodingKeyKind::SecretOrDer(point)) => {
            let (curve, coordinate) = algorithm.curve().ok_or_else(|| KeyError::new("no curve for this algorithm"))?;
            if point.len() != 1 + 2 * coordinate || point[0] != 4 {
                return Err(KeyError::new(format!("the EC key is not an uncompressed {curve} point, which {} needs", algorithm.name())));
            }
            json!({ "kty": "EC", "crv": curve, "x": encode(&point[1..=coordinate]), "y": encode(&point[1 + coordinate..]) })
        }
        (Family::Ed, DecodingKeyKind::SecretOrDer(point)) if point.len() == 32 => {
            json!({ "kty": "OKP", "crv": "Ed25519", "x": encode(point.as_slice()) })
        }
        _ => return Err(KeyError::new(format!("the key does not fit the algorithm {}", algorithm.name()))),
    };

    let Value::Object(members) = value else { unreachable!("json! built an object") };
    Ok(members)
}

fn rsa_jwk(n: &[u8], e: &[u8], encode: &dyn Fn(&[u8]) -> String) -> Result<Value, KeyError> {
    check_rsa_bits(significant_bits(n))?;

    Ok(json!({ "kty": "RSA", "n": encode(strip_leading_zeros(n)), "e": encode(strip_leading_zeros(e)) }))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&byte| byte != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn significant_bits(bytes: &[u8]) -> usize {
    let bytes = strip_leading_zeros(bytes);
    bytes.first().map_or(0, |&first| (bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// Reads the modulus and exponent from a PKCS#1 `RSAPublicKey`:
/// `SEQUENCE { INTEGER n, INTEGER e }` in DER.
fn parse_rsa_public_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, body, rest) = der_element(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }

    let (n_tag, n, body) = der_element(body)?;
    let (e_tag, e, body) = der_element(body)?;
    (n_tag == 0x02 && e_tag == 0x02 && body.is_empty()).then(|| (n.to_vec(), e.to_vec()))
}

/// Rejects an RSA private key in PEM whose modulus is shorter than 2048 bits,
/// before the crypto backend parses it. Keys this parser cannot read are left
/// to the backend, which reports them as malformed.
fn check_rsa_private_key_size(pem: &[u8]) -> Result<(), KeyError> {
    let Some(bits) = rsa_private_modulus(pem).map(|modulus| significant_bits(&modulus)) else {
        return Ok(());
    };

    check_rsa_bits(bits)
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if bits < MIN_RSA_BITS {
        return Err(KeyError::new(format!("the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required")));
    }

    if bits > MAX_RSA_BITS {
        return Err(KeyError::new(format!("the RSA key has {bits} bits; at most {MAX_RSA_BITS} are supported")));
    }

    Ok(())
}

/// Reads the modulus of a PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8
/// (`PRIVATE KEY`) RSA key in PEM.
fn rsa_private_modulus(pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;

    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text.lines().filter(|line| !line.starts_with("-----")).map(str::trim).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;

    // PKCS#8: SEQUENCE { INTEGER 0, SEQUENCE algorithm, OCTET STRING pkcs1 }.
    let (_, outer, _) = der_element(&der)?;
    let (_, _, after_version) = der_element(outer)?;
    let (second_tag, _, after_second) = der_element(after_version)?;
    let pkcs1 = if second_tag == 0x30 { der_element(after_second).map(|(_, octets, _)| octets)? } else { &der[..] };

    // PKCS#1: SEQUENCE { INTEGER version, INTEGER n, ... }.
    let (_, key, _) = der_element(pkcs1)?;
    let (_, _, after_version) = der_element(key)?;
    let (tag, modulus, _) = der_element(after_version)?;
    (tag == 0x02).then(|| modulus.to_vec())
}

/// Splits one DER element into its tag, its content and the bytes after it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;

    let (length, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || input.len() < count {
            return None;
        }
        let length = input[..count].iter().fold(0_usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, &input[count..])
    };

    (input.len() >= length).then(|| (tag, &input[..length], &input[length..]))
}

/// The key that signs new tokens. `Debug` shows only its id and algorithm.
pub(crate) struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    verification: VerificationKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Creates an HMAC signing key.
    pub(crate) fn from_secret(kid: &str, algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let verification = VerificationKey::from_secret(algorithm, secret)?.with_kid(kid);
        let encoding = EncodingKey::from_secret(secret).map_err(|error| KeyError::new(error.to_string()))?;

        Ok(SigningKey { kid: kid.to_owned(), algorithm, encoding, verification })
    }

    /// Creates a signing key from a private key in PEM: PKCS#1 or PKCS#8 for
    /// RSA, PKCS#8 for EC and Ed25519.
    pub(crate) fn from_pem(kid: &str, algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let invalid = |error: jsonwebtoken::errors::Error| {
            KeyError::new(format!("the PEM is not a {} private key (PKCS#8 for EC and Ed25519): {error}", algorithm.key_type()))
        };

        if algorithm.family() == Family::Rsa {
            check_rsa_private_key_size(pem)?;
        }

        let encoding = match algorithm.family() {
            Family::Hmac => return Err(KeyError::new("HMAC keys are secrets, not PEM")),
            Family::Rsa => EncodingKey::from_rsa_pem(pem).map_err(invalid)?,
            Family::Ec => EncodingKey::from_ec_pem(pem).map_err(invalid)?,
            Family::Ed => EncodingKey::from_ed_pem(pem).map_err(invalid)?,
        };

        // The public half, derived from the private key, verifies our own
        // tokens and is what the JWK Set publishes.
        let jwk = Jwk::from_encoding_key(&encoding, algorithm.to_jsonwebtoken()).map_err(invalid)?;
        let mut jwk_json = serde_json::to_value(&jwk).map_err(|error| KeyError::new(error.to_string()))?;
        if let Value::Object(members) = &mut jwk_json {
            members.insert("alg".to_owned(), Value::from(algorithm.name()));
        }

        let verification = VerificationKey::from_jwk(&jwk_json.to_string())?.with_kid(kid);
        Ok(SigningKey { kid: kid.to_owned(), algorithm, encoding, verification })
    }
}

/// The signing key and every key that verifies tokens, by `kid`.
#[derive(Debug)]
pub(crate) struct KeySet {
    signing: SigningKey,
    verifying: HashMap<String, VerificationKey>,
    jwks: String,
}

impl KeySet {
    /// Builds the set. Every key needs a `kid`, and no two may share one.
    pub(crate) fn new(signing: SigningKey, verify_only: Vec<VerificationKey>) -> Result<Self, KeyError> {
        let mut verifying = HashMap::new();
        verifying.insert(signing.kid.clone(), signing.verification.clone());

        for key in verify_only {
            let kid = key.kid().ok_or_else(|| KeyError::new("a verification key has no `kid`"))?.to_owned();
            if verifying.insert(kid.clone(), key).is_some() {
                return Err(KeyError::new(format!("two keys share the kid `{kid}`; give each key its own")));
            }
        }

        let jwks = jwks_document(&verifying);
        Ok(KeySet { signing, verifying, jwks })
    }

    pub(crate) fn signing_algorithm(&self) -> Algorithm {
        self.signing.algorithm
    }

    /// Returns the header of new tokens: the signing key's algorithm and id,
    /// and `typ` = `at+jwt` (RFC 9068) to mark them as access tokens.
    pub(crate) fn header(&self) -> jsonwebtoken::Header {
        let mut header = jsonwebtoken::Header::new(self.signing.algorithm.to_jsonwebtoken());
        header.kid = Some(self.signing.kid.clone());
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.signing.encoding
    }

    /// Verifies `token` with the one key its `kid` names.
    pub(crate) fn verify(&self, token: &str) -> Result<Verified, JwsError> {
        jws::verify_with(token, |kid| self.verifying.get(kid))
    }

    /// Returns the JWK Set of the asymmetric verification keys.
    pub(crate) fn jwks(&self) -> &str {
        &self.jwks
    }

    pub(crate) fn kids(&self) -> impl Iterator<Item = &str> {
        self.verifying.keys().map(String::as_str)
    }
}

/// The `typ` header of access tokens (RFC 9068 section 2.1).
pub(crate) const ACCESS_TOKEN_TYPE: &str = "at+jwt";

fn jwks_document(keys: &HashMap<String, VerificationKey>) -> String {
    let mut published: Vec<(&String, &VerificationKey)> = keys.iter().filter(|(_, key)| key.public_jwk.is_some()).collect();
    published.sort_by(|left, right| left.0.cmp(right.0));

    let entries: Vec<Value> = published
        .into_iter()
        .map(|(kid, key)| {
            let mut entry: Map<String, Value> = key
                .public_jwk
                .iter()
                .flatten()
                .filter(|(name, _)| PUBLIC_MEMBERS.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            entry.insert("kid".to_owned(), Value::from(kid.as_str()));
            entry.insert("alg".to_owned(), Value::from(key.algorithm.name()));
            entry.insert("use".to_owned(), Value::from("sig"));
            Value::Object(entry)
        })
        .collect();

    json!({ "keys": entries }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_of_modulus() {
        assert_eq!(significant_bits(&[0, 0x80, 0]), 16);
        assert_eq!(significant_bits(&[0x01, 0]), 9);
        assert_eq!(significant_bits(&[]), 0);
    }

    #[test]
    fn der_rsa_public_key() {
        // SEQUENCE { INTEGER 0x00C1, INTEGER 0x010001 }
        let der = [0x30, 0x09, 0x02, 0x02, 0x00, 0xC1, 0x02, 0x03, 0x01, 0x00, 0x01];
        assert_eq!(parse_rsa_public_key(&der), Some((vec![0x00, 0xC1], vec![0x01, 0x00, 0x01])));
        assert_eq!(parse_rsa_public_key(&der[..10]), None);
    }

    #[test]
    fn rsa_private_key_sizes() {
        let pkcs8 = include_bytes!("../tests/data/keys/rsa-2048.pem");
        let pkcs1 = include_bytes!("../tests/data/keys/rfc7515-a2.pem");
        let small = include_bytes!("../tests/data/keys/rsa-1024.pem");

        assert_eq!(rsa_private_modulus(pkcs8).map(|n| significant_bits(&n)), Some(2048));
        assert_eq!(rsa_private_modulus(pkcs1).map(|n| significant_bits(&n)), Some(2048));
        assert!(check_rsa_private_key_size(small).unwrap_err().to_string().contains("1024 bits"));
    }

    #[test]
    fn unknown_kid_tries_no_key() {
        let signing = SigningKey::from_secret("current", Algorithm::HS256, &[1; 32]).unwrap();
        let retired = VerificationKey::from_secret(Algorithm::HS256, &[2; 32]).unwrap().with_kid("retired");
        let keys = KeySet::new(signing, vec![retired]).unwrap();

        let mut header = keys.header();
        header.kid = Some("missing".to_owned());
        let token = jsonwebtoken::encode(&header, &serde_json::json!({}), keys.encoding_key()).unwrap();

        let mut lookups = Vec::new();
        let result = jws::verify_with(&token, |kid| {
            lookups.push(kid.to_owned());
            keys.verifying.get(kid)
        });

        assert_eq!(result.unwrap_err(), JwsError::UnknownKey);
        assert_eq!(lookups, ["missing"], "exactly one lookup, by the token's kid, and no verification");
    }

    #[test]
    fn only_the_canonical_signature_encoding_verifies() {
        let key = VerificationKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap();
        let encoding = jsonwebtoken::EncodingKey::from_secret(&[7; 32]).unwrap();
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &serde_json::json!({"a": 1}), &encoding).unwrap();
        assert!(jws::verify(&token, &key).is_ok());

        // 32 bytes in 43 characters leave 2 unused bits in the last one, so a
        // lenient decoder would read the same bytes from these variants.
        let (message, signature) = token.rsplit_once('.').unwrap();
        let last = signature.as_bytes()[42];
        let sibling = (0..64u8)
            .map(|value| URL_SAFE_ALPHABET[usize::from(value)])
            .find(|&candidate| candidate != last && value_of(candidate) >> 2 == value_of(last) >> 2)
            .unwrap();
        let variants = [format!("{}{}", &signature[..42], sibling as char), format!("{signature}=")];
        for variant in variants {
            let result = jws::verify(&format!("{message}.{variant}"), &key);
            assert_eq!(result.unwrap_err(), JwsError::Malformed, "signature {variant:?}");
        }

        let empty = jws::verify(&format!("{message}."), &key);
        assert_eq!(empty.unwrap_err(), JwsError::InvalidSignature);
    }

    #[test]
    fn every_algorithm_round_trips() {
        let rsa: &[u8] = include_bytes!("../tests/data/keys/rsa-2048.pem");
        let cases: [(Algorithm, &[u8]); 12] = [
            (Algorithm::HS256, &[3; 64]),
            (Algorithm::HS384, &[3; 64]),
            (Algorithm::HS512, &[3; 64]),
            (Algorithm::RS256, rsa),
            (Algorithm::RS384, rsa),
            (Algorithm::RS512, rsa),
            (Algorithm::PS256, rsa),
            (Algorithm::PS384, rsa),
            (Algorithm::PS512, rsa),
            (Algorithm::ES256, include_bytes!("../tests/data/keys/ec-p256.pem")),
            (Algorithm::ES384, include_bytes!("../tests/data/keys/ec-p384.pem")),
            (Algorithm::EdDSA, include_bytes!("../tests/data/keys/ed25519.pem")),
        ];

        for (algorithm, material) in cases {
            let signing = match algorithm.family() {
                Family::Hmac => SigningKey::from_secret("k", algorithm, material),
                _ => SigningKey::from_pem("k", algorithm, material),
            };
            let keys = KeySet::new(signing.unwrap(), Vec::new()).unwrap();
            let token = jsonwebtoken::encode(&keys.header(), &serde_json::json!({"a": 1}), keys.encoding_key()).unwrap();
            assert!(keys.verify(&token).is_ok(), "{} token rejected", algorithm.name());

            let (_, signature) = token.rsplit_once('.').unwrap();
            let other = jsonwebtoken::encode(&keys.header(), &serde_json::json!({"a": 2}), keys.encoding_key()).unwrap();
            let forged = format!("{}.{signature}", other.rsplit_once('.').unwrap().0);
            assert_ne!(forged, token);
            assert_eq!(keys.verify(&forged).unwrap_err(), JwsError::InvalidSignature, "{} forgery accepted", algorithm.name());
        }
    }

    #[test]
    fn rsa_jwk_components_verify() {
        let signing = SigningKey::from_pem("k", Algorithm::RS256, include_bytes!("../tests/data/keys/rsa-2048.pem")).unwrap();
        let keys = KeySet::new(signing, Vec::new()).unwrap();
        let token = jsonwebtoken::encode(&keys.header(), &serde_json::json!({"a": 1}), keys.encoding_key()).unwrap();

        let mut jwk = keys.verifying["k"].public_jwk().unwrap().clone();
        jwk.insert("alg".to_owned(), "RS256".into());
        let from_components = VerificationKey::from_jwk(&Value::Object(jwk).to_string()).unwrap();

        assert!(jws::verify(&token, &from_components).is_ok());
        let tampered = format!("{}A", &token[..token.len() - 1]);
        assert!(jws::verify(&tampered, &from_components).is_err());
    }

    const URL_SAFE_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn value_of(character: u8) -> u8 {
        URL_SAFE_ALPHABET.iter().position(|&c| c == character).unwrap() as u8
    }

    #[test]
    fn prepared_keys_reject_invalid_public_keys() {
        // A JWK whose point is not on the P-256 curve.
        let jwk = r#"{"kty":"EC","crv":"P-256","alg":"ES256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}"#;
        assert!(VerificationKey::from_jwk(jwk).is_err());
    }

    #[test]
    fn duplicate_kids_rejected() {
        let signing = SigningKey::from_secret("a", Algorithm::HS256, &[1; 32]).unwrap();
        let other = VerificationKey::from_secret(Algorithm::HS256, &[2; 32]).unwrap().with_kid("a");

        let error = KeySet::new(signing, vec![other]).err().unwrap();
        assert!(error.to_string().contains("share the kid `a`"));
    }

    #[test]
    fn jwks_omits_secrets() {
        let signing = SigningKey::from_secret("a", Algorithm::HS256, &[1; 32]).unwrap();
        let keys = KeySet::new(signing, Vec::new()).unwrap();

        assert_eq!(keys.jwks(), r#"{"keys":[]}"#);
    }
}
