//! Token claims, signing and verification, and the [`TokenIssuer`] state.
//!
//! Verification pins the configured algorithm and checks the time claims
//! against this crate's own clock, so tests can move time without sleeping.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, EntityId};
use crate::error::AuthError;
use crate::guard::AuthedEntity;
use crate::jws::reject_duplicate_keys;
use crate::keys::{KeySet, ACCESS_TOKEN_TYPE};

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
    /// The issuer. Required and compared exactly when `issuer` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience: one string or a list. Required to contain the configured
    /// `audience` exactly when one is configured, and rejected otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

/// The `aud` claim, which RFC 7519 allows as one string or a list.
///
/// ```
/// use rocket_jwt_router::Audience;
///
/// let one: Audience = serde_json::from_str(r#""api""#).unwrap();
/// let many: Audience = serde_json::from_str(r#"["web", "api"]"#).unwrap();
/// assert!(one.contains("api") && many.contains("api") && !many.contains("API"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Returns whether `audience` is one of the values, compared exactly.
    ///
    /// See [`Audience`] for an example.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(value) => value == audience,
            Audience::Many(values) => values.iter().any(|value| value == audience),
        }
    }
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
    keys: KeySet,
    issuer: Option<String>,
    audience: Option<String>,
    ttl: Duration,
    leeway: u64,
    max_token_length: usize,
    clock: Clock,
}

impl TokenKeys {
    /// Builds the token rules from the validated configuration.
    pub(crate) fn new(keys: KeySet, issuer: Option<String>, audience: Option<String>, ttl: Duration, leeway: Duration, max_token_length: usize) -> Self {
        TokenKeys { keys, issuer, audience, ttl, leeway: leeway.as_secs(), max_token_length, clock: Clock::System }
    }

    pub(crate) fn key_set(&self) -> &KeySet {
        &self.keys
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
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audience::One),
        })
    }

    /// Signs `claims` with the signing key, its `kid` and the access-token `typ`.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&self.keys.header(), claims, self.keys.encoding_key()).map_err(|error| {
            log::error!("jwt_router: signing a token failed: {error}");
            AuthError::IssueFailed
        })
    }

    /// Signs a new token for the entity `kind` with id `subject`.
    pub(crate) fn issue(&self, kind: &str, subject: String) -> Result<IssuedToken, AuthError> {
        let claims = self.claims_for(kind, subject)?;
        let access_token = self.sign(&claims)?;

        Ok(IssuedToken { access_token, token_type: "Bearer", expires_in: self.ttl.as_secs() })
    }

    /// Verifies the signature with the key the token's `kid` names, then the
    /// token type, the claims and the time claims.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > self.max_token_length {
            return Err(AuthError::TokenTooLong);
        }

        let verified = self.keys.verify(token).map_err(|_| AuthError::InvalidToken)?;
        if !is_access_token_type(verified.header.typ.as_deref()) {
            return Err(AuthError::InvalidToken);
        }

        reject_duplicate_keys(&verified.payload).map_err(|_| AuthError::InvalidToken)?;
        let claims: Claims = serde_json::from_slice(&verified.payload).map_err(|_| AuthError::InvalidToken)?;

        self.check_times(&claims)?;
        self.check_issuer_and_audience(&claims)?;
        Ok(claims)
    }

    fn check_issuer_and_audience(&self, claims: &Claims) -> Result<(), AuthError> {
        if self.issuer.is_some() && claims.iss != self.issuer {
            return Err(AuthError::InvalidToken);
        }

        // A token meant for some audience is not meant for a server that has
        // none configured (RFC 7519 section 4.1.3).
        let audience_ok = match (&self.audience, &claims.aud) {
            (Some(expected), Some(audience)) => audience.contains(expected),
            (None, None) => true,
            _ => false,
        };
        if !audience_ok {
            return Err(AuthError::InvalidToken);
        }

        Ok(())
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

/// Accepts `at+jwt` and `application/at+jwt` in any case (RFC 9068 section
/// 2.1 and RFC 7515 section 4.1.9), so that no other kind of token, such as
/// a refresh or an ID token, passes as an access token.
fn is_access_token_type(typ: Option<&str>) -> bool {
    let Some(typ) = typ else {
        return false;
    };

    let media_type = typ.get(..12).filter(|prefix| prefix.eq_ignore_ascii_case("application/")).map_or(typ, |_| &typ[12..]);
    media_type.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
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
    use crate::config::Config;
    use rocket::figment::{providers::Serialized, Figment};

    const NOW: u64 = 1_800_000_000;

    fn keys() -> TokenKeys {
        let figment = Figment::from(Serialized::default("jwt_router.secret", "k".repeat(32)));
        let config = Config::from_figment(&figment).unwrap();
        TokenKeys::new(config.keys, None, None, config.token_ttl, config.leeway, config.max_token_length).with_clock(Clock::Fixed(NOW))
    }

    #[test]
    fn access_token_types() {
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
            assert!(is_access_token_type(Some(typ)), "typ {typ}");
        }
        for typ in ["JWT", "jwt", "refresh+jwt", "application/jwt", "at+jwt ", ""] {
            assert!(!is_access_token_type(Some(typ)), "typ {typ}");
        }
        assert!(!is_access_token_type(None));
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
