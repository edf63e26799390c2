//! Public test vectors for the signature layer, below claim validation:
//! Wycheproof's JSON Web Signature suite, RFC 7515's appendix A examples and
//! key-confusion attacks.
//!
//! The Wycheproof payloads are the bytes `foo`, not JWT claims, so these tests
//! call `jws::verify` directly instead of going through a request; the claim
//! checks above it are covered by `tests/tokens.rs` and `tests/keys.rs`.
//! The vectors are in `tests/data/`, under the Apache License 2.0 that is
//! copied beside them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rocket_jwt_router::jws::{self, JwsError};
use rocket_jwt_router::{Algorithm, VerificationKey};
use serde_json::Value;

const WYCHEPROOF: &str = include_str!("data/wycheproof_json_web_signature_test.json");

/// Builds the group's key from its public JWK, or its private one for HMAC.
fn group_key(group: &Value) -> Result<VerificationKey, String> {
    let jwk = group.get("public").or_else(|| group.get("private")).ok_or("the group has no key")?;
    VerificationKey::from_jwk(&jwk.to_string()).map_err(|error| error.to_string())
}

#[test]
fn wycheproof_signatures() {
    let suite: Value = serde_json::from_str(WYCHEPROOF).unwrap();
    let groups = suite["testGroups"].as_array().unwrap();
    let mut checked = 0;
    let mut unsupported_groups = Vec::new();
    let mut relabeled = Vec::new();
    let mut inconsistent = Vec::new();

    for group in groups {
        let comment = group["comment"].as_str().unwrap_or_default();
        let key = group_key(group);

        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let token = test["jws"].as_str().map(str::to_owned).unwrap_or_else(|| test["jws"].to_string());
            let expected_valid = test["result"] == "valid";
            let case = format!("group {comment:?}, test {id} ({})", test["comment"]);

            if let Some(reason) = inconsistent_vector(groups, id) {
                let result = key.as_ref().map(|key| jws::verify(&token, key).is_ok());
                assert_eq!(result, Ok(!expected_valid), "{case}: {reason}");
                inconsistent.push(id);
                checked += 1;
                continue;
            }

            match &key {
                Ok(key) => {
                    let result = jws::verify(&token, key);
                    if expected_valid && matches!(result, Err(JwsError::AlgorithmMismatch)) {
                        check_relabeled_key(group, &token, &case);
                        relabeled.push(id);
                        checked += 1;
                        continue;
                    }
                    assert_eq!(result.is_ok(), expected_valid, "{case}: {result:?}");
                }
                Err(reason) => {
                    // A key we cannot load stands for an algorithm or key use
                    // we do not support: its tokens are rejected, never accepted.
                    assert!(
                        !expected_valid || is_unsupported_algorithm(group),
                        "{case}: a valid vector's key was rejected: {reason}"
                    );
                }
            }
            checked += 1;
        }

        if let Err(reason) = &key {
            unsupported_groups.push(format!("{comment}: {reason}"));
        }
    }

    assert_eq!(checked, suite["numberOfTests"].as_u64().unwrap(), "every vector was checked");
    assert_eq!(relabeled, [346, 350], "vectors whose key is labeled with another algorithm than the token's");
    assert_eq!(inconsistent, [367, 370, 372, 373], "vectors whose expected result contradicts their own bytes");
    assert_eq!(unsupported_groups.len(), 6, "rejected groups: {unsupported_groups:#?}");
}

/// Returns why the copy of the suite in `tests/data/` contradicts itself for
/// vector `id`, or `None`. Vectors 367 and 370 ("invalidBase64Padding") are
/// byte for byte the token of vector 357 ("ValidMac"), which is valid, so no
/// verifier can reject them and accept 357. Vectors 372 and 373 insert `?`,
/// which is not a base64url character (RFC 7515 section 2), into a token
/// marked valid. The test checks that this crate's result is the opposite of
/// the label for exactly these four, and that the duplicates are real.
fn inconsistent_vector(groups: &[Value], id: u64) -> Option<&'static str> {
    let token_of = |wanted: u64| {
        groups.iter().flat_map(|group| group["tests"].as_array().unwrap()).find(|test| test["tcId"] == wanted).map(|test| test["jws"].clone())
    };

    match id {
        367 | 370 => {
            assert_eq!(token_of(id), token_of(357), "vector {id} is a copy of vector 357");
            Some("the same bytes as valid vector 357, so it verifies")
        }
        372 | 373 => {
            assert!(token_of(id).unwrap().as_str().unwrap().contains('?'), "vector {id} contains `?`");
            Some("contains `?`, which base64url does not allow, so it is rejected")
        }
        _ => None,
    }
}

/// ES512 on P-521 (labeled `ES521` in the suite) is the only signature
/// algorithm in the suite that this crate does not support.
fn is_unsupported_algorithm(group: &Value) -> bool {
    let jwk = group.get("public").or_else(|| group.get("private")).unwrap();
    jwk["alg"] == "ES512" || jwk["alg"] == "ES521"
}

/// Handles the RFC 7520 vectors whose JWK is labeled PS256 while the token
/// uses PS384. This crate binds each key to exactly one algorithm (RFC 8725
/// section 3.1), so the labeled key must reject the token. The same key
/// material labeled with the token's algorithm must accept it, which shows
/// that the signature itself is valid.
fn check_relabeled_key(group: &Value, token: &str, case: &str) {
    let header = jws::decode_header(token).unwrap();
    let mut jwk = group.get("public").or_else(|| group.get("private")).unwrap().clone();
    jwk["alg"] = Value::from(header.alg.clone());

    let key = VerificationKey::from_jwk(&jwk.to_string()).unwrap_or_else(|error| panic!("{case}: {error}"));
    assert!(jws::verify(token, &key).is_ok(), "{case}: the signature does not verify under {}", header.alg);
}

#[test]
fn wycheproof_encryption_keys_rejected() {
    let suite: Value = serde_json::from_str(WYCHEPROOF).unwrap();

    for group in suite["testGroups"].as_array().unwrap() {
        let comment = group["comment"].as_str().unwrap_or_default();
        if comment == "rsa_encryption" || comment == "ec_key_for_encryption" {
            let error = group_key(group).unwrap_err();
            assert!(error.contains("`use`") || error.contains("`key_ops`") || error.contains("`alg`"), "{comment}: {error}");
        }
    }
}

const RFC7515_A1_KEY: &str = r#"{"kty":"oct","alg":"HS256",
    "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

#[test]
fn rfc7515_a1_hs256() {
    let key = VerificationKey::from_jwk(RFC7515_A1_KEY).unwrap();
    let token = format!("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.{RFC7515_PAYLOAD}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");

    let verified = jws::verify(&token, &key).unwrap();

    assert_eq!(verified.payload, URL_SAFE_NO_PAD.decode(RFC7515_PAYLOAD).unwrap());
    assert_eq!(verified.header.alg, "HS256");
}

const RFC7515_A2_SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7\
    AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K\
    0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB\
    p0igcN_IoypGlUPQGe77Rw";

#[test]
fn rfc7515_a2_rs256_signature_exact() {
    let pem = include_bytes!("data/keys/rfc7515-a2.pem");
    let signing_input = format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}");

    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem).unwrap();
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, jsonwebtoken::Algorithm::RS256).unwrap();

    assert_eq!(signature, RFC7515_A2_SIGNATURE);
}

#[test]
fn rfc7515_a2_rs256_verifies() {
    let jwk = r#"{"kty":"RSA","alg":"RS256","e":"AQAB",
        "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}"#;
    let key = VerificationKey::from_jwk(jwk).unwrap();
    let token = format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}.{RFC7515_A2_SIGNATURE}");

    assert!(jws::verify(&token, &key).is_ok());

    let tampered = token.replacen(".cC4h", ".cC4i", 1);
    assert_eq!(jws::verify(&tampered, &key).unwrap_err(), JwsError::InvalidSignature);
}

#[test]
fn rfc7515_a5_alg_none_rejected() {
    let key = VerificationKey::from_jwk(RFC7515_A1_KEY).unwrap();
    let token = format!("eyJhbGciOiJub25lIn0.{RFC7515_PAYLOAD}.");

    assert_eq!(jws::verify(&token, &key).unwrap_err(), JwsError::AlgorithmMismatch);
}

/// Signs `header.payload` with HMAC-SHA256 and `secret`.
fn hs256_token(secret: &[u8], payload: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let input = format!("{header}.{payload}");

    let key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{input}.{signature}")
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

#[test]
fn key_confusion_rejected() {
    let cases = [
        (Algorithm::RS256, include_str!("data/keys/rsa-2048.pub.pem")),
        (Algorithm::ES256, include_str!("data/keys/ec-p256.pub.pem")),
        (Algorithm::EdDSA, include_str!("data/keys/ed25519.pub.pem")),
    ];

    for (algorithm, pem) in cases {
        let key = VerificationKey::from_pem(algorithm, pem.as_bytes()).unwrap();

        for (form, secret) in [("PEM", pem.as_bytes().to_vec()), ("DER", pem_to_der(pem))] {
            let token = hs256_token(&secret, r#"{"sub":"1"}"#);
            let error = jws::verify(&token, &key).unwrap_err();
            assert_eq!(error, JwsError::AlgorithmMismatch, "{algorithm:?} key, HS256 token keyed with its {form}");
        }
    }
}

#[test]
fn weak_and_mismatched_keys_rejected() {
    let error = VerificationKey::from_pem(Algorithm::RS256, include_bytes!("data/keys/rsa-1024.pub.pem")).unwrap_err();
    assert!(error.to_string().contains("1024 bits"), "{error}");

    let error = VerificationKey::from_pem(Algorithm::ES256, include_bytes!("data/keys/ec-p384.pub.pem")).unwrap_err();
    assert!(error.to_string().contains("P-256"), "{error}");

    assert!(VerificationKey::from_pem(Algorithm::ES384, include_bytes!("data/keys/ec-p384.pub.pem")).is_ok());
    assert!(VerificationKey::from_pem(Algorithm::PS256, include_bytes!("data/keys/rsa-2048.pub.pem")).is_ok());
    assert!(VerificationKey::from_pem(Algorithm::HS256, include_bytes!("data/keys/rsa-2048.pub.pem")).is_err());
}
