//! Token verification on GET /api/v1/user and GET /api/v1/admin, and the
//! claims of tokens from `TokenIssuer`.

mod common;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rocket::http::{Header as HttpHeader, Status};
use rocket::local::asynchronous::Client;
use rocket::serde::json::Json;
use rocket::{post, routes, State};
use rocket_db_pools::{sqlx, Database};
use rocket_jwt_router::{AuthError, AuthedEntity, IssuedToken, TokenIssuer};
use serde_json::{json, Value};

use common::{assert_unauthorized, now, sign, sign_with, valid_claims, Reply, TestApp, User};

const USER_PATH: &str = "/api/v1/user";
const ADMIN_PATH: &str = "/api/v1/admin";

const EXPIRED: &str = "The bearer token has expired.";
const NOT_YET_VALID: &str = "The bearer token is not valid yet.";
const WRONG_KIND: &str = "The bearer token is not valid for this resource.";
const INVALID_SUBJECT: &str = "The bearer token's subject is invalid.";
const SUBJECT_GONE: &str = "The bearer token's subject no longer exists.";

/// A second HS256 secret, longer than the 32-byte minimum.
const OTHER_SECRET: &[u8] = b"another-secret-that-the-server-does-not-know";

/// Asserts that `reply` is a 401 with `error="invalid_token"` and
/// `description`, naming `case` in every message.
fn assert_invalid_token(case: &str, reply: &Reply, description: &str) {
    let www_authenticate = format!(r#"Bearer error="invalid_token", error_description="{description}""#);

    assert_ne!(reply.status, Status::InternalServerError, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.status, Status::Unauthorized, "case {case:?}: body {:?}", reply.body);
    assert_eq!(reply.www_authenticate.as_deref(), Some(www_authenticate.as_str()), "case {case:?}: WWW-Authenticate");
    assert_eq!(reply.description(), description, "case {case:?}: description");
    assert_unauthorized(reply, common::INVALID_TOKEN, description);
}

/// Asserts that no handler named `handler` has run in `app`.
fn assert_not_run(case: &str, app: &TestApp, handler: &str) {
    let hits = app.hits();
    assert!(!hits.contains(&handler), "case {case:?}: handler {handler:?} ran, hits {hits:?}");
}

/// Asserts that `reply` is 200 with `expected` as its JSON body.
fn assert_json(case: &str, reply: &Reply, expected: &Value) {
    assert_eq!(reply.status, Status::Ok, "case {case:?}: body {:?}", reply.body);

    let body: Value = serde_json::from_str(&reply.body).expect("the body is JSON");
    assert_eq!(&body, expected, "case {case:?}");
}

/// Encodes `bytes` as unpadded base64url (RFC 4648 section 5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    let mut encoded = String::new();
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0_u32, |group, (index, &byte)| group | u32::from(byte) << (16 - 8 * index));
        let symbols = chunk.len() + 1;
        for index in 0..symbols {
            let sextet = (group >> (18 - 6 * index)) & 0x3f;
            encoded.push(char::from(ALPHABET[sextet as usize]));
        }
    }

    encoded
}

/// Returns `header.payload` for the JSON `header` and the raw `payload`.
fn signing_input(header: &Value, payload: &[u8]) -> String {
    format!("{}.{}", base64url(header.to_string().as_bytes()), base64url(payload))
}

/// Decodes `token` with the test secret, checking its signature and `exp`.
fn decode_claims(token: &str) -> Value {
    let key = DecodingKey::from_secret(common::SECRET.as_bytes()).expect("the test secret is a valid key");
    jsonwebtoken::decode::<Value>(token, &key, &Validation::new(Algorithm::HS256)).expect("the issued token verifies").claims
}

fn is_hex_token_id(jti: &str) -> bool {
    jti.len() == 32 && jti.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[test]
fn base64url_encoder() {
    assert_eq!(base64url(b""), "");
    assert_eq!(base64url(b"f"), "Zg");
    assert_eq!(base64url(b"fo"), "Zm8");
    assert_eq!(base64url(b"foo"), "Zm9v");
    assert_eq!(base64url(b"foob"), "Zm9vYg");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
}

#[rocket::async_test]
async fn valid_token_passes() {
    let app = TestApp::new().await;

    let reply = app.get_with_token(USER_PATH, &sign(&valid_claims("1"))).await;

    assert_json("valid", &reply, &json!({ "id": 1, "name": "ada" }));
    assert_eq!(app.hits(), ["me"]);
}

#[rocket::async_test]
async fn expiry_and_leeway() {
    let app = TestApp::new().await;
    let now = now();

    let within_leeway = json!({ "sub": "1", "kind": "users", "iat": now - 3600, "exp": now - 10, "jti": "t" });
    let reply = app.get_with_token(USER_PATH, &sign(&within_leeway)).await;
    assert_json("exp 10 s ago", &reply, &json!({ "id": 1, "name": "ada" }));

    let expired = json!({ "sub": "1", "kind": "users", "iat": now - 3720, "exp": now - 120, "jti": "t" });
    let reply = app.get_with_token(USER_PATH, &sign(&expired)).await;
    assert_invalid_token("exp 120 s ago", &reply, EXPIRED);

    assert_eq!(app.hits(), ["me"]);
}

#[rocket::async_test]
async fn not_yet_valid() {
    let app = TestApp::new().await;
    let now = now();

    let cases = [
        ("iat in 1 h", json!({ "sub": "1", "kind": "users", "iat": now + 3600, "exp": now + 7200, "jti": "t" })),
        ("nbf in 1 h", json!({ "sub": "1", "kind": "users", "iat": now, "nbf": now + 3600, "exp": now + 7200, "jti": "t" })),
    ];

    for (case, claims) in &cases {
        let reply = app.get_with_token(USER_PATH, &sign(claims)).await;
        assert_invalid_token(case, &reply, NOT_YET_VALID);
        assert_not_run(case, &app, "me");
    }
}

#[rocket::async_test]
async fn forged_tokens() {
    let app = TestApp::new().await;
    let claims = valid_claims("1");

    let unsigned_header = json!({ "alg": "none", "typ": "at+jwt", "kid": "default" });
    let unsigned = format!("{}.", signing_input(&unsigned_header, claims.to_string().as_bytes()));

    let hs256_input = signing_input(&json!({ "alg": "HS256", "typ": "at+jwt", "kid": "default" }), b"not json");
    let key = EncodingKey::from_secret(common::SECRET.as_bytes()).expect("the test secret is a valid key");
    let signature = jsonwebtoken::crypto::sign(hs256_input.as_bytes(), &key, Algorithm::HS256).expect("signing failed");
    let claims_not_json = format!("{hs256_input}.{signature}");

    let cases = [
        ("other secret", sign_with(&Header::default(), &claims, OTHER_SECRET)),
        ("alg none", unsigned),
        ("HS512", sign_with(&Header::new(Algorithm::HS512), &claims, common::SECRET.as_bytes())),
        ("HS384", sign_with(&Header::new(Algorithm::HS384), &claims, common::SECRET.as_bytes())),
        ("garbage", "abc.def.ghi".to_owned()),
        ("two parts", "abc.def".to_owned()),
        ("one part", "abcdef".to_owned()),
        ("claims not JSON", claims_not_json),
    ];

    for (case, token) in &cases {
        let reply = app.get_with_token(USER_PATH, token).await;
        assert_invalid_token(case, &reply, common::BAD_TOKEN);
        assert_not_run(case, &app, "me");
    }
}

#[rocket::async_test]
async fn malformed_claims() {
    let app = TestApp::new().await;
    let now = now();

    let cases = [
        ("missing exp", json!({ "sub": "1", "kind": "users", "iat": now, "jti": "t" })),
        ("exp as string", json!({ "sub": "1", "kind": "users", "iat": now, "exp": (now + 600).to_string(), "jti": "t" })),
        ("negative exp", json!({ "sub": "1", "kind": "users", "iat": now, "exp": -1, "jti": "t" })),
        ("missing iat", json!({ "sub": "1", "kind": "users", "exp": now + 600, "jti": "t" })),
        ("missing sub", json!({ "kind": "users", "iat": now, "exp": now + 600, "jti": "t" })),
        ("numeric sub", json!({ "sub": 1, "kind": "users", "iat": now, "exp": now + 600, "jti": "t" })),
        ("null sub", json!({ "sub": null, "kind": "users", "iat": now, "exp": now + 600, "jti": "t" })),
        ("missing kind", json!({ "sub": "1", "iat": now, "exp": now + 600, "jti": "t" })),
        ("missing jti", json!({ "sub": "1", "kind": "users", "iat": now, "exp": now + 600 })),
        ("claims array", json!(["1", "users"])),
    ];

    for (case, claims) in &cases {
        let reply = app.get_with_token(USER_PATH, &sign(claims)).await;
        assert_invalid_token(case, &reply, common::BAD_TOKEN);
        assert_not_run(case, &app, "me");
    }
}

#[rocket::async_test]
async fn wrong_entity_kind() {
    let app = TestApp::new().await;

    let mut admin_claims = valid_claims("1");
    admin_claims["kind"] = json!("admins");

    let reply = app.get_with_token(USER_PATH, &sign(&admin_claims)).await;
    assert_invalid_token("admins token on user", &reply, WRONG_KIND);
    assert_not_run("admins token on user", &app, "me");

    let reply = app.get_with_token(ADMIN_PATH, &app.user_token(1)).await;
    assert_invalid_token("users token on admin", &reply, WRONG_KIND);
    assert_not_run("users token on admin", &app, "admin");

    let reply = app.get_with_token(ADMIN_PATH, &sign(&admin_claims)).await;
    assert_json("admins token on admin", &reply, &json!({ "id": 1, "name": "root" }));
}

#[rocket::async_test]
async fn noncanonical_subjects() {
    let app = TestApp::new().await;

    for subject in ["01", "+1", " 1", "1 ", "1.0", "1abc", "", "-0", "0x1", "99999999999999999999"] {
        let reply = app.get_with_token(USER_PATH, &sign(&valid_claims(subject))).await;
        assert_invalid_token(subject, &reply, INVALID_SUBJECT);
        assert_not_run(subject, &app, "me");
    }
}

#[rocket::async_test]
async fn unknown_subject() {
    let app = TestApp::new().await;

    let reply = app.get_with_token(USER_PATH, &sign(&valid_claims("99"))).await;

    assert_invalid_token("sub 99", &reply, SUBJECT_GONE);
    assert_not_run("sub 99", &app, "me");
}

#[rocket::async_test]
async fn deleted_subject() {
    let app = TestApp::new().await;
    let token = app.user_token(2);

    let reply = app.get_with_token(USER_PATH, &token).await;
    assert_json("before delete", &reply, &json!({ "id": 2, "name": "grace" }));

    let pool = common::AppDb::fetch(app.client.rocket()).expect("AppDb is attached");
    let deleted = sqlx::query("DELETE FROM users WHERE id = 2").execute(&**pool).await.expect("deleting user 2 failed");
    assert_eq!(deleted.rows_affected(), 1);

    let reply = app.get_with_token(USER_PATH, &token).await;
    assert_invalid_token("after delete", &reply, SUBJECT_GONE);
    assert_eq!(app.hits(), ["me"]);
}

#[rocket::async_test]
async fn registered_claims() {
    let app = TestApp::new().await;

    let before = now();
    let token = app.user_token(1);
    let after = now();

    let reply = app.get_with_token(USER_PATH, &token).await;
    assert_json("registered token", &reply, &json!({ "id": 1, "name": "ada" }));

    let claims = decode_claims(&token);
    let iat = claims["iat"].as_u64().expect("iat is an integer");
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["kind"], "users");
    assert!((before..=after).contains(&iat), "iat {iat} is outside {before}..={after}");
    assert_eq!(claims["exp"].as_u64(), Some(iat + 3600));
    assert!(claims["jti"].as_str().is_some_and(is_hex_token_id), "jti {}", claims["jti"]);
    assert_eq!(claims.get("nbf"), None);
}

#[post("/token")]
fn refresh(user: AuthedEntity<User>, issuer: &State<TokenIssuer>) -> Result<Json<IssuedToken>, AuthError> {
    Ok(Json(issuer.update(&user)?))
}

#[rocket::async_test]
async fn update_reissues() {
    let database = common::TempDatabase::new();
    let rocket = common::rocket(common::figment(&database.url(), common::DEFAULT_CONFIG)).mount("/api/v1", routes![refresh]);
    let client = Client::tracked(rocket).await.expect("the test application failed to launch");

    let issuer = client.rocket().state::<TokenIssuer>().expect("the fairing manages TokenIssuer");
    let old_token = issuer.register::<User>(&2).expect("issuing a token failed").access_token;
    let old_claims = decode_claims(&old_token);

    let response = client.post("/api/v1/token").header(HttpHeader::new("Authorization", format!("Bearer {old_token}"))).dispatch().await;
    let reply = Reply::read(response).await;
    assert_eq!(reply.status, Status::Ok, "body {:?}", reply.body);

    let issued: Value = serde_json::from_str(&reply.body).expect("the token response is JSON");
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 3600);

    let new_token = issued["access_token"].as_str().expect("access_token is a string");
    let new_claims = decode_claims(new_token);
    let iat = new_claims["iat"].as_u64().expect("iat is an integer");
    assert_eq!(new_claims["sub"], "2");
    assert_eq!(new_claims["kind"], "users");
    assert_eq!(new_claims["exp"].as_u64(), Some(iat + 3600));
    assert!(new_claims["jti"].as_str().is_some_and(is_hex_token_id), "jti {}", new_claims["jti"]);
    assert_ne!(new_claims["jti"], old_claims["jti"]);

    let response = client.get(USER_PATH).header(HttpHeader::new("Authorization", format!("Bearer {new_token}"))).dispatch().await;
    let reply = Reply::read(response).await;
    assert_json("re-issued token", &reply, &json!({ "id": 2, "name": "grace" }));

    let reply = Reply::read(client.post("/api/v1/token").dispatch().await).await;
    assert_eq!(reply.status, Status::Unauthorized, "body {:?}", reply.body);
    assert_unauthorized(&reply, "Bearer", common::NO_TOKEN);
}
