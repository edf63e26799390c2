//! Strict verification of compact JSON Web Signatures (RFC 7515), below any
//! claim validation.
//!
//! [`verify`] checks one token against one [`VerificationKey`]: three
//! unpadded base64url parts with no stray bits, a header without duplicate
//! keys, critical extensions, embedded or remote keys or a nested JWT, an
//! algorithm equal to the key's, and the signature. It returns the payload
//! bytes, which need not be JSON. The algorithm always comes from the key and
//! never from the token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::keys::VerificationKey;

/// The reason a token failed verification at the signature layer.
///
/// ```
/// use rocket_jwt_router::jws::{self, JwsError};
/// use rocket_jwt_router::{Algorithm, VerificationKey};
///
/// let key = VerificationKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap();
/// assert_eq!(jws::verify("not-a-token", &key).unwrap_err(), JwsError::Malformed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// The token is not three unpadded base64url parts with a JSON header.
    #[error("the token is not a well-formed compact JWS")]
    Malformed,
    /// The header has a parameter this library never accepts (`crit`, `jwk`,
    /// `jku`, `x5u`, `x5c`, a `cty` of `JWT`, or a duplicate key).
    #[error("the token header has the forbidden parameter `{0}`")]
    ForbiddenHeader(&'static str),
    /// The header's `alg` differs from the key's algorithm.
    #[error("the token's algorithm does not match the key")]
    AlgorithmMismatch,
    /// The token names no key, or a key that is not configured.
    #[error("the token names no known key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the signature is invalid")]
    InvalidSignature,
}

/// The header parameters that this library reads.
///
/// ```
/// use rocket_jwt_router::jws;
///
/// let header = jws::decode_header("eyJhbGciOiJIUzI1NiIsImtpZCI6ImEifQ.e30.c2ln").unwrap();
/// assert_eq!(header.alg, "HS256");
/// assert_eq!(header.kid.as_deref(), Some("a"));
/// ```
#[derive(Debug, Clone, Deserialize)]
pub struct JwsHeader {
    /// The algorithm the token claims to use.
    pub alg: String,
    /// The id of the key the token claims to be signed with.
    #[serde(default)]
    pub kid: Option<String>,
    /// The media type of the whole token, such as `at+jwt`.
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    cty: Option<String>,
    #[serde(default)]
    crit: Option<de::IgnoredAny>,
    #[serde(default)]
    jwk: Option<de::IgnoredAny>,
    #[serde(default)]
    jku: Option<de::IgnoredAny>,
    #[serde(default)]
    x5u: Option<de::IgnoredAny>,
    #[serde(default)]
    x5c: Option<de::IgnoredAny>,
}

/// The three parts of a compact JWS, split but not decoded.
struct Parts<'a> {
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, JwsError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };

    let signing_input = &token[..header.len() + 1 + payload.len()];
    Ok(Parts { signing_input, header, payload, signature })
}

/// Decodes unpadded base64url, rejecting padding, other alphabets and
/// non-zero trailing bits, so that each token has exactly one encoding.
pub(crate) fn decode_base64url(text: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JwsError::Malformed)
}

/// Decodes and checks the header of `token` without verifying anything else.
///
/// # Errors
///
/// [`JwsError::Malformed`] for bad encoding or JSON, and
/// [`JwsError::ForbiddenHeader`] for a parameter this library never accepts.
///
/// See [`JwsHeader`] for an example.
pub fn decode_header(token: &str) -> Result<JwsHeader, JwsError> {
    parse_header(split(token)?.header)
}

fn parse_header(encoded: &str) -> Result<JwsHeader, JwsError> {
    let bytes = decode_base64url(encoded)?;
    reject_duplicate_keys(&bytes).map_err(|_| JwsError::ForbiddenHeader("duplicate key"))?;
    let header: JwsHeader = serde_json::from_slice(&bytes).map_err(|_| JwsError::Malformed)?;

    // Embedded and remote keys would let the token choose its own key. Critical
    // extensions and nested tokens are not implemented, so they are rejected
    // rather than ignored.
    let forbidden = [
        ("crit", header.crit.is_some()),
        ("jwk", header.jwk.is_some()),
        ("jku", header.jku.is_some()),
        ("x5u", header.x5u.is_some()),
        ("x5c", header.x5c.is_some()),
        ("cty", header.cty.as_deref().is_some_and(|cty| cty.eq_ignore_ascii_case("JWT"))),
    ];
    if let Some((name, _)) = forbidden.iter().find(|(_, present)| *present) {
        return Err(JwsError::ForbiddenHeader(name));
    }

    Ok(header)
}

/// A token whose signature verified.
///
/// ```
/// use rocket_jwt_router::jws;
/// use rocket_jwt_router::{Algorithm, VerificationKey};
///
/// // RFC 7515, appendix A.1.
/// let key = VerificationKey::from_jwk(r#"{"kty":"oct","alg":"HS256",
///     "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#).unwrap();
/// let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
///     .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
///     .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
///
/// let verified = jws::verify(token, &key).unwrap();
/// assert!(verified.payload.starts_with(b"{\"iss\":\"joe\""));
/// ```
#[derive(Debug, Clone)]
pub struct Verified {
    /// The decoded header.
    pub header: JwsHeader,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
}

/// Verifies `token` against `key` only.
///
/// # Errors
///
/// Any [`JwsError`] except [`JwsError::UnknownKey`].
///
/// See [`Verified`] for an example.
pub fn verify(token: &str, key: &VerificationKey) -> Result<Verified, JwsError> {
    let parts = split(token)?;
    let header = parse_header(parts.header)?;
    verify_parts(&parts, header, key)
}

/// Verifies a token whose header names its key with `kid`, using only that key.
pub(crate) fn verify_with<'k>(
    token: &str,
    find_key: impl FnOnce(&str) -> Option<&'k VerificationKey>,
) -> Result<Verified, JwsError> {
    let parts = split(token)?;
    let header = parse_header(parts.header)?;
    let key = header.kid.as_deref().and_then(find_key).ok_or(JwsError::UnknownKey)?;

    verify_parts(&parts, header, key)
}

fn verify_parts(parts: &Parts<'_>, header: JwsHeader, key: &VerificationKey) -> Result<Verified, JwsError> {
    if header.alg != key.algorithm().name() {
        return Err(JwsError::AlgorithmMismatch);
    }

    let payload = decode_base64url(parts.payload)?;
    let signature = decode_base64url(parts.signature)?;

    if !key.verify_signature(parts.signing_input.as_bytes(), &signature) {
        return Err(JwsError::InvalidSignature);
    }

    Ok(Verified { header, payload })
}

/// Rejects JSON documents in which any object repeats a key, which serde_json
/// would otherwise resolve silently in favor of one of them.
pub(crate) fn reject_duplicate_keys(json: &[u8]) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    UniqueKeys::deserialize(&mut deserializer)?;
    deserializer.end()
}

struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

/// An object key, borrowed from the input unless it contains escapes.
#[derive(PartialEq)]
struct KeyName<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for KeyName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyNameVisitor)
    }
}

struct KeyNameVisitor;

impl<'de> Visitor<'de> for KeyNameVisitor {
    type Value = KeyName<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<KeyName<'de>, E> {
        Ok(KeyName(std::borrow::Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<KeyName<'de>, E> {
        Ok(KeyName(std::borrow::Cow::Owned(key.to_owned())))
    }
}

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value without duplicate object keys")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        // Token objects have a handful of keys, so a linear scan over keys
        // borrowed from the input beats hashing owned copies.
        let mut seen: Vec<KeyName<'de>> = Vec::new();
        while let Some(key) = map.next_key::<KeyName<'de>>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom("duplicate key"));
            }
            seen.push(key);
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_rejected() {
        assert!(reject_duplicate_keys(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        assert!(reject_duplicate_keys(br#"{"a":1,"a":2}"#).is_err());
        assert!(reject_duplicate_keys(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(reject_duplicate_keys(br#"[{"x":1},{"x":1,"x":2}]"#).is_err());
        assert!(reject_duplicate_keys(br#"{"a":1} trailing"#).is_err());
    }

    #[test]
    fn base64url_is_canonical() {
        assert_eq!(decode_base64url("Zm9v").unwrap(), b"foo");
        assert!(decode_base64url("Zm9v=").is_err());
        assert!(decode_base64url("Zm9+").is_err());
        assert!(decode_base64url("Zm9w").is_ok());
        assert!(decode_base64url("Zh").is_err(), "non-zero trailing bits");
    }

    #[test]
    fn escaped_duplicate_keys_rejected() {
        assert!(reject_duplicate_keys(br#"{"sub":1,"sub":2}"#).is_err());
    }

    #[test]
    fn forbidden_headers() {
        let encode = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for (json, name) in [
            (r#"{"alg":"HS256","crit":["exp"]}"#, "crit"),
            (r#"{"alg":"HS256","jwk":{}}"#, "jwk"),
            (r#"{"alg":"HS256","jku":"x"}"#, "jku"),
            (r#"{"alg":"HS256","x5u":"x"}"#, "x5u"),
            (r#"{"alg":"HS256","x5c":[]}"#, "x5c"),
            (r#"{"alg":"HS256","cty":"jwt"}"#, "cty"),
            (r#"{"alg":"HS256","alg":"none"}"#, "duplicate key"),
        ] {
            assert_eq!(parse_header(&encode(json)).unwrap_err(), JwsError::ForbiddenHeader(name), "header {json}");
        }
        assert!(parse_header(&encode(r#"{"alg":"HS256","cty":"text/plain"}"#)).is_ok());
    }
}
