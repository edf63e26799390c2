//! [`OptionalEntity`], the guard for routes that serve anonymous and
//! signed-in users alike.
//!
//! Rocket's built-in `Option<T>` guard turns every failure into `None`, so an
//! expired or forged token would be served as if no token had been sent. This
//! guard returns `None` only when the request has no `Authorization` header.

use std::ops::Deref;

use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};
use rocket_db_pools::Database;

use crate::entity::{Entity, EntityPool};
use crate::guard::{authenticate, guard_outcome, AuthedEntity};

type Backend<T> = <<<T as Entity>::Database as Database>::Pool as EntityPool>::Backend;

/// The entity of the request's bearer token, or `None` when the request has
/// no `Authorization` header.
///
/// A request that sends a token which fails any check (malformed, expired,
/// forged, wrong kind, row deleted) is denied exactly as by
/// [`AuthedEntity`], so a bad token is never served as anonymous.
///
/// List the route in `white_list_routes` so that the gate lets anonymous
/// requests through.
///
/// ```
/// # use rocket_db_pools::{sqlx, Database};
/// # use rocket_jwt_router::Entity;
/// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
/// # #[derive(sqlx::FromRow)] struct User { id: i64, name: String }
/// # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
/// use rocket::get;
/// use rocket_jwt_router::OptionalEntity;
///
/// #[get("/greeting")]
/// fn greeting(user: OptionalEntity<User>) -> String {
///     match user.as_ref() {
///         Some(user) => format!("Hello, {}!", user.name),
///         None => "Hello, stranger!".to_owned(),
///     }
/// }
/// ```
pub struct OptionalEntity<T: Entity>(Option<AuthedEntity<T>>);

impl<T: Entity> OptionalEntity<T> {
    /// Returns the authenticated entity, if the request sent a token.
    ///
    /// ```
    /// # use rocket_db_pools::{sqlx, Database};
    /// # use rocket_jwt_router::Entity;
    /// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
    /// # #[derive(sqlx::FromRow)] struct User { id: i64 }
    /// # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
    /// use rocket_jwt_router::OptionalEntity;
    ///
    /// fn user_id(user: OptionalEntity<User>) -> Option<i64> {
    ///     user.into_option().map(|user| user.id)
    /// }
    /// ```
    pub fn into_option(self) -> Option<AuthedEntity<T>> {
        self.0
    }
}

impl<T: Entity> Deref for OptionalEntity<T> {
    type Target = Option<AuthedEntity<T>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r, T> FromRequest<'r> for OptionalEntity<T>
where
    T: Entity + for<'row> sqlx::FromRow<'row, <Backend<T> as sqlx::Database>::Row>,
    T::Id: for<'q> sqlx::Encode<'q, Backend<T>> + sqlx::Type<Backend<T>>,
{
    type Error = crate::AuthError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        if !req.headers().contains("Authorization") {
            return Outcome::Success(OptionalEntity(None));
        }

        // Straight to `authenticate`, because `AuthedEntity`'s own guard would
        // warn that an open route demands a token, which is this guard's point.
        let result = authenticate::<T>(req).await.map(|entity| OptionalEntity(Some(entity)));
        guard_outcome(req, result)
    }
}

impl<T: Entity> Sentinel for OptionalEntity<T> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        <AuthedEntity<T> as Sentinel>::abort(rocket)
    }
}
