//! Two Rocket instances in one process keep their own keys and route lists.

mod common;

use std::sync::Mutex;

use rocket::fairing::AdHoc;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;

use common::{assert_unauthorized, Reply, TestApp};

/// Instance B's `jwt_router` table: another secret, and `GET /apples` public in
/// place of instance A's `GET /about`.
const CONFIG_B: &str = r#"
[jwt_router]
secret = "instance-b-secret-that-differs-from-instance-a"
api_name = "/api/v1"
white_list_routes = [{ method = "GET", path = "/apples", allow_overlap = true }]
"#;

/// The names of the routes that produced instance B's responses.
///
/// A route whose guard failed is recorded too, so a name that is absent proves
/// that the handler did not run.
#[derive(Default)]
struct ServedRoutes(Mutex<Vec<String>>);

/// Instance B, which has no `TestApp` because `TestApp` always uses the
/// default test secret.
struct InstanceB {
    client: Client,
    _database: common::TempDatabase,
}

impl InstanceB {
    async fn new() -> Self {
        let database = common::TempDatabase::new();
        let record = AdHoc::on_response("Record served routes", |req, _| {
            Box::pin(async move {
                let name = req.route().and_then(|route| route.name.as_deref()).unwrap_or("<none>");
                let served = req.rocket().state::<ServedRoutes>().expect("ServedRoutes is managed");
                served.0.lock().unwrap().push(name.to_owned());
            })
        });

        let rocket = common::rocket(common::figment_without_secret(&database.url(), CONFIG_B))
            .manage(ServedRoutes::default())
            .attach(record);
        let client = Client::tracked(rocket).await.expect("instance B failed to launch");

        InstanceB { client, _database: database }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(path.to_owned());
        if let Some(token) = token {
            request.add_header(Header::new("Authorization", format!("Bearer {token}")));
        }

        Reply::read(request.dispatch().await).await
    }

    fn user_token(&self, id: i64) -> String {
        let issuer = self.client.rocket().state::<rocket_jwt_router::TokenIssuer>().expect("the fairing manages TokenIssuer");
        issuer.register::<common::User>(&id).expect("issuing a token failed").access_token
    }

    fn served(&self) -> Vec<String> {
        self.client.rocket().state::<ServedRoutes>().expect("ServedRoutes is managed").0.lock().unwrap().clone()
    }
}

/// Asserts that `reply` is the 401 for a token that fails verification.
fn assert_bad_token(case: &str, reply: &Reply) {
    let www_authenticate = format!(r#"Bearer error="invalid_token", error_description="{}""#, common::BAD_TOKEN);

    assert_ne!(reply.status, Status::InternalServerError, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.status, Status::Unauthorized, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.www_authenticate.as_deref(), Some(www_authenticate.as_str()), "case {case:?}: WWW-Authenticate");
    assert_unauthorized(reply, common::INVALID_TOKEN, common::BAD_TOKEN);
}

/// Asserts that `reply` is the 401 for a request without a token.
fn assert_no_token(case: &str, reply: &Reply) {
    assert_ne!(reply.status, Status::InternalServerError, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.status, Status::Unauthorized, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"), "case {case:?}: WWW-Authenticate");
    assert_unauthorized(reply, "Bearer", common::NO_TOKEN);
}

fn assert_user_one(case: &str, reply: &Reply) {
    assert_eq!(reply.status, Status::Ok, "case {case:?}: body {:?}", reply.body);

    let body: serde_json::Value = serde_json::from_str(&reply.body).expect("the user body is JSON");
    assert_eq!(body, serde_json::json!({ "id": 1, "name": "ada" }), "case {case:?}");
}

#[rocket::async_test]
async fn own_tokens_accepted() {
    let instance_a = TestApp::new().await;
    let instance_b = InstanceB::new().await;

    let reply = instance_a.get_with_token("/api/v1/user", &instance_a.user_token(1)).await;
    assert_user_one("A token on A", &reply);

    let reply = instance_b.get("/api/v1/user", Some(&instance_b.user_token(1))).await;
    assert_user_one("B token on B", &reply);

    assert_eq!(instance_a.hits(), ["me"]);
    assert_eq!(instance_b.served(), ["me"]);
}

#[rocket::async_test]
async fn tokens_not_shared() {
    let instance_a = TestApp::new().await;
    let instance_b = InstanceB::new().await;

    let reply = instance_b.get("/api/v1/user", Some(&instance_a.user_token(1))).await;
    assert_bad_token("A token on B", &reply);
    assert!(!instance_b.served().contains(&"me".to_owned()), "B ran `me`: {:?}", instance_b.served());

    let reply = instance_a.get_with_token("/api/v1/user", &instance_b.user_token(1)).await;
    assert_bad_token("B token on A", &reply);
    assert!(!instance_a.hits().contains(&"me"), "A ran `me`: {:?}", instance_a.hits());
}

#[rocket::async_test]
async fn white_lists_not_shared() {
    let instance_a = TestApp::new().await;
    let instance_b = InstanceB::new().await;

    let reply = instance_a.get("/api/v1/about", &[]).await;
    assert_eq!(reply.status, Status::Ok, "A /about: body {:?}", reply.body);
    assert_eq!(reply.body, "about");

    let reply = instance_b.get("/api/v1/about", None).await;
    assert_no_token("B /about", &reply);
    assert!(!instance_b.served().contains(&"about".to_owned()), "B ran `about`: {:?}", instance_b.served());

    let reply = instance_b.get("/api/v1/apples", None).await;
    assert_eq!(reply.status, Status::Ok, "B /apples: body {:?}", reply.body);
    assert_eq!(reply.body, "apples");

    let reply = instance_a.get("/api/v1/apples", &[]).await;
    assert_no_token("A /apples", &reply);

    assert_eq!(instance_a.hits(), ["about"]);
    assert_eq!(instance_b.served(), ["jwt_router gate", "apples"]);
}
