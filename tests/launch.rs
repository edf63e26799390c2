//! Launch-time checks: every invalid setting, every route-audit problem and
//! every missing fairing aborts launch with a log message that names the key
//! or the type and says how to fix it.
//!
//! This binary installs its own logger before Rocket can install one, so the
//! tests read what the library logged. The tests hold one lock while they run
//! so that their log lines do not mix.

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use common::TempDatabase;
use rocket::local::asynchronous::Client;
use rocket::{get, routes, Build, Rocket};
use rocket_db_pools::Database;
use rocket_jwt_router::{AuthedEntity, Entity, JwtRouter, RouteReport};

/// A logger that keeps every message, for the test that has locked [`serial`].
struct CapturingLogger;

static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for CapturingLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        MESSAGES.lock().unwrap().push(format!("{}: {}", record.level(), record.args()));
    }

    fn flush(&self) {}
}

/// Installs the logger once and serializes the tests of this binary.
fn serial() -> MutexGuard<'static, ()> {
    static LOGGER: OnceLock<()> = OnceLock::new();
    static SERIAL: Mutex<()> = Mutex::new(());

    LOGGER.get_or_init(|| {
        log::set_logger(&CapturingLogger).expect("this binary sets the logger before Rocket does");
        log::set_max_level(log::LevelFilter::Info);
    });

    let guard = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    MESSAGES.lock().unwrap().clear();
    guard
}

fn messages() -> Vec<String> {
    MESSAGES.lock().unwrap().clone()
}

fn assert_logged(fragments: &[&str]) {
    let messages = messages();
    let found = messages.iter().any(|message| fragments.iter().all(|fragment| message.contains(fragment)));
    assert!(found, "no log message contains all of {fragments:?}; messages:\n{}", messages.join("\n"));
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// Ignites the test application with `toml` as its whole extra configuration
/// and expects launch to abort.
fn launch_fails(toml: &str) -> Vec<String> {
    let database = TempDatabase::new();
    run(common::launch_failures(common::rocket(common::figment_without_secret(&database.url(), toml))))
}

const SECRET_LINE: &str = "secret = \"test-secret-for-rocket-jwt-router-0001\"";

#[test]
fn missing_secret_names_sources() {
    let _serial = serial();

    assert_eq!(launch_fails("[jwt_router]\napi_name = \"/api/v1\""), ["JwtRouter"]);
    assert_logged(&["ERROR", "invalid `jwt_router.secret`", "secret_file", "secret_env"]);
}

#[test]
fn short_secret_says_minimum() {
    let _serial = serial();

    assert_eq!(launch_fails("[jwt_router]\nsecret = \"short-secret\""), ["JwtRouter"]);
    assert_logged(&["invalid `jwt_router.secret`", "12 bytes long", "at least 32 bytes", "openssl rand"]);
    assert!(!messages().iter().any(|message| message.contains("short-secret")), "the secret was logged");
}

#[test]
fn config_errors_name_key() {
    let _serial = serial();
    let cases: [(&str, &[&str]); 7] = [
        ("white_list_routes = [\"FETCH /register\"]", &["jwt_router.white_list_routes[0]", "not an HTTP method"]),
        ("white_list_routes = [\"GET register\"]", &["jwt_router.white_list_routes[0]", "must start with `/`"]),
        ("ignored_routes = [\"GET /a/<b\"]", &["jwt_router.ignored_routes[0]", "does not end with `>`"]),
        ("entity_key = \"id; --\"", &["jwt_router.entity_key", "plain SQL identifier"]),
        ("white_list_route = []", &["unknown key `white_list_route`", "`white_list_routes`"]),
        ("token_ttl = \"forever\"", &["jwt_router.token_ttl", "not a duration"]),
        ("algorithm = \"none\"", &["jwt_router.algorithm", "HS256"]),
    ];

    for (setting, fragments) in cases {
        MESSAGES.lock().unwrap().clear();
        let failures = launch_fails(&format!("[jwt_router]\n{SECRET_LINE}\n{setting}"));
        assert_eq!(failures, ["JwtRouter"], "setting {setting}");
        assert_logged(fragments);
    }
}

#[test]
fn typo_entry_names_closest_route() {
    let _serial = serial();
    let toml = format!("[jwt_router]\n{SECRET_LINE}\napi_name = \"/api/v1\"\nwhite_list_routes = [\"POST /regster\"]");

    assert_eq!(launch_fails(&toml), ["JwtRouter route audit"]);
    assert_logged(&["`POST /regster`", "matches no mounted route", "closest mounted routes are POST /api/v1/register"]);
}

#[test]
fn trailing_entry_names_opened_routes() {
    let _serial = serial();
    let toml = format!("[jwt_router]\n{SECRET_LINE}\nignored_routes = [\"GET /api/v1/<path..>\"]");

    assert_eq!(launch_fails(&toml), ["JwtRouter route audit"]);
    assert_logged(&["`GET /api/v1/<path..>`", "GET /api/v1/users/me (users_me)", "GET /api/v1/user (me)", "allow_overlap"]);
}

#[test]
fn warn_mode_launches() {
    let _serial = serial();
    let database = TempDatabase::new();
    let toml = format!("[jwt_router]\n{SECRET_LINE}\nroute_audit = \"warn\"\nwhite_list_routes = [\"POST /regster\"]");

    let client = run(Client::tracked(common::rocket(common::figment_without_secret(&database.url(), &toml))));

    let client = client.expect("route_audit = \"warn\" must not abort launch");
    let report = client.rocket().state::<RouteReport>().unwrap();
    assert_eq!(report.problems().len(), 1);
    assert_logged(&["WARN", "matches no mounted route", "launching anyway"]);
}

#[test]
fn route_table_is_logged() {
    let _serial = serial();
    let database = TempDatabase::new();

    let client = run(Client::tracked(common::rocket(common::figment(&database.url(), common::DEFAULT_CONFIG)))).unwrap();

    let report = client.rocket().state::<RouteReport>().unwrap();
    let expected = [
        "GET / (index): ignored by `GET /`",
        "POST /api/v1/register (register): public by `POST /register`",
        "GET /api/v1/about (about): public by `GET /about`",
        "GET /api/v1/<slug> (slug): partly public by `GET /about` (allow_overlap)",
        "GET /api/v1/user (me): protected",
        "GET /static/<path..> (static_files): protected",
    ];
    for line in expected {
        assert!(report.lines().iter().any(|logged| logged == line), "missing line {line:?} in {:?}", report.lines());
        assert_logged(&[line]);
    }
    assert_eq!(report.lines().len(), 17, "one line per mounted route, the gate excluded: {:?}", report.lines());
}

#[derive(rocket_db_pools::Database)]
#[database("app")]
struct OtherDb(rocket_db_pools::sqlx::SqlitePool);

#[derive(rocket_db_pools::sqlx::FromRow)]
struct Account {
    id: i64,
}

impl Entity for Account {
    type Database = OtherDb;
    type Id = i64;
    const TABLE: &'static str = "accounts";
}

#[derive(rocket_db_pools::sqlx::FromRow)]
struct BadTable {
    id: i64,
}

impl Entity for BadTable {
    type Database = OtherDb;
    type Id = i64;
    const TABLE: &'static str = "accounts; DROP TABLE accounts";
}

#[get("/account")]
fn account(account: AuthedEntity<Account>) -> String {
    account.id.to_string()
}

#[get("/bad")]
fn bad(entity: AuthedEntity<BadTable>) -> String {
    entity.id.to_string()
}

fn sentinel_app(database: &TempDatabase, with_fairing: bool, with_database: bool) -> Rocket<Build> {
    let mut rocket = rocket::custom(common::figment(&database.url(), "")).mount("/", routes![account]);
    if with_fairing {
        rocket = rocket.attach(JwtRouter::fairing());
    }
    if with_database {
        rocket = rocket.attach(OtherDb::init());
    }
    rocket
}

#[test]
fn guard_without_fairing_aborts() {
    let _serial = serial();
    let database = TempDatabase::new();

    let failures = run(common::launch_failures(sentinel_app(&database, false, true)));

    assert!(failures.iter().any(|name| name.contains("AuthedEntity<launch::Account>")), "{failures:?}");
    assert_logged(&["AuthedEntity<launch::Account>", "`JwtRouter::fairing()` is not attached", ".attach(JwtRouter::fairing())"]);
}

#[test]
fn guard_without_database_aborts() {
    let _serial = serial();
    let database = TempDatabase::new();

    let failures = run(common::launch_failures(sentinel_app(&database, true, false)));

    assert!(failures.iter().any(|name| name.contains("AuthedEntity<launch::Account>")), "{failures:?}");
    assert_logged(&["database `launch::OtherDb` is not attached", ".attach(launch::OtherDb::init())"]);
}

#[test]
fn invalid_table_aborts() {
    let _serial = serial();
    let database = TempDatabase::new();
    let rocket = rocket::custom(common::figment(&database.url(), ""))
        .attach(JwtRouter::fairing())
        .attach(OtherDb::init())
        .mount("/", routes![bad]);

    let failures = run(common::launch_failures(rocket));

    assert!(failures.iter().any(|name| name.contains("AuthedEntity<launch::BadTable>")), "{failures:?}");
    assert_logged(&["BadTable::TABLE", "not a plain SQL identifier"]);
}

#[test]
fn guard_on_public_route_is_reported() {
    let _serial = serial();
    let database = TempDatabase::new();

    run(async {
        let client = Client::tracked(common::rocket(common::figment(&database.url(), common::DEFAULT_CONFIG))).await.unwrap();
        for _ in 0..3 {
            let response = client.get("/api/v1/public/user").dispatch().await;
            assert_eq!(response.status(), rocket::http::Status::Unauthorized);
        }
    });

    let fragments = ["route GET /api/v1/public/user is opened by the white_list_routes entry `GET /public/user`", "AuthedEntity<", "OptionalEntity"];
    assert_logged(&fragments);
    let reports = messages().iter().filter(|message| message.contains(fragments[0])).count();
    assert_eq!(reports, 1, "the route is reported once, not per request");
}

#[test]
fn optional_entity_route_not_reported() {
    let _serial = serial();
    let database = TempDatabase::new();

    run(async {
        let client = Client::tracked(common::rocket(common::figment(&database.url(), common::DEFAULT_CONFIG))).await.unwrap();
        let token = client.rocket().state::<rocket_jwt_router::TokenIssuer>().unwrap().register::<common::User>(&1).unwrap();
        let request = client.get("/api/v1/greeting").header(rocket::http::Header::new("Authorization", format!("Bearer {}", token.access_token)));
        assert_eq!(request.dispatch().await.status(), rocket::http::Status::Ok);
    });

    let reports: Vec<String> = messages().into_iter().filter(|message| message.contains("is opened by")).collect();
    assert!(reports.is_empty(), "OptionalEntity is meant for open routes: {reports:?}");
}

#[get("/claims")]
fn claims_route(claims: rocket_jwt_router::Claims) -> String {
    claims.sub
}

#[test]
fn claims_without_fairing_aborts() {
    let _serial = serial();
    let database = TempDatabase::new();
    let rocket = rocket::custom(common::figment(&database.url(), "")).mount("/", routes![claims_route]);

    let failures = run(common::launch_failures(rocket));

    assert!(failures.iter().any(|name| name.contains("Claims")), "{failures:?}");
    assert_logged(&["`Claims` guard", ".attach(JwtRouter::fairing())"]);
}

/// A route that the configuration opens but that takes `AuthedEntity` is
/// reported on its first request, once, and a protected route never is.
#[test]
fn authed_entity_on_open_route_is_reported_once() {
    let _serial = serial();
    let is_report = |message: &String| message.contains("takes `AuthedEntity<");

    run(async {
        let app = common::TestApp::new().await;
        let token = app.user_token(1);
        app.get_with_token("/api/v1/user", &token).await;
        assert!(!messages().iter().any(is_report), "a protected route was reported: {:?}", messages());

        app.get("/api/v1/public/user", &[]).await;
        app.get_with_token("/api/v1/public/user", &token).await;
    });

    let reports: Vec<String> = messages().into_iter().filter(is_report).collect();
    assert_eq!(reports.len(), 1, "reports: {reports:?}");
    assert!(reports[0].starts_with("WARN"), "{reports:?}");
    assert!(reports[0].contains("GET /api/v1/public/user"), "{reports:?}");
    assert!(reports[0].contains("`OptionalEntity`"), "{reports:?}");
}
