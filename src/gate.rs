//! The [`JwtRouter`] fairing and the gate route it mounts.
//!
//! The gate is a route at `/<_..>` for every method, ranked before any other
//! route, so Rocket runs it first for every request. It classifies the
//! request, then either forwards it untouched (body included) to the route
//! that would have served it anyway, or responds with 401 itself. A fairing's
//! `on_request` cannot end a request, and `on_response` runs after the
//! handler, so neither can deny before the handler runs.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use rocket::fairing::{self, AdHoc, Fairing, Info, Kind};
use rocket::http::{Method, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::route::{Handler, Outcome, Route};
use rocket::{catch, catchers, Build, Data, Rocket};

use crate::audit::{audit, AuditMode, GATE_ROUTE_NAME};
use crate::cache::EntityCache;
use crate::config::Config;
use crate::entity::{select_statement, Entity, EntityId, EntityPool, LoadStatement};
use crate::error::{json_error_response, AuthError};
use crate::guard::{recorded_denial, verified_claims};
use crate::routes::{Access, RouteTable};
use crate::token::{TokenIssuer, TokenKeys};

/// The per-instance state that the gate and the guards share.
pub(crate) struct JwtState {
    pub(crate) routes: RouteTable,
    pub(crate) keys: Arc<TokenKeys>,
    pub(crate) entity_key: String,
    pub(crate) cache: EntityCache,
    /// Routes already reported for using `AuthedEntity` while being open.
    pub(crate) reported_routes: Mutex<HashSet<String>>,
    /// The lookup statement of each entity type, built on first use.
    statements: RwLock<HashMap<TypeId, Arc<LoadStatement>>>,
}

impl JwtState {
    /// Classifies `req` by its method and decoded path segments.
    ///
    /// The result is not cached in the request, because the lookup costs
    /// fewer instructions than storing a request-local cache entry. Only the
    /// gate and the entity guards' open-route check need it.
    pub(crate) fn access(&self, req: &Request<'_>) -> Access {
        self.routes.classify(req.method(), req.uri().path().segments())
    }

    /// Returns the statement that loads an entity of type `T`, built once.
    pub(crate) fn load_statement<T: Entity>(&self) -> Arc<LoadStatement> {
        let type_id = TypeId::of::<T>();
        if let Some(statement) = self.statements.read().ok().and_then(|statements| statements.get(&type_id).cloned()) {
            return statement;
        }

        let key = T::KEY.unwrap_or(&self.entity_key);
        let dialect = <<T::Database as rocket_db_pools::Database>::Pool as EntityPool>::DIALECT;
        let statement = Arc::new(select_statement(dialect, T::TABLE, key, T::Id::IS_TEXT));

        if let Ok(mut statements) = self.statements.write() {
            statements.insert(type_id, statement.clone());
        }
        statement
    }
}

/// The fairing that protects every route of a Rocket application.
///
/// On ignite it reads the `jwt_router` table (see [`Config`] for every key),
/// aborts launch if a setting is invalid, puts a [`TokenIssuer`] and an
/// [`EntityCache`] into managed state and mounts the gate. From then on every
/// request that matches neither `white_list_routes` nor `ignored_routes`
/// needs a valid bearer token, and gets 401 before any handler runs if it has
/// none.
///
/// ```no_run
/// use rocket::{get, launch, routes};
/// use rocket_jwt_router::JwtRouter;
///
/// #[get("/")]
/// fn index() -> &'static str {
///     "needs a token unless Rocket.toml ignores GET /"
/// }
///
/// #[launch]
/// fn rocket() -> _ {
///     rocket::build().attach(JwtRouter::fairing()).mount("/", routes![index])
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JwtRouter {
    _private: (),
}

impl JwtRouter {
    /// Returns the fairing. Attach it once per Rocket instance.
    ///
    /// See [`JwtRouter`] for an example.
    pub fn fairing() -> Self {
        JwtRouter { _private: () }
    }
}

/// Rank of the gate routes: lower ranks are tried first, so no user route can
/// run before the gate.
const GATE_RANK: isize = isize::MIN;

/// Every method Rocket can route. HEAD is included because Rocket tries HEAD
/// routes before it retries a HEAD request as GET.
const GATE_METHODS: [Method; 9] = [
    Method::Get,
    Method::Head,
    Method::Post,
    Method::Put,
    Method::Delete,
    Method::Patch,
    Method::Options,
    Method::Trace,
    Method::Connect,
];

#[rocket::async_trait]
impl Fairing for JwtRouter {
    fn info(&self) -> Info {
        Info { name: "JwtRouter", kind: Kind::Ignite | Kind::Singleton }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let config = match Config::from_figment(rocket.figment()) {
            Ok(config) => config,
            Err(error) => {
                log::error!("jwt_router: {error}");
                return Err(rocket);
            }
        };

        let Config {
            keys, issuer, audience, token_ttl, leeway, max_token_length, routes, entity_key, entity_cache, catchers, route_audit, jwks_path, ..
        } = config;
        let keys = Arc::new(TokenKeys::new(keys, issuer, audience, token_ttl, leeway, max_token_length));

        for kid in keys.key_set().kids() {
            log::info!("jwt_router: verifies tokens signed with key `{kid}`");
        }

        let jwks_route = jwks_path.map(|path| {
            let mut route = Route::new(Method::Get, &path, JwksDocument(Arc::from(keys.key_set().jwks())));
            route.name = Some("jwt_router JWK Set".into());
            route
        });

        let cache = EntityCache::new(entity_cache);
        if let Some(ttl) = cache.ttl() {
            log::info!("jwt_router: caches loaded entities for {} s", ttl.as_secs());
        }

        let state = Arc::new(JwtState {
            routes,
            keys: keys.clone(),
            entity_key,
            cache: cache.clone(),
            reported_routes: Mutex::default(),
            statements: RwLock::default(),
        });

        let gate = Gate { state: state.clone() };
        let gate_routes: Vec<Route> = GATE_METHODS
            .iter()
            .map(|&method| {
                let mut route = Route::ranked(GATE_RANK, method, "/<_..>", gate.clone());
                route.name = Some(GATE_ROUTE_NAME.into());
                route
            })
            .collect();

        let mode = route_audit;
        let audit_state = state.clone();
        let audit_fairing = AdHoc::try_on_ignite("JwtRouter route audit", move |rocket| async move {
            run_audit(rocket, &audit_state, mode)
        });

        let mut rocket = rocket.manage(state).manage(TokenIssuer::new(keys)).manage(cache).mount("/", gate_routes).attach(audit_fairing);
        if let Some(route) = jwks_route {
            rocket = rocket.mount("/", vec![route]);
        }
        if catchers {
            rocket = rocket.register("/", catchers![unauthorized, unavailable]);
        }

        Ok(rocket)
    }
}

/// Logs the access class of every mounted route and applies `mode` to the
/// problems found. Fairings attached during ignition run after all others, so
/// every route mounted before launch is in the report.
// `fairing::Result` is Rocket's own type for ignite fairings.
#[allow(clippy::result_large_err)]
fn run_audit(rocket: Rocket<Build>, state: &JwtState, mode: AuditMode) -> fairing::Result {
    let report = audit(&rocket, &state.routes);

    log::info!("jwt_router: access of mounted routes:");
    for line in &report.lines {
        log::info!("   >> {line}");
    }

    for problem in &report.problems {
        match mode {
            AuditMode::Abort => log::error!("jwt_router: {problem}"),
            AuditMode::Warn => log::warn!("jwt_router: {problem} (launching anyway because route_audit = \"warn\")"),
        }
    }

    let abort = mode == AuditMode::Abort && !report.problems.is_empty();
    let rocket = rocket.manage(RouteReport { lines: report.lines, problems: report.problems.into_iter().map(|p| p.0).collect() });
    if abort {
        return Err(rocket);
    }

    Ok(rocket)
}

/// The route audit of one Rocket instance, in managed state: the same lines
/// and problems that were logged at launch.
///
/// ```
/// use rocket::local::blocking::Client;
/// use rocket_jwt_router::{JwtRouter, RouteReport};
///
/// #[rocket::get("/")]
/// fn index() {}
///
/// let figment = rocket::figment::Figment::from(rocket::Config::debug_default())
///     .merge(("jwt_router.secret", "an example secret of at least 32 bytes"))
///     .merge(("jwt_router.ignored_routes", ["GET /"]));
/// let rocket = rocket::custom(figment).attach(JwtRouter::fairing()).mount("/", rocket::routes![index]);
/// let client = Client::tracked(rocket).unwrap();
///
/// let report = client.rocket().state::<RouteReport>().unwrap();
/// assert_eq!(report.lines(), ["GET / (index): ignored by `GET /`"]);
/// ```
#[derive(Debug, Clone)]
pub struct RouteReport {
    lines: Vec<String>,
    problems: Vec<String>,
}

impl RouteReport {
    /// Returns one line per mounted route: its method, URI, name and access
    /// class (`protected`, `public by ...` or `ignored by ...`).
    ///
    /// See [`RouteReport`] for an example.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Returns the problems the audit found. Launch only gets this far with
    /// problems when `route_audit = "warn"`.
    ///
    /// See [`RouteReport`] for an example.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

/// The route that publishes the JWK Set of the verification keys. The
/// configuration adds its path to `ignored_routes`, so it is public.
#[derive(Clone)]
struct JwksDocument(Arc<str>);

#[rocket::async_trait]
impl Handler for JwksDocument {
    async fn handle<'r>(&self, req: &'r Request<'_>, _: Data<'r>) -> Outcome<'r> {
        let content_type = rocket::http::ContentType::new("application", "jwk-set+json");
        Outcome::from(req, (content_type, self.0.to_string()))
    }
}

/// The route handler that admits or denies each request.
#[derive(Clone)]
struct Gate {
    state: Arc<JwtState>,
}

#[rocket::async_trait]
impl Handler for Gate {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        match self.admit(req) {
            // The 404 only shows if no user route serves the request.
            Ok(()) => Outcome::forward(data, Status::NotFound),
            Err(error) => Outcome::from(req, error),
        }
    }
}

impl Gate {
    fn admit(&self, req: &Request<'_>) -> Result<(), AuthError> {
        if is_cors_preflight(req) {
            return Ok(());
        }

        match self.state.access(req) {
            Access::Ignored(_) | Access::Public(_) => Ok(()),
            Access::Protected => verified_claims(req, &self.state.keys).as_ref().map(|_| ()).map_err(Clone::clone),
        }
    }
}

/// A CORS preflight carries no credentials by design (Fetch standard), so it
/// must pass without a token for browsers to send the real request.
fn is_cors_preflight(req: &Request<'_>) -> bool {
    let headers = req.headers();

    req.method() == Method::Options && headers.contains("Origin") && headers.contains("Access-Control-Request-Method")
}

/// The response of the catchers: the guard's recorded error, or a generic body
/// for a 401 or 503 that came from somewhere else.
struct CaughtError(Status, Option<AuthError>);

impl<'r> Responder<'r, 'static> for CaughtError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Some(error) = self.1.filter(|error| error.status() == self.0) {
            return error.respond_to(req);
        }

        let description = match self.0.code {
            401 => "The request requires user authentication.",
            _ => "The server is currently unavailable.",
        };
        let challenge = (self.0 == Status::Unauthorized).then(|| "Bearer".to_owned());

        Ok(json_error_response(self.0, description, challenge))
    }
}

#[catch(401)]
fn unauthorized(req: &Request<'_>) -> CaughtError {
    CaughtError(Status::Unauthorized, recorded_denial(req))
}

#[catch(503)]
fn unavailable(req: &Request<'_>) -> CaughtError {
    CaughtError(Status::ServiceUnavailable, recorded_denial(req))
}
