//! The key settings of the `jwt_router` table: the `secret`, `secret_file`
//! and `secret_env` shorthand for one HMAC key, or `signing_key` with any
//! number of `verify_keys` for asymmetric keys and rotation.
//!
//! Key material comes from a file, an environment variable, or inline text.
//! Inline text in a configuration file is accepted in debug builds with a
//! warning and rejected in release builds, so a committed Rocket.toml cannot
//! carry a production key.

use std::path::Path;

use rocket::figment::value::magic::RelativePathBuf;
use rocket::figment::{Figment, Source};
use serde::Deserialize;

use crate::algorithm::Algorithm;
use crate::config::{key, ConfigError};
use crate::keys::{Family, KeySet, SigningKey, VerificationKey};

/// The key id of the key given with the `secret` shorthand.
pub(crate) const SHORTHAND_KID: &str = "default";

/// The shorthand settings for a single HMAC key.
pub(crate) struct Shorthand<'a> {
    pub(crate) secret: Option<&'a str>,
    pub(crate) secret_file: Option<&'a RelativePathBuf>,
    pub(crate) secret_env: Option<&'a str>,
    /// Whether `signing_key` is set to something other than an empty value.
    pub(crate) signing_key: bool,
    /// Whether `verify_keys` is set to something other than an empty value.
    pub(crate) verify_keys: bool,
}

/// One entry of `signing_key` or `verify_keys`, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    kid: String,
    algorithm: Option<String>,
    file: Option<RelativePathBuf>,
    env: Option<String>,
    value: Option<String>,
}

/// A key entry with its material loaded.
struct KeySpec {
    /// The configuration key, for messages.
    name: String,
    kid: String,
    algorithm: Algorithm,
    material: Vec<u8>,
}

/// Loads and checks every configured key.
pub(crate) fn load_keys(figment: &Figment, shorthand: Shorthand<'_>, algorithm: Algorithm) -> Result<KeySet, ConfigError> {
    let signing = load_signing_key(figment, &shorthand, algorithm)?;
    let verify_only = if shorthand.verify_keys { load_verify_keys(figment, algorithm)? } else { Vec::new() };

    KeySet::new(signing, verify_only).map_err(|error| ConfigError::new(key("verify_keys"), error.to_string()))
}

fn load_signing_key(figment: &Figment, shorthand: &Shorthand<'_>, algorithm: Algorithm) -> Result<SigningKey, ConfigError> {
    let table_path = key("signing_key");
    let sources = [shorthand.secret.is_some(), shorthand.secret_file.is_some(), shorthand.secret_env.is_some(), shorthand.signing_key];

    match sources.iter().filter(|set| **set).count() {
        0 => return Err(ConfigError::new(
            key("secret"),
            "no signing key is configured; set `secret_file` to a file with at least 32 random bytes, \
             `secret_env` to the name of an environment variable that holds them, \
             `secret` (for example through ROCKET_JWT_ROUTER='{secret=\"...\"}'), \
             or `signing_key` for an asymmetric key",
        )),
        1 => {}
        _ => return Err(ConfigError::new(
            key("secret"),
            "more than one of `secret`, `secret_file`, `secret_env` and `signing_key` is set; keep exactly one",
        )),
    }

    if sources[3] {
        let raw: RawKey = figment.extract_inner(&table_path).map_err(|error| ConfigError::new(table_path.clone(), error.to_string()))?;
        let spec = load_spec(figment, &table_path, raw, algorithm)?;
        return build_signing_key(&spec);
    }

    if algorithm.family() != Family::Hmac {
        return Err(ConfigError::new(
            key("secret"),
            format!("a secret is an HMAC key, but `algorithm` is {}; use `signing_key` with a PEM file for it", algorithm.name()),
        ));
    }

    let (name, material) = if let Some(secret) = shorthand.secret {
        check_inline(figment, &key("secret"))?;
        ("secret", secret.as_bytes().to_vec())
    } else if let Some(path) = shorthand.secret_file {
        ("secret_file", read_file(&key("secret_file"), &path.relative(), true)?)
    } else {
        ("secret_env", read_env(&key("secret_env"), shorthand.secret_env.unwrap_or_default())?)
    };

    SigningKey::from_secret(SHORTHAND_KID, algorithm, &material).map_err(|error| ConfigError::new(key(name), error.to_string()))
}

fn load_verify_keys(figment: &Figment, algorithm: Algorithm) -> Result<Vec<VerificationKey>, ConfigError> {
    let path = key("verify_keys");

    let raw: Vec<RawKey> = figment.extract_inner(&path).map_err(|error| {
        ConfigError::new(path.clone(), format!("{error}; write a list of {{ kid = \"...\", algorithm = \"...\", file = \"...\" }}"))
    })?;

    raw.into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let spec = load_spec(figment, &format!("{path}[{index}]"), raw, algorithm)?;
            build_verify_key(&spec)
        })
        .collect()
}

fn load_spec(figment: &Figment, name: &str, raw: RawKey, default_algorithm: Algorithm) -> Result<KeySpec, ConfigError> {
    validate_kid(&raw.kid).map_err(|reason| ConfigError::new(format!("{name}.kid"), reason))?;

    let algorithm = match raw.algorithm.as_deref() {
        None => default_algorithm,
        Some(text) => parse_algorithm(&format!("{name}.algorithm"), text)?,
    };

    let hmac = algorithm.family() == Family::Hmac;
    let material = match (raw.file, raw.env, raw.value) {
        (Some(path), None, None) => read_file(&format!("{name}.file"), &path.relative(), hmac)?,
        (None, Some(variable), None) => read_env(&format!("{name}.env"), &variable)?,
        (None, None, Some(value)) => {
            check_inline(figment, &format!("{name}.value"))?;
            value.into_bytes()
        }
        _ => return Err(ConfigError::new(name.to_owned(), "set exactly one of `file`, `env` and `value` for the key material")),
    };

    Ok(KeySpec { name: name.to_owned(), kid: raw.kid, algorithm, material })
}

fn build_signing_key(spec: &KeySpec) -> Result<SigningKey, ConfigError> {
    let built = if spec.algorithm.family() == Family::Hmac {
        SigningKey::from_secret(&spec.kid, spec.algorithm, &spec.material)
    } else if spec.material.trim_ascii_start().starts_with(b"{") {
        return Err(ConfigError::new(spec.name.clone(), "a signing key must be a PEM private key (PKCS#8 for EC and Ed25519), not a JWK"));
    } else {
        SigningKey::from_pem(&spec.kid, spec.algorithm, &spec.material)
    };

    built.map_err(|error| ConfigError::new(spec.name.clone(), error.to_string()))
}

fn build_verify_key(spec: &KeySpec) -> Result<VerificationKey, ConfigError> {
    let invalid = |error: crate::keys::KeyError| ConfigError::new(spec.name.clone(), error.to_string());

    if spec.algorithm.family() == Family::Hmac {
        return VerificationKey::from_secret(spec.algorithm, &spec.material).map(|key| key.with_kid(&spec.kid)).map_err(invalid);
    }

    if !spec.material.trim_ascii_start().starts_with(b"{") {
        return VerificationKey::from_pem(spec.algorithm, &spec.material).map(|key| key.with_kid(&spec.kid)).map_err(invalid);
    }

    let text = std::str::from_utf8(&spec.material).map_err(|_| ConfigError::new(spec.name.clone(), "the JWK is not UTF-8"))?;
    let jwk = VerificationKey::from_jwk(text).map_err(invalid)?;
    if jwk.algorithm() != spec.algorithm {
        return Err(ConfigError::new(
            spec.name.clone(),
            format!("the JWK is for {} but the entry says {}", jwk.algorithm().name(), spec.algorithm.name()),
        ));
    }
    if jwk.kid().is_some_and(|kid| kid != spec.kid) {
        return Err(ConfigError::new(spec.name.clone(), format!("the JWK's kid differs from the entry's kid `{}`", spec.kid)));
    }

    Ok(jwk.with_kid(&spec.kid))
}

pub(crate) fn parse_algorithm(name: &str, text: &str) -> Result<Algorithm, ConfigError> {
    Algorithm::from_name(text).ok_or_else(|| {
        ConfigError::new(name.to_owned(), format!("`{text}` is not a supported algorithm; use one of {}", Algorithm::names()))
    })
}

/// Key ids appear in every token header, so they are kept short and plain.
fn validate_kid(kid: &str) -> Result<(), String> {
    let plain = kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if kid.is_empty() || kid.len() > 64 || !plain {
        return Err(format!("`{kid}` is not a valid key id; use 1 to 64 letters, digits, `-`, `_`, `.` or `:`"));
    }

    Ok(())
}

/// Accepts inline key material from a configuration file only in debug
/// builds. Values from environment variables and code are always accepted.
fn check_inline(figment: &Figment, path: &str) -> Result<(), ConfigError> {
    let from_file = figment.find_metadata(path).is_some_and(|metadata| matches!(metadata.source, Some(Source::File(_))));
    if !from_file {
        return Ok(());
    }

    if cfg!(debug_assertions) {
        log::warn!("jwt_router: `{path}` contains inline key material in a configuration file; release builds reject this, so load it from a file or an environment variable");
        return Ok(());
    }

    Err(ConfigError::new(
        path.to_owned(),
        "holds key material inline in a configuration file, which release builds reject; \
         load it from a file (`secret_file`, `file`) or an environment variable (`secret_env`, `env`)",
    ))
}

fn read_file(name: &str, path: &Path, trim_newline: bool) -> Result<Vec<u8>, ConfigError> {
    let mut bytes = std::fs::read(path).map_err(|error| ConfigError::new(name.to_owned(), format!("cannot read `{}`: {error}", path.display())))?;

    // Editors and `echo` add a final newline that is not part of a secret.
    if trim_newline && bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }

    Ok(bytes)
}

fn read_env(name: &str, variable: &str) -> Result<Vec<u8>, ConfigError> {
    match std::env::var_os(variable) {
        Some(value) => Ok(value.into_encoded_bytes()),
        None => Err(ConfigError::new(name.to_owned(), format!("the environment variable `{variable}` is not set"))),
    }
}
