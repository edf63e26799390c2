//! The smallest application protected by rocket_jwt_router: one route,
//! `GET /api/v1/ping`, that needs a valid token but takes no guard, so only
//! the gate checks the token. `bench/load.sh` measures it against the
//! token-only guard of examples/baseline.rs; the quickstart has no such route.
//!
//! It reads Rocket's configuration like the quickstart (Rocket.toml, or the
//! file named by ROCKET_CONFIG, then `ROCKET_*` environment variables) for the
//! secret and every other `jwt_router` key, except `white_list_routes` and
//! `ignored_routes`: this file sets both to empty lists, because the route
//! audit would reject the quickstart's entries, whose routes are not mounted
//! here. Run it with
//! `ROCKET_PORT=8002 cargo run --release --example bench_app`.

use rocket::get;
use rocket::routes;
use rocket_jwt_router::JwtRouter;

/// The body of `GET /api/v1/ping`, equal to examples/baseline.rs.
const PING_BODY: &str = "pong\n";

#[get("/ping")]
fn ping() -> &'static str {
    PING_BODY
}

#[rocket::launch]
fn rocket() -> _ {
    let no_routes: [&str; 0] = [];
    let figment = rocket::Config::figment()
        .merge(("jwt_router.white_list_routes", no_routes))
        .merge(("jwt_router.ignored_routes", no_routes));

    rocket::custom(figment).attach(JwtRouter::fairing()).mount("/api/v1", routes![ping])
}
