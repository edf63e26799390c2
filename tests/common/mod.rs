//! A test application on a per-test SQLite file, with helpers to send
//! requests, mint tokens and check denials.
//!
//! Every handler records its name in [`Hits`], so a test can prove that a
//! denied request never reached its handler.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rocket::fairing::{self, AdHoc};
use rocket::figment::providers::{Format, Toml};
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::Json;
use rocket::{get, options, post, routes, Build, Rocket, State};
use rocket_db_pools::{sqlx, Database};
use rocket_jwt_router::{AuthedEntity, Claims, Entity, JwtRouter, OptionalEntity, TokenIssuer};
use serde::Serialize;

/// The HS256 secret of the default test configuration.
pub const SECRET: &str = "test-secret-for-rocket-jwt-router-0001";

/// The `jwt_router` table used unless a test passes its own.
pub const DEFAULT_CONFIG: &str = r#"
api_name = "/api/v1"
white_list_routes = [
    ["POST", "/register"],
    { method = "GET", path = "/about", allow_overlap = true },
    "GET /apples/sub/<id>",
    "GET /articles/<id>",
    "GET /public/user",
    { method = "GET", path = "/greeting", allow_overlap = true },
]
ignored_routes = [["GET", "/"]]
"#;

#[derive(Database)]
#[database("app")]
pub struct AppDb(sqlx::SqlitePool);

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
}

impl Entity for User {
    type Database = AppDb;
    type Id = i64;
    const TABLE: &'static str = "users";
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct Admin {
    pub id: i64,
    pub name: String,
}

impl Entity for Admin {
    type Database = AppDb;
    type Id = i64;
    const TABLE: &'static str = "admins";
}

/// The names of the handlers that ran, in order.
#[derive(Default)]
pub struct Hits(Mutex<Vec<&'static str>>);

impl Hits {
    fn record(&self, name: &'static str) {
        self.0.lock().unwrap().push(name);
    }
}

#[get("/")]
fn index(hits: &State<Hits>) -> &'static str {
    hits.record("index");
    "index"
}

#[get("/about")]
fn about(hits: &State<Hits>) -> &'static str {
    hits.record("about");
    "about"
}

#[get("/<slug>")]
fn slug(slug: &str, hits: &State<Hits>) -> String {
    hits.record("slug");
    format!("slug {slug}")
}

#[get("/users/<id>")]
fn user_by_id(id: &str, hits: &State<Hits>) -> String {
    hits.record("user_by_id");
    format!("user {id}")
}

#[get("/users/me")]
fn users_me(hits: &State<Hits>) -> &'static str {
    hits.record("users_me");
    "users me"
}

#[get("/articles/<id>")]
fn article(id: &str, hits: &State<Hits>) -> String {
    hits.record("article");
    format!("article {id}")
}

#[get("/apples")]
fn apples(hits: &State<Hits>) -> &'static str {
    hits.record("apples");
    "apples"
}

#[get("/apples/sub/<id>")]
fn apple_sub(id: &str, hits: &State<Hits>) -> String {
    hits.record("apple_sub");
    format!("apple {id}")
}

#[get("/static/<path..>")]
fn static_files(path: std::path::PathBuf, hits: &State<Hits>) -> String {
    hits.record("static");
    format!("static {}", path.display())
}

#[post("/register", data = "<body>")]
fn register(body: String, hits: &State<Hits>) -> String {
    hits.record("register");
    format!("registered {body}")
}

#[post("/echo", data = "<body>")]
fn echo(body: String, hits: &State<Hits>) -> String {
    hits.record("echo");
    body
}

#[get("/user")]
fn me(user: AuthedEntity<User>, hits: &State<Hits>) -> Json<User> {
    hits.record("me");
    Json(user.into_inner())
}

#[get("/admin")]
fn admin(admin: AuthedEntity<Admin>, hits: &State<Hits>) -> Json<Admin> {
    hits.record("admin");
    Json(admin.into_inner())
}

#[get("/public/user")]
fn public_user(user: AuthedEntity<User>, hits: &State<Hits>) -> Json<User> {
    hits.record("public_user");
    Json(user.into_inner())
}

#[get("/greeting")]
fn greeting(user: OptionalEntity<User>, hits: &State<Hits>) -> String {
    hits.record("greeting");
    match user.as_ref() {
        Some(user) => format!("hello {}", user.name),
        None => "hello stranger".to_owned(),
    }
}

#[get("/claims")]
fn claims(claims: Claims, hits: &State<Hits>) -> String {
    hits.record("claims");
    format!("{} {}", claims.kind, claims.sub)
}

#[options("/user")]
fn user_options(hits: &State<Hits>) -> &'static str {
    hits.record("user_options");
    "options"
}

async fn create_schema(rocket: Rocket<Build>) -> fairing::Result {
    let Some(db) = AppDb::fetch(&rocket) else {
        return Err(rocket);
    };

    let statements = [
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE admins (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')",
        "INSERT INTO admins (id, name) VALUES (1, 'root')",
    ];
    for statement in statements {
        sqlx::query(statement).execute(&**db).await.expect("creating the test schema failed");
    }

    Ok(rocket)
}

/// A SQLite file that is deleted when the test ends.
pub struct TempDatabase {
    pub path: PathBuf,
}

impl TempDatabase {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!("jwt-router-test-{}-{}.db", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);

        TempDatabase { path }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.path.display())
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// Returns a figment with Rocket's defaults, the database at `url`, and
/// `jwt_config` plus the test secret as the `jwt_router` table. Rocket.toml of
/// the working directory is not read.
pub fn figment(url: &str, jwt_config: &str) -> Figment {
    let toml = format!("[jwt_router]\nsecret = \"{SECRET}\"\n{jwt_config}");
    figment_without_secret(url, &toml)
}

/// Like [`figment`], with `toml` taken as the whole extra configuration.
pub fn figment_without_secret(url: &str, toml: &str) -> Figment {
    Figment::from(rocket::Config::debug_default())
        .merge(("log_level", "off"))
        .merge(("databases.app.url", url))
        .merge(Toml::string(toml))
}

/// Builds the test application on `figment`, without launching it.
pub fn rocket(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .manage(Hits::default())
        .attach(AppDb::init())
        .attach(AdHoc::try_on_ignite("Create the test schema", create_schema))
        .attach(JwtRouter::fairing())
        .mount("/", routes![index, static_files])
        .mount(
            "/api/v1",
            routes![
                about, slug, user_by_id, users_me, article, apples, apple_sub, register, echo, me, admin, public_user,
                user_options, greeting, claims
            ],
        )
}

/// A running test application and its database file.
pub struct TestApp {
    pub client: Client,
    _database: TempDatabase,
}

impl TestApp {
    /// Launches the test application with [`DEFAULT_CONFIG`].
    pub async fn new() -> Self {
        Self::with_config(DEFAULT_CONFIG).await
    }

    /// Launches the test application with `jwt_config` as the `jwt_router`
    /// table (the secret is added).
    pub async fn with_config(jwt_config: &str) -> Self {
        let database = TempDatabase::new();
        let rocket = rocket(figment(&database.url(), jwt_config));
        let client = Client::tracked(rocket).await.expect("the test application failed to launch");

        TestApp { client, _database: database }
    }

    /// Returns the names of the handlers that ran so far.
    pub fn hits(&self) -> Vec<&'static str> {
        self.client.rocket().state::<Hits>().expect("Hits is managed").0.lock().unwrap().clone()
    }

    /// Issues a token for the user with `id`.
    pub fn user_token(&self, id: i64) -> String {
        let issuer = self.client.rocket().state::<TokenIssuer>().expect("the fairing manages TokenIssuer");
        issuer.register::<User>(&id).expect("issuing a token failed").access_token
    }

    /// Sends GET `path` with the `Authorization` header set to each of `authorization`.
    pub async fn get(&self, path: &str, authorization: &[&str]) -> Reply {
        let mut request = self.client.get(path.to_owned());
        for value in authorization {
            request.add_header(Header::new("Authorization", value.to_string()));
        }

        Reply::read(request.dispatch().await).await
    }

    /// Sends GET `path` with `Authorization: Bearer <token>`.
    pub async fn get_with_token(&self, path: &str, token: &str) -> Reply {
        self.get(path, &[&format!("Bearer {token}")]).await
    }
}

/// The parts of a response that tests check.
#[derive(Debug)]
pub struct Reply {
    pub status: Status,
    pub www_authenticate: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Reply {
    pub async fn read(response: LocalResponse<'_>) -> Self {
        let status = response.status();
        let www_authenticate = response.headers().get_one("WWW-Authenticate").map(str::to_owned);
        let content_type = response.content_type().map(|content_type| content_type.to_string());
        let body = response.into_string().await.unwrap_or_default();

        Reply { status, www_authenticate, content_type, body }
    }

    /// Returns the `description` of a JSON error body.
    pub fn description(&self) -> String {
        let value: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("the body {:?} is not JSON: {error}", self.body));
        value["error"]["description"].as_str().unwrap_or_default().to_owned()
    }
}

/// Asserts a 401 with the JSON error body for `description` and a
/// `WWW-Authenticate` header that starts with `challenge`.
pub fn assert_unauthorized(reply: &Reply, challenge: &str, description: &str) {
    assert_eq!(reply.status, Status::Unauthorized, "status, body {:?}", reply.body);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"), "content type");

    let www_authenticate = reply.www_authenticate.as_deref().unwrap_or("<missing>");
    assert!(www_authenticate.starts_with(challenge), "WWW-Authenticate {www_authenticate:?} should start with {challenge:?}");

    let body: serde_json::Value = serde_json::from_str(&reply.body).expect("the error body is JSON");
    assert_eq!(body["error"]["code"], 401, "body {body}");
    assert_eq!(body["error"]["reason"], "Unauthorized", "body {body}");
    assert_eq!(body["error"]["description"], description, "body {body}");
}

/// The `WWW-Authenticate` start for a request that sent an unusable token.
pub const INVALID_TOKEN: &str = "Bearer error=\"invalid_token\"";

pub const NO_TOKEN: &str = "The request requires a bearer token.";
pub const BAD_TOKEN: &str = "The bearer token is invalid.";

/// Returns the current Unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Signs `claims` with HS256 and the test secret.
pub fn sign(claims: &serde_json::Value) -> String {
    sign_with(&header(), claims, SECRET.as_bytes())
}

/// Returns the header of the test application's tokens: HS256, the key id of
/// the `secret` shorthand, and the access-token type.
pub fn header() -> jsonwebtoken::Header {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("default".to_owned());
    header.typ = Some("at+jwt".to_owned());
    header
}

/// Signs `claims` with `header` and `secret`. A header without a key id gets
/// the shorthand's `default`, and jsonwebtoken's default `JWT` type becomes
/// `at+jwt`, so that tests change only what they mean to change.
pub fn sign_with(header: &jsonwebtoken::Header, claims: &serde_json::Value, secret: &[u8]) -> String {
    let mut header = header.clone();
    header.kid.get_or_insert_with(|| "default".to_owned());
    if header.typ.as_deref() == Some("JWT") {
        header.typ = Some("at+jwt".to_owned());
    }

    let key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Returns claims for user `sub` that are valid now.
pub fn valid_claims(sub: &str) -> serde_json::Value {
    let now = now();
    serde_json::json!({ "sub": sub, "kind": "users", "iat": now, "exp": now + 600, "jti": "test" })
}

/// Ignites `rocket`, expects it to fail, and returns what failed: the names
/// of failed fairings, or the type names of aborting sentinels.
pub async fn launch_failures(rocket: Rocket<Build>) -> Vec<String> {
    let error = match rocket.ignite().await {
        Ok(_) => panic!("launch should have been aborted"),
        Err(error) => error,
    };

    // Reading the kind marks the error as handled, so its drop does not panic.
    match error.kind() {
        rocket::error::ErrorKind::FailedFairings(fairings) => fairings.iter().map(|info| info.name.to_owned()).collect(),
        rocket::error::ErrorKind::SentinelAborts(sentries) => sentries.iter().map(|sentry| sentry.type_name.to_owned()).collect(),
        other => vec![other.to_string()],
    }
}
