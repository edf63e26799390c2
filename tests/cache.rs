//! The entity cache: off by default, serving rows for at most its time-to-live
//! when on, dropping entries on invalidation, and never skipping the token
//! checks.

mod common;

use std::time::Duration;

use common::{assert_unauthorized, sign, TestApp, DEFAULT_CONFIG, INVALID_TOKEN};
use rocket::http::Status;
use rocket_db_pools::{sqlx, Database};
use rocket_jwt_router::testing::{LocalRequestExt, TokenFault};
use rocket_jwt_router::{EntityCache, TokenIssuer};

async fn cached_app(ttl: &str) -> TestApp {
    TestApp::with_config(&format!("{DEFAULT_CONFIG}\nentity_cache_ttl = \"{ttl}\"")).await
}

fn cache(app: &TestApp) -> &EntityCache {
    app.client.rocket().state::<EntityCache>().expect("the fairing manages EntityCache")
}

async fn execute(app: &TestApp, statement: &str) {
    let pool = common::AppDb::fetch(app.client.rocket()).expect("the database is attached");
    sqlx::query(statement).execute(&**pool).await.expect("the test statement failed");
}

async fn name_of_user(app: &TestApp, id: i64) -> common::Reply {
    let request = app.client.get("/api/v1/user").authenticated_as::<common::User>(&id);
    common::Reply::read(request.dispatch().await).await
}

fn count(app: &TestApp, handler: &str) -> usize {
    app.hits().iter().filter(|&&hit| hit == handler).count()
}

#[rocket::async_test]
async fn off_by_default_reads_every_change() {
    let app = TestApp::new().await;
    assert!(!cache(&app).is_enabled());

    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"ada"}"#);
    execute(&app, "UPDATE users SET name = 'ada lovelace' WHERE id = 1").await;
    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"ada lovelace"}"#);
    assert!(cache(&app).is_empty());
}

#[rocket::async_test]
async fn serves_the_cached_row_until_invalidated() {
    let app = cached_app("1h").await;
    assert_eq!(cache(&app).ttl(), Some(Duration::from_secs(3600)));

    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"ada"}"#);
    execute(&app, "UPDATE users SET name = 'ada lovelace' WHERE id = 1").await;

    // The row is cached, so the change is not seen yet.
    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"ada"}"#);
    assert_eq!(cache(&app).len(), 1);

    cache(&app).invalidate::<common::User>(&1);
    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"ada lovelace"}"#);
}

#[rocket::async_test]
async fn deleted_entity_is_denied_after_invalidation() {
    let app = cached_app("1h").await;
    assert_eq!(name_of_user(&app, 2).await.status, Status::Ok);

    execute(&app, "DELETE FROM users WHERE id = 2").await;
    let within_ttl = name_of_user(&app, 2).await;
    assert_eq!(within_ttl.status, Status::Ok, "a cached entity is served until its entry goes");

    cache(&app).invalidate::<common::User>(&2);
    let reply = name_of_user(&app, 2).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token's subject no longer exists.");
    assert_eq!(count(&app, "me"), 2, "the handler ran for the denied request: {:?}", app.hits());
}

#[rocket::async_test]
async fn entries_expire_after_the_ttl() {
    let app = cached_app("1s").await;
    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"ada"}"#);
    execute(&app, "UPDATE users SET name = 'countess' WHERE id = 1").await;

    // The TTL is counted from before the row was read, so after a full TTL
    // the entry is gone whatever the timing of the first request.
    rocket::tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"countess"}"#);
}

#[rocket::async_test]
async fn missing_rows_are_not_cached() {
    let app = cached_app("1h").await;

    let reply = name_of_user(&app, 3).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token's subject no longer exists.");
    assert!(app.hits().is_empty(), "handlers ran: {:?}", app.hits());

    execute(&app, "INSERT INTO users (id, name) VALUES (3, 'edsger')").await;
    assert_eq!(name_of_user(&app, 3).await.body, r#"{"id":3,"name":"edsger"}"#);
}

#[rocket::async_test]
async fn tokens_are_checked_for_cached_entities() {
    let app = cached_app("1h").await;
    assert_eq!(name_of_user(&app, 1).await.status, Status::Ok);

    let issuer = app.client.rocket().state::<TokenIssuer>().expect("the fairing manages TokenIssuer");
    let cases = [
        (issuer.faulty_token::<common::User>(&1, TokenFault::Expired), "The bearer token has expired."),
        (issuer.faulty_token::<common::User>(&1, TokenFault::BadSignature), "The bearer token is invalid."),
        (issuer.faulty_token::<common::User>(&1, TokenFault::WrongKind), "The bearer token is not valid for this resource."),
    ];
    for (token, description) in cases {
        let reply = common::Reply::read(app.client.get("/api/v1/user").bearer(&token).dispatch().await).await;
        assert_unauthorized(&reply, INVALID_TOKEN, description);
    }

    // A non-canonical subject never reaches the cache entry of "1".
    let reply = app.get_with_token("/api/v1/user", &sign(&common::valid_claims("01"))).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token's subject is invalid.");

    assert_eq!(count(&app, "me"), 1, "the handler ran for a denied request: {:?}", app.hits());
}

#[rocket::async_test]
async fn entity_types_have_separate_entries() {
    let app = cached_app("1h").await;
    assert_eq!(name_of_user(&app, 1).await.body, r#"{"id":1,"name":"ada"}"#);

    let request = app.client.get("/api/v1/admin").authenticated_as::<common::Admin>(&1);
    let reply = common::Reply::read(request.dispatch().await).await;
    assert_eq!(reply.body, r#"{"id":1,"name":"root"}"#);
    assert_eq!(cache(&app).len(), 2);

    cache(&app).invalidate_all::<common::User>();
    assert_eq!(cache(&app).len(), 1);
    cache(&app).clear();
    assert!(cache(&app).is_empty());
}

#[rocket::async_test]
async fn capacity_bounds_the_entries() {
    let app = TestApp::with_config(&format!("{DEFAULT_CONFIG}\nentity_cache_ttl = \"1h\"\nentity_cache_max_entries = 1")).await;

    assert_eq!(name_of_user(&app, 1).await.status, Status::Ok);
    assert_eq!(name_of_user(&app, 2).await.status, Status::Ok);
    assert_eq!(cache(&app).len(), 1);
}

#[rocket::async_test]
async fn invalid_settings_abort_launch() {
    for setting in ["entity_cache_ttl = 0", "entity_cache_ttl = \"2h\"", "entity_cache_max_entries = 100"] {
        let database = common::TempDatabase::new();
        let figment = common::figment(&database.url(), &format!("{DEFAULT_CONFIG}\n{setting}"));
        let failures = common::launch_failures(common::rocket(figment)).await;
        assert_eq!(failures, ["JwtRouter"], "setting {setting}");
    }
}

/// An id whose parser, like many hand-written ones, accepts a leading `+`.
#[derive(Clone, Debug)]
struct LenientId(i64);

impl rocket_jwt_router::EntityId for LenientId {
    fn parse_subject(subject: &str) -> Option<Self> {
        subject.trim_start_matches('+').parse().ok().map(LenientId)
    }

    fn to_subject(&self) -> String {
        self.0.to_string()
    }
}

impl sqlx::Type<sqlx::Sqlite> for LenientId {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <i64 as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for LenientId {
    fn encode_by_ref(&self, buffer: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>) -> sqlx::encode::IsNull {
        <i64 as sqlx::Encode<'q, sqlx::Sqlite>>::encode_by_ref(&self.0, buffer)
    }
}

#[derive(Clone, sqlx::FromRow, serde::Serialize)]
struct LenientUser {
    id: i64,
    name: String,
}

impl rocket_jwt_router::Entity for LenientUser {
    type Database = common::AppDb;
    type Id = LenientId;
    const TABLE: &'static str = "users";
}

/// How many times the `/lenient` handler ran.
static LENIENT_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[rocket::get("/lenient")]
fn lenient(user: rocket_jwt_router::AuthedEntity<LenientUser>) -> String {
    LENIENT_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    user.name.clone()
}

#[rocket::async_test]
async fn only_canonical_subjects_are_cached() {
    let database = common::TempDatabase::new();
    let figment = common::figment(&database.url(), &format!("{DEFAULT_CONFIG}\nentity_cache_ttl = \"1h\""));
    let rocket = common::rocket(figment).mount("/", rocket::routes![lenient]);
    let client = rocket::local::asynchronous::Client::tracked(rocket).await.expect("the test application launches");

    let send = |sub: &'static str| {
        let token = sign(&common::valid_claims(sub));
        let request = client.get("/lenient").header(rocket::http::Header::new("Authorization", format!("Bearer {token}")));
        async move { common::Reply::read(request.dispatch().await).await }
    };

    assert_eq!(send("1").await.body, "ada");

    // "+1" parses to the same id but is not its canonical subject, so it
    // must not create a second entry that `invalidate` would miss.
    let reply = send("+1").await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token's subject is invalid.");
    assert_eq!(LENIENT_RUNS.load(std::sync::atomic::Ordering::SeqCst), 1, "the handler ran for the denied request");

    let cache = client.rocket().state::<EntityCache>().expect("the fairing manages EntityCache");
    assert_eq!(cache.len(), 1);
    cache.invalidate::<LenientUser>(&LenientId(1));
    assert!(cache.is_empty());
}
