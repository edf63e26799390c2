//! Token verification, token issuing and full requests, each through
//! `rocket::local::asynchronous::Client` unless stated otherwise.
//!
//! - `token_verification/<algorithm>`: `GET /api/v1/ping`, a protected route
//!   without a guard, with a valid token, so only the gate verifies it. HMAC
//!   algorithms use a 64-byte secret; the others use the repository's test
//!   keys in tests/data/keys (RSA 2048 bits, P-256, P-384 and Ed25519).
//! - `token_issuer/register/<algorithm>`: `TokenIssuer::register` called
//!   directly, without a request.
//! - `token_issuer/update_via_request`: `POST /api/v1/token`, whose handler
//!   takes `AuthedEntity<User>` and calls `TokenIssuer::update`. Subtract
//!   `full_request/library/authed_entity` to estimate the cost of `update`.
//! - `full_request/library/*`: rocket_jwt_router on a SQLite file with 10,000
//!   users: the ignored `GET /`, the protected `GET /api/v1/ping` without a
//!   guard, and `GET /api/v1/user` with `AuthedEntity<User>`.
//! - `full_request/hand_written/*`: examples/baseline.rs on the same file:
//!   `GET /bare`, `GET /`, `GET /api/v1/ping` behind a token-only guard and
//!   `GET /api/v1/user` behind a guard that verifies and loads the user.
//!
//! Both applications share one HS256 secret, so the same token, for user
//! 5,000, authenticates on both.

#[allow(dead_code)]
#[path = "../examples/baseline.rs"]
mod baseline;
mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use rocket::serde::json::Json;
use rocket::tokio::runtime::Runtime;
use rocket::{get, post, routes, Build, Rocket, State};
use rocket_db_pools::{sqlx, Database};
use rocket_jwt_router::{AuthError, AuthedEntity, Entity, IssuedToken, JwtRouter, TokenIssuer};
use serde::Serialize;

/// Users in the benchmark database.
const USER_COUNT: u32 = 10_000;

/// The user that the benchmark tokens name.
const USER_ID: i64 = 5_000;

/// Every algorithm that `jwt_router.algorithm` accepts, with its key file in
/// tests/data/keys, or `None` for the HMAC algorithms, which use `SECRET`.
const ALGORITHMS: [(&str, Option<&str>); 12] = [
    ("HS256", None),
    ("HS384", None),
    ("HS512", None),
    ("RS256", Some("rsa-2048.pem")),
    ("RS384", Some("rsa-2048.pem")),
    ("RS512", Some("rsa-2048.pem")),
    ("PS256", Some("rsa-2048.pem")),
    ("PS384", Some("rsa-2048.pem")),
    ("PS512", Some("rsa-2048.pem")),
    ("ES256", Some("ec-p256.pem")),
    ("ES384", Some("ec-p384.pem")),
    ("EdDSA", Some("ed25519.pem")),
];

/// Measurement time of the per-algorithm groups, shorter than the default so
/// that 24 measurements fit the time budget of `cargo bench`.
const ALGORITHM_MEASUREMENT_TIME: Duration = Duration::from_secs(2);

#[derive(Database)]
#[database("app")]
struct AppDb(sqlx::SqlitePool);

#[derive(Clone, sqlx::FromRow, Serialize)]
struct User {
    id: i64,
    name: String,
}

impl Entity for User {
    type Database = AppDb;
    type Id = i64;
    const TABLE: &'static str = "users";
}

#[get("/")]
fn index() -> &'static str {
    baseline::INDEX_BODY
}

#[get("/ping")]
fn ping() -> &'static str {
    baseline::PING_BODY
}

#[get("/user")]
fn me(user: AuthedEntity<User>) -> Json<User> {
    Json(user.into_inner())
}

#[post("/token")]
fn refresh(user: AuthedEntity<User>, issuer: &State<TokenIssuer>) -> Result<Json<IssuedToken>, AuthError> {
    Ok(Json(issuer.update(&user)?))
}

/// Builds the library application: the quickstart's routes plus `GET /api/v1/ping`.
fn library_app(database_url: &str) -> Rocket<Build> {
    let figment = support::figment()
        .merge(("databases.app.url", database_url))
        .merge(("jwt_router.ignored_routes", ["GET /"]));

    rocket::custom(figment)
        .attach(AppDb::init())
        .attach(JwtRouter::fairing())
        .mount("/", routes![index])
        .mount("/api/v1", routes![ping, me, refresh])
}

/// Builds an application with only `GET /api/v1/ping` that signs with
/// `algorithm` and the PEM private key `key_file` of tests/data/keys, or with
/// `SECRET` when `key_file` is `None`.
fn ping_app(algorithm: &str, key_file: Option<&str>) -> Rocket<Build> {
    let figment = match key_file {
        None => support::figment().merge(("jwt_router.algorithm", algorithm)),
        Some(file) => {
            let path = format!("{}/tests/data/keys/{file}", env!("CARGO_MANIFEST_DIR"));
            let signing_key = BTreeMap::from([("kid", "bench"), ("algorithm", algorithm), ("file", path.as_str())]);
            support::quiet_figment().merge(("jwt_router.signing_key", signing_key))
        }
    };

    rocket::custom(figment).attach(JwtRouter::fairing()).mount("/api/v1", routes![ping])
}

/// Returns the `Authorization` value of a fresh token for `USER_ID`.
fn authorization(client: &Client) -> &'static str {
    let issuer = client.rocket().state::<TokenIssuer>().expect("the fairing manages a TokenIssuer");
    let token = issuer.register::<User>(&USER_ID).expect("issuing the benchmark token failed");

    support::bearer(&token.access_token)
}

fn bench_token_verification_and_issuer(criterion: &mut Criterion, runtime: &Runtime) {
    let clients: Vec<(&str, Client)> = ALGORITHMS
        .iter()
        .map(|&(algorithm, key_file)| {
            let client = support::launch(runtime, &format!("ping app {algorithm}"), ping_app(algorithm, key_file));
            (algorithm, client)
        })
        .collect();

    support::print_load_average("token_verification");
    let mut group = criterion.benchmark_group("token_verification");
    group.measurement_time(ALGORITHM_MEASUREMENT_TIME);
    for (algorithm, client) in &clients {
        let authorization = authorization(client);
        let status = runtime.block_on(support::get(client, "/api/v1/ping", Some(authorization)));
        support::expect_status(&format!("GET /api/v1/ping with an {algorithm} token"), status, Status::Ok);

        group.bench_function(*algorithm, |bencher| {
            bencher.to_async(runtime).iter(|| support::get(client, "/api/v1/ping", Some(authorization)));
        });
    }
    group.finish();

    support::print_load_average("token_issuer");
    let mut group = criterion.benchmark_group("token_issuer");
    group.measurement_time(ALGORITHM_MEASUREMENT_TIME);
    for (algorithm, client) in &clients {
        let issuer = client.rocket().state::<TokenIssuer>().expect("the fairing manages a TokenIssuer");
        group.bench_function(format!("register/{algorithm}"), |bencher| {
            bencher.iter(|| issuer.register::<User>(black_box(&USER_ID)).expect("issuing a token failed"));
        });
    }
    group.finish();
}

fn bench_full_requests(criterion: &mut Criterion, runtime: &Runtime, database: &support::UsersDatabase) {
    let library = support::launch(runtime, "library application", library_app(&database.url()));
    let figment = support::figment().merge(("databases.app.url", database.url()));
    let hand_written = support::launch(runtime, "hand-written application", baseline::app(figment));

    // One token serves both applications, because they share the secret and the claims.
    let authorization = authorization(&library);

    let checks: [(&str, &Client, &str, Option<&'static str>); 7] = [
        ("library", &library, "/", None),
        ("library", &library, "/api/v1/ping", Some(authorization)),
        ("library", &library, "/api/v1/user", Some(authorization)),
        ("hand-written", &hand_written, "/bare", None),
        ("hand-written", &hand_written, "/", None),
        ("hand-written", &hand_written, "/api/v1/ping", Some(authorization)),
        ("hand-written", &hand_written, "/api/v1/user", Some(authorization)),
    ];
    for (name, client, path, authorization) in checks {
        let status = runtime.block_on(support::get(client, path, authorization));
        support::expect_status(&format!("{name} GET {path}"), status, Status::Ok);
    }
    let status = runtime.block_on(support::post(&library, "/api/v1/token", Some(authorization)));
    support::expect_status("library POST /api/v1/token", status, Status::Ok);

    support::print_load_average("full_request");
    let mut group = criterion.benchmark_group("full_request");
    let cases: [(&str, &Client, &str, Option<&'static str>); 7] = [
        ("hand_written/bare", &hand_written, "/bare", None),
        ("library/ignored", &library, "/", None),
        ("hand_written/ignored", &hand_written, "/", None),
        ("library/protected_without_guard", &library, "/api/v1/ping", Some(authorization)),
        ("hand_written/token_guard", &hand_written, "/api/v1/ping", Some(authorization)),
        ("library/authed_entity", &library, "/api/v1/user", Some(authorization)),
        ("hand_written/token_guard_and_lookup", &hand_written, "/api/v1/user", Some(authorization)),
    ];
    for (name, client, path, authorization) in cases {
        group.bench_function(name, |bencher| {
            bencher.to_async(runtime).iter(|| support::get(client, path, authorization));
        });
    }
    group.finish();

    support::print_load_average("token_issuer update");
    let mut group = criterion.benchmark_group("token_issuer");
    group.bench_function("update_via_request", |bencher| {
        bencher.to_async(runtime).iter(|| support::post(&library, "/api/v1/token", Some(authorization)));
    });
    group.finish();
}

fn main() {
    let runtime = support::runtime();
    let database = support::UsersDatabase::create(&runtime, USER_COUNT);
    let mut criterion = support::criterion();

    bench_token_verification_and_issuer(&mut criterion, &runtime);
    bench_full_requests(&mut criterion, &runtime, &database);

    criterion.final_summary();
}
