//! The entity guard on every database backend: id types, strict subjects,
//! exact text ids, deleted rows, a database that goes away and comes back, and
//! pool exhaustion.
//!
//! SQLite always runs. PostgreSQL and MariaDB/MySQL run when the crate is
//! built with the `postgres` or `mysql` feature and their URL is set:
//!
//! ```text
//! JWT_ROUTER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! JWT_ROUTER_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//! cargo test --features postgres,mysql --test backends
//! ```
//!
//! With `JWT_ROUTER_REQUIRE_BACKENDS=1` (as `.ci/run` sets), a backend whose
//! URL is missing or unreachable fails instead of being skipped. Each test
//! works in its own PostgreSQL schema or MySQL database and drops it at the
//! end, so parallel tests and reruns never collide.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    #[allow(dead_code)]
    Postgres,
    #[allow(dead_code)]
    MySql,
}

/// Writes to the terminal even while the test harness captures output, so
/// that a plain `cargo test` shows which backends it skipped.
fn announce(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

fn required() -> bool {
    std::env::var_os("JWT_ROUTER_REQUIRE_BACKENDS").is_some_and(|value| value == "1")
}

/// Returns the base URL of a networked backend, or `None` to skip.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn backend_url(variable: &str, name: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required() => panic!("{name} is required (JWT_ROUTER_REQUIRE_BACKENDS=1) but {variable} is not set"),
        _ => {
            announce(&format!("backends: skipped {name}: set {variable} to run it"));
            None
        }
    }
}

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_skipped() {
    announce("backends: skipped PostgreSQL: run `cargo test --features postgres --test backends` with JWT_ROUTER_TEST_POSTGRES_URL set");
    assert!(!required(), "JWT_ROUTER_REQUIRE_BACKENDS=1 but the `postgres` feature is off");
}

#[cfg(not(feature = "mysql"))]
#[test]
fn mysql_skipped() {
    announce("backends: skipped MySQL/MariaDB: run `cargo test --features mysql --test backends` with JWT_ROUTER_TEST_MYSQL_URL set");
    assert!(!required(), "JWT_ROUTER_REQUIRE_BACKENDS=1 but the `mysql` feature is off");
}

/// An isolated place for one test's tables: a SQLite file, a PostgreSQL
/// schema or a MySQL database.
struct Namespace {
    kind: Kind,
    name: String,
    admin_url: String,
    app_url: String,
    _file: Option<common::TempDatabase>,
}

fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("jwt_router_test_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Splits `scheme://authority/path?query` into its prefix up to the authority
/// and the rest.
fn split_authority(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    let path_start = url[after_scheme..].find('/').map_or(url.len(), |index| after_scheme + index);
    (&url[..path_start], &url[path_start..])
}

/// Returns `url` with its port replaced by `port`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn with_port(url: &str, port: u16) -> String {
    let (authority, rest) = split_authority(url);
    let host_end = authority.rfind(':').filter(|&index| index > authority.find("://").unwrap_or(0) + 3).unwrap_or(authority.len());
    format!("{}:{port}{rest}", &authority[..host_end])
}

/// Returns the `host:port` that `url` points at.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn socket_address(url: &str) -> String {
    let (authority, _) = split_authority(url);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    host_port.rsplit("//").next().unwrap_or(host_port).to_owned()
}

impl Namespace {
    async fn create(kind: Kind, base_url: Option<&str>) -> Namespace {
        let name = unique_name();

        match kind {
            Kind::Sqlite => {
                let file = common::TempDatabase::new();
                let url = file.url();
                Namespace { kind, name, admin_url: url.clone(), app_url: url, _file: Some(file) }
            }
            Kind::Postgres => {
                let admin_url = base_url.expect("a PostgreSQL URL").to_owned();
                execute_admin(kind, &admin_url, &format!("CREATE SCHEMA \"{name}\"")).await;
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                let app_url = format!("{admin_url}{separator}options[search_path]={name}");
                Namespace { kind, name, admin_url, app_url, _file: None }
            }
            Kind::MySql => {
                let admin_url = base_url.expect("a MySQL URL").to_owned();
                execute_admin(kind, &admin_url, &format!("CREATE DATABASE `{name}`")).await;
                let (authority, rest) = split_authority(&admin_url);
                let query = rest.find('?').map_or("", |index| &rest[index..]);
                let app_url = format!("{authority}/{name}{query}");
                Namespace { kind, name, admin_url, app_url, _file: None }
            }
        }
    }

    async fn drop_now(self) {
        match self.kind {
            Kind::Sqlite => {}
            Kind::Postgres => execute_admin(self.kind, &self.admin_url, &format!("DROP SCHEMA \"{}\" CASCADE", self.name)).await,
            Kind::MySql => execute_admin(self.kind, &self.admin_url, &format!("DROP DATABASE `{}`", self.name)).await,
        }
    }
}

/// Runs one administrative statement on its own connection.
async fn execute_admin(kind: Kind, url: &str, statement: &str) {
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    use rocket_db_pools::sqlx::Connection;

    match kind {
        Kind::Sqlite => {}
        #[cfg(feature = "postgres")]
        Kind::Postgres => {
            let mut connection = rocket_db_pools::sqlx::PgConnection::connect(url)
                .await
                .unwrap_or_else(|error| panic!("PostgreSQL at {url} is unreachable: {error}"));
            rocket_db_pools::sqlx::query(statement).execute(&mut connection).await.unwrap();
        }
        #[cfg(feature = "mysql")]
        Kind::MySql => {
            let mut connection = rocket_db_pools::sqlx::MySqlConnection::connect(url)
                .await
                .unwrap_or_else(|error| panic!("MySQL at {url} is unreachable: {error}"));
            rocket_db_pools::sqlx::query(statement).execute(&mut connection).await.unwrap();
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("{kind:?} is not compiled in; {statement} {url}"),
    }
}

/// Runs `test` with a fresh namespace and drops the namespace afterwards,
/// also when the test panics.
async fn in_namespace<F, Fut>(kind: Kind, base_url: Option<&str>, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let namespace = Namespace::create(kind, base_url).await;
    let outcome = rocket::tokio::spawn(test(namespace.app_url.clone())).await;
    namespace.drop_now().await;

    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

const SECRET: &str = "backend-test-secret-0123456789abcdef";
const TEXT_ID: &str = "3f2c8a4e-1b2d-4c5e-9f60-7a8b9c0d1e2f";

fn figment(url: &str, max_connections: usize, connect_timeout: u64) -> Figment {
    Figment::from(rocket::Config::debug_default())
        .merge(("log_level", "off"))
        .merge(("databases.app.url", url))
        .merge(("databases.app.max_connections", max_connections))
        .merge(("databases.app.connect_timeout", connect_timeout))
        .merge(("jwt_router.secret", SECRET))
}

fn token(kind: &str, sub: &str) -> String {
    let now = common::now();
    let claims = serde_json::json!({ "sub": sub, "kind": kind, "iat": now, "exp": now + 600, "jti": "backend" });
    common::sign_with(&jsonwebtoken::Header::default(), &claims, SECRET.as_bytes())
}

async fn get(client: &Client, path: &str, token: &str) -> common::Reply {
    let request = client.get(path.to_owned()).header(Header::new("Authorization", format!("Bearer {token}")));
    common::Reply::read(request.dispatch().await).await
}

/// Waits until the pool has an idle connection: sqlx returns a used
/// connection to the pool on a background task.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn wait_for_idle_connection<D: rocket_db_pools::sqlx::Database>(pool: &rocket_db_pools::sqlx::Pool<D>) {
    for _ in 0..250 {
        if pool.num_idle() > 0 {
            return;
        }
        rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no connection went back to the pool");
}

/// A TCP proxy on 127.0.0.1 that can be stopped and restarted on the same
/// port, to make a database unreachable and reachable again.
#[cfg(any(feature = "postgres", feature = "mysql"))]
struct Proxy {
    port: u16,
    target: String,
    accept_task: Option<rocket::tokio::task::JoinHandle<()>>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<rocket::tokio::task::JoinHandle<()>>>>,
    stalls: std::sync::Arc<rocket::tokio::sync::Notify>,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl Proxy {
    async fn start(port: u16, target: &str) -> Proxy {
        let mut proxy =
            Proxy { port, target: target.to_owned(), accept_task: None, connections: Default::default(), stalls: Default::default() };
        proxy.listen().await;
        proxy
    }

    async fn listen(&mut self) {
        // The aborted accept task of `stop` closes its listener only when the
        // runtime next polls it, so the port may still be taken for a moment.
        let mut attempts = 0;
        let listener = loop {
            match rocket::tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(error) if attempts < 100 && error.kind() == std::io::ErrorKind::AddrInUse => {
                    attempts += 1;
                    rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(error) => panic!("the proxy cannot listen on port {}: {error}", self.port),
            }
        };
        self.port = listener.local_addr().unwrap().port();

        let target = self.target.clone();
        let connections = self.connections.clone();
        let stalls = self.stalls.clone();
        self.accept_task = Some(rocket::tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let stalls = stalls.clone();
                let task = rocket::tokio::spawn(async move {
                    if let Ok(mut outbound) = rocket::tokio::net::TcpStream::connect(target).await {
                        rocket::tokio::select! {
                            _ = rocket::tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            // A stalled connection stays open and forwards nothing.
                            _ = stalls.notified() => std::future::pending::<()>().await,
                        }
                    }
                });
                connections.lock().unwrap().push(task);
            }
        }));
    }

    /// Stops forwarding on every open connection without closing it, as a
    /// peer that vanished behind a firewall looks. New connections work.
    fn stall_open_connections(&self) {
        self.stalls.notify_waiters();
    }

    /// Closes the listening port and every proxied connection.
    fn stop(&mut self) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
        }
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

macro_rules! backend_suite {
    (
        mod $module:ident,
        feature = $feature:literal,
        pool = $pool:ty,
        kind = $kind:expr,
        network = $network:ident,
        base_url = $base_url:expr,
        schema = $schema:expr $(,)?
    ) => {
        #[cfg(feature = $feature)]
        mod $module {
            use super::*;
            use rocket::serde::json::Json;
            use rocket::{get, routes};
            use rocket_db_pools::{sqlx, Database};
            use rocket_jwt_router::{AuthedEntity, Entity, JwtRouter};
            use serde::Serialize;

            #[derive(Database)]
            #[database("app")]
            pub struct Db($pool);

            #[derive(Clone, sqlx::FromRow, Serialize)]
            pub struct User64 {
                id: i64,
                name: String,
            }

            impl Entity for User64 {
                type Database = Db;
                type Id = i64;
                const TABLE: &'static str = "users64";
            }

            #[derive(Clone, sqlx::FromRow, Serialize)]
            pub struct User32 {
                id: i32,
                name: String,
            }

            impl Entity for User32 {
                type Database = Db;
                type Id = i32;
                const TABLE: &'static str = "users32";
            }

            /// An i64 id over a 32-bit column: the bound parameter and the
            /// column differ in width, which must still work.
            #[derive(Clone, sqlx::FromRow, Serialize)]
            pub struct Narrow {
                id: i32,
                name: String,
            }

            impl Entity for Narrow {
                type Database = Db;
                type Id = i64;
                const TABLE: &'static str = "users32";
                const KIND: &'static str = "narrow";
            }

            #[derive(Clone, sqlx::FromRow, Serialize)]
            pub struct UserText {
                id: String,
                name: String,
            }

            impl Entity for UserText {
                type Database = Db;
                type Id = String;
                const TABLE: &'static str = "users_text";
            }

            #[get("/u64")]
            pub fn u64_route(user: AuthedEntity<User64>) -> Json<User64> {
                Json(user.into_inner())
            }

            #[get("/u32")]
            pub fn u32_route(user: AuthedEntity<User32>) -> Json<User32> {
                Json(user.into_inner())
            }

            #[get("/narrow")]
            pub fn narrow_route(user: AuthedEntity<Narrow>) -> Json<Narrow> {
                Json(user.into_inner())
            }

            #[get("/text")]
            pub fn text_route(user: AuthedEntity<UserText>) -> Json<UserText> {
                Json(user.into_inner())
            }

            fn base_url() -> Option<String> {
                $base_url
            }

            pub async fn create_tables(url: &str) {
                let rocket = rocket::custom(figment(url, 2, 5)).attach(Db::init()).ignite().await.unwrap();
                let db = Db::fetch(&rocket).unwrap();
                for statement in $schema {
                    sqlx::query(statement).execute(&**db).await.unwrap_or_else(|error| panic!("{statement}: {error}"));
                }
                db.close().await;
            }

            pub async fn client(url: &str, max_connections: usize, connect_timeout: u64) -> Client {
                client_on(figment(url, max_connections, connect_timeout)).await
            }

            pub async fn client_on(figment: Figment) -> Client {
                let rocket = rocket::custom(figment)
                    .attach(Db::init())
                    .attach(JwtRouter::fairing())
                    .mount("/", routes![u64_route, u32_route, narrow_route, text_route]);
                Client::tracked(rocket).await.expect("the backend test application failed to launch")
            }

            #[rocket::async_test]
            async fn loads_each_id_type() {
                let Some(base) = base_url() else { return };
                in_namespace($kind, Some(&base), |url| async move {
                    create_tables(&url).await;
                    let client = client(&url, 4, 5).await;

                    let reply = get(&client, "/u64", &token("users64", "1")).await;
                    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, r#"{"id":1,"name":"ada64"}"#));

                    let reply = get(&client, "/u32", &token("users32", "1")).await;
                    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, r#"{"id":1,"name":"ada32"}"#));

                    let reply = get(&client, "/narrow", &token("narrow", "1")).await;
                    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, r#"{"id":1,"name":"ada32"}"#));

                    let reply = get(&client, "/text", &token("users_text", TEXT_ID)).await;
                    let expected = format!(r#"{{"id":"{TEXT_ID}","name":"ada-text"}}"#);
                    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, expected.as_str()));
                })
                .await;
            }

            #[rocket::async_test]
            async fn non_canonical_subjects_never_load() {
                let Some(base) = base_url() else { return };
                in_namespace($kind, Some(&base), |url| async move {
                    create_tables(&url).await;
                    let client = client(&url, 4, 5).await;

                    for sub in ["01", "+1", " 1", "1 ", "1.0", "1abc", "1e0", ""] {
                        for (path, kind) in [("/u64", "users64"), ("/u32", "users32"), ("/narrow", "narrow")] {
                            let reply = get(&client, path, &token(kind, sub)).await;
                            common::assert_unauthorized(&reply, common::INVALID_TOKEN, "The bearer token's subject is invalid.");
                        }
                    }

                    // Text ids match byte for byte, whatever the column's collation.
                    let upper = TEXT_ID.to_uppercase();
                    let padded = format!("{TEXT_ID} ");
                    for sub in [upper.as_str(), padded.as_str(), &TEXT_ID[..8]] {
                        let reply = get(&client, "/text", &token("users_text", sub)).await;
                        common::assert_unauthorized(&reply, common::INVALID_TOKEN, "The bearer token's subject no longer exists.");
                    }
                })
                .await;
            }

            #[rocket::async_test]
            async fn deleted_row_is_401() {
                let Some(base) = base_url() else { return };
                in_namespace($kind, Some(&base), |url| async move {
                    create_tables(&url).await;
                    let client = client(&url, 4, 5).await;
                    let token = token("users64", "2");
                    assert_eq!(get(&client, "/u64", &token).await.status, Status::Ok);

                    let db = Db::fetch(client.rocket()).unwrap();
                    sqlx::query("DELETE FROM users64 WHERE id = 2").execute(&**db).await.unwrap();

                    let reply = get(&client, "/u64", &token).await;
                    common::assert_unauthorized(&reply, common::INVALID_TOKEN, "The bearer token's subject no longer exists.");
                })
                .await;
            }

            #[rocket::async_test]
            async fn pool_exhaustion_is_503() {
                let Some(base) = base_url() else { return };
                in_namespace($kind, Some(&base), |url| async move {
                    create_tables(&url).await;
                    let client = client(&url, 2, 1).await;
                    let db = Db::fetch(client.rocket()).unwrap();
                    let token = token("users64", "1");

                    let held = [db.acquire().await.unwrap(), db.acquire().await.unwrap()];
                    let started = std::time::Instant::now();
                    let requests = (0..6).map(|_| get(&client, "/u64", &token));
                    let replies = rocket::futures::future::join_all(requests).await;
                    let elapsed = started.elapsed();

                    for reply in &replies {
                        assert_eq!(reply.status, Status::ServiceUnavailable, "body {:?}", reply.body);
                        assert_eq!(reply.description(), "The service is temporarily unavailable.");
                    }
                    assert!(elapsed < std::time::Duration::from_secs(10), "requests waited {elapsed:?} for a 1 s pool timeout");

                    drop(held);
                    let reply = get(&client, "/u64", &token).await;
                    assert_eq!(reply.status, Status::Ok, "body {:?}", reply.body);
                    assert!(db.size() <= 2, "the pool grew past its maximum: {}", db.size());

                    // sqlx returns a dropped connection to the pool on a background task.
                    for _ in 0..100 {
                        if db.num_idle() == db.size() as usize {
                            break;
                        }
                        rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    assert_eq!(db.num_idle(), db.size() as usize, "a connection leaked");
                })
                .await;
            }

            backend_suite!(@network $network, $kind, base_url);
        }
    };

    (@network no, $kind:expr, $base_url:ident) => {};
    (@network yes, $kind:expr, $base_url:ident) => {
        #[rocket::async_test]
        async fn database_down_then_back() {
            let Some(base) = $base_url() else { return };
            in_namespace($kind, Some(&base), |url| async move {
                create_tables(&url).await;
                let target = socket_address(&url);
                let mut proxy = Proxy::start(0, &target).await;
                let client = client(&with_port(&url, proxy.port), 2, 1).await;
                let token = token("users64", "1");
                assert_eq!(get(&client, "/u64", &token).await.status, Status::Ok);

                proxy.stop();
                let started = std::time::Instant::now();
                let reply = get(&client, "/u64", &token).await;
                let elapsed = started.elapsed();
                assert_eq!(reply.status, Status::ServiceUnavailable, "body {:?}", reply.body);
                assert_eq!(reply.content_type.as_deref(), Some("application/json"));
                assert_eq!(reply.description(), "The service is temporarily unavailable.");
                assert!(elapsed < std::time::Duration::from_secs(10), "the 503 took {elapsed:?} with a 1 s connect timeout");

                proxy.listen().await;
                let reply = get(&client, "/u64", &token).await;
                assert_eq!(reply.status, Status::Ok, "after the database came back: {:?}", reply.body);
            })
            .await;
        }

        /// Starts the application with its database behind a proxy, serves one
        /// request and waits until its connection is idle in the pool.
        async fn client_with_idle_connection(url: &str, connect_timeout: u64) -> (Proxy, Client) {
            create_tables(url).await;
            let proxy = Proxy::start(0, &socket_address(url)).await;
            let client = client(&with_port(url, proxy.port), 2, connect_timeout).await;
            assert_eq!(get(&client, "/u64", &token("users64", "1")).await.status, Status::Ok);

            wait_for_idle_connection(&Db::fetch(client.rocket()).unwrap()).await;
            (proxy, client)
        }

        /// Checks that a connection that broke while idle is replaced, not
        /// turned into a 503, although the guard takes it without sqlx's check.
        #[rocket::async_test]
        async fn broken_idle_connection_is_replaced() {
            let Some(base) = $base_url() else { return };
            in_namespace($kind, Some(&base), |url| async move {
                let (mut proxy, client) = client_with_idle_connection(&url, 5).await;
                let token = token("users64", "1");

                // Every pooled connection breaks, while the database stays reachable.
                proxy.stop();
                proxy.listen().await;

                let reply = get(&client, "/u64", &token).await;
                assert_eq!(reply.status, Status::Ok, "a connection that broke while idle was not replaced: {:?}", reply.body);
                assert_eq!(reply.body, r#"{"id":1,"name":"ada64"}"#);
            })
            .await;
        }

        /// An idle connection that stopped responding without closing must not
        /// hold the request for longer than the pool's timeout, and is then
        /// replaced.
        #[rocket::async_test]
        async fn silent_idle_connection_is_replaced() {
            let Some(base) = $base_url() else { return };
            in_namespace($kind, Some(&base), |url| async move {
                let (proxy, client) = client_with_idle_connection(&url, 1).await;
                let token = token("users64", "1");

                proxy.stall_open_connections();
                let started = std::time::Instant::now();
                let reply = rocket::tokio::time::timeout(std::time::Duration::from_secs(10), get(&client, "/u64", &token)).await;
                let elapsed = started.elapsed();
                let reply = reply.expect("the request still waited on the silent connection after 10 s");

                assert_eq!(reply.status, Status::ServiceUnavailable, "body {:?}", reply.body);
                assert_eq!(reply.description(), "The service is temporarily unavailable.");
                assert!(elapsed >= std::time::Duration::from_millis(900), "the 503 came after {elapsed:?}, before the 1 s pool timeout");
                assert!(elapsed < std::time::Duration::from_secs(5), "the 503 took {elapsed:?} with a 1 s pool timeout");

                let reply = get(&client, "/u64", &token).await;
                assert_eq!(reply.status, Status::Ok, "the silent connection was not discarded: {:?}", reply.body);
                assert_eq!(reply.body, r#"{"id":1,"name":"ada64"}"#);
            })
            .await;
        }

        #[rocket::async_test]
        async fn cached_entities_outlive_outage() {
            let Some(base) = $base_url() else { return };
            in_namespace($kind, Some(&base), |url| async move {
                create_tables(&url).await;
                let target = socket_address(&url);
                let mut proxy = Proxy::start(0, &target).await;
                let figment = figment(&with_port(&url, proxy.port), 2, 1).merge(("jwt_router.entity_cache_ttl", "1h"));
                let client = client_on(figment).await;
                let cached = token("users64", "1");
                let uncached = token("users_text", TEXT_ID);
                assert_eq!(get(&client, "/u64", &cached).await.status, Status::Ok);

                proxy.stop();
                let reply = get(&client, "/u64", &cached).await;
                assert_eq!(reply.status, Status::Ok, "a cached entity needs no connection: {:?}", reply.body);
                assert_eq!(reply.body, r#"{"id":1,"name":"ada64"}"#);

                let reply = get(&client, "/text", &uncached).await;
                assert_eq!(reply.status, Status::ServiceUnavailable, "body {:?}", reply.body);
                assert_eq!(reply.description(), "The service is temporarily unavailable.");

                proxy.listen().await;
                assert_eq!(get(&client, "/text", &uncached).await.status, Status::Ok);
            })
            .await;
        }
    };
}

backend_suite! {
    mod sqlite,
    feature = "sqlite",
    pool = sqlx::SqlitePool,
    kind = Kind::Sqlite,
    network = no,
    base_url = Some(String::new()),
    schema = [
        "CREATE TABLE users64 (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE users32 (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE users_text (id TEXT COLLATE NOCASE PRIMARY KEY, name TEXT NOT NULL)",
        "INSERT INTO users64 (id, name) VALUES (1, 'ada64'), (2, 'gone')",
        "INSERT INTO users32 (id, name) VALUES (1, 'ada32')",
        "INSERT INTO users_text (id, name) VALUES ('3f2c8a4e-1b2d-4c5e-9f60-7a8b9c0d1e2f', 'ada-text')",
    ],
}

backend_suite! {
    mod postgres,
    feature = "postgres",
    pool = sqlx::PgPool,
    kind = Kind::Postgres,
    network = yes,
    base_url = backend_url("JWT_ROUTER_TEST_POSTGRES_URL", "PostgreSQL"),
    schema = [
        "CREATE TABLE users64 (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE users32 (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE users_text (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
        "INSERT INTO users64 (id, name) VALUES (1, 'ada64'), (2, 'gone')",
        "INSERT INTO users32 (id, name) VALUES (1, 'ada32')",
        "INSERT INTO users_text (id, name) VALUES ('3f2c8a4e-1b2d-4c5e-9f60-7a8b9c0d1e2f', 'ada-text')",
    ],
}

backend_suite! {
    mod mysql,
    feature = "mysql",
    pool = sqlx::MySqlPool,
    kind = Kind::MySql,
    network = yes,
    base_url = backend_url("JWT_ROUTER_TEST_MYSQL_URL", "MySQL/MariaDB"),
    schema = [
        "CREATE TABLE users64 (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL)",
        "CREATE TABLE users32 (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL)",
        "CREATE TABLE users_text (id VARCHAR(64) PRIMARY KEY, name VARCHAR(64) NOT NULL)",
        "INSERT INTO users64 (id, name) VALUES (1, 'ada64'), (2, 'gone')",
        "INSERT INTO users32 (id, name) VALUES (1, 'ada32')",
        "INSERT INTO users_text (id, name) VALUES ('3f2c8a4e-1b2d-4c5e-9f60-7a8b9c0d1e2f', 'ada-text')",
    ],
}

/// PostgreSQL rejects new connections after `REVOKE CONNECT`, and the guard
/// returns 503 until `GRANT CONNECT` restores access.
#[cfg(feature = "postgres")]
mod postgres_access {
    use super::*;

    /// Returns `url` with its user and database replaced.
    fn with_user_and_database(url: &str, user: &str, database: &str) -> String {
        let (authority, rest) = split_authority(url);
        let scheme_end = authority.find("://").map_or(0, |index| index + 3);
        let host = authority.rsplit('@').next().unwrap_or(&authority[scheme_end..]);
        let query = rest.find('?').map_or("", |index| &rest[index..]);
        format!("{}{user}@{host}/{database}{query}", &authority[..scheme_end])
    }

    fn with_database(url: &str, database: &str) -> String {
        let (authority, rest) = split_authority(url);
        let query = rest.find('?').map_or("", |index| &rest[index..]);
        format!("{authority}/{database}{query}")
    }

    #[rocket::async_test]
    async fn revoked_connect_is_503() {
        let Some(base) = backend_url("JWT_ROUTER_TEST_POSTGRES_URL", "PostgreSQL") else { return };
        let database = unique_name();
        let role = format!("{database}_role");
        let admin = with_database(&base, &database);

        execute_admin(Kind::Postgres, &base, &format!("CREATE ROLE \"{role}\" LOGIN")).await;
        execute_admin(Kind::Postgres, &base, &format!("CREATE DATABASE \"{database}\"")).await;
        execute_admin(Kind::Postgres, &base, &format!("REVOKE CONNECT ON DATABASE \"{database}\" FROM PUBLIC")).await;
        execute_admin(Kind::Postgres, &base, &format!("GRANT CONNECT ON DATABASE \"{database}\" TO \"{role}\"")).await;
        postgres::create_tables(&admin).await;
        execute_admin(Kind::Postgres, &admin, &format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{role}\"")).await;

        let app_url = with_user_and_database(&base, &role, &database);
        let (base_for_test, database_for_test, role_for_test) = (base.clone(), database.clone(), role.clone());
        let outcome = rocket::tokio::spawn(async move {
            let (base, database, role) = (base_for_test, database_for_test, role_for_test);
            let client = postgres::client(&app_url, 2, 1).await;
            let token = token("users64", "1");
            assert_eq!(get(&client, "/u64", &token).await.status, Status::Ok);

            execute_admin(Kind::Postgres, &base, &format!("REVOKE CONNECT ON DATABASE \"{database}\" FROM \"{role}\"")).await;
            let terminate = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'");
            execute_admin(Kind::Postgres, &base, &terminate).await;

            let reply = get(&client, "/u64", &token).await;
            assert_eq!(reply.status, Status::ServiceUnavailable, "body {:?}", reply.body);
            assert_eq!(reply.description(), "The service is temporarily unavailable.");

            execute_admin(Kind::Postgres, &base, &format!("GRANT CONNECT ON DATABASE \"{database}\" TO \"{role}\"")).await;
            let reply = get(&client, "/u64", &token).await;
            assert_eq!(reply.status, Status::Ok, "after GRANT CONNECT: {:?}", reply.body);
        })
        .await;

        execute_admin(Kind::Postgres, &base, &format!("DROP DATABASE \"{database}\" WITH (FORCE)")).await;
        execute_admin(Kind::Postgres, &base, &format!("DROP ROLE \"{role}\"")).await;
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}
