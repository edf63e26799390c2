//! A complete application protected by rocket_jwt_router, on SQLite.
//!
//! Run it from the repository root with `cargo run --example quickstart`. It
//! reads the repository's Rocket.toml, creates `quickstart-data/` with the
//! SQLite database and a random development secret on first run, and serves
//! on 127.0.0.1:8000:
//!
//! - `GET /` is ignored by the gate,
//! - `POST /api/v1/register` is public and returns a token for a new user,
//! - `GET /api/v1/user` returns the authenticated user,
//! - `POST /api/v1/token` returns a fresh token for the authenticated user.
//!
//! The same code runs on PostgreSQL or MariaDB/MySQL: build it with the
//! `postgres` or `mysql` feature and point `ROCKET_DATABASES` at the server,
//! for example
//! `ROCKET_DATABASES='{app={url="postgres://postgres@127.0.0.1:5432/test"}}' cargo run --example quickstart --features postgres`.
//! It creates its `users` table on first start on each backend.

use std::path::Path;

use rocket::fairing::{self, AdHoc};
use rocket::http::Status;
use rocket::response::status::Custom;
use rocket::serde::json::{json, Json, Value};
use rocket::{get, launch, post, routes, Build, Rocket, State};
use rocket_db_pools::{sqlx, Connection, Database};
use rocket_jwt_router::{AuthError, AuthedEntity, Entity, IssuedToken, JwtRouter, TokenIssuer};
use serde::{Deserialize, Serialize};

/// The pool type follows the enabled backend feature, PostgreSQL first.
#[cfg(feature = "postgres")]
type Pool = sqlx::PgPool;
#[cfg(all(feature = "mysql", not(feature = "postgres")))]
type Pool = sqlx::MySqlPool;
#[cfg(not(any(feature = "postgres", feature = "mysql")))]
type Pool = sqlx::SqlitePool;

#[derive(Database)]
#[database("app")]
pub struct AppDb(Pool);

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct User {
    id: i64,
    name: String,
}

impl Entity for User {
    type Database = AppDb;
    type Id = i64;
    const TABLE: &'static str = "users";
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

/// The maximum user name length that `register` accepts, in characters.
const MAX_NAME_LENGTH: usize = 64;

#[get("/")]
fn index() -> &'static str {
    "rocket_jwt_router quickstart: POST /api/v1/register with {\"name\": \"...\"} to get a token.\n"
}

#[post("/register", data = "<new_user>")]
async fn register(
    mut db: Connection<AppDb>,
    issuer: &State<TokenIssuer>,
    new_user: Json<NewUser>,
) -> Result<Custom<Json<IssuedToken>>, Custom<Json<Value>>> {
    let name = new_user.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH {
        let description = format!("`name` must be between 1 and {MAX_NAME_LENGTH} characters.");
        return Err(json_error(Status::UnprocessableEntity, &description));
    }

    let id = insert_user(&mut db, name).await.map_err(|error| {
        rocket::error!("quickstart: inserting a user failed: {error}");
        json_error(Status::ServiceUnavailable, "The database is unavailable.")
    })?;

    let token = issuer.register::<User>(&id).map_err(auth_error)?;
    Ok(Custom(Status::Created, Json(token)))
}

#[get("/user")]
fn me(user: AuthedEntity<User>) -> Json<User> {
    Json(user.into_inner())
}

#[post("/token")]
fn refresh(user: AuthedEntity<User>, issuer: &State<TokenIssuer>) -> Result<Json<IssuedToken>, AuthError> {
    Ok(Json(issuer.update(&user)?))
}

fn json_error(status: Status, description: &str) -> Custom<Json<Value>> {
    let body = json!({ "error": { "code": status.code, "reason": status.reason_lossy(), "description": description } });
    Custom(status, Json(body))
}

fn auth_error(error: AuthError) -> Custom<Json<Value>> {
    json_error(error.status(), error.description())
}

#[cfg(feature = "postgres")]
const CREATE_USERS: &str = "CREATE TABLE IF NOT EXISTS users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)";
#[cfg(all(feature = "mysql", not(feature = "postgres")))]
const CREATE_USERS: &str =
    "CREATE TABLE IF NOT EXISTS users (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL)";
#[cfg(not(any(feature = "postgres", feature = "mysql")))]
const CREATE_USERS: &str = "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)";

/// Inserts a user and returns its id.
#[cfg(feature = "postgres")]
async fn insert_user(db: &mut Connection<AppDb>, name: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO users (name) VALUES ($1) RETURNING id").bind(name).fetch_one(&mut ***db).await
}

/// Inserts a user and returns its id. MySQL 8 has no `RETURNING`.
#[cfg(all(feature = "mysql", not(feature = "postgres")))]
async fn insert_user(db: &mut Connection<AppDb>, name: &str) -> Result<i64, sqlx::Error> {
    let result = sqlx::query("INSERT INTO users (name) VALUES (?)").bind(name).execute(&mut ***db).await?;
    i64::try_from(result.last_insert_id()).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

/// Inserts a user and returns its id.
#[cfg(not(any(feature = "postgres", feature = "mysql")))]
async fn insert_user(db: &mut Connection<AppDb>, name: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO users (name) VALUES (?) RETURNING id").bind(name).fetch_one(&mut ***db).await
}

async fn create_schema(rocket: Rocket<Build>) -> fairing::Result {
    let Some(db) = AppDb::fetch(&rocket) else {
        return Err(rocket);
    };

    let created = sqlx::query(CREATE_USERS).execute(&**db).await;

    match created {
        Ok(_) => Ok(rocket),
        Err(error) => {
            rocket::error!("quickstart: creating the users table failed: {error}");
            Err(rocket)
        }
    }
}

/// Creates the data folder and, once, a random development secret, so that
/// the example runs with no setup. A real deployment provides its own secret
/// through `secret_file` or `secret_env`.
fn prepare_data_folder() -> std::io::Result<()> {
    let folder = Path::new("quickstart-data");
    std::fs::create_dir_all(folder)?;

    let secret = folder.join("jwt-secret");
    if secret.exists() {
        return Ok(());
    }

    let mut bytes = [0_u8; 48];
    getrandom::fill(&mut bytes).map_err(|error| std::io::Error::other(error.to_string()))?;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    std::fs::write(&secret, hex)?;
    println!("quickstart: wrote a new development secret to {}", secret.display());

    Ok(())
}

/// Builds the application from a configuration figment.
pub fn app(figment: rocket::figment::Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(AppDb::init())
        .attach(AdHoc::try_on_ignite("Create the users table", create_schema))
        .attach(JwtRouter::fairing())
        .mount("/", routes![index])
        .mount("/api/v1", routes![register, me, refresh])
}

#[launch]
fn rocket() -> _ {
    if let Err(error) = prepare_data_folder() {
        eprintln!("quickstart: cannot prepare ./quickstart-data: {error}; run the example from the repository root");
        std::process::exit(1);
    }

    app(rocket::Config::figment())
}
