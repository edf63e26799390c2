//! Forms of the `Authorization` header on the protected GET /api/v1/user.

mod common;

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpStream;
use rocket::tokio::sync::oneshot;
use rocket::tokio::time::timeout;

use common::{assert_unauthorized, Reply, TestApp};

const USER_PATH: &str = "/api/v1/user";

const UNSUPPORTED_SCHEME: &str = "The Authorization header must use the Bearer scheme.";
const MALFORMED_HEADER: &str = "The request must carry exactly one Authorization header of the form `Bearer <token>`.";
const TOKEN_TOO_LONG: &str = "The bearer token is longer than the server accepts.";

/// Maximum time for each network step of the socket test.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns the `WWW-Authenticate` value that the server sends with an RFC 6750
/// error `code` and `description`.
fn challenge(code: &str, description: &str) -> String {
    format!(r#"Bearer error="{code}", error_description="{description}""#)
}

/// Asserts that `reply` is the 401 for `www_authenticate` and `description`,
/// naming `case` in every message.
fn assert_denied(case: &str, reply: &Reply, www_authenticate: &str, description: &str) {
    assert_ne!(reply.status, Status::InternalServerError, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.status, Status::Unauthorized, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.www_authenticate.as_deref(), Some(www_authenticate), "case {case:?}: WWW-Authenticate");
    assert_eq!(reply.description(), description, "case {case:?}: description");
    assert_unauthorized(reply, www_authenticate, description);
}

/// Asserts that `reply` is user 1 as JSON.
fn assert_user_one(case: &str, reply: &Reply) {
    assert_eq!(reply.status, Status::Ok, "case {case:?}: body {:?}", reply.body);

    let body: serde_json::Value = serde_json::from_str(&reply.body).expect("the user body is JSON");
    assert_eq!(body, serde_json::json!({ "id": 1, "name": "ada" }), "case {case:?}");
}

#[rocket::async_test]
async fn scheme_any_case() {
    let app = TestApp::new().await;
    let token = app.user_token(1);

    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let value = format!("{scheme} {token}");
        let reply = app.get(USER_PATH, &[&value]).await;
        assert_user_one(scheme, &reply);
    }

    assert_eq!(app.hits(), ["me", "me", "me", "me"]);
}

#[rocket::async_test]
async fn missing_header() {
    let app = TestApp::new().await;

    let reply = app.get(USER_PATH, &[]).await;

    assert_denied("no header", &reply, "Bearer", common::NO_TOKEN);
    assert!(!app.hits().contains(&"me"), "the handler ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn unsupported_schemes() {
    let app = TestApp::new().await;
    let token = app.user_token(1);

    let values = [
        format!("Token {token}"),
        format!("xBearer {token}"),
        format!("xxBearer {token}"),
        format!("Token Bearer {token}"),
        format!("Bearer\t{token}"),
        format!("Bearer,{token}"),
        "Basic dXNlcjpwYXNz".to_owned(),
        String::new(),
    ];

    for value in &values {
        let reply = app.get(USER_PATH, &[value]).await;
        assert_denied(value, &reply, "Bearer", UNSUPPORTED_SCHEME);
        assert!(!app.hits().contains(&"me"), "case {value:?}: the handler ran");
    }
}

#[rocket::async_test]
async fn malformed_headers() {
    let app = TestApp::new().await;
    let token = app.user_token(1);
    let expected = challenge("invalid_request", MALFORMED_HEADER);

    let values = [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer  {token}"),
        format!("Bearer {token} "),
        format!("Bearer {token} extra"),
        format!("Bearer {token},"),
        format!("Bearer {token}!"),
        format!("Bearer {}", token.replacen('.', "$", 1)),
        "Bearer a=b".to_owned(),
        "Bearer ==".to_owned(),
    ];

    for value in &values {
        let reply = app.get(USER_PATH, &[value]).await;
        assert_denied(value, &reply, &expected, MALFORMED_HEADER);
        assert!(!app.hits().contains(&"me"), "case {value:?}: the handler ran");
    }
}

#[rocket::async_test]
async fn two_valid_headers() {
    let app = TestApp::new().await;
    let value = format!("Bearer {}", app.user_token(1));

    let reply = app.get(USER_PATH, &[&value, &value]).await;

    assert_denied("two headers", &reply, &challenge("invalid_request", MALFORMED_HEADER), MALFORMED_HEADER);
    assert!(!app.hits().contains(&"me"), "the handler ran: {:?}", app.hits());
}

#[rocket::async_test]
async fn megabyte_token_local() {
    let app = TestApp::new().await;
    let value = format!("Bearer {}", "a".repeat(1_000_000));

    let reply = app.get(USER_PATH, &[&value]).await;

    assert_denied("1 MB token", &reply, &challenge("invalid_token", TOKEN_TOO_LONG), TOKEN_TOO_LONG);
    assert!(!app.hits().contains(&"me"), "the handler ran: {:?}", app.hits());
}

/// What the server sent back on a raw connection.
#[derive(Debug)]
enum RawReply {
    /// The status code and the whole response text.
    Response(u16, String),
    /// The server closed the connection without sending a status line.
    Closed,
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 failed");
    listener.local_addr().expect("the listener has no local address").port()
}

/// Sends `request` to 127.0.0.1:`port` while reading the reply, so a reply
/// sent before the request is fully written is still received.
async fn exchange(port: u16, request: Vec<u8>) -> RawReply {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connecting to the test server failed");
    let (mut reader, mut writer) = stream.into_split();

    // A write error means the server closed the connection early, which the
    // reply (or its absence) shows, so the writer's result is not checked.
    let write = rocket::tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        let _ = writer.flush().await;
        writer
    });

    let mut received = Vec::new();
    let mut chunk = [0_u8; 8192];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(count) => received.extend_from_slice(&chunk[..count]),
        }
    }
    drop(write.await);

    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok());
    match status {
        Some(code) => RawReply::Response(code, text),
        None => RawReply::Closed,
    }
}

#[rocket::async_test]
async fn megabyte_token_socket() {
    let database = common::TempDatabase::new();
    let port = free_port();
    let figment = common::figment(&database.url(), common::DEFAULT_CONFIG)
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("shutdown.ctrlc", false))
        .merge(("shutdown.grace", 1))
        .merge(("shutdown.mercy", 1));

    let (ready_sender, ready) = oneshot::channel::<()>();
    let signal_liftoff = AdHoc::on_liftoff("Signal liftoff", move |_| {
        Box::pin(async move {
            let _ = ready_sender.send(());
        })
    });

    let ignited = common::rocket(figment).attach(signal_liftoff).ignite().await.expect("igniting the test server failed");
    let shutdown = ignited.shutdown();
    let server = rocket::tokio::spawn(ignited.launch());
    timeout(STEP_TIMEOUT, ready).await.expect("the test server did not lift off in time").expect("liftoff was not signaled");

    let megabyte = timeout(STEP_TIMEOUT, exchange(port, raw_request(1_000_000))).await;
    let hundred_kilobytes = timeout(STEP_TIMEOUT, exchange(port, raw_request(100_000))).await;

    shutdown.notify();
    let stopped = timeout(STEP_TIMEOUT, server).await.expect("the test server did not shut down in time");
    stopped.expect("the server task panicked").expect("the server failed");

    // hyper may reject a header this large before Rocket receives the request.
    match megabyte.expect("the server did not reply to the 1 MB header or close the connection in time") {
        RawReply::Response(code, text) => {
            assert!(code < 500, "status {code}, response {text:?}");
            assert!(code == 401 || code == 431, "status {code}, response {text:?}");
            if code == 401 {
                assert!(text.contains(TOKEN_TOO_LONG), "response {text:?}");
            }
        }
        RawReply::Closed => {}
    }

    // A header that hyper accepts reaches the gate, which rejects the token.
    match hundred_kilobytes.expect("the server did not reply to the 100 KB header in time") {
        RawReply::Response(code, text) => {
            assert_eq!(code, 401, "response {text:?}");
            let expected = format!("www-authenticate: {}", challenge("invalid_token", TOKEN_TOO_LONG));
            assert!(text.to_ascii_lowercase().contains(&expected.to_ascii_lowercase()), "response {text:?}");
            assert!(text.contains(TOKEN_TOO_LONG), "response {text:?}");
        }
        RawReply::Closed => panic!("the server closed the connection without a reply to the 100 KB header"),
    }
}

/// Returns a GET /api/v1/user request whose bearer token is `length` bytes of `a`.
fn raw_request(length: usize) -> Vec<u8> {
    let mut request = b"GET /api/v1/user HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ".to_vec();
    request.extend(std::iter::repeat_n(b'a', length));
    request.extend_from_slice(b"\r\n\r\n");
    request
}
