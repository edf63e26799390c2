//! The testing helpers, the `OptionalEntity` guard and the `Claims` guard,
//! used the way an application's own tests would use them.

mod common;

use common::{assert_unauthorized, TestApp, INVALID_TOKEN, NO_TOKEN};
use rocket::http::Status;
use rocket_jwt_router::testing::{LocalRequestExt, TokenFault};
use rocket_jwt_router::TokenIssuer;

fn issuer(app: &TestApp) -> &TokenIssuer {
    app.client.rocket().state::<TokenIssuer>().expect("the fairing manages TokenIssuer")
}

async fn send(request: rocket::local::asynchronous::LocalRequest<'_>) -> common::Reply {
    common::Reply::read(request.dispatch().await).await
}

#[rocket::async_test]
async fn authenticated_as_sends_valid_token() {
    let app = TestApp::new().await;

    let reply = send(app.client.get("/api/v1/user").authenticated_as::<common::User>(&2)).await;

    assert_eq!(reply.status, Status::Ok);
    assert_eq!(reply.body, r#"{"id":2,"name":"grace"}"#);
}

#[rocket::async_test]
async fn faulty_tokens_are_rejected() {
    let app = TestApp::new().await;
    let cases = [
        (TokenFault::Expired, "The bearer token has expired."),
        (TokenFault::NotYetValid, "The bearer token is not valid yet."),
        (TokenFault::BadSignature, "The bearer token is invalid."),
        (TokenFault::WrongKind, "The bearer token is not valid for this resource."),
    ];

    for (fault, description) in cases {
        let token = issuer(&app).faulty_token::<common::User>(&1, fault);
        let reply = send(app.client.get("/api/v1/user").bearer(&token)).await;
        assert_unauthorized(&reply, INVALID_TOKEN, description);
    }
    assert!(!app.hits().contains(&"me"), "the handler ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn gate_rejects_faulty_tokens() {
    let app = TestApp::new().await;

    for fault in [TokenFault::Expired, TokenFault::NotYetValid, TokenFault::BadSignature] {
        let token = issuer(&app).faulty_token::<common::User>(&1, fault);
        let reply = send(app.client.get("/api/v1/users/1").bearer(&token)).await;
        assert_eq!(reply.status, Status::Unauthorized, "fault {fault:?}");
    }
    assert!(app.hits().is_empty(), "handlers ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn optional_entity_without_header() {
    let app = TestApp::new().await;

    let reply = send(app.client.get("/api/v1/greeting")).await;

    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, "hello stranger"));
}

#[rocket::async_test]
async fn optional_entity_with_token() {
    let app = TestApp::new().await;

    let reply = send(app.client.get("/api/v1/greeting").authenticated_as::<common::User>(&1)).await;

    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, "hello ada"));
}

#[rocket::async_test]
async fn optional_entity_rejects_bad_tokens() {
    let app = TestApp::new().await;
    let expired = issuer(&app).faulty_token::<common::User>(&1, TokenFault::Expired);
    let deleted = app.user_token(99);

    let reply = send(app.client.get("/api/v1/greeting").bearer(&expired)).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token has expired.");

    let reply = send(app.client.get("/api/v1/greeting").bearer(&deleted)).await;
    assert_unauthorized(&reply, INVALID_TOKEN, "The bearer token's subject no longer exists.");

    let reply = app.get("/api/v1/greeting", &["Basic dXNlcjpwYXNz"]).await;
    assert_unauthorized(&reply, "Bearer", "The Authorization header must use the Bearer scheme.");

    assert!(!app.hits().contains(&"greeting"), "the handler ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn claims_guard_skips_database() {
    let app = TestApp::new().await;

    // User 99 has no row, and the Claims guard does not look for one.
    let reply = send(app.client.get("/api/v1/claims").authenticated_as::<common::User>(&99)).await;

    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, "users 99"));
}

#[rocket::async_test]
async fn claims_guard_denies_without_token() {
    let app = TestApp::new().await;

    let reply = send(app.client.get("/api/v1/claims")).await;

    assert_unauthorized(&reply, "Bearer", NO_TOKEN);
    assert!(!app.hits().contains(&"claims"), "the handler ran: {:?}", app.hits());
}
