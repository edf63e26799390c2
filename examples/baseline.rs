//! A hand-written Rocket application that does the quickstart's work without
//! rocket_jwt_router, as the comparison point of `bench/load.sh` and the
//! `requests` benchmark (see BENCHMARKS.md).
//!
//! Run it from the repository root with
//! `ROCKET_PORT=8001 cargo run --release --example baseline`. Like the
//! quickstart it reads Rocket's configuration (Rocket.toml, or the file named
//! by ROCKET_CONFIG, then `ROCKET_*` environment variables): the database URL
//! from `databases.app.url` and the HMAC secret from `jwt_router.secret_file`
//! or `jwt_router.secret`. It ignores every other `jwt_router` key. It serves:
//!
//! - `GET /bare`: a plain route with the same body as `GET /`,
//! - `GET /`: a plain route, the counterpart of the quickstart's ignored route,
//! - `POST /api/v1/register`: inserts a user and returns a token, as the
//!   quickstart does,
//! - `GET /api/v1/ping`: a route behind [`BearerClaims`], a guard that only
//!   verifies the HS256 token,
//! - `GET /api/v1/user`: a route behind [`CurrentUser`], which verifies the
//!   token and loads the user by id.
//!
//! The database pool comes from rocket_db_pools with the quickstart's
//! settings, because both use `#[derive(Database)]` on an `sqlx::SqlitePool`
//! with the same `databases.app` table.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rocket::fairing::{self, AdHoc};
use rocket::figment::value::magic::RelativePathBuf;
use rocket::figment::Figment;
use rocket::http::Status;
use rocket::outcome::try_outcome;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::status::Custom;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Build, Rocket};
use rocket_db_pools::{sqlx, Connection, Database};
use serde::{Deserialize, Serialize};

/// The body of `GET /` and `GET /bare`: as long as the quickstart's `GET /`
/// body (89 bytes), so that both send the same number of bytes.
pub const INDEX_BODY: &str = "hand-written Rocket baseline: POST /api/v1/register with {\"name\": \"...\"} to get a token.\n";

/// The body of `GET /api/v1/ping`, equal to the body of examples/bench_app.rs's route.
pub const PING_BODY: &str = "pong\n";

/// Token lifetime, equal to `token_ttl = "1h"` in the repository's Rocket.toml.
const TOKEN_TTL_SECONDS: u64 = 60 * 60;

/// Clock skew allowed on `exp`, equal to rocket_jwt_router's default `leeway`.
const LEEWAY_SECONDS: u64 = 30;

/// The entity kind written into tokens, as rocket_jwt_router writes the table
/// name, so that both applications mint the same claims.
const USER_KIND: &str = "users";

/// The maximum length of a user name that `register` accepts, in characters.
const MAX_NAME_LENGTH: usize = 64;

#[derive(Database)]
#[database("app")]
pub struct AppDb(sqlx::SqlitePool);

#[derive(Debug, sqlx::FromRow, Serialize)]
pub struct User {
    id: i64,
    name: String,
}

/// The claims of a token: the same set that rocket_jwt_router signs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    sub: String,
    kind: String,
    iat: u64,
    exp: u64,
    jti: String,
}

/// The HS256 keys and the validation rules, in managed state.
struct Keys {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    fn new(secret: &[u8]) -> Result<Self, jsonwebtoken::errors::Error> {
        // `Validation::new` pins the algorithm and requires `exp`.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;

        Ok(Keys {
            header: Header::new(Algorithm::HS256),
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
        })
    }
}

/// The verified claims of the request's `Authorization: Bearer` token.
pub struct BearerClaims(Claims);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BearerClaims {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(keys) = req.rocket().state::<Keys>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };

        let token = req.headers().get_one("Authorization").and_then(|value| value.strip_prefix("Bearer "));
        let Some(token) = token else {
            return Outcome::Error((Status::Unauthorized, ()));
        };

        match jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation) {
            Ok(data) => Outcome::Success(BearerClaims(data.claims)),
            Err(_) => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

/// The user that the request's verified token names, loaded from `users`.
pub struct CurrentUser(User);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let BearerClaims(claims) = try_outcome!(req.guard::<BearerClaims>().await);
        if claims.kind != USER_KIND {
            return Outcome::Error((Status::Unauthorized, ()));
        }

        let Ok(id) = claims.sub.parse::<i64>() else {
            return Outcome::Error((Status::Unauthorized, ()));
        };

        let Some(pool) = AppDb::fetch(req.rocket()) else {
            return Outcome::Error((Status::InternalServerError, ()));
        };

        let user = sqlx::query_as::<_, User>("SELECT * FROM users WHERE id = ?").bind(id).fetch_optional(&**pool).await;
        match user {
            Ok(Some(user)) => Outcome::Success(CurrentUser(user)),
            Ok(None) => Outcome::Error((Status::Unauthorized, ())),
            Err(error) => {
                rocket::warn!("baseline: loading user {id} failed: {error}");
                Outcome::Error((Status::ServiceUnavailable, ()))
            }
        }
    }
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

/// An OAuth 2.0 token response, as rocket_jwt_router's `IssuedToken`.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

#[get("/bare")]
fn bare() -> &'static str {
    INDEX_BODY
}

#[get("/")]
fn index() -> &'static str {
    INDEX_BODY
}

#[get("/ping")]
fn ping(_claims: BearerClaims) -> &'static str {
    PING_BODY
}

#[get("/user")]
fn me(user: CurrentUser) -> Json<User> {
    Json(user.0)
}

#[post("/register", data = "<new_user>")]
async fn register(
    mut db: Connection<AppDb>,
    keys: &rocket::State<Keys>,
    new_user: Json<NewUser>,
) -> Result<Custom<Json<TokenResponse>>, Status> {
    let name = new_user.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH {
        return Err(Status::UnprocessableEntity);
    }

    let inserted = sqlx::query_scalar::<_, i64>("INSERT INTO users (name) VALUES (?) RETURNING id").bind(name).fetch_one(&mut **db).await;
    let id = inserted.map_err(|error| {
        rocket::error!("baseline: inserting a user failed: {error}");
        Status::ServiceUnavailable
    })?;

    let token = sign_token(keys, id).map_err(|error| {
        rocket::error!("baseline: signing a token failed: {error}");
        Status::InternalServerError
    })?;

    let response = TokenResponse { access_token: token, token_type: "Bearer", expires_in: TOKEN_TTL_SECONDS };
    Ok(Custom(Status::Created, Json(response)))
}

fn sign_token(keys: &Keys, id: i64) -> Result<String, Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    let mut jti = [0_u8; 16];
    getrandom::fill(&mut jti).map_err(|error| format!("the random number generator failed: {error}"))?;

    let claims = Claims {
        sub: id.to_string(),
        kind: USER_KIND.to_owned(),
        iat: now,
        exp: now + TOKEN_TTL_SECONDS,
        jti: jti.iter().map(|byte| format!("{byte:02x}")).collect(),
    };

    Ok(jsonwebtoken::encode(&keys.header, &claims, &keys.encoding)?)
}

/// Reads the secret from `jwt_router.secret_file` or `jwt_router.secret`.
fn read_secret(figment: &Figment) -> Result<Vec<u8>, String> {
    let mut secret = if let Ok(path) = figment.extract_inner::<RelativePathBuf>("jwt_router.secret_file") {
        let path = path.relative();
        std::fs::read(&path).map_err(|error| format!("cannot read `jwt_router.secret_file` `{}`: {error}", path.display()))?
    } else if let Ok(secret) = figment.extract_inner::<String>("jwt_router.secret") {
        secret.into_bytes()
    } else {
        return Err("no secret is configured; set `jwt_router.secret_file` or `jwt_router.secret`".to_owned());
    };

    // The same rule as rocket_jwt_router: one final newline is not part of the secret.
    if secret.ends_with(b"\n") {
        secret.pop();
        if secret.ends_with(b"\r") {
            secret.pop();
        }
    }

    if secret.len() < 32 {
        return Err(format!("the secret is {} bytes long but HS256 needs at least 32 bytes", secret.len()));
    }

    Ok(secret)
}

async fn load_keys(rocket: Rocket<Build>) -> fairing::Result {
    let keys = read_secret(rocket.figment()).and_then(|secret| Keys::new(&secret).map_err(|error| error.to_string()));

    match keys {
        Ok(keys) => Ok(rocket.manage(keys)),
        Err(error) => {
            rocket::error!("baseline: {error}");
            Err(rocket)
        }
    }
}

async fn create_schema(rocket: Rocket<Build>) -> fairing::Result {
    let Some(db) = AppDb::fetch(&rocket) else {
        return Err(rocket);
    };

    let created = sqlx::query("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)")
        .execute(&**db)
        .await;

    match created {
        Ok(_) => Ok(rocket),
        Err(error) => {
            rocket::error!("baseline: creating the users table failed: {error}");
            Err(rocket)
        }
    }
}

/// Builds the application from a configuration figment.
pub fn app(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(AppDb::init())
        .attach(AdHoc::try_on_ignite("Create the users table", create_schema))
        .attach(AdHoc::try_on_ignite("Load the HS256 key", load_keys))
        .mount("/", routes![bare, index])
        .mount("/api/v1", routes![register, ping, me])
}

#[rocket::launch]
fn rocket() -> _ {
    app(rocket::Config::figment())
}
