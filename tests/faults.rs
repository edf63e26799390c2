//! Known faults of flask-jwt-router, each proven absent here through real
//! requests: prefix matching, a dynamic entry opening a fixed sibling, an
//! implicit static exception, scheme parsing, tokens without `exp`, deleted
//! rows, entity kinds, shared state, HEAD, `api_name` slashes and a default
//! secret.

mod common;

use common::{assert_unauthorized, sign, valid_claims, TempDatabase, TestApp, INVALID_TOKEN, NO_TOKEN};
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use rocket_db_pools::{sqlx, Database};
use rocket_jwt_router::RouteReport;

#[rocket::async_test]
async fn dynamic_entry_is_not_a_prefix() {
    let app = TestApp::new().await;

    let reply = app.get("/api/v1/apples", &[]).await;
    assert_unauthorized(&reply, "Bearer", NO_TOKEN);
    assert!(!app.hits().contains(&"apples"), "the handler ran: {:?}", app.hits());

    let reply = app.get("/api/v1/apples/sub/7", &[]).await;
    assert_eq!(reply.status, Status::Ok);
    assert_eq!(reply.body, "apple 7");
}

#[rocket::async_test]
async fn dynamic_entry_aborts_launch() {
    let database = TempDatabase::new();
    let figment = common::figment(&database.url(), "api_name = \"/api/v1\"\nwhite_list_routes = [\"GET /users/<id>\"]");

    let failures = common::launch_failures(common::rocket(figment)).await;

    assert_eq!(failures, ["JwtRouter route audit"]);
}

#[rocket::async_test]
async fn dynamic_entry_problem_names_sibling() {
    let database = TempDatabase::new();
    let config = "api_name = \"/api/v1\"\nwhite_list_routes = [\"GET /users/<id>\"]\nroute_audit = \"warn\"";
    let client = Client::tracked(common::rocket(common::figment(&database.url(), config))).await.unwrap();

    let report = client.rocket().state::<RouteReport>().unwrap();
    assert_eq!(report.problems().len(), 1, "problems: {:?}", report.problems());
    let problem = &report.problems()[0];
    assert!(problem.contains("`GET /users/<id>`"), "{problem}");
    assert!(problem.contains("GET /api/v1/users/me (users_me)"), "{problem}");
    assert!(problem.contains("allow_overlap = true"), "{problem}");
}

#[rocket::async_test]
async fn static_folder_is_not_public() {
    let app = TestApp::new().await;

    let reply = app.get("/static/app.js", &[]).await;

    assert_unauthorized(&reply, "Bearer", NO_TOKEN);
    assert!(!app.hits().contains(&"static"), "the handler ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn root_is_public_only_when_listed() {
    let app = TestApp::with_config("api_name = \"/api/v1\"\nignored_routes = [\"GET /static/<path..>\"]").await;

    let reply = app.get("/", &[]).await;

    assert_unauthorized(&reply, "Bearer", NO_TOKEN);
    assert!(!app.hits().contains(&"index"), "the handler ran: {:?}", app.hits());
    assert_eq!(app.get("/static/app.js", &[]).await.status, Status::Ok);
}

#[rocket::async_test]
async fn lowercase_scheme_is_accepted() {
    let app = TestApp::new().await;
    let token = app.user_token(1);

    let reply = app.get("/api/v1/user", &[&format!("bearer {token}")]).await;

    assert_eq!(reply.status, Status::Ok);
    assert_eq!(reply.body, r#"{"id":1,"name":"ada"}"#);
}

#[rocket::async_test]
async fn bad_schemes_are_401() {
    let app = TestApp::new().await;
    let token = app.user_token(1);
    let unsupported = "The Authorization header must use the Bearer scheme.";
    let malformed = "The request must carry exactly one Authorization header of the form `Bearer <token>`.";

    let cases = [
        (format!("Token {token}"), "Bearer", unsupported),
        (format!("xxBearer {token}"), "Bearer", unsupported),
        (format!("Basic Bearer {token}"), "Bearer", unsupported),
        (format!("Token Bearer {token}"), "Bearer", unsupported),
        ("Bearer".to_owned(), "Bearer error=\"invalid_request\"", malformed),
        (format!("Bearer {token} Bearer"), "Bearer error=\"invalid_request\"", malformed),
    ];

    for (header, challenge, description) in cases {
        let reply = app.get("/api/v1/user", &[&header]).await;
        assert_unauthorized(&reply, challenge, description);
    }
    assert!(!app.hits().contains(&"me"), "the handler ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn token_without_exp_is_401() {
    let app = TestApp::new().await;
    let mut claims = valid_claims("1");
    claims.as_object_mut().unwrap().remove("exp");

    let reply = app.get_with_token("/api/v1/user", &sign(&claims)).await;

    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token is invalid.");
    assert!(!app.hits().contains(&"me"), "the handler ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn deleted_row_is_401() {
    let app = TestApp::new().await;
    let token = app.user_token(2);
    assert_eq!(app.get_with_token("/api/v1/user", &token).await.status, Status::Ok);

    let db = common::AppDb::fetch(app.client.rocket()).unwrap();
    sqlx::query("DELETE FROM users WHERE id = 2").execute(&**db).await.unwrap();
    let reply = app.get_with_token("/api/v1/user", &token).await;

    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token's subject no longer exists.");
    assert_eq!(app.hits(), ["me"], "the handler ran only for the first request");
}

#[rocket::async_test]
async fn other_kind_cannot_load_row() {
    let app = TestApp::new().await;
    let admin_token = sign(&serde_json::json!({
        "sub": "1", "kind": "admins", "iat": common::now(), "exp": common::now() + 600, "jti": "a",
    }));

    let reply = app.get_with_token("/api/v1/user", &admin_token).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token is not valid for this resource.");

    let reply = app.get_with_token("/api/v1/admin", &app.user_token(1)).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token is not valid for this resource.");

    assert!(app.hits().is_empty(), "handlers ran: {:?}", app.hits());
    assert_eq!(app.get_with_token("/api/v1/admin", &admin_token).await.status, Status::Ok);
}

#[rocket::async_test]
async fn instances_do_not_share_state() {
    let first = TestApp::new().await;
    let database = TempDatabase::new();
    let other_config = "[jwt_router]\nsecret = \"another-secret-for-the-second-instance\"\nignored_routes = [\"GET /static/<path..>\"]";
    let second = Client::tracked(common::rocket(common::figment_without_secret(&database.url(), other_config))).await.unwrap();

    let token = first.user_token(1);
    let mut request = second.get("/api/v1/user");
    request.add_header(rocket::http::Header::new("Authorization", format!("Bearer {token}")));
    let reply = common::Reply::read(request.dispatch().await).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token is invalid.");

    assert_eq!(common::Reply::read(second.get("/static/x").dispatch().await).await.status, Status::Ok);
    assert_unauthorized(&first.get("/static/x", &[]).await, "Bearer", NO_TOKEN);
}

#[rocket::async_test]
async fn head_on_public_get_passes() {
    let app = TestApp::new().await;

    let response = app.client.head("/api/v1/about").dispatch().await;

    assert_eq!(response.status(), Status::Ok);
    assert_eq!(app.hits(), ["about"]);
}

#[rocket::async_test]
async fn api_name_slashes_are_normalized() {
    for api_name in ["api/v1", "/api/v1/", "api/v1/", "/api/v1"] {
        let app = TestApp::with_config(&format!("api_name = \"{api_name}\"\nwhite_list_routes = [\"POST /register\"]")).await;

        let response = app.client.post("/api/v1/register").body("ada").dispatch().await;

        assert_eq!(response.status(), Status::Ok, "api_name {api_name:?}");
        assert_eq!(response.into_string().await.unwrap(), "registered ada", "api_name {api_name:?}");
    }
}

#[rocket::async_test]
async fn missing_secret_aborts_launch() {
    let database = TempDatabase::new();
    let figment = common::figment_without_secret(&database.url(), "[jwt_router]\nignored_routes = [\"GET /\"]");

    let failures = common::launch_failures(common::rocket(figment)).await;

    assert_eq!(failures, ["JwtRouter"]);
}
