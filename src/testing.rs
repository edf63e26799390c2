//! Helpers for the tests of applications that use this crate: mint a valid or
//! deliberately faulty token through the application's own [`TokenIssuer`],
//! and send an authorized request from a `rocket::local` client in one line,
//! without knowing the secret.
//!
//! ```
//! # use rocket_db_pools::{sqlx, Database};
//! # use rocket_jwt_router::Entity;
//! # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
//! # #[derive(sqlx::FromRow)] struct User { id: i64 }
//! # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
//! use rocket::http::Status;
//! use rocket::local::blocking::Client;
//! use rocket_jwt_router::testing::{LocalRequestExt, TokenFault};
//! use rocket_jwt_router::{JwtRouter, TokenIssuer};
//!
//! #[rocket::get("/hello")]
//! fn hello() -> &'static str {
//!     "hello"
//! }
//!
//! let figment = rocket::figment::Figment::from(rocket::Config::debug_default())
//!     .merge(("jwt_router.secret", "an example secret of at least 32 bytes"));
//! let rocket = rocket::custom(figment).attach(JwtRouter::fairing()).mount("/", rocket::routes![hello]);
//! let client = Client::tracked(rocket).unwrap();
//!
//! let response = client.get("/hello").authenticated_as::<User>(&1).dispatch();
//! assert_eq!(response.status(), Status::Ok);
//!
//! let issuer = client.rocket().state::<TokenIssuer>().unwrap();
//! let expired = issuer.faulty_token::<User>(&1, TokenFault::Expired);
//! assert_eq!(client.get("/hello").bearer(&expired).dispatch().status(), Status::Unauthorized);
//! ```

use rocket::figment::Figment;
use rocket::http::Header;
use rocket::local::{asynchronous, blocking};
use rocket::Request;

use crate::entity::{Entity, EntityId};
use crate::token::TokenIssuer;

/// Returns `figment` with a fresh random HS256 secret as the only key source,
/// so that a test can launch an application whose Rocket.toml reads its key
/// from a file or an environment variable that the test machine lacks.
///
/// Every other key setting (`secret_file`, `secret_env`, `signing_key`,
/// `verify_keys`, `algorithm`) is cleared; route and token settings stay.
///
/// ```
/// use rocket::local::blocking::Client;
/// use rocket_jwt_router::testing::with_test_secret;
/// use rocket_jwt_router::JwtRouter;
///
/// #[rocket::get("/")]
/// fn index() {}
///
/// // As if Rocket.toml contained `secret_env = "VARIABLE_THE_TEST_LACKS"`.
/// let figment = rocket::figment::Figment::from(rocket::Config::debug_default())
///     .merge(("jwt_router.secret_env", "VARIABLE_THE_TEST_LACKS"));
/// let rocket = rocket::custom(with_test_secret(figment)).attach(JwtRouter::fairing()).mount("/", rocket::routes![index]);
/// assert!(Client::tracked(rocket).is_ok());
/// ```
///
/// # Panics
///
/// If the operating system's random number generator fails.
pub fn with_test_secret(figment: Figment) -> Figment {
    let mut secret = [0_u8; 32];
    getrandom::fill(&mut secret).expect("the random number generator failed");
    let secret: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();

    ["secret_file", "secret_env", "signing_key", "verify_keys", "algorithm"]
        .into_iter()
        .fold(figment, |figment, name| figment.merge((format!("jwt_router.{name}"), None::<String>)))
        .merge(("jwt_router.secret", secret))
}

/// The defect of a token from [`TokenIssuer::faulty_token`].
///
/// See the [module documentation](self) for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFault {
    /// `exp` lies a minute beyond the leeway in the past.
    Expired,
    /// `iat` and `nbf` lie an hour beyond the leeway in the future.
    NotYetValid,
    /// Signed by the application's key, with one bit of the signature flipped.
    BadSignature,
    /// Issued for another entity kind than `T`'s.
    WrongKind,
}

impl TokenIssuer {
    /// Mints a token for the entity of type `T` with id `id` that the
    /// application must reject, for negative tests.
    ///
    /// # Panics
    ///
    /// If signing fails, which only a broken random number generator causes.
    ///
    /// See the [module documentation](self) for an example.
    pub fn faulty_token<T: Entity>(&self, id: &T::Id, fault: TokenFault) -> String {
        let keys = self.keys();
        let mut claims = keys.claims_for(T::KIND, id.to_subject()).expect("the random number generator failed");
        let leeway = keys.leeway();

        match fault {
            TokenFault::Expired => {
                claims.exp = claims.iat.saturating_sub(leeway + 60);
                claims.iat = claims.exp.saturating_sub(keys.ttl().as_secs());
            }
            TokenFault::NotYetValid => {
                claims.iat += leeway + 3600;
                claims.nbf = Some(claims.iat);
                claims.exp = claims.iat + keys.ttl().as_secs();
            }
            TokenFault::WrongKind => claims.kind = format!("not-{}", T::KIND),
            TokenFault::BadSignature => {}
        }

        let token = keys.sign(&claims).expect("signing a test token failed");
        if fault == TokenFault::BadSignature {
            return corrupt_signature(&token);
        }
        token
    }
}

/// Flips one bit of the signature, which keeps the token well-formed for
/// every algorithm but makes verification fail.
fn corrupt_signature(token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    let (signed, signature) = token.rsplit_once('.').expect("a signed token has three parts");
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("the signature is base64url");
    bytes[0] ^= 0x01;

    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Adds bearer tokens to requests of `rocket::local` clients.
///
/// Implemented for both the asynchronous and the blocking `LocalRequest`.
/// See the [module documentation](self) for an example.
pub trait LocalRequestExt: Sized {
    /// Adds `Authorization: Bearer <token>`.
    fn bearer(self, token: &str) -> Self;

    /// Adds a valid token for the entity of type `T` with id `id`, minted by
    /// the application's own [`TokenIssuer`].
    ///
    /// # Panics
    ///
    /// If `JwtRouter::fairing()` is not attached to the client's Rocket.
    fn authenticated_as<T: Entity>(self, id: &T::Id) -> Self;
}

fn token_for<T: Entity>(request: &Request<'_>, id: &T::Id) -> String {
    let issuer = request
        .rocket()
        .state::<TokenIssuer>()
        .expect("`authenticated_as` needs `JwtRouter::fairing()` attached to the client's Rocket");

    issuer.register::<T>(id).expect("issuing a test token failed").access_token
}

impl LocalRequestExt for asynchronous::LocalRequest<'_> {
    fn bearer(self, token: &str) -> Self {
        self.header(Header::new("Authorization", format!("Bearer {token}")))
    }

    fn authenticated_as<T: Entity>(self, id: &T::Id) -> Self {
        let token = token_for::<T>(self.inner(), id);
        self.bearer(&token)
    }
}

impl LocalRequestExt for blocking::LocalRequest<'_> {
    fn bearer(self, token: &str) -> Self {
        self.header(Header::new("Authorization", format!("Bearer {token}")))
    }

    fn authenticated_as<T: Entity>(self, id: &T::Id) -> Self {
        let token = token_for::<T>(self.inner(), id);
        self.bearer(&token)
    }
}
