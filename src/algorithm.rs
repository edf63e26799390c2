//! The signature algorithms this crate supports, and what each needs of a key.

use crate::keys::Family;

/// A JSON Web Signature algorithm (RFC 7518, RFC 8037).
///
/// Algorithms come from the configuration only: each key has one, and a token
/// whose header names another is rejected.
///
/// ```
/// use rocket_jwt_router::Algorithm;
///
/// assert_eq!(Algorithm::default(), Algorithm::HS256);
/// assert_eq!(Algorithm::from_name("ES256"), Some(Algorithm::ES256));
/// assert_eq!(Algorithm::from_name("none"), None);
/// assert_eq!(Algorithm::HS512.min_secret_length(), Some(64));
/// assert_eq!(Algorithm::RS256.min_secret_length(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256. The default.
    #[default]
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519.
    EdDSA,
}

const ALL: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Algorithm {
    /// Returns the algorithm's name in a JWS header, such as `"RS256"`.
    ///
    /// ```
    /// assert_eq!(rocket_jwt_router::Algorithm::EdDSA.name(), "EdDSA");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a header name, exactly as RFC 7518 spells it.
    ///
    /// See [`Algorithm`] for an example.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|algorithm| algorithm.name() == name)
    }

    /// Returns the minimum secret length in bytes for HMAC algorithms, the
    /// hash output size (RFC 7518 section 3.2), or `None` for the others.
    ///
    /// See [`Algorithm`] for an example.
    pub fn min_secret_length(self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        }
    }

    pub(crate) fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
            Algorithm::EdDSA => Family::Ed,
            _ => Family::Rsa,
        }
    }

    /// Returns the JWK curve name and the coordinate size in bytes for ECDSA.
    pub(crate) fn curve(self) -> Option<(&'static str, usize)> {
        match self {
            Algorithm::ES256 => Some(("P-256", 32)),
            Algorithm::ES384 => Some(("P-384", 48)),
            _ => None,
        }
    }

    /// Returns a short description of the key type, for messages.
    pub(crate) fn key_type(self) -> &'static str {
        match self.family() {
            Family::Hmac => "HMAC",
            Family::Rsa => "RSA",
            Family::Ec if self == Algorithm::ES256 => "P-256 EC",
            Family::Ec => "P-384 EC",
            Family::Ed => "Ed25519",
        }
    }

    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            Algorithm::HS512 => jsonwebtoken::Algorithm::HS512,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::RS384 => jsonwebtoken::Algorithm::RS384,
            Algorithm::RS512 => jsonwebtoken::Algorithm::RS512,
            Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
            Algorithm::PS384 => jsonwebtoken::Algorithm::PS384,
            Algorithm::PS512 => jsonwebtoken::Algorithm::PS512,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// Returns the supported names, comma-separated, for messages.
    pub(crate) fn names() -> String {
        ALL.iter().map(|algorithm| algorithm.name()).collect::<Vec<_>>().join(", ")
    }
}
