//! How the gate treats each HTTP method, request bodies and unknown paths.

mod common;

use rocket::http::{Header, Method, Status};

use common::{assert_unauthorized, Reply, TestApp};

const NO_TOKEN: &str = common::NO_TOKEN;

/// Asserts that `reply` is the 401 for a request without a token, naming
/// `case` in every message.
fn assert_no_token(case: &str, reply: &Reply) {
    assert_ne!(reply.status, Status::InternalServerError, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.status, Status::Unauthorized, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"), "case {case:?}: WWW-Authenticate");
    assert_unauthorized(reply, "Bearer", NO_TOKEN);
}

/// Asserts that no handler named `handler` has run in `app`.
fn assert_not_run(case: &str, app: &TestApp, handler: &str) {
    let hits = app.hits();
    assert!(!hits.contains(&handler), "case {case:?}: handler {handler:?} ran, hits {hits:?}");
}

fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

/// Returns a multi-line text body of about 4 KB, below Rocket's 8 KiB default
/// limit for `String` data.
fn sample_body() -> String {
    (0..100).map(|line| format!("line {line:03}: \u{e9}t\u{e9} & <tag> = \"quoted\"\r\n")).collect()
}

#[rocket::async_test]
async fn head_public_route() {
    let app = TestApp::new().await;

    let reply = Reply::read(app.client.head("/api/v1/about").dispatch().await).await;

    assert_eq!(reply.status, Status::Ok, "body {:?}", reply.body);
    assert_eq!(reply.body, "");
    assert!(reply.www_authenticate.is_none(), "WWW-Authenticate {:?}", reply.www_authenticate);
    assert_eq!(app.hits(), ["about"]);
}

#[rocket::async_test]
async fn head_protected_route() {
    let app = TestApp::new().await;

    // A HEAD response has no body, so the GET below checks the JSON error body.

    let reply = Reply::read(app.client.head("/api/v1/user").dispatch().await).await;

    assert_eq!(reply.status, Status::Unauthorized, "body {:?}", reply.body);
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(reply.body, "");
    assert_not_run("HEAD", &app, "me");

    let reply = app.get("/api/v1/user", &[]).await;
    assert_no_token("GET", &reply);
    assert_not_run("GET", &app, "me");

    let token = app.user_token(1);
    let reply = Reply::read(app.client.head("/api/v1/user").header(bearer(&token)).dispatch().await).await;
    assert_eq!(reply.status, Status::Ok, "HEAD with a token: body {:?}", reply.body);
    assert_eq!(reply.body, "");
    assert_eq!(app.hits(), ["me"]);
}

#[rocket::async_test]
async fn options_without_preflight() {
    let app = TestApp::new().await;

    let plain = app.client.options("/api/v1/user");
    let reply = Reply::read(plain.dispatch().await).await;
    assert_no_token("plain OPTIONS", &reply);
    assert_not_run("plain OPTIONS", &app, "user_options");

    let origin_only = app.client.options("/api/v1/user").header(Header::new("Origin", "http://localhost:3000"));
    let reply = Reply::read(origin_only.dispatch().await).await;
    assert_no_token("Origin only", &reply);
    assert_not_run("Origin only", &app, "user_options");

    let method_only = app.client.options("/api/v1/user").header(Header::new("Access-Control-Request-Method", "GET"));
    let reply = Reply::read(method_only.dispatch().await).await;
    assert_no_token("Access-Control-Request-Method only", &reply);
    assert_not_run("Access-Control-Request-Method only", &app, "user_options");
}

#[rocket::async_test]
async fn cors_preflight_passes() {
    let app = TestApp::new().await;

    let preflight = app
        .client
        .options("/api/v1/user")
        .header(Header::new("Origin", "http://localhost:3000"))
        .header(Header::new("Access-Control-Request-Method", "GET"));
    let reply = Reply::read(preflight.dispatch().await).await;

    assert_eq!(reply.status, Status::Ok, "body {:?}", reply.body);
    assert_eq!(reply.body, "options");
    assert_eq!(app.hits(), ["user_options"]);
}

#[rocket::async_test]
async fn other_methods_need_token() {
    let app = TestApp::new().await;

    for method in [Method::Trace, Method::Put, Method::Patch, Method::Delete, Method::Post, Method::Connect] {
        let case = method.as_str();
        let reply = Reply::read(app.client.req(method, "/api/v1/user").dispatch().await).await;
        assert_no_token(case, &reply);
        assert!(app.hits().is_empty(), "case {case:?}: hits {:?}", app.hits());
    }
}

#[rocket::async_test]
async fn public_post_keeps_body() {
    let app = TestApp::new().await;
    let body = sample_body();

    let request = app.client.post("/api/v1/register").body(body.clone());
    let reply = Reply::read(request.dispatch().await).await;

    assert_eq!(reply.status, Status::Ok, "body {:?}", reply.body);
    assert_eq!(reply.body, format!("registered {body}"));
    assert_eq!(app.hits(), ["register"]);
}

#[rocket::async_test]
async fn protected_post_keeps_body() {
    let app = TestApp::new().await;
    let token = app.user_token(1);
    let body = sample_body();

    let request = app.client.post("/api/v1/echo").header(bearer(&token)).body(body.clone());
    let reply = Reply::read(request.dispatch().await).await;

    assert_eq!(reply.status, Status::Ok, "body {:?}", reply.body);
    assert_eq!(reply.body, body);
    assert_eq!(app.hits(), ["echo"]);
}

#[rocket::async_test]
async fn protected_post_no_token() {
    let app = TestApp::new().await;

    let request = app.client.post("/api/v1/echo").body(sample_body());
    let reply = Reply::read(request.dispatch().await).await;

    assert_no_token("POST /api/v1/echo", &reply);
    assert_not_run("POST /api/v1/echo", &app, "echo");
}

#[rocket::async_test]
async fn unknown_path() {
    let app = TestApp::new().await;
    let token = app.user_token(1);

    for path in ["/no/such/route", "/api/v1/no/such/route"] {
        let reply = app.get(path, &[]).await;
        assert_no_token(path, &reply);
        assert!(app.hits().is_empty(), "case {path:?}: hits {:?}", app.hits());

        let reply = app.get_with_token(path, &token).await;
        assert_eq!(reply.status, Status::NotFound, "case {path:?}: body {:?}", reply.body);
        assert!(reply.www_authenticate.is_none(), "case {path:?}: WWW-Authenticate {:?}", reply.www_authenticate);
        assert!(app.hits().is_empty(), "case {path:?}: hits {:?}", app.hits());
    }
}
