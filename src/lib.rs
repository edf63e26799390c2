//! Default-deny JSON Web Token authentication for Rocket 0.5.
//!
//! Attach [`JwtRouter::fairing()`] and every route of the application needs a
//! valid `Authorization: Bearer <token>` header, unless the `jwt_router` table
//! of Rocket.toml lists it in `white_list_routes` or `ignored_routes`. A
//! request without a valid token gets 401 before any handler runs.
//! [`AuthedEntity<T>`] loads the authenticated entity from the application's
//! rocket_db_pools database, and the managed [`TokenIssuer`] issues tokens.
//!
//! # Setup
//!
//! 1. Describe the authenticated table with [`Entity`].
//! 2. Attach the database and [`JwtRouter::fairing()`].
//! 3. Take [`AuthedEntity<T>`] in handlers that need the entity,
//!    [`OptionalEntity<T>`] in handlers that also serve anonymous requests,
//!    [`Claims`] where the verified claims suffice, and `&State<TokenIssuer>`
//!    in handlers that issue tokens.
//! 4. Configure the `jwt_router` table (see [`Config`] for every key),
//!    including where the key comes from: an HMAC secret, or an asymmetric
//!    `signing_key` with `verify_keys` for rotation.
//! 5. Test with [`testing`]: one-line authorized requests from a
//!    `rocket::local` client, and faulty tokens for negative tests.
//! 6. Optionally set `entity_cache_ttl` to serve loaded entities from the
//!    [`EntityCache`] instead of querying on every request, and invalidate
//!    entries when rows change.
//!
//! ```no_run
//! use rocket::serde::json::Json;
//! use rocket::{get, launch, post, routes, State};
//! use serde::Deserialize;
//! use rocket_db_pools::{sqlx, Connection, Database};
//! use rocket_jwt_router::{AuthError, AuthedEntity, Entity, IssuedToken, JwtRouter, TokenIssuer};
//!
//! #[derive(Database)]
//! #[database("app")]
//! struct AppDb(sqlx::SqlitePool);
//!
//! #[derive(Clone, sqlx::FromRow, serde::Serialize)]
//! struct User {
//!     id: i64,
//!     name: String,
//! }
//!
//! impl Entity for User {
//!     type Database = AppDb;
//!     type Id = i64;
//!     const TABLE: &'static str = "users";
//! }
//!
//! #[derive(Deserialize)]
//! struct NewUser {
//!     name: String,
//! }
//!
//! // Public: listed in white_list_routes.
//! #[post("/register", data = "<new_user>")]
//! async fn register(
//!     mut db: Connection<AppDb>,
//!     issuer: &State<TokenIssuer>,
//!     new_user: Json<NewUser>,
//! ) -> Result<Json<IssuedToken>, AuthError> {
//!     // The table must exist; create it in a migration or an ignite fairing.
//!     let id: i64 = sqlx::query_scalar("INSERT INTO users (name) VALUES (?) RETURNING id")
//!         .bind(&new_user.name)
//!         .fetch_one(&mut **db)
//!         .await
//!         .map_err(|_| AuthError::DatabaseUnavailable)?;
//!
//!     Ok(Json(issuer.register::<User>(&id)?))
//! }
//!
//! // Protected: the gate requires a token, and the guard loads the user.
//! #[get("/user")]
//! fn me(user: AuthedEntity<User>) -> Json<User> {
//!     Json(user.into_inner())
//! }
//!
//! // Protected: a fresh token for the same user.
//! #[post("/token")]
//! fn refresh(user: AuthedEntity<User>, issuer: &State<TokenIssuer>) -> Result<Json<IssuedToken>, AuthError> {
//!     Ok(Json(issuer.update(&user)?))
//! }
//!
//! #[launch]
//! fn rocket() -> _ {
//!     rocket::build()
//!         .attach(AppDb::init())
//!         .attach(JwtRouter::fairing())
//!         .mount("/api/v1", routes![register, me, refresh])
//! }
//! ```
//!
//! ```toml
//! [default.databases.app]
//! url = "sqlite://app.db?mode=rwc"
//!
//! [default.jwt_router]
//! api_name = "/api/v1"                    # prefixed to white_list_routes only
//! white_list_routes = [["POST", "/register"]]
//! ignored_routes = []
//! secret_file = "/run/secrets/jwt-secret" # or secret_env = "JWT_SECRET"
//! token_ttl = "1h"
//! ```
//!
//! # What launch checks
//!
//! Launch aborts with a message that names the key and the fix in three cases:
//! - a setting is invalid (see [`ConfigError`]);
//! - a white-list or ignored entry matches no mounted route, or opens a
//!   mounted route with a different pattern (see [`RouteReport`]);
//! - a route uses [`AuthedEntity<T>`] without the fairing or `T`'s database
//!   attached.
//!
//! # Responses
//!
//! Every denial is an [`AuthError`]: 401 with a JSON body in the shape of
//! Rocket's default JSON catcher and an RFC 6750 `WWW-Authenticate` header, or
//! 503 when the database is unavailable.

#![warn(missing_docs)]

mod algorithm;
mod audit;
mod cache;
mod config;
mod entity;
mod error;
mod gate;
mod guard;
pub mod jws;
mod key_config;
mod keys;
mod optional;
mod routes;
pub mod testing;
mod token;

pub use audit::AuditMode;
pub use cache::EntityCache;
pub use algorithm::Algorithm;
pub use config::{Config, ConfigError, CONFIG_KEY};
pub use entity::{BoxFuture, Dialect, Entity, EntityId, EntityPool, FetchError, LoadStatement};
pub use error::AuthError;
pub use gate::{JwtRouter, RouteReport};
pub use guard::AuthedEntity;
pub use optional::OptionalEntity;
pub use keys::{KeyError, VerificationKey};
pub use token::{Audience, Claims, IssuedToken, TokenIssuer};
