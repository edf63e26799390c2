//! Asymmetric keys, rotation, the published JWK Set, and the strict header
//! and claim rules, through real requests.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rocket::figment::providers::{Format, Toml};
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use rocket_jwt_router::{Claims, Config, JwtRouter, TokenIssuer};
use serde_json::{json, Value};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys");

#[get("/claims")]
fn claims(claims: Claims) -> String {
    format!("{} {}", claims.kind, claims.sub)
}

#[get("/hello")]
fn hello() -> &'static str {
    "hello"
}

fn figment(jwt_config: &str) -> Figment {
    Figment::from(rocket::Config::debug_default())
        .merge(("log_level", "off"))
        .merge(Toml::string(&format!("[jwt_router]\nignored_routes = [\"GET /hello\"]\n{jwt_config}")))
}

async fn client(jwt_config: &str) -> Client {
    let rocket = rocket::custom(figment(jwt_config)).attach(JwtRouter::fairing()).mount("/", routes![claims, hello]);
    Client::tracked(rocket).await.expect("the application failed to launch")
}

fn es256_config(with_retired: bool) -> String {
    let mut config = format!(
        "algorithm = \"ES256\"\nsigning_key = {{ kid = \"2026-12\", file = \"{KEYS}/ec-p256.pem\" }}\njwks_path = \"/.well-known/jwks.json\"\n"
    );
    if with_retired {
        config.push_str(&format!("verify_keys = [{{ kid = \"2026-06\", file = \"{KEYS}/ec-p256-retired.pub.pem\" }}]\n"));
    }
    config
}

async fn get_claims(client: &Client, token: &str) -> common::Reply {
    let request = client.get("/claims").header(Header::new("Authorization", format!("Bearer {token}")));
    common::Reply::read(request.dispatch().await).await
}

fn issue(client: &Client, sub: i64) -> String {
    struct Account;
    #[derive(rocket_db_pools::Database)]
    #[database("unused")]
    struct UnusedDb(rocket_db_pools::sqlx::SqlitePool);
    impl rocket_jwt_router::Entity for Account {
        type Database = UnusedDb;
        type Id = i64;
        const TABLE: &'static str = "accounts";
    }

    client.rocket().state::<TokenIssuer>().unwrap().register::<Account>(&sub).unwrap().access_token
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Signs `claims` with a PEM private key through jsonwebtoken, with `kid` and
/// the access-token type.
fn sign_pem(algorithm: jsonwebtoken::Algorithm, pem: &str, kid: &str, claims: &Value) -> String {
    let key = match algorithm {
        jsonwebtoken::Algorithm::ES256 | jsonwebtoken::Algorithm::ES384 => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
        jsonwebtoken::Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .unwrap();

    let mut header = jsonwebtoken::Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn claims_now() -> Value {
    let now = common::now();
    json!({ "sub": "7", "kind": "accounts", "iat": now, "exp": now + 600, "jti": "k" })
}

#[rocket::async_test]
async fn es256_tokens_round_trip() {
    let client = client(&es256_config(false)).await;

    let token = issue(&client, 7);
    let header = decode_part(&token, 0);
    let reply = get_claims(&client, &token).await;

    assert_eq!(header, json!({ "alg": "ES256", "kid": "2026-12", "typ": "at+jwt" }));
    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, "accounts 7"));
}

#[rocket::async_test]
async fn other_algorithms_round_trip() {
    let cases = [
        ("RS256", "rsa-2048.pem"),
        ("PS384", "rsa-2048.pem"),
        ("ES384", "ec-p384.pem"),
        ("EdDSA", "ed25519.pem"),
        ("HS512", ""),
    ];

    for (algorithm, file) in cases {
        let config = if file.is_empty() {
            format!("algorithm = \"{algorithm}\"\nsecret = \"{}\"", "s".repeat(64))
        } else {
            format!("signing_key = {{ kid = \"k1\", algorithm = \"{algorithm}\", file = \"{KEYS}/{file}\" }}")
        };
        let client = client(&config).await;

        let token = issue(&client, 7);
        assert_eq!(decode_part(&token, 0)["alg"], algorithm);
        assert_eq!(get_claims(&client, &token).await.status, Status::Ok, "algorithm {algorithm}");
    }
}

#[rocket::async_test]
async fn retired_key_still_verifies() {
    let client = client(&es256_config(true)).await;
    let retired = sign_pem(jsonwebtoken::Algorithm::ES256, include_str!("data/keys/ec-p256-retired.pem"), "2026-06", &claims_now());

    let reply = get_claims(&client, &retired).await;

    assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, "accounts 7"));
}

#[rocket::async_test]
async fn removed_key_fails() {
    let client = client(&es256_config(false)).await;
    let retired = sign_pem(jsonwebtoken::Algorithm::ES256, include_str!("data/keys/ec-p256-retired.pem"), "2026-06", &claims_now());

    let reply = get_claims(&client, &retired).await;

    common::assert_unauthorized(&reply, common::INVALID_TOKEN, common::BAD_TOKEN);
}

#[rocket::async_test]
async fn kid_selects_exactly_one_key() {
    let client = client(&es256_config(true)).await;
    let current_pem = include_str!("data/keys/ec-p256.pem");

    // A valid signature under another configured key does not help: only the
    // named key is tried.
    let wrong_kid = sign_pem(jsonwebtoken::Algorithm::ES256, current_pem, "2026-06", &claims_now());
    let unknown_kid = sign_pem(jsonwebtoken::Algorithm::ES256, current_pem, "2027-01", &claims_now());
    let mut no_kid_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    no_kid_header.typ = Some("at+jwt".to_owned());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(current_pem.as_bytes()).unwrap();
    let no_kid = jsonwebtoken::encode(&no_kid_header, &claims_now(), &key).unwrap();

    for (case, token) in [("wrong kid", wrong_kid), ("unknown kid", unknown_kid), ("no kid", no_kid)] {
        let reply = get_claims(&client, &token).await;
        assert_eq!(reply.status, Status::Unauthorized, "{case}");
    }
}

#[rocket::async_test]
async fn jwks_lists_public_keys() {
    let client = client(&es256_config(true)).await;

    let response = client.get("/.well-known/jwks.json").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::new("application", "jwk-set+json")));
    let document: Value = response.into_json().await.unwrap();

    let keys = document["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|key| key["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["2026-06", "2026-12"]);
    for key in keys {
        let mut members: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
        members.sort();
        assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"], "key {key}");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["crv"], "P-256");
    }
}

#[rocket::async_test]
async fn jwks_keys_verify_issued_tokens() {
    let client = client(&es256_config(false)).await;
    let token = issue(&client, 7);

    let document: Value = client.get("/.well-known/jwks.json").dispatch().await.into_json().await.unwrap();
    let jwk = document["keys"][0].to_string();
    let key = rocket_jwt_router::VerificationKey::from_jwk(&jwk).unwrap();

    assert!(rocket_jwt_router::jws::verify(&token, &key).is_ok(), "another service can verify with the published key");
}

#[rocket::async_test]
async fn jwks_omits_rsa_private_parts() {
    let config = format!("signing_key = {{ kid = \"r\", algorithm = \"RS256\", file = \"{KEYS}/rsa-2048.pem\" }}\njwks_path = \"/jwks\"");
    let client = client(&config).await;

    let document: Value = client.get("/jwks").dispatch().await.into_json().await.unwrap();

    let key = document["keys"][0].as_object().unwrap();
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(!key.contains_key(private), "the JWK Set contains `{private}`");
    }
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["e"], "AQAB");
}

#[rocket::async_test]
async fn jwks_route_is_absent_by_default() {
    let client = client("secret = \"0123456789abcdef0123456789abcdef\"").await;

    let reply = common::Reply::read(client.get("/.well-known/jwks.json").dispatch().await).await;

    common::assert_unauthorized(&reply, "Bearer", common::NO_TOKEN);
}

fn config_error(jwt_config: &str) -> rocket_jwt_router::ConfigError {
    Config::from_figment(&figment(jwt_config)).unwrap_err()
}

#[test]
fn weak_or_wrong_keys_abort() {
    let error = config_error(&format!("signing_key = {{ kid = \"a\", algorithm = \"RS256\", file = \"{KEYS}/rsa-1024.pem\" }}"));
    assert_eq!(error.key(), "jwt_router.signing_key");
    assert!(error.message().contains("1024 bits"), "{error}");

    let error = config_error(&format!(
        "signing_key = {{ kid = \"a\", algorithm = \"ES256\", file = \"{KEYS}/ec-p256.pem\" }}\n\
         verify_keys = [{{ kid = \"b\", algorithm = \"RS256\", file = \"{KEYS}/rsa-1024.pub.pem\" }}]"
    ));
    assert_eq!(error.key(), "jwt_router.verify_keys[0]");

    let error = config_error(&format!("signing_key = {{ kid = \"a\", algorithm = \"ES256\", file = \"{KEYS}/ed25519.pem\" }}"));
    assert!(error.message().contains("P-256 EC private key"), "{error}");

    let error = config_error(&format!(
        "signing_key = {{ kid = \"a\", algorithm = \"ES256\", file = \"{KEYS}/ec-p256.pem\" }}\n\
         verify_keys = [{{ kid = \"a\", algorithm = \"ES256\", file = \"{KEYS}/ec-p256-retired.pub.pem\" }}]"
    ));
    assert!(error.message().contains("share the kid `a`"), "{error}");

    let error = config_error(&format!("signing_key = {{ kid = \"bad kid\", file = \"{KEYS}/ec-p256.pem\" }}"));
    assert_eq!(error.key(), "jwt_router.signing_key.kid");

    let error = config_error("signing_key = { kid = \"a\", algorithm = \"HS256\", env = \"X\", value = \"y\" }");
    assert!(error.message().contains("exactly one of `file`, `env` and `value`"), "{error}");

    let error = config_error(&format!("secret = \"{}\"\nsigning_key = {{ kid = \"a\", file = \"x\" }}", "s".repeat(32)));
    assert!(error.message().contains("keep exactly one"), "{error}");
}

#[test]
fn inline_values_and_env_load() {
    std::env::set_var("JWT_ROUTER_KEYS_TEST_PEM", include_str!("data/keys/ed25519.pem"));
    let config = Config::from_figment(&figment(
        "signing_key = { kid = \"e\", algorithm = \"EdDSA\", env = \"JWT_ROUTER_KEYS_TEST_PEM\" }\n\
         verify_keys = [{ kid = \"h\", algorithm = \"HS256\", value = \"0123456789abcdef0123456789abcdef\" }]",
    ))
    .unwrap();

    assert_eq!(config.algorithm(), rocket_jwt_router::Algorithm::EdDSA);
}

async fn claims_client(extra: &str) -> Client {
    client(&format!("secret = \"{}\"\n{extra}", common::SECRET)).await
}

#[rocket::async_test]
async fn issuer_and_audience_enforced() {
    let client = claims_client("issuer = \"https://auth.example\"\naudience = \"api\"").await;
    let issued = issue(&client, 7);
    assert_eq!(decode_part(&issued, 1)["iss"], "https://auth.example");
    assert_eq!(decode_part(&issued, 1)["aud"], "api");
    assert_eq!(get_claims(&client, &issued).await.status, Status::Ok);

    let with = |extra: Value| {
        let mut claims = claims_now();
        claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        common::sign(&claims)
    };
    let cases = [
        ("no iss", with(json!({ "aud": "api" })), Status::Unauthorized),
        ("other iss", with(json!({ "iss": "https://auth.example/", "aud": "api" })), Status::Unauthorized),
        ("no aud", with(json!({ "iss": "https://auth.example" })), Status::Unauthorized),
        ("other aud", with(json!({ "iss": "https://auth.example", "aud": "API" })), Status::Unauthorized),
        ("aud list", with(json!({ "iss": "https://auth.example", "aud": ["web", "api"] })), Status::Ok),
    ];
    for (case, token, status) in cases {
        assert_eq!(get_claims(&client, &token).await.status, status, "{case}");
    }
}

#[rocket::async_test]
async fn unexpected_audience_rejected() {
    let client = claims_client("").await;
    let mut claims = claims_now();
    claims["aud"] = json!("api");

    let reply = get_claims(&client, &common::sign(&claims)).await;

    common::assert_unauthorized(&reply, common::INVALID_TOKEN, common::BAD_TOKEN);
}

/// Signs `header` and `payload`, both raw JSON text, with the test secret.
fn sign_raw(header: &str, payload: &str) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let key = jsonwebtoken::EncodingKey::from_secret(common::SECRET.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{input}.{signature}")
}

#[rocket::async_test]
async fn header_rules_enforced() {
    let client = claims_client("").await;
    let payload = claims_now().to_string();

    let accepted = [
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","kid":"default","typ":"application/at+jwt"}"#,
    ];
    for header in accepted {
        assert_eq!(get_claims(&client, &sign_raw(header, &payload)).await.status, Status::Ok, "header {header}");
    }

    let rejected = [
        r#"{"alg":"HS256","kid":"default"}"#,
        r#"{"alg":"HS256","kid":"default","typ":"JWT"}"#,
        r#"{"alg":"HS256","kid":"default","typ":"refresh+jwt"}"#,
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt","crit":["exp"]}"#,
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt","cty":"JWT"}"#,
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt","jwk":{"kty":"oct","k":"AA"}}"#,
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt","jku":"http://127.0.0.1/keys"}"#,
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt","x5u":"http://127.0.0.1/cert"}"#,
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt","x5c":["AA"]}"#,
        r#"{"alg":"HS256","kid":"default","typ":"at+jwt","kid":"default"}"#,
    ];
    for header in rejected {
        let reply = get_claims(&client, &sign_raw(header, &payload)).await;
        common::assert_unauthorized(&reply, common::INVALID_TOKEN, common::BAD_TOKEN);
    }
}

#[rocket::async_test]
async fn duplicate_claims_rejected() {
    let client = claims_client("").await;
    let now = common::now();
    let header = r#"{"alg":"HS256","kid":"default","typ":"at+jwt"}"#;
    let payload = format!(r#"{{"sub":"7","kind":"accounts","iat":{now},"exp":{},"jti":"k","sub":"8"}}"#, now + 600);

    let reply = get_claims(&client, &sign_raw(header, &payload)).await;

    common::assert_unauthorized(&reply, common::INVALID_TOKEN, common::BAD_TOKEN);
}

#[rocket::async_test]
async fn size_cap_applies_before_decoding() {
    let client = claims_client("max_token_length = 100").await;
    let token = common::sign(&claims_now());
    assert!(token.len() > 100);

    let reply = get_claims(&client, &token).await;

    common::assert_unauthorized(&reply, common::INVALID_TOKEN, "The bearer token is longer than the server accepts.");
}
