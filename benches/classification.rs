//! Route classification as the white list grows: full requests through
//! `rocket::local::asynchronous::Client` to applications whose
//! `white_list_routes` has 10, 1,000 and 10,000 entries, with one mounted
//! route per entry so that the launch-time route audit passes (`route_audit`
//! stays `"abort"`).
//!
//! Half of the entries are static (`GET /static/page0`, `GET /static/page2`,
//! ...), half dynamic (`GET /items/<id>/v1`, `GET /items/<id>/v3`, ...). Each
//! size is measured on three requests:
//!
//! - `public_first`: `/static/page0`, public, and the first route Rocket's
//!   router tries after the gate,
//! - `public_last`: the last dynamic entry, public, and the last route that
//!   Rocket's router tries: Rocket 0.5 scans the mounted routes of a method in
//!   rank order, so this request also pays for a scan over every mounted route,
//! - `protected_without_token`: `/private`, which no entry lists, so the gate
//!   returns 401 and Rocket's router stops there.
//!
//! `public_first` and `protected_without_token` isolate the gate's trie
//! lookup; `public_last` shows Rocket's own routing cost at the same sizes.

mod support;

use criterion::{BenchmarkId, Criterion};
use rocket::http::{Method, Status};
use rocket::local::asynchronous::Client;
use rocket::route::{Handler, Outcome, Route};
use rocket::tokio::runtime::Runtime;
use rocket::{Data, Request};

/// White-list sizes, in entries (and mounted routes).
const SIZES: [usize; 3] = [10, 1_000, 10_000];

/// A route handler that returns `200 OK` and a short body for every request.
#[derive(Clone)]
struct Reply;

#[rocket::async_trait]
impl Handler for Reply {
    async fn handle<'r>(&self, req: &'r Request<'_>, _data: Data<'r>) -> Outcome<'r> {
        Outcome::from(req, "ok")
    }
}

/// Returns the `size` route paths: even indexes static, odd indexes dynamic.
fn route_paths(size: usize) -> Vec<String> {
    (0..size)
        .map(|index| match index % 2 {
            0 => format!("/static/page{index}"),
            _ => format!("/items/<id>/v{index}"),
        })
        .collect()
}

/// Returns the request path that only the last dynamic route of `size` matches.
fn last_public_path(size: usize) -> String {
    let last_odd = if size.is_multiple_of(2) { size - 1 } else { size - 2 };
    format!("/items/42/v{last_odd}")
}

/// Launches an application whose white list lists every one of `size` mounted
/// routes, plus one protected route, `GET /private`.
fn application(runtime: &Runtime, size: usize) -> Client {
    let paths = route_paths(size);
    let entries: Vec<String> = paths.iter().map(|path| format!("GET {path}")).collect();

    let mut routes: Vec<Route> = paths.iter().map(|path| Route::new(Method::Get, path, Reply)).collect();
    routes.push(Route::new(Method::Get, "/private", Reply));

    let figment = support::figment().merge(("jwt_router.white_list_routes", entries));
    let rocket = rocket::custom(figment).attach(rocket_jwt_router::JwtRouter::fairing()).mount("/", routes);

    support::launch(runtime, &format!("classification with {size} entries"), rocket)
}

fn bench_classification(criterion: &mut Criterion, runtime: &Runtime) {
    let clients: Vec<(usize, Client)> = SIZES.iter().map(|&size| (size, application(runtime, size))).collect();

    for (size, client) in &clients {
        let checks = [
            ("/static/page0".to_owned(), Status::Ok),
            (last_public_path(*size), Status::Ok),
            ("/private".to_owned(), Status::Unauthorized),
        ];
        for (path, expected) in checks {
            let status = runtime.block_on(support::get(client, &path, None));
            support::expect_status(&format!("GET {path} with {size} entries"), status, expected);
        }
    }

    support::print_load_average("classification");
    let mut group = criterion.benchmark_group("classification");

    for (size, client) in &clients {
        group.bench_with_input(BenchmarkId::new("public_first", size), client, |bencher, client| {
            bencher.to_async(runtime).iter(|| support::get(client, "/static/page0", None));
        });
    }

    for (size, client) in &clients {
        let path = last_public_path(*size);
        group.bench_with_input(BenchmarkId::new("public_last", size), client, |bencher, client| {
            bencher.to_async(runtime).iter(|| support::get(client, &path, None));
        });
    }

    for (size, client) in &clients {
        group.bench_with_input(BenchmarkId::new("protected_without_token", size), client, |bencher, client| {
            bencher.to_async(runtime).iter(|| support::get(client, "/private", None));
        });
    }

    group.finish();
}

fn main() {
    let runtime = support::runtime();
    let mut criterion = support::criterion();

    bench_classification(&mut criterion, &runtime);

    criterion.final_summary();
}
