//! Setup shared by the benchmarks: Criterion's settings, the runtime that
//! drives `rocket::local::asynchronous` clients, a quiet configuration
//! figment, a timed request helper and a SQLite file of users.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::{Client, LocalRequest};
use rocket::tokio::runtime::Runtime;
use rocket::{Build, Rocket};
use rocket_db_pools::sqlx;

/// The HMAC secret of every benchmark application: 64 bytes, the minimum of
/// HS512, so that one secret serves HS256, HS384 and HS512.
pub const SECRET: &str = "benchmark-secret-0123456789abcdef-0123456789abcdef-0123456789abc";

/// Returns Criterion's settings: 1 s warm-up, 3 s measurement, 50 samples.
/// With them `cargo bench` (41 measurements) took about 3 minutes on the
/// 2-core machine of BENCHMARKS.md. Command-line options such as
/// `--measurement-time` still override them.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args()
}

/// Prints the 1, 5 and 15 minute load averages, because other processes on
/// the machine distort the timings and BENCHMARKS.md records the load.
pub fn print_load_average(label: &str) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_else(|_| "unknown".to_owned());
    let averages: Vec<&str> = load.split_whitespace().take(3).collect();
    eprintln!("{label}: load average {}", averages.join(" "));
}

/// Builds a single-threaded runtime. Rocket's local client dispatches on the
/// caller's runtime, so each request is timed without thread hand-offs
/// except for SQLite, whose connections run on their own threads in sqlx.
pub fn runtime() -> Runtime {
    rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building the benchmark runtime failed")
}

/// Returns Rocket's debug defaults with logging off. No Rocket.toml is read.
pub fn quiet_figment() -> Figment {
    Figment::from(rocket::Config::debug_default()).merge(("log_level", "off"))
}

/// Returns [`quiet_figment`] with `SECRET` as the `jwt_router` secret.
pub fn figment() -> Figment {
    quiet_figment().merge(("jwt_router.secret", SECRET))
}

/// Launches `rocket` as a local client and prints how long launch took.
pub fn launch(runtime: &Runtime, label: &str, rocket: Rocket<Build>) -> Client {
    let started = Instant::now();
    let client = runtime
        .block_on(Client::untracked(rocket))
        .unwrap_or_else(|error| panic!("the benchmark application `{label}` failed to launch: {error}"));
    eprintln!("{label}: launched in {:.2?}", started.elapsed());

    client
}

/// Returns the `Authorization` header value for `token`. Rocket's local
/// requests take headers with a `'static` lifetime, so the value is leaked
/// once per benchmark application instead of being formatted per request.
pub fn bearer(token: &str) -> &'static str {
    Box::leak(format!("Bearer {token}").into_boxed_str())
}

/// Sends one GET request, reads the whole body and returns the status.
pub async fn get(client: &Client, path: &str, authorization: Option<&'static str>) -> Status {
    send(client.get(path), authorization).await
}

/// Sends one POST request without a body, reads the whole body and returns the status.
pub async fn post(client: &Client, path: &str, authorization: Option<&'static str>) -> Status {
    send(client.post(path), authorization).await
}

async fn send(mut request: LocalRequest<'_>, authorization: Option<&'static str>) -> Status {
    if let Some(value) = authorization {
        request = request.header(Header::new("Authorization", value));
    }

    let response = request.dispatch().await;
    let status = response.status();
    std::hint::black_box(response.into_bytes().await);
    status
}

/// Panics unless a request of a benchmark got the expected status, so that no
/// benchmark measures an error path by mistake.
pub fn expect_status(label: &str, actual: Status, expected: Status) {
    assert_eq!(actual, expected, "{label}: expected {expected} before benchmarking, got {actual}");
}

/// The quickstart's `users` table.
const CREATE_USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)";

/// Inserts users 1 to `?` in one statement.
const INSERT_USERS: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
                            INSERT INTO users (id, name) SELECT i, 'user' || i FROM n";

/// A temporary SQLite file with a `users` table in the quickstart's schema,
/// deleted on drop.
pub struct UsersDatabase {
    path: PathBuf,
}

impl UsersDatabase {
    /// Creates the file with users 1 to `count`, named `user1`, `user2` and so on.
    pub fn create(runtime: &Runtime, count: u32) -> Self {
        let path = std::env::temp_dir().join(format!("jwt-router-bench-{}.db", std::process::id()));
        let database = UsersDatabase { path };
        database.remove_files();

        let url = database.url();
        runtime.block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.expect("opening the benchmark database failed");

            sqlx::query(CREATE_USERS).execute(&pool).await.expect("creating the users table failed");
            sqlx::query(INSERT_USERS).bind(count).execute(&pool).await.expect("inserting the users failed");

            pool.close().await;
        });

        database
    }

    /// Returns the URL for `databases.app.url`.
    pub fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.path.display())
    }

    fn remove_files(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

impl Drop for UsersDatabase {
    fn drop(&mut self) {
        self.remove_files();
    }
}
