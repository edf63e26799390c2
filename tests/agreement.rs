//! The gate and Rocket's router agree on every path: a request passes without
//! a token exactly when Rocket dispatches it to the public route.
//!
//! The oracle is Rocket itself: the same routes mounted without the fairing
//! show where Rocket sends each request.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use proptest::prelude::*;
use rocket::figment::providers::{Format, Toml};
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;
use rocket::{get, routes, Build, Rocket};
use rocket_jwt_router::JwtRouter;

#[get("/about")]
fn about() -> &'static str {
    "about"
}

#[get("/<slug>")]
fn slug(slug: &str) -> String {
    let _ = slug;
    "slug".to_owned()
}

#[get("/users/<id>")]
fn user_by_id(id: &str) -> String {
    let _ = id;
    "user_by_id".to_owned()
}

const CONFIG: &str = r#"
[jwt_router]
secret = "agreement-test-secret-0123456789abcdef"
api_name = "/api/v1"
white_list_routes = [{ method = "GET", path = "/about", allow_overlap = true }]
"#;

fn figment() -> Figment {
    Figment::from(rocket::Config::debug_default())
        .merge(("log_level", "off"))
        .merge(Toml::string(CONFIG))
}

fn app(gated: bool) -> Rocket<Build> {
    let rocket = rocket::custom(figment()).mount("/api/v1", routes![about, slug, user_by_id]);
    if gated {
        rocket.attach(JwtRouter::fairing())
    } else {
        rocket
    }
}

fn token() -> String {
    let claims = common::valid_claims("1");
    common::sign_with(&jsonwebtoken::Header::default(), &claims, b"agreement-test-secret-0123456789abcdef")
}

/// Where a request ended up: the handler name, or the status without one.
#[derive(Debug, PartialEq, Eq)]
enum Served {
    Route(String),
    Status(Status),
}

async fn serve(client: &Client, path: &str, token: Option<&str>) -> Served {
    let mut request = client.get(path.to_owned());
    if let Some(token) = token {
        request.add_header(Header::new("Authorization", format!("Bearer {token}")));
    }

    let response = request.dispatch().await;
    match response.status() {
        Status::Ok => Served::Route(response.into_string().await.unwrap_or_default()),
        status => Served::Status(status),
    }
}

/// Checks one path against the oracle and returns where Rocket sends it.
async fn check_agreement(gated: &Client, oracle: &Client, path: &str, token: &str) -> Served {
    let expected = serve(oracle, path, None).await;
    let anonymous = serve(gated, path, None).await;
    let signed_in = serve(gated, path, Some(token)).await;

    if expected == Served::Route("about".to_owned()) {
        assert_eq!(anonymous, expected, "path {path:?}: the public route must pass without a token");
    } else {
        assert_eq!(anonymous, Served::Status(Status::Unauthorized), "path {path:?}: Rocket serves it with {expected:?}");
    }
    assert_eq!(signed_in, expected, "path {path:?}: with a token the gate must be transparent");

    expected
}

#[rocket::async_test]
async fn paths_agree_with_router() {
    let gated = Client::tracked(app(true)).await.unwrap();
    let oracle = Client::tracked(app(false)).await.unwrap();
    let token = token();

    let slug = || Served::Route("slug".to_owned());
    let user = || Served::Route("user_by_id".to_owned());
    let cases = [
        ("/api/v1/about", Served::Route("about".to_owned())),
        ("/api/v1/abou%74", Served::Route("about".to_owned())),
        ("/api/v1/about/", Served::Route("about".to_owned())),
        ("/api/v1/ABOUT", slug()),
        ("/api/v1/about;x=1", slug()),
        ("/api/v1/users%2F1", slug()),
        ("/api/v1/%EF%BD%81bout", slug()),
        ("//api//v1/users/1/", user()),
        ("/%61pi/v1/users/1", user()),
        ("/api/v1/users/..", user()),
        ("/api/v1/users/1/secrets", Served::Status(Status::NotFound)),
        ("/api/v2/about", Served::Status(Status::NotFound)),
    ];

    for (path, rocket_serves) in cases {
        let served = check_agreement(&gated, &oracle, path, &token).await;
        assert_eq!(served, rocket_serves, "path {path:?}: Rocket's routing changed; review this case");
    }
}

/// Segments that are likely to confuse a matcher that differs from Rocket's.
const SEGMENTS: &[&str] = &[
    "api", "v1", "about", "users", "1", "ABOUT", "About", "abou%74", "%61pi", "%61bout", "..", ".", "about;x=1",
    "users%2F1", "%2F", "%EF%BD%81bout", "about%00", "%20about", "v2", "me", "about.json", "~about",
];

fn path_strategy() -> impl Strategy<Value = String> {
    let segment = prop::sample::select(SEGMENTS);
    let separator = prop::sample::select(&["/", "/", "/", "//"][..]);

    (prop::collection::vec((separator, segment), 0..6), any::<bool>()).prop_map(|(parts, trailing_slash)| {
        let mut path: String = parts.iter().map(|(separator, segment)| format!("{separator}{segment}")).collect();
        if path.is_empty() || trailing_slash {
            path.push('/');
        }
        path
    })
}

/// Paths that lean on the public route's shape, so that most cases are close
/// to it rather than random noise.
fn near_public_strategy() -> impl Strategy<Value = String> {
    let segment = prop::sample::select(SEGMENTS);

    (segment.clone(), segment, 0..4_usize).prop_map(|(first, last, shape)| match shape {
        0 => format!("/api/v1/{last}"),
        1 => format!("/{first}/v1/{last}"),
        2 => format!("/api/v1/users/{last}"),
        _ => format!("/api/{first}/{last}"),
    })
}

#[test]
fn generated_paths_agree_with_router() {
    let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (gated, oracle) = runtime.block_on(async {
        (Client::tracked(app(true)).await.unwrap(), Client::tracked(app(false)).await.unwrap())
    });
    let token = token();

    let config = ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(path in prop_oneof![path_strategy(), near_public_strategy()])| {
        runtime.block_on(check_agreement(&gated, &oracle, &path, &token));
    });
}

/// Picks a free port on 127.0.0.1 for a real listener.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn send_raw(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();

    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[rocket::async_test]
async fn absolute_form_agrees_with_router() {
    let port = free_port();
    let figment = figment().merge(("port", port)).merge(("address", "127.0.0.1"));
    let rocket = rocket::custom(figment).mount("/api/v1", routes![about, slug, user_by_id]).attach(JwtRouter::fairing());
    let ignited = rocket.ignite().await.unwrap();
    let shutdown = ignited.shutdown();
    let server = rocket::tokio::spawn(ignited.launch());

    let mut connected = false;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            connected = true;
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(connected, "the server did not start on port {port}");

    let protected = rocket::tokio::task::spawn_blocking(move || {
        let protected = send_raw(port, "GET http://other.example/api/v1/users/1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n");
        let public = send_raw(port, "GET http://other.example/api/v1/about HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n");
        (protected, public)
    })
    .await
    .unwrap();

    shutdown.notify();
    let _ = server.await;

    let (protected, public) = protected;
    assert!(protected.starts_with("HTTP/1.1 401"), "response {protected:?}");
    assert!(protected.to_ascii_lowercase().contains("www-authenticate: bearer"), "response {protected:?}");
    assert!(!protected.contains("user_by_id"), "the handler ran: {protected:?}");
    assert!(public.starts_with("HTTP/1.1 200"), "response {public:?}");
    assert!(public.ends_with("about"), "response {public:?}");
}
