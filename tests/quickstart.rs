//! The quickstart example, driven through the session that README.md shows,
//! with the repository's Rocket.toml and a temporary database and secret.
//! With the `postgres` or `mysql` feature the example uses that backend
//! instead, and `.ci/run` drives it with curl.

#![cfg(not(any(feature = "postgres", feature = "mysql")))]

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

mod common;

use common::{assert_unauthorized, TempDatabase, NO_TOKEN};
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;
use serde_json::Value;

struct Quickstart {
    client: Client,
    _database: TempDatabase,
    secret_file: std::path::PathBuf,
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.secret_file);
    }
}

async fn launch() -> Quickstart {
    let database = TempDatabase::new();
    let secret_file = database.path.with_extension("secret");
    std::fs::write(&secret_file, "quickstart-test-secret-0123456789abcdef\n").unwrap();

    // Rocket.toml of the repository, with the database and secret moved to
    // temporary files.
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("databases.app.url", database.url()))
        .merge(("jwt_router.secret_file", secret_file.display().to_string()));
    let client = Client::tracked(quickstart::app(figment)).await.expect("the quickstart failed to launch");

    Quickstart { client, _database: database, secret_file }
}

async fn register(client: &Client, body: &str) -> (Status, Value) {
    let response = client.post("/api/v1/register").header(ContentType::JSON).body(body).dispatch().await;
    let status = response.status();
    let body = response.into_json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

async fn get_user(client: &Client, token: &str) -> (Status, String) {
    let response = client.get("/api/v1/user").header(Header::new("Authorization", format!("Bearer {token}"))).dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

#[rocket::async_test]
async fn readme_session() {
    let app = launch().await;
    let client = &app.client;

    let index = client.get("/").dispatch().await;
    assert_eq!(index.status(), Status::Ok);

    let anonymous = common::Reply::read(client.get("/api/v1/user").dispatch().await).await;
    assert_unauthorized(&anonymous, "Bearer", NO_TOKEN);

    let (status, issued) = register(client, r#"{"name": "Ada"}"#).await;
    assert_eq!(status, Status::Created);
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 3600);
    let token = issued["access_token"].as_str().expect("access_token is a string").to_owned();

    assert_eq!(get_user(client, &token).await, (Status::Ok, r#"{"id":1,"name":"Ada"}"#.to_owned()));

    let refreshed = client.post("/api/v1/token").header(Header::new("Authorization", format!("Bearer {token}"))).dispatch().await;
    assert_eq!(refreshed.status(), Status::Ok);
    let refreshed: Value = refreshed.into_json().await.unwrap();
    let new_token = refreshed["access_token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_eq!(get_user(client, new_token).await, (Status::Ok, r#"{"id":1,"name":"Ada"}"#.to_owned()));
}

#[rocket::async_test]
async fn register_rejects_bad_names() {
    let app = launch().await;

    for body in [r#"{"name": ""}"#, r#"{"name": "   "}"#, &format!(r#"{{"name": "{}"}}"#, "a".repeat(65))] {
        let (status, error) = register(&app.client, body).await;
        assert_eq!(status, Status::UnprocessableEntity, "body {body}");
        assert_eq!(error["error"]["code"], 422, "body {body}");
    }

    let (status, _) = register(&app.client, "not json").await;
    assert_eq!(status, Status::BadRequest);
}

#[rocket::async_test]
async fn refresh_needs_token() {
    let app = launch().await;

    let reply = common::Reply::read(app.client.post("/api/v1/token").dispatch().await).await;

    assert_unauthorized(&reply, "Bearer", NO_TOKEN);
}
