//! Default-deny JSON Web Token authentication for Rocket 0.5.
//!
//! Attach [`JwtRouter::fairing()`] and every route of the application needs a
//! valid `Authorization: Bearer <token>` header, unless the `jwt_router` table
//! of Rocket.toml lists it in `white_list_routes` or `ignored_routes`.
//! [`AuthedEntity<T>`] loads the authenticated entity from the application's
//! rocket_db_pools database, and the managed [`TokenIssuer`] issues tokens.

mod audit;
mod config;
mod entity;
mod error;
mod gate;
mod guard;
mod routes;
mod token;

pub use audit::AuditMode;
pub use config::{Algorithm, Config, ConfigError, CONFIG_KEY};
pub use entity::{BoxFuture, Dialect, Entity, EntityId, EntityPool};
pub use error::AuthError;
pub use gate::{JwtRouter, RouteReport};
pub use guard::AuthedEntity;
pub use token::{Claims, IssuedToken, TokenIssuer};
