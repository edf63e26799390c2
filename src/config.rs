//! The `jwt_router` table of Rocket's configuration: parsing, defaults and
//! validation.
//!
//! Every setting is checked when the fairing ignites. A problem aborts launch
//! with a [`ConfigError`] that names the key and says how to fix it, because a
//! misread access rule is a security hole that no request-time check can find.

use std::fmt;
use std::time::Duration;

use rocket::figment::value::magic::RelativePathBuf;
use rocket::figment::value::Value;
use rocket::figment::Figment;
use serde::Deserialize;

use crate::algorithm::Algorithm;
use crate::audit::AuditMode;
use crate::cache::CacheSettings;
use crate::key_config::{load_keys, parse_algorithm, Shorthand};
use crate::keys::KeySet;
use rocket::http::Method;
use crate::entity::validate_identifier;
use crate::routes::{parse_method, PathPattern, RouteEntry, RouteList, RouteTable};

/// The name of the configuration table that the fairing reads.
///
/// ```
/// assert_eq!(rocket_jwt_router::CONFIG_KEY, "jwt_router");
/// ```
pub const CONFIG_KEY: &str = "jwt_router";

const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);
const MAX_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);
const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
const MAX_LEEWAY: Duration = Duration::from_secs(5 * 60);
const DEFAULT_MAX_TOKEN_LENGTH: usize = 8 * 1024;
const MAX_ENTITY_CACHE_TTL: Duration = Duration::from_secs(60 * 60);
const DEFAULT_ENTITY_CACHE_MAX_ENTRIES: usize = 10_000;
/// Bounds the scan that makes room in a full shard of the cache.
const MAX_ENTITY_CACHE_MAX_ENTRIES: usize = 100_000;

/// An invalid setting in the `jwt_router` table.
///
/// Its message names the key, what is wrong with it and how to fix it.
///
/// ```
/// use rocket::figment::{Figment, providers::Serialized};
/// use rocket_jwt_router::Config;
///
/// let figment = Figment::from(Serialized::default("jwt_router.secret", "too short"));
/// let error = Config::from_figment(&figment).unwrap_err();
/// assert_eq!(error.key(), "jwt_router.secret");
/// assert!(error.to_string().contains("at least 32 bytes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    key: String,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { key: key.into(), message: message.into() }
    }

    /// Returns the full key of the invalid setting, such as `jwt_router.secret`.
    ///
    /// ```
    /// # use rocket::figment::Figment;
    /// # use rocket_jwt_router::Config;
    /// let error = Config::from_figment(&Figment::new()).unwrap_err();
    /// assert_eq!(error.key(), "jwt_router.secret");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Returns what is wrong and how to fix it, without the key.
    ///
    /// ```
    /// # use rocket::figment::Figment;
    /// # use rocket_jwt_router::Config;
    /// let error = Config::from_figment(&Figment::new()).unwrap_err();
    /// assert!(error.message().contains("no signing key"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn key(name: &str) -> String {
    format!("{CONFIG_KEY}.{name}")
}

/// The `jwt_router` table as written, before validation.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    secret: Option<String>,
    secret_file: Option<RelativePathBuf>,
    secret_env: Option<String>,
    algorithm: Option<String>,
    // Read with their own types in `key_config`; here only whether they are set.
    signing_key: Option<Value>,
    verify_keys: Option<Value>,
    jwks_path: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    white_list_routes: Option<Value>,
    ignored_routes: Option<Value>,
    api_name: Option<String>,
    entity_key: Option<String>,
    token_ttl: Option<Value>,
    leeway: Option<Value>,
    max_token_length: Option<usize>,
    entity_cache_ttl: Option<Value>,
    entity_cache_max_entries: Option<usize>,
    catchers: Option<bool>,
    route_audit: Option<String>,
}

/// The validated `jwt_router` configuration.
///
/// [`JwtRouter::fairing()`](crate::JwtRouter::fairing) builds it from
/// Rocket's figment when the application ignites. Build one yourself with
/// [`Config::from_figment`] to check a configuration without launching.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `secret` | none | HMAC secret with key id `default`, at least as long as the hash output (32 bytes for HS256). Exactly one of `secret`, `secret_file`, `secret_env` and `signing_key` is required; there is no default key. Inline in a configuration file it is accepted with a warning in debug builds and rejected in release builds; from `ROCKET_JWT_ROUTER` it is always accepted. |
/// | `secret_file` | none | Path of a file whose contents are the secret, relative to the Rocket.toml that sets it. One trailing newline is ignored. |
/// | `secret_env` | none | Name of an environment variable whose value is the secret. |
/// | `algorithm` | `"HS256"` | The algorithm of the shorthand secret, and the default of key entries without their own: `HS256`, `HS384`, `HS512`, `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384` or `EdDSA`. A token is accepted only with its key's algorithm, never the one its header names. |
/// | `signing_key` | none | The key that signs new tokens: `{ kid = "2026-12", algorithm = "ES256", file = "keys/signing.pem" }`, with the material in exactly one of `file`, `env` (a variable name) or `value` (inline, same rule as `secret`). HMAC keys are raw secrets; other keys are PEM private keys (PKCS#8 for EC and Ed25519). RSA keys need 2048 to 8192 bits. |
/// | `verify_keys` | `[]` | Keys that only verify, for rotation: entries like `signing_key`, with a PEM public key or a JWK as material. A token is verified only with the key its `kid` names; an unknown `kid` is rejected without trying any key. |
/// | `jwks_path` | none | If set, a public `GET` route at this fixed path serves the JWK Set of the asymmetric verification keys (never private parts, never HMAC secrets), for other services that verify our tokens. |
/// | `issuer` | none | If set, issued tokens carry it as `iss`, and every token must carry exactly it. |
/// | `audience` | none | If set, issued tokens carry it as `aud`, and every token's `aud` must contain exactly it. If unset, tokens with an `aud` are rejected. |
/// | `white_list_routes` | `[]` | Public routes, `["POST", "/register"]`, `"POST /register"` or `{ method = "GET", path = "/about", allow_overlap = true }`, with `api_name` in front. |
/// | `ignored_routes` | `[]` | Routes the gate skips entirely, written with their full path. |
/// | `api_name` | `""` | Path prefix for `white_list_routes`; `"api/v1"`, `"/api/v1"` and `"/api/v1/"` are equal. |
/// | `entity_key` | `"id"` | Primary-key column used to load entities, unless an [`Entity`](crate::Entity) overrides it. |
/// | `token_ttl` | `"1h"` | Token lifetime: seconds, or a number with `s`, `m`, `h` or `d` (`"15m"`, `"30d"`). At most 365 days. |
/// | `leeway` | `"30s"` | Clock skew allowed when checking `exp`, `nbf` and `iat`. At most 5 minutes. Each second of leeway lets an expired token live a second longer. |
/// | `max_token_length` | `8192` | Longest bearer token, in bytes, that the server will try to decode; longer ones are rejected before any parsing. At least 64. |
/// | `entity_cache_ttl` | none (off) | Turns on the [`EntityCache`](crate::EntityCache): a loaded entity is served without a database query for this long (`"30s"`), at most 1 hour. Each second lets a deleted or changed entity act as it was for a second longer; see [`EntityCache`](crate::EntityCache) for exactly what it can do. |
/// | `entity_cache_max_entries` | `10000` | Most entities the cache holds, between 1 and 100000. Expired entries, then the entry closest to expiry, make room for a new one. Needs `entity_cache_ttl`. |
/// | `route_audit` | `"abort"` | What to do when an entry matches no mounted route or opens a mounted route with a different pattern: `"abort"` launch, or `"warn"` and launch anyway (for applications that mount routes after ignition). |
/// | `catchers` | `true` | Register JSON catchers for 401 and 503 at `/`, so that guard failures carry the same body and `WWW-Authenticate` header as gate denials. Turn off when the application registers its own catchers for those codes at `/`. |
///
/// ```
/// use rocket::figment::{Figment, providers::{Format, Toml}};
/// use rocket_jwt_router::Config;
///
/// let figment = Figment::from(Toml::string(r#"
///     [jwt_router]
///     secret = "an example secret of at least 32 bytes"
///     api_name = "api/v1"
///     white_list_routes = [["POST", "/register"], "GET /articles/<id>"]
///     ignored_routes = ["GET /"]
///     token_ttl = "15m"
/// "#));
///
/// let config = Config::from_figment(&figment).unwrap();
/// assert_eq!(config.token_ttl().as_secs(), 900);
/// assert_eq!(config.api_name(), "/api/v1");
/// ```
#[derive(Debug)]
pub struct Config {
    pub(crate) keys: KeySet,
    pub(crate) jwks_path: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) routes: RouteTable,
    pub(crate) api_name: String,
    pub(crate) entity_key: String,
    pub(crate) token_ttl: Duration,
    pub(crate) leeway: Duration,
    pub(crate) max_token_length: usize,
    pub(crate) entity_cache: Option<CacheSettings>,
    pub(crate) catchers: bool,
    pub(crate) route_audit: AuditMode,
}

impl Config {
    /// Reads and validates the `jwt_router` table of `figment`.
    ///
    /// # Errors
    ///
    /// Returns the first invalid setting: a missing, ambiguous or short secret,
    /// an unknown key, algorithm or method, a malformed path, an `entity_key`
    /// that is not a plain SQL identifier, or a duration out of range.
    ///
    /// ```
    /// use rocket::figment::{Figment, providers::Serialized};
    /// use rocket_jwt_router::Config;
    ///
    /// let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)));
    /// let config = Config::from_figment(&figment).unwrap();
    /// assert_eq!(config.entity_key(), "id");
    /// ```
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let raw = extract_raw(figment)?;

        let algorithm = match raw.algorithm.as_deref() {
            Some(text) => parse_algorithm(&key("algorithm"), text)?,
            None => Algorithm::default(),
        };
        let shorthand = Shorthand {
            secret: raw.secret.as_deref(),
            secret_file: raw.secret_file.as_ref(),
            secret_env: raw.secret_env.as_deref(),
            signing_key: raw.signing_key.is_some(),
            verify_keys: raw.verify_keys.is_some(),
        };
        let keys = load_keys(figment, shorthand, algorithm)?;
        let api_segments = parse_api_name(raw.api_name.as_deref().unwrap_or(""))?;
        let api_name = api_segments.iter().map(|segment| format!("/{segment}")).collect::<String>();

        let mut entries = parse_entries(raw.ignored_routes.as_ref(), RouteList::Ignored, &[])?;
        entries.extend(parse_entries(raw.white_list_routes.as_ref(), RouteList::WhiteList, &api_segments)?);

        let jwks_path = raw.jwks_path.as_deref().map(parse_jwks_path).transpose()?;
        if let Some((path, pattern)) = &jwks_path {
            let source = format!("jwks_path = \"{path}\"");
            entries.push(RouteEntry { list: RouteList::Ignored, method: Method::Get, pattern: pattern.clone(), source, allow_overlap: false });
        }

        let issuer = raw.issuer.map(|issuer| non_empty("issuer", issuer)).transpose()?;
        let audience = raw.audience.map(|audience| non_empty("audience", audience)).transpose()?;

        let entity_key = raw.entity_key.unwrap_or_else(|| "id".to_owned());
        validate_identifier(&entity_key)
            .map_err(|reason| ConfigError::new(key("entity_key"), format!("{reason}; use a plain column name such as \"id\"")))?;

        let token_ttl = parse_duration("token_ttl", raw.token_ttl.as_ref(), DEFAULT_TOKEN_TTL)?;
        if token_ttl.is_zero() || token_ttl > MAX_TOKEN_TTL {
            return Err(ConfigError::new(key("token_ttl"), "must be between 1 second and 365 days; tokens that never expire are not supported"));
        }

        let leeway = parse_duration("leeway", raw.leeway.as_ref(), DEFAULT_LEEWAY)?;
        if leeway > MAX_LEEWAY {
            return Err(ConfigError::new(key("leeway"), "must be at most 5 minutes (\"5m\")"));
        }

        let max_token_length = raw.max_token_length.unwrap_or(DEFAULT_MAX_TOKEN_LENGTH);
        if max_token_length < 64 {
            return Err(ConfigError::new(key("max_token_length"), "must be at least 64 bytes; the default is 8192"));
        }

        let entity_cache = parse_entity_cache(raw.entity_cache_ttl.as_ref(), raw.entity_cache_max_entries)?;

        Ok(Config {
            keys,
            jwks_path: jwks_path.map(|(path, _)| path),
            issuer,
            audience,
            routes: RouteTable::new(entries),
            api_name,
            entity_key,
            token_ttl,
            leeway,
            max_token_length,
            entity_cache,
            catchers: raw.catchers.unwrap_or(true),
            route_audit: parse_audit_mode(raw.route_audit.as_deref())?,
        })
    }

    /// Returns the algorithm of the signing key.
    ///
    /// ```
    /// # use rocket::figment::{Figment, providers::Serialized};
    /// # use rocket_jwt_router::{Algorithm, Config};
    /// # let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)));
    /// let config = Config::from_figment(&figment).unwrap();
    /// assert_eq!(config.algorithm(), Algorithm::HS256);
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.keys.signing_algorithm()
    }

    /// Returns the normalized `api_name`: empty, or `/` followed by segments
    /// without a trailing slash.
    ///
    /// ```
    /// # use rocket::figment::{Figment, providers::Serialized};
    /// # use rocket_jwt_router::Config;
    /// let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)))
    ///     .merge(Serialized::default("jwt_router.api_name", "api/v1/"));
    /// assert_eq!(Config::from_figment(&figment).unwrap().api_name(), "/api/v1");
    /// ```
    pub fn api_name(&self) -> &str {
        &self.api_name
    }

    /// Returns the default primary-key column for entities.
    ///
    /// ```
    /// # use rocket::figment::{Figment, providers::Serialized};
    /// # use rocket_jwt_router::Config;
    /// # let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)));
    /// assert_eq!(Config::from_figment(&figment).unwrap().entity_key(), "id");
    /// ```
    pub fn entity_key(&self) -> &str {
        &self.entity_key
    }

    /// Returns the lifetime of issued tokens.
    ///
    /// ```
    /// # use rocket::figment::{Figment, providers::Serialized};
    /// # use rocket_jwt_router::Config;
    /// # let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)));
    /// assert_eq!(Config::from_figment(&figment).unwrap().token_ttl().as_secs(), 3600);
    /// ```
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }

    /// Returns what the route audit does with a problem.
    ///
    /// ```
    /// # use rocket::figment::{Figment, providers::Serialized};
    /// # use rocket_jwt_router::{AuditMode, Config};
    /// # let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)));
    /// assert_eq!(Config::from_figment(&figment).unwrap().route_audit(), AuditMode::Abort);
    /// ```
    pub fn route_audit(&self) -> AuditMode {
        self.route_audit
    }

    /// Returns the clock skew allowed when checking time claims.
    ///
    /// ```
    /// # use rocket::figment::{Figment, providers::Serialized};
    /// # use rocket_jwt_router::Config;
    /// # let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)));
    /// assert_eq!(Config::from_figment(&figment).unwrap().leeway().as_secs(), 30);
    /// ```
    pub fn leeway(&self) -> Duration {
        self.leeway
    }
}

/// Returns the cache settings, or `None` when `entity_cache_ttl` is not set.
fn parse_entity_cache(ttl: Option<&Value>, max_entries: Option<usize>) -> Result<Option<CacheSettings>, ConfigError> {
    let Some(ttl) = ttl else {
        if max_entries.is_some() {
            return Err(ConfigError::new(
                key("entity_cache_max_entries"),
                "has no effect because the entity cache is off; set entity_cache_ttl (\"30s\") to turn it on, or remove this key",
            ));
        }
        return Ok(None);
    };

    let ttl = parse_duration("entity_cache_ttl", Some(ttl), Duration::ZERO)?;
    if ttl.is_zero() || ttl > MAX_ENTITY_CACHE_TTL {
        return Err(ConfigError::new(
            key("entity_cache_ttl"),
            "must be between 1 second and 1 hour; remove the key to turn the entity cache off",
        ));
    }

    let max_entries = max_entries.unwrap_or(DEFAULT_ENTITY_CACHE_MAX_ENTRIES);
    if max_entries == 0 || max_entries > MAX_ENTITY_CACHE_MAX_ENTRIES {
        return Err(ConfigError::new(
            key("entity_cache_max_entries"),
            "must be between 1 and 100000; remove entity_cache_ttl to turn the entity cache off",
        ));
    }

    Ok(Some(CacheSettings { ttl, max_entries }))
}

fn parse_audit_mode(text: Option<&str>) -> Result<AuditMode, ConfigError> {
    match text {
        None | Some("abort") => Ok(AuditMode::Abort),
        Some("warn") => Ok(AuditMode::Warn),
        Some(other) => Err(ConfigError::new(key("route_audit"), format!("`{other}` is not an audit mode; use \"abort\" or \"warn\""))),
    }
}

fn extract_raw(figment: &Figment) -> Result<RawConfig, ConfigError> {
    if !figment.contains(CONFIG_KEY) {
        return Ok(RawConfig::default());
    }

    figment.extract_inner::<RawConfig>(CONFIG_KEY).map_err(|error| {
        // The table is flat, so the path contains at most one key besides the
        // table's own name, in an order that differs between error kinds.
        let inner: Vec<&str> = error.path.iter().map(String::as_str).filter(|part| *part != CONFIG_KEY).collect();
        let name = if inner.is_empty() { CONFIG_KEY.to_owned() } else { key(&inner.join(".")) };
        let message = match &error.kind {
            rocket::figment::error::Kind::UnknownField(field, expected) => format!(
                "unknown key `{field}`; expected one of {}",
                expected.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
            ),
            kind => kind.to_string(),
        };
        ConfigError::new(name, message)
    })
}

fn non_empty(name: &str, value: String) -> Result<String, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::new(key(name), "must not be empty; remove the key to leave it unchecked"));
    }

    Ok(value)
}

/// Parses `jwks_path`: a fixed path without parameters.
fn parse_jwks_path(path: &str) -> Result<(String, PathPattern), ConfigError> {
    let invalid = |reason: String| ConfigError::new(key("jwks_path"), reason);
    let pattern = PathPattern::parse(path).map_err(invalid)?;

    let fixed = pattern.segments.iter().all(|segment| matches!(segment, crate::routes::PatternSegment::Static(_)));
    if !fixed || pattern.segments.is_empty() {
        return Err(invalid(format!("`{path}` must be a fixed path such as \"/.well-known/jwks.json\"")));
    }

    Ok((pattern.to_string(), pattern))
}

fn parse_api_name(text: &str) -> Result<Vec<String>, ConfigError> {
    let trimmed = text.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }

    let pattern = PathPattern::parse(&format!("/{trimmed}"))
        .map_err(|reason| ConfigError::new(key("api_name"), reason))?;

    pattern
        .segments
        .into_iter()
        .map(|segment| match segment {
            crate::routes::PatternSegment::Static(text) => Ok(text),
            _ => Err(ConfigError::new(key("api_name"), format!("`{text}` must be a fixed path such as \"/api/v1\", without `<parameters>`"))),
        })
        .collect()
}

fn parse_entries(value: Option<&Value>, list: RouteList, prefix: &[String]) -> Result<Vec<RouteEntry>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };

    let Value::Array(_, items) = value else {
        return Err(ConfigError::new(
            key(list.key()),
            "must be a list of routes, such as [[\"POST\", \"/register\"], \"GET /articles/<id>\"]",
        ));
    };

    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let entry_key = format!("{}[{index}]", key(list.key()));
            parse_entry(item, list, prefix).map_err(|reason| ConfigError::new(entry_key, reason))
        })
        .collect()
}

fn parse_entry(item: &Value, list: RouteList, prefix: &[String]) -> Result<RouteEntry, String> {
    const SHAPE: &str =
        "write each route as [\"METHOD\", \"/path\"], \"METHOD /path\" or { method = \"METHOD\", path = \"/path\", allow_overlap = true }";

    let mut allow_overlap = false;
    let (method, path) = match item {
        Value::Dict(_, table) => {
            if let Some(unknown) = table.keys().find(|name| !matches!(name.as_str(), "method" | "path" | "allow_overlap")) {
                return Err(format!("unknown key `{unknown}`; {SHAPE}"));
            }

            let text = |name: &str| table.get(name).and_then(Value::as_str).map(str::to_owned);
            let (Some(method), Some(path)) = (text("method"), text("path")) else {
                return Err(format!("`method` and `path` must both be strings; {SHAPE}"));
            };

            allow_overlap = match table.get("allow_overlap") {
                None => false,
                Some(value) => value.to_bool().ok_or_else(|| "`allow_overlap` must be true or false".to_owned())?,
            };
            (method, path)
        }
        Value::String(_, text) => match text.split_once(' ') {
            Some((method, path)) => (method.to_owned(), path.to_owned()),
            None => return Err(format!("`{text}` has no method; {SHAPE}")),
        },
        Value::Array(_, pair) => match pair.as_slice() {
            [method, path] => match (method.as_str(), path.as_str()) {
                (Some(method), Some(path)) => (method.to_owned(), path.to_owned()),
                _ => return Err(format!("the method and path must be strings; {SHAPE}")),
            },
            _ => return Err(format!("a route needs exactly two items; {SHAPE}")),
        },
        _ => return Err(SHAPE.to_owned()),
    };

    let method = parse_method(&method)?;
    let pattern = PathPattern::parse(&path)?;
    let source = format!("{method} {path}");

    Ok(RouteEntry { list, method, pattern: pattern.prefixed(prefix), source, allow_overlap })
}

/// Parses seconds (`900`) or a number with a unit (`"15m"`, `"1h30m"`).
fn parse_duration(name: &str, value: Option<&Value>, default: Duration) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };

    let invalid = |shown: String| {
        ConfigError::new(
            key(name),
            format!("{shown} is not a duration; use seconds (900) or a number with s, m, h or d (\"15m\", \"1h30m\", \"30d\")"),
        )
    };

    // TOML integers arrive as signed numbers, so a plain `to_u128` would
    // reject `token_ttl = 900`.
    if let Some(number) = value.to_num() {
        let seconds = number.to_u128_lossy().and_then(|seconds| u64::try_from(seconds).ok());
        return seconds.map(Duration::from_secs).ok_or_else(|| invalid("the number".to_owned()));
    }

    let Some(text) = value.as_str() else {
        return Err(invalid("the value".to_owned()));
    };

    parse_duration_text(text).ok_or_else(|| invalid(format!("`{text}`")))
}

fn parse_duration_text(text: &str) -> Option<Duration> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(Duration::from_secs);
    }

    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }

        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 60 * 60,
            'd' => 24 * 60 * 60,
            _ => return None,
        };
        let amount: u64 = digits.parse().ok()?;
        total = total.checked_add(amount.checked_mul(unit)?)?;
        digits.clear();
    }

    if !digits.is_empty() || text.is_empty() {
        return None;
    }

    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::providers::{Format, Toml};

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(toml: &str) -> Result<Config, ConfigError> {
        let figment = Figment::from(Toml::string(&format!("[jwt_router]\nsecret = \"{SECRET}\"\n{toml}")));
        Config::from_figment(&figment)
    }

    #[test]
    fn duration_forms() {
        assert_eq!(parse_duration_text("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration_text("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration_text("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration_text("30d"), Some(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration_text(""), None);
        assert_eq!(parse_duration_text("m"), None);
        assert_eq!(parse_duration_text("15"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration_text("15 m"), None);
        assert_eq!(parse_duration_text("1w"), None);
        assert_eq!(parse_duration_text("99999999999999999999d"), None);
    }

    #[test]
    fn integer_durations_are_seconds() {
        assert_eq!(config("token_ttl = 900").unwrap().token_ttl, Duration::from_secs(900));
        assert_eq!(config("leeway = 0").unwrap().leeway, Duration::ZERO);
        assert_eq!(config("token_ttl = -5").unwrap_err().key(), "jwt_router.token_ttl");
        assert_eq!(config("token_ttl = 1.5").unwrap_err().key(), "jwt_router.token_ttl");
    }

    #[test]
    fn defaults() {
        let config = config("").unwrap();
        assert_eq!(config.token_ttl, DEFAULT_TOKEN_TTL);
        assert_eq!(config.leeway, DEFAULT_LEEWAY);
        assert_eq!(config.entity_key, "id");
        assert_eq!(config.api_name, "");
        assert!(config.catchers);
        assert!(config.routes.entries().is_empty());
        assert_eq!(config.entity_cache, None);
    }

    #[test]
    fn entity_cache_settings() {
        let default_size = config("entity_cache_ttl = \"30s\"").unwrap();
        assert_eq!(default_size.entity_cache, Some(CacheSettings { ttl: Duration::from_secs(30), max_entries: 10_000 }));

        let small = config("entity_cache_ttl = 60\nentity_cache_max_entries = 5").unwrap();
        assert_eq!(small.entity_cache.map(|cache| cache.max_entries), Some(5));
    }

    #[test]
    fn api_name_forms_are_equal() {
        for name in ["api/v1", "/api/v1", "/api/v1/", "api/v1/"] {
            let config = config(&format!("api_name = \"{name}\"\nwhite_list_routes = [\"POST /register\"]")).unwrap();
            assert_eq!(config.api_name, "/api/v1", "api_name {name:?}");
            assert_eq!(config.routes.entries()[0].pattern.to_string(), "/api/v1/register", "api_name {name:?}");
        }
    }

    #[test]
    fn api_name_not_on_ignored() {
        let config = config("api_name = \"/api\"\nignored_routes = [\"GET /\"]").unwrap();
        assert_eq!(config.routes.entries()[0].pattern.to_string(), "/");
    }

    #[test]
    fn api_name_rejects_parameters() {
        let error = config("api_name = \"/api/<v>\"").unwrap_err();
        assert_eq!(error.key(), "jwt_router.api_name");
    }

    #[test]
    fn entry_errors_name_the_index() {
        let error = config("white_list_routes = [\"GET /a\", \"FETCH /b\"]").unwrap_err();
        assert_eq!(error.key(), "jwt_router.white_list_routes[1]");
        assert!(error.message().contains("not an HTTP method"));

        let error = config("ignored_routes = [[\"GET\"]]").unwrap_err();
        assert_eq!(error.key(), "jwt_router.ignored_routes[0]");

        let error = config("ignored_routes = [\"/nomethod\"]").unwrap_err();
        assert!(error.message().contains("has no method"));

        let error = config("ignored_routes = [{ method = \"GET\", path = \"/\", allow = true }]").unwrap_err();
        assert!(error.message().contains("unknown key `allow`"));

        let error = config("ignored_routes = [{ method = \"GET\", path = \"/\", allow_overlap = \"yes\" }]").unwrap_err();
        assert!(error.message().contains("true or false"));

        let config_with_table = config("ignored_routes = [{ method = \"GET\", path = \"/\", allow_overlap = true }]").unwrap();
        assert!(config_with_table.routes.entries()[0].allow_overlap);

        let error = config("route_audit = \"ignore\"").unwrap_err();
        assert_eq!(error.key(), "jwt_router.route_audit");

        let error = config("ignored_routes = \"GET /\"").unwrap_err();
        assert_eq!(error.key(), "jwt_router.ignored_routes");
    }

    #[test]
    fn unknown_key_rejected() {
        let error = config("white_list_route = []").unwrap_err();
        assert!(error.message().contains("unknown key `white_list_route`"), "{error}");
        assert_eq!(error.key(), "jwt_router.white_list_route");

        let error = config("max_token_length = \"big\"").unwrap_err();
        assert_eq!(error.key(), "jwt_router.max_token_length");

        let error = config("catchers = 3").unwrap_err();
        assert_eq!(error.key(), "jwt_router.catchers");
    }

    #[test]
    fn secret_rules() {
        let figment = Figment::from(Toml::string("[jwt_router]\nsecret = \"short\""));
        let error = Config::from_figment(&figment).unwrap_err();
        assert_eq!(error.key(), "jwt_router.secret");
        assert!(error.message().contains("5 bytes long"), "{error}");
        assert!(!error.to_string().contains("short"), "the secret must not appear in the message");

        let error = config("secret_env = \"X\"").unwrap_err();
        assert!(error.message().contains("more than one"));

        let figment = Figment::from(Toml::string("[jwt_router]\nsecret = \"0123456789abcdef0123456789abcdef\"\nalgorithm = \"HS512\""));
        assert!(Config::from_figment(&figment).unwrap_err().message().contains("at least 64 bytes"));

        let figment = Figment::from(Toml::string("[jwt_router]\nsecret = \"0123456789abcdef0123456789abcdef\"\nalgorithm = \"RS256\""));
        assert!(Config::from_figment(&figment).unwrap_err().message().contains("use `signing_key`"));

        let figment = Figment::from(Toml::string("[jwt_router]\nsecret_file = \"/nonexistent/secret\""));
        let error = Config::from_figment(&figment).unwrap_err();
        assert_eq!(error.key(), "jwt_router.secret_file");

        let figment = Figment::from(Toml::string("[jwt_router]\nsecret_env = \"JWT_ROUTER_TEST_UNSET_VARIABLE\""));
        let error = Config::from_figment(&figment).unwrap_err();
        assert!(error.message().contains("is not set"));
    }

    #[test]
    fn secret_file_drops_one_newline() {
        let path = std::env::temp_dir().join(format!("jwt-router-secret-{}", std::process::id()));
        std::fs::write(&path, format!("{SECRET}\n")).unwrap();

        let toml = format!("[jwt_router]\nsecret_file = \"{}\"", path.display());
        let config = Config::from_figment(&Figment::from(Toml::string(&toml))).unwrap();
        std::fs::remove_file(&path).unwrap();

        let token = jsonwebtoken::encode(&config.keys.header(), &serde_json::json!({}), config.keys.encoding_key()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).is_ok(), "the file's secret without its newline signs");
    }

    #[test]
    fn ranges_enforced() {
        assert_eq!(config("token_ttl = 0").unwrap_err().key(), "jwt_router.token_ttl");
        assert_eq!(config("token_ttl = \"366d\"").unwrap_err().key(), "jwt_router.token_ttl");
        assert_eq!(config("token_ttl = \"soon\"").unwrap_err().key(), "jwt_router.token_ttl");
        assert_eq!(config("leeway = \"10m\"").unwrap_err().key(), "jwt_router.leeway");
        assert_eq!(config("max_token_length = 10").unwrap_err().key(), "jwt_router.max_token_length");
        assert_eq!(config("entity_cache_ttl = 0").unwrap_err().key(), "jwt_router.entity_cache_ttl");
        assert_eq!(config("entity_cache_ttl = \"2h\"").unwrap_err().key(), "jwt_router.entity_cache_ttl");
        assert_eq!(config("entity_cache_ttl = \"soon\"").unwrap_err().key(), "jwt_router.entity_cache_ttl");
        assert_eq!(
            config("entity_cache_ttl = \"30s\"\nentity_cache_max_entries = 0").unwrap_err().key(),
            "jwt_router.entity_cache_max_entries"
        );
        assert_eq!(config("entity_cache_max_entries = 10").unwrap_err().key(), "jwt_router.entity_cache_max_entries");
        assert_eq!(
            config("entity_cache_ttl = \"30s\"\nentity_cache_max_entries = 100001").unwrap_err().key(),
            "jwt_router.entity_cache_max_entries"
        );
        assert_eq!(config("algorithm = \"none\"").unwrap_err().key(), "jwt_router.algorithm");
        assert_eq!(config("jwks_path = \"/keys/<id>\"").unwrap_err().key(), "jwt_router.jwks_path");
        assert_eq!(config("issuer = \"\"").unwrap_err().key(), "jwt_router.issuer");
        assert_eq!(config("entity_key = \"id; DROP TABLE users\"").unwrap_err().key(), "jwt_router.entity_key");
    }
}
