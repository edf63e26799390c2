//! Token claims, signing and verification, and the [`TokenIssuer`] state.
//!
//! Verification pins the configured algorithm and checks the time claims
//! against this crate's own clock, so tests can move time without sleeping.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::entity::{Entity, EntityId};
use crate::error::AuthError;
use crate::guard::AuthedEntity;

/// The verified claims of an access token.
///
/// Every field is required: a token without `exp`, with a number in `sub` or
/// with a string in `exp` fails verification.
///
/// ```
/// use rocket_jwt_router::Claims;
///
/// let claims: Claims = serde_json::from_str(
///     r#"{"sub": "7", "kind": "users", "iat": 1700000000, "exp": 1700003600, "jti": "a1"}"#,
/// ).unwrap();
/// assert_eq!(claims.sub, "7");
/// assert!(serde_json::from_str::<Claims>(r#"{"sub": 7, "kind": "users", "iat": 1, "exp": 2, "jti": "a"}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The entity's id, as the canonical text of [`EntityId::to_subject`].
    pub sub: String,
    /// The entity kind, [`Entity::KIND`].
    pub kind: String,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, in seconds since the Unix epoch.
    pub exp: u64,
    /// A random token id, unique per issued token.
    pub jti: String,
    /// Not before, in seconds since the Unix epoch. Tokens from this crate do
    /// not set it, but a token that has it is checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// A newly issued token, ready to be sent as JSON in the shape of an OAuth 2.0
/// token response (RFC 6749 section 5.1).
///
/// ```
/// use rocket_jwt_router::IssuedToken;
///
/// let token = IssuedToken { access_token: "eyJ...".into(), token_type: "Bearer", expires_in: 3600 };
/// assert_eq!(
///     serde_json::to_string(&token).unwrap(),
///     r#"{"access_token":"eyJ...","token_type":"Bearer","expires_in":3600}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The signed token, for `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `"Bearer"`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// The source of the current time, replaceable in tests.
#[derive(Clone)]
pub(crate) enum Clock {
    System,
    #[cfg(test)]
    Fixed(u64),
}

impl Clock {
    pub(crate) fn now(&self) -> u64 {
        match self {
            Clock::System => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs()),
            #[cfg(test)]
            Clock::Fixed(now) => *now,
        }
    }
}

/// The signing and verification keys with the rules that go with them.
pub(crate) struct TokenKeys {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    leeway: u64,
    max_token_length: usize,
    clock: Clock,
}

impl TokenKeys {
    pub(crate) fn new(config: &Config) -> Result<Self, jsonwebtoken::errors::Error> {
        let algorithm = config.algorithm.to_jsonwebtoken();

        // Time claims are checked in `check_times` with this crate's clock;
        // jsonwebtoken only verifies the signature and the algorithm here.
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();

        Ok(TokenKeys {
            header: Header::new(algorithm),
            encoding: EncodingKey::from_secret(config.secret.bytes())?,
            decoding: DecodingKey::from_secret(config.secret.bytes())?,
            validation,
            ttl: config.token_ttl,
            leeway: config.leeway.as_secs(),
            max_token_length: config.max_token_length,
            clock: Clock::System,
        })
    }

    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn max_token_length(&self) -> usize {
        self.max_token_length
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    pub(crate) fn leeway(&self) -> u64 {
        self.leeway
    }

    /// Builds the claims of a new token for the entity `kind` with id `subject`.
    pub(crate) fn claims_for(&self, kind: &str, subject: String) -> Result<Claims, AuthError> {
        let now = self.clock.now();

        Ok(Claims {
            sub: subject,
            kind: kind.to_owned(),
            iat: now,
            exp: now.saturating_add(self.ttl.as_secs()),
            jti: random_token_id()?,
            nbf: None,
        })
    }

    /// Signs `claims` with the configured key and algorithm.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&self.header, claims, &self.encoding).map_err(|error| {
            log::error!("jwt_router: signing a token failed: {error}");
            AuthError::IssueFailed
        })
    }

    /// Signs `claims` with a random key of the configured algorithm, so that
    /// verification fails only on the signature.
    pub(crate) fn sign_with_random_key(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut secret = [0_u8; 64];
        getrandom::fill(&mut secret).map_err(|_| AuthError::IssueFailed)?;
        let key = EncodingKey::from_secret(&secret).map_err(|_| AuthError::IssueFailed)?;

        jsonwebtoken::encode(&self.header, claims, &key).map_err(|_| AuthError::IssueFailed)
    }

    /// Signs a new token for the entity `kind` with id `subject`.
    pub(crate) fn issue(&self, kind: &str, subject: String) -> Result<IssuedToken, AuthError> {
        let claims = self.claims_for(kind, subject)?;
        let access_token = self.sign(&claims)?;

        Ok(IssuedToken { access_token, token_type: "Bearer", expires_in: self.ttl.as_secs() })
    }

    /// Verifies the signature, the algorithm and the time claims of `token`.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > self.max_token_length {
            return Err(AuthError::TokenTooLong);
        }

        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::ExpiredToken,
                ErrorKind::ImmatureSignature => AuthError::TokenNotYetValid,
                _ => AuthError::InvalidToken,
            })?
            .claims;

        self.check_times(&claims)?;
        Ok(claims)
    }

    fn check_times(&self, claims: &Claims) -> Result<(), AuthError> {
        let now = self.clock.now();

        if claims.exp.saturating_add(self.leeway) <= now {
            return Err(AuthError::ExpiredToken);
        }

        let earliest = claims.nbf.unwrap_or(0).max(claims.iat);
        if earliest > now.saturating_add(self.leeway) {
            return Err(AuthError::TokenNotYetValid);
        }

        Ok(())
    }
}

fn random_token_id() -> Result<String, AuthError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| {
        log::error!("jwt_router: the operating system's random number generator failed: {error}");
        AuthError::IssueFailed
    })?;

    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Issues tokens for entities. The fairing puts one into managed state.
///
/// Take it in a handler as `&State<TokenIssuer>`:
///
/// ```
/// # use rocket_db_pools::{sqlx, Database};
/// # use rocket_jwt_router::Entity;
/// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
/// # #[derive(sqlx::FromRow)] struct User { id: i64 }
/// # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
/// use rocket::serde::json::Json;
/// use rocket::{post, State};
/// use rocket_jwt_router::{AuthError, AuthedEntity, IssuedToken, TokenIssuer};
///
/// #[post("/register")]
/// fn register(issuer: &State<TokenIssuer>) -> Result<Json<IssuedToken>, AuthError> {
///     let new_id: i64 = 42; // the id of the row the handler just inserted
///     Ok(Json(issuer.register::<User>(&new_id)?))
/// }
///
/// #[post("/token")]
/// fn refresh(user: AuthedEntity<User>, issuer: &State<TokenIssuer>) -> Result<Json<IssuedToken>, AuthError> {
///     Ok(Json(issuer.update(&user)?))
/// }
/// ```
#[derive(Clone)]
pub struct TokenIssuer {
    keys: Arc<TokenKeys>,
}

impl TokenIssuer {
    pub(crate) fn new(keys: Arc<TokenKeys>) -> Self {
        TokenIssuer { keys }
    }

    pub(crate) fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// Creates a token for the entity of type `T` with id `id`, typically
    /// right after the handler inserted its row.
    ///
    /// # Errors
    ///
    /// [`AuthError::IssueFailed`] if signing or the random number generator
    /// fails; the details go to the server log.
    ///
    /// See [`TokenIssuer`] for an example.
    pub fn register<T: Entity>(&self, id: &T::Id) -> Result<IssuedToken, AuthError> {
        self.keys.issue(T::KIND, id.to_subject())
    }

    /// Creates a fresh token for an authenticated entity. The id comes from
    /// the verified token that authenticated this request, never from the
    /// caller.
    ///
    /// # Errors
    ///
    /// [`AuthError::IssueFailed`], as for [`TokenIssuer::register`].
    ///
    /// See [`TokenIssuer`] for an example.
    pub fn update<T: Entity>(&self, entity: &AuthedEntity<T>) -> Result<IssuedToken, AuthError> {
        self.keys.issue(T::KIND, entity.id().to_subject())
    }

    /// Returns the lifetime of the tokens this issuer creates.
    ///
    /// ```
    /// # use rocket_jwt_router::TokenIssuer;
    /// fn lifetime(issuer: &TokenIssuer) -> u64 {
    ///     issuer.token_ttl().as_secs()
    /// }
    /// ```
    pub fn token_ttl(&self) -> Duration {
        self.keys.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::{providers::Serialized, Figment};

    const NOW: u64 = 1_800_000_000;

    fn keys() -> TokenKeys {
        let figment = Figment::from(Serialized::default("jwt_router.secret", "k".repeat(32)));
        let config = Config::from_figment(&figment).unwrap();
        TokenKeys::new(&config).unwrap().with_clock(Clock::Fixed(NOW))
    }

    #[test]
    fn issue_then_verify() {
        let keys = keys();
        let issued = keys.issue("users", "7".to_owned()).unwrap();
        let claims = keys.verify(&issued.access_token).unwrap();

        assert_eq!(claims.sub, "7");
        assert_eq!(claims.kind, "users");
        assert_eq!(claims.iat, NOW);
        assert_eq!(claims.exp, NOW + 3600);
        assert_eq!(claims.jti.len(), 32);
        assert_eq!(issued.expires_in, 3600);
    }

    #[test]
    fn token_ids_differ() {
        let keys = keys();
        let first = keys.verify(&keys.issue("users", "7".to_owned()).unwrap().access_token).unwrap();
        let second = keys.verify(&keys.issue("users", "7".to_owned()).unwrap().access_token).unwrap();

        assert_ne!(first.jti, second.jti);
    }

    #[test]
    fn expiry_uses_the_clock_and_leeway() {
        let issuer = keys();
        let token = issuer.issue("users", "7".to_owned()).unwrap().access_token;

        let at = |now| keys().with_clock(Clock::Fixed(now)).verify(&token);
        assert!(at(NOW + 3600 + 29).is_ok());
        assert_eq!(at(NOW + 3600 + 30), Err(AuthError::ExpiredToken));
        assert!(at(NOW - 30).is_ok());
        assert_eq!(at(NOW - 31), Err(AuthError::TokenNotYetValid));
    }

    #[test]
    fn overlong_token_is_not_decoded() {
        let keys = keys();
        assert_eq!(keys.verify(&"a".repeat(8 * 1024 + 1)), Err(AuthError::TokenTooLong));
    }
}
