//! The [`AuthedEntity`] request guard, and bearer-token extraction shared by
//! the guard and the gate.
//!
//! A guard never trusts the gate: it verifies the token itself, even on a
//! public route. When the gate has already verified the token of the same
//! request, the guard reuses that result from the request-local cache, so a
//! request is verified at most once.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};
use rocket_db_pools::Database;

use crate::cache::Lookup;
use crate::entity::{is_unavailable, validate_identifier, validate_table, Entity, EntityId, EntityPool, FetchError};
use crate::error::AuthError;
use crate::gate::JwtState;
use crate::routes::Access;
use crate::token::{Claims, TokenKeys};

/// The sqlx driver behind the database of entity type `T`.
type Backend<T> = <<<T as Entity>::Database as Database>::Pool as EntityPool>::Backend;

/// Returns the bearer token of `req`.
///
/// Accepts exactly one `Authorization` header of the form `Bearer <token>`,
/// with the scheme in any case, one space, and a token of RFC 6750 `b64token`
/// characters no longer than `max_length` bytes.
pub(crate) fn bearer_token<'r>(req: &'r Request<'_>, max_length: usize) -> Result<&'r str, AuthError> {
    let mut values = req.headers().get("Authorization");
    let value = values.next().ok_or(AuthError::MissingToken)?;
    if values.next().is_some() {
        return Err(AuthError::MalformedHeader);
    }

    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::UnsupportedScheme);
    }

    if token.len() > max_length {
        return Err(AuthError::TokenTooLong);
    }

    if !is_b64token(token) {
        return Err(AuthError::MalformedHeader);
    }

    Ok(token)
}

/// Checks RFC 6750 section 2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    let valid_body = body.bytes().all(|b| B64TOKEN_BYTES[usize::from(b)]);

    !body.is_empty() && valid_body
}

/// The bytes allowed in a `b64token` before its trailing `=`, as a table
/// because every protected request checks each byte of its token.
const B64TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        byte += 1;
    }
    table
};

/// The outcome of verifying the bearer token of one request.
struct VerifiedToken(Result<Arc<Claims>, AuthError>);

/// Verifies the bearer token of `req` once per request and caches the result.
pub(crate) fn verified_claims<'r>(req: &'r Request<'_>, keys: &TokenKeys) -> &'r Result<Arc<Claims>, AuthError> {
    verify_once(req, keys).0
}

/// Returns what [`verified_claims`] returns, and whether this call did the
/// verification, which means that nothing verified the token before it.
fn verify_once<'r>(req: &'r Request<'_>, keys: &TokenKeys) -> (&'r Result<Arc<Claims>, AuthError>, bool) {
    let mut verified_now = false;
    let verified = req.local_cache(|| {
        verified_now = true;
        let claims = bearer_token(req, keys.max_token_length()).and_then(|token| keys.verify(token)).map(Arc::new);
        VerifiedToken(claims)
    });

    (&verified.0, verified_now)
}

/// The last error that a guard of this crate returned for the request, for the
/// catchers to send.
#[derive(Default)]
struct GuardDenial(Mutex<Option<AuthError>>);

fn record_denial(req: &Request<'_>, error: &AuthError) {
    let slot = req.local_cache(GuardDenial::default);
    if let Ok(mut denial) = slot.0.lock() {
        *denial = Some(error.clone());
    }
}

/// Returns the error that a guard of this crate recorded for `req`, if any.
pub(crate) fn recorded_denial(req: &Request<'_>) -> Option<AuthError> {
    req.local_cache(GuardDenial::default).0.lock().ok().and_then(|denial| denial.clone())
}

/// A request guard for the entity that the request's bearer token names.
///
/// The guard verifies the token, checks that it was issued for `T`'s
/// [`Entity::KIND`], parses `sub` strictly into `T::Id` and loads the row from
/// `T::Database`, or takes it from the [`EntityCache`](crate::EntityCache)
/// when that is on. It enforces authentication on every route it is used on,
/// public ones included.
///
/// | failure | status |
/// |---|---|
/// | no, malformed or invalid token; wrong entity kind; invalid subject; row not found | 401 |
/// | database unreachable or pool timed out | 503 |
/// | the row does not decode into `T`, or another database error | 500 |
///
/// ```
/// # use rocket_db_pools::{sqlx, Database};
/// # use rocket_jwt_router::Entity;
/// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
/// # #[derive(sqlx::FromRow, serde::Serialize)] struct User { id: i64, name: String }
/// # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
/// use rocket::get;
/// use rocket_jwt_router::AuthedEntity;
///
/// #[get("/user")]
/// fn me(user: AuthedEntity<User>) -> String {
///     format!("{} has id {}", user.name, user.id())
/// }
/// ```
///
/// Launch aborts when a route uses this guard but `JwtRouter::fairing()` or
/// `T::Database`'s fairing is not attached, or when `T::TABLE` or its key
/// column is not a plain SQL identifier.
pub struct AuthedEntity<T: Entity> {
    entity: Arc<T>,
    id: T::Id,
    claims: Arc<Claims>,
}

impl<T: Entity> AuthedEntity<T> {
    /// Returns the entity's id, parsed from the verified token's `sub`.
    ///
    /// See [`AuthedEntity`] for an example.
    pub fn id(&self) -> &T::Id {
        &self.id
    }

    /// Returns the verified claims of the request's token.
    ///
    /// ```
    /// # use rocket_db_pools::{sqlx, Database};
    /// # use rocket_jwt_router::Entity;
    /// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
    /// # #[derive(sqlx::FromRow)] struct User { id: i64 }
    /// # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
    /// use rocket_jwt_router::AuthedEntity;
    ///
    /// #[rocket::get("/token/expiry")]
    /// fn expiry(user: AuthedEntity<User>) -> String {
    ///     user.claims().exp.to_string()
    /// }
    /// ```
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Returns the loaded entity.
    ///
    /// The row is moved out without a copy, unless the
    /// [`EntityCache`](crate::EntityCache) also contains it. Then it is cloned.
    /// [`AuthedEntity::into_shared`] never copies and needs no `Clone`.
    ///
    /// ```
    /// # use rocket_db_pools::{sqlx, Database};
    /// # use rocket_jwt_router::Entity;
    /// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
    /// # #[derive(Clone, sqlx::FromRow, serde::Serialize)] struct User { id: i64 }
    /// # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
    /// use rocket::serde::json::Json;
    /// use rocket_jwt_router::AuthedEntity;
    ///
    /// #[rocket::get("/user")]
    /// fn me(user: AuthedEntity<User>) -> Json<User> {
    ///     Json(user.into_inner())
    /// }
    /// ```
    pub fn into_inner(self) -> T
    where
        T: Clone,
    {
        Arc::unwrap_or_clone(self.entity)
    }

    /// Returns the loaded entity as shared with the
    /// [`EntityCache`](crate::EntityCache), for entity types that are not
    /// `Clone` or are expensive to copy.
    ///
    /// ```
    /// # use rocket_db_pools::{sqlx, Database};
    /// # use rocket_jwt_router::Entity;
    /// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
    /// # #[derive(sqlx::FromRow)] struct User { id: i64, name: String }
    /// # impl Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
    /// use std::sync::Arc;
    /// use rocket_jwt_router::AuthedEntity;
    ///
    /// fn keep_for_later(user: AuthedEntity<User>) -> Arc<User> {
    ///     user.into_shared()
    /// }
    /// ```
    pub fn into_shared(self) -> Arc<T> {
        self.entity
    }
}

impl<T: Entity> Deref for AuthedEntity<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.entity
    }
}

impl<T: Entity + fmt::Debug> fmt::Debug for AuthedEntity<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthedEntity").field("entity", &self.entity).field("claims", &self.claims).finish()
    }
}

#[rocket::async_trait]
impl<'r, T> FromRequest<'r> for AuthedEntity<T>
where
    T: Entity + for<'row> sqlx::FromRow<'row, <Backend<T> as sqlx::Database>::Row>,
    T::Id: for<'q> sqlx::Encode<'q, Backend<T>> + sqlx::Type<Backend<T>>,
{
    type Error = AuthError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, AuthError> {
        // The gate verifies the token of every request to a protected route
        // before any guard runs. So only a request whose token is not
        // verified yet can be on an open route, and only it is classified.
        if let Some(state) = req.rocket().state::<Arc<JwtState>>() {
            if verify_once(req, &state.keys).1 {
                report_guard_on_open_route::<T>(req, state);
            }
        }

        guard_outcome(req, authenticate::<T>(req).await)
    }
}

/// Turns the result of [`authenticate`] into a guard outcome, recording a
/// denial for the catchers.
pub(crate) fn guard_outcome<S>(req: &Request<'_>, result: Result<S, AuthError>) -> Outcome<S, AuthError> {
    match result {
        Ok(value) => Outcome::Success(value),
        Err(error) => {
            record_denial(req, &error);
            Outcome::Error((error.status(), error))
        }
    }
}

/// Verifies the request's token and loads its entity of type `T`.
pub(crate) async fn authenticate<T>(req: &Request<'_>) -> Result<AuthedEntity<T>, AuthError>
where
    T: Entity + for<'row> sqlx::FromRow<'row, <Backend<T> as sqlx::Database>::Row>,
    T::Id: for<'q> sqlx::Encode<'q, Backend<T>> + sqlx::Type<Backend<T>>,
{
    let Some(state) = req.rocket().state::<Arc<JwtState>>() else {
        log::error!("jwt_router: `AuthedEntity` was used without `JwtRouter::fairing()` attached");
        return Err(AuthError::EntityLoadFailed);
    };

    let claims = verified_claims(req, &state.keys).clone()?;
    if claims.kind != T::KIND {
        return Err(AuthError::WrongEntityKind);
    }

    let id = T::Id::parse_subject(&claims.sub).ok_or(AuthError::InvalidSubject)?;

    // A custom `EntityId` may parse several spellings of one id. Only the
    // canonical one is accepted, so that one id has one subject and
    // `EntityCache::invalidate` finds the entry that requests use.
    if !T::Id::PARSES_ONLY_CANONICAL && id.to_subject() != claims.sub {
        return Err(AuthError::InvalidSubject);
    }

    let entity = match state.cache.lookup::<T>(&claims.sub) {
        Lookup::Hit(entity) => entity,
        Lookup::Miss(ticket) => {
            let entity = Arc::new(load_entity::<T>(req.rocket(), state, id.clone()).await?);
            if let Some(ticket) = ticket {
                state.cache.store(ticket, &claims.sub, entity.clone());
            }
            entity
        }
    };

    Ok(AuthedEntity { entity, id, claims })
}

/// Warns once per route when a route that the configuration opens still takes
/// an `AuthedEntity`, which then demands a token anyway. Rocket 0.5 does not
/// expose a route's guard types to fairings, so this is reported on the first
/// request rather than at launch.
///
/// NOTE: when another guard of this crate, or an earlier route that forwarded,
/// verified the token first, the warning is not given for that request.
fn report_guard_on_open_route<T: Entity>(req: &Request<'_>, state: &JwtState) {
    let entry = match state.access(req) {
        Access::Public(entry) | Access::Ignored(entry) => &state.routes.entries()[entry],
        Access::Protected => return,
    };

    let route = req.route().map_or_else(|| req.uri().path().to_string(), |route| format!("{} {}", route.method, route.uri));
    let first_time = state.reported_routes.lock().map(|mut reported| reported.insert(route.clone())).unwrap_or(false);
    if first_time {
        log::warn!(
            "jwt_router: route {route} is opened by the {} entry `{}` but takes `AuthedEntity<{}>`, which still \
             requires a valid token; use `OptionalEntity` for routes that also serve anonymous requests",
            entry.list.key(),
            entry.source,
            std::any::type_name::<T>(),
        );
    }
}

async fn load_entity<T>(rocket: &Rocket<rocket::Orbit>, state: &JwtState, id: T::Id) -> Result<T, AuthError>
where
    T: Entity + for<'row> sqlx::FromRow<'row, <Backend<T> as sqlx::Database>::Row>,
    T::Id: for<'q> sqlx::Encode<'q, Backend<T>> + sqlx::Type<Backend<T>>,
{
    let Some(database) = T::Database::fetch(rocket) else {
        return Err(AuthError::EntityLoadFailed);
    };

    let pool: &<T::Database as Database>::Pool = database;
    let statement = state.load_statement::<T>();

    match pool.fetch_entity::<T, T::Id>(&statement, id).await {
        Ok(Some(entity)) => Ok(entity),
        Ok(None) => Err(AuthError::EntityNotFound),
        Err(error) => Err(classify_fetch_error::<T>(&error)),
    }
}

/// Maps a failed load to 503 when the database cannot be reached or is
/// overloaded, and to 500 when the statement itself failed.
fn classify_fetch_error<T: Entity>(error: &FetchError) -> AuthError {
    let entity = std::any::type_name::<T>();

    match error {
        // Any failure to get a connection, including an authentication or
        // "database does not exist" error while reconnecting, means the
        // database cannot serve requests right now.
        FetchError::Acquire(error) => {
            log::warn!("jwt_router: loading entity `{entity}` failed: no database connection: {error}");
            AuthError::DatabaseUnavailable
        }
        FetchError::Query(error) if is_unavailable(error) => {
            log::warn!("jwt_router: loading entity `{entity}` failed: the database connection broke: {error}");
            AuthError::DatabaseUnavailable
        }
        FetchError::Query(error) => {
            log::error!("jwt_router: loading entity `{entity}` from table `{}` failed: {error}", T::TABLE);
            AuthError::EntityLoadFailed
        }
    }
}

/// The verified claims of the request's bearer token, without a database
/// lookup.
///
/// ```
/// use rocket::get;
/// use rocket_jwt_router::Claims;
///
/// #[get("/whoami")]
/// fn whoami(claims: Claims) -> String {
///     format!("{} {}", claims.kind, claims.sub)
/// }
/// ```
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Claims {
    type Error = AuthError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, AuthError> {
        let Some(state) = req.rocket().state::<Arc<JwtState>>() else {
            log::error!("jwt_router: the `Claims` guard was used without `JwtRouter::fairing()` attached");
            return Outcome::Error((AuthError::EntityLoadFailed.status(), AuthError::EntityLoadFailed));
        };

        let claims = verified_claims(req, &state.keys).as_ref().map(|claims| Claims::clone(claims)).map_err(Clone::clone);
        guard_outcome(req, claims)
    }
}

impl Sentinel for Claims {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        if rocket.state::<Arc<JwtState>>().is_some() {
            return false;
        }

        log::error!(
            "jwt_router: a route uses the `Claims` guard but `JwtRouter::fairing()` is not attached; \
             add `.attach(JwtRouter::fairing())` to the Rocket build"
        );
        true
    }
}

impl<T: Entity> Sentinel for AuthedEntity<T> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        let name = std::any::type_name::<T>();

        let Some(state) = rocket.state::<Arc<JwtState>>() else {
            log::error!(
                "jwt_router: a route uses `AuthedEntity<{name}>` but `JwtRouter::fairing()` is not attached; \
                 add `.attach(JwtRouter::fairing())` to the Rocket build"
            );
            return true;
        };

        if rocket.state::<T::Database>().is_none() {
            let database = std::any::type_name::<T::Database>();
            log::error!(
                "jwt_router: a route uses `AuthedEntity<{name}>` but its database `{database}` is not attached; \
                 add `.attach({database}::init())` to the Rocket build"
            );
            return true;
        }

        if let Err(reason) = validate_table(T::TABLE) {
            log::error!("jwt_router: `{name}::TABLE`: {reason}");
            return true;
        }

        let key = T::KEY.unwrap_or(&state.entity_key);
        if let Err(reason) = validate_identifier(key) {
            log::error!("jwt_router: the key column of `{name}`: {reason}");
            return true;
        }

        false
    }
}

#[cfg(test)]
mod tests {
    use super::is_b64token;

    #[test]
    fn b64token_syntax() {
        assert!(is_b64token("abc.DEF-_~+/"));
        assert!(is_b64token("abc=="));
        assert!(!is_b64token(""));
        assert!(!is_b64token("=="));
        assert!(!is_b64token(" abc"));
        assert!(!is_b64token("a=b"));
        assert!(!is_b64token("a b"));
        assert!(!is_b64token("a,b"));
    }
}
